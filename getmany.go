package cachefront

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cachefront/cachefront/internal/entry"
	"github.com/cachefront/cachefront/internal/metrics"
	"github.com/cachefront/cachefront/internal/scripts"
	"github.com/redis/go-redis/v9"
)

// GetMany returns the cached values of keys in one round trip (MGET on a
// single server, one pipeline per node on a cluster; a second round trip only
// when entries carry tags the call did not name). Keys that are not cached,
// invalidated or cached as not-found are absent from the map. It returns
// ErrUnavailable when Redis could not be asked.
func (c *Cache[T]) GetMany(ctx context.Context, keys []string, opts ...Option) (map[string]T, error) {
	batch, err := c.readMany(ctx, keys, opts)
	if err != nil {
		return nil, err
	}
	for range batch.missing {
		c.cc.Miss()
	}
	return batch.values, nil
}

// GetManyOrLoad returns the values of all keys, loading the ones the cache
// does not hold with a single call to loader, which gets the missing keys and
// returns the values it found. Loaded values are stored (unless a Delete, Set
// or tag invalidation came first, as for GetOrLoad); keys the loader leaves
// out are not found, and are cached as such with WithNegativeTTL.
//
// With Redis failing, every key is loaded and nothing is stored. Unlike
// GetOrLoad, concurrent batch loads are not deduplicated against each other.
// A loader error is returned with the values that were cached.
func (c *Cache[T]) GetManyOrLoad(ctx context.Context, keys []string, loader func(ctx context.Context, missing []string) (map[string]T, error), opts ...Option) (map[string]T, error) {
	if loader == nil {
		return nil, fmt.Errorf("%w: loader is nil", ErrInvalidOption)
	}
	batch, err := c.readMany(ctx, keys, opts)
	readFailed := false
	if err != nil {
		if errors.Is(err, ErrInvalidOption) || errors.Is(err, ErrInvalidKey) || errors.Is(err, ErrClosed) {
			return nil, err
		}
		readFailed = true
	}
	if len(batch.missing) == 0 {
		return batch.values, nil
	}
	for range batch.missing {
		c.cc.Miss()
	}

	lctx, cancel := context.WithTimeout(ctx, batch.call.loadTimeout)
	defer cancel()
	rkeys := make([]string, len(batch.missing))
	for i, k := range batch.missing {
		rkeys[i] = batch.rkeys[k]
	}
	var snaps []snapshot
	if !readFailed {
		if snaps, err = c.store.snapshotMany(lctx, rkeys, batch.call.tagSet(c.store)); err != nil {
			c.cc.Fail(metrics.OpRead)
			readFailed = true
		}
	}
	start := time.Now()
	loaded, lerr := loader(lctx, batch.missing)
	c.cc.Load(time.Since(start), loadResult(lerr))
	if lerr != nil {
		return batch.values, lerr
	}
	for k, v := range loaded {
		if _, asked := batch.rkeys[k]; asked {
			batch.values[k] = v
		}
	}
	if readFailed {
		c.cc.Skipped(metrics.SkipUnavailable)
		return batch.values, nil
	}
	c.storeMany(lctx, batch, rkeys, snaps, loaded, time.Since(start))
	return batch.values, nil
}

// manyRead is what readMany found.
type manyRead[T any] struct {
	call    *callConfig
	rkeys   map[string]string // key → Redis key
	values  map[string]T
	missing []string
}

func (c *Cache[T]) readMany(ctx context.Context, keys []string, opts []Option) (manyRead[T], error) {
	batch := manyRead[T]{values: make(map[string]T, len(keys)), rkeys: make(map[string]string, len(keys))}
	if err := c.store.checkOpen(); err != nil {
		return batch, err
	}
	call, err := c.callConfig(opts)
	if err != nil {
		return batch, err
	}
	batch.call = call
	unique := make([]string, 0, len(keys))
	for _, k := range keys {
		if _, dup := batch.rkeys[k]; dup {
			continue
		}
		rk, err := c.store.keys.Entry(c.name, k)
		if err != nil {
			return batch, err
		}
		batch.rkeys[k] = rk
		unique = append(unique, k)
		c.top.Observe(k)
	}
	n := len(unique)
	tags := call.tagSet(c.store)
	all := make([]string, 0, n+len(tags.keys))
	for _, k := range unique {
		all = append(all, batch.rkeys[k])
	}
	all = append(all, tags.keys...)
	vals := make([]string, len(all))
	ok := make([]bool, len(all))
	if err := c.store.be.Run(ctx, func(ctx context.Context) error { return c.store.be.GetMany(ctx, all, vals, ok) }); err != nil {
		c.cc.Fail(metrics.OpRead)
		batch.missing = unique
		return batch, err
	}
	names, versions, err := c.store.completeTags(ctx, vals[:n], ok[:n], call.tags.names, vals[n:])
	if err != nil {
		c.cc.Fail(metrics.OpRead)
		batch.missing = unique
		return batch, err
	}
	for i, k := range unique {
		r, _ := c.store.evaluate(ctx, c.cc, batch.rkeys[k], vals[i], ok[i], names, versions, c.typeHash)
		if r.found == foundEntry {
			if v, err, decoded := c.decode(ctx, batch.rkeys[k], &r); decoded {
				c.cc.Hit(false)
				if err == nil {
					batch.values[k] = v
				}
				continue
			}
		}
		batch.missing = append(batch.missing, k)
	}
	return batch, nil
}

