package cards

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/nencds/nencds/fhirmap"
)

// fires is a table case: a picture, the topic under test, and whether it must fire.
type fires struct {
	name string
	p    *fhirmap.Picture
	want bool
}

func runFires(t *testing.T, topic string, tests []fires) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := evaluateCfg(noCap(), tt.p)
			if got := hasTopic(r, topic); got != tt.want {
				t.Errorf("%s fired = %v, want %v (cards: %v)", topic, got, tt.want, topics(r))
			}
		})
	}
}

func suggestionLabels(c *Card) []string {
	var out []string
	for _, s := range c.Suggestions {
		out = append(out, s.Label)
	}
	return out
}

func resourceTypes(s Suggestion) []string {
	var out []string
	for _, a := range s.Actions {
		var r struct {
			ResourceType string `json:"resourceType"`
			Code         *struct {
				Coding []struct{ Code string } `json:"coding"`
			} `json:"code"`
		}
		_ = json.Unmarshal(a.Resource, &r)
		code := ""
		if r.Code != nil && len(r.Code.Coding) > 0 {
			code = ":" + r.Code.Coding[0].Code
		}
		out = append(out, r.ResourceType+code)
	}
	return out
}

var nec = []opt{necDiag(), ki67(70, "Observation/ki67", day(2026, 4, 1))}

func with(base []opt, more ...opt) *fhirmap.Picture {
	return picture(append(slices.Clone(base), more...)...)
}

func TestNECFirstLine(t *testing.T) {
	t.Parallel()
	runFires(t, TopicNECFirstLine, []fires{
		{"NEC, no platinum, ECOG unknown", with(nec), true},
		{"ECOG 2", with(nec, ecog(2)), true},
		{"ECOG 3 → outside algorithm instead", with(nec, ecog(3)), false},
		{"past cisplatin", with(nec, therapy("cisplatin", false, day(2025, 1, 1))), false},
		{"active carboplatin", with(nec, therapy("carboplatin", true, day(2026, 5, 1))), false},
		{"lung NEC follows the NEC branch", picture(diag("sclc", fhirmap.SiteLung, fhirmap.DiffPoor, "C7A.090"), ki67(80, "Observation/k", day(2026, 1, 1))), true},
		{"remission", with(nec, clinical("remission")), false},
	})
	recommended := func(p *fhirmap.Picture) string {
		c := card(evaluate(p), TopicNECFirstLine)
		for _, s := range c.Suggestions {
			if s.IsRecommended {
				return s.Label
			}
		}
		return ""
	}
	if got := recommended(with(nec, age(70))); got != "Start carboplatin + etoposide" {
		t.Errorf("age 70: recommended %q, want carboplatin", got)
	}
	if got := recommended(with(nec, age(69), ecog(2))); got != "Start carboplatin + etoposide" {
		t.Errorf("ECOG 2: recommended %q, want carboplatin", got)
	}
	if got := recommended(with(nec, age(69), ecog(0))); got != "" {
		t.Errorf("age 69 ECOG 0: recommended %q, want none", got)
	}
	c := card(evaluate(with(nec)), TopicNECFirstLine)
	if c.SelectionBehavior != "at-most-one" || c.Indicator != Warning {
		t.Errorf("selection %q indicator %q", c.SelectionBehavior, c.Indicator)
	}
	want := []string{"MedicationRequest", "MedicationRequest", "ServiceRequest:24325-3", "Task:24325-3", "Task:follow-up-visit", "Task:74177"}
	if got := resourceTypes(c.Suggestions[0]); !slices.Equal(got, want) {
		t.Errorf("actions %v, want %v", got, want)
	}
}

