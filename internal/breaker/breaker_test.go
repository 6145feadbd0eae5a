package breaker

import (
	"sync"
	"testing"
	"time"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestOpensAfterThresholdAndProbes(t *testing.T) {
	var changes []State
	b := New(3, time.Second, func(s State) { changes = append(changes, s) })
	c := &clock{t: time.Unix(1000, 0)}
	b.now = c.now

	for i := 0; i < 2; i++ {
		b.Failure()
	}
	if !b.Allow() {
		t.Fatal("two failures must not open a threshold-3 breaker")
	}
	b.Failure()
	if b.Allow() {
		t.Fatal("third consecutive failure must open the breaker")
	}
	c.add(999 * time.Millisecond)
	if b.Allow() {
		t.Fatal("must stay open during the cool-down")
	}
	c.add(2 * time.Millisecond)
	if !b.Allow() {
		t.Fatal("first call after the cool-down is the probe")
	}
	if b.Allow() {
		t.Fatal("only one probe at a time")
	}
	b.Failure()
	if b.State() != Open || b.Allow() {
		t.Fatal("a failed probe reopens the breaker")
	}
	c.add(time.Second + time.Millisecond)
	if !b.Allow() {
		t.Fatal("second probe")
	}
	b.Success()
	if b.State() != Closed || !b.Allow() {
		t.Fatal("a successful probe closes the breaker")
	}
	want := []State{Open, HalfOpen, Open, HalfOpen, Closed}
	if len(changes) != len(want) {
		t.Fatalf("changes = %v, want %v", changes, want)
	}
	for i := range want {
		if changes[i] != want[i] {
			t.Fatalf("changes = %v, want %v", changes, want)
		}
	}
}

func TestSuccessResetsFailureCount(t *testing.T) {
	b := New(2, time.Second, nil)
	b.Failure()
	b.Success()
	b.Failure()
	if !b.Allow() {
		t.Fatal("failures must be consecutive to open the breaker")
	}
}

func TestNilBreakerAllows(t *testing.T) {
	var b *Breaker = New(0, time.Second, nil)
	b.Failure()
	if !b.Allow() || b.State() != Closed {
		t.Fatal("a disabled breaker always allows")
	}
}

func TestConcurrentUse(t *testing.T) {
	b := New(5, time.Millisecond, nil)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 1000; j++ {
				if b.Allow() {
					if (i+j)%3 == 0 {
						b.Failure()
					} else {
						b.Success()
					}
				}
			}
		}(i)
	}
	wg.Wait()
}
