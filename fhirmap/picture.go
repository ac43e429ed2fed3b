// Package fhirmap turns the FHIR R4 resources of one patient into a Picture: a typed,
// traceable clinical picture of a neuroendocrine neoplasm (NEN) that the cards rules read.
//
// It is pure and deterministic: no HTTP, no clock (the evaluation time is an input), and
// the same resources with the same evaluation time always give the same Picture. What it
// cannot read safely becomes a Note on the Picture instead of a guess; one bad resource
// never sinks the others. What to read is specified in docs/clinical.md §2
// and §3; the codes live in the embedded value sets (see valuesets.go).
//
// How it reads (map.go): each document is a Bundle of any type (entries read one by one,
// nested Bundles too) or a single resource, read once by internal/fhirjson (its envelope,
// and each entry's resourceType, id and raw status: samply's models would fill a missing
// required status with the first code of its value set). Each resource mapped is then
// decoded once, into a model of the elements read (models.go) or, for medication records,
// Medications and the Patient, into github.com/samply/golang-fhir-models. Codes are matched by system and code (codes.csv), never by display;
// rows still "unverified" are used only with a caveat (or, for drugs, not at all: the
// name in the text is the fallback). The files follow the resources: conditions.go
// (diagnoses, secondaries, carcinoid syndrome, age), observations.go (Ki-67 and the
// other classification inputs, TNM, markers, labs, fitness; Ki67Grade and
// MitoticGrade), reports.go (SSTR, CT/MRI and hepatic panel reports), therapies.go, procedures.go
// (procedures, open orders, and the derivations made once everything is read:
// extent, grade-label mismatches, conflicts, newest-first order), tumours.go (the
// tumours on record: the index tumour the top-level lists describe, and the history
// tumours whose facts are kept apart).
package fhirmap

import "time"

// Systems of the code systems that nencds itself defines. They are a stable contract:
// fixtures, EHR configurations and analytics use them.
const (
	// LocalSystem holds the observation codes for which no standard code exists
	// (mitotic-count, sstr-status, krenning-score, differentiation).
	LocalSystem = "https://github.com/nencds/nencds/CodeSystem/observation"
)

// Source says where a fact came from, so that a card can cite it.
type Source struct {
	// Ref is the relative reference of the resource, e.g. "Observation/ki67-2".
	Ref string `json:"ref"`
	// Date is the effective (or onset, authored, performed) date at the start of the
	// precision given; zero when the resource has none.
	Date time.Time `json:"date,omitzero"`
	// DateText is the date as the resource wrote it ("2024", "2024-03", "2024-03-05T10:00:00Z").
	DateText string `json:"dateText,omitempty"`
	// Status is the resource status as sent (final, amended, preliminary, active, ...).
	Status string `json:"status,omitempty"`
	// Caveat is set when the fact may be used only with care (e.g. "preliminary result").
	Caveat string `json:"caveat,omitempty"`
}

// Coding is a code as matched, independent of the FHIR library.
type Coding struct {
	System  string `json:"system"`
	Code    string `json:"code"`
	Display string `json:"display,omitempty"`
}

// Quantity is a numeric value with its UCUM (or sent) unit.
type Quantity struct {
	Value float64 `json:"value"`
	Unit  string  `json:"unit,omitempty"`
}

// Differentiation of the tumour: the morphology that tells NET from NEC.
type Differentiation string

const (
	DiffUnknown Differentiation = ""
	DiffWell    Differentiation = "well"
	DiffPoor    Differentiation = "poor"
)

// Site is a primary tumour site.
type Site string

const (
	SiteUnknown        Site = ""
	SitePancreas       Site = "pancreas"
	SiteSmallIntestine Site = "small-intestine"
	SiteAppendix       Site = "appendix"
	SiteColon          Site = "colon"
	SiteRectum         Site = "rectum"
	SiteStomach        Site = "stomach"
	SiteLung           Site = "lung"
	SiteThymus         Site = "thymus"
	SiteKidney         Site = "kidney"
	SiteForegut        Site = "foregut"
	SiteMidgut         Site = "midgut"
	SiteHindgut        Site = "hindgut"
	SiteOther          Site = "other"
)

