package fhirmap

import (
	"strings"
	"time"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"
)

// mapper holds the state of one Map call.
type mapper struct {
	in Input
	p  *Picture

	// Deferred: resolved in finish, once every resource is known.
	medications map[string]*fhir.CodeableConcept // Medication/id → code
	meds        []pendingMed
	sstrObs     []sstrObservation
	sstrReports []pendingSSTR
	// links are what each resource says about the tumour it belongs to (tumours.go).
	links map[string]*links
}

func newMapper(in Input) *mapper {
	return &mapper{
		in:          in,
		p:           &Picture{PatientID: in.PatientID, At: in.At, Extent: Extent{Status: ExtentUnknown}},
		medications: map[string]*fhir.CodeableConcept{},
	}
}

func (m *mapper) note(kind NoteKind, ref, text string) {
	m.p.Notes = append(m.p.Notes, Note{Kind: kind, Ref: ref, Text: text})
}

// source builds the Source of a fact from a resource and its date string.
func (m *mapper) source(r rawRes, date, status string) Source {
	s := Source{Ref: r.ref, DateText: date, Status: status}
	if date != "" {
		if t, ok := parseDate(date); ok {
			s.Date = t
		} else {
			m.note(NoteRejected, r.ref, "date could not be read; the fact is kept without a date")
		}
	}
	return s
}

func (m *mapper) patient(r rawRes) {
	pt, err := decode[fhir.Patient](r)
	if err != nil {
		m.unreadable(r, err)
		return
	}
	if m.in.PatientID != "" && r.doc.ID != "" && r.doc.ID != m.in.PatientID {
		m.note(NoteSkipped, r.ref, "Patient skipped: it is not the patient in context")
		return
	}
	if m.p.Patient.Ref != "" {
		return
	}
	m.p.Patient.Ref = r.ref
	if pt.Gender != nil {
		m.p.Patient.Gender = pt.Gender.Code()
	}
	if bd := str(pt.BirthDate); bd != "" {
		t, ok := parseDate(bd)
		if !ok {
			m.note(NoteRejected, r.ref, "birthDate could not be read; age unknown")
			return
		}
		m.p.Patient.BirthDate = t
		if age, ok := ageAt(t, len(bd), m.in.At); ok {
			m.p.Patient.Age, m.p.Patient.AgeKnown = age, true
		} else {
			m.note(NoteRejected, r.ref, "birthDate is after the evaluation time or too imprecise; age unknown")
		}
	}
}

// ageAt is the age in whole years at at. A birth date with year precision only gives
// an age only when it is the same whichever day of the year the birth was.
func ageAt(birth time.Time, precision int, at time.Time) (int, bool) {
	if at.IsZero() || birth.After(at) {
		return 0, false
	}
	age := func(b time.Time) int {
		a := at.Year() - b.Year()
		if at.Month() < b.Month() || (at.Month() == b.Month() && at.Day() < b.Day()) {
			a--
		}
		return a
	}
	lo := age(birth)
	var last time.Time
	switch precision {
	case 4: // year
		last = time.Date(birth.Year(), 12, 31, 0, 0, 0, 0, time.UTC)
	case 7: // month
		last = time.Date(birth.Year(), birth.Month()+1, 0, 0, 0, 0, 0, time.UTC)
	default:
		return lo, true
	}
	if last.After(at) {
		last = at
	}
	if hi := age(last); hi != lo {
		return 0, false
	}
	return lo, true
}

// nenMorphologies are the ICD-O-3 concepts that make a generic cancer code a NEN.
func isMorphConcept(concept string) bool { return strings.HasPrefix(concept, "morph-") }

func morphDifferentiation(concept string) Differentiation {
	switch concept {
	case "morph-nec", "morph-lcnec", "morph-sclc":
		return DiffPoor
	case "morph-net-g1", "morph-net-g2-g3", "morph-pnet", "morph-functional-pnet":
		return DiffWell
	}
	return DiffUnknown
}

