package fhirmap

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var testAt = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

const pid = "p1"

// bundle wraps resources (JSON objects) in a searchset Bundle.
func bundle(resources ...string) json.RawMessage {
	var b strings.Builder
	b.WriteString(`{"resourceType":"Bundle","type":"searchset","entry":[`)
	for i, r := range resources {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"resource":`)
		b.WriteString(r)
		b.WriteByte('}')
	}
	b.WriteString(`]}`)
	return json.RawMessage(b.String())
}

// testFHIRServer is the fhirServer of the request mapRes maps (absolute references on it
// name the patient).
const testFHIRServer = "https://ehr.example/fhir"

func mapRes(t *testing.T, resources ...string) *Picture {
	t.Helper()
	p, err := Map(Input{PatientID: pid, At: testAt, FHIRServer: testFHIRServer, Documents: []json.RawMessage{bundle(resources...)}})
	if err != nil {
		t.Fatalf("Map: %v", err)
	}
	return p
}

// obs builds an Observation with a LOINC (or other) code and the given extra elements.
func obs(id, status, system, code, extra string) string {
	s := `{"resourceType":"Observation","id":"` + id + `"`
	if status != "" {
		s += `,"status":"` + status + `"`
	}
	s += `,"subject":{"reference":"Patient/p1"},"code":{"coding":[{"system":"` + system + `","code":"` + code + `"}]}`
	if extra != "" {
		s += "," + extra
	}
	return s + "}"
}

func ki67(id, status, value string) string {
	return obs(id, status, sysLOINC, "29593-1", `"effectiveDateTime":"2025-03-05",`+value)
}

func noteKinds(ns []Note) []NoteKind {
	var out []NoteKind
	for _, n := range ns {
		out = append(out, n.Kind)
	}
	return out
}

func TestKi67(t *testing.T) {
	t.Parallel()
	type want struct {
		Percent    float64
		Normalised bool
		Caveat     string
	}
	tests := []struct {
		name      string
		res       string
		want      *want // nil: no Ki-67 fact
		wantNotes []NoteKind
	}{
		{"UCUM percent", ki67("k", "final", `"valueQuantity":{"value":15,"unit":"%","system":"http://unitsofmeasure.org","code":"%"}`), &want{Percent: 15}, nil},
		{"fraction with {ratio}", ki67("k", "final", `"valueQuantity":{"value":0.15,"unit":"{ratio}"}`), &want{Percent: 15, Normalised: true}, []NoteKind{NoteNormalised}},
		{"fraction with unit 1", ki67("k", "final", `"valueQuantity":{"value":0.025,"code":"1"}`), &want{Percent: 2.5, Normalised: true}, []NoteKind{NoteNormalised}},
		{"fraction without unit", ki67("k", "final", `"valueQuantity":{"value":0.3}`), &want{Percent: 30, Normalised: true}, []NoteKind{NoteNormalised}},
		{"unitless 1 is ambiguous", ki67("k", "final", `"valueQuantity":{"value":1}`), nil, []NoteKind{NoteRejected}},
		{"unitless whole number read as percent", ki67("k", "final", `"valueQuantity":{"value":12}`), &want{Percent: 12, Normalised: true}, []NoteKind{NoteNormalised}},
		{"ratio unit with value above 1", ki67("k", "final", `"valueQuantity":{"value":15,"unit":"{ratio}"}`), nil, []NoteKind{NoteRejected}},
		{"out of range percent", ki67("k", "final", `"valueQuantity":{"value":150,"unit":"%"}`), nil, []NoteKind{NoteRejected}},
		{"negative percent", ki67("k", "final", `"valueQuantity":{"value":-2,"unit":"%"}`), nil, []NoteKind{NoteRejected}},
		{"wrong unit", ki67("k", "final", `"valueQuantity":{"value":15,"unit":"mg"}`), nil, []NoteKind{NoteRejected}},
		{"comparator below 3 %", ki67("k", "final", `"valueQuantity":{"value":2,"comparator":"<","unit":"%"}`), &want{Percent: 2, Normalised: true}, []NoteKind{NoteNormalised}},
		{"comparator at 3 % is rejected", ki67("k", "final", `"valueQuantity":{"value":3,"comparator":"<","unit":"%"}`), nil, []NoteKind{NoteRejected}},
		{"comparator below 10 % is rejected", ki67("k", "final", `"valueQuantity":{"value":10,"comparator":"<=","unit":"%"}`), nil, []NoteKind{NoteRejected}},
		{"comparator above 20 % is rejected", ki67("k", "final", `"valueQuantity":{"value":20,"comparator":">","unit":"%"}`), nil, []NoteKind{NoteRejected}},
		{"comparator above 50 %", ki67("k", "final", `"valueQuantity":{"value":50,"comparator":">","unit":"%"}`), &want{Percent: 50, Normalised: true}, []NoteKind{NoteNormalised}},
		{"string below 1 %", ki67("k", "final", `"valueString":"<1%"`), &want{Percent: 1, Normalised: true}, []NoteKind{NoteNormalised}},
		{"string at most 2 percent", ki67("k", "final", `"valueString":"≤ 2 percent"`), &want{Percent: 2, Normalised: true}, []NoteKind{NoteNormalised}},
		{"string comparator with a range is rejected", ki67("k", "final", `"valueString":"<1-2%"`), nil, []NoteKind{NoteRejected}},
		{"range string upper bound", ki67("k", "final", `"valueString":"15-20%"`), &want{Percent: 20, Normalised: true}, []NoteKind{NoteNormalised}},
		{"range string with dash and spaces", ki67("k", "final", `"valueString":"15 – 20 %"`), &want{Percent: 20, Normalised: true}, []NoteKind{NoteNormalised}},
		{"reversed range", ki67("k", "final", `"valueString":"20-15%"`), nil, []NoteKind{NoteRejected}},
		{"percent string", ki67("k", "final", `"valueString":"12 %"`), &want{Percent: 12}, nil},
		{"percent word", ki67("k", "final", `"valueString":"12 percent"`), &want{Percent: 12}, nil},
		{"range with percent word", ki67("k", "final", `"valueString":"3 to 5 percent"`), &want{Percent: 5, Normalised: true}, []NoteKind{NoteNormalised}},
		{"unit spelled percent", ki67("k", "final", `"valueQuantity":{"value":9,"unit":"percent"}`), &want{Percent: 9}, nil},
		{"text string", ki67("k", "final", `"valueString":"high"`), nil, []NoteKind{NoteRejected}},
		{"integer", ki67("k", "final", `"valueInteger":7`), &want{Percent: 7, Normalised: true}, []NoteKind{NoteNormalised}},
		{"coded value", ki67("k", "final", `"valueCodeableConcept":{"text":"high"}`), nil, []NoteKind{NoteRejected}},
		{"amended", ki67("k", "amended", `"valueQuantity":{"value":5,"unit":"%"}`), &want{Percent: 5}, nil},
		{"corrected", ki67("k", "corrected", `"valueQuantity":{"value":5,"unit":"%"}`), &want{Percent: 5}, nil},
		{"preliminary with caveat", ki67("k", "preliminary", `"valueQuantity":{"value":5,"unit":"%"}`), &want{Percent: 5, Caveat: CaveatPreliminary}, []NoteKind{NoteCaveat}},
		{"entered in error", ki67("k", "entered-in-error", `"valueQuantity":{"value":5,"unit":"%"}`), nil, []NoteKind{NoteSkipped}},
		{"cancelled", ki67("k", "cancelled", `"valueQuantity":{"value":5,"unit":"%"}`), nil, []NoteKind{NoteSkipped}},
		{"registered is not a result", ki67("k", "registered", `"valueQuantity":{"value":5,"unit":"%"}`), nil, []NoteKind{NoteSkipped}},
		{"missing status (library would say registered)", ki67("k", "", `"valueQuantity":{"value":5,"unit":"%"}`), nil, []NoteKind{NoteRejected}},
		{"other patient", strings.Replace(ki67("k", "final", `"valueQuantity":{"value":5,"unit":"%"}`), "Patient/p1", "Patient/p2", 1), nil, []NoteKind{NoteSkipped}},
		{"absolute subject reference of the patient", strings.Replace(ki67("k", "final", `"valueQuantity":{"value":5,"unit":"%"}`), "Patient/p1", "https://ehr.example/fhir/Patient/p1", 1), &want{Percent: 5}, nil},
		{"component of a panel", obs("panel", "final", sysLOINC, "11529-5", `"effectiveDateTime":"2025-03-05","component":[{"code":{"coding":[{"system":"http://loinc.org","code":"29593-1"}]},"valueQuantity":{"value":4,"unit":"%"}}]`), &want{Percent: 4}, nil},
		{"wrong LOINC 29593-5 is not Ki-67", obs("k", "final", sysLOINC, "29593-5", `"valueQuantity":{"value":5,"unit":"%"}`), nil, nil},
		{"bad value JSON type", ki67("k", "final", `"valueQuantity":{"value":"five","unit":"%"}`), nil, []NoteKind{NoteRejected}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := mapRes(t, tt.res)
			var got *want
			if len(p.Ki67) > 0 {
				got = &want{Percent: p.Ki67[0].Percent, Normalised: p.Ki67[0].Normalised, Caveat: p.Ki67[0].Caveat}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Ki-67 (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantNotes, noteKinds(p.Notes)); diff != "" {
				t.Errorf("notes (-want +got):\n%s\n%v", diff, p.Notes)
			}
		})
	}
}

func TestSkippedNotesNeverQuoteValues(t *testing.T) {
	t.Parallel()
	p := mapRes(t,
		ki67("k1", "entered-in-error", `"valueQuantity":{"value":47.5,"unit":"%"}`),
		`{"resourceType":"Condition","id":"c1","verificationStatus":{"coding":[{"code":"refuted"}]},"code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"C7A.1"}],"text":"Secret NEC text"}}`,
		`{"resourceType":"MedicationRequest","id":"m1","status":"entered-in-error","intent":"order","subject":{"reference":"Patient/p1"},"medicationCodeableConcept":{"text":"carboplatin 999 mg"}}`,
	)
	if len(p.Notes) != 3 {
		t.Fatalf("notes = %v; want 3", p.Notes)
	}
	for _, n := range p.Notes {
		for _, leak := range []string{"47.5", "C7A.1", "Secret", "carboplatin", "999"} {
			if strings.Contains(n.Text, leak) {
				t.Errorf("note %q quotes %q", n.Text, leak)
			}
		}
		if n.Kind != NoteSkipped {
			t.Errorf("note kind = %q; want skipped", n.Kind)
		}
	}
	if len(p.Ki67)+len(p.Diagnoses)+len(p.Therapies) != 0 {
		t.Errorf("skipped data used: %+v", p)
	}
}

