package cachefront

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

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
			return m.GetCounter().GetValue()
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
