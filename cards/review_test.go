package cards

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/nencds/nencds/fhirmap"
)

// Tests added by the clinical review: each pins one line of docs/clinical.md §1–§4.

// docs/clinical.md §2: an unconfirmed, provisional or differential diagnosis gives the summary
// and work-up cards only — whatever else the record holds.
func TestUnconfirmedGivesSummaryAndWorkupOnly(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"provisional", "unconfirmed", "differential"} {
		everything := []opt{verification(v), liverMets(), boneMets(), progression(day(2026, 5, 1)), sstr(fhirmap.SSTRPositive, 3), syndrome(),
			therapy("sunitinib", true, day(2026, 1, 10)), lvef(44, "Observation/lvef-2", day(2026, 5, 15)), lvef(60, "Observation/lvef-1", day(2026, 1, 5)),
			ki67(35, "Observation/k2", day(2026, 3, 1)), ki67(8, "Observation/k1", day(2021, 2, 1))}
		for name, p := range map[string]*fhirmap.Picture{
			"pNET":               picture(append([]opt{pancreaticNET()}, everything...)...),
			"no differentiation": picture(append([]opt{nenNoDiff(fhirmap.SiteColon)}, everything...)...),
			"NEC ECOG 3":         picture(append([]opt{necDiag(), ecog(3)}, everything...)...),
		} {
			r := evaluateCfg(noCap(), p)
			for _, tp := range topics(r) {
				if tp != TopicSummary && tp != TopicWorkup {
					t.Errorf("%s %s: card %s (want summary and work-up only): %v", v, name, tp, topics(r))
				}
			}
			if !hasTopic(r, TopicSummary) || !strings.Contains(card(r, TopicSummary).Summary, "(diagnosis "+v+")") {
				t.Errorf("%s %s: summary does not say the diagnosis is %s: %v", v, name, v, topics(r))
			}
		}
	}
}

// docs/clinical.md §2: benign carcinoid (D3A) gives no malignant-disease card.
func TestBenignCarcinoidSummaryOnly(t *testing.T) {
	t.Parallel()
	benign := func(p *fhirmap.Picture) {
		diag("benign-carcinoid", fhirmap.SiteAppendix, fhirmap.DiffWell, "D3A.020")(p)
		p.Diagnoses[0].Benign = true
	}
	p := picture(benign, ki67(35, "Observation/k2", day(2026, 3, 1)), ki67(8, "Observation/k1", day(2021, 2, 1)), liverMets(), boneMets(),
		progression(day(2026, 5, 1)), sstr(fhirmap.SSTRPositive, 3), syndrome(), therapy("sunitinib", true, day(2026, 1, 10)),
		marker(fhirmap.Marker5HIAAUrine, "yes", day(2026, 5, 1)))
	if got := topics(evaluateCfg(noCap(), p)); !slices.Equal(got, []string{TopicSummary}) {
		t.Errorf("benign carcinoid: %v, want the summary only", got)
	}
}

// docs/clinical.md §4 nen-suspected: only without a NEN diagnosis (benign, provisional and
// inactive NEN diagnoses are diagnoses).
func TestSuspectedOnlyWithoutNEN(t *testing.T) {
	t.Parallel()
	runFires(t, TopicSuspected, []fires{
		{"syndrome, no NEN", picture(syndrome()), true},
		{"syndrome, provisional NEN", picture(smallBowelNET(), verification("provisional"), syndrome()), false},
		{"syndrome, NEN in remission", picture(smallBowelNET(), clinical("remission"), syndrome()), false},
		{"syndrome, benign carcinoid", picture(func(p *fhirmap.Picture) {
			diag("benign-carcinoid", fhirmap.SiteAppendix, fhirmap.DiffUnknown, "D3A.020")(p)
			p.Diagnoses[0].Benign = true
		}, syndrome()), false},
		{"elevated CgA only is no trigger", picture(marker(fhirmap.MarkerCgA, "yes", day(2026, 5, 1))), false},
	})
}

