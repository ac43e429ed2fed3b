package app

import (
	"fmt"
	"html/template"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nencds/nencds/cards"
	"github.com/nencds/nencds/fhirmap"
)

// page is the data of page.html. Every string is plain text: html/template escapes it
// (in SVG too); nothing here is template.HTML.
type page struct {
	At              string
	Patient         string
	PatientRef      string
	Category        string
	Grade           string
	Differentiation string
	Site            string
	Extent          string
	Incomplete      []string
	// MultiplePrimaries are two or more active primaries of different sites (MDT).
	MultiplePrimaries []string
	Tumours           []tumour
	Facts             []fact
	Notes             []note
	Timeline          timeline
	Algorithm         algorithm
	Cards             []cardView
	Focus             string // the topic of the card the app was opened from
}

// tumour is one NEN primary of fhirmap.Picture.Tumours (the index tumour first, then
// further active primaries and history tumours), with its metastases.
type tumour struct {
	Role, Label, Site, Status, Since, Until, Ref string
	Index                                        bool
	Metastases                                   []string
}

type fact struct {
	Date, What, Value, Ref, Caveat string
	when                           time.Time
}

type note struct {
	Kind, Ref, Text string
}

type cardView struct {
	Anchor, Topic, Indicator, Summary string
	Detail                            []detailLine
	Suggestions                       []suggestionView
	Links                             []linkView
	Focus                             bool
}

type detailLine struct {
	Text   string
	Bullet bool
}

type suggestionView struct {
	Label       string
	Recommended bool
	Actions     []string
}

type linkView struct {
	Label, URL string
}

var funcs = template.FuncMap{
	"div": func(a, b float64) float64 { return a / b },
	// lineY is the baseline of line i of n centred in an algorithm box.
	"lineY": func(i, n int) float64 { return 22 + (float64(i)-float64(n-1)/2)*15 + 5 },
}

// buildPage is the page of one patient: the picture, the charts and the cards.
func buildPage(p *fhirmap.Picture, resp cards.Response, focus string) page {
	cl := cards.Classify(p)
	pg := page{
		At:         p.At.UTC().Format("2006-01-02 15:04 UTC"),
		Patient:    patientLine(p.Patient),
		PatientRef: p.Patient.Ref,
		Category:   string(cl.Category),
		Extent:     cards.ExtentText(p),
		Incomplete: cl.Incomplete,
		Focus:      focus,
	}
	if len(p.Diagnoses) == 0 {
		pg.Category = "no NEN diagnosis on record"
	}
	if cl.Grade > 0 {
		pg.Grade = "G" + strconv.Itoa(cl.Grade)
	}
	if cl.Differentiation != fhirmap.DiffUnknown {
		pg.Differentiation = string(cl.Differentiation) + " differentiated"
	}
	for _, d := range p.Diagnoses {
		if pg.Site == "" && d.Site != fhirmap.SiteUnknown {
			pg.Site = siteText(d.Site)
		}
	}
	pg.Tumours = tumours(p)
	pg.MultiplePrimaries = p.MultiplePrimaries
	pg.Facts = facts(p, "")
	if h := p.History; h != nil {
		// The facts of the history tumours, marked: never used by the classification.
		pg.Facts = append(pg.Facts, facts(&fhirmap.Picture{
			Ki67: h.Ki67, Mitoses: h.Mitoses, GradeLabels: h.GradeLabels, Morphologies: h.Morphologies,
			Differentiation: h.Differentiation, TNM: h.TNM, SSTR: h.SSTR, DiseaseStatus: h.DiseaseStatus, Procedures: h.Procedures,
		}, "History tumour: ")...)
		slices.SortStableFunc(pg.Facts, func(a, b fact) int { return b.when.Compare(a.when) })
	}
	for _, n := range append(slices.Clone(p.Notes), cl.Notes...) {
		pg.Notes = append(pg.Notes, note{Kind: string(n.Kind), Ref: n.Ref, Text: n.Text})
	}
	topics := map[string]bool{}
	for i, c := range resp.Cards {
		topic := ""
		if c.Source.Topic != nil {
			topic = c.Source.Topic.Code
		}
		topics[topic] = true
		cv := cardView{Topic: topic, Indicator: string(c.Indicator), Summary: c.Summary, Focus: topic != "" && topic == focus}
		cv.Anchor = "card-" + topic
		if slices.ContainsFunc(resp.Cards[:i], func(o cards.Card) bool { return o.Source.Topic != nil && o.Source.Topic.Code == topic }) {
			cv.Anchor = fmt.Sprintf("card-%s-%d", topic, i)
		}
		cv.Detail = detailLines(c.Detail)
		for _, s := range c.Suggestions {
			sv := suggestionView{Label: s.Label, Recommended: s.IsRecommended}
			for _, a := range s.Actions {
				sv.Actions = append(sv.Actions, a.Description)
			}
			cv.Suggestions = append(cv.Suggestions, sv)
		}
		for _, l := range c.Links {
			if l.Type == "absolute" {
				cv.Links = append(cv.Links, linkView{Label: l.Label, URL: l.URL})
			}
		}
		pg.Cards = append(pg.Cards, cv)
	}
	pg.Timeline = buildTimeline(p)
	pg.Algorithm = buildAlgorithm(p, cl, topics)
	return pg
}

