package fhirmap

import (
	"encoding/json"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"
)

// Ki67Grade is the WHO 2019 grade of a Ki-67 index in percent: < 3 → 1, 3–20
// (inclusive) → 2, > 20 → 3. It returns 0 for a value that is not a percentage.
func Ki67Grade(percent float64) int {
	switch {
	case math.IsNaN(percent) || percent < 0 || percent > 100:
		return 0
	case percent < 3:
		return 1
	case percent <= 20:
		return 2
	default:
		return 3
	}
}

// MitoticGrade is the WHO 2019 grade of a mitotic count per 2 mm²: < 2 → 1, 2–20
// (inclusive) → 2, > 20 → 3. It returns 0 for a negative or NaN count.
func MitoticGrade(per2mm2 float64) int {
	switch {
	case math.IsNaN(per2mm2) || per2mm2 < 0 || math.IsInf(per2mm2, 0):
		return 0
	case per2mm2 < 2:
		return 1
	case per2mm2 <= 20:
		return 2
	default:
		return 3
	}
}

// obsValue is the part of an Observation (or one of its components) that carries a
// code and a value.
type obsValue struct {
	code           *fhir.CodeableConcept
	q              *fhir.Quantity
	cc             *fhir.CodeableConcept
	s              *string
	i              *int
	interpretation []fhir.CodeableConcept
	refRange       []fhir.ObservationReferenceRange
}

// obsConcepts are the codes.csv concepts that an Observation code can carry.
var obsConcepts = map[string]bool{
	"ki67": true, "mitotic-count": true, "histology-grade": true, "histologic-grade-mcode": true,
	"morphology-behavior-obs": true, "differentiation": true,
	"tnm-clinical-stage-group": true, "tnm-path-stage-group": true, "tnm-cm": true, "tnm-pm": true, "tnm-cn": true, "tnm-pn": true,
	"sstr-status": true, "krenning-score": true,
	"chromogranin-a": true, "chromogranin-a-molar": true, "5-hiaa-24h-urine": true, "5-hiaa-urine-molar": true,
	"5-hiaa-urine-molar-time": true, "5-hiaa-plasma": true, "5-hiaa-plasma-molar": true,
	"lvef": true, "lvef-us": true, "lvef-ct": true, "lvef-mr": true, "lvef-snomed": true,
	"alt": true, "ast": true, "bilirubin-total": true, "hepatic-panel": true,
	"fasting-glucose": true, "hba1c": true, "lipid-panel": true,
	"ecog": true, "karnofsky": true, "disease-status": true, "resectability": true,
}

// obsConcept returns the first observation concept of a code (the first of
// conceptsOf(cc) that is one, read without building that list).
func obsConcept(cc *fhir.CodeableConcept) (matched, bool) {
	if cc == nil {
		return matched{}, false
	}
	for _, c := range cc.Coding {
		if row, ok := lookupCoding(c); ok && obsConcepts[row.Concept] {
			return matched{Code: row, Coding: toCoding(c)}, true
		}
	}
	return matched{}, false
}

// resultStatus checks a result status (Observation, DiagnosticReport) from the raw JSON.
// It returns the caveat to use and whether the result may be used; it writes the note.
func (m *mapper) resultStatus(r rawRes) (caveat string, ok bool) {
	switch st := r.status(); st {
	case "final", "amended", "corrected", "appended":
		return "", true
	case "preliminary", "partial":
		m.note(NoteCaveat, r.ref, r.doc.ResourceType+" is "+st+"; used with a caveat")
		return CaveatPreliminary, true
	case "entered-in-error":
		m.note(NoteSkipped, r.ref, r.doc.ResourceType+" skipped: entered in error")
	case "cancelled":
		m.note(NoteSkipped, r.ref, r.doc.ResourceType+" skipped: cancelled")
	case "":
		m.note(NoteRejected, r.ref, r.doc.ResourceType+" skipped: it has no status")
	default:
		m.note(NoteSkipped, r.ref, r.doc.ResourceType+" skipped: status "+strconv.Quote(st)+" is not a usable result")
	}
	return "", false
}

