package cachefront

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
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

func TestInvalidateOnSuccessCases(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testBackend) {
		s := newTestStore(t, b)
		var c counted
		cached := Middleware(s, WithTags("t"))(c.handler(routers[0]))
		prime := func() {
			t.Helper()
			get(cached, "GET", "/x")
			if x := get(cached, "GET", "/x").Header().Get("X-Cache"); x != "HIT" {
				t.Fatalf("not cached: %s", x)
			}
		}
		invalidated := func() bool { return get(cached, "GET", "/x").Header().Get("X-Cache") == "MISS" }

		cases := []struct {
			name    string
			tags    func(*http.Request) []string
			handler http.HandlerFunc
			want    bool
		}{
			{"nothing written is a 200", func(*http.Request) []string { return []string{"t"} },
				func(w http.ResponseWriter, r *http.Request) {}, true},
			{"AddTags only", nil,
				func(w http.ResponseWriter, r *http.Request) { AddTags(r.Context(), "t"); w.WriteHeader(201) }, true},
			{"AddTags after the status", nil,
				func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200); AddTags(r.Context(), "t") }, true},
			{"invalid tags skipped", func(*http.Request) []string { return []string{"", "t"} },
				func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }, true},
			{"3xx", func(*http.Request) []string { return []string{"t"} },
				func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/y", http.StatusSeeOther) }, false},
			{"5xx", func(*http.Request) []string { return []string{"t"} },
				func(w http.ResponseWriter, r *http.Request) { AddTags(r.Context(), "t"); http.Error(w, "no", 500) }, false},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				prime()
				get(InvalidateOnSuccess(s, tc.tags)(tc.handler), "POST", "/x")
				if got := invalidated(); got != tc.want {
					t.Fatalf("invalidated: %v, want %v", got, tc.want)
				}
			})
		}
		t.Run("panic", func(t *testing.T) {
			prime()
			h := InvalidateOnSuccess(s, func(*http.Request) []string { return []string{"t"} })(
				http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic("write failed") }))
			func() {
				defer func() { _ = recover() }()
				get(h, "POST", "/x")
			}()
			if invalidated() {
				t.Fatal("a panicking write invalidated")
			}
		})
	})
}

func TestInvalidateOnSuccessWithRedisDownKeepsTheResponse(t *testing.T) {
	s := NewStore(redis.NewClient(&redis.Options{Addr: deadAddr(t), MaxRetries: -1}))
	defer s.Close()
	h := InvalidateOnSuccess(s, func(*http.Request) []string { return []string{"t"} })(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusCreated)
			w.Write([]byte("created"))
		}))
	expect(t, get(h, "POST", "/x"), 201, "", "created")
	if st := s.Stats(); st.Errors == 0 {
		t.Fatalf("the failed invalidation was not counted: %+v", st)
	}
}
