package cards

import (
	"fmt"
	"strings"

	"github.com/nencds/nencds/fhirmap"
)

// Order check — a hepatic function panel before sunitinib or everolimus.
//
// When (warning): the draft names sunitinib or everolimus, no hepatic function panel
// (a panel, or ALT, AST and total bilirubin each) is on record within orderHepaticDays
// (30) before the evaluation time (29 days: recent; 31: not), and no hepatic panel is
// open or drafted with it.
// Then: suggestions: create a hepatic function panel; delete the draft.
//
// Source: docs/clinical.md §5; SUTENT US label (hepatotoxicity), AFINITOR US label.
func orderHepaticPanel(e *eval, o *orderEval, d *fhirmap.DraftOrder) []draftCard {
	drugs := draftDrugs(d, targetedDrugs...)
	if len(drugs) == 0 {
		return nil
	}
	if e.recentLiverTest(orderHepaticDays) != nil || e.openOrder([]string{"hepatic-panel"}) != nil || o.codrafted("hepatic-panel") != nil {
		return nil
	}
	name := draftName(d, drugs)
	facts := []fact{draftFact(d)}
	if len(e.p.LiverTests) > 0 {
		lt := e.p.LiverTests[0]
		facts = append(facts, fact{"Last liver test", labText(lt), lt.Source})
	} else {
		facts = append(facts, fact{"Liver tests", "none on record", fhirmapSourceNone})
	}
	g := e.cfg.Guidelines.Sutent
	var links []Guideline
	if contains(drugs, "everolimus") {
		if contains(drugs, "sunitinib") {
			links = []Guideline{e.cfg.Guidelines.Afinitor}
		} else {
			g = e.cfg.Guidelines.Afinitor
		}
	}
	sugg := []draftSuggestion{{label: "Order hepatic function panel", actions: []Action{
		e.drafts.service(codingsOf("hepatic-panel"), "Hepatic function panel", "Draft order: hepatic function panel (baseline before "+name+")"),
	}}}
	return []draftCard{{
		indicator:   Warning,
		summary:     fmt.Sprintf("%s drafted with no hepatic function panel in the last %d days", capitalise(name), orderHepaticDays),
		reason:      fmt.Sprintf("Liver function is checked before %s starts and during treatment (hepatotoxicity).", strings.ToLower(name)),
		facts:       facts,
		guideline:   g,
		links:       links,
		suggestions: append(sugg, deleteDraft(d, name)...),
	}}
}