func (m *mapper) observation(r rawRes) {
	o, err := decode[observation](r)
	if err != nil {
		m.unreadable(r, err)
		return
	}
	main, isMain := obsConcept(&o.Code)
	study := !isMain && isSSTRStudy(&o.Code)
	var comps []int
	for i := range o.Component {
		if _, ok := obsConcept(&o.Component[i].Code); ok {
			comps = append(comps, i)
		}
	}
	if !isMain && !study && len(comps) == 0 {
		return // not an observation the rules read
	}
	if o.Subject != nil && !m.subjectOK(r, o.Subject.Reference) {
		return
	}
	caveat, ok := m.resultStatus(r)
	if !ok {
		return
	}
	date := firstDate(o.EffectiveDateTime, periodStart(o.EffectivePeriod), o.EffectiveInstant, o.Issued)
	src := m.source(r, date, r.status())
	src.Caveat = caveat
	specimen := ""
	if o.Specimen != nil {
		specimen = normRef(str(o.Specimen.Reference))
	}
	if specimen != "" || len(o.Focus) > 0 {
		l := m.link(r.ref)
		l.specimen = specimen
		for _, f := range o.Focus {
			if ref := normRef(str(f.Reference)); ref != "" {
				l.focus = append(l.focus, ref)
			}
		}
	}
	if study {
		m.sstrStudyObservation(r, o, src)
		return
	}
	if isMain {
		m.obsFact(main, obsValue{code: &o.Code, q: o.ValueQuantity, cc: o.ValueCodeableConcept, s: o.ValueString, i: o.ValueInteger,
			interpretation: o.Interpretation, refRange: o.ReferenceRange}, src, specimen)
	}
	for _, i := range comps {
		c := o.Component[i]
		mc, _ := obsConcept(&c.Code)
		m.obsFact(mc, obsValue{code: &c.Code, q: c.ValueQuantity, cc: c.ValueCodeableConcept, s: c.ValueString, i: c.ValueInteger,
			interpretation: c.Interpretation, refRange: c.ReferenceRange}, src, specimen)
	}
}

// mitoticUnit is what the unit of a mitotic count says about its area.
type mitoticUnit int

const (
	mitOther   mitoticUnit = iota // not an area we can convert: rejected
	mitPer2mm2                    // per 2 mm² (the WHO 2019 unit)
	mitPerMM2                     // per mm²: × 2
	mitNoUnit                     // no unit: read as per 2 mm², with a caveat
	mitHPF                        // per high-power field(s): rejected (field area unknown)
)

// mitoticUnitOf classifies the unit of a mitotic count: UCUM-like forms ("/2.mm2",
// "{mitoses}/(2.mm2)", "/2mm2", "1/mm2") and text ("per 2 mm2", "mitoses/2 mm²").
// The UCUM code is tried first, then the human-readable unit.
func mitoticUnitOf(v obsValue) mitoticUnit {
	if v.q == nil {
		return mitNoUnit
	}
	code, unit := strings.TrimSpace(str(v.q.Code)), strings.TrimSpace(str(v.q.Unit))
	if code == "" && unit == "" {
		return mitNoUnit
	}
	for _, u := range []string{code, unit} {
		if u == "" {
			continue
		}
		if k := classifyMitoticUnit(u); k != mitOther {
			return k
		}
	}
	return mitOther
}

func classifyMitoticUnit(raw string) mitoticUnit {
	u := strings.ToLower(raw)
	if strings.Contains(u, "hpf") || strings.Contains(u, "high power") || strings.Contains(u, "high-power") {
		return mitHPF
	}
	for _, r := range [][2]string{
		{"²", "2"}, {"^", ""}, {"{mitoses}", ""}, {"{mitosis}", ""}, {"{mitotic figures}", ""}, {"{mitoticfigures}", ""},
		{"mitotic figures", ""}, {"mitoses", ""}, {"mitosis", ""}, {"per", "/"}, {"(", ""}, {")", ""}, {".", ""},
		{"square millimetres", "mm2"}, {"square millimeters", "mm2"}, {"sq mm", "mm2"}, {"sq. mm", "mm2"}, {" ", ""},
	} {
		u = strings.ReplaceAll(u, r[0], r[1])
	}
	u = strings.TrimPrefix(u, "1/")
	u = strings.TrimPrefix(u, "/")
	switch u {
	case "2mm2":
		return mitPer2mm2
	case "mm2":
		return mitPerMM2
	case "":
		return mitNoUnit // an annotation only, e.g. "{mitoses}"
	}
	return mitOther
}

