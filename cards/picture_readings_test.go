package cards

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nencds/nencds/fhirmap"
)

// Tests of the readings of docs/clinical.md §2–§3 that decide who gets which card:
// performance status (ECOG or Karnofsky), the three extents, and a NEC of any primary.

func kps(score int, t time.Time) opt {
	return func(p *fhirmap.Picture) {
		p.Performance = append(p.Performance, fhirmap.Performance{Source: src("Observation/kps", t), Scale: "karnofsky", Score: score})
	}
}

func ecogOn(score int, t time.Time) opt {
	return func(p *fhirmap.Picture) {
		p.Performance = append(p.Performance, fhirmap.Performance{Source: src("Observation/ecog", t), Scale: "ecog", Score: score})
	}
}

func locallyAdvanced() opt {
	return func(p *fhirmap.Picture) {
		p.Unresectable = append(p.Unresectable, fhirmap.Statement{Source: src("Observation/resectability", day(2026, 4, 2)), Text: "unresectable"})
		p.Extent = fhirmap.Extent{Status: fhirmap.ExtentLocallyAdvanced, Evidence: []string{"Observation/resectability"}}
	}
}

// TestPerformanceStatusChoice: the most recent score; ECOG wins over Karnofsky on the
// same day.
func TestPerformanceStatusChoice(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		ps        []fhirmap.Performance
		wantScale string
		wantECOG  int
	}{
		{"none", nil, "", 0},
		{"ECOG only", []fhirmap.Performance{{Source: src("Observation/e", day(2026, 5, 1)), Scale: "ecog", Score: 2}}, "ecog", 2},
		{"KPS only", []fhirmap.Performance{{Source: src("Observation/k", day(2026, 5, 1)), Scale: "karnofsky", Score: 40}}, "karnofsky", 3},
		{"same day: ECOG wins even listed second", []fhirmap.Performance{
			{Source: src("Observation/k", day(2026, 5, 1).Add(3*time.Hour)), Scale: "karnofsky", Score: 40},
			{Source: src("Observation/e", day(2026, 5, 1)), Scale: "ecog", Score: 1},
		}, "ecog", 1},
		{"KPS newer than ECOG: KPS", []fhirmap.Performance{
			{Source: src("Observation/k", day(2026, 5, 20)), Scale: "karnofsky", Score: 30},
			{Source: src("Observation/e", day(2026, 5, 1)), Scale: "ecog", Score: 1},
		}, "karnofsky", 3},
		{"ECOG newer than KPS: ECOG", []fhirmap.Performance{
			{Source: src("Observation/e", day(2026, 5, 20)), Scale: "ecog", Score: 1},
			{Source: src("Observation/k", day(2026, 5, 1)), Scale: "karnofsky", Score: 30},
		}, "ecog", 1},
		{"order of the list does not matter", []fhirmap.Performance{
			{Source: src("Observation/e", day(2026, 5, 1)), Scale: "ecog", Score: 1},
			{Source: src("Observation/k", day(2026, 5, 20)), Scale: "karnofsky", Score: 30},
		}, "karnofsky", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := performanceStatus(tt.ps)
			if tt.wantScale == "" {
				if got != nil {
					t.Fatalf("got %+v, want none", got)
				}
				return
			}
			if got == nil || got.Scale != tt.wantScale || got.ECOG() != tt.wantECOG {
				t.Fatalf("got %+v, want %s with ECOG %d", got, tt.wantScale, tt.wantECOG)
			}
		})
	}
}