// docs/clinical.md §4 nen-outside-algorithm: NET G3, MiNEN, lung/thymus, NEC with ECOG ≥ 3;
// each with an MDT review and no drug, and the guideline of its case.
func TestOutsideAlgorithm(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig().Guidelines
	tests := []struct {
		name string
		p    *fhirmap.Picture
		src  string // "" = must not fire
	}{
		{"NET G3", picture(smallBowelNET(), ki67(30, "Observation/k", day(2026, 3, 1))), cfg.ESMO.URL},
		{"MiNEN", picture(nenNoDiff(fhirmap.SiteColon), morphology("8154/3", ""), ki67(40, "Observation/k", day(2026, 3, 1))), cfg.ESMO.URL},
		{"lung carcinoid", picture(diag("nen-lung", fhirmap.SiteLung, fhirmap.DiffWell, "C7A.090"), ki67(4, "Observation/k", day(2026, 3, 1))), cfg.NCCN.URL},
		{"thymus NEC: the NEC branch instead", picture(diag("nen-thymus", fhirmap.SiteThymus, fhirmap.DiffPoor, "C7A.091"), ki67(50, "Observation/k", day(2026, 3, 1))), ""},
		{"NEC ECOG 3", with(nec, ecog(3)), cfg.ENETS.URL},
		{"NEC ECOG 4", with(nec, ecog(4)), cfg.ENETS.URL},
		{"NEC ECOG 2: first line instead", with(nec, ecog(2)), ""},
		{"NEC ECOG unknown", with(nec), ""},
		{"NET G2", picture(smallBowelNET(), ki67(10, "Observation/k", day(2026, 3, 1))), ""},
		{"NET G3 in remission", picture(smallBowelNET(), clinical("remission"), ki67(30, "Observation/k", day(2026, 3, 1))), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := evaluateCfg(noCap(), tt.p)
			c := card(r, TopicOutsideAlgorithm)
			if (c != nil) != (tt.src != "") {
				t.Fatalf("fired = %v, want %v: %v", c != nil, tt.src != "", topics(r))
			}
			if c == nil {
				return
			}
			if c.Source.URL != tt.src || c.Indicator != Warning {
				t.Errorf("source %q indicator %q, want %q warning", c.Source.URL, c.Indicator, tt.src)
			}
			if got := suggestionLabels(c); !slices.Equal(got, []string{"Request MDT review"}) {
				t.Errorf("suggestions %v", got)
			}
			if len(drugsSuggested(t, r)) > 0 || hasTopic(r, TopicNECFirstLine) {
				t.Errorf("treatment suggested outside the algorithm: %v %v", drugsSuggested(t, r), topics(r))
			}
		})
	}
}

// docs/clinical.md §4 nec-first-line: carboplatin + etoposide recommended when age ≥ 70 or
// ECOG 2; otherwise neither is marked; at-most-one.
func TestNECFirstLineRecommendation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		p    *fhirmap.Picture
		want string
	}{
		{"age 70, ECOG 0", with(nec, age(70), ecog(0)), "Start carboplatin + etoposide"},
		{"age 85, ECOG unknown", with(nec, age(85)), "Start carboplatin + etoposide"},
		{"age 50, ECOG 2", with(nec, age(50), ecog(2)), "Start carboplatin + etoposide"},
		{"age 69, ECOG 1", with(nec, age(69), ecog(1)), ""},
		{"age unknown, ECOG unknown", with(nec, func(p *fhirmap.Picture) { p.Patient.AgeKnown = false }), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := card(evaluate(tt.p), TopicNECFirstLine)
			if c == nil {
				t.Fatal("no nec-first-line card")
			}
			got := ""
			for _, s := range c.Suggestions {
				if s.IsRecommended {
					if got != "" {
						t.Errorf("two recommended suggestions")
					}
					got = s.Label
				}
			}
			if got != tt.want || c.SelectionBehavior != "at-most-one" {
				t.Errorf("recommended %q (%s), want %q", got, c.SelectionBehavior, tt.want)
			}
			if !slices.Equal(suggestionLabels(c), []string{"Start carboplatin + etoposide", "Start cisplatin + etoposide"}) {
				t.Errorf("suggestions %v", suggestionLabels(c))
			}
		})
	}
}

// docs/clinical.md §4 nec-later-line: progressing *after* platinum.
func TestNECLaterLineProgressionAfterPlatinum(t *testing.T) {
	t.Parallel()
	runFires(t, TopicNECLaterLine, []fires{
		{"platinum from 2025-09, progression 2026-05", with(nec, therapy("carboplatin", false, day(2025, 9, 1)), progression(day(2026, 5, 1))), true},
		{"platinum started after the progression", with(nec, therapy("carboplatin", false, day(2026, 5, 10)), progression(day(2026, 5, 1))), false},
	})
}

