// Package breaker is a lock-free circuit breaker for calls to Redis.
//
// It is written here rather than taken from a library because it sits on the
// hot path of every cache read: the common case (closed) must cost one atomic
// load and no lock.
package breaker

import (
	"sync/atomic"
	"time"
)

// State is the breaker's state.
type State int32

// Breaker states.
const (
	Closed   State = iota // calls go through
	Open                  // calls are refused until the cool-down ends
	HalfOpen              // one probe call is in flight
)

// Breaker opens after Threshold consecutive failures and lets one probe
// through after Cooldown. It is safe for concurrent use. A nil *Breaker
// allows every call.
type Breaker struct {
	threshold int64
	cooldown  time.Duration
	now       func() time.Time
	onChange  func(State)

	state     atomic.Int32
	failures  atomic.Int64
	openUntil atomic.Int64 // Unix ns; meaningful while Open
}

// New returns a breaker; threshold <= 0 returns nil (no breaker). onChange,
// if not nil, is called on every state change.
func New(threshold int, cooldown time.Duration, onChange func(State)) *Breaker {
	if threshold <= 0 {
		return nil
	}
	return &Breaker{threshold: int64(threshold), cooldown: cooldown, now: time.Now, onChange: onChange}
}

// Allow reports whether a call may go to Redis now.
func (b *Breaker) Allow() bool {
	if b == nil {
		return true
	}
	switch State(b.state.Load()) {
	case Closed:
		return true
	case Open:
		if b.now().UnixNano() < b.openUntil.Load() {
			return false
		}
		// The first caller after the cool-down becomes the probe.
		if b.state.CompareAndSwap(int32(Open), int32(HalfOpen)) {
			b.changed(HalfOpen)
			return true
		}
		return false
	default:
		return false
	}
}

// Success records a call that Redis answered.
func (b *Breaker) Success() {
	if b == nil {
		return
	}
	b.failures.Store(0)
	if State(b.state.Load()) != Closed && State(b.state.Swap(int32(Closed))) != Closed {
		b.changed(Closed)
	}
}

// Failure records a call that failed or timed out.
func (b *Breaker) Failure() {
	if b == nil {
		return
	}
	n := b.failures.Add(1)
	switch State(b.state.Load()) {
	case HalfOpen:
		b.open()
	case Closed:
		if n >= b.threshold {
			b.open()
		}
	}
}

func (b *Breaker) open() {
	b.openUntil.Store(b.now().Add(b.cooldown).UnixNano())
	if State(b.state.Swap(int32(Open))) != Open {
		b.changed(Open)
	}
}

// State returns the current state.
func (b *Breaker) State() State {
	if b == nil {
		return Closed
	}
	return State(b.state.Load())
}

func (b *Breaker) changed(s State) {
	if b.onChange != nil {
		b.onChange(s)
	}
}
