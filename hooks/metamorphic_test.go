package hooks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nencds/nencds/cards"
	"github.com/nencds/nencds/hooks/auth"
)

// The metamorphic suite (issue 10, "Tests that generalise"; docs/clinical.md §2 and §4).
// Every request in testdata/requests is answered once as it is, then once per
// transformation that a real record may show without changing what is known about the
// patient. Each transformed answer must keep the card topics and the category of the
// summary, and may never add a treatment card:
//
//   - noise: unrelated Conditions, vital signs and laboratory results;
//   - withdrawn copies: an entered-in-error copy of every resource (and a refuted copy
//     of every Condition), under another id and with another value;
//   - shuffle: the order of the Bundle entries and of the prefetch keys;
//   - text-only drugs: every coded drug named by text only;
//   - pages: a prefetch Bundle split across pages, the rest read through its next link
//     from the FHIR server (the fake of fakefhir_test.go);
//   - fallback: no prefetch at all, everything read from the FHIR server.
//
// The requests are the fixtures of TestGolden (every hook); their answers there are the
// baseline.

// treatmentTopics are the cards whose reason to exist is a treatment or a procedure.
var treatmentTopics = []string{
	cards.TopicNECFirstLine, cards.TopicNECLaterLine, cards.TopicPNETTargeted, cards.TopicSSA,
	cards.TopicPRRT, cards.TopicSurgery, cards.TopicLiverMetsSurgery, cards.TopicLiverDirected,
	cards.TopicBoneEBRT,
}

var categoryRe = regexp.MustCompile(`^(NET G[123]|NEC|MiNEN|NEN, grade undetermined|Benign carcinoid tumour)`)

// outcome is what a transformation must keep: the sorted card topics and the category
// the summary names ("" without a summary card).
type outcome struct {
	Topics   []string
	Category string
}

func (o outcome) String() string { return fmt.Sprintf("%s %v", o.Category, o.Topics) }

func outcomeOfBody(t *testing.T, body []byte) outcome {
	t.Helper()
	var r cards.Response
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("answer: %v", err)
	}
	var o outcome
	o.Topics = []string{}
	for _, c := range r.Cards {
		code := c.Source.Topic.Code
		o.Topics = append(o.Topics, code)
		if code == cards.TopicSummary {
			o.Category = categoryRe.FindString(c.Summary)
		}
	}
	slices.Sort(o.Topics)
	return o
}

// metaFixture is one request of testdata/requests, decoded, with its evaluation time.
type metaFixture struct {
	name    string
	body    []byte
	at      time.Time
	patient string
	service string // the service of the request's hook
}

