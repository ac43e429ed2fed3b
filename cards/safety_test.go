package cards

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/nencds/nencds/fhirmap"
)

// Negative tests, one per safety principle of docs/clinical.md §1.

var treatmentTopics = []string{TopicNECFirstLine, TopicNECLaterLine, TopicPNETTargeted, TopicSSA, TopicPRRT, TopicSurgery, TopicLiverMetsSurgery, TopicLiverDirected, TopicBoneEBRT}

// Principle 1 and 5: Ki-67 > 20 % without differentiation is "NEN, grade
// undetermined": a classification-incomplete card, never a treatment card.
func TestSafetyKi67HighWithoutDifferentiation(t *testing.T) {
	t.Parallel()
	for _, site := range []fhirmap.Site{fhirmap.SitePancreas, fhirmap.SiteSmallIntestine, fhirmap.SiteUnknown} {
		p := picture(nenNoDiff(site), ki67(45, "Observation/ki67", day(2026, 3, 1)), liverMets(), boneMets(), limited(), syndrome(),
			progression(day(2026, 5, 1)), sstr(fhirmap.SSTRPositive, 4), ecog(0), age(75))
		r := evaluateCfg(noCap(), p)
		for _, tp := range treatmentTopics {
			if hasTopic(r, tp) {
				t.Errorf("site %q: treatment card %s fired for Ki-67 45 %% without differentiation", site, tp)
			}
		}
		if d := drugsSuggested(t, r); len(d) > 0 {
			t.Errorf("site %q: drugs suggested: %v", site, d)
		}
		if !hasTopic(r, TopicClassificationIncomplete) {
			t.Errorf("site %q: no classification-incomplete card: %v", site, topics(r))
		}
		if s := card(r, TopicSummary); s == nil || !strings.HasPrefix(s.Summary, "NEN, grade undetermined") {
			t.Errorf("site %q: summary %+v, want NEN, grade undetermined", site, s)
		}
		if strings.Contains(card(r, TopicSummary).Summary, "NEC") {
			t.Errorf("site %q: NEC inferred from Ki-67 alone", site)
		}
	}
}

// Principle 2: a well-differentiated NET never gets platinum–etoposide; a NEC never
// gets SSA, everolimus, sunitinib or PRRT — whatever else the record says.
func TestSafetyBranches(t *testing.T) {
	t.Parallel()
	everything := []opt{liverMets(), progression(day(2026, 5, 1)), sstr(fhirmap.SSTRPositive, 4), syndrome(), ecog(0), age(75)}
	nets := map[string]*fhirmap.Picture{
		"NET G1": picture(append([]opt{pancreaticNET(), ki67(1, "Observation/ki67", day(2026, 3, 1))}, everything...)...),
		"NET G2": picture(append([]opt{pancreaticNET(), ki67(20, "Observation/ki67", day(2026, 3, 1))}, everything...)...),
		"NET G3": picture(append([]opt{pancreaticNET(), ki67(40, "Observation/ki67", day(2026, 3, 1)), diffObs(fhirmap.DiffWell)}, everything...)...),
	}
	for name, p := range nets {
		r := evaluateCfg(noCap(), p)
		for _, d := range drugsSuggested(t, r) {
			if slices.Contains([]string{"cisplatin", "carboplatin", "etoposide"}, d) {
				t.Errorf("%s: platinum–etoposide suggested (%s)", name, d)
			}
		}
		if hasTopic(r, TopicNECFirstLine) || hasTopic(r, TopicNECLaterLine) {
			t.Errorf("%s: NEC card: %v", name, topics(r))
		}
	}
	necs := map[string]*fhirmap.Picture{
		"NEC first line": picture(append([]opt{pancreaticNEC(), ki67(70, "Observation/ki67", day(2026, 3, 1))}, everything...)...),
		"NEC after platinum": picture(append([]opt{pancreaticNEC(), ki67(70, "Observation/ki67", day(2026, 3, 1)),
			therapy("cisplatin", false, day(2025, 10, 1))}, everything...)...),
		"NEC from differentiation observation": picture(append([]opt{nenNoDiff(fhirmap.SitePancreas), diffObs(fhirmap.DiffPoor), ki67(70, "Observation/ki67", day(2026, 3, 1))}, everything...)...),
	}
	for name, p := range necs {
		r := evaluateCfg(noCap(), p)
		if s := card(r, TopicSummary); s == nil || !strings.HasPrefix(s.Summary, "NEC,") {
			t.Fatalf("%s: summary %v", name, topics(r))
		}
		for _, d := range drugsSuggested(t, r) {
			if slices.Contains([]string{"octreotide", "lanreotide", "everolimus", "sunitinib"}, d) {
				t.Errorf("%s: %s suggested for a NEC", name, d)
			}
		}
		for _, tp := range []string{TopicSSA, TopicPNETTargeted, TopicPRRT} {
			if hasTopic(r, tp) {
				t.Errorf("%s: %s fired for a NEC", name, tp)
			}
		}
		if len(drugsSuggested(t, r)) == 0 {
			t.Errorf("%s: no NEC chemotherapy suggested at all (test would prove nothing): %v", name, topics(r))
		}
	}
}

