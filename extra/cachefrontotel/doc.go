// Package cachefrontotel traces cachefront with OpenTelemetry: an [Observer]
// that makes a span of every cache operation, and optionally records the
// operations as metrics. It is a module of its own, so that cachefront
// itself depends on no part of OpenTelemetry.
//
//	store := cachefront.NewStore(rdb, cachefront.WithObserver(cachefrontotel.New()))
//
// # Spans
//
// Each operation of the Store's caches — Get, GetOrLoad, GetMany,
// GetManyOrLoad, Set, Delete —, each Store.Delete and Store.InvalidateTags,
// and each request through cachefront.Middleware is a span of kind
// internal, a child of the span in the caller's context, named
// "cachefront " and the operation ("cachefront get_or_load"). A loader call
// is a span of its own, "cachefront load", a child of the GetOrLoad or
// GetManyOrLoad that called it; the spans a loader makes (a database query,
// say) are its children, and so are the Redis commands' when the Redis
// client is traced too (go-redis's redisotel; see the example). Callers
// that waited for another caller's load have no load span of their own:
// their span says cachefront.waited=shared_load. A request through the
// middleware is the parent of the handler's spans, on a miss or a bypass.
//
// Operations and their outcomes are attributes (the constants Attr…):
// cachefront.operation and cachefront.cache on every span;
// cachefront.result (hit, miss, error or bypass) and cachefront.layer
// (local, redis or loader) on reads; cachefront.waited, cachefront.stale
// and cachefront.redis_failed when they apply; cachefront.hits and
// cachefront.misses on GetMany and GetManyOrLoad. The semantic conventions
// have none for a cache in front of a store, hence the namespace; Redis's
// own spans carry db.system.name=redis and the rest of the database
// conventions.
//
// # Errors
//
// A failed operation's span has the status Error, the error recorded as an
// exception event and the conventional error.type: "unavailable",
// "closed", "invalid_key", "invalid_tag", "invalid_option",
// "deadline_exceeded", "canceled", "panic" for the cachefront sentinels and
// context errors it matches, else the error's type. A miss is no failure:
// an error matching cachefront.ErrNotFound (a Get miss, a loader that found
// nothing) leaves the status unset. A GetOrLoad that went on without Redis
// is no failure either, only cachefront.redis_failed=true; a Get that could
// not ask Redis is both.
//
// # Keys and tags
//
// Keys and tags say what a caller is looking at, sometimes who it is, so
// nothing of them is recorded by default: spans carry how many keys or
// tags an operation named, and an error message that contains one of them
// is recorded without its details. [WithKeyHashes] and [WithTagHashes]
// record them as hashes (see [Hash]), to find the spans of one key.
//
// # Metrics
//
// With [WithMeterProvider], every operation also counts in
// cachefront.operations and cachefront.operation.duration (seconds), by
// cachefront.cache, cachefront.operation, cachefront.result,
// cachefront.layer and error.type: a small, fixed set of values per cache.
//
// # Cost
//
// A Store without an observer pays nothing. With one, each operation
// starts and ends a span; with a TracerProvider that does not sample it,
// only the non-recording span and its context.
package cachefrontotel
