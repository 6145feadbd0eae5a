package cachefrontotel_test

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
	"github.com/cachefront/cachefront"
	"github.com/cachefront/cachefront/extra/cachefrontotel"
	"github.com/go-chi/chi/v5"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

var ctxBG = context.Background()

// traced is a Store on a miniredis whose observer exports its spans to
// memory as each ends.
type traced struct {
	mr    *miniredis.Miniredis
	store *cachefront.Store
	spans *tracetest.InMemoryExporter
	tp    *sdktrace.TracerProvider
}

func newTraced(t *testing.T, opts ...cachefrontotel.Option) *traced {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true, MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	t.Cleanup(func() { _ = tp.Shutdown(ctxBG) })
	obs := cachefrontotel.New(append([]cachefrontotel.Option{cachefrontotel.WithTracerProvider(tp)}, opts...)...)
	store := cachefront.NewStore(rdb, cachefront.WithObserver(obs), cachefront.WithOperationTimeout(200*time.Millisecond))
	t.Cleanup(func() { _ = store.Close() })
	return &traced{mr: mr, store: store, spans: spans, tp: tp}
}

// take returns the spans ended since the last take, in the order they ended.
func (tr *traced) take() tracetest.SpanStubs {
	s := tr.spans.GetSpans()
	tr.spans.Reset()
	return s
}

func attrs(s tracetest.SpanStub) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes {
		m[kv.Key] = kv.Value
	}
	return m
}

// check fails t unless span s is named name and has the attributes of want
// (values written as Value.String writes them) and the status code code.
func check(t *testing.T, s tracetest.SpanStub, name string, code codes.Code, want map[attribute.Key]string) {
	t.Helper()
	if s.Name != name {
		t.Errorf("span %q, want %q", s.Name, name)
	}
	if s.SpanKind != trace.SpanKindInternal {
		t.Errorf("span %q is of kind %v, want internal", s.Name, s.SpanKind)
	}
	if s.Status.Code != code {
		t.Errorf("span %q has status %v %q, want %v", s.Name, s.Status.Code, s.Status.Description, code)
	}
	got := attrs(s)
	for k, v := range want {
		if v == "" {
			if g, ok := got[k]; ok {
				t.Errorf("span %q has %s=%s, want none", s.Name, k, g.String())
			}
			continue
		}
		if g, ok := got[k]; !ok || g.String() != v {
			t.Errorf("span %q has %s=%q, want %q (all: %v)", s.Name, k, g.String(), v, s.Attributes)
		}
	}
}

func isChild(child, parent tracetest.SpanStub) bool {
	return child.Parent.SpanID() == parent.SpanContext.SpanID() && child.SpanContext.TraceID() == parent.SpanContext.TraceID()
}

func TestGetHitAndMiss(t *testing.T) {
	tr := newTraced(t)
	c := cachefront.New[string](tr.store, "pages")
	if err := c.Set(ctxBG, "home", "hello"); err != nil {
		t.Fatal(err)
	}
	if got := tr.take(); len(got) != 1 {
		t.Fatalf("Set made %d spans, want 1", len(got))
	} else {
		check(t, got[0], "cachefront set", codes.Unset, map[attribute.Key]string{
			"cachefront.operation": "set", "cachefront.cache": "pages", "cachefront.result": ""})
	}
	if _, err := c.Get(ctxBG, "home"); err != nil {
		t.Fatal(err)
	}
	got := tr.take()
	if len(got) != 1 {
		t.Fatalf("Get made %d spans, want 1", len(got))
	}
	check(t, got[0], "cachefront get", codes.Unset, map[attribute.Key]string{
		"cachefront.operation": "get", "cachefront.cache": "pages", "cachefront.result": "hit",
		"cachefront.layer": "redis", "cachefront.waited": "", "cachefront.redis_failed": "", "error.type": ""})

	if _, err := c.Get(ctxBG, "nowhere"); !errors.Is(err, cachefront.ErrNotFound) {
		t.Fatalf("Get of a missing key = %v", err)
	}
	got = tr.take()
	if len(got) != 1 {
		t.Fatalf("Get made %d spans, want 1", len(got))
	}
	// A miss is no failure.
	check(t, got[0], "cachefront get", codes.Unset, map[attribute.Key]string{
		"cachefront.result": "miss", "cachefront.layer": "", "error.type": ""})
	if len(got[0].Events) != 0 {
		t.Errorf("a miss recorded events %v", got[0].Events)
	}
}

