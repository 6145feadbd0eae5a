package engine

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachefront/cachefront/internal/backend"
	"github.com/cachefront/cachefront/internal/local"
)

// Invalidations that Redis could not take are not forgotten: the Store keeps
// them (tags, deleted keys and the announcements of Sets, up to maxPending)
// and applies them again in the background until Redis takes them, so that
// entries written before a write to the source never outlive a Redis outage.
// While tags or deletes are pending, Redis may still hold the entries they
// invalidate: every read from Redis first applies them (settle), and fails,
// as a read on a Redis that does not answer does, when it cannot.
// The call that failed still returns ErrUnavailable (a Set whose value was
// stored but whose announcement failed returns nil).
//
// Retries go to Redis even while the breaker is open, so they land within
// retryEvery of Redis answering again. Other instances cannot know what a
// writer holds pending; an instance whose breaker opened during the outage
// serves no entry from Redis for recoveryQuarantine after it closes (every
// entry reads as invalidated: loads replace it), which covers the writers'
// retries. An instance that saw too few failures to open its breaker may
// serve such an entry for up to retryEvery after Redis answers.

const (
	maxPending = 100_000
	// Retries start soon after a failure, since most failures are a
	// timeout on a busy moment and other instances' local tiers hold the
	// old value until the retry lands, and back off to retryEvery while
	// Redis keeps failing.
	retryFirst = 10 * time.Millisecond
	retryEvery = 50 * time.Millisecond
	// recoveryQuarantine outlasts two retries of every writer's pending
	// invalidations.
	recoveryQuarantine = 2 * retryEvery
)

// distrusted reports whether the quarantine after an outage is on.
func (e *Engine) distrusted() bool {
	until := e.distrustUntil.Load()
	if until == 0 {
		return false
	}
	if time.Now().UnixNano() < until {
		return true
	}
	e.distrustUntil.CompareAndSwap(until, 0)
	return false
}

// pendingKind is what a pending item is.
type pendingKind int

const (
	pendingTag          pendingKind = iota // a tag to invalidate
	pendingDelete                          // a Redis key to delete
	pendingAnnouncement                    // a Redis key whose Set other instances must hear of
	numPendingKinds
)

// pendingInvalidations are the items still to apply, by kind.
type pendingInvalidations struct {
	mu      sync.Mutex                         // guards the fields below
	items   [numPendingKinds]map[string]uint64 // item → the sequence of its latest failure
	seq     uint64
	running bool // a retry goroutine is at work
	dropped uint64
	since   time.Time // since when items have been pending without a break; zero when none
	// unsettled counts the pending tags and deletes, plus one until the
	// journal has been read; read without the lock on every read.
	unsettled     atomic.Int64
	journalLoaded atomic.Bool // the journal's items are among the pending ones
}

// recountLocked updates unsettled and the gauges; the caller holds mu.
func (e *Engine) recountLocked() {
	p := &e.pending
	unsettled := len(p.items[pendingTag]) + len(p.items[pendingDelete])
	if e.cfg.Journal != nil && !p.journalLoaded.Load() {
		unsettled++
	}
	p.unsettled.Store(int64(unsettled))
	n := p.countLocked()
	switch {
	case n == 0:
		p.since = time.Time{}
	case p.since.IsZero():
		p.since = time.Now()
	}
	e.vecs.Pending.Set(float64(n))
	e.notePendingAgeLocked()
}

// notePendingAgeLocked sets the age gauge; the caller holds mu.
func (e *Engine) notePendingAgeLocked() {
	age := 0.0
	if !e.pending.since.IsZero() {
		age = time.Since(e.pending.since).Seconds()
	}
	e.vecs.PendingAge.Set(age)
}

func (p *pendingInvalidations) countLocked() int {
	n := 0
	for _, m := range p.items {
		n += len(m)
	}
	return n
}

// failed records items of one kind Redis did not take, in the journal
// too, and makes sure a retry goroutine runs.
func (e *Engine) failed(kind pendingKind, items []string) {
	e.journalAdd(kind, items)
	e.queuePending(kind, items)
}

// queuePending records pending items of one kind and makes sure a retry
// goroutine runs.
func (e *Engine) queuePending(kind pendingKind, items []string) {
	p := &e.pending
	p.mu.Lock()
	if p.items[kind] == nil {
		p.items[kind] = map[string]uint64{}
	}
	p.seq++
	m, n := p.items[kind], p.countLocked()
	for _, it := range items {
		if _, ok := m[it]; !ok {
			if n >= maxPending {
				p.dropped++
				continue
			}
			n++
		}
		m[it] = p.seq
	}
	e.recountLocked()
	start := !p.running
	p.running = true
	dropped := p.dropped
	p.mu.Unlock()
	if dropped > 0 {
		e.cfg.Logger.Error("cachefront: too many invalidations pending while Redis fails; some are lost",
			"lost", dropped, "max", maxPending)
	}
	if start {
		go e.retryPending()
	}
}

