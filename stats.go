package cachefront

// CacheStats are read counters: a read served from the cache counts one hit,
// a read that had to load or found nothing counts one miss, whatever layers
// it looked in. They count the same events as the Prometheus metrics.
type CacheStats struct {
	Hits          uint64 `json:"hits"`
	Misses        uint64 `json:"misses"`
	LocalHits     uint64 `json:"local_hits"` // the part of Hits served by the in-process tier
	Errors        uint64 `json:"errors"`
	Loads         uint64 `json:"loads"`
	LoadErrors    uint64 `json:"load_errors"`
	DedupWaits    uint64 `json:"dedup_waits"`
	StaleEntries  uint64 `json:"stale_entries"`
	WritesSkipped uint64 `json:"writes_skipped"`
	Refreshes     uint64 `json:"refreshes"`   // background refreshes (stale-while-revalidate, early refresh)
	LeaseWaits    uint64 `json:"lease_waits"` // loads that waited for another instance
}

// Stats are a Store's counters since it was created, as plain numbers for a
// JSON endpoint: the totals of all its caches, the store-wide operations, and
// the breakdown by cache name.
type Stats struct {
	CacheStats
	Invalidations uint64 `json:"invalidations"` // tags invalidated
	Deletes       uint64 `json:"deletes"`       // keys deleted
	CircuitOpen   bool   `json:"circuit_open"`
	// PendingInvalidations counts tags and keys whose invalidation Redis
	// has not taken yet; the Store retries them (see PendingInvalidations).
	PendingInvalidations int `json:"pending_invalidations"`

	Caches map[string]CacheStats `json:"caches"`
}

// HitRatio is Hits / (Hits + Misses), or 0 before any read.
func (s CacheStats) HitRatio() float64 {
	if s.Hits+s.Misses == 0 {
		return 0
	}
	return float64(s.Hits) / float64(s.Hits+s.Misses)
}

func (c *counters) snapshot() CacheStats {
	local := c.localHits.Load()
	return CacheStats{
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
	}
}

func (s *CacheStats) add(c CacheStats) {
	s.Hits += c.Hits
	s.Misses += c.Misses
	s.LocalHits += c.LocalHits
	s.Errors += c.Errors
	s.Loads += c.Loads
	s.LoadErrors += c.LoadErrors
	s.DedupWaits += c.DedupWaits
	s.StaleEntries += c.StaleEntries
	s.WritesSkipped += c.WritesSkipped
	s.Refreshes += c.Refreshes
	s.LeaseWaits += c.LeaseWaits
}