// obsFact reads one observation value of a known concept: it hands the value to the
// reader of its concept.
func (m *mapper) obsFact(mc matched, v obsValue, src Source, specimen string) {
	switch con := mc.Code.Concept; con {
	case "ki67":
		if k, ok := m.readKi67(src.Ref, v); ok {
			k.Source, k.Specimen = src, specimen
			m.p.Ki67 = append(m.p.Ki67, k)
		}
	case "mitotic-count":
		m.readMitoses(v, src, specimen)
	case "histology-grade", "histologic-grade-mcode":
		m.readGradeLabel(v, src, specimen)
	case "morphology-behavior-obs":
		m.readMorphologyObs(v, src)
	case "differentiation":
		m.readDifferentiationObs(v, src)
	case "tnm-clinical-stage-group", "tnm-path-stage-group", "tnm-cm", "tnm-pm", "tnm-cn", "tnm-pn":
		m.readTNM(con, v, src)
	case "sstr-status", "krenning-score":
		m.sstrObservationValue(con, v, src)
	case "chromogranin-a", "chromogranin-a-molar", "5-hiaa-24h-urine", "5-hiaa-urine-molar", "5-hiaa-urine-molar-time", "5-hiaa-plasma", "5-hiaa-plasma-molar":
		m.readMarker(mc, v, src)
	case "lvef", "lvef-us", "lvef-ct", "lvef-mr", "lvef-snomed":
		m.readLVEF(mc, v, src)
	case "alt", "ast", "bilirubin-total", "hepatic-panel":
		lr := LabResult{Source: src, Kind: LabKind(con), Code: mc.Coding}
		if v.q != nil {
			if f, ok := number(v.q.Value); ok {
				lr.Quantity = &Quantity{Value: f, Unit: quantityUnit(v.q)}
			}
		}
		m.p.LiverTests = append(m.p.LiverTests, lr)
	case "fasting-glucose", "hba1c", "lipid-panel":
		lr := LabResult{Source: src, Kind: LabKind(con), Code: mc.Coding}
		if v.q != nil {
			if f, ok := number(v.q.Value); ok {
				lr.Quantity = &Quantity{Value: f, Unit: quantityUnit(v.q)}
			}
		}
		m.p.MetabolicTests = append(m.p.MetabolicTests, lr)
	case "ecog", "karnofsky":
		score, ok := performanceScore(con, v)
		if !ok {
			m.note(NoteRejected, src.Ref, con+" score could not be read or is out of range; not used")
			return
		}
		m.p.Performance = append(m.p.Performance, Performance{Source: src, Scale: con, Score: score})
	case "disease-status":
		m.readDiseaseStatus(v, src)
	case "resectability":
		m.readResectability(v, src)
	}
}

// readMitoses reads a mitotic count and brings it to per 2 mm² (docs/clinical.md §2).
func (m *mapper) readMitoses(v obsValue, src Source, specimen string) {
	ref := src.Ref
	f, raw, ok := m.numeric(ref, "mitotic count", v)
	if !ok {
		return
	}
	if f < 0 {
		m.note(NoteRejected, ref, "mitotic count "+raw+" is negative; rejected")
		return
	}
	switch mitoticUnitOf(v) {
	case mitPer2mm2:
	case mitPerMM2:
		m.note(NoteNormalised, ref, "mitotic count "+raw+" is per mm²: read as "+fmtNum(f*2)+" per 2 mm² (× 2)")
		f *= 2
	case mitNoUnit:
		m.note(NoteCaveat, ref, "mitotic count "+raw+" has no unit: read as per 2 mm² (WHO 2019); check the pathology report")
		src.Caveat = joinCaveat(src.Caveat, "no unit: read as per 2 mm²")
	case mitHPF:
		m.note(NoteRejected, ref, "mitotic count per high-power field is not a count per 2 mm²; rejected")
		return
	default:
		m.note(NoteRejected, ref, "mitotic count unit "+strconvQuote(quantityUnit(v.q))+" is not per 2 mm² or per mm²; rejected")
		return
	}
	m.p.Mitoses = append(m.p.Mitoses, MitoticCount{Source: src, Per2mm2: f, Specimen: specimen})
}

// readGradeLabel keeps a reported histologic grade (G1, G2, G3) as a label.
func (m *mapper) readGradeLabel(v obsValue, src Source, specimen string) {
	label := valueLabel(v)
	if label == "" {
		m.note(NoteRejected, src.Ref, "histologic grade without a readable value; rejected")
		return
	}
	m.p.GradeLabels = append(m.p.GradeLabels, GradeLabel{Source: src, Grade: parseGrade(label), Label: label, Specimen: specimen})
}

