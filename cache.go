package cachefront

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachefront/cachefront/internal/backend"
	"github.com/cachefront/cachefront/internal/compress"
	"github.com/cachefront/cachefront/internal/engine"
	"github.com/cachefront/cachefront/internal/entry"
	"github.com/cachefront/cachefront/internal/keyspace"
	"github.com/cachefront/cachefront/internal/local"
	"github.com/cachefront/cachefront/internal/metrics"
	"github.com/vmihailenco/msgpack/v5"
)

// Cache is a typed view of a Store: values of type T under one name. Create
// it once with New and share it; it is safe for concurrent use.
type Cache[T any] struct {
	store *Store
	ec    *engine.Cache // the engine's side: name, type, counters, codec
	cfg   config
	call  engine.Call // the cache's own settings, used by calls without options
	// lastTagged is the configuration of the last call whose options were
	// only tags beyond the cache's own (see tagsOnly).
	lastTagged atomic.Pointer[engine.Call]
	encode     func(buf *bytes.Buffer, v T) error
	decode     func(payload []byte, raw string) (T, error)
}

// New returns a typed cache named name on store. The name separates key
// spaces and labels metrics: letters, digits, '_', '-' and '.'. Options
// (WithTTL, WithTags, WithNegativeTTL, …) set the cache's defaults over the
// Store's.
//
// Like NewStore, New panics with an error wrapping ErrInvalidOption on an
// invalid name or option.
func New[T any](store *Store, name string, opts ...Option) *Cache[T] {
	if store == nil {
		panic(fmt.Errorf("%w: store is nil", ErrInvalidOption))
	}
	cfg := store.cfg
	cfg.tags = nil
	cfg.typeName = typeNameOf[T]()
	if err := cfg.applyOptions(scopeCache, opts); err != nil {
		panic(fmt.Errorf("cache %q: %w", name, err))
	}
	c, err := newCache[T](store, name, cfg)
	if err != nil {
		panic(err)
	}
	return c
}

// newCache returns the cache name on store with the settings cfg.
func newCache[T any](store *Store, name string, cfg config) (*Cache[T], error) {
	if err := validName(name); err != nil {
		return nil, fmt.Errorf("%w: cache %w", ErrInvalidOption, err)
	}
	c := &Cache[T]{store: store, cfg: cfg}
	c.encode, c.decode = codecFuncs[T](cfg.codec)
	c.ec = &engine.Cache{Name: name, TypeHash: entry.NameHash(cfg.typeName), Codec: entry.NameHash(cfg.codec.Name()),
		Counters: store.e.Counters(name), Top: store.e.TopKeysFor(name, cfg.topKeys), Encode: c.encodeAny, Decode: c.decodeAny}
	if cfg.compressMin != NoCompression {
		c.ec.Compression, c.ec.CompressMin = compress.S2, cfg.compressMin
	}
	c.call = resolve(&cfg)
	c.call.TagSet(store.e) // built now: calls share c.call and never write to it
	return c, nil
}

func (c *Cache[T]) encodeAny(buf *bytes.Buffer, v any) error {
	t, _ := v.(T) // nil when T is an interface and v is nil
	return c.encode(buf, t)
}

func (c *Cache[T]) decodeAny(payload []byte, raw string) (any, error) { return c.decode(payload, raw) }

func resolve(cfg *config) engine.Call {
	return engine.Call{
		TTL: cfg.ttl, Jitter: cfg.jitter, NegativeTTL: cfg.negativeTTL, LoadTimeout: cfg.loadTimeout,
		SWR: cfg.swr, EarlyBeta: cfg.earlyBeta, Tags: engine.TagSet{Names: cfg.tags},
	}
}

// callConfig applies a call's options over the cache's settings.
func (c *Cache[T]) callConfig(opts []Option) (*engine.Call, error) {
	if len(opts) == 0 {
		return &c.call, nil
	}
	if call, ok := c.tagsOnly(opts); ok {
		return call, nil
	}
	// The config is large; reusing copies keeps calls with options from
	// allocating one each time.
	cfg := configPool.Get().(*config)
	defer configPool.Put(cfg)
	*cfg = c.cfg
	if err := cfg.applyOptions(scopeCall, opts); err != nil {
		return nil, err
	}
	call := resolve(cfg)
	*cfg = config{} // drop references before pooling
	return &call, nil
}

