package keyscan_test

import (
	"context"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/cachefront/cachefront/internal/keyscan"
	"github.com/redis/go-redis/v9"
)

func ExampleCount() {
	mr, err := miniredis.Run() // an in-process Redis, so that the example runs anywhere
	if err != nil {
		panic(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()

	for _, k := range []string{"shop:products:1", "shop:products:2", "shop:products*", "shop:users:1"} {
		_ = mr.Set(k, "v")
	}
	// Bound the scan in time; an incomplete Result still carries a count.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()

	res, err := keyscan.Count(ctx, rdb, "shop:products:")
	fmt.Println(res.Keys, res.Complete, err)
	// '*' in a prefix is literal: this counts one key, not three.
	res, err = keyscan.Count(ctx, rdb, "shop:products*")
	fmt.Println(res.Keys, res.Complete, err)
	// Output:
	// 2 true <nil>
	// 1 true <nil>
}
