package cards

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nencds/nencds/fhirmap"
)

// unconfirmedDiag adds a second NEN diagnosis with the given verification status
// (and the morphology / differentiation facts fhirmap derives from it).
func unconfirmedDiag(status, concept string, site fhirmap.Site, diff fhirmap.Differentiation, code string) opt {
	return func(p *fhirmap.Picture) {
		s := src("Condition/nen-"+status, day(2025, 12, 1))
		s.Caveat = "verification status " + status
		p.Diagnoses = append(p.Diagnoses, fhirmap.Diagnosis{
			ConditionFact: fhirmap.ConditionFact{
				Source: s, Codes: []fhirmap.Coding{{System: "http://hl7.org/fhir/sid/icd-10-cm", Code: code}},
				Text: "Neuroendocrine neoplasm", ClinicalStatus: "active", VerificationStatus: status,
			},
			Concept: concept, Site: site, Differentiation: diff,
		})
		if diff != fhirmap.DiffUnknown {
			p.Differentiation = append(p.Differentiation, fhirmap.DifferentiationFact{Source: s, Value: diff, From: "ICD-10-CM " + code})
		}
	}
}

// docs/clinical.md §2, principles 1 and 5: an unconfirmed, provisional or differential
// diagnosis never decides the classification. A differential C7A.1 (poorly
// differentiated) beside a confirmed C7A.8 with Ki-67 30 % is "NEN, grade
// undetermined", not NEC, and no platinum is suggested.
func TestClassifyIgnoresUnconfirmedDiagnoses(t *testing.T) {
	t.Parallel()
	for _, status := range []string{"differential", "provisional", "unconfirmed"} {
		t.Run(status, func(t *testing.T) {
			t.Parallel()
			p := picture(nenNoDiff(fhirmap.SiteUnknown), unconfirmedDiag(status, "nec-any-site", fhirmap.SiteUnknown, fhirmap.DiffPoor, "C7A.1"),
				ki67(30, "Observation/k", day(2026, 1, 1)), liverMets(), ecog(0))
			c := Classify(p)
			if diff := cmp.Diff(CatUndetermined, c.Category); diff != "" {
				t.Errorf("category (-want +got):\n%s", diff)
			}
			r := evaluateCfg(noCap(), p)
			if d := drugsSuggested(t, r); len(d) > 0 {
				t.Errorf("drugs suggested from a %s diagnosis: %v", status, d)
			}
			if hasTopic(r, TopicNECFirstLine) {
				t.Errorf("nec-first-line fired from a %s C7A.1", status)
			}
			if !hasTopic(r, TopicClassificationIncomplete) {
				t.Errorf("no classification-incomplete card: %v", topics(r))
			}
			// The unconfirmed diagnosis still appears in the summary.
			if s := card(r, TopicSummary); s == nil || !strings.Contains(s.Detail, "Condition/nen-"+status) {
				t.Errorf("summary does not show the %s diagnosis", status)
			}
		})
	}
}

// A differential pancreatic NET diagnosis does not make a confirmed NEN of unknown
// site pancreatic (site decides pnet-targeted).
func TestClassifySiteFromConfirmedOnly(t *testing.T) {
	t.Parallel()
	p := picture(diag("nen-other", fhirmap.SiteUnknown, fhirmap.DiffWell, "C7A.8"), unconfirmedDiag("differential", "pnet", fhirmap.SitePancreas, fhirmap.DiffWell, "C25.4"),
		ki67(10, "Observation/k", day(2026, 1, 1)), liverMets(), progression(day(2026, 5, 1)), ecog(0))
	if got := primarySite(p); got != fhirmap.SiteUnknown {
		t.Errorf("primarySite = %q, want unknown (the pancreas diagnosis is differential)", got)
	}
	if r := evaluateCfg(noCap(), p); hasTopic(r, TopicPNETTargeted) {
		t.Errorf("pnet-targeted fired from a differential pancreatic diagnosis: %v", topics(r))
	}
	// A differential MiNEN morphology does not make the tumour a MiNEN either.
	q := picture(smallBowelNET(), ki67(10, "Observation/k", day(2026, 1, 1)), func(p *fhirmap.Picture) {
		unconfirmedDiag("provisional", "morph-minen", fhirmap.SiteUnknown, fhirmap.DiffUnknown, "C7A.8")(p)
		p.Diagnoses[1].Morphology = "8154/3"
		p.Morphologies = append(p.Morphologies, fhirmap.Morphology{Source: p.Diagnoses[1].Source, Code: "8154/3"})
	})
	if c := Classify(q); c.Category != CatNETG2 {
		t.Errorf("category %q, want NET G2 (the MiNEN morphology is provisional)", c.Category)
	}
}

