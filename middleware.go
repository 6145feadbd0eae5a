package cachefront

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachefront/cachefront/internal/backend"
	"github.com/cachefront/cachefront/internal/engine"
	"github.com/cachefront/cachefront/internal/entry"
	"github.com/cachefront/cachefront/internal/httpcache"
	"github.com/cachefront/cachefront/internal/keyspace"
	"github.com/cachefront/cachefront/internal/metrics"
)

// Middleware returns net/http middleware that caches the responses of the
// routes it wraps in store: whole responses (status, header and body) of GET
// and HEAD requests, shared by every instance that uses the same Redis and
// namespace, with the func(http.Handler) http.Handler shape that
// http.ServeMux, chi, gorilla/mux and most routers take:
//
//	mux.Handle("GET /products/{asin}", cachefront.Middleware(store,
//		cachefront.WithName("product"),
//		cachefront.WithTTL(5*time.Minute),
//		cachefront.WithTagsFunc(func(r *http.Request) []string {
//			return []string{"product:" + r.PathValue("asin")}
//		}),
//	)(productHandler))
//
// The key is the path, the sorted query (without the bypass parameter), the
// request headers named by WithVary or by the responses' Vary, and the user
// WithUserKey returns. A response is stored when its status is cacheable and
// nothing makes it personal or incomplete (Set-Cookie, Cache-Control:
// no-store or private, Vary: *, a body past WithMaxBodySize, a panic, a
// hijack, a timeout), for the route's TTL or the shorter freshness it gives
// itself (RFC 9111). Requests carrying credentials bypass the cache unless
// the route is keyed per user or declared public. Entries carry the route's
// tags, the request's and those the handler adds with AddTags, and
// Store.InvalidateTags of any of them invalidates them on every instance, as
// a successful unsafe request to their URI does. Stale entries with a
// validator are revalidated. Responses say what happened in X-Cache and
// Cache-Status. Concurrent misses of one key run the handler once; with
// Redis failing the handler is simply called.
//
// The package documentation's "HTTP middleware: …" sections give the rules
// in full (what is stored, credentials, headers, bypass, concurrency and
// failure, placement, metrics).
//
// Options: WithName, WithTTL, WithTTLJitter, WithTags, WithTagsFunc,
// WithVary, WithKeyFunc, WithUserKey, WithPublic, WithCacheableStatus,
// WithMaxBodySize, WithBypassParam, WithBypassAllowed, WithBadRequestHandler,
// WithCompression, WithOriginFreshness. Invalid options make Middleware
// panic with an error wrapping ErrInvalidOption. The middleware and the
// handlers it wraps are safe for concurrent use.
func Middleware(store *Store, opts ...Option) func(http.Handler) http.Handler {
	m, err := newHTTPCache(store, opts)
	if err != nil {
		panic(err)
	}
	return func(next http.Handler) http.Handler {
		if next == nil {
			panic(fmt.Errorf("%w: Middleware: handler is nil", ErrInvalidOption))
		}
		if store.cfg.observer != nil {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { m.serveObserved(w, r, next) })
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { m.serve(w, r, next) })
	}
}

// serveObserved is serve as an observed OpHTTP operation, whose result is
// the X-Cache header serve sent.
func (m *httpCache) serveObserved(w http.ResponseWriter, r *http.Request, next http.Handler) {
	_ = observeErr(m.c.store, r.Context(), Operation{Kind: OpHTTP, Cache: m.c.ec.Name},
		func(ctx context.Context, out *Outcome) error {
			m.serve(w, r.WithContext(ctx), next)
			switch w.Header().Get("X-Cache") {
			case "HIT":
				out.Result = ResultHit
			case "MISS":
				out.Result = ResultMiss
			case "BYPASS":
				out.Result = ResultBypass
			}
			return nil
		})
}

// MiddlewareKey returns the key under which a Middleware built with the same
// store and opts caches its response to r, in the "<name>:<key>" form that
// Store.Delete takes (and that operators see in statistics), so that admin
// tools can delete the entry of a URL. It returns an error wrapping
// ErrInvalidOption for invalid options, and one saying why when r would not
// be cached at all (credentials, the bypass parameter, a malformed query
// string).
func MiddlewareKey(store *Store, r *http.Request, opts ...Option) (string, error) {
	m, err := newHTTPCache(store, opts)
	if err != nil {
		return "", err
	}
	key, _, why := m.plan(r, nil)
	if why != "" {
		return "", fmt.Errorf("cachefront: %s %s is not cached (%s)", r.Method, r.URL.RequestURI(), why)
	}
	return m.c.StoreKey(key), nil
}

