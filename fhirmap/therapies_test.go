package fhirmap

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nencds/nencds/internal/fhirjson"
)

// A draft MedicationRequest (e.g. a draft accepted from an earlier card) is not a
// therapy, but it is an open order of its drug, so that the drug is not suggested again
// (safety principle 3, "nothing already on record is suggested again").
func TestDraftMedicationRequestIsAnOpenOrder(t *testing.T) {
	t.Parallel()
	type oo struct {
		Type, Drug, By, Text string
		Codes                []Coding
	}
	sun := []Coding{{System: sysRxNorm, Code: "357977", Display: "sunitinib"}}
	tests := []struct {
		name string
		res  []string
		want []oo
	}{
		{"RxNorm ingredient", []string{medReq("m", "draft", rx("357977", "sunitinib"), "")},
			[]oo{{"MedicationRequest", "sunitinib", MatchedByIngredient, "sunitinib", sun}}},
		{"text only (the draft of an uncoded drug)", []string{medReq("m", "draft", `"medicationCodeableConcept":{"text":"lanreotide"}`, "")},
			[]oo{{"MedicationRequest", "lanreotide", MatchedByText, "lanreotide", nil}}},
		{"product code", []string{medReq("m", "draft", rx("898589", "Sandostatin LAR Depot"), "")},
			[]oo{{"MedicationRequest", "octreotide", MatchedByProductCode, "Sandostatin LAR Depot", []Coding{{System: sysRxNorm, Code: "898589", Display: "Sandostatin LAR Depot"}}}}},
		{"two drugs named: one open order each", []string{medReq("m", "draft", `"medicationCodeableConcept":{"text":"carboplatin + etoposide"}`, "")},
			[]oo{{"MedicationRequest", "carboplatin", MatchedByText, "carboplatin + etoposide", nil}, {"MedicationRequest", "etoposide", MatchedByText, "carboplatin + etoposide", nil}}},
		{"not an anticancer drug", []string{medReq("m", "draft", rx("197361", "amlodipine 5 MG Oral Tablet"), "")}, nil},
		{"other patient", []string{strings.Replace(medReq("m", "draft", rx("357977", "sunitinib"), ""), "Patient/p1", "Patient/p9", 1)}, nil},
		{"active request stays a therapy, not an open order", []string{medReq("m", "active", rx("357977", "sunitinib"), "")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := mapRes(t, tt.res...)
			var got []oo
			for _, o := range p.OpenOrders {
				got = append(got, oo{o.ResourceType, o.Drug, o.MatchedBy, o.Text, o.Codes})
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("open orders (-want +got):\n%s", diff)
			}
			for _, th := range p.Therapies {
				if th.Status == "draft" {
					t.Errorf("draft request became a therapy: %+v", th)
				}
			}
		})
	}
}

func TestDraftMedicationRequestSource(t *testing.T) {
	t.Parallel()
	p := mapRes(t, medReq("m", "draft", rx("357977", "sunitinib"), ""))
	want := Source{Ref: "MedicationRequest/m", Date: time.Date(2025, 1, 15, 0, 0, 0, 0, time.UTC), DateText: "2025-01-15", Status: "draft"}
	if len(p.OpenOrders) != 1 {
		t.Fatalf("open orders %+v", p.OpenOrders)
	}
	if diff := cmp.Diff(want, p.OpenOrders[0].Source); diff != "" {
		t.Errorf("source (-want +got):\n%s", diff)
	}
	if len(p.Procedures) != 0 || len(p.Therapies) != 0 {
		t.Errorf("draft became a therapy or procedure: %+v %+v", p.Therapies, p.Procedures)
	}
}

// admin builds a MedicationAdministration of patient p1 (status "" leaves it out).
func admin(id, status, med, effective string) string {
	s := `{"resourceType":"MedicationAdministration","id":"` + id + `"`
	if status != "" {
		s += `,"status":"` + status + `"`
	}
	return s + `,"subject":{"reference":"Patient/p1"},` + med + `,` + effective + `}`
}

func on(date string) string { return `"effectiveDateTime":"` + date + `"` }

const carboRx = `"medicationCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"40048","display":"carboplatin"}]}`

