package engine

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

	"github.com/cachefront/cachefront/internal/backend"
	"github.com/cachefront/cachefront/internal/testbackend"
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

// fillReadsOnWire starts maxReadsOnWire reads of rkey that gate holds, and
// returns what they read once they are released.
func fillReadsOnWire(e *Engine, c *Cache, gate *readGate, rkey string, call *Call) <-chan result {
	early := make(chan result, maxReadsOnWire)
	for range maxReadsOnWire {
		go func() { early <- read(ctxBG, e, c, rkey, call) }()
	}
	gate.held.Wait()
	return early
}

// result is what a read returned: the value found ("" for none) or an
// error.
type result struct {
	value string
	err   error
}

func read(ctx context.Context, e *Engine, c *Cache, rkey string, call *Call) result {
	r, err := e.Read(ctx, c, rkey, call.TagSet(e))
	if err != nil || r.Found != FoundEntry {
		return result{err: err}
	}
	return result{value: string(r.View.Payload)}
}

func TestConcurrentReadsShareRoundTripsButNeverAnOlderOne(t *testing.T) {
	testbackend.ForEach(t, func(t *testing.T, b *testbackend.Backend) {
		e := newTestEngine(t, b)
		c := stringCache(e, "products")
		call := testCall(e, "shelf")
		rkey, _ := e.Keys.Entry("products", "p1")
		set(t, e, c, rkey, "v1", call)
		gate := newReadGate(rkey, maxReadsOnWire)
		b.RDB.AddHook(gate)

		// Reads answered by Redis before the invalidation, not yet returned.
		early := fillReadsOnWire(e, c, gate, rkey, call)
		if err := e.InvalidateTags(ctxBG, []string{"shelf"}); err != nil {
			t.Fatal(err)
		}
		const late = 50
		results := make(chan result, late)
		for range late {
			go func() { results <- read(ctxBG, e, c, rkey, call) }()
		}
		testbackend.WaitFor(t, 5*time.Second, "the late callers to gather behind the reads on the wire", func() bool {
			return e.reads.gathering(rkey) == late
		})
		close(gate.release)

		for range maxReadsOnWire {
			if r := <-early; r.value != "v1" {
				t.Errorf("a read sent before the invalidation: %+v, want its value", r)
			}
		}
		for range late {
			if r := <-results; r.value != "" || r.err != nil {
				t.Fatalf("a caller arriving after InvalidateTags got %+v, want nothing", r)
			}
		}
		if n, want := gate.reads.Load(), int32(maxReadsOnWire+1); n != want {
			t.Errorf("%d reads of the entry for %d+%d callers, want %d", n, maxReadsOnWire, late, want)
		}
	})
}

func TestSharedReadSurvivesItsSenderLeaving(t *testing.T) {
	testbackend.ForEach(t, func(t *testing.T, b *testbackend.Backend) {
		e := newTestEngine(t, b)
		c := stringCache(e, "products")
		call := testCall(e)
		rkey, _ := e.Keys.Entry("products", "p2")
		set(t, e, c, rkey, "v2", call)
		gate := newReadGate(rkey, maxReadsOnWire)
		b.RDB.AddHook(gate)
		fillReadsOnWire(e, c, gate, rkey, call)

		// The caller that will send the next read gives up before it is
		// sent; the caller who joined it still gets an answer.
		senderCtx, cancel := context.WithCancel(ctxBG)
		sender := make(chan result, 1)
		go func() { sender <- read(senderCtx, e, c, rkey, call) }()
		testbackend.WaitFor(t, 5*time.Second, "the next read's sender", func() bool { return e.reads.gathering(rkey) == 1 })
		joiner := make(chan result, 1)
		go func() { joiner <- read(ctxBG, e, c, rkey, call) }()
		testbackend.WaitFor(t, 5*time.Second, "the joiner", func() bool { return e.reads.gathering(rkey) == 2 })
		cancel()
		close(gate.release)
		if r := <-sender; !errors.Is(r.err, context.Canceled) {
			t.Errorf("sender: %+v, want context.Canceled", r)
		}
		if r := <-joiner; r.value != "v2" {
			t.Errorf("joiner: %+v, want the value", r)
		}
		testbackend.WaitFor(t, 5*time.Second, "the key's record to go", func() bool {
			sh := &e.reads.shards[maphash.String(e.reads.seed, rkey)%uint64(len(e.reads.shards))]
			sh.mu.Lock()
			defer sh.mu.Unlock()
			return len(sh.keys) == 0
		})
	})
}

func TestSharedReadWhoseSenderPanicsStillAnswersTheOthers(t *testing.T) {
	testbackend.ForEach(t, func(t *testing.T, b *testbackend.Backend) {
		// A hook that panics inside a watchdog goroutine ends the process;
		// the shared read is only in the caller's goroutine when the client
		// honours context deadlines.
		single, ok := b.RDB.(*redis.Client)
		if !ok {
			t.Skip("builds a ContextTimeoutEnabled client from a single-server one")
		}
		opt := *single.Options()
		opt.ContextTimeoutEnabled = true
		rdb := redis.NewClient(&opt)
		t.Cleanup(func() { _ = rdb.Close() })
		e := newTestEngine(t, &testbackend.Backend{Name: b.Name, RDB: rdb})
		c := stringCache(e, "products")
		call := testCall(e)
		rkey, _ := e.Keys.Entry("products", "p3")
		set(t, e, c, rkey, "v3", call)
		gate := newReadGate(rkey, maxReadsOnWire)
		gate.panicAt = maxReadsOnWire + 1
		rdb.AddHook(gate)
		early := fillReadsOnWire(e, c, gate, rkey, call)

		sender := make(chan any, 1)
		go func() {
			defer func() { sender <- recover() }()
			read(ctxBG, e, c, rkey, call)
		}()
		testbackend.WaitFor(t, 5*time.Second, "the next read's sender", func() bool { return e.reads.gathering(rkey) == 1 })
		joiner := make(chan result, 1)
		go func() { joiner <- read(ctxBG, e, c, rkey, call) }()
		testbackend.WaitFor(t, 5*time.Second, "the joiner", func() bool { return e.reads.gathering(rkey) == 2 })
		close(gate.release)
		if p := <-sender; p == nil {
			t.Error("the sender's hook panic did not reach the sender")
		}
		if r := <-joiner; !errors.Is(r.err, backend.ErrUnavailable) {
			t.Errorf("joiner: %+v, want ErrUnavailable", r)
		}
		for range maxReadsOnWire {
			if r := <-early; r.value != "v3" {
				t.Errorf("early read %+v", r)
			}
		}
		if r := read(ctxBG, e, c, rkey, call); r.value != "v3" {
			t.Errorf("a read after the panic: %+v", r)
		}
	})
}
