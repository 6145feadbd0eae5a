package cachefront_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/cachefront/cachefront"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

type Product struct {
	ASIN       string
	Title      string
	CategoryID int
}

// exampleRedis starts an in-process Redis so that the examples run anywhere.
func exampleRedis() (redis.UniversalClient, func()) {
	mr, err := miniredis.Run()
	if err != nil {
		panic(err)
	}
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{mr.Addr()}})
	return rdb, func() { _ = rdb.Close(); mr.Close() }
}

func Example() {
	rdb, stop := exampleRedis()
	defer stop()
	ctx := context.Background()

	store := cachefront.NewStore(rdb, cachefront.WithNamespace("shop"),
		cachefront.WithRegisterer(prometheus.NewRegistry()))
	defer store.Close()
	products := cachefront.New[Product](store, "products", cachefront.WithTTL(10*time.Minute))

	loads := 0
	byASIN := func(asin string) func(context.Context) (Product, error) {
		return func(ctx context.Context) (Product, error) {
			loads++ // a database query in real code
			return Product{ASIN: asin, Title: "Kettle", CategoryID: 42}, nil
		}
	}
	for i := 0; i < 3; i++ {
		p, err := products.GetOrLoad(ctx, "B000000001", byASIN("B000000001"),
			cachefront.WithTags("category:"+strconv.Itoa(42)))
		if err != nil {
			panic(err)
		}
		fmt.Println(p.Title)
	}
	_ = store.InvalidateTags(ctx, "category:42") // after a write to category 42
	_, _ = products.GetOrLoad(ctx, "B000000001", byASIN("B000000001"), cachefront.WithTags("category:42"))

	st := store.Stats()
	fmt.Printf("loads=%d hits=%d misses=%d\n", loads, st.Hits, st.Misses)
	// Output:
	// Kettle
	// Kettle
	// Kettle
	// loads=2 hits=2 misses=2
}

func ExampleCache_Get() {
	rdb, stop := exampleRedis()
	defer stop()
	ctx := context.Background()
	sessions := cachefront.New[string](cachefront.NewStore(rdb), "sessions", cachefront.WithTTL(time.Hour))

	if _, err := sessions.Get(ctx, "abc"); errors.Is(err, cachefront.ErrNotFound) {
		fmt.Println("miss")
	}
	_ = sessions.Set(ctx, "abc", "user-7")
	user, _ := sessions.Get(ctx, "abc")
	fmt.Println(user)
	// Output:
	// miss
	// user-7
}

func ExampleCache_GetManyOrLoad() {
	rdb, stop := exampleRedis()
	defer stop()
	ctx := context.Background()
	titles := cachefront.New[string](cachefront.NewStore(rdb), "titles")
	_ = titles.Set(ctx, "a", "cached A")

	got, _ := titles.GetManyOrLoad(ctx, []string{"a", "b", "c"}, func(ctx context.Context, missing []string) (map[string]string, error) {
		fmt.Println("loading", missing) // one query for all missing keys
		return map[string]string{"b": "loaded B", "c": "loaded C"}, nil
	})
	fmt.Println(got["a"], "|", got["b"], "|", got["c"])
	// Output:
	// loading [b c]
	// cached A | loaded B | loaded C
}

func ExampleAddTags() {
	rdb, stop := exampleRedis()
	defer stop()
	ctx := context.Background()
	store := cachefront.NewStore(rdb)
	products := cachefront.New[Product](store, "products")

	load := func(ctx context.Context) (Product, error) {
		p := Product{ASIN: "B000000002", Title: "Teapot", CategoryID: 7}
		// The category is only known once the product is read.
		cachefront.AddTags(ctx, "category:"+strconv.Itoa(p.CategoryID))
		return p, nil
	}
	_, _ = products.GetOrLoad(ctx, "B000000002", load)
	_ = store.InvalidateTags(ctx, "category:7")
	_, err := products.Get(ctx, "B000000002")
	fmt.Println(errors.Is(err, cachefront.ErrNotFound))
	// Output:
	// true
}