// httpCache is one Middleware: its settings and its typed view of the Store.
type httpCache struct {
	c   *Cache[*httpcache.Response]
	cfg httpConfig
	// rules build the route's keys: WithVary's headers, and those its
	// responses' Vary named since (see learnVary).
	rules                atomic.Pointer[httpcache.KeyRules]
	policy               httpcache.Policy
	varyAuth, varyCookie bool // WithVary names the credential headers
	compressMin          int  // the shortest body stored compressed; NoCompression for none
}

func newHTTPCache(store *Store, opts []Option) (*httpCache, error) {
	if store == nil {
		return nil, fmt.Errorf("%w: Middleware: store is nil", ErrInvalidOption)
	}
	cfg := store.cfg
	cfg.tags = nil
	if err := cfg.applyOptions(scopeHTTP, opts); err != nil {
		return nil, fmt.Errorf("Middleware: %w", err)
	}
	if err := cfg.http.validate(); err != nil {
		return nil, fmt.Errorf("Middleware: %w", err)
	}
	// Responses have their own msgpack layout, and compress their bodies
	// themselves (internal/httpcache, coding.go), under a type name of
	// their own.
	cfg.typeName, cfg.codec = httpcache.TypeName, MsgpackCodec
	compressMin := cfg.compressMin
	if compressMin != NoCompression {
		cfg.typeName = httpcache.CompressedTypeName
	}
	cfg.compressMin = NoCompression
	// Entries are never served past their TTL (see Middleware), so they are
	// not kept past it either.
	cfg.swr, cfg.earlyBeta = 0, 0
	c, err := newCache[*httpcache.Response](store, cfg.http.name, cfg)
	if err != nil {
		return nil, fmt.Errorf("Middleware: %w", err)
	}
	counters := c.ec.Counters
	c.decode = func(payload []byte, raw string) (*httpcache.Response, error) {
		resp, err := decodeResponse(payload, raw)
		if err == nil {
			counters.Read(0, resp.Saved())
		}
		return resp, err
	}
	c.ec.Saved = func(v any) int { return v.(*httpcache.Response).Saved() }
	c.ec.OnlyFresh, c.ec.KeepsPayload = true, true
	m := &httpCache{c: c, cfg: cfg.http, compressMin: compressMin,
		policy: httpcache.Policy{Statuses: cfg.http.statuses}}
	m.rules.Store(&httpcache.KeyRules{KeyFunc: cfg.http.keyFunc, BypassParam: cfg.http.bypassParam, Vary: cfg.http.vary})
	for _, h := range m.cfg.vary {
		m.varyAuth = m.varyAuth || h == "Authorization"
		m.varyCookie = m.varyCookie || h == "Cookie"
	}
	return m, nil
}

// decodeResponse decodes a stored response, refusing one whose status is
// not a final HTTP status.
func decodeResponse(payload []byte, raw string) (*httpcache.Response, error) {
	resp, err := httpcache.Decode(payload, httpcache.PayloadString(payload, raw))
	if err == nil && (resp.Status < 200 || resp.Status > 599) {
		err = fmt.Errorf("stored HTTP status %d", resp.Status)
	}
	return resp, err
}

// httpPlan is what the middleware decided about one cacheable request.
type httpPlan struct {
	rkey      string // set by serve
	call      *engine.Call
	userKeyed bool                // the key holds a WithUserKey identity
	rules     *httpcache.KeyRules // the rules the key was built by
	fwd       string              // the Cache-Status fwd of a miss
	wait      engine.Waiter       // the request as a waiter on a shared response
	// stale is the stored response, past its freshness, that the handler
	// is asked to revalidate (nil for none); staleHit says when it was
	// stored and fresh until.
	stale    *httpcache.Response
	staleHit httpcache.HitInfo
}

