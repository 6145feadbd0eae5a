package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/cachefront/cachefront"
)

// BenchmarkPairedSharedCache times, against the one-GET handler (the page
// read from Redis with one GET):
//
//	op=hit         a hit on a page whose handler sets max-age (the shared-cache
//	               path: freshness from the response, the URI tag read)
//	op=revalidate  a request on a page marked no-cache with an ETag: every
//	               request calls the handler conditionally, which answers 304,
//	               and the stored page answers
func BenchmarkPairedSharedCache(b *testing.B) {
	ctx := context.Background()
	rdb := client(b, "ctxtimeout")
	body := ProductPage()
	key := "sharedbench:" + runID()
	if err := StorePage(ctx, rdb, key, body); err != nil {
		b.Fatal(err)
	}
	ref := OneGetHandler(rdb, key)
	origin := func(cc string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", cc)
			w.Header().Set("ETag", `"page-v1"`)
			if r.Header.Get("If-None-Match") == `"page-v1"` {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(body)
		})
	}
	serve := func(h http.Handler, want string) func() error {
		r := httptest.NewRequest(http.MethodGet, PagePath, nil)
		return func() error {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusOK || w.Body.Len() != len(body) || want != "" && w.Header().Get("X-Cache") != want {
				return fmt.Errorf("status %d, %d bytes, X-Cache %q, Cache-Status %q", w.Code, w.Body.Len(),
					w.Header().Get("X-Cache"), w.Header().Get("Cache-Status"))
			}
			return nil
		}
	}
	for _, c := range []struct {
		op, cc, want string
	}{{"hit", "max-age=600", "HIT"}, {"revalidate", "no-cache", "MISS"}} {
		b.Run("op="+c.op+"/ref=oneget/lib=cachefront", func(b *testing.B) {
			store := PageStore(rdb, "sharedbench"+c.op+runID())
			b.Cleanup(func() { _ = store.Close() })
			lib := cachefront.Middleware(store, cachefront.WithName("pages"), cachefront.WithTTL(TTL))(origin(c.cc))
			_ = serve(lib, "")() // store the page
			paired(b, serve(ref, ""), serve(lib, c.want))
		})
	}
}
