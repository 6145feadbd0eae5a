package cachefront

import (
	"context"
	"sync"
	"time"
)

// Invalidations that Redis could not take are not forgotten: the Store keeps
// them (tags and deleted keys, up to maxPending) and applies them again in the
// background until Redis takes them, so that entries written before a write to
// the source never outlive a Redis outage. The call that failed still returns
// ErrUnavailable.

const (
	maxPending = 100_000
	retryEvery = 250 * time.Millisecond
)

// pendingInvalidations are the tags and Redis keys still to invalidate.
type pendingInvalidations struct {
	mu      sync.Mutex        // guards the fields below
	tags    map[string]uint64 // tag → the sequence of its latest failure
	keys    map[string]uint64 // Redis key → the sequence of its latest failure
	seq     uint64
	running bool // a retry goroutine is at work
	dropped uint64
}

// queueInvalidation records failed invalidations and makes sure a retry
// goroutine runs.
func (s *Store) queueInvalidation(tags, rkeys []string) {
	p := &s.pending
	p.mu.Lock()
	if p.tags == nil {
		p.tags, p.keys = map[string]uint64{}, map[string]uint64{}
	}
	p.seq++
	add := func(m map[string]uint64, items []string) {
		for _, it := range items {
			if _, ok := m[it]; !ok && len(p.tags)+len(p.keys) >= maxPending {
				p.dropped++
				continue
			}
			m[it] = p.seq
		}
	}
	add(p.tags, tags)
	add(p.keys, rkeys)
	start := !p.running
	p.running = true
	dropped := p.dropped
	p.mu.Unlock()
	if dropped > 0 {
		s.cfg.logger.Error("cachefront: too many invalidations pending while Redis fails; some are lost",
			"lost", dropped, "max", maxPending)
	}
	if start {
		go s.retryPending()
	}
}

// retryPending applies pending invalidations until none are left or the
// Store closes.
func (s *Store) retryPending() {
	t := time.NewTicker(retryEvery)
	defer t.Stop()
	for {
		select {
		case <-s.closing:
			return
		case <-t.C:
		}
		tags, tagSeqs, keys, keySeqs := s.pendingSnapshot()
		if len(tags) == 0 && len(keys) == 0 {
			return // pendingSnapshot cleared running
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*s.cfg.opTimeout)
		if len(tags) > 0 && s.invalidateTags(ctx, tags) == nil {
			s.pendingDone(s.pending.tags, tags, tagSeqs)
		}
		if len(keys) > 0 && s.deleteEntries(ctx, keys) == nil {
			s.pendingDone(s.pending.keys, keys, keySeqs)
		}
		cancel()
	}
}

func (s *Store) pendingSnapshot() (tags []string, tagSeqs []uint64, keys []string, keySeqs []uint64) {
	p := &s.pending
	p.mu.Lock()
	defer p.mu.Unlock()
	for t, seq := range p.tags {
		tags, tagSeqs = append(tags, t), append(tagSeqs, seq)
	}
	for k, seq := range p.keys {
		keys, keySeqs = append(keys, k), append(keySeqs, seq)
	}
	if len(tags) == 0 && len(keys) == 0 {
		p.running = false
	}
	return tags, tagSeqs, keys, keySeqs
}

// pendingDone removes applied items, unless one failed again meanwhile.
func (s *Store) pendingDone(m map[string]uint64, items []string, seqs []uint64) {
	s.pending.mu.Lock()
	defer s.pending.mu.Unlock()
	for i, it := range items {
		if m[it] == seqs[i] {
			delete(m, it)
		}
	}
}

// PendingInvalidations reports how many tags and keys failed to invalidate
// and are still being retried. A readiness probe can report not ready while
// it is above zero: entries written before the failed invalidations may still
// be served by other instances until it drops to zero.
func (s *Store) PendingInvalidations() int {
	s.pending.mu.Lock()
	defer s.pending.mu.Unlock()
	return len(s.pending.tags) + len(s.pending.keys)
}
