package hooks

import "github.com/nencds/nencds/fhirmap"

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
	// KeyMedicationAdministrations: doses given (chemotherapy or SSA injections in
	// clinic), therapy history like requests and statements (docs/clinical.md §2).
	KeyMedicationAdministrations = "medicationAdministrations"
	KeyProcedures                = "procedures"
	KeyDiagnosticReports         = "diagnosticReports"
	KeyServiceRequests           = "serviceRequests"
	KeyTasks                     = "tasks"
)

// PrefetchKeys lists every key in a stable order (the order of fetching and of documents
// given to fhirmap).
var PrefetchKeys = []string{
	KeyPatient, KeyConditions, KeyObservations, KeyMedicationRequests,
	KeyMedicationStatements, KeyMedicationAdministrations, KeyProcedures, KeyDiagnosticReports,
	KeyServiceRequests, KeyTasks,
}

// ObservationCodes returns the token list of the observations query (fhirmap.ObservationCodes).
func ObservationCodes() string { return fhirmap.ObservationCodes() }

// PrefetchTemplates returns the prefetch templates of the patient-view service: the reads
// of fhirmap.Reads. They use only the CDS Hooks 2.0 token {{context.patientId}} and the
// allowed query subset (reads, token equality with comma-separated values, _sort on the
// date, _count).
func PrefetchTemplates() map[string]string {
	m := make(map[string]string, len(PrefetchKeys))
	for _, r := range fhirmap.Reads() {
		m[r.Key] = r.Template("{{context.patientId}}")
	}
	return m
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
			"MedicationStatement, MedicationAdministration, Medication, Procedure, DiagnosticReport, " +
			"ServiceRequest and Task.",
	}
}

// Services returns the discovery document's services (never empty): patient-view, and
// the order checks at order-select and order-sign (orders.go).
func Services() []Service { return []Service{PatientView(), OrderSelect(), OrderSign()} }
