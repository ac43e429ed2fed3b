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

// writeMarkdown writes the fact as one list item: "- **Label**: value, date · `reference`"
// (the reference last, in one compact style; it never appears in a sentence). Every
// part may hold chart text: all of it is escaped here (md, and refCode for the
// reference), the one place a fact's text enters a card.
func (f fact) writeMarkdown(b *strings.Builder) {
	b.WriteString("- **")
	b.WriteString(md(f.Label))
	b.WriteString("**: ")
	b.WriteString(md(f.Value))
	if f.Src.Caveat != "" {
		b.WriteString(" (")
		b.WriteString(md(f.Src.Caveat))
		b.WriteString(")")
	}
	if d := dateText(f.Src); d != "" {
		b.WriteString(", ")
		b.WriteString(md(d))
	}
	if f.Src.Ref != "" {
		b.WriteString(" · ")
		b.WriteString(refCode(f.Src.Ref))
	}
}

// dateText is a fact's date as a clinician writes it, at the precision the record
// gave: "2024", "Mar 2024" or "12 Mar 2024".
func dateText(s fhirmap.Source) string {
	if s.Date.IsZero() {
		return s.DateText
	}
	switch len(s.DateText) {
	case 4:
		return s.Date.UTC().Format("2006")
	case 7:
		return s.Date.UTC().Format("Jan 2006")
	}
	return clinicalDate(s.Date)
}

// size is about the length of the fact's list item: its parts and the markup around
// them (escapes make it longer; the builder then grows).
func (f fact) size() int {
	return len(f.Label) + len(f.Value) + len(f.Src.Caveat) + len(f.Src.Ref) + len("- ****: () , 12 Mar 2024 · ``") + 8
}

// clinicalDate is a date as a clinician writes it: "12 Mar 2024".
func clinicalDate(t time.Time) string { return t.UTC().Format("2 Jan 2006") }

func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func ki67Fact(k *fhirmap.Ki67) fact {
	v := num(k.Percent) + " % (" + gradeText(fhirmap.Ki67Grade(k.Percent)) + ")"
	if k.Normalised {
		v += ", as sent: " + k.Raw
	}
	if k.Specimen != "" {
		v += ", " + k.Specimen
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
		v += ", " + m.Specimen
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
		v += " (" + strings.Join(codes, ", ") + ")"
	}
	for _, st := range []string{d.ClinicalStatus, d.VerificationStatus} {
		if st != "" {
			v += ", " + st
		}
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
	if len(c.Codes) > 0 && c.Codes[0].Code != v {
		v += " (" + c.Codes[0].Code + ")"
	}
	return fact{label, v, c.Source}
}

// therapyFact names a drug and its state once: "sunitinib, active since 3 Jan 2026",
// "everolimus, on hold", "cisplatin, completed, started 1 Jul 2025".
func therapyFact(t fhirmap.Therapy) fact {
	if t.Administrations > 0 {
		src := t.Source
		if !t.Start.IsZero() {
			src.Date, src.DateText = time.Time{}, "" // the doses' dates say when
		}
		return fact{"Therapy", t.Drug + ", " + administeredText(t), src}
	}
	state := t.Status
	switch {
	case t.Active && t.Status == "on-hold":
		state = "on hold"
	case t.Active:
		state = "active"
	case state == "":
		state = "past"
	}
	v := t.Drug + ", " + state
	switch {
	case !t.Start.IsZero() && t.Active:
		v += " since " + clinicalDate(t.Start)
	case !t.Start.IsZero():
		v += ", started " + clinicalDate(t.Start)
	}
	if t.MatchedBy == "text" {
		v += " (named in text only)"
	}
	src := t.Source
	if !t.Start.IsZero() {
		// "since <start>" dates the fact: the record's own date is not repeated.
		src.Date, src.DateText = time.Time{}, ""
	}
	return fact{"Therapy", v, src}
}

// administeredText says what doses a course given in clinic holds (fhirmap: a course of
// MedicationAdministrations): "4 doses, 1 Jul 2025 to 2 Sep 2025", "given 11 May 2026,
// current", "being given since 1 Jun 2026".
func administeredText(t fhirmap.Therapy) string {
	day := clinicalDate
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
		v += " (named in text only)"
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
		v += " (read from the report: \u201c" + s.Evidence + "\u201d)"
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
	return fact{MarkerLabel(m.Kind), strings.TrimSpace(v), m.Source}
}

// MarkerLabel is the name of a tumour marker as the cards write it ("5-HIAA (24 h urine)");
// the SMART app uses the same words.
func MarkerLabel(k fhirmap.MarkerKind) string {
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

// extentFact states the extent; the facts it rests on (metastases, TNM) are their own
// facts with their references.
func extentFact(p *fhirmap.Picture) fact {
	return fact{"Extent", ExtentText(p), fhirmap.Source{}}
}

// ExtentText says how far the disease has spread, naming the metastatic sites on record:
// the words the cards use, shared with the SMART app so that both say it alike.
func ExtentText(p *fhirmap.Picture) string {
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
	v := strconv.Itoa(p.Age) + " years"
	if !p.BirthDate.IsZero() {
		v += " (born " + clinicalDate(p.BirthDate) + ")"
	}
	return fact{"Age", v, fhirmap.Source{Ref: p.Ref}}
}

// renderDetail is the markdown detail of a card: the reason, the facts used, then any
// extra paragraphs.
func renderDetail(reason string, facts []fact, extra ...string) string {
	n := len(reason) + len("\n\n**Facts used**\n\n") + factsSize(facts)
	for _, e := range extra {
		n += len("\n\n") + len(e)
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString(reason)
	if len(facts) > 0 {
		b.WriteString("\n\n**Facts used**\n\n")
		writeFacts(&b, facts)
	}
	for _, e := range extra {
		if e != "" {
			b.WriteString("\n\n")
			b.WriteString(e)
		}
	}
	return b.String()
}

// renderFacts is a Markdown list of facts, one per line.
func renderFacts(facts []fact) string {
	var b strings.Builder
	b.Grow(factsSize(facts))
	writeFacts(&b, facts)
	return b.String()
}

func writeFacts(b *strings.Builder, facts []fact) {
	for i, f := range facts {
		if i > 0 {
			b.WriteString("\n")
		}
		f.writeMarkdown(b)
	}
}

// factsSize is about the length of the facts list.
func factsSize(facts []fact) int {
	n := 0
	for _, f := range facts {
		n += f.size() + 1
	}
	return n
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
