package cachefront

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/cachefront/cachefront/internal/keyspace"
	"github.com/cachefront/cachefront/internal/testbackend"
	"github.com/redis/go-redis/v9"
)

// commandGate is a client hook that acts on the next few commands (or
// pipelines) a test picks, before they are sent: it holds each until release
// is closed, then fails it when fail is set. Held commands reach Redis after
// whatever the test does meanwhile. times is how many it acts on from now;
// arm sets it again.
type commandGate struct {
	match   func(name string, args []any) bool
	fail    bool
	left    atomic.Int32
	reached chan struct{} // one value per command acted on
	release chan struct{}
}

func newCommandGate(times int, fail bool, match func(name string, args []any) bool) *commandGate {
	g := &commandGate{match: match, fail: fail, reached: make(chan struct{}, times), release: make(chan struct{})}
	g.left.Store(int32(times))
	return g
}

// commandOn matches commands with one of names (lower case) that name a
// string containing part.
func commandOn(part string, names ...string) func(string, []any) bool {
	return func(name string, args []any) bool {
		if !slices.Contains(names, name) {
			return false
		}
		for _, a := range args[1:] {
			if s, ok := a.(string); ok && strings.Contains(s, part) {
				return true
			}
		}
		return false
	}
}

func (g *commandGate) arm(times int) { g.left.Store(int32(times)) }

func (g *commandGate) take(cmds []redis.Cmder) bool {
	for _, c := range cmds {
		if g.match(strings.ToLower(c.Name()), c.Args()) {
			return g.left.Add(-1) >= 0
		}
	}
	return false
}

// act holds the commands, then fails them if it should.
func (g *commandGate) act(cmds []redis.Cmder) error {
	g.reached <- struct{}{}
	<-g.release
	if !g.fail {
		return nil
	}
	err := errors.New("injected failure")
	for _, c := range cmds {
		c.SetErr(err)
	}
	return err
}

func (g *commandGate) DialHook(next redis.DialHook) redis.DialHook { return next }

func (g *commandGate) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if g.take([]redis.Cmder{cmd}) {
			if err := g.act([]redis.Cmder{cmd}); err != nil {
				return err
			}
		}
		return next(ctx, cmd)
	}
}

func (g *commandGate) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if g.take(cmds) {
			if err := g.act(cmds); err != nil {
				return err
			}
		}
		return next(ctx, cmds)
	}
}

// readCounter counts the reads (GET, MGET, or pipelines holding one) of keys
// containing part.
type readCounter struct {
	part string
	n    atomic.Int32
}

func (rc *readCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (rc *readCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if commandOn(rc.part, "get", "mget")(strings.ToLower(cmd.Name()), cmd.Args()) {
			rc.n.Add(1)
		}
		return err
	}
}
func (rc *readCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, cmd := range cmds {
			if commandOn(rc.part, "get", "mget")(strings.ToLower(cmd.Name()), cmd.Args()) {
				rc.n.Add(1)
				break
			}
		}
		return err
	}
}

// lateTagFront is a way to read through a shared load whose loader adds the
// tag "late" with AddTags: GetOrLoad, or the middleware.
type lateTagFront struct {
	name string
	// get reads key k, loading db's value when it must; tagged names the
	// late tag up front as well.
	get func(t *testing.T, s *Store, db *sourceData, tagged bool) string
}

var lateTagFronts = []lateTagFront{
	{"GetOrLoad", func(t *testing.T, s *Store, db *sourceData, tagged bool) string {
		c := New[string](s, "race")
		var opts []Option
		if tagged {
			opts = append(opts, WithTags("late"))
		}
		v, err := c.GetOrLoad(ctxBG, "k", func(ctx context.Context) (string, error) {
			AddTags(ctx, "late")
			return db.read(), nil
		}, opts...)
		if err != nil {
			return "error: " + err.Error()
		}
		return v
	}},
	{"Middleware", func(t *testing.T, s *Store, db *sourceData, tagged bool) string {
		opts := []Option{WithName("race")}
		if tagged {
			opts = append(opts, WithTags("late"))
		}
		h := Middleware(s, opts...)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			AddTags(r.Context(), "late")
			io.WriteString(w, db.read())
		}))
		return get(h, "GET", "/k").Body.String()
	}},
}

