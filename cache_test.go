package cachefront

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachefront/cachefront/internal/entry"
	"github.com/cachefront/cachefront/internal/keyspace"
	"github.com/cachefront/cachefront/internal/testbackend"
	"github.com/redis/go-redis/v9"
	"github.com/vmihailenco/msgpack/v5"
)

func TestSetGetDelete(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		s := newTestStore(t, b)
		c := New[Product](s, "products")
		if _, err := c.Get(ctxBG, "B0001"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get on empty cache = %v, want ErrNotFound", err)
		}
		want := sampleProduct("B0001")
		if err := c.Set(ctxBG, "B0001", want); err != nil {
			t.Fatal(err)
		}
		got, err := c.Get(ctxBG, "B0001")
		if err != nil || got.Title != want.Title || got.Description != want.Description || len(got.Images) != 2 {
			t.Fatalf("Get = %+v, %v", got, err)
		}
		if err := c.Delete(ctxBG, "B0001"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Get(ctxBG, "B0001"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get after Delete = %v, want ErrNotFound", err)
		}
		st := s.Stats()
		if st.Hits != 1 || st.Misses != 2 || st.Deletes != 1 {
			t.Fatalf("stats = %+v, want 1 hit, 2 misses, 1 delete", st)
		}
	})
}

func TestTTLExpires(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		s := newTestStore(t, b)
		ttl := 200 * time.Millisecond
		c := New[string](s, "short", WithTTL(ttl), WithTTLJitter(0))
		if err := c.Set(ctxBG, "k", "v"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Get(ctxBG, "k"); err != nil {
			t.Fatalf("fresh entry: %v", err)
		}
		if b.FastForward(ttl + time.Millisecond) {
			if _, err := c.Get(ctxBG, "k"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("after TTL: %v, want ErrNotFound", err)
			}
			return
		}
		waitFor(t, 5*time.Second, "expiry", func() bool {
			_, err := c.Get(ctxBG, "k")
			return errors.Is(err, ErrNotFound)
		})
	})
}

func TestTTLJitterStaysWithinBounds(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		s := newTestStore(t, b)
		ttl := 100 * time.Second
		c := New[int](s, "jitter", WithTTL(ttl), WithTTLJitter(0.2))
		seen := map[int64]bool{}
		for i := 0; i < 50; i++ {
			key := "k" + string(rune('a'+i%26)) + string(rune('a'+i/26))
			if err := c.Set(ctxBG, key, i); err != nil {
				t.Fatal(err)
			}
			rk, _ := s.e.Keys.Entry("jitter", key)
			pttl := b.RDB.PTTL(ctxBG, rk).Val()
			if pttl > ttl || pttl < 80*time.Second-time.Second {
				t.Fatalf("TTL %v outside [80s, 100s]", pttl)
			}
			seen[int64(pttl/time.Second)] = true
		}
		if len(seen) < 5 {
			t.Fatalf("jitter spread only over %d distinct seconds", len(seen))
		}
	})
}

func TestGetOrLoadCachesAndReportsHits(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		s := newTestStore(t, b)
		c := New[Product](s, "products")
		var calls atomic.Int32
		load := func(ctx context.Context) (Product, error) {
			calls.Add(1)
			return sampleProduct("B0002"), nil
		}
		for i := 0; i < 3; i++ {
			p, err := c.GetOrLoad(ctxBG, "B0002", load, WithTags("category:42"))
			if err != nil || p.ASIN != "B0002" {
				t.Fatalf("GetOrLoad = %+v, %v", p, err)
			}
		}
		if calls.Load() != 1 {
			t.Fatalf("loader called %d times, want 1", calls.Load())
		}
		st := s.Stats().Caches["products"]
		if st.Hits != 2 || st.Misses != 1 || st.Loads != 1 {
			t.Fatalf("stats = %+v, want 2 hits, 1 miss, 1 load", st)
		}
		// Get without naming the tags still checks them.
		if err := s.InvalidateTags(ctxBG, "category:42"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Get(ctxBG, "B0002"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get after invalidation = %v, want ErrNotFound", err)
		}
	})
}

func TestLoaderErrorReachesEveryWaiterAndIsNotCached(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		s := newTestStore(t, b)
		c := New[string](s, "errs")
		boom := errors.New("source down")
		release := make(chan struct{})
		var calls atomic.Int32
		load := func(ctx context.Context) (string, error) {
			calls.Add(1)
			<-release
			return "", boom
		}
		var wg sync.WaitGroup
		errs := make([]error, 10)
		for i := range errs {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				_, errs[i] = c.GetOrLoad(ctxBG, "k", load)
			}(i)
		}
		waitFor(t, 5*time.Second, "the load to start", func() bool { return calls.Load() == 1 })
		time.Sleep(20 * time.Millisecond) // let the others join; joining late only means another load
		close(release)
		wg.Wait()
		for i, err := range errs {
			if !errors.Is(err, boom) {
				t.Fatalf("waiter %d got %v, want the loader's error", i, err)
			}
		}
		first := calls.Load()
		if _, err := c.GetOrLoad(ctxBG, "k", func(context.Context) (string, error) { calls.Add(1); return "ok", nil }); err != nil {
			t.Fatal(err)
		}
		if calls.Load() != first+1 {
			t.Fatal("an error was cached: the next call did not load")
		}
		if st := s.Stats(); st.LoadErrors == 0 {
			t.Fatalf("load errors not counted: %+v", st)
		}
	})
}