// Picture is what nencds understood of one patient at one evaluation time.
// Every list is ordered newest first (by Source.Date, then by Ref for ties).
type Picture struct {
	PatientID string    `json:"patientId"`
	At        time.Time `json:"at"` // the injected evaluation time
	Patient   Patient   `json:"patient"`

	// Tumours are the NEN primaries on record, the index tumour (the one the cards are
	// about) first, then the history tumours (resolved, inactive, remission). Every
	// fact list below describes the index tumour; the facts of the history tumours are
	// in History (see tumours.go).
	Tumours []Tumour `json:"tumours,omitempty"`
	// History holds the facts of the history tumours (nil when there are none).
	History *History `json:"history,omitempty"`
	// MultiplePrimaries are the references of two or more active, confirmed NEN
	// primaries of different sites: not one tumour, so no merged treatment picture
	// (MDT review).
	MultiplePrimaries []string `json:"multiplePrimaries,omitempty"`

	// Diagnoses are the NEN primary tumour conditions of the index tumour
	// (entered-in-error and refuted left out).
	Diagnoses []Diagnosis `json:"diagnoses,omitempty"`
	// Secondaries are the secondary (metastatic) site conditions.
	Secondaries []Secondary `json:"secondaries,omitempty"`
	// CarcinoidSyndrome holds carcinoid syndrome conditions (E34.0, SNOMED 35868009).
	CarcinoidSyndrome []ConditionFact `json:"carcinoidSyndrome,omitempty"`

	// Classification inputs. Ki67 and Mitoses are ordered newest first by calendar
	// day, and within one day the higher value first (the conservative value grades).
	Ki67            []Ki67                `json:"ki67,omitempty"`
	Mitoses         []MitoticCount        `json:"mitoses,omitempty"`
	GradeLabels     []GradeLabel          `json:"gradeLabels,omitempty"`
	Morphologies    []Morphology          `json:"morphologies,omitempty"`
	Differentiation []DifferentiationFact `json:"differentiation,omitempty"`

	// Extent.
	TNM []TNM `json:"tnm,omitempty"`
	// Unresectable holds the statements that the primary is locally advanced or
	// unresectable: a resectability observation (project code) or the words of a NEN
	// diagnosis ("locally advanced", "unresectable", "inoperable").
	Unresectable []Statement `json:"unresectable,omitempty"`
	Extent       Extent      `json:"extent"`

	// Imaging, markers, labs and fitness.
	SSTR          []SSTRImaging  `json:"sstr,omitempty"`
	CrossSections []ImagingStudy `json:"crossSections,omitempty"` // CT / MRI
	Markers       []Marker       `json:"markers,omitempty"`       // CgA, 5-HIAA
	LVEF          []LVEF         `json:"lvef,omitempty"`
	LiverTests    []LabResult    `json:"liverTests,omitempty"`
	// MetabolicTests are fasting glucose, HbA1c and lipid panel results (the
	// everolimus baseline, docs/clinical.md §5).
	MetabolicTests []LabResult     `json:"metabolicTests,omitempty"`
	Performance    []Performance   `json:"performance,omitempty"` // ECOG, Karnofsky
	DiseaseStatus  []DiseaseStatus `json:"diseaseStatus,omitempty"`

	// Therapies, procedures, open orders.
	Therapies  []Therapy   `json:"therapies,omitempty"`
	Procedures []Procedure `json:"procedures,omitempty"`
	OpenOrders []OpenOrder `json:"openOrders,omitempty"`

	// UnidentifiedMedications are the medication records (MedicationRequest or
	// MedicationStatement) that are active, on hold or of unknown status but whose drug
	// could not be identified (an unresolved Medication reference without display, or no
	// code or name that can be read). Each also has a Note. Such a record may be a drug
	// that a card would suggest starting (safety principle 3): the cards warn.
	UnidentifiedMedications []Source `json:"unidentifiedMedications,omitempty"`

	// Notes are the data-quality notes: every normalisation, skip, rejection and conflict.
	Notes []Note `json:"notes,omitempty"`
}

