package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"
)

// typeKeys maps the FHIR resource type of a fallback query to its prefetch key.
var typeKeys = map[string]string{
	"Patient": "patient", "Condition": "conditions", "Observation": "observations",
	"MedicationRequest": "medicationRequests", "MedicationStatement": "medicationStatements",
	"MedicationAdministration": "medicationAdministrations",
	"Procedure":                "procedures", "DiagnosticReport": "diagnosticReports",
	"ServiceRequest": "serviceRequests", "Task": "tasks",
}

type fixture struct {
	Context struct {
		PatientID string `json:"patientId"`
	} `json:"context"`
	Prefetch map[string]json.RawMessage `json:"prefetch"`
}

// startFakeFHIR serves the prefetch of every request as a FHIR server would, after waiting
// delay per query: GET /Patient/{id} and GET /{Type}?patient={id}&... A key that was null
// answers an empty searchset (or 404 for the Patient read).
func startFakeFHIR(bodies [][]byte, delay time.Duration) (*httptest.Server, error) {
	byPatient := map[string]map[string]json.RawMessage{}
	for _, b := range bodies {
		var f fixture
		if err := json.Unmarshal(b, &f); err != nil {
			return nil, err
		}
		if f.Context.PatientID == "" {
			return nil, fmt.Errorf("-fallback: a request without context.patientId")
		}
		byPatient[f.Context.PatientID] = f.Prefetch
	}
	empty := []byte(`{"resourceType":"Bundle","type":"searchset","total":0}`)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		path := strings.Trim(r.URL.Path, "/")
		typ, id, _ := strings.Cut(path, "/")
		if id == "" {
			id = strings.TrimPrefix(r.URL.Query().Get("patient"), "Patient/")
		}
		pre, ok := byPatient[id]
		key, known := typeKeys[typ]
		if !ok || !known {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/fhir+json")
		data := pre[key]
		if len(data) == 0 || string(data) == "null" {
			if typ == "Patient" {
				http.NotFound(w, r)
				return
			}
			data = empty
		}
		w.Write(data)
	})
	return httptest.NewServer(h), nil
}

// withoutPrefetch removes the prefetch of every request and points fhirServer at base, so
// that nencds fetches every key.
func withoutPrefetch(bodies [][]byte, base string) ([][]byte, error) {
	out := make([][]byte, 0, len(bodies))
	for _, b := range bodies {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, err
		}
		delete(m, "prefetch")
		delete(m, "fhirAuthorization")
		m["fhirServer"], _ = json.Marshal(base)
		nb, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		out = append(out, nb)
	}
	return out, nil
}
