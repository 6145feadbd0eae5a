package cachefront

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

func (s *Store) leaseKey(rkey string) string { return s.keys.Lease(rkey) }

// acquireLease tries to take the lease of rkey for ttl. It returns the token
// to release it with, or "" when another load holds it.
func (s *Store) acquireLease(ctx context.Context, rkey string, ttl time.Duration) (string, error) {
	token := entry.NewGen()
	var ok bool
	err := s.be.Run(ctx, func(ctx context.Context) error {
		var err error
		ok, err = s.be.Client.SetNX(ctx, s.leaseKey(rkey), token, ttl).Result()
		return err
	})
	if err != nil || !ok {
		return "", err
	}
	return token, nil
}

// releaseLease drops the lease if this load still holds it.
func (s *Store) releaseLease(ctx context.Context, rkey, token string) {
	_ = s.be.Run(ctx, func(ctx context.Context) error {
		return scripts.DeleteIfPrefix.Run(ctx, s.be.Client, []string{s.leaseKey(rkey)}, token).Err()
	})
}

func (s *Store) leaseHeld(ctx context.Context, rkey string) bool {
	var n int64
	err := s.be.Run(ctx, func(ctx context.Context) error {
		var err error
		n, err = s.be.Client.Exists(ctx, s.leaseKey(rkey)).Result()
		return err
	})
	return err == nil && n == 1
}

// awaitLeaseHolder polls for the entry another instance is loading. It
// returns the entry's result, or ok false when the wait ran out or the lease
// was released without a new entry.
func (c *Cache[T]) awaitLeaseHolder(ctx context.Context, rkey, gen string, call *callConfig) (res *flightResult[T], ok bool) {
	s := c.store
	deadline := time.Now().Add(s.cfg.leaseWait)
	delay := leaseFirstPoll
	timer := time.NewTimer(delay)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, false
		case <-timer.C:
		}
		r, err := s.read(ctx, c.cc, rkey, call.tagSet(s), c.typeHash)
		if err != nil {
			return nil, false
		}
		if r.found == foundEntry && r.gen != gen {
			if v, verr, decoded := c.decode(ctx, rkey, &r); decoded {
				c.cc.LeaseWait(true)
				return &flightResult[T]{value: v, err: verr, fromCache: true}, true
			}
		}
		remaining := time.Until(deadline)
		if remaining <= 0 || !s.leaseHeld(ctx, rkey) {
			c.cc.LeaseWait(false)
			return nil, false
		}
		delay = min(delay*2, leaseMaxPoll, remaining)
		timer.Reset(delay)
	}
}
