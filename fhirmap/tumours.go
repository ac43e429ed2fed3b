package fhirmap

import (
	"slices"
	"time"
)

// One tumour, a history (docs/clinical.md §2). A patient may carry several NEN
// Conditions: an old resolved NET, a recurrence, a second primary. The cards are about
// one tumour, the index tumour; the tumours that are history (clinical status resolved,
// inactive or remission) are kept apart, with the facts that belong to them, so that
// they never enter the classification, the site or the extent.
//
// The Picture's top-level lists describe the index tumour (and the patient: therapies,
// markers, imaging, fitness stay top level). The facts of history tumours move to
// Picture.History; Picture.Tumours lists every tumour and why each fact was moved.

// Tumour is one NEN primary on record.
type Tumour struct {
	// Ref is the primary Condition that names the tumour (the newest of Conditions).
	Ref string `json:"ref"`
	// Conditions are the NEN Conditions of this tumour (newest first).
	Conditions         []string  `json:"conditions"`
	Site               Site      `json:"site,omitempty"`
	ClinicalStatus     string    `json:"clinicalStatus,omitempty"`
	VerificationStatus string    `json:"verificationStatus,omitempty"`
	Onset              time.Time `json:"onset,omitzero"`
	Abatement          time.Time `json:"abatement,omitzero"`
	// Index marks the tumour the cards are about; the others are history, or further
	// active primaries (Picture.MultiplePrimaries).
	Index bool `json:"index,omitempty"`
	// Members are the facts moved to this (history) tumour, and why.
	Members []Member `json:"members,omitempty"`
}

// Member is a fact that belongs to a history tumour and how that was decided.
type Member struct {
	Ref string `json:"ref"`
	// By is how the fact was tied: "condition" (its own Condition), "focus"
	// (Observation.focus), "related" (condition-related extension of a metastasis),
	// "reason" (Procedure.reasonReference), "specimen", "report"
	// (DiagnosticReport.result), "body-site" or "date" (dated before the tumour resolved).
	By string `json:"by"`
}

// History holds the facts of the tumours that are history. They are shown in the
// summary and never used by the classification or the treatment rules.
type History struct {
	Diagnoses       []Diagnosis           `json:"diagnoses,omitempty"`
	Secondaries     []Secondary           `json:"secondaries,omitempty"`
	Ki67            []Ki67                `json:"ki67,omitempty"`
	Mitoses         []MitoticCount        `json:"mitoses,omitempty"`
	GradeLabels     []GradeLabel          `json:"gradeLabels,omitempty"`
	Morphologies    []Morphology          `json:"morphologies,omitempty"`
	Differentiation []DifferentiationFact `json:"differentiation,omitempty"`
	TNM             []TNM                 `json:"tnm,omitempty"`
	Unresectable    []Statement           `json:"unresectable,omitempty"`
	SSTR            []SSTRImaging         `json:"sstr,omitempty"`
	DiseaseStatus   []DiseaseStatus       `json:"diseaseStatus,omitempty"`
	Procedures      []Procedure           `json:"procedures,omitempty"`
}

// links are what a resource says about where it belongs, kept while reading.
type links struct {
	focus    []string // Observation.focus, Procedure.reasonReference
	specimen string
	reports  []string // the DiagnosticReports that list it in result
}

func (m *mapper) link(ref string) *links {
	if m.links == nil {
		m.links = map[string]*links{}
	}
	l := m.links[ref]
	if l == nil {
		l = &links{}
		m.links[ref] = l
	}
	return l
}

// historyStatus reports a clinical status that makes a tumour history.
func historyStatus(s string) bool {
	return s == "resolved" || s == "inactive" || s == "remission"
}

// confirmedStatus: verificationStatus confirmed or absent.
func confirmedStatus(s string) bool { return s == "" || s == "confirmed" }

// historyGrace: without an abatement date, a result more than this before the index
// tumour's onset belongs to an older tumour (a diagnostic biopsy may precede the
// recorded onset by weeks).
const historyGrace = 90 * 24 * time.Hour

