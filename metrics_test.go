package cachefront

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/cachefront/cachefront/internal/testbackend"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/vmihailenco/msgpack/v5"
)

func TestMetricsAndSecondStoreOnOneRegisterer(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	reg := prometheus.NewRegistry()

	s1 := NewStore(rdb, WithNamespace("shop"), WithRegisterer(reg))
	s2 := NewStore(rdb, WithNamespace("shop"), WithRegisterer(reg)) // must not panic
	s3 := NewStore(rdb, WithNamespace("blog"), WithRegisterer(reg))

	load := func(context.Context) (string, error) { return "v", nil }
	c1 := New[string](s1, "pages")
	c2 := New[string](s2, "pages")
	c3 := New[string](s3, "pages")
	_, _ = c1.GetOrLoad(ctxBG, "a", load) // miss + load
	_, _ = c2.GetOrLoad(ctxBG, "a", load) // hit (same namespace, same Redis)
	_, _ = c3.GetOrLoad(ctxBG, "a", load) // miss in another namespace
	_ = s1.InvalidateTags(ctxBG, "x", "y")

	if got := series(t, reg, "cachefront_hits_total", "shop", "cache", "pages", "layer", "redis"); got != 1 {
		t.Fatalf("shop hits = %v, want 1 (shared by both shop Stores)", got)
	}
	if got := series(t, reg, "cachefront_misses_total", "shop", "cache", "pages"); got != 1 {
		t.Fatalf("shop misses = %v, want 1", got)
	}
	if got := series(t, reg, "cachefront_misses_total", "blog", "cache", "pages"); got != 1 {
		t.Fatalf("blog misses = %v, want 1", got)
	}
	if got := series(t, reg, "cachefront_invalidations_total", "shop", "kind", "tag"); got != 2 {
		t.Fatalf("invalidations = %v, want 2", got)
	}
	// Stats stay per Store.
	if st := s2.Stats(); st.Hits != 1 || st.Misses != 0 {
		t.Fatalf("s2 stats = %+v", st)
	}

	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range families {
		names[f.GetName()] = true
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				switch v := l.GetValue(); v {
				case "a", "x", "y": // the key and the tags used above
					t.Fatalf("metric %s has a key or tag as label value: %s=%q", f.GetName(), l.GetName(), v)
				}
			}
		}
	}
	for _, want := range []string{"cachefront_hits_total", "cachefront_misses_total", "cachefront_loads_total",
		"cachefront_load_duration_seconds", "cachefront_invalidations_total", "cachefront_circuit_open"} {
		if !names[want] {
			t.Errorf("metric %s not registered", want)
		}
	}
}

func TestNoRegistrationWithoutRegisterer(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	before, _ := prometheus.DefaultGatherer.Gather()
	s := NewStore(rdb)
	_, _ = New[string](s, "c").GetOrLoad(ctxBG, "k", func(context.Context) (string, error) { return "v", nil })
	after, _ := prometheus.DefaultGatherer.Gather()
	if len(after) != len(before) {
		t.Fatal("a Store registered metrics with the default registry")
	}
	if s.Stats().Misses != 1 {
		t.Fatal("Stats must work without a registerer")
	}
}

// series returns the value of the counter name of namespace ns whose other
// labels are the name, value pairs given.
func series(t *testing.T, reg *prometheus.Registry, name, ns string, labels ...string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"namespace": ns}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			if len(m.GetLabel()) != len(want) {
				continue
			}
			for _, l := range m.GetLabel() {
				if want[l.GetName()] != l.GetValue() {
					continue next
				}
			}
			return m.GetCounter().GetValue() + m.GetGauge().GetValue() // whichever it is
		}
	}
	return 0
}

