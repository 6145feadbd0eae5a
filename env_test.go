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

var ctxBG = context.Background()
