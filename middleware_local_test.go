package cachefront

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestMiddlewareServesHitsFromTheLocalTier(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testBackend) {
		ns := newTestStore(t, b).Namespace()
		a, other := newLocalStore(t, b, ns), newLocalStore(t, b, ns)
		var calls atomic.Int32
		handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := calls.Add(1)
			_, _ = io.WriteString(w, "page "+string(rune('0'+n)))
		})
		srv := httptest.NewServer(Middleware(a, WithName("pages"), WithTags("pages"), WithTTL(time.Minute))(handler))
		defer srv.Close()
		get := func() (string, string) {
			t.Helper()
			resp, err := http.Get(srv.URL + "/p")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			return string(body), resp.Header.Get("X-Cache")
		}
		if body, xc := get(); body != "page 1" || xc != "MISS" {
			t.Fatalf("first request: %q %s", body, xc)
		}
		for i := 0; i < 3; i++ {
			if body, xc := get(); body != "page 1" || xc != "HIT" {
				t.Fatalf("repeat request: %q %s", body, xc)
			}
		}
		if st := a.Stats().Caches["pages"]; st.LocalHits < 2 {
			t.Fatalf("stats = %+v: hits after the first should come from the local tier", st)
		}
		// An invalidation on another instance reaches this one's local tier.
		if err := other.InvalidateTags(ctxBG, "pages"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, "the invalidation to reach the local tier", func() bool {
			body, _ := get()
			return body == "page 2"
		})
	})
}

// Middleware outside the cache may change the header of a hit in any way,
// writing into the values themselves included: later hits, from Redis or
// from the local tier (which shares one entry between requests), are served
// as stored.
func TestMiddlewareOuterHeaderChangesNeverReachTheEntry(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testBackend) {
		ns := newTestStore(t, b).Namespace()
		for _, s := range []*Store{newTestStore(t, b), newLocalStore(t, b, ns)} {
			inner := Middleware(s, WithName("pages"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				w.Header()["X-Tags"] = []string{"a", "b"}
				_, _ = io.WriteString(w, "page")
			}))
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				inner.ServeHTTP(w, r)
				for _, v := range w.Header() {
					for i := range v {
						v[i] = "changed"
					}
				}
				w.Header().Add("X-Tags", "c")
			})
			first := get(inner, "GET", "/p")
			etag := first.Header().Get("Etag")
			for i := 0; i < 3; i++ {
				get(h, "GET", "/p")
				w := get(inner, "GET", "/p")
				if w.Header().Get("X-Cache") != "HIT" || w.Header().Get("Etag") != etag || w.Header().Get("Content-Type") != "text/plain" ||
					strings.Join(w.Header()["X-Tags"], ",") != "a,b" || w.Body.String() != "page" {
					t.Fatalf("hit %d after an outer change: %v %q", i, w.Header(), w.Body)
				}
			}
		}
	})
}