// With WithTopKeys, Stats names the keys read most, in the form Store.Delete
// takes, for caches and middleware routes alike.
func TestTopKeysInStats(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		s := newTestStore(t, b)
		c := New[string](s, "pages", WithTopKeys(2))
		load := func(context.Context) (string, error) { return "v", nil }
		for key, reads := range map[string]int{"hot": 30, "warm": 12, "cold": 1} {
			for range reads {
				if _, err := c.GetOrLoad(ctxBG, key, load); err != nil {
					t.Fatal(err)
				}
			}
		}
		_, _ = c.GetMany(ctxBG, []string{"warm", "cold"})
		top := s.Stats().Caches["pages"].TopKeys
		if len(top) != 2 || top[0].Key != "pages:hot" || top[1].Key != "pages:warm" ||
			top[0].Count-top[0].Error > 30 || top[0].Count < 30 || top[1].Count < 13 {
			t.Fatalf("top keys %+v", top)
		}
		if st := s.Stats(); st.TopKeys != nil {
			t.Fatalf("totals carry top keys: %+v", st.TopKeys)
		}
		if err := s.Delete(ctxBG, top[0].Key); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Get(ctxBG, "hot"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get after deleting the reported key: %v", err)
		}

		opts := []Option{WithName("search"), WithTopKeys(1)}
		h := Middleware(s, opts...)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
		for range 3 {
			get(h, "GET", "/s?q=a&p=1")
		}
		get(h, "GET", "/s?q=b")
		want, err := MiddlewareKey(s, httptest.NewRequest("GET", "/s?p=1&q=a", nil), opts...)
		if err != nil {
			t.Fatal(err)
		}
		if top := s.Stats().Caches["search"].TopKeys; len(top) != 1 || top[0].Key != want || top[0].Count < 3 {
			t.Fatalf("middleware top keys %+v, want %q", top, want)
		}
		New[string](s, "quiet")
		if s.Stats().Caches["quiet"].TopKeys != nil {
			t.Fatal("a cache without WithTopKeys reports top keys")
		}
	})
}

// CountEntries counts the namespace's entries on every node, and only
// entries: not tag versions, the sequence or other namespaces' keys.
func TestCountEntries(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		s := newTestStore(t, b)
		other := newTestStore(t, b)
		a, p := New[string](s, "a"), New[string](s, "b")
		for i := range 40 {
			if err := a.Set(ctxBG, fmt.Sprintf("k%d", i), "v", WithTags(fmt.Sprintf("t%d", i%7))); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 25 {
			if err := p.Set(ctxBG, fmt.Sprintf("k%d", i), "v"); err != nil {
				t.Fatal(err)
			}
		}
		if err := New[string](other, "a").Set(ctxBG, "x", "v"); err != nil {
			t.Fatal(err)
		}
		if err := s.InvalidateTags(ctxBG, "t1", "t2"); err != nil {
			t.Fatal(err)
		}
		got, err := s.CountEntries(ctxBG)
		if err != nil || !got.Complete || got.Entries != 65 {
			t.Fatalf("CountEntries = %+v, %v; want 65 complete", got, err)
		}
		expired, cancel := context.WithCancel(ctxBG)
		cancel()
		if got, err := s.CountEntries(expired); err == nil || got.Complete || !errors.Is(err, ErrUnavailable) {
			t.Fatalf("CountEntries with a cancelled context = %+v, %v", got, err)
		}
	})
}

