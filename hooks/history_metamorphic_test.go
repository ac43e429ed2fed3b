package hooks

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nencds/nencds/cards"
)

// Metamorphic test of the tumour history (docs/clinical.md §2, "one tumour, a
// history"): adding an older, resolved NEN Condition with its metastasis and older
// results to any request must leave the card topics and the category unchanged, and
// never add a treatment card. The old tumour is a rectal NET with a liver metastasis
// (tied by condition-related), a Ki-67 of 45 % (tied only by its date, before the
// tumour resolved), a well-differentiated statement (tied by focus) and M1 (by date):
// merged into the active picture it would change the grade, the differentiation and the
// extent.
//
// A request without a NEN gains the summary of the old tumour (a resolved NEN is a NEN
// on record; nen-suspected then no longer applies) and the monitoring of any drug the
// patient takes: for those the test asks that no other card is added and no treatment
// card appears.
func TestMetamorphicOlderResolvedTumour(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../testdata/requests/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no requests: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".json")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			body, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			at := fixtureAt(t, body)
			var req map[string]json.RawMessage
			if err := json.Unmarshal(body, &req); err != nil {
				t.Fatal(err)
			}
			withHistory, ok := addOldTumour(t, req)
			if !ok {
				t.Skip("no conditions and observations Bundles in the prefetch")
			}
			before := evaluateAt(t, body, at)
			after := evaluateAt(t, withHistory, at)
			bt, at2 := cardTopics(before), cardTopics(after)
			if !slices.Contains(bt, cards.TopicSummary) {
				for _, x := range at2 {
					if !slices.Contains(bt, x) && !slices.Contains(allowedWithoutNEN, x) {
						t.Errorf("no NEN before; the old tumour added %s: %v → %v", x, bt, at2)
					}
				}
			} else {
				if !slices.Equal(bt, at2) {
					t.Errorf("topics changed: %v → %v", bt, at2)
				}
				if cb, ca := category(before), category(after); cb != ca {
					t.Errorf("category changed: %q → %q", cb, ca)
				}
			}
			for _, c := range after.Cards {
				if !treatmentTopic(c) {
					continue
				}
				found := false
				for _, b := range before.Cards {
					if b.Source.Topic != nil && b.Source.Topic.Code == c.Source.Topic.Code {
						found = true
					}
				}
				if !found {
					t.Errorf("treatment card %s added by an older resolved tumour", c.Source.Topic.Code)
				}
			}
		})
	}
}

// allowedWithoutNEN are the cards a resolved NEN may add to a patient with no NEN on
// record: its summary, and the monitoring of an anticancer drug the patient takes
// (docs/rules.md: monitoring remains for a resolved NEN).
// At order-select / order-sign, the checks of the drafts against the (now present)
// NEN apply too.
var allowedWithoutNEN = []string{cards.TopicSummary, cards.TopicMonitorHepatic, cards.TopicMonitorCardiac, cards.TopicFollowUp, cards.TopicOrderCheck}

// treatmentTopic: a card whose suggestions start a drug or a treatment referral.
func treatmentTopic(c cards.Card) bool {
	switch c.Source.Topic.Code {
	case cards.TopicNECFirstLine, cards.TopicNECLaterLine, cards.TopicPNETTargeted, cards.TopicSSA, cards.TopicPRRT,
		cards.TopicSurgery, cards.TopicLiverMetsSurgery, cards.TopicLiverDirected, cards.TopicBoneEBRT:
		return true
	}
	return false
}

func evaluateAt(t *testing.T, body []byte, at time.Time) cards.Response {
	t.Helper()
	o := testOptions(t, &fakeAuth{}, nil)
	o.Evaluator.Now = func() time.Time { return at }
	s := newTestServer(t, o)
	svc := fixtureService(t, body)
	w := do(s.Handler(), http.MethodPost, "/cds-services/"+svc.ID, body, nil)
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var resp cards.Response
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	return resp
}