func TestLoaderSpanIsAChildOfGetOrLoad(t *testing.T) {
	tr := newTraced(t)
	c := cachefront.New[string](tr.store, "products")
	tracer := tr.tp.Tracer("db")
	load := func(ctx context.Context) (string, error) {
		_, span := tracer.Start(ctx, "SELECT products")
		span.End()
		return "kettle", nil
	}
	if v, err := c.GetOrLoad(ctxBG, "p1", load); err != nil || v != "kettle" {
		t.Fatalf("GetOrLoad = %q, %v", v, err)
	}
	got := tr.take()
	if len(got) != 3 {
		t.Fatalf("a GetOrLoad miss made %d spans (%v), want 3", len(got), names(got))
	}
	query, loadSpan, gol := got[0], got[1], got[2]
	check(t, gol, "cachefront get_or_load", codes.Unset, map[attribute.Key]string{
		"cachefront.result": "miss", "cachefront.layer": "loader", "cachefront.cache": "products"})
	check(t, loadSpan, "cachefront load", codes.Unset, map[attribute.Key]string{
		"cachefront.operation": "load", "cachefront.cache": "products", "cachefront.result": ""})
	if !isChild(loadSpan, gol) {
		t.Error("the load span is not a child of the get_or_load span")
	}
	if query.Name != "SELECT products" || !isChild(query, loadSpan) {
		t.Errorf("the loader's own span %q is not a child of the load span", query.Name)
	}

	if _, err := c.GetOrLoad(ctxBG, "p1", load); err != nil {
		t.Fatal(err)
	}
	got = tr.take()
	if len(got) != 1 {
		t.Fatalf("a GetOrLoad hit made %d spans (%v), want 1", len(got), names(got))
	}
	check(t, got[0], "cachefront get_or_load", codes.Unset, map[attribute.Key]string{
		"cachefront.result": "hit", "cachefront.layer": "redis"})

	// A loader's error fails both the load and the GetOrLoad; a loader
	// finding nothing fails neither.
	boom := errors.New("database down")
	if _, err := c.GetOrLoad(ctxBG, "p2", func(context.Context) (string, error) { return "", boom }); !errors.Is(err, boom) {
		t.Fatalf("GetOrLoad = %v", err)
	}
	got = tr.take()
	if len(got) != 2 {
		t.Fatalf("a failed load made %d spans, want 2", len(got))
	}
	for _, s := range got {
		check(t, s, s.Name, codes.Error, map[attribute.Key]string{"error.type": "*errors.errorString"})
		if len(s.Events) != 1 || s.Events[0].Name != "exception" {
			t.Errorf("span %q has events %v, want one exception", s.Name, s.Events)
		}
	}
	if _, err := c.GetOrLoad(ctxBG, "p3", func(context.Context) (string, error) { return "", cachefront.ErrNotFound }); !errors.Is(err, cachefront.ErrNotFound) {
		t.Fatalf("GetOrLoad = %v", err)
	}
	for _, s := range tr.take() {
		check(t, s, s.Name, codes.Unset, map[attribute.Key]string{"error.type": ""})
	}
}

func names(spans tracetest.SpanStubs) []string {
	var n []string
	for _, s := range spans {
		n = append(n, s.Name)
	}
	return n
}