// Patient is the demographic part of the picture.
type Patient struct {
	Ref       string    `json:"ref,omitempty"`
	BirthDate time.Time `json:"birthDate,omitzero"`
	// Age in whole years at Picture.At; meaningful only when AgeKnown.
	Age      int    `json:"age,omitempty"`
	AgeKnown bool   `json:"ageKnown"`
	Gender   string `json:"gender,omitempty"`
}

// ConditionFact is the common part of a Condition used as a fact.
type ConditionFact struct {
	Source
	Codes []Coding `json:"codes,omitempty"` // the codings that matched a value set
	Text  string   `json:"text,omitempty"`  // code.text or the first display
	// ClinicalStatus as sent: active, recurrence, relapse, inactive, remission, resolved, or "".
	ClinicalStatus string `json:"clinicalStatus,omitempty"`
	// VerificationStatus as sent: confirmed, unconfirmed, provisional, differential, or "".
	VerificationStatus string    `json:"verificationStatus,omitempty"`
	Onset              time.Time `json:"onset,omitzero"`
	// Abatement is when the condition resolved (abatementDateTime or the end of
	// abatementPeriod); zero when not recorded.
	Abatement time.Time `json:"abatement,omitzero"`
	// Related are the Conditions this one names in the condition-related extension
	// (or mCODE's related-primary-cancer-condition): a metastasis names its primary.
	Related []string `json:"related,omitempty"`
}

// Diagnosis is a NEN primary tumour Condition.
type Diagnosis struct {
	ConditionFact
	// Concept is the codes.csv concept that matched (e.g. "nen-small-intestine", "pnet", "morph-nec").
	Concept         string          `json:"concept"`
	Site            Site            `json:"site,omitempty"`
	Differentiation Differentiation `json:"differentiation,omitempty"` // from the codes alone
	Morphology      string          `json:"morphology,omitempty"`      // ICD-O-3, e.g. "8246/3"
	Benign          bool            `json:"benign,omitempty"`          // D3A.*: no malignant-disease cards
}

// SecondaryLocation is where a metastasis sits.
type SecondaryLocation string

const (
	SecLiver       SecondaryLocation = "liver"
	SecBone        SecondaryLocation = "bone"
	SecLymphNode   SecondaryLocation = "distant-lymph-node"
	SecPeritoneum  SecondaryLocation = "peritoneum"
	SecOther       SecondaryLocation = "other"
	SecUnspecified SecondaryLocation = "unspecified"
)

// Secondary is a secondary malignant neoplasm (distant metastasis) Condition.
type Secondary struct {
	ConditionFact
	Location SecondaryLocation `json:"location"`
}

// Ki67 is one Ki-67 proliferation index result.
type Ki67 struct {
	Source
	Percent float64 `json:"percent"` // normalised to percent (0-100)
	Raw     string  `json:"raw"`     // the value as sent, e.g. "0.15 {ratio}", "15-20%"
	// Normalised says the value was converted (fraction to percent, range to upper bound).
	Normalised bool   `json:"normalised,omitempty"`
	Specimen   string `json:"specimen,omitempty"` // Observation.specimen reference
}

// MitoticCount is a mitotic count per 2 mm².
type MitoticCount struct {
	Source
	Per2mm2  float64 `json:"per2mm2"`
	Specimen string  `json:"specimen,omitempty"`
}

// GradeLabel is a histologic grade as reported (G1, G2, G3), not computed.
type GradeLabel struct {
	Source
	Grade    int    `json:"grade"` // 1, 2, 3; 0 when the label is present but not a grade (e.g. GX)
	Label    string `json:"label"`
	Specimen string `json:"specimen,omitempty"`
}