func TestOneWaiterCancellingDoesNotCancelTheLoad(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		s := newTestStore(t, b)
		c := New[string](s, "cancel")
		started := make(chan struct{})
		release := make(chan struct{})
		var loaderCtxErr atomic.Value
		load := func(ctx context.Context) (string, error) {
			close(started)
			<-release
			if ctx.Err() != nil {
				loaderCtxErr.Store(ctx.Err())
			}
			return "value", nil
		}
		firstCtx, cancelFirst := context.WithCancel(ctxBG)
		firstErr := make(chan error, 1)
		go func() {
			_, err := c.GetOrLoad(firstCtx, "k", load)
			firstErr <- err
		}()
		<-started
		secondVal := make(chan string, 1)
		go func() {
			v, _ := c.GetOrLoad(ctxBG, "k", load)
			secondVal <- v
		}()
		cancelFirst()
		if err := <-firstErr; !errors.Is(err, context.Canceled) {
			t.Fatalf("first caller: %v, want context.Canceled", err)
		}
		close(release)
		if v := <-secondVal; v != "value" {
			t.Fatalf("second caller got %q", v)
		}
		if err := loaderCtxErr.Load(); err != nil {
			t.Fatalf("the shared load was cancelled: %v", err)
		}
		if v, err := c.Get(ctxBG, "k"); err != nil || v != "value" {
			t.Fatalf("the load's result was not cached: %q, %v", v, err)
		}
	})
}

func TestThousandConcurrentMissesLoadOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		// A generous operation timeout: this test is about deduplication, and
		// a thousand goroutines under the race detector queue for connections.
		s := newTestStore(t, b, WithOperationTimeout(10*time.Second))
		c := New[Product](s, "stampede")
		var calls atomic.Int32
		gate := make(chan struct{})
		load := func(ctx context.Context) (Product, error) {
			calls.Add(1)
			time.Sleep(50 * time.Millisecond) // a slow source widens the window
			return sampleProduct("B0003"), nil
		}
		var wg sync.WaitGroup
		var failures atomic.Int32
		for i := 0; i < 1000; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-gate
				p, err := c.GetOrLoad(ctxBG, "B0003", load, WithTags("category:42"))
				if err != nil || p.ASIN != "B0003" {
					failures.Add(1)
				}
			}()
		}
		close(gate)
		wg.Wait()
		if failures.Load() != 0 {
			t.Fatalf("%d callers failed", failures.Load())
		}
		if calls.Load() != 1 {
			t.Fatalf("loader ran %d times for 1000 concurrent misses, want 1 (stats %+v)", calls.Load(), s.Stats())
		}
		st := s.Stats()
		if st.Hits+st.Misses != 1000 {
			t.Fatalf("hits+misses = %d, want 1000", st.Hits+st.Misses)
		}
	})
}

// A loader that started before an invalidation must not have its result
// served after the invalidation returned: not from Redis, and not to a caller
// who would otherwise join the load in flight.
func TestStaleWriteRaceTags(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		s := newTestStore(t, b)
		c := New[string](s, "race")
		var version atomic.Int32
		version.Store(1)
		started := make(chan struct{})
		release := make(chan struct{})
		slow := func(ctx context.Context) (string, error) {
			v := version.Load() // the source read happens before the invalidation
			close(started)
			<-release
			return "v" + string(rune('0'+v)), nil
		}
		oldDone := make(chan string, 1)
		go func() {
			v, _ := c.GetOrLoad(ctxBG, "k", slow, WithTags("t"))
			oldDone <- v
		}()
		<-started

		// The source changes, then the tag is invalidated.
		version.Store(2)
		if err := s.InvalidateTags(ctxBG, "t"); err != nil {
			t.Fatal(err)
		}

		// A caller arriving now must not join the old load.
		var freshCalls atomic.Int32
		fresh := func(ctx context.Context) (string, error) {
			freshCalls.Add(1)
			return "v" + string(rune('0'+version.Load())), nil
		}
		newDone := make(chan string, 1)
		go func() {
			v, _ := c.GetOrLoad(ctxBG, "k", fresh, WithTags("t"))
			newDone <- v
		}()
		select {
		case v := <-newDone:
			if v != "v2" {
				t.Fatalf("caller after invalidation got %q, want v2", v)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("caller after invalidation is waiting for the load that began before it")
		}
		close(release)
		if v := <-oldDone; v != "v1" {
			t.Fatalf("the caller that was already waiting got %q, want v1", v)
		}
		// Whatever order the two writes landed in, v1 must never be served.
		for i := 0; i < 3; i++ {
			v, err := c.GetOrLoad(ctxBG, "k", fresh, WithTags("t"))
			if err != nil || v != "v2" {
				t.Fatalf("read after invalidation = %q, %v; want v2", v, err)
			}
			if v, err := c.Get(ctxBG, "k"); err == nil && v != "v2" {
				t.Fatalf("Get after invalidation = %q", v)
			}
		}
	})
}

func TestStaleWriteRaceDelete(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		s := newTestStore(t, b)
		c := New[string](s, "race")
		started := make(chan struct{})
		release := make(chan struct{})
		slow := func(ctx context.Context) (string, error) {
			close(started)
			<-release
			return "old", nil
		}
		oldDone := make(chan string, 1)
		go func() {
			v, _ := c.GetOrLoad(ctxBG, "k", slow)
			oldDone <- v
		}()
		<-started
		if err := c.Delete(ctxBG, "k"); err != nil {
			t.Fatal(err)
		}
		newDone := make(chan string, 1)
		go func() {
			v, _ := c.GetOrLoad(ctxBG, "k", func(context.Context) (string, error) { return "new", nil })
			newDone <- v
		}()
		select {
		case v := <-newDone:
			if v != "new" {
				t.Fatalf("caller after Delete got %q, want new", v)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("caller after Delete joined the load that began before it")
		}
		close(release)
		<-oldDone
		if v, err := c.Get(ctxBG, "k"); err != nil || v != "new" {
			t.Fatalf("after the slow load finished: %q, %v; want new", v, err)
		}
	})
}