// MedicationAdministration is therapy history (docs/clinical.md §2 "Medications"): a dose
// given is a therapy, current for AdministeredRecentDays, and the doses of one drug make
// one course.
func TestMedicationAdministration(t *testing.T) {
	t.Parallel()
	type th struct {
		Drug, By, Ref, Start, End string
		Active                    bool
		N                         int
		Caveat                    string
	}
	day := func(tm time.Time) string {
		if tm.IsZero() {
			return ""
		}
		return tm.Format("2006-01-02")
	}
	tests := []struct {
		name      string
		res       []string
		want      []th
		wantNotes []NoteKind
	}{
		{"completed long ago: past platinum",
			[]string{admin("a1", "completed", carboRx, on("2026-01-10"))},
			[]th{{"carboplatin", MatchedByIngredient, "MedicationAdministration/a1", "2026-01-10", "2026-01-10", false, 1, ""}}, nil},
		{"completed 3 weeks ago: just received, current",
			[]string{admin("a1", "completed", carboRx, on("2026-05-11T09:30:00Z"))},
			[]th{{"carboplatin", MatchedByIngredient, "MedicationAdministration/a1", "2026-05-11", "2026-05-11", true, 1, ""}}, nil},
		{"in progress (period without end)",
			[]string{admin("a1", "in-progress", carboRx, `"effectivePeriod":{"start":"2026-06-01T09:00:00Z"}`)},
			[]th{{"carboplatin", MatchedByIngredient, "MedicationAdministration/a1", "2026-06-01", "", true, 1, ""}}, nil},
		{"on hold, old: the course is paused, still current",
			[]string{admin("a1", "on-hold", carboRx, `"effectivePeriod":{"start":"2026-02-01"}`)},
			[]th{{"carboplatin", MatchedByIngredient, "MedicationAdministration/a1", "2026-02-01", "", true, 1, ""}}, nil},
		{"stopped long ago is history",
			[]string{admin("a1", "stopped", carboRx, `"effectivePeriod":{"start":"2025-11-01T09:00:00Z","end":"2025-11-01T09:20:00Z"}`)},
			[]th{{"carboplatin", MatchedByIngredient, "MedicationAdministration/a1", "2025-11-01", "2025-11-01", false, 1, ""}}, nil},
		{"entered in error is skipped", []string{admin("a1", "entered-in-error", carboRx, on("2026-05-20"))}, nil, []NoteKind{NoteSkipped}},
		{"not done is skipped", []string{admin("a1", "not-done", carboRx, on("2026-05-20"))}, nil, []NoteKind{NoteSkipped}},
		{"no status: possibly given, with a caveat",
			[]string{admin("a1", "", carboRx, on("2026-05-20"))},
			[]th{{"carboplatin", MatchedByIngredient, "MedicationAdministration/a1", "2026-05-20", "2026-05-20", true, 1, CaveatUnknownStatus}}, []NoteKind{NoteCaveat, NoteCaveat}},
		{"other patient is skipped",
			[]string{strings.Replace(admin("a1", "completed", carboRx, on("2026-05-20")), "Patient/p1", "Patient/p9", 1)}, nil, []NoteKind{NoteSkipped}},
		{"six cycles are one course",
			[]string{
				admin("c1", "completed", carboRx, on("2025-09-01")), admin("c2", "completed", carboRx, on("2025-09-22")),
				admin("c3", "completed", carboRx, on("2025-10-13")), admin("c4", "completed", carboRx, on("2025-11-03")),
				admin("c5", "completed", carboRx, on("2025-11-24")), admin("c6", "completed", carboRx, on("2025-12-15")),
			},
			[]th{{"carboplatin", MatchedByIngredient, "MedicationAdministration/c6", "2025-09-01", "2025-12-15", false, 6, ""}}, nil},
		{"two courses a year apart, the newer current",
			[]string{
				admin("c1", "completed", carboRx, on("2025-01-05")), admin("c2", "completed", carboRx, on("2025-01-26")),
				admin("c3", "completed", carboRx, on("2026-05-25")),
			},
			[]th{
				{"carboplatin", MatchedByIngredient, "MedicationAdministration/c3", "2026-05-25", "2026-05-25", true, 1, ""},
				{"carboplatin", MatchedByIngredient, "MedicationAdministration/c2", "2025-01-05", "2025-01-26", false, 2, ""},
			}, nil},
		{"text only names the drug",
			[]string{admin("a1", "completed", `"medicationCodeableConcept":{"text":"Etoposide 100 mg/m2 IV"}`, on("2026-01-10"))},
			[]th{{"etoposide", MatchedByText, "MedicationAdministration/a1", "2026-01-10", "2026-01-10", false, 1, ""}}, []NoteKind{NoteCaveat}},
		{"contained Medication",
			[]string{admin("a1", "completed", `"contained":[{"resourceType":"Medication","id":"m","code":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"2555"}]}}],"medicationReference":{"reference":"#m"}`, on("2026-01-10"))},
			[]th{{"cisplatin", MatchedByIngredient, "MedicationAdministration/a1", "2026-01-10", "2026-01-10", false, 1, ""}}, nil},
		{"Medication in the Bundle by reference",
			[]string{
				`{"resourceType":"Medication","id":"med-lan","code":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"749813","display":"Somatuline Depot"}]}}`,
				admin("a1", "completed", `"medicationReference":{"reference":"Medication/med-lan"}`, on("2026-05-01")),
			},
			[]th{{"lanreotide", MatchedByProductCode, "MedicationAdministration/a1", "2026-05-01", "2026-05-01", true, 1, ""}}, nil},
		{"Medication named by its ingredient only",
			[]string{
				`{"resourceType":"Medication","id":"cmp","ingredient":[{"itemCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"4179","display":"etoposide"}]}}]}`,
				admin("a1", "completed", `"medicationReference":{"reference":"Medication/cmp"}`, on("2026-01-10")),
			},
			[]th{{"etoposide", MatchedByIngredient, "MedicationAdministration/a1", "2026-01-10", "2026-01-10", false, 1, ""}}, nil},
		{"unresolved reference, completed: no drug, no risk",
			[]string{admin("a1", "completed", `"medicationReference":{"reference":"Medication/absent"}`, on("2026-01-10"))}, nil, nil},
		{"not an anticancer drug",
			[]string{admin("a1", "completed", `"medicationCodeableConcept":{"text":"ondansetron 8 mg IV"}`, on("2026-05-20"))}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := mapRes(t, tt.res...)
			var got []th
			for _, x := range p.Therapies {
				got = append(got, th{x.Drug, x.MatchedBy, x.Ref, day(x.Start), day(x.End), x.Active, x.Administrations, x.Caveat})
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("therapies (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantNotes, noteKinds(p.Notes)); diff != "" {
				t.Errorf("notes (-want +got):\n%s\n%v", diff, p.Notes)
			}
		})
	}
}