// docs/clinical.md §4 monitor-cardiac: critical on LVEF < 50 % AND ≥ 20 % relative fall.
func TestMonitorCardiacBoundaries(t *testing.T) {
	t.Parallel()
	sun := append(slices.Clone(pnetProg), therapy("sunitinib", true, day(2026, 1, 10)))
	tests := []struct {
		name           string
		baseline, last float64
		want           Indicator
	}{
		{"60 → 48: exactly 20 % fall, below 50", 60, 48, Critical},
		{"60 → 48.1: fall just under 20 %", 60, 48.1, ""},
		{"50 → 40: exactly 20 %", 50, 40, Critical},
		{"62.5 → 50: 20 % fall but not below 50", 62.5, 50, ""},
		{"55 → 49: below 50, 11 % fall", 55, 49, ""},
		{"45 → 36: already low baseline, 20 % fall", 45, 36, Critical},
		{"0 baseline (bad data): no division", 0, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := card(evaluate(with(sun, lvef(tt.last, "Observation/lvef-2", day(2026, 5, 15)), lvef(tt.baseline, "Observation/lvef-1", day(2026, 1, 5)))), TopicMonitorCardiac)
			var got Indicator
			if c != nil {
				got = c.Indicator
			}
			if got != tt.want {
				t.Errorf("indicator %q, want %q", got, tt.want)
			}
			if got == Critical {
				labels := suggestionLabels(c)
				if len(labels) != 1 || !strings.Contains(c.Detail+c.Summary, "interrupt or reduce dose") {
					t.Errorf("critical card without dose interruption/reduction and cardiology review: %v %s", labels, c.Summary)
				}
			}
		})
	}
}

// docs/clinical.md §4 monitor-hepatic: the source names the drug's label (or ENETS for
// chemotherapy).
func TestMonitorHepaticSource(t *testing.T) {
	t.Parallel()
	g := DefaultConfig().Guidelines
	tests := []struct {
		name string
		p    *fhirmap.Picture
		want string
	}{
		{"sunitinib", with(pnetProg, therapy("sunitinib", true, day(2026, 1, 1))), g.Sutent.URL},
		{"everolimus", with(pnetProg, therapy("everolimus", true, day(2026, 1, 1))), g.Afinitor.URL},
		{"carboplatin", with(nec, therapy("carboplatin", true, day(2026, 4, 1))), g.ENETS.URL},
	}
	for _, tt := range tests {
		c := card(evaluate(tt.p), TopicMonitorHepatic)
		if c == nil || c.Source.URL != tt.want {
			t.Errorf("%s: source %v, want %s", tt.name, c, tt.want)
		}
	}
}

// docs/clinical.md §4 nen-classification-incomplete: a NEC decided by morphology without an
// index does not say "no treatment is suggested" while nec-first-line suggests it.
func TestClassificationIncompleteWording(t *testing.T) {
	t.Parallel()
	r := evaluate(picture(necDiag()))
	ci := card(r, TopicClassificationIncomplete)
	if ci == nil || !hasTopic(r, TopicNECFirstLine) {
		t.Fatalf("cards %v", topics(r))
	}
	if strings.Contains(ci.Detail, "No treatment is suggested") || !strings.Contains(ci.Summary, "NEC by morphology") {
		t.Errorf("contradicts the treatment card: %s / %s", ci.Summary, ci.Detail)
	}
	r = evaluate(picture(nenNoDiff(fhirmap.SiteColon), ki67(40, "Observation/k", day(2026, 3, 1))))
	if ci = card(r, TopicClassificationIncomplete); ci == nil || !strings.Contains(ci.Detail, "No treatment is suggested") {
		t.Errorf("undetermined grade: %v", ci)
	}
}

