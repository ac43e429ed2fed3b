package telemetry

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Child span names.
const (
	SpanPrefetch = "prefetch.resolve" // deciding every prefetch key, including the FHIR fallback
	SpanFetch    = "prefetch.fetch"   // fetching one prefetch key from fhirServer (all its pages)
	SpanMapping  = "fhirmap.Map"      // FHIR documents to the clinical picture
	SpanRules    = "cards.Evaluate"   // guideline rules to cards
)

// untraced routes: probes and the metrics scrape would drown the traces.
var untraced = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// Middleware returns Gin middleware that starts the server span of each request, named
// "METHOD route-template" (never the raw path, which could carry ids), continues a W3C
// traceparent sent by the client, puts the span into c.Request's context, and records
// http.server.request.duration by route template, method and status. Unmatched routes are
// named "unmatched". /healthz, /readyz and /metrics pass through untraced.
//
// It may run inside or outside the recovery middleware: a panic that passes through it is
// recorded as a 500 (and keeps propagating to the recovery handler).
func (t *Telemetry) Middleware() gin.HandlerFunc {
	if t == nil {
		return func(c *gin.Context) { c.Next() }
	}
	return func(c *gin.Context) {
		route := c.FullPath()
		if untraced[route] {
			c.Next()
			return
		}
		if route == "" {
			route = "unmatched"
		}
		method := c.Request.Method
		switch method {
		case http.MethodGet, http.MethodPost, http.MethodOptions, http.MethodHead, http.MethodPut,
			http.MethodDelete, http.MethodPatch:
		default:
			method = "_OTHER"
		}
		start := time.Now()
		ctx := t.propagator.Extract(c.Request.Context(), propagation.HeaderCarrier(c.Request.Header))
		ctx, span := t.tracer.Start(ctx, method+" "+route,
			trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(AttrRoute.String(route), AttrMethod.String(method)))
		c.Request = c.Request.WithContext(ctx)

		panicked := true
		defer func() {
			status := c.Writer.Status()
			if panicked {
				status = http.StatusInternalServerError
			}
			span.SetAttributes(AttrStatus.Int(status))
			if status >= 500 {
				span.SetStatus(codes.Error, http.StatusText(status))
			}
			span.End()
			t.requestDuration.Record(context.WithoutCancel(ctx), time.Since(start).Seconds(),
				metric.WithAttributes(AttrRoute.String(route), AttrMethod.String(method), AttrStatus.Int(status)))
		}()
		c.Next()
		panicked = false
	}
}

// StartSpan starts a child span of the span in ctx; name should be one of the Span*
// constants. Attributes must come from this package's Attr* keys with code values (never
// ids or data). End the span with span.End(); mark a failure with Fail.
func (t *Telemetry) StartSpan(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	if t == nil {
		return ctx, noop.Span{}
	}
	return t.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(attrs...))
}

// StartPrefetch starts the prefetch-resolution span.
func (t *Telemetry) StartPrefetch(ctx context.Context) (context.Context, trace.Span) {
	return t.StartSpan(ctx, SpanPrefetch)
}

// StartFetch starts the span for fetching one prefetch key from the FHIR server; the HTTP
// requests made with ctx (through Transport) become its children.
func (t *Telemetry) StartFetch(ctx context.Context, key string) (context.Context, trace.Span) {
	return t.StartSpan(ctx, SpanFetch, prefetchKeyAttr(key))
}

// StartMapping starts the span around fhirmap.Map.
func (t *Telemetry) StartMapping(ctx context.Context) (context.Context, trace.Span) {
	return t.StartSpan(ctx, SpanMapping)
}

// StartRules starts the span around the card engine's evaluation.
func (t *Telemetry) StartRules(ctx context.Context) (context.Context, trace.Span) {
	return t.StartSpan(ctx, SpanRules)
}

// Fail marks span as failed with a fixed, data-free description (for example "fhir
// fetch failed"). It deliberately takes no error: error texts often embed URLs (patient
// ids) or response bodies.
func Fail(span trace.Span, description string) {
	span.SetStatus(codes.Error, description)
}

// Transport wraps base (http.DefaultTransport when nil) so that every request gets a client
// span "FHIR GET" with only the server host and port, the W3C traceparent header of that
// span, and is counted in nencds.fhir.fetch.duration and, on a transport error or a status
// of 400 or more, nencds.fhir.fetch.errors. The path and query (which carry patient ids)
// and the headers (which carry the access token) are never recorded.
func (t *Telemetry) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	if t == nil {
		return base
	}
	return &transport{t: t, base: base}
}

type transport struct {
	t    *Telemetry
	base http.RoundTripper
}

func (tr *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	host, port := hostPort(req)
	attrs := []attribute.KeyValue{AttrHost.String(host)}
	if port > 0 {
		attrs = append(attrs, AttrPort.Int(port))
	}
	ctx, span := tr.t.tracer.Start(req.Context(), "FHIR "+method,
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(append(attrs, AttrMethod.String(method))...))
	defer span.End()

	// RoundTrip must not modify the caller's request: inject into a clone.
	out := req.Clone(ctx)
	tr.t.propagator.Inject(ctx, propagation.HeaderCarrier(out.Header))

	start := time.Now()
	resp, err := tr.base.RoundTrip(out)
	elapsed := time.Since(start).Seconds()

	mctx := context.WithoutCancel(ctx)
	if err != nil {
		kind := errorType(err)
		span.SetAttributes(AttrErrorType.String(kind))
		span.SetStatus(codes.Error, "fhir request failed: "+kind)
		errAttrs := append(attrs, AttrErrorType.String(kind))
		tr.t.fetchDuration.Record(mctx, elapsed, metric.WithAttributes(errAttrs...))
		tr.t.fetchErrors.Add(mctx, 1, metric.WithAttributes(errAttrs...))
		return nil, err
	}
	span.SetAttributes(AttrStatus.Int(resp.StatusCode))
	okAttrs := append(attrs, AttrStatus.Int(resp.StatusCode))
	tr.t.fetchDuration.Record(mctx, elapsed, metric.WithAttributes(okAttrs...))
	if resp.StatusCode >= 400 {
		span.SetStatus(codes.Error, "fhir status "+strconv.Itoa(resp.StatusCode))
		tr.t.fetchErrors.Add(mctx, 1, metric.WithAttributes(append(okAttrs, AttrErrorType.String(strconv.Itoa(resp.StatusCode)))...))
	}
	return resp, nil
}

// hostPort returns the request's server host name (no user info, path or query) and port.
func hostPort(req *http.Request) (string, int) {
	if req.URL == nil {
		return "unknown", 0
	}
	host := req.URL.Hostname()
	if host == "" {
		host = "unknown"
	}
	port, _ := strconv.Atoi(req.URL.Port())
	if port == 0 {
		switch req.URL.Scheme {
		case "https":
			port = 443
		case "http":
			port = 80
		}
	}
	return host, port
}

// errorType classifies a transport error without its text (which embeds the URL).
func errorType(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return "transport"
}
