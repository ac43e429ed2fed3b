package cards

import (
	"fmt"

	"github.com/nencds/nencds/fhirmap"
)

// Topic monitor-cardiac — LVEF on sunitinib.
//
// When (warning): a confirmed malignant NEN, active (or on-hold) sunitinib, and no baseline LVEF:
// no LVEF from Config.Recent.LVEFBaselineDays (90) before the start of sunitinib
// onwards, and no open echocardiogram order.
// Then: a draft echocardiogram (baseline LVEF).
//
// When (critical): on sunitinib, the most recent LVEF is below Config.LVEFLowerLimit
// (50 %; 50 itself is not below) AND has fallen by at least Config.LVEFRelativeDrop
// (20 %, relative, inclusive: 60 → 48 is critical) from the baseline (the last LVEF before the start, else the first on record).
// Then: interrupt and/or reduce the sunitinib dose per the SUTENT label and request a
// cardiology review (a draft Task for the prescriber and a draft ServiceRequest).
//
// Guideline: docs/clinical.md §4 row monitor-cardiac; SUTENT US label (left ventricular
// dysfunction).
func ruleMonitorCardiac(e *eval) []draftCard {
	if !e.confirmedNEN() {
		return nil
	}
	sun := e.activeDrug("sunitinib")
	if sun == nil {
		return nil
	}
	baseline := e.lvefBaseline(sun)
	if baseline == nil {
		if e.openOrder([]string{"echocardiogram"}) != nil {
			return nil
		}
		return []draftCard{{
			indicator: Warning,
			summary:   "On sunitinib without a baseline LVEF: order an echocardiogram",
			reason:    "Sunitinib can cause left ventricular dysfunction; no LVEF is on record from before the start of treatment onwards.",
			facts:     []fact{therapyFact(*sun), {"LVEF", "none on record", fhirmapSourceNone}},
			guideline: e.cfg.Guidelines.Sutent,
			suggestions: []draftSuggestion{{label: "Order echocardiogram (baseline LVEF)", actions: []Action{
				e.drafts.service(codingsOf("echocardiogram"), "Transthoracic echocardiogram (LVEF)", "Draft order: echocardiogram for a baseline LVEF on sunitinib"),
			}}},
		}}
	}
	latest := &e.p.LVEF[0]
	if latest.Ref == baseline.Ref || latest.Percent >= e.cfg.LVEFLowerLimit {
		return nil
	}
	if baseline.Percent <= 0 {
		return nil
	}
	drop := (baseline.Percent - latest.Percent) / baseline.Percent
	// A tolerance of 1e-9 keeps an exact 20 % fall (60 → 48) from being missed by
	// floating-point rounding.
	if drop < e.cfg.LVEFRelativeDrop-1e-9 {
		return nil
	}
	var sugg []draftSuggestion
	review := orderCoding(OrderCardiologyReview, "Cardiology review")
	dose := orderCoding(OrderDoseReviewCardiac, "Review of cardiotoxic drug dose")
	var acts []Action
	if !e.openTask([]fhirCoding{dose}) {
		acts = append(acts, e.drafts.monitoringTask([]fhirCoding{dose}, "Sunitinib dose review for LVEF decline",
			"Interrupt and/or reduce the sunitinib dose per the SUTENT label (LVEF decline)", 2))
	}
	if !e.openTask([]fhirCoding{review}) {
		acts = append(acts, e.drafts.service([]fhirCoding{review}, "Cardiology review: LVEF decline on sunitinib", "Draft referral: cardiology review of LVEF decline"))
	}
	if len(acts) > 0 {
		sugg = append(sugg, draftSuggestion{label: "Interrupt or reduce sunitinib and request cardiology review", actions: acts})
	}
	return []draftCard{{
		indicator: Critical,
		summary:   fmt.Sprintf("LVEF fell from %s %% to %s %% on sunitinib: interrupt or reduce dose, cardiology review", num(baseline.Percent), num(latest.Percent)),
		reason: fmt.Sprintf("The most recent LVEF (%s %%) is below %s %% and %.0f %% lower than the baseline (%s %%), a relative fall of at least %.0f %%.",
			num(latest.Percent), num(e.cfg.LVEFLowerLimit), drop*100, num(baseline.Percent), e.cfg.LVEFRelativeDrop*100),
		facts:       []fact{therapyFact(*sun), lvefFact(*baseline), lvefFact(*latest)},
		guideline:   e.cfg.Guidelines.Sutent,
		suggestions: sugg,
	}}
}

// lvefBaseline: the last LVEF from LVEFBaselineDays before the start of the drug up to
// its start; else the first LVEF after the start; with no start date, the oldest LVEF.
func (e *eval) lvefBaseline(t *fhirmap.Therapy) *fhirmap.LVEF {
	ls := e.p.LVEF // newest first
	if len(ls) == 0 {
		return nil
	}
	if t.Start.IsZero() {
		return &ls[len(ls)-1]
	}
	from := t.Start.AddDate(0, 0, -e.cfg.Recent.LVEFBaselineDays)
	for i := range ls {
		if !ls[i].Date.After(t.Start) && !ls[i].Date.Before(from) {
			return &ls[i]
		}
	}
	for i := len(ls) - 1; i >= 0; i-- {
		if ls[i].Date.After(t.Start) {
			return &ls[i]
		}
	}
	return nil
}
