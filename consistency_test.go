// The consistency checker: a randomized, Jepsen-style test of the promise in
// the package documentation.
//
// After Store.InvalidateTags(ctx, t), Cache.Delete or Store.Delete returns
// nil, no read that starts afterwards returns a value computed from data read
// before the invalidation started; after Cache.Set returns nil, reads that
// start afterwards see its value or a newer one. On the Store that made the
// change this holds always, as it does on a Store without a local tier; on
// another Store with WithLocalCache it holds once the pub/sub event has
// arrived, which the checker allows localDeliveryBound for.
//
// The source of truth is in memory: per key a version that only grows, and
// the key's tags, one that readers name with WithTags and, for some keys, one
// that loaders add with AddTags while loading. Writers lock a key, bump its
// version, note the time, then invalidate (the named tag, the added tag,
// Cache.Delete or Store.Delete) or Set the new value directly, through a
// random Store, and record what the operation covers: for every key it
// affects, the version the truth held when it started. With local tiers,
// writers work in bursts and then rest, so that what a change left stale on
// another instance is read for a while before the next change evicts it.
// Only operations that returned nil are promises.
//
// Readers call GetOrLoad (the loader reads the truth, sleeps 0-20ms and adds
// the key's late tag), GetManyOrLoad over a few keys (naming every tag: its
// loader cannot add any) and Get, through 1 to 4 Stores sharing one
// namespace, with and without a local tier and a stampede lease; one more
// reader per Store keeps asking for the first key. Each value read is
// recorded with its key, version, Store and start and end times, on one
// monotonic clock. Stale-while-revalidate, which serves old values on
// purpose, is left out. Two nemeses shape the schedule
// (consistency_faults_test.go): client-side latency with slow spells, on
// every backend, so that commands overtake one another; and on real servers
// faults (CLIENT PAUSE WRITE, DEBUG SLEEP or a busy script) on one server at a
// time, with a 100ms operation timeout, so that reads fail open and some
// changes fail.
//
// The check runs afterwards: a read violates an operation that returned
// before the read started and covered the read's key at a newer version than
// the read returned, when the read was on the operation's Store or on a Store
// without a local tier; on another Store with one, the read is stale by its
// start minus the operation's return, and a violation only beyond
// localDeliveryBound. Each violation is re-derived from the raw records as a
// chain (the version read was replaced no later than the covered one was
// written, which was before the operation started, which returned before the
// read started) and reported with the times of each link and a suspected
// cause. Two kinds of stale read are counted apart, not as violations: reads
// of the value of a Set that returned an error (it may still land, after a
// later change), and reads from a local tier after a Set through a Store
// without one (such a Store announces nothing; WithLocalCache asks every
// instance to use it). Independently, after each tag invalidation the writer
// reads the tag's version key; a read that finds an older invalidation
// sequence than one that completed before it shows the version going back.
//
// A control runs the workload with writers that lie (skip the cache
// operation, or make it well after recording it done) and asserts that the
// checker catches both kinds, so that it cannot pass by checking nothing.
//
// Each backend spends about 8s in total (3s with -short);
// CACHEFRONT_CHECK_DURATION=60s runs longer, and CACHEFRONT_CHECK_SEED
// replays a run's choices (keys, operations, pauses; not the goroutines'
// schedule).

package cachefront

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachefront/cachefront/internal/testbackend"
	"github.com/redis/go-redis/v9"
)

// localDeliveryBound is how long after a change returns another instance's
// local tier may still serve what it replaced: the pub/sub event's way from
// Redis to that instance's subscriber and its eviction there. On loopback
// under -race on 2 cores, over some 5 minutes of runs of every configuration
// with a local tier on miniredis and a single Redis server (faults included),
// the worst such stale read started 9.8ms after the change returned, most
// under 1ms. The bound is ten times that, for scheduling and GC pauses on a
// loaded machine, and a tenth of checkLocalTTL, so that an instance that
// misses an event, and serves the old value until its TTL, is caught.
const localDeliveryBound = 100 * time.Millisecond

const (
	// checkLocalTTL is the local tier's TTL: what an instance serves when
	// it misses an event.
	checkLocalTTL = time.Second
	// checkOpTimeout is the operation timeout under faults.
	checkOpTimeout = 100 * time.Millisecond
	// checkLoaderSleepMax bounds a loader's pause after reading the truth.
	checkLoaderSleepMax = 20 * time.Millisecond
	checkReaders        = 8
	checkWriters        = 3
	checkCacheName      = "chk"
	// checkExamples is how many violations of each kind a failure shows.
	checkExamples = 6
)

// checkValue is what the loaders compute from the truth.
type checkValue struct {
	Key string `msgpack:"k"`
	Ver int64  `msgpack:"v"`
}

// checkKey is one key of the truth and its tags.
type checkKey struct {
	name  string
	named string // the tag readers name with WithTags
	late  string // the tag loaders add with AddTags ("" for none)
	// mu serialises the key's writes (bump, then cache operation), as an
	// application serialises writes to a row, so that an older Set never
	// lands after a newer change.
	mu sync.Mutex
}

// checkTruth is the source of truth.
type checkTruth struct {
	mu  sync.Mutex // guards ver and at
	ver []int64
	// at[k][v-1] is when version v of key k was written.
	at [][]time.Duration
}

func (tr *checkTruth) read(k int) int64 {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.ver[k]
}

// writtenAt returns when version v of key k was written (0 for the
// initial version, and for versions never written: the caller checks).
func (tr *checkTruth) writtenAt(k int, v int64) (time.Duration, bool) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if v == 0 {
		return 0, true
	}
	if v < 0 || v > int64(len(tr.at[k])) {
		return 0, false
	}
	return tr.at[k][v-1], true
}

// checkOp is a writer's operation.
type checkOp uint8

const (
	chkInvalidate     checkOp = iota // InvalidateTags of the tag readers name
	chkInvalidateLate                // InvalidateTags of the tag loaders add
	chkCacheDelete
	chkStoreDelete
	chkSet
	numCheckOps
)

var checkOpNames = [numCheckOps]string{"InvalidateTags(named)", "InvalidateTags(added)", "Cache.Delete", "Store.Delete", "Set"}

func (o checkOp) String() string { return checkOpNames[o] }

// checkOpWeights is how often writers choose each operation: invalidations
// of added tags most, as the subtlest case.
var checkOpWeights = []checkOp{
	chkInvalidate, chkInvalidate, chkInvalidate,
	chkInvalidateLate, chkInvalidateLate, chkInvalidateLate, chkInvalidateLate,
	chkCacheDelete, chkStoreDelete,
	chkSet, chkSet, chkSet,
}

