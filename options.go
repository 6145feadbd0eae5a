package cachefront

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Option configures a Store, a Cache, a single call or the HTTP middleware.
// Each WithX documents where it applies and its default; an option used where
// it does not apply is an ErrInvalidOption error, as is a bad value.
//
// Settings cascade: a Store's WithTTL is the default for its caches, a
// Cache's for its calls. WithTags accumulates: a call's tags are added to its
// cache's tags.
type Option interface {
	apply(*config) error
	scopes() scope
	optionName() string
}

type scope uint8

const (
	scopeStore scope = 1 << iota
	scopeCache
	scopeCall
	scopeHTTP
)

// String names the scope in error messages.
func (s scope) String() string {
	var names []string
	for _, n := range []struct {
		s    scope
		name string
	}{{scopeStore, "NewStore"}, {scopeCache, "New"}, {scopeCall, "a call"}, {scopeHTTP, "Middleware"}} {
		if s&n.s != 0 {
			names = append(names, n.name)
		}
	}
	return strings.Join(names, ", ")
}

type option struct {
	name  string
	where scope
	fn    func(*config) error
}

func (o option) apply(c *config) error { return o.fn(c) }
func (o option) scopes() scope         { return o.where }
func (o option) optionName() string    { return o.name }

// config holds every setting; each level copies its parent's and applies its
// own options.
type config struct {
	// Store only.
	namespace       string
	registerer      prometheus.Registerer
	logger          *slog.Logger
	opTimeout       time.Duration
	breakerFailures int
	breakerCooldown time.Duration
	tagTTL          time.Duration

	// Store defaults, cache and call.
	ttl         time.Duration
	jitter      float64
	negativeTTL time.Duration
	loadTimeout time.Duration
	tags        []string
	typeName    string
	swr         time.Duration
	earlyBeta   float64
	leaseWait   time.Duration // store only
	localMax    int           // store only
	localTTL    time.Duration // store only

	// http holds the Middleware's settings (middleware_options.go).
	http httpConfig
}

// Defaults.
const (
	DefaultNamespace        = "cachefront"
	DefaultTTL              = 10 * time.Minute
	DefaultTTLJitter        = 0.1
	DefaultOperationTimeout = 250 * time.Millisecond
	DefaultLoadTimeout      = 10 * time.Second
	DefaultTagTTL           = 24 * time.Hour
	DefaultBreakerFailures  = 5
	DefaultBreakerCooldown  = time.Second
)

func defaultConfig() config {
	return config{
		namespace:       DefaultNamespace,
		logger:          slog.New(slog.DiscardHandler),
		opTimeout:       DefaultOperationTimeout,
		breakerFailures: DefaultBreakerFailures,
		breakerCooldown: DefaultBreakerCooldown,
		tagTTL:          DefaultTagTTL,
		ttl:             DefaultTTL,
		jitter:          DefaultTTLJitter,
		loadTimeout:     DefaultLoadTimeout,
		http:            defaultHTTPConfig(),
	}
}

// applyOptions applies opts at scope s, stopping at the first bad one.
func (c *config) applyOptions(s scope, opts []Option) error {
	for _, o := range opts {
		if o == nil {
			continue
		}
		if o.scopes()&s == 0 {
			return fmt.Errorf("%w: %s applies to %s only", ErrInvalidOption, o.optionName(), o.scopes())
		}
		if err := o.apply(c); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrInvalidOption, o.optionName(), err)
		}
	}
	return nil
}

func positive(what string, d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("%s must be positive, got %v", what, d)
	}
	return nil
}

// WithNamespace prefixes every Redis key and labels every metric of a Store,
// so that several applications or environments can share one Redis.
// Letters, digits, '_', '-' and '.' only. Applies to NewStore. Default
// "cachefront".
func WithNamespace(ns string) Option {
	return option{"WithNamespace", scopeStore, func(c *config) error {
		if err := validName(ns); err != nil {
			return err
		}
		c.namespace = ns
		return nil
	}}
}

// WithRegisterer registers the Store's Prometheus metrics with r. Several
// Stores may share one registerer: they then share the metric series (a
// second Store never panics). Applies to NewStore. Default: no registration
// (the metrics still feed Stats).
func WithRegisterer(r prometheus.Registerer) Option {
	return option{"WithRegisterer", scopeStore, func(c *config) error {
		c.registerer = r
		return nil
	}}
}

// WithLogger sends the Store's few log lines (circuit breaker changes,
// corrupt entries, failed writes) to l. Applies to NewStore. Default: silent.
func WithLogger(l *slog.Logger) Option {
	return option{"WithLogger", scopeStore, func(c *config) error {
		if l == nil {
			return fmt.Errorf("logger is nil")
		}
		c.logger = l
		return nil
	}}
}