func TestGrades(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		v       float64
		ki, mit int
	}{
		{0, 1, 1}, {1.99, 1, 1}, {2, 1, 2}, {2.99, 1, 2}, {3, 2, 2}, {20, 2, 2}, {20.01, 3, 3}, {55, 3, 3}, {-1, 0, 0}, {101, 0, 3},
	} {
		if got := Ki67Grade(tt.v); got != tt.ki {
			t.Errorf("Ki67Grade(%v) = %d; want %d", tt.v, got, tt.ki)
		}
		if got := MitoticGrade(tt.v); got != tt.mit {
			t.Errorf("MitoticGrade(%v) = %d; want %d", tt.v, got, tt.mit)
		}
	}
}

func cond(id, system, code, extra string) string {
	s := `{"resourceType":"Condition","id":"` + id + `","subject":{"reference":"Patient/p1"},"code":{"coding":[{"system":"` + system + `","code":"` + code + `"}]}`
	if extra != "" {
		s += "," + extra
	}
	return s + "}"
}

const morphExt = `"extension":[{"url":"http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-histology-morphology-behavior","valueCodeableConcept":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/icd-o-3","code":"%s"}]}}]`

func withMorph(code string) string { return strings.Replace(morphExt, "%s", code, 1) }

func TestConditions(t *testing.T) {
	t.Parallel()
	type dx struct {
		Concept string
		Site    Site
		Diff    Differentiation
		Morph   string
		Benign  bool
		Caveat  string
	}
	tests := []struct {
		name      string
		res       string
		wantDx    []dx
		wantSec   []SecondaryLocation
		wantSyn   int
		wantNotes []NoteKind
	}{
		{"ICD-10-CM ileum", cond("c", sysICD10CM, "C7A.012", ""), []dx{{Concept: "nen-small-intestine", Site: SiteSmallIntestine, Diff: DiffWell}}, nil, 0, nil},
		{"ICD-10-CM rectum", cond("c", sysICD10CM, "C7A.026", ""), []dx{{Concept: "nen-rectum", Site: SiteRectum, Diff: DiffWell}}, nil, 0, nil},
		{"ICD-10-CM appendix", cond("c", sysICD10CM, "C7A.020", ""), []dx{{Concept: "nen-appendix", Site: SiteAppendix, Diff: DiffWell}}, nil, 0, nil},
		{"ICD-10-CM lung", cond("c", sysICD10CM, "C7A.090", ""), []dx{{Concept: "nen-lung", Site: SiteLung, Diff: DiffWell}}, nil, 0, nil},
		{"endocrine pancreas", cond("c", sysICD10CM, "C25.4", ""), []dx{{Concept: "pnet", Site: SitePancreas}}, nil, 0, nil},
		{"poorly differentiated NET, site from bodySite", cond("c", sysICD10CM, "C7A.1", `"bodySite":[{"coding":[{"system":"http://snomed.info/sct","code":"15776009"}]}]`), []dx{{Concept: "nec-any-site", Site: SitePancreas, Diff: DiffPoor}}, nil, 0, nil},
		{"mCODE generic code with NEC morphology", cond("c", sysSNOMED, "363346000", withMorph("8246/3")+`,"bodySite":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/icd-o-3","code":"C25.9"}]}]`), []dx{{Concept: "morph-nec", Site: SitePancreas, Diff: DiffPoor, Morph: "8246/3"}}, nil, 0, nil},
		{"mCODE generic code without NEN morphology is another cancer", cond("c", sysSNOMED, "363346000", withMorph("8500/3")), nil, nil, 0, nil},
		{"mCODE generic code without morphology", cond("c", sysSNOMED, "363346000", ""), nil, nil, 0, nil},
		{"mCODE generic code with SNOMED ileum bodySite", cond("c", sysSNOMED, "363346000", withMorph("8240/3")+`,"bodySite":[{"coding":[{"system":"http://snomed.info/sct","code":"34516001"}]}]`), []dx{{Concept: "morph-net-g1", Site: SiteSmallIntestine, Diff: DiffWell, Morph: "8240/3"}}, nil, 0, nil},
		{"bodySite display alone is not read", cond("c", sysSNOMED, "363346000", withMorph("8240/3")+`,"bodySite":[{"text":"pancreas"}]`), []dx{{Concept: "morph-net-g1", Diff: DiffWell, Morph: "8240/3"}}, nil, 0, nil},
		{"lung primary with carcinoid morphology", cond("c", sysICD10CM, "C34.90", withMorph("8240/3")), []dx{{Concept: "morph-net-g1", Site: SiteLung, Diff: DiffWell, Morph: "8240/3"}}, nil, 0, nil},
		{"ICD-10-CM header under C7A by prefix", cond("c", sysICD10CM, "C7A.01", ""), []dx{{Concept: "nen-any", Site: SiteSmallIntestine, Diff: DiffWell}}, nil, 0, nil},
		{"site-specific ICD-10-CM code with NEN morphology", cond("c", sysICD10CM, "C25.0", withMorph("8249/3")), []dx{{Concept: "morph-net-g2-g3", Site: SitePancreas, Diff: DiffWell, Morph: "8249/3"}}, nil, 0, nil},
		{"site-specific SNOMED CT cancer with NEN morphology", cond("c", sysSNOMED, "363418001", withMorph("8246/3")+`,"bodySite":[{"coding":[{"system":"http://snomed.info/sct","code":"15776009"}]}]`), []dx{{Concept: "morph-nec", Site: SitePancreas, Diff: DiffPoor, Morph: "8246/3"}}, nil, 0, nil},
		{"site-specific ICD-10-CM code without morphology", cond("c", sysICD10CM, "C25.0", ""), nil, nil, 0, nil},
		{"mCODE secondary cancer condition with any code", `{"resourceType":"Condition","id":"c","subject":{"reference":"Patient/p1"},"meta":{"profile":["http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-secondary-cancer-condition"]},` + withMorph("8240/3") + `,"code":{"coding":[{"system":"http://snomed.info/sct","code":"94225005"}]},"bodySite":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/icd-o-3","code":"C41.2"}]}]}`, nil, []SecondaryLocation{SecBone}, 0, nil},
		{"secondary under C7B by prefix", cond("c", sysICD10CM, "C7B.0", ""), nil, []SecondaryLocation{SecUnspecified}, 0, nil},
		{"lung cancer without NEN morphology", cond("c", sysICD10CM, "C34.90", ""), nil, nil, 0, nil},
		{"ICD-O-3 in Condition.code", cond("c", sysICDO3, "8249/3", ""), []dx{{Concept: "morph-net-g2-g3", Diff: DiffWell, Morph: "8249/3"}}, nil, 0, nil},
		{"MiNEN", cond("c", sysICDO3, "8154/3", ""), []dx{{Concept: "morph-minen", Morph: "8154/3"}}, nil, 0, nil},
		{"pancreatic morphology", cond("c", sysSNOMED, "363346000", withMorph("8150/3")), []dx{{Concept: "morph-pnet", Diff: DiffWell, Morph: "8150/3"}}, nil, 0, nil},
		{"provisional gastrinoma", cond("c", sysSNOMED, "363346000", withMorph("8153/3")+`,"verificationStatus":{"coding":[{"code":"provisional"}]}`), []dx{{Concept: "morph-functional-pnet", Diff: DiffWell, Morph: "8153/3", Caveat: "verification status provisional"}}, nil, 0, nil},
		{"code and morphology disagree", cond("c", sysICD10CM, "C7A.012", withMorph("8246/3")), []dx{{Concept: "nen-small-intestine", Site: SiteSmallIntestine, Diff: DiffPoor, Morph: "8246/3"}}, nil, 0, []NoteKind{NoteConflict}},
		{"benign carcinoid", cond("c", sysICD10CM, "D3A.020", ""), []dx{{Concept: "benign-carcinoid", Site: SiteAppendix, Diff: DiffWell, Benign: true}}, nil, 0, nil},
		{"small cell lung cancer", cond("c", sysSNOMED, "254632001", ""), []dx{{Concept: "sclc-lung", Site: SiteLung, Diff: DiffPoor}}, nil, 0, nil},
		{"unconfirmed kept with caveat", cond("c", sysICD10CM, "C7A.012", `"verificationStatus":{"coding":[{"code":"unconfirmed"}]}`), []dx{{Concept: "nen-small-intestine", Site: SiteSmallIntestine, Diff: DiffWell, Caveat: "verification status unconfirmed"}}, nil, 0, nil},
		{"refuted skipped", cond("c", sysICD10CM, "C7A.012", `"verificationStatus":{"coding":[{"code":"refuted"}]}`), nil, nil, 0, []NoteKind{NoteSkipped}},
		{"entered in error skipped", cond("c", sysICD10CM, "C7A.012", `"verificationStatus":{"coding":[{"code":"entered-in-error"}]}`), nil, nil, 0, []NoteKind{NoteSkipped}},
		{"other patient", strings.Replace(cond("c", sysICD10CM, "C7A.012", ""), "Patient/p1", "Patient/other", 1), nil, nil, 0, []NoteKind{NoteSkipped}},
		{"secondary carcinoid of liver", cond("c", sysICD10CM, "C7B.02", ""), nil, []SecondaryLocation{SecLiver}, 0, nil},
		{"secondary liver ICD-10-CM", cond("c", sysICD10CM, "C78.7", ""), nil, []SecondaryLocation{SecLiver}, 0, nil},
		{"secondary liver SNOMED", cond("c", sysSNOMED, "94381002", ""), nil, []SecondaryLocation{SecLiver}, 0, nil},
		{"secondary bone", cond("c", sysICD10CM, "C79.51", ""), nil, []SecondaryLocation{SecBone}, 0, nil},
		{"secondary distant nodes", cond("c", sysICD10CM, "C7B.01", ""), nil, []SecondaryLocation{SecLymphNode}, 0, nil},
		{"secondary peritoneum", cond("c", sysICD10CM, "C7B.04", ""), nil, []SecondaryLocation{SecPeritoneum}, 0, nil},
		{"unverified SNOMED bone code read as unspecified", cond("c", sysSNOMED, "94222008", ""), nil, []SecondaryLocation{SecUnspecified}, 0, []NoteKind{NoteCaveat}},
		{"generic secondary with liver topography", cond("c", sysSNOMED, "128462008", `"bodySite":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/icd-o-3","code":"C22.0"}]}]`), nil, []SecondaryLocation{SecLiver}, 0, nil},
		{"Merkel secondary ignored", cond("c", sysICD10CM, "C7B.1", ""), nil, nil, 0, nil},
		{"carcinoid syndrome ICD-10-CM", cond("c", sysICD10CM, "E34.0", ""), nil, nil, 1, nil},
		{"carcinoid syndrome SNOMED", cond("c", sysSNOMED, "35868009", ""), nil, nil, 1, nil},
		{"display alone never matches", `{"resourceType":"Condition","id":"c","subject":{"reference":"Patient/p1"},"code":{"coding":[{"display":"Malignant carcinoid tumor of the ileum"}],"text":"carcinoid"}}`, nil, nil, 0, nil},
		{"breast cancer ignored", cond("c", sysICD10CM, "C50.911", ""), nil, nil, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := mapRes(t, tt.res)
			var got []dx
			for _, d := range p.Diagnoses {
				got = append(got, dx{d.Concept, d.Site, d.Differentiation, d.Morphology, d.Benign, d.Caveat})
			}
			if diff := cmp.Diff(tt.wantDx, got); diff != "" {
				t.Errorf("diagnoses (-want +got):\n%s", diff)
			}
			var sec []SecondaryLocation
			for _, s := range p.Secondaries {
				sec = append(sec, s.Location)
			}
			if diff := cmp.Diff(tt.wantSec, sec); diff != "" {
				t.Errorf("secondaries (-want +got):\n%s", diff)
			}
			if len(p.CarcinoidSyndrome) != tt.wantSyn {
				t.Errorf("carcinoid syndrome = %d; want %d", len(p.CarcinoidSyndrome), tt.wantSyn)
			}
			if diff := cmp.Diff(tt.wantNotes, noteKinds(p.Notes)); diff != "" {
				t.Errorf("notes (-want +got):\n%s\n%v", diff, p.Notes)
			}
		})
	}
}

