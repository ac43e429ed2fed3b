package cards

import (
	"fmt"

	"github.com/nencds/nencds/fhirmap"
)

// orderPoorECOG: ECOG 3 or worse (Karnofsky 40 or less by its ECOG equivalent).
const orderPoorECOG = 3

// Order check — chemotherapy with a poor performance status.
//
// When (warning): the draft names a chemotherapy drug (cisplatin, carboplatin,
// etoposide, temozolomide, capecitabine, fluorouracil, irinotecan) and the performance
// status the rules use (the most recent ECOG or Karnofsky score, ECOG winning on the
// same day: performanceStatus) is ECOG ≥ 3, a Karnofsky score by its ECOG equivalent
// (fhirmap.Performance.ECOG: Karnofsky ≤ 40).
// Then: a card naming the draft and the score; suggestions: create an MDT review
// (unless open); delete the draft.
//
// Source: docs/clinical.md §5; ENETS 2023 NEC guidance (chemotherapy for fit patients,
// ECOG 0–2).
func orderChemoPoorPerformance(e *eval, _ *orderEval, d *fhirmap.DraftOrder) []draftCard {
	drugs := draftDrugs(d, chemoDrugs...)
	if len(drugs) == 0 || e.ecog == nil || e.ecog.ECOG() < orderPoorECOG {
		return nil
	}
	name := draftName(d, drugs)
	ps := psText(e.ecog)
	var sugg []draftSuggestion
	if acts := e.mdtReview("chemotherapy with poor performance status"); len(acts) > 0 {
		sugg = append(sugg, draftSuggestion{label: "Request MDT review", actions: acts})
	}
	return []draftCard{{
		indicator:   Warning,
		summary:     fmt.Sprintf("%s drafted with %s: chemotherapy is for fit patients", capitalise(name), ps),
		reason:      fmt.Sprintf("The most recent performance status is %s (ECOG 3 or worse); chemotherapy is given to patients with ECOG 0–2.", ps),
		facts:       []fact{draftFact(d), ecogFact(e.ecog)},
		guideline:   e.cfg.Guidelines.ENETS,
		suggestions: append(sugg, deleteDraft(d, name)...),
	}}
}
