package fhirmap

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"
)

// sstrObservation is a Krenning score or SSTR status observation, kept until the
// reports that cite it (DiagnosticReport.result) are known.
type sstrObservation struct {
	src      Source
	krenning int // -1 when not reported
	result   SSTRResult
	conflict bool
	consumed bool
}

// pendingSSTR is an SSTR imaging report whose result is read in finish.
type pendingSSTR struct {
	src        Source
	study      string
	results    []string
	codeResult SSTRResult
	codeBoth   bool
	conclusion string
}

// isSSTRStudy recognises somatostatin receptor imaging by code (CPT 78815, HCPCS A9587)
// or by name (DOTATATE, DOTATOC, DOTANOC, somatostatin receptor, Octreoscan).
func isSSTRStudy(cc *fhir.CodeableConcept) bool {
	w := ccWords(cc)
	if strings.Contains(w, "fdg") {
		return false // an FDG PET/CT shares the CPT code but is not SSTR imaging
	}
	for _, mc := range conceptsOf(cc) {
		if mc.Code.Concept == "sstr-pet" || mc.Code.Concept == "ga68-dotatate" {
			return true
		}
	}
	return containsAny(w, "dotatate", "dotatoc", "dotanoc", "somatostatin receptor", "octreoscan", "sstr")
}

var reCT = regexp.MustCompile(`\b(ct|cta|computed tomography|mri|mr|magnetic resonance)\b`)

// crossSectionModality recognises a CT or MRI study by code, else by name.
func crossSectionModality(cc *fhir.CodeableConcept) (string, []Coding) {
	for _, mc := range conceptsOf(cc) {
		switch mc.Code.Concept {
		case "ct-abdomen-pelvis-contrast":
			return "CT", []Coding{mc.Coding}
		case "mri-abdomen":
			return "MRI", []Coding{mc.Coding}
		}
	}
	w := ccWords(cc)
	if strings.Contains(w, "pet") || strings.Contains(w, "echocardi") {
		return "", nil
	}
	mm := reCT.FindStringSubmatch(w)
	if mm == nil {
		return "", nil
	}
	switch mm[1] {
	case "ct", "cta", "computed tomography":
		return "CT", nil
	default:
		return "MRI", nil
	}
}

func (m *mapper) diagnosticReport(r rawRes) {
	d, err := decode[diagnosticReport](r)
	if err != nil {
		m.unreadable(r, err)
		return
	}
	m.reportLinks(r, d)
	sstr := isSSTRStudy(&d.Code)
	modality, codes := "", []Coding(nil)
	var panel *matched
	if !sstr {
		modality, codes = crossSectionModality(&d.Code)
		for _, mc := range conceptsOf(&d.Code) {
			if mc.Code.Concept == "hepatic-panel" {
				panel = &mc
				break
			}
		}
		if modality == "" && panel == nil {
			return
		}
	}
	if d.Subject != nil && !m.subjectOK(r, d.Subject.Reference) {
		return
	}
	caveat, ok := m.resultStatus(r)
	if !ok {
		return
	}
	date := firstDate(d.EffectiveDateTime, periodStart(d.EffectivePeriod), d.Issued)
	src := m.source(r, date, r.status())
	src.Caveat = caveat
	if panel != nil {
		// A hepatic function panel reported as a DiagnosticReport (US Core lab report).
		m.p.LiverTests = append(m.p.LiverTests, LabResult{Source: src, Kind: LabHepaticPanel, Code: panel.Coding})
		return
	}
	if !sstr {
		m.p.CrossSections = append(m.p.CrossSections, ImagingStudy{Source: src, Modality: modality, Codes: codes, Text: ccText(&d.Code)})
		return
	}
	ps := pendingSSTR{src: src, study: ccText(&d.Code), conclusion: str(d.Conclusion)}
	if ps.study == "" {
		ps.study = "somatostatin receptor imaging"
	}
	for _, res := range d.Result {
		if ref := str(res.Reference); ref != "" {
			ps.results = append(ps.results, normRef(ref))
		}
	}
	for i := range d.ConclusionCode {
		for _, mc := range conceptsOf(&d.ConclusionCode[i]) {
			var res SSTRResult
			switch {
			case mc.Code.Concept == "result-positive" && mc.verified():
				res = SSTRPositive
			case mc.Code.Concept == "result-negative" && mc.verified():
				res = SSTRNegative
			default:
				continue
			}
			if ps.codeResult != SSTRUnknown && ps.codeResult != res {
				ps.codeBoth = true
			}
			ps.codeResult = res
		}
	}
	m.sstrReports = append(m.sstrReports, ps)
}

