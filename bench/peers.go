package bench

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unsafe"

	"github.com/cachefront/cachefront"
	gocache "github.com/eko/gocache/lib/v4/cache"
	"github.com/eko/gocache/lib/v4/marshaler"
	ekostore "github.com/eko/gocache/lib/v4/store"
	ekoredis "github.com/eko/gocache/store/redis/v4"
	grcache "github.com/go-redis/cache/v9"
	"github.com/redis/go-redis/v9"
	"github.com/vmihailenco/msgpack/v5"
)

// TTL is the lifetime of every entry and eko tag index the benchmarks write,
// so that nothing they leave in Redis outlives them for long.
const TTL = 10 * time.Minute

// TagTTL is the lifetime of cachefront's tag version keys. It must outlast a
// whole run: a version key lives TagTTL from its creation or its last
// invalidation, however often entries are written under it, and when it
// expires every entry carrying the tag becomes a miss at once.
const TagTTL = time.Hour

// ErrUnsupported is returned by a Peer for an operation its library does not
// have (go-redis/cache has no tags).
var ErrUnsupported = errors.New("bench: not supported by this library")

// ErrMiss is returned by a Peer's Get when the key is not cached.
var ErrMiss = errors.New("bench: cache miss")

// Peer is one library doing the benchmarked work. Implementations are safe
// for concurrent use. An empty tag means none.
type Peer interface {
	// Name labels the library in benchmark names.
	Name() string
	// Key returns the Redis key, or the library's key, for id.
	Key(id string) string
	// Set stores p under id with TTL, tagged with tag.
	Set(ctx context.Context, id string, p *Product, tag string) error
	// Get returns the cached product; a library that checks tags on reads is
	// told the entry's tag so that it checks it.
	Get(ctx context.Context, id, tag string) (Product, error)
	// GetOrLoad returns the cached product or loads, stores and returns it,
	// deduplicating concurrent loads where the library does.
	GetOrLoad(ctx context.Context, id, tag string, load func(context.Context) (Product, error)) (Product, error)
	// InvalidateTag invalidates every entry tagged with tag.
	InvalidateTag(ctx context.Context, tag string) error
	// Close releases what the peer started (never the Redis client).
	Close() error
}

// bytesOf views s as bytes without copying; the decoder copies what it keeps.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// Floor is raw go-redis with msgpack: GET and decode, encode and SET. Its
// reads are the least work any Redis cache can do per hit: one GET, the reply
// decoded without an extra copy. GetOrLoad is the naive get, load on a miss,
// set, with no deduplication; it has no tags.
type Floor struct {
	rdb    redis.UniversalClient
	prefix string
}

// NewFloor returns the raw go-redis baseline writing keys under prefix.
func NewFloor(rdb redis.UniversalClient, prefix string) *Floor {
	return &Floor{rdb: rdb, prefix: prefix}
}

// Name implements Peer.
func (f *Floor) Name() string { return "floor" }

// Key implements Peer.
func (f *Floor) Key(id string) string { return f.prefix + id }

// Close implements Peer.
func (f *Floor) Close() error { return nil }

// InvalidateTag implements Peer.
func (f *Floor) InvalidateTag(context.Context, string) error { return ErrUnsupported }

// Set implements Peer.
func (f *Floor) Set(ctx context.Context, id string, p *Product, _ string) error {
	b, err := msgpack.Marshal(p)
	if err != nil {
		return err
	}
	return f.rdb.Set(ctx, f.prefix+id, b, TTL).Err()
}

// Get implements Peer.
func (f *Floor) Get(ctx context.Context, id, _ string) (Product, error) {
	var p Product
	s, err := f.rdb.Get(ctx, f.prefix+id).Result()
	if err == redis.Nil {
		return p, ErrMiss
	}
	if err != nil {
		return p, err
	}
	err = msgpack.Unmarshal(bytesOf(s), &p)
	return p, err
}

// GetOrLoad implements Peer.
func (f *Floor) GetOrLoad(ctx context.Context, id, tag string, load func(context.Context) (Product, error)) (Product, error) {
	p, err := f.Get(ctx, id, tag)
	if err != ErrMiss {
		return p, err
	}
	if p, err = load(ctx); err != nil {
		return p, err
	}
	return p, f.Set(ctx, id, &p, tag)
}

