package cards

import "fmt"

// Topic nec-first-line — first-line chemotherapy of a NEC.
//
// When: a confirmed, active NEC (poorly differentiated; never inferred from Ki-67
// alone) of any primary (lung, large-cell and unknown primary included:
// docs/clinical.md §3), no platinum on record (active or past), ECOG ≤
// Config.ECOGChemoMax (2) or unknown (a Karnofsky score by its ECOG equivalent).
// Then: a warning card with two alternatives (at-most-one): carboplatin + etoposide
// (recommended when age ≥ Config.ElderlyAge (70) or ECOG ≥
// Config.ECOGCarboplatinPreferred (2)) and cisplatin + etoposide. Each suggestion
// drafts both MedicationRequests sharing a groupIdentifier, plus a baseline hepatic
// panel, a hepatic panel Task each 21-day cycle, and the follow-up schedule.
//
// Guideline: docs/clinical.md §4 row nec-first-line; ENETS 2023 NEC guidance (Sorbye et al.,
// prefers carboplatin generally); Hainsworth 2006.
func ruleNECFirstLine(e *eval) []draftCard {
	if !e.treatable() || e.cls.Category != CatNEC {
		return nil
	}
	if e.anyDrug(platinumDrugs...) != nil || !e.ecogAtMost(e.cfg.ECOGChemoMax) {
		return nil
	}
	facts := []fact{e.categoryFact()}
	elderly := e.p.Patient.AgeKnown && e.p.Patient.Age >= e.cfg.ElderlyAge
	if e.p.Patient.AgeKnown {
		facts = append(facts, ageFact(e.p.Patient))
	} else {
		facts = append(facts, fact{"Age", "not on record (birth date unknown)", fhirmapSourceNone})
	}
	ecog2 := e.ecog != nil && e.ecog.ECOG() >= e.cfg.ECOGCarboplatinPreferred
	if e.ecog != nil {
		facts = append(facts, ecogFact(e.ecog))
	} else {
		facts = append(facts, fact{"ECOG", "not on record (treated as fit; confirm)", fhirmapSourceNone})
	}
	cycle := e.cfg.CycleDaysChemo
	mk := func(platinum string, recommended bool) draftSuggestion {
		acts := e.regimen(fmt.Sprintf("%s + etoposide, first line for NEC, every %d days", platinum, cycle), platinum, "etoposide")
		acts = append(acts, e.hepaticActions(platinum+"–etoposide", cycle, true)...)
		acts = append(acts, e.followUpActions(platinum+"–etoposide")...)
		return draftSuggestion{label: "Start " + platinum + " + etoposide", recommended: recommended, actions: acts, drugs: []string{platinum, "etoposide"}}
	}
	why := "ENETS 2023 generally prefers carboplatin to cisplatin."
	switch {
	case elderly && ecog2:
		why = fmt.Sprintf("Carboplatin is recommended here: age %d (≥ %d) and %s (≥ ECOG %d); ENETS 2023 generally prefers carboplatin.", e.p.Patient.Age, e.cfg.ElderlyAge, psText(e.ecog), e.cfg.ECOGCarboplatinPreferred)
	case elderly:
		why = fmt.Sprintf("Carboplatin is recommended here: age %d (≥ %d); ENETS 2023 generally prefers carboplatin.", e.p.Patient.Age, e.cfg.ElderlyAge)
	case ecog2:
		why = fmt.Sprintf("Carboplatin is recommended here: %s (≥ ECOG %d); ENETS 2023 generally prefers carboplatin.", psText(e.ecog), e.cfg.ECOGCarboplatinPreferred)
	}
	return []draftCard{{
		indicator:   Warning,
		summary:     "NEC without prior platinum: consider first-line platinum–etoposide",
		reason:      "A poorly differentiated neuroendocrine carcinoma is on record, with no platinum therapy on record and performance status compatible with chemotherapy. " + why,
		facts:       facts,
		guideline:   e.cfg.Guidelines.ENETS,
		suggestions: []draftSuggestion{mk("carboplatin", elderly || ecog2), mk("cisplatin", false)},
		atMostOne:   true,
		treatment:   true,
	}}
}