func pancreaticNEC() opt {
	return diag("nec-any-site", fhirmap.SitePancreas, fhirmap.DiffPoor, "C7A.1")
}

// The guard removes a forbidden drug even if a rule offered it.
func TestGuardDropsForbiddenDrugs(t *testing.T) {
	t.Parallel()
	p := picture(pancreaticNET(), ki67(10, "Observation/ki67", day(2026, 3, 1)), therapy("everolimus", true, day(2026, 1, 1)))
	e := newEval(p, DefaultConfig(), seqIDs())
	dc := draftCard{atMostOne: true, treatment: true, suggestions: []draftSuggestion{
		{label: "platinum", drugs: []string{"carboplatin", "etoposide"}, recommended: true},
		{label: "everolimus again", drugs: []string{"everolimus"}},
		{label: "sunitinib", drugs: []string{"sunitinib"}},
	}}
	got := guard(e, dc)
	var labels []string
	for _, s := range got.suggestions {
		labels = append(labels, s.label)
	}
	if !slices.Equal(labels, []string{"sunitinib"}) {
		t.Errorf("guard kept %v, want [sunitinib]", labels)
	}
}

// The guard removes SSA, everolimus, sunitinib and PRRT from a NEC, and everything
// while the grade is undetermined, even if a rule offered them.
func TestGuardDropsNETDrugsFromNEC(t *testing.T) {
	t.Parallel()
	offer := draftCard{atMostOne: true, treatment: true, suggestions: []draftSuggestion{
		{label: "octreotide", drugs: []string{"octreotide"}},
		{label: "lanreotide", drugs: []string{"lanreotide"}},
		{label: "everolimus", drugs: []string{"everolimus"}},
		{label: "sunitinib", drugs: []string{"sunitinib"}},
		{label: "PRRT", drugs: []string{"lutathera"}},
		{label: "carboplatin", drugs: []string{"carboplatin", "etoposide"}},
	}}
	tests := []struct {
		name string
		p    *fhirmap.Picture
		want []string
	}{
		{"NEC", picture(pancreaticNEC(), ki67(70, "Observation/ki67", day(2026, 3, 1))), []string{"carboplatin"}},
		{"grade undetermined", picture(nenNoDiff(fhirmap.SitePancreas), ki67(70, "Observation/ki67", day(2026, 3, 1))), nil},
		{"NET G2", picture(pancreaticNET(), ki67(10, "Observation/ki67", day(2026, 3, 1))), []string{"octreotide", "lanreotide", "everolimus", "sunitinib", "PRRT"}},
	}
	for _, tt := range tests {
		e := newEval(tt.p, DefaultConfig(), seqIDs())
		dc := offer
		dc.suggestions = slices.Clone(offer.suggestions)
		var got []string
		for _, s := range guard(e, dc).suggestions {
			got = append(got, s.label)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: guard kept %v, want %v", tt.name, got, tt.want)
		}
	}
}

