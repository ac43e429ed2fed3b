package hooks

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/go-cmp/cmp"

	"github.com/nencds/nencds/fhirclient"
	"github.com/nencds/nencds/internal/security"
)

func fixture(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("../testdata/requests/nen-net-g2-metastatic.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// edit decodes the fixture, applies f to it as a map, and encodes it again.
func edit(t testing.TB, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(fixture(t), &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDiscovery(t *testing.T) {
	t.Parallel()
	fa := &fakeAuth{}
	s := newTestServer(t, testOptions(t, fa, nil))
	w := do(s.Handler(), http.MethodGet, "/cds-services", nil, nil)
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if got, want := fa.lastAud(), testPublicURL+"/cds-services"; got != want {
		t.Errorf("aud %q, want %q", got, want)
	}
	var d Discovery
	if err := json.Unmarshal(w.Body.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Services) == 0 {
		t.Fatal("no services: the sandbox treats an empty list as failure")
	}
	svc := d.Services[0]
	if svc.Hook != "patient-view" || svc.ID != PatientViewID || svc.Description == "" || svc.Title == "" || svc.UsageRequirements == "" {
		t.Errorf("service incomplete: %+v", svc)
	}
	var keys []string
	for k, tmpl := range svc.Prefetch {
		keys = append(keys, k)
		rest := strings.ReplaceAll(tmpl, "{{context.patientId}}", "")
		if strings.Contains(rest, "{{") || strings.Contains(rest, "}}") {
			t.Errorf("%s: template %q uses a token other than {{context.patientId}}", k, tmpl)
		}
		for _, p := range strings.Split(strings.SplitN(rest+"?", "?", 2)[1], "&") {
			name := strings.SplitN(p, "=", 2)[0]
			switch name {
			case "", "patient", "code", "_count":
			case "_sort":
				if p != "_sort=-date" {
					t.Errorf("%s: sort %q, want only _sort=-date", k, p)
				}
			default:
				t.Errorf("%s: query parameter %q outside the CDS Hooks prefetch subset", k, name)
			}
		}
	}
	sort.Strings(keys)
	want := append([]string(nil), PrefetchKeys...)
	sort.Strings(want)
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("prefetch keys (-want +got):\n%s", diff)
	}
	wantTemplates := map[string]string{
		"patient":                   "Patient/{{context.patientId}}",
		"conditions":                "Condition?patient={{context.patientId}}",
		"medicationRequests":        "MedicationRequest?patient={{context.patientId}}",
		"medicationStatements":      "MedicationStatement?patient={{context.patientId}}",
		"medicationAdministrations": "MedicationAdministration?patient={{context.patientId}}",
		"procedures":                "Procedure?patient={{context.patientId}}",
		"diagnosticReports":         "DiagnosticReport?patient={{context.patientId}}&_sort=-date&_count=100",
		"serviceRequests":           "ServiceRequest?patient={{context.patientId}}",
		"tasks":                     "Task?patient={{context.patientId}}",
	}
	for k, v := range wantTemplates {
		if svc.Prefetch[k] != v {
			t.Errorf("prefetch %s = %q, want %q", k, svc.Prefetch[k], v)
		}
	}
	obs := svc.Prefetch["observations"]
	for _, code := range []string{"http://loinc.org|29593-1", "http://loinc.org|89247-1", "http://loinc.org|10230-1", "http://loinc.org|97509-4", "https://github.com/nencds/nencds/CodeSystem/observation|mitotic-count"} {
		if !strings.Contains(obs, code) {
			t.Errorf("observations template lacks %s", code)
		}
	}
	if !strings.HasPrefix(obs, "Observation?patient={{context.patientId}}&code=") || !strings.HasSuffix(obs, "&_sort=-date&_count=200") {
		t.Errorf("observations template %q", obs)
	}
}

func TestServiceAudiences(t *testing.T) {
	t.Parallel()
	fa := &fakeAuth{}
	s := newTestServer(t, testOptions(t, fa, nil))
	do(s.Handler(), http.MethodPost, "/cds-services/"+PatientViewID, fixture(t), nil)
	if got, want := fa.lastAud(), testPublicURL+"/cds-services/"+PatientViewID; got != want {
		t.Errorf("service aud %q, want %q", got, want)
	}
	do(s.Handler(), http.MethodPost, "/cds-services/"+PatientViewID+"/feedback", []byte(`{"feedback":[]}`), nil)
	if got, want := fa.lastAud(), testPublicURL+"/cds-services/"+PatientViewID+"/feedback"; got != want {
		t.Errorf("feedback aud %q, want %q", got, want)
	}
}

func TestPatientViewOK(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, testOptions(t, nil, nil))
	w := do(s.Handler(), http.MethodPost, "/cds-services/"+PatientViewID, fixture(t), nil)
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var resp struct {
		Cards []json.RawMessage `json:"cards"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil || resp.Cards == nil {
		t.Fatalf("body %s: want {\"cards\": [...]}", w.Body)
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
}

// TestErrors checks every error path: its status and an OperationOutcome body.
func TestErrors(t *testing.T) {
	t.Parallel()
	svcPath := "/cds-services/" + PatientViewID
	deep := strings.Repeat("[", 100) + strings.Repeat("]", 100)
	tests := []struct {
		name   string
		method string
		path   string
		body   []byte
		hdr    map[string]string
		opts   func(*Options)
		status int
		want   string // in the diagnostics
	}{
		{name: "no token", method: "GET", path: "/cds-services", hdr: map[string]string{"Authorization": ""}, status: 401, want: "authentication required"},
		{name: "bad token on service", method: "POST", path: svcPath, body: fixture(t), hdr: map[string]string{"Authorization": "Bearer bad"}, status: 401},
		{name: "bad token on feedback", method: "POST", path: svcPath + "/feedback", body: []byte(`{}`), hdr: map[string]string{"Authorization": "Bearer bad"}, status: 401},
		{name: "unknown service", method: "POST", path: "/cds-services/nope", body: fixture(t), status: 404},
		{name: "unknown service feedback", method: "POST", path: "/cds-services/nope/feedback", body: []byte(`{"feedback":[]}`), status: 404},
		{name: "unknown route", method: "GET", path: "/nope", status: 404},
		{name: "GET on service", method: "GET", path: svcPath, status: 404},
		{name: "text content type", method: "POST", path: svcPath, body: fixture(t), hdr: map[string]string{"Content-Type": "text/plain"}, status: 415, want: "application/json"},
		{name: "no content type", method: "POST", path: svcPath, body: fixture(t), hdr: map[string]string{"Content-Type": ""}, status: 415},
		{name: "latin1 charset", method: "POST", path: svcPath, body: fixture(t), hdr: map[string]string{"Content-Type": "application/json; charset=latin1"}, status: 415},
		{name: "too large", method: "POST", path: svcPath, body: fixture(t), opts: func(o *Options) { o.Limits.MaxBytes = 1000 }, status: 413, want: "over 1000 bytes"},
		{name: "empty body", method: "POST", path: svcPath, body: []byte{}, status: 400, want: "empty body"},
		{name: "malformed", method: "POST", path: svcPath, body: []byte("{\n  \"hook\": \"patient-view\",\n  \"hookInstance\" \"x\"\n}"), status: 400, want: "line 3, column 18"},
		{name: "truncated", method: "POST", path: svcPath, body: []byte(`{"hook": "patient-view"`), status: 400, want: "unexpected end"},
		{name: "trailing data", method: "POST", path: svcPath, body: append(fixture(t), []byte(` {}`)...), status: 400, want: "data after the JSON value"},
		{name: "wrong type", method: "POST", path: svcPath, body: []byte(`{"hook": 7}`), status: 400, want: "hook must be a string"},
		{name: "not an object", method: "POST", path: svcPath, body: []byte(`[]`), status: 400},
		{name: "too deep", method: "POST", path: svcPath, body: []byte(`{"prefetch":{"x":` + deep + `}}`), status: 400, want: "nested deeper than 64"},
		{name: "string too long", method: "POST", path: svcPath, body: []byte(`{"hook":"` + strings.Repeat("a", 2000) + `"}`), opts: func(o *Options) { o.Limits.MaxString = 1000 }, status: 400, want: "longer than 1000"},
		{name: "no hook", method: "POST", path: svcPath, body: edit(t, func(m map[string]any) { delete(m, "hook") }), status: 400, want: "hook is required"},
		{name: "wrong hook", method: "POST", path: svcPath, body: edit(t, func(m map[string]any) { m["hook"] = "order-sign" }), status: 400, want: `not "order-sign"`},
		{name: "no hookInstance", method: "POST", path: svcPath, body: edit(t, func(m map[string]any) { delete(m, "hookInstance") }), status: 400, want: "hookInstance"},
		{name: "no context", method: "POST", path: svcPath, body: edit(t, func(m map[string]any) { delete(m, "context") }), status: 400, want: "context is required"},
		{name: "context not object", method: "POST", path: svcPath, body: edit(t, func(m map[string]any) { m["context"] = "x" }), status: 400, want: "context must be an object"},
		{name: "no patientId", method: "POST", path: svcPath, body: edit(t, func(m map[string]any) { delete(m["context"].(map[string]any), "patientId") }), status: 400, want: "patientId is required"},
		{name: "patientId with type", method: "POST", path: svcPath, body: edit(t, func(m map[string]any) { m["context"].(map[string]any)["patientId"] = "Patient/net-g2-metastatic" }), status: 400, want: "bare FHIR id"},
		{name: "no userId", method: "POST", path: svcPath, body: edit(t, func(m map[string]any) { delete(m["context"].(map[string]any), "userId") }), status: 400, want: "userId is required"},
		{name: "fhirAuthorization without fhirServer", method: "POST", path: svcPath, body: edit(t, func(m map[string]any) {
			delete(m, "fhirServer")
			m["fhirAuthorization"] = map[string]any{"access_token": "t", "token_type": "Bearer", "expires_in": 300, "scope": "patient/*.read", "subject": "x"}
		}), status: 400, want: "requires fhirServer"},
		{name: "fhirServer not a URL", method: "POST", path: svcPath, body: edit(t, func(m map[string]any) { m["fhirServer"] = "ehr/fhir" }), status: 400, want: "fhirServer"},
		{name: "prefetch not an object", method: "POST", path: svcPath, body: edit(t, func(m map[string]any) { m["prefetch"].(map[string]any)["conditions"] = "x" }), status: 400, want: `prefetch "conditions"`},
		{name: "prefetch without resourceType", method: "POST", path: svcPath, body: edit(t, func(m map[string]any) {
			m["prefetch"].(map[string]any)["conditions"] = map[string]any{"entry": []any{}}
		}), status: 400, want: "not a FHIR resource"},
		{name: "patient of another id", method: "POST", path: svcPath, body: edit(t, func(m map[string]any) {
			m["prefetch"].(map[string]any)["patient"] = map[string]any{"resourceType": "Patient", "id": "someone-else"}
		}), status: 400, want: "Patient of context.patientId"},
		{name: "missing keys without fhirServer", method: "POST", path: svcPath, body: edit(t, func(m map[string]any) {
			delete(m, "fhirServer")
			delete(m["prefetch"].(map[string]any), "observations")
			delete(m["prefetch"].(map[string]any), "conditions")
		}), status: 412, want: `prefetch "conditions" could not be had: not in the prefetch and no fhirServer given | prefetch "observations"`},
		{name: "panic", method: "GET", path: "/cds-services", opts: func(o *Options) {
			o.Middleware = []gin.HandlerFunc{func(*gin.Context) { panic("boom: patient secret") }}
		}, status: 500, want: "internal error"},
		{name: "not ready", method: "GET", path: "/readyz", opts: func(o *Options) {
			o.Ready = func(context.Context) error { return errors.New("warming up") }
		}, status: 503, want: "not ready"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := testOptions(t, nil, nil)
			if tt.opts != nil {
				tt.opts(&o)
			}
			s := newTestServer(t, o)
			w := do(s.Handler(), tt.method, tt.path, tt.body, tt.hdr)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			oo := outcomeOf(t, w.Body.Bytes())
			if tt.status == 401 && w.Header().Get("WWW-Authenticate") != "Bearer" {
				t.Errorf("401 without WWW-Authenticate: Bearer")
			}
			if got := diags(oo); !strings.Contains(got, tt.want) {
				t.Errorf("diagnostics %q, want them to contain %q", got, tt.want)
			}
			for _, leak := range []string{"abc.def.ghi", "patient secret", "warming up", "net-g2-metastatic"} {
				if strings.Contains(w.Body.String(), leak) {
					t.Errorf("body leaks %q: %s", leak, w.Body)
				}
			}
		})
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, testOptions(t, nil, nil))
	for _, p := range []string{"/healthz", "/readyz"} {
		w := do(s.Handler(), http.MethodGet, p, nil, map[string]string{"Authorization": ""})
		if w.Code != http.StatusOK {
			t.Errorf("%s: status %d: %s", p, w.Code, w.Body)
		}
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	const sandbox = "https://sandbox.cds-hooks.org"
	tests := []struct {
		name      string
		dev       bool
		origins   []string
		method    string
		path      string
		origin    string
		status    int
		wantAllow string
	}{
		{name: "preflight allowed", origins: []string{sandbox}, method: "OPTIONS", path: "/cds-services", origin: sandbox, status: 204, wantAllow: sandbox},
		{name: "preflight service", origins: []string{sandbox}, method: "OPTIONS", path: "/cds-services/" + PatientViewID, origin: sandbox, status: 204, wantAllow: sandbox},
		{name: "preflight feedback", origins: []string{"*"}, method: "OPTIONS", path: "/cds-services/x/feedback", origin: sandbox, status: 204, wantAllow: sandbox},
		{name: "preflight other origin", origins: []string{sandbox}, method: "OPTIONS", path: "/cds-services", origin: "https://evil.example", status: 204},
		{name: "dev any origin", dev: true, method: "OPTIONS", path: "/cds-services", origin: "https://anything.example", status: 204, wantAllow: "https://anything.example"},
		{name: "GET carries headers", origins: []string{sandbox}, method: "GET", path: "/cds-services", origin: sandbox, status: 200, wantAllow: sandbox},
		{name: "error carries headers", origins: []string{sandbox}, method: "GET", path: "/nope", origin: sandbox, status: 404, wantAllow: sandbox},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := testOptions(t, nil, nil)
			o.Mode, o.CORSOrigins = modeOf(tt.dev), tt.origins
			s := newTestServer(t, o)
			// A preflight carries no Authorization header.
			w := do(s.Handler(), tt.method, tt.path, nil, map[string]string{"Origin": tt.origin, "Authorization": "", "Access-Control-Request-Private-Network": "true"})
			if tt.method != "OPTIONS" {
				w = do(s.Handler(), tt.method, tt.path, nil, map[string]string{"Origin": tt.origin})
			}
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d", w.Code, tt.status)
			}
			if got := w.Header().Get("Access-Control-Allow-Origin"); got != tt.wantAllow {
				t.Errorf("Allow-Origin %q, want %q", got, tt.wantAllow)
			}
			if got, want := w.Header().Get("Access-Control-Allow-Private-Network"), map[bool]string{true: "true"}[tt.dev && tt.method == "OPTIONS"]; got != want {
				t.Errorf("Allow-Private-Network %q, want %q", got, want)
			}
			if tt.wantAllow != "" {
				if got := w.Header().Get("Access-Control-Allow-Headers"); got != "Authorization, Content-Type" {
					t.Errorf("Allow-Headers %q", got)
				}
				if got := w.Header().Get("Access-Control-Expose-Headers"); got != RequestIDHeader {
					t.Errorf("Expose-Headers %q, want %s (the sandbox reads the request id)", got, RequestIDHeader)
				}
			}
		})
	}
}

func TestDevNeedsNoToken(t *testing.T) {
	t.Parallel()
	o := testOptions(t, nil, nil)
	o.Mode, o.Authenticator, o.PublicURL = security.Development(), nil, ""
	s := newTestServer(t, o)
	w := do(s.Handler(), http.MethodPost, "/cds-services/"+PatientViewID, fixture(t), map[string]string{"Authorization": ""})
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
}

func TestNewServerRequiresTrustOutsideDev(t *testing.T) {
	t.Parallel()
	o := testOptions(t, nil, nil)
	o.Authenticator = nil
	if _, err := NewServer(o); err == nil {
		t.Error("NewServer without an Authenticator outside dev: no error")
	}
	o = testOptions(t, nil, nil)
	o.PublicURL = ""
	if _, err := NewServer(o); err == nil {
		t.Error("NewServer without PublicURL outside dev: no error")
	}
}

// TestSaturation fills MaxInFlight with calls blocked on a slow FHIR server and checks
// that one more answers 503.
func TestSaturation(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var once sync.Once
	entered := make(chan struct{}, 8)
	fhir := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		w.Write([]byte(`{"resourceType":"Bundle","type":"searchset"}`))
	}))
	defer fhir.Close()
	defer once.Do(func() { close(release) })
	o := testOptions(t, nil, nil)
	o.Mode, o.Authenticator = security.Development(), nil
	o.MaxInFlight = 1
	o.Evaluator.Resolver.Policy = fhirclient.Policy{Mode: security.Development()}
	s := newTestServer(t, o)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	body := edit(t, func(m map[string]any) {
		m["fhirServer"] = fhir.URL
		delete(m["prefetch"].(map[string]any), "tasks")
	})
	first := make(chan int, 1)
	go func() {
		resp, err := http.Post(srv.URL+"/cds-services/"+PatientViewID, "application/json", strings.NewReader(string(body)))
		if err != nil {
			first <- 0
			return
		}
		resp.Body.Close()
		first <- resp.StatusCode
	}()
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the first call never reached the FHIR server")
	}
	w := do(s.Handler(), http.MethodPost, "/cds-services/"+PatientViewID, body, nil)
	if w.Code != http.StatusServiceUnavailable {
		t.Errorf("status %d while saturated, want 503: %s", w.Code, w.Body)
	} else {
		outcomeOf(t, w.Body.Bytes())
	}
	once.Do(func() { close(release) })
	if got := <-first; got != http.StatusOK {
		t.Errorf("first call: status %d, want 200", got)
	}
}
