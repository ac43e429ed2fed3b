package fhirmap

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Safety principle 3 and "never lost data": a medication record that may be an
// anticancer drug the patient takes is never dropped silently.
func TestMedicationNeverLostSilently(t *testing.T) {
	t.Parallel()
	const stmtHead = `{"resourceType":"MedicationStatement","id":"ssa","subject":{"reference":"Patient/p1"},"effectiveDateTime":"2025-12-01",`
	tests := []struct {
		name string
		res  []string
		// want: the therapies as drug/active/caveat.
		want []string
		// unidentified: the refs in Picture.UnidentifiedMedications.
		unidentified []string
		// noteHas: a substring of a note on the record.
		noteHas string
	}{
		{"statement: reference to a Medication not in any document, no display",
			[]string{stmtHead + `"status":"active","medicationReference":{"reference":"Medication/med-1"}}`},
			nil, []string{"MedicationStatement/ssa"}, "MedicationStatement/ssa: drug could not be identified (the referenced Medication/med-1 is not in the record"},
		{"request: no code, no text, status unknown",
			[]string{medReq("m", "unknown", `"medicationCodeableConcept":{}`, "")},
			nil, []string{"MedicationRequest/m"}, "MedicationRequest/m: drug could not be identified (no medication code or name); status unknown"},
		{"request: bare unknown code",
			[]string{medReq("m", "on-hold", `"medicationCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"99999999"}]}`, "")},
			nil, []string{"MedicationRequest/m"}, "its code is not one nencds knows"},
		{"reference display read when the Medication is not available",
			[]string{stmtHead + `"status":"active","medicationReference":{"reference":"Medication/med-1","display":"Sandostatin LAR Depot 30 mg"}}`},
			[]string{"octreotide/true/"}, nil, "octreotide recognised by name"},
		{"octreotide coded only with the unverified RxNorm 7617, no text",
			[]string{stmtHead + `"status":"active","medicationCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"7617"}]}}`},
			[]string{"octreotide/true/" + CaveatUnverifiedCode}, nil, "matched by a code not yet verified"},
		{"lanreotide statement with status unknown is possibly active",
			[]string{stmtHead + `"status":"unknown","medicationCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"749813"}]}}`},
			[]string{"lanreotide/true/" + CaveatUnknownStatus}, nil, "lanreotide: status unknown; counted as possibly active"},
		{"a named non-anticancer drug is identified: no note",
			[]string{medReq("m", "active", rx("197361", "amlodipine 5 MG Oral Tablet"), "")}, nil, nil, ""},
		{"an unidentified record that is completed is no risk: no note",
			[]string{stmtHead + `"status":"completed","medicationReference":{"reference":"Medication/med-1"}}`}, nil, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := mapRes(t, tt.res...)
			var got []string
			for _, x := range p.Therapies {
				got = append(got, x.Drug+"/"+map[bool]string{true: "true", false: "false"}[x.Active]+"/"+x.Caveat)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("therapies (-want +got):\n%s", diff)
			}
			var un []string
			for _, s := range p.UnidentifiedMedications {
				un = append(un, s.Ref)
			}
			if diff := cmp.Diff(tt.unidentified, un); diff != "" {
				t.Errorf("unidentified (-want +got):\n%s", diff)
			}
			found := false
			for _, n := range p.Notes {
				found = found || tt.noteHas != "" && strings.Contains(n.Text, tt.noteHas)
			}
			if tt.noteHas == "" && len(p.Notes) > 0 {
				t.Errorf("unexpected notes: %v", p.Notes)
			}
			if tt.noteHas != "" && !found {
				t.Errorf("no note containing %q: %v", tt.noteHas, p.Notes)
			}
		})
	}
}

// Unverified codes are for detection only: a draft MedicationRequest coded with one is
// an open order (no re-suggestion) and carries the caveat.
func TestUnverifiedCodeDraftIsOpenOrderWithCaveat(t *testing.T) {
	t.Parallel()
	p := mapRes(t, medReq("d", "draft", `"medicationCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"7617"}]}`, ""))
	if len(p.OpenOrders) != 1 || p.OpenOrders[0].Drug != "octreotide" || p.OpenOrders[0].Caveat != CaveatUnverifiedCode {
		t.Errorf("open orders %+v, want one octreotide order with the unverified-code caveat", p.OpenOrders)
	}
}