func TestNECLaterLine(t *testing.T) {
	t.Parallel()
	after := append(slices.Clone(nec), therapy("carboplatin", false, day(2025, 9, 1)), therapy("etoposide", false, day(2025, 9, 1)))
	runFires(t, TopicNECLaterLine, []fires{
		{"progression 1 month ago after platinum", with(after, progression(day(2026, 5, 1))), true},
		{"progression exactly 6 months ago", with(after, progression(day(2025, 12, 1).Add(12*3600e9))), true},
		{"progression 7 months ago", with(after, progression(day(2025, 11, 1))), false},
		{"no progression", with(after), false},
		{"no platinum", with(nec, progression(day(2026, 5, 1))), false},
		{"NET G2 progressing after platinum (wrong branch)", picture(smallBowelNET(), ki67(10, "Observation/k", day(2026, 1, 1)), therapy("cisplatin", false, day(2025, 1, 1)), progression(day(2026, 5, 1))), false},
	})
	c := card(evaluate(with(after, progression(day(2026, 5, 1)))), TopicNECLaterLine)
	if !strings.Contains(c.Detail, "FOLFIRI") {
		t.Errorf("detail does not mention FOLFIRI")
	}
	if got := suggestionLabels(c); !slices.Equal(got, []string{"Re-challenge with carboplatin + etoposide", "Start temozolomide + capecitabine (CAPTEM)"}) {
		t.Errorf("suggestions %v", got)
	}
}

var pnetProg = []opt{pancreaticNET(), ki67(10, "Observation/ki67", day(2026, 1, 1)), liverMets(), progression(day(2026, 5, 1))}

func TestPNETTargeted(t *testing.T) {
	t.Parallel()
	runFires(t, TopicPNETTargeted, []fires{
		{"progressive metastatic pNET G2", with(pnetProg), true},
		{"not progressive", picture(pancreaticNET(), ki67(10, "Observation/ki67", day(2026, 1, 1)), liverMets()), false},
		{"small-intestine NET", picture(smallBowelNET(), ki67(10, "Observation/ki67", day(2026, 1, 1)), liverMets(), progression(day(2026, 5, 1))), false},
		{"on sunitinib", with(pnetProg, therapy("sunitinib", true, day(2026, 1, 1))), false},
		{"on everolimus", with(pnetProg, therapy("everolimus", true, day(2026, 1, 1))), false},
		{"pNET G3", picture(pancreaticNET(), ki67(30, "Observation/ki67", day(2026, 1, 1)), liverMets(), progression(day(2026, 5, 1))), false},
		{"limited disease", picture(pancreaticNET(), ki67(10, "Observation/ki67", day(2026, 1, 1)), limited(), progression(day(2026, 5, 1))), false},
	})
	c := card(evaluate(with(pnetProg)), TopicPNETTargeted)
	want := []string{"MedicationRequest", "ServiceRequest:24325-3", "Task:24325-3", "ServiceRequest:93306", "Task:follow-up-visit", "Task:74177"}
	if got := resourceTypes(c.Suggestions[0]); !slices.Equal(got, want) {
		t.Errorf("sunitinib actions %v, want %v", got, want)
	}
	c = card(evaluate(with(pnetProg, therapy("sunitinib", false, day(2025, 1, 1)))), TopicPNETTargeted)
	if got := suggestionLabels(c); !slices.Equal(got, []string{"Start everolimus 10 mg daily"}) {
		t.Errorf("after past sunitinib: %v, want everolimus only", got)
	}
}

var siMet = []opt{smallBowelNET(), ki67(5, "Observation/ki67", day(2026, 1, 1)), liverMets()}

func TestSSA(t *testing.T) {
	t.Parallel()
	runFires(t, TopicSSA, []fires{
		{"SSTR positive", with(siMet, sstr(fhirmap.SSTRPositive, 3)), true},
		{"carcinoid syndrome", with(siMet, syndrome()), true},
		{"SSTR negative, no syndrome", with(siMet, sstr(fhirmap.SSTRNegative, 0)), false},
		{"on lanreotide", with(siMet, syndrome(), therapy("lanreotide", true, day(2026, 1, 1))), false},
		{"on octreotide", with(siMet, syndrome(), therapy("octreotide", true, day(2026, 1, 1))), false},
		{"not metastatic", picture(smallBowelNET(), ki67(5, "Observation/ki67", day(2026, 1, 1)), limited(), syndrome()), false},
		{"NEC with syndrome", with(nec, liverMets(), syndrome()), false},
	})
}