// The dose-given window is measured from the last dose: a dose given exactly
// AdministeredRecentDays ago is current, one day more is history.
func TestAdministeredRecentWindow(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		days   int
		active bool
	}{{0, true}, {AdministeredRecentDays, true}, {AdministeredRecentDays + 1, false}} {
		date := testAt.AddDate(0, 0, -tc.days).Format(time.RFC3339)
		p := mapRes(t, admin("a1", "completed", carboRx, on(date)))
		if len(p.Therapies) != 1 || p.Therapies[0].Active != tc.active {
			t.Errorf("dose %d days before the evaluation: therapies %+v, want active=%v", tc.days, p.Therapies, tc.active)
		}
	}
}

// An unresolved Medication of an active record is unidentified (a caveat on the cards);
// once the Medication arrives in any document (another Bundle, e.g. read from the FHIR
// server), the drug is identified.
func TestMedicationFromAnotherDocument(t *testing.T) {
	t.Parallel()
	stmt := `{"resourceType":"MedicationStatement","id":"s","status":"active","subject":{"reference":"Patient/p1"},"medicationReference":{"reference":"https://ehr.example.org/fhir/Medication/m7"},"effectiveDateTime":"2026-03-01"}`
	alone := mapRes(t, stmt)
	if len(alone.Therapies) != 0 || len(alone.UnidentifiedMedications) != 1 {
		t.Fatalf("without the Medication: therapies %+v, unidentified %+v", alone.Therapies, alone.UnidentifiedMedications)
	}
	med := json.RawMessage(`{"resourceType":"Medication","id":"m7","code":{"text":"Sandostatin LAR Depot 30 mg"}}`)
	p, err := Map(Input{PatientID: pid, At: testAt, Documents: []json.RawMessage{bundle(stmt), med}})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Therapies) != 1 || p.Therapies[0].Drug != "octreotide" || p.Therapies[0].MatchedBy != MatchedByText || !p.Therapies[0].Active {
		t.Errorf("therapies %+v, want octreotide matched by text, active", p.Therapies)
	}
	if len(p.UnidentifiedMedications) != 0 {
		t.Errorf("unidentified %+v", p.UnidentifiedMedications)
	}
}