// Cachefront drives a cachefront Cache[Product]. Reads name the entry's tag
// (WithTags per call), which lets cachefront check the tag's version in the
// same round trip as the entry.
type Cachefront struct {
	name  string
	store *cachefront.Store
	cache *cachefront.Cache[Product]
}

// OperationTimeout is the cachefront Store's bound on each Redis operation
// in the benchmarks. The default, 250ms, is tight for a small machine that
// also runs redis-server and other work: 16 goroutines reading at once there
// now and then all wait longer than that, and the Store, as designed, opens
// its circuit breaker and fails open, which ends a benchmark that counts
// hits. How long the bound is does not change what enforcing it costs.
const OperationTimeout = 2 * time.Second

// NewCachefront returns a cachefront peer called name on a Store of
// namespace ns, with the Store options opts added to the benchmarks' own.
func NewCachefront(rdb redis.UniversalClient, name, ns string, opts ...cachefront.Option) *Cachefront {
	opts = append([]cachefront.Option{cachefront.WithNamespace(ns), cachefront.WithTagTTL(TagTTL),
		cachefront.WithOperationTimeout(OperationTimeout)}, opts...)
	store := cachefront.NewStore(rdb, opts...)
	return &Cachefront{name: name, store: store, cache: cachefront.New[Product](store, "products", cachefront.WithTTL(TTL))}
}

// Store returns the peer's Store.
func (c *Cachefront) Store() *cachefront.Store { return c.store }

// Cache returns the peer's typed cache.
func (c *Cachefront) Cache() *cachefront.Cache[Product] { return c.cache }

// Name implements Peer.
func (c *Cachefront) Name() string { return c.name }

// Key implements Peer.
func (c *Cachefront) Key(id string) string { return c.store.Namespace() + ":" + c.cache.StoreKey(id) }

// Close implements Peer.
func (c *Cachefront) Close() error { return c.store.Close() }

// Set implements Peer.
func (c *Cachefront) Set(ctx context.Context, id string, p *Product, tag string) error {
	if tag == "" {
		return c.cache.Set(ctx, id, *p)
	}
	return c.cache.Set(ctx, id, *p, cachefront.WithTags(tag))
}

// Get implements Peer.
func (c *Cachefront) Get(ctx context.Context, id, tag string) (Product, error) {
	var (
		p   Product
		err error
	)
	if tag == "" {
		p, err = c.cache.Get(ctx, id)
	} else {
		p, err = c.cache.Get(ctx, id, cachefront.WithTags(tag))
	}
	if errors.Is(err, cachefront.ErrNotFound) {
		return p, ErrMiss
	}
	return p, err
}

// GetOrLoad implements Peer.
func (c *Cachefront) GetOrLoad(ctx context.Context, id, tag string, load func(context.Context) (Product, error)) (Product, error) {
	if tag == "" {
		return c.cache.GetOrLoad(ctx, id, load)
	}
	return c.cache.GetOrLoad(ctx, id, load, cachefront.WithTags(tag))
}

// InvalidateTag implements Peer.
func (c *Cachefront) InvalidateTag(ctx context.Context, tag string) error {
	return c.store.InvalidateTags(ctx, tag)
}

// GoRedisCache drives github.com/go-redis/cache/v9 with its defaults (msgpack,
// s2 compression of values over 64 bytes, no local cache). It has no tags:
// tagged operations ignore the tag, InvalidateTag is ErrUnsupported.
// GetOrLoad is its Once, which deduplicates concurrent loads in process.
type GoRedisCache struct {
	c      *grcache.Cache
	prefix string
}

// NewGoRedisCache returns a go-redis/cache peer writing keys under prefix.
func NewGoRedisCache(rdb redis.UniversalClient, prefix string) *GoRedisCache {
	return &GoRedisCache{c: grcache.New(&grcache.Options{Redis: rdb}), prefix: prefix}
}

// Name implements Peer.
func (g *GoRedisCache) Name() string { return "goredis-cache" }

// Key implements Peer.
func (g *GoRedisCache) Key(id string) string { return g.prefix + id }

// Close implements Peer.
func (g *GoRedisCache) Close() error { return nil }

// InvalidateTag implements Peer.
func (g *GoRedisCache) InvalidateTag(context.Context, string) error { return ErrUnsupported }

// Set implements Peer.
func (g *GoRedisCache) Set(ctx context.Context, id string, p *Product, _ string) error {
	return g.c.Set(&grcache.Item{Ctx: ctx, Key: g.prefix + id, Value: p, TTL: TTL})
}

