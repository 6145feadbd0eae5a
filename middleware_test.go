package cachefront

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/cachefront/cachefront/internal/engine"
	"github.com/cachefront/cachefront/internal/httpcache"
	"github.com/cachefront/cachefront/internal/testbackend"
	"github.com/go-chi/chi/v5"
	"github.com/klauspost/compress/zstd"
	"github.com/redis/go-redis/v9"
)

// A router mounts a handler, behind a middleware, on "/items/{id}" for every
// method, the way an application would: ServeMux wraps the route, chi uses
// the middleware for the whole router (so it runs before routing, and HEAD
// reaches it).
type router struct {
	name  string
	mount func(mw func(http.Handler) http.Handler, h http.HandlerFunc) http.Handler
	param func(r *http.Request, name string) string
}

var routers = []router{
	{
		name: "ServeMux",
		mount: func(mw func(http.Handler) http.Handler, h http.HandlerFunc) http.Handler {
			mux := http.NewServeMux()
			mux.Handle("/items/{id}", mw(h))
			return mux
		},
		param: func(r *http.Request, name string) string { return r.PathValue(name) },
	},
	{
		name: "chi",
		mount: func(mw func(http.Handler) http.Handler, h http.HandlerFunc) http.Handler {
			r := chi.NewRouter()
			r.Use(mw)
			r.HandleFunc("/items/{id}", h)
			return r
		},
		param: chi.URLParam,
	},
}

// forEachRouter runs fn per backend and per router.
func forEachRouter(t *testing.T, fn func(t *testing.T, b *testbackend.Backend, rt router)) {
	t.Helper()
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		for _, rt := range routers {
			t.Run(rt.name, func(t *testing.T) { fn(t, b, rt) })
		}
	})
}

// get sends one request through h; headers come as name, value pairs.
func get(h http.Handler, method, target string, headers ...string) *httptest.ResponseRecorder {
	return send(h, httptest.NewRequest(method, target, nil), headers...)
}

func send(h http.Handler, r *http.Request, headers ...string) *httptest.ResponseRecorder {
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// counted is a handler that counts its calls and answers with the item
// and the call number, so that tests can tell responses apart.
type counted struct {
	calls atomic.Int32
	fn    func(n int32, w http.ResponseWriter, r *http.Request)
}

func (c *counted) handler(rt router) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n := c.calls.Add(1)
		if c.fn != nil {
			c.fn(n, w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "item %s #%d %s", rt.param(r, "id"), n, r.Method)
	}
}

// allKeys lists the keys matching pattern, on every master of a cluster.
func allKeys(t *testing.T, b *testbackend.Backend, pattern string) []string {
	t.Helper()
	var mu sync.Mutex
	var keys []string
	collect := func(ctx context.Context, c *redis.Client) error {
		ks, err := c.Keys(ctx, pattern).Result()
		mu.Lock()
		keys = append(keys, ks...)
		mu.Unlock()
		return err
	}
	var err error
	if cc, ok := b.RDB.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctxBG, collect)
	} else {
		err = collect(ctxBG, b.RDB.(*redis.Client))
	}
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func expect(t *testing.T, w *httptest.ResponseRecorder, status int, xcache, body string) {
	t.Helper()
	if w.Code != status || w.Header().Get("X-Cache") != xcache || w.Body.String() != body {
		t.Fatalf("got %d X-Cache=%q body=%q; want %d X-Cache=%q body=%q (Cache-Status %q)",
			w.Code, w.Header().Get("X-Cache"), w.Body.String(), status, xcache, body, w.Header().Get("Cache-Status"))
	}
}

func TestMiddlewareMissThenHit(t *testing.T) {
	forEachRouter(t, func(t *testing.T, b *testbackend.Backend, rt router) {
		s := newTestStore(t, b)
		var c counted
		h := rt.mount(Middleware(s, WithName("items")), c.handler(rt))

		w := get(h, "GET", "/items/7")
		expect(t, w, 200, "MISS", "item 7 #1 GET")
		if cs := w.Header().Get("Cache-Status"); cs != "cachefront; fwd=uri-miss" {
			t.Fatalf("Cache-Status on a miss = %q", cs)
		}
		if w.Header().Get("Age") != "" {
			t.Fatal("Age on a miss")
		}
		etag := w.Header().Get("Etag")
		if !strings.HasPrefix(etag, `"`) || len(etag) < 10 {
			t.Fatalf("no strong ETag on a stored miss: %q", etag)
		}

		w = get(h, "GET", "/items/7")
		expect(t, w, 200, "HIT", "item 7 #1 GET")
		if age, err := strconv.Atoi(w.Header().Get("Age")); err != nil || age < 0 {
			t.Fatalf("Age on a hit = %q", w.Header().Get("Age"))
		}
		if cs := w.Header().Get("Cache-Status"); !strings.HasPrefix(cs, "cachefront; hit; ttl=") {
			t.Fatalf("Cache-Status on a hit = %q", cs)
		}
		if w.Header().Get("Etag") != etag || w.Header().Get("Content-Type") != "text/plain; charset=utf-8" {
			t.Fatalf("hit headers differ from the miss: %v", w.Header())
		}
		if w.Header().Get("Content-Length") != strconv.Itoa(len("item 7 #1 GET")) {
			t.Fatalf("Content-Length = %q", w.Header().Get("Content-Length"))
		}
		expect(t, get(h, "GET", "/items/8"), 200, "MISS", "item 8 #2 GET")
		if n := c.calls.Load(); n != 2 {
			t.Fatalf("handler called %d times, want 2", n)
		}
		st := s.Stats().Caches["items"]
		if st.Hits != 1 || st.Misses != 2 || st.Loads != 2 {
			t.Fatalf("stats under the route's name = %+v, want 1 hit, 2 misses, 2 loads", st)
		}
	})
}

func TestMiddlewareOnlyGetAndHead(t *testing.T) {
	forEachRouter(t, func(t *testing.T, b *testbackend.Backend, rt router) {
		s := newTestStore(t, b)
		var c counted
		h := rt.mount(Middleware(s), c.handler(rt))
		for i, m := range []string{"POST", "PUT", "PATCH", "DELETE", "OPTIONS"} {
			w := get(h, m, "/items/1")
			want := fmt.Sprintf("item 1 #%d %s", i+1, m)
			if w.Code != 200 || w.Body.String() != want {
				t.Fatalf("%s: %d %q, want %q", m, w.Code, w.Body.String(), want)
			}
			for _, k := range []string{"X-Cache", "Cache-Status", "Etag", "Age"} {
				if v := w.Header().Get(k); v != "" {
					t.Fatalf("%s passed through with %s: %q", m, k, v)
				}
			}
		}
	})
}

func TestMiddlewareHeadFromCachedGet(t *testing.T) {
	forEachRouter(t, func(t *testing.T, b *testbackend.Backend, rt router) {
		s := newTestStore(t, b)
		var c counted
		h := rt.mount(Middleware(s), c.handler(rt))

		g := get(h, "GET", "/items/1")
		expect(t, g, 200, "MISS", "item 1 #1 GET")
		w := get(h, "HEAD", "/items/1")
		expect(t, w, 200, "HIT", "")
		for _, k := range []string{"Content-Length", "Content-Type", "Etag"} {
			if w.Header().Get(k) != g.Header().Get(k) && !(k == "Content-Length" && g.Header().Get(k) == "") {
				t.Fatalf("HEAD %s = %q, GET had %q", k, w.Header().Get(k), g.Header().Get(k))
			}
		}
		if w.Header().Get("Content-Length") != strconv.Itoa(len("item 1 #1 GET")) {
			t.Fatalf("HEAD Content-Length = %q", w.Header().Get("Content-Length"))
		}

		// A HEAD miss runs the handler as a GET and fills the entry.
		w = get(h, "HEAD", "/items/2")
		expect(t, w, 200, "MISS", "")
		expect(t, get(h, "GET", "/items/2"), 200, "HIT", "item 2 #2 GET")
		if n := c.calls.Load(); n != 2 {
			t.Fatalf("handler called %d times, want 2", n)
		}
	})
}

func TestMiddlewareKey(t *testing.T) {
	forEachRouter(t, func(t *testing.T, b *testbackend.Backend, rt router) {
		s := newTestStore(t, b)
		var c counted
		c.fn = func(n int32, w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "#%d %s %s", n, r.URL.RawQuery, r.Header.Get("Accept-Language"))
		}
		h := rt.mount(Middleware(s, WithVary("accept-language")), c.handler(rt))

		expect(t, get(h, "GET", "/items/1?b=2&a=1&a=0"), 200, "MISS", "#1 b=2&a=1&a=0 ")
		cases := []struct {
			target, xcache string
			headers        []string
		}{
			{"/items/1?a=1&b=2&a=0", "HIT", nil},                                // same parameters, other order
			{"/items/1?a=1&a=0&b=2&nocache=false", "HIT", nil},                  // the bypass parameter is not in the key
			{"/items/1?a=0&a=1&b=2", "MISS", nil},                               // the values of one name keep their order
			{"/items/1?b=2&a=1&a=0", "MISS", []string{"Accept-Language", "fr"}}, // Vary
			{"/items/1?b=2&a=1&a=0", "HIT", []string{"Accept-Language", "fr"}},
			{"/items/2?b=2&a=1&a=0", "MISS", nil}, // another path
			{"/items/1?b=2&a=1", "MISS", nil},     // another query
			{"/items/1?b=2&a=1&a=0&c=", "MISS", nil},
		}
		for _, tc := range cases {
			w := get(h, "GET", tc.target, tc.headers...)
			if x := w.Header().Get("X-Cache"); x != tc.xcache {
				t.Fatalf("%s %v: X-Cache %s, want %s", tc.target, tc.headers, x, tc.xcache)
			}
		}
		// A query the handler could read differently from the key is refused.
		if w := get(h, "GET", "/items/1?a=%zz"); w.Code != http.StatusBadRequest {
			t.Fatalf("bad escape: status %d, X-Cache %s", w.Code, w.Header().Get("X-Cache"))
		}
	})
}

func TestMiddlewareKeyFuncAndLongKeys(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		s := newTestStore(t, b)
		var c counted
		h := Middleware(s, WithName("kf"), WithKeyFunc(func(r *http.Request) string {
			return strings.ToLower(r.URL.Path) // case-insensitive paths
		}))(c.handler(routers[0]))
		expect(t, get(h, "GET", "/A"), 200, "MISS", "item  #1 GET")
		expect(t, get(h, "GET", "/a"), 200, "HIT", "item  #1 GET")

		long := "/" + strings.Repeat("x", 5000)
		expect(t, get(h, "GET", long), 200, "MISS", "item  #2 GET")
		expect(t, get(h, "GET", long), 200, "HIT", "item  #2 GET")
		keys := allKeys(t, b, s.Namespace()+":kf:*")
		if len(keys) != 2 {
			t.Fatalf("%d entries, want 2", len(keys))
		}
		for _, k := range keys {
			if len(k) > 300 {
				t.Fatalf("a long URL made a %d-byte Redis key", len(k))
			}
		}
	})
}

