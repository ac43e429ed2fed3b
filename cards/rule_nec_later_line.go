package cards

import "fmt"

// Topic nec-later-line — a NEC progressing after platinum.
//
// When: a confirmed, active NEC of any primary (docs/clinical.md §3), a platinum on record that is no longer
// active, progression (disease status "worsened" within Config.ProgressionWindowMonths,
// and not dated before the platinum started)
// and ECOG ≤ Config.ECOGChemoMax or unknown.
// Then: a warning card with two alternatives (at-most-one): platinum–etoposide
// re-challenge (carboplatin + etoposide; source: "even in previously treated patients")
// and temozolomide-based chemotherapy (CAPTEM: temozolomide + capecitabine; source:
// "particularly pancreatic NEC"). The detail notes FOLFIRI as an ENETS 2023 option.
// Each suggestion carries hepatic monitoring and the follow-up schedule.
//
// Guideline: docs/clinical.md §4 row nec-later-line; ENETS 2023 NEC guidance.
func ruleNECLaterLine(e *eval) []draftCard {
	if !e.treatable() || e.cls.Category != CatNEC || e.progression == nil {
		return nil
	}
	past := e.anyDrug(platinumDrugs...)
	if past == nil || e.activeDrug(platinumDrugs...) != nil || !e.ecogAtMost(e.cfg.ECOGChemoMax) {
		return nil
	}
	// "Progressing after platinum": a progression dated before the platinum started is
	// the reason for the first line, not a progression after it.
	if start := therapyStart(past); !start.IsZero() && e.progression.Date.Before(start) {
		return nil
	}
	facts := []fact{e.categoryFact(), therapyFact(*past), statusFact(*e.progression)}
	if e.ecog != nil {
		facts = append(facts, ecogFact(e.ecog))
	}
	chemo, oral := e.cfg.CycleDaysChemo, e.cfg.CycleDaysOral
	re := e.regimen(fmt.Sprintf("platinum–etoposide re-challenge for progressing NEC, every %d days", chemo), "carboplatin", "etoposide")
	re = append(re, e.hepaticActions("carboplatin–etoposide", chemo, true)...)
	re = append(re, e.followUpActions("carboplatin–etoposide")...)
	tem := e.regimen(fmt.Sprintf("CAPTEM for progressing NEC, every %d days", oral), "temozolomide", "capecitabine")
	tem = append(tem, e.hepaticActions("CAPTEM", oral, true)...)
	tem = append(tem, e.followUpActions("CAPTEM")...)
	pancreas := ""
	if e.site == "pancreas" {
		pancreas = " The source names temozolomide-based therapy particularly for pancreatic NEC, which applies here."
	}
	return []draftCard{{
		indicator: Warning,
		summary:   "NEC progressing after platinum: consider second-line chemotherapy",
		reason:    "A NEC is progressing after platinum-based chemotherapy." + pancreas,
		facts:     facts,
		extra:     []string{"FOLFIRI (fluorouracil, leucovorin, irinotecan) is a further second-line option in the ENETS 2023 guidance; discuss at MDT."},
		guideline: e.cfg.Guidelines.ENETS,
		suggestions: []draftSuggestion{
			{label: "Re-challenge with carboplatin + etoposide", actions: re, drugs: []string{"carboplatin", "etoposide"}},
			{label: "Start temozolomide + capecitabine (CAPTEM)", actions: tem, drugs: []string{"temozolomide", "capecitabine"}},
		},
		atMostOne: true,
		treatment: true,
	}}
}
