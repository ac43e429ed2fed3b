package telemetry

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Metrics of the store (package store): its failures, the issued cards it could not
// keep, the memory backend's evictions and the cards suppressed after an override.
const (
	MetricStoreErrors     = "nencds.store.errors"
	MetricCardsDropped    = "nencds.store.cards.dropped"
	MetricStoreEvicted    = "nencds.store.evicted"
	MetricCardsSuppressed = "nencds.cards.suppressed"
)

// AttrStoreOp names the store operation that failed: overrides (the suppression lookup of
// a patient-view call), feedback, cards (the background write of issued cards).
const AttrStoreOp = attribute.Key("nencds.store.op")

type storeInstruments struct {
	errors, dropped, evicted, suppressed metric.Int64Counter
}

func (s *storeInstruments) init(m metric.Meter) error {
	var errs [4]error
	s.errors, errs[0] = m.Int64Counter(MetricStoreErrors, metric.WithUnit("{error}"),
		metric.WithDescription("Store operations that failed or timed out, by operation (overrides, feedback, cards)."))
	s.dropped, errs[1] = m.Int64Counter(MetricCardsDropped, metric.WithUnit("{card}"),
		metric.WithDescription("Issued cards not stored: the write queue was full or the write failed."))
	s.evicted, errs[2] = m.Int64Counter(MetricStoreEvicted, metric.WithUnit("{item}"),
		metric.WithDescription("Items evicted by the memory store's byte cap."))
	s.suppressed, errs[3] = m.Int64Counter(MetricCardsSuppressed, metric.WithUnit("{card}"),
		metric.WithDescription("Cards not shown because they were overridden for the patient (same topic and facts), by topic."))
	for _, err := range errs {
		if err != nil {
			return fmt.Errorf("telemetry: instrument: %w", err)
		}
	}
	return nil
}

// RecordStoreError counts one failed or timed-out store operation (overrides, feedback, cards).
func (t *Telemetry) RecordStoreError(ctx context.Context, op string) {
	if t == nil {
		return
	}
	t.store.errors.Add(ctx, 1, metric.WithAttributes(AttrStoreOp.String(label(op))))
}

// RecordCardsDropped counts issued cards the store did not keep.
func (t *Telemetry) RecordCardsDropped(ctx context.Context, n int) {
	if t == nil || n <= 0 {
		return
	}
	t.store.dropped.Add(ctx, int64(n))
}

// RecordStoreEvicted counts items the memory store evicted for its byte cap.
func (t *Telemetry) RecordStoreEvicted(ctx context.Context, n int) {
	if t == nil || n <= 0 {
		return
	}
	t.store.evicted.Add(ctx, int64(n))
}

// RecordSuppressed counts one card suppressed after an override, by topic code.
func (t *Telemetry) RecordSuppressed(ctx context.Context, topic string) {
	if t == nil {
		return
	}
	t.store.suppressed.Add(ctx, 1, metric.WithAttributes(AttrTopic.String(label(topic))))
}