// MiddlewareKey names the entry of a request as Store.Delete takes it, so an
// admin tool can delete one URL's entry; the key ignores what the key does
// (parameter order, the bypass parameter) and names what it holds (Vary).
func TestMiddlewareKeyDeletesOneURL(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		s := newTestStore(t, b)
		var c counted
		opts := []Option{WithName("items"), WithVary("Accept-Language")}
		h := Middleware(s, opts...)(c.handler(routers[0]))
		expect(t, get(h, "GET", "/i?b=2&a=1", "Accept-Language", "fr"), 200, "MISS", "item  #1 GET")
		expect(t, get(h, "GET", "/i?b=2&a=1"), 200, "MISS", "item  #2 GET")

		r := httptest.NewRequest("HEAD", "/i?a=1&b=2&nocache=false", nil)
		r.Header.Set("Accept-Language", "fr")
		key, err := MiddlewareKey(s, r, opts...)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(key, "items:GET /i?a=1&b=2") {
			t.Errorf("key %q", key)
		}
		if err := s.Delete(ctxBG, key); err != nil {
			t.Fatal(err)
		}
		expect(t, get(h, "GET", "/i?a=1&b=2", "Accept-Language", "fr"), 200, "MISS", "item  #3 GET")
		expect(t, get(h, "GET", "/i?a=1&b=2"), 200, "HIT", "item  #2 GET")

		for target, headers := range map[string][]string{
			"/i?nocache=true": nil, "/i?a=%zz": nil, "/i": {"Authorization", "Bearer x"},
		} {
			r := httptest.NewRequest("GET", target, nil)
			for i := 0; i+1 < len(headers); i += 2 {
				r.Header.Set(headers[i], headers[i+1])
			}
			if key, err := MiddlewareKey(s, r, opts...); err == nil {
				t.Errorf("%s %v: key %q for a request that is not cached", target, headers, key)
			}
		}
		if _, err := MiddlewareKey(s, r, WithName("a b")); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("invalid option: %v", err)
		}
	})
}

func TestMiddlewareNeverStores(t *testing.T) {
	cases := []struct {
		name string
		opts []Option
		fn   func(w http.ResponseWriter, r *http.Request)
	}{
		{"500", nil, func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) }},
		{"404 by default", nil, func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }},
		{"Set-Cookie", nil, func(w http.ResponseWriter, r *http.Request) {
			http.SetCookie(w, &http.Cookie{Name: "session", Value: "secret"})
			io.WriteString(w, "hello")
		}},
		{"no-store", nil, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=60, No-Store")
			io.WriteString(w, "hello")
		}},
		{"private", nil, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", `private="X-Secret"`)
			io.WriteString(w, "hello")
		}},
		{"Vary *", []Option{WithVary("Accept-Encoding")}, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Vary", "*")
			io.WriteString(w, "hello")
		}},
		{"short body", nil, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100")
			io.WriteString(w, "truncated")
		}},
		{"trailers", nil, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Trailer", "X-Checksum")
			io.WriteString(w, "hello")
			w.Header().Set("X-Checksum", "42")
		}},
		{"over the cap", []Option{WithMaxBodySize(10)}, func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, strings.Repeat("y", 11))
		}},
	}
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				s := newTestStore(t, b)
				var calls atomic.Int32
				h := Middleware(s, tc.opts...)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					calls.Add(1)
					tc.fn(w, r)
				}))
				first := get(h, "GET", "/x")
				for i := 0; i < 2; i++ {
					w := get(h, "GET", "/x")
					if x := w.Header().Get("X-Cache"); x != "MISS" {
						t.Fatalf("X-Cache %s: the response was stored", x)
					}
					if w.Code != first.Code || w.Body.String() != first.Body.String() {
						t.Fatalf("responses differ: %d %q, then %d %q", first.Code, first.Body, w.Code, w.Body)
					}
				}
				if n := calls.Load(); n != 3 {
					t.Fatalf("handler called %d times, want 3", n)
				}
				if first.Header().Get("Etag") != "" {
					t.Fatalf("an unstored response got an ETag: %q", first.Header().Get("Etag"))
				}
			})
		}
	})
}

func TestMiddlewarePassesResponsesThroughIntact(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		s := newTestStore(t, b)
		h := Middleware(s)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/cookie":
				http.SetCookie(w, &http.Cookie{Name: "a", Value: "1"})
				w.WriteHeader(201)
				io.WriteString(w, "created")
			case "/trailer":
				w.Header().Set("Trailer", "X-Sum")
				io.WriteString(w, "body")
				w.Header().Set("X-Sum", "7")
			}
		}))
		w := get(h, "GET", "/cookie")
		expect(t, w, 201, "MISS", "created")
		if w.Header().Get("Set-Cookie") != "a=1" {
			t.Fatalf("Set-Cookie lost: %v", w.Header())
		}
		w = get(h, "GET", "/trailer")
		expect(t, w, 200, "MISS", "body")
		if got := w.Result().Trailer.Get("X-Sum"); got != "7" {
			t.Fatalf("trailer lost: %q", got)
		}
	})
}

func TestMiddlewareCacheableStatus(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		s := newTestStore(t, b)
		var c counted
		c.fn = func(n int32, w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, "missing #%d", n)
		}
		h := Middleware(s, WithCacheableStatus(200, 404))(c.handler(routers[0]))
		expect(t, get(h, "GET", "/gone"), 404, "MISS", "missing #1")
		expect(t, get(h, "GET", "/gone"), 404, "HIT", "missing #1")
		// If-None-Match only applies to 2xx responses.
		w := get(h, "GET", "/gone", "If-None-Match", "*")
		expect(t, w, 404, "HIT", "missing #1")
	})
}

func TestMiddlewarePanicAndAbortAreNotStored(t *testing.T) {
	forEachRouter(t, func(t *testing.T, b *testbackend.Backend, rt router) {
		s := newTestStore(t, b)
		var c counted
		c.fn = func(n int32, w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "half a resp")
			if n == 1 {
				panic("kaboom")
			}
			if n == 2 {
				panic(http.ErrAbortHandler)
			}
			io.WriteString(w, "onse")
		}
		h := rt.mount(Middleware(s), c.handler(rt))
		for _, want := range []any{"kaboom", http.ErrAbortHandler} {
			func() {
				defer func() {
					if r := recover(); r != want {
						t.Fatalf("recovered %v, want the handler's own panic value %v", r, want)
					}
				}()
				w := get(h, "GET", "/items/1")
				t.Fatalf("the panic did not propagate: %d %q", w.Code, w.Body)
			}()
		}
		expect(t, get(h, "GET", "/items/1"), 200, "MISS", "half a response")
		expect(t, get(h, "GET", "/items/1"), 200, "HIT", "half a response")
		if st := s.Stats(); st.LoadErrors != 2 {
			t.Fatalf("load errors = %d, want 2", st.LoadErrors)
		}
	})
}

func TestMiddlewarePanicBeforeWritingLeavesTheResponseToARecoverer(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		s := newTestStore(t, b)
		inner := Middleware(s)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Partial", "1")
			io.WriteString(w, "partial")
			panic("kaboom")
		}))
		recoverer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if recover() != nil {
					http.Error(w, "internal error", 500)
				}
			}()
			inner.ServeHTTP(w, r)
		})
		w := get(recoverer, "GET", "/x")
		if w.Code != 500 || w.Body.String() != "internal error\n" || w.Header().Get("X-Partial") != "" {
			t.Fatalf("recoverer's answer polluted by the buffered response: %d %q %v", w.Code, w.Body, w.Header())
		}
	})
}

func TestMiddlewareCredentials(t *testing.T) {
	forEachRouter(t, func(t *testing.T, b *testbackend.Backend, rt router) {
		echo := func(n int32, w http.ResponseWriter, r *http.Request) {
			who := r.Header.Get("Authorization")
			if ck, err := r.Cookie("session"); err == nil {
				who = "cookie " + ck.Value
			}
			fmt.Fprintf(w, "hello %s", who)
		}

		t.Run("default bypasses", func(t *testing.T) {
			s := newTestStore(t, b)
			c := counted{fn: echo}
			h := rt.mount(Middleware(s), c.handler(rt))
			for i := 0; i < 3; i++ {
				for _, user := range []string{"Bearer alice", "Bearer bob"} {
					w := get(h, "GET", "/items/1", "Authorization", user)
					expect(t, w, 200, "BYPASS", "hello "+user)
					if cs := w.Header().Get("Cache-Status"); cs != "cachefront; fwd=bypass; detail=credentials" {
						t.Fatalf("Cache-Status = %q", cs)
					}
				}
				expect(t, get(h, "GET", "/items/1", "Cookie", "session=carol"), 200, "BYPASS", "hello cookie carol")
			}
			// An anonymous request is cached, and never served to a user.
			expect(t, get(h, "GET", "/items/1"), 200, "MISS", "hello ")
			expect(t, get(h, "GET", "/items/1", "Authorization", "Bearer alice"), 200, "BYPASS", "hello Bearer alice")
			if n := c.calls.Load(); n != 11 {
				t.Fatalf("handler called %d times, want 11", n)
			}
		})

		t.Run("per-user key", func(t *testing.T) {
			s := newTestStore(t, b)
			c := counted{fn: func(n int32, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "private, max-age=60")
				echo(n, w, r)
			}}
			user := func(r *http.Request) string {
				if v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && v != "mallory" {
					return v
				}
				return ""
			}
			h := rt.mount(Middleware(s, WithUserKey(user)), c.handler(rt))
			expect(t, get(h, "GET", "/items/1", "Authorization", "Bearer alice"), 200, "MISS", "hello Bearer alice")
			expect(t, get(h, "GET", "/items/1", "Authorization", "Bearer bob"), 200, "MISS", "hello Bearer bob")
			expect(t, get(h, "GET", "/items/1", "Authorization", "Bearer alice"), 200, "HIT", "hello Bearer alice")
			expect(t, get(h, "GET", "/items/1", "Authorization", "Bearer bob"), 200, "HIT", "hello Bearer bob")
			// Credentials the key function does not recognise bypass.
			expect(t, get(h, "GET", "/items/1", "Authorization", "Bearer mallory"), 200, "BYPASS", "hello Bearer mallory")
			// The anonymous entry is apart from every user's (and its private
			// response is not stored: it would be shared).
			expect(t, get(h, "GET", "/items/1"), 200, "MISS", "hello ")
			expect(t, get(h, "GET", "/items/1"), 200, "MISS", "hello ")
		})

		t.Run("public", func(t *testing.T) {
			s := newTestStore(t, b)
			c := counted{fn: func(n int32, w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "catalogue #%d", n) }}
			h := rt.mount(Middleware(s, WithPublic()), c.handler(rt))
			expect(t, get(h, "GET", "/items/1", "Cookie", "session=carol"), 200, "MISS", "catalogue #1")
			expect(t, get(h, "GET", "/items/1", "Authorization", "Bearer alice"), 200, "HIT", "catalogue #1")
			expect(t, get(h, "GET", "/items/1"), 200, "HIT", "catalogue #1")
		})

		t.Run("vary on the credential", func(t *testing.T) {
			s := newTestStore(t, b)
			c := counted{fn: echo}
			h := rt.mount(Middleware(s, WithVary("Authorization")), c.handler(rt))
			expect(t, get(h, "GET", "/items/1", "Authorization", "Bearer alice"), 200, "MISS", "hello Bearer alice")
			expect(t, get(h, "GET", "/items/1", "Authorization", "Bearer bob"), 200, "MISS", "hello Bearer bob")
			expect(t, get(h, "GET", "/items/1", "Authorization", "Bearer alice"), 200, "HIT", "hello Bearer alice")
			expect(t, get(h, "GET", "/items/1", "Cookie", "session=x"), 200, "BYPASS", "hello cookie x")
			for _, k := range allKeys(t, b, s.Namespace()+":*") {
				if strings.Contains(k, "alice") {
					t.Fatalf("a credential is written out in a Redis key: %q", k)
				}
			}
		})
	})
}

