package cachefront

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestStaleWhileRevalidate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testBackend) {
		s := newTestStore(t, b)
		c := New[string](s, "swr", WithTTL(100*time.Millisecond), WithTTLJitter(0), WithStaleWhileRevalidate(time.Minute))
		var loads atomic.Int32
		release := make(chan struct{})
		load := func(ctx context.Context) (string, error) {
			n := loads.Add(1)
			if n > 1 {
				<-release // the refresh is slow; stale readers must not wait for it
			}
			return fmt.Sprintf("v%d", n), nil
		}
		if v, _ := c.GetOrLoad(ctxBG, "k", load); v != "v1" {
			t.Fatalf("first load = %q", v)
		}
		// Past the TTL: every reader gets v1 at once, one refresh starts.
		waitFor(t, 5*time.Second, "the TTL to pass and a refresh to start", func() bool {
			v, err := c.GetOrLoad(ctxBG, "k", load)
			if err != nil || v != "v1" {
				t.Fatalf("stale read = %q, %v; want v1 served at once", v, err)
			}
			return loads.Load() == 2
		})
		var wg sync.WaitGroup
		for i := 0; i < 50; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if v, _ := c.GetOrLoad(ctxBG, "k", load); v != "v1" {
					t.Errorf("stale read during the refresh = %q", v)
				}
			}()
		}
		wg.Wait()
		close(release)
		waitFor(t, 5*time.Second, "the refreshed value", func() bool {
			v, _ := c.Get(ctxBG, "k")
			return v == "v2"
		})
		if n := loads.Load(); n != 2 {
			t.Fatalf("%d loads, want the first and exactly one refresh", n)
		}
		if st := s.Stats(); st.Refreshes == 0 {
			t.Fatalf("refreshes not counted: %+v", st)
		}
	})
}

func TestEarlyRefreshRefreshesBeforeExpiryWithoutStampede(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testBackend) {
		s := newTestStore(t, b)
		// A slow loader (20ms) and a large beta (scale 2s) give each hit a
		// fair chance to refresh a 2s entry early, long before it expires.
		c := New[string](s, "xfetch", WithTTL(2*time.Second), WithTTLJitter(0), WithEarlyRefresh(100))
		var loads atomic.Int32
		var secondLoadAt atomic.Int64
		load := func(ctx context.Context) (string, error) {
			n := loads.Add(1)
			if n == 2 {
				secondLoadAt.Store(time.Now().UnixNano())
			}
			time.Sleep(20 * time.Millisecond) // the loader's cost, which XFetch weighs
			return fmt.Sprintf("v%d", n), nil
		}
		firstLoad := time.Now()
		if _, err := c.GetOrLoad(ctxBG, "k", load); err != nil {
			t.Fatal(err)
		}
		gate := make(chan struct{})
		var wg sync.WaitGroup
		for i := 0; i < 200; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-gate
				if v, err := c.GetOrLoad(ctxBG, "k", load); err != nil || v == "" {
					t.Errorf("hit during early refresh = %q, %v", v, err)
				}
			}()
		}
		close(gate)
		wg.Wait()
		waitFor(t, 5*time.Second, "the early refresh", func() bool {
			v, _ := c.Get(ctxBG, "k")
			return v != "v1"
		})
		if early := time.Unix(0, secondLoadAt.Load()).Sub(firstLoad); early >= 2*time.Second {
			t.Fatalf("the refresh came %v after the first load, not before the 2s expiry", early)
		}
		// 200 concurrent hits: in-process deduplication keeps the refreshes to
		// a handful (one per wave of hits that saw the same generation), never
		// one per caller.
		if n := loads.Load(); n < 2 || n > 5 {
			t.Fatalf("%d loads for 200 hits, want 1 load and very few refreshes", n)
		}
	})
}

func TestStampedeLeaseAcrossStores(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testBackend) {
		ns := newTestStore(t, b).Namespace()
		var loads atomic.Int32
		load := func(ctx context.Context) (string, error) {
			loads.Add(1)
			time.Sleep(100 * time.Millisecond)
			return "shared", nil
		}
		var caches []*Cache[string]
		for i := 0; i < 4; i++ {
			s := NewStore(b.rdb, WithNamespace(ns), WithStampedeLease(5*time.Second), WithOperationTimeout(10*time.Second))
			caches = append(caches, New[string](s, "hot"))
		}
		gate := make(chan struct{})
		var wg sync.WaitGroup
		for _, c := range caches {
			for i := 0; i < 250; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-gate
					if v, err := c.GetOrLoad(ctxBG, "k", load); err != nil || v != "shared" {
						t.Errorf("GetOrLoad = %q, %v", v, err)
					}
				}()
			}
		}
		close(gate)
		wg.Wait()
		if n := loads.Load(); n != 1 {
			t.Fatalf("four Stores x 250 goroutines ran the loader %d times, want 1", n)
		}
	})
}

func TestDeadLeaseHolderDoesNotBlockBeyondTheWait(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testBackend) {
		s := newTestStore(t, b, WithStampedeLease(200*time.Millisecond))
		c := New[string](s, "c")
		rkey, _ := s.e.Keys.Entry("c", "k")
		// A holder that took the lease and died.
		if err := b.rdb.Set(ctxBG, s.e.Keys.Lease(rkey), "dead", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		v, err := c.GetOrLoad(ctxBG, "k", func(context.Context) (string, error) { return "loaded", nil })
		if err != nil || v != "loaded" {
			t.Fatalf("GetOrLoad = %q, %v", v, err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("waited %v behind a dead lease holder (wait bound 200ms)", d)
		}
		if st := s.Stats(); st.LeaseWaits != 1 {
			t.Fatalf("lease waits = %d, want 1", st.LeaseWaits)
		}
		if got, err := c.Get(ctxBG, "k"); err != nil || got != "loaded" {
			t.Fatalf("value not stored after the wait: %q, %v", got, err)
		}
	})
}
