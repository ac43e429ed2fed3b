package cards

import (
	"fmt"
	"strings"

	"github.com/nencds/nencds/fhirmap"
)

// Topic monitor-hepatic — liver tests on hepatotoxic therapy.
//
// When: a malignant NEN and an active (or on-hold) sunitinib, everolimus or
// chemotherapy (cisplatin, carboplatin, etoposide, temozolomide, capecitabine,
// fluorouracil, irinotecan), and no hepatic function panel, ALT, AST or bilirubin
// within the current cycle (Config.CycleDaysChemo 21 for IV chemotherapy,
// Config.CycleDaysOral 28 for oral therapy; the shortest cycle of the active drugs),
// and no open hepatic panel order.
// Then: a warning card with a draft hepatic function panel and a recurring Task for a
// panel before each cycle. This is the monitoring shown instead of re-suggesting a drug
// the patient already takes (principle 3).
//
// Guideline: GUIDELINE §4 row monitor-hepatic; SUTENT and AFINITOR US labels (hepatic
// monitoring); ENETS 2023 (chemotherapy).
func ruleMonitorHepatic(e *eval) []draftCard {
	if !e.nen() || !e.malignant {
		return nil
	}
	var active []fhirmap.Therapy
	var names []string
	for _, t := range e.p.Therapies {
		if t.Active && (t.Drug == "sunitinib" || t.Drug == "everolimus" || contains(chemoDrugs, t.Drug)) && !contains(names, t.Drug) {
			active = append(active, t)
			names = append(names, t.Drug)
		}
	}
	if len(active) == 0 {
		return nil
	}
	cycle := e.cycleDays(active)
	if e.recentLiverTest(cycle) != nil || e.openOrder([]string{"hepatic-panel"}) != nil {
		return nil
	}
	var facts []fact
	for _, t := range active {
		facts = append(facts, therapyFact(t))
	}
	if len(e.p.LiverTests) > 0 {
		lt := e.p.LiverTests[0]
		facts = append(facts, fact{"Last liver test", string(lt.Kind), lt.Source})
	} else {
		facts = append(facts, fact{"Last liver test", "none on record", fhirmapSourceNone})
	}
	what := strings.Join(names, " + ")
	return []draftCard{{
		indicator: Warning,
		summary:   fmt.Sprintf("On %s: no liver function tests in the current %d-day cycle", what, cycle),
		reason:    fmt.Sprintf("The patient is on %s, which needs liver function monitoring each cycle; no hepatic panel (or ALT/AST/bilirubin) is on record within the last %d days.", what, cycle),
		facts:     facts,
		guideline: e.cfg.Guidelines.Sutent,
		links:     []Guideline{e.cfg.Guidelines.Afinitor, e.cfg.Guidelines.ENETS},
		suggestions: []draftSuggestion{{label: "Order hepatic function panel and monitor each cycle",
			actions: e.hepaticActions(what, cycle, true)}},
	}}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