// A load whose loader added a tag with AddTags checks that tag once it has
// its value. A caller that arrives after an InvalidateTags of that tag
// returned, while the load is still finishing, must not take its result:
// its check may have come before the invalidation. The same holds when the
// check could not be made at all because Redis failed. Controls: the same
// schedules with the tag named up front (WithTags) are served the new
// value by the flight key alone.
func TestLateTagLoadIsNotJoinedAfterAnInvalidation(t *testing.T) {
	holds := []struct {
		name  string
		fail  bool
		match func(tagKey string) func(string, []any) bool
	}{
		// The load's conditional write of its entry is held.
		{"write held", false, func(string) func(string, []any) bool { return commandOn(":race:", "evalsha", "eval") }},
		// The load's check of the late tag is held, then fails.
		{"check fails", true, func(tagKey string) func(string, []any) bool { return commandOn(tagKey, "set") }},
	}
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		for _, front := range lateTagFronts {
			for _, hold := range holds {
				for _, tagged := range []bool{false, true} {
					name := front.name + "/" + hold.name
					if tagged {
						name += "/control WithTags"
					}
					t.Run(name, func(t *testing.T) {
						ns := newTestStore(t, b).Namespace()
						gate := newCommandGate(1, hold.fail, hold.match(keyspace.New(ns).Tag("late")))
						reads := &readCounter{part: ":race:"}
						s := NewStore(sharedNamespaceClient(t, b, func(rdb redis.UniversalClient) {
							rdb.AddHook(gate)
							rdb.AddHook(reads)
						}), WithNamespace(ns), WithOperationTimeout(5*time.Second)) // no read times out on a loaded machine
						defer s.Close()
						defer close(gate.release)
						db := &sourceData{v: "old"}

						first := make(chan string, 1)
						go func() { first <- front.get(t, s, db, tagged) }()
						select {
						case <-gate.reached:
						case <-time.After(5 * time.Second):
							t.Fatal("the load's command never reached the gate")
						}
						db.set("new")
						if err := s.InvalidateTags(ctxBG, "late"); err != nil {
							t.Fatal(err)
						}
						readsBefore := reads.n.Load()
						second := make(chan string, 1)
						go func() { second <- front.get(t, s, db, tagged) }()
						waitFor(t, 5*time.Second, "the second caller's read", func() bool { return reads.n.Load() > readsBefore })
						time.Sleep(100 * time.Millisecond) // it reaches the flight
						gate.release <- struct{}{}         // let the held command go
						<-first
						if got := <-second; got != "new" {
							t.Fatalf("a caller arriving after InvalidateTags returned got %q, loaded before it", got)
						}
					})
				}
			}
		}
	})
}

// Two invalidations of one tag whose writes reach the tag's node in the
// reverse order leave the newer version in place: a tag's version never goes
// back. If it did (as it could on a cluster, where the sequence number and
// the tag's version are written in two round trips), a load that took its
// snapshot between the two would pass its check of a tag added with AddTags
// and store data from before the second invalidation under the tag's
// current version, for every reader.
func TestTagVersionsNeverGoBack(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		s := newTestStore(t, b)
		c := New[string](s, "race")
		tagKey := s.e.Keys.Tag("late")
		// The first invalidation's write of the tag's version is held.
		gate := newCommandGate(1, false, commandOn(tagKey, "set", "eval", "evalsha"))
		b.RDB.AddHook(gate)
		db := &sourceData{v: "old"}

		firstInvalidation := make(chan error, 1)
		go func() { firstInvalidation <- s.InvalidateTags(ctxBG, "late") }()
		<-gate.reached

		loading, finish := make(chan struct{}), make(chan struct{})
		loaded := make(chan string, 1)
		go func() {
			v, _ := c.GetOrLoad(ctxBG, "k", func(ctx context.Context) (string, error) {
				seen := db.read()
				close(loading)
				<-finish
				AddTags(ctx, "late")
				return seen, nil
			})
			loaded <- v
		}()
		<-loading
		db.set("new")
		if err := s.InvalidateTags(ctxBG, "late"); err != nil {
			t.Fatal(err)
		}
		close(gate.release)
		if err := <-firstInvalidation; err != nil {
			t.Fatal(err)
		}
		close(finish)
		<-loaded

		seq, _ := b.RDB.Get(ctxBG, s.e.Keys.Seq()).Int64()
		version, _ := b.RDB.Get(ctxBG, tagKey).Result()
		if seqOf(version) != seq {
			t.Errorf("tag version %q after invalidation %d", version, seq)
		}
		for _, opts := range [][]Option{nil, {WithTags("late")}} {
			v, err := c.Get(ctxBG, "k", opts...)
			if err == nil && v == "old" {
				t.Fatalf("read %q after both invalidations returned (options %d)", v, len(opts))
			}
		}
	})
}

