package cards

import "encoding/json"

// TopicSystem is the code system of every card's source.topic. The codes (nen-summary,
// nec-first-line, ...) are a stable contract: EHR analytics and feedback group by them.
const TopicSystem = "https://github.com/nencds/nencds/CodeSystem/topic"

// Indicator is the urgency of a card.
type Indicator string

const (
	Info     Indicator = "info"
	Warning  Indicator = "warning"
	Critical Indicator = "critical"
)

// Coding is a CDS Hooks / FHIR Coding on the wire.
type Coding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code"`
	Display string `json:"display,omitempty"`
}

// Source names the guideline behind a card and its topic.
type Source struct {
	Label string  `json:"label"`
	URL   string  `json:"url,omitempty"`
	Icon  string  `json:"icon,omitempty"`
	Topic *Coding `json:"topic,omitempty"`
}

// Action is one change a suggestion makes: "create" a draft resource.
type Action struct {
	Type        string          `json:"type"` // create, update, delete
	Description string          `json:"description"`
	Resource    json.RawMessage `json:"resource,omitempty"`
	ResourceID  string          `json:"resourceId,omitempty"`
}

// Suggestion is a set of actions the clinician can accept with one click.
type Suggestion struct {
	Label         string   `json:"label"`
	UUID          string   `json:"uuid"`
	IsRecommended bool     `json:"isRecommended,omitempty"`
	Actions       []Action `json:"actions,omitempty"`
}

// Link is a link to a guideline ("absolute") or to a SMART app ("smart").
type Link struct {
	Label      string `json:"label"`
	URL        string `json:"url"`
	Type       string `json:"type"`
	AppContext string `json:"appContext,omitempty"`
}

// Card is one CDS Hooks card.
type Card struct {
	UUID              string       `json:"uuid"`
	Summary           string       `json:"summary"`
	Detail            string       `json:"detail,omitempty"`
	Indicator         Indicator    `json:"indicator"`
	Source            Source       `json:"source"`
	Suggestions       []Suggestion `json:"suggestions,omitempty"`
	SelectionBehavior string       `json:"selectionBehavior,omitempty"` // at-most-one, any
	OverrideReasons   []Coding     `json:"overrideReasons,omitempty"`
	Links             []Link       `json:"links,omitempty"`
}

// Response is the body of a CDS Hooks service response. Cards is never nil, so that a
// patient without a finding gets {"cards": []}.
type Response struct {
	Cards []Card `json:"cards"`
	// Invalid names, by topic code, the cards that a rule built but that failed
	// validation: they are not returned (a bad card never reaches a clinician), and they
	// are a defect in the rule. Not part of the CDS Hooks body; the adapter logs and counts
	// them (topic codes only), and Validate fails on any, so the tests do.
	Invalid []string `json:"-"`
}

// add appends c, or, when c fails validation, records its topic in Invalid instead: a
// bad card is never emitted, and never dropped silently.
func (r *Response) add(topic string, c Card) {
	r.Cards, r.Invalid = addCard(r.Cards, r.Invalid, topic, c)
}

// addCard is add on the two lists.
func addCard(cards []Card, invalid []string, topic string, c Card) ([]Card, []string) {
	if c.checkFields() != nil {
		return cards, append(invalid, topic)
	}
	return append(cards, c), invalid
}
