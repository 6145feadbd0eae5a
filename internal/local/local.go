// Package local is cachefront's in-process tier: decoded values held in
// front of Redis (otter, bounded by count and a short TTL that never outlives
// the Redis entry), and the subscription to the namespace's events channel
// that keeps it in sync across instances.
package local

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachefront/cachefront/internal/keyspace"
	"github.com/maypok86/otter/v2"
	"github.com/redis/go-redis/v9"
	"github.com/vmihailenco/msgpack/v5"
)

// The in-process tier (WithLocalCache) keeps decoded values in front of
// Redis, bounded by entry count and by a short TTL that never outlives the
// Redis entry. Every Set, Delete and InvalidateTags, on any instance, is
// published on the namespace's events channel (sharded pub/sub on a cluster);
// each instance evicts what the Event names. While the subscription is down
// the tier is bypassed and, once it is back, flushed, so an entry can be stale
// for at most its local TTL plus the time the Event takes to arrive.

// Entry is a decoded value held in process. Nothing may write to it once
// it is put.
type Entry struct {
	Value      any // the Cache's T
	NotFound   bool
	TypeHash   uint32
	Tags       []string
	Created    int64 // Unix ms, as in the Redis entry
	FreshUntil int64 // Unix ms; set by Put
	ttl        time.Duration
}

// Event is what instances tell each other (EncodeEvent gives its bytes).
type Event struct {
	Keys []string `msgpack:"k,omitempty"` // Redis keys deleted or replaced
	Tags []string `msgpack:"t,omitempty"` // tags invalidated
}

// Tier is the in-process tier of one Store. It is safe for concurrent use.
// EpochNow, Put, Apply and Close accept a nil *Tier (a Store without the
// tier) and do nothing.
type Tier struct {
	cache   *otter.Cache[keyspace.EntryParts, *Entry]
	clock   *otter.CoarseClock
	keys    keyspace.Keyspace
	maxTTL  time.Duration
	channel string

	mu      sync.RWMutex // guards epoch against inserts racing an invalidation
	epoch   uint64
	healthy atomic.Bool // subscribed: events are arriving

	cancel context.CancelFunc
	done   chan struct{}
}

// clockResolution is how often the tier's clock reads the time. Its
// reads cost as much as reading a variable, where reading the time is a
// large part of a hit; entries are stored for this much less than their
// TTL, so that the clock's lag never keeps one past it.
const clockResolution = 5 * time.Millisecond

// MinTTL is the shortest TTL the tier accepts.
const MinTTL = 50 * time.Millisecond

// New returns a tier of at most maxEntries entries, each kept at most ttl.
func New(maxEntries int, ttl time.Duration, keys keyspace.Keyspace) (*Tier, error) {
	clock := otter.NewCoarseClock(clockResolution)
	c, err := otter.New(&otter.Options[keyspace.EntryParts, *Entry]{
		MaximumSize: maxEntries,
		Clock:       clock,
		ExpiryCalculator: otter.ExpiryCreatingFunc(func(e otter.Entry[keyspace.EntryParts, *Entry]) time.Duration {
			return e.Value.ttl
		}),
	})
	if err != nil {
		clock.Stop()
		return nil, err
	}
	return &Tier{cache: c, clock: clock, keys: keys, maxTTL: ttl, channel: keys.Events(), done: make(chan struct{})}, nil
}

// Get returns a live local entry for an entry key in parts, of the
// given type.
func (l *Tier) Get(k keyspace.EntryParts, typeHash uint32) (*Entry, bool) {
	if !l.healthy.Load() {
		return nil, false
	}
	e, ok := l.cache.GetIfPresent(k)
	if !ok || e.TypeHash != typeHash {
		return nil, false
	}
	return e, true
}

