package engine

import (
	"context"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

// Shared loads.
//
// Concurrent misses of one key in one process share one load, a flight: the
// Store's singleflight group runs it under a flight key (FlightKey) that
// holds what its callers saw, so that a caller who arrives after an
// invalidation never joins a load that started before it. GetOrLoad's
// flights run detached from every caller (Join.Work); the middleware's run
// in the goroutine of the request that started them, which must write to
// its own ResponseWriter (Join.Lead).
//
// A caller that finds a flight of its key under way may take its result only
// if the flight's data is no older than any invalidation that returned before
// the caller arrived. For the entry's generation and the tags the caller
// named, the flight key sees to it. Tags the loader added with AddTags are in
// no key: the load checks them once it has its value (checkLateTags), and
// that check proves them current only for callers that arrived before it was
// sent. A caller that arrives later may have arrived after an invalidation
// that landed after the check, while the load was still writing, and so gets
// a load of its own. Arrivals, flight starts and checks are ordered by one
// counter per Store (Engine.marks).

// Waiter is a caller about to wait for a shared load.
type Waiter struct {
	arrived    uint64    // Engine.marks taken before the caller's read
	readFailed time.Time // when the caller's read failed; zero if it did not
	retries    int       // loads it may still start after refusing a result
}

// Arrive returns the Waiter of a caller that is about to read.
func (e *Engine) Arrive() Waiter { return Waiter{arrived: e.marks.Load(), retries: 1} }

// ReadFailed records that the caller's read failed: it saw nothing.
func (w *Waiter) ReadFailed() { w.readFailed = time.Now() }

// LateCheck is what a load found of the tags its loader added.
type LateCheck struct {
	added    bool   // the loader added tags its caller did not name
	conflict bool   // one of them was invalidated after the load's snapshot
	verified uint64 // the mark taken before the check that found them all current; 0 if none did
}

// Unchecked is the LateCheck of a load that could not check the tags its
// loader added (Redis failed): its result is for no one who arrived after
// it began.
func Unchecked(added, named []string) LateCheck {
	for _, t := range added {
		if indexOfString(named, t) < 0 {
			return LateCheck{added: true}
		}
	}
	return LateCheck{}
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
func (h *handoff) mayTake(w Waiter) bool {
	if !w.readFailed.IsZero() && h.started.Before(w.readFailed) {
		return false
	}
	return w.arrived < h.forBefore
}

// Outcome is what a flight hands every caller waiting on it.
type Outcome struct {
	Value     any
	Err       error
	FromCache bool // found by the flight's second look, not loaded
	// LeaseWaited: the load waited for another instance's lease.
	LeaseWaited bool
	// Created and FreshUntil are the entry's times (Unix ms), when
	// FromCache.
	Created, FreshUntil int64
	// NoResult: nothing to hand out (a refresh left to another instance, a
	// response that cannot be shared); the waiters load for themselves.
	NoResult bool
	Panic    *Panic    // the loader panicked
	Late     LateCheck // what became of the tags the loader added
	handoff
}

// Panic is a loader's panic, caught in the flight.
type Panic struct {
	Value any
	Stack []byte
}

// Join is one caller's part in a flight.
type Join struct {
	Key    string // the flight key
	Waiter Waiter
	// Work is the flight's work, run detached from every caller by the
	// caller that starts the flight.
	Work func() *Outcome
	// Lead, when set instead of Work, runs the flight's work in the
	// goroutine of the caller that starts it; publish hands an outcome to
	// the waiters (the first call counts, later ones are ignored) and must
	// be called before Lead returns.
	Lead func(publish func(*Outcome))
}

// Role is what a caller did in a flight.
type Role uint8

// Roles.
const (
	Joined  Role = iota // took the outcome of another caller's work
	Started             // started the flight whose outcome it took (Work)
	Led                 // ran Lead itself and has answered its own client
)

// Share runs j's work as the flight j.Key unless that flight is under way,
// and waits for its outcome under ctx. err is ctx's error when the caller
// left first. A waiter that may not take the outcome (see
// handoff.mayTake), or finds nothing to take, shares a retry with the other
// waiters in its case, once; after that it works alone.
func (e *Engine) Share(ctx context.Context, j Join) (o *Outcome, role Role, err error) {
	for {
		var ran bool
		var lead *handover
		var ch <-chan singleflight.Result
		if j.Lead != nil {
			lead = &handover{led: make(chan struct{}), done: make(chan *Outcome, 1)}
			ch = e.startFlight(j.Key, lead.run)
		} else {
			work := j.Work
			ch = e.startFlight(j.Key, func() *Outcome { ran = true; return work() })
		}
		var res singleflight.Result
		if lead != nil {
			select {
			case <-lead.led:
				j.Lead(lead.publish)
				res = <-ch // the flight is closed: a later caller never joins it
				return res.Val.(*Outcome), Led, nil
			case res = <-ch:
			case <-ctx.Done():
				lead.abandon()
				return nil, Joined, ctx.Err()
			}
		} else {
			select {
			case res = <-ch:
			case <-ctx.Done():
				return nil, Joined, ctx.Err()
			}
		}
		o = res.Val.(*Outcome)
		if ran {
			return o, Started, nil
		}
		if o.Panic != nil || !o.NoResult && o.mayTake(j.Waiter) {
			return o, Joined, nil
		}
		if j.Waiter.retries > 0 {
			// This caller found nothing to take, or may have arrived after
			// an invalidation that the outcome predates: it gets a flight of
			// its own, shared with the others in the same case.
			j.Waiter.retries--
			j.Key = retryKey(j.Key, o.flight)
			continue
		}
		if !o.NoResult {
			// A retry began after this caller arrived: its outcome is for it.
			return o, Joined, nil
		}
		if j.Lead != nil {
			j.Lead(func(*Outcome) {})
			return nil, Led, nil
		}
		return j.Work(), Started, nil
	}
}

// Refresh starts the flight key in the background unless it is under way.
func (e *Engine) Refresh(key string, work func() *Outcome) { e.startFlight(key, work) }

// startFlight joins or starts the flight key, numbering it and saying whom
// its outcome is for once work returns.
func (e *Engine) startFlight(key string, work func() *Outcome) <-chan singleflight.Result {
	return e.flights.DoChan(key, func() (any, error) {
		start := flightStart{at: time.Now(), mark: e.marks.Add(1)}
		o := work()
		o.handoff = e.endFlight(start, o.Late)
		return o, nil
	})
}

// flightStart is when a flight began, in time and in marks.
type flightStart struct {
	at   time.Time
	mark uint64
}

// endFlight numbers a finished flight and says whom its result is for: every
// caller that could join it when its loader added no tags; after a
// conflict, no one but its leader; otherwise the callers that arrived before
// its tags were last found current (or, failing that, before it began).
func (e *Engine) endFlight(start flightStart, late LateCheck) handoff {
	h := handoff{flight: e.flightSeq.Add(1), started: start.at, forBefore: math.MaxUint64}
	switch {
	case late.conflict:
		h.forBefore = 0
	case late.added:
		h.forBefore = max(start.mark, late.verified)
	}
	return h
}

// retryKey names the retry of the callers of flight number n, named key.
// Only they can join it, and it starts after that flight ended, so after
// each of them arrived: a retry never hands out a result whose load began
// before its caller did (as a retry shared by the callers of different
// flights could).
func retryKey(key string, n uint64) string {
	return key + "\x00retry\x00" + strconv.FormatUint(n, 10)
}

// Flight states of a handover: its work runs only if its caller still
// waits.
const (
	flightPending int32 = iota
	flightLeading
	flightAbandoned
)

// handover runs a flight's work in the goroutine of the caller that started
// it: the flight function, in singleflight's goroutine, hands leadership to
// that caller and holds the flight open until the caller publishes its
// outcome.
type handover struct {
	state atomic.Int32
	led   chan struct{}
	done  chan *Outcome
}

func (h *handover) run() *Outcome {
	if !h.state.CompareAndSwap(flightPending, flightLeading) {
		return &Outcome{NoResult: true} // the caller left before it could lead
	}
	close(h.led)
	return <-h.done
}

func (h *handover) publish(o *Outcome) {
	select {
	case h.done <- o: // the first outcome wins
	default:
	}
}

// abandon is called when the caller leaves while waiting: if leadership came
// as it left, the waiters get an outcome that sends them to load for
// themselves.
func (h *handover) abandon() {
	if !h.state.CompareAndSwap(flightPending, flightAbandoned) {
		<-h.led
		h.publish(&Outcome{NoResult: true})
	}
}

// checkLateTags reads the versions of tags a loader added (creating those
// that have none) and checks that none was invalidated after the snapshot
// whose invalidation sequence was seq. It returns the versions only when
// they are all current.
func (e *Engine) checkLateTags(ctx context.Context, names []string, seq int64) ([]string, LateCheck) {
	lc := LateCheck{added: true}
	mark := e.marks.Add(1)
	versions, err := e.ensureTagVersions(ctx, e.TagSet(names))
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

func indexOfString(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

type tagCollectorKey struct{}

// TagCollector gathers the tags a loader (or a write handler) adds while it
// runs with AddTags.
type TagCollector struct {
	mu   sync.Mutex // guards tags
	tags []string
}

// WithTagCollector returns ctx carrying tc, for AddTags.
func WithTagCollector(ctx context.Context, tc *TagCollector) context.Context {
	return context.WithValue(ctx, tagCollectorKey{}, tc)
}

// AddTags adds tags to the collector ctx carries, if any.
func AddTags(ctx context.Context, tags []string) {
	tc, _ := ctx.Value(tagCollectorKey{}).(*TagCollector)
	if tc == nil || len(tags) == 0 {
		return
	}
	tc.mu.Lock()
	tc.tags = AppendUnique(tc.tags, tags...)
	tc.mu.Unlock()
}

// List returns the tags added so far.
func (tc *TagCollector) List() []string {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	return tc.tags
}

// AppendUnique returns dst with each of add that is not in it yet
// appended, in a new array when it grows.
func AppendUnique(dst []string, add ...string) []string {
	out := dst[:len(dst):len(dst)] // never writes into a caller's backing array
	for _, t := range add {
		if indexOfString(out, t) < 0 {
			out = append(out, t)
		}
	}
	return out
}
