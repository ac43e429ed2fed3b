package fhirclient

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nencds/nencds/internal/security"
)

// Read accepts only the resource asked for: another id, another type, a Bundle or an
// OperationOutcome fails with a client-safe reason; a target outside the base is never
// requested.
func TestRead(t *testing.T) {
	t.Parallel()
	answers := map[string]string{
		"/fhir/Medication/m1":   `{"resourceType":"Medication","id":"m1","code":{"text":"carboplatin"}}`,
		"/fhir/Medication/m2":   `{"resourceType":"Medication","id":"other"}`,
		"/fhir/Medication/m3":   `{"resourceType":"Substance","id":"m3"}`,
		"/fhir/Medication/m4":   `{"resourceType":"Bundle","type":"searchset"}`,
		"/fhir/Medication/m5":   `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-found"}]}`,
		"/other/Medication/m1x": `{"resourceType":"Medication","id":"m1x"}`,
	}
	var hits []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits = append(hits, r.URL.Path+" "+r.Header.Get("Authorization"))
		fmt.Fprint(w, answers[r.URL.Path])
	}))
	t.Cleanup(srv.Close)
	base, err := ParseBase(srv.URL + "/fhir")
	if err != nil {
		t.Fatal(err)
	}
	c := New(Options{Mode: security.Development()})
	tests := []struct {
		target, id string
		reason     string // "" : read
	}{
		{srv.URL + "/fhir/Medication/m1", "m1", ""},
		{srv.URL + "/fhir/Medication/m2", "m2", "something other than the Medication read"},
		{srv.URL + "/fhir/Medication/m3", "m3", "something other than the Medication read"},
		{srv.URL + "/fhir/Medication/m4", "m4", "something other than the Medication read"},
		{srv.URL + "/fhir/Medication/m5", "m5", "answered with an OperationOutcome"},
		{srv.URL + "/other/Medication/m1x", "m1x", "leaves the fhirServer base"},
	}
	for _, tt := range tests {
		doc, err := c.Read(context.Background(), base, "tok", tt.target, "Medication", tt.id)
		switch {
		case tt.reason == "" && (err != nil || doc.ID != "m1" || !strings.Contains(string(doc.Raw), `"id":"m1"`)):
			t.Errorf("%s: %+v, %v: want the Medication", tt.id, doc, err)
		case tt.reason != "" && (err == nil || !strings.Contains(Reason(err), tt.reason)):
			t.Errorf("%s: error %v, want %q", tt.id, err, tt.reason)
		}
	}
	for _, h := range hits {
		if strings.HasPrefix(h, "/other/") || !strings.HasSuffix(h, " Bearer tok") {
			t.Errorf("request %q: outside the base or without the token", h)
		}
	}
}
