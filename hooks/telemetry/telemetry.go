// Package telemetry makes nencds observable with OpenTelemetry without letting a single
// patient detail out: traces (a server span per request named by its route template, child
// spans for prefetch resolution, each FHIR fetch, mapping and rule evaluation), metrics
// (request duration, cards by topic, prefetch keys by disposition, FHIR fetch duration and
// errors, auth failures by reason, feedback outcomes by topic) and trace ids in slog logs.
//
// Exporters follow the standard OTEL_* environment variables (see Setup). Only a short,
// closed list of attribute keys is ever written (route template, method, status, service
// id, topic code, prefetch key and disposition, reason, outcome, FHIR server host and port);
// codes passed in by callers go through a low-cardinality filter (prefetch keys outside the
// fixed contract become "other", anything that is not a short code becomes "other"), and
// error texts are never recorded (they embed URLs): no path, query, patient id, token, JWT
// or resource content reaches a span, a metric label or a log attribute from here.
//
// A nil *Telemetry is valid: every method then does nothing (or passes through), so code
// and tests that do not care about telemetry need not set it up.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// DefaultServiceName is the service.name resource attribute when OTEL_SERVICE_NAME (or
// service.name in OTEL_RESOURCE_ATTRIBUTES) does not set one.
const DefaultServiceName = "nencds"

// instrumentationName is the tracer and meter scope name.
const instrumentationName = "github.com/nencds/nencds/hooks/telemetry"

// Config configures Setup. The zero value is the production default: exporters come from
// the OTEL_* environment only.
type Config struct {
	// ServiceVersion is the service.version resource attribute (the build version); empty
	// leaves it out.
	ServiceVersion string
	// Prometheus serves metrics in the Prometheus text format from MetricsHandler. It is
	// also switched on by OTEL_METRICS_EXPORTER=prometheus.
	Prometheus bool

	// Getenv reads the environment; os.Getenv when nil. Tests set it to stay hermetic.
	Getenv func(string) string
	// SpanExporter, when set, receives every span synchronously instead of the exporter
	// chosen by the environment. For tests (tracetest.NewInMemoryExporter).
	SpanExporter sdktrace.SpanExporter
	// MetricReader, when set, is added to the meter provider. For tests
	// (sdkmetric.NewManualReader).
	MetricReader sdkmetric.Reader
}

// Telemetry holds the tracer, the meter instruments and the optional Prometheus handler.
// Build it with Setup; a nil *Telemetry does nothing.
type Telemetry struct {
	tracer     trace.Tracer
	propagator propagation.TextMapPropagator
	metrics    http.Handler
	exporting  bool // a span exporter is registered

	requestDuration metric.Float64Histogram
	cardsEmitted    metric.Int64Counter
	cardsInvalid    metric.Int64Counter
	prefetchKeys    metric.Int64Counter
	fetchDuration   metric.Float64Histogram
	fetchErrors     metric.Int64Counter
	authFailures    metric.Int64Counter
	feedback        metric.Int64Counter
	partialReads    metric.Int64Counter
	store           storeInstruments
}