func TestMiddlewareETagAndNotModifiedAcrossStores(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		s1 := newTestStore(t, b)
		s2 := NewStore(b.RDB, WithNamespace(s1.Namespace()))
		t.Cleanup(func() { _ = s2.Close() })
		var c counted
		c.fn = func(n int32, w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "max-age=60")
			io.WriteString(w, `{"asin":"B1"}`)
		}
		opts := []Option{WithName("products"), WithTags("products")}
		one := Middleware(s1, opts...)(c.handler(routers[0]))
		two := Middleware(s2, opts...)(c.handler(routers[0]))

		w := get(one, "GET", "/products/B1")
		expect(t, w, 200, "MISS", `{"asin":"B1"}`)
		etag := w.Header().Get("Etag")

		w = get(two, "GET", "/products/B1")
		expect(t, w, 200, "HIT", `{"asin":"B1"}`)
		if w.Header().Get("Etag") != etag {
			t.Fatalf("second instance serves ETag %q, first %q", w.Header().Get("Etag"), etag)
		}
		for _, inm := range []string{etag, `"other", ` + etag, "W/" + etag, "*"} {
			w = get(two, "GET", "/products/B1", "If-None-Match", inm)
			expect(t, w, 304, "HIT", "")
			if w.Header().Get("Etag") != etag || w.Header().Get("Cache-Control") != "max-age=60" || w.Header().Get("Content-Type") != "" {
				t.Fatalf("304 headers: %v", w.Header())
			}
		}
		expect(t, get(two, "GET", "/products/B1", "If-None-Match", `"other"`), 200, "HIT", `{"asin":"B1"}`)

		// On a miss too: the same content gets the same ETag.
		if err := s1.InvalidateTags(ctxBG, "products"); err != nil {
			t.Fatal(err)
		}
		w = get(two, "GET", "/products/B1", "If-None-Match", etag)
		expect(t, w, 304, "MISS", "")
		if w.Header().Get("Etag") != etag {
			t.Fatalf("ETag after reload = %q, want %q", w.Header().Get("Etag"), etag)
		}
		expect(t, get(one, "HEAD", "/products/B1", "If-None-Match", etag), 304, "HIT", "")
		if n := c.calls.Load(); n != 2 {
			t.Fatalf("handler called %d times, want 2", n)
		}
	})
}

func TestMiddlewareHandlerETagIsKept(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		s := newTestStore(t, b)
		var c counted
		c.fn = func(n int32, w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("If-None-Match") != "" {
				t.Error("the handler saw If-None-Match")
			}
			w.Header().Set("Etag", `W/"v7"`)
			io.WriteString(w, "seven")
		}
		h := Middleware(s)(c.handler(routers[0]))
		expect(t, get(h, "GET", "/x", "If-None-Match", `"v7"`), 304, "MISS", "")
		w := get(h, "GET", "/x", "If-None-Match", `"v6"`)
		expect(t, w, 200, "HIT", "seven")
		if w.Header().Get("Etag") != `W/"v7"` {
			t.Fatalf("ETag = %q", w.Header().Get("Etag"))
		}
	})
}

func TestMiddlewareBypassParam(t *testing.T) {
	forEachRouter(t, func(t *testing.T, b *testbackend.Backend, rt router) {
		t.Run("default", func(t *testing.T) {
			s := newTestStore(t, b)
			var c counted
			h := rt.mount(Middleware(s), c.handler(rt))
			expect(t, get(h, "GET", "/items/1"), 200, "MISS", "item 1 #1 GET")
			for i, q := range []string{"nocache=true", "nocache", "nocache=1"} {
				w := get(h, "GET", "/items/1?"+q)
				expect(t, w, 200, "BYPASS", fmt.Sprintf("item 1 #%d GET", i+2))
				if cs := w.Header().Get("Cache-Status"); cs != "cachefront; fwd=bypass; detail=bypass-param" {
					t.Fatalf("Cache-Status = %q", cs)
				}
			}
			// A bypass neither reads nor writes the cache.
			expect(t, get(h, "GET", "/items/1"), 200, "HIT", "item 1 #1 GET")
			expect(t, get(h, "GET", "/items/2?nocache=true"), 200, "BYPASS", "item 2 #5 GET")
			expect(t, get(h, "GET", "/items/2"), 200, "MISS", "item 2 #6 GET")
		})
		t.Run("renamed and off", func(t *testing.T) {
			s := newTestStore(t, b)
			var c counted
			h := rt.mount(Middleware(s, WithBypassParam("fresh")), c.handler(rt))
			expect(t, get(h, "GET", "/items/1?fresh=true"), 200, "BYPASS", "item 1 #1 GET")
			expect(t, get(h, "GET", "/items/1?nocache=true"), 200, "MISS", "item 1 #2 GET")
			expect(t, get(h, "GET", "/items/1?nocache=true"), 200, "HIT", "item 1 #2 GET")

			off := rt.mount(Middleware(s, WithName("off"), WithBypassParam("")), c.handler(rt))
			expect(t, get(off, "GET", "/items/1?nocache=true"), 200, "MISS", "item 1 #3 GET")
			expect(t, get(off, "GET", "/items/1?nocache=true"), 200, "HIT", "item 1 #3 GET")
		})
		t.Run("admins only", func(t *testing.T) {
			s := newTestStore(t, b)
			var c counted
			admin := func(r *http.Request) bool { return r.Header.Get("X-Role") == "admin" }
			h := rt.mount(Middleware(s, WithBypassAllowed(admin)), c.handler(rt))
			expect(t, get(h, "GET", "/items/1"), 200, "MISS", "item 1 #1 GET")
			expect(t, get(h, "GET", "/items/1?nocache=true"), 200, "HIT", "item 1 #1 GET")
			expect(t, get(h, "GET", "/items/1?nocache=true", "X-Role", "admin"), 200, "BYPASS", "item 1 #2 GET")
		})
	})
}

// Neither a Range nor an Upgrade header is a way past the cache: a Range
// request gets the whole representation (RFC 9110 §14.2), from the entry or
// from a handler call made without the Range field, and an Upgrade header on
// a route that answers plain GETs is served like any GET.
func TestMiddlewareRangeAndUpgradeAreServedFromTheCache(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		s := newTestStore(t, b)
		var c counted
		var sawRange atomic.Bool
		c.fn = func(n int32, w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Range") != "" || r.Header.Get("If-Range") != "" {
				sawRange.Store(true)
			}
			fmt.Fprintf(w, "whole #%d", n)
		}
		h := Middleware(s)(c.handler(routers[0]))
		expect(t, get(h, "GET", "/r", "Range", "bytes=0-3", "If-Range", `"x"`), 200, "MISS", "whole #1")
		expect(t, get(h, "GET", "/r", "Range", "bytes=0-"), 200, "HIT", "whole #1")
		expect(t, get(h, "GET", "/r"), 200, "HIT", "whole #1")
		if sawRange.Load() {
			t.Error("the handler filling the cache saw the Range request's range fields")
		}
		expect(t, get(h, "GET", "/u", "Upgrade", "websocket", "Connection", "Upgrade"), 200, "MISS", "whole #2")
		expect(t, get(h, "GET", "/u", "Upgrade", "websocket", "Connection", "Upgrade"), 200, "HIT", "whole #2")
		if n := c.calls.Load(); n != 2 {
			t.Fatalf("handler called %d times, want 2", n)
		}
	})
}

// A query string that does not parse is refused with a 400 (or the route's
// WithBadRequestHandler), never sent to the handler, which could read
// another query from it than the key holds, and never a bypass.
func TestMiddlewareRefusesMalformedQueryStrings(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		s := newTestStore(t, b)
		var c counted
		plain := Middleware(s, WithName("plain"))(c.handler(routers[0]))
		keyed := Middleware(s, WithName("keyed"), WithKeyFunc(func(r *http.Request) string { return "k" }))(c.handler(routers[0]))
		custom := Middleware(s, WithName("custom"), WithBadRequestHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":"bad query"}`)
		})))(c.handler(routers[0]))
		for _, target := range []string{
			"/p?category_id=1;DROP", "/p?a=1&;", "/p?a=1&%zz", "/p?q=%", "/p?%zz=1", "/p?nocache=true&a=%zz",
		} {
			for name, h := range map[string]http.Handler{"plain": plain, "keyed": keyed} {
				w := get(h, "GET", target)
				if w.Code != http.StatusBadRequest || w.Header().Get("X-Cache") != "" {
					t.Errorf("%s %s: %d X-Cache=%q, want 400 without X-Cache", name, target, w.Code, w.Header().Get("X-Cache"))
				}
			}
			if w := get(custom, "GET", target); w.Code != http.StatusBadRequest || w.Body.String() != `{"error":"bad query"}` {
				t.Errorf("custom %s: %d %q", target, w.Code, w.Body)
			}
		}
		if n := c.calls.Load(); n != 0 {
			t.Fatalf("the handler was called %d times for malformed query strings", n)
		}
		expect(t, get(plain, "GET", "/p?a=1&&b=2"), 200, "MISS", "item  #1 GET")
	})
}

func TestMiddlewareThousandConcurrentRequestsCallTheHandlerOnce(t *testing.T) {
	forEachRouter(t, func(t *testing.T, b *testbackend.Backend, rt router) {
		// A generous operation timeout: 1000 requests share the client's
		// small connection pool, and this test is about deduplication.
		s := newTestStore(t, b, WithOperationTimeout(10*time.Second))
		const n = 1000
		var arrived atomic.Int32
		var c counted
		c.fn = func(_ int32, w http.ResponseWriter, r *http.Request) {
			// Hold the response until every request has arrived (or a
			// while has passed): the others wait for this one.
			deadline := time.Now().Add(2 * time.Second)
			for arrived.Load() < n && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			io.WriteString(w, strings.Repeat("product ", 100))
		}
		h := rt.mount(Middleware(s), c.handler(rt))
		counting := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			arrived.Add(1)
			h.ServeHTTP(w, r)
		})
		gate := make(chan struct{})
		var wg sync.WaitGroup
		var bad atomic.Int32
		xcache := make([]string, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-gate
				w := get(counting, "GET", "/items/cold")
				xcache[i] = w.Header().Get("X-Cache")
				if w.Code != 200 || w.Body.Len() != 800 {
					bad.Add(1)
				}
			}()
		}
		close(gate)
		wg.Wait()
		if bad.Load() != 0 {
			t.Fatalf("%d requests got a wrong response", bad.Load())
		}
		if calls := c.calls.Load(); calls != 1 {
			t.Fatalf("1000 concurrent requests for one cold URL called the handler %d times, want 1", calls)
		}
		st := s.Stats()
		if st.Hits+st.Misses != n {
			t.Fatalf("stats = %+v: want 1000 reads", st)
		}
	})
}

