package cards

import (
	"strings"

	"github.com/nencds/nencds/fhirmap"
)

// Topic nen-outside-algorithm — the source's algorithm does not cover this patient.
//
// When: two or more active, confirmed NEN primaries of different sites (not merged into
// one picture, docs/clinical.md §2); or a confirmed, active, malignant NEN that is NET G3, MiNEN, a lung or thymus NET
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
	case len(e.p.MultiplePrimaries) > 1:
		why = "two or more active NEN primaries (" + primariesText(e.p) + ")"
		options = "Options for discussion (information only): each primary is classified and staged on its own; the cards do not merge them into one picture."
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
	// The facts that put the patient outside: each active primary; else the category
	// and site, the indices and differentiation behind a NET G3, the performance
	// status of a NEC.
	var facts []fact
	switch {
	case len(e.p.MultiplePrimaries) > 1:
		for _, ref := range e.p.MultiplePrimaries {
			for _, d := range e.p.Diagnoses {
				if d.Ref == ref {
					facts = append(facts, diagnosisFact(d))
					break
				}
			}
		}
	case e.cls.Category == CatNETG3:
		facts = append([]fact{e.categoryFact()}, e.classFacts()...)
	case e.cls.Category == CatNEC && e.ecog != nil:
		facts = []fact{e.categoryFact(), ecogFact(e.ecog)}
	default:
		facts = []fact{e.categoryFact()}
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

// primariesText names the active primaries by site and reference.
func primariesText(p *fhirmap.Picture) string {
	var parts []string
	for _, ref := range p.MultiplePrimaries {
		for _, d := range p.Diagnoses {
			if d.Ref == ref {
				parts = append(parts, siteText(d.Site))
				break
			}
		}
	}
	return strings.Join(parts, ", ")
}
