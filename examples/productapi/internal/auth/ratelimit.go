package auth

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter rate-limits events per key (a client address, an account) with a
// token bucket per key. Idle buckets are forgotten, so memory stays bounded
// by the keys active within the idle window. It is safe for concurrent use.
type Limiter struct {
	every rate.Limit
	burst int
	idle  time.Duration
	now   func() time.Time

	mu        sync.Mutex // guards buckets and lastSweep
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// maxBuckets caps the keys tracked at once; past it the oldest idle
// buckets are swept early.
const maxBuckets = 100_000

// NewLimiter allows burst events at once per key and then one per interval.
func NewLimiter(interval time.Duration, burst int) *Limiter {
	return &Limiter{
		every:   rate.Every(interval),
		burst:   burst,
		idle:    interval * time.Duration(burst+1),
		now:     time.Now,
		buckets: map[string]*bucket{},
	}
}

// Allow takes one event for key and reports whether it is allowed, and if
// not, how long until the next one is.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) > l.idle || len(l.buckets) >= maxBuckets {
		l.sweep(now)
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{lim: rate.NewLimiter(l.every, l.burst)}
		l.buckets[key] = b
	}
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// sweep forgets buckets idle long enough to be full again.
func (l *Limiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		if now.Sub(b.seen) > l.idle {
			delete(l.buckets, k)
		}
	}
	l.lastSweep = now
}