// A handler that started before an invalidation of one of its tags must not
// have its response served after the invalidation returned.
func TestMiddlewareStaleWriteRace(t *testing.T) {
	forEachRouter(t, func(t *testing.T, b *testbackend.Backend, rt router) {
		s := newTestStore(t, b)
		var version atomic.Int32
		version.Store(1)
		started := make(chan struct{})
		release := make(chan struct{})
		var first atomic.Bool
		var c counted
		c.fn = func(_ int32, w http.ResponseWriter, r *http.Request) {
			v := version.Load() // the source read happens before the invalidation
			if first.CompareAndSwap(false, true) {
				close(started)
				<-release
			}
			fmt.Fprintf(w, "v%d", v)
		}
		h := rt.mount(Middleware(s, WithTags("items")), c.handler(rt))

		old := make(chan *httptest.ResponseRecorder, 1)
		go func() { old <- get(h, "GET", "/items/1") }()
		<-started
		version.Store(2)
		if err := s.InvalidateTags(ctxBG, "items"); err != nil {
			t.Fatal(err)
		}
		fresh := make(chan *httptest.ResponseRecorder, 1)
		go func() { fresh <- get(h, "GET", "/items/1") }()
		select {
		case w := <-fresh:
			expect(t, w, 200, "MISS", "v2")
		case <-time.After(5 * time.Second):
			t.Fatal("a request after the invalidation waits for the handler that began before it")
		}
		close(release)
		expect(t, <-old, 200, "MISS", "v1")
		for i := 0; i < 3; i++ {
			if w := get(h, "GET", "/items/1"); w.Body.String() != "v2" {
				t.Fatalf("after the invalidation: %q (X-Cache %s)", w.Body, w.Header().Get("X-Cache"))
			}
		}
	})
}

func TestMiddlewareLateTagsFromAddTags(t *testing.T) {
	forEachRouter(t, func(t *testing.T, b *testbackend.Backend, rt router) {
		s := newTestStore(t, b)
		block := make(chan struct{})
		started := make(chan struct{}, 1)
		var c counted
		c.fn = func(n int32, w http.ResponseWriter, r *http.Request) {
			if rt.param(r, "id") == "slow" && n == 2 {
				started <- struct{}{}
				<-block
			}
			AddTags(r.Context(), "category:"+rt.param(r, "id"))
			fmt.Fprintf(w, "#%d", n)
		}
		h := rt.mount(Middleware(s, WithTagsFunc(func(r *http.Request) []string { return []string{"all"} })), c.handler(rt))
		expect(t, get(h, "GET", "/items/7"), 200, "MISS", "#1")
		expect(t, get(h, "GET", "/items/7"), 200, "HIT", "#1")
		if err := s.InvalidateTags(ctxBG, "category:7"); err != nil {
			t.Fatal(err)
		}
		expect(t, get(h, "GET", "/items/7"), 200, "MISS", "#2")

		// A late tag invalidated while the handler runs: not stored.
		c.calls.Store(1)
		done := make(chan *httptest.ResponseRecorder, 1)
		go func() { done <- get(h, "GET", "/items/slow") }()
		<-started
		if err := s.InvalidateTags(ctxBG, "category:slow"); err != nil {
			t.Fatal(err)
		}
		close(block)
		expect(t, <-done, 200, "MISS", "#2")
		expect(t, get(h, "GET", "/items/slow"), 200, "MISS", "#3")
		expect(t, get(h, "GET", "/items/slow"), 200, "HIT", "#3")
	})
}

func TestMiddlewareTTL(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		// The Store's stale-while-revalidate does not keep HTTP entries.
		s := newTestStore(t, b, WithStaleWhileRevalidate(time.Hour))
		var c counted
		ttl := 300 * time.Millisecond
		h := Middleware(s, WithTTL(ttl), WithTTLJitter(0))(c.handler(routers[0]))
		expect(t, get(h, "GET", "/x"), 200, "MISS", "item  #1 GET")
		expect(t, get(h, "GET", "/x"), 200, "HIT", "item  #1 GET")
		for _, k := range allKeys(t, b, s.Namespace()+":http:*") {
			if pttl := b.RDB.PTTL(ctxBG, k).Val(); pttl > ttl {
				t.Fatalf("entry kept for %v, TTL %v", pttl, ttl)
			}
		}
		if b.FastForward(ttl + time.Millisecond) {
			expect(t, get(h, "GET", "/x"), 200, "MISS", "item  #2 GET")
			return
		}
		waitFor(t, 5*time.Second, "the entry to expire", func() bool {
			return get(h, "GET", "/x").Header().Get("X-Cache") == "MISS"
		})
	})
}

// deadAddr returns a loopback address where nothing listens.
func deadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

func TestMiddlewareFailsOpenWithRedisDown(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: deadAddr(t), MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	s := NewStore(rdb)
	t.Cleanup(func() { _ = s.Close() })
	for _, rt := range routers {
		t.Run(rt.name, func(t *testing.T) {
			var c counted
			h := rt.mount(Middleware(s, WithTags("items")), c.handler(rt))
			for i := 1; i <= 3; i++ {
				w := get(h, "GET", "/items/1")
				expect(t, w, 200, "MISS", fmt.Sprintf("item 1 #%d GET", i))
				if cs := w.Header().Get("Cache-Status"); cs != "cachefront; fwd=miss; detail=unavailable" {
					t.Fatalf("Cache-Status = %q", cs)
				}
			}
		})
	}
	if st := s.Stats(); st.Errors == 0 {
		t.Fatalf("Redis failures not counted: %+v", st)
	}
}

func TestMiddlewareRedisStoppedMidway(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		if b.MR == nil {
			t.Skip("stops the server: miniredis only")
		}
		s := newTestStore(t, b)
		var c counted
		h := Middleware(s)(c.handler(routers[0]))
		expect(t, get(h, "GET", "/x"), 200, "MISS", "item  #1 GET")
		expect(t, get(h, "GET", "/x"), 200, "HIT", "item  #1 GET")
		b.MR.Close()
		expect(t, get(h, "GET", "/x"), 200, "MISS", "item  #2 GET")
		expect(t, get(h, "GET", "/x"), 200, "MISS", "item  #3 GET")
	})
}

func TestMiddlewareStreamsThroughFlusher(t *testing.T) {
	forEachRouter(t, func(t *testing.T, b *testbackend.Backend, rt router) {
		s := newTestStore(t, b)
		step := make(chan struct{})
		var c counted
		c.fn = func(n int32, w http.ResponseWriter, r *http.Request) {
			if _, ok := w.(http.Flusher); !ok {
				t.Error("the ResponseWriter hides http.Flusher")
			}
			if _, ok := w.(http.Hijacker); !ok {
				t.Error("the ResponseWriter hides http.Hijacker on an HTTP/1 server")
			}
			rc := http.NewResponseController(w)
			if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
				t.Errorf("SetWriteDeadline through the wrapper: %v", err)
			}
			io.WriteString(w, "first\n")
			if err := rc.Flush(); err != nil {
				t.Errorf("Flush: %v", err)
			}
			<-step
			io.WriteString(w, "second\n")
			w.(http.Flusher).Flush()
			io.WriteString(w, "third\n")
		}
		srv := httptest.NewServer(rt.mount(Middleware(s), c.handler(rt)))
		defer srv.Close()

		resp, err := http.Get(srv.URL + "/items/1")
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(resp.Body)
		line, err := br.ReadString('\n')
		if err != nil || line != "first\n" {
			t.Fatalf("first line %q, %v", line, err)
		}
		// The first line arrived while the handler still waits: it streamed.
		close(step)
		rest, _ := io.ReadAll(br)
		resp.Body.Close()
		if string(rest) != "second\nthird\n" || resp.Header.Get("X-Cache") != "MISS" {
			t.Fatalf("rest %q, X-Cache %q", rest, resp.Header.Get("X-Cache"))
		}
		// Complete and within the cap: stored, though it streamed.
		resp, err = http.Get(srv.URL + "/items/1")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "first\nsecond\nthird\n" || resp.Header.Get("X-Cache") != "HIT" {
			t.Fatalf("second request: %q, X-Cache %q", body, resp.Header.Get("X-Cache"))
		}
	})
}

func TestMiddlewareOverCapStreamsInFull(t *testing.T) {
	forEachRouter(t, func(t *testing.T, b *testbackend.Backend, rt router) {
		s := newTestStore(t, b)
		const limit, total = 4 << 10, 256 << 10
		read := make(chan struct{})
		var c counted
		c.fn = func(n int32, w http.ResponseWriter, r *http.Request) {
			chunk := []byte(strings.Repeat("z", 1024))
			for i := 0; i < total/1024; i++ {
				if i == total/1024/2 && n == 1 {
					// Half the body is out, and the client reads it
					// before the handler writes the rest.
					select {
					case <-read:
					case <-time.After(10 * time.Second):
						t.Error("the client did not receive the first half before the handler finished")
					}
				}
				if _, err := w.Write(chunk); err != nil {
					t.Errorf("write: %v", err)
					return
				}
			}
		}
		srv := httptest.NewServer(rt.mount(Middleware(s, WithMaxBodySize(limit)), c.handler(rt)))
		defer srv.Close()
		for i := 0; i < 2; i++ {
			resp, err := http.Get(srv.URL + "/items/big")
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				if _, err := io.ReadFull(resp.Body, make([]byte, 64<<10)); err != nil {
					t.Fatal(err)
				}
				close(read)
			}
			rest, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if i == 0 && len(rest) != total-64<<10 || i == 1 && len(rest) != total {
				t.Fatalf("request %d: body cut short (%d bytes after the first read)", i, len(rest))
			}
			if resp.Header.Get("X-Cache") != "MISS" {
				t.Fatalf("request %d: X-Cache %q: an over-cap response was stored", i, resp.Header.Get("X-Cache"))
			}
		}
	})
}

func TestMiddlewareHandlerContext(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		t.Run("kept while the response is useful", func(t *testing.T) {
			s := newTestStore(t, b)
			started := make(chan struct{})
			release := make(chan struct{})
			var ctxErr atomic.Value
			var c counted
			c.fn = func(n int32, w http.ResponseWriter, r *http.Request) {
				if n == 1 {
					close(started)
					<-release
				}
				if err := r.Context().Err(); err != nil {
					ctxErr.Store(err)
				}
				io.WriteString(w, "done")
			}
			h := Middleware(s)(c.handler(routers[0]))
			ctx, cancel := context.WithCancel(ctxBG)
			leader := make(chan struct{})
			go func() {
				defer close(leader)
				send(h, httptest.NewRequest("GET", "/x", nil).WithContext(ctx))
			}()
			<-started
			cancel()
			close(release)
			<-leader
			if err := ctxErr.Load(); err != nil {
				t.Fatalf("the handler's context ended with its client: %v", err)
			}
			expect(t, get(h, "GET", "/x"), 200, "HIT", "done")
		})
		t.Run("cancelled once the response is useless and the client gone", func(t *testing.T) {
			s := newTestStore(t, b)
			wrote := make(chan struct{})
			cancelled := make(chan bool, 1)
			h := Middleware(s)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.SetCookie(w, &http.Cookie{Name: "a", Value: "b"})
				io.WriteString(w, "x")
				close(wrote)
				select {
				case <-r.Context().Done():
					cancelled <- true
				case <-time.After(10 * time.Second):
					cancelled <- false
				}
			}))
			ctx, cancel := context.WithCancel(ctxBG)
			go send(h, httptest.NewRequest("GET", "/x", nil).WithContext(ctx))
			<-wrote
			cancel()
			if !<-cancelled {
				t.Fatal("the handler's context outlived both its client and any use of its response")
			}
		})
		t.Run("a waiter leaves with its client", func(t *testing.T) {
			s := newTestStore(t, b)
			started := make(chan struct{})
			release := make(chan struct{})
			var c counted
			c.fn = func(n int32, w http.ResponseWriter, r *http.Request) {
				if n == 1 {
					close(started)
					<-release
				}
				io.WriteString(w, "slow")
			}
			h := Middleware(s)(c.handler(routers[0]))
			leader := make(chan *httptest.ResponseRecorder, 1)
			go func() { leader <- get(h, "GET", "/x") }()
			<-started
			ctx, cancel := context.WithTimeout(ctxBG, 50*time.Millisecond)
			defer cancel()
			waiter := make(chan struct{})
			go func() {
				defer close(waiter)
				send(h, httptest.NewRequest("GET", "/x", nil).WithContext(ctx))
			}()
			select {
			case <-waiter:
			case <-time.After(5 * time.Second):
				t.Fatal("a waiter whose client left is still waiting")
			}
			close(release)
			expect(t, <-leader, 200, "MISS", "slow")
			expect(t, get(h, "GET", "/x"), 200, "HIT", "slow")
		})
	})
}

