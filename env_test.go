package cachefront

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/cachefront/cachefront/internal/testbackend"
)

// The behavioural suite runs against every backend the environment offers
// (see internal/testbackend). Each test gets its own namespace, so runs never
// see each other's keys.

// forEachBackend runs fn as a subtest per backend.
func forEachBackend(t *testing.T, fn func(t *testing.T, b *testbackend.Backend)) {
	t.Helper()
	testbackend.ForEach(t, fn)
}

// newTestStore returns a Store on b under a namespace of its own.
func newTestStore(t *testing.T, b *testbackend.Backend, opts ...Option) *Store {
	t.Helper()
	ns := fmt.Sprintf("t%d", rand.Uint64())
	s := NewStore(b.RDB, append([]Option{WithNamespace(ns)}, opts...)...)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	testbackend.WaitFor(t, d, what, cond)
}

// Product is the ~1 KiB struct the tests and benchmarks cache.
type Product struct {
	ASIN        string   `msgpack:"asin"`
	Title       string   `msgpack:"title"`
	CategoryID  int      `msgpack:"category_id"`
	Price       float64  `msgpack:"price"`
	Stars       float64  `msgpack:"stars"`
	Reviews     int      `msgpack:"reviews"`
	BestSeller  bool     `msgpack:"best_seller"`
	Description string   `msgpack:"description"`
	Images      []string `msgpack:"images"`
}

func sampleProduct(asin string) Product {
	return Product{
		ASIN: asin, Title: "Sample product " + asin, CategoryID: 42, Price: 19.99, Stars: 4.5, Reviews: 1234,
		Description: strings.Repeat("A sturdy, well-reviewed product. ", 20),
		Images:      []string{"https://example.com/" + asin + "/1.jpg", "https://example.com/" + asin + "/2.jpg"},
	}
}

// productPage returns n distinct products, the page a catalogue caches
// whole: deterministic, and as varied as real rows (random identifiers and
// prices, titles and descriptions drawn from a vocabulary).
func productPage(n int) []Product {
	words := strings.Fields("wireless bluetooth headphones noise canceling over ear microphone deep bass stereo " +
		"foldable lightweight travel office black white blue portable speaker waterproof charger cable usb fast " +
		"compatible tablet laptop stand adjustable aluminum ergonomic kitchen stainless steel knife set storage")
	rng := rand.New(rand.NewPCG(uint64(n), 7))
	text := func(k int) string {
		w := make([]string, k)
		for i := range w {
			w[i] = words[rng.IntN(len(words))]
		}
		return strings.Join(w, " ")
	}
	page := make([]Product, n)
	for i := range page {
		asin := fmt.Sprintf("B0%08X", rng.Uint32())
		page[i] = Product{ASIN: asin, Title: text(8 + rng.IntN(10)), CategoryID: rng.IntN(300),
			Price: float64(rng.IntN(50000)) / 100, Stars: float64(rng.IntN(50)) / 10, Reviews: rng.IntN(20000),
			BestSeller: rng.IntN(10) == 0, Description: text(30),
			Images: []string{fmt.Sprintf("https://m.media-amazon.com/images/I/%x.jpg", rng.Uint64())}}
	}
	return page
}

var ctxBG = context.Background()
