package cards

import (
	"fmt"

	"github.com/nencds/nencds/fhirmap"
)

// Order check — PRRT without SSTR-positive imaging.
//
// When (critical): the draft is PRRT ([177Lu]Lu-DOTA-TATE as a medication, or a
// ServiceRequest recognised as PRRT), the tumour is not classified NEC (that is
// orderNETOnlyForNEC's card), and the most recent SSTR imaging with a result is not
// positive with uptake at least normal liver: none on record, negative, or Krenning
// below 2.
// Then: a card naming the draft and the imaging (or its absence); suggestions: delete
// the draft; create an SSTR PET/CT (Ga-68 DOTATATE) when no SSTR imaging is on record
// and none is open or drafted.
//
// Source: docs/clinical.md §5; LUTATHERA US label (SSTR-positive GEP-NET).
func orderPRRTWithoutSSTR(e *eval, o *orderEval, d *fhirmap.DraftOrder) []draftCard {
	if !isPRRT(d) || e.cls.Category == CatNEC {
		return nil
	}
	var last *fhirmap.SSTRImaging
	for i := range e.p.SSTR {
		if e.p.SSTR[i].Result != fhirmap.SSTRUnknown {
			last = &e.p.SSTR[i]
			break
		}
	}
	if last != nil && last.Result == fhirmap.SSTRPositive && (last.Krenning < 0 || last.Krenning >= 2) {
		return nil
	}
	name := draftName(d, nil)
	facts := []fact{draftFact(d)}
	var problem string
	switch {
	case last == nil:
		problem = "no SSTR-positive imaging on record"
		facts = append(facts, fact{"SSTR imaging", "none with a result on record", fhirmapSourceNone})
	case last.Result == fhirmap.SSTRNegative:
		problem = "the most recent SSTR imaging is negative"
		facts = append(facts, sstrFact(*last))
	default:
		problem = fmt.Sprintf("SSTR uptake below normal liver (Krenning %d)", last.Krenning)
		facts = append(facts, sstrFact(*last))
	}
	sugg := deleteDraft(d, name)
	if last == nil && len(e.p.SSTR) == 0 && e.openOrder([]string{"sstr-pet", "ga68-dotatate"}) == nil && o.codrafted("sstr-pet", "ga68-dotatate") == nil {
		sugg = append(sugg, draftSuggestion{label: "Order SSTR PET/CT (Ga-68 DOTATATE)", actions: []Action{
			e.drafts.service(codingsOf("sstr-pet", "ga68-dotatate"), "SSTR PET/CT (Ga-68 DOTATATE)", "Draft order: SSTR PET/CT before PRRT"),
		}})
	}
	return []draftCard{{
		indicator:   Critical,
		summary:     fmt.Sprintf("%s drafted with %s", name, problem),
		reason:      "PRRT with Lu-177 DOTATATE is for somatostatin receptor-positive tumours: uptake at least equal to normal liver on SSTR imaging.",
		facts:       facts,
		guideline:   e.cfg.Guidelines.Lutathera,
		suggestions: sugg,
	}}
}