func TestMiddlewareWaitersOfAnUnshareableResponseRunTheirOwn(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		s := newTestStore(t, b)
		const n = 20
		var arrived atomic.Int32
		var c counted
		c.fn = func(call int32, w http.ResponseWriter, r *http.Request) {
			deadline := time.Now().Add(time.Second)
			for call == 1 && arrived.Load() < n && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			http.SetCookie(w, &http.Cookie{Name: "session", Value: strconv.Itoa(int(call))})
			fmt.Fprintf(w, "session %d", call)
		}
		mw := Middleware(s)(c.handler(routers[0]))
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { arrived.Add(1); mw.ServeHTTP(w, r) })
		var wg sync.WaitGroup
		var mu sync.Mutex
		seen := map[string]bool{}
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w := get(h, "GET", "/login")
				ck := w.Header().Get("Set-Cookie")
				if ck != "session="+strings.TrimPrefix(w.Body.String(), "session ") {
					t.Errorf("cookie %q with body %q", ck, w.Body)
				}
				mu.Lock()
				defer mu.Unlock()
				if seen[ck] {
					t.Errorf("two requests got the same Set-Cookie %q", ck)
				}
				seen[ck] = true
			}()
		}
		wg.Wait()
		if got := c.calls.Load(); got != n {
			t.Fatalf("handler called %d times for %d requests, want one each", got, n)
		}
	})
}

func TestMiddlewareLeavesOuterHeadersOutOfTheEntry(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		s := newTestStore(t, b)
		var c counted
		var ids atomic.Int32
		inner := Middleware(s)(c.handler(routers[0]))
		// Middleware outside the cache runs on every request: a request ID,
		// a visitor cookie, CORS's Vary. None of it is the handler's.
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := strconv.Itoa(int(ids.Add(1)))
			w.Header().Set("X-Request-Id", id)
			w.Header().Add("Set-Cookie", "visitor="+id)
			w.Header().Set("Vary", "Origin")
			inner.ServeHTTP(w, r)
		})
		for i := 1; i <= 3; i++ {
			w := get(h, "GET", "/x")
			id := strconv.Itoa(i)
			if w.Header().Get("X-Request-Id") != id || w.Header().Get("Set-Cookie") != "visitor="+id || w.Header().Get("Vary") != "Origin" {
				t.Fatalf("request %d got %v", i, w.Header())
			}
			if want := map[bool]string{true: "MISS", false: "HIT"}[i == 1]; w.Header().Get("X-Cache") != want {
				t.Fatalf("request %d: X-Cache %s, want %s", i, w.Header().Get("X-Cache"), want)
			}
		}
	})
}

func TestMiddlewareInvalidOptionsPanic(t *testing.T) {
	s := NewStore(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}))
	defer s.Close()
	cases := map[string]func(){
		"nil store":           func() { Middleware(nil) },
		"nil handler":         func() { Middleware(s)(nil) },
		"bad name":            func() { Middleware(s, WithName("a b")) },
		"zero TTL":            func() { Middleware(s, WithTTL(0)) },
		"store option":        func() { Middleware(s, WithNamespace("x")) },
		"call-only option":    func() { Middleware(s, WithNegativeTTL(time.Second)) },
		"zero body size":      func() { Middleware(s, WithMaxBodySize(0)) },
		"status 304":          func() { Middleware(s, WithCacheableStatus(304)) },
		"status 206":          func() { Middleware(s, WithCacheableStatus(200, 206)) },
		"no status":           func() { Middleware(s, WithCacheableStatus()) },
		"bad vary":            func() { Middleware(s, WithVary("Accept Language")) },
		"empty tag":           func() { Middleware(s, WithTags("")) },
		"nil tags func":       func() { Middleware(s, WithTagsFunc(nil)) },
		"nil key func":        func() { Middleware(s, WithKeyFunc(nil)) },
		"nil user key":        func() { Middleware(s, WithUserKey(nil)) },
		"nil bypass allowed":  func() { Middleware(s, WithBypassAllowed(nil)) },
		"public and per-user": func() { Middleware(s, WithPublic(), WithUserKey(func(*http.Request) string { return "" })) },
	}
	for name, fn := range cases {
		t.Run(name, func(t *testing.T) {
			defer func() {
				err, _ := recover().(error)
				if !errors.Is(err, ErrInvalidOption) {
					t.Fatalf("recovered %v, want an error wrapping ErrInvalidOption", err)
				}
			}()
			fn()
		})
	}
	// Middleware options are not Store or Cache options.
	if _, err := newStore(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}), []Option{WithVary("A")}); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("NewStore(WithVary) = %v", err)
	}
}

func TestMiddlewareInvalidTagFromTagsFuncBypasses(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		s := newTestStore(t, b)
		var c counted
		h := Middleware(s, WithName("tags"), WithTagsFunc(func(*http.Request) []string { return []string{""} }))(c.handler(routers[0]))
		w := get(h, "GET", "/x")
		expect(t, w, 200, "BYPASS", "item  #1 GET")
		if st := s.Stats().Caches["tags"]; st.Errors != 1 {
			t.Fatalf("invalid tag not counted: %+v", st)
		}
	})
}

func TestMiddlewareClosedStoreBypasses(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		s := newTestStore(t, b)
		var c counted
		h := Middleware(s)(c.handler(routers[0]))
		_ = s.Close()
		expect(t, get(h, "GET", "/x"), 200, "BYPASS", "item  #1 GET")
	})
}

// BenchmarkMiddlewareHit measures a cached GET: one Redis round trip, the
// entry decoded and written out.
func BenchmarkMiddlewareHit(b *testing.B) {
	mr := miniredis.RunT(b)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	s := NewStore(rdb)
	defer s.Close()
	body := strings.Repeat("product ", 128)
	h := Middleware(s)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
	}))
	if w := get(h, "GET", "/products?page=1"); w.Header().Get("X-Cache") != "MISS" {
		b.Fatal(w.Header())
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if w := get(h, "GET", "/products?page=1"); w.Code != 200 {
				b.Fatal(w.Code)
			}
		}
	})
}

// planOf returns the plan serve would make for r (a bypass fails the test).
func planOf(t *testing.T, m *httpCache, r *http.Request) *httpPlan {
	t.Helper()
	key, p, why := m.plan(r, nil)
	if why != "" {
		t.Fatal(why)
	}
	rkey, err := m.c.store.e.Keys.Entry(m.c.Name(), key)
	if err != nil {
		t.Fatal(err)
	}
	p.rkey, p.fwd, p.wait = rkey, "uri-miss", m.c.store.e.Arrive()
	return &p
}

func testHTTPCache(t *testing.T, s *Store, opts ...Option) *httpCache {
	t.Helper()
	m, err := newHTTPCache(s, opts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// A request that leaves before it could lead must not leave its flight
// open: later requests for the key would wait on it forever.
func TestCoalesceAbandonedLeadershipReleasesTheFlight(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		s := newTestStore(t, b)
		m := testHTTPCache(t, s)
		var calls atomic.Int32
		next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			io.WriteString(w, "ok")
		})
		gone, cancel := context.WithCancel(ctxBG)
		cancel()
		for i := 0; i < 100; i++ {
			r := httptest.NewRequest("GET", "/x", nil).WithContext(gone)
			m.coalesce(httptest.NewRecorder(), r, next, planOf(t, m, r), "flight")
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			r := httptest.NewRequest("GET", "/x", nil)
			w := httptest.NewRecorder()
			m.coalesce(w, r, next, planOf(t, m, r), "flight")
			if w.Body.String() != "ok" {
				t.Errorf("body %q", w.Body)
			}
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("a request waits on a flight that its leader abandoned")
		}
	})
}

// The leader's second look: an entry stored between a request's read and
// its turn to lead is served, and handed to the waiters, without running
// the handler.
func TestCoalesceLeaderSecondLook(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		s := newTestStore(t, b)
		m := testHTTPCache(t, s)
		var calls atomic.Int32
		next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "#%d", calls.Add(1))
		})
		h := Middleware(s)(next)
		expect(t, get(h, "GET", "/x"), 200, "MISS", "#1")

		r := httptest.NewRequest("GET", "/x", nil)
		var published *engine.Outcome
		w := httptest.NewRecorder()
		m.lead(w, r, next, planOf(t, m, r), func(o *engine.Outcome) {
			if published == nil {
				published = o
			}
		})
		expect(t, w, 200, "HIT", "#1")
		if published == nil || !published.FromCache || string(published.Value.(*httpcache.Response).Body) != "#1" || published.Created == 0 {
			t.Fatalf("published %+v", published)
		}
		if calls.Load() != 1 {
			t.Fatal("the handler ran although the second look found the entry")
		}
	})
}

// A waiter whose leader's result could not be stored because a tag the
// handler added was invalidated meanwhile may have arrived after that
// invalidation: it gets a response of its own.
func TestCoalesceConflictSendsWaitersToAFreshLoad(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		s := newTestStore(t, b)
		started := make(chan struct{})
		release := make(chan struct{})
		var calls atomic.Int32
		h := Middleware(s)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := calls.Add(1)
			if n == 1 {
				close(started)
				<-release
			}
			AddTags(r.Context(), "late")
			fmt.Fprintf(w, "#%d", n)
		}))
		leader := make(chan *httptest.ResponseRecorder, 1)
		go func() { leader <- get(h, "GET", "/x") }()
		<-started
		waiter := make(chan *httptest.ResponseRecorder, 1)
		go func() { waiter <- get(h, "GET", "/x") }()
		if err := s.InvalidateTags(ctxBG, "late"); err != nil {
			t.Fatal(err)
		}
		close(release)
		expect(t, <-leader, 200, "MISS", "#1")
		expect(t, <-waiter, 200, "MISS", "#2")
		expect(t, get(h, "GET", "/x"), 200, "HIT", "#2")
	})
}

// panicPipelines makes the next pipeline panic (a client hook failing), once.
type panicPipelines struct{ armed atomic.Bool }

func (p *panicPipelines) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (p *panicPipelines) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (p *panicPipelines) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		snapshot := false
		for _, c := range cmds {
			snapshot = snapshot || strings.EqualFold(c.Name(), "get") && strings.Contains(c.String(), "#seq")
		}
		if snapshot && p.armed.CompareAndSwap(true, false) {
			panic("client hook failed")
		}
		return next(ctx, cmds)
	}
}