// sharedNamespaceClient returns a client of b's deployment of its own, so
// that hooks on it leave b.RDB alone. prepare runs before the client is
// used (a cluster client's node hooks are added to nodes as they are made).
func sharedNamespaceClient(t *testing.T, b *testbackend.Backend, prepare func(redis.UniversalClient)) redis.UniversalClient {
	t.Helper()
	rdb := b.Client(t)
	if prepare != nil {
		prepare(rdb)
	}
	return rdb
}

// hookEveryNode adds h to rdb, or to each node of a cluster client, where
// the parts of a pipeline bound for different nodes are sent in parallel.
func hookEveryNode(rdb redis.UniversalClient, h redis.Hook) {
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		cc.OnNewNode(func(node *redis.Client) { node.AddHook(h) })
		return
	}
	rdb.AddHook(h)
}

// tagOnAnotherNode returns a tag whose version key is served by another
// node than the events channel, when the deployment has several.
func tagOnAnotherNode(t *testing.T, s *Store, rdb redis.UniversalClient) string {
	t.Helper()
	cc, ok := rdb.(*redis.ClusterClient)
	if !ok {
		return "late"
	}
	channelNode, err := cc.MasterForKey(ctxBG, s.e.Keys.Events())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		tag := fmt.Sprintf("late%d", i)
		node, err := cc.MasterForKey(ctxBG, s.e.Keys.Tag(tag))
		if err != nil {
			t.Fatal(err)
		}
		if node.Options().Addr != channelNode.Options().Addr {
			return tag
		}
	}
	t.Fatal("no tag on another node than the events channel")
	return ""
}

// Another instance's local tier must not hear of an invalidation or a
// delete before Redis holds it: it would evict, read the old entry again
// and keep it for its whole local TTL. So the event is published only once
// the change is acknowledged, and after InvalidateTags or Delete returns the
// other instance serves the new value within the delivery delay.
func TestLocalTierEventNeverOvertakesItsChange(t *testing.T) {
	const localTTL = 30 * time.Second
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		for _, change := range []string{"InvalidateTags", "Delete"} {
			t.Run(change, func(t *testing.T) {
				ns := newTestStore(t, b).Namespace()
				reader := NewStore(b.RDB, WithNamespace(ns), WithLocalCache(100, localTTL))
				defer reader.Close()
				var target atomic.Value // the key whose write is held, set before the gate is armed
				target.Store("\x00none")
				gate := newCommandGate(0, false, func(name string, args []any) bool {
					return commandOn(target.Load().(string), "set", "eval", "evalsha")(name, args)
				})
				writerRdb := sharedNamespaceClient(t, b, func(rdb redis.UniversalClient) { hookEveryNode(rdb, gate) })
				writer := NewStore(writerRdb, WithNamespace(ns), WithLocalCache(100, localTTL), WithOperationTimeout(5*time.Second))
				defer writer.Close()
				tag := tagOnAnotherNode(t, writer, writerRdb)
				target.Store(writer.e.Keys.Tag(tag))
				if change == "Delete" {
					rkey, _ := writer.e.Keys.Entry("race", "k")
					target.Store(rkey)
				}
				waitFor(t, 5*time.Second, "subscriptions", func() bool { return reader.e.Local.Healthy() && writer.e.Local.Healthy() })

				rc, wc := New[string](reader, "race"), New[string](writer, "race")
				if err := wc.Set(ctxBG, "k", "old", WithTags(tag)); err != nil {
					t.Fatal(err)
				}
				waitFor(t, 5*time.Second, "the reader to see the value", func() bool {
					v, err := rc.Get(ctxBG, "k", WithTags(tag))
					return err == nil && v == "old"
				})

				gate.arm(1)
				done := make(chan error, 1)
				go func() {
					if change == "Delete" {
						done <- wc.Delete(ctxBG, "k")
						return
					}
					done <- writer.InvalidateTags(ctxBG, tag)
				}()
				<-gate.reached
				// While the change is held on its way, the reader reads
				// (and, had it heard of the change, reads Redis again).
				epoch := reader.e.Local.EpochNow()
				deadline := time.Now().Add(300 * time.Millisecond)
				for reader.e.Local.EpochNow() == epoch && time.Now().Before(deadline) {
					time.Sleep(5 * time.Millisecond)
				}
				_, _ = rc.Get(ctxBG, "k", WithTags(tag))
				close(gate.release)
				if err := <-done; err != nil {
					t.Fatal(err)
				}
				waitFor(t, 2*time.Second, "the reader to stop serving the old value", func() bool {
					v, err := rc.Get(ctxBG, "k", WithTags(tag))
					return err != nil || v != "old"
				})
			})
		}
	})
}