func TestConditionDatesAndStatus(t *testing.T) {
	t.Parallel()
	p := mapRes(t, cond("c", sysICD10CM, "C25.4", `"clinicalStatus":{"coding":[{"code":"remission"}]},"verificationStatus":{"coding":[{"code":"confirmed"}]},"onsetDateTime":"2024-02"`))
	if len(p.Diagnoses) != 1 {
		t.Fatalf("diagnoses = %v", p.Diagnoses)
	}
	d := p.Diagnoses[0]
	want := ConditionFact{
		Source:             Source{Ref: "Condition/c", Date: time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC), DateText: "2024-02"},
		Codes:              []Coding{{System: sysICD10CM, Code: "C25.4"}},
		ClinicalStatus:     "remission",
		VerificationStatus: "confirmed",
		Onset:              time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC),
	}
	if diff := cmp.Diff(want, d.ConditionFact); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestClassificationObservations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		res       []string
		check     func(p *Picture) string
		wantNotes []NoteKind
	}{
		{"mitotic count per 2 mm2", []string{obs("m", "final", LocalSystem, "mitotic-count", `"valueQuantity":{"value":4,"unit":"/2 mm2"},"specimen":{"reference":"Specimen/s1"}`)},
			func(p *Picture) string {
				return cmp.Diff([]MitoticCount{{Source: Source{Ref: "Observation/m", Status: "final"}, Per2mm2: 4, Specimen: "Specimen/s1"}}, p.Mitoses)
			}, nil},
		{"mitotic count per HPF rejected", []string{obs("m", "final", LocalSystem, "mitotic-count", `"valueQuantity":{"value":4,"unit":"/10 HPF"}`)},
			func(p *Picture) string { return cmp.Diff(0, len(p.Mitoses)) }, []NoteKind{NoteRejected}},
		{"mitotic count integer (no unit: per 2 mm² with a caveat)", []string{obs("m", "final", LocalSystem, "mitotic-count", `"valueInteger":25`)},
			func(p *Picture) string { return cmp.Diff(25.0, p.Mitoses[0].Per2mm2) }, []NoteKind{NoteCaveat}},
		{"grade label LOINC", []string{obs("g", "final", sysLOINC, "33732-9", `"valueCodeableConcept":{"text":"G2"}`)},
			func(p *Picture) string { return cmp.Diff([]int{2}, []int{p.GradeLabels[0].Grade}) }, nil},
		{"grade label mCODE grade 3 words", []string{obs("g", "final", "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl", "C18000", `"valueString":"Grade III"`)},
			func(p *Picture) string { return cmp.Diff(3, p.GradeLabels[0].Grade) }, nil},
		{"grade label GX", []string{obs("g", "final", sysLOINC, "33732-9", `"valueString":"GX"`)},
			func(p *Picture) string { return cmp.Diff(0, p.GradeLabels[0].Grade) }, nil},
		{"morphology observation", []string{obs("mo", "final", sysLOINC, "31206-6", `"valueCodeableConcept":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/icd-o-3","code":"8013/3"}]}`)},
			func(p *Picture) string {
				return cmp.Diff([]DifferentiationFact{{Source: Source{Ref: "Observation/mo", Status: "final"}, Value: DiffPoor, From: "ICD-O-3 8013/3"}}, p.Differentiation) +
					cmp.Diff("8013/3", p.Morphologies[0].Code)
			}, nil},
		{"differentiation local code", []string{obs("d", "final", LocalSystem, "differentiation", `"valueCodeableConcept":{"coding":[{"system":"`+LocalSystem+`","code":"well"}]}`)},
			func(p *Picture) string { return cmp.Diff(DiffWell, p.Differentiation[0].Value) }, nil},
		{"differentiation text", []string{obs("d", "final", LocalSystem, "differentiation", `"valueString":"poorly differentiated"`)},
			func(p *Picture) string { return cmp.Diff(DiffPoor, p.Differentiation[0].Value) }, nil},
		{"differentiation conflict", []string{
			obs("d1", "final", LocalSystem, "differentiation", `"valueString":"poorly differentiated"`),
			obs("d2", "final", LocalSystem, "differentiation", `"valueString":"well differentiated"`)},
			func(p *Picture) string { return cmp.Diff(2, len(p.Differentiation)) }, []NoteKind{NoteConflict}},
		{"grade label contradicts Ki-67: numeric wins", []string{
			ki67("k", "final", `"valueQuantity":{"value":25,"unit":"%"}`),
			obs("g", "final", sysLOINC, "33732-9", `"effectiveDateTime":"2025-03-05","valueString":"G2"`)},
			func(p *Picture) string {
				n := p.Notes[len(p.Notes)-1]
				if !strings.Contains(n.Text, "Observation/k") || !strings.Contains(n.Text, "G3") {
					return "note " + n.Text
				}
				return ""
			}, []NoteKind{NoteGradeMismatch}},
		{"grade label a year away from the Ki-67s is not compared", []string{
			ki67("k", "final", `"valueQuantity":{"value":25,"unit":"%"}`),
			obs("k0", "final", sysLOINC, "29593-1", `"effectiveDateTime":"2025-03-07","valueQuantity":{"value":26,"unit":"%"}`),
			obs("g", "final", sysLOINC, "33732-9", `"effectiveDateTime":"2024-01-05","valueString":"G1"`)},
			func(p *Picture) string { return "" }, nil},
		{"grade label agrees with Ki-67 at the boundaries", []string{
			ki67("k", "final", `"valueQuantity":{"value":20,"unit":"%"}`),
			obs("g", "final", sysLOINC, "33732-9", `"effectiveDateTime":"2025-03-05","valueString":"G2"`)},
			func(p *Picture) string { return "" }, nil},
		{"same-day Ki-67 values of different grades", []string{
			ki67("k1", "final", `"valueQuantity":{"value":2,"unit":"%"}`),
			ki67("k2", "final", `"valueQuantity":{"value":8,"unit":"%"}`)},
			func(p *Picture) string { return cmp.Diff(2, len(p.Ki67)) }, []NoteKind{NoteConflict}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := mapRes(t, tt.res...)
			if diff := tt.check(p); diff != "" {
				t.Errorf("%s", diff)
			}
			if diff := cmp.Diff(tt.wantNotes, noteKinds(p.Notes)); diff != "" {
				t.Errorf("notes (-want +got):\n%s\n%v", diff, p.Notes)
			}
		})
	}
}

