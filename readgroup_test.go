package cachefront

import (
	"context"
	"errors"
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// readGate is a client hook that counts the reads of one key and holds the
// answers of the first few, already received from Redis, until released:
// reads that were sent before something happened and are answered after it.
type readGate struct {
	key     string
	hold    int32
	reads   atomic.Int32
	held    sync.WaitGroup
	release chan struct{}
	// panicAt makes the read with this number (counting from 1) panic.
	panicAt int32
}

func newReadGate(key string, hold int) *readGate {
	g := &readGate{key: key, hold: int32(hold), release: make(chan struct{})}
	g.held.Add(hold)
	return g
}

func (g *readGate) readsKey(cmds ...redis.Cmder) bool {
	for _, c := range cmds {
		name := strings.ToLower(c.Name())
		if (name == "get" || name == "mget") && slices.Contains(c.Args()[1:], any(g.key)) {
			return true
		}
	}
	return false
}

func (g *readGate) gate(cmds ...redis.Cmder) {
	if !g.readsKey(cmds...) {
		return
	}
	n := g.reads.Add(1)
	if n == g.panicAt {
		panic("client hook failed")
	}
	if n <= g.hold {
		g.held.Done()
		<-g.release
	}
}

func (g *readGate) DialHook(next redis.DialHook) redis.DialHook { return next }

func (g *readGate) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		g.gate(cmd)
		return err
	}
}

func (g *readGate) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		g.gate(cmds...)
		return err
	}
}

// gathering counts the callers waiting for the next read of rkey.
func (g *readGroup) gathering(rkey string) int {
	n := 0
	for i := range g.shards {
		sh := &g.shards[i]
		sh.mu.Lock()
		for k, kr := range sh.keys {
			if k.rkey == rkey && kr.next != nil {
				n += 1 + kr.next.joiners
			}
		}
		sh.mu.Unlock()
	}
	return n
}

// fillReadsOnWire starts maxReadsOnWire reads of key that gate holds, and
// returns their results once they are released.
func fillReadsOnWire(t *testing.T, c *Cache[Product], gate *readGate, key string, opts ...Option) <-chan error {
	t.Helper()
	early := make(chan error, maxReadsOnWire)
	for range maxReadsOnWire {
		go func() {
			_, err := c.Get(context.Background(), key, opts...)
			early <- err
		}()
	}
	gate.held.Wait()
	return early
}

func TestConcurrentReadsShareRoundTripsButNeverAnOlderOne(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testBackend) {
		ctx := context.Background()
		s := newTestStore(t, b)
		c := New[Product](s, "products")
		if err := c.Set(ctx, "p1", sampleProduct("B000000001"), WithTags("shelf")); err != nil {
			t.Fatal(err)
		}
		rkey, _ := s.keys.Entry("products", "p1")
		gate := newReadGate(rkey, maxReadsOnWire)
		b.rdb.AddHook(gate)

		// Reads answered by Redis before the invalidation, not yet returned.
		early := fillReadsOnWire(t, c, gate, "p1", WithTags("shelf"))
		if err := s.InvalidateTags(ctx, "shelf"); err != nil {
			t.Fatal(err)
		}
		const late = 50
		results := make(chan error, late)
		for range late {
			go func() {
				_, err := c.Get(ctx, "p1", WithTags("shelf"))
				results <- err
			}()
		}
		waitFor(t, 5*time.Second, "the late callers to gather behind the reads on the wire", func() bool {
			return s.reads.gathering(rkey) == late
		})
		close(gate.release)

		for range maxReadsOnWire {
			if err := <-early; err != nil {
				t.Errorf("a read sent before the invalidation: %v, want its value", err)
			}
		}
		for range late {
			if err := <-results; !errors.Is(err, ErrNotFound) {
				t.Fatalf("a caller arriving after InvalidateTags got %v, want ErrNotFound", err)
			}
		}
		if n, want := gate.reads.Load(), int32(maxReadsOnWire+1); n != want {
			t.Errorf("%d reads of the entry for %d+%d callers, want %d", n, maxReadsOnWire, late, want)
		}
	})
}

