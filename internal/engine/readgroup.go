package engine

import (
	"context"
	"errors"
	"hash/maphash"
	"sync"
	"unsafe"

	"github.com/cachefront/cachefront/internal/backend"
)

// readGroup lets concurrent reads of one key share round trips without
// giving anyone an answer older than their call.
//
// A read that finds another read of the same key already on the wire does
// not join it: that read may have been sent before an invalidation that
// completed before this caller arrived. Up to maxReadsOnWire reads of a key
// are sent as their callers come; beyond that, callers gather behind them
// into one next read, sent as soon as one of those is answered and shared by
// every caller that arrived meanwhile. So every caller's answer comes from a
// read sent after it arrived, and a hot key costs a bounded number of round
// trips in flight however many goroutines ask.
type readGroup struct {
	seed   maphash.Seed
	shards [32]readShard
}

// maxReadsOnWire is how many reads of one key may be in flight before
// callers start to share one. One is the fastest measured (see
// BenchmarkPaired/op=parallel in bench/): the shared read's callers decode
// while the next read is on the wire, and more reads in flight only add
// round trips.
const maxReadsOnWire = 1

type readShard struct {
	mu   sync.Mutex // guards keys and every keyReads and sharedRead in it
	keys map[readKey]*keyReads
}

// readKey identifies reads that can share an answer: the same entry key,
// the same value type and the same tags (compared by the identity of their
// version-key list, which callers of one configuration share).
type readKey struct {
	rkey     string
	typeHash uint32
	tags     *string
}

// keyReads is what is under way for one key.
type keyReads struct {
	onWire int
	// next is the read gathering callers while onWire is at the limit;
	// slot is closed to hand it the slot of the next read answered.
	next *sharedRead
	slot chan struct{}
}

// sharedRead is one read that several callers wait for.
type sharedRead struct {
	// done is made by the first caller that joins and closed when res and
	// err are set.
	done    chan struct{}
	joiners int
	res     Read
	err     error
}

// errSharedReadFailed answers the callers of a shared read whose sender
// panicked.
var errSharedReadFailed = backend.Unavailable(errors.New("the shared read did not complete"))

var keyReadsPool = sync.Pool{New: func() any { return new(keyReads) }}

func newReadGroup() *readGroup {
	g := &readGroup{seed: maphash.MakeSeed()}
	for i := range g.shards {
		g.shards[i].keys = make(map[readKey]*keyReads)
	}
	return g
}

func (g *readGroup) read(ctx context.Context, e *Engine, c *Cache, rkey string, tags TagSet) (Read, error) {
	k := readKey{rkey: rkey, typeHash: c.TypeHash, tags: unsafe.SliceData(tags.Keys)}
	sh := &g.shards[maphash.String(g.seed, rkey)%uint64(len(g.shards))]
	sh.mu.Lock()
	kr := sh.keys[k]
	if kr == nil {
		kr = keyReadsPool.Get().(*keyReads)
		sh.keys[k] = kr
	}
	if sr := kr.next; sr != nil {
		// Reads are on the wire and the next one is gathering callers.
		sr.joiners++
		if sr.done == nil {
			sr.done = make(chan struct{})
		}
		sh.mu.Unlock()
		return g.wait(ctx, sr)
	}
	if kr.onWire < maxReadsOnWire {
		kr.onWire++
		sh.mu.Unlock()
		defer g.finish(sh, k, kr) // even if a client hook panics
		return e.readOnce(ctx, c, rkey, tags)
	}
	// Gather the next read, and send it when a read on the wire is
	// answered and hands over its slot.
	sr := &sharedRead{}
	slot := make(chan struct{})
	kr.next, kr.slot = sr, slot
	sh.mu.Unlock()
	<-slot // bounded: the reads on the wire are under the operation timeout

	// Others may be waiting for this read: it runs even if this caller has
	// gone away meanwhile (under the operation timeout all the same), and
	// they are answered even if a client hook panics.
	var res Read
	err := errSharedReadFailed
	defer func() {
		sh.mu.Lock()
		if sr.joiners > 0 {
			sr.res, sr.err = res, err
			close(sr.done)
		}
		sh.mu.Unlock()
		g.finish(sh, k, kr)
	}()
	res, err = e.readOnce(context.WithoutCancel(ctx), c, rkey, tags)
	if ctx.Err() != nil {
		return Read{}, ctx.Err()
	}
	return res, err
}

// finish ends a read on the wire: its slot goes to the gathering read, if
// any, and the key's record is dropped when nothing is under way.
func (g *readGroup) finish(sh *readShard, k readKey, kr *keyReads) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if kr.next != nil && kr.slot != nil {
		close(kr.slot)
		kr.next, kr.slot = nil, nil // from now on it is on the wire
		return
	}
	kr.onWire--
	if kr.onWire == 0 && kr.next == nil {
		delete(sh.keys, k)
		keyReadsPool.Put(kr)
	}
}

// wait waits for a shared read under the caller's own context.
func (g *readGroup) wait(ctx context.Context, sr *sharedRead) (Read, error) {
	select {
	case <-sr.done:
		return sr.res, sr.err
	case <-ctx.Done():
		return Read{}, ctx.Err()
	}
}