// Principle 3: a drug the patient takes (active or on hold) is never suggested again;
// monitoring is shown instead.
func TestSafetyActiveDrugNotSuggestedAgain(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		p       *fhirmap.Picture
		drug    string
		monitor string
	}{
		{"sunitinib", picture(pancreaticNET(), ki67(10, "Observation/ki67", day(2026, 3, 1)), liverMets(), progression(day(2026, 5, 1)), therapy("sunitinib", true, day(2026, 2, 1))), "sunitinib", TopicMonitorCardiac},
		{"everolimus", picture(pancreaticNET(), ki67(10, "Observation/ki67", day(2026, 3, 1)), liverMets(), progression(day(2026, 5, 1)), therapy("everolimus", true, day(2026, 2, 1))), "everolimus", TopicMonitorHepatic},
		{"octreotide", picture(smallBowelNET(), ki67(5, "Observation/ki67", day(2026, 3, 1)), liverMets(), syndrome(), therapy("octreotide", true, day(2026, 2, 1))), "octreotide", TopicFollowUp},
		{"carboplatin", picture(necDiag(), ki67(70, "Observation/ki67", day(2026, 3, 1)), therapy("carboplatin", true, day(2026, 5, 1)), therapy("etoposide", true, day(2026, 5, 1))), "carboplatin", TopicMonitorHepatic},
		{"etoposide alone", picture(necDiag(), ki67(70, "Observation/ki67", day(2026, 3, 1)), therapy("etoposide", true, day(2026, 5, 1))), "etoposide", TopicMonitorHepatic},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := evaluateCfg(noCap(), tt.p)
			if slices.Contains(drugsSuggested(t, r), tt.drug) {
				t.Errorf("%s suggested again: %v", tt.drug, topics(r))
			}
			if !hasTopic(r, tt.monitor) {
				t.Errorf("no %s card: %v", tt.monitor, topics(r))
			}
		})
	}
}

// Principle 3 and "nothing already on record is suggested again": a drug already
// ordered (a draft MedicationRequest, e.g. accepted from an earlier card, that fhirmap
// lists among the open orders by drug or RxNorm code) is not suggested again, and
// neither are its alternatives of the same card (the choice has been made).
func TestSafetyOrderedDrugNotSuggestedAgain(t *testing.T) {
	t.Parallel()
	pnet := []opt{pancreaticNET(), ki67(10, "Observation/ki67", day(2026, 3, 1)), liverMets(), progression(day(2026, 5, 1)), workupDone()}
	ssa := []opt{smallBowelNET(), ki67(5, "Observation/ki67", day(2026, 3, 1)), liverMets(), syndrome(), workupDone()}
	prrt := []opt{smallBowelNET(), ki67(5, "Observation/ki67", day(2026, 3, 1)), liverMets(), progression(day(2026, 5, 1)), sstr(fhirmap.SSTRPositive, 3), workupDone()}
	tests := []struct {
		name  string
		p     *fhirmap.Picture
		topic string // the card that offered the drug and must not fire now
	}{
		{"draft sunitinib by RxNorm code", with(pnet, openDrugOrder("sunitinib", "357977")), TopicPNETTargeted},
		{"draft everolimus by name", with(pnet, openDrugOrder("everolimus", "")), TopicPNETTargeted},
		{"open order carrying sunitinib's RxNorm code only", with(pnet, openOrder("MedicationRequest", RxNormSystem, "357977")), TopicPNETTargeted},
		{"draft lanreotide (no code: matched by name)", with(ssa, openDrugOrder("lanreotide", "")), TopicSSA},
		{"draft octreotide", with(ssa, openDrugOrder("octreotide", "")), TopicSSA},
		{"draft carboplatin", with(nec, openDrugOrder("carboplatin", "40048")), TopicNECFirstLine},
		{"draft etoposide", with(nec, openDrugOrder("etoposide", "")), TopicNECFirstLine},
		{"draft Lu-177 dotatate", with(prrt, openDrugOrder("lutathera", "")), TopicPRRT},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Without the order the card fires (or the test proves nothing).
			without := *tt.p
			without.OpenOrders = nil
			if !hasTopic(evaluateCfg(noCap(), &without), tt.topic) {
				t.Fatalf("%s does not fire even without the order", tt.topic)
			}
			r := evaluateCfg(noCap(), tt.p)
			if hasTopic(r, tt.topic) {
				t.Errorf("%s fired although the drug is already ordered: %v", tt.topic, suggestionLabels(card(r, tt.topic)))
			}
			for _, d := range drugsSuggested(t, r) {
				for _, o := range tt.p.OpenOrders {
					if o.Drug == d || o.Drug == "" && d == "sunitinib" {
						t.Errorf("ordered drug %s suggested again", d)
					}
				}
			}
		})
	}
}

