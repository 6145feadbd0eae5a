package topkeys

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unsafe"
)

func mustNew(t testing.TB, capacity int, opts ...Option) *Counter {
	t.Helper()
	c, err := New(capacity, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkInvariants verifies the structure of every shard: the heap order, the
// slot positions, the index, the capacity and that counts add up to n.
func checkInvariants(t *testing.T, c *Counter) {
	t.Helper()
	for si := range c.shards {
		s := &c.shards[si].shard
		s.mu.Lock()
		if len(s.slots) > s.capacity || len(s.heap) != len(s.slots) || len(s.index) != len(s.slots) {
			t.Errorf("shard %d: %d slots, %d heap, %d index, capacity %d", si, len(s.slots), len(s.heap), len(s.index), s.capacity)
		}
		var sum uint64
		for j, i := range s.heap {
			if int(s.slots[i].pos) != j {
				t.Errorf("shard %d: slot %d at heap %d says pos %d", si, i, j, s.slots[i].pos)
			}
			if j > 0 && s.less(j, (j-1)/2) {
				t.Errorf("shard %d: heap order broken at %d", si, j)
			}
		}
		for i, sl := range s.slots {
			sum += sl.count
			if got, ok := s.index[sl.key]; !ok || int(got) != i {
				t.Errorf("shard %d: index[%q] = %d, %v; want %d", si, sl.key, got, ok, i)
			}
			if sl.err >= sl.count {
				t.Errorf("shard %d: %q count %d error %d: a tracked key was seen at least once", si, sl.key, sl.count, sl.err)
			}
		}
		if sum != s.n {
			t.Errorf("shard %d: counts add up to %d, want n = %d", si, sum, s.n)
		}
		s.mu.Unlock()
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name     string
		capacity int
		opts     []Option
	}{
		{"zero capacity", 0, nil},
		{"negative capacity", -5, nil},
		{"zero shards", 10, []Option{WithShards(0)}},
		{"negative shards", 10, []Option{WithShards(-2)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.capacity, tt.opts...)
			if !errors.Is(err, ErrInvalidConfig) || c != nil {
				t.Fatalf("New = %v, %v; want nil, ErrInvalidConfig", c, err)
			}
		})
	}
}

func TestDefaultShards(t *testing.T) {
	c := mustNew(t, 8)
	if n := len(c.shards); n < 1 || n > maxDefaultShards {
		t.Fatalf("%d default shards, want 1 to %d", n, maxDefaultShards)
	}
}

// When a shard never fills, Space-Saving is an exact counter.
func TestExactWhileNotFull(t *testing.T) {
	tests := []struct {
		name   string
		shards int
		stream string // one key per byte
		want   []Entry
	}{
		{"one key", 1, "aaaa", []Entry{{"a", 4, 0}}},
		{"order by count then key", 1, "abcabca", []Entry{{"a", 3, 0}, {"b", 2, 0}, {"c", 2, 0}}},
		{"sharded", 8, "xyzzyzz", []Entry{{"z", 4, 0}, {"y", 2, 0}, {"x", 1, 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustNew(t, 3, WithShards(tt.shards))
			for i := range len(tt.stream) {
				c.Observe(tt.stream[i : i+1])
			}
			if got := c.Top(10); !slices.Equal(got, tt.want) {
				t.Fatalf("Top = %v, want %v", got, tt.want)
			}
			if got := c.Total(); got != uint64(len(tt.stream)) {
				t.Fatalf("Total = %d, want %d", got, len(tt.stream))
			}
			checkInvariants(t, c)
		})
	}
}

func TestEdgeCases(t *testing.T) {
	tests := []struct {
		name   string
		cap    int
		shards int
		stream []string
		n      int
		want   []Entry
	}{
		{"empty", 5, 1, nil, 10, nil},
		{"empty sharded", 5, 4, nil, 10, nil},
		{"n zero", 5, 1, []string{"a"}, 0, nil},
		{"n negative", 5, 1, []string{"a"}, -1, nil},
		{"n beyond size", 5, 1, []string{"a", "b", "a"}, 100, []Entry{{"a", 2, 0}, {"b", 1, 0}}},
		{"n below size", 5, 1, []string{"a", "b", "a", "c", "c", "c"}, 2, []Entry{{"c", 3, 0}, {"a", 2, 0}}},
		{"empty key", 2, 1, []string{"", "", "k"}, 5, []Entry{{"", 2, 0}, {"k", 1, 0}}},
		// Capacity 1: each new key takes over the only counter.
		{"capacity 1", 1, 1, []string{"a", "a", "b"}, 5, []Entry{{"b", 3, 2}}},
		{"capacity 1 back and forth", 1, 1, []string{"a", "b", "a", "b", "b"}, 5, []Entry{{"b", 5, 3}}},
		{"capacity 1 repeated key", 1, 1, []string{"a", "a", "a"}, 1, []Entry{{"a", 3, 0}}},
		// A full shard replaces its smallest counter: "c" takes over b's 1.
		{"replace the smallest", 2, 1, []string{"a", "a", "b", "c"}, 5, []Entry{{"a", 2, 0}, {"c", 2, 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustNew(t, tt.cap, WithShards(tt.shards))
			for _, k := range tt.stream {
				c.Observe(k)
			}
			if got := c.Top(tt.n); !slices.Equal(got, tt.want) {
				t.Fatalf("Top(%d) = %v, want %v", tt.n, got, tt.want)
			}
			checkInvariants(t, c)
		})
	}
}

func TestCapacityOneSharded(t *testing.T) {
	const shards = 4
	c := mustNew(t, 1, WithShards(shards))
	for i := range 1000 {
		c.Observe(strconv.Itoa(i % 37))
	}
	top := c.Top(100)
	if len(top) < 1 || len(top) > shards {
		t.Fatalf("%d entries, want 1 to %d (one per shard)", len(top), shards)
	}
	var sum uint64
	for _, e := range top {
		sum += e.Count
	}
	if sum != 1000 {
		t.Fatalf("counts add up to %d, want 1000", sum)
	}
	checkInvariants(t, c)
}

func TestNilCounter(t *testing.T) {
	var c *Counter
	c.Observe("a")
	c.Reset()
	if got := c.Top(3); got != nil {
		t.Fatalf("Top = %v, want nil", got)
	}
	if got := c.Total(); got != 0 {
		t.Fatalf("Total = %d, want 0", got)
	}
}

func TestReset(t *testing.T) {
	c := mustNew(t, 2, WithShards(1))
	for _, k := range []string{"a", "b", "c", "a"} {
		c.Observe(k)
	}
	c.Reset()
	if got := c.Top(5); got != nil || c.Total() != 0 {
		t.Fatalf("after Reset: Top = %v, Total = %d", got, c.Total())
	}
	checkInvariants(t, c)
	c.Observe("d")
	c.Observe("d")
	if got, want := c.Top(5), []Entry{{"d", 2, 0}}; !slices.Equal(got, want) {
		t.Fatalf("after Reset and reuse: Top = %v, want %v", got, want)
	}
	checkInvariants(t, c)
}

// The Counter copies the keys it keeps: a caller may hand it a string that
// views a buffer it reuses, or a small part of a large string.
func TestKeysAreCopied(t *testing.T) {
	c := mustNew(t, 4, WithShards(1))
	buf := []byte("alpha")
	c.Observe(unsafe.String(&buf[0], len(buf)))
	copy(buf, "omega")
	large := strings.Repeat("x", 1<<20)
	c.Observe(large[:3])

	want := []Entry{{"alpha", 1, 0}, {"xxx", 1, 0}}
	if got := c.Top(5); !slices.Equal(got, want) {
		t.Fatalf("Top = %v, want %v", got, want)
	}
	for _, sl := range c.shards[0].slots {
		if unsafe.StringData(sl.key) == unsafe.StringData(large) {
			t.Fatal("the Counter keeps a view of the caller's 1 MiB string")
		}
	}
}

// zipfStream returns a deterministic stream of n keys drawn from a Zipf
// distribution with exponent s over imax+1 keys, and each key's true count.
func zipfStream(n int, s float64, imax uint64) ([]string, map[string]uint64) {
	r := rand.New(rand.NewPCG(20240601, uint64(s*1000)))
	z := rand.NewZipf(r, s, 1, imax)
	names := make([]string, imax+1)
	for i := range names {
		names[i] = "product:" + strconv.Itoa(i)
	}
	stream := make([]string, n)
	truth := make(map[string]uint64)
	for i := range stream {
		k := names[z.Uint64()]
		stream[i] = k
		truth[k]++
	}
	return stream, truth
}

type ranked struct {
	key   string
	count uint64
}

func rankTruth(truth map[string]uint64) []ranked {
	r := make([]ranked, 0, len(truth))
	for k, n := range truth {
		r = append(r, ranked{k, n})
	}
	slices.SortFunc(r, func(a, b ranked) int {
		if d := cmp.Compare(b.count, a.count); d != 0 {
			return d
		}
		return cmp.Compare(a.key, b.key)
	})
	return r
}

func TestErrorBoundZipf(t *testing.T) {
	tests := []struct {
		s        float64
		capacity int
		shards   int
		// ordered: the 10th and 11th true counts are more than N/k apart,
		// so the bound alone decides which keys make Top(10).
		ordered bool
	}{
		{1.1, 100, 1, false},
		{1.1, 100, 4, false},
		{1.1, 100, 16, false},
		{1.1, 2000, 1, true},
		{1.1, 2000, 4, true},
		{1.3, 128, 1, false},
		{1.3, 128, 8, false},
		{2.0, 200, 1, false},
		{2.0, 200, 3, false},
		{2.0, 1000, 2, true},
	}
	const n = 200_000
	for _, tt := range tests {
		t.Run(fmt.Sprintf("s=%v/k=%d/shards=%d", tt.s, tt.capacity, tt.shards), func(t *testing.T) {
			stream, truth := zipfStream(n, tt.s, 100_000)
			ranks := rankTruth(truth)
			k := uint64(tt.capacity)
			if ranks[9].count*k <= n {
				t.Fatalf("bad test: the 10th key's count %d is not above N/k = %d", ranks[9].count, n/k)
			}
			if tt.ordered && ranks[9].count <= ranks[10].count+n/k {
				t.Fatalf("bad test: the 10th and 11th true counts %d and %d are within N/k = %d", ranks[9].count, ranks[10].count, n/k)
			}

			c := mustNew(t, tt.capacity, WithShards(tt.shards))
			for _, key := range stream {
				c.Observe(key)
			}
			checkInvariants(t, c)
			if got := c.Total(); got != n {
				t.Fatalf("Total = %d, want %d", got, n)
			}

			all := c.Top(len(truth) + 1)
			reported := make(map[string]Entry, len(all))
			var sum uint64
			for _, e := range all {
				reported[e.Key] = e
				sum += e.Count
				tc := truth[e.Key]
				if e.Count < tc || e.Count-e.Error > tc {
					t.Errorf("%q: true count %d outside [Count-Error, Count] = [%d, %d]", e.Key, tc, e.Count-e.Error, e.Count)
				}
				if e.Error*k > n {
					t.Errorf("%q: Error %d above N/k = %d", e.Key, e.Error, n/k)
				}
			}
			if sum != n {
				t.Errorf("counts add up to %d, want N = %d", sum, n)
			}
			for i, r := range ranks[:10] {
				if _, ok := reported[r.key]; !ok {
					t.Errorf("true #%d %q (count %d) not reported", i+1, r.key, r.count)
				}
			}
			for _, r := range ranks[10:] {
				if r.count*k <= n {
					break
				}
				if _, ok := reported[r.key]; !ok {
					t.Errorf("%q (true count %d > N/k = %d) not reported", r.key, r.count, n/k)
				}
			}

			top10 := c.Top(10)
			if len(top10) != 10 {
				t.Fatalf("Top(10) has %d entries", len(top10))
			}
			if !tt.ordered {
				return
			}
			want := make([]string, 10)
			got := make([]string, 10)
			for i := range 10 {
				want[i], got[i] = ranks[i].key, top10[i].Key
			}
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("Top(10) keys %v, want the true top 10 %v", got, want)
			}
		})
	}
}

// Each shard is a summary of its own substream, so its errors are bounded
// by that substream's length: usually well below the global N/k.
func TestErrorBoundPerShard(t *testing.T) {
	const n, capacity, shards = 100_000, 32, 8
	stream, truth := zipfStream(n, 1.2, 50_000)
	c := mustNew(t, capacity, WithShards(shards))
	for _, key := range stream {
		c.Observe(key)
	}
	for i := range c.shards {
		s := &c.shards[i].shard
		for _, sl := range s.slots {
			if sl.err*capacity > s.n {
				t.Errorf("shard %d: %q error %d above n/k = %d", i, sl.key, sl.err, s.n/capacity)
			}
			if c.shard(sl.key) != s {
				t.Errorf("%q tracked by shard %d, which its hash does not pick", sl.key, i)
			}
			if tc := truth[sl.key]; sl.count < tc || sl.count-sl.err > tc {
				t.Errorf("%q: true count %d outside [%d, %d]", sl.key, tc, sl.count-sl.err, sl.count)
			}
		}
	}
}

func TestConcurrentObserve(t *testing.T) {
	tests := []struct {
		name     string
		capacity int
		shards   int
		keys     int // distinct keys; at most capacity per shard makes counts exact
	}{
		{"exact one shard", 64, 1, 64},
		{"exact sharded", 64, 8, 64},
		{"churn one shard", 16, 1, 500},
		{"churn sharded", 16, 8, 500},
	}
	const goroutines, perG = 8, 5000
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustNew(t, tt.capacity, WithShards(tt.shards))
			keys := make([]string, tt.keys)
			for i := range keys {
				keys[i] = "k" + strconv.Itoa(i)
			}
			stop := make(chan struct{})
			readerDone := make(chan struct{})
			go func() { // a reader of the statistic while traffic flows
				defer close(readerDone)
				for {
					select {
					case <-stop:
						return
					default:
					}
					for _, e := range c.Top(5) {
						if e.Error > e.Count {
							t.Errorf("entry %v: Error above Count", e)
						}
					}
					_ = c.Total()
				}
			}()
			var wg sync.WaitGroup
			for g := range goroutines {
				wg.Go(func() {
					for i := range perG {
						c.Observe(keys[(g*7+i)%len(keys)])
					}
				})
			}
			wg.Wait()
			close(stop)
			<-readerDone

			checkInvariants(t, c)
			if got := c.Total(); got != goroutines*perG {
				t.Fatalf("Total = %d, want %d", got, goroutines*perG)
			}
			if tt.keys > tt.capacity {
				return
			}
			want := make(map[string]uint64)
			for g := range goroutines {
				for i := range perG {
					want[keys[(g*7+i)%len(keys)]]++
				}
			}
			top := c.Top(len(keys))
			if len(top) != len(want) {
				t.Fatalf("%d entries, want %d", len(top), len(want))
			}
			for _, e := range top {
				if e.Count != want[e.Key] || e.Error != 0 {
					t.Errorf("%q: Count %d Error %d, want %d exactly", e.Key, e.Count, e.Error, want[e.Key])
				}
			}
		})
	}
}