func TestPRRT(t *testing.T) {
	t.Parallel()
	prog := append(slices.Clone(siMet), progression(day(2026, 5, 1)))
	runFires(t, TopicPRRT, []fires{
		{"Krenning 2", with(prog, sstr(fhirmap.SSTRPositive, 2)), true},
		{"Krenning unknown, positive", with(prog, sstr(fhirmap.SSTRPositive, -1)), true},
		{"Krenning 1", with(prog, sstr(fhirmap.SSTRPositive, 1)), false},
		{"negative", with(prog, sstr(fhirmap.SSTRNegative, -1)), false},
		{"not progressive", with(siMet, sstr(fhirmap.SSTRPositive, 3)), false},
		{"prior PRRT", with(prog, sstr(fhirmap.SSTRPositive, 3), procedure(fhirmap.ProcPRRT)), false},
		{"open PRRT order", with(prog, sstr(fhirmap.SSTRPositive, 3), openOrder("ServiceRequest", "http://snomed.info/sct", "440252007")), false},
	})
}

func TestSurgeryAndLocalTherapies(t *testing.T) {
	t.Parallel()
	lim := []opt{smallBowelNET(), ki67(5, "Observation/ki67", day(2026, 1, 1)), limited()}
	runFires(t, TopicSurgery, []fires{
		{"limited, fitness unknown", with(lim), true},
		{"limited, ECOG 1", with(lim, ecog(1)), true},
		{"limited, ECOG 2", with(lim, ecog(2)), false},
		{"already resected", with(lim, procedure(fhirmap.ProcPrimaryResection)), false},
		{"extent unknown", picture(smallBowelNET(), ki67(5, "Observation/ki67", day(2026, 1, 1))), false},
		{"distant", with(siMet), false},
	})
	runFires(t, TopicLiverMetsSurgery, []fires{
		{"liver only", with(siMet), true},
		{"liver and bone", with(siMet, boneMets()), false},
		{"NEC with liver", with(nec, liverMets()), false},
	})
	runFires(t, TopicLiverDirected, []fires{
		{"NET liver", with(siMet), true},
		{"both already ordered", with(siMet, openOrder("ServiceRequest", "http://www.ama-assn.org/go/cpt", "37243"), openOrder("ServiceRequest", "http://www.ama-assn.org/go/cpt", "47382")), false},
	})
	runFires(t, TopicBoneEBRT, []fires{
		{"bone mets NET", picture(smallBowelNET(), ki67(5, "Observation/ki67", day(2026, 1, 1)), boneMets()), true},
		{"bone mets NEC", with(nec, boneMets()), true},
		{"bone mets, grade undetermined", picture(nenNoDiff(fhirmap.SiteColon), ki67(40, "Observation/k", day(2026, 1, 1)), boneMets()), false},
		{"EBRT done", picture(smallBowelNET(), ki67(5, "Observation/ki67", day(2026, 1, 1)), boneMets(), procedure(fhirmap.ProcEBRT)), false},
	})
}

func TestWorkup(t *testing.T) {
	t.Parallel()
	base := []opt{smallBowelNET(), ki67(5, "Observation/ki67", day(2026, 1, 1))}
	labels := func(p *fhirmap.Picture) []string {
		c := card(evaluate(p), TopicWorkup)
		if c == nil {
			return nil
		}
		return suggestionLabels(c)
	}
	all := []string{"Order chromogranin A", "Order 24 h urine 5-HIAA", "Order multiphasic contrast CT abdomen/pelvis", "Order Ga-68 DOTATATE PET/CT"}
	if got := labels(with(base)); !slices.Equal(got, all) {
		t.Errorf("nothing on record: %v", got)
	}
	if got := labels(with(nec)); slices.Contains(got, "Order Ga-68 DOTATATE PET/CT") {
		t.Errorf("NEC: SSTR imaging suggested (optional for NEC): %v", got)
	}
	got := labels(with(base, marker(fhirmap.MarkerCgA, "no", day(2026, 1, 1)), marker(fhirmap.Marker5HIAAUrine, "no", day(2025, 1, 1)),
		openOrder("ServiceRequest", "http://www.ama-assn.org/go/cpt", "74177")))
	if want := []string{"Order 24 h urine 5-HIAA", "Order Ga-68 DOTATATE PET/CT"}; !slices.Equal(got, want) {
		t.Errorf("recent CgA, old 5-HIAA, open CT: %v, want %v", got, want)
	}
	if got := labels(with(base, workupDone())); got != nil {
		t.Errorf("all done: %v", got)
	}
	if c := card(evaluate(with(base, workupDone())), TopicWorkup); c != nil {
		t.Errorf("card without suggestions")
	}
}

