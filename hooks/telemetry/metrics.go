package telemetry

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// Metric names (OpenTelemetry naming; the Prometheus exporter turns the dots into
// underscores and appends the unit, e.g. http_server_request_duration_seconds).
const (
	MetricRequestDuration = "http.server.request.duration"
	MetricCardsEmitted    = "nencds.cards.emitted"
	MetricCardsInvalid    = "nencds.cards.invalid"
	MetricPrefetchKeys    = "nencds.prefetch.keys"
	MetricFetchDuration   = "nencds.fhir.fetch.duration"
	MetricFetchErrors     = "nencds.fhir.fetch.errors"
	MetricAuthFailures    = "nencds.auth.failures"
	MetricFeedback        = "nencds.feedback"
	MetricPartialReads    = "nencds.fhir.partial_reads"
)

// The only attribute keys this package writes on spans and metrics.
const (
	AttrRoute       = attribute.Key("http.route")                // route template, e.g. /cds-services/:id
	AttrMethod      = attribute.Key("http.request.method")       // GET, POST, ...
	AttrStatus      = attribute.Key("http.response.status_code") // integer status
	AttrServiceID   = attribute.Key("nencds.service_id")         // CDS service id
	AttrTopic       = attribute.Key("nencds.topic")              // card topic code
	AttrPrefetchKey = attribute.Key("nencds.prefetch.key")       // one of the fixed prefetch keys, or "other"
	AttrDisposition = attribute.Key("nencds.prefetch.disposition")
	AttrReason      = attribute.Key("nencds.reason")  // auth failure reason
	AttrOutcome     = attribute.Key("nencds.outcome") // feedback outcome
	AttrHost        = attribute.Key("server.address") // FHIR server host name only
	AttrPort        = attribute.Key("server.port")
	AttrErrorType   = attribute.Key("error.type") // timeout, canceled, transport, or the status code
)

// Disposition says what happened to one prefetch key of a request.
type Disposition string

// The prefetch dispositions of the CDS Hooks prefetch decision table.
const (
	Present Disposition = "present" // the client sent the data
	Null    Disposition = "null"    // the client sent null: no data, not refetched
	Fetched Disposition = "fetched" // fetched from fhirServer
	Failed  Disposition = "failed"  // needed and could not be had (412)
)

// prefetchKeys is the fixed prefetch contract; any other key is labelled "other" so that
// a client cannot grow the label set.
var prefetchKeys = map[string]bool{
	"patient": true, "conditions": true, "observations": true, "medicationRequests": true,
	"medicationStatements": true, "medicationAdministrations": true, "procedures": true, "diagnosticReports": true,
	"serviceRequests": true, "tasks": true,
}

// durationBuckets in seconds, dense around the CDS Hooks ~500 ms budget.
var durationBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 10}