// failPublishes fails the first publish (PUBLISH or SPUBLISH) once armed.
type failPublishes struct{ armed atomic.Bool }

func (f *failPublishes) DialHook(next redis.DialHook) redis.DialHook { return next }
func (f *failPublishes) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		return f.process(ctx, []redis.Cmder{cmd}, func(ctx context.Context) error { return next(ctx, cmd) })
	}
}
func (f *failPublishes) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		return f.process(ctx, cmds, func(ctx context.Context) error { return next(ctx, cmds) })
	}
}
func (f *failPublishes) process(ctx context.Context, cmds []redis.Cmder, next func(context.Context) error) error {
	for _, c := range cmds {
		if n := strings.ToLower(c.Name()); (n == "publish" || n == "spublish") && f.armed.CompareAndSwap(true, false) {
			err := errors.New("injected publish failure")
			for _, c := range cmds {
				c.SetErr(err)
			}
			return err
		}
	}
	return next(ctx)
}

// A Set whose announcement to other instances fails is announced again in
// the background (and counted as pending meanwhile), so other instances stop
// serving the old value within the retry delay, not their local TTL.
func TestFailedSetAnnouncementIsRetried(t *testing.T) {
	const localTTL = 30 * time.Second
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		ns := newTestStore(t, b).Namespace()
		reader := NewStore(b.RDB, WithNamespace(ns), WithLocalCache(100, localTTL))
		defer reader.Close()
		fail := &failPublishes{}
		writer := NewStore(sharedNamespaceClient(t, b, func(rdb redis.UniversalClient) { rdb.AddHook(fail) }),
			WithNamespace(ns), WithLocalCache(100, localTTL))
		defer writer.Close()
		waitFor(t, 5*time.Second, "subscriptions", func() bool { return reader.e.Local.Healthy() && writer.e.Local.Healthy() })

		rc, wc := New[string](reader, "race"), New[string](writer, "race")
		if err := wc.Set(ctxBG, "k", "old"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, "the reader to hold the value", func() bool {
			v, err := rc.Get(ctxBG, "k")
			return err == nil && v == "old"
		})
		fail.armed.Store(true)
		if err := wc.Set(ctxBG, "k", "new"); err != nil {
			t.Fatal(err)
		}
		if n := writer.PendingInvalidations(); n != 1 {
			t.Errorf("PendingInvalidations = %d after a failed announcement, want 1", n)
		}
		waitFor(t, 2*time.Second, "the reader to see the new value", func() bool {
			v, err := rc.Get(ctxBG, "k")
			return err == nil && v == "new"
		})
		waitFor(t, 2*time.Second, "the announcement to be applied", func() bool { return writer.PendingInvalidations() == 0 })
		if fail.armed.Load() {
			t.Fatal("no publish was attempted")
		}
	})
}

