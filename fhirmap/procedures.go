package fhirmap

import (
	"cmp"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"
)

// procedureKind recognises the procedures the rules care about, by code first and by
// name as a last resort. A generic radiopharmaceutical administration (SNOMED
// 440252007) counts as PRRT only with PRRT wording, because it also covers diagnostic
// tracers.
func procedureKind(cc *fhir.CodeableConcept, used []fhir.CodeableConcept) (ProcedureKind, []Coding, bool) {
	w := ccWords(cc)
	radiopharm, resectionCode := false, false
	var codes []Coding
	for _, mc := range conceptsOf(cc) {
		switch mc.Code.Concept {
		case "resection":
			resectionCode = true
			codes = append(codes, mc.Coding)
		case "lutathera":
			return ProcPRRT, []Coding{mc.Coding}, true
		case "tace-tae", "rfa-liver":
			return ProcLiverDirected, []Coding{mc.Coding}, true
		case "ebrt":
			return ProcEBRT, []Coding{mc.Coding}, true
		case "prrt":
			radiopharm = true
			codes = append(codes, mc.Coding)
		}
	}
	for i := range used {
		for _, mc := range conceptsOf(&used[i]) {
			if mc.Code.Concept == "lutathera" {
				return ProcPRRT, append(codes, mc.Coding), true
			}
		}
		w += " " + ccWords(&used[i])
	}
	prrtWords := containsAny(w, "prrt", "peptide receptor radionuclide", "lutathera") ||
		(containsAny(w, "lutetium", "177lu", "lu-177", "lu 177") && containsAny(w, "dotatate", "dota-tate", "dotatoc", "dotanoc"))
	switch {
	case prrtWords:
		return ProcPRRT, codes, true
	case radiopharm:
		return "", codes, false
	case containsAny(w, "chemoembolization", "chemoembolisation", "radioembolization", "radioembolisation", "tace", "tare", "y-90", "yttrium-90", "transarterial embolization", "transarterial embolisation") ||
		(containsAny(w, "ablation") && containsAny(w, "liver", "hepatic")):
		return ProcLiverDirected, codes, true
	case containsAny(w, "external beam", "ebrt", "stereotactic body radiation", "sbrt", "palliative radiotherapy") ||
		(containsAny(w, "radiotherapy", "radiation therapy") && !containsAny(w, "radionuclide", "radioembol", "radioligand")):
		return ProcEBRT, codes, true
	case resectionCode || isResection(w):
		return ProcPrimaryResection, codes, true
	}
	return "", codes, false
}

// reShortResection are the abbreviations of endoscopic and transanal resection, read
// as whole words only.
var reShortResection = regexp.MustCompile(`\b(esd|emr|eftr|tem|tamis)\b`)

// isResection recognises a resection of the primary in words (docs/clinical.md §2):
// endoscopic resection (ESD, EMR, polypectomy), the -ectomy of the organ segment,
// Whipple, enucleation, an excision or resection. A biopsy is not a resection, and
// surgery of the liver or of metastases is not a resection of the primary.
func isResection(w string) bool {
	if containsAny(w, "liver", "hepat", "metastasectomy", "metastas", "biopsy", "lymphadenectomy only") {
		return false
	}
	if containsAny(w, "excision") && (resectionSite(w) != SiteUnknown || containsAny(w, "tumour", "tumor", "lesion", "polyp", "carcinoid", "neuroendocrine")) {
		return true // an excision of the organ or of the tumour, not of any lesion
	}
	return reShortResection.MatchString(w) || containsAny(w, "resection", "submucosal dissection", "mucosectomy", "polypectomy",
		"pancreatectomy", "pancreaticoduodenectomy", "whipple", "enucleation",
		"hemicolectomy", "colectomy", "sigmoidectomy", "proctectomy", "proctocolectomy", "enterectomy", "ileectomy", "jejunectomy",
		"duodenectomy", "gastrectomy", "appendectomy", "appendicectomy", "ileocecectomy", "ileocaecectomy",
		"lobectomy", "pneumonectomy", "segmentectomy", "bilobectomy", "thymectomy", "nephrectomy")
}

