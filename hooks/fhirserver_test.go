package hooks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nencds/nencds/fhirclient"
	"github.com/nencds/nencds/hooks/auth"
	"github.com/nencds/nencds/internal/security"
)

// TestFHIRServerValidation: a fhirServer that a server could read otherwise than as a
// base (a trailing "?" or "#", a query, credentials, dot segments) is refused with 400,
// and so is a patient id made only of dots.
func TestFHIRServerValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		server string
		pid    string
		ok     bool
	}{
		{name: "base", server: "https://ehr.example.org/fhir/r4", ok: true},
		{name: "base with slash", server: "https://ehr.example.org/fhir/r4/", ok: true},
		{name: "trailing ?", server: "https://ehr.example.org/fhir?"},
		{name: "trailing #", server: "https://ehr.example.org/fhir#"},
		{name: "fragment", server: "https://ehr.example.org/fhir#x"},
		{name: "query", server: "https://ehr.example.org/fhir?x=1"},
		{name: "userinfo", server: "https://u:p@ehr.example.org/fhir"},
		{name: "user only", server: "https://u@ehr.example.org/fhir"},
		{name: "dot dot", server: "https://ehr.example.org/fhir/../admin"},
		{name: "dot", server: "https://ehr.example.org/./fhir"},
		{name: "encoded dot dot", server: "https://ehr.example.org/fhir/%2e%2E/admin"},
		{name: "backslash", server: "https://ehr.example.org/fhir%5c..%5cadmin"},
		{name: "patient id ..", server: "https://ehr.example.org/fhir", pid: ".."},
		{name: "patient id .", server: "https://ehr.example.org/fhir", pid: "."},
		{name: "patient id with dots", server: "https://ehr.example.org/fhir", pid: "a.b", ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := edit(t, func(m map[string]any) {
				delete(m, "prefetch")
				m["fhirServer"] = tt.server
				if tt.pid != "" {
					m["context"].(map[string]any)["patientId"] = tt.pid
				}
			})
			req, err := DecodeRequest(body, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			err = req.Validate(PatientView())
			var e *Error
			switch {
			case tt.ok && err != nil:
				t.Errorf("Validate: %v, want ok", err)
			case !tt.ok && (!errors.As(err, &e) || e.Kind != KindInvalid):
				t.Errorf("Validate: %v, want invalid", err)
			}
			if _, err := (fhirclient.Policy{Mode: security.Development()}).AllowOpen(tt.server); (err == nil) != (tt.ok || tt.pid != "") {
				t.Errorf("Allow(%q): %v", tt.server, err)
			}
		})
	}
}