func tnm(id, loinc, value string) string {
	return obs(id, "final", sysLOINC, loinc, `"effectiveDateTime":"2025-01-10","valueCodeableConcept":{"coding":[{"system":"http://cancerstaging.org","code":"`+value+`"}]}`)
}

func resect(id, value string) string {
	return obs(id, "final", LocalSystem, "resectability", `"effectiveDateTime":"2025-01-12",`+value)
}

func TestExtent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		res  []string
		want Extent
	}{
		{"nothing on record", nil, Extent{Status: ExtentUnknown}},
		{"only the primary", []string{cond("c", sysICD10CM, "C7A.012", "")}, Extent{Status: ExtentUnknown}},
		{"M0", []string{tnm("m", "21907-1", "cM0")}, Extent{Status: ExtentLimited, Evidence: []string{"Observation/m"}}},
		{"stage IIB", []string{tnm("s", "21908-9", "IIB")}, Extent{Status: ExtentLimited, Evidence: []string{"Observation/s"}}},
		{"stage group as text 3", []string{obs("s", "final", sysLOINC, "21902-2", `"valueString":"Stage 3"`)}, Extent{Status: ExtentLimited, Evidence: []string{"Observation/s"}}},
		{"SNOMED CT AJCC qualifier read from its words", []string{obs("m", "final", sysLOINC, "21907-1", `"valueCodeableConcept":{"coding":[{"system":"http://snomed.info/sct","display":"American Joint Committee on Cancer cM1 (qualifier value)"}]}`)},
			Extent{Status: ExtentDistant, Evidence: []string{"Observation/m"}, ExtrahepaticDistant: true}},
		{"stage group in words", []string{obs("s", "final", sysLOINC, "21908-9", `"valueCodeableConcept":{"coding":[{"system":"http://snomed.info/sct","display":"American Joint Committee on Cancer stage IIA (qualifier value)"}]}`)},
			Extent{Status: ExtentLimited, Evidence: []string{"Observation/s"}}},
		{"M as a word inside another word is not read", []string{obs("m", "final", sysLOINC, "21907-1", `"valueString":"MRI pending"`)}, Extent{Status: ExtentUnknown}},
		{"N1 alone decides nothing", []string{tnm("n", "21906-3", "cN1")}, Extent{Status: ExtentUnknown}},
		{"liver metastases", []string{cond("l", sysICD10CM, "C7B.02", "")}, Extent{Status: ExtentDistant, Evidence: []string{"Condition/l"}, Liver: true}},
		{"liver and bone", []string{cond("l", sysICD10CM, "C78.7", ""), cond("b", sysICD10CM, "C79.51", "")},
			Extent{Status: ExtentDistant, Evidence: []string{"Condition/b", "Condition/l"}, Liver: true, Bone: true, ExtrahepaticDistant: true}},
		{"M1 beats M0", []string{tnm("m0", "21907-1", "cM0"), tnm("m1", "21901-4", "pM1")}, Extent{Status: ExtentDistant, Evidence: []string{"Observation/m1"}, ExtrahepaticDistant: true}},
		{"M1 explained by liver", []string{tnm("m1", "21907-1", "M1"), cond("l", sysICD10CM, "C7B.02", "")}, Extent{Status: ExtentDistant, Evidence: []string{"Condition/l", "Observation/m1"}, Liver: true}},
		{"M1a hepatic only", []string{tnm("m1", "21907-1", "cM1a")}, Extent{Status: ExtentDistant, Evidence: []string{"Observation/m1"}}},
		{"M1b extrahepatic", []string{tnm("m1", "21907-1", "cM1b")}, Extent{Status: ExtentDistant, Evidence: []string{"Observation/m1"}, ExtrahepaticDistant: true}},
		{"stage IV", []string{tnm("s", "21908-9", "IV")}, Extent{Status: ExtentDistant, Evidence: []string{"Observation/s"}, ExtrahepaticDistant: true}},
		// Three extents (docs/clinical.md §2): unresectable is locally advanced, not distant.
		{"resectability coded unresectable", []string{resect("r", `"valueCodeableConcept":{"coding":[{"system":"`+LocalSystem+`","code":"unresectable"}]}`)},
			Extent{Status: ExtentLocallyAdvanced, Evidence: []string{"Observation/r"}}},
		{"resectability in words", []string{resect("r", `"valueString":"Locally advanced, not resectable"`)}, Extent{Status: ExtentLocallyAdvanced, Evidence: []string{"Observation/r"}}},
		{"resectable adds nothing", []string{resect("r", `"valueCodeableConcept":{"coding":[{"system":"`+LocalSystem+`","code":"resectable"}]}`)}, Extent{Status: ExtentUnknown}},
		{"borderline resectable is not unresectable", []string{resect("r", `"valueString":"borderline resectable"`)}, Extent{Status: ExtentUnknown}},
		{"unresectable beats M0 (no conflict: M0 is locally advanced too)", []string{tnm("m0", "21907-1", "cM0"), resect("r", `"valueString":"unresectable"`)},
			Extent{Status: ExtentLocallyAdvanced, Evidence: []string{"Observation/r"}}},
		{"diagnosis stage summary says unresectable", []string{cond("c", sysICD10CM, "C25.4", `"stage":[{"summary":{"text":"Locally advanced, unresectable"}}]`)},
			Extent{Status: ExtentLocallyAdvanced, Evidence: []string{"Condition/c"}}},
		{"diagnosis text says inoperable", []string{`{"resourceType":"Condition","id":"c","subject":{"reference":"Patient/p1"},"code":{"coding":[{"system":"` + sysICD10CM + `","code":"C25.4"}],"text":"Inoperable pancreatic NET"}}`},
			Extent{Status: ExtentLocallyAdvanced, Evidence: []string{"Condition/c"}}},
		{"unresectable is not distant: metastases still decide", []string{resect("r", `"valueString":"unresectable"`), cond("l", sysICD10CM, "C7B.02", "")},
			Extent{Status: ExtentDistant, Evidence: []string{"Condition/l"}, Liver: true}},
		{"negated: not locally advanced", []string{resect("r", `"valueString":"resectable, not locally advanced"`)}, Extent{Status: ExtentUnknown}},
		{"negated: no evidence of unresectable disease", []string{cond("c", sysICD10CM, "C25.4", `"note":[{"text":"No evidence of unresectable disease; M0"}]`)}, Extent{Status: ExtentUnknown}},
		{"a non-NEN condition's words are not read", []string{cond("x", sysICD10CM, "I10", `"note":[{"text":"inoperable"}]`)}, Extent{Status: ExtentUnknown}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := mapRes(t, tt.res...)
			if diff := cmp.Diff(tt.want, p.Extent); diff != "" {
				t.Errorf("extent (-want +got):\n%s", diff)
			}
			conflict := slices.Contains(noteKinds(p.Notes), NoteConflict)
			if want := tt.name == "M1 beats M0"; conflict != want {
				t.Errorf("conflict note = %v; want %v (%v)", conflict, want, p.Notes)
			}
		})
	}
}

func report(id, status, code, extra string) string {
	s := `{"resourceType":"DiagnosticReport","id":"` + id + `","status":"` + status + `","subject":{"reference":"Patient/p1"},"effectiveDateTime":"2025-04-01","code":` + code
	if extra != "" {
		s += "," + extra
	}
	return s + "}"
}

const dotatateCode = `{"coding":[{"system":"http://www.ama-assn.org/go/cpt","code":"78815"}],"text":"Ga-68 DOTATATE PET/CT"}`

