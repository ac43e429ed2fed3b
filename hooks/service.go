package hooks

import (
	"strings"

	"github.com/nencds/nencds/fhirmap"
)

// PatientViewID is the id of the patient-view service.
const PatientViewID = "nen-patient-view"

// Service is one entry of the discovery document.
type Service struct {
	Hook              string            `json:"hook"`
	Title             string            `json:"title,omitempty"`
	Description       string            `json:"description"`
	ID                string            `json:"id"`
	Prefetch          map[string]string `json:"prefetch,omitempty"`
	UsageRequirements string            `json:"usageRequirements,omitempty"`
}

// Discovery is the body of GET /cds-services.
type Discovery struct {
	Services []Service `json:"services"`
}

// The prefetch keys: a fixed contract with the fixtures and the EHR configurations.
const (
	KeyPatient              = "patient"
	KeyConditions           = "conditions"
	KeyObservations         = "observations"
	KeyMedicationRequests   = "medicationRequests"
	KeyMedicationStatements = "medicationStatements"
	KeyProcedures           = "procedures"
	KeyDiagnosticReports    = "diagnosticReports"
	KeyServiceRequests      = "serviceRequests"
	KeyTasks                = "tasks"
)

// PrefetchKeys lists every key in a stable order (the order of fetching and of documents
// given to fhirmap).
var PrefetchKeys = []string{
	KeyPatient, KeyConditions, KeyObservations, KeyMedicationRequests,
	KeyMedicationStatements, KeyProcedures, KeyDiagnosticReports, KeyServiceRequests, KeyTasks,
}

const loincSystem = "http://loinc.org"

// ObservationCodes returns the token list of the observations query: every LOINC and
// local code of the embedded value sets (fhirmap.Codes) except answer codes, as
// system|code, in file order.
func ObservationCodes() string {
	var parts []string
	seen := map[string]bool{}
	for _, c := range fhirmap.Codes() {
		// Answer codes (ECOG LL529-9 answers) are values, not observation codes.
		if (c.System != loincSystem && c.System != fhirmap.LocalSystem) || c.Prefix() || c.Use == "answer" {
			continue
		}
		tok := c.System + "|" + c.Code
		if !seen[tok] {
			seen[tok] = true
			parts = append(parts, tok)
		}
	}
	return strings.Join(parts, ",")
}

// PrefetchTemplates returns the prefetch templates of the patient-view service. They use
// only the CDS Hooks 2.0 token {{context.patientId}} and the allowed query subset (reads,
// token equality with comma-separated values, _sort on the date, _count).
func PrefetchTemplates() map[string]string {
	p := "{{context.patientId}}"
	return map[string]string{
		KeyPatient:              "Patient/" + p,
		KeyConditions:           "Condition?patient=" + p,
		KeyObservations:         "Observation?patient=" + p + "&code=" + ObservationCodes() + "&_sort=-date&_count=200",
		KeyMedicationRequests:   "MedicationRequest?patient=" + p,
		KeyMedicationStatements: "MedicationStatement?patient=" + p,
		KeyProcedures:           "Procedure?patient=" + p,
		KeyDiagnosticReports:    "DiagnosticReport?patient=" + p + "&_sort=-date&_count=100",
		KeyServiceRequests:      "ServiceRequest?patient=" + p,
		KeyTasks:                "Task?patient=" + p,
	}
}

// PatientView returns the patient-view service.
func PatientView() Service {
	return Service{
		Hook:  "patient-view",
		ID:    PatientViewID,
		Title: "Neuroendocrine neoplasm (NET/NEC) guideline support",
		Description: "Reads the neuroendocrine neoplasm of the patient in the chart (diagnosis, grade, " +
			"Ki-67, extent, imaging, markers, treatments) and answers with what it understood, " +
			"what the guideline suggests and draft orders for the clinician to review.",
		Prefetch: PrefetchTemplates(),
		UsageRequirements: "Send the prefetch (a Bundle or null per key) or a fhirServer with a patient-scoped " +
			"access token that can read Patient, Condition, Observation, MedicationRequest, " +
			"MedicationStatement, Procedure, DiagnosticReport, ServiceRequest and Task.",
	}
}

// Services returns the discovery document's services (never empty).
func Services() []Service { return []Service{PatientView()} }

// expand fills a template for a patient id (a validated bare FHIR id, so safe in a URL).
func expand(template, patientID string) string {
	return strings.ReplaceAll(template, "{{context.patientId}}", patientID)
}
