package engine

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachefront/cachefront/internal/testbackend"
	"github.com/redis/go-redis/v9"
)

// flightEngine is an engine for tests of Share, which sends nothing to
// Redis.
func flightEngine(t *testing.T) *Engine {
	t.Helper()
	e, err := New(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}), Config{
		Namespace: "flights", Logger: slog.New(slog.DiscardHandler), OpTimeout: time.Second,
		BreakerFailures: 5, BreakerCooldown: time.Second, TagTTL: time.Hour, LoadTimeout: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// blockedWork returns work that waits for release, then returns value with
// late, counting its runs.
func blockedWork(runs *atomic.Int32, release <-chan struct{}, value string, late LateCheck) func() *Outcome {
	return func() *Outcome {
		runs.Add(1)
		<-release
		return &Outcome{Value: value, Late: late}
	}
}

func TestShareRunsWorkOnceForConcurrentCallers(t *testing.T) {
	e := flightEngine(t)
	var runs atomic.Int32
	release := make(chan struct{})
	work := blockedWork(&runs, release, "v", LateCheck{})
	const callers = 20
	var wg sync.WaitGroup
	roles := make(chan Role, callers)
	for range callers {
		wg.Go(func() {
			o, role, err := e.Share(ctxBG, Join{Key: "k", Waiter: e.Arrive(), Work: work})
			if err != nil || o.Value != "v" {
				t.Errorf("outcome %+v, %v", o, err)
			}
			roles <- role
		})
	}
	time.Sleep(50 * time.Millisecond) // let the callers join
	close(release)
	wg.Wait()
	close(roles)
	started := 0
	for r := range roles {
		if r == Started {
			started++
		}
	}
	if runs.Load() != 1 || started != 1 {
		t.Fatalf("work ran %d times, %d callers started it; want 1 and 1", runs.Load(), started)
	}
}

// A flight whose loader added tags hands its outcome only to callers that
// arrived before its last check (here: before it began); one that arrived
// later gets a flight of its own.
func TestShareRefusesLaterArrivalsAfterUncheckedLateTags(t *testing.T) {
	e := flightEngine(t)
	var runs atomic.Int32
	release := make(chan struct{})
	early := e.Arrive()
	first := blockedWork(&runs, release, "first", LateCheck{added: true})
	leader := make(chan *Outcome, 1)
	go func() {
		o, _, _ := e.Share(ctxBG, Join{Key: "k", Waiter: early, Work: first})
		leader <- o
	}()
	testbackend.WaitFor(t, 5*time.Second, "the flight to start", func() bool { return runs.Load() == 1 })
	earlyJoiner := make(chan *Outcome, 1)
	go func() {
		o, _, _ := e.Share(ctxBG, Join{Key: "k", Waiter: early, Work: first})
		earlyJoiner <- o
	}()
	late := e.Arrive() // after the flight began
	lateJoiner := make(chan *Outcome, 1)
	go func() {
		o, _, _ := e.Share(ctxBG, Join{Key: "k", Waiter: late, Work: func() *Outcome { return &Outcome{Value: "second"} }})
		lateJoiner <- o
	}()
	time.Sleep(50 * time.Millisecond)
	close(release)
	if o := <-leader; o.Value != "first" {
		t.Errorf("leader got %v", o.Value)
	}
	if o := <-earlyJoiner; o.Value != "first" {
		t.Errorf("a caller that arrived before the flight began got %v, want first", o.Value)
	}
	if o := <-lateJoiner; o.Value != "second" {
		t.Errorf("a caller that arrived after the flight began got %v, want a load of its own", o.Value)
	}
}

// In lead mode the starter runs the work in its own goroutine; waiters that
// find nothing to take retry once together, then work alone.
func TestShareLeadModeWithNothingToShare(t *testing.T) {
	e := flightEngine(t)
	var leads atomic.Int32
	release := make(chan struct{})
	lead := func(publish func(*Outcome)) {
		leads.Add(1)
		<-release
		publish(&Outcome{NoResult: true})
	}
	const callers = 5
	var wg sync.WaitGroup
	var led atomic.Int32
	for range callers {
		wg.Go(func() {
			_, role, err := e.Share(ctxBG, Join{Key: "k", Waiter: e.Arrive(), Lead: lead})
			if err != nil {
				t.Error(err)
			}
			if role == Led {
				led.Add(1)
			}
		})
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	if led.Load() != callers || leads.Load() != callers {
		t.Fatalf("%d callers led, Lead ran %d times; want every caller to answer itself", led.Load(), leads.Load())
	}
}

// A waiter whose context ends leaves at once; a starter that leaves before
// it could lead does not leave the flight open.
func TestShareCallerLeaves(t *testing.T) {
	e := flightEngine(t)
	gone, cancel := context.WithCancel(ctxBG)
	cancel()
	for range 100 {
		// Each may lead before it notices its context has ended, or leave.
		_, _, _ = e.Share(gone, Join{Key: "k", Waiter: e.Arrive(), Lead: func(publish func(*Outcome)) {
			publish(&Outcome{Value: "gone"})
		}})
	}
	done := make(chan *Outcome, 1)
	go func() {
		o, _, _ := e.Share(ctxBG, Join{Key: "k", Waiter: e.Arrive(), Lead: func(publish func(*Outcome)) {
			publish(&Outcome{Value: "ok"})
		}})
		done <- o
	}()
	select {
	case o := <-done:
		if o == nil || o.Value != "ok" {
			t.Fatalf("outcome %+v", o)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a caller waits on a flight that its starter abandoned")
	}
}
