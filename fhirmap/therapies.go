package fhirmap

import (
	"slices"
	"strings"
	"time"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/nencds/nencds/internal/fhirjson"
)

// Drugs are the Therapy.Drug values: the codes.csv concepts of the anticancer drugs,
// and "lutathera" for [177Lu]Lu-DOTA-TATE (PRRT) given as a medication. Do not modify.
var Drugs = []string{"cisplatin", "carboplatin", "etoposide", "temozolomide", "capecitabine", "fluorouracil",
	"irinotecan", "sunitinib", "everolimus", "octreotide", "lanreotide", "lutathera"}

// drugWords are the names that identify a drug in free text when no code matched
// (ingredient names first, then US brand names).
var drugWords = map[string][]string{
	"cisplatin":    {"cisplatin", "platinol"},
	"carboplatin":  {"carboplatin", "paraplatin"},
	"etoposide":    {"etoposide", "etopophos", "toposar", "vepesid"},
	"temozolomide": {"temozolomide", "temodar"},
	"capecitabine": {"capecitabine", "xeloda"},
	"fluorouracil": {"fluorouracil", "5-fu", "adrucil"},
	"irinotecan":   {"irinotecan", "camptosar"},
	"sunitinib":    {"sunitinib", "sutent"},
	"everolimus":   {"everolimus", "afinitor"},
	"octreotide":   {"octreotide", "sandostatin", "mycapssa", "bynfezia"},
	"lanreotide":   {"lanreotide", "somatuline"},
	"lutathera":    {"lutathera", "lutetium lu 177 dotatate", "lutetium-177 dotatate", "177lu-dotatate", "lu-177 dotatate", "177lu-dota-tate", "[177lu]lu-dota-tate"},
}

// pendingMed is a medication record resolved in finish (its Medication may come later).
type pendingMed struct {
	src       Source
	status    string
	statement bool
	// admin: a MedicationAdministration (a dose given); see finishAdministrations.
	admin bool
	// draft: a draft MedicationRequest (a proposal, not a therapy): it becomes an
	// OpenOrder of its drugs, so that the same drug is not suggested again.
	draft     bool
	concept   *fhir.CodeableConcept
	medRef    string
	medText   string
	start     string
	end       string
	contained *fhir.CodeableConcept // the code of a contained Medication ("#id")
}

// containedMedication reads the code of a contained Medication, which the library
// drops when it decodes the resource.
func containedMedication(raw []byte, ref string) *fhir.CodeableConcept {
	if !strings.HasPrefix(ref, "#") {
		return nil
	}
	var c struct {
		Contained []struct {
			ResourceType string                      `json:"resourceType"`
			ID           string                      `json:"id"`
			Code         *fhir.CodeableConcept       `json:"code"`
			Ingredient   []fhir.MedicationIngredient `json:"ingredient"`
		} `json:"contained"`
	}
	if fhirjson.Unmarshal(raw, &c) != nil {
		return nil
	}
	for _, r := range c.Contained {
		if r.ResourceType == "Medication" && "#"+r.ID == ref {
			return medicationConcept(r.Code, r.Ingredient)
		}
	}
	return nil
}

func (m *mapper) medication(r rawRes) {
	med, err := decode[fhir.Medication](r)
	if err != nil {
		m.unreadable(r, err)
		return
	}
	if r.ref != "" {
		m.medications[r.ref] = medicationConcept(med.Code, med.Ingredient)
	}
}

// medicationConcept is what names the drug of a Medication: its code, and when the code
// names nothing (no coding, no text), the codes and texts of its ingredients
// (itemCodeableConcept), so that a compounded or locally coded Medication listing
// "carboplatin" as its ingredient is read as carboplatin.
func medicationConcept(code *fhir.CodeableConcept, ingredients []fhir.MedicationIngredient) *fhir.CodeableConcept {
	if code != nil && (len(code.Coding) > 0 || str(code.Text) != "") || len(ingredients) == 0 {
		return code
	}
	out := &fhir.CodeableConcept{}
	var texts []string
	for _, in := range ingredients {
		out.Coding = append(out.Coding, in.ItemCodeableConcept.Coding...)
		if t := ccText(&in.ItemCodeableConcept); t != "" {
			texts = append(texts, t)
		}
	}
	if len(out.Coding) == 0 && len(texts) == 0 {
		return code
	}
	if len(texts) > 0 {
		t := strings.Join(texts, " + ")
		out.Text = &t
	}
	return out
}

