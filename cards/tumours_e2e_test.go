package cards

import (
	"strings"
	"testing"
)

// End-to-end tests of the tumour and procedure readings (docs/clinical.md §2): request
// fixtures mapped by fhirmap, with extra resources, then evaluated.

func procRes(id, status, code string, extra string) string {
	s := `{"resourceType":"Procedure","id":"` + id + `","status":"` + status + `","subject":{"reference":"Patient/PATIENT"},"code":` + code
	if extra != "" {
		s += "," + extra
	}
	return s + "}"
}

// TestEndToEndResectionReadings: card-nen-surgery (an ileal NET G1, M0) gets the surgical
// referral unless a completed resection of the primary is on record, whether coded with a
// standard code (codes.csv concept resection), a local display, written only as text, endoscopic, or tied by reasonReference; a
// biopsy, a planned or in-progress resection, a liver resection, or a resection of an
// older resolved tumour does not remove the primary.
func TestEndToEndResectionReadings(t *testing.T) {
	t.Parallel()
	oldTumour := `{"resourceType":"Condition","id":"old-net","subject":{"reference":"Patient/PATIENT"},"clinicalStatus":{"coding":[{"code":"resolved"}]},"verificationStatus":{"coding":[{"code":"confirmed"}]},"code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"C7A.020"}]},"onsetDateTime":"2008-01-10","abatementDateTime":"2008-06-01"}`
	tests := []struct {
		name        string
		extra       []string
		wantSurgery bool
	}{
		{"nothing on record", nil, true},
		{"text only: ESD", []string{procRes("p", "completed", `{"text":"Endoscopic submucosal dissection of ileal lesion"}`, `"performedDateTime":"2026-04-20"`)}, false},
		{"text only: EMR abbreviation", []string{procRes("p", "completed", `{"text":"EMR of the tumour"}`, `"performedDateTime":"2026-04-20"`)}, false},
		{"text only: polypectomy", []string{procRes("p", "completed", `{"text":"Polypectomy"}`, `"performedDateTime":"2026-04-20"`)}, false},
		{"local code display: small bowel segmentectomy", []string{procRes("p", "completed", `{"coding":[{"system":"urn:oid:1.2.3.4","code":"X-123","display":"Segmental small bowel resection"}]}`, `"performedDateTime":"2026-04-20"`)}, false},
		{"tied by reasonReference, undated", []string{procRes("p", "completed", `{"text":"Right hemicolectomy"}`, `"reasonReference":[{"reference":"Condition/net-ileum"}]`)}, false},
		{"standard code only (CPT 44120, no display)", []string{procRes("p", "completed", `{"coding":[{"system":"http://www.ama-assn.org/go/cpt","code":"44120"}]}`, `"performedDateTime":"2026-04-20"`)}, false},
		{"standard code only (CPT 44120), not completed", []string{procRes("p", "in-progress", `{"coding":[{"system":"http://www.ama-assn.org/go/cpt","code":"44120"}]}`, `"performedDateTime":"2026-05-31"`)}, true},
		{"unknown code without display or text is not a resection", []string{procRes("p", "completed", `{"coding":[{"system":"http://www.ama-assn.org/go/cpt","code":"44100"}]}`, `"performedDateTime":"2026-04-20"`)}, true},
		{"biopsy is not a resection", []string{procRes("p", "completed", `{"text":"Endoscopic biopsy of ileal lesion"}`, `"performedDateTime":"2026-04-20"`)}, true},
		{"in-progress resection does not count", []string{procRes("p", "in-progress", `{"text":"Right hemicolectomy"}`, `"performedDateTime":"2026-05-31"`)}, true},
		{"planned resection does not count", []string{procRes("p", "preparation", `{"text":"Right hemicolectomy"}`, "")}, true},
		{"liver resection is not of the primary", []string{procRes("p", "completed", `{"text":"Partial hepatectomy (resection)"}`, `"performedDateTime":"2026-04-20"`)}, true},
		{"excision of a skin lesion is not of the primary", []string{procRes("p", "completed", `{"text":"Excision of naevus"}`, `"performedDateTime":"2026-04-20"`)}, true},
		{"resection of an older resolved tumour (reason)", []string{oldTumour, procRes("p", "completed", `{"text":"Appendectomy"}`, `"performedDateTime":"2008-01-10","reasonReference":[{"reference":"Condition/old-net"}]`)}, true},
		{"resection of an older resolved tumour (date)", []string{oldTumour, procRes("p", "completed", `{"text":"Ileocecal resection"}`, `"performedDateTime":"2008-01-12"`)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := evaluateCfg(noCap(), mapRequest(t, "card-nen-surgery", tt.extra...))
			if got := hasTopic(r, TopicSurgery); got != tt.wantSurgery {
				t.Errorf("nen-surgery = %v, want %v: %v", got, tt.wantSurgery, topics(r))
			}
		})
	}
}

