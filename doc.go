// Package cachefront puts a correct, fast Redis cache in front of a slow data
// source: a typed [Cache] with loaders that never stampede, tag invalidation
// that stays correct under concurrency, a failure policy that keeps Redis
// trouble from becoming an outage, and Prometheus metrics.
//
// # Quick start
//
//	rdb := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{"localhost:6379"},
//		ContextTimeoutEnabled: true}) // operations bounded without a watchdog goroutine
//	store := cachefront.NewStore(rdb, cachefront.WithNamespace("shop"),
//		cachefront.WithRegisterer(prometheus.DefaultRegisterer))
//	defer store.Close()
//
//	products := cachefront.New[Product](store, "products", cachefront.WithTTL(10*time.Minute))
//
//	p, err := products.GetOrLoad(ctx, asin, func(ctx context.Context) (Product, error) {
//		return db.ProductByASIN(ctx, asin)
//	}, cachefront.WithTags("category:"+strconv.Itoa(catID)))
//
//	_ = store.InvalidateTags(ctx, "category:42") // after a write to category 42
//
// A [Store] is the engine for one Redis deployment (single node, Sentinel or
// Cluster) and namespace; a [Cache] is a typed, named view of it. Both are
// safe for concurrent use and meant to be created once.
//
// # Values and TTLs
//
// Values are encoded with msgpack behind a small versioned header (the
// entry's generation, kind, timestamps, the Go type's hash, the codec, the
// compression and its tags). An entry that does not decode — corrupt,
// truncated, written by another type, another codec, another compression or
// by a future format — is a miss, is deleted and is counted as an error; it
// never panics and never yields a wrong value.
//
// # Codecs and compression
//
// [WithCodec] chooses the format: [MsgpackCodec] (the default), [JSONCodec],
// or any [Codec] (protobuf, say, by wrapping proto.Marshal). A codec is
// recorded by a hash of its Name, so a cache never decodes what another
// codec wrote. [WithCompression] compresses values whose encoding reaches a
// minimum size, with S2, when that makes them smaller; a CRC-32C of the
// uncompressed bytes goes with them. A cache reads uncompressed entries and
// entries compressed as it compresses; an entry compressed otherwise, cut
// short, with a bad checksum or claiming more than 64 MiB decompressed is a
// miss like any corrupt one, found before anything large is allocated.
//
// Entries written with the default codec and no compression are byte for
// byte those of earlier releases, so instances of both share them during
// a rolling deploy; turning compression on or changing the codec makes the
// other instances' entries misses (each is loaded again once), never
// wrong values.
//
// Every entry expires. The TTL comes from the call, the cache or the store
// ([WithTTL], default 10 minutes) and is shortened by a random jitter of up to
// 10% ([WithTTLJitter]) so that keys written together do not expire together.
// A zero or negative TTL is a configuration error, never silently replaced.
//
// # Loaders
//
// [Cache.GetOrLoad] calls its loader once per key per process for concurrent
// misses (golang.org/x/sync/singleflight). The shared load looks in Redis
// once more before calling the loader, runs detached from the caller that
// started it under its own timeout ([WithLoadTimeout]), and hands its result
// or error to every waiter; each waiter leaves when its own context ends.
// Errors are not cached; [ErrNotFound] from a loader is cached only with
// [WithNegativeTTL]. A loader that panics makes every waiter panic with a
// [*PanicError] instead of crashing the process.
//
// # Tags and invalidation
//
// cachefront uses versioned tags. Each tag has a version key in Redis; an
// entry records the version of each of its tags as they were before its value
// was loaded; a read compares the recorded versions with the current ones, in
// the same round trip as the entry when the caller names the tags (a second
// one otherwise). [Store.InvalidateTags] gives each tag a new version: one
// round trip on a single server, three on a cluster (a sequence number, the
// tags' versions, then the event for other instances), however many entries
// carry the tag. A tag's version only ever moves forward: on a cluster, where
// two invalidations of one tag can reach its node in either order, a script
// never replaces a newer version with an older one. Stale entries are simply
// never returned and expire with their TTL.
//
// This design gives the guarantee that matters: after InvalidateTags(ctx, t)
// returns, no read returns a value computed from data read before the
// invalidation started.
//
//   - A slow loader that started before the invalidation writes its value with
//     the versions it saw before loading; every read after the invalidation
//     sees newer versions and rejects it.
//   - A caller arriving after the invalidation does not join a load in flight
//     from before it: the in-process load is named by what its callers saw
//     (the entry's generation and each tag's invalidation sequence), so the
//     newcomer starts a new load. A caller whose read failed saw nothing: it
//     waits for the load of a cold key, as a stampede on a struggling Redis
//     should, but takes its result only if that load began after the read
//     failed, and otherwise shares a new one with the others in its case.
//     Retries of a load are named after the load they follow, so no retry is
//     ever shared with a caller of an older one.
//   - Nor does it join a read in flight: concurrent reads of one key share
//     round trips, but a caller that finds a read already sent waits for the
//     next one, sent after it arrived and shared by everyone arriving
//     meanwhile. At most two reads of a hot key are under way at a time.
//   - Tags a loader only learns while loading ([AddTags]) are checked against
//     a namespace-wide invalidation sequence read before loading: if one was
//     invalidated during the load, the result is not stored and callers that
//     joined the load get a fresh one. The check proves the tags current only
//     for callers that arrived before it was sent, so a caller that joins the
//     load later (an invalidation may have landed after the check, while the
//     load was still writing) gets a load of its own; so does every caller
//     that arrived after the load began when the check could not be made
//     because Redis failed.
//
// Deletes ([Cache.Delete], [Store.Delete]) get the same guarantee from
// generations: every write gives the entry a new random generation, a delete
// leaves a short-lived tombstone with a new one, and a load stores its value
// only if the key still holds the generation it saw before loading (a Lua
// compare-and-set on that one key).
//
// [Cache.Set] records, for each tag, a version this process saw Redis hold
// within the last second (from its own Sets, loads and invalidations), so
// that a Set is usually one plain SET; otherwise it asks Redis (a script on
// one server, a version read on a cluster). Recording a version that was
// replaced meanwhile only makes the entry read as invalidated: a Set racing
// another instance's invalidation of one of its tags may be stored already
// invalidated, so the next read loads; it is never served stale.
//
// Costs, written down: a tagged read fetches one small version key per tag
// with the entry (MGET on one server, a pipeline on a cluster); a miss takes
// one extra round trip before loading (the second look, which also creates
// missing tag versions); a Set with tags is one round trip, two on a cluster
// when this process has not seen its tags' versions in the last second. Memory for tags is one short key per tag with
// a TTL ([WithTagTTL], default 24h, renewed whenever an entry is written under
// the tag) — never a set of member keys, so nothing grows as entries come and
// go. When a version key expires or is evicted, the
// entries carrying the tag read as invalidated, never as valid, because
// entries never record "no version". Every multi-key operation on a cluster
// is split into single-key commands, so nothing raises CROSSSLOT.
//
// # When Redis is down, slow or failing
//
// Every Redis operation is bounded by [WithOperationTimeout] (250ms by
// default). The bound holds even for a go-redis client built without
// ContextTimeoutEnabled, which ignores context deadlines on socket reads:
// cachefront then runs the operation under a watchdog and stops waiting at
// the timeout. The watchdog costs a goroutine per operation; a client built
// with ContextTimeoutEnabled lets the deadline reach the socket instead, and
// is the faster choice, as is a client whose ReadTimeout and WriteTimeout
// are no longer than the operation timeout (each socket operation then ends
// in time by itself). After repeated failures a circuit breaker
// ([WithCircuitBreaker]) stops calling Redis for a cool-down, then lets one
// probe through; it closes again by itself once Redis answers.
//
// Meanwhile GetOrLoad and GetManyOrLoad call their loaders and skip the
// cache write. GetOrLoad still shares loads: callers that find one under
// way wait for it, and those who arrived after it began share one more
// (they cannot see whether an invalidation came in between); Get, Set, Delete
// and InvalidateTags return [ErrUnavailable]. Errors are counted apart from
// misses. Invalidations and deletes that failed are kept and applied again in
// the background once Redis answers ([Store.PendingInvalidations]), so that
// entries written before a write to the source do not outlive the outage; so
// are the announcements of Sets that other instances' local tiers did not
// hear of. Retries start 10ms after a failure and back off to every 50ms
// while Redis keeps failing. While an invalidation or delete is pending,
// Redis may still hold what it invalidated, so no read trusts Redis: each
// read first applies what is pending (once for all concurrent reads) and,
// while that fails, fails like a read on a Redis that does not answer
// (GetOrLoad loads, Get returns ErrUnavailable), so that the first read
// after Redis takes writes again never serves an entry an invalidation
// that failed meant to remove. The source of truth is never the cache, so
// nothing is lost.
//
// Retries go to Redis even while the breaker is open, so they land within
// 50ms of Redis answering again, and their success closes the breaker.
// Other instances cannot know what a writer holds pending: an instance
// whose breaker opened during the outage serves no entry from Redis for
// 100ms after it closes (entries read as invalidated, and loads replace
// them), which covers the writers' retries; one that saw too few failures
// to open its breaker may serve such an entry for up to 50ms. With
// [WithJournal], pending invalidations also outlive the process: a failed
// one is recorded in the application's [Journal] before the call returns,
// and a Store started later applies what the journal holds before it
// trusts Redis. [RedisBudget] (given to every request by the middleware)
// makes the Redis operations of one request share one wait: after one
// fails, the others fail at once.
//
// A Redis that goes back in time (restarted from an older snapshot, or
// failed over to a replica that missed writes) holds older tag versions
// again, and with them its invalidation sequence: a Store remembers the
// highest sequence it has seen, checks it at each load and before serving
// the first entry read after any Redis failure, and when Redis shows a
// lower one serves no entry created before (they read as invalidated). A
// Store that never saw the newer sequence, or never saw Redis fail, cannot
// tell; [WithReplicaAck] closes the gap for failovers.
//
// # Failover and replicas
//
// Redis replicates asynchronously. Without [WithReplicaAck], InvalidateTags
// and Delete return once the master has the new tag versions or the
// tombstones; if that master fails before its replica has them, the
// promoted replica holds the old versions, every entry built before the
// invalidation is valid again, and it is served until its TTL, with no error
// anywhere. With WithReplicaAck(n, timeout) each of those calls ends with
// WAIT on the connection that wrote, on every master it wrote to, and
// returns only once n replicas of each have the write; if they do not
// within timeout, the call returns an error wrapping [ErrUnavailable] and
// the invalidation stays pending, retried until the replicas acknowledge it
// (on whichever master the client then reaches). An invalidation that
// returned nil then survives the loss of its master whenever the replica
// promoted is one that acknowledged it (Sentinel and Cluster promote the
// most up-to-date replica), at the cost of the replicas' round trip on each
// invalidation (about 40µs on loopback, see bench/README.md). The option
// does not help reads: entries written without it may still be lost in a
// failover, which only costs a load. Tests run on a Sentinel group and on a
// cluster with a replica per master.
//
// # Beyond one process: local tier, leases and refresh before expiry
//
// Four opt-in options change how stale a value may be or how loads are shared
// across instances; without them a Store has exactly one tier, Redis.
//
//   - [WithLocalCache] keeps decoded values in process (otter, bounded by
//     count and a short TTL). Sets, deletes and invalidations on any instance
//     reach every other instance over Redis pub/sub (sharded on a cluster),
//     each event published only once Redis holds the change it announces, so
//     that an instance hearing of it never reads the old entry again; when
//     the subscription drops the tier is bypassed and flushed. Staleness: the
//     pub/sub delivery delay (held to 100ms by the test suite's randomized
//     checker), never more than the local TTL (an event Redis
//     did not take is published again in the background). Every instance
//     sharing the namespace should have the option: Sets are announced only
//     by instances that have it. Values are shared between callers: do not
//     modify them.
//   - [WithStampedeLease] makes one instance load a cold key while the others
//     poll for its result (bounded wait, then they load themselves; a dead
//     holder's lease expires with the load timeout).
//   - [WithStaleWhileRevalidate] keeps entries past their TTL for a window in
//     which GetOrLoad serves the old value at once and refreshes it in the
//     background, once per process (or once across instances with a lease).
//   - [WithEarlyRefresh] refreshes hot entries before they expire with the
//     XFetch probability (the nearer expiry and the slower the loader, the
//     likelier), so that a hot key never has all its readers miss at once.
//
// # Metrics
//
// Pass a registerer with [WithRegisterer]; cachefront never registers with
// the global default on its own, and a second Store on the same registerer
// shares the series instead of panicking. Counters (all labelled with the
// Store's namespace):
//
//	cachefront_hits_total{cache,layer}           reads served from the cache (layer "redis" or "local")
//	cachefront_misses_total{cache}               reads that loaded or found nothing
//	cachefront_errors_total{cache,op}            failures, apart from misses (op: read, write, delete, invalidate, decode, encode, tags)
//	cachefront_loads_total{cache,result}         loader calls (result: ok, not_found, error)
//	cachefront_load_duration_seconds{cache}      loader call duration
//	cachefront_dedup_waits_total{cache}          callers that waited for another caller's load instead of loading
//	cachefront_stale_entries_total{cache}        entries found but rejected because a tag was invalidated after they were built
//	cachefront_writes_skipped_total{cache,reason} cache writes not done (reason: conflict, unavailable)
//	cachefront_invalidations_total{kind}         tags invalidated and keys deleted (kind: tag, key)
//	cachefront_refreshes_total{cache,reason}     background refreshes started (reason: stale, early)
//	cachefront_lease_waits_total{cache,result}   loads that waited for another instance's lease (result: served, timeout)
//	cachefront_bytes_written_total{cache,form}   payload bytes written (form: stored, the bytes in Redis; uncompressed, before compression)
//	cachefront_bytes_read_total{cache,form}      payload bytes read (form: stored; uncompressed, after decompression)
//	cachefront_circuit_open                      1 while the circuit breaker is open
//	cachefront_invalidations_pending             invalidations Redis has not taken yet
//	cachefront_invalidations_pending_age_seconds how long some have been pending without a break
//
// Label values are cache names and fixed words, never keys or tags.
// [Store.Stats] returns the same counts as plain numbers, with
// [WithTopKeys] the keys read most in each cache, and [Store.CountEntries]
// counts a namespace's entries without blocking Redis.
//
// # HTTP middleware: what is cached
//
// [Middleware] caches whole responses of the routes it wraps, with the same
// engine as [Cache] values.
//
// Only GET and HEAD requests are looked up. A HEAD request is answered from
// the GET entry. Other safe methods (OPTIONS, TRACE) reach the handler
// untouched; an unsafe one (POST, PUT, DELETE, PATCH, any other) does too,
// and when the handler answers it with a non-error status (2xx or 3xx) the
// stored responses of its target URI, and of the same-origin URIs its
// Location and Content-Location name, are invalidated on every instance
// before the status goes out (RFC 9111 §4.4): every stored response carries
// a tag of its URI for this.
//
// The key is the path, the query parameters sorted by name (without the
// bypass parameter), the values of the request headers named by WithVary or
// learned from responses' Vary (below), and the user WithUserKey returns;
// WithKeyFunc replaces the path and query part. Keys longer than 256 bytes
// are hashed.
//
// A response is stored when it is complete and its status is cacheable (200,
// or the WithCacheableStatus list). It is never stored when:
//
//   - it sets a cookie (Set-Cookie): the cookie belongs to one client;
//   - it says Cache-Control: no-store, or private (allowed only on routes
//     keyed per user with WithUserKey, where every entry has one user);
//   - its Vary header is "*";
//   - its freshness (below) has run out on arrival, and it has no
//     validator to be revalidated with;
//   - its Vary header names a request header the route's keys do not hold
//     yet: the route learns that header (RFC 9111 §4.1), so the next
//     request of each variant stores its own response, served only to
//     requests whose values match (compared without the whitespace around
//     list items, and content codings without their case);
//   - its body passes the size cap (WithMaxBodySize, 1 MiB by default): it
//     still streams to its client in full, and the middleware stops keeping
//     it in memory past the cap;
//   - the handler panicked, hijacked the connection, declared trailers, wrote
//     fewer or more bytes than its Content-Length, or took longer than the
//     Store's load timeout (WithLoadTimeout on NewStore).
//
// Entries live for the route's TTL (WithTTL on Middleware, else the Store's),
// or less when the response says so: a shared cache's freshness (RFC 9111
// §4.2) from s-maxage, else max-age, else Expires less Date, less the age
// the response arrived with (its Age, or more if its Date says so);
// CDN-Cache-Control (RFC 9213) takes the place of Cache-Control when
// present, directive names are case-insensitive, quoted arguments count, and
// a malformed or contradictory freshness directive, no-cache, or an invalid
// Expires makes the response stale. With [WithOriginFreshness], for a
// reverse proxy, the response's own freshness counts, up to a cap, a
// response that states none gets 10% of the time since its Last-Modified,
// and a response to a request with Authorization is stored only if it says
// public, s-maxage or must-revalidate (RFC 9111 §3.5).
//
// A response with a validator the handler gave (ETag, Last-Modified) is
// kept past its freshness. Once stale, the next request calls the handler
// with If-None-Match and If-Modified-Since, once for all concurrent
// requests of the key (RFC 9111 §4.3); a 304 updates the stored header and
// the stored response answers, anything else replaces it. no-cache and
// max-age=0 responses with a validator are stored this way and revalidated
// on every request. Within the response's stale-while-revalidate window the
// stale response answers at once and one background call revalidates it;
// within its stale-if-error window it answers instead of a 5xx (RFC 5861);
// must-revalidate and proxy-revalidate forbid both.
// Entries carry the route's tags (WithTags), the request's (WithTagsFunc) and
// those the handler adds while it runs with AddTags(r.Context(), …):
// Store.InvalidateTags of any of them invalidates the entry on every
// instance. InvalidateOnSuccess does it for write routes.
//
// # HTTP middleware: never one user's response to another
//
// A request that carries an Authorization header or a cookie bypasses the
// cache, unless the route keys it per user (WithUserKey), declares that its
// responses do not depend on credentials (WithPublic), or names the
// credential headers in WithVary. Credentials the middleware cannot see (an
// API key in a custom header) must be named with WithVary or WithUserKey.
// A Range request is answered with the whole representation (a 200, as RFC
// 9110 allows), from the entry or from a handler call that fills it, and a
// request with an Upgrade header is cached like any GET (a handler that
// upgrades the connection is never stored): neither is a way past the
// cache. A request
// whose query string does not parse is answered by WithBadRequestHandler
// (400 by default), never by the handler.
//
// # HTTP middleware: response headers
//
// Every GET and HEAD response says what the cache did: X-Cache is HIT, MISS
// or BYPASS, and Cache-Status (RFC 9211) says the same with details
// ("cachefront; hit; ttl=42", "cachefront; fwd=uri-miss; collapsed",
// "cachefront; fwd=bypass; detail=credentials"), after the members of the
// caches nearer the origin, with ttl the seconds of freshness left. Hits
// carry Age, counting the age the response arrived with, and the
// response's own Date. A stored
// response has a strong ETag (unless its handler set one): a hash of its
// content, computed once when it is stored and served from the entry, so
// that every instance serves the same ETag. A request whose If-None-Match
// matches it gets 304 Not Modified, on hits and misses alike, as does one
// without If-None-Match whose If-Modified-Since is no earlier than the
// response's Last-Modified. The handler
// itself never sees If-None-Match or If-Modified-Since on a cached route,
// and sees a HEAD request as a GET when it runs to fill the cache.
//
// With [WithCompression], a textual body (text/*, JSON, XML, JavaScript,
// SVG) the handler did not encode itself is stored zstd-compressed. A
// client whose Accept-Encoding takes zstd gets the stored bytes as they are,
// with Content-Encoding: zstd and the ETag made weak (W/"…"); any other
// client gets the body decompressed with the strong ETag. Both carry
// Vary: Accept-Encoding, and If-None-Match matches either form. A stored
// body carries a CRC-32C checked on every read from Redis, so a damaged one
// is a miss, never sent. A middleware that compresses and one that does not
// keep separate entries.
//
// # HTTP middleware: bypass
//
// ?nocache=true (or ?nocache, ?nocache=1) sends one request past the cache:
// not read, not written, X-Cache: BYPASS. WithBypassParam renames the
// parameter or turns it off; WithBypassAllowed limits it to some requests.
//
// # HTTP middleware: concurrency and failure
//
// Concurrent misses of one key on one instance run the handler once: the
// first request runs it in its own goroutine and streams its response as
// usual, the others wait for that response and get it as well (X-Cache:
// MISS, Cache-Status: collapsed), or, if it turns out not to be storable,
// run the handler themselves. A waiter whose client goes away leaves at
// once. The handler's context is not cancelled when its own client goes away
// while its response may still be stored or shared; it is cancelled once
// that client has gone and the response can no longer be used.
//
// Invalidation holds as for Cache.GetOrLoad: a handler that started before
// Store.InvalidateTags of one of its tags (or a Store.Delete of its key)
// returned cannot have its response stored afterwards, and a request
// arriving after the invalidation never waits for it.
//
// With Redis down, slow or failing, the handler is simply called (still
// once per key across concurrent requests) and its response sent; nothing
// is stored, and the errors are counted. The handler may flush
// (http.Flusher, http.ResponseController) and stream as usual: flushing
// sends the response so far and streams from then on, and the response is
// still stored if it completes within the cap. http.Hijacker and
// http.Pusher are there when the server's ResponseWriter has them.
//
// # HTTP middleware: where it goes
//
// The key and the entry are built from the request and the response as the
// middleware sees them. Middleware placed outside it runs on every request,
// hits included: put per-request work there (request IDs, logging, CORS,
// compression, session cookies); what it sets before calling the cache is
// left out of the entry and never keeps a response from being stored.
// Middleware placed inside it runs only on misses, and its headers are
// stored with the response. Outer rewriting such as http.StripPrefix changes
// the path the key holds: give routes mounted under different prefixes
// different names. A middleware's name must not be a Cache's name on the
// same Store. Request directives (Cache-Control: no-cache from a reload) are
// not obeyed: this is the origin's own cache, and ?nocache is its bypass.
//
// With WithLocalCache on the Store, hits are served from the in-process tier
// (no round trip, no decoding) and invalidations on any instance reach it as
// they reach Cache values. Stale-while-revalidate, early refresh and the
// cross-instance lease apply to Cache values only: an HTTP entry is a miss
// once its TTL has passed, and misses are coalesced within each instance.
//
// # HTTP middleware: metrics
//
// Requests are counted in the Store's metrics and Stats under the
// middleware's name (WithName, default "http"), never per URL:
// cachefront_hits_total and cachefront_misses_total per request,
// cachefront_loads_total and cachefront_load_duration_seconds per handler
// call (result "error" for a panic or a 5xx, "not_found" for 404 and 410),
// cachefront_dedup_waits_total for requests served by another's handler
// call, cachefront_errors_total for Redis failures, and the byte counters
// with the stored response (uncompressed: as if its body were not
// compressed). Bypassed requests are not counted.
//
// # Redis keys
//
// For namespace ns: entries live at ns:<cache>:<key> (keys over 256 bytes, or
// starting with '#', are replaced by '#' and their SHA-256), tag versions at
// ns:#t:<tag>, the invalidation sequence at ns:#seq, stampede leases at
// ns:#l:<cache>:<key>, and instances publish invalidation events on the
// channel ns:#events.
//
// # Configuration errors
//
// [NewStore] and [New] panic with an error wrapping [ErrInvalidOption] when
// given an invalid option, as regexp.MustCompile does with a bad pattern:
// configuration is code, and a service that is misconfigured fails at
// start-up, not under traffic. An invalid option passed to a call is returned
// as an error from that call.
package cachefront
