package cards

import (
	"fmt"
	"strings"

	"github.com/nencds/nencds/fhirmap"
)

// Order check — glucose and lipids before everolimus.
//
// When (warning): the draft names everolimus and, within orderMetabolicDays (90)
// before the evaluation time, there is no fasting glucose or HbA1c, or no lipid panel
// (each unless one is open or drafted with it).
// Then: suggestions: create the missing tests (fasting glucose, lipid panel); delete
// the draft.
//
// Source: docs/clinical.md §5; AFINITOR US label (hyperglycaemia, hyperlipidaemia:
// fasting glucose and lipids before treatment and periodically).
func orderEverolimusMetabolic(e *eval, o *orderEval, d *fhirmap.DraftOrder) []draftCard {
	if len(draftDrugs(d, "everolimus")) == 0 {
		return nil
	}
	glucose := e.recentLab(orderMetabolicDays, fhirmap.LabFastingGlucose, fhirmap.LabHbA1c) != nil ||
		e.openOrder([]string{"fasting-glucose", "hba1c"}) != nil || o.codrafted("fasting-glucose", "hba1c") != nil
	lipids := e.recentLab(orderMetabolicDays, fhirmap.LabLipidPanel) != nil ||
		e.openOrder([]string{"lipid-panel"}) != nil || o.codrafted("lipid-panel") != nil
	if glucose && lipids {
		return nil
	}
	name := drugName("everolimus")
	facts := []fact{draftFact(d)}
	var missing, tests []string
	var acts []Action
	if !glucose {
		missing = append(missing, "fasting glucose or HbA1c")
		if l := e.lastLab(fhirmap.LabFastingGlucose, fhirmap.LabHbA1c); l != nil {
			facts = append(facts, fact{"Last glucose test", metabolicText(*l), l.Source})
		}
		acts = append(acts, e.drafts.service(codingsOf("fasting-glucose"), "Fasting glucose", "Draft order: fasting glucose before everolimus"))
		tests = append(tests, "fasting glucose")
	}
	if !lipids {
		missing = append(missing, "lipid panel")
		if l := e.lastLab(fhirmap.LabLipidPanel); l != nil {
			facts = append(facts, fact{"Last lipid panel", metabolicText(*l), l.Source})
		}
		acts = append(acts, e.drafts.service(codingsOf("lipid-panel"), "Lipid panel", "Draft order: lipid panel before everolimus"))
		tests = append(tests, "lipid panel")
	}
	sugg := []draftSuggestion{{label: "Order " + strings.Join(tests, " and "), actions: acts}}
	return []draftCard{{
		indicator:   Warning,
		summary:     fmt.Sprintf("Everolimus drafted with no %s in the last %d days", strings.Join(missing, " and no "), orderMetabolicDays),
		reason:      "Everolimus causes hyperglycaemia and hyperlipidaemia; fasting glucose and lipids are checked before treatment and periodically.",
		facts:       append(facts, fact{"Missing within " + fmt.Sprint(orderMetabolicDays) + " days", strings.Join(missing, ", "), fhirmapSourceNone}),
		guideline:   e.cfg.Guidelines.Afinitor,
		suggestions: append(sugg, deleteDraft(d, name)...),
	}}
}

func metabolicText(l fhirmap.LabResult) string {
	name := map[fhirmap.LabKind]string{fhirmap.LabFastingGlucose: "fasting glucose", fhirmap.LabHbA1c: "HbA1c", fhirmap.LabLipidPanel: "lipid panel"}[l.Kind]
	if name == "" {
		name = string(l.Kind)
	}
	if l.Quantity != nil {
		name += " " + strings.TrimSpace(num(l.Quantity.Value)+" "+l.Quantity.Unit)
	}
	return name
}
