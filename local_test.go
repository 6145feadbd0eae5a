package cachefront

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func newLocalStore(t *testing.T, b *testBackend, ns string) *Store {
	t.Helper()
	s := NewStore(b.rdb, WithNamespace(ns), WithLocalCache(1000, time.Minute))
	t.Cleanup(func() { _ = s.Close() })
	waitFor(t, 10*time.Second, "the invalidation subscription", s.e.Local.Healthy)
	return s
}

// dropSubscriptions cuts every pub/sub connection of the backend.
func dropSubscriptions(t *testing.T, b *testBackend) {
	t.Helper()
	switch {
	case b.mr != nil:
		b.mr.Close()
		if err := b.mr.Restart(); err != nil {
			t.Fatal(err)
		}
	default:
		kill := func(ctx context.Context, c *redis.Client) error {
			return c.ClientKillByFilter(ctx, "TYPE", "pubsub").Err()
		}
		var err error
		if cc, ok := b.rdb.(*redis.ClusterClient); ok {
			err = cc.ForEachShard(ctxBG, kill)
		} else {
			err = kill(ctxBG, b.rdb.(*redis.Client))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestLocalTierServesHitsWithoutDecoding(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testBackend) {
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
	forEachBackend(t, func(t *testing.T, b *testBackend) {
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
	forEachBackend(t, func(t *testing.T, b *testBackend) {
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
