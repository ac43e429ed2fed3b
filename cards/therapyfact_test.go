package cards

import (
	"testing"
	"time"

	"github.com/nencds/nencds/fhirmap"
)

// A course given in clinic (MedicationAdministration) is named by its doses and dates,
// never as "active, status completed"; in a clinician's words and dates (docs/clinical.md §4).
func TestTherapyFactOfAdministrations(t *testing.T) {
	t.Parallel()
	d := func(s string) time.Time { x, _ := time.Parse("2006-01-02", s); return x }
	tests := []struct {
		name string
		t    fhirmap.Therapy
		want string
	}{
		{"a course over", fhirmap.Therapy{Source: fhirmap.Source{Status: "completed"}, Drug: "carboplatin", Administrations: 4, Start: d("2025-07-01"), End: d("2025-09-02")},
			"carboplatin, 4 doses, 1 Jul 2025 to 2 Sep 2025"},
		{"one dose just given, by name", fhirmap.Therapy{Source: fhirmap.Source{Status: "completed"}, Drug: "lanreotide", Administrations: 1, Start: d("2026-05-11"), End: d("2026-05-11"), Active: true, MatchedBy: fhirmap.MatchedByText},
			"lanreotide, given 11 May 2026, current (named in text only)"},
		{"an infusion under way", fhirmap.Therapy{Source: fhirmap.Source{Status: "in-progress"}, Drug: "etoposide", Administrations: 1, Start: d("2026-06-01"), Active: true},
			"etoposide, being given since 1 Jun 2026, current"},
		{"undated", fhirmap.Therapy{Drug: "cisplatin", Administrations: 1, Active: true}, "cisplatin, given, date unknown, current"},
		{"a request keeps its wording", fhirmap.Therapy{Source: fhirmap.Source{Status: "completed"}, Drug: "carboplatin", Start: d("2025-07-01")},
			"carboplatin, completed, started 1 Jul 2025"},
	}
	for _, tt := range tests {
		if got := therapyFact(tt.t).Value; got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}