// sstrObservationValue records a Krenning score or SSTR status value.
func (m *mapper) sstrObservationValue(concept string, v obsValue, src Source) {
	var so *sstrObservation
	for i := range m.sstrObs {
		if m.sstrObs[i].src.Ref == src.Ref && src.Ref != "" {
			so = &m.sstrObs[i]
		}
	}
	if so == nil {
		m.sstrObs = append(m.sstrObs, sstrObservation{src: src, krenning: -1})
		so = &m.sstrObs[len(m.sstrObs)-1]
	}
	switch concept {
	case "krenning-score":
		k := -1
		switch {
		case v.i != nil:
			k = *v.i
		case v.q != nil:
			if f, ok := number(v.q.Value); ok && f == float64(int(f)) {
				k = int(f)
			}
		case v.s != nil:
			if n, err := strconv.Atoi(strings.TrimSpace(*v.s)); err == nil {
				k = n
			}
		case v.cc != nil:
			for _, c := range v.cc.Coding {
				if n, err := strconv.Atoi(str(c.Code)); err == nil {
					k = n
					break
				}
			}
		}
		if k < 0 || k > 4 {
			m.note(NoteRejected, src.Ref, "Krenning score is not 0–4; rejected")
			return
		}
		so.krenning = k
		so.setResult(krenningResult(k))
	case "sstr-status":
		res := SSTRUnknown
		if v.cc != nil {
			for _, mc := range conceptsOf(v.cc) {
				switch {
				case mc.Code.Concept == "result-positive" && mc.verified():
					res = SSTRPositive
				case mc.Code.Concept == "result-negative" && mc.verified():
					res = SSTRNegative
				}
			}
			for _, c := range v.cc.Coding {
				if str(c.System) == LocalSystem {
					switch str(c.Code) {
					case "positive":
						res = SSTRPositive
					case "negative":
						res = SSTRNegative
					}
				}
			}
		}
		if res == SSTRUnknown && v.s != nil {
			switch strings.ToLower(strings.TrimSpace(*v.s)) {
			case "positive", "sstr-positive", "sstr positive":
				res = SSTRPositive
			case "negative", "sstr-negative", "sstr negative":
				res = SSTRNegative
			}
		}
		if res == SSTRUnknown {
			m.note(NoteRejected, src.Ref, "SSTR status value is neither positive nor negative; not used")
			return
		}
		so.setResult(res)
	}
}

func (so *sstrObservation) setResult(r SSTRResult) {
	if so.result != SSTRUnknown && so.result != r {
		so.conflict = true
	}
	so.result = r
}

// krenningResult: Krenning ≥ 2 (uptake at least that of normal liver) is SSTR-positive
// as the rules use it; 0–1 is not.
func krenningResult(k int) SSTRResult {
	if k >= 2 {
		return SSTRPositive
	}
	return SSTRNegative
}

