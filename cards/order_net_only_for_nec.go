package cards

import (
	"fmt"
	"strings"

	"github.com/nencds/nencds/fhirmap"
)

// Order check — a NET-only treatment drafted for a NEC (safety principle 2).
//
// When (critical): the tumour is classified NEC, and the draft is a somatostatin
// analogue (octreotide, lanreotide), sunitinib, everolimus, or PRRT
// ([177Lu]Lu-DOTA-TATE, as a medication or a ServiceRequest recognised as PRRT).
// Then: a card naming the draft and the classification facts; suggestion: delete the
// draft. An SSA given for hormonal symptom control only is a clinical judgement: the
// detail says so and the override reasons apply.
//
// Source: docs/clinical.md §1.2 and §5; ENETS 2023 NEC guidance.
func orderNETOnlyForNEC(e *eval, _ *orderEval, d *fhirmap.DraftOrder) []draftCard {
	if e.cls.Category != CatNEC {
		return nil
	}
	drugs := draftDrugs(d, netOnlyDrugs...)
	if len(drugs) == 0 && !isPRRT(d) {
		return nil
	}
	name := draftName(d, drugs)
	facts := append([]fact{draftFact(d)}, e.baseFacts()...)
	extra := []string{"A NEC follows the NEC branch (platinum–etoposide first line); somatostatin analogues, everolimus, sunitinib and PRRT are treatments of well-differentiated NET."}
	if len(draftDrugs(d, ssaDrugs...)) > 0 {
		extra = append(extra, "If the somatostatin analogue is for hormonal symptom control only, record that reason when overriding.")
	}
	return []draftCard{{
		indicator:   Critical,
		summary:     fmt.Sprintf("%s drafted for a NEC: not a NEC treatment", capitalise(name)),
		reason:      fmt.Sprintf("The tumour is classified as a poorly differentiated neuroendocrine carcinoma (NEC); %s is a treatment of well-differentiated NET.", name),
		facts:       facts,
		extra:       extra,
		guideline:   e.cfg.Guidelines.ENETS,
		suggestions: deleteDraft(d, name),
	}}
}

// capitalise upper-cases the first letter of s.
func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