// condition reads a Condition in named steps: its status and dates (conditionFact),
// then what it is: a secondary (metastatic) site, carcinoid syndrome, or a NEN primary
// (nenPrimary, diagnosisOf, addDiagnosis). Any other Condition is not part of the
// picture.
func (m *mapper) condition(r rawRes) {
	c, err := decode[condition](r)
	if err != nil {
		m.unreadable(r, err)
		return
	}
	if !m.subjectOK(r, c.Subject.Reference) {
		return
	}
	fact, ok := m.conditionFact(r, c)
	if !ok {
		return
	}
	codes := conceptsOf(c.Code)
	if m.secondary(r, c, codes, fact) || m.carcinoidSyndrome(codes, fact) {
		return
	}
	morph := morphologyOf(c)
	primary := nenPrimary(c, codes, morph)
	if primary == nil {
		// Not a NEN: non-NEN cancers (a generic cancer code without a NEN morphology)
		// and other conditions are not part of the picture.
		return
	}
	d := m.diagnosisOf(r, c, fact, primary, morph)
	m.addDiagnosis(d, primary, morph)
	if w := unresectableWords(conditionWords(c)); w != "" {
		m.p.Unresectable = append(m.p.Unresectable, Statement{Source: d.Source, Text: w})
	}
}

// conditionFact checks the verification status (entered-in-error and refuted are
// skipped with a note that does not quote them) and reads the statuses and dates.
func (m *mapper) conditionFact(r rawRes, c condition) (ConditionFact, bool) {
	verification := firstCode(c.VerificationStatus)
	switch verification {
	case "entered-in-error":
		m.note(NoteSkipped, r.ref, "Condition skipped: entered in error")
		return ConditionFact{}, false
	case "refuted":
		m.note(NoteSkipped, r.ref, "Condition skipped: refuted")
		return ConditionFact{}, false
	}
	onset := firstDate(c.OnsetDateTime, periodStart(c.OnsetPeriod))
	date := firstDate(c.OnsetDateTime, periodStart(c.OnsetPeriod), c.RecordedDate)
	fact := ConditionFact{
		Source:             m.source(r, date, ""),
		Text:               ccText(c.Code),
		ClinicalStatus:     firstCode(c.ClinicalStatus),
		VerificationStatus: verification,
		Related:            relatedConditions(c),
	}
	if t, ok := parseDate(onset); ok {
		fact.Onset = t
	}
	if t, ok := parseDate(firstDate(c.AbatementDateTime, periodEnd(c.AbatementPeriod))); ok {
		fact.Abatement = t
	}
	if verification == "unconfirmed" || verification == "provisional" || verification == "differential" {
		fact.Caveat = "verification status " + verification
	}
	return fact, true
}

// secondary records a secondary (metastatic) site condition; it reports whether c is
// one. An mCODE secondary cancer condition is one whatever its code (its code may be
// any descendant of 128462008).
func (m *mapper) secondary(r rawRes, c condition, codes []matched, fact ConditionFact) bool {
	if isMCODESecondary(c) && !hasSecondaryConcept(codes) {
		fact.Codes = allCodings(c.Code)
		m.p.Secondaries = append(m.p.Secondaries, Secondary{ConditionFact: fact, Location: secondaryFromBodySite(c.BodySite, SecUnspecified)})
		return true
	}
	for _, mc := range codes {
		loc, ok := secondaryLocation(mc.Code.Concept)
		if !ok || mc.Code.Concept == "merkel-secondary" {
			continue
		}
		fact.Codes = []Coding{mc.Coding}
		if !mc.verified() {
			loc = SecUnspecified
			fact.Caveat = joinCaveat(fact.Caveat, CaveatUnverifiedCode)
			m.note(NoteCaveat, r.ref, "secondary site code "+mc.Coding.Code+" is not verified; read as distant disease of unspecified site")
		} else if loc == SecUnspecified {
			loc = secondaryFromBodySite(c.BodySite, loc)
		}
		m.p.Secondaries = append(m.p.Secondaries, Secondary{ConditionFact: fact, Location: loc})
		return true
	}
	return false
}

// carcinoidSyndrome records a carcinoid syndrome condition; it reports whether it is one.
func (m *mapper) carcinoidSyndrome(codes []matched, fact ConditionFact) bool {
	for _, mc := range codes {
		if mc.Code.Concept == "carcinoid-syndrome" {
			fact.Codes = []Coding{mc.Coding}
			m.p.CarcinoidSyndrome = append(m.p.CarcinoidSyndrome, fact)
			return true
		}
	}
	return false
}

