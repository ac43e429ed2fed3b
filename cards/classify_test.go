package cards

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nencds/nencds/fhirmap"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		opts       []opt
		want       Category
		grade      int
		incomplete bool
	}{
		{"Ki-67 2.9 % → G1", []opt{smallBowelNET(), ki67(2.9, "Observation/k", day(2026, 1, 1))}, CatNETG1, 1, false},
		{"Ki-67 exactly 3 % → G2", []opt{smallBowelNET(), ki67(3, "Observation/k", day(2026, 1, 1))}, CatNETG2, 2, false},
		{"Ki-67 exactly 20 % → G2", []opt{smallBowelNET(), ki67(20, "Observation/k", day(2026, 1, 1))}, CatNETG2, 2, false},
		{"Ki-67 20.1 % well → NET G3", []opt{smallBowelNET(), ki67(20.1, "Observation/k", day(2026, 1, 1))}, CatNETG3, 3, false},
		{"fraction normalised by fhirmap (0.15 → 15 %) → G2", []opt{smallBowelNET(), func(p *fhirmap.Picture) {
			p.Ki67 = append(p.Ki67, fhirmap.Ki67{Source: src("Observation/k", day(2026, 1, 1)), Percent: 15, Raw: "0.15", Normalised: true})
		}}, CatNETG2, 2, false},
		{"higher of Ki-67 and mitoses: Ki-67 2 %, mitoses 5 → G2", []opt{smallBowelNET(), ki67(2, "Observation/k", day(2026, 1, 1)), mitoses(5)}, CatNETG2, 2, false},
		{"higher of Ki-67 and mitoses: Ki-67 10 %, mitoses 25, well → NET G3", []opt{smallBowelNET(), ki67(10, "Observation/k", day(2026, 1, 1)), mitoses(25)}, CatNETG3, 3, false},
		{"mitoses exactly 2 → G2", []opt{smallBowelNET(), mitoses(2)}, CatNETG2, 2, false},
		{"mitoses exactly 20 → G2", []opt{smallBowelNET(), mitoses(20)}, CatNETG2, 2, false},
		{"Ki-67 > 20 % poorly differentiated → NEC", []opt{necDiag(), ki67(60, "Observation/k", day(2026, 1, 1))}, CatNEC, 3, false},
		{"Ki-67 > 20 % no differentiation → undetermined", []opt{nenNoDiff(fhirmap.SiteColon), ki67(60, "Observation/k", day(2026, 1, 1))}, CatUndetermined, 3, true},
		{"Ki-67 ≤ 20 % no differentiation → NET (a NEC is always high grade)", []opt{nenNoDiff(fhirmap.SiteColon), ki67(15, "Observation/k", day(2026, 1, 1))}, CatNETG2, 2, false},
		{"poorly differentiated with Ki-67 10 % → undetermined", []opt{necDiag(), ki67(10, "Observation/k", day(2026, 1, 1))}, CatUndetermined, 2, true},
		{"differentiation observation wins over code", []opt{nenNoDiff(fhirmap.SitePancreas), diffObs(fhirmap.DiffWell), ki67(40, "Observation/k", day(2026, 1, 1))}, CatNETG3, 3, false},
		{"conflicting codes → undetermined", []opt{necDiag(), morphology("8240/3", fhirmap.DiffWell), ki67(40, "Observation/k", day(2026, 1, 1))}, CatUndetermined, 3, true},
		{"grade label only", []opt{smallBowelNET(), gradeLabel(1)}, CatNETG1, 1, false},
		{"nothing → undetermined, incomplete", []opt{smallBowelNET()}, CatUndetermined, 0, true},
		{"NEC morphology without Ki-67 → NEC, incomplete", []opt{necDiag()}, CatNEC, 0, true},
		{"MiNEN", []opt{nenNoDiff(fhirmap.SiteColon), morphology("8154/3", fhirmap.DiffUnknown), ki67(50, "Observation/k", day(2026, 1, 1))}, CatMiNEN, 3, false},
		{"lung well differentiated: digestive grading not applied", []opt{diag("nen-lung", fhirmap.SiteLung, fhirmap.DiffWell, "C7A.090"), ki67(10, "Observation/k", day(2026, 1, 1))}, CatUndetermined, 2, false},
		{"thymus poorly differentiated → NEC", []opt{diag("nen-thymus", fhirmap.SiteThymus, fhirmap.DiffPoor, "C7A.091"), ki67(50, "Observation/k", day(2026, 1, 1))}, CatNEC, 3, false},
		{"most recent Ki-67 grades", []opt{smallBowelNET(), ki67(25, "Observation/new", day(2026, 1, 1)), ki67(5, "Observation/old", day(2020, 1, 1))}, CatNETG3, 3, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := Classify(picture(tt.opts...))
			got := struct {
				Cat        Category
				Grade      int
				Incomplete bool
			}{c.Category, c.Grade, len(c.Incomplete) > 0}
			want := struct {
				Cat        Category
				Grade      int
				Incomplete bool
			}{tt.want, tt.grade, tt.incomplete}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestGradeLabelContradictionIsNoted(t *testing.T) {
	t.Parallel()
	r := evaluate(picture(smallBowelNET(), ki67(15, "Observation/k", day(2026, 1, 1)), gradeLabel(1)))
	s := card(r, TopicSummary)
	if s == nil || !strings.HasPrefix(s.Summary, "NET G2") {
		t.Fatalf("summary %+v, want NET G2 (the numeric value wins)", s)
	}
	if !strings.Contains(s.Detail, "grade-mismatch") || !strings.Contains(s.Detail, "`Observation/grade`") {
		t.Errorf("no grade-mismatch note:\n%s", s.Detail)
	}
}

func TestSummaryCategories(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		p    *fhirmap.Picture
		want string
	}{
		{"NET G1", picture(smallBowelNET(), ki67(1, "Observation/k", day(2026, 1, 1)), limited()), "NET G1, small intestine, limited disease"},
		{"NET G2", picture(pancreaticNET(), ki67(12, "Observation/k", day(2026, 1, 1)), liverMets()), "NET G2, pancreas, distant metastases (liver)"},
		{"NET G3", picture(pancreaticNET(), ki67(30, "Observation/k", day(2026, 1, 1))), "NET G3, pancreas, extent unknown"},
		{"NEC", picture(necDiag(), ki67(80, "Observation/k", day(2026, 1, 1)), boneMets()), "NEC, primary site unknown, distant metastases (bone)"},
		{"MiNEN", picture(nenNoDiff(fhirmap.SiteColon), morphology("8154/3", ""), ki67(30, "Observation/k", day(2026, 1, 1))), "MiNEN, colon, extent unknown"},
		{"undetermined", picture(nenNoDiff(fhirmap.SiteRectum), ki67(30, "Observation/k", day(2026, 1, 1))), "NEN, grade undetermined, rectum, extent unknown"},
		{"provisional diagnosis", picture(smallBowelNET(), verification("provisional"), ki67(5, "Observation/k", day(2026, 1, 1))), "NET G2, small intestine, extent unknown (diagnosis provisional)"},
		{"in remission", picture(smallBowelNET(), clinical("remission"), ki67(5, "Observation/k", day(2026, 1, 1))), "NET G2, small intestine, extent unknown (remission)"},
		{"nodes and peritoneum", picture(smallBowelNET(), ki67(5, "Observation/k", day(2026, 1, 1)), func(p *fhirmap.Picture) {
			p.Secondaries = []fhirmap.Secondary{{Location: fhirmap.SecLymphNode}, {Location: fhirmap.SecPeritoneum}}
			p.Extent = fhirmap.Extent{Status: fhirmap.ExtentDistant, ExtrahepaticDistant: true}
		}), "NET G2, small intestine, distant metastases (distant lymph nodes, peritoneum)"},
		{"benign", picture(func(p *fhirmap.Picture) {
			diag("benign-carcinoid", fhirmap.SiteAppendix, fhirmap.DiffUnknown, "D3A.020")(p)
			p.Diagnoses[0].Benign = true
		}), "Benign carcinoid tumour (D3A), appendix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := card(evaluate(tt.p), TopicSummary)
			if s == nil {
				t.Fatal("no summary card")
			}
			if s.Summary != tt.want {
				t.Errorf("summary %q, want %q", s.Summary, tt.want)
			}
		})
	}
}
