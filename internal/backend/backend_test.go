package backend

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/cachefront/cachefront/internal/breaker"
	"github.com/cachefront/cachefront/internal/testbackend"
	"github.com/redis/go-redis/v9"
)

func newMini(t *testing.T) (*miniredis.Miniredis, *redis.Client) {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	return mr, rdb
}

func TestGetManyReportsPresentAndAbsentKeys(t *testing.T) {
	mr, rdb := newMini(t)
	mr.Set("a", "1")
	mr.Set("c", "3")
	be := New(rdb, time.Second, breaker.New(5, time.Second, nil))
	if !be.Single || !be.CtxDeadlines {
		t.Fatalf("a ContextTimeoutEnabled single client: Single=%v CtxDeadlines=%v", be.Single, be.CtxDeadlines)
	}
	for _, keys := range [][]string{{"a"}, {"b"}, {"a", "b", "c"}} {
		vals, ok := make([]string, len(keys)), make([]bool, len(keys))
		if err := be.Run(context.Background(), func(ctx context.Context) error { return be.GetMany(ctx, keys, vals, ok) }); err != nil {
			t.Fatal(err)
		}
		for i, k := range keys {
			want, _ := mr.Get(k)
			present := mr.Exists(k)
			if vals[i] != want || ok[i] != present {
				t.Errorf("%v: %s = %q %v, want %q %v", keys, k, vals[i], ok[i], want, present)
			}
		}
	}
}

func TestPipelinedTreatsNilAsAnAnswer(t *testing.T) {
	_, rdb := newMini(t)
	be := New(rdb, time.Second, breaker.New(5, time.Second, nil))
	var missing *redis.StringCmd
	err := be.Pipelined(context.Background(), func(p redis.Pipeliner) {
		p.Set(context.Background(), "k", "v", 0)
		missing = p.Get(context.Background(), "absent")
	})
	if err != nil || missing.Err() != redis.Nil {
		t.Fatalf("Pipelined = %v, absent key: %v", err, missing.Err())
	}
	err = be.Pipelined(context.Background(), func(p redis.Pipeliner) {
		p.Get(context.Background(), "absent")
		p.Incr(context.Background(), "k") // not an integer
	})
	if err == nil || err == redis.Nil {
		t.Fatalf("Pipelined = %v, want the INCR error", err)
	}
}

// Failures are ErrUnavailable and open the breaker, which then refuses
// operations without calling Redis until its cool-down has passed.
func TestFailuresOpenTheBreaker(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, ContextTimeoutEnabled: true})
	defer rdb.Close()
	be := New(rdb, 100*time.Millisecond, breaker.New(2, time.Minute, nil))
	calls := 0
	op := func(ctx context.Context) error { calls++; return rdb.Ping(ctx).Err() }
	for range 2 {
		if err := be.Run(context.Background(), op); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Run = %v, want ErrUnavailable", err)
		}
	}
	if err := be.Run(context.Background(), op); !errors.Is(err, ErrUnavailable) || calls != 2 {
		t.Fatalf("with the breaker open: Run = %v after %d calls, want ErrUnavailable without a call", err, calls)
	}
}

// On a default client (which ignores context deadlines on reads) a silent
// server still costs at most the operation timeout, and a caller that goes
// away gets its own context's error.
func TestWatchdogBoundsASilentServer(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: testbackend.SilentServer(t), MaxRetries: -1})
	defer rdb.Close()
	be := New(rdb, 100*time.Millisecond, breaker.New(100, time.Minute, nil))
	if be.inline(false) {
		t.Fatal("a default client must run operations under the watchdog")
	}
	start := time.Now()
	err := be.Run(context.Background(), func(ctx context.Context) error { return rdb.Get(ctx, "k").Err() })
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Run = %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Run took %v against a 100ms operation timeout", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := be.Run(ctx, func(ctx context.Context) error { return rdb.Get(ctx, "k").Err() }); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run with a cancelled context = %v", err)
	}
}

func TestBuffersComeBackEmpty(t *testing.T) {
	b := GetBuffer()
	b.WriteString("data")
	PutBuffer(b)
	if got := GetBuffer(); got.Len() != 0 {
		t.Fatalf("a pooled buffer holds %q", got.String())
	}
}

func TestBudgetSpentByOneFailureFailsTheRestAtOnce(t *testing.T) {
	_, rdb := newMini(t)
	be := New(rdb, time.Second, breaker.New(0, time.Second, nil))
	ctx := WithBudget(context.Background())
	if WithBudget(ctx) != ctx {
		t.Fatal("WithBudget on a context with a budget made another one")
	}
	calls := 0
	ok := func(context.Context) error { calls++; return nil }
	if err := be.Run(ctx, ok); err != nil || calls != 1 {
		t.Fatalf("first operation: %v, %d calls", err, calls)
	}
	if err := be.Run(ctx, func(context.Context) error { calls++; return errors.New("refused") }); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("failing operation = %v", err)
	}
	if err := be.Run(ctx, ok); !errors.Is(err, ErrUnavailable) || calls != 2 {
		t.Fatalf("after a failure under the budget: %v, %d calls, want ErrUnavailable without a call", err, calls)
	}
	if err := be.Run(context.Background(), ok); err != nil || calls != 3 {
		t.Fatalf("another context is not affected: %v, %d calls", err, calls)
	}
}