// tumours groups the diagnoses into tumours, picks the index tumour and moves the facts
// of the history tumours to p.History. Diagnoses are newest first.
func (m *mapper) tumours() {
	ds := m.p.Diagnoses
	if len(ds) == 0 {
		return
	}
	var active, hist []int
	for i, d := range ds {
		if historyStatus(d.ClinicalStatus) {
			hist = append(hist, i)
		} else {
			active = append(active, i)
		}
	}
	if len(active) == 0 {
		// Nothing active: the cards are about the newest tumour (and say it is
		// resolved); the older ones are its history.
		active, hist = hist[:1], hist[1:]
	}
	m.multiplePrimaries(ds, active)
	// Two active primaries of different sites are two tumours; their facts are not
	// told apart (the cards ask for MDT review instead of a merged picture).
	var second []Tumour
	if len(m.p.MultiplePrimaries) > 1 {
		var rest []int
		rest, active = splitBySite(ds, active, m.p.MultiplePrimaries[1:])
		for _, group := range rest {
			second = append(second, tumourOf(ds, []int{group}))
		}
	}
	index := tumourOf(ds, active)
	index.Index = true
	ts := []Tumour{index}
	for _, i := range hist {
		ts = append(ts, tumourOf(ds, []int{i}))
	}
	defer func() { m.p.Tumours = append(m.p.Tumours, second...) }()
	if len(ts) > 1 {
		a := newAssigner(m, ts)
		a.split()
		ts = a.ts
	}
	m.p.Tumours = ts
}

// splitBySite takes the diagnoses named in others (one per other primary) out of the
// active ones.
func splitBySite(ds []Diagnosis, active []int, others []string) (taken, rest []int) {
	for _, i := range active {
		if slices.Contains(others, ds[i].Ref) {
			taken = append(taken, i)
		} else {
			rest = append(rest, i)
		}
	}
	return taken, rest
}

// tumourOf builds the tumour of the diagnoses idx (newest first); its site and statuses
// are those of the newest confirmed diagnosis that names them.
func tumourOf(ds []Diagnosis, idx []int) Tumour {
	first := ds[idx[0]]
	for _, i := range idx {
		if confirmedStatus(ds[i].VerificationStatus) {
			first = ds[i]
			break
		}
	}
	t := Tumour{Ref: first.Ref, ClinicalStatus: first.ClinicalStatus, VerificationStatus: first.VerificationStatus, Onset: first.Onset, Abatement: first.Abatement}
	for _, i := range idx {
		t.Conditions = append(t.Conditions, ds[i].Ref)
		if t.Site == SiteUnknown && ds[i].Site != SiteUnknown && confirmedStatus(ds[i].VerificationStatus) {
			t.Site = ds[i].Site
		}
		if t.Onset.IsZero() || (!ds[i].Onset.IsZero() && ds[i].Onset.Before(t.Onset)) {
			t.Onset = ds[i].Onset
		}
	}
	return t
}

// multiplePrimaries records two or more active, confirmed, malignant NEN diagnoses of
// different known sites: distinct primaries, which the cards do not merge (MDT review).
func (m *mapper) multiplePrimaries(ds []Diagnosis, active []int) {
	var sites []Site
	var refs []string
	for _, i := range active {
		d := ds[i]
		if !confirmedStatus(d.VerificationStatus) || d.Benign || historyStatus(d.ClinicalStatus) || d.Site == SiteUnknown || slices.Contains(sites, d.Site) {
			continue
		}
		sites = append(sites, d.Site)
		refs = append(refs, d.Ref)
	}
	if len(refs) > 1 {
		m.p.MultiplePrimaries = refs
	}
}