func metaFixtures(t *testing.T) []metaFixture {
	t.Helper()
	files, err := filepath.Glob("../testdata/requests/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/requests/*.json (%v)", err)
	}
	var out []metaFixture
	for _, file := range files {
		body, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var req struct {
			Context struct{ PatientID string } `json:"context"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		out = append(out, metaFixture{strings.TrimSuffix(filepath.Base(file), ".json"), body, fixtureAt(t, body), req.Context.PatientID, fixtureService(t, body).ID})
	}
	return out
}

// answerAt posts body to patient-view at the fixture's time and returns its outcome;
// o configures the server (nil: no FHIR server allowed).
func answerAt(t *testing.T, fx metaFixture, body []byte, o *Options) outcome {
	t.Helper()
	if o == nil {
		opts := testOptions(t, &fakeAuth{}, nil)
		o = &opts
	}
	o.Evaluator.Now = func() time.Time { return fx.at }
	w := do(newTestServer(t, *o).Handler(), http.MethodPost, "/cds-services/"+fx.service, body, nil)
	if w.Code != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", w.Code, w.Body)
	}
	checkWire(t, w.Body.Bytes())
	return outcomeOfBody(t, w.Body.Bytes())
}

// sameOutcome fails when the transformed answer changed the topics or the category,
// naming any treatment card it added.
func sameOutcome(t *testing.T, what string, base, got outcome) {
	t.Helper()
	for _, topic := range got.Topics {
		if slices.Contains(treatmentTopics, topic) && !slices.Contains(base.Topics, topic) {
			t.Errorf("%s added the treatment card %s", what, topic)
		}
	}
	if !slices.Equal(base.Topics, got.Topics) || base.Category != got.Category {
		t.Errorf("%s changed the answer:\n  before %s\n  after  %s", what, base, got)
	}
}

// request is a fixture decoded for editing; prefetch keeps its keys in an order of its
// own so that a transformation can change the order they are sent in.
type request struct {
	top      map[string]any
	keys     []string
	prefetch map[string]any
}

func decodeRequest(t *testing.T, body []byte) *request {
	t.Helper()
	var top map[string]any
	if err := json.Unmarshal(body, &top); err != nil {
		t.Fatal(err)
	}
	r := &request{top: top, prefetch: map[string]any{}}
	if p, ok := top["prefetch"].(map[string]any); ok {
		r.prefetch = p
		for _, k := range PrefetchKeys {
			if _, ok := p[k]; ok {
				r.keys = append(r.keys, k)
			}
		}
	}
	delete(top, "prefetch")
	return r
}

// encode writes the request with its prefetch keys in r.keys order.
func (r *request) encode(t *testing.T) []byte {
	t.Helper()
	head, err := json.Marshal(r.top)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.keys) == 0 {
		return head
	}
	var b bytes.Buffer
	b.Write(head[:len(head)-1])
	b.WriteString(`,"prefetch":{`)
	for i, k := range r.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		vb, err := json.Marshal(r.prefetch[k])
		if err != nil {
			t.Fatal(err)
		}
		b.Write(kb)
		b.WriteByte(':')
		b.Write(vb)
	}
	b.WriteString("}}")
	return b.Bytes()
}

// bundle returns the prefetch Bundle under key (nil when the key is absent, null or not
// a Bundle).
func (r *request) bundle(key string) map[string]any {
	b, _ := r.prefetch[key].(map[string]any)
	if b == nil || b["resourceType"] != "Bundle" {
		return nil
	}
	return b
}

func entries(b map[string]any) []any {
	e, _ := b["entry"].([]any)
	return e
}

// resources returns every resource of the Bundle entries.
func resources(b map[string]any) []map[string]any {
	var out []map[string]any
	for _, e := range entries(b) {
		if em, ok := e.(map[string]any); ok {
			if res, ok := em["resource"].(map[string]any); ok {
				out = append(out, res)
			}
		}
	}
	return out
}

// add appends resources to the Bundle under key, creating it when the key holds none.
func (r *request) add(key string, res ...map[string]any) {
	b := r.bundle(key)
	if b == nil {
		b = map[string]any{"resourceType": "Bundle", "type": "searchset"}
		r.prefetch[key] = b
		if !slices.Contains(r.keys, key) {
			r.keys = append(r.keys, key)
		}
	}
	es := entries(b)
	for _, x := range res {
		es = append(es, map[string]any{"resource": x, "search": map[string]any{"mode": "match"}})
	}
	b["entry"] = es
	if _, ok := b["total"]; ok {
		b["total"] = len(es)
	}
}

// deepCopy copies a decoded JSON value.
func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = deepCopy(e)
		}
		return s
	}
	return v
}

func coded(system, code, display string) map[string]any {
	return map[string]any{"coding": []any{map[string]any{"system": system, "code": code, "display": display}}, "text": display}
}

// noise returns unrelated Conditions and Observations of the patient, dated d.
func noise(patient, d string) (conds, obs []map[string]any) {
	subj := map[string]any{"reference": "Patient/" + patient}
	cond := func(id, code, display string) map[string]any {
		return map[string]any{
			"resourceType": "Condition", "id": id, "subject": subj, "recordedDate": d,
			"clinicalStatus":     coded("http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active"),
			"verificationStatus": coded("http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed", "Confirmed"),
			"code":               coded("http://hl7.org/fhir/sid/icd-10-cm", code, display),
		}
	}
	quantity := func(id, category, loinc, display string, v float64, unit string) map[string]any {
		return map[string]any{
			"resourceType": "Observation", "id": id, "status": "final", "subject": subj, "effectiveDateTime": d,
			"category":      []any{coded("http://terminology.hl7.org/CodeSystem/observation-category", category, category)},
			"code":          coded("http://loinc.org", loinc, display),
			"valueQuantity": map[string]any{"value": v, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
		}
	}
	conds = []map[string]any{
		cond("noise-htn", "I10", "Essential (primary) hypertension"),
		cond("noise-dm2", "E11.9", "Type 2 diabetes mellitus without complications"),
		cond("noise-oa", "M17.11", "Unilateral primary osteoarthritis, right knee"),
	}
	obs = []map[string]any{
		quantity("noise-hr", "vital-signs", "8867-4", "Heart rate", 72, "/min"),
		quantity("noise-weight", "vital-signs", "29463-7", "Body weight", 71.5, "kg"),
		quantity("noise-temp", "vital-signs", "8310-5", "Body temperature", 36.8, "Cel"),
		quantity("noise-hb", "laboratory", "718-7", "Hemoglobin [Mass/volume] in Blood", 13.1, "g/dL"),
		quantity("noise-creat", "laboratory", "2160-0", "Creatinine [Mass/volume] in Serum or Plasma", 0.9, "mg/dL"),
		quantity("noise-na", "laboratory", "2951-2", "Sodium [Moles/volume] in Serum or Plasma", 140, "mmol/L"),
	}
	return conds, obs
}

// withdraw turns a copy of res into a withdrawn one under another id, with another
// value: entered-in-error, or (refuted true, Conditions only) refuted.
func withdraw(res map[string]any, refuted bool) map[string]any {
	c := deepCopy(res).(map[string]any)
	suffix := "-eie"
	if refuted {
		suffix = "-refuted"
	}
	c["id"] = fmt.Sprint(c["id"]) + suffix
	switch c["resourceType"] {
	case "Condition":
		st := "entered-in-error"
		if refuted {
			st = "refuted"
		}
		c["verificationStatus"] = coded("http://terminology.hl7.org/CodeSystem/condition-ver-status", st, st)
		// Another value: a poorly differentiated carcinoma where the record had a NET,
		// and the other way round; liver where it had bone.
		c["code"] = coded("http://hl7.org/fhir/sid/icd-10-cm", "C7A.1", "Malignant poorly differentiated neuroendocrine carcinoma")
		if strings.Contains(fmt.Sprint(res["code"]), "C7A.1") {
			c["code"] = coded("http://hl7.org/fhir/sid/icd-10-cm", "C7A.012", "Malignant carcinoid tumor of the ileum")
		}
	case "Observation":
		c["status"] = "entered-in-error"
		if q, ok := c["valueQuantity"].(map[string]any); ok {
			if v, ok := q["value"].(float64); ok {
				q["value"] = v*3 + 41
			}
		}
		if _, ok := c["valueInteger"]; ok {
			c["valueInteger"] = 4
		}
	default: // MedicationRequest, MedicationStatement, Procedure, DiagnosticReport, ServiceRequest, Task
		c["status"] = "entered-in-error"
		if _, ok := c["medicationCodeableConcept"]; ok {
			c["medicationCodeableConcept"] = coded("http://www.nlm.nih.gov/research/umls/rxnorm", "357977", "sunitinib")
		}
		if _, ok := c["conclusion"]; ok {
			c["conclusion"] = "Entered in error: somatostatin receptor positive disease"
		}
	}
	return c
}

// textOnlyDrugs moves every coded drug of the request to text only: the codings go, and
// the text keeps the name (the first display when there was no text).
func textOnlyDrugs(r *request) {
	for _, key := range r.keys {
		for _, res := range resources(r.bundle(key)) {
			cc, ok := res["medicationCodeableConcept"].(map[string]any)
			if !ok {
				continue
			}
			if _, ok := cc["text"].(string); !ok {
				if codings, _ := cc["coding"].([]any); len(codings) > 0 {
					if c, _ := codings[0].(map[string]any); c != nil {
						cc["text"] = c["display"]
					}
				}
			}
			delete(cc, "coding")
		}
	}
}

func shuffle(r *request, rng *rand.Rand) {
	rng.Shuffle(len(r.keys), func(i, j int) { r.keys[i], r.keys[j] = r.keys[j], r.keys[i] })
	for _, key := range r.keys {
		if b := r.bundle(key); b != nil {
			es := entries(b)
			rng.Shuffle(len(es), func(i, j int) { es[i], es[j] = es[j], es[i] })
		}
	}
}

// TestMetamorphicPrefetch: noise, withdrawn copies, shuffles and text-only drugs in the
// prefetch leave every fixture's topics and category as they were.
func TestMetamorphicPrefetch(t *testing.T) {
	t.Parallel()
	for _, fx := range metaFixtures(t) {
		t.Run(fx.name, func(t *testing.T) {
			t.Parallel()
			base := answerAt(t, fx, fx.body, nil)
			transform := func(what string, f func(r *request)) {
				t.Helper()
				r := decodeRequest(t, fx.body)
				f(r)
				sameOutcome(t, what, base, answerAt(t, fx, r.encode(t), nil))
			}
			transform("unrelated Conditions, vitals and labs", func(r *request) {
				conds, obs := noise(fx.patient, fx.at.AddDate(0, 0, -10).Format(time.DateOnly))
				r.add(KeyConditions, conds...)
				r.add(KeyObservations, obs...)
			})
			transform("an entered-in-error copy of every resource", func(r *request) {
				for _, key := range slices.Clone(r.keys) {
					var copies []map[string]any
					for _, res := range resources(r.bundle(key)) {
						copies = append(copies, withdraw(res, false))
					}
					if len(copies) > 0 {
						r.add(key, copies...)
					}
				}
			})
			transform("a refuted copy of every Condition", func(r *request) {
				var copies []map[string]any
				for _, res := range resources(r.bundle(KeyConditions)) {
					copies = append(copies, withdraw(res, true))
				}
				if len(copies) > 0 {
					r.add(KeyConditions, copies...)
				}
			})
			for seed := range uint64(3) {
				transform(fmt.Sprintf("shuffled entries and keys (seed %d)", seed), func(r *request) {
					shuffle(r, rand.New(rand.NewPCG(seed, 0x6e656e)))
				})
			}
			transform("every coded drug named by text only", textOnlyDrugs)
		})
	}
}

// pageSizeFor is the smallest page size (at least 2) that keeps every Bundle of the
// request within 5 pages, well under the client's page cap.
func pageSizeFor(body []byte) int {
	var req struct {
		Prefetch map[string]struct {
			Entry []json.RawMessage `json:"entry"`
		} `json:"prefetch"`
	}
	_ = json.Unmarshal(body, &req)
	size := 2
	for _, b := range req.Prefetch {
		size = max(size, (len(b.Entry)+4)/5)
	}
	return size
}

// fhirOptions are server options whose client may read the fake FHIR server.
func fhirOptions(t *testing.T, fake *fakeFHIR) *Options {
	o := testOptions(t, &fakeAuth{client: auth.Client{FHIRServers: []string{fake.URL()}}}, fake.srv.Client().Transport)
	return &o
}

func withServer(m map[string]any, server string) {
	m["fhirServer"] = server
	m["fhirAuthorization"] = map[string]any{"access_token": "metamorphic-token", "token_type": "Bearer", "expires_in": 300, "scope": "patient/*.read", "subject": "cds-service"}
}

// TestMetamorphicFHIRServer: the same data read from the FHIR server — a prefetch Bundle
// split across pages and completed through its next link, or no prefetch at all (the
// fallback) — gives every fixture the same topics and category as its prefetch.
func TestMetamorphicFHIRServer(t *testing.T) {
	t.Parallel()
	for _, fx := range metaFixtures(t) {
		t.Run(fx.name, func(t *testing.T) {
			t.Parallel()
			base := answerAt(t, fx, fx.body, nil)

			t.Run("fallback", func(t *testing.T) {
				fake := newFakeFHIR(t, fx.body, true, func(f *fakeFHIR) { f.pageSize = pageSizeFor(fx.body) })
				r := decodeRequest(t, fx.body)
				// A null key means "no data" and stays unread; every other key is fetched.
				var keep []string
				for _, k := range r.keys {
					if r.prefetch[k] == nil {
						keep = append(keep, k)
					}
				}
				for k := range r.prefetch {
					if !slices.Contains(keep, k) {
						delete(r.prefetch, k)
					}
				}
				r.keys = keep
				withServer(r.top, fake.URL())
				got := answerAt(t, fx, r.encode(t), fhirOptions(t, fake))
				sameOutcome(t, "the fallback", base, got)
				if fake.hits.Load() == 0 {
					t.Error("the fallback never read the FHIR server")
				}
			})

			t.Run("pages", func(t *testing.T) {
				// Split every Bundle whose resources are of one type found under no other
				// key: the first page in the prefetch, the rest behind its next link.
				r := decodeRequest(t, fx.body)
				owner := map[string][]string{} // resource type → keys holding it
				for _, k := range r.keys {
					seen := map[string]bool{}
					for _, res := range resources(r.bundle(k)) {
						typ := fmt.Sprint(res["resourceType"])
						if !seen[typ] {
							seen[typ] = true
							owner[typ] = append(owner[typ], k)
						}
					}
				}
				size := pageSizeFor(fx.body)
				fake := newFakeFHIR(t, fx.body, true, func(f *fakeFHIR) { f.pageSize = size })
				split := 0
				for _, k := range r.keys {
					b := r.bundle(k)
					res := resources(b)
					if len(res) <= size {
						continue
					}
					typ := fmt.Sprint(res[0]["resourceType"])
					if len(owner[typ]) != 1 || slices.ContainsFunc(res, func(x map[string]any) bool { return x["resourceType"] != typ }) {
						continue
					}
					b["entry"] = entries(b)[:size]
					b["link"] = []any{map[string]any{"relation": "next", "url": fake.URL() + "/" + typ + "?patient=" + fx.patient + "&_page=1"}}
					split++
				}
				if split == 0 {
					t.Skip("no Bundle of this fixture has more than one page")
				}
				withServer(r.top, fake.URL())
				sameOutcome(t, fmt.Sprintf("%d Bundle(s) split across pages", split), base, answerAt(t, fx, r.encode(t), fhirOptions(t, fake)))
				if fake.hits.Load() == 0 {
					t.Error("the next links were never read")
				}
			})
		})
	}
}
