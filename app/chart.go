package app

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nencds/nencds/cards"
	"github.com/nencds/nencds/fhirmap"
)

// The charts are geometry computed here and drawn by page.html as inline SVG: numbers
// for the positions, plain strings for every label and tooltip (escaped by the template).

// timeline is the timeline chart: Ki-67 (and mitoses) over time with the WHO cut-offs,
// reported grades, treatments as bars, imaging and procedures as marks.
type timeline struct {
	Empty         bool
	Width, Height float64
	Left, Right   float64
	Rows          []rowLabel
	Ticks         []tick
	Cutoffs       []cutoff
	Ki67Line      string
	Points        []mark
	Bars          []bar
	Marks         []mark
	Now           float64
	Desc          string
}

type rowLabel struct {
	Y     float64
	Label string
}

type tick struct {
	X     float64
	Label string
}

type cutoff struct {
	Y     float64
	Label string
}

type mark struct {
	X, Y   float64
	Shape  string // "circle", "square", "diamond", "text"
	Class  string
	Label  string
	Title  string
	LabelX float64
}

type bar struct {
	X, Y, W, H float64
	Class      string
	Label      string
	Title      string
}

const (
	tlWidth  = 960.0
	tlLeft   = 120.0
	tlRight  = 24.0
	kiTop    = 16.0
	kiHeight = 120.0
	laneH    = 20.0
)

