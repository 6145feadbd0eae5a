package cachefront

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/cachefront/cachefront/internal/entry"
	"github.com/cachefront/cachefront/internal/scripts"
	"github.com/redis/go-redis/v9"
	"github.com/vmihailenco/msgpack/v5"
)

// InvalidateTags invalidates every entry carrying any of tags, on every
// instance sharing this Redis and namespace, in a constant number of round
// trips whatever the number of entries (one on a single server, two on a
// cluster). When it returns nil, no read returns a value computed from data
// read before the call started; see the package documentation for how.
//
// It returns ErrInvalidTag for an empty or over-long tag (nothing is
// invalidated) and ErrUnavailable when Redis could not be reached. The Store
// then keeps the tags and invalidates them again in the background until
// Redis takes them (see PendingInvalidations), so the caller need not retry.
func (s *Store) InvalidateTags(ctx context.Context, tags ...string) error {
	if err := s.checkOpen(); err != nil {
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
	if err := s.invalidateTags(ctx, names); err != nil {
		s.storeOps.fail(opInvalidate)
		s.local.apply(event{Tags: names})
		s.queueInvalidation(names, nil)
		return fmt.Errorf("invalidating %d tags: %w", len(names), err)
	}
	return nil
}

// invalidateTags gives each tag a new version and tells every instance.
func (s *Store) invalidateTags(ctx context.Context, names []string) error {
	ts := s.tagSet(names)
	suffix := entry.NewGen()
	tagTTL := s.cfg.tagTTL
	ev := event{Tags: ts.names}
	var version string
	err := s.be.run(ctx, func(ctx context.Context) error {
		if s.be.single {
			keys := append([]string{s.keys.seq()}, ts.keys...)
			args := []any{tagTTL.Milliseconds(), suffix}
			if data, err := msgpack.Marshal(ev); err == nil {
				args = append(args, s.eventsChannel(), data)
			}
			seq, err := scripts.Invalidate.Run(ctx, s.be.rdb, keys, args...).Int64()
			version = strconv.FormatInt(seq, 10) + ":" + suffix
			return err
		}
		seq, err := s.be.rdb.Incr(ctx, s.keys.seq()).Result()
		if err != nil {
			return err
		}
		version = strconv.FormatInt(seq, 10) + ":" + suffix
		return s.be.pipelined(ctx, func(p redis.Pipeliner) {
			for _, k := range ts.keys {
				p.Set(ctx, k, version, tagTTL)
			}
			s.publish(ctx, p, ev)
		})
	})
	if err != nil {
		s.seen.forget(ts.names)
		return err
	}
	s.seen.learnAll(ts.names, version, time.Now().UnixMilli())
	s.local.apply(ev)
	s.invalidations.Add(uint64(len(ts.names)))
	s.tagInvalidations.Add(float64(len(ts.names)))
	return nil
}

// Delete deletes entries given as "<cache>:<key>" (the cache's name, a colon,
// and the key as the cache was given it), the form operators see in
// statistics. Like InvalidateTags, it also stops loads that started before it
// from writing their older values afterwards.
func (s *Store) Delete(ctx context.Context, storeKeys ...string) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	rkeys := make([]string, 0, len(storeKeys))
	for _, sk := range storeKeys {
		name, key, err := splitStoreKey(sk)
		if err != nil {
			return err
		}
		rk, err := s.keys.entry(name, key)
		if err != nil {
			return err
		}
		rkeys = append(rkeys, rk)
	}
	if len(rkeys) == 0 {
		return nil
	}
	if err := s.deleteEntries(ctx, rkeys); err != nil {
		s.storeOps.fail(opDelete)
		s.queueInvalidation(nil, rkeys)
		return fmt.Errorf("deleting %d keys: %w", len(rkeys), err)
	}
	return nil
}