// Setup builds the telemetry pipeline from cfg and the standard environment variables:
//
//   - OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES: resource (service.name defaults to nencds).
//   - OTEL_SDK_DISABLED=true: no exporter at all (spans still carry ids for log correlation).
//   - OTEL_TRACES_EXPORTER: "otlp" (default) or "none". Traces are exported with OTLP over
//     HTTP (http/protobuf) only when OTEL_EXPORTER_OTLP_ENDPOINT or
//     OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set; the exporter itself reads the other
//     OTEL_EXPORTER_OTLP_* variables (headers, timeout, certificate, compression).
//     OTEL_EXPORTER_OTLP_PROTOCOL or ..._TRACES_PROTOCOL other than http/protobuf is an error.
//   - OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG: read by the SDK (default parentbased_always_on).
//   - OTEL_METRICS_EXPORTER: "prometheus" enables MetricsHandler (as cfg.Prometheus does);
//     "none" or unset adds nothing; "otlp" is an error (this build exports metrics to
//     Prometheus only; let the collector scrape /metrics).
//
// The returned shutdown flushes pending spans and stops the providers; call it once, with a
// deadline, after the HTTP server has drained.
func Setup(ctx context.Context, cfg Config) (*Telemetry, func(context.Context) error, error) {
	getenv := cfg.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	disabled := strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true")

	res, err := newResource(cfg, getenv)
	if err != nil {
		return nil, nil, err
	}

	// Traces.
	tpOpts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	exporting := false
	switch {
	case cfg.SpanExporter != nil:
		tpOpts = append(tpOpts, sdktrace.WithSyncer(cfg.SpanExporter))
		exporting = true
	case !disabled:
		exp, err := newTraceExporter(ctx, getenv)
		if err != nil {
			return nil, nil, err
		}
		if exp != nil {
			tpOpts = append(tpOpts, sdktrace.WithBatcher(exp))
			exporting = true
		}
	}
	tp := sdktrace.NewTracerProvider(tpOpts...)

	// Metrics.
	promOn, err := prometheusWanted(cfg, getenv, disabled)
	if err != nil {
		return nil, nil, err
	}
	mpOpts := []sdkmetric.Option{sdkmetric.WithResource(res)}
	var handler http.Handler
	if promOn {
		reg := prometheus.NewRegistry()
		// The Go runtime (goroutines, heap, GC pauses: go_*) and the process (resident
		// memory, CPU seconds, open file descriptors: process_*), beside the CDS metrics.
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		exp, err := otelprom.New(otelprom.WithRegisterer(reg))
		if err != nil {
			return nil, nil, fmt.Errorf("telemetry: prometheus exporter: %w", err)
		}
		mpOpts = append(mpOpts, sdkmetric.WithReader(exp))
		handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	}
	if cfg.MetricReader != nil {
		mpOpts = append(mpOpts, sdkmetric.WithReader(cfg.MetricReader))
	}
	mp := sdkmetric.NewMeterProvider(mpOpts...)

	t := &Telemetry{
		tracer:     tp.Tracer(instrumentationName),
		propagator: propagation.TraceContext{},
		metrics:    handler,
		exporting:  exporting,
	}
	if err := t.newInstruments(mp.Meter(instrumentationName)); err != nil {
		return nil, nil, err
	}
	if err := t.store.init(mp.Meter(instrumentationName)); err != nil {
		return nil, nil, err
	}

	shutdown := func(ctx context.Context) error {
		return errors.Join(tp.Shutdown(ctx), mp.Shutdown(ctx))
	}
	return t, shutdown, nil
}

// MetricsHandler serves /metrics in the Prometheus text format, or is nil when Prometheus is
// not enabled. Mount it on its own route (it is not wrapped by Middleware's tracing).
func (t *Telemetry) MetricsHandler() http.Handler {
	if t == nil {
		return nil
	}
	return t.metrics
}

func newResource(cfg Config, getenv func(string) string) (*resource.Resource, error) {
	attrs := []attribute.KeyValue{attribute.String("service.name", DefaultServiceName)}
	if cfg.ServiceVersion != "" {
		attrs = append(attrs, attribute.String("service.version", cfg.ServiceVersion))
	}
	base := resource.NewSchemaless(attrs...)
	// resource.WithFromEnv reads os.Getenv; parse the two variables through getenv instead
	// so that tests stay hermetic. Later values win, as in the SDK.
	var fromEnv []attribute.KeyValue
	for _, kv := range strings.Split(getenv("OTEL_RESOURCE_ATTRIBUTES"), ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || strings.TrimSpace(k) == "" {
			continue
		}
		fromEnv = append(fromEnv, attribute.String(strings.TrimSpace(k), strings.TrimSpace(v)))
	}
	if name := strings.TrimSpace(getenv("OTEL_SERVICE_NAME")); name != "" {
		fromEnv = append(fromEnv, attribute.String("service.name", name))
	}
	res, err := resource.Merge(base, resource.NewSchemaless(fromEnv...))
	if err != nil {
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}
	return res, nil
}

// newTraceExporter returns the OTLP/HTTP exporter when an endpoint is configured, or nil.
func newTraceExporter(ctx context.Context, getenv func(string) string) (sdktrace.SpanExporter, error) {
	switch v := strings.ToLower(strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER"))); v {
	case "", "otlp":
	case "none":
		return nil, nil
	default:
		return nil, fmt.Errorf("telemetry: OTEL_TRACES_EXPORTER=%q is not supported (use otlp or none)", v)
	}
	if getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
		return nil, nil
	}
	for _, key := range []string{"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"} {
		if p := strings.TrimSpace(getenv(key)); p != "" && p != "http/protobuf" {
			return nil, fmt.Errorf("telemetry: %s=%q is not supported (this build speaks http/protobuf)", key, p)
		}
	}
	// The exporter reads OTEL_EXPORTER_OTLP_* itself (endpoint, headers, timeout, TLS).
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("telemetry: OTLP trace exporter: %w", err)
	}
	return exp, nil
}

func prometheusWanted(cfg Config, getenv func(string) string, disabled bool) (bool, error) {
	on := cfg.Prometheus
	for _, v := range strings.Split(getenv("OTEL_METRICS_EXPORTER"), ",") {
		switch v = strings.ToLower(strings.TrimSpace(v)); v {
		case "", "none":
		case "prometheus":
			on = true
		default:
			return false, fmt.Errorf("telemetry: OTEL_METRICS_EXPORTER=%q is not supported (use prometheus or none; the collector can scrape /metrics)", v)
		}
	}
	return on && !disabled, nil
}
