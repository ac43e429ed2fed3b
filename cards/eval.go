package cards

import (
	"slices"
	"time"

	"github.com/nencds/nencds/fhirmap"
)

// eval is what the rules share during one evaluation: the picture, the config, the
// classification and the derived facts every rule needs (computed once).
type eval struct {
	p      *fhirmap.Picture
	cfg    Config
	cls    Classification
	newID  func() string
	drafts drafts

	// primary is the NEN diagnosis the cards are about (nil: no NEN on record).
	primary *fhirmap.Diagnosis
	// malignant: at least one NEN diagnosis that is not benign (D3A.*).
	malignant bool
	// confirmed: the primary diagnosis is not unconfirmed/provisional/differential.
	confirmed bool
	// activeDisease: clinical status not inactive/remission/resolved.
	activeDisease bool
	site          fhirmap.Site
	// ecog is the performance status the rules use (performanceStatus): an ECOG or a
	// Karnofsky score; rules compare its ECOG() equivalent.
	ecog *fhirmap.Performance
	// progression is the most recent disease status within the progression window when
	// it says "progression" (nil otherwise).
	progression *fhirmap.DiseaseStatus
}

func newEval(p *fhirmap.Picture, cfg Config, newID func() string) *eval {
	e := &eval{p: p, cfg: cfg, newID: newID}
	e.primary = pickPrimary(p.Diagnoses)
	for _, d := range p.Diagnoses {
		if !d.Benign {
			e.malignant = true
		}
	}
	if e.primary != nil {
		switch e.primary.VerificationStatus {
		case "unconfirmed", "provisional", "differential":
		default:
			e.confirmed = true
		}
		switch e.primary.ClinicalStatus {
		case "inactive", "remission", "resolved":
		default:
			e.activeDisease = true
		}
	}
	e.cls = Classify(p)
	e.site = primarySite(p)
	e.ecog = performanceStatus(p.Performance)
	for i := range p.DiseaseStatus {
		ds := &p.DiseaseStatus[i]
		if ds.Date.IsZero() || ds.Date.Before(p.At.AddDate(0, -cfg.ProgressionWindowMonths, 0)) {
			continue
		}
		if ds.Value == fhirmap.StatusProgression {
			e.progression = ds
		}
		break // the most recent status in the window decides
	}
	patient := p.Patient.Ref
	if patient == "" {
		patient = "Patient/" + p.PatientID
	}
	reason := ""
	if e.primary != nil {
		reason = e.primary.Ref
	}
	e.drafts = drafts{patient: patient, reason: reason, at: p.At, newID: newID}
	return e
}

// pickPrimary prefers a malignant, confirmed diagnosis, then a malignant one, then any.
func pickPrimary(ds []fhirmap.Diagnosis) *fhirmap.Diagnosis {
	for i := range ds {
		switch ds[i].VerificationStatus {
		case "unconfirmed", "provisional", "differential":
			continue
		}
		if !ds[i].Benign {
			return &ds[i]
		}
	}
	for i := range ds {
		if !ds[i].Benign {
			return &ds[i]
		}
	}
	if len(ds) > 0 {
		return &ds[0]
	}
	return nil
}

// nen reports whether a NEN is on record.
func (e *eval) nen() bool { return e.primary != nil }

// confirmedNEN: a malignant NEN whose diagnosis is not unconfirmed, provisional or
// differential. docs/clinical.md §2: an unconfirmed diagnosis gives the summary and work-up
// cards only; every other card needs this (treatment cards need treatable()).
func (e *eval) confirmedNEN() bool { return e.nen() && e.malignant && e.confirmed }

// treatable: a malignant, confirmed, active NEN whose category is decided and inside
// the source's algorithm (not MiNEN, not a lung/thymus NET), and one active primary
// (two active primaries are not one picture: MDT review, docs/clinical.md §2). Treatment rules add their own
// category conditions on top.
func (e *eval) treatable() bool {
	return e.nen() && e.malignant && e.confirmed && e.activeDisease && len(e.p.MultiplePrimaries) < 2 &&
		!e.cls.Uncertain() && e.cls.Category != CatMiNEN && !e.cls.OutsideSite
}

// ecogAtMost reports ECOG ≤ limit (a Karnofsky score by its ECOG equivalent), or unknown.
func (e *eval) ecogAtMost(limit int) bool { return e.ecog == nil || e.ecog.ECOG() <= limit }

// performanceStatus picks the performance status the rules use (docs/clinical.md §2):
// the most recent ECOG or Karnofsky score; of scores of the same day, ECOG wins. ps is
// ordered newest first (fhirmap's order; an undated score comes last and is used only
// when no dated one exists).
func performanceStatus(ps []fhirmap.Performance) *fhirmap.Performance {
	if len(ps) == 0 {
		return nil
	}
	newest := 0
	for i := range ps {
		if ps[i].Date.After(ps[newest].Date) {
			newest = i
		}
	}
	best := &ps[newest]
	for i := range ps {
		if ps[i].Scale == "ecog" && best.Scale != "ecog" && sameDay(ps[i].Date, best.Date) {
			best = &ps[i]
		}
	}
	return best
}