// readMorphologyObs reads an ICD-O-3 morphology observation (LOINC 31206-6) and the
// differentiation it implies.
func (m *mapper) readMorphologyObs(v obsValue, src Source) {
	if v.cc == nil {
		m.note(NoteRejected, src.Ref, "morphology observation without a coded value; rejected")
		return
	}
	for _, vm := range conceptsOf(v.cc) {
		if !isMorphConcept(vm.Code.Concept) {
			continue
		}
		s := src
		if !vm.verified() {
			s.Caveat = CaveatUnverifiedCode
		}
		d := morphDifferentiation(vm.Code.Concept)
		m.p.Morphologies = append(m.p.Morphologies, Morphology{Source: s, Code: vm.Coding.Code, Differentiation: d})
		if d != DiffUnknown {
			m.p.Differentiation = append(m.p.Differentiation, DifferentiationFact{Source: s, Value: d, From: "ICD-O-3 " + vm.Coding.Code})
		}
		return
	}
	m.note(NoteRejected, src.Ref, "morphology observation with a code outside the NEN morphologies; not used")
}

// readDifferentiationObs reads an explicit well / poor differentiation statement.
func (m *mapper) readDifferentiationObs(v obsValue, src Source) {
	d := parseDifferentiation(v)
	if d == DiffUnknown {
		m.note(NoteRejected, src.Ref, "differentiation observation with a value that is neither well nor poorly differentiated; not used")
		return
	}
	m.p.Differentiation = append(m.p.Differentiation, DifferentiationFact{Source: src, Value: d, From: "observation"})
}

// tnmKinds maps the TNM concepts of codes.csv to their kind.
var tnmKinds = map[string]TNMKind{
	"tnm-clinical-stage-group": TNMClinicalStage, "tnm-path-stage-group": TNMPathStage,
	"tnm-cm": TNMClinicalM, "tnm-pm": TNMPathologicalM, "tnm-cn": TNMClinicalN, "tnm-pn": TNMPathologicalN,
}

// readTNM reads a TNM category or stage group.
func (m *mapper) readTNM(con string, v obsValue, src Source) {
	kind := tnmKinds[con]
	val, ok := normTNM(kind, v)
	if !ok {
		m.note(NoteRejected, src.Ref, "TNM value could not be read; not used")
		return
	}
	m.p.TNM = append(m.p.TNM, TNM{Source: src, Kind: kind, Value: val})
}

// readMarker reads a chromogranin A or 5-HIAA result.
func (m *mapper) readMarker(mc matched, v obsValue, src Source) {
	con := mc.Code.Concept
	if v.q == nil {
		m.note(NoteRejected, src.Ref, "tumour marker without a quantity; not used")
		return
	}
	f, ok := number(v.q.Value)
	if !ok {
		m.note(NoteRejected, src.Ref, "tumour marker value could not be read; not used")
		return
	}
	mk := Marker{Source: src, Code: mc.Coding, Quantity: Quantity{Value: f, Unit: quantityUnit(v.q)}, Molar: strings.HasSuffix(con, "molar") || strings.HasSuffix(con, "molar-time")}
	switch {
	case strings.HasPrefix(con, "chromogranin"):
		mk.Kind = MarkerCgA
	case strings.HasPrefix(con, "5-hiaa-plasma"):
		mk.Kind = Marker5HIAAPlasma
	default:
		mk.Kind = Marker5HIAAUrine
	}
	mk.Elevated = elevated(f, v)
	m.p.Markers = append(m.p.Markers, mk)
}

// readLVEF reads a left ventricular ejection fraction in percent.
func (m *mapper) readLVEF(mc matched, v obsValue, src Source) {
	ref := src.Ref
	f, raw, ok := m.numeric(ref, "LVEF", v)
	if !ok {
		return
	}
	switch u := quantityUnit(v.q); u {
	case "%", "":
	default:
		m.note(NoteRejected, ref, "LVEF unit "+strconv.Quote(u)+" is not %; rejected")
		return
	}
	if f <= 0 || f > 100 {
		m.note(NoteRejected, ref, "LVEF "+raw+" is outside 0–100 %; rejected")
		return
	}
	m.p.LVEF = append(m.p.LVEF, LVEF{Source: src, Percent: f, Code: mc.Coding})
}

// readDiseaseStatus reads an mCODE cancer disease status (SNOMED CT answers).
func (m *mapper) readDiseaseStatus(v obsValue, src Source) {
	if v.cc == nil {
		m.note(NoteRejected, src.Ref, "disease status without a coded value; not used")
		return
	}
	ds := DiseaseStatus{Source: src, Value: StatusOther}
	for _, c := range v.cc.Coding {
		if str(c.System) != sysSNOMED {
			continue
		}
		ds.Code = toCoding(c)
		switch str(c.Code) {
		case "271299001":
			ds.Value = StatusProgression
		case "359746009":
			ds.Value = StatusStable
		case "268910001":
			ds.Value = StatusImproved
		}
		break
	}
	if ds.Code.Code == "" && len(v.cc.Coding) > 0 {
		ds.Code = toCoding(v.cc.Coding[0])
	}
	m.p.DiseaseStatus = append(m.p.DiseaseStatus, ds)
}