// TestFallbackURL: fetch URLs are built from the parsed base, whatever its spelling.
func TestFallbackURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		base, key, want string
	}{
		{base: "https://ehr.example.org/fhir/r4", key: KeyConditions, want: "https://ehr.example.org/fhir/r4/Condition?patient=p-1"},
		{base: "https://ehr.example.org/fhir/r4/", key: KeyConditions, want: "https://ehr.example.org/fhir/r4/Condition?patient=p-1"},
		{base: "https://ehr.example.org", key: KeyPatient, want: "https://ehr.example.org/Patient/p-1"},
		{base: "https://ehr.example.org/", key: KeyTasks, want: "https://ehr.example.org/Task?patient=p-1"},
		{base: "https://ehr.example.org/a%20b/fhir", key: KeyPatient, want: "https://ehr.example.org/a%20b/fhir/Patient/p-1"},
		{base: "https://ehr.example.org/a%2Fb/fhir", key: KeyPatient, want: "https://ehr.example.org/a%2Fb/fhir/Patient/p-1"},
	}
	for _, tt := range tests {
		base, err := fhirclient.ParseBase(tt.base)
		if err != nil {
			t.Fatalf("fhirclient.ParseBase(%q): %v", tt.base, err)
		}
		got := fallbackURL(base, tt.key, "p-1")
		if got != tt.want {
			t.Errorf("fallbackURL(%q, %s) = %q, want %q", tt.base, tt.key, got, tt.want)
		}
		u, err := url.Parse(got)
		if err != nil || !fhirclient.UnderBase(u, base) {
			t.Errorf("fallbackURL(%q, %s) = %q is not under the base", tt.base, tt.key, got)
		}
	}
	obs, _ := fhirclient.ParseBase("https://ehr.example.org/fhir")
	got, err := url.Parse(fallbackURL(obs, KeyObservations, "p-1"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Path != "/fhir/Observation" || got.Query().Get("patient") != "p-1" || got.Query().Get("code") != ObservationCodes() {
		t.Errorf("observations URL %q", got)
	}
}

// TestFallbackBaseNotJoinedRaw: a fhirServer ending in "?" or "#" that got past
// Validate (defence in depth) is refused by the policy before any connection.
func TestFallbackBaseNotJoinedRaw(t *testing.T) {
	t.Parallel()
	for _, suffix := range []string{"?", "#", "?x=1#"} {
		fake := newFakeFHIR(t, fixture(t), false, nil)
		req := validated(t, fallbackBody(t, fake.URL()+"/fhir", ""))
		req.FHIRServer = fake.URL() + "/fhir" + suffix
		r := &Resolver{FHIR: fhirclient.New(fhirclient.Options{Mode: security.Development()}), Policy: fhirclient.Policy{Mode: security.Development()}}
		_, err := r.Resolve(context.Background(), req, auth.Client{Anonymous: true})
		var e *Error
		if !errors.As(err, &e) || e.Kind != KindMissingData {
			t.Errorf("suffix %q: err %v, want missing data", suffix, err)
		}
		if n := fake.hits.Load(); n != 0 {
			t.Errorf("suffix %q: %d requests %q, want none", suffix, n, fake.seenPaths())
		}
	}
}

// TestFetchedPageKind: a fetched page must be a search Bundle (searchset or collection)
// for a search key and the Patient of the context for the patient key; anything else
// (a CapabilityStatement, a history Bundle, another Patient) fails that key.
func TestFetchedPageKind(t *testing.T) {
	t.Parallel()
	const (
		capability = `{"resourceType":"CapabilityStatement","status":"active","kind":"instance","fhirVersion":"4.0.1","format":["json"],"date":"2026-01-01"}`
		searchset  = `{"resourceType":"Bundle","type":"searchset"}`
		collection = `{"resourceType":"Bundle","type":"collection"}`
		history    = `{"resourceType":"Bundle","type":"history"}`
		noType     = `{"resourceType":"Bundle"}`
	)
	body := fallbackBody(t, "https://placeholder.example/fhir", "")
	pid := validated(t, body).PatientView.PatientID
	patient := fmt.Sprintf(`{"resourceType":"Patient","id":%q}`, pid)
	search := slices.DeleteFunc(slices.Clone(PrefetchKeys), func(k string) bool { return k == KeyPatient })
	tests := []struct {
		name           string
		patient, other string
		failed         []string
	}{
		{name: "patient and searchsets", patient: patient, other: searchset},
		{name: "collections", patient: patient, other: collection},
		{name: "capability statement everywhere", patient: capability, other: capability, failed: PrefetchKeys},
		{name: "history bundles", patient: patient, other: history, failed: search},
		{name: "bundle without type", patient: patient, other: noType, failed: search},
		{name: "a bundle for the patient", patient: searchset, other: searchset, failed: []string{KeyPatient}},
		{name: "another patient", patient: `{"resourceType":"Patient","id":"someone-else"}`, other: searchset, failed: []string{KeyPatient}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var hits atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				if strings.HasPrefix(r.URL.Path, "/fhir/Patient/") {
					fmt.Fprint(w, tt.patient)
					return
				}
				fmt.Fprint(w, tt.other)
			}))
			defer srv.Close()
			req := validated(t, fallbackBody(t, srv.URL+"/fhir", ""))
			r := &Resolver{FHIR: fhirclient.New(fhirclient.Options{Mode: security.Development()}), Policy: fhirclient.Policy{Mode: security.Development()}}
			res, err := r.Resolve(context.Background(), req, auth.Client{Anonymous: true})
			var got []string
			var e *Error
			if err != nil {
				if !errors.As(err, &e) || e.Kind != KindMissingData {
					t.Fatalf("err %v, want missing data", err)
				}
				for _, m := range e.Missing {
					got = append(got, m.Key)
					if !strings.Contains(m.Reason, "something other than") {
						t.Errorf("key %s reason %q", m.Key, m.Reason)
					}
				}
			}
			if diff := cmp.Diff(tt.failed, got); diff != "" {
				t.Errorf("failed keys (-want +got):\n%s", diff)
			}
			if err == nil && len(res.Documents) != len(PrefetchKeys) {
				t.Errorf("%d documents, want %d", len(res.Documents), len(PrefetchKeys))
			}
			if hits.Load() != int64(len(PrefetchKeys)) {
				t.Errorf("%d requests, want %d", hits.Load(), len(PrefetchKeys))
			}
		})
	}
}
