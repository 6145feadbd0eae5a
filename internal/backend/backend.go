// Package backend runs cachefront's Redis commands under its failure
// policy: every operation bounded in time (a deadline the client honours, or
// a watchdog when it would not), a circuit breaker, and Redis failures
// reported as ErrUnavailable.
package backend

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachefront/cachefront/internal/breaker"
	"github.com/redis/go-redis/v9"
)

// ErrUnavailable reports that Redis could not be used: it failed, timed out,
// or the circuit breaker is open after repeated failures.
var ErrUnavailable = errors.New("cachefront: redis unavailable")

var errCircuitOpen = errors.New("circuit breaker open after repeated redis failures")

// Unavailable wraps err (nil stays nil) so that it matches ErrUnavailable.
func Unavailable(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// Backend runs commands against Redis under the failure policy: a bounded
// time per operation and a circuit breaker. It is safe for concurrent use.
type Backend struct {
	Client redis.UniversalClient
	// single is true for a client whose keys all live on one server (a plain
	// or Sentinel client): multi-key commands and scripts are safe. Cluster and
	// Ring clients get per-key commands in pipelines instead.
	Single bool
	// ctxDeadlines is true when the client honours context deadlines on socket
	// reads (ContextTimeoutEnabled). socketBound is true when the client's own
	// read and write timeouts are within the operation timeout, so that every
	// socket operation ends in time by itself. Otherwise (and on a
	// socket-bound client when the caller's deadline is sooner) a watchdog
	// enforces the bound.
	CtxDeadlines bool
	SocketBound  bool
	timeout      time.Duration
	Breaker      *breaker.Breaker
	// OnFailure, if set, is called after each operation Redis failed or
	// did not answer in time.
	OnFailure func()
}

// New returns a Backend for rdb bounding each operation by timeout.
func New(rdb redis.UniversalClient, timeout time.Duration, b *breaker.Breaker) *Backend {
	be := &Backend{Client: rdb, timeout: timeout, Breaker: b}
	bounds := func(ctxEnabled bool, read, write time.Duration) {
		be.CtxDeadlines = ctxEnabled
		be.SocketBound = within(timeout, read, write)
	}
	switch c := rdb.(type) {
	case *redis.Client:
		o := c.Options()
		be.Single = true
		bounds(o.ContextTimeoutEnabled, o.ReadTimeout, o.WriteTimeout)
	case *redis.ClusterClient:
		o := c.Options()
		bounds(o.ContextTimeoutEnabled, o.ReadTimeout, o.WriteTimeout)
	case *redis.Ring:
		o := c.Options()
		bounds(o.ContextTimeoutEnabled, o.ReadTimeout, o.WriteTimeout)
	}
	return be
}

// within reports whether socket timeouts are set and no longer than bound.
// A socket operation then ends within the bound by itself; waits for a
// connection and dials are bounded by the operation's context.
func within(bound time.Duration, timeouts ...time.Duration) bool {
	for _, t := range timeouts {
		if t <= 0 || t > bound {
			return false
		}
	}
	return true
}

// Run calls fn under the operation timeout. It returns ErrUnavailable
// (wrapping the cause) when the breaker is open, when Redis fails, or when the
// timeout passes, whatever the client's own timeouts are. fn must treat
// redis.Nil as an answer, not return it.
//
// When the watchdog gives up on fn, fn goes on in its goroutine until the
// client's own read timeout; the caller must not read anything fn writes
// after Run returned an error.
func (be *Backend) Run(ctx context.Context, fn func(context.Context) error) error {
	return be.RunOp(ctx, opFunc(fn))
}

// Operation is work for RunOp. A pointer to a struct that holds an
// operation's arguments and results implements it without the allocation of
// a closure.
type Operation interface {
	Do(ctx context.Context) error
}

// opFunc makes a function an operation.
type opFunc func(context.Context) error

// Do calls f.
func (f opFunc) Do(ctx context.Context) error { return f(ctx) }

// RunOp is Run for an Operation.
func (be *Backend) RunOp(ctx context.Context, op Operation) error {
	return be.runOp(ctx, op, be.timeout)
}

// RunLonger is Run for an operation that may take extra beyond the
// operation timeout by design (a WAIT for replicas).
func (be *Backend) RunLonger(ctx context.Context, extra time.Duration, fn func(context.Context) error) error {
	return be.runOp(ctx, opFunc(fn), be.timeout+extra)
}

func (be *Backend) runOp(ctx context.Context, op Operation, timeout time.Duration) error {
	budget, _ := ctx.Value(budgetKey{}).(*Budget)
	if budget != nil && budget.spent.Load() {
		return Unavailable(errBudgetSpent)
	}
	if (budget == nil || !budget.probe) && !be.Breaker.Allow() {
		return Unavailable(errCircuitOpen)
	}
	opCtx := ctx
	var oc *opContext
	if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > timeout {
		oc = newOpContext(ctx, timeout)
		opCtx = oc
	}
	var err error
	if be.inline(oc == nil) {
		err = op.Do(opCtx)
		oc.release()
	} else {
		done := make(chan error, 1)
		go func() { done <- op.Do(opCtx) }()
		select {
		case err = <-done:
			oc.release()
		case <-opCtx.Done():
			// The operation goes on in its goroutine with oc: it is not
			// reused (release would see the timer fired anyway).
			err = context.DeadlineExceeded
		case <-ctx.Done():
			err = ctx.Err() // likewise
		}
	}
	switch {
	case err == nil:
		be.Breaker.Success()
		return nil
	case ctx.Err() != nil:
		// The caller went away: says nothing about Redis.
		return ctx.Err()
	case errors.Is(err, context.DeadlineExceeded):
		be.failed(budget)
		return Unavailable(fmt.Errorf("no answer within %v", timeout))
	default:
		be.failed(budget)
		return Unavailable(err)
	}
}

// failed records a failed operation made under budget.
func (be *Backend) failed(budget *Budget) {
	be.Breaker.Failure()
	budget.spend()
	if be.OnFailure != nil {
		be.OnFailure()
	}
}

var errBudgetSpent = errors.New("an earlier redis operation of this request failed")

// Budget is what the Redis operations made under one context share (see
// WithBudget): once one of them failed, the others fail at once.
type Budget struct {
	spent atomic.Bool
	// probe: the operations go to Redis while the breaker is open, and
	// their success closes it (see AsProbe).
	probe bool
}

type budgetKey struct{}

// WithBudget returns ctx with a Budget for the Redis operations made under
// it, unless it has one already: after one of them fails (Redis refused,
// or did not answer within the operation timeout), the later ones return
// ErrUnavailable without asking Redis, so that a request making several
// cache calls waits for a failing Redis once, not once per call.
func WithBudget(ctx context.Context) context.Context {
	if _, ok := ctx.Value(budgetKey{}).(*Budget); ok {
		return ctx
	}
	return context.WithValue(ctx, budgetKey{}, &Budget{})
}

// AsProbe returns a context, with a budget of its own, whose operations
// go to Redis even while the breaker is open, for background work that
// must find out as soon as Redis answers again (applying invalidations
// Redis did not take); a success closes the breaker.
func AsProbe(ctx context.Context) context.Context {
	return context.WithValue(ctx, budgetKey{}, &Budget{probe: true})
}

// spend marks b spent; a nil b is ignored.
func (b *Budget) spend() {
	if b != nil {
		b.spent.Store(true)
	}
}

// inline reports whether an operation can run in the caller's goroutine,
// bounded by the client itself.
func (be *Backend) inline(callerSooner bool) bool {
	return be.CtxDeadlines || be.SocketBound && !callerSooner
}

// Reuse returns buf, written to Redis by an operation that ended with err,
// to the pool, unless a watchdog may still be sending it.
func (be *Backend) Reuse(buf *bytes.Buffer, err error) {
	if err == nil || be.CtxDeadlines {
		PutBuffer(buf)
	}
}

// firstErr returns the first error among cmds other than redis.Nil.
func firstErr(cmds []redis.Cmder) error {
	for _, c := range cmds {
		if err := c.Err(); err != nil && err != redis.Nil {
			return err
		}
	}
	return nil
}

// Pipelined runs fn's commands in one pipeline and returns the first real
// error (redis.Nil replies are answers).
func (be *Backend) Pipelined(ctx context.Context, fn func(redis.Pipeliner)) error {
	cmds, err := be.Client.Pipelined(ctx, func(p redis.Pipeliner) error { fn(p); return nil })
	if err == redis.Nil || err == nil {
		return firstErr(cmds)
	}
	if e := firstErr(cmds); e != nil {
		return e
	}
	return err
}

// GetMany reads keys in one round trip: MGET on a single server, a pipeline
// of GETs (one per node, in parallel) on a sharded client. Absent keys give
// "" with ok false.
func (be *Backend) GetMany(ctx context.Context, keys []string, vals []string, ok []bool) error {
	if len(keys) == 1 {
		v, err := be.Client.Get(ctx, keys[0]).Result()
		if err == nil {
			vals[0], ok[0] = v, true
		} else if err != redis.Nil {
			return err
		}
		return nil
	}
	if be.Single {
		res, err := be.Client.MGet(ctx, keys...).Result()
		if err != nil {
			return err
		}
		for i, r := range res {
			if s, isStr := r.(string); isStr {
				vals[i], ok[i] = s, true
			}
		}
		return nil
	}
	cmds := make([]*redis.StringCmd, len(keys))
	err := be.Pipelined(ctx, func(p redis.Pipeliner) {
		for i, k := range keys {
			cmds[i] = p.Get(ctx, k)
		}
	})
	if err != nil {
		return err
	}
	for i, c := range cmds {
		if c.Err() == nil {
			vals[i], ok[i] = c.Val(), true
		}
	}
	return nil
}

// encodeBuffers are reused for encoding values and entries sent to Redis. Redis has the
// bytes before a buffer is returned; buffers grown past maxPooledBuffer are
// left to the garbage collector so that one large value does not pin memory.
var encodeBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const maxPooledBuffer = 64 << 10

// GetBuffer returns an empty buffer from the pool.
func GetBuffer() *bytes.Buffer { return encodeBuffers.Get().(*bytes.Buffer) }

// PutBuffer returns b to the pool.
func PutBuffer(b *bytes.Buffer) {
	if b.Cap() > maxPooledBuffer {
		return
	}
	b.Reset()
	encodeBuffers.Put(b)
}
