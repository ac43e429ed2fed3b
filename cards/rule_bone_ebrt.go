package cards

import "github.com/nencds/nencds/fhirmap"

// Topic nen-bone-mets-ebrt — radiotherapy of bone metastases.
//
// When: a confirmed, active malignant NEN with a decided category (not "grade
// undetermined") and bone metastases, no EBRT on record and no open EBRT order.
// Then: an info card with a draft radiation oncology referral for external beam
// radiotherapy.
//
// Guideline: docs/clinical.md §4 row nen-bone-mets-ebrt; ESMO 2020 GEP-NEN.
func ruleBoneEBRT(e *eval) []draftCard {
	if !e.nen() || !e.malignant || !e.confirmed || !e.activeDisease || e.cls.Uncertain() || !e.p.Extent.Bone {
		return nil
	}
	for _, pr := range e.p.Procedures {
		if pr.Kind == "ebrt" {
			return nil
		}
	}
	if e.openOrder([]string{"ebrt"}) != nil {
		return nil
	}
	facts := append([]fact{e.categoryFact()}, e.spreadFacts(fhirmap.SecBone)...)
	return []draftCard{{
		indicator: Info,
		summary:   string(e.cls.Category) + " with bone metastases: consider radiation oncology referral",
		reason:    "Bone metastases are on record and no external beam radiotherapy is on record.",
		facts:     facts,
		guideline: e.cfg.Guidelines.ESMO,
		suggestions: []draftSuggestion{{label: "Refer to radiation oncology (EBRT)", actions: []Action{
			e.drafts.service(codingsOf("ebrt"), "Radiation oncology referral: external beam radiotherapy of bone metastases", "Draft referral: radiation oncology for EBRT of bone metastases"),
		}}},
	}}
}
