// Package engine is cachefront's machinery on bytes: reads and their tag
// version checks, the shared loads of GetOrLoad and the HTTP middleware,
// conditional writes, invalidation, leases and the retry of invalidations
// Redis did not take. The root package turns values into bytes and back and
// delegates everything else here; the guarantees are described once, in the
// root package's documentation.
package engine

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachefront/cachefront/internal/backend"
	"github.com/cachefront/cachefront/internal/breaker"
	"github.com/cachefront/cachefront/internal/keyspace"
	"github.com/cachefront/cachefront/internal/local"
	"github.com/cachefront/cachefront/internal/metrics"
	"github.com/cachefront/cachefront/internal/seenversions"
	"github.com/cachefront/cachefront/internal/topkeys"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"
)

// Config is what the engine needs of a Store's settings.
type Config struct {
	Namespace       string
	Registerer      prometheus.Registerer
	Logger          *slog.Logger
	OpTimeout       time.Duration
	BreakerFailures int
	BreakerCooldown time.Duration
	TagTTL          time.Duration
	LoadTimeout     time.Duration // the Store's; bounds how long tombstones must live
	LeaseWait       time.Duration // 0: no cross-instance lease
	LocalMax        int           // 0: no in-process tier
	LocalTTL        time.Duration
	ReplicaAck      ReplicaAck // zero: invalidations do not wait for replicas
	Journal         Journal    // nil: pending invalidations live in memory only
}

// Engine is the state of one Store.
type Engine struct {
	cfg     Config
	Backend *backend.Backend
	Keys    keyspace.Keyspace
	// Local is the in-process tier; nil without one (its methods accept a
	// nil receiver).
	Local *local.Tier
	// StoreOps counts the errors of store-wide operations (cache label "").
	StoreOps *metrics.Counters
	// TombstoneGrace is how long a tombstone outlives the load timeout
	// (DefaultTombstoneGrace; shorter in tests).
	TombstoneGrace time.Duration

	vecs    *metrics.Vectors
	flights singleflight.Group
	// flightSeq numbers finished flights, so that a retry can be named
	// after the flight it follows (see retryKey).
	flightSeq atomic.Uint64
	// marks orders callers' arrivals, flight starts and checks of the tags
	// loaders add (see flight.go).
	marks  atomic.Uint64
	reads  *readGroup
	seen   seenversions.Memo
	closed atomic.Bool

	invalidations, deletes         atomic.Uint64
	tagInvalidations, keyDeletions prometheus.Counter

	pending pendingInvalidations
	// distrustUntil (Unix ns, 0 for none) ends the quarantine after an
	// outage: until then no entry read from Redis is served (see
	// pending.go).
	distrustUntil atomic.Int64
	// seqSeen is the highest invalidation sequence seen, and notBefore
	// (Unix ms, 0 for none) when Redis was last found to have gone back
	// in time (see history.go).
	seqSeen, notBefore atomic.Int64
	historyUnverified  atomic.Bool // a Redis operation failed since the last check
	// settling shares one application of the pending invalidations among
	// the reads that find some (settle).
	settling singleflight.Group
	closing  chan struct{} // closed by Close: background work stops

	mu     sync.Mutex // guards caches and tops
	caches map[string]*metrics.Counters
	tops   map[string]TopKeys
}

// TopKeys counts the reads of one cache name's keys.
type TopKeys struct {
	Counter *topkeys.Counter
	N       int // keys reported
}

