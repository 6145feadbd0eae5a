package cachefront

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/cachefront/cachefront/internal/entry"
	"github.com/cachefront/cachefront/internal/metrics"
)

// flightResult is what a shared load hands every caller waiting on it.
type flightResult[T any] struct {
	value     T
	err       error
	fromCache bool        // found by the load's second look, not loaded
	noResult  bool        // a refresh left to another instance: nothing to hand out
	panicked  *PanicError // the loader panicked
	late      lateCheck   // what became of the tags the loader added
	handoff
}

// GetOrLoad returns the cached value of key, or calls loader, caches what it
// returns and returns it.
//
// Concurrent misses of one key in this process call loader once; every caller
// waits under its own ctx and leaves when it ends, while the shared load goes
// on, detached from any caller, under the load timeout (WithLoadTimeout). The
// load looks in the cache once more before calling loader. Loader errors reach
// every waiter and are not cached; ErrNotFound from the loader is cached only
// with WithNegativeTTL.
//
// With Redis down, slow or failing, GetOrLoad calls loader (still once per key
// across concurrent callers) and skips the cache write: it never returns
// ErrUnavailable. If the loader panics, every waiter panics with a
// *PanicError.
//
// Loads respect invalidation: a result whose tags (or key) were invalidated
// after the load took its snapshot is returned to the callers that were
// already waiting but never stored, and callers arriving after the
// invalidation start a new load.
func (c *Cache[T]) GetOrLoad(ctx context.Context, key string, loader func(context.Context) (T, error), opts ...Option) (T, error) {
	var zero T
	if loader == nil {
		return zero, fmt.Errorf("%w: loader is nil", ErrInvalidOption)
	}
	rkey, call, v, lerr, local, err := c.beginRead(key, opts)
	if err != nil {
		return zero, err
	}
	if local {
		return v, lerr
	}
	epoch := c.store.local.EpochNow()
	w := waiter{arrived: c.store.arrival(), retries: 1}
	r, rerr := c.store.read(ctx, c.cc, rkey, call.tagSet(c.store), c.typeHash)
	if rerr == nil && r.found == foundEntry {
		if v, err, ok := c.decode(ctx, rkey, &r); ok {
			c.cc.Hit(false)
			c.remember(rkey, &r.view, v, err, epoch)
			if refresh, early := needsRefresh(&r.view, call, time.Now()); refresh {
				c.cc.Refresh(early)
				r.fillVersions(call.tags.names)
				fkey := flightKey(rkey, c.typeHash, &r, len(call.tags.names), false)
				c.store.flights.DoChan(fkey, func() (any, error) {
					return c.numberedFlight(ctx, rkey, loader, call, r.gen), nil
				})
			}
			return v, err
		}
	}
	if rerr != nil {
		if ctx.Err() != nil {
			return zero, ctx.Err()
		}
		c.cc.Fail(metrics.OpRead)
		w.readFailed = time.Now()
	}
	return c.loadShared(ctx, rkey, flightKey(rkey, c.typeHash, &r, len(call.tags.names), rerr != nil), loader, call, w)
}

// needsRefresh decides whether a hit should start a background refresh:
// always once the entry is past its TTL within the stale-while-revalidate
// window, and with the XFetch probability before that.
func needsRefresh(v *entry.View, call *callConfig, now time.Time) (refresh, early bool) {
	ms := now.UnixMilli()
	if call.swr > 0 && ms >= v.FreshUntil {
		return true, false
	}
	if call.earlyBeta > 0 && v.Kind == entry.KindValue {
		deltaMs := float64(v.LoadMicros) / 1000
		if float64(ms)-deltaMs*call.earlyBeta*math.Log(rand.Float64()) >= float64(v.FreshUntil) {
			return true, true
		}
	}
	return false, false
}

