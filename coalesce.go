package cachefront

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/cachefront/cachefront/internal/entry"
	"github.com/cachefront/cachefront/internal/httpcache"
	"github.com/cachefront/cachefront/internal/metrics"
)

// Request coalescing for the HTTP middleware.
//
// Cache.GetOrLoad runs a shared load in a goroutine of its own, which a
// handler cannot use: it must write to its request's ResponseWriter, and only
// while that request's ServeHTTP runs. So the first request that misses a key
// leads: it runs the handler in its own goroutine, streaming to its own client
// through a responseTee, while the requests that miss the same key meanwhile
// wait for the result. Leading and joining go through the Store's singleflight
// group under the same flight key a GetOrLoad would use (the entry key plus
// what the request saw: the entry's generation and its tags' invalidation
// sequences), and the leader follows the same steps as a shared load: a
// snapshot before the handler runs (a second look at the entry, and the
// versions the entry will carry), then a conditional write that checks the
// tags the handler added with AddTags against the snapshot. A request that
// arrives after an invalidation sees newer versions, so it never joins a load
// that began before it.

// httpOutcome is what a leading request hands the requests waiting for it.
type httpOutcome struct {
	resp      *httpcache.Response // nil: not shareable; waiters run the handler themselves
	fromCache bool                // found by the leader's second look, not built
	created   int64               // entry times (Unix ms), when fromCache
	fresh     int64
	late      lateCheck // what became of the tags the handler added
	handoff
}

// Flight states: a flight function runs only if its request still waits.
const (
	flightPending int32 = iota
	flightLeading
	flightAbandoned
)

// coalesce leads the flight fkey or waits for it, and answers r.
func (m *httpCache) coalesce(w http.ResponseWriter, r *http.Request, next http.Handler, p *httpPlan, fkey string) {
	ctx := r.Context()
	var state atomic.Int32
	led := make(chan struct{})
	done := make(chan *httpOutcome, 1)
	// The flight function runs in a goroutine of singleflight's only for the
	// request that started the flight; it hands leadership back to that
	// request's goroutine and holds the flight open until the request
	// publishes its outcome.
	ch := m.c.store.flights.DoChan(fkey, func() (any, error) {
		start := m.c.store.startFlight()
		o := &httpOutcome{} // if the request left before it could lead
		if state.CompareAndSwap(flightPending, flightLeading) {
			close(led)
			o = <-done
		}
		o.handoff = m.c.store.endFlight(start, o.late)
		return o, nil
	})
	publish := func(o *httpOutcome) {
		select {
		case done <- o: // the first outcome wins
		default:
		}
	}
	select {
	case <-led:
		m.lead(w, r, next, p, publish)
		// Return once the flight is closed, so that a request that starts
		// after this one ended never joins it.
		<-ch
	case res := <-ch:
		m.follow(w, r, next, p, fkey, res.Val.(*httpOutcome))
	case <-ctx.Done():
		if !state.CompareAndSwap(flightPending, flightAbandoned) {
			// Leadership came as the client left: hand the waiters an
			// outcome that sends them to load for themselves.
			<-led
			publish(&httpOutcome{})
		}
		m.c.cc.Miss()
	}
}

// follow answers r with the outcome of a flight it waited for.
func (m *httpCache) follow(w http.ResponseWriter, r *http.Request, next http.Handler, p *httpPlan, fkey string, o *httpOutcome) {
	if o.resp == nil || !o.mayTake(p.wait) && p.wait.retries > 0 {
		if p.wait.retries > 0 {
			// The response was not shareable, or this request may have
			// arrived after an invalidation that the response predates: the
			// waiters form a new flight of their own.
			p.wait.retries--
			m.coalesce(w, r, next, p, retryKey(fkey, o.flight))
			return
		}
		m.lead(w, r, next, p, func(*httpOutcome) {})
		return
	}
	c := m.c
	c.cc.Dedup()
	if o.fromCache {
		c.cc.Hit(false)
		httpcache.Serve(w, r, o.resp, httpcache.HitInfo{Hit: true, FreshUntil: o.fresh, Created: o.created, Now: time.Now().UnixMilli()})
		return
	}
	c.cc.Miss()
	httpcache.Serve(w, r, o.resp, httpcache.HitInfo{Fwd: p.fwd})
}

