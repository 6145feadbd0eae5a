package cachefront

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cachefront/cachefront/internal/breaker"
	"github.com/redis/go-redis/v9"
)

var errCircuitOpen = errors.New("circuit breaker open after repeated redis failures")

// backend runs commands against Redis under the failure policy: a bounded
// time per operation and a circuit breaker.
type backend struct {
	rdb redis.UniversalClient
	// single is true for a client whose keys all live on one server (a plain
	// or Sentinel client): multi-key commands and scripts are safe. Cluster and
	// Ring clients get per-key commands in pipelines instead.
	single bool
	// ctxDeadlines is true when the client honours context deadlines on socket
	// reads (ContextTimeoutEnabled). socketBound is true when the client's own
	// read and write timeouts are within the operation timeout, so that every
	// socket operation ends in time by itself. Otherwise (and on a
	// socket-bound client when the caller's deadline is sooner) a watchdog
	// enforces the bound.
	ctxDeadlines bool
	socketBound  bool
	timeout      time.Duration
	breaker      *breaker.Breaker
}

func newBackend(rdb redis.UniversalClient, timeout time.Duration, b *breaker.Breaker) *backend {
	be := &backend{rdb: rdb, timeout: timeout, breaker: b}
	bounds := func(ctxEnabled bool, read, write time.Duration) {
		be.ctxDeadlines = ctxEnabled
		be.socketBound = within(timeout, read, write)
	}
	switch c := rdb.(type) {
	case *redis.Client:
		o := c.Options()
		be.single = true
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

// run calls fn under the operation timeout. It returns ErrUnavailable
// (wrapping the cause) when the breaker is open, when Redis fails, or when the
// timeout passes, whatever the client's own timeouts are. fn must treat
// redis.Nil as an answer, not return it.
//
// When the watchdog gives up on fn, fn goes on in its goroutine until the
// client's own read timeout; the caller must not read anything fn writes
// after run returned an error.
func (be *backend) run(ctx context.Context, fn func(context.Context) error) error {
	return be.runOp(ctx, opFunc(fn))
}

// operation is work for runOp. A pointer to a struct that holds an
// operation's arguments and results implements it without the allocation of
// a closure.
type operation interface {
	do(ctx context.Context) error
}

// opFunc makes a function an operation.
type opFunc func(context.Context) error

func (f opFunc) do(ctx context.Context) error { return f(ctx) }

// runOp is run for an operation.
func (be *backend) runOp(ctx context.Context, op operation) error {
	if !be.breaker.Allow() {
		return unavailable(errCircuitOpen)
	}
	opCtx := ctx
	var oc *opContext
	if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > be.timeout {
		oc = newOpContext(ctx, be.timeout)
		opCtx = oc
	}
	var err error
	if be.inline(oc == nil) {
		err = op.do(opCtx)
		oc.release()
	} else {
		done := make(chan error, 1)
		go func() { done <- op.do(opCtx) }()
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
		be.breaker.Success()
		return nil
	case ctx.Err() != nil:
		// The caller went away: says nothing about Redis.
		return ctx.Err()
	case errors.Is(err, context.DeadlineExceeded):
		be.breaker.Failure()
		return unavailable(fmt.Errorf("no answer within %v", be.timeout))
	default:
		be.breaker.Failure()
		return unavailable(err)
	}
}

// inline reports whether an operation can run in the caller's goroutine,
// bounded by the client itself.
func (be *backend) inline(callerSooner bool) bool {
	return be.ctxDeadlines || be.socketBound && !callerSooner
}

// reuse returns buf, written to Redis by an operation that ended with err,
// to the pool, unless a watchdog may still be sending it.
func (be *backend) reuse(buf *bytes.Buffer, err error) {
	if err == nil || be.ctxDeadlines {
		putBuffer(buf)
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

// pipelined runs fn's commands in one pipeline and returns the first real
// error (redis.Nil replies are answers).
func (be *backend) pipelined(ctx context.Context, fn func(redis.Pipeliner)) error {
	cmds, err := be.rdb.Pipelined(ctx, func(p redis.Pipeliner) error { fn(p); return nil })
	if err == redis.Nil || err == nil {
		return firstErr(cmds)
	}
	if e := firstErr(cmds); e != nil {
		return e
	}
	return err
}

// getMany reads keys in one round trip: MGET on a single server, a pipeline
// of GETs (one per node, in parallel) on a sharded client. Absent keys give
// "" with ok false.
func (be *backend) getMany(ctx context.Context, keys []string, vals []string, ok []bool) error {
	if len(keys) == 1 {
		v, err := be.rdb.Get(ctx, keys[0]).Result()
		if err == nil {
			vals[0], ok[0] = v, true
		} else if err != redis.Nil {
			return err
		}
		return nil
	}
	if be.single {
		res, err := be.rdb.MGet(ctx, keys...).Result()
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
	err := be.pipelined(ctx, func(p redis.Pipeliner) {
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
