package fhirmap

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
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
