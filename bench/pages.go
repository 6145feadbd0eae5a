package bench

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/cachefront/cachefront"
	"github.com/redis/go-redis/v9"
)

// The HTTP benchmarks (middleware_test.go in process, cmd/httpbench and
// wrk.sh over loopback) serve one product page, the JSON of SampleProduct,
// from these handlers. They are the same in both, so that the in-process
// ratios and the load generator's measure the same work.

// PagePath is the URL path every HTTP benchmark requests.
const PagePath = "/products/B0BTXNYW2Q"

// PageKey is the Redis key the one-GET handler reads the page from.
const PageKey = "floorbench:page"

// ProductPage returns the page: SampleProduct as JSON.
func ProductPage() []byte {
	p := SampleProduct()
	b, err := json.Marshal(&p)
	if err != nil {
		panic(err) // a fixed value of plain fields always encodes
	}
	return b
}

// FixedHandler writes body as JSON with no other work: the ceiling of any
// handler serving that page.
func FixedHandler(body []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
}

// OneGetHandler writes the page it reads from Redis with one GET of key:
// the least a handler serving a Redis-backed response does. It answers 502
// when Redis fails and 404 when the key is missing.
func OneGetHandler(rdb redis.UniversalClient, key string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := rdb.Get(r.Context(), key).Result()
		switch {
		case err == redis.Nil:
			http.Error(w, "page not cached", http.StatusNotFound)
			return
		case err != nil:
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(bytesOf(s))
	})
}

// StorePage writes the page under key for the one-GET handler, with TTL.
func StorePage(ctx context.Context, rdb redis.UniversalClient, key string, body []byte) error {
	return rdb.Set(ctx, key, body, TTL).Err()
}

// PageStore returns a cachefront Store for the HTTP benchmarks in namespace
// ns with the benchmarks' Store options (those of NewCachefront) and opts.
func PageStore(rdb redis.UniversalClient, ns string, opts ...cachefront.Option) *cachefront.Store {
	opts = append([]cachefront.Option{cachefront.WithNamespace(ns), cachefront.WithTagTTL(TagTTL),
		cachefront.WithOperationTimeout(OperationTimeout)}, opts...)
	return cachefront.NewStore(rdb, opts...)
}

// CachedHandler is next behind cachefront's Middleware on store, caching
// its pages for TTL under the route name "pages".
func CachedHandler(store *cachefront.Store, next http.Handler) http.Handler {
	return cachefront.Middleware(store, cachefront.WithName("pages"), cachefront.WithTTL(TTL))(next)
}

// LocalTier is the in-process tier of the benchmarks' two-tier Stores:
// WithLocalCache(10,000 entries, 1 minute), as the cachefront-local peer.
func LocalTier() cachefront.Option { return cachefront.WithLocalCache(10_000, time.Minute) }
