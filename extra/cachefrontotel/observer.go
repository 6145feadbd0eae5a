package cachefrontotel

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/cachefront/cachefront"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the spans and metrics: the
// name of the Tracer and Meter an Observer gets from its providers.
const ScopeName = "github.com/cachefront/cachefront/extra/cachefrontotel"

// The attributes of the spans, beside the semantic conventions' error.type.
const (
	AttrCache       = attribute.Key("cachefront.cache")        // the cache's name; absent for Store.Delete and Store.InvalidateTags
	AttrOperation   = attribute.Key("cachefront.operation")    // "get", "get_or_load", … (cachefront.OperationKind.String)
	AttrResult      = attribute.Key("cachefront.result")       // reads: "hit", "miss", "error", "bypass"
	AttrLayer       = attribute.Key("cachefront.layer")        // reads: "local", "redis", "loader"
	AttrWaited      = attribute.Key("cachefront.waited")       // "shared_load", "lease"; absent when the read waited on nothing
	AttrStale       = attribute.Key("cachefront.stale")        // true when the read found an invalidated entry; absent otherwise
	AttrRedisFailed = attribute.Key("cachefront.redis_failed") // true when the call went on without Redis; absent otherwise
	AttrHits        = attribute.Key("cachefront.hits")         // GetMany, GetManyOrLoad: keys served from the cache
	AttrMisses      = attribute.Key("cachefront.misses")       // GetMany, GetManyOrLoad: keys not
	AttrKeyCount    = attribute.Key("cachefront.key.count")    // GetMany, GetManyOrLoad, Delete, load: the number of keys
	AttrTagCount    = attribute.Key("cachefront.tag.count")    // InvalidateTags: the number of tags
	AttrKeyHash     = attribute.Key("cachefront.key.hash")     // WithKeyHashes: the hash of the one key
	AttrKeyHashes   = attribute.Key("cachefront.key.hashes")   // WithKeyHashes: the hashes of several keys
	AttrTagHashes   = attribute.Key("cachefront.tag.hashes")   // WithTagHashes: the hashes of the tags
)

// maxHashes is how many keys or tags of one operation get their hashes
// recorded; the counts give the total.
const maxHashes = 32

// Observer makes an OpenTelemetry span of each cachefront operation and,
// with WithMeterProvider, records it in metrics. Pass it to
// cachefront.WithObserver. It is safe for concurrent use.
type Observer struct {
	tracer     trace.Tracer
	spanNames  [cachefront.OpHTTP + 1]string
	keyHashes  bool
	tagHashes  bool
	operations metric.Int64Counter     // nil without a MeterProvider
	durations  metric.Float64Histogram // nil without a MeterProvider

	// starts holds the start options of each operation and cache seen
	// (spanKey → []trace.SpanStartOption), and measures the metric
	// options of each combination of attributes seen (metricKey →
	// *measureOptions), so that an operation builds neither.
	starts, measures sync.Map
}

// measureOptions are the options of one set of metric attributes.
type measureOptions struct {
	add    []metric.AddOption
	record []metric.RecordOption
}

var _ cachefront.Observer = (*Observer)(nil)

