package engine

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"runtime/debug"
	"time"

	"github.com/cachefront/cachefront/internal/entry"
	"github.com/cachefront/cachefront/internal/keyspace"
	"github.com/cachefront/cachefront/internal/metrics"
)

// Load is one shared load of GetOrLoad.
type Load struct {
	Cache  *Cache
	RKey   string
	Call   *Call
	Loader func(context.Context) (any, error)
	// RefreshGen, for a background refresh, is the generation it replaces
	// although that entry is still readable.
	RefreshGen string
}

// NeedsRefresh decides whether a hit should start a background refresh:
// always once the entry is past its TTL within the stale-while-revalidate
// window, and with the XFetch probability before that.
func NeedsRefresh(v *entry.View, call *Call, now time.Time) (refresh, early bool) {
	ms := now.UnixMilli()
	if call.SWR > 0 && ms >= v.FreshUntil {
		return true, false
	}
	if call.EarlyBeta > 0 && v.Kind == entry.KindValue {
		deltaMs := float64(v.LoadMicros) / 1000
		if float64(ms)-deltaMs*call.EarlyBeta*math.Log(rand.Float64()) >= float64(v.FreshUntil) {
			return true, true
		}
	}
	return false, false
}

// RefreshKey is the flight key of the refresh of the entry a hit r found.
func RefreshKey(c *Cache, rkey string, r *Read, call *Call) string {
	r.fillVersions(call.Tags.Names)
	return FlightKey(c, rkey, r, len(call.Tags.Names), false)
}

// Run is the shared load: second look, lease, loader, conditional write.
func (e *Engine) Run(parent context.Context, l *Load) *Outcome {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), l.Call.LoadTimeout)
	defer cancel()
	c := l.Cache
	epoch := e.Local.EpochNow()

	snap, serr := e.Snapshot(ctx, c, l.RKey, l.Call.TagSet(e))
	if found := e.FromSnapshot(ctx, c, l.RKey, &snap, l.RefreshGen); found != nil {
		e.RememberView(c, l.RKey, &snap.View, found.Value, epoch)
		return found
	}
	if serr != nil {
		c.Counters.Fail(metrics.OpRead)
	}
	leaseWaited := false
	if e.cfg.LeaseWait > 0 && serr == nil {
		token, err := e.acquireLease(ctx, l.RKey, l.Call.LoadTimeout)
		switch {
		case err != nil:
			// Redis trouble: load without the lease.
		case token != "":
			defer e.releaseLease(ctx, l.RKey, token)
		case l.RefreshGen != "":
			return &Outcome{NoResult: true} // another instance is refreshing this entry
		default:
			leaseWaited = true
			if got := e.awaitLeaseHolder(ctx, l, snap.Gen); got != nil {
				got.LeaseWaited = true
				return got
			}
			epoch = e.Local.EpochNow()
			snap, serr = e.Snapshot(ctx, c, l.RKey, l.Call.TagSet(e))
			if found := e.FromSnapshot(ctx, c, l.RKey, &snap, l.RefreshGen); found != nil {
				e.RememberView(c, l.RKey, &snap.View, found.Value, epoch)
				found.LeaseWaited = true
				return found
			}
		}
	}

	tc := &TagCollector{}
	start := time.Now()
	o := &Outcome{LeaseWaited: leaseWaited}
	o.Value, o.Panic, o.Err = callLoader(WithTagCollector(ctx, tc), l.Loader)
	took := time.Since(start)
	if o.Panic != nil {
		c.Counters.Load(took, metrics.LoadError)
		e.cfg.Logger.Error("cachefront: loader panicked", "key", l.RKey, "panic", o.Panic.Value)
		return o
	}
	c.Counters.Load(took, LoadResult(o.Err))
	negative := o.Err != nil && errors.Is(o.Err, ErrNotFound) && l.Call.NegativeTTL > 0
	if o.Err != nil && !negative {
		return o
	}
	loaded := Loaded{Value: o.Value, Negative: negative, Took: took, Added: tc.List()}
	if serr != nil {
		// Tags the loader added cannot be checked: the result is for no
		// one who arrived after the load began.
		o.Late = Unchecked(loaded.Added, l.Call.Tags.Names)
		c.Counters.Skipped(metrics.SkipUnavailable)
		return o
	}
	o.Late = e.StoreLoaded(ctx, StoreRequest{Cache: c, RKey: l.RKey, Call: l.Call, Snap: &snap, Epoch: epoch}, loaded)
	return o
}

// LoadResult classifies a loader's error for the loads metric.
func LoadResult(err error) metrics.LoadResult {
	switch {
	case err == nil:
		return metrics.LoadOK
	case errors.Is(err, ErrNotFound):
		return metrics.LoadNotFound
	}
	return metrics.LoadError
}

// FromSnapshot returns the outcome of a second look that found the entry,
// or nil when the load must go on: nothing usable was found (a snapshot
// that failed finds nothing), or the entry found is the one a refresh
// (refreshGen) replaces.
func (e *Engine) FromSnapshot(ctx context.Context, c *Cache, rkey string, snap *Snapshot, refreshGen string) *Outcome {
	if snap.Found != FoundEntry || (refreshGen != "" && snap.Gen == refreshGen) {
		return nil
	}
	return e.found(ctx, c, rkey, &snap.Read)
}

