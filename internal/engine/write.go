package engine

import (
	"bytes"
	"context"
	"math/rand/v2"
	"time"

	"github.com/cachefront/cachefront/internal/backend"
	"github.com/cachefront/cachefront/internal/compress"
	"github.com/cachefront/cachefront/internal/entry"
	"github.com/cachefront/cachefront/internal/metrics"
	"github.com/cachefront/cachefront/internal/scripts"
	"github.com/redis/go-redis/v9"
)

// DefaultTombstoneGrace is how long a deleted key keeps a tombstone beyond
// the store's load timeout. The tombstone carries a new generation, so a load
// that started before the delete cannot write its older value afterwards.
const DefaultTombstoneGrace = 30 * time.Second

// TombstoneTTL is how long a tombstone lives.
func (e *Engine) TombstoneTTL() time.Duration { return e.cfg.LoadTimeout + e.TombstoneGrace }

// tooLateToWrite reports whether a load whose snapshot was taken at
// snapshotAt may no longer write: a tombstone it must respect could have
// expired since (a sixth of the grace, 5 s by default, is kept for delays on
// the way to Redis).
func (e *Engine) tooLateToWrite(snapshotAt time.Time) bool {
	return time.Since(snapshotAt) > e.TombstoneTTL()-e.TombstoneGrace/6
}

// jittered shortens ttl by a random fraction of at most jitter.
func jittered(ttl time.Duration, jitter float64) time.Duration {
	if ttl <= 0 {
		return 0 // stale on arrival: kept only to be revalidated (the middleware's no-cache)
	}
	if jitter > 0 {
		ttl -= time.Duration(rand.Float64() * jitter * float64(ttl))
	}
	return max(ttl, time.Millisecond)
}

// timedHeader is an entry's header with how long Redis keeps the entry
// and the length of its payload before and after compression (Cache.seal).
type timedHeader struct {
	entry.Header
	ttl                        time.Duration
	uncompressedLen, storedLen int
}

// newHeader is the one place entry headers are built: a new generation, the
// cache's type, and the call's TTL (jittered) for a value or a not-found
// entry (whose TTL is the negative one). Values are kept in Redis for the
// stale-while-revalidate window beyond their TTL; not-found entries and
// tombstones are not. Tags are the caller's to add.
func newHeader(c *Cache, kind entry.Kind, call *Call, now time.Time) timedHeader {
	h := timedHeader{Header: entry.Header{Gen: entry.NewGen(), Kind: kind, Created: now.UnixMilli(), Codec: entry.MsgpackCodec}}
	if c != nil {
		h.TypeHash, h.Codec = c.TypeHash, c.codec()
	}
	var fresh time.Duration
	switch kind {
	case entry.KindValue:
		fresh = jittered(call.TTL, call.Jitter)
		h.ttl = fresh + call.SWR
	case entry.KindNotFound:
		fresh = jittered(call.NegativeTTL, call.Jitter)
		h.ttl = fresh
	}
	h.FreshUntil = now.Add(fresh).UnixMilli()
	return h
}

// seal prepares payload, the encoding of a value, for storing under h:
// compressed when it is long enough and compression makes it smaller.
// It records the codec and the compression in h, and the sizes.
func (c *Cache) seal(h *timedHeader, payload []byte) []byte {
	h.Codec = c.codec()
	h.uncompressedLen = len(payload)
	if out, ok := compress.Compress(nil, payload, c.Compression, c.CompressMin); ok {
		h.Compression, payload = byte(c.Compression), out
	}
	h.storedLen = len(payload)
	return payload
}