func TestSharedLoadWait(t *testing.T) {
	tr := newTraced(t)
	c := cachefront.New[string](tr.store, "pages")

	// Whether the second caller joins the first one's load depends on the
	// scheduler; whenever it does (the Store counts a dedup wait), and only
	// then, its span must say it waited on a shared load.
	for try := 0; tr.store.Stats().DedupWaits == 0; try++ {
		if try == 20 {
			t.Fatal("the second caller never joined the first one's load")
		}
		key := fmt.Sprint("k", try)
		before := tr.store.Stats().DedupWaits
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
		waits, loads := 0, 0
		for _, s := range tr.take() {
			switch a := attrs(s); {
			case s.Name == "cachefront load":
				loads++
			case a["cachefront.waited"].AsString() == "shared_load":
				waits++
				check(t, s, "cachefront get_or_load", codes.Unset, map[attribute.Key]string{
					"cachefront.result": "miss", "cachefront.layer": "loader"})
			}
		}
		if want := int(tr.store.Stats().DedupWaits - before); waits != want {
			t.Fatalf("%d GetOrLoad spans waited on a shared load, want %d", waits, want)
		}
		if loads != 2-waits {
			t.Fatalf("%d load spans for %d waits, want %d", loads, waits, 2-waits)
		}
	}
}

func TestRedisOutage(t *testing.T) {
	tr := newTraced(t)
	c := cachefront.New[string](tr.store, "pages")
	tr.mr.Close()

	if _, err := c.Get(ctxBG, "home"); !errors.Is(err, cachefront.ErrUnavailable) {
		t.Fatalf("Get with Redis down = %v", err)
	}
	got := tr.take()
	if len(got) != 1 {
		t.Fatalf("Get made %d spans, want 1", len(got))
	}
	check(t, got[0], "cachefront get", codes.Error, map[attribute.Key]string{
		"cachefront.result": "error", "cachefront.redis_failed": "true", "error.type": "unavailable"})
	if len(got[0].Events) != 1 || got[0].Events[0].Name != "exception" {
		t.Errorf("Get with Redis down recorded events %v, want one exception", got[0].Events)
	}

	if v, err := c.GetOrLoad(ctxBG, "home", func(context.Context) (string, error) { return "v", nil }); err != nil || v != "v" {
		t.Fatalf("GetOrLoad with Redis down = %q, %v", v, err)
	}
	got = tr.take()
	if len(got) != 2 {
		t.Fatalf("GetOrLoad made %d spans (%v), want 2", len(got), names(got))
	}
	// The caller got its value: no failure, but Redis was not there.
	check(t, got[1], "cachefront get_or_load", codes.Unset, map[attribute.Key]string{
		"cachefront.result": "miss", "cachefront.layer": "loader", "cachefront.redis_failed": "true", "error.type": ""})
}

func TestInvalidationAndDeletes(t *testing.T) {
	tr := newTraced(t, cachefrontotel.WithTagHashes(true))
	c := cachefront.New[string](tr.store, "pages")
	if err := tr.store.InvalidateTags(ctxBG, "category:42", "user:7"); err != nil {
		t.Fatal(err)
	}
	got := tr.take()
	if len(got) != 1 {
		t.Fatalf("InvalidateTags made %d spans, want 1", len(got))
	}
	check(t, got[0], "cachefront invalidate_tags", codes.Unset, map[attribute.Key]string{
		"cachefront.operation": "invalidate_tags", "cachefront.cache": "", "cachefront.tag.count": "2",
		"cachefront.tag.hashes": fmt.Sprintf("[%q,%q]", cachefrontotel.Hash("category:42"), cachefrontotel.Hash("user:7")),
		"cachefront.key.hash":   "", "cachefront.key.hashes": ""})

	if err := c.Delete(ctxBG, "a", "b", "c"); err != nil {
		t.Fatal(err)
	}
	if err := tr.store.Delete(ctxBG, c.StoreKey("a")); err != nil {
		t.Fatal(err)
	}
	got = tr.take()
	if len(got) != 2 {
		t.Fatalf("two Deletes made %d spans, want 2", len(got))
	}
	check(t, got[0], "cachefront delete", codes.Unset, map[attribute.Key]string{
		"cachefront.cache": "pages", "cachefront.key.count": "3", "cachefront.key.hashes": ""})
	check(t, got[1], "cachefront delete", codes.Unset, map[attribute.Key]string{
		"cachefront.cache": "", "cachefront.key.count": "1"})
}

