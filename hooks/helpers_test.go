package hooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/nencds/nencds/cards"
	"github.com/nencds/nencds/fhirclient"
	"github.com/nencds/nencds/hooks/auth"
	"github.com/nencds/nencds/hooks/telemetry"
	"github.com/nencds/nencds/internal/golden"
	"github.com/nencds/nencds/internal/security"
)

// goldenAt is the evaluation time of every golden test.
var goldenAt = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

const testPublicURL = "https://cds.test"

// fakeAuth is an Authenticator that accepts "Bearer good" and records each aud.
type fakeAuth struct {
	client auth.Client
	mu     sync.Mutex
	auds   []string
	calls  int
}

var _ Authenticator = (*fakeAuth)(nil)

func (f *fakeAuth) Authenticate(_ context.Context, authorization, aud string) (auth.Client, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.auds = append(f.auds, aud)
	if authorization != "Bearer good" {
		return auth.Client{}, errors.New("refused: token abc.def.ghi")
	}
	return f.client, nil
}

func (f *fakeAuth) lastAud() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.auds) == 0 {
		return ""
	}
	return f.auds[len(f.auds)-1]
}

// testOptions returns production-like Options (authentication on) with a fixed clock,
// deterministic ids, the suite's capturing logger and telemetry (see leak_test.go: the
// middleware, the stage spans and the instrumented FHIR transport are on, as in cmd);
// the FHIR client uses transport.
func testOptions(t testing.TB, fa *fakeAuth, transport http.RoundTripper) Options {
	t.Helper()
	if fa == nil {
		fa = &fakeAuth{}
	}
	if _, bench := t.(*testing.B); bench {
		// Benchmarks measure the handler as before the leak capture: a discarding logger
		// and no telemetry (the in-memory exporter would grow with every iteration).
		return Options{
			PublicURL:     testPublicURL,
			Authenticator: fa,
			Evaluator: &Evaluator{
				Engine: cards.NewEngine(cards.DefaultConfig(), SequentialIDs()),
				Resolver: &Resolver{
					FHIR:    fhirclient.New(fhirclient.Options{Transport: transport, RequestTimeout: 2 * time.Second}),
					Timeout: 3 * time.Second,
				},
				Now: func() time.Time { return goldenAt },
			},
			Logger: slog.New(slog.DiscardHandler),
		}
	}
	return Options{
		PublicURL:     testPublicURL,
		Authenticator: fa,
		Evaluator: &Evaluator{
			Engine: cards.NewEngine(cards.DefaultConfig(), SequentialIDs()),
			Resolver: &Resolver{
				FHIR:    fhirclient.New(fhirclient.Options{Transport: testTelemetry.Transport(transport), RequestTimeout: 2 * time.Second}),
				Timeout: 3 * time.Second,
				Stage:   telemetry.StageFunc[Stage](testTelemetry),
			},
			Now:   func() time.Time { return goldenAt },
			Stage: telemetry.StageFunc[Stage](testTelemetry),
		},
		Logger:     testLogger,
		Telemetry:  testTelemetry,
		Middleware: []gin.HandlerFunc{testTelemetry.Middleware()},
	}
}

func newTestServer(t testing.TB, o Options) *Server {
	t.Helper()
	s, err := NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// do sends one request to h with the good token and a JSON content type (override with hdr).
func do(h http.Handler, method, path string, body []byte, hdr map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer good")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// outcomeOf decodes an OperationOutcome body or fails.
func outcomeOf(t *testing.T, body []byte) OperationOutcome {
	t.Helper()
	var oo OperationOutcome
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&oo); err != nil {
		t.Fatalf("body is not an OperationOutcome: %v\n%s", err, body)
	}
	if oo.ResourceType != "OperationOutcome" || len(oo.Issue) == 0 {
		t.Fatalf("body is not an OperationOutcome with issues: %s", body)
	}
	for _, is := range oo.Issue {
		if is.Severity == "" || is.Code == "" {
			t.Fatalf("issue without severity or code: %s", body)
		}
	}
	return oo
}

// normalJSON re-indents JSON with sorted keys (golden.NormalJSON), failing t otherwise.
func normalJSON(t testing.TB, b []byte) []byte {
	t.Helper()
	n, err := golden.NormalJSON(b)
	if err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	return n
}

func diags(oo OperationOutcome) string {
	var parts []string
	for _, is := range oo.Issue {
		parts = append(parts, is.Diagnostics)
	}
	return strings.Join(parts, " | ")
}

// modeOf is Development when dev, else Production.
func modeOf(dev bool) security.Mode {
	if dev {
		return security.Development()
	}
	return security.Production()
}
