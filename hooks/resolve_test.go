package hooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nencds/nencds/fhirclient"
	"github.com/nencds/nencds/hooks/auth"
	"github.com/nencds/nencds/internal/security"
)

// validated decodes and validates a request body or fails.
func validated(t testing.TB, body []byte) *Request {
	t.Helper()
	req, err := DecodeRequest(body, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if err := req.Validate(PatientView()); err != nil {
		t.Fatal(err)
	}
	return req
}

func allDispositions(d Disposition) map[string]Disposition {
	m := map[string]Disposition{}
	for _, k := range PrefetchKeys {
		m[k] = d
	}
	return m
}

// TestPrefetchDecisionTable checks, for one key at a time, what the resolver does with
// each state of a prefetch value.
func TestPrefetchDecisionTable(t *testing.T) {
	t.Parallel()
	const oo = `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"too-costly"}]}`
	const ooEntryBundle = `{"resourceType":"Bundle","type":"searchset","entry":[{"resource":` + oo + `,"search":{"mode":"outcome"}}]}`
	const warnEntryBundle = `{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"OperationOutcome","issue":[{"severity":"warning","code":"informational"}]},"search":{"mode":"outcome"}}]}`
	tests := []struct {
		name      string
		key       string
		value     *string // nil: absent
		fhir      bool    // the request names the fake FHIR server
		want      Disposition
		wantFetch string // a path the fake must have served ("" : no request at all)
		wantErr   Kind   // KindInternal: no error
		wantDocs  int    // documents given to fhirmap for the key
	}{
		{name: "absent fetched", key: KeyConditions, value: nil, fhir: true, want: Fetched, wantFetch: "/Condition?patient=net-g2-metastatic", wantDocs: 1},
		{name: "null", key: KeyConditions, value: ptr("null"), fhir: true, want: Null},
		{name: "null without fhirServer", key: KeyTasks, value: ptr("null"), want: Null},
		{name: "empty bundle present", key: KeyProcedures, value: ptr(`{"resourceType":"Bundle","type":"searchset","total":0}`), fhir: true, want: Present, wantDocs: 1},
		{name: "single resource present", key: KeyPatient, value: ptr(`{"resourceType":"Patient","id":"net-g2-metastatic"}`), fhir: true, want: Present, wantDocs: 1},
		{name: "operation outcome refetched", key: KeyObservations, value: ptr(oo), fhir: true, want: Fetched, wantFetch: "/Observation?patient=net-g2-metastatic&code=", wantDocs: 1},
		{name: "bundle with error outcome refetched", key: KeyConditions, value: ptr(ooEntryBundle), fhir: true, want: Fetched, wantFetch: "/Condition?patient=", wantDocs: 1},
		{name: "bundle with warning outcome used", key: KeyConditions, value: ptr(warnEntryBundle), fhir: true, want: Present, wantDocs: 1},
		{name: "paginated bundle present, next read", key: KeyConditions, value: ptr(`{"resourceType":"Bundle","type":"searchset","link":[{"relation":"next","url":"FAKE/Condition?patient=net-g2-metastatic&_page=1"}]}`), fhir: true, want: Present, wantFetch: "/Condition?patient=net-g2-metastatic&_page=1", wantDocs: 2},
		{name: "paginated bundle without fhirServer", key: KeyConditions, value: ptr(`{"resourceType":"Bundle","type":"searchset","link":[{"relation":"next","url":"https://ehr.example.org/fhir/r4/Condition?page=2"}]}`), want: Failed, wantErr: KindMissingData},
		{name: "absent patient read", key: KeyPatient, value: nil, fhir: true, want: Fetched, wantFetch: "/Patient/net-g2-metastatic", wantDocs: 1},
		{name: "absent without fhirServer", key: KeyConditions, value: nil, want: Failed, wantErr: KindMissingData},
		{name: "outcome without fhirServer", key: KeyConditions, value: ptr(oo), want: Failed, wantErr: KindMissingData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := newFakeFHIR(t, fixture(t), false, nil)
			body := edit(t, func(m map[string]any) {
				pf := m["prefetch"].(map[string]any)
				delete(m, "fhirServer")
				if tt.fhir {
					m["fhirServer"] = fake.URL()
				}
				if tt.value == nil {
					delete(pf, tt.key)
				} else {
					pf[tt.key] = json.RawMessage(strings.ReplaceAll(*tt.value, "FAKE", fake.URL()))
				}
			})
			req := validated(t, body)
			r := &Resolver{FHIR: fhirclient.New(fhirclient.Options{Mode: security.Development()}), Policy: fhirclient.Policy{Mode: security.Development()}, Timeout: 3 * time.Second}
			res, err := r.Resolve(context.Background(), req, auth.Client{Anonymous: true})
			if tt.wantErr != KindInternal {
				if KindOf(err) != tt.wantErr {
					t.Fatalf("err %v, want kind %v", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if got := res.Dispositions[tt.key]; got != tt.want {
				t.Errorf("disposition %q, want %q", got, tt.want)
			}
			paths := fake.seenPaths()
			if tt.wantFetch == "" && len(paths) != 0 {
				t.Errorf("fetched %v, want no request", paths)
			}
			if tt.wantFetch != "" && !slices.ContainsFunc(paths, func(p string) bool { return strings.HasPrefix(p, tt.wantFetch) }) {
				t.Errorf("fetched %v, want %s", paths, tt.wantFetch)
			}
			if err == nil {
				// The fixture's other keys give one document each, except the three nulls.
				nulls := []string{KeyTasks, KeyMedicationStatements, KeyMedicationAdministrations}
				if got, want := len(res.Documents), len(PrefetchKeys)-len(nulls)-1+tt.wantDocs; !slices.Contains(nulls, tt.key) && got != want {
					t.Errorf("%d documents, want %d", got, want)
				}
			}
		})
	}
}

func ptr(s string) *string { return &s }

// TestFallback runs the whole handler against the fake FHIR server in its failure modes.
func TestFallback(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		knobs   func(*fakeFHIR)
		timeout time.Duration
		status  int
		want    string // in the diagnostics
	}{
		{name: "ok", status: 200},
		{name: "paginated", knobs: func(f *fakeFHIR) { f.pageSize = 2 }, status: 200},
		// Searches read in part are used, and said on the summary card (partial_test.go).
		{name: "next link loops back", knobs: func(f *fakeFHIR) { f.pageSize = 5; f.loop = true }, status: 200},
		{name: "too many pages", knobs: func(f *fakeFHIR) { f.pageSize = 1 }, status: 200},
		{name: "slow", knobs: func(f *fakeFHIR) { f.delay = 10 * time.Second }, timeout: 200 * time.Millisecond, status: 412, want: "did not answer in time"},
		{name: "500", knobs: func(f *fakeFHIR) { f.status = 500 }, status: 412, want: "answered HTTP 500"},
		{name: "401", knobs: func(f *fakeFHIR) { f.status = 401 }, status: 412, want: "answered HTTP 401"},
		{name: "operation outcome", knobs: func(f *fakeFHIR) { f.ooBody = true }, status: 412, want: "answered with an OperationOutcome"},
		{name: "operation outcome entries", knobs: func(f *fakeFHIR) { f.ooEntry = true }, status: 412, want: `prefetch "conditions" could not be had: the FHIR server answered with an OperationOutcome`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := newFakeFHIR(t, fixture(t), true, tt.knobs)
			o := testOptions(t, &fakeAuth{client: auth.Client{FHIRServers: []string{fake.URL() + "/"}}}, fake.srv.Client().Transport)
			if tt.timeout > 0 {
				o.Evaluator.Resolver.Timeout = tt.timeout
			}
			s := newTestServer(t, o)
			w := do(s.Handler(), http.MethodPost, "/cds-services/"+PatientViewID, fallbackBody(t, fake.URL(), "secret-token"), nil)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if tt.status != 200 {
				if got := diags(outcomeOf(t, w.Body.Bytes())); !strings.Contains(got, tt.want) {
					t.Errorf("diagnostics %q, want %q", got, tt.want)
				}
			}
			if strings.Contains(w.Body.String(), "secret-token") {
				t.Error("the access token is in the answer")
			}
			for _, a := range fake.seenAuths() {
				if a != "Bearer secret-token" {
					t.Errorf("Authorization %q, want the request's access token", a)
				}
			}
		})
	}
}

// fallbackBody is the fixture without prefetch, naming server with a token ("" : none).
func fallbackBody(t testing.TB, server, token string) []byte {
	return edit(t, func(m map[string]any) {
		delete(m, "prefetch")
		m["fhirServer"] = server
		if token != "" {
			m["fhirAuthorization"] = map[string]any{"access_token": token, "token_type": "Bearer", "expires_in": 300, "scope": "patient/*.read", "subject": "cds-service"}
		}
	})
}

// TestSameCardsByPrefetchAndFallback: the patient of the fixture gives the same answer
// whether its data comes in the prefetch or from the FHIR server (paginated).
func TestSameCardsByPrefetchAndFallback(t *testing.T) {
	t.Parallel()
	fake := newFakeFHIR(t, fixture(t), true, func(f *fakeFHIR) { f.pageSize = 3 })
	var logs bytes.Buffer
	answer := func(body []byte) string {
		o := testOptions(t, &fakeAuth{client: auth.Client{FHIRServers: []string{fake.URL()}}}, fake.srv.Client().Transport)
		o.Logger = teeLogger(&logs, slog.LevelDebug)
		w := do(newTestServer(t, o).Handler(), http.MethodPost, "/cds-services/"+PatientViewID, body, nil)
		if w.Code != http.StatusOK {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		return string(normalJSON(t, w.Body.Bytes()))
	}
	byPrefetch := answer(fixture(t))
	if fake.hits.Load() != 0 {
		t.Fatalf("the prefetch call read the FHIR server %d times", fake.hits.Load())
	}
	byFallback := answer(fallbackBody(t, fake.URL(), "secret-token-xyz"))
	for _, secret := range []string{"secret-token-xyz", "net-g2-metastatic", "ki67-1", "Observation/"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("logs contain %q", secret)
		}
	}
	if !strings.Contains(logs.String(), `"cards":`) {
		t.Errorf("no request log line: %s", logs.String())
	}
	if fake.hits.Load() < int64(len(PrefetchKeys)) {
		t.Fatalf("the fallback read the FHIR server %d times, want at least %d", fake.hits.Load(), len(PrefetchKeys))
	}
	if diff := cmp.Diff(byPrefetch, byFallback); diff != "" {
		t.Errorf("prefetch vs fallback (-prefetch +fallback):\n%s", diff)
	}
	if !strings.Contains(byPrefetch, `"uuid"`) {
		t.Log("no cards for the fixture patient: the comparison is of empty answers")
	}
}

// TestFallbackConcurrent: every missing key is fetched at once (the fake holds each
// request until all are in flight; in sequence they would fail).
func TestFallbackConcurrent(t *testing.T) {
	t.Parallel()
	fake := newFakeFHIR(t, fixture(t), false, func(f *fakeFHIR) { f.barrier = len(PrefetchKeys) })
	req := validated(t, fallbackBody(t, fake.URL(), ""))
	r := &Resolver{FHIR: fhirclient.New(fhirclient.Options{Mode: security.Development(), RequestTimeout: 10 * time.Second}), Policy: fhirclient.Policy{Mode: security.Development()}, Timeout: 10 * time.Second}
	res, err := r.Resolve(context.Background(), req, auth.Client{Anonymous: true})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(allDispositions(Fetched), res.Dispositions); diff != "" {
		t.Errorf("dispositions (-want +got):\n%s", diff)
	}
	for _, a := range fake.seenAuths() {
		if a != "" {
			t.Errorf("Authorization %q sent without fhirAuthorization", a)
		}
	}
}

// dialRecorder is a transport that must never be used.
type dialRecorder struct{ calls atomic.Int64 }

func (d *dialRecorder) RoundTrip(*http.Request) (*http.Response, error) {
	d.calls.Add(1)
	return nil, errors.New("no connection allowed")
}

// TestNotAnOpenProxy: a fhirServer the client does not list, a metadata address, plain
// http, a redirect or a next link to another host: 412 and no connection to it.
func TestNotAnOpenProxy(t *testing.T) {
	t.Parallel()
	other := newFakeFHIR(t, fixture(t), true, nil)
	tests := []struct {
		name   string
		server func(listed *fakeFHIR) string
		knobs  func(*fakeFHIR)
		want   string
	}{
		{name: "unlisted host", server: func(*fakeFHIR) string { return other.URL() }, want: "not a trusted FHIR server for this client"},
		{name: "metadata address", server: func(*fakeFHIR) string { return "https://169.254.169.254/latest/meta-data" }, want: "not a trusted FHIR server"},
		{name: "internal address", server: func(*fakeFHIR) string { return "https://10.0.0.1/fhir" }, want: "not a trusted FHIR server for this client"},
		{name: "plain http", server: func(l *fakeFHIR) string { return strings.Replace(l.URL(), "https://", "http://", 1) }, want: "must use https"},
		{name: "listed path prefix only", server: func(l *fakeFHIR) string { return l.URL() + "/other" }, want: "not a trusted FHIR server for this client"},
		{name: "redirect to another host", server: func(l *fakeFHIR) string { return l.URL() }, knobs: func(f *fakeFHIR) { f.redirectTo = other.URL() }, want: "redirected to another host"},
		{name: "next link to another host", server: func(l *fakeFHIR) string { return l.URL() }, knobs: func(f *fakeFHIR) { f.pageSize = 1; f.nextBase = other.URL() }, want: "next link leaves the fhirServer base"},
	}
	var logs bytes.Buffer
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			listed := newFakeFHIR(t, fixture(t), true, tt.knobs)
			before := other.hits.Load()
			rec := &dialRecorder{}
			transport := http.RoundTripper(rec)
			if tt.knobs != nil {
				transport = listed.srv.Client().Transport
			}
			o := testOptions(t, &fakeAuth{client: auth.Client{FHIRServers: []string{listed.URL()}}}, transport)
			o.Logger = teeLogger(&logs, slog.LevelInfo)
			s := newTestServer(t, o)
			w := do(s.Handler(), http.MethodPost, "/cds-services/"+PatientViewID, fallbackBody(t, tt.server(listed), "secret-token"), nil)
			if w.Code != http.StatusPreconditionFailed {
				t.Fatalf("status %d, want 412: %s", w.Code, w.Body)
			}
			if got := diags(outcomeOf(t, w.Body.Bytes())); !strings.Contains(got, tt.want) {
				t.Errorf("diagnostics %q, want %q", got, tt.want)
			}
			if n := other.hits.Load() - before; n != 0 {
				t.Errorf("the other server got %d requests", n)
			}
			if n := rec.calls.Load(); n != 0 {
				t.Errorf("%d outbound requests, want none", n)
			}
		})
	}
	for _, secret := range []string{"secret-token", "net-g2-metastatic", "Observation/"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("logs contain %q", secret)
		}
	}
}