// The byte counters show what compression saves, in Stats and in
// Prometheus, for typed caches and for the middleware.
func TestByteCountersShowTheSaving(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	reg := prometheus.NewRegistry()
	s := NewStore(rdb, WithNamespace("shop"), WithRegisterer(reg), WithCompression(0))
	page := productPage(100)
	c := New[[]Product](s, "pages")
	if err := c.Set(ctxBG, "p1", page); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctxBG, "p1"); err != nil {
		t.Fatal(err)
	}
	plain := New[string](s, "plain", WithCompression(NoCompression))
	_ = plain.Set(ctxBG, "k", "12345")
	_, _ = plain.Get(ctxBG, "k")

	st := s.Stats()
	ps := st.Caches["pages"]
	encoded, _ := msgpack.Marshal(page)
	if ps.BytesWrittenUncompressed != uint64(len(encoded)) || ps.BytesReadUncompressed != uint64(len(encoded)) {
		t.Fatalf("uncompressed bytes written %d, read %d; want the encoding's %d", ps.BytesWrittenUncompressed, ps.BytesReadUncompressed, len(encoded))
	}
	if ps.BytesWritten == 0 || ps.BytesWritten*2 > ps.BytesWrittenUncompressed || ps.BytesRead != ps.BytesWritten {
		t.Fatalf("stored bytes written %d, read %d of %d: want the page stored in under half", ps.BytesWritten, ps.BytesRead, len(encoded))
	}
	if p := st.Caches["plain"]; p.BytesWritten != 6 || p.BytesWrittenUncompressed != 6 || p.BytesRead != 6 {
		t.Fatalf("uncompressed cache: %+v, want 6 bytes (msgpack of a 5-byte string) each way", p)
	}
	if st.BytesWritten != ps.BytesWritten+6 {
		t.Fatalf("totals: %d bytes written, want the sum of the caches", st.BytesWritten)
	}
	if got := series(t, reg, "cachefront_bytes_written_total", "shop", "cache", "pages", "form", "stored"); got != float64(ps.BytesWritten) {
		t.Fatalf("cachefront_bytes_written_total{form=stored} = %v, want %d", got, ps.BytesWritten)
	}
	if got := series(t, reg, "cachefront_bytes_read_total", "shop", "cache", "pages", "form", "uncompressed"); got != float64(len(encoded)) {
		t.Fatalf("cachefront_bytes_read_total{form=uncompressed} = %v, want %d", got, len(encoded))
	}

	body := []byte(strings.Repeat(`{"asin":"B0BTXNYW2Q","title":"Wireless headphones"},`, 200))
	h := Middleware(s, WithName("http"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	get(h, "GET", "/p")
	get(h, "GET", "/p")
	hs := s.Stats().Caches["http"]
	if hs.BytesWrittenUncompressed < uint64(len(body)) || hs.BytesWritten*4 > hs.BytesWrittenUncompressed {
		t.Fatalf("middleware: %d bytes stored of %d uncompressed, for a %d-byte body", hs.BytesWritten, hs.BytesWrittenUncompressed, len(body))
	}
	if hs.BytesRead != hs.BytesWritten || hs.BytesReadUncompressed != hs.BytesWrittenUncompressed {
		t.Fatalf("middleware read %d/%d, wrote %d/%d", hs.BytesRead, hs.BytesReadUncompressed, hs.BytesWritten, hs.BytesWrittenUncompressed)
	}
}

// recordingObserver keeps every ended operation, with the depth of
// operations it was started under.
type recordingObserver struct {
	mu    sync.Mutex
	ended []observed
}

type observed struct {
	op     Operation
	out    Outcome
	parent OperationKind // the operation whose context it started under; 0 for none
}

type observedKey struct{}

func (o *recordingObserver) Start(ctx context.Context, op Operation) context.Context {
	parent, _ := ctx.Value(observedKey{}).(OperationKind)
	return context.WithValue(context.WithValue(ctx, observedKey{}, op.Kind), observedParentKey{}, parent)
}

type observedParentKey struct{}

func (o *recordingObserver) End(ctx context.Context, op Operation, out Outcome) {
	parent, _ := ctx.Value(observedParentKey{}).(OperationKind)
	o.mu.Lock()
	defer o.mu.Unlock()
	op.Keys, op.Tags = slices.Clone(op.Keys), slices.Clone(op.Tags)
	o.ended = append(o.ended, observed{op, out, parent})
}

// take returns the operations ended since the last take.
func (o *recordingObserver) take() []observed {
	o.mu.Lock()
	defer o.mu.Unlock()
	got := o.ended
	o.ended = nil
	return got
}

func TestObserverSeesEachOperationAndItsOutcome(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		obs := &recordingObserver{}
		s := newTestStore(t, b, WithObserver(obs))
		c := New[string](s, "pages", WithTags("pages"))
		one := func(what string) observed {
			t.Helper()
			got := obs.take()
			if len(got) != 1 {
				t.Fatalf("%s: observed %+v, want one operation", what, got)
			}
			return got[0]
		}

		if _, err := c.Get(ctxBG, "a"); !errors.Is(err, ErrNotFound) {
			t.Fatal(err)
		}
		if g := one("Get miss"); g.op.Kind != OpGet || g.op.Cache != "pages" || !slices.Equal(g.op.Keys, []string{"a"}) ||
			g.out.Result != ResultMiss || !errors.Is(g.out.Err, ErrNotFound) {
			t.Fatalf("Get miss observed as %+v", g)
		}

		loads := 0
		v, err := c.GetOrLoad(ctxBG, "a", func(ctx context.Context) (string, error) {
			loads++
			return "A", nil
		})
		if err != nil || v != "A" {
			t.Fatal(v, err)
		}
		got := obs.take()
		if len(got) != 2 || got[0].op.Kind != OpLoad || got[0].parent != OpGetOrLoad || got[0].out.Err != nil ||
			got[1].op.Kind != OpGetOrLoad || got[1].out.Result != ResultMiss || got[1].out.Layer != LayerLoader {
			t.Fatalf("GetOrLoad miss observed as %+v, want the load nested under it, then a miss from the loader", got)
		}

		if _, err := c.Get(ctxBG, "a"); err != nil {
			t.Fatal(err)
		}
		if g := one("Get hit"); g.out.Result != ResultHit || g.out.Layer != LayerRedis || g.out.Err != nil {
			t.Fatalf("Get hit observed as %+v", g)
		}

		if err := s.InvalidateTags(ctxBG, "pages"); err != nil {
			t.Fatal(err)
		}
		if g := one("InvalidateTags"); g.op.Kind != OpInvalidateTags || !slices.Equal(g.op.Tags, []string{"pages"}) || g.out.Result != ResultNone {
			t.Fatalf("InvalidateTags observed as %+v", g)
		}
		if _, err := c.Get(ctxBG, "a"); !errors.Is(err, ErrNotFound) {
			t.Fatal(err)
		}
		if g := one("Get of an invalidated entry"); g.out.Result != ResultMiss || !g.out.Stale {
			t.Fatalf("Get of an invalidated entry observed as %+v, want a stale miss", g)
		}

		if err := c.Set(ctxBG, "b", "B"); err != nil {
			t.Fatal(err)
		}
		if g := one("Set"); g.op.Kind != OpSet || g.out.Err != nil {
			t.Fatalf("Set observed as %+v", g)
		}
		m, err := c.GetMany(ctxBG, []string{"a", "b"})
		if err != nil || len(m) != 1 {
			t.Fatal(m, err)
		}
		if g := one("GetMany"); g.op.Kind != OpGetMany || g.out.Hits != 1 || g.out.Misses != 1 || g.out.Result != ResultMiss {
			t.Fatalf("GetMany observed as %+v", g)
		}
		if err := s.Delete(ctxBG, "pages:b"); err != nil {
			t.Fatal(err)
		}
		if g := one("Store.Delete"); g.op.Kind != OpDelete || !slices.Equal(g.op.Keys, []string{"pages:b"}) {
			t.Fatalf("Store.Delete observed as %+v", g)
		}
	})
}

