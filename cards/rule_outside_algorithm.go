package cards

import "strings"

// Topic nen-outside-algorithm — the source's algorithm does not cover this patient.
//
// When: a confirmed, active, malignant NEN that is NET G3, MiNEN, a lung or thymus NET
// (a lung or thymus NEC follows the NEC branch, docs/clinical.md §3), or a NEC with
// ECOG ≥ 3 (Config.ECOGOutsideAlgorithm; a Karnofsky score by its ECOG equivalent:
// KPS 40 is ECOG 3).
// Then: a warning card asking for MDT review; the options are listed as information
// only (no draft orders of treatment).
//
// Guideline: docs/clinical.md §3 (MiNEN, lung/thymus, NET G3) and §4 row
// nen-outside-algorithm. Source: ESMO 2020 GEP-NEN (NET G3, MiNEN), NCCN (lung and
// thymus), ENETS 2023 (NEC with ECOG ≥ 3).
func ruleOutsideAlgorithm(e *eval) []draftCard {
	if !e.confirmedNEN() || !e.activeDisease {
		return nil
	}
	var why, options string
	src := e.cfg.Guidelines.ESMO
	switch {
	case e.cls.Category == CatMiNEN:
		why = "MiNEN (mixed neuroendocrine–non-neuroendocrine neoplasm)"
		options = "Options for discussion (information only): treatment is usually directed at the most aggressive component."
	case e.cls.OutsideSite:
		why = "a " + siteText(e.site) + " primary"
		src = e.cfg.Guidelines.NCCN // lung and thymus NETs: outside the ESMO GEP-NEN guideline
		options = "Options for discussion (information only): lung and thymus NETs are graded by mitoses and necrosis (typical / atypical carcinoid), not by the digestive Ki-67 cut-offs."
	case e.cls.Category == CatNETG3:
		why = "NET G3 (well differentiated, Ki-67 > 20 % or mitoses > 20 per 2 mm²)"
		options = "Options for discussion (information only): surgery when resectable, somatostatin analogue when SSTR-positive, PRRT, everolimus or sunitinib, temozolomide-based chemotherapy."
	case e.cls.Category == CatNEC && e.ecog != nil && e.ecog.ECOG() >= e.cfg.ECOGOutsideAlgorithm:
		why = "NEC with " + psText(e.ecog)
		src = e.cfg.Guidelines.ENETS
		options = "Options for discussion (information only): best supportive care; chemotherapy only after individual assessment of fitness."
	default:
		return nil
	}
	facts := e.baseFacts()
	if e.ecog != nil {
		facts = append(facts, ecogFact(e.ecog))
	}
	var sugg []draftSuggestion
	if a := e.mdtReview(why); a != nil {
		sugg = append(sugg, draftSuggestion{label: "Request MDT review", actions: a})
	}
	return []draftCard{{
		indicator:   Warning,
		summary:     "Outside the NEN algorithm: " + strings.TrimPrefix(why, "a ") + "; MDT review",
		reason:      "This patient has " + why + ", which the source's treatment algorithm does not cover. No treatment is ordered from this card.",
		facts:       facts,
		extra:       []string{options},
		guideline:   src,
		suggestions: sugg,
	}}
}
