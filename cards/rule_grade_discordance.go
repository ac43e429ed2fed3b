package cards

import (
	"fmt"
	"slices"

	"github.com/nencds/nencds/fhirmap"
)

// Topic nen-grade-discordance — grades differ between specimens or dates.
//
// When: a confirmed, malignant NEN is on record and its Ki-67 values give different
// WHO grades (e.g. Ki-67 8 % in 2021 = G2, 35 % in 2026 = G3), or its mitotic counts
// do — also values of the same date (the higher one grades). Each kind is compared with itself: a Ki-67 grade that differs from the mitotic
// grade of the same specimen is not discordance but the WHO rule "the higher of the
// two" (Classify applies it). Values that cannot be graded are left out.
// Then: a warning card listing each value with its date and specimen (tumour
// heterogeneity or progression of grade), with an MDT review request.
//
// Guideline: docs/clinical.md §4 row nen-grade-discordance; WHO 2019 (Rindi et al. 2018).
func ruleGradeDiscordance(e *eval) []draftCard {
	if !e.nen() || !e.malignant || !e.confirmed {
		return nil
	}
	var facts []fact
	lo, hi := 0, 0
	spread := func(grades []int) {
		if len(grades) < 2 {
			return
		}
		a, b := slices.Min(grades), slices.Max(grades)
		if a == b {
			return
		}
		if lo == 0 || a < lo {
			lo = a
		}
		hi = max(hi, b)
	}
	var kg, mg []int
	for i := range e.p.Ki67 {
		if g := fhirmap.Ki67Grade(e.p.Ki67[i].Percent); g > 0 {
			kg = append(kg, g)
		}
	}
	for i := range e.p.Mitoses {
		if g := fhirmap.MitoticGrade(e.p.Mitoses[i].Per2mm2); g > 0 {
			mg = append(mg, g)
		}
	}
	spread(kg)
	spread(mg)
	if hi == 0 {
		return nil
	}
	for i := range e.p.Ki67 {
		facts = append(facts, ki67Fact(&e.p.Ki67[i]))
	}
	for i := range e.p.Mitoses {
		facts = append(facts, mitosesFact(&e.p.Mitoses[i]))
	}
	var sugg []draftSuggestion
	if a := e.mdtReview("grade discordance between specimens or dates"); a != nil {
		sugg = append(sugg, draftSuggestion{label: "Request MDT review of the discordant grades", actions: a})
	}
	return []draftCard{{
		indicator: Warning,
		summary:   fmt.Sprintf("NEN grade discordance: G%d to G%d across specimens or dates; MDT review", lo, hi),
		reason: "The proliferation values on record give different grades. This may reflect tumour heterogeneity or a change of grade over time; " +
			"the most recent value is used for the category (of several values of the same date, the higher). Review which specimen represents the disease now.",
		facts:       facts,
		guideline:   e.cfg.Guidelines.WHO,
		suggestions: sugg,
	}}
}