// checkLie is how a writer in the control lies.
type checkLie uint8

const (
	lieNone checkLie = iota
	lieSkip          // records the operation done without making it
	lieLate          // records it done, then makes it 3*localDeliveryBound later
)

type keyVer struct {
	key int
	ver int64
}

// opRecord is one writer's operation.
type opRecord struct {
	id         int
	kind       checkOp
	store      int
	key        int    // the key whose version was bumped
	tag        string // for invalidations
	covers     []keyVer
	start, end time.Duration
	lie        checkLie
	err        error
}

type readKind uint8

const (
	readGetOrLoad readKind = iota
	readGetMany
	readGet
	numReadKinds
)

var readKindNames = [numReadKinds]string{"GetOrLoad", "GetManyOrLoad", "Get"}

// readRecord is one value a read returned.
type readRecord struct {
	start, end time.Duration
	ver        int64
	key        int16
	store      int8
	kind       readKind
}

// tagRead is a direct read of a tag's version key after an invalidation.
type tagRead struct {
	tag        string
	start, end time.Duration
	seq        int64
}

// checkConfig is one configuration of Stores.
type checkConfig struct {
	name   string
	stores int
	local  []bool // per Store; nil for none
	lease  bool
	faults bool
	// jitter delays commands and replies (latencyNemesis).
	jitter bool
	lie    bool
}

func (c *checkConfig) hasLocal(i int) bool { return c.local != nil && c.local[i] }

// checkStore is one instance.
type checkStore struct {
	s     *Store
	c     *Cache[checkValue]
	local bool
}

// checkRun is one run of the workload and its records.
type checkRun struct {
	t    *testing.T
	b    *testbackend.Backend
	cfg  checkConfig
	seed uint64
	t0   time.Time
	// Writers work for the first active of every period and then rest
	// (with a local tier; otherwise they never rest).
	period, active time.Duration
	keys           []*checkKey
	index          map[string]int
	truth          checkTruth
	stores         []*checkStore
	faults         *faultInjector             // nil without faults
	errs           [numReadKinds]atomic.Int64 // errors other than a miss or a caller leaving
	left           atomic.Int64               // reads whose caller left before the answer

	mu        sync.Mutex // guards the records below
	reads     []readRecord
	ops       []opRecord // returned nil (or lied)
	failed    []opRecord // returned an error
	tagReads  []tagRead
	anomalies []string
}

func (r *checkRun) now() time.Duration { return time.Since(r.t0) }

// newCheckRun draws the run's keys from seed and opens its Stores.
func newCheckRun(t *testing.T, b *testbackend.Backend, cfg checkConfig, seed uint64) *checkRun {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 0))
	r := &checkRun{t: t, b: b, cfg: cfg, seed: seed, t0: time.Now(), index: map[string]int{}}
	nKeys, groups := 6+rng.IntN(4), 2+rng.IntN(2)
	for i := range nKeys {
		g := strconv.Itoa(i % groups)
		k := &checkKey{name: "k" + strconv.Itoa(i), named: "g" + g}
		if rng.IntN(2) == 0 || i == 0 {
			k.late = "l" + g
		}
		r.keys = append(r.keys, k)
		r.index[k.name] = i
	}
	r.period, r.active = time.Second, time.Second
	if cfg.local != nil {
		// Rests: an entry another instance left stale must outlive
		// localDeliveryBound to show, and the next change would evict it.
		r.period = time.Duration(300+rng.IntN(400)) * time.Millisecond
		r.active = r.period * time.Duration(20+rng.IntN(15)) / 100
	}
	r.truth.ver = make([]int64, nKeys)
	r.truth.at = make([][]time.Duration, nKeys)

	var nemesis *latencyNemesis
	if cfg.jitter {
		nemesis = newLatencyNemesis(seed)
	}
	// One namespace for the run's Stores, never reused: a replay must not
	// find a previous run's entries.
	ns := fmt.Sprintf("chk%d", rand.Uint64())
	for i := range cfg.stores {
		opts := []Option{WithNamespace(ns), WithTTL(time.Minute), WithTagTTL(10 * time.Minute), WithLoadTimeout(2 * time.Second)}
		if cfg.hasLocal(i) {
			opts = append(opts, WithLocalCache(10_000, checkLocalTTL))
		}
		if cfg.lease {
			opts = append(opts, WithStampedeLease(50*time.Millisecond))
		}
		if cfg.faults {
			opts = append(opts, WithOperationTimeout(checkOpTimeout), WithCircuitBreaker(DefaultBreakerFailures, 100*time.Millisecond))
		}
		s := NewStore(newCheckClient(t, b, rng.IntN(2) == 0, nemesis, i), opts...)
		t.Cleanup(func() { _ = s.Close() })
		r.stores = append(r.stores, &checkStore{s: s, c: New[checkValue](s, checkCacheName), local: cfg.hasLocal(i)})
	}
	waitFor(t, 5*time.Second, "the local tiers to subscribe", func() bool {
		for _, st := range r.stores {
			if st.local && !st.s.e.Local.Healthy() {
				return false
			}
		}
		return true
	})
	if cfg.faults {
		r.faults = newFaultInjector(t, b, r.now)
	}
	return r
}

// pickKey favours the first keys, so that loads, reads and writes collide.
func (r *checkRun) pickKey(rng *rand.Rand) int {
	if rng.IntN(2) == 0 {
		return rng.IntN(min(3, len(r.keys)))
	}
	return rng.IntN(len(r.keys))
}

// workload runs readers, writers and faults for d.
func (r *checkRun) workload(d time.Duration) {
	stop := time.Now().Add(d)
	var wg sync.WaitGroup
	for i := range checkReaders {
		rng := rand.New(rand.NewPCG(r.seed, uint64(1+i)))
		wg.Go(func() { r.reader(rng, stop) })
	}
	for i := range r.stores {
		rng := rand.New(rand.NewPCG(r.seed, uint64(50+i)))
		wg.Go(func() { r.hotReader(rng, i, stop) })
	}
	for i := range checkWriters {
		rng := rand.New(rand.NewPCG(r.seed, uint64(100+i)))
		wg.Go(func() { r.writer(rng, stop) })
	}
	if r.faults != nil {
		rng := rand.New(rand.NewPCG(r.seed, 200))
		wg.Go(func() { r.faults.run(rng, stop, r.resting) })
	}
	wg.Wait()
}