// nenPrimary returns the code that makes c a NEN primary, nil when c is not one: a NEN
// code; a generic cancer code (mCODE 363346000) or lung primary with a NEN morphology;
// or any other cancer code (e.g. ICD-10-CM C25.0, a SNOMED CT site-specific cancer)
// with a NEN morphology in the mCODE extension (the morphology is authoritative for
// the histology).
func nenPrimary(c condition, codes []matched, morph *matched) *matched {
	for i, mc := range codes {
		con := mc.Code.Concept
		if strings.HasPrefix(con, "nen-") || con == "pnet" || con == "nec-any-site" || con == "benign-carcinoid" || con == "sclc-lung" || isMorphConcept(con) {
			return &codes[i]
		}
	}
	if morph == nil {
		return nil
	}
	for i, mc := range codes {
		if mc.Code.Concept == "malignant-neoplasm" || mc.Code.Concept == "lung-primary" {
			return &codes[i]
		}
	}
	if c.Code != nil {
		for _, cd := range c.Code.Coding {
			if str(cd.Code) != "" {
				return &matched{Code: Code{Concept: morph.Code.Concept, System: str(cd.System), Status: "verified"}, Coding: toCoding(cd)}
			}
		}
	}
	return nil
}

// diagnosisOf builds the Diagnosis of a NEN primary: its concept, site and
// differentiation from the code, refined by the morphology extension and bodySite.
func (m *mapper) diagnosisOf(r rawRes, c condition, fact ConditionFact, primary, morph *matched) Diagnosis {
	d := Diagnosis{ConditionFact: fact, Concept: primary.Code.Concept}
	if morph != nil && (primary.Code.Concept == "malignant-neoplasm" || primary.Code.Concept == "lung-primary" || primary.Code.Concept == morph.Code.Concept) {
		d.Concept = morph.Code.Concept // the generic cancer code says less than its morphology
	}
	d.Codes = []Coding{primary.Coding}
	if !primary.verified() {
		d.Caveat = joinCaveat(d.Caveat, CaveatUnverifiedCode)
		m.note(NoteCaveat, r.ref, "diagnosis code "+primary.Coding.Code+" is not verified in codes.csv; used with care")
	}
	d.Site, d.Differentiation, d.Benign = siteAndDifferentiation(primary)
	if isMorphConcept(primary.Code.Concept) {
		d.Morphology = primary.Coding.Code
	}
	if morph != nil {
		d.Codes = append(d.Codes, morph.Coding)
		d.Morphology = morph.Coding.Code
		if md := morphDifferentiation(morph.Code.Concept); md != DiffUnknown {
			if d.Differentiation != DiffUnknown && d.Differentiation != md {
				m.note(NoteConflict, r.ref, "the diagnosis code and the morphology disagree on differentiation; the morphology is used")
			}
			d.Differentiation = md
		}
		if !morph.verified() {
			d.Caveat = joinCaveat(d.Caveat, CaveatUnverifiedCode)
			m.note(NoteCaveat, r.ref, "morphology code "+morph.Coding.Code+" is not verified in codes.csv; used with care")
		}
	}
	if d.Site == SiteUnknown {
		var sites []matched
		for i := range c.BodySite {
			sites = append(sites, conceptsOf(&c.BodySite[i])...)
		}
		d.Site = siteFromBodySite(c.BodySite, sites)
	}
	return d
}