// completeTags extends names and versions with the current versions of every
// other tag the raw entries carry, in one round trip, so that evaluating them
// needs no more.
func (s *Store) completeTags(ctx context.Context, raws []string, present []bool, names, versions []string) ([]string, []string, error) {
	var extra []string
	for i, raw := range raws {
		if !present[i] {
			continue
		}
		v, err := entry.DecodeString(raw)
		if err != nil {
			continue
		}
		for name := range v.TagSeq() {
			if indexOf(names, name) < 0 && indexOf(extra, name) < 0 {
				extra = append(extra, string(name))
			}
		}
	}
	if len(extra) == 0 {
		return names, versions, nil
	}
	current, err := s.tagVersions(ctx, extra)
	if err != nil {
		return nil, nil, err
	}
	return append(names[:len(names):len(names)], extra...), append(versions[:len(versions):len(versions)], current...), nil
}

// snapshotMany is snapshot for several keys in one round trip.
func (s *Store) snapshotMany(ctx context.Context, rkeys []string, tags tagSet) ([]snapshot, error) {
	look, err := s.lookBeforeLoading(ctx, rkeys, tags)
	if err != nil {
		return nil, err
	}
	snaps := make([]snapshot, len(rkeys))
	for i := range rkeys {
		// Only the generation matters here: any entry present is replaced.
		snaps[i] = snapshot{readResult: readResult{versions: look.versions}, seq: look.seq, at: look.at}
		if look.present[i] {
			if v, derr := entry.DecodeString(look.raws[i]); derr == nil {
				snaps[i].gen = v.Gen
			}
		}
	}
	return snaps, nil
}

// storeMany writes loaded values (and, with WithNegativeTTL, not-found
// markers) in one pipeline of conditional writes.
func (c *Cache[T]) storeMany(ctx context.Context, batch manyRead[T], rkeys []string, snaps []snapshot, loaded map[string]T, took time.Duration) {
	call := batch.call
	if len(snaps) > 0 && c.store.tooLateToWrite(snaps[0].at) {
		// A tombstone written since the snapshot may have expired: the
		// values cannot be told apart from ones a Delete removed.
		for range rkeys {
			c.cc.Skipped(metrics.SkipConflict)
		}
		return
	}
	tags := make([]entry.Tag, len(call.tags.names))
	if len(snaps) > 0 {
		for i, n := range call.tags.names {
			tags[i] = entry.Tag{Name: n, Version: snaps[0].versions[i]}
		}
	}
	type write struct {
		rkey, gen string
		data      []byte
		ttl       time.Duration
	}
	writes := make([]write, 0, len(rkeys))
	now := time.Now()
	perKey := uint32(min(took.Microseconds()/int64(max(len(rkeys), 1)), 1<<32-1))
	for i, k := range batch.missing {
		v, found := loaded[k]
		kind, ttl := entry.KindValue, call.ttl
		var payload []byte
		if !found {
			if call.negativeTTL <= 0 {
				continue
			}
			kind, ttl = entry.KindNotFound, call.negativeTTL
		} else {
			var err error
			if payload, err = encodeValue(v); err != nil {
				c.cc.Fail(metrics.OpEncode)
				continue
			}
		}
		ttl = jittered(ttl, call.jitter)
		h := entry.Header{Gen: entry.NewGen(), Kind: kind, Created: now.UnixMilli(), FreshUntil: now.Add(ttl).UnixMilli(),
			LoadMicros: perKey, TypeHash: c.typeHash, Tags: tags}
		data, err := entry.Encode(nil, &h, payload)
		if err != nil {
			c.cc.Fail(metrics.OpEncode)
			continue
		}
		writes = append(writes, write{rkeys[i], snaps[i].gen, data, ttl})
	}
	if len(writes) == 0 {
		return
	}
	cmds := make([]*redis.Cmd, len(writes))
	s := c.store
	err := s.be.Run(ctx, func(ctx context.Context) error {
		return s.be.Pipelined(ctx, func(p redis.Pipeliner) {
			for i, w := range writes {
				cmds[i] = scripts.WriteIfGen.Eval(ctx, p, []string{w.rkey}, w.gen, w.data, w.ttl.Milliseconds())
			}
		})
	})
	if err != nil {
		c.cc.Fail(metrics.OpWrite)
		for range writes {
			c.cc.Skipped(metrics.SkipUnavailable)
		}
		return
	}
	for _, cmd := range cmds {
		if n, _ := cmd.Int64(); n != 1 {
			c.cc.Skipped(metrics.SkipConflict)
		}
	}
}
