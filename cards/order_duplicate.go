package cards

import (
	"fmt"

	"github.com/nencds/nencds/fhirmap"
)

// Order check — a drug the patient already takes, or a duplicate order (safety
// principle 3).
//
// When (warning): the draft names an anticancer drug (fhirmap.Drugs) that is
//   - active or on hold on record (a MedicationRequest or MedicationStatement, never
//     the draft itself), or
//   - already ordered: an open order of the same drug (a draft or active request that
//     is not this draft), or
//   - named by an earlier draft of the same call, or
//   - of the same class as a drug active on record (a second somatostatin analogue,
//     a second platinum);
//
// or the draft is a ServiceRequest whose code (one of codes.csv) is already open on
// record or drafted earlier in the same call.
// Then: a card naming the draft and the record it repeats; suggestion: delete the draft.
//
// Source: docs/clinical.md §1.3 and §5.
func orderDuplicate(e *eval, o *orderEval, d *fhirmap.DraftOrder) []draftCard {
	for _, drug := range draftDrugs(d) {
		name := drugName(drug)
		var f fact
		var problem string
		if t := e.activeDrug(drug); t != nil {
			f, problem = therapyFact(*t), "the patient already takes it"
		} else if oo := e.drugOrdered(drug); oo != nil {
			f, problem = openOrderFact(oo), "already ordered"
		} else if other := o.earlierWith(d, func(x *fhirmap.DraftOrder) bool { return len(draftDrugs(x, drug)) > 0 }); other != nil {
			f, problem = draftFact(other), "drafted twice in this order"
			f.Label = "Other draft order"
		} else if t := e.activeDrug(sameClass(drug)...); t != nil {
			f, problem = therapyFact(*t), "the patient already takes "+drugName(t.Drug)+" (same class)"
		} else {
			continue
		}
		return []draftCard{duplicateCard(e, d, name, problem, f)}
	}
	if d.ResourceType != "ServiceRequest" || len(d.Codes) == 0 {
		return nil
	}
	var known []fhirCoding
	for _, c := range d.Codes {
		if _, ok := fhirmap.Lookup(c.System, c.Code); ok {
			known = append(known, fhirCoding{System: c.System, Code: c.Code})
		}
	}
	if len(known) == 0 {
		return nil
	}
	name := draftName(d, nil)
	if oo := e.openOrder(nil, known...); oo != nil {
		return []draftCard{duplicateCard(e, d, name, "already ordered", openOrderFact(oo))}
	}
	same := func(x *fhirmap.DraftOrder) bool {
		for _, have := range x.Codes {
			for _, w := range known {
				if have.System == w.System && have.Code == w.Code {
					return true
				}
			}
		}
		return false
	}
	if other := o.earlierWith(d, same); other != nil {
		f := draftFact(other)
		f.Label = "Other draft order"
		return []draftCard{duplicateCard(e, d, name, "drafted twice in this order", f)}
	}
	return nil
}

// drugClasses are the drugs given one at a time: a second somatostatin analogue or a
// second platinum is a therapeutic duplicate.
var drugClasses = [][]string{ssaDrugs, platinumDrugs}

// sameClass returns the other drugs of drug's class (nil when it has none).
func sameClass(drug string) []string {
	for _, cl := range drugClasses {
		if contains(cl, drug) {
			var out []string
			for _, x := range cl {
				if x != drug {
					out = append(out, x)
				}
			}
			return out
		}
	}
	return nil
}

func duplicateCard(e *eval, d *fhirmap.DraftOrder, name, problem string, f fact) draftCard {
	return draftCard{
		indicator:   Warning,
		summary:     fmt.Sprintf("%s drafted: %s", capitalise(name), problem),
		reason:      "The draft repeats a drug or order already on record. If it is a renewal or a dose change, end the current order when signing this one.",
		facts:       []fact{draftFact(d), f},
		guideline:   Guideline{Label: "nencds safety principle 3: never start a drug the patient already takes", URL: e.cfg.Guidelines.NCCN.URL},
		links:       []Guideline{e.cfg.Guidelines.NCCN},
		suggestions: deleteDraft(d, name),
	}
}

// earlierWith returns a draft before d in the call for which ok holds (nil when none).
func (o *orderEval) earlierWith(d *fhirmap.DraftOrder, ok func(*fhirmap.DraftOrder) bool) *fhirmap.DraftOrder {
	for i := range o.drafts {
		x := &o.drafts[i]
		if x == d {
			return nil
		}
		if ok(x) {
			return x
		}
	}
	return nil
}