// TestEndToEndHistoryTumourNotMerged: the failure of issue 10. An active NEC with an
// older, resolved, well-differentiated NET (and its Ki-67, differentiation and liver
// metastasis) keeps its category, its extent and its first-line card; the summary lists
// the old tumour.
func TestEndToEndHistoryTumourNotMerged(t *testing.T) {
	t.Parallel()
	oldNET := `{"resourceType":"Condition","id":"old-net","subject":{"reference":"Patient/PATIENT"},"clinicalStatus":{"coding":[{"code":"resolved"}]},"verificationStatus":{"coding":[{"code":"confirmed"}]},"code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"C7A.026"}],"text":"Rectal NET"},"onsetDateTime":"2012-01-10","abatementDateTime":"2013-02-01"}`
	oldMet := `{"resourceType":"Condition","id":"old-met","subject":{"reference":"Patient/PATIENT"},"clinicalStatus":{"coding":[{"code":"resolved"}]},"code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"C7B.02"}]},"onsetDateTime":"2012-02-01","extension":[{"url":"http://hl7.org/fhir/StructureDefinition/condition-related","valueReference":{"reference":"Condition/old-net"}}]}`
	oldDiff := `{"resourceType":"Observation","id":"old-diff","status":"final","subject":{"reference":"Patient/PATIENT"},"code":{"coding":[{"system":"https://github.com/nencds/nencds/CodeSystem/observation","code":"differentiation"}]},"valueString":"well differentiated","focus":[{"reference":"Condition/old-net"}]}`
	oldKi := `{"resourceType":"Observation","id":"old-ki","status":"final","subject":{"reference":"Patient/PATIENT"},"code":{"coding":[{"system":"http://loinc.org","code":"29593-1"}]},"effectiveDateTime":"2012-01-05","valueQuantity":{"value":45,"unit":"%"}}`
	base := evaluateCfg(noCap(), mapRequest(t, "card-nec-first-line"))
	p := mapRequest(t, "card-nec-first-line", oldNET, oldMet, oldDiff, oldKi)
	r := evaluateCfg(noCap(), p)
	if strings.Join(topics(r), ",") != strings.Join(topics(base), ",") {
		t.Fatalf("topics changed by an older resolved tumour: %v, want %v", topics(r), topics(base))
	}
	if !hasTopic(r, TopicNECFirstLine) {
		t.Fatalf("the active NEC lost its first-line card: %v", topics(r))
	}
	s := card(r, TopicSummary)
	if !strings.HasPrefix(s.Summary, "NEC,") || strings.Contains(s.Summary, "distant") || strings.Contains(s.Summary, "rectum") {
		t.Errorf("summary merged the old tumour: %q", s.Summary)
	}
	if !strings.Contains(s.Detail, "Earlier tumour") || !strings.Contains(s.Detail, "Condition/old-net") {
		t.Errorf("summary does not list the old tumour:\n%s", s.Detail)
	}
	if p.History == nil || len(p.History.Ki67) != 1 || len(p.History.Differentiation) != 2 || len(p.History.Secondaries) != 1 {
		t.Errorf("history = %+v", p.History)
	}
	if len(p.Tumours) != 2 || !p.Tumours[0].Index || p.Tumours[0].Ref != "Condition/nec-1" {
		t.Errorf("tumours = %+v", p.Tumours)
	}
}

// TestEndToEndTwoActivePrimaries: two active, confirmed NEN primaries of different sites
// go to MDT review, never to one merged treatment picture. (A diagnosis of unknown site
// may be the same tumour coded twice: it is not a second primary.)
func TestEndToEndTwoActivePrimaries(t *testing.T) {
	t.Parallel()
	second := `{"resourceType":"Condition","id":"pnet-2","subject":{"reference":"Patient/PATIENT"},"clinicalStatus":{"coding":[{"code":"active"}]},"verificationStatus":{"coding":[{"code":"confirmed"}]},"code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"C25.4"}]},"onsetDateTime":"2026-03-01"}`
	r := evaluateCfg(noCap(), mapRequest(t, "two-active-primaries-mdt-review"))
	if !hasTopic(r, TopicOutsideAlgorithm) {
		t.Errorf("no MDT card for two active primaries: %v", topics(r))
	}
	if got := drugsSuggested(t, r); len(got) != 0 {
		t.Errorf("drugs suggested for a merged picture: %v", got)
	}
	// A pancreatic NET next to a NEC of unknown site: possibly one tumour, not two.
	r = evaluateCfg(noCap(), mapRequest(t, "card-nec-first-line", second))
	if hasTopic(r, TopicOutsideAlgorithm) {
		t.Errorf("a diagnosis of unknown site counted as a second primary: %v", topics(r))
	}
	second = strings.Replace(second, "C25.4", "C7A.090", 1) // a lung NET next to a pancreatic NET
	r = evaluateCfg(noCap(), mapRequest(t, "pnet-locally-advanced-unresectable", second))
	if !hasTopic(r, TopicOutsideAlgorithm) {
		t.Errorf("no MDT card for two active primaries: %v", topics(r))
	}
	if got := drugsSuggested(t, r); len(got) != 0 {
		t.Errorf("drugs suggested for a merged picture: %v", got)
	}
	// The same second primary, resolved, is history: the NEC keeps its card.
	resolved := strings.Replace(second, `"code":"active"`, `"code":"resolved"`, 1)
	r = evaluateCfg(noCap(), mapRequest(t, "pnet-locally-advanced-unresectable", resolved))
	if !hasTopic(r, TopicPNETTargeted) || hasTopic(r, TopicOutsideAlgorithm) {
		t.Errorf("a resolved second primary changed the cards: %v", topics(r))
	}
	// An unconfirmed second diagnosis is not a second primary.
	prov := strings.Replace(second, `"code":"confirmed"`, `"code":"provisional"`, 1)
	r = evaluateCfg(noCap(), mapRequest(t, "pnet-locally-advanced-unresectable", prov))
	if hasTopic(r, TopicOutsideAlgorithm) {
		t.Errorf("a provisional diagnosis counted as a second primary: %v", topics(r))
	}
}
