package cards

import "fmt"

// Topic net-ssa — somatostatin analogue for a metastatic well-differentiated NET.
//
// When: a confirmed, active, well-differentiated NET G1/G2 of a GEP site, metastatic
// or unresectable (distant or locally advanced extent, docs/clinical.md §4),
// SSTR-positive on the most recent SSTR imaging with a result, or
// with carcinoid syndrome on record; and not on an SSA (octreotide or lanreotide).
// Then: an info card with two alternatives (at-most-one): lanreotide 120 mg deep SC
// every 4 weeks; octreotide LAR 30 mg IM every 4 weeks; each with the follow-up
// schedule.
//
// Guideline: docs/clinical.md §4 row net-ssa; ESMO 2020 GEP-NEN.
func ruleSSA(e *eval) []draftCard {
	if !e.treatable() || !e.cls.WellDifferentiatedNET() || !gep(e.site) || !e.p.Extent.Advanced() {
		return nil
	}
	if e.activeDrug(ssaDrugs...) != nil {
		return nil
	}
	sstr := e.sstrPositive()
	if sstr == nil && len(e.p.CarcinoidSyndrome) == 0 {
		return nil
	}
	facts := append([]fact{e.categoryFact()}, e.spreadFacts()...)
	why := ""
	if sstr != nil {
		facts = append(facts, sstrFact(*sstr))
		why = "SSTR-positive imaging"
	}
	for _, cs := range e.p.CarcinoidSyndrome {
		facts = append(facts, conditionFact("Carcinoid syndrome", cs))
		if why == "" {
			why = "carcinoid syndrome"
		} else if why == "SSTR-positive imaging" {
			why += " and carcinoid syndrome"
		}
	}
	mk := func(concept, label string) draftSuggestion {
		acts := e.regimen("", concept)
		acts = append(acts, e.followUpActions(concept)...)
		return draftSuggestion{label: label, actions: acts, drugs: []string{concept}}
	}
	return []draftCard{{
		indicator: Info,
		summary:   fmt.Sprintf("Metastatic %s with %s: consider a somatostatin analogue", e.cls.Category, why),
		reason:    "A well-differentiated NET is " + spreadWord(e.p.Extent) + " with " + why + ", and no somatostatin analogue is on record as active.",
		facts:     facts,
		guideline: e.cfg.Guidelines.ESMO,
		suggestions: []draftSuggestion{
			mk("lanreotide", "Start lanreotide 120 mg every 4 weeks"),
			mk("octreotide", "Start octreotide LAR 30 mg every 4 weeks"),
		},
		atMostOne: true,
		treatment: true,
	}}
}