func (t *Telemetry) newInstruments(m metric.Meter) error {
	var errs [9]error
	t.requestDuration, errs[0] = m.Float64Histogram(MetricRequestDuration, metric.WithUnit("s"),
		metric.WithDescription("Duration of HTTP requests by route template and status."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	t.cardsEmitted, errs[1] = m.Int64Counter(MetricCardsEmitted, metric.WithUnit("{card}"),
		metric.WithDescription("CDS cards returned, by service and topic code."))
	t.prefetchKeys, errs[2] = m.Int64Counter(MetricPrefetchKeys, metric.WithUnit("{key}"),
		metric.WithDescription("Prefetch keys resolved, by key and disposition (present, null, fetched, failed)."))
	t.fetchDuration, errs[3] = m.Float64Histogram(MetricFetchDuration, metric.WithUnit("s"),
		metric.WithDescription("Duration of FHIR server HTTP requests, by server host and status."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	t.fetchErrors, errs[4] = m.Int64Counter(MetricFetchErrors, metric.WithUnit("{error}"),
		metric.WithDescription("FHIR server requests that failed (transport error or status >= 400), by host and error type."))
	t.authFailures, errs[5] = m.Int64Counter(MetricAuthFailures, metric.WithUnit("{failure}"),
		metric.WithDescription("Rejected client JWTs, by reason."))
	t.feedback, errs[6] = m.Int64Counter(MetricFeedback, metric.WithUnit("{feedback}"),
		metric.WithDescription("Card feedback received, by service, topic code and outcome."))
	t.cardsInvalid, errs[7] = m.Int64Counter(MetricCardsInvalid, metric.WithUnit("{card}"),
		metric.WithDescription("Cards a rule built that failed validation and were left out of the answer (a defect), by service and topic code."))
	t.partialReads, errs[8] = m.Int64Counter(MetricPartialReads, metric.WithUnit("{read}"),
		metric.WithDescription("FHIR searches read in part (a next-link loop, the page cap, the deadline) and answered with a data-quality note, by prefetch key and reason."))
	for _, err := range errs {
		if err != nil {
			return fmt.Errorf("telemetry: instrument: %w", err)
		}
	}
	return nil
}

// RecordCards counts the cards of one response: pass the topic code of each card (the
// cards.TopicSystem code; "" counts as "none"). It also tags the current span with the
// service id and card count.
func (t *Telemetry) RecordCards(ctx context.Context, serviceID string, topics ...string) {
	if t == nil {
		return
	}
	svc := AttrServiceID.String(label(serviceID))
	trace.SpanFromContext(ctx).SetAttributes(svc, attribute.Int("nencds.cards", len(topics)))
	for _, topic := range topics {
		if topic == "" {
			topic = "none"
		}
		t.cardsEmitted.Add(ctx, 1, metric.WithAttributes(svc, AttrTopic.String(label(topic))))
	}
}

// RecordInvalidCards counts the cards that a rule built but that failed validation and
// were left out of the answer (cards.Response.Invalid): pass the topic code of each.
func (t *Telemetry) RecordInvalidCards(ctx context.Context, serviceID string, topics ...string) {
	if t == nil || len(topics) == 0 {
		return
	}
	svc := AttrServiceID.String(label(serviceID))
	for _, topic := range topics {
		if topic == "" {
			topic = "none"
		}
		t.cardsInvalid.Add(ctx, 1, metric.WithAttributes(svc, AttrTopic.String(label(topic))))
	}
}

// RecordPrefetch counts one prefetch key's disposition. Keys outside the fixed prefetch
// contract are counted as "other".
func (t *Telemetry) RecordPrefetch(ctx context.Context, key string, d Disposition) {
	if t == nil {
		return
	}
	t.prefetchKeys.Add(ctx, 1, metric.WithAttributes(prefetchKeyAttr(key), AttrDisposition.String(disposition(d))))
}

// RecordPartialRead counts one search read in part (its pages used, a data-quality note
// added); reason is a fixed label (loop, page-cap, deadline).
func (t *Telemetry) RecordPartialRead(ctx context.Context, key, reason string) {
	if t == nil {
		return
	}
	t.partialReads.Add(ctx, 1, metric.WithAttributes(prefetchKeyAttr(key), AttrReason.String(label(reason))))
}

// RecordAuthFailure counts one rejected client JWT; reason is a short code such as
// auth.ReasonOf(err) returns ("missing", "expired", ...), never the token or its claims.
func (t *Telemetry) RecordAuthFailure(ctx context.Context, reason string) {
	if t == nil {
		return
	}
	r := AttrReason.String(label(reason))
	trace.SpanFromContext(ctx).SetAttributes(r)
	t.authFailures.Add(ctx, 1, metric.WithAttributes(r))
}

// RecordFeedback counts one feedback item: outcome is "accepted" or "overridden", topic
// the topic code of the card it is about ("" when unknown).
func (t *Telemetry) RecordFeedback(ctx context.Context, serviceID, topic, outcome string) {
	if t == nil {
		return
	}
	if topic == "" {
		topic = "unknown"
	}
	switch outcome {
	case "accepted", "overridden":
	default:
		outcome = "other"
	}
	t.feedback.Add(ctx, 1, metric.WithAttributes(AttrServiceID.String(label(serviceID)),
		AttrTopic.String(label(topic)), AttrOutcome.String(outcome)))
}

func prefetchKeyAttr(key string) attribute.KeyValue {
	if !prefetchKeys[key] {
		key = "other"
	}
	return AttrPrefetchKey.String(key)
}

func disposition(d Disposition) string {
	switch d {
	case Present, Null, Fetched, Failed:
		return string(d)
	}
	return "other"
}

// label returns s when it looks like a low-cardinality code (1 to 64 characters of
// letters, digits, '-', '_', '.'), "other" otherwise. It is a last line of defence: callers
// pass codes (service ids, topic codes, reasons), never data.
func label(s string) string {
	if s == "" || len(s) > 64 {
		return "other"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
		default:
			return "other"
		}
	}
	return s
}
