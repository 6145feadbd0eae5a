// Package metrics counts cachefront's events twice over: plain atomics for
// Store.Stats and pre-resolved Prometheus children for the registerer the
// user passes. The metric names and labels are listed in the root package's
// documentation.
package metrics

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Vectors are the Prometheus vectors of one Store, shared with every other
// Store registered on the same registerer.
type Vectors struct {
	hits          *prometheus.CounterVec
	misses        *prometheus.CounterVec
	errors        *prometheus.CounterVec
	loads         *prometheus.CounterVec
	loadDuration  *prometheus.HistogramVec
	dedupWaits    *prometheus.CounterVec
	stale         *prometheus.CounterVec
	writesSkipped *prometheus.CounterVec
	Invalidations *prometheus.CounterVec // by kind: tag, key
	refreshes     *prometheus.CounterVec
	leaseWaits    *prometheus.CounterVec
	bytesWritten  *prometheus.CounterVec // by form: stored, uncompressed
	bytesRead     *prometheus.CounterVec
	CircuitOpen   prometheus.Gauge // 1 while the breaker is open
	// Pending counts the invalidations Redis has not taken yet, and
	// PendingAge is how long some have been pending without a break (0
	// for none).
	Pending, PendingAge prometheus.Gauge
}

// New makes the vectors for namespace ns and registers them with reg (none
// when reg is nil), reusing the ones already registered there.
func New(ns string, reg prometheus.Registerer) (*Vectors, error) {
	cl := prometheus.Labels{"namespace": ns}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cachefront_" + name, Help: help, ConstLabels: cl}, labels)
	}
	m := &Vectors{
		hits:   counter("hits_total", "Reads served from the cache.", "cache", "layer"),
		misses: counter("misses_total", "Reads that had to load or found nothing.", "cache"),
		errors: counter("errors_total", "Cache failures, counted apart from misses.", "cache", "op"),
		loads:  counter("loads_total", "Loader calls.", "cache", "result"),
		loadDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "cachefront_load_duration_seconds", Help: "Loader call duration.", ConstLabels: cl,
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"cache"}),
		dedupWaits:    counter("dedup_waits_total", "Callers that waited for another caller's load.", "cache"),
		stale:         counter("stale_entries_total", "Entries rejected because a tag was invalidated after they were built.", "cache"),
		writesSkipped: counter("writes_skipped_total", "Cache writes not done.", "cache", "reason"),
		Invalidations: counter("invalidations_total", "Tags invalidated and keys deleted.", "kind"),
		refreshes:     counter("refreshes_total", "Background refreshes started.", "cache", "reason"),
		leaseWaits:    counter("lease_waits_total", "Loads that waited for another instance's lease.", "cache", "result"),
		bytesWritten:  counter("bytes_written_total", "Payload bytes written to Redis, as stored and before compression.", "cache", "form"),
		bytesRead:     counter("bytes_read_total", "Payload bytes read from Redis, as stored and after decompression.", "cache", "form"),
		CircuitOpen: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cachefront_circuit_open", Help: "1 while the Redis circuit breaker is open.", ConstLabels: cl,
		}),
		Pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cachefront_invalidations_pending", ConstLabels: cl,
			Help: "Tags, deleted keys and announcements Redis has not taken yet; the Store retries them.",
		}),
		PendingAge: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cachefront_invalidations_pending_age_seconds", ConstLabels: cl,
			Help: "How long invalidations have been pending without a break; 0 when none is.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	m.hits = register(reg, m.hits, &err)
	m.misses = register(reg, m.misses, &err)
	m.errors = register(reg, m.errors, &err)
	m.loads = register(reg, m.loads, &err)
	m.loadDuration = register(reg, m.loadDuration, &err)
	m.dedupWaits = register(reg, m.dedupWaits, &err)
	m.stale = register(reg, m.stale, &err)
	m.writesSkipped = register(reg, m.writesSkipped, &err)
	m.Invalidations = register(reg, m.Invalidations, &err)
	m.refreshes = register(reg, m.refreshes, &err)
	m.leaseWaits = register(reg, m.leaseWaits, &err)
	m.bytesWritten = register(reg, m.bytesWritten, &err)
	m.bytesRead = register(reg, m.bytesRead, &err)
	m.CircuitOpen = register(reg, m.CircuitOpen, &err)
	m.Pending = register(reg, m.Pending, &err)
	m.PendingAge = register(reg, m.PendingAge, &err)
	return m, err
}

