package cards

import (
	"fmt"
	"slices"
)

// Topic nen-grade-discordance — grades differ between specimens or dates.
//
// When: a NEN is on record and the Ki-67 values (or mitotic counts) on record give
// different WHO grades (e.g. Ki-67 8 % in 2021 = G2, 35 % in 2026 = G3).
// Then: a warning card listing each value with its date and specimen (tumour
// heterogeneity or progression of grade), with an MDT review request.
//
// Guideline: GUIDELINE §4 row nen-grade-discordance; WHO 2019 (Rindi et al. 2018).
func ruleGradeDiscordance(e *eval) []draftCard {
	if !e.nen() {
		return nil
	}
	var facts []fact
	var grades []int
	for i := range e.p.Ki67 {
		facts = append(facts, ki67Fact(&e.p.Ki67[i]))
		g := Ki67Grade(e.p.Ki67[i].Percent)
		if !slices.Contains(grades, g) {
			grades = append(grades, g)
		}
	}
	for i := range e.p.Mitoses {
		facts = append(facts, mitosesFact(&e.p.Mitoses[i]))
		g := MitoticGrade(e.p.Mitoses[i].Per2mm2)
		if !slices.Contains(grades, g) {
			grades = append(grades, g)
		}
	}
	if len(grades) < 2 {
		return nil
	}
	slices.Sort(grades)
	var sugg []draftSuggestion
	if a := e.mdtReview("grade discordance between specimens or dates"); a != nil {
		sugg = append(sugg, draftSuggestion{label: "Request MDT review of the discordant grades", actions: a})
	}
	return []draftCard{{
		indicator: Warning,
		summary:   fmt.Sprintf("NEN grade discordance: G%d to G%d across specimens or dates; MDT review", grades[0], grades[len(grades)-1]),
		reason: "The proliferation values on record give different grades. This may reflect tumour heterogeneity or a change of grade over time; " +
			"the most recent value is used for the category. Review which specimen represents the disease now.",
		facts:       facts,
		guideline:   e.cfg.Guidelines.WHO,
		suggestions: sugg,
	}}
}