// sameDay reports two dates on the same calendar day (UTC); two undated scores are
// of the same (unknown) day.
func sameDay(a, b time.Time) bool {
	ay, am, ad := a.UTC().Date()
	by, bm, bd := b.UTC().Date()
	return ay == by && am == bm && ad == bd
}

// activeDrug returns the active (or on-hold) therapy record of a drug concept.
func (e *eval) activeDrug(concepts ...string) *fhirmap.Therapy {
	for i := range e.p.Therapies {
		if e.p.Therapies[i].Active && slices.Contains(concepts, e.p.Therapies[i].Drug) {
			return &e.p.Therapies[i]
		}
	}
	return nil
}

// anyDrug returns the most recent therapy record (active or past) of a drug concept.
func (e *eval) anyDrug(concepts ...string) *fhirmap.Therapy {
	for i := range e.p.Therapies {
		if slices.Contains(concepts, e.p.Therapies[i].Drug) {
			return &e.p.Therapies[i]
		}
	}
	return nil
}

// Drug groups.
var (
	platinumDrugs = []string{"cisplatin", "carboplatin"}
	chemoDrugs    = []string{"cisplatin", "carboplatin", "etoposide", "temozolomide", "capecitabine", "fluorouracil", "irinotecan"}
	ivChemoDrugs  = []string{"cisplatin", "carboplatin", "etoposide", "fluorouracil", "irinotecan"}
	targetedDrugs = []string{"sunitinib", "everolimus"}
	ssaDrugs      = []string{"octreotide", "lanreotide"}
	necOnlyDrugs  = []string{"cisplatin", "carboplatin", "etoposide"}
	// netOnlyDrugs are never suggested for a NEC (principle 2); "lutathera" is PRRT.
	netOnlyDrugs = []string{"octreotide", "lanreotide", "everolimus", "sunitinib", "lutathera"}
)

// drugOrdered returns the open order of a drug concept: a draft MedicationRequest that
// fhirmap matched to the drug (by code or name), or an open order carrying the drug's
// verified RxNorm code; nil when none.
func (e *eval) drugOrdered(concept string) *fhirmap.OpenOrder {
	dr := drugOf(concept)
	for i := range e.p.OpenOrders {
		o := &e.p.OpenOrders[i]
		if o.Drug == concept {
			return o
		}
		if dr.Coding == nil {
			continue
		}
		for _, c := range o.Codes {
			if c.System == dr.Coding.System && c.Code == dr.Coding.Code {
				return o
			}
		}
	}
	return nil
}

// openOrder returns the open ServiceRequest/Task with a coding of one of the concepts
// (or one of the extra codings), nil when none.
func (e *eval) openOrder(concepts []string, extra ...fhirCoding) *fhirmap.OpenOrder {
	want := codingsOf(concepts...)
	want = append(want, extra...)
	for i := range e.p.OpenOrders {
		for _, have := range e.p.OpenOrders[i].Codes {
			for _, w := range want {
				if have.System == w.System && have.Code == w.Code {
					return &e.p.OpenOrders[i]
				}
			}
		}
	}
	return nil
}

// openOrderFact is the fact that names an open order: its type, text or first code, and status.
func openOrderFact(o *fhirmap.OpenOrder) fact {
	v := o.ResourceType
	if o.Text != "" {
		v += ": " + o.Text
	} else if len(o.Codes) > 0 {
		v += ": " + o.Codes[0].Code
	}
	if o.Status != "" {
		v += " (" + o.Status + ")"
	}
	return fact{"Open order", v, o.Source}
}

// recentCrossSection returns the most recent CT/MRI within days.
func (e *eval) recentCrossSection(days int) *fhirmap.ImagingStudy {
	for i := range e.p.CrossSections {
		if within(e.p.CrossSections[i].Date, e.p.At, days) {
			return &e.p.CrossSections[i]
		}
	}
	return nil
}

// recentSSTR returns the most recent SSTR imaging within days.
func (e *eval) recentSSTR(days int) *fhirmap.SSTRImaging {
	for i := range e.p.SSTR {
		if within(e.p.SSTR[i].Date, e.p.At, days) {
			return &e.p.SSTR[i]
		}
	}
	return nil
}