// TestSafetyKarnofskyNECNoChemotherapy: a NEC whose only performance status is
// Karnofsky 40 % (ECOG 3) gets no chemotherapy: the MDT card instead, naming the KPS.
func TestSafetyKarnofskyNECNoChemotherapy(t *testing.T) {
	t.Parallel()
	for _, score := range []int{40, 30, 20, 10, 0} {
		r := evaluateCfg(noCap(), with(nec, kps(score, day(2026, 5, 20))))
		if hasTopic(r, TopicNECFirstLine) || hasTopic(r, TopicNECLaterLine) {
			t.Errorf("KPS %d: chemotherapy card offered: %v", score, topics(r))
		}
		if got := drugsSuggested(t, r); len(got) != 0 {
			t.Errorf("KPS %d: drugs suggested %v", score, got)
		}
		c := card(r, TopicOutsideAlgorithm)
		if c == nil {
			t.Fatalf("KPS %d: no outside-algorithm card: %v", score, topics(r))
		}
		want := "Karnofsky " + itoa(score) + " % (≈ ECOG "
		if !strings.Contains(c.Detail, want) || !strings.Contains(c.Summary, "Karnofsky") {
			t.Errorf("KPS %d: the card does not name the recorded score %q:\n%s\n%s", score, want, c.Summary, c.Detail)
		}
	}
	// An older ECOG 1 does not make the KPS 40 of today fit.
	r := evaluateCfg(noCap(), with(nec, ecogOn(1, day(2026, 1, 1)), kps(40, day(2026, 5, 20))))
	if hasTopic(r, TopicNECFirstLine) {
		t.Errorf("older ECOG 1 overrode a newer KPS 40: %v", topics(r))
	}
	// Later-line too: past platinum, progression, KPS 40.
	r = evaluateCfg(noCap(), with(nec, therapy("carboplatin", false, day(2025, 6, 1)), progression(day(2026, 5, 1)), kps(40, day(2026, 5, 20))))
	if hasTopic(r, TopicNECLaterLine) {
		t.Errorf("later-line chemotherapy offered at KPS 40: %v", topics(r))
	}
}

// TestKarnofskyFitNEC: KPS 80 (ECOG 1) and 60 (ECOG 2) keep the first-line card; at
// KPS 60 carboplatin is recommended (ECOG ≥ 2) and the card names the KPS.
func TestKarnofskyFitNEC(t *testing.T) {
	t.Parallel()
	r := evaluateCfg(noCap(), with(nec, kps(80, day(2026, 5, 20))))
	if !hasTopic(r, TopicNECFirstLine) || hasTopic(r, TopicOutsideAlgorithm) {
		t.Fatalf("KPS 80: %v", topics(r))
	}
	r = evaluateCfg(noCap(), with(nec, kps(60, day(2026, 5, 20))))
	c := card(r, TopicNECFirstLine)
	if c == nil {
		t.Fatalf("KPS 60: %v", topics(r))
	}
	if !strings.Contains(c.Detail, "Karnofsky 60 % (≈ ECOG 2)") {
		t.Errorf("KPS 60: the fact does not name the KPS:\n%s", c.Detail)
	}
	for _, s := range c.Suggestions {
		if s.IsRecommended != strings.Contains(s.Label, "carboplatin") {
			t.Errorf("KPS 60 (ECOG 2): %q recommended = %v", s.Label, s.IsRecommended)
		}
	}
	// Surgery needs ECOG ≤ 1: KPS 60 is ECOG 2.
	r = evaluateCfg(noCap(), picture(smallBowelNET(), ki67(5, "Observation/k", day(2026, 3, 1)), limited(), kps(60, day(2026, 5, 20))))
	if hasTopic(r, TopicSurgery) {
		t.Errorf("KPS 60 (ECOG 2) got a surgical referral: %v", topics(r))
	}
	r = evaluateCfg(noCap(), picture(smallBowelNET(), ki67(5, "Observation/k", day(2026, 3, 1)), limited(), kps(70, day(2026, 5, 20))))
	if !hasTopic(r, TopicSurgery) {
		t.Errorf("KPS 70 (ECOG 1): no surgical referral: %v", topics(r))
	}
}

func TestKarnofskyToECOG(t *testing.T) {
	t.Parallel()
	want := map[int]int{100: 0, 95: 0, 90: 0, 85: 1, 80: 1, 70: 1, 65: 2, 60: 2, 50: 2, 40: 3, 30: 3, 20: 4, 10: 4, 5: 5, 0: 5}
	for k, w := range want {
		if got := fhirmap.KarnofskyToECOG(k); got != w {
			t.Errorf("KPS %d → ECOG %d, want %d", k, got, w)
		}
	}
}