// siteAndDifferentiation reads what the primary code itself says: the site, the
// differentiation and whether it is benign (D3A.*).
func siteAndDifferentiation(primary *matched) (Site, Differentiation, bool) {
	code := primary.Coding.Code
	switch {
	case primary.Code.Concept == "benign-carcinoid":
		return siteFromCarcinoidCode(strings.TrimPrefix(code, "D3A.")), DiffWell, true
	case primary.Code.System == sysICD10CM && strings.HasPrefix(code, "C7A.0"):
		return siteFromCarcinoidCode(strings.TrimPrefix(code, "C7A.")), DiffWell, false
	case code == "C7A.1":
		return SiteUnknown, DiffPoor, false
	case code == "C25.4":
		return SitePancreas, DiffUnknown, false
	case primary.Code.Concept == "lung-primary":
		return SiteLung, DiffUnknown, false
	case primary.Code.System == sysICD10CM && strings.HasPrefix(code, "C") && !strings.HasPrefix(code, "C7A"):
		// A site-specific ICD-10-CM cancer code: its category is the ICD-O-3
		// topography (C25.x pancreas, C17.x small intestine, ...).
		return siteFromTopography(code), DiffUnknown, false
	case primary.Code.Concept == "sclc-lung":
		return SiteLung, DiffPoor, false
	case isMorphConcept(primary.Code.Concept):
		return SiteUnknown, morphDifferentiation(primary.Code.Concept), false
	}
	return SiteUnknown, DiffUnknown, false
}

// addDiagnosis records the diagnosis and the morphology and differentiation facts
// derived from its codes (they carry the diagnosis's reference).
func (m *mapper) addDiagnosis(d Diagnosis, primary, morph *matched) {
	if d.Morphology != "" {
		m.p.Morphologies = append(m.p.Morphologies, Morphology{Source: d.Source, Code: d.Morphology, Differentiation: d.Differentiation})
	}
	if d.Differentiation != DiffUnknown {
		code := primary.Coding.Code
		from := "ICD-10-CM " + code
		switch {
		case d.Morphology != "" && (morph != nil || isMorphConcept(primary.Code.Concept)):
			from = "ICD-O-3 " + d.Morphology
		case primary.Code.System == sysSNOMED:
			from = "SNOMED CT " + code
		}
		m.p.Differentiation = append(m.p.Differentiation, DifferentiationFact{Source: d.Source, Value: d.Differentiation, From: from})
	}
	m.p.Diagnoses = append(m.p.Diagnoses, d)
}

// conditionWords are the words of a Condition that may state its resectability: the
// code text and displays, the stage summaries and the notes.
func conditionWords(c condition) string {
	w := ccWords(c.Code)
	for _, st := range c.Stage {
		w += " " + ccWords(st.Summary)
	}
	for _, n := range c.Note {
		w += " " + n.Text
	}
	return w
}

// relatedConditions are the Conditions that c names in the condition-related extension
// (or mCODE's related-primary-cancer-condition): a metastasis names its primary.
func relatedConditions(c condition) []string {
	var out []string
	for _, ext := range c.Extension {
		if (ext.Url == ConditionRelatedURL || strings.Contains(ext.Url, "related-primary-cancer-condition")) && ext.ValueReference != nil {
			if ref := normRef(str(ext.ValueReference.Reference)); ref != "" {
				out = append(out, ref)
			}
		}
	}
	return out
}

// joinCaveat adds a caveat to those already set.
func joinCaveat(have, add string) string {
	switch {
	case have == "":
		return add
	case strings.Contains(have, add):
		return have
	}
	return have + "; " + add
}

// isMCODESecondary reports an mCODE secondary cancer condition: its profile, or the
// related-primary-cancer-condition extension that only secondaries carry.
func isMCODESecondary(c condition) bool {
	if c.Meta != nil {
		for _, p := range c.Meta.Profile {
			if strings.Contains(p, "secondary-cancer-condition") {
				return true
			}
		}
	}
	for _, ext := range c.Extension {
		if strings.Contains(ext.Url, "related-primary-cancer-condition") {
			return true
		}
	}
	return false
}

func hasSecondaryConcept(codes []matched) bool {
	for _, mc := range codes {
		if _, ok := secondaryLocation(mc.Code.Concept); ok {
			return true
		}
	}
	return false
}

// firstCode is the first coding's code of a status concept.
func firstCode(cc *fhir.CodeableConcept) string {
	if cc == nil {
		return ""
	}
	for _, c := range cc.Coding {
		if s := str(c.Code); s != "" {
			return s
		}
	}
	return ""
}

// morphologyOf reads the ICD-O-3 morphology of the mCODE histology-morphology-behavior
// extension.
func morphologyOf(c condition) *matched {
	for _, ext := range c.Extension {
		if ext.Url != MorphologyExtensionURL || ext.ValueCodeableConcept == nil {
			continue
		}
		for _, mc := range conceptsOf(ext.ValueCodeableConcept) {
			if isMorphConcept(mc.Code.Concept) {
				return &mc
			}
		}
	}
	return nil
}