func TestSlowLoaderCannotOverwriteAfterDeleteWithoutNewReader(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		s := newTestStore(t, b)
		c := New[string](s, "race")
		started := make(chan struct{})
		release := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _ = c.GetOrLoad(ctxBG, "k", func(context.Context) (string, error) {
				close(started)
				<-release
				return "old", nil
			})
		}()
		<-started
		if err := c.Delete(ctxBG, "k"); err != nil {
			t.Fatal(err)
		}
		close(release)
		<-done
		if _, err := c.Get(ctxBG, "k"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get = %v: a load that began before Delete stored its value", err)
		}
		if st := s.Stats(); st.WritesSkipped != 1 {
			t.Fatalf("writes skipped = %d, want 1", st.WritesSkipped)
		}
	})
}

func TestLateTagsFromAddTags(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		s := newTestStore(t, b)
		c := New[string](s, "late")
		v, err := c.GetOrLoad(ctxBG, "k", func(ctx context.Context) (string, error) {
			AddTags(ctx, "category:7")
			return "v1", nil
		})
		if err != nil || v != "v1" {
			t.Fatal(v, err)
		}
		if _, err := c.Get(ctxBG, "k"); err != nil {
			t.Fatalf("entry with a late tag not stored: %v", err)
		}
		if err := s.InvalidateTags(ctxBG, "category:7"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Get(ctxBG, "k"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("late tag not honoured: %v", err)
		}

		// A late tag invalidated while the load runs: result not stored.
		started := make(chan struct{})
		release := make(chan struct{})
		done := make(chan string, 1)
		go func() {
			v, _ := c.GetOrLoad(ctxBG, "k2", func(ctx context.Context) (string, error) {
				close(started)
				<-release
				AddTags(ctx, "category:8")
				return "old", nil
			})
			done <- v
		}()
		<-started
		if err := s.InvalidateTags(ctxBG, "category:8"); err != nil {
			t.Fatal(err)
		}
		close(release)
		if v := <-done; v != "old" {
			t.Fatalf("leader got %q", v)
		}
		if _, err := c.Get(ctxBG, "k2"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("a result whose late tag was invalidated during the load was stored: %v", err)
		}
	})
}

func TestNegativeCaching(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		s := newTestStore(t, b)
		var calls atomic.Int32
		missing := func(ctx context.Context) (string, error) { calls.Add(1); return "", ErrNotFound }

		plain := New[string](s, "plain")
		for i := 0; i < 2; i++ {
			if _, err := plain.GetOrLoad(ctxBG, "k", missing); !errors.Is(err, ErrNotFound) {
				t.Fatal(err)
			}
		}
		if calls.Load() != 2 {
			t.Fatalf("not-found cached without WithNegativeTTL (%d calls)", calls.Load())
		}

		calls.Store(0)
		neg := New[string](s, "neg", WithNegativeTTL(time.Minute))
		for i := 0; i < 3; i++ {
			if _, err := neg.GetOrLoad(ctxBG, "k", missing); !errors.Is(err, ErrNotFound) {
				t.Fatal(err)
			}
		}
		if calls.Load() != 1 {
			t.Fatalf("negative entry not used: %d loads", calls.Load())
		}
		if _, err := neg.Get(ctxBG, "k"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get of a negative entry = %v", err)
		}
	})
}

func TestCorruptAndForeignEntriesAreMissesDeletedAndCounted(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		cases := []struct {
			name  string
			write func(s *Store, rkey string)
		}{
			{"garbage", func(s *Store, rkey string) { b.RDB.Set(ctxBG, rkey, "not an entry", time.Minute) }},
			{"truncated", func(s *Store, rkey string) {
				strs := New[string](s, "c")
				_ = strs.Set(ctxBG, "k", strings.Repeat("x", 100))
				v := b.RDB.Get(ctxBG, rkey).Val()
				b.RDB.Set(ctxBG, rkey, v[:50], time.Minute)
			}},
			{"other type", func(s *Store, rkey string) { _ = New[string](s, "c").Set(ctxBG, "k", "a string") }},
			{"bad payload", func(s *Store, rkey string) {
				_ = New[Product](s, "c").Set(ctxBG, "k", sampleProduct("B1"))
				v := b.RDB.Get(ctxBG, rkey).Val()
				// 0xc1 is never used by msgpack: the payload's first byte becomes invalid.
				view, _ := entry.DecodeString(v)
				at := len(v) - len(view.Payload)
				b.RDB.Set(ctxBG, rkey, v[:at]+"\xc1"+v[at+1:], time.Minute)
			}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				s := newTestStore(t, b)
				c := New[Product](s, "c")
				rkey, _ := s.e.Keys.Entry("c", "k")
				tc.write(s, rkey)
				if _, err := c.Get(ctxBG, "k"); !errors.Is(err, ErrNotFound) {
					t.Fatalf("Get = %v, want ErrNotFound", err)
				}
				if n := b.RDB.Exists(ctxBG, rkey).Val(); n != 0 {
					t.Fatal("corrupt entry not deleted")
				}
				if st := s.Stats(); st.Errors == 0 || st.Misses != 1 {
					t.Fatalf("stats = %+v: want the corrupt entry counted as an error and a miss", st)
				}
				p, err := c.GetOrLoad(ctxBG, "k", func(context.Context) (Product, error) { return sampleProduct("B9"), nil })
				if err != nil || p.ASIN != "B9" {
					t.Fatalf("GetOrLoad after corruption = %+v, %v", p, err)
				}
			})
		}
	})
}

