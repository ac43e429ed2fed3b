package cards

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nencds/nencds/fhirmap"
)

func validCard() Card {
	return Card{
		UUID: "u1", Summary: "ok", Detail: "d", Indicator: Info,
		Source:            Source{Label: "ESMO", URL: "https://example.org", Topic: &Coding{System: TopicSystem, Code: TopicSummary}},
		SelectionBehavior: "at-most-one",
		Suggestions:       []Suggestion{{Label: "a", UUID: "s1", IsRecommended: true, Actions: []Action{{Type: "create", Description: "x", Resource: json.RawMessage(`{"resourceType":"Task"}`)}}}},
		OverrideReasons:   []Coding{{Code: "c", Display: "C"}},
		Links:             []Link{{Label: "l", URL: "https://example.org", Type: "absolute"}},
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	if err := validCard().Validate(); err != nil {
		t.Fatalf("valid card: %v", err)
	}
	tests := []struct {
		name, want string
		mutate     func(*Card)
	}{
		{"summary 140 characters", "summary has 140", func(c *Card) { c.Summary = strings.Repeat("é", 140) }},
		{"indicator", "indicator", func(c *Card) { c.Indicator = "hint" }},
		{"source label", "source.label", func(c *Card) { c.Source.Label = "" }},
		{"card uuid", "card: uuid", func(c *Card) { c.UUID = "" }},
		{"suggestion uuid", "suggestion 0: uuid", func(c *Card) { c.Suggestions[0].UUID = "" }},
		{"selectionBehavior", "selectionBehavior", func(c *Card) { c.SelectionBehavior = "" }},
		{"two recommended", "2 suggestions isRecommended", func(c *Card) { c.Suggestions = append(c.Suggestions, c.Suggestions[0]) }},
		{"recommended with any", "needs selectionBehavior at-most-one", func(c *Card) { c.SelectionBehavior = "any" }},
		{"action description", "description missing", func(c *Card) { c.Suggestions[0].Actions[0].Description = "" }},
		{"override display", "display missing", func(c *Card) { c.OverrideReasons[0].Display = "" }},
		{"appContext on absolute", "appContext on an absolute", func(c *Card) { c.Links[0].AppContext = "{}" }},
		{"empty resource object", "empty object", func(c *Card) {
			c.Suggestions[0].Actions[0].Resource = json.RawMessage(`{"resourceType":"Task","code":{}}`)
		}},
		{"null in resource", "null", func(c *Card) {
			c.Suggestions[0].Actions[0].Resource = json.RawMessage(`{"resourceType":"Task","x":null}`)
		}},
		{"empty array in resource", "empty array", func(c *Card) {
			c.Suggestions[0].Actions[0].Resource = json.RawMessage(`{"resourceType":"Task","note":[]}`)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := validCard()
			tt.mutate(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
	if err := (Response{}).Validate(); err == nil {
		t.Error("nil cards accepted")
	}
}

func TestTruncateSummary(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("word ", 60)
	got := truncateSummary(long)
	if n := len([]rune(got)); n >= MaxSummary || !strings.HasSuffix(got, "…") {
		t.Errorf("truncateSummary: %d runes %q", n, got)
	}
	if got := truncateSummary("short"); got != "short" {
		t.Errorf("short summary changed: %q", got)
	}
}

func TestWriteText(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := WriteText(&b, Response{Cards: []Card{}}); err != nil || b.String() != "No cards.\n" {
		t.Errorf("empty: %q, %v", b.String(), err)
	}
	b.Reset()
	r := evaluate(with(nec, age(75)))
	if err := WriteText(&b, r); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"[WARNING] NEC without prior platinum", "Topic: nec-first-line", "1. Start carboplatin + etoposide (recommended)",
		"MedicationRequest · draft/proposal · carboplatin · dosage: AUC 5 IV day 1 every 21 days (with etoposide)", "**Facts used**", "`Observation/ki67`"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("report lacks %q:\n%s", s, b.String())
		}
	}
}

func TestDefaultConfig(t *testing.T) {
	t.Parallel()
	c := DefaultConfig()
	if c.ElderlyAge != 70 || c.ProgressionWindowMonths != 6 || c.CycleDaysChemo != 21 || c.CycleDaysOral != 28 || c.ECOGChemoMax != 2 || c.ECOGSurgeryMax != 1 || c.SMARTAppURL != "" {
		t.Errorf("defaults changed: %+v", c)
	}
	for _, g := range []Guideline{c.Guidelines.ESMO, c.Guidelines.ENETS, c.Guidelines.WHO, c.Guidelines.NCCN, c.Guidelines.Sutent, c.Guidelines.Afinitor, c.Guidelines.Lutathera} {
		if g.Label == "" || !strings.HasPrefix(g.URL, "https://") {
			t.Errorf("guideline %+v", g)
		}
	}
}

// Every codes.csv concept a rule orders must resolve, or the drafts would be uncoded.
func TestOrderConceptsResolve(t *testing.T) {
	t.Parallel()
	for _, c := range []string{"chromogranin-a", "5-hiaa-24h-urine", "ct-abdomen-pelvis-contrast", "sstr-pet", "hepatic-panel", "echocardiogram", "tace-tae", "rfa-liver", "ebrt", "prrt", "lutathera"} {
		if len(codingsOf(c)) == 0 {
			t.Errorf("concept %s has no code in codes.csv", c)
		}
	}
	// Coded: the drugs whose RxNorm ingredient code codes.csv marks verified. Uncoded:
	// lanreotide (no code yet) and octreotide (7617 not verified) — their drafts name
	// the drug in text only. Both keep the reviewed dosage text.
	uncoded := []string{"octreotide", "lanreotide"}
	for _, d := range []string{"cisplatin", "carboplatin", "etoposide", "temozolomide", "capecitabine", "sunitinib", "everolimus", "octreotide", "lanreotide"} {
		dr := drugOf(d)
		if dr.Dosage == "" || dr.Name != d {
			t.Errorf("drug %s: name %q dosage %q", d, dr.Name, dr.Dosage)
		}
		if want := !slices.Contains(uncoded, d); (dr.Coding != nil) != want {
			t.Errorf("drug %s coded = %v, want %v (%+v)", d, dr.Coding != nil, want, dr)
		}
		if dr.Coding != nil {
			if row, ok := fhirmap.Lookup(dr.Coding.System, dr.Coding.Code); !ok || !row.Verified() {
				t.Errorf("drug %s carries code %s that codes.csv does not mark verified", d, dr.Coding.Code)
			}
		}
	}
}

func BenchmarkEvaluate(b *testing.B) {
	p := picture(pancreaticNET(), ki67(10, "Observation/ki67", day(2025, 11, 1)), ki67(25, "Observation/ki67-old", day(2021, 1, 1)), mitoses(3), gradeLabel(2),
		liverMets(), boneMets(), syndrome(), progression(day(2026, 4, 1)), sstr(fhirmap.SSTRPositive, 3), ecog(1),
		therapy("sunitinib", true, day(2026, 1, 10)), lvef(44, "Observation/lvef-2", day(2026, 5, 15)), lvef(60, "Observation/lvef-1", day(2026, 1, 5)),
		marker("chromogranin-a", "yes", day(2026, 5, 1)))
	cfg := DefaultConfig()
	cfg.SMARTAppURL = "https://app.example.org/launch"
	e := NewEngine(cfg, seqIDs())
	b.ReportAllocs()
	for b.Loop() {
		r := e.Evaluate(p)
		if len(r.Cards) == 0 {
			b.Fatal("no cards")
		}
	}
}

func TestNilIDGenerator(t *testing.T) {
	t.Parallel()
	r := NewEngine(DefaultConfig(), nil).Evaluate(with(nec))
	if len(r.Cards) == 0 {
		t.Fatal("no cards")
	}
	seen := map[string]bool{}
	for _, c := range r.Cards {
		if len(c.UUID) != 36 || c.UUID[14] != '4' || seen[c.UUID] {
			t.Errorf("uuid %q", c.UUID)
		}
		seen[c.UUID] = true
	}
}

// TestInvalidCardReported: a card that fails validation is never emitted and never
// dropped silently: its topic is recorded in Response.Invalid (which the adapter logs and
// counts) and Response.Validate fails.
func TestInvalidCardReported(t *testing.T) {
	t.Parallel()
	en := NewEngine(DefaultConfig(), seqIDs())
	r := Response{Cards: []Card{}}
	r.add(TopicWorkup, validCard())
	r.add(TopicSummary, en.build(rule{topic: TopicSummary, display: "NEN summary"}, draftCard{indicator: Info})) // no summary
	if len(r.Cards) != 1 || r.Cards[0].Summary != validCard().Summary {
		t.Errorf("cards = %+v; want only the valid one", r.Cards)
	}
	if diff := cmp.Diff([]string{TopicSummary}, r.Invalid); diff != "" {
		t.Errorf("Invalid (-want +got):\n%s", diff)
	}
	err := r.Validate()
	if err == nil || !strings.Contains(err.Error(), TopicSummary+" card failed validation") {
		t.Errorf("Validate() = %v; want the left-out card named", err)
	}
	if b, _ := json.Marshal(r); strings.Contains(string(b), "nvalid") {
		t.Errorf("Invalid is in the CDS Hooks body: %s", b)
	}
}
