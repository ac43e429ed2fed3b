package cards

import (
	"fmt"
	"strings"
)

// Topic pnet-targeted — targeted therapy of a progressive pancreatic NET.
//
// When: a confirmed, active, well-differentiated pancreatic NET G1/G2, metastatic or
// unresectable (distant or locally advanced extent, docs/clinical.md §4),
// progressive (disease status "worsened" within
// Config.ProgressionWindowMonths), and not on sunitinib or everolimus.
// Then: a warning card with two alternatives (at-most-one): sunitinib 37.5 mg daily
// [SUTENT label] with hepatic panel (baseline and each 28-day cycle), echocardiogram
// (baseline LVEF) and the follow-up schedule; everolimus 10 mg daily [AFINITOR label]
// with hepatic panel and follow-up. A drug that was taken before and stopped is not
// offered again (the other one is).
//
// Guideline: docs/clinical.md §4 row pnet-targeted; SUTENT and AFINITOR US labels; ESMO 2020.
func rulePNETTargeted(e *eval) []draftCard {
	if !e.treatable() || !e.cls.WellDifferentiatedNET() || e.site != "pancreas" || e.progression == nil {
		return nil
	}
	if !e.p.Extent.Advanced() || e.activeDrug(targetedDrugs...) != nil {
		return nil
	}
	facts := append(append([]fact{e.categoryFact()}, e.spreadFacts()...), statusFact(*e.progression))
	cycle := e.cfg.CycleDaysOral
	var sugg []draftSuggestion
	var before []string
	if prior := e.anyDrug("sunitinib"); prior == nil {
		acts := e.regimen("", "sunitinib")
		acts = append(acts, e.hepaticActions("sunitinib", cycle, true)...)
		acts = append(acts, e.echoAction("baseline LVEF before sunitinib")...)
		acts = append(acts, e.followUpActions("sunitinib")...)
		sugg = append(sugg, draftSuggestion{label: "Start sunitinib 37.5 mg daily", actions: acts, drugs: []string{"sunitinib"}})
	} else {
		facts = append(facts, therapyFact(*prior))
		before = append(before, "sunitinib")
	}
	if prior := e.anyDrug("everolimus"); prior == nil {
		acts := e.regimen("", "everolimus")
		acts = append(acts, e.hepaticActions("everolimus", cycle, true)...)
		acts = append(acts, e.followUpActions("everolimus")...)
		sugg = append(sugg, draftSuggestion{label: "Start everolimus 10 mg daily", actions: acts, drugs: []string{"everolimus"}})
	} else {
		facts = append(facts, therapyFact(*prior))
		before = append(before, "everolimus")
	}
	extra := ""
	if len(before) > 0 {
		extra = "Not offered again because it was taken before: " + strings.Join(before, ", ") + "."
	}
	return []draftCard{{
		indicator:   Warning,
		summary:     fmt.Sprintf("Progressive %s pancreatic %s: consider sunitinib or everolimus", spreadWord(e.p.Extent), e.cls.Category),
		reason:      "A well-differentiated pancreatic NET is " + spreadWord(e.p.Extent) + " and progressing, and the patient is on neither sunitinib nor everolimus.",
		facts:       facts,
		extra:       []string{extra},
		guideline:   e.cfg.Guidelines.ESMO,
		links:       []Guideline{e.cfg.Guidelines.Sutent, e.cfg.Guidelines.Afinitor},
		suggestions: sugg,
		atMostOne:   true,
		treatment:   true,
	}}
}