var configPool = sync.Pool{New: func() any { return new(config) }}

// tagsOnly resolves a call whose options are all WithTags (the common case)
// from the cache's settings without copying the whole configuration. ok is
// false when another option is present or a tag is invalid (the general path
// then reports it).
//
// The last configuration resolved this way is kept: callers that name the
// same tags call after call reuse it, version keys included, without
// allocating.
func (c *Cache[T]) tagsOnly(opts []Option) (*engine.Call, bool) {
	if last := c.lastTagged.Load(); last != nil && sameTags(last.Tags.Names, c.cfg.tags, opts) {
		return last, true
	}
	names := c.cfg.tags
	for _, o := range opts {
		tags, isTags := o.(*tagsOption)
		if !isTags || tags.validate() != nil {
			return nil, false
		}
		names = appendUnique(names, tags.names...)
	}
	if len(names) == len(c.call.Tags.Names) {
		return &c.call, true // nothing new
	}
	call := c.call
	call.Tags = c.store.e.TagSet(names)
	c.lastTagged.Store(&call)
	return &call, true
}

// sameTags reports whether appending the tags of opts (all of them valid
// WithTags options) to base, without repeats, gives exactly names.
func sameTags(names, base []string, opts []Option) bool {
	n := 0
	for _, t := range base {
		if n >= len(names) || names[n] != t {
			return false
		}
		n++
	}
	for _, o := range opts {
		tags, isTags := o.(*tagsOption)
		if !isTags {
			return false
		}
		for _, t := range tags.names {
			if slices.Contains(names[:n], t) {
				continue
			}
			if n >= len(names) || names[n] != t {
				return false
			}
			n++
		}
	}
	return n == len(names)
}

// Name returns the cache's name.
func (c *Cache[T]) Name() string { return c.ec.Name }

// Store returns the Store the cache lives in.
func (c *Cache[T]) Store() *Store { return c.store }

// StoreKey returns the "<cache>:<key>" form of key that Store.Delete takes.
func (c *Cache[T]) StoreKey(key string) string { return c.ec.Name + ":" + key }

func (c *Cache[T]) begin(key string, opts []Option) (string, *engine.Call, error) {
	if err := c.store.e.CheckOpen(); err != nil {
		return "", nil, err
	}
	call, err := c.callConfig(opts)
	if err != nil {
		return "", nil, err
	}
	rkey, err := c.store.e.Keys.Entry(c.ec.Name, key)
	return rkey, call, err
}

// readStart is where a read stands after its look in the local tier.
type readStart[T any] struct {
	rkey  string
	call  *engine.Call
	local bool // served by the local tier: value and err are the result
	value T
	err   error
}

// beginRead is begin for reads, with the look in the local tier; it fills
// rs, which the caller keeps on its stack (T may be large). When the call's
// options are only valid tags, a local hit is served before the options are
// resolved (it does not need them).
func (c *Cache[T]) beginRead(key string, opts []Option, rs *readStart[T]) (err error) {
	c.ec.Top.Observe(key)
	e := c.store.e
	if e.Local == nil || !onlyValidTags(opts) {
		rs.rkey, rs.call, err = c.begin(key, opts)
		if err == nil && e.Local != nil {
			if parts, ok := e.Keys.ParseEntry(rs.rkey); ok {
				c.localResult(rs, parts)
			}
		}
		return err
	}
	if err = e.CheckOpen(); err != nil {
		return err
	}
	parts, err := keyspace.EntryKey(c.ec.Name, key)
	if err != nil {
		return err
	}
	if c.localResult(rs, parts); rs.local {
		return nil
	}
	rs.rkey = e.Keys.Join(parts)
	rs.call, err = c.callConfig(opts)
	return err
}

