package cachefront

import (
	"context"
	"hash/maphash"
	"sync"
	"unsafe"
)

// readGroup lets concurrent reads of one key share round trips without
// giving anyone an answer older than their call.
//
// A read that finds another read of the same key already on the wire does
// not join it: that read may have been sent before an invalidation that
// completed before this caller arrived. It joins the next read instead, one
// that is sent only when the current one is answered, and that every caller
// arriving meanwhile shares. So at most two reads of a key are under way at
// a time, however many goroutines ask, and every caller's answer comes from
// a read sent after the caller arrived.
type readGroup struct {
	seed   maphash.Seed
	shards [32]readShard
}

type readShard struct {
	mu sync.Mutex
	// onWire are the reads sent and not yet answered; next the reads that
	// wait for them to be answered, gathering callers.
	onWire map[readKey]*sharedRead
	next   map[readKey]*sharedRead
}

// readKey identifies reads that can share an answer: the same entry key,
// the same value type and the same tags (compared by the identity of their
// version-key list, which callers of one configuration share).
type readKey struct {
	rkey     string
	typeHash uint32
	tags     *string
}

// sharedRead is one read that several callers may wait for.
type sharedRead struct {
	// done is made by the first caller that joins and closed when res and
	// err are set.
	done    chan struct{}
	joiners int
	res     readResult
	err     error
	// leaderQuit is set when the read failed because the caller that sent
	// it went away; the others then read for themselves.
	leaderQuit bool
}

var sharedReads = sync.Pool{New: func() any { return new(sharedRead) }}

func newReadGroup() *readGroup {
	g := &readGroup{seed: maphash.MakeSeed()}
	for i := range g.shards {
		g.shards[i].onWire = make(map[readKey]*sharedRead)
		g.shards[i].next = make(map[readKey]*sharedRead)
	}
	return g
}

func (g *readGroup) read(ctx context.Context, s *Store, cc *counters, rkey string, tags tagSet, typeHash uint32) (readResult, error) {
	k := readKey{rkey: rkey, typeHash: typeHash, tags: unsafe.SliceData(tags.keys)}
	sh := &g.shards[maphash.String(g.seed, rkey)%uint64(len(g.shards))]
	sh.mu.Lock()
	if sr := sh.next[k]; sr != nil {
		// A read is on the wire and the next one is gathering callers.
		sr.joiners++
		if sr.done == nil {
			sr.done = make(chan struct{})
		}
		sh.mu.Unlock()
		return g.wait(ctx, s, cc, rkey, tags, typeHash, sr)
	}
	sr := sharedReads.Get().(*sharedRead)
	if prev := sh.onWire[k]; prev != nil {
		// Gather the next read behind the one on the wire, and send it when
		// that one is answered.
		prev.joiners++
		if prev.done == nil {
			prev.done = make(chan struct{})
		}
		sh.next[k] = sr
		sh.mu.Unlock()
		<-prev.done // bounded: prev's sender is under the operation timeout
		sh.mu.Lock()
		delete(sh.next, k)
	}
	sh.onWire[k] = sr
	sh.mu.Unlock()

	res, err := s.readOnce(ctx, cc, rkey, tags, typeHash)

	sh.mu.Lock()
	delete(sh.onWire, k)
	joined := sr.joiners > 0
	if joined {
		sr.res, sr.err = res, err
		sr.leaderQuit = err != nil && ctx.Err() != nil
		close(sr.done)
	}
	sh.mu.Unlock()
	if !joined {
		*sr = sharedRead{}
		sharedReads.Put(sr)
	}
	return res, err
}

// wait waits for a shared read under the caller's own context.
func (g *readGroup) wait(ctx context.Context, s *Store, cc *counters, rkey string, tags tagSet, typeHash uint32, sr *sharedRead) (readResult, error) {
	select {
	case <-sr.done:
	case <-ctx.Done():
		return readResult{}, ctx.Err()
	}
	if sr.leaderQuit {
		return s.readOnce(ctx, cc, rkey, tags, typeHash)
	}
	return sr.res, sr.err
}
