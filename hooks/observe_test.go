package hooks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/nencds/nencds/cards"
	"github.com/nencds/nencds/hooks/auth"
	"github.com/nencds/nencds/hooks/telemetry"
	"github.com/nencds/nencds/store"
)

// logLines decodes JSON log lines.
func logLines(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, line)
		}
		out = append(out, m)
	}
	return out
}

// requestLines returns the "request" lines of logs.
func requestLines(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, m := range logLines(t, b) {
		if m["msg"] == "request" {
			out = append(out, m)
		}
	}
	return out
}

var generatedID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// TestRequestLog: one JSON line per request with its id, route, status, duration and,
// for a CDS call, service, hookInstance and card count; the X-Request-Id of the client
// is kept when sane and echoed, otherwise a new one is made.
func TestRequestLog(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		method string
		path   string
		body   []byte
		hdr    map[string]string
		status int
		keepID bool
		want   map[string]any // expected fields of the line (besides the common ones)
	}{
		{name: "service", method: "POST", path: "/cds-services/" + PatientViewID, body: fixture(t),
			hdr: map[string]string{RequestIDHeader: "ehr-req.42_A"}, status: 200, keepID: true,
			want: map[string]any{"route": "/cds-services/:id", "service": PatientViewID, "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea"}},
		{name: "id too long", method: "GET", path: "/cds-services", hdr: map[string]string{RequestIDHeader: strings.Repeat("a", 65)}, status: 200,
			want: map[string]any{"route": "/cds-services"}},
		{name: "id with bad characters", method: "GET", path: "/cds-services", hdr: map[string]string{RequestIDHeader: "a b\"c"}, status: 200,
			want: map[string]any{"route": "/cds-services"}},
		{name: "id of 64", method: "GET", path: "/cds-services", hdr: map[string]string{RequestIDHeader: strings.Repeat("z", 64)}, status: 200, keepID: true,
			want: map[string]any{"route": "/cds-services"}},
		{name: "refused token", method: "GET", path: "/cds-services", hdr: map[string]string{"Authorization": "Bearer abc.def.ghi"}, status: 401,
			want: map[string]any{"route": "/cds-services", "auth_reason": auth.ReasonInternal, "kind": "unauthorized"}},
		{name: "missing data", method: "POST", path: "/cds-services/" + PatientViewID, body: edit(t, func(m map[string]any) {
			p := m["prefetch"].(map[string]any)
			delete(p, "conditions")
			delete(p, "tasks")
		}), status: 412, want: map[string]any{"service": PatientViewID, "kind": "precondition failed", "missing": []any{"conditions", "tasks"}}},
		{name: "unknown path", method: "GET", path: "/patients/net-g2-metastatic", status: 404,
			want: map[string]any{"route": "unmatched", "kind": "not found"}},
		{name: "feedback", method: "POST", path: "/cds-services/" + PatientViewID + "/feedback",
			body:   []byte(`{"feedback":[{"card":"c1","outcome":"overridden","outcomeTimestamp":"2026-06-01T12:05:00Z"}]}`),
			status: 200, want: map[string]any{"route": "/cds-services/:id/feedback", "service": PatientViewID, "items": 1.0, "new": 1.0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			o := testOptions(t, nil, nil)
			o.Logger = teeLogger(&logs, slog.LevelInfo)
			w := do(newTestServer(t, o).Handler(), tt.method, tt.path, tt.body, tt.hdr)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			id := w.Header().Get(RequestIDHeader)
			if tt.keepID && id != tt.hdr[RequestIDHeader] {
				t.Errorf("X-Request-Id %q, want the client's %q", id, tt.hdr[RequestIDHeader])
			}
			if !tt.keepID && !generatedID.MatchString(id) {
				t.Errorf("X-Request-Id %q, want a generated id", id)
			}
			lines := requestLines(t, logs.Bytes())
			if len(lines) != 1 {
				t.Fatalf("%d request lines, want 1:\n%s", len(lines), logs.String())
			}
			line := lines[0]
			if line["request_id"] != id || line["status"] != float64(tt.status) || line["method"] != tt.method {
				t.Errorf("line %v: want request_id %q, status %d, method %s", line, id, tt.status, tt.method)
			}
			if d, ok := line["duration_ms"].(float64); !ok || d < 0 {
				t.Errorf("duration_ms %v", line["duration_ms"])
			}
			if _, ok := line["trace_id"].(string); !ok && tt.status != 404 {
				t.Errorf("no trace_id in %v", line)
			}
			for k, v := range tt.want {
				if diff := cmp.Diff(v, line[k]); diff != "" {
					t.Errorf("%s (-want +got):\n%s", k, diff)
				}
			}
			if tt.status == 200 && tt.body != nil && strings.Contains(tt.path, PatientViewID) && !strings.HasSuffix(tt.path, "feedback") {
				var resp cards.Response
				json.Unmarshal(w.Body.Bytes(), &resp)
				if line["cards"] != float64(len(resp.Cards)) {
					t.Errorf("cards %v, want %d", line["cards"], len(resp.Cards))
				}
				// The line names the topic code of each card answered, in order (codes only).
				topics := []any{}
				for _, c := range resp.Cards {
					topics = append(topics, c.Source.Topic.Code)
				}
				if diff := cmp.Diff(topics, line["topics"]); diff != "" {
					t.Errorf("topics (-want +got):\n%s", diff)
				}
			}
			if tt.status >= 400 {
				if _, ok := line["cards"]; ok {
					t.Errorf("a failed call logs a card count: %v", line)
				}
			}
		})
	}
}