// New returns an Observer configured by opts. It panics with an error
// wrapping cachefront.ErrInvalidOption when a provider given is nil.
func New(opts ...Option) *Observer {
	cfg := defaultOptions()
	for _, opt := range opts {
		opt.apply(&cfg)
	}
	if cfg.tracerProvider == nil {
		panic(fmt.Errorf("%w: cachefrontotel: WithTracerProvider: provider is nil", cachefront.ErrInvalidOption))
	}
	o := &Observer{
		tracer:    cfg.tracerProvider.Tracer(ScopeName),
		keyHashes: cfg.keyHashes,
		tagHashes: cfg.tagHashes,
	}
	for k := range o.spanNames {
		o.spanNames[k] = "cachefront " + cachefront.OperationKind(k).String()
	}
	if cfg.meterSet && cfg.meterProvider == nil {
		panic(fmt.Errorf("%w: cachefrontotel: WithMeterProvider: provider is nil", cachefront.ErrInvalidOption))
	}
	if cfg.meterProvider != nil {
		m := cfg.meterProvider.Meter(ScopeName)
		var err error
		// The names are constant and valid, so these errors are not
		// expected; the instruments returned with one still work.
		o.operations, err = m.Int64Counter("cachefront.operations", metric.WithUnit("{operation}"),
			metric.WithDescription("Cache operations, by cache, operation, result and layer."))
		if err != nil {
			otel.Handle(err)
		}
		o.durations, err = m.Float64Histogram("cachefront.operation.duration", metric.WithUnit("s"),
			metric.WithDescription("Duration of cache operations."),
			metric.WithExplicitBucketBoundaries(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
				0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
		if err != nil {
			otel.Handle(err)
		}
	}
	return o
}

// Start starts the operation's span, a child of the span in ctx if any, and
// returns ctx with it.
func (o *Observer) Start(ctx context.Context, op cachefront.Operation) context.Context {
	ctx, span := o.tracer.Start(ctx, o.spanName(op.Kind), o.startOptions(op)...)
	if span.IsRecording() {
		switch op.Kind {
		case cachefront.OpGetMany, cachefront.OpGetManyOrLoad, cachefront.OpDelete, cachefront.OpLoad:
			span.SetAttributes(AttrKeyCount.Int(len(op.Keys)))
		case cachefront.OpInvalidateTags:
			span.SetAttributes(AttrTagCount.Int(len(op.Tags)))
		}
		if o.keyHashes && len(op.Keys) == 1 {
			span.SetAttributes(AttrKeyHash.String(Hash(op.Keys[0])))
		} else if o.keyHashes && len(op.Keys) > 1 {
			span.SetAttributes(AttrKeyHashes.StringSlice(hashes(op.Keys)))
		}
		if o.tagHashes && len(op.Tags) > 0 {
			span.SetAttributes(AttrTagHashes.StringSlice(hashes(op.Tags)))
		}
	}
	if o.operations != nil {
		ctx = &timedContext{Context: ctx, start: time.Now()}
	}
	return ctx
}

// timedContext carries the start of an operation whose metrics the
// Observer records.
type timedContext struct {
	context.Context
	start time.Time
}

type startKey struct{}

func (c *timedContext) Value(key any) any {
	if key == (startKey{}) {
		return c
	}
	return c.Context.Value(key)
}

// spanKey is what distinguishes the start options of spans.
type spanKey struct {
	kind  cachefront.OperationKind
	cache string
}

// startOptions returns the options starting op's span: its kind and the
// attributes known at the start, for samplers to see. They are built once
// per operation and cache (o.starts), so that starting a span that is not
// sampled costs the least.
func (o *Observer) startOptions(op cachefront.Operation) []trace.SpanStartOption {
	k := spanKey{op.Kind, op.Cache}
	if v, ok := o.starts.Load(k); ok {
		return v.([]trace.SpanStartOption)
	}
	attrs := []attribute.KeyValue{AttrOperation.String(op.Kind.String())}
	if op.Cache != "" {
		attrs = append(attrs, AttrCache.String(op.Cache))
	}
	v, _ := o.starts.LoadOrStore(k, []trace.SpanStartOption{
		trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(attrs...)})
	return v.([]trace.SpanStartOption)
}

// End ends the operation's span, setting its outcome. An error is recorded
// and sets the span's status, except one matching cachefront.ErrNotFound:
// a miss is no failure. An error message that contains one of the
// operation's keys or tags is recorded without its details.
func (o *Observer) End(ctx context.Context, op cachefront.Operation, out cachefront.Outcome) {
	failed := out.Err != nil && !errors.Is(out.Err, cachefront.ErrNotFound)
	var errType attribute.KeyValue
	if failed {
		errType = errorType(out.Err)
	}
	span := trace.SpanFromContext(ctx)
	if span.IsRecording() {
		var attrs [9]attribute.KeyValue
		n := 0
		add := func(kv attribute.KeyValue) { attrs[n] = kv; n++ }
		if out.Result != cachefront.ResultNone {
			add(AttrResult.String(out.Result.String()))
		}
		if out.Layer != cachefront.LayerNone {
			add(AttrLayer.String(out.Layer.String()))
		}
		if out.Waited != cachefront.WaitNone {
			add(AttrWaited.String(out.Waited.String()))
		}
		if out.Stale {
			add(AttrStale.Bool(true))
		}
		if out.RedisFailed {
			add(AttrRedisFailed.Bool(true))
		}
		if op.Kind == cachefront.OpGetMany || op.Kind == cachefront.OpGetManyOrLoad {
			add(AttrHits.Int(out.Hits))
			add(AttrMisses.Int(out.Misses))
		}
		if failed {
			add(errType)
		}
		span.SetAttributes(attrs[:n]...)
		if failed {
			recordError(span, op, out.Err)
		}
	}
	span.End()
	if o.operations != nil {
		o.record(ctx, op, out, errType)
	}
}

func (o *Observer) spanName(k cachefront.OperationKind) string {
	if int(k) < len(o.spanNames) {
		return o.spanNames[k]
	}
	return "cachefront " + k.String()
}

// metricKey is what distinguishes the metric attribute sets.
type metricKey struct {
	kind    cachefront.OperationKind
	cache   string
	result  cachefront.Result
	layer   cachefront.Layer
	errType string
}

func (o *Observer) record(ctx context.Context, op cachefront.Operation, out cachefront.Outcome, errType attribute.KeyValue) {
	var took time.Duration
	if tc, ok := ctx.Value(startKey{}).(*timedContext); ok {
		took = time.Since(tc.start)
	}
	k := metricKey{kind: op.Kind, cache: op.Cache, result: out.Result, layer: out.Layer, errType: errType.Value.AsString()}
	v, ok := o.measures.Load(k)
	if !ok {
		attrs := []attribute.KeyValue{AttrOperation.String(k.kind.String())}
		if k.cache != "" {
			attrs = append(attrs, AttrCache.String(k.cache))
		}
		if k.result != cachefront.ResultNone {
			attrs = append(attrs, AttrResult.String(k.result.String()))
		}
		if k.layer != cachefront.LayerNone {
			attrs = append(attrs, AttrLayer.String(k.layer.String()))
		}
		if k.errType != "" {
			attrs = append(attrs, errType)
		}
		set := metric.WithAttributeSet(attribute.NewSet(attrs...))
		v, _ = o.measures.LoadOrStore(k, &measureOptions{add: []metric.AddOption{set}, record: []metric.RecordOption{set}})
	}
	m := v.(*measureOptions)
	o.operations.Add(ctx, 1, m.add...)
	o.durations.Record(ctx, took.Seconds(), m.record...)
}

// errorType is the error.type of a failed operation: the cachefront
// sentinel err matches, a context error, or what the semantic conventions
// derive from its type.
func errorType(err error) attribute.KeyValue {
	var pe *cachefront.PanicError
	switch {
	case errors.Is(err, cachefront.ErrUnavailable):
		return semconv.ErrorTypeKey.String("unavailable")
	case errors.Is(err, cachefront.ErrClosed):
		return semconv.ErrorTypeKey.String("closed")
	case errors.Is(err, cachefront.ErrInvalidKey):
		return semconv.ErrorTypeKey.String("invalid_key")
	case errors.Is(err, cachefront.ErrInvalidTag):
		return semconv.ErrorTypeKey.String("invalid_tag")
	case errors.Is(err, cachefront.ErrInvalidOption):
		return semconv.ErrorTypeKey.String("invalid_option")
	case errors.Is(err, context.DeadlineExceeded):
		return semconv.ErrorTypeKey.String("deadline_exceeded")
	case errors.Is(err, context.Canceled):
		return semconv.ErrorTypeKey.String("canceled")
	case errors.As(err, &pe):
		return semconv.ErrorTypeKey.String("panic")
	}
	return semconv.ErrorType(err)
}

// recordError records err on span, as span.RecordError does, and sets the
// span's status to Error.
func recordError(span trace.Span, op cachefront.Operation, err error) {
	msg := err.Error()
	if namesOne(msg, op.Keys) || namesOne(msg, op.Tags) {
		// A key or tag may say who the caller is serving; the message
		// is dropped, its kind kept.
		msg = fmt.Sprintf("%s error (message withheld: it names a key or tag of the operation)",
			errorType(err).Value.AsString())
		span.AddEvent(semconv.ExceptionEventName, trace.WithAttributes(
			semconv.ExceptionType(typeName(err)), semconv.ExceptionMessage(msg)))
	} else {
		span.RecordError(err)
	}
	span.SetStatus(codes.Error, msg)
}

// namesOne reports whether msg contains one of names.
func namesOne(msg string, names []string) bool {
	for _, n := range names {
		if n != "" && strings.Contains(msg, n) {
			return true
		}
	}
	return false
}

// typeName is the exception.type of err, as the SDK's RecordError names it.
func typeName(err error) string {
	t := reflect.TypeOf(err)
	if t.PkgPath() == "" && t.Name() == "" {
		return t.String()
	}
	return t.PkgPath() + "." + t.Name()
}

// Hash returns the hash under which WithKeyHashes and WithTagHashes record
// s: the first 16 hex digits of its SHA-256.
func Hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}

func hashes(ss []string) []string {
	hs := make([]string, min(len(ss), maxHashes))
	for i := range hs {
		hs[i] = Hash(ss[i])
	}
	return hs
}
