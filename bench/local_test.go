package bench

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/vmihailenco/msgpack/v5"
)

// The in-process tiers side by side: cachefront's WithLocalCache (decoded
// values in otter, kept coherent by pub/sub events), go-redis/cache with its
// TinyLFU local cache (encoded bytes, no coherence between processes) and
// rueidis client-side caching (encoded replies, kept coherent by Redis
// client tracking). All run on go-redis's default client options where they
// use go-redis, and read the same Product.

// localPeerNames are the libraries with an in-process tier.
var localPeerNames = []string{"cachefront-local", "goredis-cache-tinylfu", "rueidis"}

var localPeers struct {
	mu sync.Mutex // guards m
	m  map[string]Peer
}

// localPeer returns the shared Peer of library name (one of localPeerNames,
// or "floor"), skipping tb when Redis does not answer.
func localPeer(tb testing.TB, name string) Peer {
	tb.Helper()
	switch name {
	case "floor", "cachefront-local":
		return peer(tb, name, "default")
	}
	rdb := client(tb, "default")
	localPeers.mu.Lock()
	defer localPeers.mu.Unlock()
	if p, ok := localPeers.m[name]; ok {
		return p
	}
	var p Peer
	switch name {
	case "goredis-cache-tinylfu":
		p = NewGoRedisCacheTinyLFU(rdb, "grclocalbench:")
	case "rueidis":
		r, err := NewRueidis(redisAddr(), "rueidisbench:")
		if err != nil {
			tb.Fatalf("rueidis: %v", err)
		}
		p = r
	default:
		tb.Fatalf("unknown library %q", name)
	}
	if localPeers.m == nil {
		localPeers.m = map[string]Peer{}
	}
	localPeers.m[name] = p
	return p
}

// servedLocally reports whether a read of id by p is now served from its
// in-process tier. The floor has none and is always ready.
func servedLocally(tb testing.TB, p Peer, id string) bool {
	tb.Helper()
	ctx := context.Background()
	switch p := p.(type) {
	case *Cachefront:
		before := p.Store().Stats().LocalHits
		if _, err := p.Get(ctx, id, hotTag); err != nil {
			tb.Fatal(err)
		}
		return p.Store().Stats().LocalHits > before
	case *GoRedisCacheTinyLFU:
		if _, err := p.Get(ctx, id, hotTag); err != nil {
			tb.Fatal(err)
		}
		_, ok := p.local.Get(p.Key(id))
		return ok
	case *Rueidis:
		res := p.c.DoCache(ctx, p.c.B().Get().Key(p.Key(id)).Cache(), LocalTTL)
		err := res.Error()
		if rueidis.IsRedisNil(err) {
			// A miss cached before the write: Redis's invalidation of it
			// arrives asynchronously.
			return false
		}
		if err != nil {
			tb.Fatal(err)
		}
		return res.IsCacheHit()
	}
	return true
}

// warmLocal stores the product under id in p and waits until reads of it
// are served in process: cachefront's tier serves nothing until its
// invalidation events are subscribed.
func warmLocal(tb testing.TB, p Peer, id string) {
	tb.Helper()
	product := SampleProduct()
	if err := p.Set(context.Background(), id, &product, hotTag); err != nil {
		tb.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !servedLocally(tb, p, id) {
		if time.Now().After(deadline) {
			tb.Fatalf("%s: reads of %s are still not served in process", p.Name(), id)
		}
		time.Sleep(time.Millisecond)
	}
}

// localHits returns the Redis and the in-process hits of a cachefront peer,
// to check that a benchmark's reads were all served in process.
func localHits(p Peer) (hits, local uint64, ok bool) {
	cf, ok := p.(*Cachefront)
	if !ok {
		return 0, 0, false
	}
	st := cf.Store().Stats()
	return st.Hits, st.LocalHits, true
}

// checkAllLocal fails b when a cachefront peer served any of the reads
// since the counts were taken from Redis.
func checkAllLocal(b *testing.B, p Peer, hits, local uint64) {
	b.Helper()
	h, l, ok := localHits(p)
	if ok && h-hits != l-local {
		b.Fatalf("%s: %d of %d hits came from Redis", p.Name(), (h-hits)-(l-local), h-hits)
	}
}

// TestLocalPeersAgree checks that every in-process tier round-trips the
// product and then serves it in process.
func TestLocalPeersAgree(t *testing.T) {
	want := SampleProduct()
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	for _, name := range localPeerNames {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			p := localPeer(t, name)
			id := "agree-local-" + run
			if _, err := p.Get(ctx, id, hotTag); !errors.Is(err, ErrMiss) {
				t.Fatalf("Get of a new key: %v, want ErrMiss", err)
			}
			warmLocal(t, p, id)
			for range 2 {
				got, err := p.Get(ctx, id, hotTag)
				if err != nil || !reflect.DeepEqual(got, want) {
					t.Fatalf("Get: %+v, %v", got, err)
				}
			}
		})
	}
}