// recentLiverTest returns the most recent liver function test within days when the
// liver tests of that window amount to a hepatic function panel: a panel, or ALT, AST
// and total bilirubin each (the tests the SUTENT label names). A lone ALT or bilirubin
// is not a panel: nil.
func (e *eval) recentLiverTest(days int) *fhirmap.LabResult {
	var newest *fhirmap.LabResult
	seen := map[fhirmap.LabKind]bool{}
	for i := range e.p.LiverTests {
		lt := &e.p.LiverTests[i]
		if !within(lt.Date, e.p.At, days) {
			continue
		}
		if newest == nil {
			newest = lt
		}
		seen[lt.Kind] = true
	}
	if seen[fhirmap.LabHepaticPanel] || seen[fhirmap.LabALT] && seen[fhirmap.LabAST] && seen[fhirmap.LabBilirubin] {
		return newest
	}
	return nil
}

// sstrPositive returns the most recent SSTR study with a result, when it is positive.
func (e *eval) sstrPositive() *fhirmap.SSTRImaging {
	for i := range e.p.SSTR {
		switch e.p.SSTR[i].Result {
		case fhirmap.SSTRPositive:
			return &e.p.SSTR[i]
		case fhirmap.SSTRNegative:
			return nil
		}
	}
	return nil
}

// cycleDays is the shortest cycle among the active drugs (oral targeted and CAPTEM 28,
// IV chemotherapy 21).
func (e *eval) cycleDays(active []fhirmap.Therapy) int {
	days := 0
	for _, t := range active {
		d := e.cfg.CycleDaysOral
		if slices.Contains(ivChemoDrugs, t.Drug) {
			d = e.cfg.CycleDaysChemo
		}
		if days == 0 || d < days {
			days = d
		}
	}
	return days
}

// baseFacts are the facts every treatment card starts from: the diagnosis and the
// classification inputs.
func (e *eval) baseFacts() []fact {
	var fs []fact
	if e.primary != nil {
		fs = append(fs, diagnosisFact(*e.primary))
	}
	fs = append(fs, e.classFacts()...)
	return fs
}

func (e *eval) classFacts() []fact {
	var fs []fact
	if e.cls.Ki67 != nil {
		fs = append(fs, ki67Fact(e.cls.Ki67))
	}
	if e.cls.Mitoses != nil {
		fs = append(fs, mitosesFact(e.cls.Mitoses))
	}
	if e.cls.Label != nil {
		fs = append(fs, fact{"Reported grade", e.cls.Label.Label, e.cls.Label.Source})
	}
	if e.cls.Differentiation != fhirmap.DiffUnknown {
		v := "well differentiated"
		if e.cls.Differentiation == fhirmap.DiffPoor {
			v = "poorly differentiated"
		}
		if e.cls.DiffFrom != "" {
			v += " (from " + e.cls.DiffFrom + ")"
		}
		fs = append(fs, fact{"Differentiation", v, e.cls.DiffSource})
	}
	return fs
}

// therapyStart is when a therapy record started: its start date, else the date of
// the record (zero when neither is known).
func therapyStart(t *fhirmap.Therapy) time.Time {
	if !t.Start.IsZero() {
		return t.Start
	}
	return t.Date
}

// categoryFact is the one line a card other than nen-summary shows for the
// classification: the category and site, dated and referenced by the diagnosis. The
// facts behind the category (Ki-67, mitoses, differentiation) are the summary's.
func (e *eval) categoryFact() fact {
	v := string(e.cls.Category)
	if e.site != fhirmap.SiteUnknown {
		v += ", " + siteText(e.site)
	}
	var src fhirmap.Source
	if e.primary != nil {
		src = e.primary.Source
	}
	return fact{"Diagnosis", v, src}
}

// spreadFacts are the facts behind the extent a card relies on: the metastasis
// Conditions at the given locations (any location when none is given), else the TNM
// and stage facts on record, else the extent as a statement.
func (e *eval) spreadFacts(locs ...fhirmap.SecondaryLocation) []fact {
	var fs []fact
	for _, s := range e.p.Secondaries {
		if len(locs) == 0 || slices.Contains(locs, s.Location) {
			fs = append(fs, conditionFact(metastasisLabel(s.Location), s.ConditionFact))
		}
	}
	if len(fs) > 0 {
		return fs
	}
	for _, t := range e.p.TNM {
		fs = append(fs, fact{"TNM " + string(t.Kind), t.Value, t.Source})
	}
	if len(fs) > 0 {
		return fs
	}
	f := extentFact(e.p)
	if len(e.p.Extent.Evidence) > 0 {
		f.Src.Ref = e.p.Extent.Evidence[0] // the record the extent was read from
	}
	return []fact{f}
}

// metastasisLabel is the label of a metastasis fact: "Liver metastasis".
func metastasisLabel(l fhirmap.SecondaryLocation) string {
	switch l {
	case fhirmap.SecLiver:
		return "Liver metastasis"
	case fhirmap.SecBone:
		return "Bone metastasis"
	case fhirmap.SecLymphNode:
		return "Distant lymph node metastasis"
	case fhirmap.SecPeritoneum:
		return "Peritoneal metastasis"
	}
	return "Metastasis"
}