func TestSSTR(t *testing.T) {
	t.Parallel()
	type want struct {
		Result   SSTRResult
		Krenning int
		From     string
		Caveat   string
	}
	krenning := func(id string, k int) string {
		return obs(id, "final", LocalSystem, "krenning-score", `"valueInteger":`+string(rune('0'+k)))
	}
	tests := []struct {
		name      string
		res       []string
		want      []want
		wantNotes []NoteKind
	}{
		{"Krenning observation cited by the report", []string{krenning("kr", 3), report("r", "final", dotatateCode, `"result":[{"reference":"Observation/kr"}],"conclusion":"SSTR-negative"`)},
			[]want{{SSTRPositive, 3, ResultFromObservation, ""}}, nil},
		{"Krenning 1 is not SSTR-positive", []string{krenning("kr", 1), report("r", "final", dotatateCode, `"result":[{"reference":"Observation/kr"}]`)},
			[]want{{SSTRNegative, 1, ResultFromObservation, ""}}, nil},
		{"SSTR status observation", []string{obs("st", "final", LocalSystem, "sstr-status", `"valueCodeableConcept":{"coding":[{"system":"http://snomed.info/sct","code":"260385009"}]}`), report("r", "final", dotatateCode, `"result":[{"reference":"https://ehr.example/fhir/Observation/st"}]`)},
			[]want{{SSTRNegative, -1, ResultFromObservation, ""}}, nil},
		{"conclusion code positive", []string{report("r", "final", dotatateCode, `"conclusionCode":[{"coding":[{"system":"http://snomed.info/sct","code":"10828004"}]}],"conclusion":"SSTR-negative"`)},
			[]want{{SSTRPositive, -1, ResultFromConclusionCode, ""}}, nil},
		{"conclusion codes disagree", []string{report("r", "final", dotatateCode, `"conclusionCode":[{"coding":[{"system":"http://snomed.info/sct","code":"10828004"}]},{"coding":[{"system":"http://snomed.info/sct","code":"260385009"}]}]`)},
			[]want{{SSTRUnknown, -1, "", ""}}, []NoteKind{NoteConflict}},
		{"text Krenning", []string{report("r", "final", dotatateCode, `"conclusion":"Avid midgut primary and liver lesions, Krenning 3."`)},
			[]want{{SSTRPositive, 3, ResultFromText, CaveatTextDerived}}, []NoteKind{NoteCaveat}},
		{"text Krenning score of", []string{report("r", "final", dotatateCode, `"conclusion":"Hepatic lesions with a Krenning score of 4."`)},
			[]want{{SSTRPositive, 4, ResultFromText, CaveatTextDerived}}, []NoteKind{NoteCaveat}},
		{"text uptake greater than normal liver", []string{report("r", "final", `{"text":"Somatostatin receptor PET"}`, `"conclusion":"Lesions with uptake greater than normal liver."`)},
			[]want{{SSTRPositive, -1, ResultFromText, CaveatTextDerived}}, []NoteKind{NoteCaveat}},
		{"text no significant expression", []string{report("r", "final", `{"text":"Octreoscan"}`, `"conclusion":"No significant somatostatin receptor expression."`)},
			[]want{{SSTRNegative, -1, ResultFromText, CaveatTextDerived}}, []NoteKind{NoteCaveat}},
		{"negated text gives no result", []string{report("r", "final", dotatateCode, `"conclusion":"The lesion is not SSTR-positive."`)},
			[]want{{SSTRUnknown, -1, "", ""}}, []NoteKind{NoteConflict}},
		{"hedged text gives no result", []string{report("r", "final", dotatateCode, `"conclusion":"Possibly SSTR-positive? Clinical correlation."`)},
			[]want{{SSTRUnknown, -1, "", ""}}, []NoteKind{NoteConflict}},
		{"contradictory text", []string{report("r", "final", dotatateCode, `"conclusion":"SSTR-positive liver lesion; primary SSTR-negative."`)},
			[]want{{SSTRUnknown, -1, "", ""}}, []NoteKind{NoteConflict}},
		{"text without explicit result", []string{report("r", "final", dotatateCode, `"conclusion":"Findings discussed at MDT."`)},
			[]want{{SSTRUnknown, -1, "", ""}}, []NoteKind{NoteCaveat}},
		{"preliminary text result keeps both caveats", []string{report("r", "preliminary", dotatateCode, `"conclusion":"SSTR-positive"`)},
			[]want{{SSTRPositive, -1, ResultFromText, CaveatPreliminary + "; " + CaveatTextDerived}}, []NoteKind{NoteCaveat, NoteCaveat}},
		{"FDG PET/CT is not SSTR imaging", []string{report("r", "final", `{"coding":[{"system":"http://www.ama-assn.org/go/cpt","code":"78815"}],"text":"FDG PET/CT"}`, `"conclusion":"SSTR-positive"`)},
			nil, nil},
		{"entered in error report", []string{report("r", "entered-in-error", dotatateCode, `"conclusion":"SSTR-positive"`)},
			nil, []NoteKind{NoteSkipped}},
		{"standalone Krenning observation", []string{krenning("kr", 4)},
			[]want{{SSTRPositive, 4, ResultFromObservation, ""}}, nil},
		{"Krenning out of range", []string{obs("kr", "final", LocalSystem, "krenning-score", `"valueInteger":7`)},
			[]want{{SSTRUnknown, -1, "", ""}}, []NoteKind{NoteRejected}},
		{"observation as the study", []string{obs("o", "final", sysHCPCS, "A9587", `"valueCodeableConcept":{"coding":[{"system":"http://snomed.info/sct","code":"10828004"}]}`)},
			[]want{{SSTRPositive, -1, ResultFromObservation, ""}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := mapRes(t, tt.res...)
			var got []want
			for _, s := range p.SSTR {
				got = append(got, want{s.Result, s.Krenning, s.ResultFrom, s.Caveat})
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("SSTR (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantNotes, noteKinds(p.Notes)); diff != "" {
				t.Errorf("notes (-want +got):\n%s\n%v", diff, p.Notes)
			}
		})
	}
}

func TestSSTRTextEvidence(t *testing.T) {
	t.Parallel()
	p := mapRes(t, report("r", "final", dotatateCode, `"conclusion":"Multiple hepatic lesions, Krenning score 3."`))
	if len(p.SSTR) != 1 || p.SSTR[0].Evidence != "Krenning score 3" {
		t.Errorf("SSTR = %+v; want evidence %q", p.SSTR, "Krenning score 3")
	}
}

func TestImagingLabsAndFitness(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		res       []string
		check     func(p *Picture) string
		wantNotes []NoteKind
	}{
		{"CT by CPT", []string{report("ct", "final", `{"coding":[{"system":"http://www.ama-assn.org/go/cpt","code":"74177"}]}`, "")},
			func(p *Picture) string { return cmp.Diff("CT", p.CrossSections[0].Modality) }, nil},
		{"MRI by name", []string{report("mr", "final", `{"text":"MRI liver with contrast"}`, "")},
			func(p *Picture) string { return cmp.Diff("MRI", p.CrossSections[0].Modality) }, nil},
		{"echocardiogram is not cross-sectional", []string{report("e", "final", `{"text":"Echocardiogram"}`, "")},
			func(p *Picture) string { return cmp.Diff(0, len(p.CrossSections)) }, nil},
		{"CgA elevated by interpretation", []string{obs("cga", "final", sysLOINC, "9811-1", `"valueQuantity":{"value":250,"unit":"ug/L"},"interpretation":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation","code":"H"}]}]`)},
			func(p *Picture) string {
				return cmp.Diff(Marker{Source: Source{Ref: "Observation/cga", Status: "final"}, Kind: MarkerCgA, Code: Coding{System: sysLOINC, Code: "9811-1"}, Quantity: Quantity{Value: 250, Unit: "ug/L"}, Elevated: "yes"}, p.Markers[0])
			}, nil},
		{"5-HIAA molar under the reference range", []string{obs("h", "final", sysLOINC, "14573-0", `"valueQuantity":{"value":30,"unit":"umol/d"},"referenceRange":[{"high":{"value":47,"unit":"umol/d"}}]`)},
			func(p *Picture) string {
				return cmp.Diff([]any{Marker5HIAAUrine, true, "no"}, []any{p.Markers[0].Kind, p.Markers[0].Molar, p.Markers[0].Elevated})
			}, nil},
		{"5-HIAA plasma", []string{obs("h", "final", sysLOINC, "1693-1", `"valueQuantity":{"value":30,"unit":"ng/mL"}`)},
			func(p *Picture) string { return cmp.Diff(Marker5HIAAPlasma, p.Markers[0].Kind) }, nil},
		{"marker without quantity", []string{obs("h", "final", sysLOINC, "1695-6", `"valueString":"high"`)},
			func(p *Picture) string { return cmp.Diff(0, len(p.Markers)) }, []NoteKind{NoteRejected}},
		{"LVEF", []string{obs("ef", "final", sysLOINC, "18043-0", `"valueQuantity":{"value":58,"unit":"%"}`)},
			func(p *Picture) string { return cmp.Diff(58.0, p.LVEF[0].Percent) }, nil},
		{"LVEF out of range", []string{obs("ef", "final", sysLOINC, "10230-1", `"valueQuantity":{"value":580,"unit":"%"}`)},
			func(p *Picture) string { return cmp.Diff(0, len(p.LVEF)) }, []NoteKind{NoteRejected}},
		{"hepatic panel without value", []string{obs("hp", "final", sysLOINC, "24325-3", "")},
			func(p *Picture) string {
				return cmp.Diff([]LabResult{{Source: Source{Ref: "Observation/hp", Status: "final"}, Kind: LabHepaticPanel, Code: Coding{System: sysLOINC, Code: "24325-3"}}}, p.LiverTests)
			}, nil},
		{"hepatic panel as a lab DiagnosticReport", []string{report("hpr", "final", `{"coding":[{"system":"http://loinc.org","code":"24325-3"}]}`, `"result":[{"reference":"Observation/alt"}]`)},
			func(p *Picture) string {
				return cmp.Diff([]LabKind{LabHepaticPanel}, []LabKind{p.LiverTests[0].Kind}) + cmp.Diff(0, len(p.CrossSections))
			}, nil},
		{"ALT", []string{obs("alt", "final", sysLOINC, "1742-6", `"valueQuantity":{"value":40,"unit":"U/L"}`)},
			func(p *Picture) string { return cmp.Diff(&Quantity{Value: 40, Unit: "U/L"}, p.LiverTests[0].Quantity) }, nil},
		{"ECOG integer", []string{obs("e", "final", sysLOINC, "89247-1", `"valueInteger":2`)},
			func(p *Picture) string {
				return cmp.Diff(Performance{Source: Source{Ref: "Observation/e", Status: "final"}, Scale: "ecog", Score: 2}, p.Performance[0])
			}, nil},
		{"ECOG LOINC answer", []string{obs("e", "final", sysLOINC, "89247-1", `"valueCodeableConcept":{"coding":[{"system":"http://loinc.org","code":"LA9624-3"}]}`)},
			func(p *Picture) string { return cmp.Diff(2, p.Performance[0].Score) }, nil},
		{"ECOG out of range", []string{obs("e", "final", sysLOINC, "89247-1", `"valueInteger":7`)},
			func(p *Picture) string { return cmp.Diff(0, len(p.Performance)) }, []NoteKind{NoteRejected}},
		{"Karnofsky", []string{obs("k", "final", sysLOINC, "89243-0", `"valueInteger":70`)},
			func(p *Picture) string {
				return cmp.Diff([]any{"karnofsky", 70}, []any{p.Performance[0].Scale, p.Performance[0].Score})
			}, nil},
		{"progression", []string{obs("ds", "final", sysLOINC, "97509-4", `"valueCodeableConcept":{"coding":[{"system":"http://snomed.info/sct","code":"271299001"}]}`)},
			func(p *Picture) string { return cmp.Diff(StatusProgression, p.DiseaseStatus[0].Value) }, nil},
		{"stable", []string{obs("ds", "final", sysLOINC, "97509-4", `"valueCodeableConcept":{"coding":[{"system":"http://snomed.info/sct","code":"359746009"}]}`)},
			func(p *Picture) string { return cmp.Diff(StatusStable, p.DiseaseStatus[0].Value) }, nil},
		{"date from effectivePeriod", []string{obs("e", "final", sysLOINC, "89247-1", `"valueInteger":1,"effectivePeriod":{"start":"2025-02-03T10:00:00+01:00"}`)},
			func(p *Picture) string {
				return cmp.Diff(time.Date(2025, 2, 3, 9, 0, 0, 0, time.UTC), p.Performance[0].Date)
			}, nil},
		{"date from issued", []string{obs("e", "final", sysLOINC, "89247-1", `"valueInteger":1,"issued":"2025-02-03T10:00:00.123Z"`)},
			func(p *Picture) string { return cmp.Diff("2025-02-03T10:00:00.123Z", p.Performance[0].DateText) }, nil},
		{"year precision", []string{obs("e", "final", sysLOINC, "89247-1", `"valueInteger":1,"effectiveDateTime":"2024"`)},
			func(p *Picture) string {
				return cmp.Diff(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), p.Performance[0].Date)
			}, nil},
		{"unreadable date kept without date", []string{obs("e", "final", sysLOINC, "89247-1", `"valueInteger":1,"effectiveDateTime":"yesterday"`)},
			func(p *Picture) string { return cmp.Diff(true, p.Performance[0].Date.IsZero()) }, []NoteKind{NoteRejected}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := mapRes(t, tt.res...)
			if diff := tt.check(p); diff != "" {
				t.Errorf("%s", diff)
			}
			if diff := cmp.Diff(tt.wantNotes, noteKinds(p.Notes)); diff != "" {
				t.Errorf("notes (-want +got):\n%s\n%v", diff, p.Notes)
			}
		})
	}
}