// Principle 4 at the rules' own boundary: should a fact still carry an entered-in-error
// (or cancelled) status, or a Condition a refuted verification status, the rules drop
// it (sanitize) — neither used nor quoted.
func TestSafetyEnteredInErrorDroppedByTheRules(t *testing.T) {
	t.Parallel()
	eie := func(p *fhirmap.Picture) {
		p.Ki67 = append([]fhirmap.Ki67{{Source: fhirmap.Source{Ref: "Observation/ki67-eie", Date: day(2026, 5, 1), Status: "entered-in-error"}, Percent: 87, Raw: "87 %"}}, p.Ki67...)
		p.Therapies = append(p.Therapies, fhirmap.Therapy{Source: fhirmap.Source{Ref: "MedicationRequest/eie", Status: "entered-in-error"}, Drug: "sunitinib", Active: true})
	}
	r := evaluateCfg(noCap(), picture(smallBowelNET(), ki67(4, "Observation/ki67-ok", day(2026, 3, 1)), eie))
	text := allText(r)
	if strings.Contains(text, "87") || strings.Contains(text, "ki67-eie") || strings.Contains(text, "sunitinib") {
		t.Errorf("entered-in-error data quoted: %s", text)
	}
	if s := card(r, TopicSummary); s == nil || !strings.HasPrefix(s.Summary, "NET G2") {
		t.Errorf("summary %v: want NET G2 from the valid Ki-67 only", s)
	}
	if hasTopic(r, TopicGradeDiscordance) || hasTopic(r, TopicOutsideAlgorithm) || hasTopic(r, TopicMonitorHepatic) {
		t.Errorf("entered-in-error data acted on: %v", topics(r))
	}
	refuted := picture(pancreaticNET(), verification("refuted"), ki67(10, "Observation/ki67", day(2026, 3, 1)), liverMets(), syndrome())
	r = evaluateCfg(noCap(), refuted)
	if hasTopic(r, TopicSummary) || strings.Contains(allText(r), "Condition/nen") {
		t.Errorf("refuted diagnosis used: %v", topics(r))
	}
	if !hasTopic(r, TopicSuspected) {
		t.Errorf("with the NEN diagnosis refuted, carcinoid syndrome should raise nen-suspected: %v", topics(r))
	}
	// The caller's picture is not modified.
	if len(refuted.Diagnoses) != 1 {
		t.Errorf("sanitize modified the caller's picture")
	}
}

