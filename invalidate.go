package cachefront

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/cachefront/cachefront/internal/entry"
	"github.com/cachefront/cachefront/internal/local"
	"github.com/cachefront/cachefront/internal/metrics"
	"github.com/cachefront/cachefront/internal/scripts"
	"github.com/redis/go-redis/v9"
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
		s.storeOps.Fail(metrics.OpInvalidate)
		s.local.Apply(local.Event{Tags: names})
		s.queuePending(pendingTag, names)
		return fmt.Errorf("invalidating %d tags: %w", len(names), err)
	}
	return nil
}

// invalidateTags gives each tag a new version and tells every instance.
//
// On a single server one script does it all, the event published after the
// versions are set. On a sharded client it takes a sequence number, then
// sets each tag's version with a script that never replaces a newer one
// (the writes of two invalidations of one tag may reach its node in either
// order), and only once those writes are acknowledged publishes the event:
// published with them, it could reach another instance before the new
// versions reach their nodes, and that instance would read the old entry
// again and keep it for its whole local TTL.
func (s *Store) invalidateTags(ctx context.Context, names []string) error {
	ts := s.tagSet(names)
	suffix := entry.NewGen()
	tagTTL := s.cfg.tagTTL
	ev := local.Event{Tags: ts.names}
	var version string    // every tag's new version, on a single server
	var versions []string // each tag's version afterwards, on a sharded client
	err := s.be.Run(ctx, func(ctx context.Context) error {
		if s.be.Single {
			keys := append([]string{s.keys.Seq()}, ts.keys...)
			args := []any{tagTTL.Milliseconds(), suffix}
			if data, err := local.EncodeEvent(ev); err == nil {
				args = append(args, s.eventsChannel(), data)
			}
			seq, err := scripts.Invalidate.Run(ctx, s.be.Client, keys, args...).Int64()
			version = strconv.FormatInt(seq, 10) + ":" + suffix
			return err
		}
		seq, err := s.be.Client.Incr(ctx, s.keys.Seq()).Result()
		if err != nil {
			return err
		}
		newVersion := strconv.FormatInt(seq, 10) + ":" + suffix
		cmds := make([]*redis.Cmd, len(ts.keys))
		err = s.be.Pipelined(ctx, func(p redis.Pipeliner) {
			for i, k := range ts.keys {
				cmds[i] = scripts.SetVersion.Eval(ctx, p, []string{k}, newVersion, seq, tagTTL.Milliseconds())
			}
		})
		if err != nil {
			return err
		}
		versions = make([]string, len(cmds))
		for i, c := range cmds {
			versions[i], _ = c.Text()
		}
		return s.publishNow(ctx, ev)
	})
	if err != nil {
		s.seen.Forget(ts.names)
		return err
	}
	if versions != nil {
		s.seen.Learn(ts.names, versions, time.Now().UnixMilli())
	} else {
		s.seen.LearnAll(ts.names, version, time.Now().UnixMilli())
	}
	s.local.Apply(ev)
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
		rk, err := s.keys.Entry(name, key)
		if err != nil {
			return err
		}
		rkeys = append(rkeys, rk)
	}
	if len(rkeys) == 0 {
		return nil
	}
	if err := s.deleteEntries(ctx, rkeys); err != nil {
		s.storeOps.Fail(metrics.OpDelete)
		s.queuePending(pendingDelete, rkeys)
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
	tc, _ := ctx.Value(tagCollectorKey{}).(*tagCollector)
	if tc == nil || len(tags) == 0 {
		return
	}
	tc.mu.Lock()
	tc.tags = appendUnique(tc.tags, tags...)
	tc.mu.Unlock()
}
