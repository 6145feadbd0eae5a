package bench

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// TestPeersAgree checks that every library round-trips the product through
// Redis, that get-or-load loads once and then serves the stored value, and
// that tag invalidation, where a library has it, turns the entry into a miss:
// the benchmarks measure work that is actually done.
func TestPeersAgree(t *testing.T) {
	want := SampleProduct()
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	for _, kind := range clientKinds {
		for _, name := range peerNames {
			t.Run(kind+"/"+name, func(t *testing.T) {
				ctx := context.Background()
				p := peer(t, name, kind)
				id := "agree-" + run + "-" + kind
				tag := "bench-agree-" + run

				if _, err := p.Get(ctx, id, tag); !errors.Is(err, ErrMiss) {
					t.Fatalf("Get of a new key: %v, want ErrMiss", err)
				}
				if err := p.Set(ctx, id, &want, tag); err != nil {
					t.Fatalf("Set: %v", err)
				}
				got, err := p.Get(ctx, id, tag)
				if err != nil {
					t.Fatalf("Get: %v", err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("Get returned\n%+v\nwant\n%+v", got, want)
				}

				var loads atomic.Int64
				load := func(context.Context) (Product, error) { loads.Add(1); return want, nil }
				lid := id + "-load"
				for i := range 2 {
					got, err := p.GetOrLoad(ctx, lid, tag, load)
					if err != nil || !reflect.DeepEqual(got, want) {
						t.Fatalf("GetOrLoad #%d: %+v, %v", i+1, got, err)
					}
					if i == 0 {
						waitStored(t, p, lid, tag)
					}
				}
				if n := loads.Load(); n != 1 {
					t.Fatalf("%d loads for two GetOrLoad calls, want 1", n)
				}

				err = p.InvalidateTag(ctx, tag)
				if errors.Is(err, ErrUnsupported) {
					return
				}
				if err != nil {
					t.Fatalf("InvalidateTag: %v", err)
				}
				if _, err := p.Get(ctx, id, tag); !errors.Is(err, ErrMiss) {
					t.Fatalf("Get after InvalidateTag: %v, want ErrMiss", err)
				}
			})
		}
	}
}

// waitStored waits until a loaded value is readable: eko stores loaded values
// asynchronously.
func waitStored(t *testing.T, p Peer, id, tag string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		_, err := p.Get(context.Background(), id, tag)
		if err == nil {
			return
		}
		if !errors.Is(err, ErrMiss) || time.Now().After(deadline) {
			t.Fatalf("loaded value not stored: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
