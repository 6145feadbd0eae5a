// Package invalidation applies cache tag invalidations after database
// writes, and keeps retrying the ones Redis could not take, so that a write
// made while Redis was unreachable does not leave stale entries behind once
// Redis answers again.
package invalidation

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/cachefront/cachefront"
)

// Queue invalidates tags on a Store. A failed invalidation is kept and
// retried in the background (and by Flush) until it succeeds; tags queued
// several times are invalidated once. It is safe for concurrent use; Close
// stops the retries.
type Queue struct {
	store *cachefront.Store
	log   *slog.Logger
	every time.Duration

	mu      sync.Mutex // guards pending
	pending map[string]struct{}

	stop chan struct{}
	done chan struct{}
}

// maxPending bounds the tags kept for retry. Past it the queue forgets the
// "product:<asin>" tags: every product write also queues the product's
// category tag, which every cached product carries, so the cache is still
// corrected, only more broadly. Category tags are as many as categories.
const maxPending = 10_000

// New returns a Queue on store retrying failed invalidations every retry.
func New(store *cachefront.Store, log *slog.Logger, retry time.Duration) *Queue {
	q := &Queue{store: store, log: log, every: retry, pending: map[string]struct{}{},
		stop: make(chan struct{}), done: make(chan struct{})}
	go q.loop()
	return q
}

// Invalidate invalidates tags now. If Redis fails, the tags are queued for
// retry and Invalidate returns nil: the write they follow has happened and
// stands, and the cache will be corrected as soon as Redis answers. It
// returns an error only for invalid tags.
func (q *Queue) Invalidate(ctx context.Context, tags ...string) error {
	if len(tags) == 0 {
		return nil
	}
	ctx = context.WithoutCancel(ctx)
	err := q.store.InvalidateTags(ctx, tags...)
	if err == nil {
		return nil
	}
	if !isUnavailable(err) {
		return err
	}
	q.mu.Lock()
	for _, t := range tags {
		q.pending[t] = struct{}{}
	}
	if len(q.pending) > maxPending {
		for t := range q.pending {
			if strings.HasPrefix(t, "product:") {
				delete(q.pending, t)
			}
		}
	}
	n := len(q.pending)
	q.mu.Unlock()
	q.log.WarnContext(ctx, "cache invalidation failed; queued for retry", "tags", tags, "pending", n, "error", err)
	return nil
}

func isUnavailable(err error) bool {
	return err != nil && (errors.Is(err, cachefront.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded))
}

// Pending returns the number of tags waiting for a retry.
func (q *Queue) Pending() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.pending)
}

// Flush retries the pending invalidations now. It returns nil when none is
// left, so that readiness can wait for the cache to be correct.
func (q *Queue) Flush(ctx context.Context) error {
	q.mu.Lock()
	tags := make([]string, 0, len(q.pending))
	for t := range q.pending {
		tags = append(tags, t)
	}
	q.mu.Unlock()
	if len(tags) == 0 {
		return nil
	}
	if err := q.store.InvalidateTags(ctx, tags...); err != nil {
		return err
	}
	q.mu.Lock()
	for _, t := range tags {
		delete(q.pending, t)
	}
	q.mu.Unlock()
	q.log.InfoContext(ctx, "queued cache invalidations applied", "tags", len(tags))
	return nil
}

func (q *Queue) loop() {
	defer close(q.done)
	t := time.NewTicker(q.every)
	defer t.Stop()
	for {
		select {
		case <-q.stop:
			return
		case <-t.C:
			if q.Pending() > 0 {
				ctx, cancel := context.WithTimeout(context.Background(), q.every)
				_ = q.Flush(ctx)
				cancel()
			}
		}
	}
}

// Close stops the background retries; pending tags are dropped (they are
// logged), and their entries expire with their TTL.
func (q *Queue) Close() {
	select {
	case <-q.stop:
		return
	default:
	}
	close(q.stop)
	<-q.done
	if n := q.Pending(); n > 0 {
		q.log.Warn("closing with cache invalidations still pending; those entries expire with their TTL", "pending", n)
	}
}
