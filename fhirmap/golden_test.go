package fhirmap

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nencds/nencds/internal/golden"
)

const patientsDir = "../testdata/patients"

// goldenAt is the fixed evaluation time of the golden pictures.
var goldenAt = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// scenarioFiles lists the patient Bundles (not their goldens).
func scenarioFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(patientsDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		if !strings.HasSuffix(f, ".golden.json") {
			out = append(out, f)
		}
	}
	return out
}

// bundlePatientID finds the id of the Patient in a Bundle.
func bundlePatientID(t testing.TB, doc []byte) string {
	t.Helper()
	var b struct {
		Entry []struct {
			Resource struct {
				ResourceType string `json:"resourceType"`
				ID           string `json:"id"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(doc, &b); err != nil {
		t.Fatal(err)
	}
	for _, e := range b.Entry {
		if e.Resource.ResourceType == "Patient" {
			return e.Resource.ID
		}
	}
	t.Fatal("no Patient in the Bundle")
	return ""
}

func TestGoldenPictures(t *testing.T) {
	t.Parallel()
	files := scenarioFiles(t)
	if len(files) < 8 {
		t.Fatalf("%d patient scenarios in %s; want at least 8", len(files), patientsDir)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			doc, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			p, err := Map(Input{PatientID: bundlePatientID(t, doc), At: goldenAt, Documents: []json.RawMessage{doc}})
			if err != nil {
				t.Fatalf("Map: %v", err)
			}
			got, err := json.MarshalIndent(p, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden.Compare(t, filepath.Join(patientsDir, name+".picture.golden.json"), got)
		})
	}
}

// TestGoldenFactsAreTraceable checks a property of every golden scenario: each fact
// names the resource it came from, and that resource is in the Bundle.
func TestGoldenFactsAreTraceable(t *testing.T) {
	t.Parallel()
	for _, f := range scenarioFiles(t) {
		doc, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		p, err := Map(Input{PatientID: bundlePatientID(t, doc), At: goldenAt, Documents: []json.RawMessage{doc}})
		if err != nil {
			t.Fatal(err)
		}
		var refs []string
		add := func(s Source) { refs = append(refs, s.Ref) }
		for _, x := range p.Diagnoses {
			add(x.Source)
		}
		for _, x := range p.Secondaries {
			add(x.Source)
		}
		for _, x := range p.Ki67 {
			add(x.Source)
		}
		for _, x := range p.SSTR {
			add(x.Source)
		}
		for _, x := range p.Therapies {
			add(x.Source)
		}
		for _, x := range p.Procedures {
			add(x.Source)
		}
		for _, x := range p.TNM {
			add(x.Source)
		}
		for _, r := range refs {
			if r == "" || !bytes.Contains(doc, []byte(fmt.Sprintf(`"id": %q`, r[strings.Index(r, "/")+1:]))) {
				t.Errorf("%s: fact ref %q is not a resource of the Bundle", filepath.Base(f), r)
			}
		}
	}
}

func FuzzMap(f *testing.F) {
	for _, file := range scenarioFiles(f) {
		doc, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(doc)
	}
	for _, s := range []string{
		`{}`, `null`, `[]`, `{"resourceType":"Bundle"}`, `{"resourceType":"Bundle","entry":[null,1,{"resource":[]}]}`,
		ki67("k", "final", `"valueString":"15-20%"`), ki67("k", "final", `"valueQuantity":{"value":1e400}`),
		report("r", "final", dotatateCode, `"conclusion":"Krenning 9 krenning 2 SSTR-positive?"`),
		`{"resourceType":"Patient","id":"p1","birthDate":"0000"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		in := Input{PatientID: pid, At: testAt, Documents: []json.RawMessage{doc}}
		p, err := Map(in)
		if (p == nil) == (err == nil) {
			t.Fatalf("Map = %v, %v; want exactly one of a picture or an error", p, err)
		}
		if err != nil {
			return
		}
		a, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("picture does not marshal: %v", err)
		}
		q, _ := Map(in)
		b, _ := json.Marshal(q)
		if !bytes.Equal(a, b) {
			t.Fatalf("Map is not deterministic")
		}
		for _, k := range p.Ki67 {
			if k.Percent < 0 || k.Percent > 100 {
				t.Fatalf("Ki-67 %v outside 0-100", k.Percent)
			}
		}
	})
}

// FuzzBundleEntry puts arbitrary bytes in a Bundle entry: the Bundle must still map.
func FuzzBundleEntry(f *testing.F) {
	f.Add([]byte(ki67("k", "final", `"valueQuantity":{"value":0.2,"unit":"1"}`)))
	f.Add([]byte(`{"resourceType":"Condition","code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"C7A.1"}]}}`))
	f.Add([]byte(`"x"`))
	f.Fuzz(func(t *testing.T, entry []byte) {
		if !json.Valid(entry) {
			return // the Bundle itself would not be JSON
		}
		doc := `{"resourceType":"Bundle","entry":[{"resource":` + string(entry) + `},{"resource":` + ki67("good", "final", `"valueQuantity":{"value":5,"unit":"%"}`) + `}]}`
		p, err := Map(Input{PatientID: pid, At: testAt, Documents: []json.RawMessage{json.RawMessage(doc)}})
		if err != nil {
			t.Fatalf("Map: %v", err)
		}
		found := false
		for _, k := range p.Ki67 {
			found = found || k.Ref == "Observation/good"
		}
		if !found && !strings.Contains(string(entry), `"good"`) {
			t.Fatalf("a bad entry sank a good one: %+v", p)
		}
	})
}

// benchBundle is a ~50-resource Bundle of one patient.
func benchBundle() json.RawMessage {
	var res []string
	res = append(res, `{"resourceType":"Patient","id":"p1","gender":"male","birthDate":"1960-01-01"}`,
		cond("c1", sysSNOMED, "363346000", withMorph("8249/3")+`,"bodySite":[{"coding":[{"system":"http://snomed.info/sct","code":"15776009"}]}]`),
		cond("c2", sysICD10CM, "C7B.02", ""), cond("c3", sysICD10CM, "E34.0", ""),
		report("r1", "final", dotatateCode, `"conclusion":"Krenning 3"`),
		report("r2", "final", `{"coding":[{"system":"http://www.ama-assn.org/go/cpt","code":"74177"}]}`, ""))
	for i := range 12 {
		res = append(res, obs(fmt.Sprintf("k%d", i), "final", sysLOINC, "29593-1", fmt.Sprintf(`"effectiveDateTime":"2025-%02d-01","valueQuantity":{"value":0.%02d,"unit":"{ratio}"}`, i%12+1, i+5)))
	}
	for i := range 12 {
		res = append(res, obs(fmt.Sprintf("cga%d", i), "final", sysLOINC, "9811-1", fmt.Sprintf(`"effectiveDateTime":"2025-%02d-02","valueQuantity":{"value":%d,"unit":"ug/L"},"referenceRange":[{"high":{"value":100,"unit":"ug/L"}}]`, i%12+1, 80+i*10)))
	}
	for i := range 8 {
		res = append(res, obs(fmt.Sprintf("e%d", i), "final", sysLOINC, "89247-1", fmt.Sprintf(`"effectiveDateTime":"2025-%02d-03","valueInteger":%d`, i+1, i%3)))
	}
	for i := range 6 {
		res = append(res, medReq(fmt.Sprintf("m%d", i), "active", rx("357977", "sunitinib"), ""))
	}
	for i := range 4 {
		res = append(res, proc(fmt.Sprintf("p%d", i), "completed", `{"text":"Lutathera cycle"}`, ""))
	}
	return bundle(res...)
}

func BenchmarkMap(b *testing.B) {
	doc := benchBundle()
	in := Input{PatientID: pid, At: testAt, Documents: []json.RawMessage{doc}}
	if p, err := Map(in); err != nil || len(p.Ki67) != 12 {
		b.Fatalf("benchmark bundle maps wrongly: %v", err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if _, err := Map(in); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzKi67Text: any Ki-67 text gives either a Ki-67 fact within 0–100 % or a note
// saying why not (never a silent drop).
func FuzzKi67Text(f *testing.F) {
	for _, s := range []string{"15-20%", "<1%", "0.15", "1", "12 percent", ">50 %", "abc", "20-15", "≤2", "3 to 5 pct", "1e3", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, _ := json.Marshal(s)
		p := mapRes(t, ki67("k", "final", `"valueString":`+string(v)))
		switch {
		case len(p.Ki67) == 1:
			if k := p.Ki67[0].Percent; k < 0 || k > 100 {
				t.Fatalf("Ki-67 %q read as %v", s, k)
			}
			if p.Ki67[0].Normalised != (len(p.Notes) > 0) {
				t.Fatalf("Ki-67 %q: normalised=%v but notes %v", s, p.Ki67[0].Normalised, p.Notes)
			}
		case len(p.Ki67) == 0 && len(p.Notes) == 0:
			t.Fatalf("Ki-67 %q dropped without a note", s)
		}
	})
}

// FuzzSSTRConclusion: any conclusion gives one SSTR fact; a text-derived result names
// its evidence and carries the text caveat; no result comes with a note.
func FuzzSSTRConclusion(f *testing.F) {
	for _, s := range []string{"Krenning 3", "not SSTR-positive", "SSTR-negative", "uptake greater than normal liver", "Possibly SSTR-positive?", "", "krenning score of 2; SSTR-negative"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, _ := json.Marshal(s)
		p := mapRes(t, report("r", "final", dotatateCode, `"conclusion":`+string(v)))
		if len(p.SSTR) != 1 {
			t.Fatalf("conclusion %q: %d SSTR facts", s, len(p.SSTR))
		}
		img := p.SSTR[0]
		if img.ResultFrom == ResultFromText && (img.Evidence == "" || img.Caveat != CaveatTextDerived || img.Result == SSTRUnknown) {
			t.Fatalf("conclusion %q: text result without evidence or caveat: %+v", s, img)
		}
		if img.Result == SSTRUnknown && len(p.Notes) == 0 {
			t.Fatalf("conclusion %q: no result and no note", s)
		}
		if img.Krenning < -1 || img.Krenning > 4 {
			t.Fatalf("conclusion %q: Krenning %d", s, img.Krenning)
		}
	})
}