// assigner decides which tumour each fact belongs to: 0 is the index tumour.
type assigner struct {
	m  *mapper
	ts []Tumour
	// condition is the tumour of each Condition (diagnoses, then metastases).
	condition map[string]int
	// specimen and report are the tumours that explicitly tied facts give to a
	// specimen or a report.
	specimen, report map[string]int
	// secondaryBy is how each metastasis was tied to its tumour.
	secondaryBy map[string]string
	// ends are the dates up to which a fact belongs to each history tumour (zero:
	// no date rule for that tumour).
	ends []time.Time
}

func newAssigner(m *mapper, ts []Tumour) *assigner {
	a := &assigner{m: m, ts: ts, condition: map[string]int{}, specimen: map[string]int{}, report: map[string]int{}, secondaryBy: map[string]string{}}
	for t := len(ts) - 1; t >= 0; t-- { // the index tumour wins a Condition named twice
		for _, ref := range ts[t].Conditions {
			a.condition[ref] = t
		}
	}
	index := ts[0]
	a.ends = make([]time.Time, len(ts))
	for t := 1; t < len(ts); t++ {
		switch h := ts[t]; {
		case !h.Abatement.IsZero():
			a.ends[t] = h.Abatement
		case !index.Onset.IsZero() && (h.Onset.IsZero() || h.Onset.Before(index.Onset)):
			a.ends[t] = index.Onset.Add(-historyGrace)
		}
	}
	return a
}

// explicit is the tumour named by the fact itself: its own Condition, or a Condition it
// names (focus, related, reason). ok is false when it names none.
func (a *assigner) explicit(ref string, named []string, by string) (int, string, bool) {
	if t, ok := a.condition[ref]; ok {
		return t, "condition", true
	}
	if l := a.m.links[ref]; l != nil {
		for _, c := range l.focus {
			if t, ok := a.condition[c]; ok {
				return t, "focus", true
			}
		}
	}
	for _, c := range named {
		if t, ok := a.condition[c]; ok {
			return t, by, true
		}
	}
	return 0, "", false
}

// tie records what an explicitly tied fact says about its specimen and reports.
func (a *assigner) tie(ref string, t int) {
	l := a.m.links[ref]
	if l == nil {
		return
	}
	if l.specimen != "" {
		if _, ok := a.specimen[l.specimen]; !ok {
			a.specimen[l.specimen] = t
		}
	}
	for _, r := range l.reports {
		if _, ok := a.report[r]; !ok {
			a.report[r] = t
		}
	}
}

// of returns the tumour of a fact and how it was decided.
func (a *assigner) of(s Source, named []string, by string, site Site) (int, string) {
	if t, how, ok := a.explicit(s.Ref, named, by); ok {
		return t, how
	}
	if l := a.m.links[s.Ref]; l != nil {
		if t, ok := a.specimen[l.specimen]; ok && l.specimen != "" {
			return t, "specimen"
		}
		for _, r := range l.reports {
			if t, ok := a.report[r]; ok {
				return t, "report"
			}
			if rl := a.m.links[r]; rl != nil && rl.specimen != "" {
				if t, ok := a.specimen[rl.specimen]; ok {
					return t, "specimen"
				}
			}
		}
	}
	if site != SiteUnknown && site != a.ts[0].Site {
		for t := 1; t < len(a.ts); t++ {
			if a.ts[t].Site == site {
				return t, "body-site"
			}
		}
	}
	if !s.Date.IsZero() {
		best := 0
		for t := 1; t < len(a.ts); t++ {
			if end := a.ends[t]; !end.IsZero() && !s.Date.After(end) && (best == 0 || end.Before(a.ends[best])) {
				best = t
			}
		}
		if best > 0 {
			return best, "date"
		}
	}
	return 0, ""
}