// WithOperationTimeout bounds every Redis operation. The bound holds even
// when the client was built without ContextTimeoutEnabled (go-redis then
// ignores context deadlines on socket reads): cachefront stops waiting and
// reports ErrUnavailable, or falls through to the loader. Applies to
// NewStore. Default 250ms.
func WithOperationTimeout(d time.Duration) Option {
	return option{"WithOperationTimeout", scopeStore, func(c *config) error {
		if err := positive("timeout", d); err != nil {
			return err
		}
		c.opTimeout = d
		return nil
	}}
}

// WithCircuitBreaker stops calling Redis after failures consecutive failed
// or timed-out operations, for cooldown; then one probe call decides whether
// Redis is back. While open, reads fall through to loaders at once instead of
// each paying the operation timeout. failures 0 turns the breaker off.
// Applies to NewStore. Default 5 failures, 1s.
func WithCircuitBreaker(failures int, cooldown time.Duration) Option {
	return option{"WithCircuitBreaker", scopeStore, func(c *config) error {
		if failures < 0 {
			return fmt.Errorf("failures must be >= 0, got %d", failures)
		}
		if err := positive("cooldown", cooldown); err != nil {
			return err
		}
		c.breakerFailures, c.breakerCooldown = failures, cooldown
		return nil
	}}
}

// WithTagTTL sets how long a tag's version key lives in Redis after it was
// last used to write an entry or invalidated. It bounds the memory tags use:
// a tag nothing is written under any more disappears. When a version key
// expires (or is evicted), entries carrying that tag are treated as
// invalidated, never as valid. Applies to NewStore. Default 24h.
func WithTagTTL(d time.Duration) Option {
	return option{"WithTagTTL", scopeStore, func(c *config) error {
		if err := positive("tag TTL", d); err != nil {
			return err
		}
		c.tagTTL = d
		return nil
	}}
}

// WithTTL sets how long entries live. Applies to NewStore (default for its
// caches), New, a call and Middleware. Default 10 minutes; zero or negative
// is an error.
func WithTTL(d time.Duration) Option {
	return option{"WithTTL", scopeStore | scopeCache | scopeCall | scopeHTTP, func(c *config) error {
		if err := positive("TTL", d); err != nil {
			return err
		}
		c.ttl = d
		return nil
	}}
}

// WithTTLJitter shortens each entry's TTL by a random fraction of at most f,
// so that keys written together do not expire together. 0 turns it off; f
// must be below 1. The TTL is never lengthened. Applies to NewStore, New and
// Middleware.
// Default 0.1.
func WithTTLJitter(f float64) Option {
	return option{"WithTTLJitter", scopeStore | scopeCache | scopeHTTP, func(c *config) error {
		if f < 0 || f >= 1 {
			return fmt.Errorf("jitter must be in [0, 1), got %v", f)
		}
		c.jitter = f
		return nil
	}}
}

// WithNegativeTTL caches a loader's ErrNotFound for d, so that lookups of
// missing items do not reach the source each time. Applies to NewStore, New
// and a call. Default: not-found is not cached.
func WithNegativeTTL(d time.Duration) Option {
	return option{"WithNegativeTTL", scopeStore | scopeCache | scopeCall, func(c *config) error {
		if err := positive("negative TTL", d); err != nil {
			return err
		}
		c.negativeTTL = d
		return nil
	}}
}

// WithLoadTimeout bounds a shared load. The load runs detached from the
// caller that started it (one caller going away does not cancel it for the
// others) under this timeout. Applies to NewStore, New and a call.
// Default 10s.
func WithLoadTimeout(d time.Duration) Option {
	return option{"WithLoadTimeout", scopeStore | scopeCache | scopeCall, func(c *config) error {
		if err := positive("load timeout", d); err != nil {
			return err
		}
		c.loadTimeout = d
		return nil
	}}
}

// WithTags tags the entries written: a later InvalidateTags of any of them
// invalidates the entry. Given to New, the tags go on every entry of the
// cache; given to a call, they are added to the cache's. Applies to New, a
// call and Middleware.
func WithTags(tags ...string) Option {
	o := &tagsOption{}
	if len(tags) == 1 {
		// The common case in one allocation; the caller's argument list
		// stays on its stack.
		o.one[0] = tags[0]
		o.names = o.one[:]
	} else {
		o.names = slices.Clone(tags)
	}
	return o
}

// tagsOption is WithTags; it has a type of its own so that calls whose only
// options are tags skip copying the whole configuration.
type tagsOption struct {
	names []string
	one   [1]string
}

