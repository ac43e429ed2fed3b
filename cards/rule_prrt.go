package cards

import "fmt"

// Topic net-prrt — peptide receptor radionuclide therapy.
//
// When: a confirmed, active, well-differentiated GEP-NET G1/G2, SSTR-positive on the
// most recent SSTR imaging with a result (uptake at least normal liver: Krenning ≥ 2
// when a Krenning score is reported), progressive (disease status "worsened" within
// Config.ProgressionWindowMonths), no prior PRRT on record and no open PRRT order.
// Then: an info card with a draft nuclear medicine referral for [177Lu]Lu-DOTA-TATE.
// The suggestion is marked as the drug "lutathera", so that the central guard also keeps
// it from a NEC (principle 2) and from a patient with Lu-177 dotatate active or drafted.
//
// Guideline: docs/clinical.md §4 row net-prrt; LUTATHERA US label; ESMO 2020 GEP-NEN.
func rulePRRT(e *eval) []draftCard {
	if !e.treatable() || !e.cls.WellDifferentiatedNET() || !gep(e.site) || e.progression == nil {
		return nil
	}
	sstr := e.sstrPositive()
	if sstr == nil || (sstr.Krenning >= 0 && sstr.Krenning < 2) {
		return nil
	}
	for _, pr := range e.p.Procedures {
		if pr.Kind == "prrt" {
			return nil
		}
	}
	if e.openOrder([]string{"prrt", "lutathera"}) != nil {
		return nil
	}
	facts := []fact{e.categoryFact(), sstrFact(*sstr), statusFact(*e.progression)}
	extra := ""
	if sstr.Krenning < 0 {
		extra = "The SSTR report gives no Krenning score: confirm uptake at least equal to normal liver before PRRT."
	}
	codes := append(codingsOf("prrt"), codingsOf("lutathera")...)
	return []draftCard{{
		indicator: Info,
		summary:   fmt.Sprintf("Progressive SSTR-positive %s: consider PRRT with Lu-177 DOTATATE", e.cls.Category),
		reason:    "A well-differentiated GEP-NET is progressing, SSTR imaging is positive, and no prior PRRT is on record.",
		facts:     facts,
		extra:     []string{extra},
		guideline: e.cfg.Guidelines.Lutathera,
		links:     []Guideline{e.cfg.Guidelines.ESMO},
		// drugs: the guard then also keeps PRRT from a NEC (principle 2) and from a
		// patient with [177Lu]Lu-DOTA-TATE on record as active or ordered.
		treatment: true,
		suggestions: []draftSuggestion{{label: "Refer to nuclear medicine for PRRT", drugs: []string{"lutathera"}, actions: []Action{
			e.drafts.service(codes, "Nuclear medicine referral: PRRT with [177Lu]Lu-DOTA-TATE", "Draft referral: nuclear medicine for [177Lu]Lu-DOTA-TATE PRRT"),
		}}},
	}}
}
