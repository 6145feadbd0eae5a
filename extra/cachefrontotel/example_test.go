package cachefrontotel_test

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/alicebob/miniredis/v2"
	"github.com/cachefront/cachefront"
	"github.com/cachefront/cachefront/extra/cachefrontotel"
	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

type Product struct {
	ID    string
	Title string
}

// ExampleNew traces a Store and its Redis client with one TracerProvider,
// so that the Redis commands of a cache operation are its children. In a
// service the provider exports to a collector (otlptracehttp) and is set
// once with otel.SetTracerProvider; New and redisotel then need no option.
func ExampleNew() {
	mr, _ := miniredis.Run() // an in-process Redis, so that the example runs anywhere
	defer mr.Close()
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	defer func() { _ = tp.Shutdown(context.Background()) }()

	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	// The commands' arguments are keys and values: keep them out of the
	// spans, as the Observer does.
	if err := redisotel.InstrumentTracing(rdb, redisotel.WithTracerProvider(tp),
		redisotel.WithDBStatement(false)); err != nil {
		panic(err)
	}
	store := cachefront.NewStore(rdb, cachefront.WithObserver(cachefrontotel.New(
		cachefrontotel.WithTracerProvider(tp))))
	defer store.Close()
	products := cachefront.New[Product](store, "products")

	ctx, request := tp.Tracer("shop").Start(context.Background(), "GET /products/{id}")
	p, err := products.GetOrLoad(ctx, "p1", func(ctx context.Context) (Product, error) {
		_, query := tp.Tracer("shop").Start(ctx, "SELECT products") // the database's span
		defer query.End()
		return Product{ID: "p1", Title: "Kettle"}, nil
	})
	request.End()
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Title)
	printTree(spans.GetSpans())
	// Output:
	// Kettle
	// GET /products/{id}
	//   cachefront get_or_load result=miss layer=loader
	//     redis commands
	//     cachefront load
	//       SELECT products
}

// printTree prints the spans as a tree, children in the order they
// started, the Redis commands of one parent folded into one line. The
// client's dials (redis.dial spans) are roots of their own, left out.
func printTree(spans tracetest.SpanStubs) {
	slices.SortFunc(spans, func(a, b tracetest.SpanStub) int { return a.StartTime.Compare(b.StartTime) })
	var walk func(parent tracetest.SpanStub, depth int)
	walk = func(parent tracetest.SpanStub, depth int) {
		line := parent.Name
		for _, kv := range parent.Attributes {
			if kv.Key == cachefrontotel.AttrResult || kv.Key == cachefrontotel.AttrLayer {
				line += fmt.Sprintf(" %s=%s", strings.TrimPrefix(string(kv.Key), "cachefront."), kv.Value.String())
			}
		}
		fmt.Println(strings.Repeat("  ", depth) + line)
		redisShown := false
		for _, s := range spans {
			if s.Parent.SpanID() != parent.SpanContext.SpanID() {
				continue
			}
			if s.InstrumentationScope.Name == "github.com/redis/go-redis/extra/redisotel" {
				if !redisShown {
					fmt.Println(strings.Repeat("  ", depth+1) + "redis commands")
					redisShown = true
				}
				continue
			}
			walk(s, depth+1)
		}
	}
	for _, s := range spans {
		if !s.Parent.IsValid() && s.InstrumentationScope.Name != "github.com/redis/go-redis/extra/redisotel" {
			walk(s, 0)
		}
	}
}
