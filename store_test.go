package cachefront

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/cachefront/cachefront/internal/testbackend"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// stoppable is a Redis the test can stop and start again.
type stoppable struct {
	addr    string
	stop    func()
	restart func()
}

func stoppableServers(t *testing.T) map[string]func(t *testing.T) *stoppable {
	list := map[string]func(t *testing.T) *stoppable{
		"miniredis": func(t *testing.T) *stoppable {
			mr := miniredis.RunT(t)
			return &stoppable{addr: mr.Addr(), stop: mr.Close, restart: func() {
				if err := mr.Restart(); err != nil {
					t.Fatal(err)
				}
			}}
		},
	}
	if _, err := exec.LookPath("redis-server"); err == nil && os.Getenv("CACHEFRONT_REDIS_ADDR") != "" {
		list["redis-server"] = startRedisServer
	}
	return list
}

// startRedisServer runs a throwaway redis-server on a free loopback port.
func startRedisServer(t *testing.T) *stoppable {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	dir := t.TempDir()
	var cmd *exec.Cmd
	start := func() {
		cmd = exec.Command("redis-server", "--port", fmt.Sprint(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", dir, "--logfile", filepath.Join(dir, "log"))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		rdb := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
		defer rdb.Close()
		waitFor(t, 10*time.Second, "redis-server to start", func() bool { return rdb.Ping(ctxBG).Err() == nil })
	}
	stop := func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	start()
	t.Cleanup(stop)
	return &stoppable{addr: fmt.Sprintf("127.0.0.1:%d", port), stop: stop, restart: start}
}

func TestRedisStoppedMidTestFailsOpenAndRecovers(t *testing.T) {
	for name, open := range stoppableServers(t) {
		t.Run(name, func(t *testing.T) {
			srv := open(t)
			rdb := redis.NewClient(&redis.Options{Addr: srv.addr, MaxRetries: -1})
			defer rdb.Close()
			s := NewStore(rdb, WithNamespace("fail"), WithOperationTimeout(200*time.Millisecond),
				WithCircuitBreaker(3, 100*time.Millisecond))
			c := New[string](s, "c")
			var loads atomic.Int32
			load := func(context.Context) (string, error) { loads.Add(1); return "from source", nil }

			if v, err := c.GetOrLoad(ctxBG, "k", load); err != nil || v != "from source" {
				t.Fatal(v, err)
			}
			srv.stop()

			for i := 0; i < 10; i++ {
				v, err := c.GetOrLoad(ctxBG, "k", load)
				if err != nil || v != "from source" {
					t.Fatalf("with Redis down GetOrLoad = %q, %v; want the loader's value", v, err)
				}
			}
			if _, err := c.Get(ctxBG, "k"); !errors.Is(err, ErrUnavailable) {
				t.Fatalf("Get with Redis down = %v, want ErrUnavailable", err)
			}
			if err := c.Set(ctxBG, "k", "v"); !errors.Is(err, ErrUnavailable) {
				t.Fatalf("Set with Redis down = %v, want ErrUnavailable", err)
			}
			if err := s.InvalidateTags(ctxBG, "t"); !errors.Is(err, ErrUnavailable) {
				t.Fatalf("InvalidateTags with Redis down = %v, want ErrUnavailable", err)
			}
			st := s.Stats()
			if st.Errors == 0 || !st.CircuitOpen {
				t.Fatalf("stats = %+v: want errors counted and the breaker open", st)
			}
			if st.Misses < 10 {
				t.Fatalf("misses = %d: every read that loaded counts one miss", st.Misses)
			}

			srv.restart()
			waitFor(t, 10*time.Second, "recovery", func() bool {
				_, _ = c.GetOrLoad(ctxBG, "k", load)
				_, err := c.Get(ctxBG, "k")
				return err == nil
			})
			if s.Stats().CircuitOpen {
				t.Fatal("breaker still open after recovery")
			}
		})
	}
}

// A server that accepts connections and never answers: the operation timeout
// must hold although the client ignores context deadlines on reads.
func TestUnresponsiveRedisIsBoundedWithDefaultClient(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: testbackend.SilentServer(t)}) // go-redis defaults: 3s read timeout
	defer rdb.Close()
	s := NewStore(rdb, WithOperationTimeout(50*time.Millisecond), WithCircuitBreaker(2, time.Minute))
	c := New[string](s, "c")

	start := time.Now()
	v, err := c.GetOrLoad(ctxBG, "k", func(context.Context) (string, error) { return "loaded", nil })
	if err != nil || v != "loaded" {
		t.Fatalf("GetOrLoad = %q, %v", v, err)
	}
	// Two bounded operations (read, second look) then the breaker is open.
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("GetOrLoad took %v against a silent server; the 50ms operation timeout did not hold", d)
	}
	if !s.Stats().CircuitOpen {
		t.Fatal("breaker not open after two timeouts")
	}
	start = time.Now()
	if _, err := c.Get(ctxBG, "k"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Get = %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Get with an open breaker took %v", d)
	}
}