// sstrStudyObservation reads an Observation that is itself the SSTR study.
func (m *mapper) sstrStudyObservation(r rawRes, o observation, src Source) {
	img := SSTRImaging{Source: src, Study: ccText(&o.Code), Krenning: -1}
	so := sstrObservation{src: src, krenning: -1}
	for _, c := range o.Component {
		if mc, ok := obsConcept(&c.Code); ok && (mc.Code.Concept == "krenning-score" || mc.Code.Concept == "sstr-status") {
			tmp := m.sstrObs
			m.sstrObs = nil
			m.sstrObservationValue(mc.Code.Concept, obsValue{q: c.ValueQuantity, cc: c.ValueCodeableConcept, s: c.ValueString, i: c.ValueInteger}, src)
			if len(m.sstrObs) == 1 {
				got := m.sstrObs[0]
				if got.krenning >= 0 {
					so.krenning = got.krenning
				}
				if got.result != SSTRUnknown {
					so.setResult(got.result)
				}
			}
			m.sstrObs = tmp
		}
	}
	if o.ValueCodeableConcept != nil {
		for _, mc := range conceptsOf(o.ValueCodeableConcept) {
			switch {
			case mc.Code.Concept == "result-positive" && mc.verified():
				so.setResult(SSTRPositive)
			case mc.Code.Concept == "result-negative" && mc.verified():
				so.setResult(SSTRNegative)
			}
		}
	}
	switch {
	case so.conflict:
		m.note(NoteConflict, r.ref, "SSTR imaging values disagree; result unknown")
	case so.result != SSTRUnknown:
		img.Result, img.Krenning, img.ResultFrom = so.result, so.krenning, ResultFromObservation
	case o.ValueString != nil:
		m.readSSTRText(&img, *o.ValueString)
	default:
		m.note(NoteCaveat, r.ref, "SSTR imaging without a readable result; result unknown")
	}
	if img.Study == "" {
		img.Study = "somatostatin receptor imaging"
	}
	m.p.SSTR = append(m.p.SSTR, img)
}

// finishSSTR resolves SSTR reports against their result observations, in the order
// observation → conclusionCode → conclusion text.
func (m *mapper) finishSSTR() {
	for _, ps := range m.sstrReports {
		img := SSTRImaging{Source: ps.src, Study: ps.study, Krenning: -1}
		done := false
		for _, ref := range ps.results {
			for i := range m.sstrObs {
				so := &m.sstrObs[i]
				if so.src.Ref != ref {
					continue
				}
				so.consumed = true
				if so.conflict {
					m.note(NoteConflict, ps.src.Ref, "SSTR result observations disagree; result unknown")
					done = true
					continue
				}
				if so.krenning >= 0 {
					if img.Krenning >= 0 && img.Krenning != so.krenning {
						m.note(NoteConflict, ps.src.Ref, "SSTR report cites different Krenning scores; the highest is kept")
					}
					img.Krenning = max(img.Krenning, so.krenning)
				}
				if so.result != SSTRUnknown {
					if img.Result != SSTRUnknown && img.Result != so.result {
						m.note(NoteConflict, ps.src.Ref, "SSTR report cites results that disagree; result unknown")
						img.Result, done = SSTRUnknown, true
						continue
					}
					img.Result, img.ResultFrom = so.result, ResultFromObservation
				}
			}
		}
		if img.Krenning >= 0 && !done {
			img.Result, img.ResultFrom = krenningResult(img.Krenning), ResultFromObservation
		}
		switch {
		case done || img.ResultFrom != "":
		case ps.codeBoth:
			m.note(NoteConflict, ps.src.Ref, "SSTR report conclusion codes say both positive and negative; result unknown")
		case ps.codeResult != SSTRUnknown:
			img.Result, img.ResultFrom = ps.codeResult, ResultFromConclusionCode
		case ps.conclusion != "":
			m.readSSTRText(&img, ps.conclusion)
		default:
			m.note(NoteCaveat, ps.src.Ref, "SSTR imaging report without a readable result; result unknown")
		}
		m.p.SSTR = append(m.p.SSTR, img)
	}
	for _, so := range m.sstrObs {
		if so.consumed {
			continue
		}
		img := SSTRImaging{Source: so.src, Study: "somatostatin receptor imaging", Krenning: so.krenning}
		if so.conflict {
			m.note(NoteConflict, so.src.Ref, "SSTR result values disagree; result unknown")
		} else if so.result != SSTRUnknown {
			img.Result, img.ResultFrom = so.result, ResultFromObservation
		}
		m.p.SSTR = append(m.p.SSTR, img)
	}
}

