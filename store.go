package cachefront

import (
	"context"
	"fmt"
	"time"

	"github.com/cachefront/cachefront/internal/backend"
	"github.com/cachefront/cachefront/internal/engine"
	"github.com/cachefront/cachefront/internal/keyscan"
	"github.com/cachefront/cachefront/internal/metrics"
	"github.com/redis/go-redis/v9"
)

// Store is cachefront's engine for one Redis deployment and namespace: it
// owns the failure policy, the metrics, the in-process load deduplication and
// tag invalidation. Typed caches (New) and the HTTP middleware are views on a
// Store. Create one per Redis deployment and namespace and share it; it is
// safe for concurrent use.
type Store struct {
	cfg config
	e   *engine.Engine
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
	var j engine.Journal
	if cfg.journal != nil {
		j = journal{cfg.journal}
	}
	e, err := engine.New(rdb, engine.Config{
		Namespace: cfg.namespace, Registerer: cfg.registerer, Logger: cfg.logger,
		OpTimeout: cfg.opTimeout, BreakerFailures: cfg.breakerFailures, BreakerCooldown: cfg.breakerCooldown,
		TagTTL: cfg.tagTTL, LoadTimeout: cfg.loadTimeout, LeaseWait: cfg.leaseWait,
		LocalMax: cfg.localMax, LocalTTL: cfg.localTTL, ReplicaAck: cfg.replicaAck, Journal: j,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	return &Store{cfg: cfg, e: e}, nil
}

// Namespace returns the Store's namespace, the prefix of all its Redis keys.
func (s *Store) Namespace() string { return s.cfg.namespace }

// Stats returns the Store's counters.
func (s *Store) Stats() Stats {
	totals := s.e.Totals()
	st := Stats{
		Invalidations:        totals.Invalidations,
		Deletes:              totals.Deletes,
		CircuitOpen:          totals.CircuitOpen,
		PendingInvalidations: s.PendingInvalidations(),
		Caches:               map[string]CacheStats{},
	}
	s.e.EachCache(func(name string, c *metrics.Counters, top *engine.TopKeys) {
		cs := snapshotOf(c)
		st.add(cs)
		if top != nil {
			cs.TopKeys = topKeysOf(name, top)
		}
		st.Caches[name] = cs
	})
	st.Errors += s.e.StoreOps.Snapshot().Errors
	return st
}

// PendingInvalidations reports how many tags and keys failed to invalidate
// (or, for a Set, to be announced to other instances' local tiers) and are
// still being retried. A readiness probe can report not ready while it is
// above zero: until it drops to zero, entries written before the failed
// invalidations may still be served, by this instance as by the others.
func (s *Store) PendingInvalidations() int { return s.e.PendingInvalidations() }

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
	if err := s.e.CheckOpen(); err != nil {
		return EntryCount{}, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultCountBound)
		defer cancel()
	}
	all, err := keyscan.Count(ctx, s.e.Backend.Client, s.e.Keys.Prefix)
	if err == nil {
		var internal keyscan.Result
		internal, err = keyscan.Count(ctx, s.e.Backend.Client, s.e.Keys.Prefix+"#")
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
	return s.e.Backend.Run(ctx, func(ctx context.Context) error { return s.e.Backend.Client.Ping(ctx).Err() })
}

// RedisBudget returns ctx with one budget for the Redis work of the calls
// made under it, on every Store: once one operation has failed (Redis
// refused, or did not answer within the operation timeout), the later ones
// fail at once, as with an open circuit breaker, so a request that makes
// several cache calls waits for a failing Redis about one operation
// timeout, not one per call. Reads fail open as usual (GetOrLoad loads).
// Middleware gives each request a budget its handler's calls share
// through r.Context(); call RedisBudget for work that does not pass through
// it, such as a job or an RPC handler. A ctx that has a budget is returned
// as it is.
func RedisBudget(ctx context.Context) context.Context { return backend.WithBudget(ctx) }

// Close marks the Store closed: later calls return ErrClosed. It stops the
// Store's background work and leaves the Redis client open (its owner closes
// it). Close is idempotent.
func (s *Store) Close() error {
	s.e.Close()
	return nil
}