func onlyValidTags(opts []Option) bool {
	for _, o := range opts {
		if tags, ok := o.(*tagsOption); !ok || tags.validate() != nil {
			return false
		}
	}
	return true
}

// fromLocal serves the entry key parts from the in-process tier into *v,
// counting the hit; le is the tier's entry (le.NotFound for a cached
// not-found, which leaves *v alone).
func (c *Cache[T]) fromLocal(parts keyspace.EntryParts, v *T) (le *local.Entry, ok bool) {
	le, ok = c.store.e.Local.Get(parts, c.ec.TypeHash)
	if !ok || !c.ec.Usable(le.NotFound, le.FreshUntil) {
		return nil, false
	}
	if !le.NotFound {
		if *v, ok = le.Value.(T); !ok {
			return nil, false
		}
	}
	c.ec.Counters.Hit(true)
	return le, true
}

// localResult fills rs from the local tier's look at parts.
func (c *Cache[T]) localResult(rs *readStart[T], parts keyspace.EntryParts) {
	var le *local.Entry
	if le, rs.local = c.fromLocal(parts, &rs.value); rs.local && le.NotFound {
		rs.err = ErrNotFound
	}
}

// hit turns the entry a read found into the caller's result, counts the hit
// and keeps the value in the local tier (unless an invalidation arrived
// since epoch). ok is false when the entry cannot be served: a payload that
// does not decode is dropped and counted, and the read is a miss.
func (c *Cache[T]) hit(ctx context.Context, rkey string, r *engine.Read, epoch uint64) (v T, ok bool, err error) {
	notFound := r.View.Kind == entry.KindNotFound
	if !c.ec.Usable(notFound, r.View.FreshUntil) {
		return v, false, nil
	}
	if notFound {
		err = ErrNotFound
	} else if v, err = c.decodeEntry(&r.View, r.Raw); err != nil {
		c.store.e.DropCorrupt(ctx, c.ec, rkey, r.Raw, err)
		return v, false, nil
	}
	c.ec.Counters.Hit(false)
	if c.store.e.Local != nil {
		c.store.e.RememberView(c.ec, rkey, &r.View, v, epoch)
	}
	return v, true, err
}

// Get returns the cached value of key. It returns an error matching
// ErrNotFound on a miss (including a cached not-found), and ErrUnavailable
// when Redis could not be asked in time; corrupt, foreign and invalidated
// entries are misses. Call options are accepted for symmetry; only WithTags
// matters (naming the tags up front saves a round trip on tagged entries).
func (c *Cache[T]) Get(ctx context.Context, key string, opts ...Option) (T, error) {
	if c.store.cfg.observer != nil {
		return observe(c.store, ctx, Operation{Kind: OpGet, Cache: c.ec.Name, Keys: []string{key}},
			func(ctx context.Context, out *Outcome) (T, error) { return c.get(ctx, key, opts, out) })
	}
	var out Outcome
	return c.get(ctx, key, opts, &out)
}

// get is Get, describing what it did in out.
func (c *Cache[T]) get(ctx context.Context, key string, opts []Option, out *Outcome) (T, error) {
	var zero T
	var rs readStart[T]
	if err := c.beginRead(key, opts, &rs); err != nil {
		return zero, err
	}
	if rs.local {
		out.Result, out.Layer = ResultHit, LayerLocal
		return rs.value, rs.err
	}
	e := c.store.e
	epoch := e.Local.EpochNow()
	r, err := e.Read(ctx, c.ec, rs.rkey, rs.call.TagSet(e))
	if err != nil {
		c.ec.Counters.Fail(metrics.OpRead)
		out.Result, out.RedisFailed = ResultError, true
		return zero, err
	}
	if r.Found == engine.FoundEntry {
		if v, ok, err := c.hit(ctx, rs.rkey, &r, epoch); ok {
			out.Result, out.Layer = ResultHit, LayerRedis
			return v, err
		}
	}
	c.ec.Counters.Miss()
	out.Result, out.Stale = ResultMiss, r.Found == engine.FoundStale
	return zero, fmt.Errorf("%w: %s", ErrNotFound, c.StoreKey(key))
}

