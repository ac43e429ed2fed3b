package hooks

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nencds/nencds/cards"
	"github.com/nencds/nencds/fhirclient"
	"github.com/nencds/nencds/fhirmap"
	"github.com/nencds/nencds/hooks/auth"
)

// The fixture of a NET patient on lanreotide whose MedicationStatement names the drug only
// through medicationReference → Medication/lanreotide-120 (included in the prefetch
// Bundle). Without the Medication, the drug is unknown and net-ssa is suggested with a
// caveat; with it, the patient is on an SSA and net-ssa is not suggested (principle 3).
const medRefFixture = "../testdata/requests/card-net-ssa-medication-reference.json"

func medRefBody(t testing.TB, f func(m map[string]any)) []byte {
	t.Helper()
	b, err := os.ReadFile(medRefFixture)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if f != nil {
		f(m)
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// withoutMedication drops the included Medication from the statements Bundle.
func withoutMedication(m map[string]any) {
	b := m["prefetch"].(map[string]any)["medicationStatements"].(map[string]any)
	var kept []any
	for _, e := range b["entry"].([]any) {
		if e.(map[string]any)["resource"].(map[string]any)["resourceType"] != "Medication" {
			kept = append(kept, e)
		}
	}
	b["entry"] = kept
}

// statements replaces the statements Bundle with active statements referencing refs.
func statements(m map[string]any, refs ...string) {
	pid := m["context"].(map[string]any)["patientId"].(string)
	var entries []any
	for i, ref := range refs {
		entries = append(entries, map[string]any{"resource": map[string]any{
			"resourceType": "MedicationStatement", "id": fmt.Sprintf("s%d", i), "status": "active",
			"medicationReference": map[string]any{"reference": ref},
			"subject":             map[string]any{"reference": "Patient/" + pid}, "effectiveDateTime": "2026-03-02",
		}})
	}
	m["prefetch"].(map[string]any)["medicationStatements"] = map[string]any{"resourceType": "Bundle", "type": "searchset", "entry": entries}
}

type medAnswer struct {
	status int
	topics []string
	body   string
}

// answerVia runs body through the handler with the fake as the client's trusted FHIR
// server; tune adjusts the resolver.
func answerVia(t *testing.T, fake *fakeFHIR, body []byte, tune func(*Resolver)) medAnswer {
	t.Helper()
	o := testOptions(t, &fakeAuth{client: auth.Client{FHIRServers: []string{fake.URL()}}}, fake.srv.Client().Transport)
	o.Evaluator.Now = func() time.Time { return goldenAt }
	if tune != nil {
		tune(o.Evaluator.Resolver)
	}
	w := do(newTestServer(t, o).Handler(), http.MethodPost, "/cds-services/"+PatientViewID, body, nil)
	a := medAnswer{status: w.Code, body: w.Body.String()}
	if w.Code != http.StatusOK {
		return a
	}
	checkWire(t, w.Body.Bytes())
	var resp cards.Response
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	for _, c := range resp.Cards {
		a.topics = append(a.topics, c.Source.Topic.Code)
	}
	return a
}

func medicationReads(fake *fakeFHIR) []string {
	var out []string
	for _, p := range fake.seenPaths() {
		if strings.Contains(p, "/Medication/") {
			out = append(out, p)
		}
	}
	return out
}

// A Medication the prefetch lacks is read as Medication/{id} from fhirServer, in the
// fallback and in prefetch mode alike, with the request's token: the cards are those of
// the full prefetch.
func TestMedicationReferenceRead(t *testing.T) {
	t.Parallel()
	full := func() *fakeFHIR { return newFakeFHIR(t, medRefBody(t, nil), true, nil) }
	want := answerVia(t, full(), medRefBody(t, nil), nil)
	if want.status != http.StatusOK || slices.Contains(want.topics, cards.TopicSSA) || !slices.Contains(want.topics, cards.TopicSummary) {
		t.Fatalf("full prefetch: status %d, topics %v: want the summary and no net-ssa", want.status, want.topics)
	}
	tests := []struct {
		name string
		body func(fake *fakeFHIR) []byte
	}{
		{"fallback (no prefetch)", func(fake *fakeFHIR) []byte {
			return medRefBody(t, func(m map[string]any) {
				delete(m, "prefetch")
				m["fhirServer"] = fake.URL()
				m["fhirAuthorization"] = map[string]any{"access_token": "tok-med", "token_type": "Bearer", "expires_in": 300, "scope": "patient/*.read", "subject": "cds-service"}
			})
		}},
		{"prefetch without the Medication, fhirServer given", func(fake *fakeFHIR) []byte {
			return medRefBody(t, func(m map[string]any) {
				withoutMedication(m)
				m["fhirServer"] = fake.URL()
				m["fhirAuthorization"] = map[string]any{"access_token": "tok-med", "token_type": "Bearer", "expires_in": 300, "scope": "patient/*.read", "subject": "cds-service"}
			})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := full()
			got := answerVia(t, fake, tt.body(fake), nil)
			if got.status != http.StatusOK {
				t.Fatalf("status %d: %s", got.status, got.body)
			}
			if diff := cmp.Diff(want.topics, got.topics); diff != "" {
				t.Errorf("topics (-full prefetch +here):\n%s", diff)
			}
			if reads := medicationReads(fake); !slices.Equal(reads, []string{"/Medication/lanreotide-120"}) {
				t.Errorf("Medication reads %v, want exactly /Medication/lanreotide-120", reads)
			}
			for _, a := range fake.seenAuths() {
				if a != "Bearer tok-med" {
					t.Errorf("Authorization %q, want the request's token", a)
				}
			}
			if strings.Contains(got.body, "tok-med") {
				t.Error("the token is in the answer")
			}
		})
	}
	// Without a fhirServer the Medication cannot be had: the drug is unidentified, the
	// SSA card comes with the unidentified-medication warning (the difference the read
	// makes).
	t.Run("no fhirServer", func(t *testing.T) {
		t.Parallel()
		fake := full()
		got := answerVia(t, fake, medRefBody(t, func(m map[string]any) { withoutMedication(m); delete(m, "fhirServer") }), nil)
		if got.status != http.StatusOK || !slices.Contains(got.topics, cards.TopicSSA) {
			t.Fatalf("status %d, topics %v: want net-ssa (drug unidentified)", got.status, got.topics)
		}
		if !strings.Contains(got.body, "Medication/lanreotide-120") || fake.hits.Load() != 0 {
			t.Errorf("want the unidentified note naming the Medication and no read (hits %d)", fake.hits.Load())
		}
	})
}

// A Medication read that fails or is late is a data-quality note, never an error: the
// record stays unidentified (the cards warn), and the answer is 200.
func TestMedicationReadFailureIsANote(t *testing.T) {
	t.Parallel()
	const ref = "Medication/lanreotide-120"
	tests := []struct {
		name  string
		knobs func(*fakeFHIR)
		tune  func(*Resolver)
		note  string
	}{
		{"500", func(f *fakeFHIR) { f.readStatus = map[string]int{ref: 500} }, nil, ref + " could not be read from the FHIR server (the FHIR server answered HTTP 500)"},
		{"404", func(f *fakeFHIR) { f.readStatus = map[string]int{ref: 404} }, nil, "(the FHIR server answered HTTP 404)"},
		{"slow", func(f *fakeFHIR) { f.readDelay = map[string]time.Duration{ref: 10 * time.Second} },
			func(r *Resolver) { r.Timeout = 300 * time.Millisecond }, ref + " could not be read from the FHIR server (the FHIR server did not answer in time)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := newFakeFHIR(t, medRefBody(t, nil), true, tt.knobs)
			body := medRefBody(t, func(m map[string]any) {
				withoutMedication(m)
				m["fhirServer"] = fake.URL()
				m["fhirAuthorization"] = testFHIRAuthorization()
			})
			got := answerVia(t, fake, body, tt.tune)
			if got.status != http.StatusOK {
				t.Fatalf("status %d, want 200: %s", got.status, got.body)
			}
			if !strings.Contains(got.body, tt.note) {
				t.Errorf("no note %q in the answer", tt.note)
			}
			if !slices.Contains(got.topics, cards.TopicSSA) || !strings.Contains(got.body, "drug could not be identified") {
				t.Errorf("topics %v: want the record unidentified (net-ssa with the warning)", got.topics)
			}
		})
	}
}

// resolveMeds runs the resolver alone on body against fake.
func resolveMeds(t *testing.T, fake *fakeFHIR, body []byte, trusted []string, tune func(*Resolver)) *Resolution {
	t.Helper()
	req := validated(t, body)
	r := &Resolver{FHIR: fhirclient.New(fhirclient.Options{Transport: fake.srv.Client().Transport}), Timeout: 3 * time.Second}
	if tune != nil {
		tune(r)
	}
	res, err := r.Resolve(context.Background(), req, auth.Client{FHIRServers: trusted})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func noteTexts(ns []fhirmap.Note) string {
	var b strings.Builder
	for _, n := range ns {
		b.WriteString(n.Text + "\n")
	}
	return b.String()
}

// The reads are bounded: each id once, at most MaxMedicationReads, never outside the
// fhirServer base, never from an untrusted fhirServer.
func TestMedicationReadsBounded(t *testing.T) {
	t.Parallel()
	t.Run("dedupe and cap", func(t *testing.T) {
		t.Parallel()
		fake := newFakeFHIR(t, medRefBody(t, nil), true, nil)
		var refs []string
		for i := range 12 {
			refs = append(refs, fmt.Sprintf("Medication/m%d", i), fmt.Sprintf("%s/Medication/m%d", fake.URL(), i)) // each id twice
		}
		body := medRefBody(t, func(m map[string]any) {
			statements(m, refs...)
			m["fhirServer"] = fake.URL()
			m["fhirAuthorization"] = testFHIRAuthorization()
		})
		res := resolveMeds(t, fake, body, []string{fake.URL()}, func(r *Resolver) { r.MaxMedicationReads = 5 })
		reads := medicationReads(fake)
		slices.Sort(reads)
		if want := []string{"/Medication/m0", "/Medication/m1", "/Medication/m2", "/Medication/m3", "/Medication/m4"}; !slices.Equal(reads, want) {
			t.Errorf("reads %v, want %v", reads, want)
		}
		if !strings.Contains(noteTexts(res.Notes), "7 referenced Medications were not read (at most 5 per request)") {
			t.Errorf("notes %q: want the cap noted", noteTexts(res.Notes))
		}
	})
	t.Run("another server is never read", func(t *testing.T) {
		t.Parallel()
		fake := newFakeFHIR(t, medRefBody(t, nil), true, nil)
		other := newFakeFHIR(t, medRefBody(t, nil), true, nil)
		body := medRefBody(t, func(m map[string]any) {
			statements(m, other.URL()+"/Medication/lanreotide-120", fake.URL()+"/../Medication/lanreotide-120")
			m["fhirServer"] = fake.URL() + "/fhir"
			m["fhirAuthorization"] = testFHIRAuthorization()
		})
		res := resolveMeds(t, fake, body, []string{fake.URL() + "/fhir"}, nil)
		if other.hits.Load() != 0 || len(medicationReads(fake)) != 0 {
			t.Errorf("read outside the base: other %d hits, fake reads %v", other.hits.Load(), medicationReads(fake))
		}
		if !strings.Contains(noteTexts(res.Notes), "Medication/lanreotide-120 is referenced on another server than fhirServer; not read") {
			t.Errorf("notes %q", noteTexts(res.Notes))
		}
	})
	t.Run("untrusted fhirServer: no connection, a note", func(t *testing.T) {
		t.Parallel()
		fake := newFakeFHIR(t, medRefBody(t, nil), true, nil)
		body := medRefBody(t, func(m map[string]any) {
			withoutMedication(m)
			m["fhirServer"] = fake.URL()
			m["fhirAuthorization"] = testFHIRAuthorization()
		})
		res := resolveMeds(t, fake, body, nil, nil)
		if fake.hits.Load() != 0 {
			t.Errorf("untrusted fhirServer read %d times", fake.hits.Load())
		}
		if !strings.Contains(noteTexts(res.Notes), "Medication/lanreotide-120 was not read: fhirServer is not a trusted FHIR server") {
			t.Errorf("notes %q", noteTexts(res.Notes))
		}
	})
	t.Run("nothing unresolved: no read", func(t *testing.T) {
		t.Parallel()
		fake := newFakeFHIR(t, medRefBody(t, nil), true, nil)
		body := medRefBody(t, func(m map[string]any) { m["fhirServer"] = fake.URL(); m["fhirAuthorization"] = testFHIRAuthorization() })
		res := resolveMeds(t, fake, body, []string{fake.URL()}, nil)
		if fake.hits.Load() != 0 || len(res.Notes) != 0 {
			t.Errorf("hits %d, notes %q: want none", fake.hits.Load(), noteTexts(res.Notes))
		}
	})
}

// MedicationAdministration is read in the fallback as in the prefetch: the platinum
// course given in clinic gives the same cards (nec-later-line) both ways.
func TestMedicationAdministrationFallback(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../testdata/requests/card-nec-later-line-administration.json")
	if err != nil {
		t.Fatal(err)
	}
	fake := newFakeFHIR(t, b, true, func(f *fakeFHIR) { f.pageSize = 3 })
	byPrefetch := answerVia(t, fake, b, nil)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "prefetch")
	m["fhirServer"] = fake.URL()
	m["fhirAuthorization"] = testFHIRAuthorization()
	fb, _ := json.Marshal(m)
	byFallback := answerVia(t, fake, fb, nil)
	if byFallback.status != http.StatusOK || !slices.Contains(byFallback.topics, cards.TopicNECLaterLine) {
		t.Fatalf("fallback: status %d, topics %v: want nec-later-line", byFallback.status, byFallback.topics)
	}
	if diff := cmp.Diff(byPrefetch.topics, byFallback.topics); diff != "" {
		t.Errorf("topics (-prefetch +fallback):\n%s", diff)
	}
	if !slices.ContainsFunc(fake.seenPaths(), func(p string) bool { return strings.HasPrefix(p, "/MedicationAdministration?patient=") }) {
		t.Errorf("the fallback did not search MedicationAdministration: %v", fake.seenPaths())
	}
}

// medVariant rewrites one medication record (a decoded resource with a coded
// medicationCodeableConcept) and may add resources beside it in its Bundle.
type medVariant func(res map[string]any, drug string) (extra []any)

var medVariants = map[string]medVariant{
	// text only: the drug's ingredient name, no code (the last-resort reading).
	"text only": func(res map[string]any, drug string) []any {
		res["medicationCodeableConcept"] = map[string]any{"text": drug}
		return nil
	},
	// a contained Medication carrying the code, referenced as "#med".
	"contained Medication": func(res map[string]any, _ string) []any {
		res["contained"] = []any{map[string]any{"resourceType": "Medication", "id": "med", "code": res["medicationCodeableConcept"]}}
		delete(res, "medicationCodeableConcept")
		res["medicationReference"] = map[string]any{"reference": "#med"}
		return nil
	},
	// a Medication in the same Bundle, referenced as Medication/{id}.
	"referenced Medication": func(res map[string]any, _ string) []any {
		id := "mm-" + res["id"].(string)
		med := map[string]any{"resourceType": "Medication", "id": id, "code": res["medicationCodeableConcept"]}
		delete(res, "medicationCodeableConcept")
		res["medicationReference"] = map[string]any{"reference": "Medication/" + id}
		return []any{map[string]any{"resource": med, "search": map[string]any{"mode": "include"}}}
	},
}

// codedDrug is the codes.csv drug of a concept's first verified drug coding ("" when none).
func codedDrug(cc any) string {
	m, _ := cc.(map[string]any)
	codings, _ := m["coding"].([]any)
	for _, c := range codings {
		cm, _ := c.(map[string]any)
		sys, _ := cm["system"].(string)
		code, _ := cm["code"].(string)
		if row, ok := fhirmap.Lookup(sys, code); ok && row.Status == "verified" {
			if d := strings.TrimSuffix(row.Concept, "-product"); slices.Contains(fhirmap.Drugs, d) {
				return d
			}
		}
	}
	return ""
}

// TestMedicationSourcesMetamorphic: over every request in testdata, moving each coded
// drug of a MedicationRequest, MedicationStatement or MedicationAdministration to text
// only, to a contained Medication, or to a Medication referenced in the Bundle leaves the
// card topics unchanged (docs/clinical.md §2: every source counts as therapy history).
func TestMedicationSourcesMetamorphic(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../testdata/requests/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no requests: %v", err)
	}
	engine := cards.NewEngine(cards.DefaultConfig(), SequentialIDs())
	topicsOf := func(t *testing.T, pid string, at time.Time, prefetch map[string]any) []string {
		t.Helper()
		var docs []json.RawMessage
		for _, k := range PrefetchKeys {
			if v, ok := prefetch[k]; ok && v != nil {
				b, err := json.Marshal(v)
				if err != nil {
					t.Fatal(err)
				}
				docs = append(docs, b)
			}
		}
		resp, err := Evaluate(engine, fhirmap.Input{PatientID: pid, At: at, Documents: docs})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, c := range resp.Cards {
			out = append(out, c.Source.Topic.Code)
		}
		slices.Sort(out)
		return out
	}
	changed := 0
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var req struct {
			Context struct{ PatientID string } `json:"context"`
		}
		if err := json.Unmarshal(b, &req); err != nil {
			t.Fatal(err)
		}
		at := fixtureAt(t, b)
		prefetchOf := func() map[string]any {
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			p, _ := m["prefetch"].(map[string]any)
			return p
		}
		base := topicsOf(t, req.Context.PatientID, at, prefetchOf())
		for name, variant := range medVariants {
			p := prefetchOf()
			n := 0
			for _, key := range []string{KeyMedicationRequests, KeyMedicationStatements, KeyMedicationAdministrations} {
				bundle, _ := p[key].(map[string]any)
				entries, _ := bundle["entry"].([]any)
				for _, e := range entries {
					res, _ := e.(map[string]any)["resource"].(map[string]any)
					if drug := codedDrug(res["medicationCodeableConcept"]); drug != "" {
						entries = append(entries, variant(res, drug)...)
						n++
					}
				}
				if bundle != nil {
					bundle["entry"] = entries
				}
			}
			if n == 0 {
				continue
			}
			changed++
			if got := topicsOf(t, req.Context.PatientID, at, p); !slices.Equal(base, got) {
				t.Errorf("%s, %d drugs moved to %s: topics %v, want %v", filepath.Base(file), n, name, got, base)
			}
		}
	}
	if changed < 5 {
		t.Errorf("only %d request variants had a coded drug to move: the check would prove little", changed)
	}
}
