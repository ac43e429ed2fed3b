package cards

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nencds/nencds/fhirmap"
)

// fact is one patient fact a card used: what, its value, its date and its reference
// (principle 7). Facts come only from the Picture, which holds no entered-in-error or
// refuted data (principle 4).
type fact struct {
	Label string
	Value string
	Src   fhirmap.Source
}

func (f fact) markdown() string {
	var b strings.Builder
	b.WriteString("- **")
	b.WriteString(f.Label)
	b.WriteString("**: ")
	b.WriteString(f.Value)
	var meta []string
	if d := dateText(f.Src); d != "" {
		meta = append(meta, d)
	}
	if f.Src.Ref != "" {
		meta = append(meta, "`"+f.Src.Ref+"`")
	}
	if f.Src.Caveat != "" {
		meta = append(meta, "caveat: "+f.Src.Caveat)
	}
	if len(meta) > 0 {
		b.WriteString(" (")
		b.WriteString(strings.Join(meta, ", "))
		b.WriteString(")")
	}
	return b.String()
}

func dateText(s fhirmap.Source) string {
	if s.DateText != "" {
		return s.DateText
	}
	if !s.Date.IsZero() {
		return s.Date.UTC().Format("2006-01-02")
	}
	return ""
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func ki67Fact(k *fhirmap.Ki67) fact {
	v := num(k.Percent) + " % (" + gradeText(fhirmap.Ki67Grade(k.Percent)) + ")"
	if k.Normalised {
		v += ", as sent: " + k.Raw
	}
	if k.Specimen != "" {
		v += ", specimen " + k.Specimen
	}
	return fact{"Ki-67", v, k.Source}
}

// gradeText is "G1".."G3", or a plain statement for a value that cannot be graded.
func gradeText(g int) string {
	if g < 1 || g > 3 {
		return "not a valid value: not graded"
	}
	return "G" + strconv.Itoa(g)
}

func mitosesFact(m *fhirmap.MitoticCount) fact {
	v := num(m.Per2mm2) + " per 2 mm² (" + gradeText(fhirmap.MitoticGrade(m.Per2mm2)) + ")"
	if m.Specimen != "" {
		v += ", specimen " + m.Specimen
	}
	return fact{"Mitotic count", v, m.Source}
}

func diagnosisFact(d fhirmap.Diagnosis) fact {
	v := d.Text
	if v == "" {
		v = d.Concept
	}
	var codes []string
	for _, c := range d.Codes {
		codes = append(codes, c.Code)
	}
	if len(codes) > 0 {
		v += " [" + strings.Join(codes, ", ") + "]"
	}
	var st []string
	if d.ClinicalStatus != "" {
		st = append(st, d.ClinicalStatus)
	}
	if d.VerificationStatus != "" {
		st = append(st, d.VerificationStatus)
	}
	if len(st) > 0 {
		v += ", " + strings.Join(st, "/")
	}
	return fact{"Diagnosis", v, d.Source}
}

func conditionFact(label string, c fhirmap.ConditionFact) fact {
	v := c.Text
	if v == "" && len(c.Codes) > 0 {
		v = c.Codes[0].Display
		if v == "" {
			v = c.Codes[0].Code
		}
	}
	if len(c.Codes) > 0 {
		v += " [" + c.Codes[0].Code + "]"
	}
	return fact{label, v, c.Source}
}

func therapyFact(t fhirmap.Therapy) fact {
	if t.Administrations > 0 {
		return fact{"Therapy", t.Drug + " (" + administeredText(t) + ")", t.Source}
	}
	state := "past"
	if t.Active {
		state = "active"
	}
	v := t.Drug + " (" + state
	if t.Status != "" {
		v += ", status " + t.Status
	}
	if !t.Start.IsZero() {
		v += ", since " + t.Start.UTC().Format("2006-01-02")
	}
	if t.MatchedBy == "text" {
		v += ", recognised from the text"
	}
	return fact{"Therapy", v + ")", t.Source}
}

// administeredText says what doses a course given in clinic holds (fhirmap: a course of
// MedicationAdministrations): "4 doses, 2025-07-01 to 2025-09-02", "given 2026-05-11,
// current", "being given since 2026-06-01".
func administeredText(t fhirmap.Therapy) string {
	day := func(d time.Time) string { return d.UTC().Format("2006-01-02") }
	var v string
	switch {
	case (t.Status == "in-progress" || t.Status == "on-hold") && !t.Start.IsZero() && t.End.IsZero():
		v = "being given since " + day(t.Start)
		if t.Status == "on-hold" {
			v = "on hold, given since " + day(t.Start)
		}
	case t.Administrations == 1 && !t.Start.IsZero():
		v = "given " + day(t.Start)
	case t.Administrations > 1 && !t.Start.IsZero() && !t.End.IsZero():
		v = strconv.Itoa(t.Administrations) + " doses, " + day(t.Start) + " to " + day(t.End)
	case t.Administrations > 1:
		v = strconv.Itoa(t.Administrations) + " doses given"
	default:
		v = "given, date unknown"
	}
	if t.Active {
		v += ", current"
	}
	if t.MatchedBy == "text" {
		v += ", recognised from the text"
	}
	return v
}

// ecogFact names the performance status as recorded: "ECOG 2" as the number; a
// Karnofsky score with its ECOG equivalent, "Karnofsky 40 % (≈ ECOG 3)".
func ecogFact(p *fhirmap.Performance) fact {
	if p.Scale == "karnofsky" {
		return fact{"Performance status", psText(p), p.Source}
	}
	return fact{"ECOG", strconv.Itoa(p.Score), p.Source}
}

// psText is a performance status in words: "ECOG 3", or "Karnofsky 40 % (≈ ECOG 3)".
func psText(p *fhirmap.Performance) string {
	if p.Scale == "karnofsky" {
		return fmt.Sprintf("Karnofsky %d %% (≈ ECOG %d)", p.Score, p.ECOG())
	}
	return fmt.Sprintf("ECOG %d", p.Score)
}

func sstrFact(s fhirmap.SSTRImaging) fact {
	v := s.Study
	if s.Result != fhirmap.SSTRUnknown {
		v += ": " + string(s.Result)
	} else {
		v += ": result not stated"
	}
	if s.Krenning >= 0 {
		v += fmt.Sprintf(", Krenning %d", s.Krenning)
	}
	if s.ResultFrom == "text" {
		v += fmt.Sprintf(" (read from the report text: %q)", s.Evidence)
	}
	return fact{"SSTR imaging", v, s.Source}
}

func statusFact(d fhirmap.DiseaseStatus) fact {
	return fact{"Disease status", string(d.Value), d.Source}
}

func lvefFact(l fhirmap.LVEF) fact { return fact{"LVEF", num(l.Percent) + " %", l.Source} }

func markerFact(m fhirmap.Marker) fact {
	v := fmt.Sprintf("%s %s", num(m.Quantity.Value), m.Quantity.Unit)
	if m.Elevated == "yes" {
		v += ", elevated"
	}
	return fact{markerLabel(m.Kind), strings.TrimSpace(v), m.Source}
}

func markerLabel(k fhirmap.MarkerKind) string {
	switch k {
	case fhirmap.MarkerCgA:
		return "Chromogranin A"
	case fhirmap.Marker5HIAAUrine:
		return "5-HIAA (24 h urine)"
	case fhirmap.Marker5HIAAPlasma:
		return "5-HIAA (plasma)"
	}
	return string(k)
}

func procedureFact(pr fhirmap.Procedure) fact {
	v := pr.Text
	if v == "" {
		v = string(pr.Kind)
	}
	return fact{"Procedure", v, pr.Source}
}

func extentFact(p *fhirmap.Picture) fact {
	v := extentText(p)
	if len(p.Extent.Evidence) > 0 {
		v += "; evidence " + strings.Join(p.Extent.Evidence, ", ")
	}
	return fact{"Extent", v, fhirmap.Source{}}
}

// extentText says how far the disease has spread, naming the metastatic sites on record.
func extentText(p *fhirmap.Picture) string {
	e := p.Extent
	switch e.Status {
	case fhirmap.ExtentDistant:
		var where []string
		add := func(s string) {
			if !slices.Contains(where, s) {
				where = append(where, s)
			}
		}
		if e.Liver {
			add("liver")
		}
		if e.Bone {
			add("bone")
		}
		for _, s := range p.Secondaries {
			switch s.Location {
			case fhirmap.SecLiver:
				add("liver")
			case fhirmap.SecBone:
				add("bone")
			case fhirmap.SecLymphNode:
				add("distant lymph nodes")
			case fhirmap.SecPeritoneum:
				add("peritoneum")
			case fhirmap.SecOther:
				add("other sites")
			}
		}
		if len(where) == 0 {
			return "distant metastases"
		}
		return "distant metastases (" + strings.Join(where, ", ") + ")"
	case fhirmap.ExtentLimited:
		return "limited disease"
	case fhirmap.ExtentLocallyAdvanced:
		return "locally advanced (unresectable)"
	}
	return "extent unknown"
}

// spreadWord is "metastatic" for distant disease and "unresectable" for locally
// advanced disease (the two extents "metastatic or unresectable" covers).
func spreadWord(e fhirmap.Extent) string {
	if e.Status == fhirmap.ExtentLocallyAdvanced {
		return "unresectable"
	}
	return "metastatic"
}

func ageFact(p fhirmap.Patient) fact {
	src := fhirmap.Source{Ref: p.Ref}
	if !p.BirthDate.IsZero() {
		src.DateText = "born " + p.BirthDate.UTC().Format("2006-01-02")
	}
	return fact{"Age", strconv.Itoa(p.Age) + " years", src}
}

// renderDetail is the markdown detail of a card: the reason, the facts used, then any
// extra paragraphs.
func renderDetail(reason string, facts []fact, extra ...string) string {
	var b strings.Builder
	b.WriteString(reason)
	if len(facts) > 0 {
		b.WriteString("\n\n**Facts used**\n\n")
		for i, f := range facts {
			if i > 0 {
				b.WriteString("\n")
			}
			b.WriteString(f.markdown())
		}
	}
	for _, e := range extra {
		if e != "" {
			b.WriteString("\n\n")
			b.WriteString(e)
		}
	}
	return b.String()
}

// refsOf lists the references of facts, without duplicates, in order.
func refsOf(facts []fact) []string {
	var out []string
	for _, f := range facts {
		if f.Src.Ref != "" && !slices.Contains(out, f.Src.Ref) {
			out = append(out, f.Src.Ref)
		}
	}
	return out
}

// within reports whether t lies in the last days days before at (t not after at plus a
// day of clock skew). A zero t is never within.
func within(t, at time.Time, days int) bool {
	if t.IsZero() {
		return false
	}
	return !t.Before(at.AddDate(0, 0, -days)) && !t.After(at.Add(24*time.Hour))
}

// fhirmapSourceNone is the source of a fact that is the absence of a record.
var fhirmapSourceNone = fhirmap.Source{}