// Morphology is an ICD-O-3 morphology observed on an Observation (LOINC 31206-6) or a Condition.
type Morphology struct {
	Source
	Code            string          `json:"code"` // e.g. "8249/3"
	Differentiation Differentiation `json:"differentiation,omitempty"`
}

// DifferentiationFact is an explicit or code-derived statement of differentiation.
type DifferentiationFact struct {
	Source
	Value Differentiation `json:"value"`
	// From says how it was derived: "observation", "ICD-O-3 8246/3", "ICD-10-CM C7A.1", ...
	From string `json:"from"`
}

// TNMKind names a TNM item.
type TNMKind string

const (
	TNMClinicalM     TNMKind = "cM"
	TNMPathologicalM TNMKind = "pM"
	TNMClinicalN     TNMKind = "cN"
	TNMPathologicalN TNMKind = "pN"
	TNMClinicalStage TNMKind = "clinical-stage-group"
	TNMPathStage     TNMKind = "pathological-stage-group"
)

// TNM is one TNM category or stage group observation.
type TNM struct {
	Source
	Kind  TNMKind `json:"kind"`
	Value string  `json:"value"` // normalised: "M0", "M1", "M1a", "N0", "I", "IIB", "IV", ...
}

// ExtentStatus summarises how far the disease has spread.
type ExtentStatus string

const (
	// ExtentUnknown: no distant metastasis on record and no M0 / stage I-III either.
	ExtentUnknown ExtentStatus = "unknown"
	// ExtentLimited: no distant metastasis on record AND M0 or stage I-III recorded.
	ExtentLimited ExtentStatus = "limited"
	// ExtentLocallyAdvanced: no distant metastasis on record, but the primary is
	// recorded as locally advanced or unresectable (docs/clinical.md §2, §4). It is not
	// distant disease: no liver or bone metastasis follows from it.
	ExtentLocallyAdvanced ExtentStatus = "locally-advanced"
	// ExtentDistant: a secondary Condition, M1, or stage IV.
	ExtentDistant ExtentStatus = "distant"
)

// Advanced reports distant or locally advanced (unresectable) disease: "metastatic or
// unresectable" in the rules of docs/clinical.md §4.
func (e Extent) Advanced() bool {
	return e.Status == ExtentDistant || e.Status == ExtentLocallyAdvanced
}

// Statement is a recorded statement about the tumour, with the words it was read from.
type Statement struct {
	Source
	Text string `json:"text"`
}

// Extent is derived from Secondaries, TNM and the unresectability statements.
type Extent struct {
	Status ExtentStatus `json:"status"`
	// Evidence holds the references that decided Status.
	Evidence []string `json:"evidence,omitempty"`
	Liver    bool     `json:"liver,omitempty"`
	Bone     bool     `json:"bone,omitempty"`
	// ExtrahepaticDistant: distant disease outside the liver (bone, distant nodes,
	// peritoneum, other), or M1/stage IV without a liver-only explanation.
	ExtrahepaticDistant bool `json:"extrahepaticDistant,omitempty"`
}

// SSTRResult is the result of somatostatin receptor imaging.
type SSTRResult string

const (
	SSTRUnknown  SSTRResult = ""
	SSTRPositive SSTRResult = "positive"
	SSTRNegative SSTRResult = "negative"
)

// SSTRImaging is one somatostatin receptor imaging study and its result.
type SSTRImaging struct {
	Source
	Study    string     `json:"study"` // e.g. "Ga-68 DOTATATE PET/CT"
	Result   SSTRResult `json:"result,omitempty"`
	Krenning int        `json:"krenning"` // 0-4; -1 when not reported
	// ResultFrom says how the result was read: "observation", "conclusionCode", "text".
	ResultFrom string `json:"resultFrom,omitempty"`
	// Evidence is the phrase that a text-derived result was read from.
	Evidence string `json:"evidence,omitempty"`
}

// ImagingStudy is a cross-sectional imaging study (CT or MRI).
type ImagingStudy struct {
	Source
	Modality string   `json:"modality"` // "CT" or "MRI"
	Codes    []Coding `json:"codes,omitempty"`
	Text     string   `json:"text,omitempty"`
}