func (m *httpCache) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if !httpcache.SafeMethod(r.Method) {
			m.passUnsafe(w, r, next)
			return
		}
		next.ServeHTTP(w, r)
		return
	}
	// Most keys fit this buffer, which stays on the stack: a hit from the
	// local tier allocates nothing for its key, one from Redis only the
	// Redis key.
	var buf [256]byte
	key, p, why := m.plan(r, buf[:0])
	if why == httpcache.WhyMalformedQuery {
		refuse(w, r, m.cfg.badRequest)
		return
	}
	if why != "" {
		bypass(w, r, next, why)
		return
	}
	c := m.c
	e := c.store.e
	c.ec.Top.Observe(key)
	if e.Local != nil {
		if parts, err := keyspace.EntryKey(c.ec.Name, key); err == nil {
			var resp *httpcache.Response
			if le, ok := c.fromLocal(parts, &resp); ok {
				m.send(w, r, next, resp, httpcache.HitInfo{Hit: true, FreshUntil: le.FreshUntil, Created: le.Created, Now: time.Now().UnixMilli()})
				return
			}
		}
	}
	rkey, err := e.Keys.Entry(c.ec.Name, key)
	if err != nil {
		bypass(w, r, next, "key")
		return
	}
	// The request's Redis work, the middleware's and its handler's cache
	// calls, waits for a failing Redis once (RedisBudget).
	ctx := backend.WithBudget(r.Context())
	r = r.WithContext(ctx)
	epoch := e.Local.EpochNow()
	mp := &httpPlan{rkey: rkey, call: m.withURITag(p.call, key), userKeyed: p.userKeyed, rules: p.rules, fwd: "uri-miss", wait: e.Arrive()}
	res, err := e.Read(ctx, c.ec, rkey, mp.call.TagSet(e))
	if err == nil && res.Found == engine.FoundEntry {
		if resp, ok, _ := c.hit(ctx, rkey, &res, epoch); ok {
			m.send(w, r, next, resp, httpcache.HitInfo{Hit: true, FreshUntil: res.View.FreshUntil, Created: res.View.Created, Now: time.Now().UnixMilli()})
			return
		}
		mp.stale = m.staleEntry(&res)
	}
	switch {
	case err != nil:
		if ctx.Err() != nil {
			return // the client went away
		}
		c.ec.Counters.Fail(metrics.OpRead)
		mp.fwd = "miss; detail=unavailable"
		mp.wait.ReadFailed()
	case res.Found == engine.FoundStale:
		mp.fwd = "stale"
	case mp.stale != nil:
		mp.fwd = "stale"
	}
	fkey := engine.FlightKey(c.ec, rkey, &res, len(mp.call.Tags.Names), err != nil)
	if mp.stale != nil {
		fkey = engine.RefreshKey(c.ec, rkey, &res, mp.call) // one revalidation for all
		mp.staleHit = httpcache.HitInfo{Hit: true, FreshUntil: res.View.FreshUntil, Created: res.View.Created}
		if mp.staleAllowed(mp.stale.StaleWhileRevalidate) {
			// RFC 5861 §3: served stale at once, revalidated behind it.
			c.ec.Counters.Hit(false)
			c.ec.Counters.Refresh(false)
			m.send(w, r, next, mp.stale, mp.staleInfo("stale-while-revalidate"))
			m.revalidate(r, next, mp, fkey)
			return
		}
	}
	m.coalesce(w, r, next, mp, fkey)
}

// staleAllowed reports whether the stale response of p is within window
// seconds past its freshness.
func (p *httpPlan) staleAllowed(window int64) bool {
	return window > 0 && time.Now().UnixMilli() <= p.staleHit.FreshUntil+window*1000
}

// staleInfo describes the stale response of p served now, for the reason
// detail.
func (p *httpPlan) staleInfo(detail string) httpcache.HitInfo {
	info := p.staleHit
	info.Now, info.Detail = time.Now().UnixMilli(), detail
	return info
}

// revalidate revalidates p's stale response in the background, once for
// all the requests that find it, with r's fields but none of its lifetime.
func (m *httpCache) revalidate(r *http.Request, next http.Handler, p *httpPlan, fkey string) {
	bg := r.Clone(context.WithoutCancel(r.Context()))
	m.c.store.e.Refresh(fkey, func() *engine.Outcome {
		var first *engine.Outcome
		m.lead(discardWriter{header: http.Header{}}, bg, next, p, func(o *engine.Outcome) {
			if first == nil {
				first = o
			}
		})
		if first == nil {
			first = &engine.Outcome{NoResult: true}
		}
		return first
	})
}

