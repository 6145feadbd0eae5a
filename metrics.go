package cachefront

import (
	"context"
	"errors"

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

// Observer is told of every cache operation as it starts and as it ends:
// the seam for tracing (the module github.com/cachefront/cachefront/extra/cachefrontotel
// makes OpenTelemetry spans of them) and for any other instrumentation.
// Set it with WithObserver; without one, operations report nothing and
// cost nothing more.
//
// Start returns the context the operation runs under, and End receives that
// context, so an observer can keep a span in it. A loader runs under the
// context of its own OpLoad operation, itself under the context of the
// GetOrLoad or GetManyOrLoad that called it; a load shared by concurrent
// callers runs under the context of the caller that started it. Both
// methods are called on the caller's goroutine (a background refresh's on
// its own) and must be safe for concurrent use. Operation.Keys and Tags are
// the caller's: an observer must not modify them or keep them after End.
type Observer interface {
	Start(ctx context.Context, op Operation) context.Context
	End(ctx context.Context, op Operation, out Outcome)
}

// OperationKind is what an observed operation does.
type OperationKind uint8

// The operations an Observer sees.
const (
	OpGet            OperationKind = iota + 1 // Cache.Get
	OpGetOrLoad                               // Cache.GetOrLoad
	OpGetMany                                 // Cache.GetMany
	OpGetManyOrLoad                           // Cache.GetManyOrLoad
	OpSet                                     // Cache.Set
	OpDelete                                  // Cache.Delete and Store.Delete
	OpInvalidateTags                          // Store.InvalidateTags
	OpLoad                                    // a loader call
	OpHTTP                                    // a request through Middleware
)

var operationNames = [...]string{"", "get", "get_or_load", "get_many", "get_many_or_load",
	"set", "delete", "invalidate_tags", "load", "http"}

// String returns the operation's name in snake case ("get_or_load").
func (k OperationKind) String() string {
	if int(k) < len(operationNames) {
		return operationNames[k]
	}
	return "unknown"
}

// Operation describes an observed operation.
type Operation struct {
	Kind  OperationKind
	Cache string   // the cache's name; "" for Store.Delete and Store.InvalidateTags
	Keys  []string // the keys named (Store keys for Store.Delete); nil for OpHTTP and OpInvalidateTags
	Tags  []string // the tags of OpInvalidateTags
}

// Result is what a read found.
type Result uint8

// The results of an operation.
const (
	ResultNone   Result = iota // not a read (Set, Delete, InvalidateTags, a loader call)
	ResultHit                  // served from the cache
	ResultMiss                 // not in the cache: loaded, or ErrNotFound
	ResultError                // Redis could not be asked (reads that loaded anyway also set RedisFailed)
	ResultBypass               // OpHTTP: the request was not cacheable, or asked to bypass
)

var resultNames = [...]string{"", "hit", "miss", "error", "bypass"}

// String returns the result's name ("hit"; "" for ResultNone).
func (r Result) String() string {
	if int(r) < len(resultNames) {
		return resultNames[r]
	}
	return "unknown"
}

// Layer is where a read's value came from.
type Layer uint8

// The layers.
const (
	LayerNone   Layer = iota // nothing was served, or several layers (GetMany)
	LayerLocal               // the in-process tier (WithLocalCache)
	LayerRedis               // Redis
	LayerLoader              // the loader: this caller's or a shared load's
)

var layerNames = [...]string{"", "local", "redis", "loader"}

// String returns the layer's name ("redis"; "" for LayerNone).
func (l Layer) String() string {
	if int(l) < len(layerNames) {
		return layerNames[l]
	}
	return "unknown"
}

// Wait is what a read waited for besides Redis.
type Wait uint8

// The waits.
const (
	WaitNone       Wait = iota
	WaitSharedLoad      // another caller's load in this process
	WaitLease           // another instance's load (WithStampedeLease)
)

var waitNames = [...]string{"", "shared_load", "lease"}

// String returns the wait's name ("shared_load"; "" for WaitNone).
func (w Wait) String() string {
	if int(w) < len(waitNames) {
		return waitNames[w]
	}
	return "unknown"
}

// Outcome is how an observed operation ended.
type Outcome struct {
	Result Result
	Layer  Layer
	Waited Wait
	// Stale is set when the read found an entry built before one of its
	// tags was invalidated, and so did not serve it.
	Stale bool
	// RedisFailed is set when Redis could not be asked and the call went
	// on without it (a GetOrLoad that loaded, a request served by the
	// handler).
	RedisFailed bool
	// Hits and Misses count the keys of GetMany and GetManyOrLoad.
	Hits, Misses int
	// Err is what the call returned (errors matching ErrNotFound
	// included); when a loader or a handler panicked, End is still called,
	// with an Err saying so, before the panic goes on.
	Err error
}

// observe runs fn as operation op of the Store's observer; fn fills the
// outcome but its Err, which observe sets from what fn returns.
func observe[T any](s *Store, ctx context.Context, op Operation, fn func(context.Context, *Outcome) (T, error)) (T, error) {
	obs := s.cfg.observer
	ctx = obs.Start(ctx, op)
	var out Outcome
	ended := false
	defer func() {
		if !ended { // fn panicked: the operation still ends, and the panic goes on
			out.Err = errPanicked
			obs.End(ctx, op, out)
		}
	}()
	v, err := fn(ctx, &out)
	ended = true
	out.Err = err
	obs.End(ctx, op, out)
	return v, err
}

// errPanicked is the Outcome.Err of an operation whose loader or handler
// panicked.
var errPanicked = errors.New("cachefront: the operation panicked")

// observeErr is observe for operations that return only an error.
func observeErr(s *Store, ctx context.Context, op Operation, fn func(context.Context, *Outcome) error) error {
	_, err := observe(s, ctx, op, func(ctx context.Context, out *Outcome) (struct{}, error) {
		return struct{}{}, fn(ctx, out)
	})
	return err
}
