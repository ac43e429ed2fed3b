package hooks

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/nencds/nencds/cards"
	"github.com/nencds/nencds/hooks/auth"
	"github.com/nencds/nencds/hooks/telemetry"
)

// TestPartialReadsAreSaid: a search cut short by a next-link loop, the page cap or the
// deadline, after at least one page, answers 200 with a data-quality note on the summary
// card naming the search, and counts in nencds.fhir.partial_reads; cut short before its
// first page, it answers 412. (Before: a loop was silent, "Data-quality notes: none", and
// the page cap failed the whole call with 412.)
func TestPartialReadsAreSaid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		knobs   func(*fakeFHIR)
		timeout time.Duration
		status  int
		note    string // in the summary card's detail
		reason  string // the metric's reason label
	}{
		{name: "loop", knobs: func(f *fakeFHIR) { f.pageSize = 5; f.loop = true }, status: 200,
			note: `the \"observations\" search of the FHIR server was read in part (its next links loop back`, reason: "loop"},
		{name: "page cap", knobs: func(f *fakeFHIR) { f.pageSize = 1 }, status: 200,
			note: `the \"observations\" search of the FHIR server was read in part (it has more than 10 pages (the page cap))`, reason: "page-cap"},
		{name: "deadline after the first page", knobs: func(f *fakeFHIR) { f.pageSize = 2; f.slowPages = true }, timeout: 700 * time.Millisecond, status: 200,
			note: `search of the FHIR server was read in part (the FHIR server did not send every page in time)`, reason: "deadline"},
		{name: "deadline before any page", knobs: func(f *fakeFHIR) { f.delay = 10 * time.Second }, timeout: 200 * time.Millisecond, status: 412},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reader := sdkmetric.NewManualReader()
			tel, shutdown, err := telemetry.Setup(context.Background(), telemetry.Config{Getenv: func(string) string { return "" }, MetricReader: reader})
			if err != nil {
				t.Fatal(err)
			}
			defer shutdown(context.Background())
			fake := newFakeFHIR(t, fixture(t), true, tt.knobs)
			o := testOptions(t, &fakeAuth{client: auth.Client{Issuer: "https://ehr.test", FHIRServers: []string{fake.URL()}}}, fake.srv.Client().Transport)
			o.Telemetry = tel
			if tt.timeout > 0 {
				o.Evaluator.Resolver.Timeout = tt.timeout
			}
			w := do(newTestServer(t, o).Handler(), http.MethodPost, "/cds-services/"+PatientViewID, fallbackBody(t, fake.URL(), "secret-token"), nil)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %.300s", w.Code, tt.status, w.Body)
			}
			if tt.status != 200 {
				outcomeOf(t, w.Body.Bytes())
				return
			}
			var resp cards.Response
			if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
				t.Fatal(err)
			}
			summary := ""
			for _, c := range resp.Cards {
				if c.Source.Topic != nil && c.Source.Topic.Code == "nen-summary" {
					summary = c.Detail
				}
			}
			raw, _ := json.Marshal(summary)
			if !strings.Contains(string(raw), tt.note) || !strings.Contains(summary, "incomplete:") {
				t.Errorf("summary card detail lacks the note %q:\n%s", tt.note, summary)
			}
			var rm metricdata.ResourceMetrics
			if err := reader.Collect(context.Background(), &rm); err != nil {
				t.Fatal(err)
			}
			counted := false
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					if m.Name != telemetry.MetricPartialReads {
						continue
					}
					for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
						if v, _ := dp.Attributes.Value(telemetry.AttrReason); v.AsString() == tt.reason && dp.Value > 0 {
							counted = true
						}
					}
				}
			}
			if !counted {
				t.Errorf("no %s data point with reason %q", telemetry.MetricPartialReads, tt.reason)
			}
		})
	}
}