// EpochNow is taken before reading Redis; put stores only if no invalidation
// arrived since.
func (l *Tier) EpochNow() uint64 {
	if l == nil {
		return 0
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.epoch
}

// Put stores e for at most the tier's TTL and the Redis entry's remaining
// freshness.
func (l *Tier) Put(rkey string, e *Entry, seenEpoch uint64, freshUntilMs int64) {
	if l == nil {
		return
	}
	e.FreshUntil = freshUntilMs
	e.ttl = min(l.maxTTL, time.Until(time.UnixMilli(freshUntilMs))) - 2*clockResolution
	if e.ttl <= 0 {
		return
	}
	k, ok := l.keys.ParseEntry(rkey)
	if !ok {
		return
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.healthy.Load() && l.epoch == seenEpoch {
		l.cache.Set(k, e)
	}
}

// Apply evicts what an Event names.
func (l *Tier) Apply(ev Event) {
	if l == nil {
		return
	}
	l.mu.Lock()
	l.epoch++
	l.mu.Unlock()
	for _, rkey := range ev.Keys {
		if k, ok := l.keys.ParseEntry(rkey); ok {
			l.cache.Invalidate(k)
		}
	}
	if len(ev.Tags) == 0 {
		return
	}
	for k, e := range l.cache.All() {
		for _, t := range e.Tags {
			if slices.Contains(ev.Tags, t) {
				l.cache.Invalidate(k)
				break
			}
		}
	}
}

// setHealthy flushes the tier and records whether events are arriving.
func (l *Tier) setHealthy(h bool) {
	l.mu.Lock()
	l.epoch++
	l.healthy.Store(h)
	l.mu.Unlock()
	l.cache.InvalidateAll()
}

// Len returns about how many entries the tier holds.
func (l *Tier) Len() int { return l.cache.EstimatedSize() }

// Healthy reports whether events are arriving (the tier is in use).
func (l *Tier) Healthy() bool { return l.healthy.Load() }

// Close stops the Event loop and waits for it.
func (l *Tier) Close() {
	if l == nil {
		return
	}
	l.cancel()
	<-l.done
	l.cache.InvalidateAll()
	l.cache.StopAllGoroutines()
	l.clock.Stop()
}

// Handlers are told what the event loop sees.
type Handlers struct {
	Logger     *slog.Logger
	OnEvent    func(Event) // an event, before the tier applies it
	OnBadEvent func()      // an event that does not decode (the tier is flushed)
}

// Start runs the event loop on rdb until Close.
func (l *Tier) Start(rdb redis.UniversalClient, h Handlers) {
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	go l.run(ctx, rdb, h)
}

// run is the event loop.
func (l *Tier) run(ctx context.Context, rdb redis.UniversalClient, h Handlers) {
	defer close(l.done)
	var ps *redis.PubSub
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		ps = cc.SSubscribe(ctx, l.channel)
	} else {
		ps = rdb.Subscribe(ctx, l.channel)
	}
	defer ps.Close()
	go func() {
		<-ctx.Done()
		_ = ps.Close()
	}()
	backoff := 10 * time.Millisecond
	for {
		msg, err := ps.Receive(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if l.Healthy() {
				h.Logger.Warn("cachefront: invalidation events interrupted; local tier flushed and bypassed", "error", err)
				l.setHealthy(false)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, time.Second)
			continue
		}
		backoff = 10 * time.Millisecond
		switch m := msg.(type) {
		case *redis.Subscription:
			// (Re)subscribed: events may have been missed before this point.
			l.setHealthy(true)
		case *redis.Message:
			var ev Event
			if err := msgpack.Unmarshal([]byte(m.Payload), &ev); err != nil {
				h.OnBadEvent()
				l.setHealthy(true) // unknown event: flush to be safe
				continue
			}
			h.OnEvent(ev)
			l.Apply(ev)
		}
	}
}

// EncodeEvent returns the bytes published for ev.
func EncodeEvent(ev Event) ([]byte, error) { return msgpack.Marshal(ev) }

// Publish queues on p the publication of ev on channel, with SPUBLISH on a
// cluster (where the event loop subscribes with SSUBSCRIBE). Queued with the change it reports only where one server
// runs the pipeline in order; on a sharded client an event must follow its
// change's acknowledgement.
func Publish(ctx context.Context, p redis.Pipeliner, cluster bool, channel string, ev Event) {
	data, err := EncodeEvent(ev)
	if err != nil {
		return
	}
	if cluster {
		p.SPublish(ctx, channel, data)
		return
	}
	p.Publish(ctx, channel, data)
}