// Classify uses fhirmap's grade functions; a value that cannot be graded leaves the
// category undetermined (never a treatment) instead of being read as G1.
func TestClassifyInvalidValues(t *testing.T) {
	t.Parallel()
	for _, v := range []float64{-1, 150, math.NaN(), math.Inf(1)} {
		p := picture(smallBowelNET(), liverMets(), syndrome(), func(p *fhirmap.Picture) {
			p.Ki67 = append(p.Ki67, fhirmap.Ki67{Source: src("Observation/k", day(2026, 3, 1)), Percent: v})
		})
		c := Classify(p)
		if c.Category != CatUndetermined || len(c.Incomplete) == 0 {
			t.Errorf("Ki-67 %v: %s %v", v, c.Category, c.Incomplete)
		}
		r := evaluateCfg(noCap(), p)
		if len(drugsSuggested(t, r)) > 0 || !hasTopic(r, TopicClassificationIncomplete) {
			t.Errorf("Ki-67 %v: %v", v, topics(r))
		}
		if s := card(r, TopicSummary); s == nil || strings.Contains(s.Detail, "(G1)") {
			t.Errorf("Ki-67 %v graded in the facts", v)
		}
	}
	c := Classify(picture(smallBowelNET(), mitoses(-3)))
	if c.Category != CatUndetermined {
		t.Errorf("mitoses -3: %s", c.Category)
	}
}

// An order never carries a code that codes.csv does not mark verified: the filter
// every draft goes through drops it, and the text still names the order.
func TestOrderableDropsUnverifiedCodes(t *testing.T) {
	t.Parallel()
	in := []fhirCoding{
		{System: RxNormSystem, Code: "7617"},  // octreotide: unverified
		{System: RxNormSystem, Code: "51499"}, // irinotecan: unverified
		{System: "http://hl7.org/fhir/sid/icd-10-cm", Code: "C7A.1"},
		{System: RxNormSystem, Code: "357977"}, // sunitinib: verified
		{System: "http://loinc.org", Code: "24325-3"},
		{System: OrderSystem, Code: OrderMDTReview},
		{System: "http://loinc.org", Code: "99999-9"}, // not in codes.csv
	}
	got := orderable(in)
	want := []fhirCoding{{System: "http://hl7.org/fhir/sid/icd-10-cm", Code: "C7A.1"}, {System: RxNormSystem, Code: "357977"}, {System: "http://loinc.org", Code: "24325-3"}, {System: OrderSystem, Code: OrderMDTReview}}
	if !slices.Equal(got, want) {
		t.Errorf("orderable = %v, want %v", got, want)
	}
	d := drafts{patient: "Patient/p1", reason: "Condition/nen", at: at}
	a := d.medication(drug{Concept: "octreotide", Coding: &fhirCoding{System: RxNormSystem, Code: "7617"}, Name: "octreotide", Dosage: "LAR 30 mg IM every 4 weeks"}, "", "")
	if strings.Contains(string(a.Resource), "7617") || !strings.Contains(string(a.Resource), `"text":"octreotide"`) {
		t.Errorf("medication draft %s", a.Resource)
	}
	s := d.service([]fhirCoding{{System: RxNormSystem, Code: "51499"}}, "Irinotecan", "x")
	if strings.Contains(string(s.Resource), "51499") {
		t.Errorf("service draft %s", s.Resource)
	}
}

// Every coding of every emitted resource is a project order code or a codes.csv code
// marked verified.
func TestEmittedCodesVerified(t *testing.T) {
	t.Parallel()
	for _, e := range allEmitted(t) {
		var r struct {
			Code *struct {
				Coding []fhirCoding `json:"coding"`
			} `json:"code"`
			Med *struct {
				Coding []fhirCoding `json:"coding"`
			} `json:"medicationCodeableConcept"`
		}
		if err := json.Unmarshal(e.raw, &r); err != nil {
			t.Fatal(err)
		}
		var cs []fhirCoding
		if r.Code != nil {
			cs = append(cs, r.Code.Coding...)
		}
		if r.Med != nil {
			cs = append(cs, r.Med.Coding...)
		}
		for _, c := range cs {
			if c.System == OrderSystem {
				continue
			}
			if row, ok := fhirmap.Lookup(c.System, c.Code); !ok || !row.Verified() {
				t.Errorf("%s: code %s|%s is not verified in codes.csv", e.where, c.System, c.Code)
			}
		}
	}
}

// The end-to-end golden responses (testdata/responses, through the HTTP handler) carry
// no unverified code either.
func TestResponseFixtureCodesVerified(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob("../testdata/responses/*.json")
	if len(files) == 0 {
		t.Skip("no ../testdata/responses/*.json")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var r Response
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, c := range r.Cards {
			for _, s := range c.Suggestions {
				for _, a := range s.Actions {
					var res struct {
						Code *struct {
							Coding []fhirCoding `json:"coding"`
						} `json:"code"`
						Med *struct {
							Coding []fhirCoding `json:"coding"`
						} `json:"medicationCodeableConcept"`
					}
					_ = json.Unmarshal(a.Resource, &res)
					var cs []fhirCoding
					if res.Code != nil {
						cs = append(cs, res.Code.Coding...)
					}
					if res.Med != nil {
						cs = append(cs, res.Med.Coding...)
					}
					for _, cd := range cs {
						if cd.System == OrderSystem {
							continue
						}
						if row, ok := fhirmap.Lookup(cd.System, cd.Code); !ok || !row.Verified() {
							t.Errorf("%s/%s: unverified code %s|%s in a draft", filepath.Base(f), topicOf(c), cd.System, cd.Code)
						}
					}
				}
			}
		}
	}
}

