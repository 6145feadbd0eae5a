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

func TestQueueRetriesAfterRedisReturns(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	store := cachefront.NewStore(rdb, cachefront.WithCircuitBreaker(0, time.Second))
	cache := cachefront.New[string](store, "c")
	ctx := context.Background()
	q := New(store, slog.New(slog.DiscardHandler), time.Hour) // retries by Flush only
	t.Cleanup(q.Close)

	if err := cache.Set(ctx, "k", "old", cachefront.WithTags("t")); err != nil {
		t.Fatal(err)
	}
	mr.Close()
	if err := q.Invalidate(ctx, "t", "product:1"); err != nil {
		t.Fatalf("Invalidate with Redis down = %v, want nil (queued)", err)
	}
	if q.Pending() != 2 {
		t.Fatalf("Pending = %d, want 2", q.Pending())
	}
	if err := q.Flush(ctx); err == nil {
		t.Fatal("Flush with Redis down succeeded")
	}
	if err := mr.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := q.Flush(ctx); err != nil || q.Pending() != 0 {
		t.Fatalf("Flush after restart = %v, pending %d", err, q.Pending())
	}
	if _, err := cache.Get(ctx, "k", cachefront.WithTags("t")); !errors.Is(err, cachefront.ErrNotFound) {
		t.Fatalf("entry survived the retried invalidation: %v", err)
	}
	if err := q.Invalidate(ctx, ""); err == nil {
		t.Fatal("an empty tag was accepted")
	}
}

func TestQueueRetriesInBackground(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	store := cachefront.NewStore(rdb, cachefront.WithCircuitBreaker(0, time.Second))
	q := New(store, slog.New(slog.DiscardHandler), 10*time.Millisecond)
	t.Cleanup(q.Close)
	mr.Close()
	_ = q.Invalidate(context.Background(), "t")
	if err := mr.Restart(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for q.Pending() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("pending invalidation never retried")
		}
		time.Sleep(5 * time.Millisecond) // polling with a deadline
	}
}