// A tag that entries keep being written under never expires, so its entries
// never all miss at once because of it; a tag nothing uses goes away.
func TestTagVersionsLiveWhileUsed(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		if b.MR == nil {
			t.Skip("needs miniredis's FastForward")
		}
		s := newTestStore(t, b, WithTagTTL(time.Hour))
		c := New[string](s, "c", WithTTL(20*time.Minute), WithTTLJitter(0))
		load := func(context.Context) (string, error) { return "v", nil }
		tagKey := s.e.Keys.Tag("hot")
		for i := 0; i < 5; i++ {
			// Each round writes under the tag (a load after expiry, or a Set).
			key := "k" + string(rune('0'+i))
			if _, err := c.GetOrLoad(ctxBG, key, load, WithTags("hot")); err != nil {
				t.Fatal(err)
			}
			if err := c.Set(ctxBG, "s", "v", WithTags("hot")); err != nil {
				t.Fatal(err)
			}
			b.MR.FastForward(40 * time.Minute)
			if !b.MR.Exists(tagKey) {
				t.Fatalf("round %d: a tag written under every 40 minutes expired with a 1h tag TTL", i)
			}
		}
		b.MR.FastForward(61 * time.Minute)
		if b.MR.Exists(tagKey) {
			t.Fatal("an unused tag version outlived the tag TTL")
		}
	})
}

// WithReplicaAck: an invalidation returns once the replicas have it. On a
// deployment with replicas (the Sentinel group and the cluster that .ci/run
// starts) it succeeds and invalidates; where there are fewer replicas, or
// one is too slow, it fails with ErrUnavailable and stays pending until the
// replicas acknowledge it.
func TestReplicaAck(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		replicated := b.Name == "sentinel" || b.Name == "cluster"
		s := newTestStore(t, b, WithReplicaAck(1, 2*time.Second))
		c := New[string](s, "c")
		_ = c.Set(ctxBG, "k", "v", WithTags("t"))
		err := s.InvalidateTags(ctxBG, "t")
		if replicated != (err == nil) || err != nil && !errors.Is(err, ErrUnavailable) {
			t.Fatalf("InvalidateTags with replicas %v: %v", replicated, err)
		}
		if _, err := c.Get(ctxBG, "k", WithTags("t")); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get after the invalidation = %v, want a miss either way (the master took it)", err)
		}
		_ = c.Set(ctxBG, "k2", "v")
		if err := c.Delete(ctxBG, "k2"); replicated != (err == nil) {
			t.Fatalf("Delete with replicas %v: %v", replicated, err)
		}
		if !replicated {
			if s.PendingInvalidations() == 0 {
				t.Fatal("an unacknowledged invalidation is not pending")
			}
			return
		}
		if b.Name != "sentinel" {
			return
		}
		// A replica that stops answering for a while: the invalidation
		// fails, then lands once the replica is back.
		replica := sentinelReplica(t)
		busy := make(chan error, 1)
		go func() { busy <- busyScript.Run(ctxBG, replica, nil, 1500).Err() }()
		time.Sleep(100 * time.Millisecond)
		slow := newTestStore(t, b, WithReplicaAck(1, 300*time.Millisecond))
		if err := slow.InvalidateTags(ctxBG, "t"); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "not acknowledged") {
			t.Fatalf("InvalidateTags with the replica busy: %v, want ErrUnavailable for want of acknowledgement", err)
		}
		if slow.PendingInvalidations() == 0 {
			t.Fatal("the unacknowledged invalidation is not pending")
		}
		if err := <-busy; err != nil {
			t.Fatalf("busy script on the replica: %v", err)
		}
		waitFor(t, 10*time.Second, "the replica to acknowledge the pending invalidation", func() bool { return slow.PendingInvalidations() == 0 })
	})
}

