package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/cachefront/cachefront"
	"github.com/redis/go-redis/v9"
)

// The proxy serves what the origin lets it keep, and a successful write
// through it drops what it kept for that URI.
func TestCachingProxy(t *testing.T) {
	var calls atomic.Int32
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if r.URL.Path == "/fresh" {
			w.Header().Set("Cache-Control", "public, s-maxage=60")
		}
		fmt.Fprintf(w, "call %d", n)
	}))
	defer origin.Close()
	u, _ := url.Parse(origin.URL)
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	store := cachefront.NewStore(rdb)
	defer store.Close()
	h := cachingProxy(store, u, config{maxTTL: time.Hour, compress: 1024})

	get := func(method, path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(method, path, nil))
		return w
	}
	get("GET", "/fresh")
	if w := get("GET", "/fresh"); w.Header().Get("X-Cache") != "HIT" || w.Body.String() != "call 1" {
		t.Fatalf("a fresh response was not served from the cache: %q %q", w.Header().Get("X-Cache"), w.Body)
	}
	get("GET", "/plain")
	if w := get("GET", "/plain"); w.Header().Get("X-Cache") == "HIT" {
		t.Fatal("a response without freshness or Last-Modified was kept")
	}
	get("POST", "/fresh")
	if w := get("GET", "/fresh"); w.Header().Get("X-Cache") == "HIT" {
		t.Fatal("a POST did not invalidate the stored GET")
	}
}