// buildTimeline lays out the dated facts of p between the earliest of them and p.At.
func buildTimeline(p *fhirmap.Picture) timeline {
	var dates []time.Time
	see := func(t time.Time) {
		if !t.IsZero() && !t.After(p.At) {
			dates = append(dates, t)
		}
	}
	for _, k := range p.Ki67 {
		see(k.Date)
	}
	for _, m := range p.Mitoses {
		see(m.Date)
	}
	for _, g := range p.GradeLabels {
		see(g.Date)
	}
	for _, t := range p.Therapies {
		see(startOf(t))
	}
	for _, s := range p.SSTR {
		see(s.Date)
	}
	for _, c := range p.CrossSections {
		see(c.Date)
	}
	for _, pr := range p.Procedures {
		see(pr.Date)
	}
	tl := timeline{Width: tlWidth, Left: tlLeft, Right: tlWidth - tlRight}
	if len(dates) == 0 {
		tl.Empty = true
		tl.Height = 40
		return tl
	}
	from := slices.MinFunc(dates, time.Time.Compare).AddDate(0, -1, 0)
	to := p.At
	if to.Sub(from) < 180*24*time.Hour {
		from = to.AddDate(0, -6, 0)
	}
	span := to.Sub(from).Seconds()
	x := func(t time.Time) float64 {
		if t.Before(from) {
			t = from
		}
		if t.After(to) {
			t = to
		}
		return round(tlLeft + (tl.Right-tlLeft)*t.Sub(from).Seconds()/span)
	}
	tl.Now = x(to)

	// Ki-67 band, with the WHO 2019 cut-offs (3 % and 20 %).
	top := 25.0
	for _, k := range p.Ki67 {
		top = math.Max(top, math.Min(100, k.Percent*1.1))
	}
	kiBottom := kiTop + kiHeight
	y := func(pct float64) float64 { return round(kiBottom - kiHeight*math.Min(pct, top)/top) }
	tl.Rows = append(tl.Rows, rowLabel{Y: kiTop + kiHeight/2, Label: "Ki-67 %"})
	tl.Cutoffs = []cutoff{{Y: y(3), Label: "3 %"}, {Y: y(20), Label: "20 %"}}
	var pts []string
	ki := slices.Clone(p.Ki67)
	slices.SortStableFunc(ki, func(a, b fhirmap.Ki67) int { return a.Date.Compare(b.Date) })
	for _, k := range ki {
		if k.Date.IsZero() {
			continue
		}
		px, py := x(k.Date), y(k.Percent)
		pts = append(pts, f(px)+","+f(py))
		tl.Points = append(tl.Points, mark{X: px, Y: py, Shape: "circle", Class: "ki67 g" + strconv.Itoa(fhirmap.Ki67Grade(k.Percent)),
			Label: num(k.Percent) + " %", LabelX: px + 6, Title: "Ki-67 " + num(k.Percent) + " % on " + dateOf(k.Source) + " (" + k.Ref + ")"})
	}
	tl.Ki67Line = strings.Join(pts, " ")
	for _, m := range p.Mitoses {
		if m.Date.IsZero() {
			continue
		}
		px := x(m.Date)
		tl.Points = append(tl.Points, mark{X: px, Y: kiBottom - 8, Shape: "square", Class: "mitoses",
			Title: "Mitotic count " + num(m.Per2mm2) + " / 2 mm² on " + dateOf(m.Source) + " (" + m.Ref + ")"})
	}

	row := kiBottom + 24
	// Reported grades.
	tl.Rows = append(tl.Rows, rowLabel{Y: row, Label: "Grade"})
	for _, g := range p.GradeLabels {
		if g.Date.IsZero() {
			continue
		}
		tl.Marks = append(tl.Marks, mark{X: x(g.Date), Y: row + 4, Shape: "text", Class: "grade", Label: g.Label,
			Title: "Reported grade " + g.Label + " on " + dateOf(g.Source) + " (" + g.Ref + ")"})
	}
	row += laneH + 8

	// Treatments: one lane per drug, a bar from start to end (or to now while active).
	var drugs []string
	for _, t := range p.Therapies {
		if !startOf(t).IsZero() && !slices.Contains(drugs, t.Drug) {
			drugs = append(drugs, t.Drug)
		}
	}
	if len(drugs) > 0 {
		tl.Rows = append(tl.Rows, rowLabel{Y: row + float64(len(drugs)-1)*laneH/2, Label: "Treatments"})
	}
	for _, t := range p.Therapies {
		start := startOf(t)
		if start.IsZero() {
			continue
		}
		lane := slices.Index(drugs, t.Drug)
		end, state := t.End, "ended"
		if end.IsZero() {
			if t.Active {
				end, state = to, "active"
			} else {
				end, state = start, "end not recorded"
			}
		}
		x0, x1 := x(start), x(end)
		w := math.Max(4, x1-x0)
		class := "therapy"
		if t.Active {
			class += " active"
		}
		tl.Bars = append(tl.Bars, bar{X: x0, Y: row + float64(lane)*laneH - 7, W: round(w), H: 14, Class: class, Label: t.Drug,
			Title: fmt.Sprintf("%s from %s (%s; %s)", t.Drug, start.UTC().Format("2006-01-02"), state, t.Ref)})
	}
	row += float64(max(len(drugs), 1)) * laneH

	// Imaging: SSTR imaging as circles (filled when positive), CT/MRI as squares.
	tl.Rows = append(tl.Rows, rowLabel{Y: row, Label: "Imaging"})
	for _, s := range p.SSTR {
		if s.Date.IsZero() {
			continue
		}
		tl.Marks = append(tl.Marks, mark{X: x(s.Date), Y: row, Shape: "circle", Class: "sstr " + orNone(string(s.Result)),
			Title: "SSTR imaging " + orDash(s.Study) + ": " + orDash(string(s.Result)) + " on " + dateOf(s.Source) + " (" + s.Ref + ")"})
	}
	for _, c := range p.CrossSections {
		if c.Date.IsZero() {
			continue
		}
		tl.Marks = append(tl.Marks, mark{X: x(c.Date), Y: row, Shape: "square", Class: "ct",
			Title: c.Modality + " on " + dateOf(c.Source) + " (" + c.Ref + ")"})
	}
	row += laneH + 4
	tl.Rows = append(tl.Rows, rowLabel{Y: row, Label: "Procedures"})
	for _, pr := range p.Procedures {
		if pr.Date.IsZero() {
			continue
		}
		tl.Marks = append(tl.Marks, mark{X: x(pr.Date), Y: row, Shape: "diamond", Class: "procedure " + string(pr.Kind),
			Title: strings.ReplaceAll(string(pr.Kind), "-", " ") + " on " + dateOf(pr.Source) + " (" + pr.Ref + ")"})
	}
	row += laneH

	// Axis: a tick per year (per quarter on short spans).
	axis := row + 6
	step := 12
	if to.Sub(from) < 2*365*24*time.Hour {
		step = 3
	}
	for t := time.Date(from.Year(), 1, 1, 0, 0, 0, 0, time.UTC); !t.After(to); t = t.AddDate(0, step, 0) {
		if t.Before(from) {
			continue
		}
		label := t.Format("2006")
		if step < 12 {
			label = t.Format("Jan 2006")
		}
		tl.Ticks = append(tl.Ticks, tick{X: x(t), Label: label})
	}
	tl.Height = axis + 24
	tl.Rows = append(tl.Rows, rowLabel{Y: axis, Label: ""})
	tl.Desc = fmt.Sprintf("Timeline from %s to %s: %d Ki-67 values, %d treatments, %d imaging studies, %d procedures.",
		from.Format("2006-01"), to.Format("2006-01-02"), len(p.Ki67), len(p.Therapies), len(p.SSTR)+len(p.CrossSections), len(p.Procedures))
	return tl
}