// loadShared joins or starts the shared load named fkey and waits for it
// under ctx, taking its result only if handoff.mayTake says w may.
func (c *Cache[T]) loadShared(ctx context.Context, rkey, fkey string, loader func(context.Context) (T, error), call *callConfig, w waiter) (T, error) {
	ran := false
	ch := c.store.flights.DoChan(fkey, func() (any, error) {
		ran = true
		return c.numberedFlight(ctx, rkey, loader, call, ""), nil
	})
	select {
	case res := <-ch:
		fr := res.Val.(*flightResult[T])
		if fr.panicked != nil {
			panic(fr.panicked)
		}
		if fr.noResult {
			// Joined a background refresh that another instance is doing.
			return c.loadShared(ctx, rkey, retryKey(fkey, fr.flight), loader, call, w)
		}
		if !ran {
			c.cc.Dedup()
			if !fr.mayTake(w) && w.retries > 0 {
				// This caller may have arrived after an invalidation that the
				// load predates: it gets a load of its own, shared with the
				// others in the same case.
				w.retries--
				return c.loadShared(ctx, rkey, retryKey(fkey, fr.flight), loader, call, w)
			}
		}
		if fr.fromCache {
			c.cc.Hit(false)
		} else {
			c.cc.Miss()
		}
		return fr.value, fr.err
	case <-ctx.Done():
		c.cc.Miss()
		var zero T
		return zero, ctx.Err()
	}
}

// numberedFlight runs flight and gives its result the handoff its joiners
// go by.
func (c *Cache[T]) numberedFlight(parent context.Context, rkey string, loader func(context.Context) (T, error), call *callConfig, refreshGen string) *flightResult[T] {
	start := c.store.startFlight()
	fr := c.flight(parent, rkey, loader, call, refreshGen)
	fr.handoff = c.store.endFlight(start, fr.late)
	return fr
}

// retryKey names the retry of the callers of flight number n, named fkey.
// Only they can join it, and it starts after that flight ended, so after
// each of them arrived: a retry never hands out a result whose load began
// before its caller did (as a retry shared by the callers of different
// flights could).
func retryKey(fkey string, n uint64) string {
	return fkey + "\x00retry\x00" + strconv.FormatUint(n, 10)
}

// flight is the shared load: second look, lease, loader, conditional write.
// A refresh (refreshGen set) replaces the entry of that generation even
// though it is still readable.
func (c *Cache[T]) flight(parent context.Context, rkey string, loader func(context.Context) (T, error), call *callConfig, refreshGen string) *flightResult[T] {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), call.loadTimeout)
	defer cancel()
	res := &flightResult[T]{}
	s := c.store
	epoch := s.local.EpochNow()

	snap, serr := s.snapshot(ctx, c.cc, rkey, call.tagSet(s), c.typeHash)
	if found := c.fromSnapshot(ctx, rkey, &snap, serr, refreshGen); found != nil {
		c.remember(rkey, &snap.view, found.value, found.err, epoch)
		return found
	}
	if serr != nil {
		c.cc.Fail(metrics.OpRead)
	}
	if s.cfg.leaseWait > 0 && serr == nil {
		token, err := s.acquireLease(ctx, rkey, call.loadTimeout)
		switch {
		case err != nil:
			// Redis trouble: load without the lease.
		case token != "":
			defer s.releaseLease(ctx, rkey, token)
		case refreshGen != "":
			res.noResult = true // another instance is refreshing this entry
			return res
		default:
			if got, ok := c.awaitLeaseHolder(ctx, rkey, snap.gen, call); ok {
				return got
			}
			epoch = s.local.EpochNow()
			snap, serr = s.snapshot(ctx, c.cc, rkey, call.tagSet(s), c.typeHash)
			if found := c.fromSnapshot(ctx, rkey, &snap, serr, refreshGen); found != nil {
				c.remember(rkey, &snap.view, found.value, found.err, epoch)
				return found
			}
		}
	}

	tc := &tagCollector{}
	start := time.Now()
	res.value, res.panicked, res.err = callLoader(withTagCollector(ctx, tc), loader)
	took := time.Since(start)
	if res.panicked != nil {
		c.cc.Load(took, metrics.LoadError)
		s.cfg.logger.Error("cachefront: loader panicked", "key", rkey, "panic", res.panicked.Value)
		return res
	}
	c.cc.Load(took, loadResult(res.err))

	negative := res.err != nil && errors.Is(res.err, ErrNotFound) && call.negativeTTL > 0
	if res.err != nil && !negative {
		return res
	}
	if serr != nil {
		// Tags the loader added cannot be checked: the result is for no
		// one who arrived after the load began.
		res.late.added = hasLateTags(tc.list(), call.tags.names)
		c.cc.Skipped(metrics.SkipUnavailable)
		return res
	}
	var stored *entry.Header
	stored, res.late = c.storeLoaded(ctx, rkey, &snap, res.value, negative, took, tc.list(), call)
	c.rememberStored(rkey, stored, res.value, res.err, epoch)
	return res
}

