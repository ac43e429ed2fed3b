package cards

import (
	"fmt"

	"github.com/nencds/nencds/fhirmap"
)

// Topic nen-surgery — resection of the primary for limited disease.
//
// When: a confirmed, active NET G1, NET G2 or NEC of a GEP site with limited disease
// (no distant metastasis on record AND M0 or stage I–III recorded), fit for surgery
// (ECOG ≤ Config.ECOGSurgeryMax (1) or unknown), and no resection of the primary on
// record.
// Then: an info card with a draft surgical oncology referral (ServiceRequest).
//
// Guideline: docs/clinical.md §4 row nen-surgery; ESMO 2020 GEP-NEN (surgery for localised
// disease).
func ruleSurgery(e *eval) []draftCard {
	if !e.treatable() || e.p.Extent.Status != fhirmap.ExtentLimited || !e.ecogAtMost(e.cfg.ECOGSurgeryMax) || !gep(e.site) {
		return nil
	}
	switch e.cls.Category {
	case CatNETG1, CatNETG2, CatNEC:
	default:
		return nil
	}
	for _, pr := range e.p.Procedures {
		if pr.Kind == fhirmap.ProcPrimaryResection {
			return nil
		}
	}
	code := orderCoding(OrderSurgicalPrimary, "Surgical oncology referral: resection of the primary")
	if e.openTask([]fhirCoding{code}) {
		return nil
	}
	facts := append([]fact{e.categoryFact()}, e.spreadFacts()...)
	if e.ecog != nil {
		facts = append(facts, ecogFact(e.ecog))
	}
	return []draftCard{{
		indicator: Info,
		summary:   fmt.Sprintf("%s, limited disease, primary not resected: surgical referral", e.cls.Category),
		reason:    "Disease is limited (no distant metastasis on record, M0 or stage I–III), the patient is fit for surgery or fitness is unknown, and no resection of the primary is on record.",
		facts:     facts,
		guideline: e.cfg.Guidelines.ESMO,
		suggestions: []draftSuggestion{{label: "Refer to surgical oncology", actions: []Action{
			e.drafts.service([]fhirCoding{code}, "Surgical oncology referral: resection of the primary NEN", "Draft referral: surgical oncology for resection of the primary"),
		}}},
	}}
}