func TestLoaderPanicReachesCallers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		s := newTestStore(t, b)
		c := New[string](s, "panics")
		defer func() {
			r := recover()
			pe, ok := r.(*PanicError)
			if !ok || pe.Value != "kaboom" {
				t.Fatalf("recovered %v, want *PanicError with the loader's value", r)
			}
		}()
		_, _ = c.GetOrLoad(ctxBG, "k", func(context.Context) (string, error) { panic("kaboom") })
		t.Fatal("GetOrLoad returned after its loader panicked")
	})
}

func TestKeysWithOddBytesAndLongKeys(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		s := newTestStore(t, b)
		c := New[string](s, "keys")
		keys := []string{"a b", "new\nline", "{braces}", "#hash", "ünïcødé", "\x00\xff", strings.Repeat("k", 5000), "x:y:z"}
		for _, k := range keys {
			if err := c.Set(ctxBG, k, "v:"+k); err != nil {
				t.Fatalf("Set(%q): %v", k, err)
			}
		}
		for _, k := range keys {
			if v, err := c.Get(ctxBG, k); err != nil || v != "v:"+k {
				t.Fatalf("Get(%.20q) = %.20q, %v", k, v, err)
			}
		}
		if err := c.Set(ctxBG, "", "v"); !errors.Is(err, ErrInvalidKey) {
			t.Fatalf("empty key: %v, want ErrInvalidKey", err)
		}
		if err := s.Delete(ctxBG, c.StoreKey("x:y:z")); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Get(ctxBG, "x:y:z"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Store.Delete of a key with colons: %v", err)
		}
	})
}

func TestSetAfterOwnInvalidationIsServed(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		ctx := context.Background()
		s := newTestStore(t, b)
		c := New[Product](s, "products")
		old, updated := sampleProduct("B00000000A"), sampleProduct("B00000000B")
		if err := c.Set(ctx, "p", old, WithTags("shelf")); err != nil {
			t.Fatal(err)
		}
		if err := s.InvalidateTags(ctx, "shelf"); err != nil {
			t.Fatal(err)
		}
		if err := c.Set(ctx, "p", updated, WithTags("shelf")); err != nil {
			t.Fatal(err)
		}
		got, err := c.Get(ctx, "p", WithTags("shelf"))
		if err != nil || got.ASIN != updated.ASIN {
			t.Fatalf("Get after InvalidateTags then Set = %q, %v; want %q", got.ASIN, err, updated.ASIN)
		}
	})
}

func TestSetRacingAnotherInstancesInvalidationIsNeverServedStale(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		ctx := context.Background()
		a := newTestStore(t, b)
		other := newTestStore(t, b, WithNamespace(a.Namespace()))
		ca, cother := New[Product](a, "products"), New[Product](other, "products")
		if err := ca.Set(ctx, "p1", sampleProduct("B00000000C"), WithTags("shelf")); err != nil {
			t.Fatal(err)
		}
		// The other instance invalidates; this one has just seen the old
		// version and may record it on its next Set.
		if err := other.InvalidateTags(ctx, "shelf"); err != nil {
			t.Fatal(err)
		}
		if err := ca.Set(ctx, "p2", sampleProduct("B00000000D"), WithTags("shelf")); err != nil {
			t.Fatal(err)
		}
		if _, err := cother.Get(ctx, "p1", WithTags("shelf")); !errors.Is(err, ErrNotFound) {
			t.Fatalf("entry set before the invalidation: %v, want ErrNotFound", err)
		}
		// p2 is either stored with the new version or already invalidated;
		// a read gets the value Set was given or a miss, never anything else.
		got, err := cother.Get(ctx, "p2", WithTags("shelf"))
		if err != nil && !errors.Is(err, ErrNotFound) {
			t.Fatal(err)
		}
		if err == nil && got.ASIN != "B00000000D" {
			t.Fatalf("p2 = %q", got.ASIN)
		}
		// A load after the invalidation stores a valid entry.
		loaded, err := cother.GetOrLoad(ctx, "p2", func(context.Context) (Product, error) {
			return sampleProduct("B00000000E"), nil
		}, WithTags("shelf"))
		if err != nil {
			t.Fatal(err)
		}
		if again, err := ca.Get(ctx, "p2", WithTags("shelf")); err != nil || again.ASIN != loaded.ASIN {
			t.Fatalf("after the load: %q, %v; want %q", again.ASIN, err, loaded.ASIN)
		}
	})
}
func TestSameTags(t *testing.T) {
	opts := func(tags ...[]string) []Option {
		var out []Option
		for _, ts := range tags {
			out = append(out, WithTags(ts...))
		}
		return out
	}
	cases := []struct {
		names, base []string
		opts        []Option
		want        bool
	}{
		{[]string{"a"}, nil, opts([]string{"a"}), true},
		{[]string{"a"}, nil, opts([]string{"a", "a"}), true},
		{[]string{"a", "b"}, nil, opts([]string{"a"}, []string{"b", "a"}), true},
		{[]string{"c", "a"}, []string{"c"}, opts([]string{"a", "c"}), true},
		{[]string{"a"}, nil, opts([]string{"b"}), false},
		{[]string{"a", "b"}, nil, opts([]string{"a"}), false},
		{[]string{"a"}, nil, opts([]string{"a", "b"}), false},
		{[]string{"a"}, nil, append(opts([]string{"a"}), WithTTL(time.Second)), false},
		{[]string{"c", "a"}, []string{"c"}, opts([]string{"x"}), false},
	}
	for i, tc := range cases {
		if got := sameTags(tc.names, tc.base, tc.opts); got != tc.want {
			t.Errorf("case %d: sameTags(%q, %q, …) = %v, want %v", i, tc.names, tc.base, got, tc.want)
		}
	}
}

