package cachefront

import (
	"context"
	"errors"
	"testing"
)

func TestSetAfterOwnInvalidationIsServed(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testBackend) {
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
	forEachBackend(t, func(t *testing.T, b *testBackend) {
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

func TestSeenVersionsExpireAndForget(t *testing.T) {
	var sv seenVersions
	sv.learn([]string{"a", "b"}, []string{"1:x", ""}, 10_000)
	if tags, ok := sv.lookup([]string{"a"}, 10_500); !ok || tags[0].Version != "1:x" {
		t.Fatalf("lookup a = %v, %v", tags, ok)
	}
	if _, ok := sv.lookup([]string{"a", "b"}, 10_500); ok {
		t.Fatal(`"b" had no version and must not be remembered as one`)
	}
	if _, ok := sv.lookup([]string{"a"}, 10_000+seenVersionsFor); ok {
		t.Fatal("a version is remembered past seenVersionsFor")
	}
	sv.learn([]string{"a"}, []string{"2:y"}, 20_000)
	sv.forget([]string{"a"})
	if _, ok := sv.lookup([]string{"a"}, 20_001); ok {
		t.Fatal("forget kept the version")
	}
	// Old generations are dropped: memory is bounded by recent tags.
	sv.learn([]string{"old"}, []string{"3:z"}, 30_000)
	sv.lookup(nil, 30_000+seenVersionsFor)
	sv.lookup(nil, 30_000+3*seenVersionsFor)
	g := sv.gens.Load()
	if _, ok := g.cur.Load("old"); ok {
		t.Fatal("an old tag is still held")
	}
	if _, ok := g.prev.Load("old"); ok {
		t.Fatal("an old tag is still held in the previous generation")
	}
}