func TestGetManySpans(t *testing.T) {
	tr := newTraced(t)
	c := cachefront.New[string](tr.store, "pages")
	if err := c.Set(ctxBG, "a", "A"); err != nil {
		t.Fatal(err)
	}
	tr.take()
	if _, err := c.GetMany(ctxBG, []string{"a", "b", "c"}); err != nil {
		t.Fatal(err)
	}
	got := tr.take()
	check(t, got[0], "cachefront get_many", codes.Unset, map[attribute.Key]string{
		"cachefront.result": "miss", "cachefront.hits": "1", "cachefront.misses": "2", "cachefront.key.count": "3"})

	_, err := c.GetManyOrLoad(ctxBG, []string{"a", "b", "c"}, func(_ context.Context, missing []string) (map[string]string, error) {
		return map[string]string{"b": "B"}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got = tr.take()
	if len(got) != 2 {
		t.Fatalf("GetManyOrLoad made %d spans (%v), want 2", len(got), names(got))
	}
	check(t, got[0], "cachefront load", codes.Unset, map[attribute.Key]string{"cachefront.key.count": "2"})
	check(t, got[1], "cachefront get_many_or_load", codes.Unset, map[attribute.Key]string{
		"cachefront.result": "miss", "cachefront.hits": "1", "cachefront.misses": "2"})
	if !isChild(got[0], got[1]) {
		t.Error("the load span is not a child of the get_many_or_load span")
	}
}

func TestNestsUnderTheCallersSpan(t *testing.T) {
	tr := newTraced(t)
	c := cachefront.New[string](tr.store, "pages")
	ctx, parent := tr.tp.Tracer("app").Start(ctxBG, "GET /pages/{id}")
	_, _ = c.Get(ctx, "home")
	parent.End()
	got := tr.take()
	if len(got) != 2 || !isChild(got[0], got[1]) || got[1].Name != "GET /pages/{id}" {
		t.Fatalf("spans %v: the Get's is not a child of the caller's", names(got))
	}
}

func TestKeysAreHashedOnlyWhenAsked(t *testing.T) {
	secret := "alice@example.com"
	run := func(t *testing.T, tr *traced) tracetest.SpanStubs {
		c := cachefront.New[string](tr.store, "users")
		_, _ = c.Get(ctxBG, secret)
		_, _ = c.GetOrLoad(ctxBG, secret, func(context.Context) (string, error) {
			return "", fmt.Errorf("no user %s", secret)
		})
		_, _ = c.GetMany(ctxBG, []string{secret, "bob@example.com"})
		_ = c.Delete(ctxBG, secret)
		// Encoding fails; the error names the entry's key.
		_ = cachefront.New[func()](tr.store, "funcs").Set(ctxBG, secret, func() {})
		_ = tr.store.InvalidateTags(ctxBG, "user:"+secret)
		return tr.take()
	}
	leaks := func(spans tracetest.SpanStubs) []string {
		var found []string
		for _, s := range spans {
			kvs := append([]attribute.KeyValue{}, s.Attributes...)
			for _, e := range s.Events {
				kvs = append(kvs, e.Attributes...)
			}
			for _, kv := range kvs {
				if strings.Contains(kv.Value.String(), "example.com") {
					found = append(found, s.Name+" "+string(kv.Key))
				}
			}
			if strings.Contains(s.Status.Description, "example.com") || strings.Contains(s.Name, "example.com") {
				found = append(found, s.Name+" status")
			}
		}
		return found
	}

	t.Run("default", func(t *testing.T) {
		spans := run(t, newTraced(t))
		if l := leaks(spans); len(l) > 0 {
			t.Fatalf("keys recorded in %v", l)
		}
		for _, s := range spans {
			a := attrs(s)
			if _, ok := a["cachefront.key.hash"]; ok {
				t.Errorf("span %q has a key hash by default", s.Name)
			}
			if _, ok := a["cachefront.tag.hashes"]; ok {
				t.Errorf("span %q has tag hashes by default", s.Name)
			}
		}
		set := spans[len(spans)-2]
		check(t, set, "cachefront set", codes.Error, nil)
		if !strings.Contains(set.Status.Description, "withheld") {
			t.Errorf("the failed Set's status is %q, want its message withheld", set.Status.Description)
		}
	})
	t.Run("hashes", func(t *testing.T) {
		spans := run(t, newTraced(t, cachefrontotel.WithKeyHashes(true), cachefrontotel.WithTagHashes(true)))
		if l := leaks(spans); len(l) > 0 {
			t.Fatalf("keys recorded in %v", l)
		}
		// The documented hash: printf %s alice@example.com | sha256sum | cut -c1-16
		const want = "ff8d9819fc0e12bf"
		if h := cachefrontotel.Hash(secret); h != want {
			t.Fatalf("Hash = %s, want %s", h, want)
		}
		check(t, spans[0], "cachefront get", codes.Unset, map[attribute.Key]string{"cachefront.key.hash": want})
		many := spans[len(spans)-4]
		check(t, many, "cachefront get_many", codes.Unset, map[attribute.Key]string{
			"cachefront.key.hashes": fmt.Sprintf("[%q,%q]", want, cachefrontotel.Hash("bob@example.com"))})
		check(t, spans[len(spans)-1], "cachefront invalidate_tags", codes.Unset, map[attribute.Key]string{
			"cachefront.tag.hashes": fmt.Sprintf("[%q]", cachefrontotel.Hash("user:"+secret))})
	})
}

// handlerSpans serves two requests for /p/1 through h and checks the
// middleware's spans: on the miss, the handler's span is its child; the hit
// calls no handler.
func handlerSpans(t *testing.T, tr *traced, h http.Handler) {
	t.Helper()
	for _, want := range []string{"miss", "hit"} {
		// Served in this goroutine, so that every span has ended when
		// ServeHTTP returns.
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/p/1", nil))
		if rec.Code != http.StatusOK || rec.Body.String() != "product 1" {
			t.Fatalf("%s: %d %q", want, rec.Code, rec.Body)
		}
		var handler, mw *tracetest.SpanStub
		got := tr.take()
		for i := range got {
			switch got[i].Name {
			case "render":
				handler = &got[i]
			case "cachefront http":
				mw = &got[i]
			}
		}
		if mw == nil {
			t.Fatalf("%s: no middleware span among %v", want, names(got))
		}
		check(t, *mw, "cachefront http", codes.Unset, map[attribute.Key]string{
			"cachefront.operation": "http", "cachefront.cache": "page", "cachefront.result": want})
		switch {
		case want == "miss" && (handler == nil || !isChild(*handler, *mw)):
			t.Errorf("miss: the handler's span is not a child of the middleware's (%v)", names(got))
		case want == "hit" && handler != nil:
			t.Errorf("hit: the handler ran")
		}
	}
}

func TestMiddlewareOnServeMux(t *testing.T) {
	tr := newTraced(t)
	tracer := tr.tp.Tracer("app")
	mux := http.NewServeMux()
	mux.Handle("GET /p/{id}", cachefront.Middleware(tr.store, cachefront.WithName("page"))(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, span := tracer.Start(r.Context(), "render")
			defer span.End()
			_, _ = io.WriteString(w, "product "+r.PathValue("id"))
		})))
	handlerSpans(t, tr, mux)
}

