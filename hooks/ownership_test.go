package hooks

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestOwnershipThroughHandler: Conditions in the prefetch whose subject is a Group, a
// Patient of the same id on another server, or a contained patient are not read as this
// patient's: a fixture that has only such NEN diagnoses gets no NEN cards, and a request
// whose own fhirServer carries the absolute reference does. (Before: all were read.)
func TestOwnershipThroughHandler(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, testOptions(t, nil, nil))
	for _, tt := range []struct {
		name, subject, fhirServer string
		nen                       bool
	}{
		{"relative", "Patient/net-g2-metastatic", "", true},
		{"group", "Group/cohort-17", "", false},
		{"another server", "https://other.example/fhir/Patient/net-g2-metastatic", "https://ehr.example/fhir", false},
		{"absolute on the request's fhirServer", "https://ehr.example/fhir/Patient/net-g2-metastatic", "https://ehr.example/fhir", true},
		{"contained", "#p", "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			body := edit(t, func(m map[string]any) {
				if tt.fhirServer != "" {
					m["fhirServer"] = tt.fhirServer
				}
				pre := m["prefetch"].(map[string]any)
				for _, key := range []string{"conditions", "observations"} {
					doc := pre[key].(map[string]any)
					for _, e := range doc["entry"].([]any) {
						res := e.(map[string]any)["resource"].(map[string]any)
						if _, ok := res["subject"]; ok {
							res["subject"] = map[string]any{"reference": tt.subject}
						}
					}
				}
			})
			w := do(s.Handler(), http.MethodPost, "/cds-services/"+PatientViewID, body, nil)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d: %.300s", w.Code, w.Body)
			}
			var resp struct {
				Cards []struct {
					Summary string `json:"summary"`
					Detail  string `json:"detail"`
				} `json:"cards"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
				t.Fatal(err)
			}
			all, _ := json.Marshal(resp)
			nen := strings.Contains(string(all), "NET G2")
			if nen != tt.nen {
				t.Errorf("subject %q: NET G2 in the cards %v, want %v: %.400s", tt.subject, nen, tt.nen, all)
			}
		})
	}
}
