package bench

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachefront/cachefront"
	"github.com/redis/go-redis/v9"
	"github.com/vmihailenco/msgpack/v5"
)

// hotTag is the tag on the entries read by the hit benchmarks: a product's
// category, as examples/productapi tags them.
const hotTag = "bench-category:172541"

// BenchmarkRoundTrip is one GET with no decoding: the reference for
// operations that are one round trip whatever they do (InvalidateTags).
// value=small reads a 2-byte value, value=product the encoded product.
func BenchmarkRoundTrip(b *testing.B) {
	ctx := context.Background()
	rdb := client(b, "default")
	prod, err := msgpack.Marshal(SampleProduct())
	if err != nil {
		b.Fatal(err)
	}
	for _, v := range []struct {
		name string
		val  []byte
	}{{"small", []byte("42")}, {"product", prod}} {
		b.Run("value="+v.name, func(b *testing.B) {
			key := "floorbench:rt-" + v.name
			if err := rdb.Set(ctx, key, v.val, TTL).Err(); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := rdb.Get(ctx, key).Err(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGet is a cache hit on a tagged entry. lib=floor is a raw GET and
// msgpack decode. lib=cachefront names the tag (WithTags on the call), so the
// tag's version is checked in the same round trip. The peers do not check
// tags on reads. The cachefront variants show what else a hit can cost:
// cachefront-cachetags has the tag as the cache's default (no per-call
// option), cachefront-untagged reads an entry without tags, and
// cachefront-unnamed reads a tagged entry without naming its tag (a second
// round trip fetches the version).
func BenchmarkGet(b *testing.B) {
	ctx := context.Background()
	product := SampleProduct()
	for _, kind := range clientKinds {
		b.Run("client="+kind, func(b *testing.B) {
			for _, name := range peerNames {
				b.Run("lib="+name, func(b *testing.B) {
					p := peer(b, name, kind)
					if err := p.Set(ctx, "hot", &product, hotTag); err != nil {
						b.Fatal(err)
					}
					benchHits(b, func() (Product, error) { return p.Get(ctx, "hot", hotTag) })
				})
			}
			b.Run("lib=cachefront-cachetags", func(b *testing.B) {
				cf := peer(b, "cachefront", kind).(*Cachefront)
				c := cachefront.New[Product](cf.Store(), "products-ct", cachefront.WithTTL(TTL), cachefront.WithTags(hotTag))
				if err := c.Set(ctx, "hot", product); err != nil {
					b.Fatal(err)
				}
				benchHits(b, func() (Product, error) { return c.Get(ctx, "hot") })
			})
			b.Run("lib=cachefront-untagged", func(b *testing.B) {
				cf := peer(b, "cachefront", kind)
				if err := cf.Set(ctx, "hot-untagged", &product, ""); err != nil {
					b.Fatal(err)
				}
				benchHits(b, func() (Product, error) { return cf.Get(ctx, "hot-untagged", "") })
			})
			b.Run("lib=cachefront-unnamed", func(b *testing.B) {
				cf := peer(b, "cachefront", kind)
				if err := cf.Set(ctx, "hot", &product, hotTag); err != nil {
					b.Fatal(err)
				}
				benchHits(b, func() (Product, error) { return cf.Get(ctx, "hot", "") })
			})
		})
	}
}

// benchHits runs get in a loop, failing on anything but the stored product.
func benchHits(b *testing.B, get func() (Product, error)) {
	b.Helper()
	want := SampleProduct()
	got, err := get()
	if err != nil || got.ASIN != want.ASIN || len(got.Features) != len(want.Features) {
		b.Fatalf("warm-up read: %+v, %v", got, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := get(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetOrLoad is a get-or-load that hits, on a tagged entry, as a
// service calls it on every request: cachefront's GetOrLoad with the
// product's tag, go-redis/cache's Once, eko's LoadableCache (through which
// the call's loader is passed in the context), and for lib=floor a raw GET
// and decode that would load on a miss.
func BenchmarkGetOrLoad(b *testing.B) {
	ctx := context.Background()
	product := SampleProduct()
	for _, kind := range clientKinds {
		b.Run("client="+kind, func(b *testing.B) {
			for _, name := range peerNames {
				b.Run("lib="+name, func(b *testing.B) {
					p := peer(b, name, kind)
					if err := p.Set(ctx, "hot-gol", &product, hotTag); err != nil {
						b.Fatal(err)
					}
					var loads atomic.Int64
					load := func(context.Context) (Product, error) {
						loads.Add(1)
						return product, nil
					}
					benchHits(b, func() (Product, error) { return p.GetOrLoad(ctx, "hot-gol", hotTag, load) })
					if n := loads.Load(); n != 0 {
						b.Fatalf("%d loads on a cached key", n)
					}
				})
			}
		})
	}
}

// BenchmarkSet stores the product under one of 1000 keys, tagged for the
// libraries that have tags (cachefront, eko). lib=floor is msgpack encode and
// a raw SET with a TTL. Every library runs on the default client; floor and
// cachefront also on the ContextTimeoutEnabled one.
func BenchmarkSet(b *testing.B) {
	ctx := context.Background()
	product := SampleProduct()
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = "set-" + strconv.Itoa(i)
	}
	for _, kind := range clientKinds {
		b.Run("client="+kind, func(b *testing.B) {
			libs := []string{"floor", "cachefront", "cachefront-untagged"}
			if kind == "default" {
				libs = append(libs, "cachefront-local", "goredis-cache", "eko")
			}
			for _, name := range libs {
				b.Run("lib="+name, func(b *testing.B) {
					tag := hotTag
					pname := name
					if name == "cachefront-untagged" {
						tag, pname = "", "cachefront"
					}
					p := peer(b, pname, kind)
					b.ReportAllocs()
					i := 0
					for b.Loop() {
						if err := p.Set(ctx, ids[i%len(ids)], &product, tag); err != nil {
							b.Fatal(err)
						}
						i++
					}
				})
			}
		})
	}
}

// BenchmarkInvalidateTag invalidates one tag carried by 100 or 10,000
// entries. cachefront's cost does not depend on the entries (it advances the
// tag's version; the entries become misses when read), so they are written
// once and invalidated in every iteration; one of them is rewritten and read
// before the loop and read again after it to check that the invalidation
// took. eko deletes every indexed key, so its entries and index set are
// rewritten (outside the timer) before each iteration.
func BenchmarkInvalidateTag(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{100, 10_000} {
		b.Run("keys="+strconv.Itoa(n), func(b *testing.B) {
			tag := "bench-inv-" + strconv.Itoa(n)
			for _, kind := range clientKinds {
				b.Run("client="+kind+"/lib=cachefront", func(b *testing.B) {
					benchInvalidateCachefront(b, peer(b, "cachefront", kind).(*Cachefront), tag, n)
				})
			}
			b.Run("client=default/lib=eko", func(b *testing.B) {
				e := peer(b, "eko", "default").(*Eko)
				rdb := client(b, "default")
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					populateEko(b, e, rdb, tag, n)
					b.StartTimer()
					if err := e.InvalidateTag(ctx, tag); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				if _, err := e.Get(ctx, tag+"-0", tag); !errors.Is(err, ErrMiss) {
					b.Fatalf("after invalidation: %v, want a miss", err)
				}
			})
		})
	}
}

// benchInvalidateCachefront times InvalidateTags of a tag on n entries.
func benchInvalidateCachefront(b *testing.B, cf *Cachefront, tag string, n int) {
	ctx := context.Background()
	populateCachefront(b, cf, tag, n)
	product := SampleProduct()
	if err := cf.Set(ctx, tag+"-0", &product, tag); err != nil {
		b.Fatal(err)
	}
	if _, err := cf.Get(ctx, tag+"-0", tag); err != nil {
		b.Fatalf("before invalidation: %v", err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := cf.InvalidateTag(ctx, tag); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := cf.Get(ctx, tag+"-0", tag); !errors.Is(err, ErrMiss) {
		b.Fatalf("after invalidation: %v, want a miss", err)
	}
}

var populated sync.Map // tag → true once its cachefront entries are written

// populateCachefront writes n entries tagged tag, once per process.
func populateCachefront(b *testing.B, cf *Cachefront, tag string, n int) {
	b.Helper()
	if _, done := populated.Load(tag); done {
		return
	}
	ctx := context.Background()
	product := SampleProduct()
	const workers = 32
	var (
		wg    sync.WaitGroup
		next  atomic.Int64
		errMu sync.Mutex
		first error
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				if err := cf.Set(ctx, tag+"-"+strconv.FormatInt(i, 10), &product, tag); err != nil {
					errMu.Lock()
					first = cmpErr(first, err)
					errMu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		b.Fatal(first)
	}
	populated.Store(tag, true)
}

func cmpErr(old, err error) error {
	if old != nil {
		return old
	}
	return err
}

// populateEko leaves Redis as n calls of eko's Set with tag would: each
// entry's encoded value and the tag's index set, with their TTLs. It uses
// pipelines, since only the invalidation is measured.
func populateEko(b *testing.B, e *Eko, rdb redis.Cmdable, tag string, n int) {
	b.Helper()
	ctx := context.Background()
	product := SampleProduct()
	val, err := msgpack.Marshal(&product)
	if err != nil {
		b.Fatal(err)
	}
	const batch = 1000
	tagKey := "gocache_tag_" + tag
	for start := 0; start < n; start += batch {
		pipe := rdb.Pipeline()
		members := make([]any, 0, batch)
		for i := start; i < min(start+batch, n); i++ {
			k := e.Key(tag + "-" + strconv.Itoa(i))
			pipe.Set(ctx, k, val, TTL)
			members = append(members, k)
		}
		pipe.SAdd(ctx, tagKey, members...)
		pipe.Expire(ctx, tagKey, TTL)
		if _, err := pipe.Exec(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// hotKeyReaders are the numbers of goroutines the parallel hot-key
// benchmarks read one key from. With 16 the floor already answers as many
// reads per second as the machine can (more readers only queue), while a
// library that shares round trips is still limited by how few callers there
// are to share them; 64 and 256 show each at its capacity.
var hotKeyReaders = []int{16, 64, 256}

// runReaders runs body in b.RunParallel with readers goroutines in all
// (rounded up to a multiple of GOMAXPROCS).
func runReaders(b *testing.B, readers int, body func(*testing.PB)) {
	b.SetParallelism((readers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.RunParallel(body)
}

// BenchmarkParallelHotKey reads one hot tagged key from many goroutines at
// once, as a popular product page does. ns/op is the time per read across
// all goroutines: throughput is its inverse.
func BenchmarkParallelHotKey(b *testing.B) {
	ctx := context.Background()
	product := SampleProduct()
	for _, readers := range hotKeyReaders {
		for _, kind := range clientKinds {
			b.Run(fmt.Sprintf("readers=%d/client=%s", readers, kind), func(b *testing.B) {
				for _, name := range peerNames {
					b.Run("lib="+name, func(b *testing.B) {
						p := peer(b, name, kind)
						if err := p.Set(ctx, "hot-par", &product, hotTag); err != nil {
							b.Fatal(err)
						}
						if _, err := p.Get(ctx, "hot-par", hotTag); err != nil {
							b.Fatal(err)
						}
						b.ReportAllocs()
						runReaders(b, readers, func(pb *testing.PB) {
							for pb.Next() {
								if _, err := p.Get(ctx, "hot-par", hotTag); err != nil {
									b.Error(err)
									return
								}
							}
						})
					})
				}
			})
		}
	}
}

// stampedeRuns numbers the stampede benchmark's runs, so that every run's
// keys are cold.
var stampedeRuns atomic.Int64

// stampedeGoroutines call GetOrLoad on one cold key at the same moment.
const stampedeGoroutines = 1000

// stampedeLoad is how long the loader takes: a fast database query.
const stampedeLoad = time.Millisecond

// BenchmarkStampede releases 1000 goroutines at once on one cold key, each
// calling GetOrLoad with a loader that takes 1ms; an iteration ends when all
// have their product. loads/op counts loader calls per stampede: 1 is
// perfect deduplication. lib=floor is get, load on a miss, set, with no
// deduplication.
func BenchmarkStampede(b *testing.B) {
	ctx := context.Background()
	product := SampleProduct()
	for _, name := range peerNames {
		b.Run("lib="+name, func(b *testing.B) {
			p := peer(b, name, "default")
			var loads atomic.Int64
			load := func(context.Context) (Product, error) {
				loads.Add(1)
				time.Sleep(stampedeLoad)
				return product, nil
			}
			prefix := fmt.Sprintf("stampede-%s-%d-", runID(), stampedeRuns.Add(1))
			var failed atomic.Int64
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				key := prefix + strconv.Itoa(i)
				start := make(chan struct{})
				var wg sync.WaitGroup
				for range stampedeGoroutines {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						got, err := p.GetOrLoad(ctx, key, hotTag, load)
						if err != nil || got.ASIN != product.ASIN {
							failed.Add(1)
						}
					}()
				}
				b.StartTimer()
				close(start)
				wg.Wait()
			}
			b.StopTimer()
			if n := failed.Load(); n > 0 {
				b.Fatalf("%d calls failed", n)
			}
			b.ReportMetric(float64(loads.Load())/float64(b.N), "loads/op")
		})
	}
}