func (r *checkRun) reader(rng *rand.Rand, stop time.Time) {
	var out []readRecord
	for time.Now().Before(stop) {
		si := rng.IntN(len(r.stores))
		ctx, cancel := context.Background(), context.CancelFunc(func() {})
		if rng.IntN(10) == 0 {
			// A caller that leaves early; the load goes on without it.
			ctx, cancel = context.WithTimeout(ctx, time.Duration(2+rng.IntN(20))*time.Millisecond)
		}
		switch p := rng.IntN(10); {
		case p < 6:
			out = r.getOrLoad(ctx, rng, si, r.pickKey(rng), out)
		case p < 8:
			out = r.getManyOrLoad(ctx, rng, si, out)
		default:
			out = r.get(ctx, rng, si, r.pickKey(rng), out)
		}
		cancel()
		if rng.IntN(3) == 0 {
			time.Sleep(time.Duration(rng.IntN(2000)) * time.Microsecond)
		}
	}
	r.mu.Lock()
	r.reads = append(r.reads, out...)
	r.mu.Unlock()
}

// hotReader reads the first key through Store si over and over: a caller
// arrives at every moment of a load or a change, there and on every
// instance's local tier.
func (r *checkRun) hotReader(rng *rand.Rand, si int, stop time.Time) {
	var out []readRecord
	for time.Now().Before(stop) {
		if rng.IntN(10) < 7 {
			out = r.getOrLoad(context.Background(), rng, si, 0, out)
		} else {
			out = r.get(context.Background(), rng, si, 0, out)
		}
		time.Sleep(time.Duration(rng.IntN(1000)) * time.Microsecond)
	}
	r.mu.Lock()
	r.reads = append(r.reads, out...)
	r.mu.Unlock()
}

func (r *checkRun) getOrLoad(ctx context.Context, rng *rand.Rand, si, k int, out []readRecord) []readRecord {
	key := r.keys[k]
	// Drawn here: the loader may run in another goroutine.
	pause := time.Duration(rng.Int64N(int64(checkLoaderSleepMax) + 1))
	tagFirst := rng.IntN(2) == 0
	loader := func(ctx context.Context) (checkValue, error) {
		if key.late != "" && tagFirst {
			AddTags(ctx, key.late)
		}
		v := r.truth.read(k)
		time.Sleep(pause)
		if key.late != "" && !tagFirst {
			AddTags(ctx, key.late)
		}
		return checkValue{Key: key.name, Ver: v}, nil
	}
	start := r.now()
	got, err := r.stores[si].c.GetOrLoad(ctx, key.name, loader, WithTags(key.named))
	return r.observe(out, readGetOrLoad, si, k, start, got, err)
}

func (r *checkRun) getManyOrLoad(ctx context.Context, rng *rand.Rand, si int, out []readRecord) []readRecord {
	n := 2 + rng.IntN(3)
	var names, tags []string
	for range n {
		key := r.keys[r.pickKey(rng)]
		if !slices.Contains(names, key.name) {
			names = append(names, key.name)
		}
		// A batch names every tag of its keys, added ones included: its
		// loader cannot add tags, and an entry without its key's added tag
		// would not be invalidated by it.
		tags = appendUnique(tags, key.named)
		if key.late != "" {
			tags = appendUnique(tags, key.late)
		}
	}
	pause := time.Duration(rng.Int64N(int64(checkLoaderSleepMax) + 1))
	loader := func(_ context.Context, missing []string) (map[string]checkValue, error) {
		m := make(map[string]checkValue, len(missing))
		r.truth.mu.Lock()
		for _, name := range missing {
			m[name] = checkValue{Key: name, Ver: r.truth.ver[r.index[name]]}
		}
		r.truth.mu.Unlock()
		time.Sleep(pause)
		return m, nil
	}
	start := r.now()
	got, err := r.stores[si].c.GetManyOrLoad(ctx, names, loader, WithTags(tags...))
	end := r.now()
	r.countErr(readGetMany, err)
	for name, v := range got {
		k, ok := r.index[name]
		if !ok || v.Key != name {
			r.anomaly("GetManyOrLoad on store %d returned %+v for %q", si, v, name)
			continue
		}
		out = append(out, readRecord{start: start, end: end, ver: v.Ver, key: int16(k), store: int8(si), kind: readGetMany})
	}
	return out
}

func (r *checkRun) get(ctx context.Context, rng *rand.Rand, si, k int, out []readRecord) []readRecord {
	key := r.keys[k]
	var opts []Option
	if rng.IntN(2) == 0 {
		opts = append(opts, WithTags(key.named))
	}
	start := r.now()
	got, err := r.stores[si].c.Get(ctx, key.name, opts...)
	return r.observe(out, readGet, si, k, start, got, err)
}

// observe records what a single-key read returned.
func (r *checkRun) observe(out []readRecord, kind readKind, si, k int, start time.Duration, got checkValue, err error) []readRecord {
	end := r.now()
	if err != nil {
		r.countErr(kind, err)
		return out
	}
	if got.Key != r.keys[k].name {
		r.anomaly("%s on store %d returned %+v for %q", readKindNames[kind], si, got, r.keys[k].name)
		return out
	}
	return append(out, readRecord{start: start, end: end, ver: got.Ver, key: int16(k), store: int8(si), kind: kind})
}

func (r *checkRun) countErr(kind readKind, err error) {
	switch {
	case err == nil, errors.Is(err, ErrNotFound):
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		r.left.Add(1)
	default:
		r.errs[kind].Add(1)
	}
}

func (r *checkRun) anomaly(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.anomalies = append(r.anomalies, fmt.Sprintf(format, args...))
}

// resting returns how long the writers still rest (0 while they work).
func (r *checkRun) resting() time.Duration {
	if in := r.now() % r.period; in >= r.active {
		return r.period - in
	}
	return 0
}

func (r *checkRun) writer(rng *rand.Rand, stop time.Time) {
	for time.Now().Before(stop) {
		if rest := r.resting(); rest > 0 {
			time.Sleep(min(rest, time.Until(stop)))
			continue
		}
		time.Sleep(time.Duration(rng.IntN(30_000)) * time.Microsecond)
		k := r.pickKey(rng)
		kind := checkOpWeights[rng.IntN(len(checkOpWeights))]
		if kind == chkInvalidateLate && r.keys[k].late == "" {
			kind = chkInvalidate
		}
		lie := lieNone
		if r.cfg.lie && rng.IntN(2) == 0 {
			lie = lieSkip + checkLie(rng.IntN(2))
		}
		r.write(rng.IntN(len(r.stores)), k, kind, lie)
	}
}