// resectionSite reads the organ of a resection from its words (no site: unknown).
func resectionSite(w string) Site {
	switch {
	case containsAny(w, "rectal", "rectum", "proctectomy", "transanal", "anterior resection"):
		return SiteRectum
	case containsAny(w, "pancrea", "whipple"):
		return SitePancreas
	case containsAny(w, "append"):
		return SiteAppendix
	case containsAny(w, "ileum", "ileal", "jejun", "duoden", "small bowel", "small intestine", "enterectomy", "ileectomy", "ileocec", "ileocaec"):
		return SiteSmallIntestine
	case containsAny(w, "colon", "colectomy", "sigmoid", "caecum", "cecum"):
		return SiteColon
	case containsAny(w, "gastr", "stomach"):
		return SiteStomach
	case containsAny(w, "lung", "lobectomy", "pneumonectomy", "segmentectomy", "bronch"):
		return SiteLung
	case containsAny(w, "thym"):
		return SiteThymus
	}
	return SiteUnknown
}

// resectionMatchedBy says whether a resection was recognised by a standard code of
// codes.csv (concept "resection"), from the text of the procedure, or from the display
// of its (local) code.
func resectionMatchedBy(cc *fhir.CodeableConcept) string {
	for _, mc := range conceptsOf(cc) {
		if mc.Code.Concept == "resection" {
			return "code"
		}
	}
	if cc != nil && isResection(strings.ToLower(str(cc.Text))) {
		return "text"
	}
	return "display"
}

func (m *mapper) procedure(r rawRes) {
	pr, err := decode[procedure](r)
	if err != nil {
		m.unreadable(r, err)
		return
	}
	kind, codes, ok := procedureKind(pr.Code, pr.UsedCode)
	if !ok {
		if len(codes) > 0 {
			m.note(NoteCaveat, r.ref, "radiopharmaceutical administration without PRRT wording; not counted as PRRT")
		}
		return
	}
	if !m.subjectOK(r, pr.Subject.Reference) {
		return
	}
	st := r.status()
	switch st {
	case "completed", "in-progress":
	case "entered-in-error":
		m.note(NoteSkipped, r.ref, "Procedure skipped: entered in error")
		return
	case "":
		m.note(NoteRejected, r.ref, "Procedure has no status; skipped")
		return
	default:
		m.note(NoteSkipped, r.ref, "Procedure skipped: status "+st+" (not done)")
		return
	}
	if kind == ProcPrimaryResection && st != "completed" {
		// Only a completed resection removed the primary (docs/clinical.md §2).
		m.note(NoteSkipped, r.ref, "resection not counted: status "+st+" (not completed)")
		return
	}
	date := firstDate(pr.PerformedDateTime, periodStart(pr.PerformedPeriod))
	p := Procedure{Source: m.source(r, date, st), Kind: kind, Codes: codes, Text: ccText(pr.Code)}
	for _, rr := range pr.ReasonReference {
		if ref := normRef(str(rr.Reference)); ref != "" {
			p.Reasons = append(p.Reasons, ref)
		}
	}
	if kind == ProcPrimaryResection {
		var sites []matched
		for i := range pr.BodySite {
			sites = append(sites, conceptsOf(&pr.BodySite[i])...)
		}
		if p.Site = siteFromBodySite(pr.BodySite, sites); p.Site == SiteUnknown {
			p.Site = resectionSite(ccWords(pr.Code))
		}
		p.MatchedBy = resectionMatchedBy(pr.Code)
	}
	m.p.Procedures = append(m.p.Procedures, p)
}

var openSR = map[string]bool{"draft": true, "active": true, "on-hold": true}
var openTask = map[string]bool{"draft": true, "requested": true, "received": true, "accepted": true, "ready": true, "in-progress": true, "on-hold": true}

func allCodings(cc *fhir.CodeableConcept) []Coding {
	if cc == nil {
		return nil
	}
	var out []Coding
	for _, c := range cc.Coding {
		if str(c.Code) != "" {
			out = append(out, toCoding(c))
		}
	}
	return out
}

