// Package telemetry exports the service's traces over OTLP when the
// standard OpenTelemetry variables ask for it: an OTLP endpoint,
// OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT. The
// exporter and the SDK read the other OTEL_* variables themselves
// (OTEL_EXPORTER_OTLP_PROTOCOL, _HEADERS, _TIMEOUT, OTEL_TRACES_SAMPLER,
// OTEL_BSP_*, OTEL_RESOURCE_ATTRIBUTES; OTEL_SERVICE_NAME defaults to
// productapi). Without an endpoint nothing is set up: no provider, no HTTP
// wrapper, no cache observer, no cost.
//
// A request's trace is its HTTP span (otelhttp), the cachefront spans of
// the cache operations it made (hit or miss, and the loader's span on a
// miss, where the database work happens) and the Redis commands beneath
// them (redisotel, without their arguments).
package telemetry

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/cachefront/cachefront"
	"github.com/cachefront/cachefront/extra/cachefrontotel"
	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// ServiceName is the service.name of the traces unless OTEL_SERVICE_NAME
// (or OTEL_RESOURCE_ATTRIBUTES) says otherwise.
const ServiceName = "productapi"

// Tracing is the tracing Setup set up. A nil *Tracing, what Setup returns
// when tracing is off, is valid: its methods then do nothing.
type Tracing struct {
	provider   *sdktrace.TracerProvider
	observer   *cachefrontotel.Observer
	propagator propagation.TextMapPropagator
	log        *slog.Logger
}

// Setup starts exporting traces when OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set, and OTEL_SDK_DISABLED is not
// true nor OTEL_TRACES_EXPORTER none; otherwise it returns nil. The protocol
// is OTLP/HTTP unless OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL is grpc. Export
// failures are logged to log. Call Close to flush and stop.
func Setup(ctx context.Context, log *slog.Logger) (*Tracing, error) {
	endpoint := firstEnv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
	if endpoint == "" || strings.EqualFold(os.Getenv("OTEL_SDK_DISABLED"), "true") {
		return nil, nil
	}
	switch e := os.Getenv("OTEL_TRACES_EXPORTER"); e {
	case "", "otlp":
	case "none":
		return nil, nil
	default:
		return nil, fmt.Errorf("OTEL_TRACES_EXPORTER=%s: only otlp and none are supported", e)
	}
	protocol := firstEnv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
	var exporter sdktrace.SpanExporter
	var err error
	switch protocol {
	case "", "http/protobuf":
		protocol = "http/protobuf"
		exporter, err = otlptracehttp.New(ctx)
	case "grpc":
		exporter, err = otlptracegrpc.New(ctx)
	default:
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL=%s: only http/protobuf and grpc are supported", protocol)
	}
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	res, err := resource.New(ctx,
		resource.WithSchemaURL(semconv.SchemaURL),
		resource.WithAttributes(semconv.ServiceName(ServiceName)),
		resource.WithFromEnv(), // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override the name
		resource.WithTelemetrySDK(),
		resource.WithHost(),
	)
	if err != nil {
		_ = exporter.Shutdown(ctx)
		return nil, fmt.Errorf("OpenTelemetry resource: %w", err)
	}
	// The SDK reads OTEL_TRACES_SAMPLER(_ARG) and OTEL_BSP_* itself.
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res))
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.Warn("OpenTelemetry", "error", err)
	}))
	log.Info("exporting traces over OTLP", "protocol", protocol, "endpoint", redacted(endpoint),
		"service", serviceName(res))
	return &Tracing{
		provider:   tp,
		observer:   cachefrontotel.New(cachefrontotel.WithTracerProvider(tp)),
		propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
		log:        log,
	}, nil
}

// StoreOptions traces rdb's commands (without their arguments, which hold
// keys and values) and returns the options that trace a Store's
// operations: none when t is nil.
func (t *Tracing) StoreOptions(rdb redis.UniversalClient) []cachefront.Option {
	if t == nil {
		return nil
	}
	if err := redisotel.InstrumentTracing(rdb, redisotel.WithTracerProvider(t.provider),
		redisotel.WithDBStatement(false), redisotel.WithCallerEnabled(false),
		// A dial happens outside any request: its span would be a
		// trace of its own.
		redisotel.WithDialFilter(true)); err != nil {
		t.log.Warn("Redis commands are not traced", "error", err)
	}
	return []cachefront.Option{cachefront.WithObserver(t.observer)}
}

// Wrap returns h traced with otelhttp: a server span per request, named by
// its method and ServeMux pattern when h routes with one ("GET
// /products/{asin}"), continuing the caller's trace (W3C traceparent).
// Health checks and metrics scrapes are not traced. When t is nil Wrap
// returns h.
func (t *Tracing) Wrap(h http.Handler) http.Handler {
	if t == nil {
		return h
	}
	return otelhttp.NewHandler(h, ServiceName,
		otelhttp.WithTracerProvider(t.provider),
		otelhttp.WithPropagators(t.propagator),
		otelhttp.WithSpanNameFormatter(spanName),
		otelhttp.WithFilter(func(r *http.Request) bool {
			switch r.URL.Path {
			case "/healthz", "/readyz", "/metrics":
				return false
			}
			return true
		}))
}

// spanName is the HTTP server span's name: "{method} {route}" as the
// semantic conventions have it, or the method alone before routing.
func spanName(_ string, r *http.Request) string {
	switch {
	case r.Pattern == "":
		return r.Method
	case strings.HasPrefix(r.Pattern, r.Method+" "):
		return r.Pattern
	default:
		return r.Method + " " + r.Pattern
	}
}

// Close exports the spans not yet exported, within five seconds, and stops
// tracing. It does nothing when t is nil.
func (t *Tracing) Close() error {
	if t == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return t.provider.Shutdown(ctx)
}

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

// redacted is endpoint without a password, for the log.
func redacted(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "(unparsable)"
	}
	return u.Redacted()
}

func serviceName(res *resource.Resource) string {
	v, _ := res.Set().Value(semconv.ServiceNameKey)
	return v.AsString()
}
