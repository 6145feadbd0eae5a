package cachefront

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metric names, all with a constant label namespace="<Store namespace>":
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
//	cachefront_circuit_open                      1 while the circuit breaker is open
//
// Label values are cache names and the fixed words above, never keys or tags.
type metrics struct {
	hits          *prometheus.CounterVec
	misses        *prometheus.CounterVec
	errors        *prometheus.CounterVec
	loads         *prometheus.CounterVec
	loadDuration  *prometheus.HistogramVec
	dedupWaits    *prometheus.CounterVec
	stale         *prometheus.CounterVec
	writesSkipped *prometheus.CounterVec
	invalidations *prometheus.CounterVec
	refreshes     *prometheus.CounterVec
	leaseWaits    *prometheus.CounterVec
	circuitOpen   prometheus.Gauge
}

func newMetrics(ns string, reg prometheus.Registerer) (*metrics, error) {
	cl := prometheus.Labels{"namespace": ns}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cachefront_" + name, Help: help, ConstLabels: cl}, labels)
	}
	m := &metrics{
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
		invalidations: counter("invalidations_total", "Tags invalidated and keys deleted.", "kind"),
		refreshes:     counter("refreshes_total", "Background refreshes started.", "cache", "reason"),
		leaseWaits:    counter("lease_waits_total", "Loads that waited for another instance's lease.", "cache", "result"),
		circuitOpen: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cachefront_circuit_open", Help: "1 while the Redis circuit breaker is open.", ConstLabels: cl,
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
	m.invalidations = register(reg, m.invalidations, &err)
	m.refreshes = register(reg, m.refreshes, &err)
	m.leaseWaits = register(reg, m.leaseWaits, &err)
	m.circuitOpen = register(reg, m.circuitOpen, &err)
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

// Error operations and skip reasons, the fixed values of the op and reason
// labels.
type errOp int

const (
	opRead errOp = iota
	opWrite
	opDelete
	opInvalidate
	opDecode
	opEncode
	opTags
	numOps
)

var opNames = [numOps]string{"read", "write", "delete", "invalidate", "decode", "encode", "tags"}

type skipReason int

const (
	skipConflict skipReason = iota
	skipUnavailable
	numSkips
)

var skipNames = [numSkips]string{"conflict", "unavailable"}

// counters counts the events of one cache (or, for name "", of store-wide
// operations). Each event increments a plain atomic, for Stats, and a
// pre-resolved Prometheus child.
type counters struct {
	// hits counts hits from Redis; Stats adds localHits.
	hits, localHits, misses, errors, loads, loadErrors, dedupWaits, stale, writesSkipped atomic.Uint64
	refreshes, leaseWaits                                                                atomic.Uint64

	pHitsRedis, pHitsLocal, pMisses, pDedup, pStale prometheus.Counter
	pLoadOK, pLoadNotFound, pLoadErr                prometheus.Counter
	pLoadDuration                                   prometheus.Observer
	pErrors                                         [numOps]prometheus.Counter
	pSkipped                                        [numSkips]prometheus.Counter
	pRefreshStale, pRefreshEarly                    prometheus.Counter
	pLeaseServed, pLeaseTimeout                     prometheus.Counter
}

func newCounters(m *metrics, name string) *counters {
	c := &counters{
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
	}
	for i := range c.pErrors {
		c.pErrors[i] = m.errors.WithLabelValues(name, opNames[i])
	}
	for i := range c.pSkipped {
		c.pSkipped[i] = m.writesSkipped.WithLabelValues(name, skipNames[i])
	}
	return c
}

func (c *counters) hit(local bool) {
	if local {
		c.localHits.Add(1)
		c.pHitsLocal.Inc()
		return
	}
	c.hits.Add(1)
	c.pHitsRedis.Inc()
}

func (c *counters) miss() {
	c.misses.Add(1)
	c.pMisses.Inc()
}

func (c *counters) fail(op errOp) {
	c.errors.Add(1)
	c.pErrors[op].Inc()
}

func (c *counters) dedup() {
	c.dedupWaits.Add(1)
	c.pDedup.Inc()
}

func (c *counters) staleEntry() {
	c.stale.Add(1)
	c.pStale.Inc()
}

func (c *counters) skipped(r skipReason) {
	c.writesSkipped.Add(1)
	c.pSkipped[r].Inc()
}

func (c *counters) load(d time.Duration, err error) {
	c.loads.Add(1)
	c.pLoadDuration.Observe(d.Seconds())
	switch {
	case err == nil:
		c.pLoadOK.Inc()
	case errors.Is(err, ErrNotFound):
		c.pLoadNotFound.Inc()
	default:
		c.loadErrors.Add(1)
		c.pLoadErr.Inc()
	}
}

func (c *counters) refresh(early bool) {
	c.refreshes.Add(1)
	if early {
		c.pRefreshEarly.Inc()
	} else {
		c.pRefreshStale.Inc()
	}
}

func (c *counters) leaseWait(served bool) {
	c.leaseWaits.Add(1)
	if served {
		c.pLeaseServed.Inc()
	} else {
		c.pLeaseTimeout.Inc()
	}
}
