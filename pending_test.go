package cachefront

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

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