func TestMiddlewareOnChi(t *testing.T) {
	tr := newTraced(t)
	tracer := tr.tp.Tracer("app")
	r := chi.NewRouter()
	r.With(cachefront.Middleware(tr.store, cachefront.WithName("page"))).Get("/p/{id}", func(w http.ResponseWriter, r *http.Request) {
		_, span := tracer.Start(r.Context(), "render")
		defer span.End()
		_, _ = io.WriteString(w, "product "+chi.URLParam(r, "id"))
	})
	handlerSpans(t, tr, r)
}

func TestMetrics(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	tr := newTraced(t, cachefrontotel.WithMeterProvider(mp))
	tr.mr.Close()
	c := cachefront.New[string](tr.store, "pages")
	_, _ = c.Get(ctxBG, "k") // Redis is down
	tr.mr.Restart()
	if err := c.Set(ctxBG, "k", "v"); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		_, _ = c.Get(ctxBG, "k")
	}
	_, _ = c.Get(ctxBG, "other")

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctxBG, &rm); err != nil {
		t.Fatal(err)
	}
	counts, durations := map[string]int64{}, map[string]uint64{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != cachefrontotel.ScopeName {
			continue
		}
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				if m.Name != "cachefront.operations" || !d.IsMonotonic {
					t.Errorf("counter %s (monotonic %v)", m.Name, d.IsMonotonic)
				}
				for _, p := range d.DataPoints {
					counts[setString(p.Attributes)] += p.Value
				}
			case metricdata.Histogram[float64]:
				if m.Name != "cachefront.operation.duration" || m.Unit != "s" {
					t.Errorf("histogram %s in %s", m.Name, m.Unit)
				}
				for _, p := range d.DataPoints {
					durations[setString(p.Attributes)] += p.Count
				}
			}
		}
	}
	want := map[string]int64{
		"cache=pages error.type=unavailable operation=get result=error": 1,
		"cache=pages operation=set":                                     1,
		"cache=pages layer=redis operation=get result=hit":              3,
		"cache=pages operation=get result=miss":                         1,
	}
	for k, n := range want {
		if counts[k] != n || durations[k] != uint64(n) {
			t.Errorf("%s: counted %d, timed %d, want %d", k, counts[k], durations[k], n)
		}
	}
	if len(counts) != len(want) || t.Failed() {
		t.Errorf("counted %v, want %v", counts, want)
	}
}