// discardWriter is the ResponseWriter of a background revalidation: what
// the handler answers only updates the entry.
type discardWriter struct{ header http.Header }

func (d discardWriter) Header() http.Header         { return d.header }
func (d discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d discardWriter) WriteHeader(int)             {}

// bypass sends r past the cache, saying why.
func bypass(w http.ResponseWriter, r *http.Request, next http.Handler, why string) {
	h := w.Header()
	h.Set("X-Cache", "BYPASS")
	h.Set("Cache-Status", "cachefront; fwd=bypass; detail="+why)
	next.ServeHTTP(w, r)
}

// refuse answers r with h instead of the route's handler.
func refuse(w http.ResponseWriter, r *http.Request, h http.Handler) {
	w.Header().Set("Cache-Status", "cachefront; detail="+httpcache.WhyMalformedQuery)
	h.ServeHTTP(w, r)
}

// plan decides whether r may use the cache and builds its key and tags; why
// is the bypass reason otherwise. The key, the one in the middleware's cache,
// is built in buf, which it aliases: it must not be kept past the request.
func (m *httpCache) plan(r *http.Request, buf []byte) (key string, p httpPlan, why string) {
	if m.c.store.e.CheckOpen() != nil {
		return "", p, "closed"
	}
	rules := m.rules.Load()
	k, bypass, why := rules.AppendKey(buf, r)
	if bypass && (m.cfg.bypassAllowed == nil || m.cfg.bypassAllowed(r)) {
		return "", p, "bypass-param"
	}
	if why != "" {
		return "", p, why
	}
	var user string
	if m.cfg.userKey != nil {
		user = m.cfg.userKey(r)
	}
	if auth, cookie := httpcache.Credentials(r); (auth || cookie) && !m.cfg.public && user == "" {
		if auth && !m.varyAuth || cookie && !m.varyCookie {
			return "", p, "credentials"
		}
	}
	call := &m.c.call
	if len(m.cfg.tagsFuncs) > 0 {
		names := m.c.cfg.tags
		for _, fn := range m.cfg.tagsFuncs {
			for _, t := range fn(r) {
				if validTag(t) != nil {
					m.c.ec.Counters.Fail(metrics.OpTags)
					return "", p, "tags"
				}
				names = appendUnique(names, t)
			}
		}
		if len(names) > len(m.c.cfg.tags) {
			cc := m.c.call
			cc.Tags = m.c.store.e.TagSet(names)
			call = &cc
		}
	}
	return httpcache.BytesString(httpcache.AppendUser(k, user)), httpPlan{call: call, userKeyed: user != "", rules: rules}, ""
}

// withURITag returns call with the tag of the target URI that key names
// added (httpcache.URITag): an unsafe request to that URI invalidates it.
func (m *httpCache) withURITag(call *engine.Call, key string) *engine.Call {
	cc := *call
	cc.Tags = m.c.store.e.TagSet(appendUnique(slices.Clip(call.Tags.Names), httpcache.URITag(httpcache.URIPart(key))))
	return &cc
}

// passUnsafe sends an unsafe request (POST, PUT, DELETE, …) to the handler
// and, when the handler answers with a non-error status (2xx or 3xx),
// invalidates the stored responses of its target URI and of the same-origin
// URIs its Location and Content-Location name, before the status goes out
// (RFC 9111 §4.4), on every instance.
func (m *httpCache) passUnsafe(w http.ResponseWriter, r *http.Request, next http.Handler) {
	var once sync.Once
	iw := httpcache.NewSuccessWriter(w, func() { once.Do(func() { m.invalidateTargets(r, w.Header()) }) })
	iw.Upto = 399
	next.ServeHTTP(httpcache.Expose(iw), r)
	iw.Done()
}

