package backend

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cachefront/cachefront/internal/breaker"
	"github.com/redis/go-redis/v9"
)

// An operation the watchdog stops waiting for keeps running with its
// context; that context must never be handed to another operation.
func TestAbandonedOperationKeepsItsContext(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // default client: watchdog
	defer rdb.Close()
	be := New(rdb, time.Second, breaker.New(100, time.Second, nil)) // under the 3s socket timeouts
	if be.inline(false) {
		t.Fatal("a default client should run operations under the watchdog")
	}

	release := make(chan struct{})
	started := make(chan context.Context, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- be.Run(ctx, func(opCtx context.Context) error {
			started <- opCtx
			<-release
			return nil
		})
	}()
	abandoned := <-started
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("run = %v, want context.Canceled", err)
	}
	defer close(release)

	for range 10 {
		var next context.Context
		if err := be.Run(context.Background(), func(opCtx context.Context) error {
			next = opCtx
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if next == abandoned {
			t.Fatal("the context of an operation still running was reused")
		}
	}
	if abandoned.Err() != context.Canceled {
		t.Fatalf("the abandoned operation's context: Err = %v, want the caller's context.Canceled", abandoned.Err())
	}
}
