package cards

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxSummary is the CDS Hooks limit on a card summary: fewer than 140 characters.
const MaxSummary = 140

// Validate checks the CDS Hooks invariants of one card: summary shorter than 140
// characters, indicator info|warning|critical, source.label, uuid on the card and its
// suggestions, selectionBehavior whenever there are suggestions, at most one
// isRecommended and only with at-most-one, description on every action, display on
// every override reason, appContext only on smart links, and no null, empty string,
// empty object or empty array anywhere in its JSON. It returns every problem found.
func (c Card) Validate() error {
	return errors.Join(c.checkFields(), c.checkDeep())
}

// checkFields checks the invariants of the fields: what Evaluate runs on every card it
// builds. The engine's drafts satisfy checkDeep by construction (omitempty everywhere),
// which the tests prove over every scenario with Validate.
func (c Card) checkFields() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.UUID == "" {
		bad("card: uuid missing")
	}
	if c.Summary == "" {
		bad("card: summary missing")
	}
	if n := utf8.RuneCountInString(c.Summary); n >= MaxSummary {
		bad("card: summary has %d characters, want < %d", n, MaxSummary)
	}
	switch c.Indicator {
	case Info, Warning, Critical:
	default:
		bad("card: indicator %q not info|warning|critical", c.Indicator)
	}
	if c.Source.Label == "" {
		bad("card: source.label missing")
	}
	if c.Source.Topic != nil && (c.Source.Topic.Code == "" || c.Source.Topic.System == "") {
		bad("card: source.topic without system or code")
	}
	if len(c.Suggestions) > 0 {
		switch c.SelectionBehavior {
		case "at-most-one", "any":
		default:
			bad("card: selectionBehavior %q with suggestions, want at-most-one or any", c.SelectionBehavior)
		}
	} else if c.SelectionBehavior != "" {
		bad("card: selectionBehavior without suggestions")
	}
	recommended := 0
	for i, s := range c.Suggestions {
		if s.UUID == "" {
			bad("suggestion %d: uuid missing", i)
		}
		if s.Label == "" {
			bad("suggestion %d: label missing", i)
		}
		if s.IsRecommended {
			recommended++
		}
		for j, a := range s.Actions {
			if a.Description == "" {
				bad("suggestion %d action %d: description missing", i, j)
			}
			switch a.Type {
			case "create", "update":
				if len(a.Resource) == 0 {
					bad("suggestion %d action %d: %s without resource", i, j, a.Type)
				}
			case "delete":
			default:
				bad("suggestion %d action %d: type %q", i, j, a.Type)
			}
		}
	}
	if recommended > 1 {
		bad("card: %d suggestions isRecommended, want at most one", recommended)
	}
	if recommended == 1 && c.SelectionBehavior != "at-most-one" {
		bad("card: isRecommended needs selectionBehavior at-most-one")
	}
	for i, r := range c.OverrideReasons {
		if r.Display == "" {
			bad("overrideReason %d: display missing", i)
		}
	}
	for i, l := range c.Links {
		if l.Label == "" || l.URL == "" {
			bad("link %d: label and url required", i)
		}
		switch l.Type {
		case "absolute":
			if l.AppContext != "" {
				bad("link %d: appContext on an absolute link", i)
			}
		case "smart":
		default:
			bad("link %d: type %q", i, l.Type)
		}
	}
	return errors.Join(errs...)
}

// checkDeep checks what the engine's drafts satisfy by construction: the recurrence of
// every Task drafted, and the card's JSON (no null, empty string, empty object or empty
// array anywhere: CheckJSON).
func (c Card) checkDeep() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	for i, s := range c.Suggestions {
		for j, a := range s.Actions {
			if err := checkTaskRecurrence(a.Resource); err != nil {
				bad("suggestion %d action %d: %v", i, j, err)
			}
		}
	}
	raw, err := json.Marshal(c)
	if err != nil {
		bad("card: marshal: %v", err)
	} else if err := CheckJSON(raw); err != nil {
		bad("card: %v", err)
	}
	return errors.Join(errs...)
}

// Validate checks every card of the response, and fails when the engine left out a card
// that failed validation (Invalid): every test that validates a response catches a rule
// that builds a bad card.
func (r Response) Validate() error {
	var errs []error
	if r.Cards == nil {
		errs = append(errs, errors.New("response: cards is nil (would marshal as null)"))
	}
	for _, topic := range r.Invalid {
		errs = append(errs, fmt.Errorf("response: a %s card failed validation and was left out", topic))
	}
	for i, c := range r.Cards {
		if err := c.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("card %d (%s): %w", i, topicOf(c), err))
		}
	}
	return errors.Join(errs...)
}