func cardTopics(r cards.Response) []string {
	var out []string
	for _, c := range r.Cards {
		if c.Source.Topic != nil {
			out = append(out, c.Source.Topic.Code)
		}
	}
	slices.Sort(out)
	return out
}

// category is the category the summary card names (before its first comma).
func category(r cards.Response) string {
	for _, c := range r.Cards {
		if c.Source.Topic != nil && c.Source.Topic.Code == cards.TopicSummary {
			cat, _, _ := strings.Cut(c.Summary, ",")
			return cat
		}
	}
	return ""
}

// addOldTumour returns the request with the old tumour added to its conditions and
// observations Bundles (false when the prefetch has no such Bundles).
func addOldTumour(t *testing.T, req map[string]json.RawMessage) ([]byte, bool) {
	t.Helper()
	var ctx struct {
		PatientID string `json:"patientId"`
	}
	if err := json.Unmarshal(req["context"], &ctx); err != nil {
		t.Fatal(err)
	}
	var prefetch map[string]json.RawMessage
	if err := json.Unmarshal(req["prefetch"], &prefetch); err != nil || prefetch == nil {
		return nil, false
	}
	subject := `"subject":{"reference":"Patient/` + ctx.PatientID + `"}`
	conditions := []string{
		`{"resourceType":"Condition","id":"history-net-rectum",` + subject + `,"clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"resolved"}]},"verificationStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-ver-status","code":"confirmed"}]},"code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"C7A.026","display":"Malignant carcinoid tumor of the rectum"}]},"onsetDateTime":"2009-03-02","abatementDateTime":"2011-06-30"}`,
		`{"resourceType":"Condition","id":"history-liver-met",` + subject + `,"clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"resolved"}]},"code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"C7B.02"}]},"onsetDateTime":"2009-04-01","extension":[{"url":"http://hl7.org/fhir/StructureDefinition/condition-related","valueReference":{"reference":"Condition/history-net-rectum"}}]}`,
	}
	observations := []string{
		`{"resourceType":"Observation","id":"history-ki67","status":"final",` + subject + `,"code":{"coding":[{"system":"http://loinc.org","code":"29593-1"}]},"effectiveDateTime":"2009-02-20","valueQuantity":{"value":45,"unit":"%","system":"http://unitsofmeasure.org","code":"%"}}`,
		`{"resourceType":"Observation","id":"history-diff","status":"final",` + subject + `,"code":{"coding":[{"system":"https://github.com/nencds/nencds/CodeSystem/observation","code":"differentiation"}]},"effectiveDateTime":"2009-02-20","valueString":"well differentiated","focus":[{"reference":"Condition/history-net-rectum"}]}`,
		`{"resourceType":"Observation","id":"history-m1","status":"final",` + subject + `,"code":{"coding":[{"system":"http://loinc.org","code":"21907-1"}]},"effectiveDateTime":"2009-04-01","valueCodeableConcept":{"coding":[{"system":"http://cancerstaging.org","code":"cM1"}]}}`,
	}
	for key, add := range map[string][]string{"conditions": conditions, "observations": observations} {
		var b map[string]any
		if err := json.Unmarshal(prefetch[key], &b); err != nil || b == nil || b["resourceType"] != "Bundle" {
			return nil, false
		}
		entries, _ := b["entry"].([]any)
		for _, r := range add {
			var res any
			if err := json.Unmarshal([]byte(r), &res); err != nil {
				t.Fatal(err)
			}
			entries = append(entries, map[string]any{"resource": res})
		}
		b["entry"] = entries
		if _, ok := b["total"]; ok {
			b["total"] = len(entries)
		}
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		prefetch[key] = raw
	}
	raw, err := json.Marshal(prefetch)
	if err != nil {
		t.Fatal(err)
	}
	req["prefetch"] = raw
	out, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return out, true
}
