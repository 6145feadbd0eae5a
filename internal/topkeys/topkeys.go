package topkeys

import (
	"errors"
	"fmt"
	"hash/maphash"
	"math/bits"
	"runtime"
	"slices"
	"strings"
	"sync"
)

// ErrInvalidConfig is returned by [New] for a capacity below 1 or a shard
// count below 1.
var ErrInvalidConfig = errors.New("topkeys: invalid configuration")

// maxDefaultShards caps the default shard count: past it, skewed traffic is
// bound by its hottest key's shard anyway, and memory grows with the count.
const maxDefaultShards = 16

// Entry is one key [Counter.Top] reports. The key's true count since the
// last reset lies in [Count-Error, Count].
type Entry struct {
	Key   string
	Count uint64 // upper bound of the key's true count
	Error uint64 // how much Count may overestimate; at most Total()/capacity
}

// Counter is a bounded heavy-hitters counter of keys. It is safe for
// concurrent use; the package documentation gives its error bound and cost.
// A nil *Counter is valid: it observes nothing and reports nothing.
type Counter struct {
	seed   maphash.Seed
	shards []paddedShard
}

// Option configures a [Counter].
type Option interface{ apply(*options) }

type options struct {
	shards int
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// WithShards sets the number of shards, each with its own lock and its own
// capacity. The default is GOMAXPROCS at construction, at most 16. One shard
// makes the Counter a single Space-Saving summary behind one mutex.
func WithShards(n int) Option {
	return optionFunc(func(o *options) { o.shards = n })
}

func defaultOptions() options {
	return options{shards: min(runtime.GOMAXPROCS(0), maxDefaultShards)}
}

// New returns a Counter whose shards each track at most capacity keys, which
// bounds each reported error by Total()/capacity. It returns an error
// wrapping [ErrInvalidConfig] when capacity or the shard count is below 1.
func New(capacity int, opts ...Option) (*Counter, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt.apply(&o)
	}
	if capacity < 1 {
		return nil, fmt.Errorf("%w: capacity %d, want at least 1", ErrInvalidConfig, capacity)
	}
	if o.shards < 1 {
		return nil, fmt.Errorf("%w: %d shards, want at least 1", ErrInvalidConfig, o.shards)
	}
	c := &Counter{seed: maphash.MakeSeed(), shards: make([]paddedShard, o.shards)}
	for i := range c.shards {
		c.shards[i].capacity = capacity
		c.shards[i].index = make(map[string]int32)
	}
	return c, nil
}

// Observe counts one read of key. It allocates only when key is not tracked.
func (c *Counter) Observe(key string) {
	if c == nil {
		return
	}
	s := c.shard(key)
	s.mu.Lock()
	s.observe(key)
	s.mu.Unlock()
}

// Top returns the at most n entries with the highest counts, highest first;
// ties are broken by smaller Error, then by key. It returns nil when n < 1 or
// nothing was observed. It holds each shard's lock while it reads that
// shard's counters, for time proportional to the capacity.
func (c *Counter) Top(n int) []Entry {
	if c == nil || n < 1 {
		return nil
	}
	// best is a heap of the n best entries seen so far, worst at the root,
	// so that a stats call with a small n costs no sort of every counter.
	var best []Entry
	for i := range c.shards {
		s := &c.shards[i].shard
		s.mu.Lock()
		for j := range s.slots {
			sl := &s.slots[j]
			e := Entry{Key: sl.key, Count: sl.count, Error: sl.err}
			switch {
			case len(best) < n:
				best = append(best, e)
				worstUp(best, len(best)-1)
			case better(e, best[0]):
				best[0] = e
				worstDown(best, 0)
			}
		}
		s.mu.Unlock()
	}
	slices.SortFunc(best, func(a, b Entry) int {
		if better(a, b) {
			return -1
		}
		return 1 // keys are unique, so no two entries are equal
	})
	return best
}

// better reports whether a ranks before b in [Counter.Top].
func better(a, b Entry) bool {
	if a.Count != b.Count {
		return a.Count > b.Count
	}
	if a.Error != b.Error {
		return a.Error < b.Error
	}
	return a.Key < b.Key
}

