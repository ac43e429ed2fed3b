package cards

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nencds/nencds/fhirmap"
)

// Topic nen-workup — baseline work-up items are missing.
//
// When: a malignant NEN whose disease is not inactive/resolved (confirmed or not) and
// one or more baseline items has no result from Config.Recent.WorkupBeforeDiagnosisDays
// (90) days before the diagnosis onwards, whatever its age now, and no open order:
// chromogranin A; 5-HIAA (a NET's work-up, and a NEC's only with carcinoid syndrome on
// record); multiphasic contrast CT or MRI; SSTR imaging (not for a NEC, for which it is
// optional). An SSTR study another card relies on (the positive study behind net-ssa or
// net-prrt) always counts as done, so that the cards of one answer never contradict
// each other. Repeating markers and imaging on treatment is followup-schedule's job.
// Then: an info card with one suggestion per missing item (selectionBehavior any).
//
// Guideline: docs/clinical.md §4 row nen-workup and "Rules for every card"; ESMO 2020
// GEP-NEN (diagnostic work-up); ENETS 2023 NEC (5-HIAA only with carcinoid syndrome).
func ruleWorkup(e *eval) []draftCard {
	if !e.nen() || !e.malignant || !e.activeDisease {
		return nil
	}
	diagnosed := e.primary.Onset
	if diagnosed.IsZero() {
		diagnosed = e.primary.Date
	}
	var from time.Time // zero: no diagnosis date, any dated result counts
	if !diagnosed.IsZero() {
		from = diagnosed.AddDate(0, 0, -e.cfg.Recent.WorkupBeforeDiagnosisDays)
	}
	done := func(d time.Time) bool { return !d.IsZero() && !d.Before(from) }
	var sugg []draftSuggestion
	var missing []string
	var facts []fact
	// item adds a missing item: its suggestion, and a fact naming the last result on
	// record (from before the baseline window) or saying there is none.
	item := func(name, label string, last *fhirmap.Source, lastValue string, s draftSuggestion) {
		missing = append(missing, name)
		sugg = append(sugg, s)
		if last == nil {
			facts = append(facts, fact{label, "none on record", fhirmapSourceNone})
			return
		}
		facts = append(facts, fact{label, lastValue + " (before the baseline window)", *last})
	}

	markerDone := func(kinds ...fhirmap.MarkerKind) (bool, *fhirmap.Source, string) {
		for i := range e.p.Markers {
			m := &e.p.Markers[i]
			if slices.Contains(kinds, m.Kind) && done(m.Date) {
				return true, nil, ""
			}
		}
		src, v := lastMarker(e.p, kinds...)
		return false, src, v
	}
	if ok, src, v := markerDone(fhirmap.MarkerCgA); !ok && e.openOrder([]string{"chromogranin-a", "chromogranin-a-molar"}) == nil {
		item("chromogranin A", "Chromogranin A", src, v, draftSuggestion{label: "Order chromogranin A", actions: []Action{
			e.drafts.service(codingsOf("chromogranin-a"), "Chromogranin A, serum", "Draft order: chromogranin A (baseline marker; note that PPIs can raise CgA)"),
		}})
	}
	necNote := ""
	fiveHIAA := e.cls.Category != CatNEC || len(e.p.CarcinoidSyndrome) > 0
	if !fiveHIAA {
		necNote = "For a NEC, 5-HIAA belongs to the work-up only with a carcinoid syndrome, and SSTR imaging is optional: neither is suggested."
	} else if e.cls.Category == CatNEC {
		necNote = "SSTR imaging is optional for a NEC and is not suggested."
	}
	if ok, src, v := markerDone(fhirmap.Marker5HIAAUrine, fhirmap.Marker5HIAAPlasma); fiveHIAA && !ok &&
		e.openOrder([]string{"5-hiaa-24h-urine", "5-hiaa-urine-molar", "5-hiaa-urine-molar-time", "5-hiaa-plasma", "5-hiaa-plasma-molar"}) == nil {
		item("5-HIAA", "5-HIAA", src, v, draftSuggestion{label: "Order 24 h urine 5-HIAA", actions: []Action{
			e.drafts.service(codingsOf("5-hiaa-24h-urine"), "5-HIAA, 24 hour urine", "Draft order: 24 h urine 5-HIAA (baseline marker)"),
		}})
	}
	ctDone := false
	for _, cs := range e.p.CrossSections {
		ctDone = ctDone || done(cs.Date)
	}
	if !ctDone && e.openOrder([]string{"ct-abdomen-pelvis-contrast", "mri-abdomen"}) == nil {
		var src *fhirmap.Source
		v := ""
		if len(e.p.CrossSections) > 0 {
			src, v = &e.p.CrossSections[0].Source, e.p.CrossSections[0].Modality
		}
		item("multiphasic contrast CT or MRI", "Contrast CT or MRI", src, v, draftSuggestion{label: "Order multiphasic contrast CT abdomen/pelvis", actions: []Action{
			e.drafts.service(codingsOf("ct-abdomen-pelvis-contrast"), "Multiphasic contrast CT abdomen and pelvis (or MRI)", "Draft order: multiphasic contrast CT of abdomen and pelvis (staging)"),
		}})
	}
	if e.cls.Category != CatNEC {
		sstrDone := e.sstrPositive() != nil
		for _, st := range e.p.SSTR {
			sstrDone = sstrDone || done(st.Date)
		}
		if !sstrDone && e.openOrder([]string{"sstr-pet", "ga68-dotatate"}) == nil {
			var src *fhirmap.Source
			v := ""
			if len(e.p.SSTR) > 0 {
				src, v = &e.p.SSTR[0].Source, e.p.SSTR[0].Study
			}
			item("SSTR imaging", "SSTR imaging", src, v, draftSuggestion{label: "Order Ga-68 DOTATATE PET/CT", actions: []Action{
				e.drafts.service(codingsOf("sstr-pet"), "Ga-68 DOTATATE PET/CT (somatostatin receptor imaging)", "Draft order: SSTR PET/CT with Ga-68 DOTATATE"),
			}})
		}
	}
	if len(sugg) == 0 {
		return nil
	}
	window := "any date"
	if !from.IsZero() {
		window = "from " + clinicalDate(from) + " (" + strconv.Itoa(e.cfg.Recent.WorkupBeforeDiagnosisDays) + " days before the diagnosis) onwards"
	}
	return []draftCard{{
		indicator: Info,
		summary:   "NEN baseline work-up incomplete: " + strings.Join(missing, ", "),
		reason: "The baseline work-up at diagnosis has no result and no open order for: " + strings.Join(missing, ", ") +
			". A result counts when it is dated " + window + ", whatever its age now.",
		facts:       append([]fact{e.categoryFact()}, facts...),
		extra:       []string{necNote},
		guideline:   e.cfg.Guidelines.ESMO,
		suggestions: sugg,
	}}
}

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