// readResectability reads a resectability observation (project code): "unresectable"
// or "locally-advanced" (coded or in words) is kept as a statement for the extent; a
// resectable tumour adds nothing (limited disease still needs M0 or stage I–III).
func (m *mapper) readResectability(v obsValue, src Source) {
	if v.cc != nil {
		for _, c := range v.cc.Coding {
			if str(c.System) != LocalSystem {
				continue
			}
			switch str(c.Code) {
			case "unresectable", "locally-advanced":
				m.p.Unresectable = append(m.p.Unresectable, Statement{Source: src, Text: str(c.Code)})
				return
			case "resectable":
				return
			}
		}
	}
	if w := unresectableWords(valueLabel(v)); w != "" {
		m.p.Unresectable = append(m.p.Unresectable, Statement{Source: src, Text: w})
		return
	}
	if !strings.Contains(strings.ToLower(valueLabel(v)), "resectable") {
		m.note(NoteRejected, src.Ref, "resectability observation with a value that is neither resectable nor unresectable; not used")
	}
}

// unresectableWords returns the phrase of text that says the tumour is locally advanced
// or unresectable ("" when none does). "Borderline resectable" is not unresectable.
func unresectableWords(text string) string {
	t := strings.ToLower(text)
	for _, w := range []string{"unresectable", "non-resectable", "nonresectable", "not resectable", "irresectable", "inoperable", "locally advanced", "locally-advanced"} {
		for from := 0; ; {
			i := strings.Index(t[from:], w)
			if i < 0 {
				break
			}
			i += from
			if !negated(t[:i]) {
				return w
			}
			from = i + len(w)
		}
	}
	return ""
}

// negated reports words that deny what follows them ("not locally advanced", "no
// evidence of unresectable disease"), looking at the few words just before it.
func negated(before string) bool {
	f := strings.Fields(before)
	if len(f) > 4 {
		f = f[len(f)-4:]
	}
	for _, w := range f {
		switch strings.Trim(w, ",;:.()") {
		case "not", "no", "non", "without", "neither", "nor", "rather":
			return true
		}
	}
	return false
}

// numeric reads a quantity, integer or plain-number string.
func (m *mapper) numeric(ref, what string, v obsValue) (float64, string, bool) {
	switch {
	case v.q != nil:
		if v.q.Comparator != nil {
			m.note(NoteRejected, ref, what+" with a comparator is not a point value; rejected")
			return 0, "", false
		}
		f, ok := number(v.q.Value)
		if !ok {
			m.note(NoteRejected, ref, what+" value could not be read; rejected")
			return 0, "", false
		}
		return f, strings.TrimSpace(fmtNum(f) + " " + quantityUnit(v.q)), true
	case v.i != nil:
		return float64(*v.i), strconv.Itoa(*v.i), true
	case v.s != nil:
		f, err := strconv.ParseFloat(strings.TrimSpace(*v.s), 64)
		if err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f, strings.TrimSpace(*v.s), true
		}
	}
	m.note(NoteRejected, ref, what+" has no numeric value; rejected")
	return 0, "", false
}

var (
	reKi67Range  = regexp.MustCompile(`^(\d+(?:[.,]\d+)?)\s*%?\s*(?:-|–|—|to)\s*(\d+(?:[.,]\d+)?)\s*%?$`)
	reKi67Num    = regexp.MustCompile(`^(\d+(?:[.,]\d+)?)\s*(%?)$`)
	reComparator = regexp.MustCompile(`^(<=|>=|<|>|≤|≥)`)
)

// readKi67 normalises a Ki-67 value as docs/clinical.md §2 says, in three steps: read
// the value as sent (ki67Sent), bring it to percent (ki67Percent), and accept a bound
// only when its grade is certain (ki67Bound).
func (m *mapper) readKi67(ref string, v obsValue) (Ki67, bool) {
	k, sent, ok := m.ki67Sent(ref, v)
	if !ok {
		return k, false
	}
	if !m.ki67Percent(ref, &k, sent) {
		return k, false
	}
	if k.Percent < 0 || k.Percent > 100 {
		m.note(NoteRejected, ref, "Ki-67 "+k.Raw+" is outside 0–100 %; rejected")
		return k, false
	}
	if sent.op != "" {
		return k, m.ki67Bound(ref, &k, sent.op)
	}
	return k, true
}