// TestProbesLogAtDebug: /healthz and /readyz do not flood the info log.
func TestProbesLogAtDebug(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	o := testOptions(t, nil, nil)
	o.Logger = teeLogger(&logs, slog.LevelInfo)
	s := newTestServer(t, o)
	do(s.Handler(), "GET", "/healthz", nil, nil)
	do(s.Handler(), "GET", "/readyz", nil, nil)
	if n := len(requestLines(t, logs.Bytes())); n != 0 {
		t.Errorf("%d info lines for probes, want 0:\n%s", n, logs.String())
	}
	o.Ready = func(context.Context) error { return fmt.Errorf("redis down") }
	s = newTestServer(t, o)
	if w := do(s.Handler(), "GET", "/readyz", nil, nil); w.Code != 503 {
		t.Fatalf("readyz %d", w.Code)
	}
	if n := len(requestLines(t, logs.Bytes())); n != 1 {
		t.Errorf("a failing probe: %d info lines, want 1:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "redis down") {
		t.Errorf("the cause of not ready is not logged:\n%s", logs.String())
	}
}

// metricsOf collects reader into "name{k=v,...}" → value for sums (and counts for histograms).
func metricsOf(t *testing.T, reader sdkmetric.Reader) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	key := func(name string, set attribute.Set) string {
		var parts []string
		for _, kv := range set.ToSlice() {
			parts = append(parts, string(kv.Key)+"="+kv.Value.String())
		}
		sort.Strings(parts)
		return name + "{" + strings.Join(parts, ",") + "}"
	}
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					out[key(m.Name, p.Attributes)] += p.Value
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					out[key(m.Name, p.Attributes)] += int64(p.Count)
				}
			}
		}
	}
	return out
}

// withTelemetry returns Options with a telemetry of their own, and its metric reader.
func withTelemetry(t *testing.T, fa *fakeAuth) (Options, sdkmetric.Reader) {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	tel, shutdown, err := telemetry.Setup(context.Background(), telemetry.Config{
		Getenv: func(string) string { return "" }, MetricReader: reader,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shutdown(context.Background()) })
	o := testOptions(t, fa, nil)
	o.Telemetry = tel
	o.Middleware = []gin.HandlerFunc{tel.Middleware()}
	return o, reader
}