func TestConcurrentReset(t *testing.T) {
	c := mustNew(t, 8, WithShards(4))
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 5000 {
				c.Observe(strconv.Itoa((g + i) % 40))
			}
		})
	}
	wg.Go(func() {
		for range 200 {
			c.Reset()
		}
	})
	wg.Wait()
	checkInvariants(t, c)
	var sum uint64
	for _, e := range c.Top(1000) {
		sum += e.Count
	}
	if sum != c.Total() {
		t.Fatalf("counts add up to %d, Total = %d", sum, c.Total())
	}
}

func TestObserveTrackedKeyDoesNotAllocate(t *testing.T) {
	for _, shards := range []int{1, 8} {
		t.Run(fmt.Sprintf("shards=%d", shards), func(t *testing.T) {
			c := mustNew(t, 16, WithShards(shards))
			keys := []string{"a", "bb", "product:12345", "ccc"}
			for _, k := range keys {
				c.Observe(k)
			}
			i := 0
			allocs := testing.AllocsPerRun(1000, func() {
				c.Observe(keys[i%len(keys)])
				i++
			})
			if allocs != 0 {
				t.Fatalf("%v allocations per Observe of a tracked key, want 0", allocs)
			}
		})
	}
}

// Top(n) selects without sorting everything; it must agree with a full sort.
func TestTopIsPrefixOfFullOrder(t *testing.T) {
	stream, _ := zipfStream(20_000, 1.05, 5_000)
	c := mustNew(t, 64, WithShards(4))
	for _, k := range stream {
		c.Observe(k)
	}
	all := c.Top(1 << 30)
	if len(all) == 0 || len(all) > 4*64 {
		t.Fatalf("%d entries, want 1 to %d", len(all), 4*64)
	}
	if !slices.IsSortedFunc(all, func(a, b Entry) int {
		if better(a, b) {
			return -1
		}
		return 1
	}) {
		t.Fatal("Top is not sorted by Count desc, Error asc, Key asc")
	}
	for _, n := range []int{1, 2, 3, 10, 63, 64, 65, len(all) - 1, len(all), len(all) + 1} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			want := all[:min(n, len(all))]
			if got := c.Top(n); !slices.Equal(got, want) {
				t.Fatalf("Top(%d) differs from the first %d of the full order", n, n)
			}
		})
	}
}
