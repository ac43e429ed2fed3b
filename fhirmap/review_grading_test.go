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