// setString writes s as "k=v …", sorted, without the cachefront. prefix.
func setString(s attribute.Set) string {
	var parts []string
	for _, kv := range s.ToSlice() {
		parts = append(parts, strings.TrimPrefix(string(kv.Key), "cachefront.")+"="+kv.Value.String())
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}

func TestUnsampledSpansRecordNothing(t *testing.T) {
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans), sdktrace.WithSampler(sdktrace.NeverSample()))
	defer func() { _ = tp.Shutdown(ctxBG) }()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	store := cachefront.NewStore(rdb, cachefront.WithObserver(cachefrontotel.New(cachefrontotel.WithTracerProvider(tp))))
	defer store.Close()
	c := cachefront.New[string](store, "pages")
	if v, err := c.GetOrLoad(ctxBG, "k", func(context.Context) (string, error) { return "v", nil }); err != nil || v != "v" {
		t.Fatalf("GetOrLoad = %q, %v", v, err)
	}
	if n := len(spans.GetSpans()); n != 0 {
		t.Fatalf("%d spans exported, want none", n)
	}
}

func TestNewRejectsNilProviders(t *testing.T) {
	for name, opt := range map[string]cachefrontotel.Option{
		"tracer": cachefrontotel.WithTracerProvider(nil),
		"meter":  cachefrontotel.WithMeterProvider(nil),
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				err, _ := recover().(error)
				if !errors.Is(err, cachefront.ErrInvalidOption) {
					t.Fatalf("New with a nil %s provider panicked with %v, want ErrInvalidOption", name, err)
				}
			}()
			cachefrontotel.New(opt)
		})
	}
}