func patientLine(pt fhirmap.Patient) string {
	var parts []string
	if pt.Gender != "" {
		parts = append(parts, pt.Gender)
	}
	if pt.AgeKnown {
		parts = append(parts, strconv.Itoa(pt.Age)+" years")
	}
	if len(parts) == 0 {
		return "age and sex not recorded"
	}
	return strings.Join(parts, ", ")
}

func siteText(s fhirmap.Site) string {
	if s == fhirmap.SiteUnknown {
		return "site not recorded"
	}
	return strings.ReplaceAll(string(s), "-", " ")
}

func conditionStatus(c fhirmap.ConditionFact) string {
	var parts []string
	if c.ClinicalStatus != "" {
		parts = append(parts, c.ClinicalStatus)
	}
	if c.VerificationStatus != "" {
		parts = append(parts, c.VerificationStatus)
	}
	return orDash(strings.Join(parts, ", "))
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "–"
	}
	return s
}

// dateOf is the date of a fact as the record gave it.
func dateOf(s fhirmap.Source) string {
	if s.DateText != "" {
		if t, err := time.Parse(time.RFC3339, s.DateText); err == nil {
			return t.UTC().Format("2006-01-02")
		}
		return s.DateText
	}
	if !s.Date.IsZero() {
		return s.Date.UTC().Format("2006-01-02")
	}
	return "no date"
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// tumours lists the tumours of the picture with their metastases.
func tumours(p *fhirmap.Picture) []tumour {
	text := map[string]string{}
	secs := slices.Clone(p.Secondaries)
	for _, d := range p.Diagnoses {
		text[d.Ref] = d.Text
	}
	if p.History != nil {
		for _, d := range p.History.Diagnoses {
			text[d.Ref] = d.Text
		}
	}
	var out []tumour
	for _, tu := range p.Tumours {
		t := tumour{
			Role: "history", Label: orDash(text[tu.Ref]), Site: siteText(tu.Site), Ref: tu.Ref, Index: tu.Index,
			Status: conditionStatus(fhirmap.ConditionFact{ClinicalStatus: tu.ClinicalStatus, VerificationStatus: tu.VerificationStatus}),
			Since:  dayOf(tu.Onset), Until: dayOf(tu.Abatement),
		}
		switch {
		case tu.Index:
			t.Role = "index: the cards are about it"
		case slices.Contains(p.MultiplePrimaries, tu.Ref):
			t.Role = "further active primary"
		}
		var mine []fhirmap.Secondary
		if tu.Index {
			mine = secs
		} else if p.History != nil {
			for _, s := range p.History.Secondaries {
				if slices.ContainsFunc(tu.Members, func(m fhirmap.Member) bool { return m.Ref == s.Ref }) {
					mine = append(mine, s)
				}
			}
		}
		for _, s := range mine {
			t.Metastases = append(t.Metastases, string(s.Location)+" ("+dateOf(s.Source)+", "+s.Ref+")")
		}
		out = append(out, t)
	}
	if len(p.Tumours) == 0 && len(secs) > 0 {
		t := tumour{Role: "metastases without a primary on record", Label: "–", Site: "–", Status: "–", Since: "–", Until: "–"}
		for _, s := range secs {
			t.Metastases = append(t.Metastases, string(s.Location)+" ("+dateOf(s.Source)+", "+s.Ref+")")
		}
		out = append(out, t)
	}
	return out
}

func dayOf(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return t.UTC().Format("2006-01-02")
}

// facts lists the facts of the picture with their dates, newest first; prefix marks
// every label (the history tumours' facts).
func facts(p *fhirmap.Picture, prefix string) []fact {
	var out []fact
	add := func(s fhirmap.Source, what, value string) {
		out = append(out, fact{Date: dateOf(s), What: prefix + what, Value: value, Ref: s.Ref, Caveat: s.Caveat, when: s.Date})
	}
	for _, k := range p.Ki67 {
		v := num(k.Percent) + " %"
		if k.Normalised {
			v += " (sent as " + k.Raw + ")"
		}
		add(k.Source, "Ki-67", v)
	}
	for _, m := range p.Mitoses {
		add(m.Source, "Mitotic count", num(m.Per2mm2)+" / 2 mm²")
	}
	for _, g := range p.GradeLabels {
		add(g.Source, "Reported grade", g.Label)
	}
	for _, d := range p.Differentiation {
		add(d.Source, "Differentiation", string(d.Value)+" ("+d.From+")")
	}
	for _, m := range p.Morphologies {
		add(m.Source, "Morphology", "ICD-O-3 "+m.Code)
	}
	for _, t := range p.TNM {
		add(t.Source, "TNM "+string(t.Kind), t.Value)
	}
	for _, s := range p.SSTR {
		v := orDash(string(s.Result))
		if s.Krenning >= 0 {
			v += ", Krenning " + strconv.Itoa(s.Krenning)
		}
		add(s.Source, "SSTR imaging: "+orDash(s.Study), v)
	}
	for _, c := range p.CrossSections {
		add(c.Source, c.Modality, orDash(c.Text))
	}
	for _, m := range p.Markers {
		v := num(m.Quantity.Value) + " " + m.Quantity.Unit
		if m.Elevated == "yes" {
			v += " (elevated)"
		}
		add(m.Source, cards.MarkerLabel(m.Kind), v)
	}
	for _, l := range p.LVEF {
		add(l.Source, "LVEF", num(l.Percent)+" %")
	}
	for _, l := range p.LiverTests {
		v := "panel"
		if l.Quantity != nil {
			v = num(l.Quantity.Value) + " " + l.Quantity.Unit
		}
		add(l.Source, strings.ToUpper(string(l.Kind)), v)
	}
	for _, pf := range p.Performance {
		add(pf.Source, strings.ToUpper(pf.Scale[:1])+pf.Scale[1:], strconv.Itoa(pf.Score))
	}
	for _, d := range p.DiseaseStatus {
		add(d.Source, "Disease status", string(d.Value))
	}
	for _, t := range p.Therapies {
		v := "ended or stopped"
		if t.Active {
			v = "active"
		}
		add(t.Source, "Therapy: "+t.Drug, v)
	}
	for _, pr := range p.Procedures {
		add(pr.Source, "Procedure: "+strings.ReplaceAll(string(pr.Kind), "-", " "), orDash(pr.Text))
	}
	for _, o := range p.OpenOrders {
		add(o.Source, "Open order ("+o.ResourceType+")", orDash(firstNonEmpty(o.Text, o.Drug)))
	}
	slices.SortStableFunc(out, func(a, b fact) int { return b.when.Compare(a.when) })
	return out
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// detailLines splits a card's markdown detail into plain lines: emphasis markers are
// dropped, "- " lines become bullets. The text stays text (escaped by the template).
func detailLines(md string) []detailLine {
	var out []detailLine
	for _, l := range strings.Split(md, "\n") {
		l = strings.TrimSpace(strings.ReplaceAll(l, "**", ""))
		if l == "" {
			continue
		}
		if rest, ok := strings.CutPrefix(l, "- "); ok {
			out = append(out, detailLine{Text: rest, Bullet: true})
			continue
		}
		if rest, ok := strings.CutPrefix(l, "* "); ok {
			out = append(out, detailLine{Text: rest, Bullet: true})
			continue
		}
		out = append(out, detailLine{Text: l})
	}
	return out
}
