package cachefront

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/cachefront/cachefront/internal/backend"
	"github.com/cachefront/cachefront/internal/entry"
	"github.com/cachefront/cachefront/internal/local"
	"github.com/cachefront/cachefront/internal/metrics"
	"github.com/cachefront/cachefront/internal/scripts"
	"github.com/redis/go-redis/v9"
)

// defaultTombstoneGrace is how long a deleted key keeps a tombstone beyond
// the store's load timeout. The tombstone carries a new generation, so a load
// that started before the delete cannot write its older value afterwards.
const defaultTombstoneGrace = 30 * time.Second

func (s *Store) tombstoneTTL() time.Duration { return s.cfg.loadTimeout + s.tombstoneGrace }

// tooLateToWrite reports whether a load whose snapshot was taken at
// snapshotAt may no longer write: a tombstone it must respect could have
// expired since (a sixth of the grace, 5 s by default, is kept for delays on
// the way to Redis).
func (s *Store) tooLateToWrite(snapshotAt time.Time) bool {
	return time.Since(snapshotAt) > s.tombstoneTTL()-s.tombstoneGrace/6
}

// jittered shortens ttl by a random fraction of at most jitter.
func jittered(ttl time.Duration, jitter float64) time.Duration {
	if jitter > 0 {
		ttl -= time.Duration(rand.Float64() * jitter * float64(ttl))
	}
	return max(ttl, time.Millisecond)
}

// writeIfGen stores data under rkey if rkey still holds generation gen.
// It reports whether the write happened.
func (s *Store) writeIfGen(ctx context.Context, rkey, gen string, data []byte, ttl time.Duration) (bool, error) {
	var n int64
	err := s.be.Run(ctx, func(ctx context.Context) error {
		var err error
		n, err = scripts.WriteIfGen.Run(ctx, s.be.Client, []string{rkey}, gen, data, ttl.Milliseconds()).Int64()
		return err
	})
	return err == nil && n == 1, err
}

// ensureTagVersions returns a version for each tag, creating one where a tag
// has none, in one round trip.
func (s *Store) ensureTagVersions(ctx context.Context, tags tagSet) ([]string, error) {
	cmds := make([]*redis.StringCmd, len(tags.keys))
	fresh := "0:" + entry.NewGen()
	err := s.be.Run(ctx, func(ctx context.Context) error {
		return s.be.Pipelined(ctx, func(p redis.Pipeliner) {
			for i, k := range tags.keys {
				p.SetNX(ctx, k, fresh, s.cfg.tagTTL)
				p.PExpire(ctx, k, s.cfg.tagTTL) // a tag in use never expires
				cmds[i] = p.Get(ctx, k)
			}
		})
	})
	if err != nil {
		return nil, err
	}
	versions := make([]string, len(cmds))
	for i, c := range cmds {
		versions[i] = c.Val()
	}
	s.seen.Learn(tags.names, versions, time.Now().UnixMilli())
	return versions, nil
}

// setEntry writes an entry unconditionally, recording a version of each of
// its tags that Redis held no earlier than seenversions.For ago (see
// seenversions): a plain SET when this process saw them that recently, else
// one script on a single server, or versions then entry on a sharded client.
func (s *Store) setEntry(ctx context.Context, rkey string, h *entry.Header, payload []byte, tags tagSet, ttl time.Duration) error {
	if len(tags.keys) > 0 {
		if seen, ok := s.seen.Lookup(tags.names, h.Created); ok {
			h.Tags = seen
		} else if s.be.Single {
			return s.setTagged(ctx, rkey, h, payload, tags, ttl)
		} else {
			versions, err := s.ensureTagVersions(ctx, tags)
			if err != nil {
				return err
			}
			h.Tags = make([]entry.Tag, len(versions))
			for i, v := range versions {
				h.Tags[i] = entry.Tag{Name: tags.names[i], Version: v}
			}
		}
	}
	buf := backend.GetBuffer()
	buf.Grow(entry.EncodedLen(h, len(payload)))
	data, err := entry.Encode(buf.AvailableBuffer(), h, payload)
	if err != nil {
		backend.PutBuffer(buf)
		return err
	}
	err = s.be.Run(ctx, func(ctx context.Context) error {
		return s.be.Client.Set(ctx, rkey, data, ttl).Err()
	})
	s.be.Reuse(buf, err)
	return err
}

// setTagged writes an entry with a script that records its tags' current
// versions, creating the missing ones, in one round trip on a single server.
func (s *Store) setTagged(ctx context.Context, rkey string, h *entry.Header, payload []byte, tags tagSet, ttl time.Duration) error {
	keys := make([]string, 0, 1+len(tags.keys))
	keys = append(keys, rkey)
	keys = append(keys, tags.keys...)
	args := make([]any, 0, 5+len(tags.names))
	args = append(args, entry.AppendPrefix(nil, h), payload, ttl.Milliseconds(), s.cfg.tagTTL.Milliseconds(), "0:"+entry.NewGen())
	for _, n := range tags.names {
		args = append(args, n)
	}
	var versions []string
	err := s.be.Run(ctx, func(ctx context.Context) error {
		var err error
		versions, err = scripts.SetTagged.Run(ctx, s.be.Client, keys, args...).StringSlice()
		return err
	})
	if err == nil {
		s.seen.Learn(tags.names, versions, time.Now().UnixMilli())
	}
	return err
}

// deleteEntries replaces each key with a tombstone, in one round trip.
func (s *Store) deleteEntries(ctx context.Context, rkeys []string) error {
	ttl := s.tombstoneTTL()
	ev := local.Event{Keys: rkeys}
	err := s.be.Run(ctx, func(ctx context.Context) error {
		err := s.be.Pipelined(ctx, func(p redis.Pipeliner) {
			now := time.Now().UnixMilli()
			for _, k := range rkeys {
				h := entry.Header{Gen: entry.NewGen(), Kind: entry.KindTombstone, Created: now, FreshUntil: now}
				data, _ := entry.Encode(nil, &h, nil)
				p.Set(ctx, k, data, ttl)
			}
			if s.be.Single {
				s.publish(ctx, p, ev) // one server runs it after the tombstones
			}
		})
		if err != nil || s.be.Single {
			return err
		}
		return s.publishNow(ctx, ev)
	})
	s.local.Apply(ev)
	if err != nil {
		return err
	}
	s.deletes.Add(uint64(len(rkeys)))
	s.keyDeletions.Add(float64(len(rkeys)))
	return nil
}

// announceSet tells the other instances' local tiers that rkey changed.
// An announcement Redis did not take is kept and published again in the
// background (see PendingInvalidations), so other instances keep the old
// value for at most the retry delay, not their whole local TTL.
func (s *Store) announceSet(ctx context.Context, rkey string) {
	if s.local == nil {
		return
	}
	ev := local.Event{Keys: []string{rkey}}
	s.local.Apply(ev)
	if err := s.be.Run(ctx, func(ctx context.Context) error { return s.publishNow(ctx, ev) }); err != nil {
		s.storeOps.Fail(metrics.OpWrite)
		s.queuePending(pendingAnnouncement, ev.Keys)
	}
}