// A client whose own socket timeouts are within the operation timeout runs
// operations in the caller's goroutine; against a silent server each read
// still ends in time, and a caller deadline sooner than the timeout holds.
func TestUnresponsiveRedisIsBoundedWithShortSocketTimeouts(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: testbackend.SilentServer(t), ReadTimeout: 100 * time.Millisecond,
		WriteTimeout: 100 * time.Millisecond, MaxRetries: -1})
	defer rdb.Close()
	s := NewStore(rdb, WithOperationTimeout(150*time.Millisecond), WithCircuitBreaker(100, time.Minute))
	if !s.e.Backend.SocketBound {
		t.Fatal("socket timeouts within the operation timeout: operations should run inline")
	}
	c := New[string](s, "c")
	for _, tc := range []struct {
		name  string
		ctx   func() (context.Context, context.CancelFunc)
		bound time.Duration
	}{
		{"no caller deadline", func() (context.Context, context.CancelFunc) { return context.WithCancel(ctxBG) }, 500 * time.Millisecond},
		{"caller deadline sooner", func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctxBG, 20*time.Millisecond) }, 90 * time.Millisecond},
	} {
		ctx, cancel := tc.ctx()
		start := time.Now()
		_, err := c.Get(ctx, "k")
		d := time.Since(start)
		cancel()
		if err == nil || errors.Is(err, ErrNotFound) {
			t.Fatalf("%s: Get = %v, want a failure", tc.name, err)
		}
		if d > tc.bound {
			t.Fatalf("%s: Get took %v against a silent server, want at most %v", tc.name, d, tc.bound)
		}
	}
}

func TestCallerCancellationDoesNotTripTheBreaker(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	s := NewStore(rdb, WithCircuitBreaker(1, time.Minute))
	c := New[string](s, "c")
	ctx, cancel := context.WithCancel(ctxBG)
	cancel()
	for i := 0; i < 3; i++ {
		_, _ = c.Get(ctx, "k")
	}
	if s.Stats().CircuitOpen {
		t.Fatal("callers' own cancellations opened the breaker")
	}
	if _, err := c.Get(ctxBG, "k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get = %v, want ErrNotFound", err)
	}
}

func newClient(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
}

func newLocalStore(t *testing.T, b *testbackend.Backend, ns string) *Store {
	t.Helper()
	s := NewStore(b.RDB, WithNamespace(ns), WithLocalCache(1000, time.Minute))
	t.Cleanup(func() { _ = s.Close() })
	waitFor(t, 10*time.Second, "the invalidation subscription", s.e.Local.Healthy)
	return s
}

// dropSubscriptions cuts every pub/sub connection of the backend.
func dropSubscriptions(t *testing.T, b *testbackend.Backend) {
	t.Helper()
	switch {
	case b.MR != nil:
		b.MR.Close()
		if err := b.MR.Restart(); err != nil {
			t.Fatal(err)
		}
	default:
		kill := func(ctx context.Context, c *redis.Client) error {
			return c.ClientKillByFilter(ctx, "TYPE", "pubsub").Err()
		}
		var err error
		if cc, ok := b.RDB.(*redis.ClusterClient); ok {
			err = cc.ForEachShard(ctxBG, kill)
		} else {
			err = kill(ctxBG, b.RDB.(*redis.Client))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestLocalTierServesHitsWithoutDecoding(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		s := newLocalStore(t, b, newTestStore(t, b).Namespace())
		c := New[Product](s, "products")
		load := func(context.Context) (Product, error) { return sampleProduct("L1"), nil }
		if _, err := c.GetOrLoad(ctxBG, "L1", load); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			if p, err := c.GetOrLoad(ctxBG, "L1", load); err != nil || p.ASIN != "L1" {
				t.Fatal(p, err)
			}
		}
		st := s.Stats()
		if st.LocalHits != 3 || st.Hits != 3 || st.Misses != 1 {
			t.Fatalf("stats = %+v, want 3 local hits out of 3 hits and 1 miss", st)
		}
	})
}

