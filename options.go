package cachefront

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"time"

	"github.com/cachefront/cachefront/internal/engine"
	"github.com/cachefront/cachefront/internal/local"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vmihailenco/msgpack/v5"
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
	replicaAck      engine.ReplicaAck
	observer        Observer
	journal         Journal

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
	topKeys     int           // keys reported by Stats per cache; 0 for none
	codec       Codec         // store and cache
	compressMin int           // smallest value compressed; NoCompression for off

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
		codec:           MsgpackCodec,
		compressMin:     NoCompression,
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

// WithObserver reports every operation of the Store's caches and
// middleware to o as it starts and ends (see Observer). Applies to
// NewStore. Default: none, at no cost.
func WithObserver(o Observer) Option {
	return option{"WithObserver", scopeStore, func(c *config) error {
		if o == nil {
			return fmt.Errorf("observer is nil")
		}
		c.observer = o
		return nil
	}}
}

// WithJournal keeps the invalidations Redis did not take in j, so that
// they outlive the process (see Journal). Applies to NewStore. Default:
// none, they are kept in memory.
func WithJournal(j Journal) Option {
	return option{"WithJournal", scopeStore, func(c *config) error {
		if j == nil {
			return fmt.Errorf("journal is nil")
		}
		c.journal = j
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

// WithReplicaAck makes InvalidateTags, Store.Delete and Cache.Delete wait
// until replicas replicas of each master they wrote to have the write
// (Redis's WAIT, on the connection that sent it), for at most timeout. An
// invalidation the replicas did not acknowledge in time fails like one
// Redis refused: the call returns an error wrapping ErrUnavailable and the
// Store applies it again until they do (Store.PendingInvalidations). So an
// invalidation that returned survives the loss of the master that took it:
// without the option, a master that fails before its replica has the write
// leaves the promoted replica with the old tag versions, and entries built
// before the invalidation become valid again. It costs each invalidation
// the replicas' round trip, and fails every invalidation on a deployment
// with fewer replicas. The wait is added to the operation timeout; on a
// client without ContextTimeoutEnabled, keep timeout under its ReadTimeout
// (3s by default). Applies to NewStore. Default: off.
func WithReplicaAck(replicas int, timeout time.Duration) Option {
	return option{"WithReplicaAck", scopeStore, func(c *config) error {
		if replicas < 1 {
			return fmt.Errorf("replicas must be at least 1, got %d", replicas)
		}
		if err := positive("replica timeout", timeout); err != nil {
			return err
		}
		c.replicaAck = engine.ReplicaAck{Replicas: replicas, Timeout: timeout}
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
func appendUnique(dst []string, add ...string) []string { return engine.AppendUnique(dst, add...) }

// Codec turns values into bytes and back. Name identifies the format in
// every entry written: a Cache never decodes an entry written by a codec
// of another name (it is a miss, deleted and counted as a decode error), so
// rename a codec when its format changes incompatibly. Marshal receives the
// value (a T); Unmarshal receives a pointer to fill: a *T, or, when T is a
// pointer type, a new T. Implementations must be safe for concurrent use
// and must not keep data after Unmarshal returns.
type Codec interface {
	Name() string
	Marshal(v any) ([]byte, error)
	Unmarshal(data []byte, v any) error
}

// MsgpackCodec encodes with github.com/vmihailenco/msgpack/v5: compact,
// fast, and tolerant of fields added or removed between versions of a
// struct. It is the default, and its entries are the format earlier
// releases write.
var MsgpackCodec Codec = msgpackCodec{}

// JSONCodec encodes with encoding/json, for entries that programs in other
// languages read too.
var JSONCodec Codec = jsonCodec{}

type msgpackCodec struct{}

func (msgpackCodec) Name() string                       { return "msgpack" }
func (msgpackCodec) Marshal(v any) ([]byte, error)      { return msgpack.Marshal(v) }
func (msgpackCodec) Unmarshal(data []byte, v any) error { return msgpack.Unmarshal(data, v) }

type jsonCodec struct{}

func (jsonCodec) Name() string                       { return "json" }
func (jsonCodec) Marshal(v any) ([]byte, error)      { return json.Marshal(v) }
func (jsonCodec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// WithCodec sets how values are encoded. Caches with different codecs may
// share a Store, but not entries: see Codec. Applies to NewStore (the
// default for its caches) and New. Default MsgpackCodec.
func WithCodec(c Codec) Option {
	return option{"WithCodec", scopeStore | scopeCache, func(cfg *config) error {
		if c == nil {
			return fmt.Errorf("codec is nil")
		}
		if c.Name() == "" {
			return fmt.Errorf("codec %T has an empty name", c)
		}
		cfg.codec = c
		return nil
	}}
}

// NoCompression, given to WithCompression, turns compression off, for
// instance for one cache of a Store that compresses.
const NoCompression = -1

// WithCompression compresses values whose encoding is at least minSize
// bytes long, when that makes them smaller. Values are compressed with S2
// (github.com/klauspost/compress), which decodes a kilobyte in well under
// a microsecond; the Middleware compresses response bodies with zstd and
// sends them as they are to clients that accept zstd. Reading is bounded:
// an entry claiming more than 64 MiB decompressed is a miss, and so is one
// whose checksum does not match. A cache reads uncompressed entries and
// entries compressed as it compresses; others are misses. Applies to
// NewStore (the default for its caches and middlewares), New and
// Middleware. Default: off.
func WithCompression(minSize int) Option {
	return option{"WithCompression", scopeStore | scopeCache | scopeHTTP, func(c *config) error {
		if minSize < 0 && minSize != NoCompression {
			return fmt.Errorf("minimum size must be >= 0 or NoCompression, got %d", minSize)
		}
		c.compressMin = minSize
		return nil
	}}
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
		if ttl < local.MinTTL {
			return fmt.Errorf("local TTL must be at least %v, got %v", local.MinTTL, ttl)
		}
		c.localMax, c.localTTL = maxEntries, ttl
		return nil
	}}
}

// WithTopKeys makes Stats report the n keys read most often in each cache
// (CacheStats.TopKeys), for an admin page or a debugging session: every read
// (Get, GetOrLoad, GetMany, GetManyOrLoad, a middleware request) is counted
// under its key, hit or miss, in a bounded heavy-hitters summary whose
// memory is fixed whatever the traffic (Space-Saving over 4n counters per
// core). Each reported count overestimates the true count by at most the
// reported error, itself at most the cache's reads divided by 4n, and every
// key read more often than that is reported. Keys never become metric
// labels. A tracked key costs tens of nanoseconds per read; off, nothing.
// Applies to NewStore (every cache), New and Middleware; n is 1 to 10000.
// Default: off.
func WithTopKeys(n int) Option {
	return option{"WithTopKeys", scopeStore | scopeCache | scopeHTTP, func(c *config) error {
		if n < 1 || n > maxTopKeys {
			return fmt.Errorf("top keys must be 1 to %d, got %d", maxTopKeys, n)
		}
		c.topKeys = n
		return nil
	}}
}

const maxTopKeys = 10_000

// httpConfig holds the settings of Middleware.
type httpConfig struct {
	name          string
	tagsFuncs     []func(*http.Request) []string
	vary          []string // canonical header names, sorted and unique
	keyFunc       func(*http.Request) string
	userKey       func(*http.Request) string
	public        bool
	statuses      []int
	maxBody       int64
	bypassParam   string
	bypassAllowed func(*http.Request) bool
	badRequest    http.Handler // answers requests with a malformed query string
	// originMax, with WithOriginFreshness, is the longest freshness a
	// response may give itself; 0 when the route's TTL bounds it instead.
	originMax time.Duration
}

// Middleware defaults.
const (
	// DefaultHTTPName is the cache name of a Middleware without WithName: it
	// separates the middleware's key space and labels its metrics.
	DefaultHTTPName = "http"
	// DefaultMaxBodySize is the largest response body Middleware stores.
	DefaultMaxBodySize = 1 << 20
	// DefaultBypassParam is the query parameter that makes Middleware skip
	// the cache for one request.
	DefaultBypassParam = "nocache"
)

func defaultHTTPConfig() httpConfig {
	return httpConfig{
		name:        DefaultHTTPName,
		statuses:    []int{http.StatusOK},
		maxBody:     DefaultMaxBodySize,
		bypassParam: DefaultBypassParam,
		badRequest:  malformedQuery,
	}
}

// validate checks what single options cannot: their combinations.
func (h *httpConfig) validate() error {
	if h.public && h.userKey != nil {
		return fmt.Errorf("%w: WithPublic and WithUserKey contradict each other: a route is either shared by all users or keyed per user", ErrInvalidOption)
	}
	return nil
}

func httpOption(name string, fn func(*httpConfig) error) Option {
	return option{name, scopeHTTP, func(c *config) error { return fn(&c.http) }}
}

// WithName names the Middleware's cache. The name separates the route's keys
// from other routes' (two middlewares with different names never share an
// entry) and labels its metrics (cachefront_hits_total{cache="<name>"}, …),
// so give each route or group of routes a name of its own to see them apart;
// the name is never a URL, so label sets stay small. Letters, digits, '_',
// '-' and '.' only. Applies to Middleware. Default "http".
func WithName(name string) Option {
	return httpOption("WithName", func(h *httpConfig) error {
		if err := validName(name); err != nil {
			return err
		}
		h.name = name
		return nil
	})
}

// WithTagsFunc tags each stored response with the tags fn returns for its
// request, in addition to the route's WithTags and the tags the handler adds
// with AddTags. A later Store.InvalidateTags of any of them invalidates the
// response. fn runs once per cacheable request, before the cache is read
// (the tags are checked on the read); it must be safe for concurrent use. A
// request for which fn returns an empty or over-long tag is served without
// the cache and counted under cachefront_errors_total{op="tags"}. Several
// WithTagsFunc add up. Applies to Middleware. Default: none.
func WithTagsFunc(fn func(r *http.Request) []string) Option {
	return httpOption("WithTagsFunc", func(h *httpConfig) error {
		if fn == nil {
			return fmt.Errorf("tags function is nil")
		}
		h.tagsFuncs = append(h.tagsFuncs[:len(h.tagsFuncs):len(h.tagsFuncs)], fn)
		return nil
	})
}

// WithVary adds the values of the named request headers to the cache key,
// so that, say, WithVary("Accept-Language") stores one response per
// language. "Host" names the request's host (r.Host). Values of
// Authorization, Proxy-Authorization and Cookie are hashed in the key, never
// stored in clear; naming Authorization or Cookie also lets requests that
// carry them be cached, one entry per distinct value.
//
// A response whose own Vary header names a request header missing from this
// list (or says "*") is not stored: it depends on something the key does not
// hold. Several WithVary add up. Applies to Middleware. Default: none.
func WithVary(headers ...string) Option {
	return httpOption("WithVary", func(h *httpConfig) error {
		vary := slices.Clone(h.vary)
		for _, name := range headers {
			if !validHeaderName(name) {
				return fmt.Errorf("%q is not a header name", name)
			}
			vary = append(vary, textproto.CanonicalMIMEHeaderKey(name))
		}
		slices.Sort(vary)
		h.vary = slices.Compact(vary)
		return nil
	})
}

// WithKeyFunc replaces the method, path and query part of the cache key by
// what fn returns for the request; the WithVary headers and the WithUserKey
// identity are still added to it, and the credentials rule still holds (a
// key function does not make a request with credentials cacheable). An
// empty key serves the request without the cache. fn must be safe for
// concurrent use and must return different keys for requests whose
// responses differ. Applies to Middleware. Default: the method, the escaped
// path and the query parameters sorted by name, without the bypass
// parameter.
func WithKeyFunc(fn func(r *http.Request) string) Option {
	return httpOption("WithKeyFunc", func(h *httpConfig) error {
		if fn == nil {
			return fmt.Errorf("key function is nil")
		}
		h.keyFunc = fn
		return nil
	})
}

// WithOriginFreshness makes the route a shared cache in front of an origin
// (a reverse proxy, say): each response is kept for the freshness it gives
// itself (RFC 9111 §4.2: s-maxage, else max-age, else Expires less Date,
// less the age it arrived with; CDN-Cache-Control, RFC 9213, over
// Cache-Control), at most max, and one that states none for 10% of the time
// since its Last-Modified, at most max, or not at all without one. Without
// this option the route's TTL is what a response gets unless it asks for
// less. Applies to Middleware. Default: off.
func WithOriginFreshness(max time.Duration) Option {
	return httpOption("WithOriginFreshness", func(h *httpConfig) error {
		if err := positive("freshness cap", max); err != nil {
			return err
		}
		h.originMax = max
		return nil
	})
}

// WithUserKey caches the route per user: fn returns the identity of the
// request's user (a user ID from a verified token, say), which becomes part
// of the key, so that a user's entry is only ever served to that user.
// Requests carrying Authorization or a cookie are then cached too, under
// their user; when fn returns "" the request is anonymous: it shares the
// anonymous entry if it carries no credentials, and bypasses the cache if it
// does (credentials fn did not recognise). Because the cache is then private
// to each user, responses marked Cache-Control: private are stored as well
// (no-store ones still never are).
//
// fn runs once per cacheable request and must be safe for concurrent use;
// it sees the request as the middleware does, so an authentication
// middleware must run before it. Conflicts with WithPublic. Applies to
// Middleware. Default: none (requests with credentials bypass the cache).
func WithUserKey(fn func(r *http.Request) string) Option {
	return httpOption("WithUserKey", func(h *httpConfig) error {
		if fn == nil {
			return fmt.Errorf("user key function is nil")
		}
		h.userKey = fn
		return nil
	})
}

// WithPublic declares that the route's responses do not depend on who asks:
// requests carrying Authorization or cookies are served from, and stored in,
// the same entries as anonymous ones. Use it only for routes whose handler
// ignores credentials (a public catalogue behind a site-wide session
// cookie, say). Conflicts with WithUserKey. Applies to Middleware. Default:
// off (requests with credentials bypass the cache).
func WithPublic() Option {
	return httpOption("WithPublic", func(h *httpConfig) error {
		h.public = true
		return nil
	})
}

// WithCacheableStatus sets the response status codes that may be stored,
// replacing the default list. Codes must lie in 200–599; 206 (partial) and
// 304 (not modified) can never be stored. Applies to Middleware. Default:
// 200 only.
func WithCacheableStatus(codes ...int) Option {
	return httpOption("WithCacheableStatus", func(h *httpConfig) error {
		if len(codes) == 0 {
			return fmt.Errorf("no status code given")
		}
		for _, c := range codes {
			if c < 200 || c > 599 || c == http.StatusPartialContent || c == http.StatusNotModified {
				return fmt.Errorf("status %d cannot be stored", c)
			}
		}
		list := slices.Clone(codes)
		slices.Sort(list)
		h.statuses = slices.Compact(list)
		return nil
	})
}

// WithMaxBodySize sets the largest response body, in bytes, that is stored.
// A larger response still reaches its client in full, streamed: the
// middleware keeps at most n bytes of it in memory and stops buffering once
// it passes n. n must be positive. Applies to Middleware. Default 1 MiB.
func WithMaxBodySize(n int64) Option {
	return httpOption("WithMaxBodySize", func(h *httpConfig) error {
		if n <= 0 {
			return fmt.Errorf("max body size must be positive, got %d", n)
		}
		h.maxBody = n
		return nil
	})
}

// WithBypassParam names the query parameter that skips the cache for one
// request (neither read nor written; X-Cache: BYPASS): present empty, or
// with a value strconv.ParseBool reads as true (?nocache, ?nocache=1,
// ?nocache=true). The parameter is never part of the cache key, whatever its
// value. An empty name turns bypassing off (the parameter is then an
// ordinary one). See WithBypassAllowed to limit who may bypass. Applies to
// Middleware. Default "nocache".
func WithBypassParam(name string) Option {
	return httpOption("WithBypassParam", func(h *httpConfig) error {
		h.bypassParam = name
		return nil
	})
}

// WithBypassAllowed limits the bypass parameter to the requests for which
// allowed returns true (an administrator's, say); for the others the
// parameter is ignored and the cache used as usual. Anyone may otherwise
// send every request past the cache to the source. allowed must be safe for
// concurrent use. Applies to Middleware. Default: everyone may bypass.
func WithBypassAllowed(allowed func(r *http.Request) bool) Option {
	return httpOption("WithBypassAllowed", func(h *httpConfig) error {
		if allowed == nil {
			return fmt.Errorf("bypass predicate is nil")
		}
		h.bypassAllowed = allowed
		return nil
	})
}

// WithBadRequestHandler sets the handler that answers a request whose query
// string does not parse (a semicolon, a bad percent-escape: what
// url.ParseQuery rejects and URL.Query silently drops). The middleware never
// sends such a request to the route's handler, which could read another
// query from it than the key does, and never treats it as a bypass, which
// would make it a cheap way past the cache. Applies to Middleware. Default:
// 400 Bad Request with a plain-text body.
func WithBadRequestHandler(h http.Handler) Option {
	return httpOption("WithBadRequestHandler", func(c *httpConfig) error {
		if h == nil {
			return fmt.Errorf("bad request handler is nil")
		}
		c.badRequest = h
		return nil
	})
}

// malformedQuery is the default WithBadRequestHandler.
var malformedQuery = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "malformed query string", http.StatusBadRequest)
})

// validHeaderName accepts RFC 9110 field names (tokens).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}
