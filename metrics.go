package cachefront

import (
	"github.com/cachefront/cachefront/internal/engine"
	"github.com/cachefront/cachefront/internal/metrics"
)

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

	// Payload bytes written to and read from Redis, as stored there and
	// uncompressed; the two differ by what WithCompression saves.
	BytesWritten             uint64 `json:"bytes_written"`
	BytesWrittenUncompressed uint64 `json:"bytes_written_uncompressed"`
	BytesRead                uint64 `json:"bytes_read"`
	BytesReadUncompressed    uint64 `json:"bytes_read_uncompressed"`

	// TopKeys are the keys read most often, most read first, with
	// WithTopKeys (nil without it, and in a Stats' totals).
	TopKeys []KeyCount `json:"top_keys,omitempty"`
}

// KeyCount is a key and how often it was read since its Store was created.
// The true count lies in [Count-Error, Count].
type KeyCount struct {
	// Key is in the "<cache>:<key>" form Store.Delete takes.
	Key   string `json:"key"`
	Count uint64 `json:"count"`
	Error uint64 `json:"error"`
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

func snapshotOf(c *metrics.Counters) CacheStats {
	n := c.Snapshot()
	return CacheStats{
		Hits: n.Hits, Misses: n.Misses, LocalHits: n.LocalHits, Errors: n.Errors, Loads: n.Loads,
		LoadErrors: n.LoadErrors, DedupWaits: n.DedupWaits, StaleEntries: n.StaleEntries,
		WritesSkipped: n.WritesSkipped, Refreshes: n.Refreshes, LeaseWaits: n.LeaseWaits,
		BytesWritten: n.BytesWritten, BytesWrittenUncompressed: n.BytesWrittenUncompressed,
		BytesRead: n.BytesRead, BytesReadUncompressed: n.BytesReadUncompressed,
	}
}

// topKeysOf reports the n keys top counted most often in cache name.
func topKeysOf(name string, top *engine.TopKeys) []KeyCount {
	entries := top.Counter.Top(top.N)
	out := make([]KeyCount, len(entries))
	for i, e := range entries {
		out[i] = KeyCount{Key: name + ":" + e.Key, Count: e.Count, Error: e.Error}
	}
	return out
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
	s.BytesWritten += c.BytesWritten
	s.BytesWrittenUncompressed += c.BytesWrittenUncompressed
	s.BytesRead += c.BytesRead
	s.BytesReadUncompressed += c.BytesReadUncompressed
}