// GetOrLoad returns the cached value of key, or calls loader, caches what it
// returns and returns it.
//
// Concurrent misses of one key in this process call loader once; every caller
// waits under its own ctx and leaves when it ends, while the shared load goes
// on, detached from any caller, under the load timeout (WithLoadTimeout). The
// load looks in the cache once more before calling loader. Loader errors reach
// every waiter and are not cached; ErrNotFound from the loader is cached only
// with WithNegativeTTL.
//
// With Redis down, slow or failing, GetOrLoad calls loader (still once per key
// across concurrent callers) and skips the cache write: it never returns
// ErrUnavailable. If the loader panics, every waiter panics with a
// *PanicError.
//
// Loads respect invalidation: a result whose tags (or key) were invalidated
// after the load took its snapshot is returned to the callers that were
// already waiting but never stored, and callers arriving after the
// invalidation start a new load.
func (c *Cache[T]) GetOrLoad(ctx context.Context, key string, loader func(context.Context) (T, error), opts ...Option) (T, error) {
	if c.store.cfg.observer != nil {
		return observe(c.store, ctx, Operation{Kind: OpGetOrLoad, Cache: c.ec.Name, Keys: []string{key}},
			func(ctx context.Context, out *Outcome) (T, error) { return c.getOrLoad(ctx, key, loader, opts, out) })
	}
	var out Outcome
	return c.getOrLoad(ctx, key, loader, opts, &out)
}

// getOrLoad is GetOrLoad, describing what it did in out.
func (c *Cache[T]) getOrLoad(ctx context.Context, key string, loader func(context.Context) (T, error), opts []Option, out *Outcome) (T, error) {
	var zero T
	if loader == nil {
		return zero, fmt.Errorf("%w: loader is nil", ErrInvalidOption)
	}
	var rs readStart[T]
	if err := c.beginRead(key, opts, &rs); err != nil {
		return zero, err
	}
	if rs.local {
		out.Result, out.Layer = ResultHit, LayerLocal
		return rs.value, rs.err
	}
	e := c.store.e
	epoch := e.Local.EpochNow()
	w := e.Arrive()
	r, rerr := e.Read(ctx, c.ec, rs.rkey, rs.call.TagSet(e))
	out.Stale = r.Found == engine.FoundStale
	if rerr == nil && r.Found == engine.FoundEntry {
		if v, ok, err := c.hit(ctx, rs.rkey, &r, epoch); ok {
			out.Result, out.Layer = ResultHit, LayerRedis
			if refresh, early := engine.NeedsRefresh(&r.View, rs.call, time.Now()); refresh {
				c.ec.Counters.Refresh(early)
				load := c.load(key, rs.rkey, rs.call, loader)
				load.RefreshGen = r.Gen
				e.Refresh(engine.RefreshKey(c.ec, rs.rkey, &r, rs.call), func() *engine.Outcome { return e.Run(ctx, load) })
			}
			return v, err
		}
	}
	if rerr != nil {
		if ctx.Err() != nil {
			return zero, ctx.Err()
		}
		c.ec.Counters.Fail(metrics.OpRead)
		w.ReadFailed()
		out.RedisFailed = true
	}
	load := c.load(key, rs.rkey, rs.call, loader)
	o, role, err := e.Share(ctx, engine.Join{
		Key:    engine.FlightKey(c.ec, rs.rkey, &r, len(rs.call.Tags.Names), rerr != nil),
		Waiter: w,
		Work:   func() *engine.Outcome { return e.Run(ctx, load) },
	})
	out.Result = ResultMiss
	if err != nil {
		c.ec.Counters.Miss()
		return zero, err
	}
	if o.Panic != nil {
		panic(&PanicError{Value: o.Panic.Value, Stack: o.Panic.Stack})
	}
	switch {
	case role == engine.Joined:
		c.ec.Counters.Dedup()
		out.Waited = WaitSharedLoad
	case o.LeaseWaited:
		out.Waited = WaitLease
	}
	if o.FromCache {
		c.ec.Counters.Hit(false)
		out.Result, out.Layer = ResultHit, LayerRedis
	} else {
		c.ec.Counters.Miss()
		out.Layer = LayerLoader
	}
	v, _ := o.Value.(T)
	return v, o.Err
}