// "Nothing already on record is suggested again", for every kind of suggestion: for
// each coded action (lab, imaging, referral, review, monitoring Task; standard or
// project OrderSystem code) of every scenario, an open ServiceRequest — and an open
// Task — with that code removes every action with that code.
func TestOpenOrderSuppressesEveryCodedSuggestion(t *testing.T) {
	t.Parallel()
	type coded struct{ system, code string }
	codesOf := func(r Response) map[coded]bool {
		out := map[coded]bool{}
		for _, c := range r.Cards {
			for _, s := range c.Suggestions {
				for _, a := range s.Actions {
					var res struct {
						Code *struct {
							Coding []fhirCoding `json:"coding"`
						} `json:"code"`
					}
					_ = json.Unmarshal(a.Resource, &res)
					if res.Code != nil {
						for _, cd := range res.Code.Coding {
							out[coded{cd.System, cd.Code}] = true
						}
					}
				}
			}
		}
		return out
	}
	seenSystems := map[string]bool{}
	for _, sc := range scenarios() {
		base := codesOf(evaluateCfg(noCap(), sc.p))
		for c := range base {
			seenSystems[c.system] = true
			for _, rt := range []string{"ServiceRequest", "Task"} {
				p := *sc.p
				p.OpenOrders = append(slices.Clone(p.OpenOrders), fhirmap.OpenOrder{
					Source: fhirmap.Source{Ref: rt + "/open", Status: "active"}, ResourceType: rt,
					Codes: []fhirmap.Coding{{System: c.system, Code: c.code}},
				})
				if codesOf(evaluateCfg(noCap(), &p))[c] {
					t.Errorf("%s: an open %s with %s|%s does not suppress the suggestion", sc.name, rt, c.system, c.code)
				}
			}
		}
	}
	for _, sys := range []string{OrderSystem, "http://loinc.org", "http://www.ama-assn.org/go/cpt", "http://snomed.info/sct"} {
		if !seenSystems[sys] {
			t.Errorf("no scenario suggests an order coded in %s: the check proves nothing for it", sys)
		}
	}
}

// Principle 6, stronger: no efficacy figure or outcome wording on any card of any
// scenario (response rates, survival, "x vs y", hazard ratios).
func TestNoEfficacyWording(t *testing.T) {
	t.Parallel()
	bad := regexp.MustCompile(`(?i)\d+(\.\d+)?\s*%\s*(response|of patients|objective)|response rate|overall survival|progression-free|median (os|pfs|survival)|hazard ratio|\d+(\.\d+)?\s*(vs\.?|versus)\s*\d|\d+(\.\d+)?\s*months? (os|pfs|survival)`)
	for _, sc := range scenarios() {
		if m := bad.FindString(allText(evaluateCfg(noCap(), sc.p))); m != "" {
			t.Errorf("%s: efficacy wording %q on a card", sc.name, m)
		}
	}
}

// Principle 7, stronger: each fact line that names a resource also gives its date, and
// every card names at least one fact with a date and a reference. Principle 8: no
// systemActions.
var factWithDateAndRef = regexp.MustCompile("(?m)^- \\*\\*[^*]+\\*\\*: .+\\b\\d{4}\\)? · `[A-Za-z]+/[^`]+`")

func TestFactsCarryDateAndReference(t *testing.T) {
	t.Parallel()
	for _, sc := range scenarios() {
		r := evaluateCfg(noCap(), sc.p)
		if strings.Contains(allText(r), "systemActions") {
			t.Errorf("%s: systemActions emitted", sc.name)
		}
		for _, c := range r.Cards {
			if !factWithDateAndRef.MatchString(c.Detail) {
				t.Errorf("%s/%s: no fact with a date and a reference:\n%s", sc.name, topicOf(c), c.Detail)
			}
		}
	}
}
