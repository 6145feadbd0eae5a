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
// entry's generation, kind, timestamps, the Go type's hash and its tags). An
// entry that does not decode — corrupt, truncated, written by another type or
// by a future format — is a miss, is deleted and is counted as an error; it
// never panics and never yields a wrong value.
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
// hear of. The
// source of truth is never the cache, so nothing is lost.
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
//	cachefront_hits_total{cache,layer}
//	cachefront_misses_total{cache}
//	cachefront_errors_total{cache,op}
//	cachefront_loads_total{cache,result}
//	cachefront_load_duration_seconds{cache}        (histogram)
//	cachefront_dedup_waits_total{cache}
//	cachefront_stale_entries_total{cache}
//	cachefront_writes_skipped_total{cache,reason}
//	cachefront_invalidations_total{kind}
//	cachefront_refreshes_total{cache,reason}
//	cachefront_lease_waits_total{cache,result}
//	cachefront_circuit_open                        (gauge)
//
// Label values are cache names and fixed words, never keys or tags.
// [Store.Stats] returns the same counts as plain numbers, with
// [WithTopKeys] the keys read most in each cache, and [Store.CountEntries]
// counts a namespace's entries without blocking Redis.
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