func TestLocalTierInvalidatedAcrossInstances(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		ns := newTestStore(t, b).Namespace()
		a, bb := newLocalStore(t, b, ns), newLocalStore(t, b, ns)
		ca, cb := New[string](a, "c"), New[string](bb, "c")
		load := func(v string) func(context.Context) (string, error) {
			return func(context.Context) (string, error) { return v, nil }
		}
		for _, c := range []*Cache[string]{ca, cb} {
			for _, k := range []string{"tagged", "plain", "set"} {
				if _, err := c.GetOrLoad(ctxBG, k, load("old"), WithTags("t")); err != nil {
					t.Fatal(err)
				}
			}
		}
		if v, _ := cb.Get(ctxBG, "tagged"); v != "old" || bb.Stats().LocalHits == 0 {
			t.Fatal("b's local tier does not hold the entry")
		}

		if err := a.InvalidateTags(ctxBG, "t"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, "b to see the tag invalidation", func() bool {
			_, err := cb.Get(ctxBG, "tagged")
			return errors.Is(err, ErrNotFound)
		})

		for _, c := range []*Cache[string]{ca, cb} {
			_, _ = c.GetOrLoad(ctxBG, "plain", load("old"))
			_, _ = c.GetOrLoad(ctxBG, "set", load("old"))
		}
		if err := ca.Delete(ctxBG, "plain"); err != nil {
			t.Fatal(err)
		}
		if err := ca.Set(ctxBG, "set", "new"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, "b to see the delete and the set", func() bool {
			_, errPlain := cb.Get(ctxBG, "plain")
			v, _ := cb.Get(ctxBG, "set")
			return errors.Is(errPlain, ErrNotFound) && v == "new"
		})
	})
}

func TestDroppedSubscriptionFlushesLocalTier(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		s := newLocalStore(t, b, newTestStore(t, b).Namespace())
		c := New[string](s, "c")
		if _, err := c.GetOrLoad(ctxBG, "k", func(context.Context) (string, error) { return "v", nil }); err != nil {
			t.Fatal(err)
		}
		if s.e.Local.Len() != 1 {
			t.Fatal("entry not in the local tier")
		}
		dropSubscriptions(t, b)
		waitFor(t, 10*time.Second, "the drop to flush the tier", func() bool {
			return s.e.Local.Len() == 0
		})
		waitFor(t, 10*time.Second, "the subscription to come back", s.e.Local.Healthy)
		if v, err := c.Get(ctxBG, "k"); err != nil || v != "v" {
			t.Fatalf("after reconnecting: %q, %v", v, err)
		}
	})
}

// An invalidation Redis could not take is applied once Redis is back, so an
// entry written before a write to the source does not survive the outage.
// miniredis keeps its data across a restart, as a Redis behind a network
// partition (or with persistence) does.
func TestFailedInvalidationsAreRetriedWhenRedisReturns(t *testing.T) {
	servers := stoppableServers(t)
	for _, name := range []string{"miniredis"} {
		t.Run(name, func(t *testing.T) {
			srv := servers[name](t)
			rdb := redis.NewClient(&redis.Options{Addr: srv.addr, MaxRetries: -1})
			defer rdb.Close()
			s := NewStore(rdb, WithNamespace("pending"), WithOperationTimeout(200*time.Millisecond),
				WithCircuitBreaker(2, 50*time.Millisecond))
			defer s.Close()
			c := New[string](s, "c")
			load := func(context.Context) (string, error) { return "old", nil }
			for _, k := range []string{"tagged", "deleted"} {
				if _, err := c.GetOrLoad(ctxBG, k, load, WithTags("t")); err != nil {
					t.Fatal(err)
				}
			}

			srv.stop()
			if err := s.InvalidateTags(ctxBG, "t"); !errors.Is(err, ErrUnavailable) {
				t.Fatalf("InvalidateTags with Redis down = %v", err)
			}
			if err := c.Delete(ctxBG, "deleted"); !errors.Is(err, ErrUnavailable) {
				t.Fatalf("Delete with Redis down = %v", err)
			}
			if n := s.PendingInvalidations(); n != 2 {
				t.Fatalf("pending = %d, want the tag and the key", n)
			}

			srv.restart()
			waitFor(t, 10*time.Second, "the pending invalidations to land", func() bool {
				return s.PendingInvalidations() == 0
			})
			for _, k := range []string{"tagged", "deleted"} {
				if v, err := c.Get(ctxBG, k); !errors.Is(err, ErrNotFound) {
					t.Fatalf("%s after recovery = %q, %v: the invalidation made during the outage was lost", k, v, err)
				}
			}
		})
	}
}