// failReads makes single reads (GET/MGET, not pipelines) of keys containing
// key fail while on is set.
type failReads struct {
	key string
	on  atomic.Bool
}

func (f *failReads) matches(cmd redis.Cmder) bool {
	for _, a := range cmd.Args()[1:] {
		if k, ok := a.(string); ok && strings.Contains(k, f.key) {
			return true
		}
	}
	return false
}

func (f *failReads) DialHook(next redis.DialHook) redis.DialHook { return next }
func (f *failReads) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		name := strings.ToLower(cmd.Name())
		if f.on.Load() && (name == "get" || name == "mget") && f.matches(cmd) {
			err := errors.New("injected read failure")
			cmd.SetErr(err)
			return err
		}
		return next(ctx, cmd)
	}
}
func (f *failReads) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// A caller that arrives after InvalidateTags returned and whose own read of
// the entry fails transiently shares the name of a load that started before
// the invalidation (a failed read names the load of a cold key), but does not
// take that load's pre-invalidation value: it gets a load of its own.
func TestFailedReadNeverTakesALoadFromBeforeIt(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		ctx := context.Background()
		s := newTestStore(t, b)
		c := New[string](s, "rf")
		rkey, _ := s.e.Keys.Entry("rf", "k")
		hook := &failReads{key: rkey}
		b.RDB.AddHook(hook)

		db := &sourceData{v: "old"}
		started := make(chan struct{}, 4)
		release := make(chan struct{})
		loader := func(ctx context.Context) (string, error) {
			seen := db.read()
			started <- struct{}{}
			<-release
			return seen, nil
		}
		a := make(chan string, 1)
		go func() {
			v, _ := c.GetOrLoad(ctx, "k", loader, WithTags("t"))
			a <- v
		}()
		<-started
		changeAndInvalidate(t, s, db, hook)
		bRes := make(chan string, 1)
		go func() {
			v, err := c.GetOrLoad(ctx, "k", loader, WithTags("t"))
			if err != nil {
				v = "error: " + err.Error()
			}
			bRes <- v
		}()
		time.Sleep(150 * time.Millisecond)
		hook.on.Store(false)
		close(release)
		<-a
		if got := <-bRes; got == "old" {
			t.Fatalf("a caller arriving after InvalidateTags returned got %q, loaded before it", got)
		}
	})
}

// The same holds for the middleware: a request whose read of the entry fails
// after an invalidation does not take the response of a handler run that
// began before it.
func TestMiddlewareFailedReadNeverTakesAResponseFromBeforeIt(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		s := newTestStore(t, b)
		db := &sourceData{v: "old"}
		started := make(chan struct{}, 4)
		release := make(chan struct{})
		var calls atomic.Int32
		h := Middleware(s, WithTags("t"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen := db.read()
			if calls.Add(1) == 1 {
				started <- struct{}{}
				<-release
			}
			_, _ = w.Write([]byte(seen))
		}))
		hook := &failReads{key: "GET /page"}
		b.RDB.AddHook(hook)
		get := func() <-chan string {
			ch := make(chan string, 1)
			go func() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest("GET", "/page", nil))
				ch <- w.Body.String()
			}()
			return ch
		}

		a := get()
		<-started
		changeAndInvalidate(t, s, db, hook)
		second := get()
		time.Sleep(150 * time.Millisecond) // the request reaches its flight
		hook.on.Store(false)
		close(release)
		if got := <-a; got != "old" {
			t.Fatalf("the first request got %q", got)
		}
		if got := <-second; got != "new" {
			t.Fatalf("a request arriving after InvalidateTags returned got %q, built before it", got)
		}
	})
}

// sourceData is the source of truth the tests' loaders and handlers read.
type sourceData struct {
	mu sync.Mutex
	v  string
}

func (d *sourceData) read() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.v
}

func (d *sourceData) set(v string) {
	d.mu.Lock()
	d.v = v
	d.mu.Unlock()
}

// changeAndInvalidate changes d to "new", invalidates tag "t" and then makes
// the next read of hook's key fail once, as a transient Redis error would.
func changeAndInvalidate(t *testing.T, s *Store, d *sourceData, hook *failReads) {
	t.Helper()
	d.mu.Lock()
	d.v = "new"
	d.mu.Unlock()
	if err := s.InvalidateTags(context.Background(), "t"); err != nil {
		t.Fatal(err)
	}
	hook.on.Store(true)
}

