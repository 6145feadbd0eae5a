package cachefront

import (
	"context"
	"fmt"

	"github.com/cachefront/cachefront/internal/engine"
)

// InvalidateTags invalidates every entry carrying any of tags, on every
// instance sharing this Redis and namespace, in a constant number of round
// trips whatever the number of entries (one on a single server, three on a
// cluster). When it returns nil, no read returns a value computed from data
// read before the call started; see the package documentation for how.
//
// It returns ErrInvalidTag for an empty or over-long tag (nothing is
// invalidated) and ErrUnavailable when Redis could not be reached. The Store
// then keeps the tags and invalidates them again in the background until
// Redis takes them (see PendingInvalidations), so the caller need not retry.
func (s *Store) InvalidateTags(ctx context.Context, tags ...string) error {
	if s.cfg.observer != nil {
		return observeErr(s, ctx, Operation{Kind: OpInvalidateTags, Tags: tags},
			func(ctx context.Context, _ *Outcome) error { return s.invalidateTags(ctx, tags) })
	}
	return s.invalidateTags(ctx, tags)
}

// invalidateTags is InvalidateTags.
func (s *Store) invalidateTags(ctx context.Context, tags []string) error {
	if err := s.e.CheckOpen(); err != nil {
		return err
	}
	if len(tags) == 0 {
		return nil
	}
	for _, t := range tags {
		if err := validTag(t); err != nil {
			return err
		}
	}
	names := appendUnique(nil, tags...)
	if err := s.e.InvalidateTags(ctx, names); err != nil {
		return fmt.Errorf("invalidating %d tags: %w", len(names), err)
	}
	return nil
}

// Delete deletes entries given as "<cache>:<key>" (the cache's name, a colon,
// and the key as the cache was given it), the form operators see in
// statistics. Like InvalidateTags, it also stops loads that started before it
// from writing their older values afterwards.
func (s *Store) Delete(ctx context.Context, storeKeys ...string) error {
	if s.cfg.observer != nil {
		return observeErr(s, ctx, Operation{Kind: OpDelete, Keys: storeKeys},
			func(ctx context.Context, _ *Outcome) error { return s.delete(ctx, storeKeys) })
	}
	return s.delete(ctx, storeKeys)
}

// delete is Delete.
func (s *Store) delete(ctx context.Context, storeKeys []string) error {
	if err := s.e.CheckOpen(); err != nil {
		return err
	}
	rkeys := make([]string, 0, len(storeKeys))
	for _, sk := range storeKeys {
		name, key, err := splitStoreKey(sk)
		if err != nil {
			return err
		}
		rk, err := s.e.Keys.Entry(name, key)
		if err != nil {
			return err
		}
		rkeys = append(rkeys, rk)
	}
	if len(rkeys) == 0 {
		return nil
	}
	if err := s.e.Delete(ctx, nil, rkeys); err != nil {
		return fmt.Errorf("deleting %d keys: %w", len(rkeys), err)
	}
	return nil
}

// AddTags tags the entry being built by the load (or HTTP response) whose
// context ctx is, for tags that are only known once loading has started —
// the category of a product just read, say. Outside a cachefront load it does
// nothing. It is safe to call from several goroutines of one load.
//
// A tag added this way was not part of the snapshot taken before the load, so
// cachefront checks it once the load has its value: if the tag was
// invalidated while the load ran, the result is returned to its callers but
// not stored, and callers that joined the load are served by a fresh one, as
// are callers that joined it after the check. An empty or over-long tag makes
// the result uncacheable (counted under cachefront_errors_total{op="tags"}).
func AddTags(ctx context.Context, tags ...string) {
	engine.AddTags(ctx, tags)
}

// Journal keeps the invalidations Redis did not take outside the process,
// so that they outlive it: a tag invalidation or Delete that failed is
// added before the call returns, removed once Redis has taken it, and a
// Store started with the same Journal (after a crash, a deploy, or on
// another instance) lists it at start and applies it before it serves
// anything from Redis. Without one, invalidations still pending when the
// process exits are lost, and the entries they were to remove live until
// their TTL. Back it with the database the cached data comes from, shared
// by every instance. Applying an invalidation twice is harmless, so a
// Journal may list what another instance is still retrying.
//
// Methods are called from the failing call's goroutine and from the
// Store's background work, each bounded to five seconds; they must be safe
// for concurrent use. A failing Add is logged (the invalidation is still
// retried in memory); a failing List makes reads fail open, as with Redis
// down, until it succeeds.
type Journal interface {
	Add(ctx context.Context, inv Invalidations) error
	Remove(ctx context.Context, inv Invalidations) error
	List(ctx context.Context) (Invalidations, error)
}

// Invalidations are what a Journal keeps: tags to invalidate, and the Redis
// keys of entries to delete (each starts with the Store's namespace and a
// colon).
type Invalidations struct {
	Tags []string `json:"tags,omitempty"`
	Keys []string `json:"keys,omitempty"`
}

// journal adapts a Journal to the engine's.
type journal struct{ j Journal }

func (a journal) Add(ctx context.Context, tags, keys []string) error {
	return a.j.Add(ctx, Invalidations{Tags: tags, Keys: keys})
}

func (a journal) Remove(ctx context.Context, tags, keys []string) error {
	return a.j.Remove(ctx, Invalidations{Tags: tags, Keys: keys})
}

func (a journal) List(ctx context.Context) (tags, keys []string, err error) {
	inv, err := a.j.List(ctx)
	return inv.Tags, inv.Keys, err
}