// ki67Value is a Ki-67 value as sent: the number, its unit ("%", "1" or another
// spelling; unitKnown false when none was sent) and a comparator (<, <=, >=, >).
type ki67Value struct {
	val       float64
	unit, op  string
	unitKnown bool
}

// ki67Sent reads the value of a Ki-67 observation: a Quantity, an integer (percent),
// or a string (a number, a percentage, or a range read as its upper bound).
func (m *mapper) ki67Sent(ref string, v obsValue) (Ki67, ki67Value, bool) {
	var k Ki67
	var x ki67Value
	switch {
	case v.q != nil:
		sent := quantityUnit(v.q)
		x.unit = normUnit(sent)
		k.Raw = strings.TrimSpace(strOrEmpty(v.q.Value) + " " + sent)
		if sent == "1" {
			k.Raw = strOrEmpty(v.q.Value) + " (unit 1)"
		}
		if v.q.Comparator != nil {
			x.op = v.q.Comparator.Code()
			k.Raw = x.op + k.Raw
		}
		f, ok := number(v.q.Value)
		if !ok {
			m.note(NoteRejected, ref, "Ki-67 value could not be read; rejected")
			return k, x, false
		}
		x.val, x.unitKnown = f, x.unit != ""
	case v.i != nil:
		k.Raw = strconv.Itoa(*v.i)
		x.val, x.unit, x.unitKnown = float64(*v.i), "%", true
		if *v.i >= 0 && *v.i <= 100 {
			m.note(NoteNormalised, ref, "Ki-67 "+k.Raw+" sent as an integer without a unit; read as percent")
			k.Normalised = true
		}
	case v.s != nil:
		k.Raw = strings.TrimSpace(*v.s)
		var ok bool
		if x, ok = m.ki67Text(ref, &k); !ok {
			return k, x, false
		}
	default:
		m.note(NoteRejected, ref, "Ki-67 without a numeric value; rejected")
		return k, x, false
	}
	return k, x, true
}

// ki67Text reads a Ki-67 sent as text: "15", "15 %", "<2%", "15-20%" (the upper bound).
func (m *mapper) ki67Text(ref string, k *Ki67) (ki67Value, bool) {
	var x ki67Value
	s := strings.ToLower(strings.ReplaceAll(k.Raw, " ", ""))
	s = strings.ReplaceAll(strings.ReplaceAll(s, "percent", "%"), "pct", "%")
	if mm := reComparator.FindStringSubmatch(s); mm != nil {
		x.op = map[string]string{"≤": "<=", "≥": ">="}[mm[1]]
		if x.op == "" {
			x.op = mm[1]
		}
		s = s[len(mm[0]):]
	}
	if mm := reKi67Range.FindStringSubmatch(s); mm != nil {
		lo, _ := strconv.ParseFloat(strings.ReplaceAll(mm[1], ",", "."), 64)
		hi, _ := strconv.ParseFloat(strings.ReplaceAll(mm[2], ",", "."), 64)
		if lo > hi || x.op != "" {
			m.note(NoteRejected, ref, "Ki-67 range "+strconv.Quote(k.Raw)+" is malformed (bounds reversed or a comparator); rejected")
			return x, false
		}
		x.val, x.unit, x.unitKnown = hi, "%", true
		k.Normalised = true
		m.note(NoteNormalised, ref, "Ki-67 range "+strconv.Quote(k.Raw)+" read as its upper bound "+fmtNum(hi)+" %")
		return x, true
	}
	if mm := reKi67Num.FindStringSubmatch(s); mm != nil {
		x.val, _ = strconv.ParseFloat(strings.ReplaceAll(mm[1], ",", "."), 64)
		if mm[2] == "%" {
			x.unit, x.unitKnown = "%", true
		}
		return x, true
	}
	m.note(NoteRejected, ref, "Ki-67 text "+strconv.Quote(k.Raw)+" is not a number, a percentage or a range; rejected")
	return x, false
}