// sentinelReplica returns a client of the Sentinel group's replica.
func sentinelReplica(t *testing.T) *redis.Client {
	t.Helper()
	opt := testbackend.FailoverOptions()
	sc := redis.NewSentinelClient(&redis.Options{Addr: opt.SentinelAddrs[0]})
	defer sc.Close()
	replicas, err := sc.Replicas(ctxBG, opt.MasterName).Result()
	if err != nil || len(replicas) == 0 {
		t.Fatalf("the group's replicas: %v, %v", replicas, err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: net.JoinHostPort(replicas[0]["ip"], replicas[0]["port"]), ReadTimeout: 5 * time.Second})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// failInvalidations fails the commands that invalidate (the scripts and
// SETs of versions and tombstones, on every node), while on, and lets
// reads through: Redis takes no invalidation but answers every read.
type failInvalidations struct{ on atomic.Bool }

func (f *failInvalidations) fails(cmds ...redis.Cmder) bool {
	if !f.on.Load() {
		return false
	}
	for _, c := range cmds {
		switch strings.ToLower(c.Name()) {
		case "eval", "evalsha", "set", "incr":
			return true
		}
	}
	return false
}

func (f *failInvalidations) DialHook(next redis.DialHook) redis.DialHook { return next }
func (f *failInvalidations) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if f.fails(cmd) {
			err := errors.New("injected write failure")
			cmd.SetErr(err)
			return err
		}
		return next(ctx, cmd)
	}
}
func (f *failInvalidations) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if f.fails(cmds...) {
			err := errors.New("injected write failure")
			for _, c := range cmds {
				c.SetErr(err)
			}
			return err
		}
		return next(ctx, cmds)
	}
}

// While an invalidation Redis did not take is pending, Redis still holds
// the entries it invalidates: reads do not serve them. Each read first
// applies what is pending and, while it cannot, fails like a read on a
// Redis that does not answer (Get returns ErrUnavailable, GetOrLoad loads);
// the first read after Redis takes writes again applies it, before the
// background retry comes round.
func TestPendingInvalidationsAreAppliedBeforeReads(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		hook := &failInvalidations{}
		rdb := sharedNamespaceClient(t, b, func(rdb redis.UniversalClient) { hookEveryNode(rdb, hook) })
		// No breaker: the failures below would open it, and this is about
		// what reads do with an invalidation pending.
		s := NewStore(rdb, WithNamespace(newTestStore(t, b).Namespace()), WithCircuitBreaker(0, time.Second))
		defer s.Close()
		c := New[string](s, "c", WithTags("price"))
		if err := c.Set(ctxBG, "p", "old"); err != nil {
			t.Fatal(err)
		}
		other := New[string](s, "other")
		_ = other.Set(ctxBG, "q", "untagged")
		hook.on.Store(true)
		if err := s.InvalidateTags(ctxBG, "price"); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("InvalidateTags with writes failing: %v", err)
		}
		if _, err := c.Get(ctxBG, "p"); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Get with the invalidation pending = %v, want ErrUnavailable, never the old value", err)
		}
		if v, err := c.GetOrLoad(ctxBG, "p", func(context.Context) (string, error) { return "new", nil }); err != nil || v != "new" {
			t.Fatalf("GetOrLoad with the invalidation pending = %q, %v; want the loader's value", v, err)
		}
		if _, err := other.Get(ctxBG, "q"); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Get of another cache with an invalidation pending = %v: nothing is read from Redis until it lands", err)
		}
		hook.on.Store(false)
		if _, err := c.Get(ctxBG, "p"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("the first Get once Redis takes writes = %v, want the invalidation applied first (a miss)", err)
		}
		if n := s.PendingInvalidations(); n != 0 {
			t.Fatalf("%d invalidations still pending after a read applied them", n)
		}
		if v, err := other.Get(ctxBG, "q"); err != nil || v != "untagged" {
			t.Fatalf("Get of the other cache = %q, %v", v, err)
		}
	})
}

// memoryJournal is a Journal shared by the Stores of a test, as a database
// would be by the instances of a service.
type memoryJournal struct {
	mu      sync.Mutex
	tags    map[string]bool
	keys    map[string]bool
	listErr error
}

func newMemoryJournal() *memoryJournal {
	return &memoryJournal{tags: map[string]bool{}, keys: map[string]bool{}}
}

func (j *memoryJournal) Add(_ context.Context, inv Invalidations) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, t := range inv.Tags {
		j.tags[t] = true
	}
	for _, k := range inv.Keys {
		j.keys[k] = true
	}
	return nil
}