// register registers c, or returns the collector already registered under
// the same description so that several Stores share one series.
func register[C prometheus.Collector](reg prometheus.Registerer, c C, errp *error) C {
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	if *errp == nil {
		*errp = fmt.Errorf("registering metrics: %w", err)
	}
	return c
}

// Op is a failing operation, the fixed values of the op label.
type Op int

// The operations.
const (
	OpRead Op = iota
	OpWrite
	OpDelete
	OpInvalidate
	OpDecode
	OpEncode
	OpTags
	numOps
)

var opNames = [numOps]string{"read", "write", "delete", "invalidate", "decode", "encode", "tags"}

// Skip is why a cache write was not done, the fixed values of the reason
// label.
type Skip int

// The reasons.
const (
	SkipConflict Skip = iota
	SkipUnavailable
	numSkips
)

// LoadResult is how a loader call ended, the fixed values of the result
// label.
type LoadResult int

// The results.
const (
	LoadOK LoadResult = iota
	LoadNotFound
	LoadError
)

var skipNames = [numSkips]string{"conflict", "unavailable"}

// Counters counts the events of one cache (or, for name "", of store-wide
// operations). Each event increments a plain atomic, for Stats, and a
// pre-resolved Prometheus child. Safe for concurrent use.
type Counters struct {
	// hits counts hits from Redis; Stats adds localHits.
	hits, localHits, misses, errors, loads, loadErrors, dedupWaits, stale, writesSkipped atomic.Uint64
	refreshes, leaseWaits                                                                atomic.Uint64
	// Payload bytes: stored in Redis, and before compression.
	bytesWritten, bytesWrittenRaw, bytesRead, bytesReadRaw atomic.Uint64

	pHitsRedis, pHitsLocal, pMisses, pDedup, pStale prometheus.Counter
	pLoadOK, pLoadNotFound, pLoadErr                prometheus.Counter
	pLoadDuration                                   prometheus.Observer
	pErrors                                         [numOps]prometheus.Counter
	pSkipped                                        [numSkips]prometheus.Counter
	pRefreshStale, pRefreshEarly                    prometheus.Counter
	pLeaseServed, pLeaseTimeout                     prometheus.Counter
	pWritten, pWrittenRaw, pRead, pReadRaw          prometheus.Counter
}

// NewCounters returns the counters of cache name on m.
func NewCounters(m *Vectors, name string) *Counters {
	c := &Counters{
		pHitsRedis:    m.hits.WithLabelValues(name, "redis"),
		pHitsLocal:    m.hits.WithLabelValues(name, "local"),
		pMisses:       m.misses.WithLabelValues(name),
		pDedup:        m.dedupWaits.WithLabelValues(name),
		pStale:        m.stale.WithLabelValues(name),
		pLoadOK:       m.loads.WithLabelValues(name, "ok"),
		pLoadNotFound: m.loads.WithLabelValues(name, "not_found"),
		pLoadErr:      m.loads.WithLabelValues(name, "error"),
		pLoadDuration: m.loadDuration.WithLabelValues(name),
		pRefreshStale: m.refreshes.WithLabelValues(name, "stale"),
		pRefreshEarly: m.refreshes.WithLabelValues(name, "early"),
		pLeaseServed:  m.leaseWaits.WithLabelValues(name, "served"),
		pLeaseTimeout: m.leaseWaits.WithLabelValues(name, "timeout"),
		pWritten:      m.bytesWritten.WithLabelValues(name, "stored"),
		pWrittenRaw:   m.bytesWritten.WithLabelValues(name, "uncompressed"),
		pRead:         m.bytesRead.WithLabelValues(name, "stored"),
		pReadRaw:      m.bytesRead.WithLabelValues(name, "uncompressed"),
	}
	for i := range c.pErrors {
		c.pErrors[i] = m.errors.WithLabelValues(name, opNames[i])
	}
	for i := range c.pSkipped {
		c.pSkipped[i] = m.writesSkipped.WithLabelValues(name, skipNames[i])
	}
	return c
}

