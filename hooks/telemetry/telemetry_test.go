package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func init() { gin.SetMode(gin.TestMode) }

// Planted secrets: none of these may appear in any span, metric label or added log attribute.
const (
	plantedPatient = "pat-PLANTED-7731"
	plantedToken   = "tok-PLANTED-access-9f2c"
	plantedJWT     = "eyJhbGciOiJSUzM4NCJ9.eyJpc3MiOiJQTEFOVEVELWlzcyIsInN1YiI6InBhdC1QTEFOVEVELTc3MzEifQ.c2lnLVBMQU5URUQ"
	plantedContent = "PLANTED-condition-text"
	plantedInst    = "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea"
)

var planted = []string{plantedPatient, plantedToken, plantedJWT, plantedContent, "PLANTED", "/Observation", "/Condition"}

type harness struct {
	tel      *Telemetry
	spans    *tracetest.InMemoryExporter
	reader   *sdkmetric.ManualReader
	shutdown func(context.Context) error
}

func newHarness(t *testing.T, env map[string]string) *harness {
	t.Helper()
	spans := tracetest.NewInMemoryExporter()
	reader := sdkmetric.NewManualReader()
	tel, shutdown, err := Setup(context.Background(), Config{
		ServiceVersion: "test",
		Getenv:         func(k string) string { return env[k] },
		SpanExporter:   spans,
		MetricReader:   reader,
	})
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	t.Cleanup(func() { _ = shutdown(context.Background()) })
	return &harness{tel: tel, spans: spans, reader: reader, shutdown: shutdown}
}

func (h *harness) metrics(t *testing.T) map[string]metricdata.Aggregation {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := h.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	out := map[string]metricdata.Aggregation{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = m.Data
		}
	}
	return out
}

// attrSets returns every data point's attribute set of a metric, as sorted "k=v,..." strings.
func attrSets(t *testing.T, agg metricdata.Aggregation) []string {
	t.Helper()
	var sets []attribute.Set
	switch d := agg.(type) {
	case metricdata.Sum[int64]:
		for _, p := range d.DataPoints {
			sets = append(sets, p.Attributes)
		}
	case metricdata.Histogram[float64]:
		for _, p := range d.DataPoints {
			sets = append(sets, p.Attributes)
		}
	default:
		t.Fatalf("unexpected aggregation %T", agg)
	}
	var out []string
	for _, s := range sets {
		var kv []string
		for _, a := range s.ToSlice() {
			kv = append(kv, string(a.Key)+"="+a.Value.String())
		}
		out = append(out, strings.Join(kv, ","))
	}
	sort.Strings(out)
	return out
}

// fakeFHIR answers every search with a Bundle that carries the planted patient data and
// remembers the traceparent and Authorization headers it saw.
type fakeFHIR struct {
	mu          sync.Mutex
	traceparent []string
	auth        []string
}

func (f *fakeFHIR) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.traceparent = append(f.traceparent, r.Header.Get("traceparent"))
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	f.mu.Unlock()
	if strings.HasPrefix(r.URL.Path, "/Condition") {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/fhir+json")
	fmt.Fprintf(w, `{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"Observation","subject":{"reference":"Patient/%s"},"note":[{"text":%q}]}}]}`,
		plantedPatient, plantedContent)
}