// countCommands counts the commands a client sends, pipelined or not,
// but for the handshake of a new connection.
type countCommands struct{ n atomic.Int64 }

func (c *countCommands) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *countCommands) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() != "hello" { // a new connection's handshake
			c.n.Add(1)
		}
		return next(ctx, cmd)
	}
}
func (c *countCommands) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// A request through the middleware whose handler makes more cache calls
// waits for a silent Redis once: after the middleware's read timed out, the
// handler's calls do not ask Redis, and neither do calls under a context
// given a budget by RedisBudget. Without a budget, each call asks.
func TestOneRequestWaitsForAFailingRedisOnce(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: testbackend.SilentServer(t), ContextTimeoutEnabled: true, MaxRetries: -1})
	defer rdb.Close()
	sent := &countCommands{}
	rdb.AddHook(sent)
	s := NewStore(rdb, WithOperationTimeout(50*time.Millisecond), WithCircuitBreaker(0, time.Second))
	defer s.Close()
	products := New[string](s, "products")
	load := func(context.Context) (string, error) { return "p", nil }

	h := Middleware(s, WithName("page"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, k := range []string{"a", "b", "c"} {
			if v, err := products.GetOrLoad(r.Context(), k, load); err != nil || v != "p" {
				t.Errorf("GetOrLoad in the handler = %q, %v", v, err)
			}
		}
		_, _ = w.Write([]byte("page"))
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/page", nil))
	if rec.Code != http.StatusOK || rec.Body.String() != "page" {
		t.Fatalf("request = %d %q", rec.Code, rec.Body.String())
	}
	if n := sent.n.Load(); n != 1 {
		t.Fatalf("one request sent %d commands to a Redis that does not answer, want 1 (the middleware's read)", n)
	}

	sent.n.Store(0)
	ctx := RedisBudget(ctxBG)
	for _, k := range []string{"a", "b"} {
		if _, err := products.Get(ctx, k); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Get = %v, want ErrUnavailable", err)
		}
	}
	if n := sent.n.Load(); n != 1 {
		t.Fatalf("two Gets under one budget sent %d commands, want 1", n)
	}
	sent.n.Store(0)
	for _, k := range []string{"a", "b"} {
		_, _ = products.Get(ctxBG, k)
	}
	if n := sent.n.Load(); n != 2 {
		t.Fatalf("two Gets without a budget sent %d commands, want 2 (one each)", n)
	}
}

// Invalidations pending while the breaker is open are retried anyway, so
// they land as soon as Redis answers, not after the breaker's cooldown;
// their success closes the breaker.
func TestPendingInvalidationsLandBeforeTheBreakerCooldownEnds(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1})
	defer rdb.Close()
	reg := prometheus.NewRegistry()
	s := NewStore(rdb, WithOperationTimeout(200*time.Millisecond), WithCircuitBreaker(1, time.Hour), WithRegisterer(reg))
	defer s.Close()
	c := New[string](s, "c")
	if err := c.Set(ctxBG, "k", "old", WithTags("t")); err != nil {
		t.Fatal(err)
	}
	mr.Close()
	if err := s.InvalidateTags(ctxBG, "t"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("InvalidateTags with Redis down = %v", err)
	}
	if n := series(t, reg, "cachefront_invalidations_pending", DefaultNamespace); n != 1 {
		t.Fatalf("cachefront_invalidations_pending = %v while the tag is pending, want 1", n)
	}
	waitFor(t, 10*time.Second, "the pending age gauge to grow", func() bool {
		return series(t, reg, "cachefront_invalidations_pending_age_seconds", DefaultNamespace) > 0
	})
	if !s.Stats().CircuitOpen {
		t.Fatal("breaker not open after a failure")
	}
	if err := mr.Restart(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the pending invalidation to land with the breaker open", func() bool {
		return s.PendingInvalidations() == 0
	})
	if s.Stats().CircuitOpen {
		t.Fatal("breaker still open after the retry succeeded")
	}
	if n, age := series(t, reg, "cachefront_invalidations_pending", DefaultNamespace),
		series(t, reg, "cachefront_invalidations_pending_age_seconds", DefaultNamespace); n != 0 || age != 0 {
		t.Fatalf("pending gauges after recovery = %v, %v s, want 0, 0", n, age)
	}
	if v, err := c.Get(ctxBG, "k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after recovery = %q, %v, want the invalidated entry gone", v, err)
	}
}

