package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachefront/cachefront"
)

// The HTTP middleware in process: each request goes through the handler
// chain into an httptest.ResponseRecorder, with no network, so that the
// ratios isolate what the middleware adds. The handlers are those of
// pages.go, which cmd/httpbench serves to wrk (wrk.sh):
//
//	fixed      writes the page's bytes: the ceiling
//	oneget     writes the page it reads with one go-redis GET: the floor of
//	           a Redis-backed response
//	cached     cachefront.Middleware in front of oneget, hits from Redis
//	cached-l1  the same on a Store with WithLocalCache, hits in process

// httpModes are the handlers, by name.
var httpModes = []string{"fixed", "oneget", "cached", "cached-l1"}

// pageHandler is one handler under test. origin counts the calls that
// reached the handler behind the middleware; store is the cached modes'
// Store.
type pageHandler struct {
	h      http.Handler
	origin *atomic.Int64
	store  *cachefront.Store
}

var pageHandlers struct {
	mu sync.Mutex // guards m
	m  map[string]*pageHandler
}

// handlerOf returns the shared handler of mode on a client of kind, its
// page in Redis and, for the cached modes, in the cache, each hit served
// from the tier the mode names.
func handlerOf(tb testing.TB, mode, kind string) *pageHandler {
	tb.Helper()
	rdb := client(tb, kind)
	pageHandlers.mu.Lock()
	defer pageHandlers.mu.Unlock()
	id := mode + "/" + kind
	if h, ok := pageHandlers.m[id]; ok {
		return h
	}
	page := ProductPage()
	if err := StorePage(context.Background(), rdb, PageKey, page); err != nil {
		tb.Fatal(err)
	}
	h := &pageHandler{origin: new(atomic.Int64)}
	oneGet := OneGetHandler(rdb, PageKey)
	switch mode {
	case "fixed":
		h.h = FixedHandler(page)
	case "oneget":
		h.h = oneGet
	case "cached", "cached-l1":
		ns := "cfbenchhttp"
		var opts []cachefront.Option
		if mode == "cached-l1" {
			ns, opts = "cfbenchhttplocal", append(opts, LocalTier())
		}
		h.store = PageStore(rdb, ns, opts...)
		h.h = CachedHandler(h.store, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.origin.Add(1)
			oneGet.ServeHTTP(w, r)
		}))
	default:
		tb.Fatalf("unknown mode %q", mode)
	}
	if h.store != nil {
		// An entry left by an earlier run could expire during this one and
		// send a request to the handler: every run starts from a new one.
		if err := h.store.Delete(context.Background(), "pages:GET "+PagePath); err != nil {
			tb.Fatal(err)
		}
	}
	if err := warmPage(h, mode); err != nil {
		tb.Fatal(err)
	}
	if pageHandlers.m == nil {
		pageHandlers.m = map[string]*pageHandler{}
	}
	pageHandlers.m[id] = h
	return h
}

// warmPage requests the page until the handler serves it as mode should:
// the cached modes from the cache, cached-l1 from the in-process tier
// (which serves nothing until its invalidation events are subscribed).
func warmPage(h *pageHandler, mode string) error {
	want := len(ProductPage())
	deadline := time.Now().Add(5 * time.Second)
	for {
		var before uint64
		if h.store != nil {
			before = h.store.Stats().LocalHits
		}
		rec := httptest.NewRecorder()
		h.h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, PagePath, nil))
		if rec.Code != http.StatusOK || rec.Body.Len() != want {
			return fmt.Errorf("%s: status %d, %d bytes, want 200 and %d bytes", mode, rec.Code, rec.Body.Len(), want)
		}
		switch {
		case mode == "cached" && rec.Header().Get("X-Cache") == "HIT",
			mode == "cached-l1" && h.store.Stats().LocalHits > before,
			h.store == nil:
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: X-Cache %q after 5s of requests", mode, rec.Header().Get("X-Cache"))
		}
		time.Sleep(time.Millisecond)
	}
}

// serve makes one request of the page through h, failing on anything but
// the whole page.
func (h *pageHandler) serve(r *http.Request, size int) error {
	rec := httptest.NewRecorder()
	h.h.ServeHTTP(rec, r)
	if rec.Code != http.StatusOK || rec.Body.Len() != size {
		return fmt.Errorf("status %d, %d bytes", rec.Code, rec.Body.Len())
	}
	return nil
}

// hitCounts are a cached handler's origin calls and hits, to check after a
// benchmark that every request was a hit from the tier its mode names.
type hitCounts struct {
	origin, hits, local uint64
	at                  time.Time
}