// worstUp and worstDown keep h a heap with its worst entry at h[0].
func worstUp(h []Entry, j int) {
	for j > 0 {
		p := (j - 1) / 2
		if !better(h[p], h[j]) {
			return
		}
		h[p], h[j] = h[j], h[p]
		j = p
	}
}

func worstDown(h []Entry, j int) {
	for {
		w := j
		if l := 2*j + 1; l < len(h) && better(h[w], h[l]) {
			w = l
		}
		if r := 2*j + 2; r < len(h) && better(h[w], h[r]) {
			w = r
		}
		if w == j {
			return
		}
		h[j], h[w] = h[w], h[j]
		j = w
	}
}

// Total returns the number of observations since the last [Counter.Reset]:
// the N of the error bound.
func (c *Counter) Total() uint64 {
	if c == nil {
		return 0
	}
	var n uint64
	for i := range c.shards {
		s := &c.shards[i].shard
		s.mu.Lock()
		n += s.n
		s.mu.Unlock()
	}
	return n
}

// Reset forgets every key and count, keeping the memory for reuse.
func (c *Counter) Reset() {
	if c == nil {
		return
	}
	for i := range c.shards {
		s := &c.shards[i].shard
		s.mu.Lock()
		clear(s.index)
		clear(s.slots) // drop the keys so that they can be collected
		s.slots = s.slots[:0]
		s.heap = s.heap[:0]
		s.n = 0
		s.mu.Unlock()
	}
}

func (c *Counter) shard(key string) *shard {
	if len(c.shards) == 1 {
		return &c.shards[0].shard
	}
	// Multiply-shift maps the hash onto [0, len) without a division and
	// without requiring a power of two.
	i, _ := bits.Mul64(maphash.String(c.seed, key), uint64(len(c.shards)))
	return &c.shards[i].shard
}

// shard is one Space-Saving summary. Its counters live in slots, which never
// move; heap orders slot numbers by count, smallest first, so that the
// counter to give away is heap[0].
type shard struct {
	capacity int

	mu    sync.Mutex       // guards the fields below
	index map[string]int32 // key → slot number
	slots []slot
	heap  []int32 // slot numbers; a min-heap on slots[i].count
	n     uint64  // observations since the last reset
}

// paddedShard keeps each shard's mutex and counters off its neighbours'
// cache lines.
type paddedShard struct {
	shard
	_ [64]byte
}

type slot struct {
	key   string
	count uint64
	err   uint64
	pos   int32 // index of this slot in heap
}

func (s *shard) observe(key string) {
	s.n++
	if i, ok := s.index[key]; ok {
		s.slots[i].count++
		s.down(int(s.slots[i].pos))
		return
	}
	if len(s.slots) < s.capacity {
		i := int32(len(s.slots))
		s.slots = append(s.slots, slot{key: strings.Clone(key), count: 1, pos: int32(len(s.heap))})
		s.heap = append(s.heap, i)
		s.index[s.slots[i].key] = i
		s.up(len(s.heap) - 1)
		return
	}
	// Full: the new key takes over the smallest counter, inheriting its
	// count as the error. Any key not tracked has a true count of at most
	// that smallest count, which is at most n/capacity since the counts add
	// up to n.
	i := s.heap[0]
	sl := &s.slots[i]
	delete(s.index, sl.key)
	m := sl.count
	*sl = slot{key: strings.Clone(key), count: m + 1, err: m, pos: 0}
	s.index[sl.key] = i
	s.down(0)
}

func (s *shard) less(a, b int) bool {
	return s.slots[s.heap[a]].count < s.slots[s.heap[b]].count
}

func (s *shard) swap(a, b int) {
	s.heap[a], s.heap[b] = s.heap[b], s.heap[a]
	s.slots[s.heap[a]].pos = int32(a)
	s.slots[s.heap[b]].pos = int32(b)
}

func (s *shard) up(j int) {
	for j > 0 {
		p := (j - 1) / 2
		if !s.less(j, p) {
			return
		}
		s.swap(j, p)
		j = p
	}
}

func (s *shard) down(j int) {
	n := len(s.heap)
	for {
		l := 2*j + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && s.less(r, l) {
			m = r
		}
		if !s.less(m, j) {
			return
		}
		s.swap(j, m)
		j = m
	}
}
