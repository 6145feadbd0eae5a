package cachefrontotel_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/cachefront/cachefront"
	"github.com/cachefront/cachefront/extra/cachefrontotel"
	"github.com/redis/go-redis/v9"
	"github.com/vmihailenco/msgpack/v5"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// The benchmarks run against the Redis at CACHEFRONT_REDIS_ADDR, and are
// skipped without one:
//
//	CACHEFRONT_REDIS_ADDR=127.0.0.1:6379 go test -run '^$' -bench . -count=6
//
// Keys live under "cfotelbench" and expire after a minute.

type benchProduct struct {
	ID, Title, Description string
	Price                  int64
	Tags                   []string
}

var sampleProduct = benchProduct{ID: "B000000001", Title: "Electric kettle, 1.7 l",
	Description: "A kettle that boils water quickly and switches itself off.",
	Price:       3999, Tags: []string{"kitchen", "appliances"}}

func benchRedis(b *testing.B) *redis.Client {
	addr := os.Getenv("CACHEFRONT_REDIS_ADDR")
	if addr == "" {
		b.Skip("CACHEFRONT_REDIS_ADDR is not set")
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	b.Cleanup(func() { _ = rdb.Close() })
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		b.Skipf("no Redis at %s: %v", addr, err)
	}
	return rdb
}

// observers are the configurations measured, by name: none, the Observer
// on OpenTelemetry's no-op provider, on an SDK provider that samples every
// span and exports none, and that plus metrics.
var observers = []struct {
	name string
	new  func(b *testing.B) cachefront.Observer // nil: no observer
}{
	{"none", nil},
	{"otel-noop", func(*testing.B) cachefront.Observer {
		return cachefrontotel.New(cachefrontotel.WithTracerProvider(noop.NewTracerProvider()))
	}},
	{"otel-sampled", func(b *testing.B) cachefront.Observer {
		tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
		b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
		return cachefrontotel.New(cachefrontotel.WithTracerProvider(tp))
	}},
	{"otel-sampled+metrics", func(b *testing.B) cachefront.Observer {
		tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		b.Cleanup(func() { _ = tp.Shutdown(context.Background()); _ = mp.Shutdown(context.Background()) })
		return cachefrontotel.New(cachefrontotel.WithTracerProvider(tp), cachefrontotel.WithMeterProvider(mp))
	}},
}

// getHit returns a Get hit of a cached sampleProduct under each observer
// configuration, and the floor: a raw GET of its msgpack encoding and the
// decoding.
func getHit(b *testing.B, rdb *redis.Client, observer func(*testing.B) cachefront.Observer) (hit, floor func() error) {
	ctx := context.Background()
	var opts []cachefront.Option
	if observer != nil {
		opts = append(opts, cachefront.WithObserver(observer(b)))
	}
	store := cachefront.NewStore(rdb, append(opts, cachefront.WithNamespace("cfotelbench"), cachefront.WithTTL(time.Minute))...)
	b.Cleanup(func() { _ = store.Close() })
	products := cachefront.New[benchProduct](store, "products")
	if err := products.Set(ctx, "hot", sampleProduct); err != nil {
		b.Fatal(err)
	}
	raw, err := msgpack.Marshal(&sampleProduct)
	if err != nil {
		b.Fatal(err)
	}
	if err := rdb.Set(ctx, "cfotelbench:floor:hot", raw, time.Minute).Err(); err != nil {
		b.Fatal(err)
	}
	hit = func() error { _, err := products.Get(ctx, "hot"); return err }
	floor = func() error {
		data, err := rdb.Get(ctx, "cfotelbench:floor:hot").Bytes()
		if err != nil {
			return err
		}
		var p benchProduct
		return msgpack.Unmarshal(data, &p)
	}
	return hit, floor
}

// BenchmarkGetHit times a Get hit under each observer configuration against
// the floor in the same iterations: each iteration runs both, alternating
// which goes first, and reports
//
//	floor-ns/op  the floor's mean time
//	get-ns/op    the Get's mean time
//	x-floor      get-ns/op / floor-ns/op
//
// The allocations reported are of both together; BenchmarkGetHitAlone has
// the Get's own.
func BenchmarkGetHit(b *testing.B) {
	rdb := benchRedis(b)
	for _, o := range observers {
		b.Run("observer="+o.name, func(b *testing.B) {
			hit, floor := getHit(b, rdb, o.new)
			floorNs, hitNs := paired(b, floor, hit)
			b.ReportMetric(floorNs, "floor-ns/op")
			b.ReportMetric(hitNs, "get-ns/op")
			b.ReportMetric(hitNs/floorNs, "x-floor")
		})
	}
}

// BenchmarkObserverCost times a Get hit under each observer configuration
// against a Get hit without one, as BenchmarkGetHit times it against the
// floor, and reports none-ns/op, get-ns/op and x-none.
func BenchmarkObserverCost(b *testing.B) {
	rdb := benchRedis(b)
	for _, o := range observers[1:] {
		b.Run("observer="+o.name, func(b *testing.B) {
			plain, _ := getHit(b, rdb, nil)
			hit, _ := getHit(b, rdb, o.new)
			plainNs, hitNs := paired(b, plain, hit)
			b.ReportMetric(plainNs, "none-ns/op")
			b.ReportMetric(hitNs, "get-ns/op")
			b.ReportMetric(hitNs/plainNs, "x-none")
		})
	}
}

// paired runs ref and f once each per iteration, alternating which goes
// first, and returns their mean times in nanoseconds.
func paired(b *testing.B, ref, f func() error) (refNs, fNs float64) {
	var refD, fD time.Duration
	timed := func(g func() error) time.Duration {
		start := time.Now()
		if err := g(); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	n := 0
	for b.Loop() {
		if n%2 == 0 {
			refD += timed(ref)
			fD += timed(f)
		} else {
			fD += timed(f)
			refD += timed(ref)
		}
		n++
	}
	return float64(refD.Nanoseconds()) / float64(max(n, 1)), float64(fD.Nanoseconds()) / float64(max(n, 1))
}

// BenchmarkGetHitAlone times a Get hit alone under each observer
// configuration, and the floor, for their allocations.
func BenchmarkGetHitAlone(b *testing.B) {
	rdb := benchRedis(b)
	var floor func() error
	for _, o := range observers {
		b.Run("observer="+o.name, func(b *testing.B) {
			var hit func() error
			hit, floor = getHit(b, rdb, o.new)
			b.ReportAllocs()
			for b.Loop() {
				if err := hit(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("floor", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := floor(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkStartEnd times the Observer alone, on a Get hit's operation and
// outcome, without Redis.
func BenchmarkStartEnd(b *testing.B) {
	ctx := context.Background()
	op := cachefront.Operation{Kind: cachefront.OpGet, Cache: "products", Keys: []string{"hot"}}
	out := cachefront.Outcome{Result: cachefront.ResultHit, Layer: cachefront.LayerRedis}
	for _, o := range observers[1:] {
		b.Run("observer="+o.name, func(b *testing.B) {
			obs := o.new(b)
			b.ReportAllocs()
			for b.Loop() {
				obs.End(obs.Start(ctx, op), op, out)
			}
		})
	}
}