func (m *mapper) serviceRequest(r rawRes) {
	sr, err := decode[serviceRequest](r)
	if err != nil {
		m.unreadable(r, err)
		return
	}
	st := r.status()
	if st == "entered-in-error" {
		m.note(NoteSkipped, r.ref, "ServiceRequest skipped: entered in error")
		return
	}
	if !openSR[st] {
		return
	}
	if !m.subjectOK(r, sr.Subject.Reference) {
		return
	}
	date := firstDate(sr.AuthoredOn, sr.OccurrenceDateTime, periodStart(sr.OccurrencePeriod))
	m.p.OpenOrders = append(m.p.OpenOrders, OpenOrder{Source: m.source(r, date, st), ResourceType: "ServiceRequest", Codes: allCodings(sr.Code), Text: ccText(sr.Code)})
}

func (m *mapper) task(r rawRes) {
	t, err := decode[task](r)
	if err != nil {
		m.unreadable(r, err)
		return
	}
	st := r.status()
	if st == "entered-in-error" {
		m.note(NoteSkipped, r.ref, "Task skipped: entered in error")
		return
	}
	if !openTask[st] {
		return
	}
	if t.For != nil && !m.subjectOK(r, t.For.Reference) {
		return
	}
	text := ccText(t.Code)
	if text == "" {
		text = str(t.Description)
	}
	date := firstDate(t.AuthoredOn, periodStart(t.ExecutionPeriod))
	m.p.OpenOrders = append(m.p.OpenOrders, OpenOrder{Source: m.source(r, date, st), ResourceType: "Task", Codes: allCodings(t.Code), Text: text})
}

// finish derives what needs every resource: SSTR results, therapies, extent, grade
// mismatches and conflicts; then it orders every list newest first.
func (m *mapper) finish() {
	m.finishSSTR()
	m.finishTherapies()
	sortNewest(m.p.Diagnoses, func(d Diagnosis) Source { return d.Source })
	sortNewest(m.p.Secondaries, func(d Secondary) Source { return d.Source })
	sortNewest(m.p.CarcinoidSyndrome, func(d ConditionFact) Source { return d.Source })
	sortNewestHigherFirst(m.p.Ki67, func(d Ki67) (Source, float64) { return d.Source, d.Percent })
	sortNewestHigherFirst(m.p.Mitoses, func(d MitoticCount) (Source, float64) { return d.Source, d.Per2mm2 })
	sortNewest(m.p.GradeLabels, func(d GradeLabel) Source { return d.Source })
	sortNewest(m.p.Morphologies, func(d Morphology) Source { return d.Source })
	sortNewest(m.p.Differentiation, func(d DifferentiationFact) Source { return d.Source })
	sortNewest(m.p.TNM, func(d TNM) Source { return d.Source })
	sortNewest(m.p.Unresectable, func(d Statement) Source { return d.Source })
	sortNewest(m.p.SSTR, func(d SSTRImaging) Source { return d.Source })
	sortNewest(m.p.CrossSections, func(d ImagingStudy) Source { return d.Source })
	sortNewest(m.p.Markers, func(d Marker) Source { return d.Source })
	sortNewest(m.p.LVEF, func(d LVEF) Source { return d.Source })
	sortNewest(m.p.LiverTests, func(d LabResult) Source { return d.Source })
	sortNewest(m.p.MetabolicTests, func(d LabResult) Source { return d.Source })
	sortNewest(m.p.Performance, func(d Performance) Source { return d.Source })
	sortNewest(m.p.DiseaseStatus, func(d DiseaseStatus) Source { return d.Source })
	sortNewest(m.p.Therapies, func(d Therapy) Source { return d.Source })
	sortNewest(m.p.UnidentifiedMedications, func(d Source) Source { return d })
	sortNewest(m.p.Procedures, func(d Procedure) Source { return d.Source })
	sortNewest(m.p.OpenOrders, func(d OpenOrder) Source { return d.Source })
	m.tumours()
	m.extent()
	m.gradeMismatches()
	m.conflicts()
}

// sortNewest orders facts newest first (zero dates last), then by Ref, stably.
func sortNewest[T any](xs []T, src func(T) Source) {
	slices.SortStableFunc(xs, func(a, b T) int {
		sa, sb := src(a), src(b)
		if c := sb.Date.Compare(sa.Date); c != 0 {
			return c
		}
		return cmp.Compare(sa.Ref, sb.Ref)
	})
}

