package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"log/slog"
	"os"
	"testing"

	"github.com/gin-gonic/gin"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/nencds/nencds/hooks/telemetry"
	"github.com/nencds/nencds/internal/leakcheck"
)

// The no-leak proof over the whole cmd/nencds test suite (issue 5): the servers started by
// the tests log into testCapture (run's stderr, see startWith), slog.Default, the log
// package and Gin write there too, every span of every server goes there (testTelemetry
// installs captureExporter), and the tests that scrape /metrics add the scrape. TestMain
// fails the run if the capture holds a fixture's patient id, name, birth date, resource
// text or id, a test secret, or anything shaped like a JWT (TestServeTrust sends real ones).
var testCapture = &leakcheck.Capture{}

// testSecrets are the secrets the tests themselves send (beyond the fixtures').
var testSecrets = []string{"Bearer ", "cmd-secret-access-token"}

func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewJSONHandler(testCapture, &slog.HandlerOptions{Level: slog.LevelDebug})))
	log.SetOutput(testCapture)
	gin.DefaultWriter, gin.DefaultErrorWriter = testCapture, testCapture
	testTelemetry = func(c *telemetry.Config) { c.SpanExporter = captureExporter{} }

	code := m.Run()

	if err := checkCapture(testCapture.String()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	} else if testing.Verbose() {
		fmt.Printf("leak check: %d bytes of logs, spans and metrics captured; no sentinel found\n", testCapture.Len())
	}
	os.Exit(code)
}

// captureExporter writes every span as JSON into testCapture (synchronously; Shutdown
// keeps what was written).
type captureExporter struct{}

func (captureExporter) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	for _, s := range tracetest.SpanStubsFromReadOnlySpans(spans) {
		b, err := json.Marshal(s)
		if err != nil {
			return err
		}
		fmt.Fprintf(testCapture, "%s\n", b)
	}
	return nil
}

func (captureExporter) Shutdown(context.Context) error { return nil }

func checkCapture(text string) error {
	return leakcheck.Check(text, "../../testdata", testSecrets)
}

// TestLeakCheckCatches: the check fails on planted values and the capture receives spans.
func TestLeakCheckCatches(t *testing.T) {
	t.Parallel()
	for _, planted := range []string{
		`{"patient":"net-g2-metastatic"}`,
		`{"t":"eyJhbGciOiJFUzM4NCJ9.eyJpc3MiOiJ4In0.c2ln"}`,
		`{"h":"Bearer x"}`,
	} {
		if checkCapture(planted) == nil {
			t.Errorf("no leak found in %s", planted)
		}
	}
	if err := checkCapture(`{"msg":"request","status":200}`); err != nil {
		t.Errorf("clean line: %v", err)
	}
}
