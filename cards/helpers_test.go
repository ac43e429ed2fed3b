package cards

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nencds/nencds/fhirmap"
)

// at is the fixed evaluation time of every test.
var at = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func src(ref string, t time.Time) fhirmap.Source {
	return fhirmap.Source{Ref: ref, Date: t, DateText: t.Format("2006-01-02"), Status: "final"}
}

// seqIDs returns a deterministic id generator: id-0001, id-0002, ... (safe for concurrent use).
func seqIDs() func() string {
	var mu sync.Mutex
	n := 0
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		n++
		return fmt.Sprintf("00000000-0000-4000-8000-%012d", n)
	}
}

func evaluate(p *fhirmap.Picture) Response {
	return NewEngine(DefaultConfig(), seqIDs()).Evaluate(p)
}

func evaluateCfg(cfg Config, p *fhirmap.Picture) Response {
	return NewEngine(cfg, seqIDs()).Evaluate(p)
}

func topics(r Response) []string {
	out := []string{}
	for _, c := range r.Cards {
		out = append(out, topicOf(c))
	}
	return out
}

func card(r Response, topic string) *Card {
	for i := range r.Cards {
		if topicOf(r.Cards[i]) == topic {
			return &r.Cards[i]
		}
	}
	return nil
}

func hasTopic(r Response, topic string) bool { return card(r, topic) != nil }

// drugsSuggested returns every drug concept (by RxNorm code or text) that a draft
// MedicationRequest of the response would start.
func drugsSuggested(t *testing.T, r Response) []string {
	t.Helper()
	var out []string
	for _, c := range r.Cards {
		for _, s := range c.Suggestions {
			for _, a := range s.Actions {
				var mr struct {
					ResourceType string `json:"resourceType"`
					MCC          struct {
						Text string `json:"text"`
					} `json:"medicationCodeableConcept"`
				}
				if err := json.Unmarshal(a.Resource, &mr); err != nil {
					t.Fatal(err)
				}
				if mr.ResourceType == "MedicationRequest" {
					out = append(out, mr.MCC.Text)
				}
			}
		}
	}
	return out
}

// allText is every string a clinician can see on the cards.
func allText(r Response) string {
	b, _ := json.Marshal(r)
	return string(b)
}

// Picture builders. Each option adds facts; lists stay newest first as fhirmap promises.

type opt func(*fhirmap.Picture)