// found decodes the entry r found into an outcome, or returns nil when it
// does not decode (it is dropped) or, for a cache that misses expired
// entries, has expired.
func (e *Engine) found(ctx context.Context, c *Cache, rkey string, r *Read) *Outcome {
	notFound := r.View.Kind == entry.KindNotFound
	if !c.Usable(notFound, r.View.FreshUntil) {
		return nil
	}
	o := &Outcome{FromCache: true, Created: r.View.Created, FreshUntil: r.View.FreshUntil}
	if notFound {
		o.Err = ErrNotFound
		return o
	}
	opened, err := c.Open(&r.View, r.Raw)
	var v any
	if err == nil {
		v, err = c.Decode(opened.Payload, opened.Raw)
		opened.Release()
	}
	if err != nil {
		e.DropCorrupt(ctx, c, rkey, r.Raw, err)
		return nil
	}
	o.Value = v
	return o
}

// callLoader calls loader, catching a panic.
func callLoader(ctx context.Context, loader func(context.Context) (any, error)) (v any, p *Panic, err error) {
	defer func() {
		if r := recover(); r != nil {
			p = &Panic{Value: r, Stack: debug.Stack()}
		}
	}()
	v, err = loader(ctx)
	return v, nil, err
}

// Loaded is what a load produced, to be stored.
type Loaded struct {
	Value    any
	Negative bool          // store a not-found entry (WithNegativeTTL)
	Took     time.Duration // the loader's duration
	Added    []string      // tags the loader added with AddTags
}

// StoreRequest says where a loaded value goes.
type StoreRequest struct {
	Cache *Cache
	RKey  string
	Call  *Call
	Snap  *Snapshot // taken before loading
	Epoch uint64    // the local tier's epoch before the snapshot
}

// StoreLoaded writes a loaded value (or a negative entry) if nothing
// invalidated it since the snapshot, and keeps what it wrote in the local
// tier. It returns what it found of the tags added during the load.
func (e *Engine) StoreLoaded(ctx context.Context, req StoreRequest, l Loaded) (late LateCheck) {
	c, call, snap := req.Cache, req.Call, req.Snap
	tags := make([]entry.Tag, len(call.Tags.Names), len(call.Tags.Names)+len(l.Added))
	for i, n := range call.Tags.Names {
		tags[i] = entry.Tag{Name: n, Version: snap.versions[i]}
	}
	var lateNames []string
	for _, t := range l.Added {
		if indexOfString(call.Tags.Names, t) < 0 {
			if err := keyspace.ValidTag(t); err != nil {
				c.Counters.Fail(metrics.OpTags)
				e.cfg.Logger.Warn("cachefront: not caching a result tagged with an invalid tag", "key", req.RKey, "error", err)
				return LateCheck{added: true}
			}
			lateNames = append(lateNames, t)
		}
	}
	if len(lateNames) > 0 {
		var versions []string
		if versions, late = e.checkLateTags(ctx, lateNames, snap.seq); late.verified == 0 {
			if late.conflict {
				c.Counters.Skipped(metrics.SkipConflict)
			} else {
				c.Counters.Skipped(metrics.SkipUnavailable)
			}
			return late
		}
		for i, ver := range versions {
			tags = append(tags, entry.Tag{Name: lateNames[i], Version: ver})
		}
	}
	if e.tooLateToWrite(snap.at) {
		c.Counters.Skipped(metrics.SkipConflict)
		return late
	}
	h, data, ok := e.encodeLoaded(c, req.RKey, call, l, tags)
	if !ok {
		return late
	}
	written, err := e.writeIfGen(ctx, req.RKey, snap.Gen, data, h.ttl)
	switch {
	case err != nil:
		c.Counters.Fail(metrics.OpWrite)
		c.Counters.Skipped(metrics.SkipUnavailable)
	case !written:
		c.Counters.Skipped(metrics.SkipConflict)
	default:
		c.Counters.Wrote(h.storedLen, h.uncompressedLen)
		e.rememberStored(c, req.RKey, &h.Header, l.Value, req.Epoch)
	}
	return late
}

// encodeLoaded builds the entry of a loaded value with tags; ok is false
// (and the failure counted) when the value does not encode.
func (e *Engine) encodeLoaded(c *Cache, rkey string, call *Call, l Loaded, tags []entry.Tag) (h timedHeader, data []byte, ok bool) {
	var payload []byte
	kind := entry.KindValue
	if l.Negative {
		kind = entry.KindNotFound
	} else {
		var err error
		if payload, err = encodeValue(c, l.Value); err != nil {
			c.Counters.Fail(metrics.OpEncode)
			e.cfg.Logger.Warn("cachefront: cannot encode a loaded value", "key", rkey, "error", err)
			return h, nil, false
		}
	}
	h = newHeader(c, kind, call, time.Now())
	h.LoadMicros = uint32(min(l.Took.Microseconds(), 1<<32-1))
	h.Tags = tags
	payload = c.seal(&h, payload)
	if c.Saved != nil && !l.Negative {
		h.uncompressedLen += c.Saved(l.Value)
	}
	data, err := entry.Encode(nil, &h.Header, payload)
	if err != nil {
		c.Counters.Fail(metrics.OpEncode)
		return h, nil, false
	}
	return h, data, true
}
