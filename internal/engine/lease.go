package engine

import (
	"context"
	"time"

	"github.com/cachefront/cachefront/internal/entry"
	"github.com/cachefront/cachefront/internal/scripts"
)

// Cross-instance stampede protection (WithStampedeLease): before loading, a
// shared load takes a lease on the key in Redis (SET NX with the load timeout
// as TTL). Loads on other instances that find the lease taken poll for the
// entry instead of loading, with backoff, for at most the lease wait; then,
// or as soon as the lease is gone without an entry, they load by themselves.

const (
	leaseFirstPoll = 5 * time.Millisecond
	leaseMaxPoll   = 50 * time.Millisecond
)

// acquireLease tries to take the lease of rkey for ttl. It returns the token
// to release it with, or "" when another load holds it.
func (e *Engine) acquireLease(ctx context.Context, rkey string, ttl time.Duration) (string, error) {
	token := entry.NewGen()
	var ok bool
	err := e.Backend.Run(ctx, func(ctx context.Context) error {
		var err error
		ok, err = e.Backend.Client.SetNX(ctx, e.Keys.Lease(rkey), token, ttl).Result()
		return err
	})
	if err != nil || !ok {
		return "", err
	}
	return token, nil
}

// releaseLease drops the lease if this load still holds it.
func (e *Engine) releaseLease(ctx context.Context, rkey, token string) {
	_ = e.Backend.Run(ctx, func(ctx context.Context) error {
		return scripts.DeleteIfPrefix.Run(ctx, e.Backend.Client, []string{e.Keys.Lease(rkey)}, token).Err()
	})
}

func (e *Engine) leaseHeld(ctx context.Context, rkey string) bool {
	var n int64
	err := e.Backend.Run(ctx, func(ctx context.Context) error {
		var err error
		n, err = e.Backend.Client.Exists(ctx, e.Keys.Lease(rkey)).Result()
		return err
	})
	return err == nil && n == 1
}

// awaitLeaseHolder polls for the entry another instance is loading, which
// replaces generation gen. It returns that entry's outcome, or nil when the
// wait ran out or the lease was released without a new entry.
func (e *Engine) awaitLeaseHolder(ctx context.Context, l *Load, gen string) *Outcome {
	c := l.Cache
	deadline := time.Now().Add(e.cfg.LeaseWait)
	delay := leaseFirstPoll
	timer := time.NewTimer(delay)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		r, err := e.Read(ctx, c, l.RKey, l.Call.TagSet(e))
		if err != nil {
			return nil
		}
		if r.Found == FoundEntry && r.Gen != gen {
			if o := e.found(ctx, c, l.RKey, &r); o != nil {
				c.Counters.LeaseWait(true)
				return o
			}
		}
		remaining := time.Until(deadline)
		if remaining <= 0 || !e.leaseHeld(ctx, l.RKey) {
			c.Counters.LeaseWait(false)
			return nil
		}
		delay = min(delay*2, leaseMaxPoll, remaining)
		timer.Reset(delay)
	}
}