// TestFHIRResponseCap: a FHIR answer over the cap fails the key.
func TestFHIRResponseCap(t *testing.T) {
	t.Parallel()
	fake := newFakeFHIR(t, fixture(t), false, nil)
	req := validated(t, fallbackBody(t, fake.URL(), ""))
	r := &Resolver{FHIR: fhirclient.New(fhirclient.Options{Mode: security.Development(), MaxBytes: 200}), Policy: fhirclient.Policy{Mode: security.Development()}}
	_, err := r.Resolve(context.Background(), req, auth.Client{Anonymous: true})
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindMissingData {
		t.Fatalf("err %v, want missing data", err)
	}
	found := false
	for _, m := range e.Missing {
		if m.Key == KeyObservations && strings.Contains(m.Reason, "over 200 bytes") {
			found = true
		}
	}
	if !found {
		t.Errorf("missing %+v, want observations over 200 bytes", e.Missing)
	}
}

var _ io.Writer = (*bytes.Buffer)(nil)

// TestStages: the stage hooks see prefetch, one fetch per missing key, mapping and rules.
func TestStages(t *testing.T) {
	t.Parallel()
	fake := newFakeFHIR(t, fixture(t), false, nil)
	var mu sync.Mutex
	var got []string
	rec := func(ctx context.Context, stage Stage, key string) (context.Context, func(error)) {
		return ctx, func(err error) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, string(stage)+":"+key+":"+fmt.Sprint(err == nil))
		}
	}
	o := testOptions(t, nil, nil)
	o.Mode, o.Authenticator = security.Development(), nil
	o.Evaluator.Stage = rec
	o.Evaluator.Resolver.Stage = rec
	o.Evaluator.Resolver.Policy = fhirclient.Policy{Mode: security.Development()}
	body := edit(t, func(m map[string]any) {
		m["fhirServer"] = fake.URL()
		delete(m["prefetch"].(map[string]any), "conditions")
		delete(m["prefetch"].(map[string]any), "tasks")
	})
	if w := do(newTestServer(t, o).Handler(), http.MethodPost, "/cds-services/"+PatientViewID, body, nil); w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	slices.Sort(got)
	want := []string{"fetch:conditions:true", "fetch:tasks:true", "mapping::true", "prefetch::true", "rules::true"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stages (-want +got):\n%s", diff)
	}
}
