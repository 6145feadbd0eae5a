package cachefront

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// readGate is a client hook that counts the reads of one key and holds the
// first one's answer, already received from Redis, until released: a read
// that was sent before something happened and is answered after it.
type readGate struct {
	key     string
	reads   atomic.Int32
	held    chan struct{}
	release chan struct{}
}

func newReadGate(key string) *readGate {
	return &readGate{key: key, held: make(chan struct{}), release: make(chan struct{})}
}

func (g *readGate) reads1(cmds ...redis.Cmder) bool {
	for _, c := range cmds {
		name := strings.ToLower(c.Name())
		if (name == "get" || name == "mget") && slices.Contains(c.Args()[1:], any(g.key)) {
			return true
		}
	}
	return false
}

func (g *readGate) gate(cmds ...redis.Cmder) {
	if g.reads1(cmds...) && g.reads.Add(1) == 1 {
		close(g.held)
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
		for k, sr := range sh.next {
			if k.rkey == rkey {
				n += 1 + sr.joiners
			}
		}
		sh.mu.Unlock()
	}
	return n
}

func TestConcurrentReadsShareRoundTripsButNeverAnOlderOne(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testBackend) {
		ctx := context.Background()
		s := newTestStore(t, b)
		c := New[Product](s, "products")
		if err := c.Set(ctx, "p1", sampleProduct("B000000001"), WithTags("shelf")); err != nil {
			t.Fatal(err)
		}
		rkey, _ := s.keys.entry("products", "p1")
		gate := newReadGate(rkey)
		b.rdb.AddHook(gate)

		first := make(chan error, 1)
		go func() {
			_, err := c.Get(ctx, "p1", WithTags("shelf"))
			first <- err
		}()
		<-gate.held // answered by Redis before the invalidation, not yet returned
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
		waitFor(t, 5*time.Second, "the late callers to gather behind the read on the wire", func() bool {
			return s.reads.gathering(rkey) == late
		})
		close(gate.release)

		if err := <-first; err != nil {
			t.Errorf("the read sent before the invalidation: %v, want its value", err)
		}
		for range late {
			if err := <-results; !errors.Is(err, ErrNotFound) {
				t.Fatalf("a caller arriving after InvalidateTags got %v, want ErrNotFound", err)
			}
		}
		if n := gate.reads.Load(); n != 2 {
			t.Errorf("%d reads of the entry for 1+%d callers, want 2", n, late)
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
		rkey, _ := s.keys.entry("products", "p2")
		gate := newReadGate(rkey)
		b.rdb.AddHook(gate)

		go func() { _, _ = c.Get(ctx, "p2") }()
		<-gate.held
		// The next read's sender gives up before its read is sent; the
		// caller who joined it still gets an answer.
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