// Hit counts a read served from Redis, or from the in-process tier.
func (c *Counters) Hit(local bool) {
	if local {
		c.localHits.Add(1)
		c.pHitsLocal.Inc()
		return
	}
	c.hits.Add(1)
	c.pHitsRedis.Inc()
}

// Miss counts a read that loaded or found nothing.
func (c *Counters) Miss() {
	c.misses.Add(1)
	c.pMisses.Inc()
}

// Fail counts a failure of op.
func (c *Counters) Fail(op Op) {
	c.errors.Add(1)
	c.pErrors[op].Inc()
}

// Dedup counts a caller that waited for another caller's load.
func (c *Counters) Dedup() {
	c.dedupWaits.Add(1)
	c.pDedup.Inc()
}

// StaleEntry counts an entry rejected because a tag was invalidated after it was built.
func (c *Counters) StaleEntry() {
	c.stale.Add(1)
	c.pStale.Inc()
}

// Skipped counts a cache write not done.
func (c *Counters) Skipped(r Skip) {
	c.writesSkipped.Add(1)
	c.pSkipped[r].Inc()
}

// Load counts a loader call of duration d.
func (c *Counters) Load(d time.Duration, result LoadResult) {
	c.loads.Add(1)
	c.pLoadDuration.Observe(d.Seconds())
	switch result {
	case LoadOK:
		c.pLoadOK.Inc()
	case LoadNotFound:
		c.pLoadNotFound.Inc()
	default:
		c.loadErrors.Add(1)
		c.pLoadErr.Inc()
	}
}

// Refresh counts a background refresh.
func (c *Counters) Refresh(early bool) {
	c.refreshes.Add(1)
	if early {
		c.pRefreshEarly.Inc()
	} else {
		c.pRefreshStale.Inc()
	}
}

// LeaseWait counts a load that waited for another instance's lease.
func (c *Counters) LeaseWait(served bool) {
	c.leaseWaits.Add(1)
	if served {
		c.pLeaseServed.Inc()
	} else {
		c.pLeaseTimeout.Inc()
	}
}

// Wrote counts a payload written to Redis: stored bytes, and uncompressed
// the length it had before compression (the same when not compressed).
func (c *Counters) Wrote(stored, uncompressed int) {
	c.bytesWritten.Add(uint64(stored))
	c.bytesWrittenRaw.Add(uint64(uncompressed))
	c.pWritten.Add(float64(stored))
	c.pWrittenRaw.Add(float64(uncompressed))
}

// Read counts a payload read from Redis: stored bytes, uncompressed after
// decompression.
func (c *Counters) Read(stored, uncompressed int) {
	c.bytesRead.Add(uint64(stored))
	c.bytesReadRaw.Add(uint64(uncompressed))
	c.pRead.Add(float64(stored))
	c.pReadRaw.Add(float64(uncompressed))
}

// Counts are the counters' values; the root package's CacheStats has the
// same fields.
type Counts struct {
	Hits          uint64
	Misses        uint64
	LocalHits     uint64
	Errors        uint64
	Loads         uint64
	LoadErrors    uint64
	DedupWaits    uint64
	StaleEntries  uint64
	WritesSkipped uint64
	Refreshes     uint64
	LeaseWaits    uint64

	BytesWritten, BytesWrittenUncompressed uint64
	BytesRead, BytesReadUncompressed       uint64
}

// Snapshot returns the counts so far.
func (c *Counters) Snapshot() Counts {
	local := c.localHits.Load()
	return Counts{
		Hits:          c.hits.Load() + local,
		Misses:        c.misses.Load(),
		LocalHits:     local,
		Errors:        c.errors.Load(),
		Loads:         c.loads.Load(),
		LoadErrors:    c.loadErrors.Load(),
		DedupWaits:    c.dedupWaits.Load(),
		StaleEntries:  c.stale.Load(),
		WritesSkipped: c.writesSkipped.Load(),
		Refreshes:     c.refreshes.Load(),
		LeaseWaits:    c.leaseWaits.Load(),

		BytesWritten: c.bytesWritten.Load(), BytesWrittenUncompressed: c.bytesWrittenRaw.Load(),
		BytesRead: c.bytesRead.Load(), BytesReadUncompressed: c.bytesReadRaw.Load(),
	}
}
