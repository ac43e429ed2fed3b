package hooks

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"testing"

	"github.com/gin-gonic/gin"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/nencds/nencds/hooks/telemetry"
	"github.com/nencds/nencds/internal/leakcheck"
)

// The no-leak proof over the whole hooks test suite (issue 5): every logger used by the
// tests (testLogger, teeLogger, slog.Default, the log package, Gin's writers) writes into
// testCapture, and every span and metric of testTelemetry (wired into testOptions) is
// added to it after the run. TestMain then fails the run if the capture holds a patient
// id, name or birth date, resource text or id of a fixture, an access token the tests
// send, or anything shaped like a JWT.
var (
	testCapture   = &leakcheck.Capture{}
	testLogger    = slog.New(telemetry.LogHandler(slog.NewJSONHandler(testCapture, &slog.HandlerOptions{Level: slog.LevelDebug})))
	testSpans     = tracetest.NewInMemoryExporter()
	testMetrics   = sdkmetric.NewManualReader()
	testTelemetry *telemetry.Telemetry
)

// testSecrets are the secrets the tests themselves send (beyond the fixtures').
var testSecrets = []string{
	"secret-token-xyz", "secret-token", // fhirAuthorization.access_token of fallbackBody
	"abc.def.ghi",     // fakeAuth's error text (the token of a refused call)
	"private comment", // a feedback userComment
	"Bearer ",         // any Authorization header value
}

func TestMain(m *testing.M) {
	tel, shutdown, err := telemetry.Setup(context.Background(), telemetry.Config{
		Getenv:       func(string) string { return "" },
		SpanExporter: testSpans,
		MetricReader: testMetrics,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "telemetry:", err)
		os.Exit(2)
	}
	testTelemetry = tel
	slog.SetDefault(testLogger)
	log.SetOutput(testCapture)
	gin.DefaultWriter, gin.DefaultErrorWriter = testCapture, testCapture

	code := m.Run()

	if err := exportInto(testCapture, testSpans, testMetrics); err != nil {
		fmt.Fprintln(os.Stderr, "leak check:", err)
		code = 1
	}
	shutdown(context.Background())
	if err := leakcheck.Check(testCapture.String(), "../testdata", testSecrets); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	} else if testing.Verbose() {
		fmt.Printf("leak check: %d bytes of logs, spans and metrics captured; no sentinel found\n", testCapture.Len())
	}
	os.Exit(code)
}

// exportInto writes every span and the collected metrics as JSON into w.
func exportInto(w io.Writer, spans *tracetest.InMemoryExporter, reader sdkmetric.Reader) error {
	for _, s := range spans.GetSpans() {
		b, err := json.Marshal(s)
		if err != nil {
			return fmt.Errorf("span %s: %w", s.Name, err)
		}
		fmt.Fprintf(w, "%s\n", b)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	b, err := json.Marshal(&rm)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	fmt.Fprintf(w, "%s\n", b)
	return nil
}

// teeLogger returns a logger writing JSON both to w (for a test's own assertions) and to
// the suite's capture.
func teeLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(telemetry.LogHandler(slog.NewMultiHandler(
		slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}),
		slog.NewJSONHandler(testCapture, &slog.HandlerOptions{Level: slog.LevelDebug}),
	)))
}

// TestLeakCheckCatches: the check fails on a planted patient id, token and JWT, and the
// capture really receives the suite's logs and spans (so that a clean result means
// something).
func TestLeakCheckCatches(t *testing.T) {
	t.Parallel()
	for _, planted := range []string{
		`{"msg":"x","patient":"net-g2-metastatic"}`,
		`{"msg":"x","auth":"Bearer abc"}`,
		`{"msg":"x","t":"eyJhbGciOiJFUzM4NCJ9.eyJpc3MiOiJ4In0.c2ln"}`,
		`{"msg":"x","name":"Alex"}`,
	} {
		if err := leakcheck.Check(planted, "../testdata", testSecrets); err == nil {
			t.Errorf("no leak found in %s", planted)
		}
	}
	if err := leakcheck.Check(`{"msg":"request","route":"/cds-services/:id","status":200,"cards":4}`, "../testdata", testSecrets); err != nil {
		t.Errorf("clean line: %v", err)
	}
	// The suite's loggers and exporters reach the capture.
	s := newTestServer(t, testOptions(t, nil, nil))
	before := testCapture.Len()
	if w := do(s.Handler(), "POST", "/cds-services/"+PatientViewID, fixture(t), map[string]string{RequestIDHeader: "leak-check-1"}); w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if testCapture.Len() == before {
		t.Error("the request's log line did not reach the capture")
	}
	found := false
	for _, sp := range testSpans.GetSpans() {
		if sp.Name == telemetry.SpanRules {
			found = true
		}
	}
	if !found {
		t.Errorf("no %s span in the in-memory exporter", telemetry.SpanRules)
	}
}