// encodeValue encodes v with the cache's codec.
func encodeValue(c *Cache, v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := c.Encode(&buf, v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeIfGen stores data under rkey if rkey still holds generation gen.
// It reports whether the write happened.
func (e *Engine) writeIfGen(ctx context.Context, rkey, gen string, data []byte, ttl time.Duration) (bool, error) {
	var n int64
	err := e.Backend.Run(ctx, func(ctx context.Context) error {
		var err error
		n, err = scripts.WriteIfGen.Run(ctx, e.Backend.Client, []string{rkey}, gen, data, ttl.Milliseconds()).Int64()
		return err
	})
	return err == nil && n == 1, err
}

// tagEnsure is the replies of queueEnsure.
type tagEnsure []*redis.StringCmd

// queueEnsure queues on p, for each tag, the creation of a version where it
// has none, the renewal of its TTL (a tag in use never expires) and the
// read of its version. This triple is the only way versions are made
// before an entry records them.
func (e *Engine) queueEnsure(ctx context.Context, p redis.Pipeliner, tags TagSet) tagEnsure {
	fresh := "0:" + entry.NewGen()
	cmds := make(tagEnsure, len(tags.Keys))
	for i, k := range tags.Keys {
		p.SetNX(ctx, k, fresh, e.cfg.TagTTL)
		p.PExpire(ctx, k, e.cfg.TagTTL)
		cmds[i] = p.Get(ctx, k)
	}
	return cmds
}

// ensured returns the versions queueEnsure read, and remembers them.
func (e *Engine) ensured(tags TagSet, cmds tagEnsure) []string {
	versions := make([]string, len(cmds))
	for i, c := range cmds {
		versions[i] = c.Val()
	}
	e.seen.Learn(tags.Names, versions, time.Now().UnixMilli())
	return versions
}

// ensureTagVersions returns a version for each tag, creating one where a tag
// has none, in one round trip.
func (e *Engine) ensureTagVersions(ctx context.Context, tags TagSet) ([]string, error) {
	var cmds tagEnsure
	err := e.Backend.Run(ctx, func(ctx context.Context) error {
		return e.Backend.Pipelined(ctx, func(p redis.Pipeliner) { cmds = e.queueEnsure(ctx, p, tags) })
	})
	if err != nil {
		return nil, err
	}
	return e.ensured(tags, cmds), nil
}

// SetEntry stores a value's encoded payload under rkey unconditionally,
// with the call's TTL and tags, compressed as the cache says.
func (e *Engine) SetEntry(ctx context.Context, c *Cache, rkey string, payload []byte, call *Call) error {
	h := newHeader(c, entry.KindValue, call, time.Now())
	payload = c.seal(&h, payload)
	err := e.setEntry(ctx, rkey, &h, payload, call.TagSet(e))
	if err == nil {
		c.Counters.Wrote(h.storedLen, h.uncompressedLen)
	}
	return err
}

// setEntry writes an entry unconditionally, recording a version of each of
// its tags that Redis held no earlier than seenversions.For ago (see
// seenversions): a plain SET when this process saw them that recently, else
// one script on a single server, or versions then entry on a sharded client.
func (e *Engine) setEntry(ctx context.Context, rkey string, h *timedHeader, payload []byte, tags TagSet) error {
	if len(tags.Keys) > 0 {
		if seen, ok := e.seen.Lookup(tags.Names, h.Created); ok {
			h.Tags = seen
		} else if e.Backend.Single {
			return e.setTagged(ctx, rkey, h, payload, tags)
		} else {
			versions, err := e.ensureTagVersions(ctx, tags)
			if err != nil {
				return err
			}
			h.Tags = make([]entry.Tag, len(versions))
			for i, v := range versions {
				h.Tags[i] = entry.Tag{Name: tags.Names[i], Version: v}
			}
		}
	}
	buf := backend.GetBuffer()
	buf.Grow(entry.EncodedLen(&h.Header, len(payload)))
	data, err := entry.Encode(buf.AvailableBuffer(), &h.Header, payload)
	if err != nil {
		backend.PutBuffer(buf)
		return err
	}
	err = e.Backend.Run(ctx, func(ctx context.Context) error {
		return e.Backend.Client.Set(ctx, rkey, data, h.ttl).Err()
	})
	e.Backend.Reuse(buf, err)
	return err
}

// setTagged writes an entry with a script that records its tags' current
// versions, creating the missing ones, in one round trip on a single server.
func (e *Engine) setTagged(ctx context.Context, rkey string, h *timedHeader, payload []byte, tags TagSet) error {
	keys := make([]string, 0, 1+len(tags.Keys))
	keys = append(keys, rkey)
	keys = append(keys, tags.Keys...)
	args := make([]any, 0, 5+len(tags.Names))
	args = append(args, entry.AppendPrefix(nil, &h.Header), payload, h.ttl.Milliseconds(), e.cfg.TagTTL.Milliseconds(), "0:"+entry.NewGen())
	for _, n := range tags.Names {
		args = append(args, n)
	}
	var versions []string
	err := e.Backend.Run(ctx, func(ctx context.Context) error {
		var err error
		versions, err = scripts.SetTagged.Run(ctx, e.Backend.Client, keys, args...).StringSlice()
		return err
	})
	if err == nil {
		e.seen.Learn(tags.Names, versions, time.Now().UnixMilli())
	}
	return err
}

// ManySnapshot is what a batch load saw before loading.
type ManySnapshot struct {
	rkeys    []string
	gens     []string // each key's generation ("" for none)
	versions []string // of the call's tags
	at       time.Time
}

// SnapshotMany is Snapshot for several keys in one round trip; only the
// generations matter, since any entry present is replaced.
func (e *Engine) SnapshotMany(ctx context.Context, rkeys []string, tags TagSet) (*ManySnapshot, error) {
	lk, err := e.lookBeforeLoading(ctx, rkeys, tags)
	if err != nil {
		return nil, err
	}
	snap := &ManySnapshot{rkeys: rkeys, gens: make([]string, len(rkeys)), versions: lk.versions, at: lk.at}
	for i, s := range lk.entries {
		if s.ok {
			if v, derr := entry.DecodeString(s.raw); derr == nil {
				snap.gens[i] = v.Gen
			}
		}
	}
	return snap, nil
}

// ManyLoaded is what a batch loader returned for the keys of a snapshot.
type ManyLoaded struct {
	Values []any  // by key, in the snapshot's order
	Found  []bool // whether the loader returned the key
	Took   time.Duration
}

// StoreMany writes loaded values (and, with WithNegativeTTL, not-found
// markers) for the keys of snap in one pipeline of conditional writes.
func (e *Engine) StoreMany(ctx context.Context, c *Cache, call *Call, snap *ManySnapshot, l ManyLoaded) {
	rkeys := snap.rkeys
	if e.tooLateToWrite(snap.at) {
		// A tombstone written since the snapshot may have expired: the
		// values cannot be told apart from ones a Delete removed.
		for range rkeys {
			c.Counters.Skipped(metrics.SkipConflict)
		}
		return
	}
	tags := make([]entry.Tag, len(call.Tags.Names))
	for i, n := range call.Tags.Names {
		tags[i] = entry.Tag{Name: n, Version: snap.versions[i]}
	}
	type write struct {
		rkey, gen string
		data      []byte
		h         timedHeader
	}
	writes := make([]write, 0, len(rkeys))
	perKey := Loaded{Took: l.Took / time.Duration(max(len(rkeys), 1))}
	for i, rk := range rkeys {
		if !l.Found[i] && call.NegativeTTL <= 0 {
			continue
		}
		one := perKey
		one.Value, one.Negative = l.Values[i], !l.Found[i]
		h, data, ok := e.encodeLoaded(c, rk, call, one, tags)
		if !ok {
			continue
		}
		writes = append(writes, write{rk, snap.gens[i], data, h})
	}
	if len(writes) == 0 {
		return
	}
	cmds := make([]*redis.Cmd, len(writes))
	err := e.Backend.Run(ctx, func(ctx context.Context) error {
		return e.Backend.Pipelined(ctx, func(p redis.Pipeliner) {
			for i, w := range writes {
				cmds[i] = scripts.WriteIfGen.Eval(ctx, p, []string{w.rkey}, w.gen, w.data, w.h.ttl.Milliseconds())
			}
		})
	})
	if err != nil {
		c.Counters.Fail(metrics.OpWrite)
		for range writes {
			c.Counters.Skipped(metrics.SkipUnavailable)
		}
		return
	}
	for i, cmd := range cmds {
		if n, _ := cmd.Int64(); n != 1 {
			c.Counters.Skipped(metrics.SkipConflict)
		} else {
			c.Counters.Wrote(writes[i].h.storedLen, writes[i].h.uncompressedLen)
		}
	}
}