// A caller that arrives after InvalidateTags, joins a load that then reports
// a conflict (a late tag invalidated during it) and retries, is never handed
// the result of a load that started before the invalidation, such as the
// retry of an earlier conflicting load: a retry is named after the flight it
// follows, so only that flight's callers share it.
func TestConflictRetryNeverJoinsAnOlderRetry(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		ctx := context.Background()
		s := newTestStore(t, b)
		c := New[string](s, "retry")

		var mu sync.Mutex
		db := "old" // the source of truth
		const n = 8
		var started, release [n]chan struct{}
		for i := range n {
			started[i] = make(chan struct{})
			release[i] = make(chan struct{})
		}
		for i := 4; i < n; i++ {
			close(release[i]) // loads after the third one are not held
		}
		var calls atomic.Int32
		loader := func(ctx context.Context) (string, error) {
			i := int(calls.Add(1))
			mu.Lock()
			seen := db
			mu.Unlock()
			close(started[i])
			<-release[i]
			AddTags(ctx, "t")
			return seen + "#" + strconv.Itoa(i), nil
		}
		get := func() <-chan string {
			ch := make(chan string, 1)
			go func() {
				v, err := c.GetOrLoad(ctx, "k", loader)
				if err != nil {
					v = "error: " + err.Error()
				}
				ch <- v
			}()
			return ch
		}
		settle := func() { time.Sleep(150 * time.Millisecond) } // a goroutine reaches DoChan

		// L0: a load that an invalidation of its late tag makes unstorable;
		// C joins it and, on its conflict, starts the retry flight L2.
		a := get()
		<-started[1]
		if err := s.InvalidateTags(ctx, "t"); err != nil {
			t.Fatal(err)
		}
		cRes := get()
		settle()
		close(release[1])
		<-a
		<-started[2] // L2, C's retry, is loading (it read "old")

		// L1: D starts a new load of the key before the source changes.
		d := get()
		<-started[3]

		// The source changes and the tag is invalidated.
		mu.Lock()
		db = "new"
		mu.Unlock()
		if err := s.InvalidateTags(ctx, "t"); err != nil {
			t.Fatal(err)
		}

		// B arrives after InvalidateTags returned and joins L1 (the key is
		// still absent: nothing was stored).
		bRes := get()
		settle()
		close(release[3]) // L1 ends with a conflict: B retries
		<-d
		settle()
		close(release[2]) // L2 ends
		<-cRes

		got := <-bRes
		if strings.HasPrefix(got, "old") {
			t.Fatalf("a caller arriving after InvalidateTags returned got %q, computed from data read before it", got)
		}
	})
}

func TestGetManyAndBatchLoad(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		s := newTestStore(t, b)
		c := New[Product](s, "products", WithNegativeTTL(time.Minute))
		for _, k := range []string{"A1", "A2"} {
			if err := c.Set(ctxBG, k, sampleProduct(k), WithTags("category:1")); err != nil {
				t.Fatal(err)
			}
		}
		got, err := c.GetMany(ctxBG, []string{"A1", "A2", "A3", "A1"})
		if err != nil || len(got) != 2 || got["A1"].ASIN != "A1" || got["A2"].ASIN != "A2" {
			t.Fatalf("GetMany = %v, %v", got, err)
		}

		var asked [][]string
		var calls atomic.Int32
		loader := func(ctx context.Context, missing []string) (map[string]Product, error) {
			calls.Add(1)
			asked = append(asked, slices.Clone(missing))
			out := map[string]Product{}
			for _, k := range missing {
				if k != "GONE" {
					out[k] = sampleProduct(k)
				}
			}
			return out, nil
		}
		keys := []string{"A1", "A2", "A3", "A4", "GONE"}
		got, err = c.GetManyOrLoad(ctxBG, keys, loader, WithTags("category:1"))
		if err != nil || len(got) != 4 || got["A4"].ASIN != "A4" {
			t.Fatalf("GetManyOrLoad = %v, %v", got, err)
		}
		if len(asked) != 1 || !slices.Equal(asked[0], []string{"A3", "A4", "GONE"}) {
			t.Fatalf("loader asked for %v, want the three missing keys once", asked)
		}
		// Everything is cached now, GONE as not-found.
		got, err = c.GetManyOrLoad(ctxBG, keys, loader, WithTags("category:1"))
		if err != nil || len(got) != 4 || calls.Load() != 1 {
			t.Fatalf("second batch: %d values, %v, %d loader calls", len(got), err, calls.Load())
		}
		// One invalidation empties the batch.
		if err := s.InvalidateTags(ctxBG, "category:1"); err != nil {
			t.Fatal(err)
		}
		got, err = c.GetMany(ctxBG, keys)
		if err != nil || len(got) != 0 {
			t.Fatalf("after invalidation GetMany = %d values, %v", len(got), err)
		}
	})
}

func TestGetManyOrLoadRespectsDeleteDuringLoad(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		s := newTestStore(t, b)
		c := New[string](s, "c")
		loader := func(ctx context.Context, missing []string) (map[string]string, error) {
			if err := c.Delete(ctx, "k1"); err != nil { // a write lands while the batch loads
				return nil, err
			}
			out := map[string]string{}
			for _, k := range missing {
				out[k] = "old " + k
			}
			return out, nil
		}
		if _, err := c.GetManyOrLoad(ctxBG, []string{"k1", "k2"}, loader); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Get(ctxBG, "k1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("k1 = %v: a batch load stored a value over a later Delete", err)
		}
		if v, err := c.Get(ctxBG, "k2"); err != nil || v != "old k2" {
			t.Fatalf("k2 = %q, %v", v, err)
		}
	})
}

func TestGetManyOrLoadWithRedisDown(t *testing.T) {
	for name, open := range stoppableServers(t) {
		t.Run(name, func(t *testing.T) {
			srv := open(t)
			b := &testbackend.Backend{RDB: newClient(srv.addr)}
			defer b.RDB.Close()
			srv.stop()
			c := New[string](NewStore(b.RDB, WithOperationTimeout(100*time.Millisecond)), "c")
			got, err := c.GetManyOrLoad(ctxBG, []string{"a", "b"}, func(ctx context.Context, missing []string) (map[string]string, error) {
				return map[string]string{"a": "1", "b": "2"}, nil
			})
			if err != nil || fmt.Sprint(got) != "map[a:1 b:2]" {
				t.Fatalf("GetManyOrLoad with Redis down = %v, %v", got, err)
			}
		})
	}
}