func topicOf(c Card) string {
	if c.Source.Topic == nil {
		return ""
	}
	return c.Source.Topic.Code
}

// CheckJSON reports every null, empty string, empty object and empty array in a JSON
// document, by path. FHIR forbids them in resources and CDS Hooks clients reject them.
func CheckJSON(raw []byte) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return err
	}
	var problems []string
	walkJSON(v, "$", &problems)
	if len(problems) > 0 {
		return fmt.Errorf("empty or null JSON values at %s", strings.Join(problems, ", "))
	}
	return nil
}

func walkJSON(v any, path string, problems *[]string) {
	switch x := v.(type) {
	case nil:
		*problems = append(*problems, path+" (null)")
	case string:
		if strings.TrimSpace(x) == "" {
			*problems = append(*problems, path+" (empty string)")
		}
	case []any:
		if len(x) == 0 {
			*problems = append(*problems, path+" (empty array)")
		}
		for i, e := range x {
			walkJSON(e, fmt.Sprintf("%s[%d]", path, i), problems)
		}
	case map[string]any:
		if len(x) == 0 {
			*problems = append(*problems, path+" (empty object)")
		}
		for k, e := range x {
			walkJSON(e, path+"."+k, problems)
		}
	}
}

// truncateSummary keeps a summary under MaxSummary characters, cutting at a word
// boundary and marking the cut with an ellipsis.
func truncateSummary(s string) string {
	if utf8.RuneCountInString(s) < MaxSummary {
		return s
	}
	r := []rune(s)[:MaxSummary-2]
	cut := string(r)
	if i := strings.LastIndex(cut, " "); i > MaxSummary/2 {
		cut = cut[:i]
	}
	return strings.TrimRight(cut, " ,;:") + "…"
}

// everyRe finds the interval a recurring Task's description names: "every 3 months".
var everyRe = regexp.MustCompile(`\bevery (\d+) (day|days|week|weeks|month|months)\b`)

// checkTaskRecurrence checks that a draft Task's restriction.repetitions,
// restriction.period and the interval its description names agree (docs/clinical.md §4):
// a recurring Task (repetitions > 1) names its interval, and its period spans exactly
// repetitions × interval from its start (every 3 months, 4 repetitions: 12 months); a
// Task that names an interval is recurring. Other resources pass.
func checkTaskRecurrence(raw json.RawMessage) error {
	if len(raw) == 0 {
		return nil
	}
	var t struct {
		ResourceType string `json:"resourceType"`
		Description  string `json:"description"`
		Restriction  *struct {
			Repetitions int `json:"repetitions"`
			Period      *struct {
				Start string `json:"start"`
				End   string `json:"end"`
			} `json:"period"`
		} `json:"restriction"`
	}
	if err := json.Unmarshal(raw, &t); err != nil || t.ResourceType != "Task" {
		return nil
	}
	reps := 0
	if t.Restriction != nil {
		reps = t.Restriction.Repetitions
	}
	m := everyRe.FindStringSubmatch(t.Description)
	switch {
	case m == nil && reps > 1:
		return fmt.Errorf("task: %d repetitions but the description names no interval (\"every N days|weeks|months\")", reps)
	case m == nil:
		return nil
	case reps < 2:
		return fmt.Errorf("task: the description says %q but restriction.repetitions is %d", m[0], reps)
	case t.Restriction.Period == nil:
		return errors.New("task: recurring without restriction.period")
	}
	start, err1 := time.Parse(time.DateOnly, t.Restriction.Period.Start)
	end, err2 := time.Parse(time.DateOnly, t.Restriction.Period.End)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("task: restriction.period %q to %q is not two dates", t.Restriction.Period.Start, t.Restriction.Period.End)
	}
	n, _ := strconv.Atoi(m[1])
	var want time.Time
	switch {
	case strings.HasPrefix(m[2], "day"):
		want = start.AddDate(0, 0, n*reps)
	case strings.HasPrefix(m[2], "week"):
		want = start.AddDate(0, 0, 7*n*reps)
	default:
		want = start.AddDate(0, n*reps, 0)
	}
	if !end.Equal(want) {
		return fmt.Errorf("task: %d repetitions %s from %s end on %s, but restriction.period ends on %s",
			reps, m[0], t.Restriction.Period.Start, want.Format(time.DateOnly), t.Restriction.Period.End)
	}
	return nil
}
