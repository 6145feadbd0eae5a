package cachefront

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachefront/cachefront/internal/backend"
	"github.com/cachefront/cachefront/internal/breaker"
	"github.com/cachefront/cachefront/internal/keyscan"
	"github.com/cachefront/cachefront/internal/keyspace"
	"github.com/cachefront/cachefront/internal/local"
	"github.com/cachefront/cachefront/internal/metrics"
	"github.com/cachefront/cachefront/internal/seenversions"
	"github.com/cachefront/cachefront/internal/topkeys"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"
)

// Store is cachefront's engine for one Redis deployment and namespace: it
// owns the failure policy, the metrics, the in-process load deduplication and
// tag invalidation. Typed caches (New) and the HTTP middleware are views on a
// Store. Create one per Redis deployment and namespace and share it; it is
// safe for concurrent use.
type Store struct {
	cfg     config
	be      *backend.Backend
	keys    keyspace.Keyspace
	vecs    *metrics.Vectors
	flights singleflight.Group
	// flightSeq numbers finished flights, so that a retry can be named
	// after the flight it follows (see retryKey).
	flightSeq atomic.Uint64
	// marks orders callers' arrivals, flight starts and checks of the tags
	// loaders add (see handoff).
	marks atomic.Uint64
	reads *readGroup
	seen  seenversions.Memo
	// tombstoneGrace is how long a tombstone outlives the load timeout
	// (defaultTombstoneGrace; shorter in tests).
	tombstoneGrace time.Duration
	closed         atomic.Bool

	storeOps      *metrics.Counters // errors of store-wide operations (cache label "")
	invalidations atomic.Uint64
	// tagInvalidations and keyDeletions are the invalidations_total series.
	tagInvalidations, keyDeletions prometheus.Counter
	deletes                        atomic.Uint64

	local   *local.Tier // nil without WithLocalCache
	pending pendingInvalidations
	closing chan struct{} // closed by Close: background work stops

	mu     sync.Mutex // guards caches and tops
	caches map[string]*metrics.Counters
	tops   map[string]*topKeys
}

// topKeys counts the reads of one cache name's keys (WithTopKeys).
type topKeys struct {
	counter *topkeys.Counter
	n       int // keys reported
}

// NewStore returns a Store over rdb, which may be a single-node, Sentinel
// (failover) or Cluster client; the Store never closes it.
//
// Invalid options are programming errors: NewStore panics with an error
// wrapping ErrInvalidOption, as regexp.MustCompile does with a bad pattern,
// so a misconfigured service fails at start-up and never in production
// traffic. Nothing is sent to Redis until the first call.
func NewStore(rdb redis.UniversalClient, opts ...Option) *Store {
	s, err := newStore(rdb, opts)
	if err != nil {
		panic(err)
	}
	return s
}

func newStore(rdb redis.UniversalClient, opts []Option) (*Store, error) {
	if rdb == nil {
		return nil, fmt.Errorf("%w: redis client is nil", ErrInvalidOption)
	}
	cfg := defaultConfig()
	if err := cfg.applyOptions(scopeStore, opts); err != nil {
		return nil, err
	}
	m, err := metrics.New(cfg.namespace, cfg.registerer)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	s := &Store{cfg: cfg, keys: keyspace.New(cfg.namespace), vecs: m, caches: map[string]*metrics.Counters{}, closing: make(chan struct{}), reads: newReadGroup(),
		tombstoneGrace: defaultTombstoneGrace}
	s.storeOps = metrics.NewCounters(m, "")
	s.tagInvalidations = m.Invalidations.WithLabelValues("tag")
	s.keyDeletions = m.Invalidations.WithLabelValues("key")
	br := breaker.New(cfg.breakerFailures, cfg.breakerCooldown, s.breakerChanged)
	s.be = backend.New(rdb, cfg.opTimeout, br)
	if cfg.localMax > 0 {
		tier, err := local.New(cfg.localMax, cfg.localTTL, s.keys)
		if err != nil {
			return nil, fmt.Errorf("%w: WithLocalCache: %w", ErrInvalidOption, err)
		}
		s.local = tier
		tier.Start(rdb, local.Handlers{
			Logger:     cfg.logger,
			OnEvent:    func(ev local.Event) { s.seen.Forget(ev.Tags) },
			OnBadEvent: func() { s.storeOps.Fail(metrics.OpDecode) },
		})
	}
	return s, nil
}