// A batch load that outlives the tombstone of a Delete made during it (a
// cache's or call's WithLoadTimeout may exceed the Store's, which sizes
// tombstones) would find the key absent again, matching the generation it
// saw; GetManyOrLoad does not write so late, as GetOrLoad does not. The
// loader really runs past the tombstone's TTL (shortened for the test);
// miniredis, which expires keys only when told, is moved forward as much.
func TestGetManyOrLoadDoesNotWritePastATombstone(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		ctx := context.Background()
		s := newTestStore(t, b, WithLoadTimeout(time.Millisecond))
		s.e.TombstoneGrace = 600 * time.Millisecond
		c := New[string](s, "gm", WithLoadTimeout(10*time.Minute))
		_, err := c.GetManyOrLoad(ctx, []string{"k"}, func(ctx context.Context, missing []string) (map[string]string, error) {
			// The loader has read the source ("old"). Now the row is
			// deleted and the cache key with it.
			if err := c.Delete(ctx, "k"); err != nil {
				t.Error(err)
			}
			slow := s.e.TombstoneTTL() + 200*time.Millisecond // the load is slow
			time.Sleep(slow)
			if b.MR != nil {
				b.MR.FastForward(slow)
			}
			return map[string]string{"k": "old"}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if v, err := c.Get(ctx, "k"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("after Delete returned, Get found %q (%v): a batch load that began before it stored its value", v, err)
		}
	})
}

func TestStaleWhileRevalidate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
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
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
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
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		ns := newTestStore(t, b).Namespace()
		var loads atomic.Int32
		load := func(ctx context.Context) (string, error) {
			loads.Add(1)
			time.Sleep(100 * time.Millisecond)
			return "shared", nil
		}
		var caches []*Cache[string]
		for i := 0; i < 4; i++ {
			s := NewStore(b.RDB, WithNamespace(ns), WithStampedeLease(5*time.Second), WithOperationTimeout(10*time.Second))
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
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		s := newTestStore(t, b, WithStampedeLease(200*time.Millisecond))
		c := New[string](s, "c")
		rkey, _ := s.e.Keys.Entry("c", "k")
		// A holder that took the lease and died.
		if err := b.RDB.Set(ctxBG, s.e.Keys.Lease(rkey), "dead", time.Minute).Err(); err != nil {
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

// Codecs and compression.

// upperCodec is a user's codec: JSON with a name of its own.
type upperCodec struct{}

func (upperCodec) Name() string                       { return "test-json" }
func (upperCodec) Marshal(v any) ([]byte, error)      { return json.Marshal(v) }
func (upperCodec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

var testCodecs = []Codec{MsgpackCodec, JSONCodec, upperCodec{}}

// compressions are the WithCompression settings the tests cover: off, on
// for everything, and on for values of 1 KiB or more.
var compressions = []int{NoCompression, 0, 1024}

func TestEveryCodecAndCompressionRoundTrips(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		for _, codec := range testCodecs {
			for _, min := range compressions {
				t.Run(fmt.Sprintf("%s/compress=%d", codec.Name(), min), func(t *testing.T) {
					opts := []Option{WithCodec(codec), WithCompression(min)}
					writer, reader := newTestStore(t, b, opts...), (*Store)(nil)
					reader = NewStore(b.RDB, append([]Option{WithNamespace(writer.Namespace())}, opts...)...)
					defer reader.Close()

					one := sampleProduct("B1")
					if err := New[Product](writer, "one").Set(ctxBG, "k", one); err != nil {
						t.Fatal(err)
					}
					got, err := New[Product](reader, "one").Get(ctxBG, "k")
					if err != nil || !reflect.DeepEqual(got, one) {
						t.Fatalf("product: Get = %+v, %v", got, err)
					}
					page := productPage(100)
					load := func(context.Context) ([]Product, error) { return page, nil }
					if _, err := New[[]Product](writer, "page").GetOrLoad(ctxBG, "p1", load); err != nil {
						t.Fatal(err)
					}
					gotPage, err := New[[]Product](reader, "page").Get(ctxBG, "p1")
					if err != nil || !reflect.DeepEqual(gotPage, page) {
						t.Fatalf("page: Get = %d products, %v", len(gotPage), err)
					}
					many, err := New[Product](reader, "one").GetMany(ctxBG, []string{"k"})
					if err != nil || !reflect.DeepEqual(many["k"], one) {
						t.Fatalf("GetMany = %v, %v", many, err)
					}
					raw := b.RDB.Get(ctxBG, writer.e.Keys.Join(mustEntryKey(t, "page", "p1"))).Val()
					v, _ := entry.DecodeString(raw)
					if compressed := v.Compression != 0; compressed != (min != NoCompression) {
						t.Fatalf("the page's entry compressed = %v with WithCompression(%d)", compressed, min)
					}
					if st := reader.Stats(); st.Errors != 0 || st.Hits != 3 {
						t.Fatalf("reader stats %+v, want 3 hits and no errors", st.CacheStats)
					}
				})
			}
		}
	})
}

func mustEntryKey(t *testing.T, cache, key string) keyspace.EntryParts {
	t.Helper()
	parts, err := keyspace.EntryKey(cache, key)
	if err != nil {
		t.Fatal(err)
	}
	return parts
}

// A Cache reads only what it could have written: entries of another codec
// or another compression are misses, deleted and counted, never decoded.
// Uncompressed entries are every cache's.
func TestOtherCodecsAndCompressionsAreMisses(t *testing.T) {
	type setting struct {
		codec Codec
		min   int
	}
	cases := []struct {
		name           string
		writer, reader setting
		hit            bool
	}{
		{"msgpack read as JSON", setting{MsgpackCodec, NoCompression}, setting{JSONCodec, NoCompression}, false},
		{"JSON read as msgpack", setting{JSONCodec, NoCompression}, setting{MsgpackCodec, NoCompression}, false},
		{"JSON read by a codec of another name", setting{JSONCodec, NoCompression}, setting{upperCodec{}, NoCompression}, false},
		{"compressed read without compression", setting{MsgpackCodec, 0}, setting{MsgpackCodec, NoCompression}, false},
		{"compressed JSON read as msgpack", setting{JSONCodec, 0}, setting{MsgpackCodec, 0}, false},
		{"uncompressed read with compression", setting{MsgpackCodec, NoCompression}, setting{MsgpackCodec, 0}, true},
		{"below the minimum, read without compression", setting{JSONCodec, 1 << 20}, setting{JSONCodec, NoCompression}, true},
	}
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				s := newTestStore(t, b)
				w := New[Product](s, "c", WithCodec(tc.writer.codec), WithCompression(tc.writer.min))
				r := New[Product](s, "c", WithCodec(tc.reader.codec), WithCompression(tc.reader.min))
				want := sampleProduct("B1")
				if err := w.Set(ctxBG, "k", want); err != nil {
					t.Fatal(err)
				}
				rkey, _ := s.e.Keys.Entry("c", "k")
				got, err := r.Get(ctxBG, "k")
				if tc.hit {
					if err != nil || !reflect.DeepEqual(got, want) {
						t.Fatalf("Get = %+v, %v; want the value", got, err)
					}
					return
				}
				if !errors.Is(err, ErrNotFound) {
					t.Fatalf("Get = %+v, %v; want ErrNotFound", got, err)
				}
				if b.RDB.Exists(ctxBG, rkey).Val() != 0 {
					t.Fatal("the foreign entry was not deleted")
				}
				if st := s.Stats(); st.Errors != 1 {
					t.Fatalf("errors = %d, want the foreign entry counted once", st.Errors)
				}
			})
		}
	})
}

