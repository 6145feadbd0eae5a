package cachefront

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/cachefront/cachefront/internal/testbackend"
	"github.com/redis/go-redis/v9"
)

// The behavioural suite runs against every backend the environment offers
// (see internal/testbackend). Each test gets its own namespace, so runs never
// see each other's keys.

type testBackend struct {
	name string
	rdb  redis.UniversalClient
	mr   *miniredis.Miniredis // nil for real servers
}

// fastForward moves time on miniredis; on a real server it reports false and
// the test waits for real expiry instead.
func (b *testBackend) fastForward(d time.Duration) bool {
	if b.mr == nil {
		return false
	}
	b.mr.FastForward(d)
	return true
}

// forEachBackend runs fn as a subtest per backend.
func forEachBackend(t *testing.T, fn func(t *testing.T, b *testBackend)) {
	t.Helper()
	testbackend.ForEach(t, func(t *testing.T, b *testbackend.Backend) {
		fn(t, &testBackend{name: b.Name, rdb: b.RDB, mr: b.MR})
	})
}

// newTestStore returns a Store on b under a namespace of its own.
func newTestStore(t *testing.T, b *testBackend, opts ...Option) *Store {
	t.Helper()
	ns := fmt.Sprintf("t%d", rand.Uint64())
	s := NewStore(b.rdb, append([]Option{WithNamespace(ns)}, opts...)...)
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