// ki67Percent sets k.Percent from the value as sent: percent as is; a fraction
// (unit 1, {ratio} or none) with 0 < value < 1 × 100; a unitless value above 1 as
// percent (with a note); anything else is rejected.
func (m *mapper) ki67Percent(ref string, k *Ki67, x ki67Value) bool {
	switch {
	case x.unit == "%":
		k.Percent = x.val
	case x.unit == "1" || !x.unitKnown:
		switch {
		case x.val > 0 && x.val < 1:
			k.Percent = math.Round(x.val*100*1e6) / 1e6
			k.Normalised = true
			m.note(NoteNormalised, ref, "Ki-67 "+k.Raw+" read as a fraction: "+fmtNum(k.Percent)+" %")
		case x.val == 0:
			k.Percent = 0
		case x.val == 1:
			m.note(NoteRejected, ref, "Ki-67 "+k.Raw+" without a percent unit is ambiguous (1 % or a fraction of 1); rejected")
			return false
		case !x.unitKnown && x.val > 1 && x.val <= 100:
			k.Percent = x.val
			k.Normalised = true
			m.note(NoteNormalised, ref, "Ki-67 "+k.Raw+" sent without a unit; read as percent")
		default:
			m.note(NoteRejected, ref, "Ki-67 "+k.Raw+" is not a fraction between 0 and 1; rejected")
			return false
		}
	default:
		m.note(NoteRejected, ref, "Ki-67 unit "+strconv.Quote(x.unit)+" is not a percentage; rejected")
		return false
	}
	return true
}

// ki67Bound accepts a bound (<, <=, >=, >) only when every value it allows has the same
// grade, and the bound itself has that grade too: below 3 % (G1) or above 20 % (G3).
func (m *mapper) ki67Bound(ref string, k *Ki67, op string) bool {
	below := op == "<" || op == "<="
	if (below && k.Percent < 3) || (!below && k.Percent > 20) {
		k.Normalised = true
		m.note(NoteNormalised, ref, "Ki-67 "+k.Raw+" read as "+fmtNum(k.Percent)+" %: its grade (G"+strconv.Itoa(Ki67Grade(k.Percent))+") is the same for every value in that range")
		return true
	}
	m.note(NoteRejected, ref, "Ki-67 "+k.Raw+" is a bound whose grade depends on the exact value; rejected")
	return false
}

// normUnit maps the spellings of percent and of a pure fraction to "%" and "1".
func normUnit(u string) string {
	switch strings.ToLower(strings.TrimSpace(u)) {
	case "%", "percent", "pct", "per cent":
		return "%"
	case "1", "{ratio}", "ratio", "fraction", "{fraction}":
		return "1"
	}
	return u
}

func strOrEmpty(n *json.Number) string {
	if n == nil {
		return ""
	}
	return n.String()
}

// valueLabel is the reported label of a coded or text value.
func valueLabel(v obsValue) string {
	if v.s != nil {
		return strings.TrimSpace(*v.s)
	}
	if v.cc != nil {
		if t := ccText(v.cc); t != "" {
			return t
		}
		for _, c := range v.cc.Coding {
			if s := str(c.Code); s != "" {
				return s
			}
		}
	}
	if v.i != nil {
		return "G" + strconv.Itoa(*v.i)
	}
	return ""
}

var (
	reGradeG     = regexp.MustCompile(`(?i)\bG\s*([1-4X])\b`)
	reGradeWord  = regexp.MustCompile(`(?i)\bgrade\s*(1|2|3|4|i{1,3}|iv|x)\b`)
	reGradeDigit = regexp.MustCompile(`^[1-3]$`)
)

// parseGrade reads G1/G2/G3 from a label; 0 when the label is not one of them.
func parseGrade(label string) int {
	l := strings.TrimSpace(label)
	var g string
	if mm := reGradeG.FindStringSubmatch(l); mm != nil {
		g = strings.ToLower(mm[1])
	} else if mm := reGradeWord.FindStringSubmatch(l); mm != nil {
		g = strings.ToLower(mm[1])
	} else if reGradeDigit.MatchString(l) {
		g = l
	}
	switch g {
	case "1", "i":
		return 1
	case "2", "ii":
		return 2
	case "3", "iii":
		return 3
	}
	return 0
}

func parseDifferentiation(v obsValue) Differentiation {
	if v.cc != nil {
		for _, c := range v.cc.Coding {
			if str(c.System) == LocalSystem {
				switch str(c.Code) {
				case "well":
					return DiffWell
				case "poor":
					return DiffPoor
				}
			}
		}
	}
	words := strings.ToLower(valueLabel(v))
	switch {
	case strings.Contains(words, "poor"):
		return DiffPoor
	case strings.Contains(words, "well"), strings.Contains(words, "moderately"):
		return DiffWell
	}
	return DiffUnknown
}

var (
	reTNMM     = regexp.MustCompile(`^(?:[cpyra]{0,3})M([01])([abc])?$`)
	reTNMN     = regexp.MustCompile(`^(?:[cpyra]{0,3})N([0-3X])([abc])?$`)
	reTNMStage = regexp.MustCompile(`^(?:STAGE\s*)?(0|IV|III|II|I|1|2|3|4)([ABC])?$`)
)

