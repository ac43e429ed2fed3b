package fhirmap

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Two Ki-67 values of the same date: the higher one grades (it comes first), whatever
// the resource ids; the newest date still wins over an older higher value.
func TestKi67SameDateHigherFirst(t *testing.T) {
	t.Parallel()
	q := func(v string) string {
		return `"valueQuantity":{"value":` + v + `,"unit":"%","system":"http://unitsofmeasure.org","code":"%"}`
	}
	tests := []struct {
		name string
		res  []string
		want []float64
	}{
		{"ids a (2 %) and b (8 %)", []string{ki67("a", "final", q("2")), ki67("b", "final", q("8"))}, []float64{8, 2}},
		{"ids a (8 %) and b (2 %)", []string{ki67("a", "final", q("8")), ki67("b", "final", q("2"))}, []float64{8, 2}},
		{"same day, different times", []string{
			obs("a", "final", sysLOINC, "29593-1", `"effectiveDateTime":"2025-03-05T16:00:00Z",`+q("2")),
			obs("b", "final", sysLOINC, "29593-1", `"effectiveDateTime":"2025-03-05T08:00:00Z",`+q("8"))}, []float64{8, 2}},
		{"newer date wins over an older higher value", []string{
			obs("a", "final", sysLOINC, "29593-1", `"effectiveDateTime":"2025-03-06",`+q("2")),
			ki67("b", "final", q("8"))}, []float64{2, 8}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := mapRes(t, tt.res...)
			var got []float64
			for _, k := range p.Ki67 {
				got = append(got, k.Percent)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Ki-67 order (-want +got):\n%s", diff)
			}
		})
	}
}

// A mitotic count is per 2 mm² (WHO 2019). Per-2 mm² units in their usual spellings
// are read as they are; per mm² is doubled with a note; no unit is read as per 2 mm²
// with a caveat; per HPF or any other unit is rejected with a note.
func TestMitoticCountUnits(t *testing.T) {
	t.Parallel()
	mit := func(q string) string {
		return obs("m", "final", LocalSystem, "mitotic-count", `"effectiveDateTime":"2025-03-05",`+q)
	}
	qty := func(v, unit, code string) string {
		s := `"valueQuantity":{"value":` + v
		if unit != "" {
			s += `,"unit":"` + unit + `"`
		}
		if code != "" {
			s += `,"system":"http://unitsofmeasure.org","code":"` + code + `"`
		}
		return s + "}"
	}
	tests := []struct {
		name  string
		value string
		want  []float64 // Per2mm2 read (nil: rejected)
		note  NoteKind  // "" when no note
	}{
		{"UCUM /2.mm2", qty("15", "/2 mm2", "/2.mm2"), []float64{15}, ""},
		{"annotated {mitoses}/(2.mm2)", qty("15", "", "{mitoses}/(2.mm2)"), []float64{15}, ""},
		{"/2mm2", qty("15", "/2mm2", ""), []float64{15}, ""},
		{"text per 2 mm2", qty("15", "per 2 mm2", ""), []float64{15}, ""},
		{"text mitoses/2 mm²", qty("15", "mitoses/2 mm²", ""), []float64{15}, ""},
		{"per mm2 doubled", qty("15", "/mm2", ""), []float64{30}, NoteNormalised},
		{"UCUM /mm2 doubled", qty("15", "", "/mm2"), []float64{30}, NoteNormalised},
		{"per mm² in words doubled", qty("15", "mitoses per mm²", ""), []float64{30}, NoteNormalised},
		{"no unit: per 2 mm² with a caveat", qty("15", "", ""), []float64{15}, NoteCaveat},
		{"integer: per 2 mm² with a caveat", `"valueInteger":15`, []float64{15}, NoteCaveat},
		{"per 10 HPF rejected", qty("15", "/10 HPF", ""), nil, NoteRejected},
		{"UCUM HPF rejected", qty("15", "", "/[HPF]"), nil, NoteRejected},
		{"per cm2 rejected", qty("15", "/cm2", ""), nil, NoteRejected},
		{"per 10 mm2 rejected", qty("15", "/10 mm2", ""), nil, NoteRejected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := mapRes(t, mit(tt.value))
			var got []float64
			for _, x := range p.Mitoses {
				got = append(got, x.Per2mm2)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("per 2 mm² (-want +got):\n%s", diff)
			}
			var kinds []NoteKind
			if tt.note != "" {
				kinds = []NoteKind{tt.note}
			}
			if diff := cmp.Diff(kinds, noteKinds(p.Notes)); diff != "" {
				t.Errorf("notes (-want +got):\n%s\n%v", diff, p.Notes)
			}
			if tt.note == NoteCaveat && (len(p.Mitoses) != 1 || p.Mitoses[0].Caveat == "") {
				t.Errorf("no caveat on the value read without a unit: %+v", p.Mitoses)
			}
		})
	}
	// 15 per mm² is 30 per 2 mm²: G3, not G2.
	if g := MitoticGrade(mapRes(t, mit(qty("15", "/mm2", ""))).Mitoses[0].Per2mm2); g != 3 {
		t.Errorf("15/mm² graded G%d, want G3", g)
	}
}

