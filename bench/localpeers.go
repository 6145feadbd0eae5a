package bench

import (
	"context"
	"time"

	grcache "github.com/go-redis/cache/v9"
	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
	"github.com/vmihailenco/msgpack/v5"
)

// The in-process tiers cachefront's WithLocalCache is compared with. Both
// keep the encoded value and decode it on every hit; cachefront keeps the
// decoded value.

// LocalSize and LocalTTL bound every in-process tier in the benchmarks.
const (
	LocalSize = 10_000
	LocalTTL  = time.Minute
)

// GoRedisCacheTinyLFU drives go-redis/cache with its TinyLFU local cache
// (Options.LocalCache: cache.NewTinyLFU(LocalSize, LocalTTL)), which keeps
// the encoded (s2-compressed) bytes in process and decodes them on every
// hit. It has no invalidation between processes and no tags.
type GoRedisCacheTinyLFU struct {
	*GoRedisCache
	local *grcache.TinyLFU
}

// NewGoRedisCacheTinyLFU returns a go-redis/cache peer with a TinyLFU local
// cache, writing keys under prefix.
func NewGoRedisCacheTinyLFU(rdb redis.UniversalClient, prefix string) *GoRedisCacheTinyLFU {
	local := grcache.NewTinyLFU(LocalSize, LocalTTL)
	c := grcache.New(&grcache.Options{Redis: rdb, LocalCache: local})
	return &GoRedisCacheTinyLFU{&GoRedisCache{c: c, prefix: prefix}, local}
}

// Name implements Peer.
func (g *GoRedisCacheTinyLFU) Name() string { return "goredis-cache-tinylfu" }

// Rueidis drives github.com/redis/rueidis with server-assisted client-side
// caching: reads are DoCache of a GET with LocalTTL, which Redis 6+ keeps
// coherent through RESP3 client tracking; the cached reply is decoded on
// every hit. Writes are a SET with TTL. It has no tags; GetOrLoad is get,
// load on a miss, set, with no deduplication.
type Rueidis struct {
	c      rueidis.Client
	prefix string
}

// NewRueidis connects a rueidis client with client-side caching to addr,
// writing keys under prefix.
func NewRueidis(addr, prefix string) (*Rueidis, error) {
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}})
	if err != nil {
		return nil, err
	}
	return &Rueidis{c: c, prefix: prefix}, nil
}

// Name implements Peer.
func (r *Rueidis) Name() string { return "rueidis" }

// Key implements Peer.
func (r *Rueidis) Key(id string) string { return r.prefix + id }

// Close implements Peer.
func (r *Rueidis) Close() error { r.c.Close(); return nil }

// InvalidateTag implements Peer.
func (r *Rueidis) InvalidateTag(context.Context, string) error { return ErrUnsupported }

// Set implements Peer.
func (r *Rueidis) Set(ctx context.Context, id string, p *Product, _ string) error {
	b, err := msgpack.Marshal(p)
	if err != nil {
		return err
	}
	return r.c.Do(ctx, r.c.B().Set().Key(r.prefix+id).Value(rueidis.BinaryString(b)).Ex(TTL).Build()).Error()
}

// Get implements Peer.
func (r *Rueidis) Get(ctx context.Context, id, _ string) (Product, error) {
	var p Product
	s, err := r.c.DoCache(ctx, r.c.B().Get().Key(r.prefix+id).Cache(), LocalTTL).ToString()
	if rueidis.IsRedisNil(err) {
		return p, ErrMiss
	}
	if err != nil {
		return p, err
	}
	err = msgpack.Unmarshal(bytesOf(s), &p)
	return p, err
}

// GetOrLoad implements Peer.
func (r *Rueidis) GetOrLoad(ctx context.Context, id, tag string, load func(context.Context) (Product, error)) (Product, error) {
	p, err := r.Get(ctx, id, tag)
	if err != ErrMiss {
		return p, err
	}
	if p, err = load(ctx); err != nil {
		return p, err
	}
	return p, r.Set(ctx, id, &p, tag)
}
