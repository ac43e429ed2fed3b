package cards

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// emitted is one draft resource with where it came from.
type emitted struct {
	where      string // scenario / topic / suggestion
	card       *Card
	suggestion *Suggestion
	raw        json.RawMessage
}

// allEmitted collects every resource of every suggestion of every scenario.
func allEmitted(t *testing.T) []emitted {
	t.Helper()
	var out []emitted
	for _, sc := range scenarios() {
		r := evaluateCfg(noCap(), sc.p)
		for ci := range r.Cards {
			c := &r.Cards[ci]
			for i := range c.Suggestions {
				s := &c.Suggestions[i]
				for _, a := range s.Actions {
					out = append(out, emitted{where: sc.name + "/" + topicOf(*c) + "/" + s.Label, card: c, suggestion: s, raw: a.Resource})
				}
			}
		}
	}
	for _, sc := range orderScenarios() {
		r := NewEngine(noCap(), seqIDs()).EvaluateOrders(sc.p, Orders{Drafts: sc.drafts})
		for ci := range r.Cards {
			c := &r.Cards[ci]
			for i := range c.Suggestions {
				s := &c.Suggestions[i]
				for _, a := range s.Actions {
					if a.Type == "delete" {
						continue // no resource: a resourceId
					}
					out = append(out, emitted{where: "order/" + sc.name + "/" + s.Label, card: c, suggestion: s, raw: a.Resource})
				}
			}
		}
	}
	return out
}

// TestEmittedResources checks every draft resource from every scenario: no empty
// objects, arrays or strings, no nulls, exactly one medication[x], no Task value[x],
// and the required content of each type.
func TestEmittedResources(t *testing.T) {
	t.Parallel()
	all := allEmitted(t)
	seen := map[string]int{}
	for _, e := range all {
		if err := CheckJSON(e.raw); err != nil {
			t.Errorf("%s: %v", e.where, err)
		}
		var m map[string]any
		if err := json.Unmarshal(e.raw, &m); err != nil {
			t.Fatalf("%s: %v", e.where, err)
		}
		rt, _ := m["resourceType"].(string)
		seen[rt]++
		ref := func(k string) string {
			o, _ := m[k].(map[string]any)
			s, _ := o["reference"].(string)
			return s
		}
		switch rt {
		case "MedicationRequest":
			checkMedicationRequest(t, e, m)
		case "ServiceRequest":
			if m["status"] != "draft" || m["intent"] != "proposal" {
				t.Errorf("%s: ServiceRequest status/intent %v/%v", e.where, m["status"], m["intent"])
			}
			code, _ := m["code"].(map[string]any)
			if codings, _ := code["coding"].([]any); len(codings) == 0 {
				t.Errorf("%s: ServiceRequest not coded: %s", e.where, e.raw)
			}
			if !strings.HasPrefix(ref("subject"), "Patient/") {
				t.Errorf("%s: ServiceRequest subject %q", e.where, ref("subject"))
			}
			if rr, _ := m["reasonReference"].([]any); len(rr) != 1 || !(strings.HasPrefix(rr[0].(map[string]any)["reference"].(string), "Condition/") || strings.HasPrefix(rr[0].(map[string]any)["reference"].(string), "Observation/")) {
				t.Errorf("%s: ServiceRequest reasonReference %v", e.where, m["reasonReference"])
			}
		case "Task":
			if m["status"] != "draft" || m["intent"] != "proposal" {
				t.Errorf("%s: Task status/intent %v/%v, want draft/proposal (principle 8)", e.where, m["status"], m["intent"])
			}
			if m["code"] == nil && m["description"] == nil {
				t.Errorf("%s: Task without code or description", e.where)
			}
			if !strings.HasPrefix(ref("for"), "Patient/") {
				t.Errorf("%s: Task for %q", e.where, ref("for"))
			}
			for k := range m {
				if strings.HasPrefix(k, "value") || strings.HasPrefix(k, "input") || strings.HasPrefix(k, "output") {
					t.Errorf("%s: Task has %s", e.where, k)
				}
			}
			restr, _ := m["restriction"].(map[string]any)
			period, _ := restr["period"].(map[string]any)
			if period["start"] == nil || period["end"] == nil {
				t.Errorf("%s: Task without due window: %s", e.where, e.raw)
			}
			desc, _ := m["description"].(string)
			if strings.Contains(desc, " every ") && restr["repetitions"] == nil {
				t.Errorf("%s: recurring Task without repetitions: %s", e.where, e.raw)
			}
		default:
			t.Errorf("%s: unexpected resourceType %q", e.where, rt)
		}
	}
	for _, rt := range []string{"MedicationRequest", "ServiceRequest", "Task"} {
		if seen[rt] == 0 {
			t.Errorf("no %s emitted by any scenario: the check proves nothing for it", rt)
		}
	}
}

