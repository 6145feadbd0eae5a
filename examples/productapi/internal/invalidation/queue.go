// Package invalidation applies cache tag invalidations after database
// writes. A write stands whether or not Redis answers: when it does not, the
// Store keeps the tags and applies them as soon as Redis is back
// (cachefront's Store.PendingInvalidations), and readiness reports not ready
// until then, so a write made during an outage never leaves stale entries
// behind. Journal keeps those tags in the database meanwhile, so that they
// outlive the process: the next instance to start applies them before it
// serves from the cache.
package invalidation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/cachefront/cachefront"
)

// Queue invalidates tags on a Store after writes. It is safe for concurrent
// use.
type Queue struct {
	store *cachefront.Store
	log   *slog.Logger
}

// New returns a Queue on store.
func New(store *cachefront.Store, log *slog.Logger) *Queue {
	return &Queue{store: store, log: log}
}

// Invalidate invalidates tags now, under ctx without its cancellation (a
// client hanging up after its write must not leave the cache stale). If
// Redis fails, the Store retries the tags in the background and Invalidate
// returns nil: the write they follow has happened and stands. It returns an
// error only for invalid tags.
func (q *Queue) Invalidate(ctx context.Context, tags ...string) error {
	if len(tags) == 0 {
		return nil
	}
	ctx = context.WithoutCancel(ctx)
	err := q.store.InvalidateTags(ctx, tags...)
	if err == nil {
		return nil
	}
	if !errors.Is(err, cachefront.ErrUnavailable) && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	q.log.WarnContext(ctx, "cache invalidation failed; the store retries it when Redis answers",
		"tags", tags, "pending", q.Pending(), "error", err)
	return nil
}

// Pending returns the number of tags and keys whose invalidation Redis has
// not taken yet.
func (q *Queue) Pending() int { return q.store.PendingInvalidations() }

// Ready returns an error while invalidations are pending, so that readiness
// can wait for the cache to be correct.
func (q *Queue) Ready() error {
	if n := q.Pending(); n > 0 {
		return fmt.Errorf("%d cache invalidations pending", n)
	}
	return nil
}