// invalidateTargets invalidates the URI tags of r's target and of the
// same-origin URIs in the response header h.
func (m *httpCache) invalidateTargets(r *http.Request, h http.Header) {
	tags := make([]string, 0, 3)
	add := func(target *http.Request) {
		if key, _, why := m.rules.Load().AppendKey(nil, target); why == "" {
			tags = appendUnique(tags, httpcache.URITag(httpcache.URIPart(string(key))))
		}
	}
	add(r)
	for _, field := range []string{"Location", "Content-Location"} {
		if u := httpcache.SameOrigin(r, h.Get(field)); u != nil {
			target := r.Clone(r.Context())
			target.Method, target.URL, target.RequestURI = http.MethodGet, u, ""
			add(target)
		}
	}
	if len(tags) == 0 {
		return
	}
	store := m.c.store
	if err := store.InvalidateTags(context.WithoutCancel(r.Context()), tags...); err != nil {
		store.cfg.logger.Warn("cachefront: invalidation after an unsafe request failed; the Store retries it",
			"method", r.Method, "path", r.URL.Path, "error", err)
	}
}

// handlerRequest is the request the handler sees when its response is to be
// stored: a GET (a HEAD is served from the GET entry) for the whole
// representation, without the conditional and range fields the middleware
// answers itself (it serves a Range request the full 200, as RFC 9110 §14.2
// allows), under ctx.
func handlerRequest(r *http.Request, ctx context.Context) *http.Request {
	if r.Method == http.MethodGet && !hasAnyHeader(r.Header, answeredFields) {
		return r.WithContext(ctx)
	}
	r2 := r.Clone(ctx)
	r2.Method = http.MethodGet
	for _, f := range answeredFields {
		r2.Header.Del(f)
	}
	return r2
}

// answeredFields are the request fields the middleware answers itself, in
// canonical form.
var answeredFields = []string{"If-None-Match", "If-Modified-Since", "Range", "If-Range"}

func hasAnyHeader(h http.Header, names []string) bool {
	for _, n := range names {
		if _, ok := h[n]; ok {
			return true
		}
	}
	return false
}

// statusResult is a handler's status as a load result, for the loads
// metric: 5xx is an error, 404 and 410 found nothing.
func statusResult(status int) metrics.LoadResult {
	switch {
	case status >= 500:
		return metrics.LoadError
	case status == http.StatusNotFound || status == http.StatusGone:
		return metrics.LoadNotFound
	}
	return metrics.LoadOK
}

// InvalidateOnSuccess returns middleware for write routes (POST, PUT, PATCH,
// DELETE, …): once the handler answers with a 2xx status, it invalidates
// (Store.InvalidateTags) the tags that tags returns for the request, and the
// tags the handler named while it ran with AddTags(r.Context(), …) — the old
// category of a product it moved, say, known only after reading it:
//
//	mux.Handle("PUT /products/{asin}", cachefront.InvalidateOnSuccess(store,
//		func(r *http.Request) []string { return []string{"product:" + r.PathValue("asin")} },
//	)(updateProduct))
//
// The invalidation happens when the handler sends its 2xx status line (its
// first WriteHeader, Write or Flush), before the client can see it, so that
// a client that got the answer never reads the old response from the cache
// afterwards; tags added with AddTags after that point are invalidated when
// the handler returns. A response with any other status invalidates nothing,
// nor does a handler that panics before answering. tags may be nil (only
// AddTags then names tags) and must be safe for concurrent use.
//
// Invalidation failures (Redis unreachable) do not change the response: the
// write has happened. They are counted under
// cachefront_errors_total{op="invalidate"} and logged through the Store's
// logger, and the Store applies them again as soon as Redis answers
// (Store.PendingInvalidations). Empty or over-long tags are skipped and
// counted under op="tags".
//
// The invalidation runs under the request's context without its
// cancellation: a client that hangs up after its write does not leave the
// cache stale. InvalidateOnSuccess panics with an error wrapping
// ErrInvalidOption when store is nil.
func InvalidateOnSuccess(store *Store, tags func(r *http.Request) []string) func(http.Handler) http.Handler {
	if store == nil {
		panic(fmt.Errorf("%w: InvalidateOnSuccess: store is nil", ErrInvalidOption))
	}
	return func(next http.Handler) http.Handler {
		if next == nil {
			panic(fmt.Errorf("%w: InvalidateOnSuccess: handler is nil", ErrInvalidOption))
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tc := &engine.TagCollector{}
			r = r.WithContext(engine.WithTagCollector(r.Context(), tc))
			inv := &invalidation{store: store, r: r, tags: tags, tc: tc}
			iw := httpcache.NewSuccessWriter(w, inv.run)
			next.ServeHTTP(httpcache.Expose(iw), r)
			iw.Done()
		})
	}
}