// write bumps key k's version and makes kind through Store si.
func (r *checkRun) write(si, k int, kind checkOp, lie checkLie) {
	key, st := r.keys[k], r.stores[si]
	key.mu.Lock()
	defer key.mu.Unlock()
	op := opRecord{kind: kind, store: si, key: k, lie: lie}
	r.truth.mu.Lock()
	r.truth.ver[k]++
	v := r.truth.ver[k]
	r.truth.at[k] = append(r.truth.at[k], r.now())
	switch kind {
	case chkInvalidate, chkInvalidateLate:
		op.tag = key.named
		if kind == chkInvalidateLate {
			op.tag = key.late
		}
		for i, other := range r.keys {
			if other.named == op.tag || other.late == op.tag {
				op.covers = append(op.covers, keyVer{i, r.truth.ver[i]})
			}
		}
	default:
		op.covers = []keyVer{{k, v}}
	}
	op.start = r.now()
	r.truth.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	do := func() error {
		switch kind {
		case chkInvalidate, chkInvalidateLate:
			return st.s.InvalidateTags(ctx, op.tag)
		case chkCacheDelete:
			return st.c.Delete(ctx, key.name)
		case chkStoreDelete:
			return st.s.Delete(ctx, st.c.StoreKey(key.name))
		default:
			tags := []string{key.named}
			if key.late != "" {
				tags = append(tags, key.late)
			}
			return st.c.Set(ctx, key.name, checkValue{Key: key.name, Ver: v}, WithTags(tags...))
		}
	}
	switch lie {
	case lieNone:
		op.err = do()
		op.end = r.now()
	case lieSkip:
		op.end = r.now()
	case lieLate:
		op.end = r.now()
		time.Sleep(3 * localDeliveryBound) // the lie: done, and later made
		_ = do()
	}
	if op.err == nil && lie == lieNone && op.tag != "" {
		r.readTagVersion(ctx, st.s, op.tag)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if op.err != nil {
		r.failed = append(r.failed, op)
		return
	}
	op.id = len(r.ops) + 1
	r.ops = append(r.ops, op)
}

// readTagVersion reads tag's version key straight from Redis.
func (r *checkRun) readTagVersion(ctx context.Context, s *Store, tag string) {
	start := r.now()
	v, err := s.e.Backend.Client.Get(ctx, s.e.Keys.Tag(tag)).Result()
	end := r.now()
	if err != nil {
		return // a fault, or (never in a run) an expired version key
	}
	r.mu.Lock()
	r.tagReads = append(r.tagReads, tagRead{tag: tag, start: start, end: end, seq: seqOf(v)})
	r.mu.Unlock()
}

// The check.

// promise is one key an operation covers, as seen by one Store's readers.
type promise struct {
	end time.Duration
	ver int64
	op  int // index in ops
}

// promises are sorted by return, with the running maximum of their versions.
type promises struct {
	list []promise
	max  []int64
}

func (p *promises) seal() {
	slices.SortFunc(p.list, func(a, b promise) int { return cmp.Compare(a.end, b.end) })
	p.max = make([]int64, len(p.list))
	for i, q := range p.list {
		p.max[i] = q.ver
		if i > 0 {
			p.max[i] = max(p.max[i], p.max[i-1])
		}
	}
}

// firstBroken returns the earliest-returning promise made before start that
// covers a version newer than ver.
func (p *promises) firstBroken(start time.Duration, ver int64) (promise, bool) {
	n := sort.Search(len(p.list), func(i int) bool { return p.list[i].end >= start })
	i := sort.Search(n, func(i int) bool { return p.max[i] > ver })
	if i == n {
		return promise{}, false
	}
	return p.list[i], true
}

// violation is a read that returned an older version than an operation
// that returned before it started had covered.
type violation struct {
	read      readRecord
	op        *opRecord
	covered   int64
	cross     bool // on another Store with a local tier
	staleness time.Duration
	chain     string
	suspect   string
	fault     string // a fault around it, if any
}

// checkReport is what the check found.
type checkReport struct {
	reads      [numReadKinds]int
	ops        [numCheckOps]int
	failed     int
	strict     []violation
	cross      []violation // beyond localDeliveryBound
	staleCross int         // stale reads from another Store's local tier, within the bound or not
	worstCross time.Duration
	// worstWithin is the worst staleness within localDeliveryBound: the
	// measured delivery delay.
	worstWithin time.Duration
	// unannounced are stale reads from a local tier after a Set through a
	// Store without one, which does not tell the others.
	unannounced      int
	worstUnannounced time.Duration
	// indeterminate are stale reads of the value of a Set that failed,
	// which may have landed after a later change, by the kind of that
	// change.
	indeterminate [numCheckOps]int
	backwards     []string
	broken        []string // chains that do not hold: a bug in the checker
}

func (r *checkRun) check() *checkReport {
	rep := &checkReport{}
	nStores := len(r.stores)
	strict := make([][]promises, len(r.keys))
	bounded := make([][]promises, len(r.keys))
	unannounced := make([][]promises, len(r.keys))
	for k := range r.keys {
		strict[k], bounded[k], unannounced[k] = make([]promises, nStores), make([]promises, nStores), make([]promises, nStores)
	}
	for i := range r.ops {
		op := &r.ops[i]
		rep.ops[op.kind]++
		for _, kv := range op.covers {
			for s := range nStores {
				p := promise{end: op.end, ver: kv.ver, op: i}
				switch {
				case s == op.store || !r.stores[s].local:
					strict[kv.key][s].list = append(strict[kv.key][s].list, p)
				case op.kind == chkSet && !r.stores[op.store].local:
					// A Store without a local tier does not announce its
					// Sets (WithLocalCache: every instance should use it).
					unannounced[kv.key][s].list = append(unannounced[kv.key][s].list, p)
				default:
					bounded[kv.key][s].list = append(bounded[kv.key][s].list, p)
				}
			}
		}
	}
	for k := range r.keys {
		for s := range nStores {
			strict[k][s].seal()
			bounded[k][s].seal()
			unannounced[k][s].seal()
		}
	}
	unacked := map[keyVer]bool{}
	for _, op := range r.failed {
		if op.kind == chkSet {
			unacked[op.covers[0]] = true
		}
	}
	rep.failed = len(r.failed)

	for _, rd := range r.reads {
		rep.reads[rd.kind]++
		k, s := int(rd.key), int(rd.store)
		p, ok := strict[k][s].firstBroken(rd.start, rd.ver)
		cross := false
		if !ok {
			if p, ok = bounded[k][s].firstBroken(rd.start, rd.ver); !ok {
				if p, ok = unannounced[k][s].firstBroken(rd.start, rd.ver); ok {
					rep.unannounced++
					rep.worstUnannounced = max(rep.worstUnannounced, rd.start-p.end)
				}
				continue
			}
			cross = true
		}
		v := violation{read: rd, op: &r.ops[p.op], covered: p.ver, cross: cross, staleness: rd.start - p.end}
		if unacked[keyVer{k, rd.ver}] {
			if !cross || v.staleness > localDeliveryBound {
				rep.indeterminate[v.op.kind]++
			}
			continue
		}
		if cross {
			rep.staleCross++
			rep.worstCross = max(rep.worstCross, v.staleness)
			if v.staleness <= localDeliveryBound {
				rep.worstWithin = max(rep.worstWithin, v.staleness)
				continue
			}
		}
		if err := r.rederive(&v); err != nil {
			rep.broken = append(rep.broken, err.Error())
			continue
		}
		v.suspect, v.fault = r.suspect(&v)
		if cross {
			rep.cross = append(rep.cross, v)
		} else {
			rep.strict = append(rep.strict, v)
		}
	}
	rep.backwards = r.tagsGoingBackwards()
	return rep
}

// rederive re-checks a violation against the raw records and writes its
// happens-before chain.
func (r *checkRun) rederive(v *violation) error {
	rd, op := v.read, v.op
	k := int(rd.key)
	replaced, ok1 := r.truth.writtenAt(k, rd.ver+1)
	written, ok2 := r.truth.writtenAt(k, v.covered)
	covers := slices.Contains(op.covers, keyVer{k, v.covered})
	if !ok1 || !ok2 || !covers || rd.ver >= v.covered || replaced > written || written > op.start || op.start > op.end || op.end >= rd.start {
		return fmt.Errorf("chain does not hold: read %+v, op %+v, covered v%d (replaced at %v, covered written at %v)",
			rd, *op, v.covered, replaced, written)
	}
	target := op.tag
	if target == "" {
		target = r.keys[op.key].name
	}
	v.chain = fmt.Sprintf("%s on store %d [%s, %s] returned %s v%d; %s v%d was replaced at %s, %s v%d written at %s; "+
		"op #%d %s(%s) on store %d [%s, returned %s] covered %s v%d; the read started %s after it returned",
		readKindNames[rd.kind], rd.store, ms(rd.start), ms(rd.end), r.keys[k].name, rd.ver,
		r.keys[k].name, rd.ver, ms(replaced), r.keys[k].name, v.covered, ms(written),
		op.id, op.kind, target, op.store, ms(op.start), ms(op.end), r.keys[k].name, v.covered, ms(v.staleness))
	return nil
}

// suspect names the likeliest cause of a violation, from what was going on
// around it, and the fault that was, if any. It is a hint for the reader of
// a failure, not a proof.
func (r *checkRun) suspect(v *violation) (cause, fault string) {
	op, rd := v.op, v.read
	w, faulted := r.faults.during(op.start-checkOpTimeout, rd.end)
	if faulted {
		fault = fmt.Sprintf("%s at [%s, %s]", w.what, ms(w.start), ms(w.end))
	}
	switch {
	case op.lie != lieNone:
		return "a lying writer (control)", fault
	case v.cross && op.kind == chkSet && faulted:
		return "(5) the Set's announcement failed and was not retried", fault
	case v.cross && r.b.Name == "cluster" && op.kind != chkSet:
		return "(4) on a cluster the event overtook the change; the old value was cached locally again", fault
	case v.cross:
		return "unexplained, on another instance", fault
	case op.tag != "" && r.backwardsAround(op.tag, op.start, rd.end):
		return "(3) the tag's version went backwards under concurrent invalidations", fault
	case op.kind == chkInvalidateLate && faulted:
		return "(2) joined a load whose check of its added tag failed with Redis", fault
	case op.kind == chkInvalidateLate:
		return "(1) joined a load in flight from before the invalidation of its added tag", fault
	default:
		return "unexplained", fault
	}
}

// tagsGoingBackwards lists direct reads of a tag's version that found an
// older invalidation sequence than a read that had completed before them.
func (r *checkRun) tagsGoingBackwards() []string {
	byTag := map[string][]tagRead{}
	for _, tr := range r.tagReads {
		byTag[tr.tag] = append(byTag[tr.tag], tr)
	}
	var out []string
	for tag, reads := range byTag {
		slices.SortFunc(reads, func(a, b tagRead) int { return cmp.Compare(a.end, b.end) })
		best := make([]int, len(reads)) // index of the highest seq among reads[:i+1]
		for i := range reads {
			best[i] = i
			if i > 0 && reads[best[i-1]].seq >= reads[i].seq {
				best[i] = best[i-1]
			}
		}
		for _, later := range reads {
			n := sort.Search(len(reads), func(i int) bool { return reads[i].end >= later.start })
			if n > 0 && reads[best[n-1]].seq > later.seq {
				earlier := reads[best[n-1]]
				out = append(out, fmt.Sprintf("tag %s: version seq %d read at [%s, %s], then seq %d at [%s, %s]",
					tag, earlier.seq, ms(earlier.start), ms(earlier.end), later.seq, ms(later.start), ms(later.end)))
			}
		}
	}
	slices.Sort(out)
	return out
}

// backwardsAround reports whether tag's version was seen going backwards
// between from and to.
func (r *checkRun) backwardsAround(tag string, from, to time.Duration) bool {
	var reads []tagRead
	for _, tr := range r.tagReads {
		if tr.tag == tag {
			reads = append(reads, tr)
		}
	}
	for _, later := range reads {
		if later.end < from || later.start > to {
			continue
		}
		for _, earlier := range reads {
			if earlier.end < later.start && earlier.seq > later.seq {
				return true
			}
		}
	}
	return false
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + "ms"
}

// logReport logs what a run did and found.
func (r *checkRun) logReport(rep *checkReport) {
	t := r.t
	t.Helper()
	var total int
	var reads []string
	for k, n := range rep.reads {
		total += n
		reads = append(reads, fmt.Sprintf("%s %d", readKindNames[k], n))
	}
	var ops []string
	var nOps int
	for k, n := range rep.ops {
		nOps += n
		ops = append(ops, fmt.Sprintf("%s %d", checkOp(k), n))
	}
	var localHits uint64
	for _, st := range r.stores {
		localHits += st.s.Stats().LocalHits
	}
	t.Logf("keys %d, stores %d (local tier %v), lease %v, jitter %v; %d readers and %d on %s, %d writers working %v of every %v",
		len(r.keys), len(r.stores), r.cfg.local, r.cfg.lease, r.cfg.jitter, checkReaders, len(r.stores), r.keys[0].name, checkWriters, r.active, r.period)
	t.Logf("reads: %d values (%s), %d local hits; %d callers left early; errors GetOrLoad/GetManyOrLoad/Get %d/%d/%d",
		total, strings.Join(reads, ", "), localHits, r.left.Load(), r.errs[readGetOrLoad].Load(), r.errs[readGetMany].Load(), r.errs[readGet].Load())
	t.Logf("invalidations and sets returning nil: %d (%s); returning an error: %d", nOps, strings.Join(ops, ", "), rep.failed)
	if r.faults != nil {
		n, held, refused := r.faults.summary()
		t.Logf("faults %s: %d injected, holding the server %v in total (%d refused)", r.faults.describe(), n, held.Round(time.Millisecond), refused)
	}
	t.Logf("violations: %d on the changing store or without a local tier, %d on another instance beyond %v", len(rep.strict), len(rep.cross), localDeliveryBound)
	t.Logf("stale reads from another instance's local tier: %d, worst %s after the change returned (bound %v)", rep.staleCross, ms(rep.worstCross), localDeliveryBound)
	if rep.unannounced > 0 {
		t.Logf("stale reads from a local tier after a Set through a Store without one (not announced; not counted): %d, worst %s",
			rep.unannounced, ms(rep.worstUnannounced))
	}
	var late []string
	for k, n := range rep.indeterminate {
		if n > 0 {
			late = append(late, fmt.Sprintf("%d after a %s", n, checkOp(k)))
		}
	}
	if len(late) > 0 {
		t.Logf("stale reads of the value of a Set that returned an error, which may land late (not counted): %s", strings.Join(late, ", "))
	}
	if len(rep.backwards) > 0 {
		t.Logf("tag versions seen going backwards: %d, e.g. %s", len(rep.backwards), rep.backwards[0])
	}
	for _, a := range r.anomalies {
		t.Errorf("wrong value: %s", a)
	}
	for _, b := range rep.broken {
		t.Errorf("checker: %s", b)
	}
}

// suspects counts violations by suspected cause.
func suspects(vs []violation) string {
	counts := map[string]int{}
	for _, v := range vs {
		counts[v.suspect]++
	}
	var out []string
	for s, n := range counts {
		out = append(out, fmt.Sprintf("%d × %s", n, s))
	}
	slices.Sort(out)
	return strings.Join(out, "; ")
}

// failOnViolations fails the test with examples of each kind.
func (r *checkRun) failOnViolations(rep *checkReport) {
	t := r.t
	t.Helper()
	for _, kind := range []struct {
		what string
		vs   []violation
	}{{"on the changing store or a store without a local tier", rep.strict}, {"on another instance, beyond " + localDeliveryBound.String(), rep.cross}} {
		if len(kind.vs) == 0 {
			continue
		}
		// One example per change broken, its stalest read.
		worst := map[int]violation{}
		for _, v := range kind.vs {
			if w, ok := worst[v.op.id]; !ok || v.staleness > w.staleness {
				worst[v.op.id] = v
			}
		}
		examples := slices.SortedFunc(maps.Values(worst), func(a, b violation) int { return cmp.Compare(a.op.id, b.op.id) })
		var b strings.Builder
		fmt.Fprintf(&b, "%d reads %s returned a value older than one of %d changes that returned before they started (suspected: %s)",
			len(kind.vs), kind.what, len(worst), suspects(kind.vs))
		for _, v := range examples[:min(len(examples), checkExamples)] {
			fmt.Fprintf(&b, "\n\t%s [suspected: %s", v.chain, v.suspect)
			if v.fault != "" {
				fmt.Fprintf(&b, "; fault: %s", v.fault)
			}
			b.WriteString("]")
		}
		t.Error(b.String())
	}
}

// checkConfigs are the configurations each backend runs.
func checkConfigs(b *testbackend.Backend) []checkConfig {
	all := func(n int) []bool { return slices.Repeat([]bool{true}, n) }
	cs := []checkConfig{
		{name: "stores=1,jitter", stores: 1, jitter: true},
		{name: "stores=2,lease,jitter", stores: 2, lease: true, jitter: true},
		{name: "stores=3,local,jitter", stores: 3, local: all(3), jitter: true},
		{name: "stores=4,local=2of4,lease", stores: 4, local: []bool{true, true, false, false}, lease: true},
	}
	if b.MR == nil {
		cs = append(cs,
			checkConfig{name: "faults,stores=2,lease", stores: 2, lease: true, faults: true},
			checkConfig{name: "faults,stores=3,local,jitter", stores: 3, local: all(3), faults: true, jitter: true},
		)
	}
	return cs
}

// checkBudget is how long each backend runs the workload in total.
func checkBudget(t *testing.T) time.Duration {
	if s := os.Getenv("CACHEFRONT_CHECK_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			t.Fatalf("CACHEFRONT_CHECK_DURATION=%q: want a positive duration", s)
		}
		return d
	}
	if testing.Short() {
		return 3 * time.Second
	}
	return 8 * time.Second
}

