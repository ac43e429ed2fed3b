package cards

import (
	"fmt"

	"github.com/nencds/nencds/fhirmap"
)

// Order check — platinum–etoposide drafted for a well-differentiated NET G1/G2
// (safety principle 2).
//
// When (critical): the tumour is classified NET G1 or NET G2 and the draft names
// cisplatin, carboplatin or etoposide.
// Then: a card naming the draft and the classification facts; suggestion: delete the
// draft. NET G3 is not checked here (outside the algorithm: MDT review).
//
// Source: docs/clinical.md §1.2 and §5; ESMO 2020 GEP-NEN.
func orderPlatinumForNET(e *eval, _ *orderEval, d *fhirmap.DraftOrder) []draftCard {
	if !e.cls.WellDifferentiatedNET() {
		return nil
	}
	drugs := draftDrugs(d, necOnlyDrugs...)
	if len(drugs) == 0 {
		return nil
	}
	name := draftName(d, drugs)
	return []draftCard{{
		indicator: Critical,
		summary:   fmt.Sprintf("%s drafted for a well-differentiated %s: a NEC regimen", capitalise(name), e.cls.Category),
		reason: fmt.Sprintf("The tumour is classified as a well-differentiated %s; platinum–etoposide is the regimen of poorly differentiated neuroendocrine carcinoma (NEC).",
			e.cls.Category),
		facts:       append([]fact{draftFact(d)}, e.baseFacts()...),
		extra:       []string{"If a poorly differentiated component is suspected, request a pathology review before chemotherapy."},
		guideline:   e.cfg.Guidelines.ESMO,
		suggestions: deleteDraft(d, name),
	}}
}