// An instance whose breaker opened during an outage serves nothing from
// Redis right after it closes: another instance may hold invalidations
// Redis has not taken yet. Its reads are misses (loads replace the
// entries) until the quarantine ends, then hits again.
func TestNoRedisHitsRightAfterAnOutage(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1})
	defer rdb.Close()
	s := NewStore(rdb, WithOperationTimeout(200*time.Millisecond), WithCircuitBreaker(1, 10*time.Millisecond))
	defer s.Close()
	c := New[string](s, "c")
	if err := c.Set(ctxBG, "k", "v"); err != nil {
		t.Fatal(err)
	}
	mr.Close()
	if _, err := c.Get(ctxBG, "k"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Get with Redis down = %v", err)
	}
	if err := mr.Restart(); err != nil {
		t.Fatal(err)
	}
	var err error
	waitFor(t, 10*time.Second, "Redis to answer a read again", func() bool {
		_, err = c.Get(ctxBG, "k")
		return !errors.Is(err, ErrUnavailable)
	})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("first read after the outage = %v, want a miss", err)
	}
	waitFor(t, 10*time.Second, "hits after the quarantine", func() bool {
		v, err := c.Get(ctxBG, "k")
		return err == nil && v == "v"
	})
}

// restoreSnapshot puts back in mr what keys held when snap was taken, as
// a Redis restarted from an older snapshot would.
func restoreSnapshot(t *testing.T, mr *miniredis.Miniredis, snap map[string]string) {
	t.Helper()
	for k, v := range snap {
		if v == "" {
			mr.Del(k)
		} else if err := mr.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
}

// takeSnapshot copies keys from mr ("" for a missing one).
func takeSnapshot(mr *miniredis.Miniredis, keys ...string) map[string]string {
	snap := map[string]string{}
	for _, k := range keys {
		snap[k], _ = mr.Get(k)
	}
	return snap
}

// A Redis that goes back in time (restarted from a snapshot taken before
// an invalidation, or failed over to a replica that missed it) makes the
// entries that invalidation removed valid again. A Store that saw the
// newer invalidation sequence notices the older one, when its breaker
// closes after the outage or at its next load, and serves none of the
// entries created before.
func TestRedisGoingBackInTimeIsNoticed(t *testing.T) {
	for _, when := range []string{"breaker closes", "next load"} {
		t.Run(when, func(t *testing.T) {
			mr := miniredis.RunT(t)
			rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1})
			defer rdb.Close()
			s := NewStore(rdb, WithNamespace("ns"), WithOperationTimeout(200*time.Millisecond), WithCircuitBreaker(1, 10*time.Millisecond))
			defer s.Close()
			c := New[string](s, "c")
			if err := c.Set(ctxBG, "k", "old", WithTags("t")); err != nil {
				t.Fatal(err)
			}
			if err := s.InvalidateTags(ctxBG, "x"); err != nil { // the sequence moves on
				t.Fatal(err)
			}
			snap := takeSnapshot(mr, "ns:c:k", "ns:#t:t", "ns:#seq")
			if err := s.InvalidateTags(ctxBG, "t"); err != nil { // lost by the restore below
				t.Fatal(err)
			}
			if _, err := c.Get(ctxBG, "k"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Get after the invalidation = %v", err)
			}

			if when == "breaker closes" {
				mr.Close()
				if _, err := c.Get(ctxBG, "k"); !errors.Is(err, ErrUnavailable) {
					t.Fatalf("Get with Redis down = %v", err)
				}
				if err := mr.Restart(); err != nil {
					t.Fatal(err)
				}
				restoreSnapshot(t, mr, snap)
				waitFor(t, 10*time.Second, "the breaker to close", func() bool {
					_, err := c.Get(ctxBG, "k")
					return !errors.Is(err, ErrUnavailable)
				})
			} else {
				restoreSnapshot(t, mr, snap)
				if v, err := c.GetOrLoad(ctxBG, "other", func(context.Context) (string, error) { return "o", nil }); err != nil || v != "o" {
					t.Fatal(v, err)
				}
			}
			// Well past the quarantine after an outage: only the history
			// check keeps the restored entry out.
			time.Sleep(200 * time.Millisecond)
			if v, err := c.Get(ctxBG, "k"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Get of an entry whose invalidation Redis lost = %q, %v, want a miss", v, err)
			}
			v, err := c.GetOrLoad(ctxBG, "k", func(context.Context) (string, error) { return "new", nil }, WithTags("t"))
			if err != nil || v != "new" {
				t.Fatalf("GetOrLoad = %q, %v", v, err)
			}
			if v, err := c.Get(ctxBG, "k"); err != nil || v != "new" {
				t.Fatalf("entries created since are served: %q, %v", v, err)
			}
		})
	}
}
