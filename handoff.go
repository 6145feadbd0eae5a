package cachefront

import (
	"context"
	"math"
	"sync"
	"time"
)

// Who may take the result of a shared load.
//
// A caller that finds a load of its key under way may take its result only
// if the load's data is no older than any invalidation that returned before
// the caller arrived. For the entry's generation and the tags the caller
// named, the flight key sees to it (see flightKey). Tags the loader added
// with AddTags are in no key: the load checks them once it has its value
// (checkLateTags), and that check proves them current only for callers that
// arrived before it was sent. A caller that arrives later may have arrived
// after an invalidation that landed after the check, while the load was
// still writing, and so gets a load of its own. Arrivals, flight starts and
// checks are ordered by one counter per Store (Store.marks).

// waiter is a caller about to wait for a shared load.
type waiter struct {
	arrived    uint64    // Store.marks taken before the caller's read
	readFailed time.Time // when the caller's read failed; zero if it did not
	retries    int       // loads it may still start after refusing a result
}

// lateCheck is what a load found of the tags its loader added.
type lateCheck struct {
	added    bool   // the loader added tags its caller did not name
	conflict bool   // one of them was invalidated after the load's snapshot
	verified uint64 // the mark taken before the check that found them all current; 0 if none did
}

// handoff tells the callers waiting on a flight whom its result is for.
type handoff struct {
	flight  uint64    // the flight's number; names its callers' retry
	started time.Time // when the flight began
	// forBefore: callers whose arrival mark is below it may take the
	// result.
	forBefore uint64
}

// mayTake reports whether w may take the result. A caller whose read failed
// saw nothing and takes no result of a flight that began before the failure.
func (h *handoff) mayTake(w waiter) bool {
	if !w.readFailed.IsZero() && h.started.Before(w.readFailed) {
		return false
	}
	return w.arrived < h.forBefore
}

// flightStart is when a flight began, in time and in marks.
type flightStart struct {
	at   time.Time
	mark uint64
}

// arrival returns the mark of a caller that is about to read.
func (s *Store) arrival() uint64 { return s.marks.Load() }

// startFlight marks the start of a flight, before its snapshot.
func (s *Store) startFlight() flightStart {
	return flightStart{at: time.Now(), mark: s.marks.Add(1)}
}

// endFlight numbers a finished flight and says whom its result is for: every
// caller that could join it when its loader added no tags; after a
// conflict, no one but its leader; otherwise the callers that arrived before
// its tags were last found current (or, failing that, before it began).
func (s *Store) endFlight(start flightStart, late lateCheck) handoff {
	h := handoff{flight: s.flightSeq.Add(1), started: start.at, forBefore: math.MaxUint64}
	switch {
	case late.conflict:
		h.forBefore = 0
	case late.added:
		h.forBefore = max(start.mark, late.verified)
	}
	return h
}

// checkLateTags reads the versions of tags a loader added (creating those
// that have none) and checks that none was invalidated after the snapshot
// whose invalidation sequence was seq. It returns the versions only when
// they are all current.
func (s *Store) checkLateTags(ctx context.Context, names []string, seq int64) ([]string, lateCheck) {
	lc := lateCheck{added: true}
	mark := s.marks.Add(1)
	versions, err := s.ensureTagVersions(ctx, s.tagSet(names))
	if err != nil {
		return nil, lc
	}
	for _, v := range versions {
		if seqOf(v) > seq {
			lc.conflict = true
			return nil, lc
		}
	}
	lc.verified = mark
	return versions, lc
}

// hasLateTags reports whether added holds a tag that is not in named.
func hasLateTags(added, named []string) bool {
	for _, t := range added {
		if indexOfString(named, t) < 0 {
			return true
		}
	}
	return false
}

type tagCollectorKey struct{}

// tagCollector gathers the tags a loader adds while it runs.
type tagCollector struct {
	mu   sync.Mutex // guards tags
	tags []string
}

func withTagCollector(ctx context.Context, tc *tagCollector) context.Context {
	return context.WithValue(ctx, tagCollectorKey{}, tc)
}

func (tc *tagCollector) list() []string {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	return tc.tags
}