// normTNM normalises a TNM category or stage group from its code, text or string.
func normTNM(kind TNMKind, v obsValue) (string, bool) {
	var cands []string
	if v.cc != nil {
		for _, c := range v.cc.Coding {
			cands = append(cands, str(c.Code))
		}
		cands = append(cands, str(v.cc.Text))
	}
	if v.s != nil {
		cands = append(cands, strings.TrimSpace(*v.s))
	}
	for _, c := range cands {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		switch kind {
		case TNMClinicalM, TNMPathologicalM:
			if mm := reTNMM.FindStringSubmatch(strings.TrimPrefix(c, "AJCC ")); mm != nil {
				return "M" + mm[1] + mm[2], true
			}
		case TNMClinicalN, TNMPathologicalN:
			if mm := reTNMN.FindStringSubmatch(c); mm != nil {
				return "N" + mm[1] + mm[2], true
			}
		default:
			u := strings.ToUpper(c)
			if mm := reTNMStage.FindStringSubmatch(u); mm != nil {
				return romanStage(mm[1], mm[2]), true
			}
		}
	}
	// Coded answers such as SNOMED CT AJCC qualifiers carry the category only in their
	// words ("American Joint Committee on Cancer cM1"): read a whole token of them.
	var words []string
	if v.cc != nil {
		words = append(words, str(v.cc.Text))
		for _, c := range v.cc.Coding {
			words = append(words, str(c.Display))
		}
	}
	if v.s != nil {
		words = append(words, *v.s)
	}
	for _, w := range words {
		switch kind {
		case TNMClinicalM, TNMPathologicalM, TNMClinicalN, TNMPathologicalN:
			re := reTNMM
			if kind == TNMClinicalN || kind == TNMPathologicalN {
				re = reTNMN
			}
			for _, tok := range strings.FieldsFunc(w, func(r rune) bool { return r == ' ' || r == ',' || r == '(' || r == ')' || r == ';' }) {
				if mm := re.FindStringSubmatch(tok); mm != nil {
					letter := "M"
					if re == reTNMN {
						letter = "N"
					}
					return letter + mm[1] + mm[2], true
				}
			}
		default:
			if mm := reStageWords.FindStringSubmatch(w); mm != nil {
				return romanStage(strings.ToUpper(mm[1]), strings.ToUpper(mm[2])), true
			}
		}
	}
	return "", false
}

var reStageWords = regexp.MustCompile(`(?i)\bstage\s+(IV|III|II|I|0|[1-4])([ABC])?\b`)

func romanStage(n, suffix string) string {
	if r, ok := map[string]string{"1": "I", "2": "II", "3": "III", "4": "IV"}[n]; ok {
		n = r
	}
	return n + suffix
}

// elevated reads the interpretation (H, HH, HU, A → yes; N, L, LL → no), else the
// reference range high of the same unit.
func elevated(f float64, v obsValue) string {
	for _, cc := range v.interpretation {
		for _, c := range cc.Coding {
			switch str(c.Code) {
			case "H", "HH", "HU", "A", "AA":
				return "yes"
			case "N", "L", "LL", "LU":
				return "no"
			}
		}
	}
	for _, rr := range v.refRange {
		if rr.High == nil {
			continue
		}
		hi, ok := number(rr.High.Value)
		if !ok || (quantityUnit(rr.High) != "" && quantityUnit(rr.High) != quantityUnit(v.q)) {
			continue
		}
		if f > hi {
			return "yes"
		}
		return "no"
	}
	return ""
}

// performanceScore reads ECOG (0–5, integer or LL529-9 answer) or Karnofsky (0–100).
func performanceScore(scale string, v obsValue) (int, bool) {
	max := 5
	if scale == "karnofsky" {
		max = 100
	}
	score := -1
	switch {
	case v.i != nil:
		score = *v.i
	case v.q != nil:
		if f, ok := number(v.q.Value); ok && f == math.Trunc(f) {
			score = int(f)
		}
	case v.cc != nil:
		for _, mc := range conceptsOf(v.cc) {
			if scale == "ecog" && strings.HasPrefix(mc.Code.Concept, "ecog-") {
				score, _ = strconv.Atoi(strings.TrimPrefix(mc.Code.Concept, "ecog-"))
				break
			}
		}
		if score < 0 {
			for _, c := range v.cc.Coding {
				if n, err := strconv.Atoi(str(c.Code)); err == nil {
					score = n
					break
				}
			}
		}
	case v.s != nil:
		if n, err := strconv.Atoi(strings.TrimSpace(*v.s)); err == nil {
			score = n
		}
	}
	if score < 0 || score > max {
		return 0, false
	}
	return score, true
}
