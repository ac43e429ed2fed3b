package cards

import (
	"fmt"
	"strings"
)

// Topic followup-schedule — follow-up on active treatment.
//
// When: a confirmed malignant NEN, an active (or on-hold) anticancer drug, and either no open
// follow-up visit Task, or no contrast CT/MRI within Config.ImagingMonths (6) and no
// open CT/MRI order.
// Then: an info card with what is missing (any): a recurring follow-up visit Task every
// Config.FollowUpMonths (3) months; a draft contrast CT (or MRI) now and a recurring
// imaging Task every Config.ImagingMonths months.
//
// Guideline: docs/clinical.md §4 row followup-schedule; ESMO 2020 GEP-NEN (follow-up).
func ruleFollowUp(e *eval) []draftCard {
	if !e.confirmedNEN() {
		return nil
	}
	var facts []fact
	var names []string
	for _, t := range e.p.Therapies {
		if t.Active && !contains(names, t.Drug) {
			facts = append(facts, therapyFact(t))
			names = append(names, t.Drug)
		}
	}
	if len(names) == 0 {
		return nil
	}
	what := strings.Join(names, " + ")
	var sugg []draftSuggestion
	visit := []fhirCoding{orderCoding(OrderFollowUpVisit, "Oncology follow-up visit")}
	if !e.openTask(visit) {
		sugg = append(sugg, draftSuggestion{label: fmt.Sprintf("Schedule follow-up every %d months", e.cfg.FollowUpMonths), actions: []Action{
			e.followUpVisitTask(visit, what),
		}})
	}
	imgDays := monthsToDays(e.p.At.AddDate(0, -e.cfg.ImagingMonths, 0), e.cfg.ImagingMonths)
	img := codingsOf("ct-abdomen-pelvis-contrast")
	if last := e.recentCrossSection(imgDays); last != nil {
		facts = append(facts, fact{"Last cross-sectional imaging", last.Modality, last.Source})
	} else if e.openOrder([]string{"ct-abdomen-pelvis-contrast", "mri-abdomen"}) == nil {
		facts = append(facts, fact{"Cross-sectional imaging", fmt.Sprintf("none in the last %d months", e.cfg.ImagingMonths), fhirmapSourceNone})
		sugg = append(sugg, draftSuggestion{label: fmt.Sprintf("Order contrast CT now and every %d months", e.cfg.ImagingMonths), actions: []Action{
			e.drafts.service(img, "Contrast CT abdomen and pelvis (or MRI), restaging", "Draft order: contrast CT of abdomen and pelvis (restaging)"),
			e.imagingTask(img, what),
		}})
	}
	if len(sugg) == 0 {
		return nil
	}
	return []draftCard{{
		indicator:   Info,
		summary:     "On " + md(what) + ": follow-up schedule incomplete",
		reason:      fmt.Sprintf("On active treatment the schedule is a follow-up visit every %d months and cross-sectional imaging every %d months; part of it is not on record.", e.cfg.FollowUpMonths, e.cfg.ImagingMonths),
		facts:       facts,
		guideline:   e.cfg.Guidelines.ESMO,
		suggestions: sugg,
	}}
}