// New returns the engine of a Store over rdb.
func New(rdb redis.UniversalClient, cfg Config) (*Engine, error) {
	m, err := metrics.New(cfg.Namespace, cfg.Registerer)
	if err != nil {
		return nil, err
	}
	e := &Engine{cfg: cfg, Keys: keyspace.New(cfg.Namespace), vecs: m, caches: map[string]*metrics.Counters{},
		closing: make(chan struct{}), reads: newReadGroup(), TombstoneGrace: DefaultTombstoneGrace}
	e.StoreOps = metrics.NewCounters(m, "")
	e.tagInvalidations = m.Invalidations.WithLabelValues("tag")
	e.keyDeletions = m.Invalidations.WithLabelValues("key")
	if cfg.Journal != nil {
		e.pending.unsettled.Store(1) // reads wait for the journal (settle)
	}
	br := breaker.New(cfg.BreakerFailures, cfg.BreakerCooldown, e.breakerChanged)
	e.Backend = backend.New(rdb, cfg.OpTimeout, br)
	e.Backend.OnFailure = func() { e.historyUnverified.Store(true) }
	if cfg.LocalMax > 0 {
		tier, err := local.New(cfg.LocalMax, cfg.LocalTTL, e.Keys)
		if err != nil {
			return nil, fmt.Errorf("WithLocalCache: %w", err)
		}
		e.Local = tier
		tier.Start(rdb, local.Handlers{
			Logger:     cfg.Logger,
			OnEvent:    func(ev local.Event) { e.seen.Forget(ev.Tags) },
			OnBadEvent: func() { e.StoreOps.Fail(metrics.OpDecode) },
		})
	}
	if cfg.Journal != nil {
		go e.readJournal() // once the engine is complete
	}
	return e, nil
}

func (e *Engine) breakerChanged(st breaker.State) {
	switch st {
	case breaker.Open:
		e.vecs.CircuitOpen.Set(1)
		e.cfg.Logger.Warn("cachefront: redis failing, circuit breaker open; reads fall through to loaders",
			"namespace", e.cfg.Namespace, "cooldown", e.cfg.BreakerCooldown)
	case breaker.Closed:
		e.distrustUntil.Store(time.Now().Add(recoveryQuarantine).UnixNano())
		e.vecs.CircuitOpen.Set(0)
		e.cfg.Logger.Info("cachefront: redis answering again, circuit breaker closed", "namespace", e.cfg.Namespace)
	}
}

// Logger is the Store's logger.
func (e *Engine) Logger() *slog.Logger { return e.cfg.Logger }

// Counters returns the counters of cache name, shared by every Cache of
// that name on this Store.
func (e *Engine) Counters(name string) *metrics.Counters {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.caches[name]
	if !ok {
		c = metrics.NewCounters(e.vecs, name)
		e.caches[name] = c
	}
	return c
}

// TopKeysFor returns the read counter of cache name, made on first use for n
// reported keys (nil when n is 0), shared by every Cache of that name.
func (e *Engine) TopKeysFor(name string, n int) *topkeys.Counter {
	if n <= 0 {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if t, ok := e.tops[name]; ok {
		return t.Counter
	}
	c, err := topkeys.New(4 * n)
	if err != nil {
		return nil // n is checked by WithTopKeys
	}
	if e.tops == nil {
		e.tops = map[string]TopKeys{}
	}
	e.tops[name] = TopKeys{Counter: c, N: n}
	return c
}

// EachCache calls fn for every cache name with its counters and, with
// WithTopKeys, its top keys.
func (e *Engine) EachCache(fn func(name string, c *metrics.Counters, top *TopKeys)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for name, c := range e.caches {
		var top *TopKeys
		if t, ok := e.tops[name]; ok {
			top = &t
		}
		fn(name, c, top)
	}
}

// Totals are the store-wide counts.
type Totals struct {
	Invalidations, Deletes uint64
	CircuitOpen            bool
}

// Totals returns the store-wide counts.
func (e *Engine) Totals() Totals {
	return Totals{Invalidations: e.invalidations.Load(), Deletes: e.deletes.Load(),
		CircuitOpen: e.Backend.Breaker.State() != breaker.Closed}
}

// ErrClosed reports a call on a closed Store.
var ErrClosed = errors.New("cachefront: store closed")

// CheckOpen returns ErrClosed once Close has been called.
func (e *Engine) CheckOpen() error {
	if e.closed.Load() {
		return ErrClosed
	}
	return nil
}

// Close stops the background work; it reports false if it was closed
// already.
func (e *Engine) Close() bool {
	if e.closed.Swap(true) {
		return false
	}
	close(e.closing)
	if n := e.PendingInvalidations(); n > 0 && e.cfg.Journal == nil {
		e.cfg.Logger.Error("cachefront: store closed with invalidations Redis never took", "pending", n)
	} else if n > 0 {
		e.cfg.Logger.Warn("cachefront: store closed with invalidations Redis never took; the journal keeps them for the next start", "pending", n)
	}
	e.Local.Close()
	return true
}
