package cachefront

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachefront/cachefront/internal/keyspace"
	"github.com/cachefront/cachefront/internal/metrics"
	"github.com/maypok86/otter/v2"
	"github.com/redis/go-redis/v9"
	"github.com/vmihailenco/msgpack/v5"
)

// The in-process tier (WithLocalCache) keeps decoded values in front of
// Redis, bounded by entry count and by a short TTL that never outlives the
// Redis entry. Every Set, Delete and InvalidateTags, on any instance, is
// published on the namespace's events channel (sharded pub/sub on a cluster);
// each instance evicts what the event names. While the subscription is down
// the tier is bypassed and, once it is back, flushed, so an entry can be stale
// for at most its local TTL plus the time the event takes to arrive.

// localEntry is a decoded value held in process.
type localEntry struct {
	value      any // the Cache's T
	notFound   bool
	typeHash   uint32
	tags       []string
	created    int64 // Unix ms, as in the Redis entry
	freshUntil int64 // Unix ms
	ttl        time.Duration
}

// event is what instances tell each other; it is msgpack-encoded.
type event struct {
	Keys []string `msgpack:"k,omitempty"` // Redis keys deleted or replaced
	Tags []string `msgpack:"t,omitempty"` // tags invalidated
}

type localTier struct {
	cache   *otter.Cache[keyspace.EntryParts, *localEntry]
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

// localClockResolution is how often the tier's clock reads the time. Its
// reads cost as much as reading a variable, where reading the time is a
// large part of a hit; entries are stored for this much less than their
// TTL, so that the clock's lag never keeps one past it.
const localClockResolution = 5 * time.Millisecond

// minLocalTTL is the shortest local TTL WithLocalCache accepts.
const minLocalTTL = 50 * time.Millisecond

func newLocalTier(maxEntries int, ttl time.Duration, keys keyspace.Keyspace, channel string) (*localTier, error) {
	clock := otter.NewCoarseClock(localClockResolution)
	c, err := otter.New(&otter.Options[keyspace.EntryParts, *localEntry]{
		MaximumSize: maxEntries,
		Clock:       clock,
		ExpiryCalculator: otter.ExpiryCreatingFunc(func(e otter.Entry[keyspace.EntryParts, *localEntry]) time.Duration {
			return e.Value.ttl
		}),
	})
	if err != nil {
		clock.Stop()
		return nil, err
	}
	return &localTier{cache: c, clock: clock, keys: keys, maxTTL: ttl, channel: channel, done: make(chan struct{})}, nil
}

// getParts returns a live local entry for an entry key in parts, of the
// given type.
func (l *localTier) getParts(k keyspace.EntryParts, typeHash uint32) (*localEntry, bool) {
	if !l.healthy.Load() {
		return nil, false
	}
	e, ok := l.cache.GetIfPresent(k)
	if !ok || e.typeHash != typeHash {
		return nil, false
	}
	return e, true
}

// epochNow is taken before reading Redis; put stores only if no invalidation
// arrived since.
func (l *localTier) epochNow() uint64 {
	if l == nil {
		return 0
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.epoch
}

// put stores e for at most the tier's TTL and the Redis entry's remaining
// freshness.
func (l *localTier) put(rkey string, e *localEntry, seenEpoch uint64, freshUntilMs int64) {
	if l == nil {
		return
	}
	e.freshUntil = freshUntilMs
	e.ttl = min(l.maxTTL, time.Until(time.UnixMilli(freshUntilMs))) - 2*localClockResolution
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

// apply evicts what an event names.
func (l *localTier) apply(ev event) {
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
		for _, t := range e.tags {
			if indexOfString(ev.Tags, t) >= 0 {
				l.cache.Invalidate(k)
				break
			}
		}
	}
}

// setHealthy flushes the tier and records whether events are arriving.
func (l *localTier) setHealthy(h bool) {
	l.mu.Lock()
	l.epoch++
	l.healthy.Store(h)
	l.mu.Unlock()
	l.cache.InvalidateAll()
}

func (l *localTier) isHealthy() bool { return l.healthy.Load() }

// close stops the event loop and waits for it.
func (l *localTier) close() {
	if l == nil {
		return
	}
	l.cancel()
	<-l.done
	l.cache.InvalidateAll()
	l.cache.StopAllGoroutines()
	l.clock.Stop()
}

// subscribe runs the event loop until ctx ends.
func (s *Store) subscribe(ctx context.Context) {
	l := s.local
	defer close(l.done)
	var ps *redis.PubSub
	if cc, ok := s.be.Client.(*redis.ClusterClient); ok {
		ps = cc.SSubscribe(ctx, l.channel)
	} else {
		ps = s.be.Client.Subscribe(ctx, l.channel)
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
			if l.isHealthy() {
				s.cfg.logger.Warn("cachefront: invalidation events interrupted; local tier flushed and bypassed", "error", err)
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
			var ev event
			if err := msgpack.Unmarshal([]byte(m.Payload), &ev); err != nil {
				s.storeOps.Fail(metrics.OpDecode)
				l.setHealthy(true) // unknown event: flush to be safe
				continue
			}
			s.seen.Forget(ev.Tags)
			l.apply(ev)
		}
	}
}

// publish queues on p the event that tells every instance (this one
// included) what changed. Queued with the change itself only where one
// server runs the pipeline in order; on a sharded client an event must
// follow its change's acknowledgement (publishNow).
func (s *Store) publish(ctx context.Context, p redis.Pipeliner, ev event) {
	data, err := msgpack.Marshal(ev)
	if err != nil {
		return
	}
	if _, ok := s.be.Client.(*redis.ClusterClient); ok {
		p.SPublish(ctx, s.eventsChannel(), data)
		return
	}
	p.Publish(ctx, s.eventsChannel(), data)
}

// publishNow publishes ev in a round trip of its own, for a change Redis has
// already acknowledged.
func (s *Store) publishNow(ctx context.Context, ev event) error {
	return s.be.Pipelined(ctx, func(p redis.Pipeliner) { s.publish(ctx, p, ev) })
}

func (s *Store) eventsChannel() string { return s.keys.Events() }
