package fhirmap

import (
	"encoding/json"
	"errors"
	"testing"
)

// TestReadDraftOrders: drafts are read as clients send them: a code, a contained
// Medication, a Medication of the Bundle, a reference's display, text only; the
// sandbox's dose in doseAndRate; a ServiceRequest recognised as PRRT; an unreadable
// draft names its position.
func TestReadDraftOrders(t *testing.T) {
	t.Parallel()
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	drafts := []json.RawMessage{
		raw(`{"resourceType":"MedicationRequest","id":"request-123","status":"draft","medicationCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"357977"}]},"dosageInstruction":[{"doseAndRate":[{"doseQuantity":{"value":37.5,"code":"mg"}}],"timing":{"repeat":{"frequency":1,"period":1,"periodUnit":"d"}}}]}`),
		raw(`{"resourceType":"MedicationRequest","id":"c","contained":[{"resourceType":"Medication","id":"m","code":{"text":"Afinitor 10 mg"}}],"medicationReference":{"reference":"#m"}}`),
		raw(`{"resourceType":"MedicationRequest","id":"b","medicationReference":{"reference":"Medication/carbo"}}`),
		raw(`{"resourceType":"MedicationRequest","id":"d","medicationReference":{"reference":"Medication/gone","display":"Somatuline Depot 120 mg"}}`),
		raw(`{"resourceType":"MedicationRequest","id":"u","medicationReference":{"reference":"Medication/gone"}}`),
		raw(`{"resourceType":"MedicationRequest","id":"x","medicationCodeableConcept":{"text":"metformin 500 mg"}}`),
		raw(`{"resourceType":"ServiceRequest","id":"p","code":{"text":"PRRT Lu-177 DOTATATE cycle 1"}}`),
	}
	meds := []json.RawMessage{raw(`{"resourceType":"Medication","id":"carbo","code":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"40048"}]}}`)}
	got, err := ReadDraftOrders(drafts, meds)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		ref, drug, dose string
		kind            ProcedureKind
		unidentified    bool
	}{
		{"MedicationRequest/request-123", "sunitinib", "37.5 mg, 1 per 1 d", "", false},
		{"MedicationRequest/c", "everolimus", "", "", false},
		{"MedicationRequest/b", "carboplatin", "", "", false},
		{"MedicationRequest/d", "lanreotide", "", "", false},
		{"MedicationRequest/u", "", "", "", true},
		{"MedicationRequest/x", "", "", "", false},
		{"ServiceRequest/p", "", "", ProcPRRT, false},
	}
	if len(got) != len(want) {
		t.Fatalf("%d drafts, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		drug := ""
		if len(g.Drugs) > 0 {
			drug = g.Drugs[0].Drug
		}
		if g.Ref != w.ref || drug != w.drug || g.Dose != w.dose || g.Kind != w.kind || g.Unidentified != w.unidentified {
			t.Errorf("draft %d: %+v, want %+v", i, g, w)
		}
	}
	_, err = ReadDraftOrders([]json.RawMessage{drafts[0], raw(`{"resourceType":"MedicationRequest","medicationCodeableConcept":"sunitinib"}`)}, nil)
	var de *DraftError
	if err == nil || !errors.As(err, &de) || de.Index != 1 {
		t.Errorf("unreadable draft: err %v", err)
	}
}