// sortNewestHigherFirst orders grading values newest first by calendar day (UTC); among
// the values of one day the higher value comes first, so that the value that grades
// (the first) is the conservative one, never the one whose resource id sorts first.
// Then by time, then by Ref. Undated values come last.
func sortNewestHigherFirst[T any](xs []T, get func(T) (Source, float64)) {
	day := func(t time.Time) time.Time {
		if t.IsZero() {
			return t
		}
		u := t.UTC()
		return time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC)
	}
	slices.SortStableFunc(xs, func(a, b T) int {
		sa, va := get(a)
		sb, vb := get(b)
		if c := day(sb.Date).Compare(day(sa.Date)); c != 0 {
			return c
		}
		if c := cmp.Compare(vb, va); c != 0 {
			return c
		}
		if c := sb.Date.Compare(sa.Date); c != 0 {
			return c
		}
		return cmp.Compare(sa.Ref, sb.Ref)
	})
}

// extent derives the Extent: distant from secondaries, M1 or stage IV; else locally
// advanced when the primary is recorded as unresectable or locally advanced; limited
// only when no distant disease is on record and M0 or stage I–III is; otherwise unknown.
func (m *mapper) extent() {
	e := Extent{Status: ExtentUnknown}
	var distant, limited []string
	for _, s := range m.p.Secondaries {
		distant = append(distant, s.Ref)
		switch s.Location {
		case SecLiver:
			e.Liver = true
		case SecBone:
			e.Bone = true
			e.ExtrahepaticDistant = true
		case SecUnspecified:
		default:
			e.ExtrahepaticDistant = true
		}
	}
	unexplainedM1 := false
	for _, t := range m.p.TNM {
		switch t.Kind {
		case TNMClinicalM, TNMPathologicalM:
			switch {
			case t.Value == "M0":
				limited = append(limited, t.Ref)
			case t.Value == "M1b" || t.Value == "M1c":
				distant = append(distant, t.Ref)
				e.ExtrahepaticDistant = true
			case strings.HasPrefix(t.Value, "M1"):
				distant = append(distant, t.Ref)
				if t.Value == "M1" {
					unexplainedM1 = true
				}
			}
		case TNMClinicalStage, TNMPathStage:
			switch {
			case strings.HasPrefix(t.Value, "IV"):
				distant = append(distant, t.Ref)
				unexplainedM1 = true
			case strings.HasPrefix(t.Value, "I"), strings.HasPrefix(t.Value, "0"):
				limited = append(limited, t.Ref)
			}
		}
	}
	if unexplainedM1 && !e.Liver {
		e.ExtrahepaticDistant = true
	}
	for _, s := range m.p.Secondaries {
		if s.Location == SecUnspecified && !e.Liver {
			e.ExtrahepaticDistant = true
		}
	}
	switch {
	case len(distant) > 0:
		e.Status, e.Evidence = ExtentDistant, dedupe(distant)
		if len(limited) > 0 {
			m.note(NoteConflict, "", "M0 or stage I–III ("+strings.Join(dedupe(limited), ", ")+") conflicts with distant disease ("+strings.Join(dedupe(distant), ", ")+"); distant disease is used")
		}
	case len(m.p.Unresectable) > 0:
		// Locally advanced / unresectable: not limited, whatever M0 or stage I–III says,
		// and not distant either (docs/clinical.md §2).
		var refs []string
		for _, u := range m.p.Unresectable {
			refs = append(refs, u.Ref)
		}
		e.Status, e.Evidence = ExtentLocallyAdvanced, dedupe(refs)
	case len(limited) > 0:
		e.Status, e.Evidence = ExtentLimited, dedupe(limited)
	}
	m.p.Extent = e
}

