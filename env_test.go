package cachefront

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// The behavioural suite runs against every backend the environment offers:
//
//	miniredis  always (in process)
//	redis      CACHEFRONT_REDIS_ADDR=127.0.0.1:6379
//	cluster    CACHEFRONT_CLUSTER_ADDRS=127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103
//
// Each test gets its own namespace, so runs never see each other's keys.

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

type backendFactory struct {
	name string
	open func(t *testing.T) *testBackend
}

func backends(t *testing.T) []backendFactory {
	t.Helper()
	list := []backendFactory{{"miniredis", func(t *testing.T) *testBackend {
		mr := miniredis.RunT(t)
		rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		t.Cleanup(func() { _ = rdb.Close() })
		return &testBackend{name: "miniredis", rdb: rdb, mr: mr}
	}}}
	if addr := os.Getenv("CACHEFRONT_REDIS_ADDR"); addr != "" {
		list = append(list, backendFactory{"redis", func(t *testing.T) *testBackend {
			rdb := redis.NewClient(&redis.Options{Addr: addr})
			t.Cleanup(func() { _ = rdb.Close() })
			requirePing(t, rdb)
			return &testBackend{name: "redis", rdb: rdb}
		}})
	}
	if addrs := os.Getenv("CACHEFRONT_CLUSTER_ADDRS"); addrs != "" {
		list = append(list, backendFactory{"cluster", func(t *testing.T) *testBackend {
			rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(addrs, ",")})
			t.Cleanup(func() { _ = rdb.Close() })
			requirePing(t, rdb)
			return &testBackend{name: "cluster", rdb: rdb}
		}})
	}
	return list
}

var reportedSkips = map[string]bool{}

// forEachBackend runs fn as a subtest per backend.
func forEachBackend(t *testing.T, fn func(t *testing.T, b *testBackend)) {
	t.Helper()
	bs := backends(t)
	if len(bs) == 1 && !reportedSkips["integration"] {
		reportedSkips["integration"] = true
		t.Log("real Redis and Redis Cluster backends skipped: set CACHEFRONT_REDIS_ADDR and CACHEFRONT_CLUSTER_ADDRS to run them")
	}
	for _, f := range bs {
		t.Run(f.name, func(t *testing.T) { fn(t, f.open(t)) })
	}
}

func requirePing(t *testing.T, rdb redis.UniversalClient) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("backend configured but not answering: %v", err)
	}
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
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
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
