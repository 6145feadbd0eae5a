package cachefront

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachefront/cachefront/internal/engine"
	"github.com/cachefront/cachefront/internal/httpcache"
)

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
	forEachBackend(t, func(t *testing.T, b *testBackend) {
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
	forEachBackend(t, func(t *testing.T, b *testBackend) {
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
	forEachBackend(t, func(t *testing.T, b *testBackend) {
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
