package cachefront

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

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
func newFaultInjector(t *testing.T, b *testBackend, now func() time.Duration) *faultInjector {
	t.Helper()
	var addrs []string
	switch c := b.rdb.(type) {
	case *redis.Client:
		addrs = []string{c.Options().Addr}
	case *redis.ClusterClient:
		addrs = c.Options().Addrs
	default:
		t.Fatalf("faults need a single-node or cluster client, got %T", b.rdb)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
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
func newCheckClient(t *testing.T, b *testBackend, contextTimeouts bool, nemesis *latencyNemesis, instance int) redis.UniversalClient {
	t.Helper()
	var rdb redis.UniversalClient
	switch c := b.rdb.(type) {
	case *redis.Client:
		single := redis.NewClient(&redis.Options{Addr: c.Options().Addr, ContextTimeoutEnabled: contextTimeouts})
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
		t.Fatalf("unexpected client %T", b.rdb)
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