// Lutathera given in clinic is prior PRRT, as a Lutathera request is.
func TestLutatheraAdministrationIsPriorPRRT(t *testing.T) {
	t.Parallel()
	p := mapRes(t, admin("a1", "completed", `"medicationCodeableConcept":{"coding":[{"system":"http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets","code":"A9513"}],"text":"Lutathera"}`, on("2025-03-01")))
	if len(p.Procedures) != 1 || p.Procedures[0].Kind != ProcPRRT || p.Procedures[0].Ref != "MedicationAdministration/a1" {
		t.Errorf("procedures %+v, want one PRRT from the administration", p.Procedures)
	}
}

func TestUnresolvedMedications(t *testing.T) {
	t.Parallel()
	stmt := func(id, status, ref string) string {
		return `{"resourceType":"MedicationStatement","id":"` + id + `","status":"` + status + `","subject":{"reference":"Patient/p1"},"medicationReference":{"reference":"` + ref + `"}}`
	}
	med := func(id string) string { return `{"resourceType":"Medication","id":"` + id + `"}` }
	tests := []struct {
		name string
		docs []json.RawMessage
		want []MedicationRef
	}{
		{"relative, absolute and versioned references; each id once",
			[]json.RawMessage{bundle(stmt("a", "active", "Medication/m1"), stmt("b", "active", "https://ehr.example.org/fhir/Medication/m2/_history/3"), stmt("c", "completed", "Medication/m1"))},
			[]MedicationRef{{"Medication/m1", "m1", "Medication/m1"}, {"Medication/m2", "m2", "https://ehr.example.org/fhir/Medication/m2"}}},
		{"a Medication in another document resolves it",
			[]json.RawMessage{bundle(stmt("a", "active", "Medication/m1"), stmt("b", "active", "Medication/m2")), bundle(med("m2"))},
			[]MedicationRef{{"Medication/m1", "m1", "Medication/m1"}}},
		{"a Medication in a nested Bundle or given alone resolves it",
			[]json.RawMessage{bundle(stmt("a", "active", "Medication/m1"), string(bundle(med("m1")))), json.RawMessage(stmt("b", "active", "Medication/m2")), json.RawMessage(med("m2"))}, nil},
		{"contained, urn, other types and invalid ids are not read",
			[]json.RawMessage{bundle(stmt("a", "active", "#m"), stmt("b", "active", "urn:uuid:1b7e"), stmt("c", "active", "Substance/s1"), stmt("d", "active", "Medication/.."), stmt("e", "active", "Medication/a b"))}, nil},
		{"withdrawn records are not read",
			[]json.RawMessage{bundle(stmt("a", "entered-in-error", "Medication/m1"), stmt("b", "not-taken", "Medication/m2"),
				`{"resourceType":"MedicationAdministration","id":"x","status":"not-done","medicationReference":{"reference":"Medication/m3"}}`,
				`{"resourceType":"MedicationRequest","id":"y","status":"draft","medicationReference":{"reference":"Medication/m4"}}`)},
			[]MedicationRef{{"Medication/m4", "m4", "Medication/m4"}}},
		{"unreadable documents are skipped", []json.RawMessage{json.RawMessage(`[1,2]`), json.RawMessage(`{"resourceType":"Bundle","entry":7}`)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var docs []*fhirjson.Document
			for _, raw := range tt.docs {
				if d, err := fhirjson.ReadDocument(raw); err == nil {
					docs = append(docs, d)
				}
			}
			if diff := cmp.Diff(tt.want, UnresolvedMedications(docs)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// The notes of the reading (a Medication that could not be read) come first among the
// picture's notes.
func TestInputNotes(t *testing.T) {
	t.Parallel()
	in := Note{Kind: NoteCaveat, Ref: "Medication/m1", Text: "Medication/m1 could not be read from the FHIR server (the FHIR server answered HTTP 500)"}
	p, err := Map(Input{PatientID: pid, At: testAt, Notes: []Note{in}, Documents: []json.RawMessage{bundle(medReq("m", "entered-in-error", rx("357977", "sunitinib"), ""))}})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Notes) != 2 || p.Notes[0] != in {
		t.Errorf("notes %+v, want the input note first", p.Notes)
	}
}