func (j *memoryJournal) Remove(_ context.Context, inv Invalidations) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, t := range inv.Tags {
		delete(j.tags, t)
	}
	for _, k := range inv.Keys {
		delete(j.keys, k)
	}
	return nil
}

func (j *memoryJournal) List(context.Context) (Invalidations, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.listErr != nil {
		return Invalidations{}, j.listErr
	}
	var inv Invalidations
	for t := range j.tags {
		inv.Tags = append(inv.Tags, t)
	}
	for k := range j.keys {
		inv.Keys = append(inv.Keys, k)
	}
	return inv, nil
}

func (j *memoryJournal) size() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.tags) + len(j.keys)
}

// A Store that exits while Redis is down loses the invalidations it could
// not apply, and the entries they were to remove are served again once
// Redis is back; with a Journal, the next Store applies them before it
// serves anything.
func TestJournalKeepsInvalidationsAcrossARestart(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1})
	defer rdb.Close()
	j := newMemoryJournal()
	// The writer has a client of its own, closed with it: once it has
	// "exited", nothing of it reaches Redis again.
	wrdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1})
	writer := NewStore(wrdb, WithJournal(j), WithOperationTimeout(100*time.Millisecond))
	c := New[string](writer, "c")
	for _, k := range []string{"tagged", "deleted"} {
		if err := c.Set(ctxBG, k, "old", WithTags("t")); err != nil {
			t.Fatal(err)
		}
	}
	mr.Close()
	if err := writer.InvalidateTags(ctxBG, "t"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("InvalidateTags with Redis down = %v", err)
	}
	if err := c.Delete(ctxBG, "deleted"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Delete with Redis down = %v", err)
	}
	if n := j.size(); n != 2 {
		t.Fatalf("journal holds %d items, want the tag and the key", n)
	}
	writer.Close() // the process exits during the outage
	_ = wrdb.Close()
	if err := mr.Restart(); err != nil {
		t.Fatal(err)
	}

	withoutJournal := New[string](NewStore(rdb), "c")
	if v, err := withoutJournal.Get(ctxBG, "tagged"); err != nil || v != "old" {
		t.Fatalf("without the journal: %q, %v; want the stale entry served (the failure the journal prevents)", v, err)
	}

	next := NewStore(rdb, WithJournal(j))
	defer next.Close()
	c = New[string](next, "c")
	for _, k := range []string{"tagged", "deleted"} {
		if v, err := c.Get(ctxBG, k); !errors.Is(err, ErrNotFound) {
			t.Fatalf("%s after the restart = %q, %v: an invalidation made before it was lost", k, v, err)
		}
	}
	waitFor(t, 5*time.Second, "the journal to be emptied", func() bool { return j.size() == 0 })
}

// A Store reads its journal before it trusts Redis: while the journal
// cannot be listed, reads fail open, and a Store that never reads applies
// the journal by itself.
func TestJournalIsReadBeforeRedisIsTrusted(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	seed := New[string](NewStore(rdb), "c")
	if err := seed.Set(ctxBG, "k", "old", WithTags("t")); err != nil {
		t.Fatal(err)
	}
	j := newMemoryJournal()
	_ = j.Add(ctxBG, Invalidations{Tags: []string{"t"}})
	j.listErr = errors.New("database down")

	s := NewStore(rdb, WithJournal(j))
	defer s.Close()
	c := New[string](s, "c")
	if _, err := c.Get(ctxBG, "k"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Get before the journal could be read = %v, want ErrUnavailable", err)
	}
	if v, err := c.GetOrLoad(ctxBG, "k", func(context.Context) (string, error) { return "new", nil }); err != nil || v != "new" {
		t.Fatalf("GetOrLoad before the journal could be read = %q, %v, want the loader's value", v, err)
	}
	j.mu.Lock()
	j.listErr = nil
	j.mu.Unlock()
	waitFor(t, 5*time.Second, "the Store to apply the journal by itself", func() bool { return j.size() == 0 })
	if v, err := seed.Get(ctxBG, "k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("entry after the journal was applied = %q, %v", v, err)
	}
}
