package topkeys

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
)

// benchWorkloads are streams of keys and the capacity to count them with.
func benchWorkloads() []struct {
	name     string
	keys     []string
	capacity int
} {
	tracked := make([]string, 1024)
	for i := range tracked {
		tracked[i] = "product:" + strconv.Itoa(i)
	}
	zipf, _ := zipfStream(1<<16, 1.1, 1_000_000)
	return []struct {
		name     string
		keys     []string
		capacity int
	}{
		// Every key fits: the path of a tracked key, no admission.
		{"tracked", tracked, 2048},
		// A long tail: hot keys are hits, tail keys take over counters.
		{"zipf", zipf, 1024},
		// One key read by every goroutine: the worst case for a shard lock.
		{"hotkey", []string{"product:1"}, 1024},
	}
}

// BenchmarkObserve compares one mutex (shards=1) with sharded locks under
// parallel readers. Run with -cpu 1,2,4,8 to see the effect of contention.
func BenchmarkObserve(b *testing.B) {
	for _, w := range benchWorkloads() {
		for _, shards := range []int{1, 4, 16} {
			b.Run(fmt.Sprintf("%s/shards=%d", w.name, shards), func(b *testing.B) {
				c := mustNew(b, w.capacity, WithShards(shards))
				for _, k := range w.keys {
					c.Observe(k)
				}
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					i := rand.IntN(len(w.keys))
					for pb.Next() {
						c.Observe(w.keys[i])
						if i++; i == len(w.keys) {
							i = 0
						}
					}
				})
			})
		}
	}
}

func BenchmarkTop(b *testing.B) {
	zipf, _ := zipfStream(1<<16, 1.1, 1_000_000)
	c := mustNew(b, 1024, WithShards(8))
	for _, k := range zipf {
		c.Observe(k)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = c.Top(10)
	}
}
