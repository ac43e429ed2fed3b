package telemetry

import (
	"context"
	"errors"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/codes"
)

// stage mimics hooks.Stage: a named string type.
type stage string

// stageFunc mimics hooks.StageFunc.
type stageFunc func(ctx context.Context, s stage, key string) (context.Context, func(err error))

func TestStageFunc(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	var f stageFunc = StageFunc[stage](h.tel) // assignable to the named func type

	ctx, endPrefetch := f(context.Background(), "prefetch", "")
	_, endFetch := f(ctx, "fetch", "observations")
	endFetch(errors.New("GET https://fhir.example/Observation?patient=" + plantedPatient + ": 500"))
	_, endOther := f(ctx, "fetch", plantedPatient) // a key outside the contract
	endOther(nil)
	endPrefetch(nil)
	_, endMap := f(context.Background(), "mapping", "")
	endMap(nil)
	_, endRules := f(context.Background(), "rules", "")
	endRules(nil)
	_, endUnknown := f(context.Background(), "Patient/"+stage(plantedPatient), "")
	endUnknown(nil)

	type row struct{ Name, Parent, Key, Status, Desc string }
	spans := h.spans.GetSpans()
	names := map[string]string{}
	for _, s := range spans {
		names[s.SpanContext.SpanID().String()] = s.Name
	}
	var got []row
	for _, s := range spans {
		got = append(got, row{s.Name, names[s.Parent.SpanID().String()], attrValue(s.Attributes, AttrPrefetchKey), s.Status.Code.String(), s.Status.Description})
		assertNoLeak(t, "span "+s.Name, append(attrStrings(s.Attributes), s.Name, s.Status.Description))
	}
	sort.Slice(got, func(i, j int) bool { return got[i].Name+got[i].Key < got[j].Name+got[j].Key })
	want := []row{
		{Name: "cards.Evaluate", Status: codes.Unset.String()},
		{Name: "fhirmap.Map", Status: codes.Unset.String()},
		{Name: "nencds.other", Status: codes.Unset.String()},
		{Name: "prefetch.fetch", Parent: "prefetch.resolve", Key: "observations", Status: codes.Error.String(), Desc: "fetch failed"},
		{Name: "prefetch.fetch", Parent: "prefetch.resolve", Key: "other", Status: codes.Unset.String()},
		{Name: "prefetch.resolve", Status: codes.Unset.String()},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stage spans (-want +got):\n%s", diff)
	}

	var nilTel *Telemetry
	ctx2, end := StageFunc[stage](nilTel)(context.Background(), "rules", "")
	end(errors.New("x"))
	if ctx2 != context.Background() {
		t.Error("nil telemetry changed the context")
	}
}
