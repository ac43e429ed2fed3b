package cards

import (
	"fmt"
	"slices"
	"strings"

	"github.com/nencds/nencds/fhirmap"
)

// Topic nen-workup — baseline work-up items are missing.
//
// When: a malignant NEN whose disease is not inactive/resolved (confirmed or not) and
// one or more baseline items has no recent result and no open order: chromogranin A
// (Config.Recent.ChromograninADays), 5-HIAA (FiveHIAADays), multiphasic contrast CT or
// MRI (CrossSectionalDays), SSTR imaging (SSTRImagingDays; NET and undetermined only —
// optional for a NEC, so not suggested).
// Then: an info card with one suggestion per missing item (selectionBehavior any).
//
// Guideline: docs/clinical.md §4 row nen-workup; ESMO 2020 GEP-NEN (diagnostic work-up).
// lastMarker is the most recent marker of the kinds (nil when none) and its value.
func lastMarker(p *fhirmap.Picture, kinds ...fhirmap.MarkerKind) (*fhirmap.Source, string) {
	for i := range p.Markers {
		if slices.Contains(kinds, p.Markers[i].Kind) {
			f := markerFact(p.Markers[i])
			return &p.Markers[i].Source, f.Value
		}
	}
	return nil, ""
}

func ruleWorkup(e *eval) []draftCard {
	if !e.nen() || !e.malignant || !e.activeDisease {
		return nil
	}
	w := e.cfg.Recent
	var sugg []draftSuggestion
	var missing []string
	if e.recentMarker(w.ChromograninADays, fhirmap.MarkerCgA) == nil && e.openOrder([]string{"chromogranin-a", "chromogranin-a-molar"}) == nil {
		missing = append(missing, "chromogranin A")
		sugg = append(sugg, draftSuggestion{label: "Order chromogranin A", actions: []Action{
			e.drafts.service(codingsOf("chromogranin-a"), "Chromogranin A, serum", "Draft order: chromogranin A (baseline marker; note that PPIs can raise CgA)"),
		}})
	}
	if e.recentMarker(w.FiveHIAADays, fhirmap.Marker5HIAAUrine, fhirmap.Marker5HIAAPlasma) == nil &&
		e.openOrder([]string{"5-hiaa-24h-urine", "5-hiaa-urine-molar", "5-hiaa-urine-molar-time", "5-hiaa-plasma", "5-hiaa-plasma-molar"}) == nil {
		missing = append(missing, "5-HIAA")
		sugg = append(sugg, draftSuggestion{label: "Order 24 h urine 5-HIAA", actions: []Action{
			e.drafts.service(codingsOf("5-hiaa-24h-urine"), "5-HIAA, 24 hour urine", "Draft order: 24 h urine 5-HIAA (baseline marker)"),
		}})
	}
	if e.recentCrossSection(w.CrossSectionalDays) == nil && e.openOrder([]string{"ct-abdomen-pelvis-contrast", "mri-abdomen"}) == nil {
		missing = append(missing, "multiphasic contrast CT or MRI")
		sugg = append(sugg, draftSuggestion{label: "Order multiphasic contrast CT abdomen/pelvis", actions: []Action{
			e.drafts.service(codingsOf("ct-abdomen-pelvis-contrast"), "Multiphasic contrast CT abdomen and pelvis (or MRI)", "Draft order: multiphasic contrast CT of abdomen and pelvis (staging)"),
		}})
	}
	necOptional := ""
	if e.cls.Category == CatNEC {
		necOptional = "SSTR imaging is optional for a NEC and is not suggested."
	} else if e.recentSSTR(w.SSTRImagingDays) == nil && e.openOrder([]string{"sstr-pet", "ga68-dotatate"}) == nil {
		missing = append(missing, "SSTR imaging")
		sugg = append(sugg, draftSuggestion{label: "Order Ga-68 DOTATATE PET/CT", actions: []Action{
			e.drafts.service(codingsOf("sstr-pet"), "Ga-68 DOTATATE PET/CT (somatostatin receptor imaging)", "Draft order: SSTR PET/CT with Ga-68 DOTATATE"),
		}})
	}
	if len(sugg) == 0 {
		return nil
	}
	// Each missing item names its last result on record (too old) or says there is none.
	facts := []fact{diagnosisFact(*e.primary)}
	last := func(label string, days int, src *fhirmap.Source, value string) {
		if src == nil {
			facts = append(facts, fact{label, "none on record", fhirmapSourceNone})
			return
		}
		facts = append(facts, fact{label, fmt.Sprintf("%s, older than %d days", value, days), *src})
	}
	for _, m := range missing {
		switch m {
		case "chromogranin A":
			src, v := lastMarker(e.p, fhirmap.MarkerCgA)
			last("Chromogranin A", w.ChromograninADays, src, v)
		case "5-HIAA":
			src, v := lastMarker(e.p, fhirmap.Marker5HIAAUrine, fhirmap.Marker5HIAAPlasma)
			last("5-HIAA", w.FiveHIAADays, src, v)
		case "multiphasic contrast CT or MRI":
			if len(e.p.CrossSections) > 0 {
				last("Contrast CT or MRI", w.CrossSectionalDays, &e.p.CrossSections[0].Source, e.p.CrossSections[0].Modality)
			} else {
				last("Contrast CT or MRI", w.CrossSectionalDays, nil, "")
			}
		case "SSTR imaging":
			if len(e.p.SSTR) > 0 {
				last("SSTR imaging", w.SSTRImagingDays, &e.p.SSTR[0].Source, e.p.SSTR[0].Study)
			} else {
				last("SSTR imaging", w.SSTRImagingDays, nil, "")
			}
		}
	}
	return []draftCard{{
		indicator:   Info,
		summary:     "NEN baseline work-up incomplete: " + strings.Join(missing, ", "),
		reason:      "No recent result and no open order on record for: " + strings.Join(missing, ", ") + ". These are the baseline items of the GEP-NEN work-up.",
		facts:       facts,
		extra:       []string{necOptional},
		guideline:   e.cfg.Guidelines.ESMO,
		suggestions: sugg,
	}}
}