func TestObserverSeesSharedLoadWaitsAndOutages(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true, MaxRetries: -1})
	defer rdb.Close()
	obs := &recordingObserver{}
	s := NewStore(rdb, WithObserver(obs), WithOperationTimeout(100*time.Millisecond))
	defer s.Close()
	c := New[string](s, "pages")

	// Whether the second caller joins the first one's load depends on the
	// scheduler; whenever it does (the Store counts a dedup wait), and only
	// then, the observer must see it waiting on a shared load.
	for try := 0; s.Stats().DedupWaits == 0; try++ {
		if try == 20 {
			t.Fatal("the second caller never joined the first one's load")
		}
		key := fmt.Sprint("k", try)
		before := s.Stats().DedupWaits
		release, started := make(chan struct{}), make(chan struct{})
		var wg sync.WaitGroup
		for i := range 2 {
			wg.Go(func() {
				_, _ = c.GetOrLoad(ctxBG, key, func(ctx context.Context) (string, error) {
					close(started)
					<-release
					return "v", nil
				})
			})
			if i == 0 {
				<-started
			}
		}
		time.Sleep(20 * time.Millisecond)
		close(release)
		wg.Wait()
		waits := 0
		for _, g := range obs.take() {
			if g.op.Kind == OpGetOrLoad && g.out.Waited == WaitSharedLoad {
				waits++
			}
		}
		if want := int(s.Stats().DedupWaits - before); waits != want {
			t.Fatalf("%d GetOrLoads observed waiting on a shared load, want %d", waits, want)
		}
	}

	mr.Close()
	if _, err := c.Get(ctxBG, "k"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Get with Redis down = %v", err)
	}
	if g := obs.take(); len(g) != 1 || g[0].out.Result != ResultError || !g[0].out.RedisFailed || !errors.Is(g[0].out.Err, ErrUnavailable) {
		t.Fatalf("Get with Redis down observed as %+v", g)
	}
	if _, err := c.GetOrLoad(ctxBG, "k", func(context.Context) (string, error) { return "v", nil }); err != nil {
		t.Fatal(err)
	}
	g := obs.take()
	if len(g) != 2 || g[1].out.Result != ResultMiss || !g[1].out.RedisFailed || g[1].out.Layer != LayerLoader {
		t.Fatalf("GetOrLoad with Redis down observed as %+v", g)
	}
}

