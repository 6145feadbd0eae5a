package cachefront

import (
	"bytes"
	"context"
	"fmt"
	"hash/fnv"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachefront/cachefront/internal/backend"
	"github.com/cachefront/cachefront/internal/entry"
	"github.com/cachefront/cachefront/internal/keyspace"
	"github.com/cachefront/cachefront/internal/local"
	"github.com/cachefront/cachefront/internal/metrics"
	"github.com/cachefront/cachefront/internal/topkeys"
	"github.com/vmihailenco/msgpack/v5"
)

// Cache is a typed view of a Store: values of type T under one name. Create
// it once with New and share it; it is safe for concurrent use.
type Cache[T any] struct {
	store    *Store
	name     string
	cfg      config
	call     callConfig // the cache's own settings, used by calls without options
	typeHash uint32
	cc       *metrics.Counters
	top      *topkeys.Counter // WithTopKeys; nil when off
	// lastTagged is the configuration of the last call whose options were
	// only tags beyond the cache's own (see tagsOnly).
	lastTagged atomic.Pointer[callConfig]
}

// callConfig is the resolved configuration of one call.
type callConfig struct {
	ttl         time.Duration
	jitter      float64
	negativeTTL time.Duration
	loadTimeout time.Duration
	swr         time.Duration
	earlyBeta   float64
	tags        tagSet
}

// New returns a typed cache named name on store. The name separates key
// spaces and labels metrics: letters, digits, '_', '-' and '.'. Options
// (WithTTL, WithTags, WithNegativeTTL, …) set the cache's defaults over the
// Store's.
//
// Like NewStore, New panics with an error wrapping ErrInvalidOption on an
// invalid name or option.
func New[T any](store *Store, name string, opts ...Option) *Cache[T] {
	c, err := newCache[T](store, name, opts)
	if err != nil {
		panic(err)
	}
	return c
}

func newCache[T any](store *Store, name string, opts []Option) (*Cache[T], error) {
	if store == nil {
		return nil, fmt.Errorf("%w: store is nil", ErrInvalidOption)
	}
	if err := validName(name); err != nil {
		return nil, fmt.Errorf("%w: cache %w", ErrInvalidOption, err)
	}
	cfg := store.cfg
	cfg.tags = nil
	cfg.typeName = typeNameOf[T]()
	if err := cfg.applyOptions(scopeCache, opts); err != nil {
		return nil, fmt.Errorf("cache %q: %w", name, err)
	}
	c := &Cache[T]{store: store, name: name, cfg: cfg, typeHash: hashTypeName(cfg.typeName), cc: store.countersFor(name),
		top: store.topKeysFor(name, cfg.topKeys)}
	c.call = c.resolve(&cfg)
	c.call.tagSet(store)
	return c, nil
}

func (c *Cache[T]) resolve(cfg *config) callConfig {
	return callConfig{
		ttl: cfg.ttl, jitter: cfg.jitter, negativeTTL: cfg.negativeTTL, loadTimeout: cfg.loadTimeout,
		swr: cfg.swr, earlyBeta: cfg.earlyBeta, tags: tagSet{names: cfg.tags},
	}
}

// tagSet returns the call's tags with their version keys, built on first
// use: a hit from the local tier never needs them. The cache's own
// callConfig has them built once, in New, and is never modified here.
func (cc *callConfig) tagSet(s *Store) tagSet {
	if cc.tags.keys == nil && len(cc.tags.names) > 0 {
		cc.tags = s.tagSet(cc.tags.names)
	}
	return cc.tags
}