// newRouter builds a Gin router shaped like the real one: telemetry middleware first, then
// recovery, a patient-view handler that resolves prefetch (with FHIR fallback through the
// instrumented transport), maps, evaluates and logs, and the probe routes.
func newRouter(h *harness, fhirBase string, logger *slog.Logger) *gin.Engine {
	tel := h.tel
	client := &http.Client{Transport: tel.Transport(nil)}
	r := gin.New()
	r.Use(tel.Middleware(), gin.RecoveryWithWriter(io.Discard))
	r.GET("/healthz", func(c *gin.Context) { c.String(http.StatusOK, "ok") })
	r.POST("/cds-services/:id", func(c *gin.Context) {
		ctx := c.Request.Context()
		id := c.Param("id")
		body, _ := io.ReadAll(c.Request.Body)
		if !bytes.Contains(body, []byte(plantedPatient)) {
			c.Status(http.StatusBadRequest)
			return
		}
		if c.GetHeader("Authorization") == "Bearer "+plantedJWT+"-bad" {
			tel.RecordAuthFailure(ctx, "expired")
			c.Status(http.StatusUnauthorized)
			return
		}

		pctx, prefetch := tel.StartPrefetch(ctx)
		tel.RecordPrefetch(pctx, "patient", Present)
		tel.RecordPrefetch(pctx, "medicationRequests", Null)
		tel.RecordPrefetch(pctx, plantedPatient, Present) // a client-invented key
		var wg sync.WaitGroup
		for _, q := range []struct{ key, path string }{
			{"observations", "/Observation?patient=" + plantedPatient + "&_count=200"},
			{"conditions", "/Condition?patient=" + plantedPatient},
		} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				fctx, span := tel.StartFetch(pctx, q.key)
				defer span.End()
				req, _ := http.NewRequestWithContext(fctx, http.MethodGet, fhirBase+q.path, nil)
				req.Header.Set("Authorization", "Bearer "+plantedToken)
				resp, err := client.Do(req)
				if err != nil {
					Fail(span, "fhir fetch failed")
					tel.RecordPrefetch(fctx, q.key, Failed)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					Fail(span, "fhir fetch failed")
					tel.RecordPrefetch(fctx, q.key, Failed)
					return
				}
				tel.RecordPrefetch(fctx, q.key, Fetched)
			}()
		}
		wg.Wait()
		prefetch.End()

		_, mapping := tel.StartMapping(ctx)
		mapping.End()
		_, rules := tel.StartRules(ctx)
		rules.End()
		tel.RecordCards(ctx, id, "nen-summary", "ssa-therapy")
		tel.RecordInvalidCards(ctx, id, "net-ssa")
		logger.InfoContext(ctx, "cds call", "service", id, "hookInstance", plantedInst, "cards", 2)
		c.JSON(http.StatusOK, gin.H{"cards": []any{}})
	})
	r.POST("/cds-services/:id/feedback", func(c *gin.Context) {
		tel.RecordFeedback(c.Request.Context(), c.Param("id"), "nen-summary", "accepted")
		tel.RecordFeedback(c.Request.Context(), c.Param("id"), "", plantedPatient)
		c.Status(http.StatusOK)
	})
	r.GET("/panic", func(c *gin.Context) { panic("boom " + plantedPatient) })
	return r
}

