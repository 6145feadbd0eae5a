package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/cachefront/cachefront"
	grcache "github.com/go-redis/cache/v9"
	"github.com/redis/go-redis/v9"
	"github.com/vmihailenco/msgpack/v5"
)

// pageSize is the number of products on the page the codec benchmarks
// cache whole.
const pageSize = 100

// hitCase is one library's hit on one value, paired with a reference hit.
type hitCase[T any] struct {
	name string
	// ref and lib are the reference's read and the library's.
	ref, lib func(ctx context.Context) (T, error)
}

// codecHits returns the hits BenchmarkPairedCodec pairs for value, stored
// under id on rdb:
//
//	lib=cachefront-s2     WithCompression(0), against the floor's
//	                      uncompressed msgpack hit (GET, decode)
//	lib=goredis-cache     go-redis/cache, which compresses with S2 what is
//	                      over 64 bytes, against the same floor
//	lib=cachefront-json   JSONCodec, against GET and encoding/json's decode
//	lib=cachefront-json-s2 JSONCodec with compression, against the same
func codecHits[T any](b *testing.B, rdb redis.UniversalClient, id string, value T) []hitCase[T] {
	ctx := context.Background()
	ns := "codecbench" + runID()
	mp, err := msgpack.Marshal(value)
	if err != nil {
		b.Fatal(err)
	}
	js, err := json.Marshal(value)
	if err != nil {
		b.Fatal(err)
	}
	floorKey, jsonKey := ns+":floor:"+id, ns+":json:"+id
	for k, v := range map[string][]byte{floorKey: mp, jsonKey: js} {
		if err := rdb.Set(ctx, k, v, TTL).Err(); err != nil {
			b.Fatal(err)
		}
	}
	floorHit := func(ctx context.Context) (T, error) {
		var v T
		s, err := rdb.Get(ctx, floorKey).Result()
		if err == nil {
			err = msgpack.Unmarshal(bytesOf(s), &v)
		}
		return v, err
	}
	jsonHit := func(ctx context.Context) (T, error) {
		var v T
		s, err := rdb.Get(ctx, jsonKey).Result()
		if err == nil {
			err = json.Unmarshal(bytesOf(s), &v)
		}
		return v, err
	}
	cached := func(name string, opts ...cachefront.Option) func(ctx context.Context) (T, error) {
		store := cachefront.NewStore(rdb, append([]cachefront.Option{cachefront.WithNamespace(ns + name),
			cachefront.WithOperationTimeout(OperationTimeout)}, opts...)...)
		b.Cleanup(func() { _ = store.Close() })
		c := cachefront.New[T](store, "values", cachefront.WithTTL(TTL))
		if err := c.Set(ctx, id, value); err != nil {
			b.Fatal(err)
		}
		return func(ctx context.Context) (T, error) { return c.Get(ctx, id) }
	}
	grc := grcache.New(&grcache.Options{Redis: rdb})
	grcKey := ns + ":grc:" + id
	if err := grc.Set(&grcache.Item{Ctx: ctx, Key: grcKey, Value: value, TTL: TTL}); err != nil {
		b.Fatal(err)
	}
	return []hitCase[T]{
		{"cachefront-s2", floorHit, cached("s2", cachefront.WithCompression(0))},
		{"goredis-cache", floorHit, func(ctx context.Context) (T, error) {
			var v T
			err := grc.Get(ctx, grcKey, &v)
			return v, err
		}},
		{"cachefront-json", jsonHit, cached("json", cachefront.WithCodec(cachefront.JSONCodec))},
		{"cachefront-json-s2", jsonHit, cached("jsons2", cachefront.WithCodec(cachefront.JSONCodec), cachefront.WithCompression(0))},
	}
}

