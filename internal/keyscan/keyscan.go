// Package keyscan counts, and can list, the keys a Redis deployment holds
// under a prefix without blocking Redis.
//
// It walks the keyspace with SCAN, MATCH <prefix>* and a COUNT hint, so each
// call costs the server a bounded amount of work, and other clients are
// served between calls. On a single node (or a Sentinel-managed primary) it
// scans that node; on a Redis Cluster it scans every master concurrently
// (replicas hold copies, so they are not counted); on a Ring it scans every
// shard the Ring considers up, as the Ring does for every command.
//
// The context bounds the time: Redis is asked nothing once it has ended, and
// the partial count comes back with Complete false. A SCAN call already in
// flight when it ends returns as the client's options allow: at once with
// ContextTimeoutEnabled, else within the client's ReadTimeout.
//
// SCAN guarantees that a key present for the whole scan is returned, not
// that it is returned once: when the server resizes its keyspace during the
// scan, a key may be counted twice, and keys written or deleted meanwhile may
// or may not be counted. The count is exact for a keyspace that does not
// change under it.
package keyscan

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// DefaultCount is the COUNT hint of each SCAN call when [Options.Count] is
// zero: large enough to need few round trips, small enough that one call
// takes the server well under a millisecond.
const DefaultCount = 1000

// ErrInvalidOptions is returned by [Scan] for a negative [Options.Count] or
// [Options.Limit].
var ErrInvalidOptions = errors.New("keyscan: invalid options")

// Options tune [Scan]. The zero value counts with [DefaultCount] and lists no
// key.
type Options struct {
	// Count is the COUNT hint of each SCAN call: about how many keys the
	// server examines per call, before MATCH filters them. Zero means
	// DefaultCount.
	Count int64
	// Limit is the largest number of key names Result.Names holds; counting
	// goes on past it. Zero lists none.
	Limit int
}

// Result is what a scan found.
type Result struct {
	// Keys is the number of keys counted under the prefix: all of them
	// when Complete, those seen before the scan stopped otherwise.
	Keys int64
	// Complete reports whether every node was scanned to the end. It is
	// true exactly when the error returned with the Result is nil.
	Complete bool
	// Names holds up to Options.Limit of the keys counted, in the order
	// the servers returned them (interleaved across cluster masters).
	Names []string
}

// Count returns the number of keys under prefix, as [Scan] with zero
// [Options].
func Count(ctx context.Context, rdb redis.UniversalClient, prefix string) (Result, error) {
	return Scan(ctx, rdb, prefix, Options{})
}

// Scan counts the keys under prefix and lists up to opt.Limit of them. The
// prefix is matched literally: glob metacharacters in it are escaped (see
// [Pattern]). Scan is safe for concurrent use.
//
// When ctx ends before the scan does, Scan returns what it counted so far,
// with Complete false, and an error wrapping ctx.Err(). When a node fails, it
// stops scanning the others and returns the partial Result with an error
// wrapping the node's. The error is nil exactly when Complete is true.
func Scan(ctx context.Context, rdb redis.UniversalClient, prefix string, opt Options) (Result, error) {
	if opt.Count < 0 || opt.Limit < 0 {
		return Result{}, fmt.Errorf("%w: Count %d and Limit %d must not be negative", ErrInvalidOptions, opt.Count, opt.Limit)
	}
	if opt.Count == 0 {
		opt.Count = DefaultCount
	}
	if err := ctx.Err(); err != nil {
		return Result{}, cutShort(0, err)
	}
	t := &tally{match: Pattern(prefix), count: opt.Count, limit: opt.Limit}

	var err error
	switch c := rdb.(type) {
	case *redis.ClusterClient:
		err = t.eachNode(ctx, c.ForEachMaster)
	case *redis.Ring:
		err = t.eachNode(ctx, c.ForEachShard)
	default:
		if err = t.node(ctx, rdb); err != nil {
			err = fmt.Errorf("SCAN: %w", err)
		}
	}

	res := Result{Keys: t.keys.Load(), Names: t.names}
	switch {
	case ctx.Err() != nil && (err != nil || t.err != nil):
		// A node's error after ctx ended is the cut, seen from the socket.
		return res, cutShort(res.Keys, ctx.Err())
	case t.err != nil:
		return res, fmt.Errorf("keyscan: %w", t.err)
	case err != nil:
		return res, fmt.Errorf("keyscan: %w", err)
	}
	res.Complete = true
	return res, nil
}

func cutShort(keys int64, err error) error {
	return fmt.Errorf("keyscan: cut short after %d keys: %w", keys, err)
}

// Pattern returns the SCAN MATCH pattern of the keys starting with prefix:
// prefix with each of * ? [ ] \ escaped by a backslash, then *.
func Pattern(prefix string) string {
	var b strings.Builder
	b.Grow(len(prefix) + 1)
	for i := 0; i < len(prefix); i++ {
		switch c := prefix[i]; c {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(prefix[i])
	}
	b.WriteByte('*')
	return b.String()
}

// scanner is the command a node must answer; *redis.Client has it.
type scanner interface {
	Scan(ctx context.Context, cursor uint64, match string, count int64) *redis.ScanCmd
}

// tally gathers one scan's results from nodes scanned concurrently.
type tally struct {
	match string
	count int64
	limit int

	keys atomic.Int64

	mu    sync.Mutex // guards names and err
	names []string
	err   error // the first node failure
}

// eachNode scans every node forEach visits (masters of a cluster, shards of
// a ring) concurrently. The first failure cancels the others: the Result is
// incomplete anyway, and the time is the caller's.
func (t *tally) eachNode(ctx context.Context, forEach func(context.Context, func(context.Context, *redis.Client) error) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	return forEach(ctx, func(ctx context.Context, node *redis.Client) error {
		if err := t.node(ctx, node); err != nil {
			// Record before cancelling, so that a sibling's cancellation
			// never takes the place of the failure that caused it.
			t.fail(fmt.Errorf("SCAN on %s: %w", node.Options().Addr, err))
			cancel()
			return err
		}
		return nil
	})
}

// node scans one node to the end, checking ctx before every call.
func (t *tally) node(ctx context.Context, node scanner) error {
	var cursor uint64
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		keys, next, err := node.Scan(ctx, cursor, t.match, t.count).Result()
		if err != nil {
			return err
		}
		t.add(keys)
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

func (t *tally) add(keys []string) {
	if len(keys) == 0 {
		return
	}
	t.keys.Add(int64(len(keys)))
	if t.limit == 0 {
		return
	}
	t.mu.Lock()
	if room := t.limit - len(t.names); room > 0 {
		t.names = append(t.names, keys[:min(room, len(keys))]...)
	}
	t.mu.Unlock()
}

func (t *tally) fail(err error) {
	t.mu.Lock()
	if t.err == nil {
		t.err = err
	}
	t.mu.Unlock()
}