// Principles 1, 2 and 5: a differentiation observation does not silently override a
// conflicting morphology or diagnosis code. Any well/poor disagreement among the
// confirmed sources leaves the grade undetermined, names the conflicting facts on a
// classification-incomplete card, and no treatment of either branch is suggested.
func TestClassifyDifferentiationConflict(t *testing.T) {
	t.Parallel()
	everything := []opt{liverMets(), progression(day(2026, 5, 1)), sstr(fhirmap.SSTRPositive, 4), syndrome(), ecog(0), age(60)}
	tests := []struct {
		name  string
		opts  []opt
		facts []string // must all be named on the classification-incomplete card
	}{
		{"small cell 8041/3 + observation well + Ki-67 8 %", []opt{
			diag("nen-small-intestine", fhirmap.SiteSmallIntestine, fhirmap.DiffPoor, "C7A.012"),
			func(p *fhirmap.Picture) {
				p.Diagnoses[0].Morphology = "8041/3"
				p.Morphologies = append(p.Morphologies, fhirmap.Morphology{Source: p.Diagnoses[0].Source, Code: "8041/3", Differentiation: fhirmap.DiffPoor})
			},
			diffObs(fhirmap.DiffWell), ki67(8, "Observation/k", day(2026, 1, 1)),
		}, []string{"well differentiated (from observation), 1 Nov 2025 · `Observation/diff`", "poorly differentiated (from ICD-O-3 8041/3), 3 Nov 2025 · `Condition/nen`"}},
		{"8249/3 + observation poor + Ki-67 30 %", []opt{
			smallBowelNET(),
			morphology("8249/3", fhirmap.DiffWell),
			diffObs(fhirmap.DiffPoor), ki67(30, "Observation/k", day(2026, 1, 1)),
		}, []string{"poorly differentiated (from observation), 1 Nov 2025 · `Observation/diff`", "well differentiated (from ICD-O-3 8249/3), 1 Nov 2025 · `Observation/morph`"}},
		{"C7A.1 + observation well", []opt{necDiag(), diffObs(fhirmap.DiffWell), ki67(30, "Observation/k", day(2026, 1, 1))},
			[]string{"well differentiated (observation", "poorly differentiated (from diagnosis code C7A.1), 3 Nov 2025 · `Condition/nen`"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := picture(append(tt.opts, everything...)...)
			c := Classify(p)
			if c.Category != CatUndetermined || c.DiffFrom != "conflict" {
				t.Errorf("category %q from %q, want %q from conflict", c.Category, c.DiffFrom, CatUndetermined)
			}
			r := evaluateCfg(noCap(), p)
			for _, tp := range treatmentTopics {
				if hasTopic(r, tp) {
					t.Errorf("treatment card %s fired with conflicting differentiation", tp)
				}
			}
			if d := drugsSuggested(t, r); len(d) > 0 {
				t.Errorf("drugs suggested with conflicting differentiation: %v", d)
			}
			ci := card(r, TopicClassificationIncomplete)
			if ci == nil {
				t.Fatalf("no classification-incomplete card: %v", topics(r))
			}
			for _, f := range tt.facts {
				if !strings.Contains(ci.Detail, f) {
					t.Errorf("classification-incomplete card does not name %q:\n%s", f, ci.Detail)
				}
			}
			if s := card(r, TopicSummary); s == nil || !strings.HasPrefix(s.Summary, string(CatUndetermined)) {
				t.Errorf("summary %+v, want %s", s, CatUndetermined)
			}
		})
	}
}

// Two Ki-67 values on the same date: the higher one grades (conservative), whatever
// their order in the Picture, and the grade-discordance card fires.
func TestKi67SameDateHigherGrades(t *testing.T) {
	t.Parallel()
	for _, order := range [][2]float64{{2, 8}, {8, 2}} {
		p := picture(smallBowelNET(), ki67(order[0], "Observation/ki67-0", day(2026, 1, 1)), ki67(order[1], "Observation/ki67-1", day(2026, 1, 1)))
		c := Classify(p)
		if c.Category != CatNETG2 || c.Ki67 == nil || c.Ki67.Percent != 8 {
			t.Errorf("order %v: category %q from Ki-67 %+v, want NET G2 from 8 %%", order, c.Category, c.Ki67)
		}
		r := evaluateCfg(noCap(), p)
		if !hasTopic(r, TopicGradeDiscordance) {
			t.Errorf("order %v: no grade-discordance card for 2 %% and 8 %% on the same date: %v", order, topics(r))
		}
	}
	// An older, higher value does not grade.
	if c := Classify(picture(smallBowelNET(), ki67(2, "Observation/new", day(2026, 2, 1)), ki67(8, "Observation/old", day(2026, 1, 1)))); c.Category != CatNETG1 {
		t.Errorf("category %q, want NET G1 (the newest value)", c.Category)
	}
}

// NET G3 by mitoses alone (Ki-67 2 %, 30 mitoses per 2 mm²): the outside-algorithm card
// does not claim that Ki-67 is above 20 %.
func TestOutsideAlgorithmNETG3ByMitoses(t *testing.T) {
	t.Parallel()
	r := evaluateCfg(noCap(), picture(smallBowelNET(), ki67(2, "Observation/k", day(2026, 1, 1)), mitoses(30)))
	c := card(r, TopicOutsideAlgorithm)
	if c == nil {
		t.Fatalf("no outside-algorithm card: %v", topics(r))
	}
	if strings.Contains(c.Summary, "Ki-67 > 20 %)") || !strings.Contains(c.Summary, "mitoses > 20 per 2 mm²") {
		t.Errorf("summary %q misstates why the NET is G3", c.Summary)
	}
}