func TestObserverSeesMiddlewareRequests(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *testbackend.Backend) {
		obs := &recordingObserver{}
		s := newTestStore(t, b, WithObserver(obs))
		h := Middleware(s, WithName("page"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if parent, _ := r.Context().Value(observedKey{}).(OperationKind); parent != OpHTTP {
				t.Errorf("handler runs under %v, want the OpHTTP operation's context", parent)
			}
			_, _ = io.WriteString(w, "hello")
		}))
		for _, want := range []Result{ResultMiss, ResultHit} {
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/p", nil))
			if g := obs.take(); len(g) != 1 || g[0].op.Kind != OpHTTP || g[0].op.Cache != "page" || g[0].out.Result != want {
				t.Fatalf("request observed as %+v, want %v", g, want)
			}
		}
		r := httptest.NewRequest(http.MethodGet, "/p", nil)
		r.Header.Set("Authorization", "Bearer x")
		h.ServeHTTP(httptest.NewRecorder(), r)
		if g := obs.take(); len(g) != 1 || g[0].out.Result != ResultBypass {
			t.Fatalf("request with credentials observed as %+v, want a bypass", g)
		}
	})
}

func TestOperationNames(t *testing.T) {
	for k, want := range map[OperationKind]string{OpGetOrLoad: "get_or_load", OpHTTP: "http", OperationKind(99): "unknown"} {
		if k.String() != want {
			t.Errorf("%d.String() = %q, want %q", k, k.String(), want)
		}
	}
	if ResultHit.String() != "hit" || LayerLocal.String() != "local" || WaitLease.String() != "lease" || ResultNone.String() != "" {
		t.Error("names of results, layers or waits changed")
	}
}

// Without an observer the seam costs nothing: a hit from the local tier
// allocates nothing at all, and with an observer it still serves the same
// value.
func TestNoObserverAllocatesNothingOnALocalHit(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	for _, observed := range []bool{false, true} {
		opts := []Option{WithLocalCache(100, time.Minute)}
		if observed {
			opts = append(opts, WithObserver(&recordingObserver{}))
		}
		s := NewStore(rdb, opts...)
		c := New[string](s, "c")
		if err := c.Set(ctxBG, "k", "v"); err != nil {
			t.Fatal(err)
		}
		if v, err := c.Get(ctxBG, "k"); err != nil || v != "v" {
			t.Fatalf("observed=%v: Get = %q, %v", observed, v, err)
		}
		allocs := testing.AllocsPerRun(1000, func() { _, _ = c.Get(ctxBG, "k") })
		if !observed && allocs != 0 {
			t.Fatalf("a local hit without an observer allocates %v times, want 0", allocs)
		}
		s.Close()
	}
}

// A loader that panics still ends its operations, and the panic goes on.
func TestObserverSeesOperationsThatPanic(t *testing.T) {
	obs := &recordingObserver{}
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	s := NewStore(rdb, WithObserver(obs))
	defer s.Close()
	c := New[string](s, "c")
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the panic did not reach the caller")
			}
		}()
		_, _ = c.GetOrLoad(ctxBG, "k", func(context.Context) (string, error) { panic("boom") })
	}()
	got := obs.take()
	kinds := []OperationKind{}
	for _, g := range got {
		if g.out.Err == nil {
			t.Fatalf("%v ended without an error after a panic", g.op.Kind)
		}
		kinds = append(kinds, g.op.Kind)
	}
	if !slices.Equal(kinds, []OperationKind{OpLoad, OpGetOrLoad}) {
		t.Fatalf("ended %v, want the load, then the GetOrLoad", kinds)
	}
}