// checkSeed is the run's master seed: CACHEFRONT_CHECK_SEED, or a random one.
func checkSeed(t *testing.T) uint64 {
	if s := os.Getenv("CACHEFRONT_CHECK_SEED"); s != "" {
		seed, err := strconv.ParseUint(s, 0, 64)
		if err != nil {
			t.Fatalf("CACHEFRONT_CHECK_SEED=%q: %v", s, err)
		}
		return seed
	}
	return rand.Uint64()
}

// subSeed derives a configuration's seed from the master seed and its name.
func subSeed(master uint64, name string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(name))
	return master ^ h.Sum64()
}

func TestConsistency(t *testing.T) {
	master := checkSeed(t)
	budget := checkBudget(t)
	t.Logf("seed %d: replay with CACHEFRONT_CHECK_SEED=%d", master, master)
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		configs := checkConfigs(b)
		each := budget / time.Duration(len(configs)+1) // the control takes a share
		var reads, ops, strict, cross int
		var worst, within time.Duration
		for _, cfg := range configs {
			t.Run(cfg.name, func(t *testing.T) {
				seed := subSeed(master, b.Name+"/"+cfg.name)
				t.Logf("seed %d (CACHEFRONT_CHECK_SEED=%d -run 'TestConsistency/%s/%s$'), %v", seed, master, b.Name, cfg.name, each)
				r := newCheckRun(t, b, cfg, seed)
				r.workload(each)
				rep := r.check()
				r.logReport(rep)
				r.failOnViolations(rep)
				reads += len(r.reads)
				ops += len(r.ops)
				strict, cross = strict+len(rep.strict), cross+len(rep.cross)
				worst, within = max(worst, rep.worstCross), max(within, rep.worstWithin)
			})
		}
		t.Logf("%s: %d values read, %d invalidations and sets returning nil, %d+%d violations (0 expected); "+
			"stale reads from another instance's local tier: worst %s after the change returned, %s within the bound of %v",
			b.Name, reads, ops, strict, cross, ms(worst), ms(within), localDeliveryBound)
		t.Run("control,lying-writer", func(t *testing.T) {
			cfg := checkConfig{name: "control", stores: 2, local: []bool{true, true}, lie: true}
			seed := subSeed(master, b.Name+"/"+cfg.name)
			t.Logf("seed %d", seed)
			r := newCheckRun(t, b, cfg, seed)
			r.workload(each / 2)
			lateFrom := r.lyingTail()
			rep := r.check()
			r.logReport(rep)
			var skipped, late int
			for _, v := range rep.strict {
				if v.op.lie == lieSkip {
					skipped++
				}
			}
			// A stale read of the late change's key on the other instance
			// may be blamed on an earlier lie about the same key from the
			// random part: any lie caught there counts.
			for _, v := range append(rep.cross, rep.strict...) {
				if v.op.lie == lieLate || v.op.lie != lieNone && v.read.store == 1 && v.read.key == 1 && v.read.start >= lateFrom {
					late++
				}
			}
			t.Logf("caught: %d reads after skipped changes, %d after late ones", skipped, late)
			if skipped == 0 {
				t.Error("the checker missed every change a writer recorded but skipped")
			}
			if late == 0 {
				t.Errorf("the checker missed every change a writer made %v after recording it", 3*localDeliveryBound)
			}
		})
	})
}