func secondaryLocation(concept string) (SecondaryLocation, bool) {
	switch concept {
	case "secondary-nen-liver", "secondary-liver":
		return SecLiver, true
	case "secondary-nen-bone", "secondary-bone":
		return SecBone, true
	case "secondary-nen-lymph":
		return SecLymphNode, true
	case "secondary-nen-peritoneum":
		return SecPeritoneum, true
	case "secondary-nen-other":
		return SecOther, true
	case "secondary-nen-unspecified", "secondary-malignant", "secondary-nen-any":
		return SecUnspecified, true
	case "merkel-secondary":
		return "", true
	}
	return "", false
}

// secondaryFromBodySite refines an unspecified secondary from an ICD-O-3 topography
// bodySite (C22 liver, C40/C41 bone).
func secondaryFromBodySite(sites []fhir.CodeableConcept, def SecondaryLocation) SecondaryLocation {
	for _, cc := range sites {
		for _, c := range cc.Coding {
			if str(c.System) != sysICDO3 {
				continue
			}
			code := str(c.Code)
			switch {
			case strings.HasPrefix(code, "C22"):
				return SecLiver
			case strings.HasPrefix(code, "C40"), strings.HasPrefix(code, "C41"):
				return SecBone
			}
		}
	}
	return def
}

// siteFromCarcinoidCode maps the part after "C7A." or "D3A." to a site.
func siteFromCarcinoidCode(rest string) Site {
	switch {
	case strings.HasPrefix(rest, "01"):
		return SiteSmallIntestine
	case rest == "020":
		return SiteAppendix
	case rest == "026":
		return SiteRectum
	case strings.HasPrefix(rest, "02"):
		return SiteColon
	case rest == "090":
		return SiteLung
	case rest == "091":
		return SiteThymus
	case rest == "092":
		return SiteStomach
	case rest == "093":
		return SiteKidney
	case rest == "094":
		return SiteForegut
	case rest == "095":
		return SiteMidgut
	case rest == "096":
		return SiteHindgut
	case rest == "098":
		return SiteOther
	}
	return SiteUnknown
}

// bodySiteConcepts are the codes.csv body-site concepts (SNOMED CT body structures).
var bodySiteConcepts = map[string]Site{
	"pancreas-site": SitePancreas, "small-intestine-site": SiteSmallIntestine, "appendix-site": SiteAppendix,
	"colon-site": SiteColon, "rectum-site": SiteRectum, "stomach-site": SiteStomach, "lung-site": SiteLung,
}

// siteFromBodySite reads a verified SNOMED body structure or an ICD-O-3 topography.
func siteFromBodySite(sites []fhir.CodeableConcept, matchedSites []matched) Site {
	for _, mc := range matchedSites {
		if !mc.verified() {
			continue
		}
		if s, ok := bodySiteConcepts[mc.Code.Concept]; ok {
			return s
		}
	}
	for _, cc := range sites {
		for _, c := range cc.Coding {
			if str(c.System) != sysICDO3 {
				continue
			}
			if s := siteFromTopography(str(c.Code)); s != SiteUnknown {
				return s
			}
		}
	}
	return SiteUnknown
}

// siteFromTopography maps an ICD-O-3 topography code (C25.4, C17.2, ...) to a site.
func siteFromTopography(code string) Site {
	switch {
	case strings.HasPrefix(code, "C25"):
		return SitePancreas
	case strings.HasPrefix(code, "C17"):
		return SiteSmallIntestine
	case code == "C18.1":
		return SiteAppendix
	case strings.HasPrefix(code, "C18"):
		return SiteColon
	case strings.HasPrefix(code, "C19"), strings.HasPrefix(code, "C20"):
		return SiteRectum
	case strings.HasPrefix(code, "C16"):
		return SiteStomach
	case strings.HasPrefix(code, "C34"):
		return SiteLung
	case strings.HasPrefix(code, "C37"):
		return SiteThymus
	case strings.HasPrefix(code, "C64"):
		return SiteKidney
	}
	return SiteUnknown
}