// Principle 4: entered-in-error and refuted data are not in the Picture (fhirmap leaves
// them out, with a note that does not quote the value); nothing on any card quotes it.
func TestSafetyEnteredInErrorNotQuoted(t *testing.T) {
	t.Parallel()
	// The record had a Ki-67 of 87 % entered in error; fhirmap kept only the note.
	p := picture(smallBowelNET(), ki67(4, "Observation/ki67-ok", day(2026, 3, 1)),
		note(fhirmap.NoteSkipped, "Observation/ki67-eie", "Ki-67 observation skipped: status entered-in-error."))
	r := evaluate(p)
	text := allText(r)
	if strings.Contains(text, "87") {
		t.Errorf("entered-in-error value quoted: %s", text)
	}
	s := card(r, TopicSummary)
	if s == nil || !strings.HasPrefix(s.Summary, "NET G2") || !strings.Contains(s.Detail, "entered-in-error") {
		t.Errorf("summary %+v: want NET G2 from the valid value and the skip note", s)
	}
	if hasTopic(r, TopicGradeDiscordance) || hasTopic(r, TopicOutsideAlgorithm) {
		t.Errorf("entered-in-error value acted on: %v", topics(r))
	}
}

// Principle 4 also covers refuted diagnoses: fhirmap leaves them out, so a patient whose
// only NEN diagnosis was refuted gets no cards.
func TestSafetyNoNENGivesEmptyCards(t *testing.T) {
	t.Parallel()
	p := picture(note(fhirmap.NoteSkipped, "Condition/refuted", "Condition skipped: verificationStatus refuted."),
		marker(fhirmap.Marker5HIAAUrine, "no", day(2026, 5, 1)), therapy("sunitinib", true, day(2026, 1, 1)))
	got, err := json.Marshal(evaluate(p))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != `{"cards":[]}` {
		t.Errorf("got %s, want {\"cards\":[]}", got)
	}
	got, _ = json.Marshal(evaluate(nil))
	if string(got) != `{"cards":[]}` {
		t.Errorf("nil picture: got %s", got)
	}
}

// Principle 6: no efficacy figures on any card.
func TestSafetyNoEfficacyFigures(t *testing.T) {
	t.Parallel()
	for _, sc := range scenarios() {
		text := allText(evaluate(sc.p))
		for _, bad := range []string{"73 %", "73%", "10.6", "9.9 months", "response rate", "median survival"} {
			if strings.Contains(text, bad) {
				t.Errorf("%s: efficacy figure %q on a card", sc.name, bad)
			}
		}
	}
}

// Principle 7: every card names its guideline and the facts it used (with reference).
// Principle 8: suggestions are drafts only (checked per resource in
// TestEmittedResources); no card carries systemActions (the type has none).
func TestSafetyFactsAndSources(t *testing.T) {
	t.Parallel()
	for _, sc := range scenarios() {
		for _, c := range evaluate(sc.p).Cards {
			if c.Source.Label == "" || c.Source.URL == "" || c.Source.Topic == nil || c.Source.Topic.System != TopicSystem {
				t.Errorf("%s/%s: source %+v", sc.name, topicOf(c), c.Source)
			}
			if !strings.Contains(c.Detail, "**Facts used**") || !strings.Contains(c.Detail, "`") {
				t.Errorf("%s/%s: detail names no facts with references:\n%s", sc.name, topicOf(c), c.Detail)
			}
		}
	}
}

// Unconfirmed and inactive diagnoses give summary (and work-up) cards only.
func TestUnconfirmedOrInactiveNoTreatment(t *testing.T) {
	t.Parallel()
	for _, o := range []opt{verification("provisional"), verification("unconfirmed"), verification("differential"), clinical("remission"), clinical("resolved"), clinical("inactive")} {
		p := picture(pancreaticNET(), o, ki67(10, "Observation/ki67", day(2026, 3, 1)), liverMets(), boneMets(), progression(day(2026, 5, 1)), sstr(fhirmap.SSTRPositive, 3), syndrome())
		r := evaluateCfg(noCap(), p)
		for _, tp := range treatmentTopics {
			if hasTopic(r, tp) {
				t.Errorf("%s/%s: treatment card %s", p.Diagnoses[0].VerificationStatus, p.Diagnoses[0].ClinicalStatus, tp)
			}
		}
		if !hasTopic(r, TopicSummary) {
			t.Errorf("no summary card")
		}
	}
}
