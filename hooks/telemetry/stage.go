package telemetry

import (
	"context"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Stage names as the hooks package passes them to its StageFunc.
const (
	StagePrefetch = "prefetch"
	StageFetch    = "fetch"
	StageMapping  = "mapping"
	StageRules    = "rules"
)

// StartStage starts the span of one evaluation stage: "prefetch" (SpanPrefetch), "fetch"
// (SpanFetch, for the prefetch key given), "mapping" (SpanMapping) or "rules" (SpanRules);
// another stage name becomes a span "nencds.<stage>". The returned function ends the span
// and, when err is not nil, marks it failed with "<stage> failed": the error text itself is
// never recorded (it may embed a URL with a patient id).
func (t *Telemetry) StartStage(ctx context.Context, stage, key string) (context.Context, func(err error)) {
	if t == nil {
		return ctx, func(error) {}
	}
	name := "nencds." + label(stage)
	switch stage {
	case StagePrefetch:
		name = SpanPrefetch
	case StageFetch:
		name = SpanFetch
	case StageMapping:
		name = SpanMapping
	case StageRules:
		name = SpanRules
	}
	var span trace.Span
	if stage == StageFetch {
		ctx, span = t.StartFetch(ctx, key)
	} else {
		ctx, span = t.StartSpan(ctx, name)
	}
	return ctx, func(err error) {
		if err != nil {
			span.SetStatus(codes.Error, label(stage)+" failed")
		}
		span.End()
	}
}

// StageFunc adapts StartStage to a stage function whose stage parameter is any string type,
// such as hooks.StageFunc (the telemetry package cannot import hooks):
//
//	ev := &hooks.Evaluator{Stage: telemetry.StageFunc[hooks.Stage](tel), ...}
//	res := &hooks.Resolver{Stage: telemetry.StageFunc[hooks.Stage](tel), ...}
//
// A nil t gives a function that does nothing.
func StageFunc[S ~string](t *Telemetry) func(ctx context.Context, stage S, key string) (context.Context, func(err error)) {
	return func(ctx context.Context, stage S, key string) (context.Context, func(error)) {
		return t.StartStage(ctx, string(stage), key)
	}
}
