package cards

import (
	"fmt"

	"github.com/nencds/nencds/fhirmap"
)

// Order check — sunitinib and the LVEF.
//
// When (warning): the draft names sunitinib and no LVEF is on record within
// orderLVEFDays (90) before the evaluation time (89 days: recent; 91: not), and no
// echocardiogram is open or drafted with it.
// Then: suggestions: create an echocardiogram (baseline LVEF); delete the draft.
//
// When (warning): the most recent LVEF within 90 days is below Config.LVEFLowerLimit
// (50 %); critical when it has also fallen by at least Config.LVEFRelativeDrop (20 %,
// relative) from the oldest LVEF on record (the decline of docs/clinical.md §4,
// monitor-cardiac).
// Then: suggestions: create a cardiology review (unless open); delete the draft.
//
// Source: docs/clinical.md §5; SUTENT US label (left ventricular dysfunction).
func orderSunitinibLVEF(e *eval, o *orderEval, d *fhirmap.DraftOrder) []draftCard {
	if len(draftDrugs(d, "sunitinib")) == 0 {
		return nil
	}
	name := drugName("sunitinib")
	recent := e.recentLVEF(orderLVEFDays)
	if recent == nil {
		if e.openOrder([]string{"echocardiogram"}) != nil || o.codrafted("echocardiogram") != nil {
			return nil
		}
		facts := []fact{draftFact(d)}
		if len(e.p.LVEF) > 0 {
			facts = append(facts, fact{"Last LVEF", num(e.p.LVEF[0].Percent) + " %", e.p.LVEF[0].Source})
		} else {
			facts = append(facts, fact{"LVEF", "none on record", fhirmapSourceNone})
		}
		sugg := []draftSuggestion{{label: "Order echocardiogram (baseline LVEF)", actions: []Action{
			e.drafts.service(codingsOf("echocardiogram"), "Transthoracic echocardiogram (LVEF)", "Draft order: echocardiogram for a baseline LVEF before sunitinib"),
		}}}
		return []draftCard{{
			indicator:   Warning,
			summary:     fmt.Sprintf("Sunitinib drafted with no LVEF in the last %d days: order an echocardiogram", orderLVEFDays),
			reason:      "Sunitinib can cause left ventricular dysfunction; a baseline LVEF is expected before treatment.",
			facts:       facts,
			guideline:   e.cfg.Guidelines.Sutent,
			suggestions: append(sugg, deleteDraft(d, name)...),
		}}
	}
	if recent.Percent >= e.cfg.LVEFLowerLimit {
		return nil
	}
	ind := Warning
	facts := []fact{draftFact(d), lvefFact(*recent)}
	reason := fmt.Sprintf("The most recent LVEF (%s %%) is below %s %%.", num(recent.Percent), num(e.cfg.LVEFLowerLimit))
	if base := &e.p.LVEF[len(e.p.LVEF)-1]; base.Ref != recent.Ref && base.Percent > 0 {
		drop := (base.Percent - recent.Percent) / base.Percent
		if drop >= e.cfg.LVEFRelativeDrop-1e-9 {
			ind = Critical
			facts = append(facts, fact{"Earlier LVEF", num(base.Percent) + " %", base.Source})
			reason += fmt.Sprintf(" It has fallen %.0f %% from %s %%, a relative decline of at least %.0f %%.", drop*100, num(base.Percent), e.cfg.LVEFRelativeDrop*100)
		}
	}
	var sugg []draftSuggestion
	review := orderCoding(OrderCardiologyReview, "Cardiology review")
	if !e.openTask([]fhirCoding{review}) {
		sugg = append(sugg, draftSuggestion{label: "Request cardiology review", actions: []Action{
			e.drafts.service([]fhirCoding{review}, "Cardiology review: reduced LVEF before sunitinib", "Draft referral: cardiology review of the reduced LVEF"),
		}})
	}
	return []draftCard{{
		indicator:   ind,
		summary:     fmt.Sprintf("Sunitinib drafted with LVEF %s %% (below %s %%): review before starting", num(recent.Percent), num(e.cfg.LVEFLowerLimit)),
		reason:      reason,
		facts:       facts,
		guideline:   e.cfg.Guidelines.Sutent,
		suggestions: append(sugg, deleteDraft(d, name)...),
	}}
}