// lead runs the handler for r, streams its response to r's client, stores
// it if it may be, and publishes it to the waiting requests. publish may be
// called several times; only the first call counts.
func (m *httpCache) lead(w http.ResponseWriter, r *http.Request, next http.Handler, p *httpPlan, publish func(*httpOutcome)) {
	c := m.c
	// However lead ends, even by a panic in a Redis client hook, the waiters
	// are released: when nothing was published before, they run the handler
	// themselves.
	defer publish(&httpOutcome{})
	// Redis calls outlive the client: the store and the waiters need them.
	ctx := context.WithoutCancel(r.Context())
	epoch := c.store.local.EpochNow()

	snap, serr := c.store.snapshot(ctx, c.cc, p.rkey, p.call.tagSet(c.store), c.typeHash)
	if serr == nil && snap.found == foundEntry {
		now := time.Now().UnixMilli()
		if resp, ok := m.decode(ctx, p.rkey, &snap.view, snap.raw, now); ok {
			o := &httpOutcome{resp: resp, fromCache: true, created: snap.view.Created, fresh: snap.view.FreshUntil}
			publish(o)
			c.cc.Hit(false)
			httpcache.Serve(w, r, resp, httpcache.HitInfo{Hit: true, FreshUntil: o.fresh, Created: o.created, Now: now})
			return
		}
	}
	if serr != nil {
		c.cc.Fail(metrics.OpRead)
	}

	tc := &tagCollector{}
	hctx, cancel := context.WithCancel(withTagCollector(context.WithoutCancel(r.Context()), tc))
	defer cancel()
	var clientGone atomic.Bool
	tee := httpcache.NewTee(w, r, m.cfg.maxBody)
	tee.CacheStatus = "cachefront; fwd=" + p.fwd
	tee.Unstorable = func(status int, h, initial http.Header) string {
		return m.policy.Unstorable(status, h, initial, p.userKeyed)
	}
	tee.OnSpoil = func() {
		// Nobody can use the response any more: release the waiters now,
		// and stop the handler if its own client has gone too.
		publish(&httpOutcome{})
		if clientGone.Load() {
			cancel()
		}
	}
	stop := context.AfterFunc(r.Context(), func() {
		clientGone.Store(true)
		if tee.Spoiled.Load() {
			cancel()
		}
	})
	defer stop()
	late := time.AfterFunc(p.call.loadTimeout, func() { tee.Spoil("timeout") })
	defer late.Stop()

	start := time.Now()
	returned := false
	defer func() {
		if !returned {
			// The handler panicked (or exited its goroutine): the panic goes
			// on, unrecovered, to the server or an outer recoverer, and the
			// waiters run the handler themselves.
			c.cc.Miss()
			c.cc.Load(time.Since(start), metrics.LoadError)
		}
	}()
	next.ServeHTTP(httpcache.Expose(tee), handlerRequest(r, hctx))
	returned = true
	took := time.Since(start)
	late.Stop()

	resp := tee.Finish()
	c.cc.Miss()
	c.cc.Load(took, statusResult(tee.Status()))
	if resp == nil {
		publish(&httpOutcome{})
		return
	}
	o := &httpOutcome{resp: resp}
	if serr != nil {
		// Tags the handler added cannot be checked: the response is for
		// no one who arrived after the flight began.
		o.late.added = hasLateTags(tc.list(), p.call.tags.names)
		c.cc.Skipped(metrics.SkipUnavailable)
	} else {
		// The client has its response before the write to Redis.
		_ = http.NewResponseController(w).Flush()
		var stored *entry.Header
		stored, o.late = c.storeLoaded(ctx, p.rkey, &snap, resp, false, took, tc.list(), p.call)
		c.rememberStored(p.rkey, stored, resp, nil, epoch)
	}
	publish(o)
}