func medReq(id, status, med, extra string) string {
	s := `{"resourceType":"MedicationRequest","id":"` + id + `","status":"` + status + `","intent":"order","subject":{"reference":"Patient/p1"},"authoredOn":"2025-01-15",` + med
	if extra != "" {
		s += "," + extra
	}
	return s + "}"
}

func rx(code, display string) string {
	return `"medicationCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"` + code + `","display":"` + display + `"}]}`
}

func TestTherapies(t *testing.T) {
	t.Parallel()
	type th struct {
		Drug, By string
		Active   bool
	}
	tests := []struct {
		name      string
		res       []string
		want      []th
		wantNotes []NoteKind
	}{
		{"RxNorm ingredient", []string{medReq("m", "active", rx("357977", "sunitinib"), "")}, []th{{"sunitinib", MatchedByIngredient, true}}, nil},
		{"on hold is active", []string{medReq("m", "on-hold", rx("141704", "everolimus"), "")}, []th{{"everolimus", MatchedByIngredient, true}}, nil},
		{"completed platinum is past", []string{medReq("m", "completed", rx("40048", "carboplatin"), "")}, []th{{"carboplatin", MatchedByIngredient, false}}, nil},
		{"stopped", []string{medReq("m", "stopped", rx("2555", "cisplatin"), "")}, []th{{"cisplatin", MatchedByIngredient, false}}, nil},
		{"active but ended before the evaluation time", []string{medReq("m", "active", rx("4179", "etoposide"), `"dosageInstruction":[{"timing":{"repeat":{"boundsPeriod":{"start":"2025-01-15","end":"2025-04-01"}}}}]`)}, []th{{"etoposide", MatchedByIngredient, false}}, nil},
		{"lanreotide product code", []string{medReq("m", "active", rx("749817", "lanreotide 120 MG prefilled syringe"), "")}, []th{{"lanreotide", MatchedByProductCode, true}}, nil},
		{"brand name text", []string{medReq("m", "active", `"medicationCodeableConcept":{"text":"Somatuline Depot 120 mg deep SC q4w"}`, "")}, []th{{"lanreotide", MatchedByText, true}}, []NoteKind{NoteCaveat}},
		{"octreotide LAR product code", []string{medReq("m", "active", rx("898589", "Sandostatin LAR Depot"), "")}, []th{{"octreotide", MatchedByProductCode, true}}, nil},
		{"irinotecan product code", []string{medReq("m", "completed", rx("1726324", "irinotecan hydrochloride 20 MG/ML"), "")}, []th{{"irinotecan", MatchedByProductCode, false}}, nil},
		{"unverified code falls back to the name", []string{medReq("m", "active", rx("7617", "octreotide LAR"), "")}, []th{{"octreotide", MatchedByText, true}}, []NoteKind{NoteCaveat}},
		{"unverified code with another name is not octreotide, but noted", []string{medReq("m", "active", rx("7617", "ondansetron"), "")}, nil, []NoteKind{NoteCaveat}},
		{"unverified code without a name: detected, with a caveat", []string{medReq("m", "active", `"medicationCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"7617"}]}`, "")}, []th{{"octreotide", MatchedByIngredient, true}}, []NoteKind{NoteCaveat}},
		{"combination text", []string{medReq("m", "completed", `"medicationCodeableConcept":{"text":"CAPTEM (capecitabine + temozolomide)"}`, "")},
			[]th{{"temozolomide", MatchedByText, false}, {"capecitabine", MatchedByText, false}}, []NoteKind{NoteCaveat, NoteCaveat}},
		{"no partial-word match", []string{medReq("m", "active", `"medicationCodeableConcept":{"text":"Platinolike vitamin"}`, "")}, nil, nil},
		{"Medication resource by reference", []string{
			`{"resourceType":"Medication","id":"med1","code":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"37776"}]}}`,
			medReq("m", "active", `"medicationReference":{"reference":"Medication/med1"}`, "")}, []th{{"temozolomide", MatchedByIngredient, true}}, nil},
		{"contained Medication (dropped by the library)", []string{medReq("m", "active", `"contained":[{"resourceType":"Medication","id":"med","code":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"357977"}]}}],"medicationReference":{"reference":"#med"}`, "")}, []th{{"sunitinib", MatchedByIngredient, true}}, nil},
		{"Lutathera by HCPCS", []string{medReq("m", "completed", `"medicationCodeableConcept":{"coding":[{"system":"http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets","code":"A9513"}]}`, "")}, []th{{"lutathera", MatchedByProductCode, false}}, nil},
		{"lutetium dotatate by name", []string{medReq("m", "active", `"medicationCodeableConcept":{"text":"Lutetium Lu 177 dotatate 200 mCi IV"}`, "")}, []th{{"lutathera", MatchedByText, true}}, []NoteKind{NoteCaveat}},
		{"entered in error", []string{medReq("m", "entered-in-error", rx("357977", "sunitinib"), "")}, nil, []NoteKind{NoteSkipped}},
		{"cancelled", []string{medReq("m", "cancelled", rx("357977", "sunitinib"), "")}, nil, []NoteKind{NoteSkipped}},
		{"draft is not a therapy", []string{medReq("m", "draft", rx("357977", "sunitinib"), "")}, nil, nil},
		{"missing status: possibly active", []string{strings.Replace(medReq("m", "x", rx("357977", "sunitinib"), ""), `"status":"x",`, "", 1)}, []th{{"sunitinib", MatchedByIngredient, true}}, []NoteKind{NoteCaveat, NoteCaveat}},
		{"status unknown: possibly active", []string{medReq("m", "unknown", rx("357977", "sunitinib"), "")}, []th{{"sunitinib", MatchedByIngredient, true}}, []NoteKind{NoteCaveat}},
		{"unresolved Medication reference, display names the drug", []string{medReq("m", "active", `"medicationReference":{"reference":"Medication/absent","display":"Somatuline Depot 120 mg"}`, "")}, []th{{"lanreotide", MatchedByText, true}}, []NoteKind{NoteCaveat}},
		{"unresolved Medication reference, no display: unidentified", []string{medReq("m", "active", `"medicationReference":{"reference":"Medication/absent"}`, "")}, nil, []NoteKind{NoteCaveat}},
		{"unidentified but completed: no note", []string{medReq("m", "completed", `"medicationReference":{"reference":"Medication/absent"}`, "")}, nil, nil},
		{"other patient", []string{strings.Replace(medReq("m", "active", rx("357977", "sunitinib"), ""), "Patient/p1", "Patient/p9", 1)}, nil, []NoteKind{NoteSkipped}},
		{"statement intended", []string{`{"resourceType":"MedicationStatement","id":"s","status":"intended","subject":{"reference":"Patient/p1"},` + rx("141704", "everolimus") + `,"effectivePeriod":{"start":"2026-06-10"}}`}, []th{{"everolimus", MatchedByIngredient, true}}, nil},
		{"statement completed", []string{`{"resourceType":"MedicationStatement","id":"s","status":"completed","subject":{"reference":"Patient/p1"},` + rx("141704", "everolimus") + `,"effectivePeriod":{"start":"2024-01-10","end":"2024-09-01"}}`}, []th{{"everolimus", MatchedByIngredient, false}}, nil},
		{"statement not taken", []string{`{"resourceType":"MedicationStatement","id":"s","status":"not-taken","subject":{"reference":"Patient/p1"},` + rx("141704", "everolimus") + `}`}, nil, []NoteKind{NoteSkipped}},
		{"not an anticancer drug", []string{medReq("m", "active", rx("197361", "amlodipine 5 MG Oral Tablet"), "")}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := mapRes(t, tt.res...)
			var got []th
			for _, x := range p.Therapies {
				got = append(got, th{x.Drug, x.MatchedBy, x.Active})
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("therapies (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantNotes, noteKinds(p.Notes)); diff != "" {
				t.Errorf("notes (-want +got):\n%s\n%v", diff, p.Notes)
			}
		})
	}
}