// A leading request whose second look panics (a client hook failing) still
// closes its flight: later requests for the same key and state run the
// handler instead of hanging on a flight nobody will ever answer.
func TestLeaderPanicInSecondLookClosesItsFlight(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		single, ok := b.RDB.(*redis.Client)
		if !ok {
			t.Skip("builds a ContextTimeoutEnabled client from a single-server one")
		}
		opt := *single.Options()
		opt.ContextTimeoutEnabled = true // operations run in the caller's goroutine
		b = &testbackend.Backend{Name: b.Name, RDB: redis.NewClient(&opt)}
		t.Cleanup(func() { _ = b.RDB.Close() })
		hook := &panicPipelines{}
		b.RDB.AddHook(hook)
		s := newTestStore(t, b)
		var calls atomic.Int32
		h := Middleware(s, WithTTL(time.Minute))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			_, _ = w.Write([]byte("body"))
		}))

		if err := b.RDB.Ping(context.Background()).Err(); err != nil { // connect first
			t.Fatal(err)
		}
		hook.armed.Store(true)
		func() {
			defer func() { _ = recover() }() // net/http would recover it too
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil))
		}()

		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/x", nil).WithContext(ctx))
		if ctx.Err() != nil || calls.Load() == 0 || !strings.Contains(w.Body.String(), "body") {
			t.Fatalf("a request after the leader's panic hung on its flight (ctx %v, handler calls %d, body %q)",
				ctx.Err(), calls.Load(), w.Body.String())
		}
	})
}

func TestInvalidateOnSuccess(t *testing.T) {
	forEachRouter(t, func(t *testing.T, b *testbackend.Backend, rt router) {
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
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
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

func TestMiddlewareServesHitsFromTheLocalTier(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
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
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
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

// Compressed bodies.

// jsonBody is a compressible page body.
var jsonBody = []byte(strings.Repeat(`{"asin":"B0BTXNYW2Q","title":"Wireless noise canceling headphones","price":328.0},`, 100))

func unzstd(t *testing.T, b []byte) []byte {
	t.Helper()
	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	out, err := dec.DecodeAll(b, nil)
	if err != nil {
		t.Fatalf("the body is not zstd: %v", err)
	}
	return out
}

func varies(h http.Header, name string) bool {
	for _, v := range h.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), name) {
				return true
			}
		}
	}
	return false
}

// With WithCompression the middleware stores a compressible body with zstd
// and sends it as stored to clients that take zstd, decompressed to the
// others; every answer says Vary: Accept-Encoding, and the zstd one has a
// weak ETag that still validates.
func TestMiddlewareCompressedBodies(t *testing.T) {
	forEachRouter(t, func(t *testing.T, b *testbackend.Backend, rt router) {
		s := newTestStore(t, b)
		c := counted{fn: func(n int32, w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(jsonBody)
		}}
		h := rt.mount(Middleware(s, WithName("pages"), WithCompression(512)), c.handler(rt))

		first := get(h, "GET", "/items/1", "Accept-Encoding", "gzip, zstd")
		expect(t, first, 200, "MISS", string(jsonBody)) // the leader's own answer is the handler's
		if !varies(first.Header(), "Accept-Encoding") {
			t.Fatalf("the miss has Vary %q, want Accept-Encoding", first.Header().Values("Vary"))
		}
		etag := first.Header().Get("Etag")

		zw := get(h, "GET", "/items/1", "Accept-Encoding", "gzip, zstd;q=0.5")
		if zw.Header().Get("X-Cache") != "HIT" || zw.Header().Get("Content-Encoding") != "zstd" {
			t.Fatalf("a client taking zstd got X-Cache %q, Content-Encoding %q", zw.Header().Get("X-Cache"), zw.Header().Get("Content-Encoding"))
		}
		if zw.Body.Len() >= len(jsonBody)/4 || zw.Header().Get("Content-Length") != strconv.Itoa(zw.Body.Len()) {
			t.Fatalf("zstd body %d bytes (Content-Length %s) for %d", zw.Body.Len(), zw.Header().Get("Content-Length"), len(jsonBody))
		}
		if got := unzstd(t, zw.Body.Bytes()); string(got) != string(jsonBody) {
			t.Fatal("the zstd body does not decompress to the handler's body")
		}
		if zw.Header().Get("Etag") != "W/"+etag || !varies(zw.Header(), "Accept-Encoding") {
			t.Fatalf("zstd answer: ETag %q (identity %q), Vary %q", zw.Header().Get("Etag"), etag, zw.Header().Values("Vary"))
		}

		for _, ae := range []string{"", "gzip, br", "zstd;q=0, *", "ZSTD;q=0"} {
			pw := get(h, "GET", "/items/1", "Accept-Encoding", ae)
			expect(t, pw, 200, "HIT", string(jsonBody))
			if pw.Header().Get("Content-Encoding") != "" || pw.Header().Get("Etag") != etag ||
				pw.Header().Get("Content-Length") != strconv.Itoa(len(jsonBody)) || !varies(pw.Header(), "Accept-Encoding") {
				t.Fatalf("Accept-Encoding %q: Content-Encoding %q, ETag %q, Content-Length %q, Vary %q", ae,
					pw.Header().Get("Content-Encoding"), pw.Header().Get("Etag"), pw.Header().Get("Content-Length"), pw.Header().Values("Vary"))
			}
		}
		if w := get(h, "GET", "/items/1", "Accept-Encoding", "*"); w.Header().Get("Content-Encoding") != "zstd" {
			t.Fatal(`"*" did not take zstd`)
		}
		for _, inm := range []string{etag, "W/" + etag} {
			for _, ae := range []string{"zstd", "gzip"} {
				if w := get(h, "GET", "/items/1", "Accept-Encoding", ae, "If-None-Match", inm); w.Code != 304 {
					t.Fatalf("If-None-Match %s, Accept-Encoding %s: %d, want 304", inm, ae, w.Code)
				}
			}
		}
		head := get(h, "HEAD", "/items/1", "Accept-Encoding", "zstd")
		if head.Body.Len() != 0 || head.Header().Get("Content-Length") != zw.Header().Get("Content-Length") {
			t.Fatalf("HEAD: %d body bytes, Content-Length %q", head.Body.Len(), head.Header().Get("Content-Length"))
		}
		if n := c.calls.Load(); n != 1 {
			t.Fatalf("the handler ran %d times, want once", n)
		}
	})
}

// Bodies that gain nothing are stored as they came: images, bodies the
// origin encoded already, and bodies under the minimum.
func TestMiddlewareCompressesOnlyWhatGains(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		cases := []struct {
			name, ctype, encoding string
			body                  []byte
		}{
			{"image", "image/png", "", jsonBody},
			{"origin gzip", "application/json", "gzip", jsonBody},
			{"under the minimum", "application/json", "", jsonBody[:100]},
			{"no type", "", "", []byte{0x89, 'P', 'N', 'G', 0, 0, 0, 0}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				s := newTestStore(t, b)
				h := Middleware(s, WithCompression(512))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if tc.ctype != "" {
						w.Header().Set("Content-Type", tc.ctype)
					}
					if tc.encoding != "" {
						w.Header().Set("Content-Encoding", tc.encoding)
					}
					_, _ = w.Write(tc.body)
				}))
				get(h, "GET", "/x")
				w := get(h, "GET", "/x", "Accept-Encoding", "zstd")
				expect(t, w, 200, "HIT", string(tc.body))
				if w.Header().Get("Content-Encoding") != tc.encoding {
					t.Fatalf("Content-Encoding %q, want the origin's %q", w.Header().Get("Content-Encoding"), tc.encoding)
				}
			})
		}
	})
}

// A middleware that compresses and one that does not never read each
// other's entries; a damaged compressed body is a miss with an error
// counted, never sent.
func TestMiddlewareCompressedEntriesAreTheirOwn(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		s := newTestStore(t, b)
		var calls atomic.Int32
		handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(jsonBody)
		})
		zh := Middleware(s, WithName("pages"), WithCompression(0))(handler)
		ph := Middleware(s, WithName("pages"))(handler)
		get(zh, "GET", "/x")
		expect(t, get(ph, "GET", "/x"), 200, "MISS", string(jsonBody)) // the compressed entry is foreign
		expect(t, get(zh, "GET", "/x"), 200, "MISS", string(jsonBody)) // and the plain one to it
		if n := calls.Load(); n != 3 {
			t.Fatalf("the handler ran %d times, want 3", n)
		}

		key, err := MiddlewareKey(s, httptest.NewRequest("GET", "/x", nil), WithName("pages"))
		if err != nil {
			t.Fatal(err)
		}
		rkey, _ := s.e.Keys.Entry("pages", strings.TrimPrefix(key, "pages:"))
		raw := b.RDB.Get(ctxBG, rkey).Val()
		i := strings.Index(raw, "\xb5\x2f\xfd") // the zstd frame's magic, inside the body
		if i < 0 {
			t.Fatal("no zstd frame in the stored entry")
		}
		damaged := []byte(raw)
		damaged[i+40] ^= 0x01
		b.RDB.Set(ctxBG, rkey, string(damaged), time.Minute)
		errorsBefore := s.Stats().Errors
		w := get(zh, "GET", "/x", "Accept-Encoding", "zstd")
		if w.Header().Get("X-Cache") != "MISS" || calls.Load() != 4 {
			t.Fatalf("a damaged body was served: X-Cache %q, handler calls %d", w.Header().Get("X-Cache"), calls.Load())
		}
		if s.Stats().Errors != errorsBefore+1 {
			t.Fatal("the damaged entry was not counted as an error")
		}
	})
}

// The middleware as a shared cache (RFC 9111). Every behaviour runs in
// front of a handler on a ServeMux (an application's route, where WithTTL
// bounds freshness) and behind httputil.ReverseProxy in front of an origin
// (WithOriginFreshness), on every backend.

// sharedFront is one way the middleware sits in front of an origin
// handler.
type sharedFront struct {
	name   string
	origin bool // WithOriginFreshness: a reverse proxy
	mount  func(t *testing.T, s *Store, origin http.Handler, opts ...Option) http.Handler
}

var sharedFronts = []sharedFront{
	{"mux", false, func(t *testing.T, s *Store, origin http.Handler, opts ...Option) http.Handler {
		mux := http.NewServeMux()
		mux.Handle("/", Middleware(s, append([]Option{WithPublic(), WithTTL(5 * time.Minute)}, opts...)...)(origin))
		return mux
	}},
	{"reverse-proxy", true, func(t *testing.T, s *Store, origin http.Handler, opts ...Option) http.Handler {
		srv := httptest.NewServer(origin)
		t.Cleanup(srv.Close)
		u, _ := url.Parse(srv.URL)
		proxy := httputil.NewSingleHostReverseProxy(u)
		return Middleware(s, append([]Option{WithPublic(), WithTTL(5 * time.Minute), WithOriginFreshness(time.Hour)}, opts...)...)(proxy)
	}},
}

func forEachSharedFront(t *testing.T, fn func(t *testing.T, b *testbackend.Backend, f sharedFront)) {
	t.Helper()
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		for _, f := range sharedFronts {
			t.Run(f.name, func(t *testing.T) { fn(t, b, f) })
		}
	})
}