func (o *tagsOption) apply(c *config) error {
	if err := o.validate(); err != nil {
		return err
	}
	c.tags = appendUnique(c.tags, o.names...)
	return nil
}

func (o *tagsOption) validate() error {
	for _, t := range o.names {
		if err := validTag(t); err != nil {
			return err
		}
	}
	return nil
}

func (*tagsOption) scopes() scope      { return scopeCache | scopeCall | scopeHTTP }
func (*tagsOption) optionName() string { return "WithTags" }

// WithTypeName names the stored type in entry headers. An entry written under
// another type name is foreign to this cache: a miss, deleted and counted as
// an error, never decoded into the wrong type. Set it when two programs whose
// Go types have different package paths share a cache. Applies to New.
// Default: the Go type's full name.
func WithTypeName(name string) Option {
	return option{"WithTypeName", scopeCache, func(c *config) error {
		if name == "" {
			return fmt.Errorf("type name is empty")
		}
		c.typeName = name
		return nil
	}}
}

// appendUnique appends the items of add not already in dst. It never
// modifies the array behind dst, which parents share with children.
func appendUnique(dst []string, add ...string) []string {
	out := dst[:len(dst):len(dst)]
	for _, a := range add {
		dup := false
		for _, d := range out {
			if d == a {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, a)
		}
	}
	return out
}

// WithStaleWhileRevalidate keeps entries for d past their TTL and, in that
// window, GetOrLoad serves the old value at once while one background load
// refreshes it, so that a hot key's expiry never makes its callers wait.
// Staleness is bounded by d. Get also returns such a value. Applies to
// NewStore, New and a call. Default: off.
func WithStaleWhileRevalidate(d time.Duration) Option {
	return option{"WithStaleWhileRevalidate", scopeStore | scopeCache | scopeCall, func(c *config) error {
		if err := positive("stale-while-revalidate window", d); err != nil {
			return err
		}
		c.swr = d
		return nil
	}}
}

// WithEarlyRefresh refreshes entries probabilistically before they expire
// (the XFetch algorithm): a GetOrLoad hit starts one background load with a
// probability that grows as expiry nears, faster for values that were slow
// to load. beta scales it: 1 is the usual choice, more refreshes earlier.
// The hit itself still returns the cached value at once. Applies to NewStore,
// New and a call. Default: off.
func WithEarlyRefresh(beta float64) Option {
	return option{"WithEarlyRefresh", scopeStore | scopeCache | scopeCall, func(c *config) error {
		if beta <= 0 || beta > 100 {
			return fmt.Errorf("beta must be in (0, 100], got %v", beta)
		}
		c.earlyBeta = beta
		return nil
	}}
}

// WithStampedeLease makes one instance load a missing key while the others
// wait for its result, across every process sharing the Redis: the loading
// instance holds a short lease in Redis; the others poll for the entry with
// backoff for at most maxWait, then load by themselves (fail open). A lease
// expires with the load timeout, so a holder that dies never blocks the
// others beyond maxWait. Applies to NewStore. Default: off (loads are
// deduplicated within each process only).
func WithStampedeLease(maxWait time.Duration) Option {
	return option{"WithStampedeLease", scopeStore, func(c *config) error {
		if err := positive("lease wait", maxWait); err != nil {
			return err
		}
		c.leaseWait = maxWait
		return nil
	}}
}

// WithLocalCache adds an in-process tier in front of Redis holding up to
// maxEntries decoded values, each for at most ttl and never longer than its
// Redis entry stays fresh. A hit there costs no round trip and no decoding;
// callers share the value, so they must not modify what they get (copy it
// first if they need to). Every Set, Delete and InvalidateTags on any
// instance of the namespace evicts the affected entries everywhere through
// Redis pub/sub; while that subscription is down, the tier is bypassed and
// then flushed. An entry can therefore be stale for at most the time an event
// takes to arrive, and never beyond ttl. Hits are counted with
// layer="local". ttl is at least 50ms (the tier's clock reads the time every
// few milliseconds, and entries are kept that much less than their TTL).
// Applies to NewStore; every instance sharing the namespace should use it.
// Default: off.
func WithLocalCache(maxEntries int, ttl time.Duration) Option {
	return option{"WithLocalCache", scopeStore, func(c *config) error {
		if maxEntries <= 0 {
			return fmt.Errorf("maxEntries must be positive, got %d", maxEntries)
		}
		if ttl < minLocalTTL {
			return fmt.Errorf("local TTL must be at least %v, got %v", minLocalTTL, ttl)
		}
		c.localMax, c.localTTL = maxEntries, ttl
		return nil
	}}
}