// medicationStatus reads the raw status of a medication record of type typ (the library
// would fill a missing one with its first code). A status in skip (a withdrawn or not-given
// record) is skipped with a note ("skipped: entered in error"); a missing status is read as
// unknown, with a caveat: the record may still be a drug the patient takes (principle 3).
func (m *mapper) medicationStatus(r rawRes, typ, unknownAs string, skip ...string) (string, bool) {
	st := r.status()
	switch {
	case slices.Contains(skip, st):
		m.note(NoteSkipped, r.ref, typ+" skipped: "+strings.ReplaceAll(st, "-", " "))
		return st, false
	case st == "":
		m.note(NoteCaveat, r.ref, typ+" has no status; read as "+unknownAs)
	}
	return st, true
}

func (m *mapper) medicationRequest(r rawRes) {
	mr, err := decode[fhir.MedicationRequest](r)
	if err != nil {
		m.unreadable(r, err)
		return
	}
	if !m.subjectOK(r, mr.Subject.Reference) {
		return
	}
	// A request without a status is invalid FHIR, but it may be a drug the patient takes
	// (principle 3): read like status unknown (possibly active).
	st, ok := m.medicationStatus(r, "MedicationRequest", "status unknown (possibly active)", "entered-in-error", "cancelled")
	if !ok {
		return
	}
	pm := pendingMed{status: st, draft: st == "draft", concept: &mr.MedicationCodeableConcept, medRef: normRef(str(mr.MedicationReference.Reference)), medText: str(mr.MedicationReference.Display)}
	pm.contained = containedMedication(r.doc.Raw, pm.medRef)
	pm.start = str(mr.AuthoredOn)
	for _, d := range mr.DosageInstruction {
		if d.Timing != nil && d.Timing.Repeat != nil && d.Timing.Repeat.BoundsPeriod != nil {
			bp := d.Timing.Repeat.BoundsPeriod
			if pm.start == "" {
				pm.start = str(bp.Start)
			}
			if e := str(bp.End); e != "" {
				pm.end = e
			}
		}
	}
	pm.src = m.source(r, firstDate(mr.AuthoredOn, &pm.start), st)
	m.meds = append(m.meds, pm)
}

func (m *mapper) medicationStatement(r rawRes) {
	ms, err := decode[fhir.MedicationStatement](r)
	if err != nil {
		m.unreadable(r, err)
		return
	}
	if !m.subjectOK(r, ms.Subject.Reference) {
		return
	}
	st, ok := m.medicationStatus(r, "MedicationStatement", "status unknown (possibly active)", "entered-in-error", "not-taken")
	if !ok {
		return
	}
	pm := pendingMed{status: st, statement: true, concept: &ms.MedicationCodeableConcept, medRef: normRef(str(ms.MedicationReference.Reference)), medText: str(ms.MedicationReference.Display)}
	pm.contained = containedMedication(r.doc.Raw, pm.medRef)
	pm.start = firstDate(ms.EffectiveDateTime, periodStart(ms.EffectivePeriod))
	pm.end = str(periodEnd(ms.EffectivePeriod))
	pm.src = m.source(r, firstDate(&pm.start, ms.DateAsserted), st)
	m.meds = append(m.meds, pm)
}

// medicationAdministration reads a dose given (chemotherapy or an SSA injection in
// clinic, docs/clinical.md §2 "Medications"): completed, in-progress, on-hold and stopped
// doses are therapy history; not-done and entered-in-error ones are skipped with a note.
// Its date is effective[x].
func (m *mapper) medicationAdministration(r rawRes) {
	ma, err := decode[fhir.MedicationAdministration](r)
	if err != nil {
		m.unreadable(r, err)
		return
	}
	if !m.subjectOK(r, ma.Subject.Reference) {
		return
	}
	st, ok := m.medicationStatus(r, "MedicationAdministration", "status unknown (possibly given)", "entered-in-error", "not-done")
	if !ok {
		return
	}
	pm := pendingMed{status: st, admin: true, concept: &ma.MedicationCodeableConcept, medRef: normRef(str(ma.MedicationReference.Reference)), medText: str(ma.MedicationReference.Display)}
	pm.contained = containedMedication(r.doc.Raw, pm.medRef)
	pm.start = firstDate(&ma.EffectiveDateTime, periodStart(&ma.EffectivePeriod))
	pm.end = str(periodEnd(&ma.EffectivePeriod))
	pm.src = m.source(r, pm.start, st)
	m.meds = append(m.meds, pm)
}