func TestLutatheraMedicationIsAlsoPriorPRRT(t *testing.T) {
	t.Parallel()
	p := mapRes(t, medReq("m", "completed", `"medicationCodeableConcept":{"coding":[{"system":"http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets","code":"A9513"}],"text":"Lutathera"}`, ""))
	want := []Procedure{{
		Source: Source{Ref: "MedicationRequest/m", Date: time.Date(2025, 1, 15, 0, 0, 0, 0, time.UTC), DateText: "2025-01-15", Status: "completed"},
		Kind:   ProcPRRT, Codes: []Coding{{System: sysHCPCS, Code: "A9513"}}, Text: "Lutathera",
	}}
	if diff := cmp.Diff(want, p.Procedures); diff != "" {
		t.Errorf("procedures (-want +got):\n%s", diff)
	}
}

func TestTherapyDates(t *testing.T) {
	t.Parallel()
	p := mapRes(t, `{"resourceType":"MedicationStatement","id":"s","status":"completed","subject":{"reference":"Patient/p1"},`+rx("141704", "everolimus")+`,"effectivePeriod":{"start":"2024-01-10","end":"2024-09-01"}}`)
	want := Therapy{
		Source: Source{Ref: "MedicationStatement/s", Date: time.Date(2024, 1, 10, 0, 0, 0, 0, time.UTC), DateText: "2024-01-10", Status: "completed"},
		Drug:   "everolimus", MatchedBy: MatchedByIngredient, Text: "everolimus",
		Start: time.Date(2024, 1, 10, 0, 0, 0, 0, time.UTC), End: time.Date(2024, 9, 1, 0, 0, 0, 0, time.UTC),
	}
	if diff := cmp.Diff([]Therapy{want}, p.Therapies); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func proc(id, status, code, extra string) string {
	s := `{"resourceType":"Procedure","id":"` + id + `","status":"` + status + `","subject":{"reference":"Patient/p1"},"performedDateTime":"2024-05-02","code":` + code
	if extra != "" {
		s += "," + extra
	}
	return s + "}"
}

func TestProceduresAndOrders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		res       []string
		wantProc  []ProcedureKind
		wantOpen  []string
		wantNotes []NoteKind
	}{
		{"resection by name", []string{proc("p", "completed", `{"text":"Laparoscopic distal pancreatectomy"}`, "")}, []ProcedureKind{ProcPrimaryResection}, nil, nil},
		{"liver resection is not the primary", []string{proc("p", "completed", `{"text":"Partial hepatectomy (liver resection)"}`, "")}, nil, nil, nil},
		{"PRRT by HCPCS used code", []string{proc("p", "completed", `{"coding":[{"system":"http://snomed.info/sct","code":"440252007"}]}`, `"usedCode":[{"coding":[{"system":"http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets","code":"A9513"}]}]`)}, []ProcedureKind{ProcPRRT}, nil, nil},
		{"PRRT by text", []string{proc("p", "completed", `{"text":"Lutathera cycle 2"}`, "")}, []ProcedureKind{ProcPRRT}, nil, nil},
		{"PRRT by lutetium dotatate words", []string{proc("p", "completed", `{"text":"177Lu-DOTATATE infusion"}`, "")}, []ProcedureKind{ProcPRRT}, nil, nil},
		{"other lutetium radioligand is not PRRT", []string{proc("p", "completed", `{"text":"Lutetium Lu 177 vipivotide tetraxetan"}`, "")}, nil, nil, nil},
		{"radiopharmaceutical alone is not PRRT", []string{proc("p", "completed", `{"coding":[{"system":"http://snomed.info/sct","code":"440252007"}]}`, "")}, nil, nil, []NoteKind{NoteCaveat}},
		{"TACE by CPT", []string{proc("p", "completed", `{"coding":[{"system":"http://www.ama-assn.org/go/cpt","code":"37243"}]}`, "")}, []ProcedureKind{ProcLiverDirected}, nil, nil},
		{"EBRT", []string{proc("p", "completed", `{"coding":[{"system":"http://snomed.info/sct","code":"1156506007"}]}`, "")}, []ProcedureKind{ProcEBRT}, nil, nil},
		{"not done", []string{proc("p", "not-done", `{"text":"Whipple procedure"}`, "")}, nil, nil, []NoteKind{NoteSkipped}},
		{"entered in error", []string{proc("p", "entered-in-error", `{"text":"Whipple procedure"}`, "")}, nil, nil, []NoteKind{NoteSkipped}},
		{"open service request", []string{`{"resourceType":"ServiceRequest","id":"sr","status":"active","intent":"order","subject":{"reference":"Patient/p1"},"code":{"coding":[{"system":"http://www.ama-assn.org/go/cpt","code":"78815"}]}}`}, nil, []string{"ServiceRequest/sr"}, nil},
		{"completed service request is not open", []string{`{"resourceType":"ServiceRequest","id":"sr","status":"completed","intent":"order","subject":{"reference":"Patient/p1"},"code":{"text":"CT"}}`}, nil, nil, nil},
		{"open task", []string{`{"resourceType":"Task","id":"t","status":"requested","intent":"order","for":{"reference":"Patient/p1"},"description":"Follow-up visit"}`}, nil, []string{"Task/t"}, nil},
		{"task of another patient", []string{`{"resourceType":"Task","id":"t","status":"requested","intent":"order","for":{"reference":"Patient/p2"},"description":"Follow-up visit"}`}, nil, nil, []NoteKind{NoteSkipped}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := mapRes(t, tt.res...)
			var kinds []ProcedureKind
			for _, x := range p.Procedures {
				kinds = append(kinds, x.Kind)
			}
			if diff := cmp.Diff(tt.wantProc, kinds); diff != "" {
				t.Errorf("procedures (-want +got):\n%s", diff)
			}
			var open []string
			for _, x := range p.OpenOrders {
				open = append(open, x.Ref)
			}
			if diff := cmp.Diff(tt.wantOpen, open); diff != "" {
				t.Errorf("open orders (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantNotes, noteKinds(p.Notes)); diff != "" {
				t.Errorf("notes (-want +got):\n%s\n%v", diff, p.Notes)
			}
		})
	}
}

func TestPatientAge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		birth     string
		id        string
		want      Patient
		wantNotes []NoteKind
	}{
		{"day before birthday", "1956-06-02", pid, Patient{Ref: "Patient/p1", BirthDate: time.Date(1956, 6, 2, 0, 0, 0, 0, time.UTC), Age: 69, AgeKnown: true, Gender: "female"}, nil},
		{"on birthday", "1956-06-01", pid, Patient{Ref: "Patient/p1", BirthDate: time.Date(1956, 6, 1, 0, 0, 0, 0, time.UTC), Age: 70, AgeKnown: true, Gender: "female"}, nil},
		{"year precision, ambiguous", "1956", pid, Patient{Ref: "Patient/p1", BirthDate: time.Date(1956, 1, 1, 0, 0, 0, 0, time.UTC), Gender: "female"}, []NoteKind{NoteRejected}},
		{"month precision, unambiguous", "1956-02", pid, Patient{Ref: "Patient/p1", BirthDate: time.Date(1956, 2, 1, 0, 0, 0, 0, time.UTC), Age: 70, AgeKnown: true, Gender: "female"}, nil},
		{"another patient", "1956-06-01", "p2", Patient{}, []NoteKind{NoteSkipped}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := mapRes(t, `{"resourceType":"Patient","id":"`+tt.id+`","gender":"female","birthDate":"`+tt.birth+`"}`)
			if diff := cmp.Diff(tt.want, p.Patient); diff != "" {
				t.Errorf("patient (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantNotes, noteKinds(p.Notes)); diff != "" {
				t.Errorf("notes (-want +got):\n%s\n%v", diff, p.Notes)
			}
		})
	}
}

