package cards

import (
	"strings"
	"testing"

	"github.com/nencds/nencds/fhirmap"
)

// Safety principle 3: when active medication records could not be identified, every
// card that suggests starting a drug says so (one of them may be that drug); the
// summary lists the data-quality note; cards that start no drug do not carry the line.
func TestUnidentifiedMedicationsWarnOnDrugCards(t *testing.T) {
	t.Parallel()
	const line = "2 active medication record(s) could not be identified: check the medication list before ordering"
	unidentified := func(p *fhirmap.Picture) {
		for _, ref := range []string{"MedicationStatement/ssa-1", "MedicationRequest/m2"} {
			p.UnidentifiedMedications = append(p.UnidentifiedMedications, src(ref, day(2026, 1, 1)))
			p.Notes = append(p.Notes, fhirmap.Note{Kind: fhirmap.NoteCaveat, Ref: ref, Text: ref + ": drug could not be identified (no medication code or name); status active"})
		}
	}
	tests := []struct {
		name  string
		p     *fhirmap.Picture
		topic string
	}{
		{"net-ssa", picture(smallBowelNET(), ki67(8, "Observation/k", day(2026, 1, 1)), liverMets(), sstr(fhirmap.SSTRPositive, 3), unidentified), TopicSSA},
		{"nec-first-line", picture(necDiag(), ki67(70, "Observation/k", day(2026, 1, 1)), liverMets(), unidentified), TopicNECFirstLine},
		{"pnet-targeted", picture(pancreaticNET(), ki67(8, "Observation/k", day(2026, 1, 1)), liverMets(), progression(day(2026, 5, 1)), unidentified), TopicPNETTargeted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := evaluateCfg(noCap(), tt.p)
			c := card(r, tt.topic)
			if c == nil {
				t.Fatalf("no %s card: %v", tt.topic, topics(r))
			}
			if !strings.Contains(c.Detail, line) || !strings.Contains(c.Detail, "`MedicationRequest/m2`") {
				t.Errorf("%s detail lacks the unidentified-medication line:\n%s", tt.topic, c.Detail)
			}
			s := card(r, TopicSummary)
			if s == nil || !strings.Contains(s.Detail, "MedicationStatement/ssa-1: drug could not be identified") {
				t.Errorf("summary lacks the data-quality note")
			}
			for _, other := range r.Cards {
				if strings.Contains(other.Detail, line) && !cardStartsDrug(other) {
					t.Errorf("card %s starts no drug but carries the line", other.Source.Topic.Code)
				}
			}
		})
	}
	// Without unidentified records the line is absent.
	r := evaluateCfg(noCap(), picture(smallBowelNET(), ki67(8, "Observation/k", day(2026, 1, 1)), liverMets(), sstr(fhirmap.SSTRPositive, 3)))
	if c := card(r, TopicSSA); c == nil || strings.Contains(c.Detail, "could not be identified") {
		t.Errorf("net-ssa without unidentified records: %+v", c)
	}
}

func cardStartsDrug(c Card) bool {
	for _, s := range c.Suggestions {
		for _, a := range s.Actions {
			if strings.Contains(string(a.Resource), `"resourceType":"MedicationRequest"`) {
				return true
			}
		}
	}
	return c.Source.Topic.Code == TopicPRRT
}

// Principle 3 with a drug of unknown status: fhirmap marks it possibly active, and no
// card suggests starting it again.
func TestPossiblyActiveSSASuppressesSSA(t *testing.T) {
	t.Parallel()
	p := picture(smallBowelNET(), ki67(8, "Observation/k", day(2026, 1, 1)), liverMets(), sstr(fhirmap.SSTRPositive, 3), func(p *fhirmap.Picture) {
		th := fhirmap.Therapy{Source: src("MedicationStatement/ssa-1", day(2025, 12, 1)), Drug: "lanreotide", MatchedBy: fhirmap.MatchedByProductCode, Active: true}
		th.Status, th.Caveat = "unknown", fhirmap.CaveatUnknownStatus
		p.Therapies = append(p.Therapies, th)
	})
	r := evaluateCfg(noCap(), p)
	if hasTopic(r, TopicSSA) {
		t.Errorf("net-ssa fired for a patient with lanreotide of unknown status")
	}
}

// End to end (fhirmap + cards) on the net-ssa fixture with the reviewer's variants of
// an SSA statement: none of them may lead to "start lanreotide/octreotide" silently.
func TestEndToEndSSARecordVariants(t *testing.T) {
	t.Parallel()
	const head = `{"resourceType":"MedicationStatement","id":"ssa-x","subject":{"reference":"Patient/PATIENT"},"effectiveDateTime":"2025-12-01",`
	if r := evaluateCfg(noCap(), mapRequest(t, "card-net-ssa")); !hasTopic(r, TopicSSA) {
		t.Fatalf("the fixture no longer gives net-ssa: %v", topics(r))
	}
	tests := []struct {
		name string
		res  string
		// suppressed: net-ssa must not fire; otherwise it must carry the warning line.
		suppressed bool
	}{
		{"status unknown", head + `"status":"unknown","medicationCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"749813"}]}}`, true},
		{"unverified code only", head + `"status":"active","medicationCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"7617"}]}}`, true},
		{"unresolved reference with display", head + `"status":"active","medicationReference":{"reference":"Medication/med-1","display":"lanreotide 120 mg"}}`, true},
		{"unresolved reference without display", head + `"status":"active","medicationReference":{"reference":"Medication/med-1"}}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := evaluateCfg(noCap(), mapRequest(t, "card-net-ssa", tt.res))
			c := card(r, TopicSSA)
			switch {
			case tt.suppressed && c != nil:
				t.Errorf("net-ssa suggested although an SSA is (possibly) active: %v", drugsSuggested(t, r))
			case !tt.suppressed && (c == nil || !strings.Contains(c.Detail, "1 active medication record(s) could not be identified")):
				t.Errorf("net-ssa without the unidentified-medication warning: %+v", c)
			}
		})
	}
}