// matchDrugs finds the drugs of a medication concept: RxNorm ingredient codes, then
// known product codes, then drug names in the text, and last a code that codes.csv
// lists but has not verified. Such a match is for DETECTION only (a drug the patient
// may take is not suggested again, principle 3) and carries the caveat
// CaveatUnverifiedCode; unverified codes never go into orders.
func matchDrugs(cc *fhir.CodeableConcept, extraText string) []Therapy {
	var out, unverified []Therapy
	seen := map[string]bool{}
	if cc != nil {
		for _, mc := range conceptsOf(cc) {
			con := mc.Code.Concept
			by := MatchedByIngredient
			if strings.HasSuffix(con, "-product") {
				con, by = strings.TrimSuffix(con, "-product"), MatchedByProductCode
			} else if mc.Code.System == sysHCPCS && con == "lutathera" {
				by = MatchedByProductCode
			}
			if !slices.Contains(Drugs, con) || seen[con] {
				continue
			}
			if !mc.verified() {
				unverified = append(unverified, Therapy{Source: Source{Caveat: CaveatUnverifiedCode}, Drug: con, MatchedBy: by})
				continue
			}
			seen[con] = true
			out = append(out, Therapy{Drug: con, MatchedBy: by})
		}
	}
	if len(out) > 0 {
		return out
	}

	text := strings.ToLower(ccWords(cc) + " " + extraText)
	for _, drug := range Drugs {
		for _, w := range drugWords[drug] {
			if containsWord(text, w) {
				out = append(out, Therapy{Drug: drug, MatchedBy: MatchedByText})
				break
			}
		}
	}
	if len(out) == 0 && containsWord(text, "lutetium") && containsWord(text, "dotatate") {
		out = append(out, Therapy{Drug: "lutathera", MatchedBy: MatchedByText})
	}
	if len(out) == 0 && strings.TrimSpace(text) == "" {
		// No name to read: the unverified code is all there is (detection only).
		out = dedupDrugs(unverified)
	}
	return out
}

// unverifiedOverridden lists the drugs that an unverified code names but the record's
// own name does not (e.g. RxNorm 7617 labelled "ondansetron"): not counted, but noted.
func unverifiedOverridden(cc *fhir.CodeableConcept, found []Therapy) []string {
	var out []string
	for _, mc := range conceptsOf(cc) {
		con := strings.TrimSuffix(mc.Code.Concept, "-product")
		if mc.verified() || !slices.Contains(Drugs, con) || slices.Contains(out, con) ||
			slices.ContainsFunc(found, func(t Therapy) bool { return t.Drug == con }) {
			continue
		}
		out = append(out, con+" (code "+mc.Coding.Code+")")
	}
	return out
}

// dedupDrugs keeps the first Therapy of each drug.
func dedupDrugs(ts []Therapy) []Therapy {
	var out []Therapy
	for _, t := range ts {
		if !slices.ContainsFunc(out, func(o Therapy) bool { return o.Drug == t.Drug }) {
			out = append(out, t)
		}
	}
	return out
}

// containsWord reports whether w occurs in s not as part of a longer word.
func containsWord(s, w string) bool {
	for i := 0; ; {
		j := strings.Index(s[i:], w)
		if j < 0 {
			return false
		}
		j += i
		before := j == 0 || !isWordByte(s[j-1])
		after := j+len(w) == len(s) || !isWordByte(s[j+len(w)])
		if before && after {
			return true
		}
		i = j + 1
	}
}

func isWordByte(b byte) bool { return b >= 'a' && b <= 'z' || b >= '0' && b <= '9' }