// fromSnapshot returns the result a second look found, or nil when the
// load must go on.
func (c *Cache[T]) fromSnapshot(ctx context.Context, rkey string, snap *snapshot, serr error, refreshGen string) *flightResult[T] {
	if serr != nil || snap.found != foundEntry || (refreshGen != "" && snap.gen == refreshGen) {
		return nil
	}
	v, err, ok := c.decode(ctx, rkey, &snap.readResult)
	if !ok {
		return nil
	}
	return &flightResult[T]{value: v, err: err, fromCache: true}
}

// callLoader calls loader, turning a panic into a *PanicError.
func callLoader[T any](ctx context.Context, loader func(context.Context) (T, error)) (v T, p *PanicError, err error) {
	defer func() {
		if r := recover(); r != nil {
			p = &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	v, err = loader(ctx)
	return v, nil, err
}

// storeLoaded writes a loaded value (or a negative entry) if nothing
// invalidated it since the snapshot. It returns the header it stored, if it
// did, and what it found of the tags added during the load.
func (c *Cache[T]) storeLoaded(ctx context.Context, rkey string, snap *snapshot, v T, negative bool, took time.Duration, added []string, call *callConfig) (stored *entry.Header, late lateCheck) {
	s := c.store
	tags := make([]entry.Tag, len(call.tags.names), len(call.tags.names)+len(added))
	for i, n := range call.tags.names {
		tags[i] = entry.Tag{Name: n, Version: snap.versions[i]}
	}
	var lateNames []string
	for _, t := range added {
		if indexOfString(call.tags.names, t) < 0 {
			if err := validTag(t); err != nil {
				c.cc.Fail(metrics.OpTags)
				s.cfg.logger.Warn("cachefront: not caching a result tagged with an invalid tag", "key", rkey, "error", err)
				return nil, lateCheck{added: true}
			}
			lateNames = append(lateNames, t)
		}
	}
	if len(lateNames) > 0 {
		var versions []string
		if versions, late = s.checkLateTags(ctx, lateNames, snap.seq); late.verified == 0 {
			if late.conflict {
				c.cc.Skipped(metrics.SkipConflict)
			} else {
				c.cc.Skipped(metrics.SkipUnavailable)
			}
			return nil, late
		}
		for i, ver := range versions {
			tags = append(tags, entry.Tag{Name: lateNames[i], Version: ver})
		}
	}
	if s.tooLateToWrite(snap.at) {
		c.cc.Skipped(metrics.SkipConflict)
		return nil, late
	}

	var payload []byte
	kind, ttl := entry.KindValue, call.ttl
	if negative {
		kind, ttl = entry.KindNotFound, call.negativeTTL
	} else {
		var err error
		if payload, err = encodeValue(v); err != nil {
			c.cc.Fail(metrics.OpEncode)
			s.cfg.logger.Warn("cachefront: cannot encode a loaded value", "key", rkey, "error", err)
			return nil, late
		}
	}
	ttl = jittered(ttl, call.jitter)
	now := time.Now()
	h := entry.Header{
		Gen: entry.NewGen(), Kind: kind, Created: now.UnixMilli(), FreshUntil: now.Add(ttl).UnixMilli(),
		LoadMicros: uint32(min(took.Microseconds(), 1<<32-1)), TypeHash: c.typeHash, Tags: tags,
	}
	data, err := entry.Encode(nil, &h, payload)
	if err != nil {
		c.cc.Fail(metrics.OpEncode)
		return nil, late
	}
	if !negative {
		ttl += call.swr
	}
	written, err := s.writeIfGen(ctx, rkey, snap.gen, data, ttl)
	switch {
	case err != nil:
		c.cc.Fail(metrics.OpWrite)
		c.cc.Skipped(metrics.SkipUnavailable)
	case !written:
		c.cc.Skipped(metrics.SkipConflict)
	default:
		return &h, late
	}
	return nil, late
}

func indexOfString(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}