// The grade-label note compares the label with the computed grade: the higher of the
// Ki-67 grade and the mitotic grade.
func TestGradeMismatchUsesCombinedGrade(t *testing.T) {
	t.Parallel()
	label := func(v string) string {
		return obs("g", "final", sysLOINC, "33732-9", `"effectiveDateTime":"2025-03-05","valueCodeableConcept":{"text":"`+v+`"}`)
	}
	k := ki67("k", "final", `"valueQuantity":{"value":2,"unit":"%","system":"http://unitsofmeasure.org","code":"%"}`)
	mit := obs("m", "final", LocalSystem, "mitotic-count", `"effectiveDateTime":"2025-03-05","valueQuantity":{"value":30,"unit":"/2 mm2","system":"http://unitsofmeasure.org","code":"/2.mm2"}`)
	tests := []struct {
		name string
		res  []string
		want string // "" when no grade-mismatch note
	}{
		{"G3 label, Ki-67 G1 and mitoses G3: consistent", []string{label("G3"), k, mit}, ""},
		{"G1 label, Ki-67 G1 but mitoses G3: mismatch", []string{label("G1"), k, mit},
			`grade label "G1" contradicts the computed grade G3 (the higher of Ki-67 2 % (Observation/k) = G1 and mitotic count 30 per 2 mm² (Observation/m) = G3); the numeric values win`},
		{"G2 label, Ki-67 only G1", []string{label("G2"), k}, `grade label "G2" contradicts Ki-67 2 % (Observation/k) = G1; the numeric value wins`},
		{"G1 label, mitoses only G3", []string{label("G1"), mit}, `grade label "G1" contradicts mitotic count 30 per 2 mm² (Observation/m) = G3; the numeric value wins`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := mapRes(t, tt.res...)
			got := ""
			for _, n := range p.Notes {
				if n.Kind == NoteGradeMismatch {
					got = n.Text
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("grade-mismatch note (-want +got):\n%s", diff)
			}
		})
	}
}

// A differentiation conflict with an unconfirmed diagnosis names its verification
// status, so that the note does not read as a conflict of confirmed facts.
func TestDifferentiationConflictNamesUnconfirmed(t *testing.T) {
	t.Parallel()
	cond := func(id, ver, code string) string {
		return `{"resourceType":"Condition","id":"` + id + `","subject":{"reference":"Patient/p1"},` +
			`"clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]},` +
			`"verificationStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-ver-status","code":"` + ver + `"}]},` +
			`"code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"` + code + `"}]}}`
	}
	p := mapRes(t, cond("nen", "confirmed", "C7A.012"), cond("ddx", "differential", "C7A.1"))
	want := "differentiation conflicts: well differentiated in Condition/nen; poorly differentiated in Condition/ddx (verification status differential)"
	for _, n := range p.Notes {
		if n.Kind == NoteConflict {
			if diff := cmp.Diff(want, n.Text); diff != "" {
				t.Errorf("conflict note (-want +got):\n%s", diff)
			}
			return
		}
	}
	t.Errorf("no conflict note: %v", p.Notes)
}