func TestDocuments(t *testing.T) {
	t.Parallel()
	good := ki67("k", "final", `"valueQuantity":{"value":5,"unit":"%"}`)
	tests := []struct {
		name      string
		docs      []string
		wantErr   bool
		wantKi67  int
		wantNotes []NoteKind
	}{
		{"single resource", []string{good}, false, 1, nil},
		{"null and empty documents", []string{"null", ""}, false, 0, nil},
		{"not an object", []string{`[1,2]`}, true, 0, nil},
		{"no resourceType", []string{`{"id":"x"}`}, true, 0, nil},
		{"malformed JSON", []string{`{"resourceType":"Bundle",`}, true, 0, nil},
		{"bad entry does not sink the rest", []string{`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"Observation","id":"x","status":"final","code":5}},{"resource":` + good + `},7,{"resource":{"id":"noType"}}]}`}, false, 1, []NoteKind{NoteRejected, NoteRejected, NoteRejected}},
		{"bundle of type collection with nested bundle", []string{`{"resourceType":"Bundle","type":"collection","entry":[{"resource":` + string(bundle(good)) + `}]}`}, false, 1, nil},
		{"entries of a bundle of wrong type", []string{`{"resourceType":"Bundle","entry":{"resource":{}}}`}, false, 0, []NoteKind{NoteRejected}},
		{"same resource twice", []string{string(bundle(good)), good}, false, 1, nil},
		{"OperationOutcome with an error", []string{`{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"exception"}]}`}, false, 0, []NoteKind{NoteCaveat}},
		{"informational OperationOutcome in a searchset", []string{`{"resourceType":"Bundle","entry":[{"search":{"mode":"outcome"},"resource":{"resourceType":"OperationOutcome","issue":[{"severity":"information","code":"informational"}]}}]}`}, false, 0, nil},
		{"unknown enum in a search entry wrapper", []string{`{"resourceType":"Bundle","entry":[{"search":{"mode":"bogus"},"resource":` + good + `}]}`}, false, 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var docs []json.RawMessage
			for _, d := range tt.docs {
				docs = append(docs, json.RawMessage(d))
			}
			p, err := Map(Input{PatientID: pid, At: testAt, Documents: docs})
			if tt.wantErr {
				if !errors.Is(err, ErrNotResource) || p != nil {
					t.Fatalf("Map = %v, %v; want ErrNotResource", p, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Map: %v", err)
			}
			if len(p.Ki67) != tt.wantKi67 {
				t.Errorf("Ki-67 = %d; want %d", len(p.Ki67), tt.wantKi67)
			}
			if diff := cmp.Diff(tt.wantNotes, noteKinds(p.Notes)); diff != "" {
				t.Errorf("notes (-want +got):\n%s\n%v", diff, p.Notes)
			}
		})
	}
}

func TestNewestFirstAndDeterministic(t *testing.T) {
	t.Parallel()
	res := []string{
		obs("b", "final", sysLOINC, "29593-1", `"effectiveDateTime":"2024-01-01","valueQuantity":{"value":5,"unit":"%"}`),
		obs("c", "final", sysLOINC, "29593-1", `"valueQuantity":{"value":6,"unit":"%"}`),
		obs("a", "final", sysLOINC, "29593-1", `"effectiveDateTime":"2025-06-01","valueQuantity":{"value":7,"unit":"%"}`),
		obs("d", "final", sysLOINC, "29593-1", `"effectiveDateTime":"2024-01-01","valueQuantity":{"value":8,"unit":"%"}`),
	}
	p := mapRes(t, res...)
	var refs []string
	for _, k := range p.Ki67 {
		refs = append(refs, k.Ref)
	}
	// b and d share a date: the higher value (d, 8 %) first, not the lower id.
	if diff := cmp.Diff([]string{"Observation/a", "Observation/d", "Observation/b", "Observation/c"}, refs); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	q := mapRes(t, res[3], res[2], res[1], res[0])
	if diff := cmp.Diff(p.Ki67, q.Ki67); diff != "" {
		t.Errorf("order depends on input order (-first +second):\n%s", diff)
	}
}

// A status of the wrong JSON type does not hide a result: it is refused with a note.
func TestStatusOfWrongTypeIsANote(t *testing.T) {
	t.Parallel()
	for _, status := range []string{`5`, `{"code":"final"}`, `["final"]`} {
		doc := strings.Replace(ki67("x", "final", `"valueQuantity":{"value":12,"unit":"%"}`), `"status":"final"`, `"status":`+status, 1)
		p, err := Map(Input{PatientID: pid, At: testAt, Documents: []json.RawMessage{json.RawMessage(doc)}})
		if err != nil {
			t.Fatalf("Map: %v", err)
		}
		if len(p.Ki67) != 0 || len(p.Notes) != 1 || p.Notes[0].Kind != NoteRejected || !strings.Contains(p.Notes[0].Text, "status is not a code") {
			t.Errorf("status %s: Ki-67 %v, notes %+v; want no Ki-67 and one rejection note", status, p.Ki67, p.Notes)
		}
	}
	// The same for the other readers that check the raw status themselves.
	for _, doc := range []string{
		`{"resourceType":"Procedure","id":"x","status":7,"subject":{"reference":"Patient/p1"},"code":{"coding":[{"system":"http://snomed.info/sct","code":"80146002"}]}}`,
		`{"resourceType":"ServiceRequest","id":"x","status":true,"intent":"order","subject":{"reference":"Patient/p1"},"code":{"text":"CT"}}`,
		`{"resourceType":"Task","id":"x","status":["requested"],"intent":"order","for":{"reference":"Patient/p1"},"code":{"text":"CgA"}}`,
		`{"resourceType":"DiagnosticReport","id":"x","status":1,"subject":{"reference":"Patient/p1"},"code":{"text":"CT"}}`,
		`{"resourceType":"MedicationStatement","id":"x","status":{"code":"active"},"subject":{"reference":"Patient/p1"},"medicationCodeableConcept":{"text":"sunitinib"}}`,
	} {
		p, err := Map(Input{PatientID: pid, At: testAt, Documents: []json.RawMessage{json.RawMessage(doc)}})
		if err != nil {
			t.Fatalf("Map: %v", err)
		}
		if len(p.Notes) != 1 || p.Notes[0].Kind != NoteRejected || !strings.Contains(p.Notes[0].Text, "status is not a code") || len(p.OpenOrders) != 0 || len(p.Procedures) != 0 || len(p.Therapies) != 0 {
			t.Errorf("%s: notes %+v, open orders %d, procedures %d, therapies %d; want one rejection note and nothing read", doc, p.Notes, len(p.OpenOrders), len(p.Procedures), len(p.Therapies))
		}
	}
}

// TestOwnership: a resource belongs to the patient only through a literal Patient/<id>
// reference, relative or absolute on the request's own fhirServer; anything else is
// skipped with a note. (Before: a Group, another server's Patient with the same id, a
// contained patient and a missing subject were all read as this patient's.)
func TestOwnership(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		ref  string // "" : no subject
		ok   bool
		note string
	}{
		{"Patient/p1", true, ""},
		{"Patient/p1/_history/3", true, ""},
		{"https://ehr.example/fhir/Patient/p1", true, ""},
		{"HTTPS://EHR.example:443/fhir/Patient/p1", true, ""},
		{"https://ehr.example/fhir/", false, "not a Patient/<id>"},
		{"Patient/p2", false, "another patient"},
		{"Group/cohort-17", false, "is a Group"},
		{"https://other.example/fhir/Patient/p1", false, "another FHIR server"},
		{"https://ehr.example/other/Patient/p1", false, "another FHIR server"},
		{"#pat", false, "contained"},
		{"urn:uuid:4f1c0c4e-0000-4000-8000-000000000001", false, "not a Patient/<id>"},
		{"", false, "names no patient"},
	} {
		subject := ""
		if tt.ref != "" {
			subject = `"subject":{"reference":"` + tt.ref + `"},`
		}
		res := `{"resourceType":"Condition","id":"c",` + subject + `"code":{"coding":[{"system":"http://snomed.info/sct","code":"94225005"}]}}`
		p := mapRes(t, res)
		skipped := false
		for _, n := range p.Notes {
			if n.Kind == NoteSkipped && n.Ref == "Condition/c" {
				skipped = true
				if !strings.Contains(n.Text, tt.note) {
					t.Errorf("%q: note %q, want %q", tt.ref, n.Text, tt.note)
				}
			}
		}
		if skipped == tt.ok {
			t.Errorf("subject %q: skipped %v, want belongs %v (notes %v)", tt.ref, skipped, tt.ok, p.Notes)
		}
	}
}