// lyingTail ends the control with two lies the checker must catch whatever
// the random part did: a skipped delete read back on the same Store, and a
// late one read meanwhile from another instance's local tier. It returns
// when the late one began.
func (r *checkRun) lyingTail() (lateFrom time.Duration) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(r.seed, 300))
	var out []readRecord
	read := func(si, k int) { out = r.getOrLoad(ctx, rng, si, k, out) }

	read(0, 0)
	r.write(0, 0, chkCacheDelete, lieSkip)
	read(0, 0)

	read(1, 1)
	lateFrom = r.now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.write(0, 1, chkCacheDelete, lieLate)
	}()
	for {
		select {
		case <-done:
			r.mu.Lock()
			r.reads = append(r.reads, out...)
			r.mu.Unlock()
			return lateFrom
		default:
			read(1, 1)
			time.Sleep(time.Millisecond)
		}
	}
}

// seqOf returns the invalidation sequence number in a tag version
// "<seq>:<random>" (0 for none).
func seqOf(version string) int64 {
	n, _, _ := strings.Cut(version, ":")
	seq, _ := strconv.ParseInt(n, 10, 64)
	return seq
}

// The consistency checker's nemeses (consistency_test.go): faults on real
// servers, and latency on every backend.
//
// From a client of its own, the fault injector makes one server (the single
// node, or one master of the cluster) stop answering for 50-300ms at a time,
// either for writes (CLIENT PAUSE <ms> WRITE: reads go on; SET, scripts and
// PUBLISH wait) or for everything (DEBUG SLEEP or, where the server refuses
// DEBUG, as it does unless started with enable-debug-command, a Lua script
// that spins on TIME for as long and blocks the server the same way). Faults
// are short and pauses are lifted in cleanup, so tests running beside it are
// slowed, never stuck.