func picture(opts ...opt) *fhirmap.Picture {
	p := &fhirmap.Picture{
		PatientID: "p1",
		At:        at,
		Patient:   fhirmap.Patient{Ref: "Patient/p1", BirthDate: day(1966, 3, 1), Age: 60, AgeKnown: true, Gender: "female"},
		Extent:    fhirmap.Extent{Status: fhirmap.ExtentUnknown},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func diag(concept string, site fhirmap.Site, diff fhirmap.Differentiation, code string) opt {
	return func(p *fhirmap.Picture) {
		p.Diagnoses = append(p.Diagnoses, fhirmap.Diagnosis{
			ConditionFact: fhirmap.ConditionFact{
				Source: src("Condition/nen", day(2025, 11, 3)),
				Codes:  []fhirmap.Coding{{System: "http://hl7.org/fhir/sid/icd-10-cm", Code: code}},
				Text:   "Neuroendocrine tumour", ClinicalStatus: "active", VerificationStatus: "confirmed",
			},
			Concept: concept, Site: site, Differentiation: diff,
		})
	}
}

// pancreaticNET, smallBowelNET and nec are the usual primaries.
func pancreaticNET() opt {
	return diag("pnet", fhirmap.SitePancreas, fhirmap.DiffWell, "C25.4")
}
func smallBowelNET() opt {
	return diag("nen-small-intestine", fhirmap.SiteSmallIntestine, fhirmap.DiffWell, "C7A.012")
}
func necDiag() opt {
	return diag("nec-any-site", fhirmap.SiteUnknown, fhirmap.DiffPoor, "C7A.1")
}
func nenNoDiff(site fhirmap.Site) opt { return diag("nen-other", site, fhirmap.DiffUnknown, "C7A.8") }

func verification(v string) opt {
	return func(p *fhirmap.Picture) { p.Diagnoses[0].VerificationStatus = v }
}
func clinical(v string) opt {
	return func(p *fhirmap.Picture) { p.Diagnoses[0].ClinicalStatus = v }
}

func ki67(pct float64, ref string, t time.Time) opt {
	return func(p *fhirmap.Picture) {
		p.Ki67 = append(p.Ki67, fhirmap.Ki67{Source: src(ref, t), Percent: pct, Raw: fmt.Sprintf("%v %%", pct)})
	}
}
func mitoses(n float64) opt {
	return func(p *fhirmap.Picture) {
		p.Mitoses = append(p.Mitoses, fhirmap.MitoticCount{Source: src("Observation/mitoses", day(2025, 11, 1)), Per2mm2: n})
	}
}
func gradeLabel(g int) opt {
	return func(p *fhirmap.Picture) {
		p.GradeLabels = append(p.GradeLabels, fhirmap.GradeLabel{Source: src("Observation/grade", day(2025, 11, 1)), Grade: g, Label: fmt.Sprintf("G%d", g)})
	}
}
func diffObs(v fhirmap.Differentiation) opt {
	return func(p *fhirmap.Picture) {
		p.Differentiation = append(p.Differentiation, fhirmap.DifferentiationFact{Source: src("Observation/diff", day(2025, 11, 1)), Value: v, From: "observation"})
	}
}
func morphology(code string, d fhirmap.Differentiation) opt {
	return func(p *fhirmap.Picture) {
		p.Morphologies = append(p.Morphologies, fhirmap.Morphology{Source: src("Observation/morph", day(2025, 11, 1)), Code: code, Differentiation: d})
	}
}

func liverMets() opt {
	return func(p *fhirmap.Picture) {
		p.Secondaries = append(p.Secondaries, fhirmap.Secondary{ConditionFact: fhirmap.ConditionFact{Source: src("Condition/liver-mets", day(2025, 11, 10)), Codes: []fhirmap.Coding{{System: "http://hl7.org/fhir/sid/icd-10-cm", Code: "C7B.02"}}, Text: "Secondary carcinoid tumors of liver", ClinicalStatus: "active"}, Location: fhirmap.SecLiver})
		p.Extent.Status = fhirmap.ExtentDistant
		p.Extent.Liver = true
		p.Extent.Evidence = append(p.Extent.Evidence, "Condition/liver-mets")
	}
}
func boneMets() opt {
	return func(p *fhirmap.Picture) {
		p.Secondaries = append(p.Secondaries, fhirmap.Secondary{ConditionFact: fhirmap.ConditionFact{Source: src("Condition/bone-mets", day(2025, 12, 1)), Codes: []fhirmap.Coding{{System: "http://hl7.org/fhir/sid/icd-10-cm", Code: "C7B.03"}}, Text: "Secondary carcinoid tumors of bone"}, Location: fhirmap.SecBone})
		p.Extent.Status = fhirmap.ExtentDistant
		p.Extent.Bone = true
		p.Extent.ExtrahepaticDistant = true
		p.Extent.Evidence = append(p.Extent.Evidence, "Condition/bone-mets")
	}
}
func limited() opt {
	return func(p *fhirmap.Picture) {
		p.TNM = append(p.TNM, fhirmap.TNM{Source: src("Observation/cm", day(2025, 11, 5)), Kind: fhirmap.TNMClinicalM, Value: "M0"})
		p.Extent = fhirmap.Extent{Status: fhirmap.ExtentLimited, Evidence: []string{"Observation/cm"}}
	}
}
func ecog(score int) opt {
	return func(p *fhirmap.Picture) {
		p.Performance = append(p.Performance, fhirmap.Performance{Source: src("Observation/ecog", day(2026, 5, 20)), Scale: "ecog", Score: score})
	}
}
func age(years int) opt {
	return func(p *fhirmap.Picture) {
		p.Patient.Age = years
		p.Patient.BirthDate = at.AddDate(-years, -1, 0)
	}
}
func progression(t time.Time) opt {
	return func(p *fhirmap.Picture) {
		p.DiseaseStatus = append(p.DiseaseStatus, fhirmap.DiseaseStatus{Source: src("Observation/status", t), Value: fhirmap.StatusProgression, Code: fhirmap.Coding{System: "http://snomed.info/sct", Code: "271299001"}})
	}
}
func sstr(result fhirmap.SSTRResult, krenning int) opt {
	return func(p *fhirmap.Picture) {
		p.SSTR = append(p.SSTR, fhirmap.SSTRImaging{Source: src("DiagnosticReport/sstr", day(2026, 2, 1)), Study: "Ga-68 DOTATATE PET/CT", Result: result, Krenning: krenning, ResultFrom: "observation"})
	}
}
func syndrome() opt {
	return func(p *fhirmap.Picture) {
		p.CarcinoidSyndrome = append(p.CarcinoidSyndrome, fhirmap.ConditionFact{Source: src("Condition/syndrome", day(2025, 10, 1)), Codes: []fhirmap.Coding{{System: "http://hl7.org/fhir/sid/icd-10-cm", Code: "E34.0"}}, Text: "Carcinoid syndrome", ClinicalStatus: "active"})
	}
}
func therapy(drug string, active bool, start time.Time) opt {
	return func(p *fhirmap.Picture) {
		status := "completed"
		if active {
			status = "active"
		}
		p.Therapies = append(p.Therapies, fhirmap.Therapy{Source: fhirmap.Source{Ref: "MedicationRequest/" + drug, Date: start, Status: status}, Drug: drug, MatchedBy: "rxnorm-ingredient", Active: active, Start: start})
	}
}
func lvef(pct float64, ref string, t time.Time) opt {
	return func(p *fhirmap.Picture) {
		p.LVEF = append(p.LVEF, fhirmap.LVEF{Source: src(ref, t), Percent: pct, Code: fhirmap.Coding{System: "http://loinc.org", Code: "10230-1"}})
	}
}
func liverTest(t time.Time) opt {
	return func(p *fhirmap.Picture) {
		p.LiverTests = append(p.LiverTests, fhirmap.LabResult{Source: src("Observation/alt", t), Kind: fhirmap.LabALT, Code: fhirmap.Coding{System: "http://loinc.org", Code: "1742-6"}, Quantity: &fhirmap.Quantity{Value: 30, Unit: "U/L"}})
	}
}

// liverLab adds one liver test result of a kind.
func liverLab(kind fhirmap.LabKind, code string, t time.Time) opt {
	return func(p *fhirmap.Picture) {
		p.LiverTests = append(p.LiverTests, fhirmap.LabResult{Source: src("Observation/"+string(kind), t), Kind: kind, Code: fhirmap.Coding{System: "http://loinc.org", Code: code}})
	}
}

// liverPanel records a hepatic function panel on date t.
func liverPanel(t time.Time) opt { return liverLab(fhirmap.LabHepaticPanel, "24325-3", t) }

// openDrugOrder is a draft MedicationRequest that fhirmap matched to a drug (by its
// name when code is "", else by the RxNorm code).
func openDrugOrder(drug, code string) opt {
	return func(p *fhirmap.Picture) {
		o := fhirmap.OpenOrder{Source: fhirmap.Source{Ref: "MedicationRequest/draft-" + drug, Status: "draft"}, ResourceType: "MedicationRequest", Drug: drug, MatchedBy: "text", Text: drug}
		if code != "" {
			o.Codes = []fhirmap.Coding{{System: RxNormSystem, Code: code}}
			o.MatchedBy = "rxnorm-ingredient"
		}
		p.OpenOrders = append(p.OpenOrders, o)
	}
}

func marker(kind fhirmap.MarkerKind, elevated string, t time.Time) opt {
	return func(p *fhirmap.Picture) {
		p.Markers = append(p.Markers, fhirmap.Marker{Source: src("Observation/"+string(kind), t), Kind: kind, Quantity: fhirmap.Quantity{Value: 120, Unit: "ug/L"}, Elevated: elevated})
	}
}
func crossSection(t time.Time) opt {
	return func(p *fhirmap.Picture) {
		p.CrossSections = append(p.CrossSections, fhirmap.ImagingStudy{Source: src("DiagnosticReport/ct", t), Modality: "CT"})
	}
}
func openOrder(resourceType, system, code string) opt {
	return func(p *fhirmap.Picture) {
		p.OpenOrders = append(p.OpenOrders, fhirmap.OpenOrder{Source: fhirmap.Source{Ref: resourceType + "/open-" + code, Status: "active"}, ResourceType: resourceType, Codes: []fhirmap.Coding{{System: system, Code: code}}})
	}
}
func procedure(kind fhirmap.ProcedureKind) opt {
	return func(p *fhirmap.Picture) {
		p.Procedures = append(p.Procedures, fhirmap.Procedure{Source: src("Procedure/"+string(kind), day(2025, 12, 15)), Kind: kind, Text: string(kind)})
	}
}
func note(kind fhirmap.NoteKind, ref, text string) opt {
	return func(p *fhirmap.Picture) { p.Notes = append(p.Notes, fhirmap.Note{Kind: kind, Ref: ref, Text: text}) }
}

// workupDone records every baseline work-up item as recent.
func workupDone() opt {
	return func(p *fhirmap.Picture) {
		marker(fhirmap.MarkerCgA, "no", day(2026, 5, 1))(p)
		marker(fhirmap.Marker5HIAAUrine, "no", day(2026, 5, 1))(p)
		crossSection(day(2026, 5, 2))(p)
		if len(p.SSTR) == 0 {
			sstr(fhirmap.SSTRNegative, 1)(p)
		}
	}
}
