package cards

import "github.com/nencds/nencds/fhirmap"

// Topic nen-suspected — a NEN may be missed.
//
// When: no NEN diagnosis is on record, but carcinoid syndrome (E34.0 / SNOMED 35868009)
// is, or a 5-HIAA result is flagged elevated.
// Then: an info card with the NEN work-up (any): Ga-68 DOTATATE PET/CT and multiphasic
// contrast CT, each unless recent or already ordered. Source: "delayed diagnosis …
// maintain high clinical suspicion".
//
// Guideline: docs/clinical.md §4 row nen-suspected; ESMO 2020 GEP-NEN.
func ruleSuspected(e *eval) []draftCard {
	if e.nen() {
		return nil
	}
	var facts []fact
	for _, cs := range e.p.CarcinoidSyndrome {
		facts = append(facts, conditionFact("Carcinoid syndrome", cs))
	}
	for _, m := range e.p.Markers {
		if (m.Kind == fhirmap.Marker5HIAAUrine || m.Kind == fhirmap.Marker5HIAAPlasma) && m.Elevated == "yes" {
			facts = append(facts, markerFact(m))
		}
	}
	if len(facts) == 0 {
		return nil
	}
	// No NEN Condition: the orders cite the finding that raised the suspicion.
	d := e.drafts
	d.reason = facts[0].Src.Ref
	w := e.cfg.Recent
	var sugg []draftSuggestion
	if e.recentSSTR(w.SSTRImagingDays) == nil && e.openOrder([]string{"sstr-pet", "ga68-dotatate"}) == nil {
		sugg = append(sugg, draftSuggestion{label: "Order Ga-68 DOTATATE PET/CT", actions: []Action{
			d.service(codingsOf("sstr-pet"), "Ga-68 DOTATATE PET/CT (somatostatin receptor imaging)", "Draft order: SSTR PET/CT with Ga-68 DOTATATE"),
		}})
	}
	if e.recentCrossSection(w.CrossSectionalDays) == nil && e.openOrder([]string{"ct-abdomen-pelvis-contrast", "mri-abdomen"}) == nil {
		sugg = append(sugg, draftSuggestion{label: "Order multiphasic contrast CT abdomen/pelvis", actions: []Action{
			d.service(codingsOf("ct-abdomen-pelvis-contrast"), "Multiphasic contrast CT abdomen and pelvis (or MRI)", "Draft order: multiphasic contrast CT of abdomen and pelvis"),
		}})
	}
	return []draftCard{{
		indicator:   Info,
		summary:     "Carcinoid syndrome or raised 5-HIAA without a NEN diagnosis: consider NEN work-up",
		reason:      "Findings suggestive of a neuroendocrine neoplasm are on record but no NEN diagnosis. NEN diagnosis is often delayed: maintain high clinical suspicion.",
		facts:       facts,
		guideline:   e.cfg.Guidelines.ESMO,
		suggestions: sugg,
	}}
}