// split moves every fact of a history tumour from the top-level lists to p.History.
func (a *assigner) split() {
	p := a.m.p
	// First the metastases (so that a result focused on a metastasis follows it), and
	// every explicit tie (so that specimens and reports can pass them on).
	for _, s := range p.Secondaries {
		if t, how, ok := a.explicit(s.Ref, s.Related, "related"); ok {
			a.condition[s.Ref], a.secondaryBy[s.Ref] = t, how
		} else if t, how := a.of(s.Source, nil, "", SiteUnknown); t > 0 {
			a.condition[s.Ref], a.secondaryBy[s.Ref] = t, how
		}
	}
	for ref := range a.m.links {
		if t, _, ok := a.explicit(ref, nil, ""); ok {
			a.tie(ref, t)
		}
	}
	h := &History{}
	moveFacts(a, &p.Diagnoses, &h.Diagnoses, func(d Diagnosis) (Source, []string, Site) { return d.Source, nil, SiteUnknown })
	moveFacts(a, &p.Secondaries, &h.Secondaries, func(d Secondary) (Source, []string, Site) { return d.Source, d.Related, SiteUnknown })
	moveFacts(a, &p.Ki67, &h.Ki67, func(d Ki67) (Source, []string, Site) { return d.Source, nil, SiteUnknown })
	moveFacts(a, &p.Mitoses, &h.Mitoses, func(d MitoticCount) (Source, []string, Site) { return d.Source, nil, SiteUnknown })
	moveFacts(a, &p.GradeLabels, &h.GradeLabels, func(d GradeLabel) (Source, []string, Site) { return d.Source, nil, SiteUnknown })
	moveFacts(a, &p.Morphologies, &h.Morphologies, func(d Morphology) (Source, []string, Site) { return d.Source, nil, SiteUnknown })
	moveFacts(a, &p.Differentiation, &h.Differentiation, func(d DifferentiationFact) (Source, []string, Site) { return d.Source, nil, SiteUnknown })
	moveFacts(a, &p.TNM, &h.TNM, func(d TNM) (Source, []string, Site) { return d.Source, nil, SiteUnknown })
	moveFacts(a, &p.Unresectable, &h.Unresectable, func(d Statement) (Source, []string, Site) { return d.Source, nil, SiteUnknown })
	moveFacts(a, &p.SSTR, &h.SSTR, func(d SSTRImaging) (Source, []string, Site) { return d.Source, nil, SiteUnknown })
	moveFacts(a, &p.DiseaseStatus, &h.DiseaseStatus, func(d DiseaseStatus) (Source, []string, Site) { return d.Source, nil, SiteUnknown })
	// Only a resection belongs to a tumour; PRRT, liver-directed therapy and
	// radiotherapy stay the patient's history.
	var resections, others []Procedure
	for _, pr := range p.Procedures {
		if pr.Kind == ProcPrimaryResection {
			resections = append(resections, pr)
		} else {
			others = append(others, pr)
		}
	}
	moveFacts(a, &resections, &h.Procedures, func(d Procedure) (Source, []string, Site) { return d.Source, d.Reasons, d.Site })
	if len(resections)+len(others) != len(p.Procedures) || len(h.Procedures) > 0 {
		p.Procedures = append(others, resections...)
		sortNewest(p.Procedures, func(d Procedure) Source { return d.Source })
	}
	if len(h.Diagnoses) > 0 {
		p.History = h
	}
}

// moveFacts moves the facts of xs that belong to a history tumour to hist, and records
// them as members of their tumour.
func moveFacts[T any](a *assigner, xs, hist *[]T, key func(T) (Source, []string, Site)) {
	var keep []T
	for _, x := range *xs {
		s, named, site := key(x)
		by := "related"
		if _, ok := any(x).(Procedure); ok {
			by = "reason"
		}
		t, how := a.of(s, named, by, site)
		if t == 0 {
			keep = append(keep, x)
			continue
		}
		*hist = append(*hist, x)
		if by, ok := a.secondaryBy[s.Ref]; ok && how == "condition" {
			how = by
		}
		if how != "condition" || !slices.Contains(a.ts[t].Conditions, s.Ref) {
			a.ts[t].Members = append(a.ts[t].Members, Member{Ref: s.Ref, By: how})
		}
	}
	*xs = keep
}