// MarkerKind names a tumour marker.
type MarkerKind string

const (
	MarkerCgA         MarkerKind = "chromogranin-a"
	Marker5HIAAUrine  MarkerKind = "5-hiaa-urine"
	Marker5HIAAPlasma MarkerKind = "5-hiaa-plasma"
)

// Marker is a tumour marker result.
type Marker struct {
	Source
	Kind     MarkerKind `json:"kind"`
	Code     Coding     `json:"code"`
	Quantity Quantity   `json:"quantity"`
	Molar    bool       `json:"molar,omitempty"` // a moles-based LOINC
	// Elevated is "yes", "no" or "" (unknown), from the interpretation (H, HH, A) or
	// the reference range high.
	Elevated string `json:"elevated,omitempty"`
}

// LVEF is a left ventricular ejection fraction result in percent.
type LVEF struct {
	Source
	Percent float64 `json:"percent"`
	Code    Coding  `json:"code"`
}

// LabKind names a laboratory test: a liver test or a metabolic test.
type LabKind string

const (
	LabALT            LabKind = "alt"
	LabAST            LabKind = "ast"
	LabBilirubin      LabKind = "bilirubin-total"
	LabHepaticPanel   LabKind = "hepatic-panel"
	LabFastingGlucose LabKind = "fasting-glucose"
	LabHbA1c          LabKind = "hba1c"
	LabLipidPanel     LabKind = "lipid-panel"
)

// LabResult is a liver or metabolic test result (a panel may carry no value of its own).
type LabResult struct {
	Source
	Kind     LabKind   `json:"kind"`
	Code     Coding    `json:"code"`
	Quantity *Quantity `json:"quantity,omitempty"`
}

// Performance is a performance status score.
type Performance struct {
	Source
	Scale string `json:"scale"` // "ecog" or "karnofsky"
	Score int    `json:"score"`
}

// ECOG is the ECOG equivalent of the score (docs/clinical.md §2): an ECOG score as
// recorded; a Karnofsky score converted 100–90 → 0, 80–70 → 1, 60–50 → 2, 40–30 → 3,
// 20–10 → 4, 0 → 5 [Oken 1982; Buccheri 1996]. A Karnofsky score between two steps
// (e.g. 85) takes the worse ECOG, so that a conversion never makes a patient fitter.
func (p Performance) ECOG() int {
	if p.Scale != "karnofsky" {
		return p.Score
	}
	return KarnofskyToECOG(p.Score)
}

// KarnofskyToECOG converts a Karnofsky score (0–100) to ECOG (see Performance.ECOG).
func KarnofskyToECOG(kps int) int {
	switch {
	case kps >= 90:
		return 0
	case kps >= 70:
		return 1
	case kps >= 50:
		return 2
	case kps >= 30:
		return 3
	case kps >= 10:
		return 4
	}
	return 5
}

// DiseaseStatusValue is an mCODE cancer disease status.
type DiseaseStatusValue string

const (
	StatusProgression DiseaseStatusValue = "progression" // SNOMED 271299001 worsened
	StatusStable      DiseaseStatusValue = "stable"      // 359746009
	StatusImproved    DiseaseStatusValue = "improved"    // 268910001
	StatusOther       DiseaseStatusValue = "other"
)

// DiseaseStatus is one cancer disease status observation (LOINC 97509-4).
type DiseaseStatus struct {
	Source
	Value DiseaseStatusValue `json:"value"`
	Code  Coding             `json:"code"`
}