// TestMetricsWiring: cards by topic code, prefetch keys by disposition (also on a failed
// request), auth failures by reason, and feedback by the topic of the card it names.
func TestMetricsWiring(t *testing.T) {
	t.Parallel()
	st := newMemoryStore(t)
	o, reader := withTelemetry(t, &fakeAuth{client: auth.Client{Issuer: "https://ehr.test"}})
	o.Store = st
	h := newTestServer(t, o).Handler()

	w := do(h, "POST", "/cds-services/"+PatientViewID, fixture(t), nil)
	if w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var resp cards.Response
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil || len(resp.Cards) == 0 {
		t.Fatalf("no cards: %v %s", err, w.Body)
	}
	want := map[string]int64{}
	for _, c := range resp.Cards {
		want[fmt.Sprintf("nencds.cards.emitted{nencds.service_id=%s,nencds.topic=%s}", PatientViewID, c.Source.Topic.Code)]++
	}
	// The fixture carries every key: present, or null.
	var req struct {
		Prefetch map[string]json.RawMessage `json:"prefetch"`
	}
	json.Unmarshal(fixture(t), &req)
	for _, k := range PrefetchKeys {
		d := "present"
		if string(req.Prefetch[k]) == "null" {
			d = "null"
		}
		want[fmt.Sprintf("nencds.prefetch.keys{nencds.prefetch.disposition=%s,nencds.prefetch.key=%s}", d, k)]++
	}
	// A 412: no conditions, no fhirServer.
	if w := do(h, "POST", "/cds-services/"+PatientViewID, edit(t, func(m map[string]any) {
		delete(m["prefetch"].(map[string]any), "conditions")
	}), nil); w.Code != 412 {
		t.Fatalf("status %d, want 412", w.Code)
	}
	want["nencds.prefetch.keys{nencds.prefetch.disposition=failed,nencds.prefetch.key=conditions}"]++
	for _, k := range PrefetchKeys {
		if k == KeyConditions {
			continue
		}
		d := "present"
		if string(req.Prefetch[k]) == "null" {
			d = "null"
		}
		want[fmt.Sprintf("nencds.prefetch.keys{nencds.prefetch.disposition=%s,nencds.prefetch.key=%s}", d, k)]++
	}
	// A refused token.
	if w := do(h, "GET", "/cds-services", nil, map[string]string{"Authorization": "Bearer nope"}); w.Code != 401 {
		t.Fatalf("status %d, want 401", w.Code)
	}
	want["nencds.auth.failures{nencds.reason=internal}"] = 1
	// Feedback on the first card (accepted) and on an unknown card (overridden), each sent twice.
	first := resp.Cards[0]
	fb := fmt.Sprintf(`{"feedback":[{"card":%q,"outcome":"accepted","acceptedSuggestions":[{"id":"s"}],"outcomeTimestamp":"2026-06-01T12:05:00Z"},`+
		`{"card":"not-a-card-of-ours","outcome":"overridden","outcomeTimestamp":"2026-06-01T12:05:00Z"}]}`, first.UUID)
	for i := 0; i < 2; i++ {
		if w := do(h, "POST", "/cds-services/"+PatientViewID+"/feedback", []byte(fb), nil); w.Code != 200 {
			t.Fatalf("feedback: %d %s", w.Code, w.Body)
		}
	}
	want[fmt.Sprintf("nencds.feedback{nencds.outcome=accepted,nencds.service_id=%s,nencds.topic=%s}", PatientViewID, first.Source.Topic.Code)] = 1
	want[fmt.Sprintf("nencds.feedback{nencds.outcome=overridden,nencds.service_id=%s,nencds.topic=unknown}", PatientViewID)] = 1

	got := metricsOf(t, reader)
	for k := range got {
		if !strings.HasPrefix(k, "nencds.cards") && !strings.HasPrefix(k, "nencds.prefetch") &&
			!strings.HasPrefix(k, "nencds.auth") && !strings.HasPrefix(k, "nencds.feedback") {
			delete(got, k)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("metrics (-want +got):\n%s", diff)
	}
	// The store joins each item to its card's topic; the unknown card is kept, unmatched.
	rep, err := st.Report(t.Context(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Unmatched != 1 || topicReport(rep, first.Source.Topic.Code).Accepted != 1 {
		t.Errorf("report %+v", rep)
	}
}

// topicReport returns the row of topic in r (zero when absent).
func topicReport(r *store.Report, topic string) store.TopicReport {
	for _, t := range r.Topics {
		if t.Topic == topic {
			return t
		}
	}
	return store.TopicReport{}
}

// TestFeedbackTopicPerClient: a card is known only to the client it was returned to (the
// store keys cards by issuer and service): another client's feedback on its uuid is kept
// as unmatched.
func TestFeedbackTopicPerClient(t *testing.T) {
	t.Parallel()
	st := newMemoryStore(t)
	serve := func(issuer string) http.Handler {
		o := testOptions(t, &fakeAuth{client: auth.Client{Issuer: issuer}}, nil)
		o.Store = st
		return newTestServer(t, o).Handler()
	}
	a, b := serve("https://a.test"), serve("https://b.test")
	w := do(a, "POST", "/cds-services/"+PatientViewID, fixture(t), nil)
	var resp cards.Response
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil || len(resp.Cards) == 0 {
		t.Fatalf("no cards: %s", w.Body)
	}
	card := resp.Cards[0].UUID
	fb := []byte(fmt.Sprintf(`{"feedback":[{"card":%q,"outcome":"overridden","outcomeTimestamp":"2026-06-01T12:05:00Z"}]}`, card))
	do(a, "POST", "/cds-services/"+PatientViewID+"/feedback", fb, nil)
	do(b, "POST", "/cds-services/"+PatientViewID+"/feedback", fb, nil)
	rep, err := st.Report(t.Context(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Unmatched != 1 || topicReport(rep, resp.Cards[0].Source.Topic.Code).Overridden != 1 {
		t.Errorf("report %+v", rep)
	}
}