func checkMedicationRequest(t *testing.T, e emitted, m map[string]any) {
	t.Helper()
	if m["status"] != "draft" || m["intent"] != "proposal" {
		t.Errorf("%s: MedicationRequest status/intent %v/%v", e.where, m["status"], m["intent"])
	}
	var variants []string
	for k := range m {
		if strings.HasPrefix(k, "medication") {
			variants = append(variants, k)
		}
	}
	if len(variants) != 1 || variants[0] != "medicationCodeableConcept" {
		t.Errorf("%s: medication[x] variants %v, want exactly medicationCodeableConcept", e.where, variants)
	}
	mcc, _ := m["medicationCodeableConcept"].(map[string]any)
	text, _ := mcc["text"].(string)
	codings, _ := mcc["coding"].([]any)
	if text == "" {
		t.Errorf("%s: medication without text", e.where)
	}
	// A drug is coded exactly when codes.csv holds a verified RxNorm code for it;
	// otherwise it is named in text only and the card warns the clinician what that
	// means at signing, in words for the clinician (no code-list status).
	dr := drugOf(text)
	switch {
	case dr.Coding != nil && len(codings) != 1:
		t.Errorf("%s: medication %q without its verified RxNorm coding", e.where, text)
	case dr.Coding == nil && len(codings) != 0:
		t.Errorf("%s: medication %q carries a coding that is not verified: %v", e.where, text, codings)
	case dr.Coding == nil && !regexp.MustCompile(`The (\w+, )*(\w+ and )?`+text+`( and \w+)? drafts? names? the drug by name only, without a drug code`).MatchString(e.card.Detail):
		t.Errorf("%s: uncoded %q and the card does not say so:\n%s", e.where, text, e.card.Detail)
	case len(codings) == 1:
		if c := codings[0].(map[string]any); c["system"] != RxNormSystem || c["code"] != dr.Coding.Code {
			t.Errorf("%s: medication coding %v, want RxNorm %s", e.where, c, dr.Coding.Code)
		}
	}
	dos, _ := m["dosageInstruction"].([]any)
	if len(dos) != 1 || dos[0].(map[string]any)["text"] == "" {
		t.Errorf("%s: dosageInstruction %v", e.where, m["dosageInstruction"])
	}
	subj, _ := m["subject"].(map[string]any)
	if s, _ := subj["reference"].(string); !strings.HasPrefix(s, "Patient/") {
		t.Errorf("%s: subject %v", e.where, m["subject"])
	}
	if rr, _ := m["reasonReference"].([]any); len(rr) != 1 || !strings.HasPrefix(rr[0].(map[string]any)["reference"].(string), "Condition/") {
		t.Errorf("%s: reasonReference %v", e.where, m["reasonReference"])
	}
	// A regimen of two drugs shares one groupIdentifier; a single drug has none.
	groups := map[string]bool{}
	n := 0
	for _, a := range e.suggestion.Actions {
		var mr struct {
			ResourceType    string `json:"resourceType"`
			GroupIdentifier *struct{ Value string }
		}
		_ = json.Unmarshal(a.Resource, &mr)
		if mr.ResourceType != "MedicationRequest" {
			continue
		}
		n++
		if mr.GroupIdentifier != nil {
			groups[mr.GroupIdentifier.Value] = true
		}
	}
	if n > 1 && len(groups) != 1 {
		t.Errorf("%s: %d drugs with %d group identifiers, want one shared", e.where, n, len(groups))
	}
	if n == 1 && len(groups) != 0 {
		t.Errorf("%s: single drug with a groupIdentifier", e.where)
	}
}

