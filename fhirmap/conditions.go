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
	pt, err := fhir.UnmarshalPatient(r.raw)
	if err != nil {
		m.unreadable(r, err)
		return
	}
	if m.in.PatientID != "" && r.peek.ID != "" && r.peek.ID != m.in.PatientID {
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

func (m *mapper) condition(r rawRes) {
	c, err := fhir.UnmarshalCondition(r.raw)
	if err != nil {
		m.unreadable(r, err)
		return
	}
	if !m.subjectOK(r, c.Subject.Reference) {
		return
	}
	verification := firstCode(c.VerificationStatus)
	switch verification {
	case "entered-in-error":
		m.note(NoteSkipped, r.ref, "Condition skipped: entered in error")
		return
	case "refuted":
		m.note(NoteSkipped, r.ref, "Condition skipped: refuted")
		return
	}
	onset := firstDate(c.OnsetDateTime, periodStart(c.OnsetPeriod))
	date := firstDate(c.OnsetDateTime, periodStart(c.OnsetPeriod), c.RecordedDate)
	fact := ConditionFact{
		Source:             m.source(r, date, ""),
		Text:               ccText(c.Code),
		ClinicalStatus:     firstCode(c.ClinicalStatus),
		VerificationStatus: verification,
	}
	if t, ok := parseDate(onset); ok {
		fact.Onset = t
	}
	if verification == "unconfirmed" || verification == "provisional" || verification == "differential" {
		fact.Caveat = "verification status " + verification
	}

	codes := conceptsOf(c.Code)
	morph := morphologyOf(c)
	var sites []matched
	for i := range c.BodySite {
		sites = append(sites, conceptsOf(&c.BodySite[i])...)
	}

	// Secondary (metastatic) site conditions. An mCODE secondary cancer condition is
	// one whatever its code (its code may be any descendant of 128462008).
	if isMCODESecondary(c) && !hasSecondaryConcept(codes) {
		fact.Codes = allCodings(c.Code)
		m.p.Secondaries = append(m.p.Secondaries, Secondary{ConditionFact: fact, Location: secondaryFromBodySite(c.BodySite, SecUnspecified)})
		return
	}
	for _, mc := range codes {
		if loc, ok := secondaryLocation(mc.Code.Concept); ok {
			if mc.Code.Concept == "merkel-secondary" {
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
			return
		}
	}
	// Carcinoid syndrome.
	for _, mc := range codes {
		if mc.Code.Concept == "carcinoid-syndrome" {
			fact.Codes = []Coding{mc.Coding}
			m.p.CarcinoidSyndrome = append(m.p.CarcinoidSyndrome, fact)
			return
		}
	}
	// NEN primary.
	var primary *matched
	for i, mc := range codes {
		con := mc.Code.Concept
		if strings.HasPrefix(con, "nen-") || con == "pnet" || con == "nec-any-site" || con == "benign-carcinoid" || con == "sclc-lung" || isMorphConcept(con) {
			primary = &codes[i]
			break
		}
	}
	if primary == nil {
		// A generic cancer code (mCODE 363346000) or lung primary is a NEN only with a
		// NEN morphology.
		for i, mc := range codes {
			if (mc.Code.Concept == "malignant-neoplasm" || mc.Code.Concept == "lung-primary") && morph != nil {
				primary = &codes[i]
				break
			}
		}
		if primary == nil && morph != nil && c.Code != nil {
			// Any other cancer code (e.g. ICD-10-CM C25.0, a SNOMED CT site-specific
			// cancer) with a NEN morphology in the mCODE extension is a NEN; the
			// morphology is authoritative for the histology.
			for _, cd := range c.Code.Coding {
				if str(cd.Code) != "" {
					primary = &matched{Code: Code{Concept: morph.Code.Concept, System: str(cd.System), Status: "verified"}, Coding: toCoding(cd)}
					break
				}
			}
		}
		if primary == nil {
			// Not a NEN: non-NEN cancers (a generic cancer code without a NEN
			// morphology) and other conditions are not part of the picture.
			return
		}
	}
	d := Diagnosis{ConditionFact: fact, Concept: primary.Code.Concept}
	if morph != nil && (primary.Code.Concept == "malignant-neoplasm" || primary.Code.Concept == "lung-primary" || primary.Code.Concept == morph.Code.Concept) {
		d.Concept = morph.Code.Concept // the generic cancer code says less than its morphology
	}
	d.Codes = []Coding{primary.Coding}
	if !primary.verified() {
		d.Caveat = joinCaveat(d.Caveat, CaveatUnverifiedCode)
		m.note(NoteCaveat, r.ref, "diagnosis code "+primary.Coding.Code+" is not verified in codes.csv; used with care")
	}
	code := primary.Coding.Code
	switch {
	case primary.Code.Concept == "benign-carcinoid":
		d.Benign = true
		d.Site = siteFromCarcinoidCode(strings.TrimPrefix(code, "D3A."))
		d.Differentiation = DiffWell
	case primary.Code.System == sysICD10CM && strings.HasPrefix(code, "C7A.0"):
		d.Site = siteFromCarcinoidCode(strings.TrimPrefix(code, "C7A."))
		d.Differentiation = DiffWell
	case code == "C7A.1":
		d.Differentiation = DiffPoor
	case code == "C25.4":
		d.Site = SitePancreas
	case primary.Code.Concept == "lung-primary":
		d.Site = SiteLung
	case primary.Code.System == sysICD10CM && strings.HasPrefix(code, "C") && !strings.HasPrefix(code, "C7A"):
		// A site-specific ICD-10-CM cancer code: its category is the ICD-O-3
		// topography (C25.x pancreas, C17.x small intestine, ...).
		d.Site = siteFromTopography(code)
	case primary.Code.Concept == "sclc-lung":
		d.Site = SiteLung
		d.Differentiation = DiffPoor
	case isMorphConcept(primary.Code.Concept):
		d.Morphology = code
		d.Differentiation = morphDifferentiation(primary.Code.Concept)
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
		d.Site = siteFromBodySite(c.BodySite, sites)
	}
	if d.Morphology != "" {
		m.p.Morphologies = append(m.p.Morphologies, Morphology{Source: d.Source, Code: d.Morphology, Differentiation: d.Differentiation})
	}
	if d.Differentiation != DiffUnknown {
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
func isMCODESecondary(c fhir.Condition) bool {
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
func morphologyOf(c fhir.Condition) *matched {
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