// BenchmarkLocalHit is a hit served in process. lib=decode is msgpack
// decoding of the encoded product alone, the reference of the L1 target;
// lib=floor is a raw GET and decode, for scale. go-redis/cache's TinyLFU and
// rueidis keep encoded bytes, so each of their hits decodes; cachefront's
// tier keeps the decoded value.
func BenchmarkLocalHit(b *testing.B) {
	ctx := context.Background()
	product := SampleProduct()
	enc, err := msgpack.Marshal(&product)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("lib=decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var p Product
			if err := msgpack.Unmarshal(enc, &p); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, name := range append([]string{"floor"}, localPeerNames...) {
		b.Run("lib="+name, func(b *testing.B) {
			p := localPeer(b, name)
			warmLocal(b, p, "hot-l1")
			hits, local, _ := localHits(p)
			benchHits(b, func() (Product, error) { return p.Get(ctx, "hot-l1", hotTag) })
			checkAllLocal(b, p, hits, local)
		})
	}
}

// BenchmarkLocalParallelHotKey reads one hot key from 16 goroutines (8 per
// core) through each in-process tier and through the floor (raw GET and
// decode). ns/op is the wall time per read across all goroutines.
func BenchmarkLocalParallelHotKey(b *testing.B) {
	ctx := context.Background()
	for _, name := range append([]string{"floor"}, localPeerNames...) {
		b.Run("lib="+name, func(b *testing.B) {
			p := localPeer(b, name)
			warmLocal(b, p, "hot-l1-par")
			hits, local, _ := localHits(p)
			b.ReportAllocs()
			b.SetParallelism(8)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := p.Get(ctx, "hot-l1-par", hotTag); err != nil {
						b.Error(err)
						return
					}
				}
			})
			checkAllLocal(b, p, hits, local)
		})
	}
}

// BenchmarkPairedLocal times the in-process tiers against their references
// in the same iterations (as BenchmarkPaired does), reporting ref-ns/op,
// lib-ns/op and x-ref:
//
//	op=hit       a hit, against msgpack decoding of the encoded product
//	op=parallel  bursts of reads of one hot key by 16 goroutines, against
//	             the same bursts of raw GET and decode (x-ref below 0.1 is
//	             more than ten times the floor's throughput)
//
// Calls are timed in batches (10 decodes against 100 hits; bursts of 100
// floor reads against 2,000 hits per goroutine) so that neither the clock
// nor starting goroutines weighs on a call of 100 ns; every figure is per
// call.
func BenchmarkPairedLocal(b *testing.B) {
	ctx := context.Background()
	product := SampleProduct()
	enc, err := msgpack.Marshal(&product)
	if err != nil {
		b.Fatal(err)
	}
	decode := func() error { var p Product; return msgpack.Unmarshal(enc, &p) }
	b.Run("op=hit", func(b *testing.B) {
		for _, name := range localPeerNames {
			b.Run("lib="+name, func(b *testing.B) {
				p := localPeer(b, name)
				warmLocal(b, p, "hot-l1")
				hits, local, _ := localHits(p)
				pairedBatches(b, 1, 10, 100, decode,
					func() error { _, err := p.Get(ctx, "hot-l1", hotTag); return err })
				checkAllLocal(b, p, hits, local)
			})
		}
	})
	b.Run("op=parallel", func(b *testing.B) {
		floor := localPeer(b, "floor")
		if err := floor.Set(ctx, "hot-l1-par", &product, hotTag); err != nil {
			b.Fatal(err)
		}
		for _, name := range localPeerNames {
			b.Run("lib="+name, func(b *testing.B) {
				p := localPeer(b, name)
				warmLocal(b, p, "hot-l1-par")
				hits, local, _ := localHits(p)
				pairedBatches(b, 16, 100, 2000,
					func() error { _, err := floor.Get(ctx, "hot-l1-par", hotTag); return err },
					func() error { _, err := p.Get(ctx, "hot-l1-par", hotTag); return err })
				checkAllLocal(b, p, hits, local)
			})
		}
	})
}

// pairedBatches is paired and pairedParallel with batches of different
// sizes: every iteration runs refN calls of ref and libN calls of lib in
// each of g goroutines (in the benchmark's own when g is 1), alternating
// which batch goes first, and reports the wall time per call of each and
// their ratio, as ref-ns/op, lib-ns/op and x-ref.
func pairedBatches(b *testing.B, g, refN, libN int, ref, lib func() error) {
	b.Helper()
	batch := func(f func() error, n int) time.Duration {
		if g == 1 {
			start := time.Now()
			for range n {
				if err := f(); err != nil {
					b.Fatal(err)
				}
			}
			return time.Since(start)
		}
		return burst(b, g, n, f)
	}
	var refD, libD time.Duration
	n := 0
	for b.Loop() {
		if n%2 == 0 {
			refD += batch(ref, refN)
			libD += batch(lib, libN)
		} else {
			libD += batch(lib, libN)
			refD += batch(ref, refN)
		}
		n++
	}
	if n == 0 || refD == 0 {
		return
	}
	refNs := float64(refD.Nanoseconds()) / float64(n*g*refN)
	libNs := float64(libD.Nanoseconds()) / float64(n*g*libN)
	b.ReportMetric(refNs, "ref-ns/op")
	b.ReportMetric(libNs, "lib-ns/op")
	b.ReportMetric(libNs/refNs, "x-ref")
}