func (s *Store) breakerChanged(st breaker.State) {
	switch st {
	case breaker.Open:
		s.vecs.CircuitOpen.Set(1)
		s.cfg.logger.Warn("cachefront: redis failing, circuit breaker open; reads fall through to loaders",
			"namespace", s.cfg.namespace, "cooldown", s.cfg.breakerCooldown)
	case breaker.Closed:
		s.vecs.CircuitOpen.Set(0)
		s.cfg.logger.Info("cachefront: redis answering again, circuit breaker closed", "namespace", s.cfg.namespace)
	}
}

// countersFor returns the counters of cache name, shared by every Cache of
// that name on this Store.
func (s *Store) countersFor(name string) *metrics.Counters {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.caches[name]
	if !ok {
		c = metrics.NewCounters(s.vecs, name)
		s.caches[name] = c
	}
	return c
}

// topKeysFor returns the read counter of cache name, made on first use for n
// reported keys (nil when n is 0), shared by every Cache of that name.
func (s *Store) topKeysFor(name string, n int) *topkeys.Counter {
	if n <= 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tops[name]; ok {
		return t.counter
	}
	c, err := topkeys.New(4 * n)
	if err != nil {
		return nil // n is checked by WithTopKeys
	}
	if s.tops == nil {
		s.tops = map[string]*topKeys{}
	}
	s.tops[name] = &topKeys{counter: c, n: n}
	return c
}

// Namespace returns the Store's namespace, the prefix of all its Redis keys.
func (s *Store) Namespace() string { return s.cfg.namespace }

// Stats returns the Store's counters.
func (s *Store) Stats() Stats {
	st := Stats{
		Invalidations:        s.invalidations.Load(),
		Deletes:              s.deletes.Load(),
		CircuitOpen:          s.be.Breaker.State() != breaker.Closed,
		PendingInvalidations: s.PendingInvalidations(),
		Caches:               map[string]CacheStats{},
	}
	s.mu.Lock()
	for name, c := range s.caches {
		cs := snapshotOf(c)
		st.add(cs)
		if top, ok := s.tops[name]; ok {
			cs.TopKeys = topKeysOf(name, top)
		}
		st.Caches[name] = cs
	}
	s.mu.Unlock()
	st.Errors += s.storeOps.Snapshot().Errors
	return st
}

// EntryCount is how many entries a Store holds in Redis (CountEntries).
type EntryCount struct {
	// Entries counts the keys of cache entries, tombstones of recent
	// deletes and entries kept for stale-while-revalidate included; tag
	// versions, leases and the invalidation sequence are not entries.
	Entries int64 `json:"entries"`
	// Complete is false when the count was cut short; Entries then holds
	// what was counted so far.
	Complete bool `json:"complete"`
}

// defaultCountBound bounds CountEntries when its context has no deadline.
const defaultCountBound = 5 * time.Second

// CountEntries counts the entries of the Store's namespace, every cache and
// every instance's, for admin pages. It walks the keyspace with SCAN, never
// KEYS, so Redis keeps serving other clients meanwhile; on a cluster it
// scans every master. It takes time in proportion to the keys Redis holds,
// so it is bounded by ctx (by 5s when ctx has no deadline): a count cut
// short comes back with Complete false and an error wrapping ErrUnavailable,
// as does a count Redis failed. The count is exact for a keyspace that does
// not change meanwhile.
func (s *Store) CountEntries(ctx context.Context) (EntryCount, error) {
	if err := s.checkOpen(); err != nil {
		return EntryCount{}, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultCountBound)
		defer cancel()
	}
	all, err := keyscan.Count(ctx, s.be.Client, s.keys.Prefix)
	if err == nil {
		var internal keyscan.Result
		internal, err = keyscan.Count(ctx, s.be.Client, s.keys.Prefix+"#")
		all.Keys -= internal.Keys
	}
	if err != nil {
		return EntryCount{Entries: max(all.Keys, 0)}, backend.Unavailable(fmt.Errorf("counting entries: %w", err))
	}
	return EntryCount{Entries: all.Keys, Complete: true}, nil
}

// Ping checks that Redis answers within the operation timeout, for
// readiness probes.
func (s *Store) Ping(ctx context.Context) error {
	return s.be.Run(ctx, func(ctx context.Context) error { return s.be.Client.Ping(ctx).Err() })
}

// Close marks the Store closed: later calls return ErrClosed. It stops the
// Store's background work and leaves the Redis client open (its owner closes
// it). Close is idempotent.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	close(s.closing)
	if n := s.PendingInvalidations(); n > 0 {
		s.cfg.logger.Error("cachefront: store closed with invalidations Redis never took", "pending", n)
	}
	s.local.Close()
	return nil
}

func (s *Store) checkOpen() error {
	if s.closed.Load() {
		return ErrClosed
	}
	return nil
}