func TestMonitorHepatic(t *testing.T) {
	t.Parallel()
	sun := append(slices.Clone(pnetProg), therapy("sunitinib", true, day(2026, 1, 1)))
	runFires(t, TopicMonitorHepatic, []fires{
		{"sunitinib, no liver test", with(sun), true},
		{"sunitinib, panel 27 days ago (28-day cycle)", with(sun, liverPanel(day(2026, 5, 5))), false},
		{"sunitinib, panel 30 days ago", with(sun, liverPanel(day(2026, 5, 2))), true},
		{"carboplatin, panel 25 days ago (21-day cycle)", with(nec, therapy("carboplatin", true, day(2026, 4, 1)), liverPanel(day(2026, 5, 7))), true},
		{"carboplatin, panel 10 days ago", with(nec, therapy("carboplatin", true, day(2026, 4, 1)), liverPanel(day(2026, 5, 22))), false},
		// A hepatic panel is ALT, AST and bilirubin (SUTENT label): one test alone is not.
		{"sunitinib, ALT alone 5 days ago", with(sun, liverTest(day(2026, 5, 27))), true},
		{"sunitinib, bilirubin alone 5 days ago", with(sun, liverLab(fhirmap.LabBilirubin, "1975-2", day(2026, 5, 27))), true},
		{"sunitinib, ALT + AST + bilirubin within the cycle", with(sun, liverTest(day(2026, 5, 27)), liverLab(fhirmap.LabAST, "1920-8", day(2026, 5, 27)), liverLab(fhirmap.LabBilirubin, "1975-2", day(2026, 5, 20))), false},
		{"sunitinib, ALT + AST now, bilirubin 40 days ago", with(sun, liverTest(day(2026, 5, 27)), liverLab(fhirmap.LabAST, "1920-8", day(2026, 5, 27)), liverLab(fhirmap.LabBilirubin, "1975-2", day(2026, 4, 20))), true},
		{"sunitinib, provisional diagnosis (summary and work-up only)", with(sun, verification("provisional")), false},
		{"open hepatic panel order", with(sun, openOrder("ServiceRequest", "http://loinc.org", "24325-3")), false},
		{"octreotide only", with(siMet, therapy("octreotide", true, day(2026, 1, 1))), false},
		{"past sunitinib", with(pnetProg, therapy("sunitinib", false, day(2025, 1, 1))), false},
	})
}