// TestExtentThreeValues: locally advanced (unresectable) disease opens the SSA and
// targeted-therapy cards ("metastatic or unresectable"), never surgery of the primary,
// nor the liver or bone cards (no distant metastasis).
func TestExtentThreeValues(t *testing.T) {
	t.Parallel()
	pnet := []opt{pancreaticNET(), ki67(8, "Observation/k", day(2026, 3, 1)), sstr(fhirmap.SSTRPositive, 3), progression(day(2026, 5, 1))}
	r := evaluateCfg(noCap(), with(pnet, locallyAdvanced()))
	for _, topic := range []string{TopicSSA, TopicPNETTargeted} {
		if !hasTopic(r, topic) {
			t.Errorf("locally advanced pNET: no %s: %v", topic, topics(r))
		}
	}
	for _, topic := range []string{TopicSurgery, TopicLiverDirected, TopicLiverMetsSurgery, TopicBoneEBRT} {
		if hasTopic(r, topic) {
			t.Errorf("locally advanced pNET: %s fired: %v", topic, topics(r))
		}
	}
	if s := card(r, TopicSummary); s == nil || !strings.Contains(s.Summary, "locally advanced") {
		t.Errorf("summary does not name the extent: %+v", s)
	}
	if c := card(r, TopicPNETTargeted); c != nil && !strings.Contains(c.Summary, "unresectable") {
		t.Errorf("targeted card calls locally advanced disease %q", c.Summary)
	}
	// Limited disease: surgery, no SSA.
	r = evaluateCfg(noCap(), with(pnet, limited()))
	if !hasTopic(r, TopicSurgery) || hasTopic(r, TopicSSA) || hasTopic(r, TopicPNETTargeted) {
		t.Errorf("limited pNET: %v", topics(r))
	}
	// Unknown extent: neither.
	r = evaluateCfg(noCap(), with(pnet))
	if hasTopic(r, TopicSurgery) || hasTopic(r, TopicSSA) || hasTopic(r, TopicPNETTargeted) {
		t.Errorf("unknown extent: %v", topics(r))
	}
}

// TestNECAnyPrimary: a NEC of the lung (small- or large-cell), the thymus or an
// unknown primary follows the NEC branch; lung and thymus NETs stay outside.
func TestNECAnyPrimary(t *testing.T) {
	t.Parallel()
	k := ki67(70, "Observation/k", day(2026, 4, 1))
	tests := []struct {
		name      string
		p         *fhirmap.Picture
		wantFirst bool
	}{
		{"large-cell NEC of the lung (8013/3)", picture(diag("morph-lcnec", fhirmap.SiteLung, fhirmap.DiffPoor, "8013/3"), k), true},
		{"large-cell NEC of the lung, no Ki-67", picture(diag("morph-lcnec", fhirmap.SiteLung, fhirmap.DiffPoor, "8013/3")), true},
		{"small-cell lung carcinoma", picture(diag("sclc-lung", fhirmap.SiteLung, fhirmap.DiffPoor, "254632001"), k), true},
		{"NEC of the thymus", picture(diag("nen-thymus", fhirmap.SiteThymus, fhirmap.DiffPoor, "C7A.091"), k), true},
		{"NEC of unknown primary", picture(diag("nec-any-site", fhirmap.SiteUnknown, fhirmap.DiffPoor, "C7A.1"), k), true},
		{"lung NET (typical carcinoid)", picture(diag("nen-lung", fhirmap.SiteLung, fhirmap.DiffWell, "C7A.090"), ki67(4, "Observation/k", day(2026, 3, 1))), false},
		{"thymus NET", picture(diag("nen-thymus", fhirmap.SiteThymus, fhirmap.DiffWell, "C7A.091"), ki67(10, "Observation/k", day(2026, 3, 1))), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := evaluateCfg(noCap(), tt.p)
			if got := hasTopic(r, TopicNECFirstLine); got != tt.wantFirst {
				t.Errorf("nec-first-line = %v, want %v: %v", got, tt.wantFirst, topics(r))
			}
			if got := hasTopic(r, TopicOutsideAlgorithm); got == tt.wantFirst {
				t.Errorf("nen-outside-algorithm = %v, want %v: %v", got, !tt.wantFirst, topics(r))
			}
			if tt.wantFirst {
				for _, d := range drugsSuggested(t, r) {
					if d != "carboplatin" && d != "cisplatin" && d != "etoposide" {
						t.Errorf("NEC offered %s", d)
					}
				}
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
