package cachefrontotel

import (
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// Option configures New.
type Option interface {
	apply(*options)
}

type options struct {
	tracerProvider trace.TracerProvider
	meterProvider  metric.MeterProvider // nil: no metrics
	meterSet       bool                 // WithMeterProvider was given
	keyHashes      bool
	tagHashes      bool
}

func defaultOptions() options {
	return options{tracerProvider: otel.GetTracerProvider()}
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// WithTracerProvider makes the spans with tp. Default: the global provider,
// otel.GetTracerProvider(), as it is when New is called (the global
// provider forwards to one set later with otel.SetTracerProvider).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(o *options) { o.tracerProvider = tp })
}

// WithMeterProvider records the operations as metrics too: a counter,
// cachefront.operations, and a histogram of their durations in seconds,
// cachefront.operation.duration, each by cache, operation, result, layer
// and error.type. Default: no metrics (cachefront's own Prometheus metrics,
// cachefront.WithRegisterer, count the same reads by cache).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(o *options) { o.meterProvider, o.meterSet = mp, true })
}

// WithKeyHashes records the keys an operation names, hashed, in the
// attributes cachefront.key.hash (an operation naming one key) or
// cachefront.key.hashes (several; the first 32). A key's hash is the first
// 16 hex digits of the SHA-256 of the key as the caller passed it (for
// Store.Delete, the Store key): compute it with
//
//	printf %s "$key" | sha256sum | cut -c1-16
//
// to find the spans of one key. A hash hides nothing from someone who can
// guess the key (a product ID, an email address): turn this on only where
// the trace backend may see what the keys would tell. Default: off; spans
// carry only the number of keys (cachefront.key.count) of operations naming
// several.
func WithKeyHashes(on bool) Option {
	return optionFunc(func(o *options) { o.keyHashes = on })
}

// WithTagHashes records the tags of InvalidateTags, hashed as WithKeyHashes
// hashes keys, in the attribute cachefront.tag.hashes (the first 32).
// Default: off; spans carry only the number of tags (cachefront.tag.count).
func WithTagHashes(on bool) Option {
	return optionFunc(func(o *options) { o.tagHashes = on })
}