// origin answers with the header fields given as name, value pairs and a
// body naming the call, counting its calls.
func origin(calls *atomic.Int32, status int, fields ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		for i := 0; i+1 < len(fields); i += 2 {
			w.Header().Add(fields[i], fields[i+1])
		}
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(status)
		fmt.Fprintf(w, "call %d", n)
	})
}

func TestSharedCacheFreshness(t *testing.T) {
	past := time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)
	future := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	cases := []struct {
		name   string
		fields []string
		hit    bool
		only   string // "app" or "origin" when the case holds for one mode
	}{
		{"RFC9111-4.2.1 max-age=0 is stale at once", []string{"Cache-Control", "max-age=0"}, false, ""},
		{"RFC9111-4.2.1 a negative max-age is invalid: stale", []string{"Cache-Control", "max-age=-1"}, false, ""},
		{"RFC9111-4.2.1 a non-numeric max-age is invalid: stale", []string{"Cache-Control", "max-age=ten"}, false, ""},
		{"RFC9111-4.2.1 conflicting max-age values: stale", []string{"Cache-Control", "max-age=100", "Cache-Control", "max-age=0"}, false, ""},
		{"RFC9111-5.2 directive names are case-insensitive", []string{"Cache-Control", "MAX-AGE=0"}, false, ""},
		{"RFC9111-5.2 a quoted max-age counts", []string{"Cache-Control", `max-age="0"`}, false, ""},
		{"RFC9111-5.2 a quoted max-age lets a response be fresh", []string{"Cache-Control", `max-age="100"`}, true, ""},
		{"RFC9111-5.2.2.1 max-age=100 is fresh", []string{"Cache-Control", "max-age=100"}, true, ""},
		{"RFC9111-5.2.2.10 s-maxage overrides max-age for a shared cache", []string{"Cache-Control", "max-age=3600, s-maxage=0"}, false, ""},
		{"RFC9111-5.2.2.10 s-maxage gives freshness over max-age=0", []string{"Cache-Control", "max-age=0, s-maxage=100"}, true, ""},
		{"RFC9111-4.2.3 an upstream Age counts against freshness", []string{"Cache-Control", "max-age=100", "Age", "100"}, false, ""},
		{"RFC9111-4.2.3 an upstream Age beyond s-maxage is stale", []string{"Cache-Control", "max-age=3600, s-maxage=5", "Age", "6"}, false, ""},
		{"RFC9111-5.3 Expires in the past is stale", []string{"Expires", past}, false, ""},
		{"RFC9111-5.3 an invalid Expires is in the past", []string{"Expires", "0"}, false, ""},
		{"RFC9111-5.3 Expires in the future is fresh", []string{"Expires", future}, true, ""},
		{"RFC9111-5.2.2.1 max-age overrides Expires", []string{"Expires", future, "Cache-Control", "max-age=0"}, false, ""},
		{"RFC9111-5.2.2.4 no-cache is never served without revalidation", []string{"Cache-Control", "no-cache"}, false, ""},
		{"RFC9111-5.2.2.5 no-store is not stored", []string{"Cache-Control", "max-age=100, no-store"}, false, ""},
		{"RFC9111-5.2.2.7 private is not stored by a shared cache", []string{"Cache-Control", "max-age=100, private"}, false, ""},
		{"RFC9213 CDN-Cache-Control overrides Cache-Control", []string{"Cache-Control", "max-age=3600", "CDN-Cache-Control", "max-age=0"}, false, ""},
		{"RFC9213 CDN-Cache-Control gives freshness over no-cache", []string{"Cache-Control", "no-cache", "CDN-Cache-Control", "max-age=100"}, true, ""},
		{"RFC9111-4.2.2 no explicit freshness, no Last-Modified: not stored by a proxy", nil, false, "origin"},
		{"RFC9111-4.2.2 heuristic freshness from Last-Modified", []string{"Last-Modified", time.Now().Add(-240 * time.Hour).UTC().Format(http.TimeFormat)}, true, "origin"},
		{"no freshness information: the route's TTL", nil, true, "app"},
	}
	forEachSharedFront(t, func(t *testing.T, b *testbackend.Backend, f sharedFront) {
		for _, tc := range cases {
			if tc.only == "app" && f.origin || tc.only == "origin" && !f.origin {
				continue
			}
			t.Run(tc.name, func(t *testing.T) {
				var calls atomic.Int32
				h := f.mount(t, newTestStore(t, b), origin(&calls, 200, tc.fields...))
				get(h, "GET", "/r")
				w := get(h, "GET", "/r")
				if hit := w.Header().Get("X-Cache") == "HIT"; hit != tc.hit || hit != (calls.Load() == 1) {
					t.Fatalf("second request: X-Cache %q, origin called %d times; want a hit %v (Cache-Status %q)",
						w.Header().Get("X-Cache"), calls.Load(), tc.hit, w.Header().Get("Cache-Status"))
				}
			})
		}
	})
}

// A hit says how old the response is, counting the upstream's Age, keeps
// the origin's Date, reports the response's own remaining freshness, and
// adds its Cache-Status member after the upstream's.
func TestSharedCacheAgeDateAndCacheStatus(t *testing.T) {
	forEachSharedFront(t, func(t *testing.T, b *testbackend.Backend, f sharedFront) {
		var calls atomic.Int32
		date := time.Now().Add(-30 * time.Second).UTC().Format(http.TimeFormat)
		h := f.mount(t, newTestStore(t, b), origin(&calls, 200, "Cache-Control", "max-age=100", "Age", "40",
			"Date", date, "Cache-Status", "upstream; hit"))
		first := get(h, "GET", "/r")
		if cs := first.Header().Values("Cache-Status"); len(cs) != 2 || cs[0] != "upstream; hit" || !strings.HasPrefix(cs[1], "cachefront; fwd=") {
			t.Fatalf("miss Cache-Status %q, want the upstream's member, then cachefront's", cs)
		}
		w := get(h, "GET", "/r")
		if w.Header().Get("X-Cache") != "HIT" {
			t.Fatalf("X-Cache %q", w.Header().Get("X-Cache"))
		}
		// RFC 9111 §4.2.3: the age on arrival is the larger of the upstream
		// Age (40 s) and what the Date says (30 s and more).
		if age, _ := strconv.Atoi(w.Header().Get("Age")); age < 40 || age > 45 {
			t.Fatalf("Age %q, want the upstream's 40 plus the time since", w.Header().Get("Age"))
		}
		if w.Header().Get("Date") != date {
			t.Fatalf("Date %q, want the origin's %q", w.Header().Get("Date"), date)
		}
		cs := w.Header().Values("Cache-Status")
		if len(cs) != 2 || cs[0] != "upstream; hit" {
			t.Fatalf("hit Cache-Status %q", cs)
		}
		// RFC 9211: ttl is the remaining freshness: 100 - 40 s, not the
		// route's 5 minutes.
		var ttl int
		if _, err := fmt.Sscanf(cs[1], "cachefront; hit; ttl=%d", &ttl); err != nil || ttl < 50 || ttl > 60 {
			t.Fatalf("cachefront's member %q, want ttl about 60", cs[1])
		}
	})
}

// RFC 9110 §13.1.3: If-Modified-Since gets a 304 from a fresh entry that
// was not modified since; If-None-Match, when present, decides instead.
func TestSharedCacheIfModifiedSince(t *testing.T) {
	forEachSharedFront(t, func(t *testing.T, b *testbackend.Backend, f sharedFront) {
		var calls atomic.Int32
		lm := time.Now().Add(-time.Hour).UTC()
		h := f.mount(t, newTestStore(t, b), origin(&calls, 200, "Cache-Control", "max-age=100",
			"Last-Modified", lm.Format(http.TimeFormat), "ETag", `"v1"`))
		get(h, "GET", "/r")
		for _, tc := range []struct {
			headers []string
			want    int
		}{
			{[]string{"If-Modified-Since", lm.Format(http.TimeFormat)}, 304},
			{[]string{"If-Modified-Since", lm.Add(time.Minute).Format(http.TimeFormat)}, 304},
			{[]string{"If-Modified-Since", lm.Add(-time.Minute).Format(http.TimeFormat)}, 200},
			{[]string{"If-Modified-Since", "not a date"}, 200},
			{[]string{"If-Modified-Since", lm.Format(http.TimeFormat), "If-None-Match", `"other"`}, 200},
			{[]string{"If-Modified-Since", lm.Add(-time.Minute).Format(http.TimeFormat), "If-None-Match", `"v1"`}, 304},
		} {
			if w := get(h, "GET", "/r", tc.headers...); w.Code != tc.want || w.Header().Get("X-Cache") != "HIT" {
				t.Errorf("%q: %d (X-Cache %q), want %d from the entry", tc.headers, w.Code, w.Header().Get("X-Cache"), tc.want)
			}
		}
		if calls.Load() != 1 {
			t.Fatalf("the origin was called %d times", calls.Load())
		}
	})
}

// RFC 9111 §4.4: a non-error response to an unsafe method invalidates the
// stored responses of its target URI and of the same-origin URIs in its
// Location and Content-Location, on every instance; an error response
// invalidates nothing.
func TestSharedCacheUnsafeMethodsInvalidate(t *testing.T) {
	forEachSharedFront(t, func(t *testing.T, b *testbackend.Backend, f sharedFront) {
		s := newTestStore(t, b)
		other := NewStore(b.RDB, WithNamespace(s.Namespace()), WithLocalCache(100, time.Minute))
		defer other.Close()
		var calls atomic.Int32
		var status atomic.Int32
		status.Store(201)
		handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet {
				w.Header().Set("Location", "/items/2")
				w.Header().Set("Content-Location", "http://elsewhere.example/items/3")
				w.WriteHeader(int(status.Load()))
				return
			}
			w.Header().Set("Cache-Control", "max-age=100")
			fmt.Fprintf(w, "%s call %d", r.URL.Path, calls.Add(1))
		})
		h, h2 := f.mount(t, s, handler), f.mount(t, other, handler)
		hit := func(h http.Handler, path string) bool {
			return get(h, "GET", path).Header().Get("X-Cache") == "HIT"
		}
		waitFor(t, 5*time.Second, "the other instance's local tier", func() bool { return other.e.Local.Healthy() })
		for _, p := range []string{"/items/1?x=1", "/items/2", "/items/3"} {
			get(h, "GET", p)
			fromRedis := hit(h2, p)
			if fromLocal := hit(h2, p); !fromRedis || !fromLocal {
				t.Fatalf("%s: not cached", p)
			}
		}
		status.Store(500)
		get(h, "POST", "/items/1?x=1")
		if !hit(h, "/items/1?x=1") {
			t.Fatal("a 500 to a POST invalidated the GET")
		}
		status.Store(201)
		for _, method := range []string{"POST", "PUT", "DELETE", "PATCH", "PURGE"} {
			get(h, method, "/items/1?x=1")
			if hit(h, "/items/1?x=1") {
				t.Fatalf("a 201 to %s left the GET of its URI in place", method)
			}
			get(h, "GET", "/items/1?x=1") // stored again
		}
		fromRedis := hit(h2, "/items/1?x=1")
		if fromLocal := hit(h2, "/items/1?x=1"); !fromRedis || !fromLocal {
			t.Fatal("the other instance does not hold the entry")
		}
		get(h, "POST", "/items/1?x=1")
		waitFor(t, 5*time.Second, "the other instance to drop the entry", func() bool { return !hit(h2, "/items/1?x=1") })
		if hit(h, "/items/2") {
			t.Fatal("the same-origin Location was not invalidated")
		}
		if !hit(h, "/items/3") {
			t.Fatal("a Content-Location of another origin was invalidated")
		}
		get(h, "GET", "/items/2")
		status.Store(303)
		get(h, "DELETE", "/items/9")
		if hit(h, "/items/2") {
			t.Fatal("a 303 (non-error) did not invalidate its Location")
		}
	})
}

