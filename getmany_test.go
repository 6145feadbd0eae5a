package cachefront

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

func TestGetManyAndBatchLoad(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testBackend) {
		s := newTestStore(t, b)
		c := New[Product](s, "products", WithNegativeTTL(time.Minute))
		for _, k := range []string{"A1", "A2"} {
			if err := c.Set(ctxBG, k, sampleProduct(k), WithTags("category:1")); err != nil {
				t.Fatal(err)
			}
		}
		got, err := c.GetMany(ctxBG, []string{"A1", "A2", "A3", "A1"})
		if err != nil || len(got) != 2 || got["A1"].ASIN != "A1" || got["A2"].ASIN != "A2" {
			t.Fatalf("GetMany = %v, %v", got, err)
		}

		var asked [][]string
		var calls atomic.Int32
		loader := func(ctx context.Context, missing []string) (map[string]Product, error) {
			calls.Add(1)
			asked = append(asked, slices.Clone(missing))
			out := map[string]Product{}
			for _, k := range missing {
				if k != "GONE" {
					out[k] = sampleProduct(k)
				}
			}
			return out, nil
		}
		keys := []string{"A1", "A2", "A3", "A4", "GONE"}
		got, err = c.GetManyOrLoad(ctxBG, keys, loader, WithTags("category:1"))
		if err != nil || len(got) != 4 || got["A4"].ASIN != "A4" {
			t.Fatalf("GetManyOrLoad = %v, %v", got, err)
		}
		if len(asked) != 1 || !slices.Equal(asked[0], []string{"A3", "A4", "GONE"}) {
			t.Fatalf("loader asked for %v, want the three missing keys once", asked)
		}
		// Everything is cached now, GONE as not-found.
		got, err = c.GetManyOrLoad(ctxBG, keys, loader, WithTags("category:1"))
		if err != nil || len(got) != 4 || calls.Load() != 1 {
			t.Fatalf("second batch: %d values, %v, %d loader calls", len(got), err, calls.Load())
		}
		// One invalidation empties the batch.
		if err := s.InvalidateTags(ctxBG, "category:1"); err != nil {
			t.Fatal(err)
		}
		got, err = c.GetMany(ctxBG, keys)
		if err != nil || len(got) != 0 {
			t.Fatalf("after invalidation GetMany = %d values, %v", len(got), err)
		}
	})
}

func TestGetManyOrLoadRespectsDeleteDuringLoad(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testBackend) {
		s := newTestStore(t, b)
		c := New[string](s, "c")
		loader := func(ctx context.Context, missing []string) (map[string]string, error) {
			if err := c.Delete(ctx, "k1"); err != nil { // a write lands while the batch loads
				return nil, err
			}
			out := map[string]string{}
			for _, k := range missing {
				out[k] = "old " + k
			}
			return out, nil
		}
		if _, err := c.GetManyOrLoad(ctxBG, []string{"k1", "k2"}, loader); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Get(ctxBG, "k1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("k1 = %v: a batch load stored a value over a later Delete", err)
		}
		if v, err := c.Get(ctxBG, "k2"); err != nil || v != "old k2" {
			t.Fatalf("k2 = %q, %v", v, err)
		}
	})
}

func TestGetManyOrLoadWithRedisDown(t *testing.T) {
	for name, open := range stoppableServers(t) {
		t.Run(name, func(t *testing.T) {
			srv := open(t)
			b := &testBackend{rdb: newClient(srv.addr)}
			defer b.rdb.Close()
			srv.stop()
			c := New[string](NewStore(b.rdb, WithOperationTimeout(100*time.Millisecond)), "c")
			got, err := c.GetManyOrLoad(ctxBG, []string{"a", "b"}, func(ctx context.Context, missing []string) (map[string]string, error) {
				return map[string]string{"a": "1", "b": "2"}, nil
			})
			if err != nil || fmt.Sprint(got) != "map[a:1 b:2]" {
				t.Fatalf("GetManyOrLoad with Redis down = %v, %v", got, err)
			}
		})
	}
}
