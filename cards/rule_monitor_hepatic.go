package cards

import (
	"fmt"
	"slices"
	"strings"

	"github.com/nencds/nencds/fhirmap"
)

// Topic monitor-hepatic — liver tests on hepatotoxic therapy.
//
// When: a confirmed malignant NEN and an active (or on-hold) sunitinib, everolimus or
// chemotherapy (cisplatin, carboplatin, etoposide, temozolomide, capecitabine,
// fluorouracil, irinotecan), and no hepatic function panel (a panel, or ALT, AST and
// total bilirubin each) within the current cycle (Config.CycleDaysChemo 21 for IV chemotherapy,
// Config.CycleDaysOral 28 for oral therapy; the shortest cycle of the active drugs),
// and no open hepatic panel order.
// Then: a warning card with a draft hepatic function panel and a recurring Task for a
// panel before each cycle. This is the monitoring shown instead of re-suggesting a drug
// the patient already takes (principle 3).
//
// Guideline: docs/clinical.md §4 row monitor-hepatic. Source: the SUTENT label when on
// sunitinib, the AFINITOR label when on everolimus, ENETS 2023 for chemotherapy (the
// others as further links).
func ruleMonitorHepatic(e *eval) []draftCard {
	if !e.confirmedNEN() {
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
	// The liver tests of the cycle (incomplete: not a panel), else the last on record.
	n := 0
	for _, lt := range e.p.LiverTests {
		if within(lt.Date, e.p.At, cycle) {
			facts = append(facts, fact{"Liver test in this cycle", labText(lt), lt.Source})
			n++
		}
	}
	if n == 0 && len(e.p.LiverTests) > 0 {
		lt := e.p.LiverTests[0]
		facts = append(facts, fact{"Last liver test", labText(lt), lt.Source})
	} else if n == 0 {
		facts = append(facts, fact{"Last liver test", "none on record", fhirmapSourceNone})
	}
	what := strings.Join(names, " + ")
	// The source is the label (or guideline) of the drugs on record, first the one
	// listed first: SUTENT, AFINITOR, ENETS 2023 for chemotherapy.
	var srcs []Guideline
	add := func(g Guideline) {
		if !slices.Contains(srcs, g) {
			srcs = append(srcs, g)
		}
	}
	for _, t := range active {
		switch t.Drug {
		case "sunitinib":
			add(e.cfg.Guidelines.Sutent)
		case "everolimus":
			add(e.cfg.Guidelines.Afinitor)
		default:
			add(e.cfg.Guidelines.ENETS)
		}
	}
	src, links := srcs[0], srcs[1:]
	return []draftCard{{
		indicator: Warning,
		summary:   fmt.Sprintf("On %s: no complete liver function tests in the current %d-day cycle", md(what), cycle),
		reason:    fmt.Sprintf("The patient is on %s, which needs liver function monitoring each cycle; no complete hepatic function panel (a panel, or ALT, AST and total bilirubin) is on record within the last %d days.", md(what), cycle),
		facts:     facts,
		guideline: src,
		links:     links,
		suggestions: []draftSuggestion{{label: "Order hepatic function panel and monitor each cycle",
			actions: e.hepaticActions(what, cycle, true)}},
	}}
}

// labText names a liver test and its value.
func labText(lt fhirmap.LabResult) string {
	name := map[fhirmap.LabKind]string{fhirmap.LabALT: "ALT", fhirmap.LabAST: "AST", fhirmap.LabBilirubin: "total bilirubin", fhirmap.LabHepaticPanel: "hepatic function panel"}[lt.Kind]
	if name == "" {
		name = string(lt.Kind)
	}
	if lt.Quantity != nil {
		name += " " + strings.TrimSpace(num(lt.Quantity.Value)+" "+lt.Quantity.Unit)
	}
	return name
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