// Therapy is one anticancer drug record (MedicationRequest or MedicationStatement).
type Therapy struct {
	Source
	// Drug is the codes.csv concept: cisplatin, carboplatin, etoposide, temozolomide,
	// capecitabine, fluorouracil, irinotecan, sunitinib, everolimus, octreotide, lanreotide;
	// or lutathera ([177Lu]Lu-DOTA-TATE given as a medication; such a record also
	// appears in Procedures as kind prrt). The list is fhirmap.Drugs.
	Drug string `json:"drug"`
	// MatchedBy is "rxnorm-ingredient", "product-code" or "text".
	MatchedBy string `json:"matchedBy"`
	// Active: status active or on-hold (request) / active, intended, on-hold (statement),
	// or status unknown or missing (possibly active: Caveat "status unknown"), and not
	// ended before Picture.At. Caveat "matched by a code not yet verified ..." marks a
	// drug detected by a codes.csv code that is not verified (detection only).
	Active bool      `json:"active"`
	Start  time.Time `json:"start,omitzero"`
	End    time.Time `json:"end,omitzero"`
	Text   string    `json:"text,omitempty"`
	// Administrations is the number of doses given (MedicationAdministration) that make
	// up this course; 0 for a request or statement. A course's Source is its most recent
	// dose, Start its first and End its last; Active when a dose is being given or was
	// given within AdministeredRecentDays (docs/clinical.md §2 "Medications").
	Administrations int `json:"administrations,omitempty"`
}

// ProcedureKind names a procedure that the rules care about.
type ProcedureKind string

const (
	ProcPrimaryResection ProcedureKind = "primary-resection"
	ProcPRRT             ProcedureKind = "prrt"
	ProcLiverDirected    ProcedureKind = "liver-directed" // TACE / TAE / RFA
	ProcEBRT             ProcedureKind = "ebrt"
)

// Procedure is a completed (or in-progress) procedure of a known kind.
type Procedure struct {
	Source
	Kind  ProcedureKind `json:"kind"`
	Codes []Coding      `json:"codes,omitempty"`
	Text  string        `json:"text,omitempty"`
	// Reasons are the Conditions of Procedure.reasonReference.
	Reasons []string `json:"reasons,omitempty"`
	// Site is where the procedure was done (bodySite, else the words of a resection).
	Site Site `json:"site,omitempty"`
	// MatchedBy says how a resection was recognised: "code", "display" or "text".
	MatchedBy string `json:"matchedBy,omitempty"`
}

// OpenOrder is an open ServiceRequest or Task (draft, active, on-hold, requested,
// accepted, ready, in-progress), or a draft MedicationRequest of a known drug (a
// proposal not yet signed, e.g. a draft accepted from an earlier card): its codes, or
// its Drug, suppress a suggestion for the same thing.
type OpenOrder struct {
	Source
	ResourceType string   `json:"resourceType"` // "ServiceRequest", "Task" or "MedicationRequest"
	Codes        []Coding `json:"codes,omitempty"`
	Text         string   `json:"text,omitempty"`
	// Drug is set on a draft MedicationRequest only: the drug concept it names (one of
	// Drugs), matched like a Therapy (MatchedBy says how). A request naming two drugs
	// gives one OpenOrder per drug.
	Drug      string `json:"drug,omitempty"`
	MatchedBy string `json:"matchedBy,omitempty"`
}

// NoteKind classifies a data-quality note.
type NoteKind string

const (
	NoteNormalised    NoteKind = "normalised"     // a value was converted (fraction → percent, ...)
	NoteSkipped       NoteKind = "skipped"        // entered-in-error, cancelled, refuted, other patient
	NoteRejected      NoteKind = "rejected"       // bad unit, out of range, unparseable
	NoteConflict      NoteKind = "conflict"       // conflicting values
	NoteGradeMismatch NoteKind = "grade-mismatch" // grade label contradicts Ki-67
	NoteCaveat        NoteKind = "caveat"         // used with care (preliminary, text-derived)
	NoteIncomplete    NoteKind = "incomplete"     // a search of the record was read in part: it may hold more
)

// Note is a data-quality note. Ref names the resource concerned ("" when not known).
// The Text of a note about entered-in-error or refuted data never quotes its value
// (safety principle 4): it says only that an item was skipped and why.
type Note struct {
	Kind NoteKind `json:"kind"`
	Ref  string   `json:"ref,omitempty"`
	Text string   `json:"text"`
}
