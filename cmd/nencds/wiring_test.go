package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nencds/nencds/cards"
	"github.com/nencds/nencds/hooks"
	"github.com/nencds/nencds/internal/leakcheck"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "rules.json")
	if err := os.WriteFile(f, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestRulesConfig: -rules-config merges a strict JSON file over cards.DefaultConfig();
// -max-cards and -smart-app-url (flag or environment) override it; bad values are refused.
func TestRulesConfig(t *testing.T) {
	t.Parallel()
	good := writeFile(t, `{"elderlyAge": 75, "recent": {"workupBeforeDiagnosisDays": 60}, "maxCards": 4}`)
	def := cards.DefaultConfig()
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    func(c *cards.Config)
		wantErr string
	}{
		{name: "defaults", args: []string{"-dev"}, want: func(*cards.Config) {}},
		{name: "file merged over defaults", args: []string{"-dev", "-rules-config", good}, want: func(c *cards.Config) {
			c.ElderlyAge, c.Recent.WorkupBeforeDiagnosisDays, c.MaxCards = 75, 60, 4
		}},
		{name: "flag over file", args: []string{"-dev", "-rules-config", good, "-max-cards", "2"}, want: func(c *cards.Config) {
			c.ElderlyAge, c.Recent.WorkupBeforeDiagnosisDays, c.MaxCards = 75, 60, 2
		}},
		{name: "env", env: map[string]string{"NENCDS_DEV": "1", "NENCDS_RULES_CONFIG": good, "NENCDS_MAX_CARDS": "0", "NENCDS_SMART_APP_URL": "https://app.example.org/launch"}, want: func(c *cards.Config) {
			c.ElderlyAge, c.Recent.WorkupBeforeDiagnosisDays, c.MaxCards, c.SMARTAppURL = 75, 60, 0, "https://app.example.org/launch"
		}},
		{name: "default flag value does not override the file", args: []string{"-dev", "-rules-config", good}, env: map[string]string{}, want: func(c *cards.Config) {
			c.ElderlyAge, c.Recent.WorkupBeforeDiagnosisDays, c.MaxCards = 75, 60, 4
		}},
		{name: "http smart app in dev", args: []string{"-dev", "-smart-app-url", "http://127.0.0.1:9000/launch"}, want: func(c *cards.Config) {
			c.SMARTAppURL = "http://127.0.0.1:9000/launch"
		}},
		{name: "http smart app in production", args: []string{"-trust", "t.yaml", "-behind-proxy", "-smart-app-url", "http://app.example.org/launch"}, wantErr: "smartAppUrl"},
		{name: "relative smart app", args: []string{"-dev", "-smart-app-url", "/launch"}, wantErr: "smartAppUrl"},
		{name: "negative max cards", args: []string{"-dev", "-max-cards", "-1"}, wantErr: "maxCards"},
		{name: "unknown field", args: []string{"-dev", "-rules-config", writeFile(t, `{"elderlyAgee": 75}`)}, wantErr: `unknown field "elderlyAgee"`},
		{name: "wrong type", args: []string{"-dev", "-rules-config", writeFile(t, `{"elderlyAge": "75"}`)}, wantErr: "elderlyAge"},
		{name: "trailing data", args: []string{"-dev", "-rules-config", writeFile(t, `{"elderlyAge": 75} {}`)}, wantErr: "trailing data"},
		{name: "not an object", args: []string{"-dev", "-rules-config", writeFile(t, `[]`)}, wantErr: "not a JSON object"},
		{name: "out of range", args: []string{"-dev", "-rules-config", writeFile(t, `{"lvefRelativeDrop": 20, "ecogChemoMax": 7, "recent": {"sstrImagingDays": 0}}`)},
			wantErr: "ecogChemoMax must be an ECOG score, 0 to 5\nrecent.sstrImagingDays must be 1 to 3650\nlvefRelativeDrop must be a fraction between 0 and 1"},
		{name: "guideline label only keeps the url", args: []string{"-dev", "-rules-config", writeFile(t, `{"guidelines": {"esmo": {"label": "ESMO 2020"}}}`)}, want: func(c *cards.Config) {
			c.Guidelines.ESMO.Label = "ESMO 2020"
		}},
		{name: "guideline with an empty url", args: []string{"-dev", "-rules-config", writeFile(t, `{"guidelines": {"esmo": {"label": "ESMO", "url": ""}}}`)}, wantErr: "guidelines.esmo.url"},
		{name: "missing file", args: []string{"-dev", "-rules-config", filepath.Join(t.TempDir(), "none.json")}, wantErr: "rules config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := parseConfig(tt.args, env(tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := def
			tt.want(&want)
			if diff := cmp.Diff(want, c.Rules); diff != "" {
				t.Errorf("rules (-want +got):\n%s", diff)
			}
		})
	}
}

