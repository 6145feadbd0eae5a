package invalidation

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/cachefront/cachefront"
	"github.com/redis/go-redis/v9"
)

func TestInvalidationsSurviveARedisOutage(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	store := cachefront.NewStore(rdb, cachefront.WithCircuitBreaker(0, time.Second))
	t.Cleanup(func() { store.Close() })
	cache := cachefront.New[string](store, "c")
	ctx := context.Background()
	q := New(store, slog.New(slog.DiscardHandler))

	if err := cache.Set(ctx, "k", "old", cachefront.WithTags("t")); err != nil {
		t.Fatal(err)
	}
	mr.Close()
	if err := q.Invalidate(ctx, "t", "product:1"); err != nil {
		t.Fatalf("Invalidate with Redis down = %v, want nil (retried by the store)", err)
	}
	if q.Pending() != 2 || q.Ready() == nil {
		t.Fatalf("Pending = %d, Ready = %v; want 2 and not ready", q.Pending(), q.Ready())
	}
	if err := mr.Restart(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for q.Ready() != nil {
		if time.Now().After(deadline) {
			t.Fatal("pending invalidations never applied")
		}
		time.Sleep(5 * time.Millisecond) // polling with a deadline
	}
	if _, err := cache.Get(ctx, "k", cachefront.WithTags("t")); !errors.Is(err, cachefront.ErrNotFound) {
		t.Fatalf("entry survived the retried invalidation: %v", err)
	}
	if err := q.Invalidate(ctx, ""); err == nil {
		t.Fatal("an empty tag was accepted")
	}
}