// checkFaultMin and checkFaultMax bound one fault; checkFaultGapMax bounds
// the quiet time between two.
const (
	checkFaultMin    = 50 * time.Millisecond
	checkFaultMax    = 300 * time.Millisecond
	checkFaultGapMax = 250 * time.Millisecond
)

// busyScript keeps the server busy for ARGV[1] milliseconds.
var busyScript = redis.NewScript(`
local t = redis.call('TIME')
local stop = t[1] * 1000000 + t[2] + tonumber(ARGV[1]) * 1000
repeat t = redis.call('TIME') until t[1] * 1000000 + t[2] >= stop
return 1
`)

// faultWindow is when a fault held the server, in the run's clock.
type faultWindow struct {
	start, end time.Duration
	what       string
}

// faultInjector pauses one server now and then: the single node, or on a
// cluster one master at a time, a random one each time.
type faultInjector struct {
	nodes []*redis.Client
	debug bool // DEBUG SLEEP is allowed; else busyScript
	now   func() time.Duration

	mu      sync.Mutex // guards windows and failures
	windows []faultWindow
	// failures counts fault commands the server refused (the window is
	// then not recorded).
	failures int
}

// newFaultInjector connects to the server b's single-node client talks to,
// or to each master of b's cluster.
func newFaultInjector(t *testing.T, b *testbackend.Backend, now func() time.Duration) *faultInjector {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addrs, err := b.Nodes(ctx)
	if err != nil {
		t.Fatalf("the servers behind %s: %v", b.Name, err)
	}
	f := &faultInjector{now: now}
	for _, addr := range addrs {
		rdb := redis.NewClient(&redis.Options{Addr: addr})
		role, err := rdb.Do(ctx, "ROLE").Slice()
		if err != nil || len(role) == 0 || role[0] != "master" {
			_ = rdb.Close()
			continue
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := rdb.Do(ctx, "CLIENT", "UNPAUSE").Err(); err != nil {
				t.Errorf("CLIENT UNPAUSE on %s: %v", addr, err)
			}
			_ = rdb.Close()
		})
		f.nodes = append(f.nodes, rdb)
	}
	if len(f.nodes) == 0 {
		t.Fatalf("no master answering among %v", addrs)
	}
	f.debug = f.nodes[0].Do(ctx, "DEBUG", "SLEEP", "0").Err() == nil
	return f
}

// describe says where and how the injector works.
func (f *faultInjector) describe() string {
	block := "DEBUG SLEEP"
	if !f.debug {
		block = "a Lua loop on TIME (DEBUG refused)"
	}
	addrs := make([]string, len(f.nodes))
	for i, n := range f.nodes {
		addrs[i] = n.Options().Addr
	}
	return fmt.Sprintf("on %s: CLIENT PAUSE WRITE and %s, %v-%v each", strings.Join(addrs, ","), block, checkFaultMin, checkFaultMax)
}