func get(t *testing.T, url string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// TestServeWiring: the binary's request log line (request id echoed, service, hookInstance,
// cards, trace id), /metrics when enabled (flag or OTEL_METRICS_EXPORTER) with cards by
// topic, and the rules settings reaching the engine.
func TestServeWiring(t *testing.T) {
	t.Parallel()
	base, logs := startWith(t, []string{"-dev", "-addr", "127.0.0.1:0", "-metrics", "-max-cards", "1",
		"-smart-app-url", "https://app.example.org/launch"}, nil)

	req, _ := http.NewRequest("POST", base+"/cds-services/"+hooks.PatientViewID, strings.NewReader(string(fixture(t))))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-Id", "wiring-test-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Request-Id") != "wiring-test-1" {
		t.Fatalf("status %d, X-Request-Id %q: %s", resp.StatusCode, resp.Header.Get("X-Request-Id"), body)
	}
	var out cards.Response
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Cards) != 1 {
		t.Fatalf("%d cards with -max-cards 1", len(out.Cards))
	}
	smart := false
	for _, l := range out.Cards[0].Links {
		smart = smart || (l.Type == "smart" && l.URL == "https://app.example.org/launch")
	}
	if !smart {
		t.Errorf("no smart link with -smart-app-url: %+v", out.Cards[0].Links)
	}

	var line map[string]any
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, `"request_id":"wiring-test-1"`) {
			if err := json.Unmarshal([]byte(l), &line); err != nil {
				t.Fatal(err)
			}
		}
	}
	if line == nil {
		t.Fatalf("no log line with the request id:\n%s", logs.String())
	}
	for k, v := range map[string]any{"msg": "request", "service": hooks.PatientViewID, "cards": 1.0, "status": 200.0,
		"hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea", "route": "/cds-services/:id"} {
		if line[k] != v {
			t.Errorf("log %s = %v, want %v", k, line[k], v)
		}
	}
	if id, _ := line["trace_id"].(string); len(id) != 32 {
		t.Errorf("log trace_id %v", line["trace_id"])
	}

	resp, metrics := get(t, base+"/metrics", nil)
	testCapture.Write(metrics) // scanned by the leak check
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	topic := out.Cards[0].Source.Topic.Code
	for _, want := range []string{`nencds_cards_emitted_total{`, `nencds_topic="` + topic + `"`, `nencds_prefetch_keys_total{`, `http_server_request_duration_seconds_bucket{`,
		// Go runtime and process metrics (before: none).
		"\ngo_goroutines ", "\ngo_memstats_heap_alloc_bytes ", "\nprocess_resident_memory_bytes ", "\nprocess_open_fds "} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// Only GET /metrics goes to Prometheus; other paths reach the CDS server unchanged
	// (no path cleaning or redirects in front of it).
	for _, path := range []string{"/metrics/", "//cds-services/../metrics"} {
		if resp, body := get(t, base+path, nil); resp.StatusCode != 404 || !strings.Contains(string(body), "OperationOutcome") {
			t.Errorf("GET %s: %d %s, want the CDS server's 404", path, resp.StatusCode, body)
		}
	}

	// Without -metrics there is no /metrics; OTEL_METRICS_EXPORTER=prometheus turns it on.
	off := start(t, []string{"-dev", "-addr", "127.0.0.1:0"})
	if resp, _ := get(t, off+"/metrics", nil); resp.StatusCode != 404 {
		t.Errorf("/metrics without -metrics: %d, want 404", resp.StatusCode)
	}
	on, _ := startWith(t, []string{"-dev", "-addr", "127.0.0.1:0"}, map[string]string{"OTEL_METRICS_EXPORTER": "prometheus"})
	if resp, _ := get(t, on+"/metrics", nil); resp.StatusCode != 200 {
		t.Errorf("/metrics with OTEL_METRICS_EXPORTER=prometheus: %d, want 200", resp.StatusCode)
	}
}