func TestMonitorCardiac(t *testing.T) {
	t.Parallel()
	sun := append(slices.Clone(pnetProg), therapy("sunitinib", true, day(2026, 1, 10)))
	tests := []struct {
		name string
		p    *fhirmap.Picture
		want Indicator // "" = no card
	}{
		{"60 → 44 %: critical", with(sun, lvef(44, "Observation/lvef-2", day(2026, 5, 15)), lvef(60, "Observation/lvef-1", day(2026, 1, 5))), Critical},
		{"60 → 50 %: not below 50", with(sun, lvef(50, "Observation/lvef-2", day(2026, 5, 15)), lvef(60, "Observation/lvef-1", day(2026, 1, 5))), ""},
		{"55 → 45 %: drop 18 %", with(sun, lvef(45, "Observation/lvef-2", day(2026, 5, 15)), lvef(55, "Observation/lvef-1", day(2026, 1, 5))), ""},
		{"only a baseline", with(sun, lvef(60, "Observation/lvef-1", day(2026, 1, 5))), ""},
		{"no LVEF: warning", with(sun), Warning},
		{"LVEF long before start is no baseline", with(sun, lvef(60, "Observation/lvef-1", day(2025, 6, 1))), Warning},
		{"no LVEF, echo ordered", with(sun, openOrder("ServiceRequest", "http://www.ama-assn.org/go/cpt", "93306")), ""},
		{"no sunitinib", with(pnetProg, lvef(40, "Observation/lvef-2", day(2026, 5, 15)), lvef(60, "Observation/lvef-1", day(2026, 1, 5))), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := evaluate(tt.p)
			c := card(r, TopicMonitorCardiac)
			var got Indicator
			if c != nil {
				got = c.Indicator
			}
			if got != tt.want {
				t.Errorf("indicator %q, want %q", got, tt.want)
			}
			if tt.want == Critical {
				if r.Cards[0].Indicator != Critical {
					t.Errorf("critical card not first: %v", topics(r))
				}
				for _, s := range []string{"60 %", "44 %", "`Observation/lvef-1`", "`Observation/lvef-2`", "5 Jan 2026", "15 May 2026"} {
					if !strings.Contains(c.Summary+c.Detail, s) {
						t.Errorf("card does not name %q", s)
					}
				}
			}
		})
	}
}

func TestFollowUpAndSuspected(t *testing.T) {
	t.Parallel()
	ssa := append(slices.Clone(siMet), therapy("octreotide", true, day(2026, 1, 1)))
	runFires(t, TopicFollowUp, []fires{
		{"on octreotide, nothing scheduled", with(ssa), true},
		{"visit task open, CT 2 months ago", with(ssa, openOrder("Task", OrderSystem, OrderFollowUpVisit), crossSection(day(2026, 4, 1))), false},
		{"visit task open, CT 7 months ago", with(ssa, openOrder("Task", OrderSystem, OrderFollowUpVisit), crossSection(day(2025, 11, 1))), true},
		{"no active treatment", with(siMet), false},
	})
	runFires(t, TopicSuspected, []fires{
		{"carcinoid syndrome only", picture(syndrome()), true},
		{"elevated 5-HIAA only", picture(marker(fhirmap.Marker5HIAAUrine, "yes", day(2026, 5, 1))), true},
		{"normal 5-HIAA", picture(marker(fhirmap.Marker5HIAAUrine, "no", day(2026, 5, 1))), false},
		{"NEN already diagnosed", with(siMet, syndrome()), false},
	})
}

func TestGradeDiscordance(t *testing.T) {
	t.Parallel()
	runFires(t, TopicGradeDiscordance, []fires{
		{"8 % in 2021, 35 % in 2026", picture(smallBowelNET(), ki67(35, "Observation/k2", day(2026, 3, 1)), ki67(8, "Observation/k1", day(2021, 2, 1))), true},
		{"3 % and 20 % are both G2", picture(smallBowelNET(), ki67(20, "Observation/k2", day(2026, 3, 1)), ki67(3, "Observation/k1", day(2021, 2, 1))), false},
		// Ki-67 and mitoses of one specimen grading differently is the WHO "higher of the
		// two" rule, not discordance between specimens or dates.
		{"Ki-67 G1, mitoses G2", picture(smallBowelNET(), ki67(1, "Observation/k", day(2026, 3, 1)), mitoses(4)), false},
		{"mitoses 4 then 25", picture(smallBowelNET(), diffObs(fhirmap.DiffWell), mitoses(25), func(p *fhirmap.Picture) {
			p.Mitoses = append(p.Mitoses, fhirmap.MitoticCount{Source: src("Observation/mitoses-old", day(2022, 1, 1)), Per2mm2: 4})
		}), true},
		{"benign carcinoid (D3A) with discordant values: no malignant-disease card", picture(func(p *fhirmap.Picture) {
			diag("benign-carcinoid", fhirmap.SiteAppendix, fhirmap.DiffUnknown, "D3A.020")(p)
			p.Diagnoses[0].Benign = true
		}, ki67(35, "Observation/k2", day(2026, 3, 1)), ki67(8, "Observation/k1", day(2021, 2, 1))), false},
		{"provisional diagnosis", picture(smallBowelNET(), verification("provisional"), ki67(35, "Observation/k2", day(2026, 3, 1)), ki67(8, "Observation/k1", day(2021, 2, 1))), false},
	})
	c := card(evaluate(picture(smallBowelNET(), ki67(35, "Observation/k2", day(2026, 3, 1)), ki67(8, "Observation/k1", day(2021, 2, 1)))), TopicGradeDiscordance)
	for _, s := range []string{"35 %", "8 %", "1 Feb 2021", "1 Mar 2026", "`Observation/k1`", "`Observation/k2`", "G2 to G3"} {
		if !strings.Contains(c.Summary+c.Detail, s) {
			t.Errorf("discordance card does not name %q:\n%s", s, c.Detail)
		}
	}
}