func TestFullRequestSpansMetricsLogsAndNoLeak(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	fhir := &fakeFHIR{}
	fhirSrv := httptest.NewServer(fhir)
	defer fhirSrv.Close()
	var logs bytes.Buffer
	logger := slog.New(LogHandler(slog.NewJSONHandler(&logs, nil)))
	r := newRouter(h, fhirSrv.URL, logger)

	const clientTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	do := func(method, target, body, auth string) int {
		req := httptest.NewRequest(method, target, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		req.Header.Set("traceparent", "00-"+clientTrace+"-00f067aa0ba902b7-01")
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		return w.Code
	}
	body := `{"hook":"patient-view","hookInstance":"` + plantedInst + `","context":{"patientId":"` + plantedPatient +
		`"},"fhirAuthorization":{"access_token":"` + plantedToken + `"}}`
	for _, c := range []struct {
		method, target, auth string
		want                 int
	}{
		{"POST", "/cds-services/nencds-patient-view?patient=" + plantedPatient, "Bearer " + plantedJWT, 200},
		{"POST", "/cds-services/nencds-patient-view", "Bearer " + plantedJWT + "-bad", 401},
		{"POST", "/cds-services/nencds-patient-view/feedback", "Bearer " + plantedJWT, 200},
		{"GET", "/Patient/" + plantedPatient, "Bearer " + plantedJWT, 404},
		{"GET", "/panic", "", 500},
		{"GET", "/healthz", "", 200},
	} {
		if got := do(c.method, c.target, body, c.auth); got != c.want {
			t.Errorf("%s %s: status %d, want %d", c.method, c.target, got, c.want)
		}
	}

	// Spans: named by template, properly parented, the client's trace continued.
	spans := h.spans.GetSpans()
	var names []string
	byName := map[string][]tracetest.SpanStub{}
	for _, s := range spans {
		names = append(names, s.Name)
		byName[s.Name] = append(byName[s.Name], s)
	}
	sort.Strings(names)
	wantNames := []string{
		"FHIR GET", "FHIR GET",
		"GET /panic", "GET unmatched",
		"POST /cds-services/:id", "POST /cds-services/:id",
		"POST /cds-services/:id/feedback",
		"cards.Evaluate", "fhirmap.Map",
		"prefetch.fetch", "prefetch.fetch", "prefetch.resolve",
	}
	if diff := cmp.Diff(wantNames, names); diff != "" {
		t.Fatalf("span names (-want +got):\n%s", diff)
	}
	var server tracetest.SpanStub
	for _, s := range byName["POST /cds-services/:id"] {
		if attrValue(s.Attributes, AttrStatus) == "200" {
			server = s
		}
	}
	if got := server.SpanContext.TraceID().String(); got != clientTrace {
		t.Errorf("server span trace id %s, want the client's %s", got, clientTrace)
	}
	if server.SpanKind != trace.SpanKindServer {
		t.Errorf("server span kind %v", server.SpanKind)
	}
	if got := attrValue(server.Attributes, AttrServiceID); got != "nencds-patient-view" {
		t.Errorf("server span service id %q", got)
	}
	parentOf := func(name string) string {
		for _, s := range spans {
			if s.SpanContext.SpanID() == byName[name][0].Parent.SpanID() {
				return s.Name
			}
		}
		return "<none>"
	}
	for child, parent := range map[string]string{
		"prefetch.resolve": "POST /cds-services/:id", "prefetch.fetch": "prefetch.resolve",
		"FHIR GET": "prefetch.fetch", "fhirmap.Map": "POST /cds-services/:id", "cards.Evaluate": "POST /cds-services/:id",
	} {
		if got := parentOf(child); got != parent {
			t.Errorf("parent of %s = %s, want %s", child, got, parent)
		}
	}
	if got := attrValue(byName["GET /panic"][0].Attributes, AttrStatus); got != "500" {
		t.Errorf("panic span status %s, want 500", got)
	}

	// The FHIR server received the traceparent of each FHIR GET span and the token.
	var fhirSpanParents []string
	for _, s := range byName["FHIR GET"] {
		fhirSpanParents = append(fhirSpanParents, fmt.Sprintf("00-%s-%s-01", s.SpanContext.TraceID(), s.SpanContext.SpanID()))
		if got := attrValue(s.Attributes, AttrHost); got != "127.0.0.1" {
			t.Errorf("FHIR span host %q, want 127.0.0.1", got)
		}
	}
	fhir.mu.Lock()
	gotParents := slices.Clone(fhir.traceparent)
	gotAuth := slices.Clone(fhir.auth)
	fhir.mu.Unlock()
	sort.Strings(fhirSpanParents)
	sort.Strings(gotParents)
	if diff := cmp.Diff(fhirSpanParents, gotParents); diff != "" {
		t.Errorf("traceparent seen by the FHIR server (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"Bearer " + plantedToken, "Bearer " + plantedToken}, gotAuth); diff != "" {
		t.Errorf("the transport must pass Authorization through (-want +got):\n%s", diff)
	}

	// Metrics exist with the expected labels.
	ms := h.metrics(t)
	wantMetrics := map[string][]string{
		MetricRequestDuration: {
			"http.request.method=GET,http.response.status_code=404,http.route=unmatched",
			"http.request.method=GET,http.response.status_code=500,http.route=/panic",
			"http.request.method=POST,http.response.status_code=200,http.route=/cds-services/:id",
			"http.request.method=POST,http.response.status_code=200,http.route=/cds-services/:id/feedback",
			"http.request.method=POST,http.response.status_code=401,http.route=/cds-services/:id",
		},
		MetricCardsEmitted: {
			"nencds.service_id=nencds-patient-view,nencds.topic=nen-summary",
			"nencds.service_id=nencds-patient-view,nencds.topic=ssa-therapy",
		},
		MetricCardsInvalid: {"nencds.service_id=nencds-patient-view,nencds.topic=net-ssa"},
		MetricPrefetchKeys: {
			"nencds.prefetch.disposition=failed,nencds.prefetch.key=conditions",
			"nencds.prefetch.disposition=fetched,nencds.prefetch.key=observations",
			"nencds.prefetch.disposition=null,nencds.prefetch.key=medicationRequests",
			"nencds.prefetch.disposition=present,nencds.prefetch.key=other",
			"nencds.prefetch.disposition=present,nencds.prefetch.key=patient",
		},
		MetricFetchDuration: {
			fmt.Sprintf("http.response.status_code=200,server.address=127.0.0.1,server.port=%s", port(fhirSrv.URL)),
			fmt.Sprintf("http.response.status_code=500,server.address=127.0.0.1,server.port=%s", port(fhirSrv.URL)),
		},
		MetricFetchErrors: {
			fmt.Sprintf("error.type=500,http.response.status_code=500,server.address=127.0.0.1,server.port=%s", port(fhirSrv.URL)),
		},
		MetricAuthFailures: {"nencds.reason=expired"},
		MetricFeedback: {
			"nencds.outcome=accepted,nencds.service_id=nencds-patient-view,nencds.topic=nen-summary",
			"nencds.outcome=other,nencds.service_id=nencds-patient-view,nencds.topic=unknown",
		},
	}
	for name, want := range wantMetrics {
		agg, ok := ms[name]
		if !ok {
			t.Errorf("metric %s missing", name)
			continue
		}
		if diff := cmp.Diff(want, attrSets(t, agg)); diff != "" {
			t.Errorf("metric %s attributes (-want +got):\n%s", name, diff)
		}
	}

	// Logs carry the ids of the span they were written in.
	var line map[string]any
	if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
		t.Fatalf("log line: %v: %s", err, logs.String())
	}
	if line[LogTraceID] != clientTrace || line[LogSpanID] != server.SpanContext.SpanID().String() {
		t.Errorf("log ids trace=%v span=%v, want %s %s", line[LogTraceID], line[LogSpanID], clientTrace, server.SpanContext.SpanID())
	}
	if line["hookInstance"] != plantedInst {
		t.Errorf("log lost the caller's attributes: %v", line)
	}

	// Nothing planted anywhere.
	assertNoLeak(t, "resource", attrStrings(spans[0].Resource.Attributes()))
	for _, s := range spans {
		vals := append(attrStrings(s.Attributes), s.Name, s.Status.Description)
		for _, e := range s.Events {
			vals = append(vals, e.Name)
			vals = append(vals, attrStrings(e.Attributes)...)
		}
		assertNoLeak(t, "span "+s.Name, vals)
	}
	for name, agg := range ms {
		assertNoLeak(t, "metric "+name, append(attrSets(t, agg), name))
	}
}

// leakyTransport fails every request with an error that embeds the full URL, as wrapping
// transports and proxies do.
type leakyTransport struct{}

func (leakyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return nil, fmt.Errorf("cannot reach %s", req.URL)
}

func TestTransportErrorLeaksNoURL(t *testing.T) {
	t.Parallel()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedBase := closed.URL
	closed.Close()
	tests := []struct {
		name string
		base http.RoundTripper
		url  string
	}{
		{name: "connection refused", url: closedBase},
		{name: "error text with the URL", base: leakyTransport{}, url: "http://127.0.0.1:9"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, nil)
			client := &http.Client{Transport: h.tel.Transport(tc.base)}
			req, _ := http.NewRequest(http.MethodGet, tc.url+"/Patient/"+plantedPatient+"?access_token="+plantedToken, nil)
			_, err := client.Do(req)
			if err == nil {
				t.Fatal("want an error")
			}
			if !strings.Contains(err.Error(), plantedPatient) {
				t.Fatalf("precondition: the Go error embeds the URL (%v); this test proves the span does not", err)
			}
			spans := h.spans.GetSpans()
			if len(spans) != 1 {
				t.Fatalf("%d spans, want 1", len(spans))
			}
			s := spans[0]
			if got := attrValue(s.Attributes, AttrErrorType); got != "transport" {
				t.Errorf("error.type %q, want transport", got)
			}
			assertNoLeak(t, "span", append(attrStrings(s.Attributes), s.Name, s.Status.Description))
			if len(s.Events) != 0 {
				t.Errorf("the transport must not record the error text as an event: %v", s.Events)
			}
			ms := h.metrics(t)
			want := []string{fmt.Sprintf("error.type=transport,server.address=127.0.0.1,server.port=%s", port(tc.url))}
			if diff := cmp.Diff(want, attrSets(t, ms[MetricFetchErrors])); diff != "" {
				t.Errorf("fetch errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSetupEnvironment(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		env        map[string]string
		wantErr    string
		wantProm   bool
		wantSvc    string
		wantExport bool
	}{
		{name: "defaults", wantSvc: "nencds"},
		{name: "service name", env: map[string]string{"OTEL_SERVICE_NAME": "nencds-eu"}, wantSvc: "nencds-eu"},
		{name: "resource attributes", env: map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "service.name=from-attrs,deployment.environment=prod"}, wantSvc: "from-attrs"},
		{name: "prometheus", env: map[string]string{"OTEL_METRICS_EXPORTER": "prometheus"}, wantProm: true, wantSvc: "nencds"},
		{name: "sdk disabled", env: map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_METRICS_EXPORTER": "prometheus"}, wantSvc: "nencds"},
		{name: "otlp endpoint", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, wantSvc: "nencds", wantExport: true},
		{name: "traces none", env: map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, wantSvc: "nencds"},
		{name: "unknown traces exporter", env: map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, wantErr: `OTEL_TRACES_EXPORTER="zipkin"`},
		{name: "otlp metrics", env: map[string]string{"OTEL_METRICS_EXPORTER": "otlp"}, wantErr: `OTEL_METRICS_EXPORTER="otlp"`},
		{name: "grpc protocol", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, wantErr: "http/protobuf"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := Config{Getenv: func(k string) string { return tc.env[k] }}
			tel, shutdown, err := Setup(context.Background(), cfg)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Setup: %v", err)
			}
			defer shutdown(context.Background())
			if got := tel.MetricsHandler() != nil; got != tc.wantProm {
				t.Errorf("prometheus handler present = %v, want %v", got, tc.wantProm)
			}
			if got := exporterConfigured(t, tel); got != tc.wantExport {
				t.Errorf("span processor registered = %v, want %v", got, tc.wantExport)
			}
			// Service name: set up again with an in-memory exporter and the same env.
			h := newHarness(t, tc.env)
			_, span := h.tel.StartSpan(context.Background(), SpanRules)
			span.End()
			res := h.spans.GetSpans()[0].Resource
			got, _ := res.Set().Value("service.name")
			if got.AsString() != tc.wantSvc {
				t.Errorf("service.name %q, want %q", got.AsString(), tc.wantSvc)
			}
		})
	}
}

// exporterConfigured reports whether Setup registered a span exporter.
func exporterConfigured(t *testing.T, tel *Telemetry) bool {
	t.Helper()
	return tel.exporting
}

func TestPrometheusHandlerServesMetrics(t *testing.T) {
	t.Parallel()
	tel, shutdown, err := Setup(context.Background(), Config{Prometheus: true, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(context.Background())
	tel.RecordAuthFailure(context.Background(), "missing")
	tel.RecordPrefetch(context.Background(), "observations", Fetched)
	w := httptest.NewRecorder()
	tel.MetricsHandler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	text := w.Body.String()
	for _, want := range []string{
		`nencds_auth_failures_total{nencds_reason="missing"`,
		`nencds_prefetch_keys_total{nencds_prefetch_disposition="fetched",nencds_prefetch_key="observations"`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s:\n%s", want, text)
		}
	}
}

func TestNilTelemetryIsANoOp(t *testing.T) {
	t.Parallel()
	var tel *Telemetry
	ctx := context.Background()
	tel.RecordCards(ctx, "svc", "topic")
	tel.RecordInvalidCards(ctx, "svc", "topic")
	tel.RecordPrefetch(ctx, "patient", Present)
	tel.RecordAuthFailure(ctx, "missing")
	tel.RecordFeedback(ctx, "svc", "topic", "accepted")
	_, span := tel.StartPrefetch(ctx)
	span.End()
	if tel.MetricsHandler() != nil {
		t.Error("nil telemetry has a metrics handler")
	}
	if got := tel.Transport(nil); got != http.DefaultTransport {
		t.Errorf("nil telemetry Transport(nil) = %T, want http.DefaultTransport", got)
	}
	r := gin.New()
	r.Use(tel.Middleware())
	r.GET("/x", func(c *gin.Context) { c.Status(http.StatusTeapot) })
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest("GET", "/x", nil))
	if w.Code != http.StatusTeapot {
		t.Errorf("status %d through the nil middleware", w.Code)
	}
}

func TestLabel(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"":                      "other",
		"nen-summary":           "nen-summary",
		"expired":               "expired",
		plantedJWT:              "other",
		"Bearer abc":            "other",
		"Patient/123":           "other",
		"a?b=c":                 "other",
		strings.Repeat("a", 65): "other",
	}
	for in, want := range tests {
		if got := label(in); got != want {
			t.Errorf("label(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLogHandlerWithoutSpanAddsNothing(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	logger := slog.New(LogHandler(slog.NewJSONHandler(&buf, nil))).With("service", "svc").WithGroup("g")
	logger.InfoContext(context.Background(), "hello", "n", 1)
	if strings.Contains(buf.String(), LogTraceID) {
		t.Errorf("ids without a span: %s", buf.String())
	}
	if !strings.Contains(buf.String(), `"service":"svc","g":{"n":1}`) {
		t.Errorf("WithAttrs/WithGroup lost: %s", buf.String())
	}
}

func attrValue(attrs []attribute.KeyValue, k attribute.Key) string {
	for _, a := range attrs {
		if a.Key == k {
			return a.Value.String()
		}
	}
	return ""
}

func attrStrings(attrs []attribute.KeyValue) []string {
	var out []string
	for _, a := range attrs {
		out = append(out, string(a.Key), a.Value.String())
	}
	return out
}

func assertNoLeak(t *testing.T, where string, values []string) {
	t.Helper()
	for _, v := range values {
		for _, p := range planted {
			if strings.Contains(v, p) {
				t.Errorf("%s: value %q contains planted %q", where, v, p)
			}
		}
	}
}

func port(rawURL string) string {
	i := strings.LastIndex(rawURL, ":")
	return rawURL[i+1:]
}