// load is the shared load of a GetOrLoad miss.
func (c *Cache[T]) load(key, rkey string, call *engine.Call, loader func(context.Context) (T, error)) *engine.Load {
	l := &engine.Load{Cache: c.ec, RKey: rkey, Call: call,
		Loader: func(ctx context.Context) (any, error) { return loader(ctx) }}
	if c.store.cfg.observer != nil {
		l.Loader = func(ctx context.Context) (any, error) {
			return observe(c.store, ctx, Operation{Kind: OpLoad, Cache: c.ec.Name, Keys: []string{key}},
				func(ctx context.Context, _ *Outcome) (any, error) { return loader(ctx) })
		}
	}
	return l
}

// GetMany returns the cached values of keys in one round trip (MGET on a
// single server, one pipeline per node on a cluster; a second round trip only
// when entries carry tags the call did not name). Keys that are not cached,
// invalidated or cached as not-found are absent from the map. It returns
// ErrUnavailable when Redis could not be asked.
func (c *Cache[T]) GetMany(ctx context.Context, keys []string, opts ...Option) (map[string]T, error) {
	if c.store.cfg.observer != nil {
		return observe(c.store, ctx, Operation{Kind: OpGetMany, Cache: c.ec.Name, Keys: keys},
			func(ctx context.Context, out *Outcome) (map[string]T, error) { return c.getMany(ctx, keys, opts, out) })
	}
	var out Outcome
	return c.getMany(ctx, keys, opts, &out)
}

// getMany is GetMany, describing what it did in out.
func (c *Cache[T]) getMany(ctx context.Context, keys []string, opts []Option, out *Outcome) (map[string]T, error) {
	batch, err := c.readMany(ctx, keys, opts)
	batch.describe(out, err)
	if err != nil {
		return nil, err
	}
	for range batch.missing {
		c.ec.Counters.Miss()
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
	if c.store.cfg.observer != nil {
		return observe(c.store, ctx, Operation{Kind: OpGetManyOrLoad, Cache: c.ec.Name, Keys: keys},
			func(ctx context.Context, out *Outcome) (map[string]T, error) {
				return c.getManyOrLoad(ctx, keys, loader, opts, out)
			})
	}
	var out Outcome
	return c.getManyOrLoad(ctx, keys, loader, opts, &out)
}

// getManyOrLoad is GetManyOrLoad, describing what it did in out.
func (c *Cache[T]) getManyOrLoad(ctx context.Context, keys []string, loader func(ctx context.Context, missing []string) (map[string]T, error), opts []Option, out *Outcome) (map[string]T, error) {
	if loader == nil {
		return nil, fmt.Errorf("%w: loader is nil", ErrInvalidOption)
	}
	batch, err := c.readMany(ctx, keys, opts)
	batch.describe(out, err)
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
		c.ec.Counters.Miss()
	}

	e := c.store.e
	lctx, cancel := context.WithTimeout(ctx, batch.call.LoadTimeout)
	defer cancel()
	rkeys := make([]string, len(batch.missing))
	for i, k := range batch.missing {
		rkeys[i] = batch.rkeys[k]
	}
	var snap *engine.ManySnapshot
	if !readFailed {
		if snap, err = e.SnapshotMany(lctx, rkeys, batch.call.TagSet(e)); err != nil {
			c.ec.Counters.Fail(metrics.OpRead)
			readFailed = true
		}
	}
	start := time.Now()
	loaded, lerr := c.callManyLoader(lctx, loader, batch.missing)
	took := time.Since(start)
	c.ec.Counters.Load(took, engine.LoadResult(lerr))
	if lerr != nil {
		return batch.values, lerr
	}
	for k, v := range loaded {
		if _, asked := batch.rkeys[k]; asked {
			batch.values[k] = v
		}
	}
	if readFailed {
		c.ec.Counters.Skipped(metrics.SkipUnavailable)
		return batch.values, nil
	}
	ml := engine.ManyLoaded{Values: make([]any, len(rkeys)), Found: make([]bool, len(rkeys)), Took: took}
	for i, k := range batch.missing {
		var v T
		if v, ml.Found[i] = loaded[k]; ml.Found[i] {
			ml.Values[i] = v
		}
	}
	e.StoreMany(lctx, c.ec, batch.call, snap, ml)
	return batch.values, nil
}