// run injects faults until stop, while the writers work (resting says how
// long they still rest): a fault matters when it meets changes.
func (f *faultInjector) run(rng *rand.Rand, stop time.Time, resting func() time.Duration) {
	for {
		if rest := resting(); rest > 0 {
			if time.Now().Add(rest).After(stop) {
				return
			}
			time.Sleep(rest)
		}
		gap := time.Duration(rng.Int64N(int64(checkFaultGapMax)))
		d := checkFaultMin + time.Duration(rng.Int64N(int64(checkFaultMax-checkFaultMin)))
		if time.Now().Add(gap + d).After(stop) {
			return
		}
		time.Sleep(gap)
		ms := strconv.FormatInt(d.Milliseconds(), 10)
		node := f.nodes[rng.IntN(len(f.nodes))]
		ctx, cancel := context.WithTimeout(context.Background(), d+5*time.Second)
		start := f.now()
		var err error
		what := "CLIENT PAUSE " + ms + " WRITE"
		switch {
		case rng.IntN(2) == 0:
			err = node.Do(ctx, "CLIENT", "PAUSE", ms, "WRITE").Err()
			// The pause runs on the server; keep the next fault out of it.
			time.Sleep(d)
		case f.debug:
			what = "DEBUG SLEEP " + strconv.FormatFloat(d.Seconds(), 'f', 3, 64)
			err = node.Do(ctx, "DEBUG", "SLEEP", strconv.FormatFloat(d.Seconds(), 'f', 3, 64)).Err()
		default:
			what = "busy script " + ms + "ms"
			err = busyScript.Run(ctx, node, nil, ms).Err()
		}
		cancel()
		end := f.now()
		f.mu.Lock()
		if err != nil && !errors.Is(err, redis.Nil) {
			f.failures++
		} else {
			f.windows = append(f.windows, faultWindow{start: start, end: end, what: what + " on " + node.Options().Addr})
		}
		f.mu.Unlock()
	}
}

// during returns a fault that held a server at some time in [from, to].
func (f *faultInjector) during(from, to time.Duration) (faultWindow, bool) {
	if f == nil {
		return faultWindow{}, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, w := range f.windows {
		if w.start <= to && w.end >= from {
			return w, true
		}
	}
	return faultWindow{}, false
}

// summary counts the faults injected and the time they held the server.
func (f *faultInjector) summary() (n int, held time.Duration, refused int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, w := range f.windows {
		held += w.end - w.start
	}
	return len(f.windows), held, f.failures
}

// newCheckClient returns a client of its own to the server or cluster b's
// client talks to, as another instance of a service would have. With a
// nemesis, every connection (each node's, on a cluster) goes through it.
func newCheckClient(t *testing.T, b *testbackend.Backend, contextTimeouts bool, nemesis *latencyNemesis, instance int) redis.UniversalClient {
	t.Helper()
	var rdb redis.UniversalClient
	switch c := b.RDB.(type) {
	case *redis.Client:
		var single *redis.Client
		if b.Name == "sentinel" {
			opt := testbackend.FailoverOptions()
			opt.ContextTimeoutEnabled = contextTimeouts
			single = redis.NewFailoverClient(opt)
		} else {
			single = redis.NewClient(&redis.Options{Addr: c.Options().Addr, ContextTimeoutEnabled: contextTimeouts})
		}
		if nemesis != nil {
			single.AddHook(nemesis.hook(instance, c.Options().Addr))
		}
		rdb = single
	case *redis.ClusterClient:
		opt := &redis.ClusterOptions{Addrs: c.Options().Addrs, ContextTimeoutEnabled: contextTimeouts}
		if nemesis != nil {
			opt.NewClient = func(o *redis.Options) *redis.Client {
				node := redis.NewClient(o)
				node.AddHook(nemesis.hook(instance, o.Addr))
				return node
			}
		}
		rdb = redis.NewClusterClient(opt)
	default:
		t.Fatalf("unexpected client %T", b.RDB)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// Latency, on every backend: the clients' commands wait before they are
// sent and after their replies arrive. Now and then an instance's way to a
// node (the single server, or one master of a cluster) turns slow for a
// while: every command on it waits up to nemesisSlowMax each way, and one in
// four stalls for nemesisStallMin to nemesisStallMax, as a pause of the
// process or a congested link would. Otherwise a quarter of the commands wait
// up to nemesisJitterMax. Independent delays let commands overtake one
// another, which widens the windows changes race: between the steps of a
// load, between instances, or between the nodes one cluster pipeline goes to.
const (
	nemesisJitterMax = 2 * time.Millisecond
	nemesisSlowMax   = 5 * time.Millisecond
	nemesisStallMin  = 10 * time.Millisecond
	nemesisStallMax  = 40 * time.Millisecond
	// nemesisSlot is how long a way stays slow (or not); a way is slow in
	// one slot out of three.
	nemesisSlot = 250 * time.Millisecond
)

// latencyNemesis delays the commands of the clients it hooks.
type latencyNemesis struct {
	seed uint64
	t0   time.Time
	mu   sync.Mutex // guards rng
	rng  *rand.Rand
}

func newLatencyNemesis(seed uint64) *latencyNemesis {
	return &latencyNemesis{seed: seed, t0: time.Now(), rng: rand.New(rand.NewPCG(seed, 400))}
}

// slow reports whether the way from instance to the node at addr is slow
// now.
func (n *latencyNemesis) slow(instance int, addr string) bool {
	h := fnv.New64a()
	_, _ = fmt.Fprintf(h, "%d/%s", instance, addr)
	slot := uint64(time.Since(n.t0) / nemesisSlot)
	return rand.New(rand.NewPCG(n.seed^h.Sum64(), slot)).IntN(3) == 0
}

func (n *latencyNemesis) pause(instance int, addr string) {
	slow := n.slow(instance, addr)
	n.mu.Lock()
	var d time.Duration
	switch {
	case slow && n.rng.IntN(4) == 0:
		d = nemesisStallMin + time.Duration(n.rng.Int64N(int64(nemesisStallMax-nemesisStallMin)))
	case slow:
		d = time.Duration(n.rng.Int64N(int64(nemesisSlowMax)))
	case n.rng.IntN(4) == 0:
		d = time.Duration(n.rng.Int64N(int64(nemesisJitterMax)))
	}
	n.mu.Unlock()
	if d > 0 {
		time.Sleep(d)
	}
}

// hook returns the hook for instance's connections to addr.
func (n *latencyNemesis) hook(instance int, addr string) redis.Hook {
	return nemesisHook{n, instance, addr}
}

type nemesisHook struct {
	n        *latencyNemesis
	instance int
	addr     string
}

func (h nemesisHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h nemesisHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.pause(h.instance, h.addr)
		err := next(ctx, cmd)
		h.n.pause(h.instance, h.addr)
		return err
	}
}

func (h nemesisHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.pause(h.instance, h.addr)
		err := next(ctx, cmds)
		h.n.pause(h.instance, h.addr)
		return err
	}
}
