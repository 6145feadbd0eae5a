package backend

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// opContext is the context of one Redis operation: the caller's context with
// the operation's deadline. It does what context.WithTimeout does for the
// client (Deadline bounds socket reads on a ContextTimeoutEnabled client,
// Done ends waits for a pooled connection) without allocating per call: the
// context, its channel and its timer are reused when the operation ended
// before the deadline, which is nearly always.
//
// Done closes when the operation's deadline passes. A cancellation of the
// caller's context is seen by Err but does not close Done early; the
// operation then still ends by its deadline, and run reports the caller's
// error.
type opContext struct {
	parent   context.Context
	deadline time.Time
	done     chan struct{}
	timer    *time.Timer
	expired  atomic.Bool
}

var opContexts = sync.Pool{New: func() any {
	oc := &opContext{done: make(chan struct{})}
	oc.timer = time.AfterFunc(time.Hour, oc.expire)
	oc.timer.Stop()
	return oc
}}

// newOpContext returns parent bounded by d from now. Call release when the
// operation is over; the context must not be used after that.
func newOpContext(parent context.Context, d time.Duration) *opContext {
	oc := opContexts.Get().(*opContext)
	oc.parent = parent
	oc.deadline = time.Now().Add(d)
	oc.timer.Reset(d)
	return oc
}

// release stops the timer and returns the context for reuse, unless the
// timer already fired (its channel is closed for good, and a goroutine left
// behind by the watchdog may still hold it). A nil context is ignored.
// Only call it once the operation is over: a context abandoned to a
// running operation must not be released.
func (oc *opContext) release() {
	if oc == nil || !oc.timer.Stop() {
		return
	}
	oc.parent = context.Background() // keep nothing of the caller's alive
	opContexts.Put(oc)
}

func (oc *opContext) expire() {
	oc.expired.Store(true)
	close(oc.done)
}

// Deadline returns the operation's deadline (never later than the
// caller's, which run checks before making one).
func (oc *opContext) Deadline() (time.Time, bool) { return oc.deadline, true }

// Done closes when the deadline passes.
func (oc *opContext) Done() <-chan struct{} { return oc.done }

// Err reports context.DeadlineExceeded after the deadline, else the
// caller's context error.
func (oc *opContext) Err() error {
	if oc.expired.Load() {
		return context.DeadlineExceeded
	}
	return oc.parent.Err()
}

// Value looks key up in the caller's context.
func (oc *opContext) Value(key any) any { return oc.parent.Value(key) }