var (
	reKrenning = regexp.MustCompile(`(?i)\bkrenning(?:\s+(?:score|grade))?(?:\s+of)?\s*[:=]?\s*([0-4])\b`)
	reSSTRPos  = regexp.MustCompile(`(?i)\b(sstr[- ]positive|somatostatin receptor[- ]positive|uptake (?:greater|higher) than (?:the )?normal liver)`)
	reSSTRNeg  = regexp.MustCompile(`(?i)\b(sstr[- ]negative|somatostatin receptor[- ]negative|no significant somatostatin receptor expression|uptake (?:less|lower) than (?:the )?normal liver)`)
	reNegated  = regexp.MustCompile(`(?i)\b(no|not|without|negative for|cannot|can't|unclear|equivocal|indeterminate|possibly|possible|probably|probable|likely|suspicious|questionable|may be|might be)\b[^.;]{0,20}$`)
)

// readSSTRText reads the words of a conclusion, conservatively: only explicit phrases
// count, a negated or contradictory phrase gives no result, and the result is marked
// as text-derived.
func (m *mapper) readSSTRText(img *SSTRImaging, text string) {
	ref := img.Ref
	var res SSTRResult
	var evidence []string
	ambiguous := false
	add := func(r SSTRResult, phrase string, start int) {
		end := start + len(phrase)
		around := text[max(0, start-30):start] + text[end:min(len(text), end+3)]
		if reNegated.MatchString(text[:start]) || strings.Contains(around, "?") {
			ambiguous = true
			return
		}
		if res != SSTRUnknown && res != r {
			ambiguous = true
		}
		res = r
		evidence = append(evidence, phrase)
	}
	krenning := -1
	for _, mm := range reKrenning.FindAllStringSubmatchIndex(text, -1) {
		k, _ := strconv.Atoi(text[mm[2]:mm[3]])
		if krenning >= 0 && krenning != k {
			ambiguous = true
		}
		krenning = k
		add(krenningResult(k), text[mm[0]:mm[1]], mm[0])
	}
	for _, mm := range reSSTRPos.FindAllStringIndex(text, -1) {
		add(SSTRPositive, text[mm[0]:mm[1]], mm[0])
	}
	for _, mm := range reSSTRNeg.FindAllStringIndex(text, -1) {
		add(SSTRNegative, text[mm[0]:mm[1]], mm[0])
	}
	switch {
	case ambiguous:
		m.note(NoteConflict, ref, "SSTR report text is negated, hedged or contradictory; result unknown")
	case res == SSTRUnknown:
		m.note(NoteCaveat, ref, "SSTR report text states no explicit result; result unknown")
	default:
		img.Result, img.Krenning, img.ResultFrom = res, krenning, ResultFromText
		img.Evidence = strings.Join(evidence, "; ")
		img.Caveat = joinCaveat(img.Caveat, CaveatTextDerived)
		m.note(NoteCaveat, ref, "SSTR result "+string(res)+" read from the report text ("+strconv.Quote(img.Evidence)+")")
	}
}

// reportLinks records which results a usable report lists and its specimen, whatever
// the report is: a pathology report ties its Ki-67, grade and differentiation to one
// tumour (docs/clinical.md §2).
func (m *mapper) reportLinks(r rawRes, d diagnosticReport) {
	switch r.status() {
	case "entered-in-error", "cancelled", "":
		return
	}
	spec := ""
	for _, s := range d.Specimen {
		if spec = normRef(str(s.Reference)); spec != "" {
			break
		}
	}
	if spec != "" {
		m.link(r.ref).specimen = spec
	}
	for _, res := range d.Result {
		if ref := normRef(str(res.Reference)); ref != "" {
			l := m.link(ref)
			l.reports = append(l.reports, r.ref)
		}
	}
}