// Damaged compressed payloads are misses with an error counted, whatever
// the damage: cut short, bits flipped anywhere, or a size field claiming
// 4 GiB (refused before anything is allocated for it).
func TestCorruptCompressedPayloadsAreMisses(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		s := newTestStore(t, b)
		c := New[[]Product](s, "c", WithCompression(0))
		if err := c.Set(ctxBG, "k", productPage(20)); err != nil {
			t.Fatal(err)
		}
		rkey, _ := s.e.Keys.Entry("c", "k")
		good := b.RDB.Get(ctxBG, rkey).Val()
		v, _ := entry.DecodeString(good)
		at := len(good) - len(v.Payload) // the payload: CRC-32C, then the S2 block
		flip := func(i int) string { p := []byte(good); p[i] ^= 0x10; return string(p) }
		hugeClaim := good[:at+4] + string(binary.AppendUvarint(nil, 4<<30)) + good[at+4+3:]
		damaged := map[string]string{
			"truncated":          good[:at+len(v.Payload)/2],
			"checksum flipped":   flip(at + 1),
			"block flipped":      flip(at + 4 + len(v.Payload)/2),
			"last byte flipped":  flip(len(good) - 1),
			"size claims 4 GiB":  hugeClaim,
			"no payload at all":  good[:at],
			"compression byte 9": good[:47] + "\x09" + good[48:],
		}
		for name, bad := range damaged {
			t.Run(name, func(t *testing.T) {
				before := s.Stats().Errors
				b.RDB.Set(ctxBG, rkey, bad, time.Minute)
				if got, err := c.Get(ctxBG, "k"); !errors.Is(err, ErrNotFound) {
					t.Fatalf("Get = %d products, %v; want ErrNotFound", len(got), err)
				}
				if s.Stats().Errors != before+1 {
					t.Fatal("the damaged entry was not counted as an error")
				}
				if b.RDB.Exists(ctxBG, rkey).Val() != 0 {
					t.Fatal("the damaged entry was not deleted")
				}
			})
		}
	})
}

// A codec's Unmarshal gets a pointer to fill: for a pointer type T, a new T.
func TestCodecDecodesIntoPointerTypes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		s := newTestStore(t, b, WithCodec(JSONCodec))
		c := New[*Product](s, "c")
		want := sampleProduct("B1")
		if err := c.Set(ctxBG, "k", &want); err != nil {
			t.Fatal(err)
		}
		got, err := c.Get(ctxBG, "k")
		if err != nil || got == nil || !reflect.DeepEqual(*got, want) {
			t.Fatalf("Get = %v, %v", got, err)
		}
	})
}

// The default codec writes the entries of earlier releases byte for byte
// (format version 1), so that both read each other's entries during a
// rolling deploy.
func TestDefaultEntriesKeepTheFormerLayout(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		s := newTestStore(t, b)
		if err := New[Product](s, "c").Set(ctxBG, "k", sampleProduct("B1")); err != nil {
			t.Fatal(err)
		}
		rkey, _ := s.e.Keys.Entry("c", "k")
		raw := b.RDB.Get(ctxBG, rkey).Val()
		v, _ := entry.DecodeString(raw)
		want, _ := msgpack.Marshal(sampleProduct("B1"))
		if raw[1] != 1 || string(v.Payload) != string(want) {
			t.Fatalf("format version %d, payload equal to msgpack.Marshal: %v", raw[1], string(v.Payload) == string(want))
		}
	})
}
