package cards

import (
	"fmt"

	"github.com/nencds/nencds/fhirmap"
)

// Topic net-liver-directed — liver-directed therapy of NET liver metastases.
//
// When: a confirmed, active, well-differentiated NET G1/G2 of a GEP site with liver
// metastases.
// Then: an info card with interventional radiology referrals (any): transarterial
// (chemo)embolisation (TACE/TAE) and radiofrequency ablation (RFA), each unless already
// ordered.
//
// Guideline: docs/clinical.md §4 row net-liver-directed; ESMO 2020 GEP-NEN.
func ruleLiverDirected(e *eval) []draftCard {
	if !e.treatable() || !e.cls.WellDifferentiatedNET() || !gep(e.site) || !e.p.Extent.Liver {
		return nil
	}
	var sugg []draftSuggestion
	if e.openOrder([]string{"tace-tae"}) == nil {
		sugg = append(sugg, draftSuggestion{label: "Refer to interventional radiology for TACE/TAE", actions: []Action{
			e.drafts.service(codingsOf("tace-tae"), "Interventional radiology: transarterial (chemo)embolisation of liver metastases", "Draft referral: interventional radiology for TACE/TAE"),
		}})
	}
	if e.openOrder([]string{"rfa-liver"}) == nil {
		sugg = append(sugg, draftSuggestion{label: "Refer to interventional radiology for RFA", actions: []Action{
			e.drafts.service(codingsOf("rfa-liver"), "Interventional radiology: radiofrequency ablation of liver metastases", "Draft referral: interventional radiology for RFA"),
		}})
	}
	if len(sugg) == 0 {
		return nil
	}
	facts := append([]fact{e.categoryFact()}, e.spreadFacts(fhirmap.SecLiver)...)
	for _, pr := range e.p.Procedures {
		if pr.Kind == "liver-directed" {
			facts = append(facts, procedureFact(pr))
		}
	}
	return []draftCard{{
		indicator:   Info,
		summary:     fmt.Sprintf("%s with liver metastases: consider liver-directed therapy (TACE/TAE/RFA)", e.cls.Category),
		reason:      "A well-differentiated NET has liver metastases; liver-directed therapy is an option to discuss.",
		facts:       facts,
		guideline:   e.cfg.Guidelines.ESMO,
		suggestions: sugg,
	}}
}
