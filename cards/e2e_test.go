package cards

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/nencds/nencds/fhirmap"
)

// End-to-end through fhirmap (the real contract): request fixtures of testdata/requests
// mapped to a Picture, then evaluated, with and without extra resources.

func mapRequest(t *testing.T, name string, extra ...string) *fhirmap.Picture {
	t.Helper()
	b, err := os.ReadFile("../testdata/requests/" + name + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var req struct {
		Context  struct{ PatientID string } `json:"context"`
		Prefetch map[string]json.RawMessage `json:"prefetch"`
	}
	if err := json.Unmarshal(b, &req); err != nil {
		t.Fatal(err)
	}
	var docs []json.RawMessage
	for _, k := range []string{"patient", "conditions", "observations", "medicationRequests", "medicationStatements", "medicationAdministrations", "procedures", "diagnosticReports", "serviceRequests", "tasks"} {
		if d := req.Prefetch[k]; len(d) > 0 && string(d) != "null" {
			docs = append(docs, d)
		}
	}
	for _, x := range extra {
		docs = append(docs, json.RawMessage(strings.ReplaceAll(x, "PATIENT", req.Context.PatientID)))
	}
	p, err := fhirmap.Map(fhirmap.Input{PatientID: req.Context.PatientID, At: at, Documents: docs})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func draftMR(id, med string) string {
	return `{"resourceType":"MedicationRequest","id":"` + id + `","status":"draft","intent":"proposal","subject":{"reference":"Patient/PATIENT"},"authoredOn":"2026-05-30",` + med + `}`
}

// A drug order accepted from an earlier card lands as a draft MedicationRequest; the
// next evaluation does not suggest it (or its alternative) again.
func TestEndToEndDraftOrderNotSuggestedAgain(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, request, topic, draft string
	}{
		{"sunitinib by RxNorm", "card-pnet-targeted", TopicPNETTargeted, draftMR("d1", `"medicationCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"357977"}],"text":"sunitinib"}`)},
		{"everolimus by name", "card-pnet-targeted", TopicPNETTargeted, draftMR("d1", `"medicationCodeableConcept":{"text":"everolimus"}`)},
		{"lanreotide by name", "card-net-ssa", TopicSSA, draftMR("d1", `"medicationCodeableConcept":{"text":"lanreotide"}`)},
		{"carboplatin by RxNorm", "card-nec-first-line", TopicNECFirstLine, draftMR("d1", `"medicationCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"40048"}],"text":"carboplatin"}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if !hasTopic(evaluateCfg(noCap(), mapRequest(t, tt.request)), tt.topic) {
				t.Fatalf("%s does not fire without the draft", tt.topic)
			}
			r := evaluateCfg(noCap(), mapRequest(t, tt.request, tt.draft))
			if hasTopic(r, tt.topic) {
				t.Errorf("%s fired again with the drug already ordered: %v", tt.topic, suggestionLabels(card(r, tt.topic)))
			}
		})
	}
}

// Principle 4 through fhirmap: the entered-in-error Ki-67 of the fixture is neither used
// nor quoted; a refuted NEN Condition adds nothing.
func TestEndToEndEnteredInErrorAndRefuted(t *testing.T) {
	t.Parallel()
	r := evaluateCfg(noCap(), mapRequest(t, "card-entered-in-error"))
	if strings.Contains(allText(r), "87") {
		t.Errorf("entered-in-error value quoted")
	}
	if s := card(r, TopicSummary); s == nil || !strings.HasPrefix(s.Summary, "NET G1") {
		t.Errorf("summary %v", topics(r))
	}
	refutedNEC := `{"resourceType":"Condition","id":"nec-refuted","subject":{"reference":"Patient/PATIENT"},` +
		`"clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]},` +
		`"verificationStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-ver-status","code":"refuted"}]},` +
		`"code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"C7A.1"}],"text":"Poorly differentiated NEC 99"}}`
	r = evaluateCfg(noCap(), mapRequest(t, "card-entered-in-error", refutedNEC))
	if txt := allText(r); strings.Contains(txt, "Poorly differentiated NEC 99") || hasTopic(r, TopicNECFirstLine) {
		t.Errorf("refuted NEC used or quoted: %v", topics(r))
	}
	if s := card(r, TopicSummary); s == nil || !strings.HasPrefix(s.Summary, "NET G1") {
		t.Errorf("summary with a refuted NEC: %v", s)
	}
}