func (m *mapper) finishTherapies() {
	var doses []dose
	for _, pm := range m.meds {
		cc := pm.concept
		if cc != nil && len(cc.Coding) == 0 && cc.Text == nil {
			cc = nil
		}
		if cc == nil && pm.contained != nil {
			cc = pm.contained
		}
		if cc == nil && pm.medRef != "" {
			cc = m.medications[pm.medRef]
		}
		drugs := matchDrugs(cc, strings.ToLower(pm.medText))
		text := ccText(cc)
		if text == "" {
			text = pm.medText
		}
		if pm.draft {
			// A proposal, not a therapy: recorded as an open order of each drug it names.
			for _, t := range drugs {
				src := pm.src
				src.Caveat = joinCaveat(src.Caveat, t.Caveat)
				m.p.OpenOrders = append(m.p.OpenOrders, OpenOrder{Source: src, ResourceType: "MedicationRequest",
					Codes: allCodings(cc), Text: text, Drug: t.Drug, MatchedBy: t.MatchedBy})
			}
			continue
		}
		if pm.status != "completed" && pm.status != "stopped" {
			for _, d := range unverifiedOverridden(cc, drugs) {
				m.note(NoteCaveat, pm.src.Ref, "the not yet verified code for "+d+" is contradicted by the medication's name; not counted as that drug: check the medication list")
			}
		}
		if len(drugs) == 0 {
			m.unidentifiedMedication(pm, cc)
			continue
		}
		for _, t := range drugs {
			matchCaveat := t.Caveat
			t.Source = pm.src
			t.Caveat = joinCaveat(t.Caveat, matchCaveat)
			t.Text = text
			if s, ok := parseDate(pm.start); ok {
				t.Start = s
			}
			if e, ok := parseDate(pm.end); ok {
				t.End = e
			}
			if pm.admin {
				if pm.status == "unknown" || pm.status == "" {
					t.Caveat = joinCaveat(t.Caveat, CaveatUnknownStatus)
				}
				t.Administrations = 1
				t.Active = m.administeredActive(pm.status, t)
				doses = append(doses, dose{t: t, codes: allCodings(cc)})
				continue
			}
			t.Active = therapyActive(pm.status, pm.statement, t.End, m.in.At)
			if pm.status == "unknown" || pm.status == "" {
				t.Caveat = joinCaveat(t.Caveat, CaveatUnknownStatus)
				if t.Active {
					m.note(NoteCaveat, pm.src.Ref, t.Drug+": status unknown; counted as possibly active")
				}
			}
			m.addTherapy(t, matchCaveat, allCodings(cc))
		}
	}
	m.finishAdministrations(doses)
}

// addTherapy records a therapy with the notes on how its drug was matched; a
// Lutathera therapy is also a PRRT procedure.
func (m *mapper) addTherapy(t Therapy, matchCaveat string, codes []Coding) {
	if t.MatchedBy == MatchedByText {
		m.note(NoteCaveat, t.Ref, t.Drug+" recognised by name in the medication text, not by a code")
	}
	if matchCaveat == CaveatUnverifiedCode {
		m.note(NoteCaveat, t.Ref, t.Drug+" matched by a code not yet verified (detection only: never used in orders)")
	}
	m.p.Therapies = append(m.p.Therapies, t)
	if t.Drug == "lutathera" {
		// PRRT given or under way as a medication: also a PRRT procedure, so
		// that "prior PRRT" has one place to look (Picture.Procedures).
		m.p.Procedures = append(m.p.Procedures, Procedure{Source: t.Source, Kind: ProcPRRT, Codes: codes, Text: t.Text})
	}
}

// AdministeredRecentDays is how long a dose given (a MedicationAdministration) keeps its
// drug current: a patient who received carboplatin 3 weeks ago, or a lanreotide
// injection 5 weeks ago, is on that drug (safety principle 3: a drug the patient just
// received is never suggested again; monitoring for it is). Six weeks cover a 3- or
// 4-weekly schedule with a delayed cycle.
const AdministeredRecentDays = 42

// CourseGapDays splits the doses of one drug into courses: a dose given more than this
// after the previous one starts a new course.
const CourseGapDays = 90

// dose is one drug of one MedicationAdministration, before the doses are grouped into
// courses.
type dose struct {
	t     Therapy
	codes []Coding
}

// lastGiven is when a dose was last given: the end of its period, else its date.
func lastGiven(t Therapy) time.Time {
	if !t.End.IsZero() {
		return t.End
	}
	if !t.Start.IsZero() {
		return t.Start
	}
	return t.Date
}