// callManyLoader calls the loader of GetManyOrLoad, as an observed OpLoad
// when the Store has an observer.
func (c *Cache[T]) callManyLoader(ctx context.Context, loader func(ctx context.Context, missing []string) (map[string]T, error), missing []string) (map[string]T, error) {
	if c.store.cfg.observer == nil {
		return loader(ctx, missing)
	}
	return observe(c.store, ctx, Operation{Kind: OpLoad, Cache: c.ec.Name, Keys: missing},
		func(ctx context.Context, _ *Outcome) (map[string]T, error) { return loader(ctx, missing) })
}

// manyRead is what readMany found.
type manyRead[T any] struct {
	call    *engine.Call
	rkeys   map[string]string // key → Redis key
	values  map[string]T
	missing []string
}

// describe sets out from what readMany found and its error.
func (b *manyRead[T]) describe(out *Outcome, err error) {
	out.Hits, out.Misses = len(b.values), len(b.missing)
	switch {
	case err != nil:
		out.Result, out.RedisFailed = ResultError, true
	case len(b.missing) > 0:
		out.Result = ResultMiss
	default:
		out.Result = ResultHit
	}
}

func (c *Cache[T]) readMany(ctx context.Context, keys []string, opts []Option) (manyRead[T], error) {
	batch := manyRead[T]{values: make(map[string]T, len(keys)), rkeys: make(map[string]string, len(keys))}
	e := c.store.e
	if err := e.CheckOpen(); err != nil {
		return batch, err
	}
	call, err := c.callConfig(opts)
	if err != nil {
		return batch, err
	}
	batch.call = call
	unique := make([]string, 0, len(keys))
	rkeys := make([]string, 0, len(keys))
	for _, k := range keys {
		if _, dup := batch.rkeys[k]; dup {
			continue
		}
		rk, err := e.Keys.Entry(c.ec.Name, k)
		if err != nil {
			return batch, err
		}
		batch.rkeys[k] = rk
		unique = append(unique, k)
		rkeys = append(rkeys, rk)
		c.ec.Top.Observe(k)
	}
	epoch := e.Local.EpochNow()
	reads, err := e.ReadMany(ctx, c.ec, rkeys, call.TagSet(e))
	if err != nil {
		c.ec.Counters.Fail(metrics.OpRead)
		batch.missing = unique
		return batch, err
	}
	for i, k := range unique {
		if reads[i].Found == engine.FoundEntry {
			if v, ok, err := c.hit(ctx, rkeys[i], &reads[i], epoch); ok {
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

// Set stores value under key with the cache's TTL and tags, or those of the
// call's options. Tags get their current versions recorded, so a later
// InvalidateTags invalidates the entry. It returns ErrUnavailable when Redis
// failed or did not answer in time. A Set that timed out may still reach
// Redis afterwards (the command was sent), so after an error the entry holds
// either the old value or this one; follow a failed Set with Delete if the
// value must not appear late.
func (c *Cache[T]) Set(ctx context.Context, key string, value T, opts ...Option) error {
	if c.store.cfg.observer != nil {
		return observeErr(c.store, ctx, Operation{Kind: OpSet, Cache: c.ec.Name, Keys: []string{key}},
			func(ctx context.Context, _ *Outcome) error { return c.set(ctx, key, value, opts) })
	}
	return c.set(ctx, key, value, opts)
}

// set is Set.
func (c *Cache[T]) set(ctx context.Context, key string, value T, opts []Option) error {
	rkey, call, err := c.begin(key, opts)
	if err != nil {
		return err
	}
	e := c.store.e
	buf := backend.GetBuffer()
	if err := c.encode(buf, value); err != nil {
		backend.PutBuffer(buf)
		c.ec.Counters.Fail(metrics.OpEncode)
		return fmt.Errorf("cachefront: encoding %s: %w", c.StoreKey(key), err)
	}
	err = e.SetEntry(ctx, c.ec, rkey, buf.Bytes(), call)
	e.Backend.Reuse(buf, err)
	if err != nil {
		c.ec.Counters.Fail(metrics.OpWrite)
		return err
	}
	e.AnnounceSet(ctx, rkey)
	return nil
}

// Delete removes keys from the cache. A load of one of them that started
// before Delete cannot store its result afterwards, and a caller arriving
// after Delete never receives such a result.
func (c *Cache[T]) Delete(ctx context.Context, keys ...string) error {
	if c.store.cfg.observer != nil {
		return observeErr(c.store, ctx, Operation{Kind: OpDelete, Cache: c.ec.Name, Keys: keys},
			func(ctx context.Context, _ *Outcome) error { return c.delete(ctx, keys) })
	}
	return c.delete(ctx, keys)
}

// delete is Delete.
func (c *Cache[T]) delete(ctx context.Context, keys []string) error {
	e := c.store.e
	if err := e.CheckOpen(); err != nil {
		return err
	}
	rkeys := make([]string, 0, len(keys))
	for _, k := range keys {
		rk, err := e.Keys.Entry(c.ec.Name, k)
		if err != nil {
			return err
		}
		rkeys = append(rkeys, rk)
	}
	if len(rkeys) == 0 {
		return nil
	}
	return e.Delete(ctx, c.ec, rkeys)
}

// decodeEntry decodes the value of entry v, read in the Redis reply raw.
func (c *Cache[T]) decodeEntry(v *entry.View, raw string) (T, error) {
	opened, err := c.ec.Open(v, raw)
	if err != nil {
		var zero T
		return zero, err
	}
	value, err := c.decode(opened.Payload, opened.Raw)
	opened.Release()
	return value, err
}

// codecFuncs returns how a Cache[T] encodes and decodes with codec: for
// MsgpackCodec, straight into msgpack's pooled encoder without boxing.
func codecFuncs[T any](codec Codec) (func(*bytes.Buffer, T) error, func([]byte, string) (T, error)) {
	if _, ok := codec.(msgpackCodec); ok {
		return encodeMsgpack[T], decodeMsgpack[T]
	}
	encode := func(buf *bytes.Buffer, v T) error {
		b, err := codec.Marshal(v)
		buf.Write(b)
		return err
	}
	t := reflect.TypeFor[T]()
	decode := func(payload []byte, _ string) (T, error) {
		var v T
		if t.Kind() == reflect.Pointer {
			v = reflect.New(t.Elem()).Interface().(T)
			return v, codec.Unmarshal(payload, v)
		}
		return v, codec.Unmarshal(payload, &v)
	}
	return encode, decode
}

// encodeMsgpack encodes v into buf, which must be empty.
func encodeMsgpack[T any](buf *bytes.Buffer, v T) error {
	enc := msgpack.GetEncoder()
	enc.Reset(buf)
	err := enc.Encode(v)
	msgpack.PutEncoder(enc)
	return err
}

func decodeMsgpack[T any](payload []byte, _ string) (T, error) {
	var v T
	err := msgpack.Unmarshal(payload, &v)
	return v, err
}

// typeNameOf names T by package path and name, so that two caches that share
// a name but store different types never read each other's entries.
func typeNameOf[T any]() string {
	t := reflect.TypeFor[T]()
	if t.PkgPath() != "" && t.Name() != "" {
		return t.PkgPath() + "." + t.Name()
	}
	return t.String()
}