// Get implements Peer.
func (g *GoRedisCache) Get(ctx context.Context, id, _ string) (Product, error) {
	var p Product
	err := g.c.Get(ctx, g.prefix+id, &p)
	if err == grcache.ErrCacheMiss {
		return p, ErrMiss
	}
	return p, err
}

// GetOrLoad implements Peer.
func (g *GoRedisCache) GetOrLoad(ctx context.Context, id, _ string, load func(context.Context) (Product, error)) (Product, error) {
	var p Product
	err := g.c.Once(&grcache.Item{
		Ctx: ctx, Key: g.prefix + id, Value: &p, TTL: TTL,
		Do: func(it *grcache.Item) (any, error) { return load(it.Context()) },
	})
	return p, err
}

// Eko drives github.com/eko/gocache/lib/v4 over its Redis store
// (github.com/eko/gocache/store/redis/v4): Get and Set through its msgpack
// Marshaler, GetOrLoad through a LoadableCache (which deduplicates concurrent
// loads in process and writes loaded values asynchronously). Tags are its
// per-tag index sets; reads do not check them, invalidation deletes the
// indexed keys.
type Eko struct {
	m        *marshaler.Marshaler
	loadable *gocache.LoadableCache[any]
	prefix   string
}

type ekoLoaderKey struct{}

// NewEko returns an eko/gocache peer writing keys under prefix.
func NewEko(rdb *redis.Client, prefix string) *Eko {
	st := ekoredis.NewRedis(rdb, ekostore.WithExpiration(TTL), ekostore.WithTagsTTL(TTL))
	e := &Eko{m: marshaler.New(gocache.New[any](st)), prefix: prefix}
	// A LoadableCache has one load function; the call's loader reaches it
	// through the context of the call that runs it.
	e.loadable = gocache.NewLoadable[any](func(ctx context.Context, _ any) (any, []ekostore.Option, error) {
		ld := ctx.Value(ekoLoaderKey{}).(*ekoLoad)
		p, err := ld.load(ctx)
		if err != nil {
			return nil, nil, err
		}
		b, err := msgpack.Marshal(&p)
		if err != nil {
			return nil, nil, err
		}
		var opts []ekostore.Option
		if ld.tag != "" {
			opts = append(opts, ekostore.WithTags([]string{ld.tag}))
		}
		return b, opts, nil
	}, gocache.New[any](st))
	return e
}

type ekoLoad struct {
	tag  string
	load func(context.Context) (Product, error)
}

// Name implements Peer.
func (e *Eko) Name() string { return "eko" }

// Key implements Peer.
func (e *Eko) Key(id string) string { return e.prefix + id }

// Close implements Peer.
func (e *Eko) Close() error { return e.loadable.Close() }

// Set implements Peer.
func (e *Eko) Set(ctx context.Context, id string, p *Product, tag string) error {
	if tag == "" {
		return e.m.Set(ctx, e.prefix+id, p)
	}
	return e.m.Set(ctx, e.prefix+id, p, ekostore.WithTags([]string{tag}))
}

// Get implements Peer.
func (e *Eko) Get(ctx context.Context, id, _ string) (Product, error) {
	var p Product
	_, err := e.m.Get(ctx, e.prefix+id, &p)
	if err != nil && errors.Is(err, ekostore.NotFound{}) {
		return p, ErrMiss
	}
	return p, err
}

// GetOrLoad implements Peer.
func (e *Eko) GetOrLoad(ctx context.Context, id, tag string, load func(context.Context) (Product, error)) (Product, error) {
	var p Product
	v, err := e.loadable.Get(context.WithValue(ctx, ekoLoaderKey{}, &ekoLoad{tag: tag, load: load}), e.prefix+id)
	if err != nil {
		return p, err
	}
	switch b := v.(type) {
	case string:
		err = msgpack.Unmarshal(bytesOf(b), &p)
	case []byte:
		err = msgpack.Unmarshal(b, &p)
	default:
		err = fmt.Errorf("bench: eko returned a %T", v)
	}
	return p, err
}

// InvalidateTag implements Peer.
func (e *Eko) InvalidateTag(ctx context.Context, tag string) error {
	return e.m.Invalidate(ctx, ekostore.WithInvalidateTags([]string{tag}))
}