// TestServeBadTelemetryEnv: an unsupported OTEL_* setting stops the start with an error.
func TestServeBadTelemetryEnv(t *testing.T) {
	t.Parallel()
	err := run(t.Context(), []string{"-dev", "-addr", "127.0.0.1:0"}, env(map[string]string{"OTEL_METRICS_EXPORTER": "otlp"}), strings.NewReader(""), io.Discard, testCapture, nil)
	if err == nil || !strings.Contains(err.Error(), "OTEL_METRICS_EXPORTER") {
		t.Errorf("err %v", err)
	}
}

// TestREADMETopics: the README lists every topic code and the code system (a contract).
func TestREADMETopics(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	if !strings.Contains(readme, "`"+cards.TopicSystem+"`") {
		t.Errorf("README lacks the topic system %s", cards.TopicSystem)
	}
	for _, code := range cards.Topics() {
		if !strings.Contains(readme, "`"+code+"`") {
			t.Errorf("README lacks the topic code %s", code)
		}
	}
}

// TestServeDrain: on cancellation (SIGTERM in main) the server stops accepting new
// connections, lets the in-flight call finish (here held by a slow FHIR fallback) and
// logs it before run returns.
func TestServeDrain(t *testing.T) {
	t.Parallel()
	arrived, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	fhir := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(arrived) })
		<-release
		w.Header().Set("Content-Type", "application/fhir+json")
		io.WriteString(w, `{"resourceType":"Bundle","type":"searchset","entry":[]}`)
	}))
	defer fhir.Close()

	var m map[string]any
	if err := json.Unmarshal(fixture(t), &m); err != nil {
		t.Fatal(err)
	}
	delete(m["prefetch"].(map[string]any), "tasks")
	m["fhirServer"] = fhir.URL
	body, _ := json.Marshal(m)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr := make(chan string, 1)
	done := make(chan error, 1)
	logs := &leakcheck.Capture{}
	go func() {
		done <- run(ctx, []string{"-dev", "-addr", "127.0.0.1:0", "-shutdown-timeout", "10s"}, env(nil), strings.NewReader(""), io.Discard, io.MultiWriter(logs, testCapture), func(a string) { addr <- a })
	}()
	base := "http://" + <-addr

	type result struct {
		code int
		err  error
	}
	inflight := make(chan result, 1)
	go func() {
		resp, err := http.Post(base+"/cds-services/"+hooks.PatientViewID, "application/json", bytes.NewReader(body))
		if err != nil {
			inflight <- result{err: err}
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		inflight <- result{code: resp.StatusCode}
	}()
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the fallback fetch did not start")
	}
	cancel()
	// New connections are refused once the listener is closed.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("still accepting connections after shutdown began")
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("run returned before the in-flight call finished: %v", err)
	default:
	}
	close(release)
	if r := <-inflight; r.err != nil || r.code != 200 {
		t.Fatalf("in-flight call: %d %v", r.code, r.err)
	}
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	if !strings.Contains(logs.String(), `"msg":"request"`) || !strings.Contains(logs.String(), `"status":200`) {
		t.Errorf("the drained call was not logged before run returned:\n%s", logs.String())
	}
}