func TestOrderingCapAndLinks(t *testing.T) {
	t.Parallel()
	p := picture(pancreaticNET(), ki67(12, "Observation/ki67", day(2025, 6, 1)), liverMets(), boneMets(), syndrome(),
		therapy("sunitinib", true, day(2026, 1, 10)), lvef(44, "Observation/lvef-2", day(2026, 5, 15)), lvef(60, "Observation/lvef-1", day(2026, 1, 5)))
	r := evaluateCfg(noCap(), p)
	for i := 1; i < len(r.Cards); i++ {
		if rank(r.Cards[i-1].Indicator) > rank(r.Cards[i].Indicator) {
			t.Errorf("cards not ordered critical, warning, info: %v", topics(r))
		}
	}
	if len(r.Cards) < 4 {
		t.Fatalf("only %d cards: %v", len(r.Cards), topics(r))
	}
	cfg := DefaultConfig()
	cfg.MaxCards = 3
	capped := evaluateCfg(cfg, p)
	if diff := slices.Compare(topics(capped), topics(r)[:3]); diff != 0 {
		t.Errorf("capped %v, want the first 3 of %v", topics(capped), topics(r))
	}
	for _, c := range r.Cards {
		if len(c.Links) != 1 && topicOf(c) != TopicMonitorHepatic {
			t.Errorf("%s: links %+v, want the guideline link only", topicOf(c), c.Links)
		}
		if c.Links[0].Type != "absolute" || c.Links[0].URL != c.Source.URL {
			t.Errorf("%s: first link %+v", topicOf(c), c.Links[0])
		}
	}
	cfg = noCap()
	cfg.SMARTAppURL = "https://app.example.org/launch"
	for _, c := range evaluateCfg(cfg, p).Cards {
		l := c.Links[len(c.Links)-1]
		if l.Type != "smart" || l.URL != cfg.SMARTAppURL {
			t.Fatalf("%s: last link %+v, want smart", topicOf(c), l)
		}
		var ctx struct {
			Topic string   `json:"topic"`
			UUID  string   `json:"uuid"`
			Facts []string `json:"facts"`
		}
		if err := json.Unmarshal([]byte(l.AppContext), &ctx); err != nil {
			t.Fatal(err)
		}
		if ctx.Topic != topicOf(c) || ctx.UUID != c.UUID || len(ctx.Facts) == 0 {
			t.Errorf("%s: appContext %s", topicOf(c), l.AppContext)
		}
		for _, f := range ctx.Facts {
			if !strings.Contains(c.Detail, "`"+f+"`") {
				t.Errorf("%s: appContext fact %s not in the detail", topicOf(c), f)
			}
		}
	}
}

// Evaluation time is Picture.At: the same picture at another time gives other cards.
func TestEvaluationTimeIsInjected(t *testing.T) {
	t.Parallel()
	p := with(pnetProg)
	if !hasTopic(evaluate(p), TopicPNETTargeted) {
		t.Fatal("no pnet-targeted at 2026-06-01")
	}
	later := with(pnetProg)
	later.At = at.AddDate(1, 0, 0)
	if hasTopic(evaluate(later), TopicPNETTargeted) {
		t.Error("progression of 2026-05 still counts a year later")
	}
}