// BenchmarkPairedCodec times hits on compressed and JSON entries, each
// against a reference measured in the same iterations (see codecHits), for
// the bench product (value=product) and a page of 100 products
// (value=page).
func BenchmarkPairedCodec(b *testing.B) {
	run := func(b *testing.B, name string, ref, lib func(context.Context) error) {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			paired(b, func() error { return ref(ctx) }, func() error { return lib(ctx) })
		})
	}
	b.Run("op=hit/value=product", func(b *testing.B) {
		for _, h := range codecHits(b, client(b, "ctxtimeout"), "product", SampleProduct()) {
			run(b, "lib="+h.name, discard(h.ref), discard(h.lib))
		}
	})
	b.Run("op=hit/value=page", func(b *testing.B) {
		for _, h := range codecHits(b, client(b, "ctxtimeout"), "page", SamplePage(pageSize)) {
			run(b, "lib="+h.name, discard(h.ref), discard(h.lib))
		}
	})
}

// BenchmarkPairedCodecHTTP times middleware hits on the 100-product page
// stored with WithCompression, against the one-GET handler serving the
// page uncompressed from Redis: to a client that takes zstd (the stored
// bytes, sent as they are) and to one that does not (decompressed).
func BenchmarkPairedCodecHTTP(b *testing.B) {
	ctx := context.Background()
	rdb := client(b, "ctxtimeout")
	body, err := json.Marshal(SamplePage(pageSize))
	if err != nil {
		b.Fatal(err)
	}
	key := "httpcodecbench:" + runID()
	if err := StorePage(ctx, rdb, key, body); err != nil {
		b.Fatal(err)
	}
	ref := OneGetHandler(rdb, key)
	store := PageStore(rdb, "httpcodecbench"+runID(), cachefront.WithCompression(0))
	b.Cleanup(func() { _ = store.Close() })
	lib := CachedHandler(store, FixedHandler(body))
	serve := func(h http.Handler, r *http.Request, hit bool) func() error {
		return func() error {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusOK || hit && w.Header().Get("X-Cache") != "HIT" {
				return fmt.Errorf("status %d, X-Cache %q", w.Code, w.Header().Get("X-Cache"))
			}
			return nil
		}
	}
	plain := httptest.NewRequest(http.MethodGet, "/page", nil)
	zstd := httptest.NewRequest(http.MethodGet, "/page", nil)
	zstd.Header.Set("Accept-Encoding", "gzip, deflate, br, zstd")
	_ = serve(lib, plain, false)() // fill the cache
	for _, c := range []struct {
		name string
		r    *http.Request
	}{{"accept=zstd", zstd}, {"accept=identity", plain}} {
		b.Run("op=hit/value=page/"+c.name+"/ref=oneget/lib=cachefront-zstd", func(b *testing.B) {
			paired(b, serve(ref, c.r, false), serve(lib, c.r, true))
		})
	}
}

func discard[T any](f func(context.Context) (T, error)) func(context.Context) error {
	return func(ctx context.Context) error { _, err := f(ctx); return err }
}

