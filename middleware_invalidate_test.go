package cachefront

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestInvalidateOnSuccess(t *testing.T) {
	forEachRouter(t, func(t *testing.T, b *testBackend, rt router) {
		s := newTestStore(t, b)
		var c counted
		read := Middleware(s, WithTagsFunc(func(r *http.Request) []string {
			return []string{"item:" + strings.TrimPrefix(r.URL.Path, "/items/")}
		}))
		var during string
		write := InvalidateOnSuccess(s, func(r *http.Request) []string { return []string{"item:" + rt.param(r, "id")} })
		var h http.Handler
		getH := rt.mount(read, c.handler(rt))
		h = rt.mount(func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == "GET" {
					getH.ServeHTTP(w, r)
					return
				}
				write(next).ServeHTTP(w, r)
			})
		}, func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Query().Get("status") {
			case "400":
				w.WriteHeader(400)
			case "late":
				AddTags(r.Context(), "item:2")
				w.WriteHeader(204)
			default:
				w.WriteHeader(204)
				// The status is out: the invalidation happened before it.
				during = get(getH, "GET", "/items/"+rt.param(r, "id")).Header().Get("X-Cache")
			}
		})

		expect(t, get(h, "GET", "/items/1"), 200, "MISS", "item 1 #1 GET")
		expect(t, get(h, "GET", "/items/2"), 200, "MISS", "item 2 #2 GET")
		expect(t, get(h, "PUT", "/items/1?status=400"), 400, "", "")
		expect(t, get(h, "GET", "/items/1"), 200, "HIT", "item 1 #1 GET")

		expect(t, get(h, "PUT", "/items/1"), 204, "", "")
		if during != "MISS" {
			t.Fatalf("a read right after the 2xx status was written got X-Cache %q", during)
		}
		expect(t, get(h, "GET", "/items/1"), 200, "HIT", "item 1 #3 GET")

		// Tags named with AddTags during the write are invalidated too.
		expect(t, get(h, "DELETE", "/items/9?status=late"), 204, "", "")
		expect(t, get(h, "GET", "/items/2"), 200, "MISS", "item 2 #4 GET")
	})
}

func TestInvalidateOnSuccessNilStorePanics(t *testing.T) {
	defer func() {
		if err, _ := recover().(error); !errors.Is(err, ErrInvalidOption) {
			t.Fatalf("recovered %v, want an error wrapping ErrInvalidOption", err)
		}
	}()
	InvalidateOnSuccess(nil, nil)
}
