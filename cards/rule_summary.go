package cards

import (
	"fmt"
	"strings"

	"github.com/nencds/nencds/fhirmap"
)

// Topic nen-summary — what nencds understood about the patient.
//
// When: a NEN diagnosis is on record (one card, whatever its status).
// Then: an info card whose summary names the category (exactly one of NET G1, NET G2,
// NET G3, NEC, MiNEN, "NEN, grade undetermined"), the primary site and the extent;
// its detail lists every fact used (value, date, reference) and every data-quality
// note of the picture. No suggestions.
//
// Guideline: docs/clinical.md §3 (WHO 2019 classification) and §4 row nen-summary; source
// WHO 2019 / Rindi et al. 2018.
func ruleSummary(e *eval) []draftCard {
	if !e.nen() {
		return nil
	}
	site := summarySite(e.p)
	where := siteText(site)
	if len(e.p.MultiplePrimaries) > 1 {
		where = "active primaries: " + primariesText(e.p)
	}
	summary := string(e.cls.Category) + ", " + where + ", " + ExtentText(e.p)
	if !e.malignant {
		summary = "Benign carcinoid tumour (D3A), " + siteText(site)
	}
	if st := e.primary.VerificationStatus; !e.confirmed {
		summary += " (diagnosis " + md(st) + ")"
	}
	if st := e.primary.ClinicalStatus; !e.activeDisease {
		summary += " (" + md(st) + ")"
	}
	class, history := e.classFacts(), historyFacts(e.p)
	// At most one fact each for the extent, age, ECOG, disease status and SSTR.
	facts := make([]fact, 0, len(e.p.Diagnoses)+len(class)+len(history)+len(e.p.Secondaries)+len(e.p.TNM)+5+len(e.p.Therapies))
	for _, d := range e.p.Diagnoses {
		facts = append(facts, diagnosisFact(d))
	}
	facts = append(facts, class...)
	facts = append(facts, history...)
	for _, s := range e.p.Secondaries {
		facts = append(facts, conditionFact(metastasisLabel(s.Location), s.ConditionFact))
	}
	for _, t := range e.p.TNM {
		facts = append(facts, fact{"TNM " + string(t.Kind), t.Value, t.Source})
	}
	if len(e.p.Extent.Evidence) > 0 {
		facts = append(facts, extentFact(e.p))
	}
	if e.p.Patient.AgeKnown {
		facts = append(facts, ageFact(e.p.Patient))
	}
	if e.ecog != nil {
		facts = append(facts, ecogFact(e.ecog))
	}
	if len(e.p.DiseaseStatus) > 0 {
		facts = append(facts, statusFact(e.p.DiseaseStatus[0]))
	}
	if len(e.p.SSTR) > 0 {
		facts = append(facts, sstrFact(e.p.SSTR[0]))
	}
	for _, t := range e.p.Therapies {
		facts = append(facts, therapyFact(t))
	}
	reason := "A neuroendocrine neoplasm is on record. Category by WHO 2019: grade = the higher of the Ki-67 grade and the mitotic grade; differentiation separates NET G3 from NEC."
	if len(e.cls.Incomplete) > 0 {
		reason += " Classification incomplete: " + strings.Join(mdAll(e.cls.Incomplete), "; ") + "."
	}
	notes := make([]fhirmap.Note, 0, len(e.p.Notes)+len(e.cls.Notes))
	notes = append(notes, e.p.Notes...)
	notes = append(notes, e.cls.Notes...)
	return []draftCard{{
		indicator: Info,
		summary:   summary,
		reason:    reason,
		facts:     facts,
		extra:     []string{notesMarkdown(notes)},
		guideline: e.cfg.Guidelines.WHO,
	}}
}

// notesMarkdown lists every data-quality note. Notes about entered-in-error or refuted
// data never carry the value (fhirmap writes them that way; principle 4).
func notesMarkdown(notes []fhirmap.Note) string {
	if len(notes) == 0 {
		return "**Data-quality notes**: none."
	}
	n := len("**Data-quality notes**\n")
	for _, note := range notes {
		n += len("\n- : · ``") + len(note.Kind) + len(note.Text) + len(note.Ref)
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString("**Data-quality notes**\n")
	for _, n := range notes {
		b.WriteString("\n- ")
		b.WriteString(md(string(n.Kind)))
		b.WriteString(": ")
		b.WriteString(md(n.Text))
		if n.Ref != "" {
			b.WriteString(" · ")
			b.WriteString(refCode(n.Ref))
		}
	}
	return b.String()
}

// historyFacts list the tumours that are history (resolved, inactive, remission): they
// are shown, never used for the category, site or extent (docs/clinical.md §2).
func historyFacts(p *fhirmap.Picture) []fact {
	if p.History == nil {
		return nil
	}
	var fs []fact
	for _, t := range p.Tumours {
		if t.Index {
			continue
		}
		for _, d := range p.History.Diagnoses {
			if d.Ref != t.Ref {
				continue
			}
			v := d.Text
			if v == "" {
				v = firstCode(d.Codes)
			}
			v += " (" + siteText(t.Site)
			if t.ClinicalStatus != "" {
				v += ", " + t.ClinicalStatus
			}
			if !t.Abatement.IsZero() {
				v += " " + clinicalDate(t.Abatement)
			}
			if n := len(t.Members); n > 0 {
				v += fmt.Sprintf("; %d earlier result(s) kept with it", n)
			}
			fs = append(fs, fact{"Earlier tumour (history, not used)", v + ")", d.Source})
		}
	}
	return fs
}
