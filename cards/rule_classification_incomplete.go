package cards

import (
	"strings"

	"github.com/nencds/nencds/fhirmap"
)

// Topic nen-classification-incomplete — the category cannot be decided safely.
//
// When: a confirmed malignant NEN is on record and there is no Ki-67, mitotic count or histologic
// grade; or Ki-67 (or mitoses) is high grade (> 20 %) without a recorded
// differentiation; or the differentiation on record conflicts (with itself, or poorly
// differentiated with a G1/G2 index).
// Then: a warning card asking for pathology review (Ki-67 index, mitotic count per
// 2 mm², differentiation), offered as a draft ServiceRequest unless one is open. No
// treatment card of either branch fires while the grade is undetermined (principles 1
// and 5). A NEC decided by morphology alone (no index on record) is not undetermined:
// the card then says so instead of "no treatment is suggested".
//
// Guideline: docs/clinical.md §1 principles 1 and 5, §3; WHO 2019 (Rindi et al. 2018).
func ruleClassificationIncomplete(e *eval) []draftCard {
	if !e.confirmedNEN() || len(e.cls.Incomplete) == 0 {
		return nil
	}
	facts := e.baseFacts()
	for _, d := range e.cls.DiffConflicts {
		v := "well differentiated"
		if d.Value == fhirmap.DiffPoor {
			v = "poorly differentiated"
		}
		facts = append(facts, fact{"Differentiation", v + " (from " + d.From + ")", d.Source})
	}
	review := orderCoding(OrderPathologyReview, "Pathology review of NEN grade and differentiation")
	var sugg []draftSuggestion
	if !e.openTask([]fhirCoding{review}) {
		sugg = append(sugg, draftSuggestion{
			label: "Request pathology review (Ki-67, mitoses, differentiation)",
			actions: []Action{e.drafts.service([]fhirCoding{review},
				"Pathology review: Ki-67 index, mitotic count per 2 mm2 and differentiation (WHO 2019)",
				"Draft request: pathology review of grade and differentiation")},
		})
	}
	summary := "NEN classification incomplete: pathology review needed before treatment choice"
	reason := "The category cannot be decided safely: " + strings.Join(mdAll(e.cls.Incomplete), "; ") + ". Ki-67 above 20 % alone does not make a NEC: NET G3 and NEC are told apart by morphology. No treatment is suggested until this is resolved."
	if !e.cls.Uncertain() {
		// Decided by morphology (a poorly differentiated carcinoma is a NEC, high grade
		// by definition), but the proliferation index is missing from the record.
		summary = "NEN classification incomplete: " + string(e.cls.Category) + " by morphology, proliferation index not on record"
		reason = "The category is decided by morphology (" + string(e.cls.Category) + "), but the record is incomplete: " + strings.Join(mdAll(e.cls.Incomplete), "; ") + ". Ask pathology to record the Ki-67 index and mitotic count."
	}
	return []draftCard{{
		indicator:   Warning,
		summary:     summary,
		reason:      reason,
		facts:       facts,
		guideline:   e.cfg.Guidelines.WHO,
		suggestions: sugg,
	}}
}
