package cards

import (
	"fmt"
	"time"

	"github.com/nencds/nencds/fhirmap"
)

// Shared building blocks of suggestions: a treatment suggestion carries its baseline
// tests and monitoring tasks as further actions (docs/clinical.md §4, "Rules for every card").
// Each block leaves out what is already on record (an open order for the same code or
// a recent result): nothing is suggested twice.

func monthsToDays(at time.Time, months int) int {
	return int(at.AddDate(0, months, 0).Sub(at).Hours() / 24)
}

// regimen returns MedicationRequests for the drugs of one regimen; two or more drugs
// share a groupIdentifier.
func (e *eval) regimen(note string, concepts ...string) []Action {
	group := ""
	if len(concepts) > 1 {
		group = e.newID()
	}
	var out []Action
	for _, c := range concepts {
		out = append(out, e.drafts.medication(drugOf(c), group, note))
	}
	return out
}

// hepaticActions: a baseline hepatic function panel (unless one is recent or open) and
// a recurring Task for a panel before each cycle.
func (e *eval) hepaticActions(what string, cycleDays int, baseline bool) []Action {
	var out []Action
	codes := codingsOf("hepatic-panel")
	if baseline && e.recentLiverTest(cycleDays) == nil && e.openOrder([]string{"hepatic-panel"}) == nil {
		out = append(out, e.drafts.service(codes, "Hepatic function panel", "Draft order: hepatic function panel (baseline before "+what+")"))
	}
	if !e.openTask(codes) {
		v := every{N: cycleDays}
		out = append(out, e.drafts.recurringTask(codes, "Hepatic function panel each cycle",
			fmt.Sprintf("Hepatic function panel before each cycle of %s (%s)", what, v), v, e.cfg.TaskHorizonMonths))
	}
	return out
}

// echoAction: an echocardiogram for a baseline LVEF, unless an LVEF is recent or an
// echocardiogram is open.
func (e *eval) echoAction(why string) []Action {
	if e.recentLVEF(e.cfg.Recent.LVEFBaselineDays) != nil || e.openOrder([]string{"echocardiogram"}) != nil {
		return nil
	}
	return []Action{e.drafts.service(codingsOf("echocardiogram"), "Transthoracic echocardiogram (LVEF)", "Draft order: echocardiogram, "+why)}
}

// followUpActions: a recurring follow-up visit Task and a recurring cross-sectional
// imaging Task, each unless one is open (an open CT or MRI order included). A recent
// CT/MRI does not hold the imaging Task back: it plans the next ones.
func (e *eval) followUpActions(what string) []Action {
	var out []Action
	visit := []fhirCoding{orderCoding(OrderFollowUpVisit, "Oncology follow-up visit")}
	if !e.openTask(visit) {
		out = append(out, e.followUpVisitTask(visit, what))
	}
	img := codingsOf("ct-abdomen-pelvis-contrast")
	if !e.openTask(img) && e.openOrder([]string{"ct-abdomen-pelvis-contrast", "mri-abdomen"}) == nil {
		out = append(out, e.imagingTask(img, what))
	}
	return out
}

// followUpVisitTask is the recurring follow-up visit Task on treatment.
func (e *eval) followUpVisitTask(visit []fhirCoding, what string) Action {
	v := every{N: e.cfg.FollowUpMonths, Months: true}
	return e.drafts.recurringTask(visit, "Oncology follow-up visit",
		fmt.Sprintf("Oncology follow-up visit %s on %s", v, what), v, e.cfg.TaskHorizonMonths)
}

// imagingTask is the recurring cross-sectional imaging Task on treatment.
func (e *eval) imagingTask(img []fhirCoding, what string) Action {
	v := every{N: e.cfg.ImagingMonths, Months: true}
	return e.drafts.recurringTask(img, "Cross-sectional imaging (contrast CT or MRI)",
		fmt.Sprintf("Contrast CT or MRI %s on %s", v, what), v, e.cfg.TaskHorizonMonths)
}

// openTask reports an open order (ServiceRequest or Task) with one of the codings.
func (e *eval) openTask(codings []fhirCoding) bool {
	for _, o := range e.p.OpenOrders {
		for _, have := range o.Codes {
			for _, w := range codings {
				if have.System == w.System && have.Code == w.Code {
					return true
				}
			}
		}
	}
	return false
}

// recentLVEF returns the most recent LVEF within days.
func (e *eval) recentLVEF(days int) *fhirmap.LVEF {
	for i := range e.p.LVEF {
		if within(e.p.LVEF[i].Date, e.p.At, days) {
			return &e.p.LVEF[i]
		}
	}
	return nil
}

// mdtReview is a draft ServiceRequest for a multidisciplinary tumour board review.
func (e *eval) mdtReview(why string) []Action {
	c := orderCoding(OrderMDTReview, "Multidisciplinary tumour board review")
	if e.openTask([]fhirCoding{c}) {
		return nil
	}
	return []Action{e.drafts.service([]fhirCoding{c}, "Multidisciplinary tumour board (MDT) review: "+why, "Draft request: MDT review ("+why+")")}
}