func dedupe(xs []string) []string {
	var out []string
	for _, x := range xs {
		if x != "" && !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// gradeMismatches notes every grade label that the computed grade contradicts. The
// computed grade is the WHO 2019 one: the higher of the Ki-67 grade and the mitotic
// grade. Each value compared is the one of the same specimen, else the nearest in time
// within a month, else the only one (one label, one value: the same tumour).
func (m *mapper) gradeMismatches() {
	if len(m.p.Ki67) == 0 && len(m.p.Mitoses) == 0 {
		return
	}
	for _, g := range m.p.GradeLabels {
		if g.Grade == 0 {
			continue
		}
		ki := pairedValue(g, m.p.Ki67, func(k Ki67) (Source, string) { return k.Source, k.Specimen }, len(m.p.GradeLabels))
		mi := pairedValue(g, m.p.Mitoses, func(x MitoticCount) (Source, string) { return x.Source, x.Specimen }, len(m.p.GradeLabels))
		kg, mg := 0, 0
		var parts []string
		if ki >= 0 {
			k := m.p.Ki67[ki]
			kg = Ki67Grade(k.Percent)
			parts = append(parts, "Ki-67 "+fmtNum(k.Percent)+" % ("+k.Ref+") = G"+fmtNum(float64(kg)))
		}
		if mi >= 0 {
			x := m.p.Mitoses[mi]
			mg = MitoticGrade(x.Per2mm2)
			parts = append(parts, "mitotic count "+fmtNum(x.Per2mm2)+" per 2 mm² ("+x.Ref+") = G"+fmtNum(float64(mg)))
		}
		computed := max(kg, mg)
		if computed == 0 || computed == g.Grade {
			continue
		}
		if len(parts) == 1 {
			m.note(NoteGradeMismatch, g.Ref, "grade label "+strconvQuote(g.Label)+" contradicts "+parts[0]+"; the numeric value wins")
			continue
		}
		m.note(NoteGradeMismatch, g.Ref, "grade label "+strconvQuote(g.Label)+" contradicts the computed grade G"+fmtNum(float64(computed))+
			" (the higher of "+strings.Join(parts, " and ")+"); the numeric values win")
	}
}

// pairedValue finds the value (index into xs, -1 if none) that describes the same
// specimen or work-up as the grade label g.
func pairedValue[T any](g GradeLabel, xs []T, get func(T) (Source, string), labels int) int {
	if g.Specimen != "" {
		for i, x := range xs {
			if _, sp := get(x); sp == g.Specimen {
				return i
			}
		}
	}
	if !g.Date.IsZero() {
		// The value nearest in time, within a month (the same pathology work-up); the
		// first of equally near ones (lists are newest first, higher first per day).
		best, found := maxGradeGap, -1
		for i, x := range xs {
			s, _ := get(x)
			if s.Date.IsZero() {
				continue
			}
			if gap := s.Date.Sub(g.Date).Abs(); gap < best || (gap == best && found < 0) {
				found, best = i, gap
			}
		}
		if found >= 0 {
			return found
		}
	}
	if len(xs) == 1 && labels == 1 {
		return 0
	}
	return -1
}

// maxGradeGap is how far apart a grade label and a Ki-67 may be to be compared.
const maxGradeGap = 31 * 24 * time.Hour

func sameDay(a, b time.Time) bool {
	return !a.IsZero() && a.Year() == b.Year() && a.YearDay() == b.YearDay()
}

// conflicts notes differentiation statements that disagree, and Ki-67 values of one
// specimen or day that give different grades.
func (m *mapper) conflicts() {
	var well, poor []string
	for _, d := range m.p.Differentiation {
		ref := d.Ref
		if strings.HasPrefix(d.Caveat, "verification status ") {
			// An unconfirmed diagnosis: named as such (the rules classify from
			// confirmed facts only).
			ref += " (" + strings.SplitN(d.Caveat, ";", 2)[0] + ")"
		}
		switch d.Value {
		case DiffWell:
			well = append(well, ref)
		case DiffPoor:
			poor = append(poor, ref)
		}
	}
	if len(well) > 0 && len(poor) > 0 {
		m.note(NoteConflict, "", "differentiation conflicts: well differentiated in "+strings.Join(dedupe(well), ", ")+"; poorly differentiated in "+strings.Join(dedupe(poor), ", "))
	}
	for i, a := range m.p.Ki67 {
		for _, b := range m.p.Ki67[i+1:] {
			same := (a.Specimen != "" && a.Specimen == b.Specimen) || (a.Specimen == "" && b.Specimen == "" && sameDay(a.Date, b.Date))
			if same && Ki67Grade(a.Percent) != Ki67Grade(b.Percent) {
				m.note(NoteConflict, a.Ref, "Ki-67 "+fmtNum(a.Percent)+" % ("+a.Ref+") and "+fmtNum(b.Percent)+" % ("+b.Ref+") of the same specimen or day give different grades")
			}
		}
	}
}