// RFC 9111 §4.1: a response that varies on request headers the route's
// keys do not hold is not stored under them; the route learns those
// headers, and from then on each variant is stored and served to the
// requests that match it only. Vary: * is never stored.
func TestSharedCacheVary(t *testing.T) {
	forEachSharedFront(t, func(t *testing.T, b *testbackend.Backend, f sharedFront) {
		var calls atomic.Int32
		handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := calls.Add(1)
			w.Header().Set("Cache-Control", "max-age=100")
			w.Header().Set("Vary", "Accept-Encoding, accept-language")
			fmt.Fprintf(w, "%s/%s #%d", r.Header.Get("Accept-Encoding"), r.Header.Get("Accept-Language"), n)
		})
		h := f.mount(t, newTestStore(t, b), handler)
		req := func(ae, al string) *httptest.ResponseRecorder {
			return get(h, "GET", "/v", "Accept-Encoding", ae, "Accept-Language", al)
		}
		first := req("gzip", "en")
		if first.Body.String() != "gzip/en #1" {
			t.Fatalf("first body %q", first.Body)
		}
		expect(t, req("gzip", "en"), 200, "MISS", "gzip/en #2") // the first taught the route its Vary
		expect(t, req("gzip", "en"), 200, "HIT", "gzip/en #2")
		expect(t, req("GZIP ", "en"), 200, "HIT", "gzip/en #2") // the same coding, normalised
		expect(t, req("br", "en"), 200, "MISS", "br/en #3")     // another variant
		expect(t, req("gzip", "fr"), 200, "MISS", "gzip/fr #4")
		expect(t, req("br", "en"), 200, "HIT", "br/en #3")
		expect(t, req("gzip", "en"), 200, "HIT", "gzip/en #2")

		var starCalls atomic.Int32
		star := f.mount(t, newTestStore(t, b), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=100")
			w.Header().Set("Vary", "*")
			fmt.Fprintf(w, "#%d", starCalls.Add(1))
		}))
		for i := 1; i <= 3; i++ {
			expect(t, get(star, "GET", "/s"), 200, "MISS", "#"+strconv.Itoa(i))
		}
	})
}

// RFC 9111 §4.3: a stale entry with a validator is revalidated with a
// conditional request; a 304 freshens it (§4.3.4) and it answers, a 200
// replaces it. Concurrent requests for the stale entry make one
// conditional request.
func TestSharedCacheRevalidation(t *testing.T) {
	forEachSharedFront(t, func(t *testing.T, b *testbackend.Backend, f sharedFront) {
		var calls, conditional atomic.Int32
		var version atomic.Int32
		version.Store(1)
		handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			etag := fmt.Sprintf(`"v%d"`, version.Load())
			if r.URL.Path == "/lm" {
				w.Header().Set("Last-Modified", "Mon, 02 Jan 2006 15:04:05 GMT")
				if r.Header.Get("If-Modified-Since") != "" {
					conditional.Add(1)
					w.Header().Set("Cache-Control", "max-age=100")
					w.WriteHeader(http.StatusNotModified)
					return
				}
			} else {
				w.Header().Set("ETag", etag)
				if inm := r.Header.Get("If-None-Match"); inm != "" {
					conditional.Add(1)
					if inm == etag {
						time.Sleep(20 * time.Millisecond) // let concurrent requests arrive
						w.Header().Set("Cache-Control", "max-age=100")
						w.Header().Set("X-Refreshed", "yes")
						w.WriteHeader(http.StatusNotModified)
						return
					}
				}
			}
			w.Header().Set("Cache-Control", "max-age=1")
			w.Header().Set("X-Refreshed", "no")
			fmt.Fprintf(w, "%s v%d", r.URL.Path, version.Load())
		})
		h := f.mount(t, newTestStore(t, b), handler)
		for _, p := range []string{"/etag", "/lm"} {
			expect(t, get(h, "GET", p), 200, "MISS", p+" v1")
		}
		time.Sleep(1100 * time.Millisecond) // both entries go stale

		var wg sync.WaitGroup
		bodies := make([]string, 10)
		for i := range bodies {
			wg.Add(1)
			go func() {
				defer wg.Done()
				bodies[i] = get(h, "GET", "/etag").Body.String()
			}()
		}
		wg.Wait()
		for _, body := range bodies {
			if body != "/etag v1" {
				t.Fatalf("bodies during the revalidation %q", bodies)
			}
		}
		if n := conditional.Load(); n != 1 {
			t.Fatalf("%d conditional requests for 10 concurrent ones, want 1", n)
		}
		w := get(h, "GET", "/etag")
		expect(t, w, 200, "HIT", "/etag v1")
		if w.Header().Get("X-Refreshed") != "yes" || !strings.Contains(w.Header().Get("Cache-Status"), "ttl=") {
			t.Fatalf("the 304's fields did not update the entry: X-Refreshed %q", w.Header().Get("X-Refreshed"))
		}
		if w := get(h, "GET", "/etag", "If-None-Match", `"v1"`); w.Code != 304 {
			t.Fatalf("a client's If-None-Match on the freshened entry: %d", w.Code)
		}

		lm := get(h, "GET", "/lm")
		if lm.Body.String() != "/lm v1" || !strings.Contains(lm.Header().Get("Cache-Status"), "fwd-status=304") || conditional.Load() != 2 {
			t.Fatalf("Last-Modified revalidation: %q, Cache-Status %q, %d conditional requests",
				lm.Body, lm.Header().Get("Cache-Status"), conditional.Load())
		}
		expect(t, get(h, "GET", "/lm"), 200, "HIT", "/lm v1")

		// A 200 to the conditional request replaces the entry.
		version.Store(2)
		h2 := f.mount(t, newTestStore(t, b), handler)
		get(h2, "GET", "/etag") // stored as v2, then stale
		version.Store(3)
		time.Sleep(1100 * time.Millisecond)
		expect(t, get(h2, "GET", "/etag"), 200, "MISS", "/etag v3")
	})
}

// RFC 5861 and RFC 9111 §5.2.2: stale-while-revalidate serves the stale
// response at once and revalidates behind it; stale-if-error serves it
// instead of a 5xx; must-revalidate and proxy-revalidate forbid both;
// no-cache with a validator is stored and revalidated on every request.
func TestSharedCacheStaleDirectives(t *testing.T) {
	forEachSharedFront(t, func(t *testing.T, b *testbackend.Backend, f sharedFront) {
		var failing atomic.Bool
		var calls sync.Map // path → *atomic.Int32
		count := func(path string) int32 {
			v, _ := calls.LoadOrStore(path, new(atomic.Int32))
			return v.(*atomic.Int32).Load()
		}
		handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			v, _ := calls.LoadOrStore(r.URL.Path, new(atomic.Int32))
			n := v.(*atomic.Int32).Add(1)
			if failing.Load() {
				http.Error(w, "origin down", http.StatusBadGateway)
				return
			}
			switch r.URL.Path {
			case "/swr":
				w.Header().Set("Cache-Control", "max-age=1, stale-while-revalidate=60")
			case "/sie":
				w.Header().Set("Cache-Control", "max-age=1, stale-if-error=60")
			case "/must":
				w.Header().Set("Cache-Control", "max-age=1, stale-while-revalidate=60, stale-if-error=60, must-revalidate")
			case "/proxy":
				w.Header().Set("Cache-Control", "max-age=1, stale-if-error=60, proxy-revalidate")
			case "/no-cache":
				w.Header().Set("Cache-Control", "no-cache")
				w.Header().Set("ETag", `"nc"`)
				if r.Header.Get("If-None-Match") == `"nc"` {
					w.WriteHeader(http.StatusNotModified)
					return
				}
			}
			fmt.Fprintf(w, "%s #%d", r.URL.Path, n)
		})
		h := f.mount(t, newTestStore(t, b), handler)
		for _, p := range []string{"/swr", "/sie", "/must", "/proxy", "/no-cache"} {
			get(h, "GET", p)
		}
		// no-cache: stored, but every request asks the handler again.
		for i := 0; i < 2; i++ {
			w := get(h, "GET", "/no-cache")
			if w.Body.String() != "/no-cache #1" || !strings.Contains(w.Header().Get("Cache-Status"), "fwd-status=304") {
				t.Fatalf("no-cache: %q, Cache-Status %q", w.Body, w.Header().Get("Cache-Status"))
			}
		}
		if n := count("/no-cache"); n != 3 {
			t.Fatalf("no-cache: the handler ran %d times for 3 requests", n)
		}
		time.Sleep(1100 * time.Millisecond) // everything is stale now

		w := get(h, "GET", "/swr")
		if w.Body.String() != "/swr #1" || w.Header().Get("X-Cache") != "HIT" ||
			!strings.Contains(w.Header().Get("Cache-Status"), "detail=stale-while-revalidate") {
			t.Fatalf("stale-while-revalidate: %q, %q", w.Body, w.Header().Get("Cache-Status"))
		}
		waitFor(t, 5*time.Second, "the background revalidation", func() bool { return count("/swr") == 2 })
		waitFor(t, 5*time.Second, "the revalidated entry", func() bool {
			w := get(h, "GET", "/swr")
			return w.Body.String() == "/swr #2" && w.Header().Get("X-Cache") == "HIT"
		})

		failing.Store(true)
		w = get(h, "GET", "/sie")
		if w.Code != 200 || w.Body.String() != "/sie #1" || !strings.Contains(w.Header().Get("Cache-Status"), "detail=stale-if-error") {
			t.Fatalf("stale-if-error: %d %q, %q", w.Code, w.Body, w.Header().Get("Cache-Status"))
		}
		for _, p := range []string{"/must", "/proxy"} {
			if w := get(h, "GET", p); w.Code != http.StatusBadGateway {
				t.Fatalf("%s: %d %q, want the origin's 502: a stale response was served", p, w.Code, w.Body)
			}
		}
	})
}

// RFC 9111 §3.5: in front of an origin, a response to a request with
// Authorization is stored only when it says public, s-maxage or
// must-revalidate, and otherwise answers no other request.
func TestSharedCacheAuthorization(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		proxy := sharedFronts[1]
		for _, tc := range []struct {
			cc     string
			stored bool
		}{
			{"max-age=100", false},
			{"max-age=100, public", true},
			{"s-maxage=100", true},
			{"max-age=100, must-revalidate", true},
		} {
			t.Run(tc.cc, func(t *testing.T) {
				var calls atomic.Int32
				h := proxy.mount(t, newTestStore(t, b), origin(&calls, 200, "Cache-Control", tc.cc))
				get(h, "GET", "/a", "Authorization", "Bearer alice")
				w := get(h, "GET", "/a")
				if hit := w.Header().Get("X-Cache") == "HIT"; hit != tc.stored {
					t.Fatalf("after an authorized request, X-Cache %q; want stored %v", w.Header().Get("X-Cache"), tc.stored)
				}
			})
		}
	})
}