// retryPending applies pending items until none are left or the Store
// closes.
func (e *Engine) retryPending() {
	delay := retryFirst
	t := time.NewTimer(delay)
	defer t.Stop()
	for {
		select {
		case <-e.closing:
			return
		case <-t.C:
		}
		batch, ok := e.pendingSnapshot()
		if !ok {
			return // pendingSnapshot cleared running
		}
		e.pending.mu.Lock()
		e.notePendingAgeLocked()
		e.pending.mu.Unlock()
		// The retry goes to Redis even while the breaker is open (one every
		// retryEvery at most), so it lands as soon as Redis answers again.
		ctx, cancel := context.WithTimeout(backend.AsProbe(context.Background()), 10*e.cfg.OpTimeout)
		failed := false
		for kind, b := range batch {
			if len(b.items) == 0 {
				continue
			}
			if e.applyPending(ctx, pendingKind(kind), b.items) == nil {
				e.pendingDone(pendingKind(kind), b)
			} else {
				failed = true
			}
		}
		cancel()
		if failed {
			delay = min(2*delay, retryEvery)
		} else {
			delay = retryFirst
		}
		t.Reset(delay)
	}
}

// applyPending applies items of one kind again.
func (e *Engine) applyPending(ctx context.Context, kind pendingKind, items []string) error {
	switch kind {
	case pendingTag:
		return e.invalidateTags(ctx, items)
	case pendingDelete:
		return e.deleteEntries(ctx, items)
	default:
		ev := local.Event{Keys: items}
		return e.Backend.Run(ctx, func(ctx context.Context) error { return e.publishNow(ctx, ev) })
	}
}

// pendingBatch is a copy of the pending items of one kind.
type pendingBatch struct {
	items []string
	seqs  []uint64
}

// pendingSnapshot copies the pending items; ok is false (and the retry
// goroutine is marked stopped) when there are none.
func (e *Engine) pendingSnapshot() (batch [numPendingKinds]pendingBatch, ok bool) {
	p := &e.pending
	p.mu.Lock()
	defer p.mu.Unlock()
	for kind, m := range p.items {
		for it, seq := range m {
			batch[kind].items = append(batch[kind].items, it)
			batch[kind].seqs = append(batch[kind].seqs, seq)
			ok = true
		}
	}
	if !ok {
		p.running = false
	}
	return batch, ok
}

// pendingDone removes applied items, unless one failed again meanwhile.
func (e *Engine) pendingDone(kind pendingKind, b pendingBatch) {
	e.pending.mu.Lock()
	m := e.pending.items[kind]
	var done []string
	for i, it := range b.items {
		if m[it] == b.seqs[i] {
			delete(m, it)
			done = append(done, it)
		}
	}
	e.recountLocked()
	e.pending.mu.Unlock()
	e.journalRemove(kind, done)
}

// settle applies the pending tags and deletes before a read looks in Redis,
// once for all the reads that arrive meanwhile. It returns the error of the
// attempt when the master did not take them: the read must not trust what
// Redis holds. (One the master took but too few replicas acknowledged
// settles the read and stays pending.)
func (e *Engine) settle(ctx context.Context) error {
	if e.pending.unsettled.Load() == 0 {
		return nil
	}
	_, err, _ := e.settling.Do("", func() (any, error) {
		if err := e.loadJournalWithin(ctx, e.cfg.OpTimeout); err != nil {
			return nil, err
		}
		for _, kind := range []pendingKind{pendingTag, pendingDelete} {
			b := e.pendingOf(kind)
			if len(b.items) == 0 {
				continue
			}
			switch err := e.applyPending(ctx, kind, b.items); {
			case errors.Is(err, errNotReplicated):
				// The master has it, which is what reads need; it stays
				// pending until the replicas do too.
			case err != nil:
				return nil, err
			default:
				e.pendingDone(kind, b)
			}
		}
		return nil, nil
	})
	return err
}

// pendingOf copies the pending items of one kind.
func (e *Engine) pendingOf(kind pendingKind) pendingBatch {
	p := &e.pending
	p.mu.Lock()
	defer p.mu.Unlock()
	var b pendingBatch
	for it, seq := range p.items[kind] {
		b.items = append(b.items, it)
		b.seqs = append(b.seqs, seq)
	}
	return b
}

// PendingInvalidations counts the items still to apply.
func (e *Engine) PendingInvalidations() int {
	e.pending.mu.Lock()
	defer e.pending.mu.Unlock()
	return e.pending.countLocked()
}