// BenchmarkMemoryPerEntry reports what one entry takes in Redis: MEMORY
// USAGE (the value and the key's overhead, in the allocator's size classes)
// as bytes/entry, and as x-raw, a ratio to the same value's plain encoding
// SET as it is by the floor (msgpack; JSON for the json and http rows); and
// the value's length (STRLEN) as strlen and x-raw-strlen, the same ratio
// without the size classes. The timing is meaningless: run it with
// -benchtime=1x.
func BenchmarkMemoryPerEntry(b *testing.B) {
	ctx := context.Background()
	rdb := client(b, "ctxtimeout")
	ns := "membench" + runID()
	usage := func(key string) int64 {
		n, err := rdb.MemoryUsage(ctx, key, 0).Result()
		if err != nil {
			b.Fatal(err)
		}
		return n
	}
	report := func(b *testing.B, key, rawKey string) {
		for b.Loop() {
		}
		n := usage(key)
		b.ReportMetric(float64(n), "bytes/entry")
		b.ReportMetric(float64(n)/float64(usage(rawKey)), "x-raw")
		length, rawLength := rdb.StrLen(ctx, key).Val(), rdb.StrLen(ctx, rawKey).Val()
		b.ReportMetric(float64(length), "strlen")
		b.ReportMetric(float64(length)/float64(rawLength), "x-raw-strlen")
	}
	type variant struct {
		name string
		json bool
		opts []cachefront.Option
	}
	variants := []variant{
		{"cachefront", false, nil},
		{"cachefront-s2", false, []cachefront.Option{cachefront.WithCompression(0)}},
		{"cachefront-json", true, []cachefront.Option{cachefront.WithCodec(cachefront.JSONCodec)}},
		{"cachefront-json-s2", true, []cachefront.Option{cachefront.WithCodec(cachefront.JSONCodec), cachefront.WithCompression(0)}},
	}
	for _, value := range []struct {
		name string
		v    any
	}{{"product", SampleProduct()}, {"page", SamplePage(pageSize)}} {
		mp, _ := msgpack.Marshal(value.v)
		js, _ := json.Marshal(value.v)
		rawMsgpack, rawJSON := ns+":raw-msgpack:"+value.name, ns+":raw-json:"+value.name
		rdb.Set(ctx, rawMsgpack, mp, TTL)
		rdb.Set(ctx, rawJSON, js, TTL)
		b.Run("value="+value.name+"/lib=floor", func(b *testing.B) { report(b, rawMsgpack, rawMsgpack) })
		b.Run("value="+value.name+"/lib=floor-json", func(b *testing.B) { report(b, rawJSON, rawJSON) })
		for _, vr := range variants {
			b.Run("value="+value.name+"/lib="+vr.name, func(b *testing.B) {
				store := cachefront.NewStore(rdb, append([]cachefront.Option{cachefront.WithNamespace(ns + vr.name)}, vr.opts...)...)
				defer store.Close()
				var key string
				switch v := value.v.(type) {
				case Product:
					c := cachefront.New[Product](store, "values", cachefront.WithTTL(TTL))
					if err := c.Set(ctx, value.name, v); err != nil {
						b.Fatal(err)
					}
					key = store.Namespace() + ":" + c.StoreKey(value.name)
				case []Product:
					c := cachefront.New[[]Product](store, "values", cachefront.WithTTL(TTL))
					if err := c.Set(ctx, value.name, v); err != nil {
						b.Fatal(err)
					}
					key = store.Namespace() + ":" + c.StoreKey(value.name)
				}
				raw := rawMsgpack
				if vr.json {
					raw = rawJSON
				}
				report(b, key, raw)
			})
		}
		b.Run("value="+value.name+"/lib=goredis-cache", func(b *testing.B) {
			grc := grcache.New(&grcache.Options{Redis: rdb})
			key := ns + ":grc:" + value.name
			if err := grc.Set(&grcache.Item{Ctx: ctx, Key: key, Value: value.v, TTL: TTL}); err != nil {
				b.Fatal(err)
			}
			report(b, key, rawMsgpack)
		})
		for _, compressed := range []bool{false, true} {
			name := "cachefront-http"
			opts := []cachefront.Option{cachefront.WithName("pages")}
			if compressed {
				name += "-zstd"
				opts = append(opts, cachefront.WithCompression(0))
			}
			b.Run("value="+value.name+"/lib="+name, func(b *testing.B) {
				store := cachefront.NewStore(rdb, cachefront.WithNamespace(ns+name))
				defer store.Close()
				h := cachefront.Middleware(store, opts...)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "application/json")
					_, _ = w.Write(js)
				}))
				req := httptest.NewRequest("GET", "/"+value.name, nil)
				h.ServeHTTP(httptest.NewRecorder(), req)
				key, err := cachefront.MiddlewareKey(store, req, opts...)
				if err != nil {
					b.Fatal(err)
				}
				report(b, store.Namespace()+":"+key, rawJSON)
			})
		}
	}
}