func TestSharedReadSurvivesItsSenderLeaving(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testBackend) {
		ctx := context.Background()
		s := newTestStore(t, b)
		c := New[Product](s, "products")
		want := sampleProduct("B000000002")
		if err := c.Set(ctx, "p2", want); err != nil {
			t.Fatal(err)
		}
		rkey, _ := s.keys.Entry("products", "p2")
		gate := newReadGate(rkey, maxReadsOnWire)
		b.rdb.AddHook(gate)
		fillReadsOnWire(t, c, gate, "p2")

		// The caller that will send the next read gives up before it is
		// sent; the caller who joined it still gets an answer.
		senderCtx, cancel := context.WithCancel(ctx)
		sender := make(chan error, 1)
		go func() {
			_, err := c.Get(senderCtx, "p2")
			sender <- err
		}()
		waitFor(t, 5*time.Second, "the next read's sender", func() bool { return s.reads.gathering(rkey) == 1 })
		joiner := make(chan error, 1)
		go func() {
			got, err := c.Get(ctx, "p2")
			if err == nil && got.ASIN != want.ASIN {
				err = errors.New("wrong value " + got.ASIN)
			}
			joiner <- err
		}()
		waitFor(t, 5*time.Second, "the joiner", func() bool { return s.reads.gathering(rkey) == 2 })
		cancel()
		close(gate.release)
		if err := <-sender; !errors.Is(err, context.Canceled) {
			t.Errorf("sender: %v, want context.Canceled", err)
		}
		if err := <-joiner; err != nil {
			t.Errorf("joiner: %v, want the value", err)
		}
		waitFor(t, 5*time.Second, "the key's record to go", func() bool {
			sh := &s.reads.shards[maphash.String(s.reads.seed, rkey)%uint64(len(s.reads.shards))]
			sh.mu.Lock()
			defer sh.mu.Unlock()
			return len(sh.keys) == 0
		})
	})
}

func TestSharedReadWhoseSenderPanicsStillAnswersTheOthers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testBackend) {
		ctx := context.Background()
		// A hook that panics inside a watchdog goroutine ends the process;
		// the shared read is only in the caller's goroutine when the client
		// honours context deadlines.
		single, ok := b.rdb.(*redis.Client)
		if !ok {
			t.Skip("builds a ContextTimeoutEnabled client from a single-server one")
		}
		opt := *single.Options()
		opt.ContextTimeoutEnabled = true
		b = &testBackend{name: b.name, rdb: redis.NewClient(&opt)}
		t.Cleanup(func() { _ = b.rdb.Close() })
		s := newTestStore(t, b)
		c := New[Product](s, "products")
		if err := c.Set(ctx, "p3", sampleProduct("B000000003")); err != nil {
			t.Fatal(err)
		}
		rkey, _ := s.keys.Entry("products", "p3")
		gate := newReadGate(rkey, maxReadsOnWire)
		gate.panicAt = maxReadsOnWire + 1
		b.rdb.AddHook(gate)
		early := fillReadsOnWire(t, c, gate, "p3")

		sender := make(chan any, 1)
		go func() {
			defer func() { sender <- recover() }()
			_, _ = c.Get(ctx, "p3")
		}()
		waitFor(t, 5*time.Second, "the next read's sender", func() bool { return s.reads.gathering(rkey) == 1 })
		joiner := make(chan error, 1)
		go func() {
			_, err := c.Get(ctx, "p3")
			joiner <- err
		}()
		waitFor(t, 5*time.Second, "the joiner", func() bool { return s.reads.gathering(rkey) == 2 })
		close(gate.release)
		if p := <-sender; p == nil {
			t.Error("the sender's hook panic did not reach the sender")
		}
		if err := <-joiner; !errors.Is(err, ErrUnavailable) {
			t.Errorf("joiner: %v, want ErrUnavailable", err)
		}
		for range maxReadsOnWire {
			if err := <-early; err != nil {
				t.Error(err)
			}
		}
		if _, err := c.Get(ctx, "p3"); err != nil {
			t.Errorf("a read after the panic: %v", err)
		}
	})
}

func TestSameTags(t *testing.T) {
	opts := func(tags ...[]string) []Option {
		var out []Option
		for _, ts := range tags {
			out = append(out, WithTags(ts...))
		}
		return out
	}
	cases := []struct {
		names, base []string
		opts        []Option
		want        bool
	}{
		{[]string{"a"}, nil, opts([]string{"a"}), true},
		{[]string{"a"}, nil, opts([]string{"a", "a"}), true},
		{[]string{"a", "b"}, nil, opts([]string{"a"}, []string{"b", "a"}), true},
		{[]string{"c", "a"}, []string{"c"}, opts([]string{"a", "c"}), true},
		{[]string{"a"}, nil, opts([]string{"b"}), false},
		{[]string{"a", "b"}, nil, opts([]string{"a"}), false},
		{[]string{"a"}, nil, opts([]string{"a", "b"}), false},
		{[]string{"a"}, nil, append(opts([]string{"a"}), WithTTL(time.Second)), false},
		{[]string{"c", "a"}, []string{"c"}, opts([]string{"x"}), false},
	}
	for i, tc := range cases {
		if got := sameTags(tc.names, tc.base, tc.opts); got != tc.want {
			t.Errorf("case %d: sameTags(%q, %q, …) = %v, want %v", i, tc.names, tc.base, got, tc.want)
		}
	}
}