func startOf(t fhirmap.Therapy) time.Time {
	if !t.Start.IsZero() {
		return t.Start
	}
	return t.Date
}

func orNone(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func round(v float64) float64 { return math.Round(v*10) / 10 }

func f(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// algorithm is the treatment algorithm (docs/clinical.md §3, §4) as boxes and edges, the
// patient's branch highlighted.
type algorithm struct {
	Width, Height float64
	Nodes         []node
	Edges         []edge
	Desc          string
}

type node struct {
	X, Y, W, H float64
	Lines      []string
	On         bool
	Topic      string
}

// edge is an elbow connector: down from the parent, across, down to the child.
type edge struct {
	Points string
	On     bool
}

type algoNode struct {
	id, parent string
	col, row   float64 // column centre (in node widths) and row
	lines      []string
	topics     []string // the node is on the patient's path when one of these cards is present
}

// algoNodes is the algorithm's layout: rows top-down, columns in node widths.
var algoNodes = []algoNode{
	{id: "nen", col: 3, row: 0, lines: []string{"NEN on record"}},
	{id: "who", parent: "nen", col: 3, row: 1, lines: []string{"WHO 2019", "classification"}},
	{id: "net12", parent: "who", col: 1.2, row: 2, lines: []string{"NET G1 / G2"}},
	{id: "outside", parent: "who", col: 3.2, row: 2, lines: []string{"NET G3 · MiNEN", "lung / thymus"}},
	{id: "nec", parent: "who", col: 4.5, row: 2, lines: []string{"NEC"}},
	{id: "undet", parent: "who", col: 5.7, row: 2, lines: []string{"Grade", "undetermined"}},
	{id: "limited", parent: "net12", col: 0.3, row: 3, lines: []string{"Localised"}},
	{id: "distant", parent: "net12", col: 2, row: 3, lines: []string{"Metastatic or", "unresectable"}},
	{id: "mdt", parent: "outside", col: 3.2, row: 3, lines: []string{"MDT review", "(outside algorithm)"}, topics: []string{cards.TopicOutsideAlgorithm}},
	{id: "nec1", parent: "nec", col: 4.5, row: 3, lines: []string{"Platinum +", "etoposide"}, topics: []string{cards.TopicNECFirstLine}},
	{id: "review", parent: "undet", col: 5.7, row: 3, lines: []string{"Complete the", "classification"}, topics: []string{cards.TopicClassificationIncomplete}},
	{id: "surgery", parent: "limited", col: 0.3, row: 4, lines: []string{"Resection of", "the primary"}, topics: []string{cards.TopicSurgery}},
	{id: "ssa", parent: "distant", col: 1.4, row: 4, lines: []string{"Somatostatin", "analogue"}, topics: []string{cards.TopicSSA}},
	{id: "liver", parent: "distant", col: 2.5, row: 4, lines: []string{"Liver surgery /", "liver-directed"}, topics: []string{cards.TopicLiverMetsSurgery, cards.TopicLiverDirected}},
	{id: "nec2", parent: "nec1", col: 4.5, row: 4, lines: []string{"Later line"}, topics: []string{cards.TopicNECLaterLine}},
	// Row 5 hangs between the boxes of row 4, so that no connector crosses a box.
	{id: "pnet", parent: "distant", col: 0.85, row: 5, lines: []string{"pNET: everolimus", "/ sunitinib"}, topics: []string{cards.TopicPNETTargeted}},
	{id: "prrt", parent: "distant", col: 1.95, row: 5, lines: []string{"PRRT"}, topics: []string{cards.TopicPRRT}},
	{id: "bone", parent: "distant", col: 3.05, row: 5, lines: []string{"Bone metastases:", "radiotherapy"}, topics: []string{cards.TopicBoneEBRT}},
}

// buildAlgorithm highlights the patient's branch: the category of the classification,
// the extent for a NET G1/G2, and every treatment step for which a card is present.
func buildAlgorithm(p *fhirmap.Picture, cl cards.Classification, topics map[string]bool) algorithm {
	const (
		colW, nodeW, nodeH, rowH, pad = 150.0, 136.0, 44.0, 72.0, 12.0
	)
	on := map[string]bool{}
	if len(p.Diagnoses) > 0 {
		on["nen"], on["who"] = true, true
		switch {
		case cl.Category == cards.CatNETG3 || cl.Category == cards.CatMiNEN || cl.OutsideSite:
			on["outside"] = true
		case cl.WellDifferentiatedNET():
			on["net12"] = true
			if p.Extent.Advanced() {
				on["distant"] = true
			} else if p.Extent.Status == fhirmap.ExtentLimited {
				on["limited"] = true
			}
		case cl.Category == cards.CatNEC:
			on["nec"] = true
		default:
			on["undet"] = true
		}
	}
	pos := map[string]*node{}
	al := algorithm{Width: 6.5*colW + 2*pad, Nodes: make([]node, 0, len(algoNodes))}
	var path []string
	for _, n := range algoNodes {
		lit := on[n.id]
		for _, t := range n.topics {
			lit = lit || topics[t]
		}
		if lit && n.parent != "" && !on[n.parent] {
			lit = false // a card without its branch (e.g. follow-up) does not light a leaf
		}
		on[n.id] = lit
		nd := node{X: round(pad + n.col*colW - nodeW/2 + colW/2), Y: pad + n.row*rowH, W: nodeW, H: nodeH, Lines: n.lines, On: lit}
		if len(n.topics) > 0 {
			nd.Topic = n.topics[0]
		}
		al.Nodes = append(al.Nodes, nd)
		pos[n.id] = &al.Nodes[len(al.Nodes)-1]
		if lit {
			path = append(path, strings.Join(n.lines, " "))
		}
		al.Height = math.Max(al.Height, nd.Y+nodeH+pad)
	}
	for _, n := range algoNodes {
		if n.parent == "" {
			continue
		}
		a, b := pos[n.parent], pos[n.id]
		x1, y1, x2, y2 := a.X+a.W/2, a.Y+a.H, b.X+b.W/2, b.Y
		ym := y1 + (rowH-nodeH)/2
		al.Edges = append(al.Edges, edge{Points: fmt.Sprintf("%s,%s %s,%s %s,%s %s,%s", f(x1), f(y1), f(x1), f(ym), f(x2), f(ym), f(x2), f(y2)), On: a.On && b.On})
	}
	// The patient's branch is drawn last, over the others.
	slices.SortStableFunc(al.Edges, func(a, b edge) int {
		if a.On == b.On {
			return 0
		}
		if a.On {
			return 1
		}
		return -1
	})
	if len(path) == 0 {
		al.Desc = "No NEN diagnosis on record: no branch of the algorithm applies."
	} else {
		al.Desc = "The patient's branch: " + strings.Join(path, " → ") + "."
	}
	return al
}