// invalidation is the tag invalidation of one write request.
type invalidation struct {
	store    *Store
	r        *http.Request
	tags     func(*http.Request) []string
	tc       *engine.TagCollector
	fromFunc bool     // tags(r) was asked
	sent     []string // tags invalidated so far
}

// run invalidates the tags not invalidated yet.
func (iv *invalidation) run() {
	var todo []string
	if !iv.fromFunc {
		iv.fromFunc = true
		if iv.tags != nil {
			todo = iv.tags(iv.r)
		}
	}
	todo = append(todo, iv.tc.List()...)
	var fresh []string
	for _, t := range todo {
		if slices.Contains(iv.sent, t) || slices.Contains(fresh, t) {
			continue
		}
		if err := validTag(t); err != nil {
			iv.store.e.StoreOps.Fail(metrics.OpTags)
			iv.store.cfg.logger.Warn("cachefront: not invalidating an invalid tag", "error", err)
			continue
		}
		fresh = append(fresh, t)
	}
	if len(fresh) == 0 {
		return
	}
	iv.sent = append(iv.sent, fresh...)
	ctx := context.WithoutCancel(iv.r.Context())
	if err := iv.store.InvalidateTags(ctx, fresh...); err != nil {
		iv.store.cfg.logger.Warn("cachefront: invalidation after a successful write failed; entries stay until their TTL",
			"method", iv.r.Method, "path", iv.r.URL.Path, "error", err)
	}
}

// coalesce answers r through the flight fkey: it leads it, running the
// handler in its own goroutine and streaming to its own client (lead), or
// waits for the response of the request that leads it.
func (m *httpCache) coalesce(w http.ResponseWriter, r *http.Request, next http.Handler, p *httpPlan, fkey string) {
	c := m.c
	o, role, err := c.store.e.Share(r.Context(), engine.Join{Key: fkey, Waiter: p.wait,
		Lead: func(publish func(*engine.Outcome)) { m.lead(w, r, next, p, publish) }})
	switch {
	case err != nil:
		c.ec.Counters.Miss() // the client went away
		return
	case role == engine.Led:
		return
	}
	c.ec.Counters.Dedup()
	resp := o.Value.(*httpcache.Response)
	if o.FromCache {
		c.ec.Counters.Hit(false)
		m.send(w, r, next, resp, httpcache.HitInfo{Hit: true, FreshUntil: o.FreshUntil, Created: o.Created, Now: time.Now().UnixMilli()})
		return
	}
	c.ec.Counters.Miss()
	m.send(w, r, next, resp, httpcache.HitInfo{Fwd: p.fwd})
}

// learnVary reports whether keys built by rules hold every request header a
// response varies on (names), so that it may be stored under its key. When
// they do not, the route's rules learn the missing headers (up to
// httpcache.MaxVary) and the response is not stored: requests from then on
// have keys with those headers' values (RFC 9111 §4.1), and the first of
// each variant stores its own response.
func (m *httpCache) learnVary(rules *httpcache.KeyRules, names []string) bool {
	if rules.Covers(names) {
		return true
	}
	for {
		cur := m.rules.Load()
		if cur.Covers(names) {
			return false
		}
		next, ok := cur.Learn(names)
		if !ok {
			return false // too many headers: this response is not stored
		}
		if m.rules.CompareAndSwap(cur, &next) {
			return false
		}
	}
}