// administeredActive: a dose being given (in-progress, on hold mid-course) is current;
// a dose given (completed, stopped, status unknown or missing) is current for
// AdministeredRecentDays after it was given, or when its date is unknown (it may have
// been given yesterday: principle 3). A dose dated after the evaluation time is current.
func (m *mapper) administeredActive(status string, t Therapy) bool {
	last := lastGiven(t)
	switch status {
	case "in-progress", "on-hold":
		if t.End.IsZero() {
			return true
		}
	}
	if last.IsZero() {
		return true
	}
	return m.in.At.Sub(last) <= AdministeredRecentDays*24*time.Hour
}

// finishAdministrations groups the doses of each drug into courses (doses at most
// CourseGapDays apart) and records one Therapy per course: the source is its most
// recent dose, Start its first dose, End its last, Administrations the number of doses,
// Active when any dose is current (administeredActive). A course of six cycles is one
// line of history, not six.
func (m *mapper) finishAdministrations(doses []dose) {
	slices.SortStableFunc(doses, func(a, b dose) int {
		if c := strings.Compare(a.t.Drug, b.t.Drug); c != 0 {
			return c
		}
		if c := therapyDay(a.t).Compare(therapyDay(b.t)); c != 0 {
			return c
		}
		return strings.Compare(a.t.Ref, b.t.Ref)
	})
	for i := 0; i < len(doses); {
		j := i + 1
		last := lastGiven(doses[i].t)
		for j < len(doses) && doses[j].t.Drug == doses[i].t.Drug {
			d := therapyDay(doses[j].t)
			if !d.IsZero() && !last.IsZero() && d.Sub(last) > CourseGapDays*24*time.Hour {
				break
			}
			if l := lastGiven(doses[j].t); l.After(last) {
				last = l
			}
			j++
		}
		m.addCourse(doses[i:j])
		i = j
	}
}

// therapyDay is when a dose was given (start), zero when unknown.
func therapyDay(t Therapy) time.Time {
	if !t.Start.IsZero() {
		return t.Start
	}
	return t.Date
}

// addCourse records the doses of one course (sorted by date, undated first) as one
// Therapy.
func (m *mapper) addCourse(ds []dose) {
	latest := ds[len(ds)-1]
	t := latest.t
	t.Administrations = len(ds)
	matchCaveat := ""
	for _, d := range ds {
		t.Active = t.Active || d.t.Active
		if s := therapyDay(d.t); !s.IsZero() && (t.Start.IsZero() || s.Before(t.Start)) {
			t.Start = s
		}
		if l := lastGiven(d.t); l.After(t.End) {
			t.End = l
		}
		if d.t.MatchedBy == MatchedByText {
			t.MatchedBy = MatchedByText // the weakest match of the course is noted
		}
		if strings.Contains(d.t.Caveat, CaveatUnverifiedCode) {
			matchCaveat = CaveatUnverifiedCode
		}
		for _, c := range strings.Split(d.t.Caveat, "; ") {
			if c != "" {
				t.Caveat = joinCaveat(t.Caveat, c)
			}
		}
		if lastGiven(d.t).IsZero() {
			m.note(NoteCaveat, d.t.Ref, t.Drug+": administration without a date; counted as possibly just given")
		}
	}
	if (latest.t.Status == "in-progress" || latest.t.Status == "on-hold") && latest.t.End.IsZero() {
		t.End = time.Time{} // still being given
	}
	if t.Active && strings.Contains(t.Caveat, CaveatUnknownStatus) {
		m.note(NoteCaveat, t.Ref, t.Drug+": administration status unknown; counted as possibly given")
	}
	m.addTherapy(t, matchCaveat, latest.codes)
}