// callConfig applies a call's options over the cache's settings.
func (c *Cache[T]) callConfig(opts []Option) (*callConfig, error) {
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
	cc := c.resolve(cfg)
	*cfg = config{} // drop references before pooling
	return &cc, nil
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
func (c *Cache[T]) tagsOnly(opts []Option) (*callConfig, bool) {
	if last := c.lastTagged.Load(); last != nil && sameTags(last.tags.names, c.cfg.tags, opts) {
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
	if len(names) == len(c.call.tags.names) {
		return &c.call, true // nothing new
	}
	call := c.call
	call.tags = c.store.tagSet(names)
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
func (c *Cache[T]) Name() string { return c.name }

// Store returns the Store the cache lives in.
func (c *Cache[T]) Store() *Store { return c.store }

// StoreKey returns the "<cache>:<key>" form of key that Store.Delete takes.
func (c *Cache[T]) StoreKey(key string) string { return c.name + ":" + key }

func (c *Cache[T]) begin(key string, opts []Option) (string, *callConfig, error) {
	if err := c.store.checkOpen(); err != nil {
		return "", nil, err
	}
	call, err := c.callConfig(opts)
	if err != nil {
		return "", nil, err
	}
	rkey, err := c.store.keys.Entry(c.name, key)
	return rkey, call, err
}

// beginRead is begin for reads: when the Store has a local tier and the
// call's options are only valid tags, a local hit is served before the
// options are resolved (it does not need them). local reports that hit.
func (c *Cache[T]) beginRead(key string, opts []Option) (rkey string, call *callConfig, v T, lerr error, local bool, err error) {
	c.top.Observe(key)
	if c.store.local != nil && onlyValidTags(opts) {
		if err = c.store.checkOpen(); err != nil {
			return
		}
		var parts keyspace.EntryParts
		if parts, err = keyspace.EntryKey(c.name, key); err != nil {
			return
		}
		if v, lerr, local = c.fromLocalParts(parts); local {
			return
		}
		rkey = c.store.keys.Join(parts)
		call, err = c.callConfig(opts)
		return
	}
	if rkey, call, err = c.begin(key, opts); err != nil {
		return
	}
	v, lerr, local = c.fromLocal(rkey)
	return
}

func onlyValidTags(opts []Option) bool {
	for _, o := range opts {
		if tags, ok := o.(*tagsOption); !ok || tags.validate() != nil {
			return false
		}
	}
	return true
}

// Get returns the cached value of key. It returns an error matching
// ErrNotFound on a miss (including a cached not-found), and ErrUnavailable
// when Redis could not be asked in time; corrupt, foreign and invalidated
// entries are misses. Call options are accepted for symmetry; only WithTags
// matters (naming the tags up front saves a round trip on tagged entries).
func (c *Cache[T]) Get(ctx context.Context, key string, opts ...Option) (T, error) {
	var zero T
	rkey, call, v, lerr, local, err := c.beginRead(key, opts)
	if err != nil {
		return zero, err
	}
	if local {
		return v, lerr
	}
	epoch := c.store.local.EpochNow()
	r, err := c.store.read(ctx, c.cc, rkey, call.tagSet(c.store), c.typeHash)
	if err != nil {
		c.cc.Fail(metrics.OpRead)
		return zero, err
	}
	if r.found == foundEntry {
		if v, err, ok := c.decode(ctx, rkey, &r); ok {
			c.cc.Hit(false)
			c.remember(rkey, &r.view, v, err, epoch)
			return v, err
		}
	}
	c.cc.Miss()
	return zero, fmt.Errorf("%w: %s", ErrNotFound, c.StoreKey(key))
}

// decode turns a found entry into the caller's result. ok is false when the
// payload does not decode: the entry is dropped and counted, and the read is
// a miss.
func (c *Cache[T]) decode(ctx context.Context, rkey string, r *readResult) (v T, err error, ok bool) {
	if r.view.Kind == entry.KindNotFound {
		return v, ErrNotFound, true
	}
	v, derr := decodeValue[T](r.view.Payload)
	if derr != nil {
		c.store.dropCorrupt(ctx, c.cc, rkey, r.raw, derr)
		return v, nil, false
	}
	return v, nil, true
}

// Set stores value under key with the cache's TTL and tags, or those of the
// call's options. Tags get their current versions recorded, so a later
// InvalidateTags invalidates the entry. It returns ErrUnavailable when Redis
// failed or did not answer in time. A Set that timed out may still reach
// Redis afterwards (the command was sent), so after an error the entry holds
// either the old value or this one; follow a failed Set with Delete if the
// value must not appear late.
func (c *Cache[T]) Set(ctx context.Context, key string, value T, opts ...Option) error {
	rkey, call, err := c.begin(key, opts)
	if err != nil {
		return err
	}
	buf := backend.GetBuffer()
	if err := encodeValueInto(buf, value); err != nil {
		backend.PutBuffer(buf)
		c.cc.Fail(metrics.OpEncode)
		return fmt.Errorf("cachefront: encoding %s: %w", c.StoreKey(key), err)
	}
	payload := buf.Bytes()
	ttl := jittered(call.ttl, call.jitter)
	now := time.Now()
	h := entry.Header{
		Gen: entry.NewGen(), Kind: entry.KindValue, Created: now.UnixMilli(),
		FreshUntil: now.Add(ttl).UnixMilli(), TypeHash: c.typeHash,
	}
	err = c.store.setEntry(ctx, rkey, &h, payload, call.tagSet(c.store), ttl+call.swr)
	c.store.be.Reuse(buf, err)
	if err != nil {
		c.cc.Fail(metrics.OpWrite)
		return err
	}
	c.store.announceSet(ctx, rkey)
	return nil
}

// Delete removes keys from the cache. A load of one of them that started
// before Delete cannot store its result afterwards, and a caller arriving
// after Delete never receives such a result.
func (c *Cache[T]) Delete(ctx context.Context, keys ...string) error {
	if err := c.store.checkOpen(); err != nil {
		return err
	}
	rkeys := make([]string, 0, len(keys))
	for _, k := range keys {
		rk, err := c.store.keys.Entry(c.name, k)
		if err != nil {
			return err
		}
		rkeys = append(rkeys, rk)
	}
	if len(rkeys) == 0 {
		return nil
	}
	if err := c.store.deleteEntries(ctx, rkeys); err != nil {
		c.cc.Fail(metrics.OpDelete)
		c.store.queuePending(pendingDelete, rkeys)
		return err
	}
	return nil
}

// fromLocal serves the entry key rkey from the in-process tier, counting the
// hit.
func (c *Cache[T]) fromLocal(rkey string) (v T, err error, ok bool) {
	if c.store.local == nil {
		return v, nil, false
	}
	parts, ok := c.store.keys.ParseEntry(rkey)
	if !ok {
		return v, nil, false
	}
	return c.fromLocalParts(parts)
}

// fromLocalParts is fromLocal for an entry key in parts.
func (c *Cache[T]) fromLocalParts(parts keyspace.EntryParts) (v T, err error, ok bool) {
	e, ok := c.store.local.Get(parts, c.typeHash)
	if !ok {
		return v, nil, false
	}
	c.cc.Hit(true)
	if e.NotFound {
		return v, ErrNotFound, true
	}
	v, ok = e.Value.(T)
	return v, nil, ok
}

// remember puts a value read or loaded from Redis in the in-process tier,
// unless an invalidation arrived since epoch was taken.
func (c *Cache[T]) remember(rkey string, h *entry.View, v T, err error, epoch uint64) {
	if c.store.local == nil {
		return
	}
	c.rememberTagged(rkey, h.TagNames(), h.Created, h.FreshUntil, v, err, epoch)
}

func (c *Cache[T]) rememberTagged(rkey string, tags []string, created, freshUntil int64, v T, err error, epoch uint64) {
	if c.store.local == nil {
		return
	}
	e := &local.Entry{Value: v, NotFound: err != nil, TypeHash: c.typeHash, Tags: tags, Created: created}
	c.store.local.Put(rkey, e, epoch, freshUntil)
}

// rememberStored puts a value this process just stored in the local tier.
func (c *Cache[T]) rememberStored(rkey string, h *entry.Header, v T, err error, epoch uint64) {
	if c.store.local == nil || h == nil {
		return
	}
	names := make([]string, len(h.Tags))
	for i, t := range h.Tags {
		names[i] = t.Name
	}
	c.rememberTagged(rkey, names, h.Created, h.FreshUntil, v, err, epoch)
}

// Values are encoded with msgpack: compact, fast, and tolerant of fields
// added or removed between versions of a struct.

func encodeValue[T any](v T) ([]byte, error) { return msgpack.Marshal(v) }

func decodeValue[T any](b []byte) (T, error) {
	var v T
	err := msgpack.Unmarshal(b, &v)
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

func hashTypeName(name string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(name))
	return h.Sum32()
}

// encodeValueInto encodes v into buf, which must be empty.
func encodeValueInto[T any](buf *bytes.Buffer, v T) error {
	enc := msgpack.GetEncoder()
	enc.Reset(buf)
	err := enc.Encode(v)
	msgpack.PutEncoder(enc)
	return err
}