// freshCall returns the configuration resp, whose header as it arrived is
// h, is stored with: call with the TTL the response's freshness allows
// (httpcache.StoreTTL), and resp given the age it arrived with and the
// stale windows it allows. It returns nil when resp is not stored. share
// is false for a response stale on arrival (no-cache, max-age=0), which is
// stored to be revalidated but answers no request but its own (RFC 9111
// §5.2.2.4).
func (m *httpCache) freshCall(resp *httpcache.Response, h http.Header, call *engine.Call, sent time.Time) (stored *engine.Call, share bool) {
	if resp == nil {
		return nil, false
	}
	f := httpcache.FreshnessOf(h, httpcache.ResponseDirectives(h), sent, time.Now())
	ttl := httpcache.StoreTTL(resp.Status, h, f, call.TTL, m.cfg.originMax)
	_, revalidatable := resp.Validators()
	share = ttl >= time.Millisecond // entries live in whole milliseconds
	if !share && !revalidatable {
		return nil, false
	}
	resp.InitialAge = int64(f.InitialAge / time.Second)
	resp.StaleWhileRevalidate = int64(f.StaleWhileRevalidate / time.Second)
	resp.StaleIfError = int64(f.StaleIfError / time.Second)
	if ttl == call.TTL && !revalidatable && resp.StaleIfError == 0 && resp.StaleWhileRevalidate == 0 {
		return call, true
	}
	cc := *call
	cc.TTL = ttl // 0 when stale on arrival
	// Kept past its freshness: to be revalidated with a conditional request
	// instead of fetched whole, or served stale where the response allows.
	if revalidatable {
		cc.SWR = max(call.TTL, ttl)
	}
	cc.SWR = max(cc.SWR, f.StaleWhileRevalidate, f.StaleIfError)
	return &cc, share
}

// send answers r with resp. A compressed body that does not decompress for
// a client that does not take zstd (which its checksum makes all but
// impossible) is counted as a decode error, and r goes to the handler.
func (m *httpCache) send(w http.ResponseWriter, r *http.Request, next http.Handler, resp *httpcache.Response, info httpcache.HitInfo) {
	if err := httpcache.Serve(w, r, resp, info); err != nil {
		m.c.ec.Counters.Fail(metrics.OpDecode)
		m.c.store.cfg.logger.Warn("cachefront: a stored response body does not decompress", "path", r.URL.Path, "error", err)
		bypass(w, r, next, "corrupt")
	}
}