// TestEmittedResourcesSchema validates every emitted resource against the official FHIR
// R4 JSON schema (NENCDS_FHIR_SCHEMA; skipped when unset).
func TestEmittedResourcesSchema(t *testing.T) {
	t.Parallel()
	s := loadFHIRSchema(t)
	all := allEmitted(t)
	for _, e := range all {
		if errs := s.Validate(e.raw); len(errs) > 0 {
			t.Errorf("%s: %s\n%s", e.where, strings.Join(errs, "; "), e.raw)
		}
	}
	t.Logf("%d resources valid against the FHIR R4 schema", len(all))
}

// TestResponseFixtures checks the end-to-end golden responses of the card-<topic>
// requests (testdata/responses, written by the hooks harness): each names its topic,
// every card passes Validate, and every resource is clean and, with NENCDS_FHIR_SCHEMA,
// schema-valid.
func TestResponseFixtures(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../testdata/responses/card-*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Skip("no ../testdata/responses/card-*.json yet (go test ./hooks -update writes them)")
	}
	var schema *jsonSchema
	if os.Getenv("NENCDS_FHIR_SCHEMA") != "" {
		schema = loadFHIRSchema(t)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var r Response
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		topic := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "card-"), ".json")
		switch topic {
		case "none": // no NEN (only entered-in-error and refuted NEN Conditions): exactly {"cards": []}
			var generic any
			_ = json.Unmarshal(b, &generic)
			if got, _ := json.Marshal(generic); string(got) != `{"cards":[]}` {
				t.Errorf("%s: %s, want {\"cards\": []}", f, got)
			}
		case "draft-order": // the pnet-targeted patient with sunitinib already drafted (accepted from an earlier card): neither sunitinib nor its alternative again
			if hasTopic(r, TopicPNETTargeted) || !hasTopic(r, TopicSummary) || bytes.Contains(b, []byte(`"resourceType": "MedicationRequest"`)) {
				t.Errorf("%s: drafted drug suggested again: %v", f, topics(r))
			}
		case "entered-in-error": // a Ki-67 of 87 % entered in error: not used, not quoted
			if bytes.Contains(b, []byte("87")) || !hasTopic(r, TopicSummary) || !strings.HasPrefix(card(r, TopicSummary).Summary, "NET G1") {
				t.Errorf("%s: entered-in-error Ki-67 used or quoted: %v", f, topics(r))
			}
		case "nec-later-line-administration": // the platinum course given in clinic (MedicationAdministration) is prior platinum
			if !hasTopic(r, TopicNECLaterLine) || hasTopic(r, TopicNECFirstLine) {
				t.Errorf("%s: platinum given in clinic not read as prior platinum: %v", f, topics(r))
			}
		case "net-ssa-medication-reference", "net-ssa-administration": // the net-ssa patient already on lanreotide (a referenced Medication; a dose given 3 weeks ago)
			if hasTopic(r, TopicSSA) || !hasTopic(r, TopicSummary) || bytes.Contains(b, []byte(`"resourceType": "MedicationRequest"`)) {
				t.Errorf("%s: an SSA suggested to a patient on lanreotide: %v", f, topics(r))
			}
		default:
			if !hasTopic(r, topic) {
				t.Errorf("%s: no %s card: %v", f, topic, topics(r))
			}
		}
		if err := r.Validate(); err != nil {
			t.Errorf("%s: %v", f, err)
		}
		for _, c := range r.Cards {
			for _, s := range c.Suggestions {
				for _, a := range s.Actions {
					if schema == nil {
						continue
					}
					if errs := schema.Validate(a.Resource); len(errs) > 0 {
						t.Errorf("%s/%s: %s", f, topicOf(c), strings.Join(errs, "; "))
					}
				}
			}
		}
	}
}
