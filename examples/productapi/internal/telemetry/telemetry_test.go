package telemetry

import (
	"context"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/cachefront/cachefront"
	"github.com/redis/go-redis/v9"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// collector is an OTLP/HTTP trace receiver that keeps the spans it is sent.
type collector struct {
	mu       sync.Mutex // guards spans and services
	spans    []*tracepb.Span
	services []string
}

func newCollector(t *testing.T) (*collector, string) {
	c := &collector{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		var req collectortrace.ExportTraceServiceRequest
		if r.URL.Path != "/v1/traces" || err != nil || proto.Unmarshal(body, &req) != nil {
			t.Errorf("collector: %s %s: a body it cannot read", r.Method, r.URL.Path)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		for _, rs := range req.ResourceSpans {
			for _, kv := range rs.Resource.GetAttributes() {
				if kv.Key == "service.name" {
					c.services = append(c.services, kv.Value.GetStringValue())
				}
			}
			for _, ss := range rs.ScopeSpans {
				c.spans = append(c.spans, ss.Spans...)
			}
		}
		c.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	return c, srv.URL
}

func (c *collector) byName() map[string]*tracepb.Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := map[string]*tracepb.Span{}
	for _, s := range c.spans {
		m[s.Name] = s
	}
	return m
}

func attr(s *tracepb.Span, key string) string {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			return kv.Value.GetStringValue()
		}
	}
	return ""
}

// unsetOTel clears the variables Setup reads, whatever the environment of
// the test run.
func unsetOTel(t *testing.T) {
	for _, v := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
		"OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_PROTOCOL",
		"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_TRACES_SAMPLER"} {
		t.Setenv(v, "")
	}
}

func TestNothingWithoutAnEndpoint(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"unset":    {},
		"disabled": {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_SDK_DISABLED": "true"},
		"none":     {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_TRACES_EXPORTER": "none"},
	} {
		t.Run(name, func(t *testing.T) {
			unsetOTel(t)
			for k, v := range env {
				t.Setenv(k, v)
			}
			tr, err := Setup(context.Background(), slog.New(slog.DiscardHandler))
			if err != nil || tr != nil {
				t.Fatalf("Setup = %v, %v; want nothing set up", tr, err)
			}
			h := &struct{ http.Handler }{http.NotFoundHandler()}
			if got := tr.Wrap(h); got != h {
				t.Error("Wrap wrapped the handler")
			}
			if opts := tr.StoreOptions(nil); opts != nil {
				t.Errorf("StoreOptions = %v, want none", opts)
			}
			if err := tr.Close(); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestBadSettingsAreErrors(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"protocol": {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"},
		"exporter": {"OTEL_TRACES_EXPORTER": "zipkin"},
	} {
		t.Run(name, func(t *testing.T) {
			unsetOTel(t)
			t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
			for k, v := range env {
				t.Setenv(k, v)
			}
			if tr, err := Setup(context.Background(), slog.New(slog.DiscardHandler)); err == nil {
				_ = tr.Close()
				t.Fatal("Setup accepted", env)
			}
		})
	}
}

// TestExportsARequestsTrace serves one request through a ServeMux route
// cached by cachefront, whose handler loads through a Cache, and checks
// what the collector receives: one trace, continuing the caller's, from
// the HTTP span down to the Redis commands.
func TestExportsARequestsTrace(t *testing.T) {
	for _, env := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"} {
		t.Run(env, func(t *testing.T) {
			unsetOTel(t)
			col, url := newCollector(t)
			if env == "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" {
				url += "/v1/traces" // the signal's own endpoint is the full URL
			}
			t.Setenv(env, url)
			tr, err := Setup(context.Background(), slog.New(slog.DiscardHandler))
			if err != nil || tr == nil {
				t.Fatalf("Setup = %v, %v", tr, err)
			}
			defer tr.Close()

			mr := miniredis.RunT(t)
			rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
			defer rdb.Close()
			store := cachefront.NewStore(rdb, tr.StoreOptions(rdb)...)
			defer store.Close()
			products := cachefront.New[string](store, "products")
			mux := http.NewServeMux()
			mux.Handle("GET /products/{asin}", cachefront.Middleware(store, cachefront.WithName("product-pages"))(
				http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					title, err := products.GetOrLoad(r.Context(), r.PathValue("asin"), func(context.Context) (string, error) {
						return "Kettle", nil // the database query
					})
					if err != nil {
						http.Error(w, err.Error(), http.StatusInternalServerError)
						return
					}
					_, _ = io.WriteString(w, title)
				})))
			mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {})
			h := tr.Wrap(mux)

			const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
			req := httptest.NewRequest(http.MethodGet, "/products/B01", nil)
			req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK || rec.Body.String() != "Kettle" {
				t.Fatalf("GET /products/B01: %d %q", rec.Code, rec.Body)
			}
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/healthz", nil))
			if err := tr.Close(); err != nil { // flushes
				t.Fatal(err)
			}

			spans := col.byName()
			for _, name := range []string{"GET /products/{asin}", "cachefront http", "cachefront get_or_load", "cachefront load", "get"} {
				s := spans[name]
				if s == nil {
					t.Fatalf("no span %q among %d exported", name, len(col.spans))
				}
				if got := hex.EncodeToString(s.TraceId); got != traceID {
					t.Errorf("span %q is of trace %s, want the caller's %s", name, got, traceID)
				}
			}
			if _, ok := spans["GET /healthz"]; ok || len(spans) == 0 {
				t.Error("a health check was traced")
			}
			parentOf := func(child, parent string) {
				t.Helper()
				if string(spans[child].ParentSpanId) != string(spans[parent].SpanId) {
					t.Errorf("span %q is not a child of %q", child, parent)
				}
			}
			parentOf("cachefront http", "GET /products/{asin}")
			parentOf("cachefront get_or_load", "cachefront http")
			parentOf("cachefront load", "cachefront get_or_load")
			if r := attr(spans["cachefront get_or_load"], "cachefront.result"); r != "miss" {
				t.Errorf("get_or_load result %q, want miss", r)
			}
			if st := attr(spans["get"], "db.statement"); st != "" {
				t.Errorf("a Redis span records its command: %q", st)
			}
			col.mu.Lock()
			defer col.mu.Unlock()
			for _, s := range col.services {
				if s != ServiceName {
					t.Errorf("service.name %q, want %q", s, ServiceName)
				}
			}
		})
	}
}

func TestServiceNameFromTheEnvironment(t *testing.T) {
	unsetOTel(t)
	col, url := newCollector(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", url)
	t.Setenv("OTEL_SERVICE_NAME", "productapi-eu")
	tr, err := Setup(context.Background(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	h := tr.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/x", nil))
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	// Close exported what was left before returning.
	col.mu.Lock()
	defer col.mu.Unlock()
	if len(col.services) == 0 || col.services[0] != "productapi-eu" {
		t.Fatalf("service.name %v, want OTEL_SERVICE_NAME's", col.services)
	}
}
