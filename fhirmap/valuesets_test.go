package fhirmap

import (
	"strings"
	"testing"
)

func TestLookup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, system, code, wantConcept string
		wantOK                          bool
	}{
		{"exact ICD-10-CM", "http://hl7.org/fhir/sid/icd-10-cm", "C7A.012", "nen-small-intestine", true},
		{"prefix pattern", "http://hl7.org/fhir/sid/icd-10-cm", "C34.90", "lung-primary", true},
		{"prefix stem alone does not match another code", "http://hl7.org/fhir/sid/icd-10-cm", "C3", "", false},
		{"multi-code row split", "http://terminology.hl7.org/CodeSystem/icd-o-3", "8153/3", "morph-functional-pnet", true},
		{"local system mapped", LocalSystem, "krenning-score", "krenning-score", true},
		{"code without system never matches", "", "29593-1", "", false},
		{"display-like code in wrong system", "http://loinc.org", "C7A.012", "", false},
		{"non-existent LOINC 29593-5", "http://loinc.org", "29593-5", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := Lookup(tt.system, tt.code)
			if ok != tt.wantOK || got.Concept != tt.wantConcept {
				t.Errorf("Lookup(%q, %q) = %q, %v; want %q, %v", tt.system, tt.code, got.Concept, ok, tt.wantConcept, tt.wantOK)
			}
		})
	}
}

func TestByConceptDrugsHaveDosageText(t *testing.T) {
	t.Parallel()
	for _, drug := range []string{"cisplatin", "carboplatin", "etoposide", "sunitinib", "everolimus"} {
		cs := ByConcept(drug)
		if len(cs) != 1 || cs[0].Note == "" || cs[0].System != "http://www.nlm.nih.gov/research/umls/rxnorm" {
			t.Errorf("ByConcept(%q) = %+v; want one RxNorm code with dosage text", drug, cs)
		}
	}
}

// TestLookupIndexMatchesScan checks the index against the definition: exact rows in
// file order first, then prefix patterns.
func TestLookupIndexMatchesScan(t *testing.T) {
	t.Parallel()
	scan := func(system, code string) (Code, bool) {
		for _, c := range Codes() {
			if !c.Prefix() && c.Matches(system, code) {
				return c, true
			}
		}
		for _, c := range Codes() {
			if c.Prefix() && c.Matches(system, code) {
				return c, true
			}
		}
		return Code{}, false
	}
	probes := [][2]string{{"http://hl7.org/fhir/sid/icd-10-cm", "D3A.026"}, {"http://hl7.org/fhir/sid/icd-10-cm", "C34.1"}, {"", ""}}
	for _, c := range Codes() {
		probes = append(probes, [2]string{c.System, c.Code}, [2]string{c.System, c.Code + "0"})
	}
	for _, p := range probes {
		want, wantOK := scan(p[0], p[1])
		got, ok := Lookup(p[0], p[1])
		if ok != wantOK || got != want {
			t.Errorf("Lookup(%q, %q) = %+v, %v; want %+v, %v", p[0], p[1], got, ok, want, wantOK)
		}
	}
}

// A row whose code is still empty (lanreotide's RxNorm ingredient) keeps its reviewed
// dosage text for ByConcept, never matches, and is not among Codes().
func TestEmptyCodeRowKeptForConceptOnly(t *testing.T) {
	t.Parallel()
	const rx = "http://www.nlm.nih.gov/research/umls/rxnorm"
	cs := ByConcept("lanreotide")
	if len(cs) != 1 || cs[0].Code != "" || cs[0].System != rx || cs[0].Display != "lanreotide" ||
		!strings.HasPrefix(cs[0].Note, "120 mg deep SC every 4 weeks") || cs[0].Verified() {
		t.Fatalf("ByConcept(lanreotide) = %+v; want one uncoded, unverified RxNorm row with its dosage text", cs)
	}
	if c, ok := Lookup(rx, ""); ok {
		t.Errorf("Lookup(rxnorm, \"\") matched %+v", c)
	}
	if cs[0].Matches(rx, "") {
		t.Error("an empty code row matches an empty code")
	}
	for _, c := range Codes() {
		if c.Code == "" {
			t.Errorf("Codes() holds a row without a code: %+v", c)
		}
	}
}

func TestVerified(t *testing.T) {
	t.Parallel()
	tests := []struct {
		concept string
		want    bool
	}{
		{"sunitinib", true},      // verified
		{"octreotide", false},    // RxNorm 7617 unverified
		{"irinotecan", false},    // RxNorm 51499 unverified
		{"lanreotide", false},    // no code
		{"mitotic-count", false}, // local code: not a verified standard code
	}
	for _, tt := range tests {
		cs := ByConcept(tt.concept)
		if len(cs) == 0 {
			t.Fatalf("no row for %q", tt.concept)
		}
		if got := cs[0].Verified(); got != tt.want {
			t.Errorf("%s: Verified() = %v; want %v (%+v)", tt.concept, got, tt.want, cs[0])
		}
	}
}
