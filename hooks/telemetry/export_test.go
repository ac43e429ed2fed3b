package telemetry

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"
)

// TestOTLPExportFromEnvironment sets OTEL_EXPORTER_OTLP_ENDPOINT to a fake collector, runs a
// request through the middleware and the transport, and checks on the wire that the
// collector received the trace, and that no planted patient id, token or JWT is in the
// exported bytes. (Not parallel: the OTLP exporter reads the process environment.)
func TestOTLPExportFromEnvironment(t *testing.T) {
	var mu sync.Mutex
	var paths []string
	var payload bytes.Buffer
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		paths = append(paths, r.URL.Path)
		payload.Write(b)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer collector.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "none")
	t.Setenv("OTEL_SERVICE_NAME", "nencds-otlp-test")

	tel, shutdown, err := Setup(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	fhir := httptest.NewServer(&fakeFHIR{})
	defer fhir.Close()
	client := &http.Client{Transport: tel.Transport(nil)}
	r := gin.New()
	r.Use(tel.Middleware())
	r.POST("/cds-services/:id", func(c *gin.Context) {
		ctx, span := tel.StartFetch(c.Request.Context(), "observations")
		defer span.End()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fhir.URL+"/Observation?patient="+plantedPatient, nil)
		req.Header.Set("Authorization", "Bearer "+plantedToken)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
		}
		c.Status(http.StatusOK)
	})
	req := httptest.NewRequest(http.MethodPost, "/cds-services/nencds-patient-view?patient="+plantedPatient, strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer "+plantedJWT)
	r.ServeHTTP(httptest.NewRecorder(), req)

	if err := shutdown(context.Background()); err != nil { // flushes the batch
		t.Fatalf("shutdown: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(paths) == 0 || paths[0] != "/v1/traces" {
		t.Fatalf("collector got %v, want a POST to /v1/traces", paths)
	}
	wire := payload.String()
	for _, want := range []string{"POST /cds-services/:id", "prefetch.fetch", "FHIR GET", "nencds-otlp-test"} {
		if !strings.Contains(wire, want) {
			t.Errorf("exported traces lack %q", want)
		}
	}
	for _, p := range planted {
		if strings.Contains(wire, p) {
			t.Errorf("exported traces contain planted %q", p)
		}
	}
}

// TestPanicInsideRecovery: with the recovery middleware outside (as hooks installs it), a
// panicking handler is still recorded as a 500 span and metric.
func TestPanicInsideRecovery(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	r := gin.New()
	r.Use(gin.RecoveryWithWriter(io.Discard), h.tel.Middleware())
	r.GET("/boom", func(c *gin.Context) { panic("boom") })
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/boom", nil))
	if w.Code != http.StatusInternalServerError {
		t.Fatalf("status %d", w.Code)
	}
	spans := h.spans.GetSpans()
	if len(spans) != 1 || attrValue(spans[0].Attributes, AttrStatus) != "500" {
		t.Fatalf("spans %v, want one with status 500", spans)
	}
	got := attrSets(t, h.metrics(t)[MetricRequestDuration])
	if len(got) != 1 || !strings.Contains(got[0], "http.response.status_code=500") {
		t.Errorf("request duration attributes %v, want status 500", got)
	}
}