// lead runs the handler for r, streams its response to r's client, stores
// it if it may be, and publishes it to the waiting requests. publish may be
// called several times; only the first call counts.
func (m *httpCache) lead(w http.ResponseWriter, r *http.Request, next http.Handler, p *httpPlan, publish func(*engine.Outcome)) {
	c := m.c
	e := c.store.e
	// However lead ends, even by a panic in a Redis client hook, the waiters
	// are released: when nothing was published before, they run the handler
	// themselves.
	defer publish(&engine.Outcome{NoResult: true})
	// Redis calls outlive the client: the store and the waiters need them.
	ctx := context.WithoutCancel(r.Context())
	epoch := e.Local.EpochNow()

	snap, serr := e.Snapshot(ctx, c.ec, p.rkey, p.call.TagSet(e))
	if o := e.FromSnapshot(ctx, c.ec, p.rkey, &snap, ""); o != nil {
		publish(o)
		c.ec.Counters.Hit(false)
		e.RememberView(c.ec, p.rkey, &snap.View, o.Value, epoch)
		m.send(w, r, next, o.Value.(*httpcache.Response), httpcache.HitInfo{Hit: true, FreshUntil: o.FreshUntil, Created: o.Created, Now: time.Now().UnixMilli()})
		return
	}
	if serr != nil {
		c.ec.Counters.Fail(metrics.OpRead)
	}

	tc := &engine.TagCollector{}
	hctx, cancel := context.WithCancel(engine.WithTagCollector(context.WithoutCancel(r.Context()), tc))
	defer cancel()
	var clientGone atomic.Bool
	tee := httpcache.NewTee(w, r, m.cfg.maxBody)
	tee.CacheStatus = "cachefront; fwd=" + p.fwd
	tee.CompressMin = m.compressMin
	tee.Unstorable = func(status int, h, initial http.Header) string {
		return m.policy.Unstorable(status, h, initial, p.userKeyed)
	}
	tee.OnUnstorable = func() {
		// Nobody can use the response any more: release the waiters now,
		// and stop the handler if its own client has gone too.
		publish(&engine.Outcome{NoResult: true})
		if clientGone.Load() {
			cancel()
		}
	}
	stop := context.AfterFunc(r.Context(), func() {
		clientGone.Store(true)
		if tee.Refused.Load() {
			cancel()
		}
	})
	defer stop()
	late := time.AfterFunc(p.call.LoadTimeout, func() { tee.MarkUnstorable("timeout") })
	defer late.Stop()

	start := time.Now()
	returned := false
	defer func() {
		if !returned {
			// The handler panicked (or exited its goroutine): the panic goes
			// on, unrecovered, to the server or an outer recoverer, and the
			// waiters run the handler themselves.
			c.ec.Counters.Miss()
			c.ec.Counters.Load(time.Since(start), metrics.LoadError)
		}
	}()
	hr := handlerRequest(r, hctx)
	if p.stale != nil {
		hr = conditional(hr, p.stale, tee)
		tee.HoldErrors = p.stale.StaleIfError > 0
	}
	next.ServeHTTP(httpcache.Expose(tee), hr)
	returned = true
	took := time.Since(start)
	late.Stop()

	resp := tee.Finish()
	if tee.HoldErrors && tee.Status() >= 500 {
		if p.staleAllowed(p.stale.StaleIfError) {
			// RFC 5861 §4: the stale response answers instead of the error.
			c.ec.Counters.Miss()
			c.ec.Counters.Load(took, metrics.LoadError)
			publish(&engine.Outcome{Value: p.stale, FromCache: true, Created: p.staleHit.Created, FreshUntil: p.staleHit.FreshUntil})
			m.send(w, r, next, p.stale, p.staleInfo("stale-if-error"))
			return
		}
		tee.SendHeld()
	}
	freshness := tee.Header()
	revalidated := tee.Revalidating && tee.Status() == http.StatusNotModified
	if revalidated {
		// §4.3.4: the stored response, freshened by the 304, answers, and
		// its freshness is that of the updated header.
		resp = p.stale.Revalidated(tee.NotModifiedHeader())
		p.fwd = "stale; fwd-status=304"
		freshness = resp.Header.Clone()
		if age := tee.Header().Get("Age"); age != "" {
			freshness.Set("Age", age)
		}
		// The client has no answer yet: the freshened response is it.
		defer m.send(w, r, next, resp, httpcache.HitInfo{Fwd: p.fwd, Led: true})
	}
	c.ec.Counters.Miss()
	c.ec.Counters.Load(took, statusResult(tee.Status()))
	call, share := m.freshCall(resp, freshness, p.call, start)
	if m.cfg.originMax > 0 && r.Header.Get("Authorization") != "" && !httpcache.ResponseDirectives(freshness).SharedWithAuthorization() {
		call = nil // RFC 9111 §3.5: a response to an authorized request is its own
	}
	if call != nil && !m.learnVary(p.rules, tee.Vary()) {
		call = nil
	}
	if resp == nil || call == nil {
		publish(&engine.Outcome{NoResult: true})
		return
	}
	if !share {
		publish(&engine.Outcome{NoResult: true}) // the waiters ask for themselves
	}
	o := &engine.Outcome{Value: resp}
	if serr != nil {
		// Tags the handler added cannot be checked: the response is for
		// no one who arrived after the flight began.
		o.Late = engine.Unchecked(tc.List(), p.call.Tags.Names)
		c.ec.Counters.Skipped(metrics.SkipUnavailable)
	} else {
		// The client has its response before the write to Redis.
		_ = http.NewResponseController(w).Flush()
		o.Late = e.StoreLoaded(ctx, engine.StoreRequest{Cache: c.ec, RKey: p.rkey, Call: call, Snap: &snap, Epoch: epoch},
			engine.Loaded{Value: resp, Took: took, Added: tc.List()})
	}
	publish(o)
}

// staleEntry returns the response of an entry r read that is past its
// freshness but can be revalidated (it has a validator the handler knows)
// or served stale (stale-while-revalidate, stale-if-error), or nil.
func (m *httpCache) staleEntry(r *engine.Read) *httpcache.Response {
	if r.View.Kind != entry.KindValue || r.View.FreshUntil > time.Now().UnixMilli() {
		return nil
	}
	resp, err := m.c.decodeEntry(&r.View, r.Raw)
	if err != nil {
		return nil
	}
	if _, ok := resp.Validators(); !ok && resp.StaleWhileRevalidate == 0 && resp.StaleIfError == 0 {
		return nil
	}
	return resp
}

// conditional returns the handler's request made conditional on stale's
// validators (RFC 9111 §4.3.1), and has tee hold back a 304.
func conditional(hr *http.Request, stale *httpcache.Response, tee *httpcache.Tee) *http.Request {
	v, _ := stale.Validators()
	hr = hr.Clone(hr.Context())
	for k, vals := range v {
		hr.Header[k] = vals
	}
	tee.Revalidating = true
	return hr
}