// unidentifiedMedication records a medication record whose drug could not be
// identified at all: no drug matched AND no name to read (no text or display; a
// referenced Medication that is not in the record and no reference display; a bare
// code). A record that names another drug (e.g. metformin) is identified: it is simply
// not one of Drugs. When the record is active, on hold or of unknown status, it may be
// one of the drugs nencds would suggest: a data-quality note, and the source goes to
// Picture.UnidentifiedMedications so that the cards that suggest starting a drug warn.
func (m *mapper) unidentifiedMedication(pm pendingMed, cc *fhir.CodeableConcept) {
	if strings.TrimSpace(ccWords(cc)) != "" || strings.TrimSpace(pm.medText) != "" {
		return
	}
	var end time.Time
	if e, ok := parseDate(pm.end); ok {
		end = e
	}
	if !therapyActive(pm.status, pm.statement, end, m.in.At) {
		return
	}
	why := "no medication code or name"
	switch {
	case pm.medRef != "" && cc == nil:
		why = "the referenced " + pm.medRef + " is not in the record and the reference has no display"
	case len(allCodings(cc)) > 0:
		why = "its code is not one nencds knows and it carries no name"
	}
	status := pm.status
	if status == "" {
		status = "missing"
	}
	m.note(NoteCaveat, pm.src.Ref, pm.src.Ref+": drug could not be identified ("+why+"); status "+status+
		": it may be an anticancer drug the patient takes; check the medication list before ordering")
	m.p.UnidentifiedMedications = append(m.p.UnidentifiedMedications, pm.src)
}

// therapyActive: status active or on-hold (request) / active, intended, on-hold
// (statement), or unknown / missing (possibly active, principle 3), and not ended
// before at.
func therapyActive(status string, statement bool, end, at time.Time) bool {
	var ok bool
	switch status {
	case "active", "on-hold", "unknown", "":
		ok = true
	case "intended":
		ok = statement
	}
	return ok && (end.IsZero() || !end.Before(at))
}

// MedicationRef is a Medication that a medication record names by a literal reference
// and that none of the documents holds (neither as a resource nor contained).
type MedicationRef struct {
	// Ref is "Medication/{id}".
	Ref string
	// ID is the Medication's id (a valid FHIR id).
	ID string
	// Reference is the reference as written: relative ("Medication/7") or absolute
	// ("https://ehr.example.org/fhir/Medication/7"), without its _history part.
	Reference string
}

// UnresolvedMedications lists, once each in order of first appearance, the Medications
// that the medication records of docs (MedicationRequest, MedicationStatement,
// MedicationAdministration; withdrawn ones excepted) reference and that no document
// holds, so that an adapter can read them from the FHIR server (docs/clinical.md §2
// "Medications"). Contained ("#id"), urn: and malformed references are not listed.
// Documents that cannot be read are skipped (Map notes them).
func UnresolvedMedications(docs []*fhirjson.Document) []MedicationRef {
	have := map[string]bool{}
	var refs []MedicationRef
	seen := map[string]bool{}
	var walk func(d *fhirjson.Document, fullURL string, depth int)
	walk = func(d *fhirjson.Document, fullURL string, depth int) {
		switch d.ResourceType {
		case "Bundle":
			if depth >= maxBundleDepth {
				return
			}
			for _, e := range d.Entries {
				if e.Resource != nil {
					walk(e.Resource, e.FullURL, depth+1)
				}
			}
		case "Medication":
			if ref := refOf("Medication", d.ID, fullURL); ref != "" {
				have[ref] = true
			}
		case "MedicationRequest", "MedicationStatement", "MedicationAdministration":
			switch docStatus(d) {
			case "entered-in-error", "cancelled", "not-done", "not-taken":
				return
			}
			var r struct {
				MedRef *struct {
					Reference string `json:"reference"`
				} `json:"medicationReference"`
			}
			if fhirjson.Unmarshal(d.Raw, &r) != nil || r.MedRef == nil {
				return
			}
			lit := strings.TrimSpace(r.MedRef.Reference)
			if i := strings.Index(lit, "/_history/"); i >= 0 {
				lit = lit[:i]
			}
			id := refID(lit, "Medication")
			if strings.HasPrefix(lit, "#") || strings.HasPrefix(lit, "urn:") || !validID(id) {
				return
			}
			ref := "Medication/" + id
			if !seen[ref] {
				seen[ref] = true
				refs = append(refs, MedicationRef{Ref: ref, ID: id, Reference: lit})
			}
		}
	}
	for _, d := range docs {
		if d != nil {
			walk(d, "", 0)
		}
	}
	var out []MedicationRef
	for _, r := range refs {
		if !have[r.Ref] {
			out = append(out, r)
		}
	}
	return out
}

// validID reports a FHIR id: 1 to 64 of A–Z, a–z, 0–9, "-" and "." (not dots alone,
// which a URL path would read as a dot segment).
func validID(id string) bool {
	if id == "" || len(id) > 64 || strings.Trim(id, ".") == "" {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