func (h *pageHandler) counts() hitCounts {
	if h.store == nil {
		return hitCounts{at: time.Now()}
	}
	st := h.store.Stats()
	return hitCounts{uint64(h.origin.Load()), st.Hits, st.LocalHits, time.Now()}
}

// checkHits fails b if a request reached the handler behind the cache, or,
// for cached-l1, if more hits came from Redis than the tier's expiry
// explains: its entry lives a minute (LocalTier), then one hit from Redis
// puts it back.
func (h *pageHandler) checkHits(b *testing.B, mode string, before hitCounts) {
	b.Helper()
	after := h.counts()
	fromRedis := (after.hits - before.hits) - (after.local - before.local)
	switch {
	case after.origin != before.origin:
		b.Fatalf("%s: %d requests reached the handler behind the cache", mode, after.origin-before.origin)
	case mode == "cached-l1" && fromRedis > 1+uint64(after.at.Sub(before.at)/time.Minute):
		b.Fatalf("%s: %d hits came from Redis in %v", mode, fromRedis, after.at.Sub(before.at))
	}
}

// TestPageHandlers checks that every mode serves the same page, and the
// cached ones from the cache.
func TestPageHandlers(t *testing.T) {
	page := ProductPage()
	for _, mode := range httpModes {
		t.Run(mode, func(t *testing.T) {
			h := handlerOf(t, mode, "default")
			before := h.origin.Load()
			rec := httptest.NewRecorder()
			h.h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, PagePath, nil))
			if rec.Code != http.StatusOK || rec.Body.String() != string(page) {
				t.Fatalf("status %d, body %q", rec.Code, rec.Body.String())
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Fatalf("Content-Type %q", ct)
			}
			if h.store != nil {
				if xc := rec.Header().Get("X-Cache"); xc != "HIT" {
					t.Fatalf("X-Cache %q, want HIT", xc)
				}
				if n := h.origin.Load() - before; n != 0 {
					t.Fatalf("%d calls of the handler behind the cache on a hit", n)
				}
			}
		})
	}
}

// BenchmarkHTTP serves the page through each handler, one request at a
// time. The modes that use Redis run on both client configurations.
func BenchmarkHTTP(b *testing.B) {
	size := len(ProductPage())
	for _, kind := range clientKinds {
		for _, mode := range httpModes {
			if mode == "fixed" && kind != "default" {
				continue // no Redis client involved
			}
			b.Run("client="+kind+"/handler="+mode, func(b *testing.B) {
				h := handlerOf(b, mode, kind)
				r := httptest.NewRequest(http.MethodGet, PagePath, nil)
				before := h.counts()
				b.ReportAllocs()
				for b.Loop() {
					if err := h.serve(r, size); err != nil {
						b.Fatal(err)
					}
				}
				h.checkHits(b, mode, before)
			})
		}
	}
}

// BenchmarkPairedHTTP times cached hits against a handler in the same
// iterations (as BenchmarkPaired does), reporting ref-ns/op, lib-ns/op and
// x-ref:
//
//	ref=oneget/lib=cachefront        a hit from Redis against the one-GET handler
//	ref=fixed/lib=cachefront-local   a hit from the in-process tier against the
//	                                 fixed-bytes handler, in batches of 10
func BenchmarkPairedHTTP(b *testing.B) {
	size := len(ProductPage())
	for _, kind := range clientKinds {
		b.Run("op=hit/client="+kind+"/ref=oneget/lib=cachefront", func(b *testing.B) {
			ref, lib := handlerOf(b, "oneget", kind), handlerOf(b, "cached", kind)
			r := httptest.NewRequest(http.MethodGet, PagePath, nil)
			before := lib.counts()
			pairedBatches(b, 1, 1, 1, func() error { return ref.serve(r, size) }, func() error { return lib.serve(r, size) })
			lib.checkHits(b, "cached", before)
		})
	}
	b.Run("op=hit/client=default/ref=fixed/lib=cachefront-local", func(b *testing.B) {
		ref, lib := handlerOf(b, "fixed", "default"), handlerOf(b, "cached-l1", "default")
		r := httptest.NewRequest(http.MethodGet, PagePath, nil)
		before := lib.counts()
		pairedBatches(b, 1, 10, 10, func() error { return ref.serve(r, size) }, func() error { return lib.serve(r, size) })
		lib.checkHits(b, "cached-l1", before)
	})
}
