package cards

import "github.com/nencds/nencds/fhirmap"

// Order check — a draft medication that could not be identified.
//
// When (info): a draft MedicationRequest names no drug nencds can read: no code it
// knows and no name (an unresolved medicationReference without display, or a code
// without display). It may be one of the drugs the checks are about; they could not run
// for it. Only at order-sign (info).
// Then: a card naming the draft; no suggestion.
//
// Source: docs/clinical.md §5 (the checks) and §1.3: a record that cannot be identified
// is flagged, never assumed harmless.
func orderUnidentified(e *eval, _ *orderEval, d *fhirmap.DraftOrder) []draftCard {
	if !d.Unidentified {
		return nil
	}
	return []draftCard{{
		indicator: Info,
		summary:   "A draft medication could not be identified: the NEN order checks did not run for it",
		reason:    "The draft names no drug nencds can read (no known code and no name). If it is an anticancer drug, check it against the neuroendocrine tumour record by hand.",
		facts:     []fact{draftFact(d)},
		guideline: Guideline{Label: "nencds order checks (docs/clinical.md §5)", URL: e.cfg.Guidelines.NCCN.URL},
	}}
}
