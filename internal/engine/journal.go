package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/cachefront/cachefront/internal/backend"
)

// Journal keeps the pending tags and deletes outside the process (see the
// root package's Journal), so that a Store started after this one exited
// applies them before it trusts Redis.
type Journal interface {
	Add(ctx context.Context, tags, keys []string) error
	Remove(ctx context.Context, tags, keys []string) error
	List(ctx context.Context) (tags, keys []string, err error)
}

// journalTimeout bounds each call to the journal.
const journalTimeout = 5 * time.Second

// journalItems splits items of kind into the journal's tags and keys; ok is
// false for a kind the journal does not keep.
func journalItems(kind pendingKind, items []string) (tags, keys []string, ok bool) {
	switch kind {
	case pendingTag:
		return items, nil, true
	case pendingDelete:
		return nil, items, true
	}
	return nil, nil, false
}

// journalAdd records failed items before the call that failed returns.
func (e *Engine) journalAdd(kind pendingKind, items []string) {
	tags, keys, ok := journalItems(kind, items)
	if e.cfg.Journal == nil || !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), journalTimeout)
	defer cancel()
	if err := e.cfg.Journal.Add(ctx, tags, keys); err != nil {
		e.cfg.Logger.Error("cachefront: the journal did not record invalidations Redis did not take; they are lost if the process exits before Redis takes them",
			"tags", len(tags), "keys", len(keys), "error", err)
	}
}

// journalRemove forgets items Redis took.
func (e *Engine) journalRemove(kind pendingKind, items []string) {
	tags, keys, ok := journalItems(kind, items)
	if e.cfg.Journal == nil || !ok || len(items) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), journalTimeout)
	defer cancel()
	if err := e.cfg.Journal.Remove(ctx, tags, keys); err != nil {
		// They are applied again at the next start: harmless.
		e.cfg.Logger.Warn("cachefront: the journal did not forget applied invalidations", "error", err)
	}
}

// loadJournal takes what the journal holds, left by a Store that exited
// before Redis took it, as pending, once. Until it has, reads do not trust
// Redis (see settle).
func (e *Engine) loadJournal(ctx context.Context) error {
	if e.cfg.Journal == nil || e.pending.journalLoaded.Load() {
		return nil
	}
	tags, keys, err := e.cfg.Journal.List(ctx)
	if err != nil {
		return backend.Unavailable(fmt.Errorf("reading the journal of pending invalidations: %w", err))
	}
	if len(tags) > 0 {
		e.queuePending(pendingTag, tags)
	}
	if len(keys) > 0 {
		e.queuePending(pendingDelete, keys)
	}
	e.pending.mu.Lock()
	e.pending.journalLoaded.Store(true)
	e.recountLocked()
	e.pending.mu.Unlock()
	return nil
}

// loadJournalWithin is loadJournal bounded by d, for a read that waits on
// it: a slow journal costs a read no more than a slow Redis would.
func (e *Engine) loadJournalWithin(ctx context.Context, d time.Duration) error {
	if e.cfg.Journal == nil || e.pending.journalLoaded.Load() {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return e.loadJournal(ctx)
}

// readJournal loads the journal in the background at start, so that what
// it holds is applied even by a Store that never reads; reads that come
// first load it themselves.
func (e *Engine) readJournal() {
	delay := retryFirst
	for {
		ctx, cancel := context.WithTimeout(context.Background(), journalTimeout)
		err := e.loadJournal(ctx)
		cancel()
		if err == nil {
			return
		}
		e.cfg.Logger.Warn("cachefront: reading the journal failed; reads from Redis wait for it", "error", err)
		select {
		case <-e.closing:
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, time.Second)
	}
}
