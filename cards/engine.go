// Package cards holds the NEN treatment guideline as reviewable rules: one rule per topic
// code (the rule_*.go files, each with its When/Then in plain words and its guideline
// reference), reading the fhirmap.Picture and producing CDS Hooks cards with draft orders
// (MedicationRequest, ServiceRequest) and monitoring tasks (Task); and the order checks
// of order-select / order-sign (orders.go and one order_*.go per check, topic
// order-check). The clinical specification is docs/clinical.md; docs/rules.md is the
// reviewer's guide.
// Rules never read the clock: the evaluation time is Picture.At.
package cards

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/nencds/nencds/fhirmap"
)

// Engine evaluates the rules with one Config. It is safe for concurrent use when
// newID is.
type Engine struct {
	cfg   Config
	newID func() string
}

// NewEngine returns an Engine. newID makes the uuid of each card and suggestion
// (random in the server, deterministic in tests); nil means random version-4 UUIDs.
func NewEngine(cfg Config, newID func() string) *Engine {
	if newID == nil {
		newID = randomUUID
	}
	return &Engine{cfg: cfg, newID: newID}
}

// randomUUID returns a random (version 4) UUID.
func randomUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return uuidString(b)
}

// uuidString sets the version (4) and variant bits of b and writes it as a UUID:
// 8-4-4-4-12 lower-case hex digits.
func uuidString(b [16]byte) string {
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], b[10:16])
	return string(out[:])
}

// Config returns the engine's configuration.
func (e *Engine) Config() Config { return e.cfg }

// rule is one guideline recommendation: its topic code and the function that decides
// whether it fires and builds its card(s).
type rule struct {
	topic   string
	display string
	apply   func(e *eval) []draftCard
}

// draftCard is what a rule returns; the engine turns it into a Card (uuids, source,
// links, override reasons) and checks it.
type draftCard struct {
	indicator Indicator
	summary   string
	reason    string
	facts     []fact
	extra     []string
	guideline Guideline
	// links are further guideline sources (e.g. drug labels), shown as absolute links.
	links       []Guideline
	suggestions []draftSuggestion
	// atMostOne sets selectionBehavior at-most-one (alternatives); otherwise "any".
	atMostOne bool
	// treatment marks a card whose reason to exist is its drug suggestions: it is
	// dropped when the safety guard removes all of them.
	treatment bool
}

type draftSuggestion struct {
	label       string
	recommended bool
	actions     []Action
	// drugs are the codes.csv drug concepts the suggestion would start.
	drugs []string
}

// rules is the rule set in display order within an indicator.
var rules = []rule{
	{TopicSummary, "NEN summary", ruleSummary},
	{TopicClassificationIncomplete, "Classification incomplete", ruleClassificationIncomplete},
	{TopicGradeDiscordance, "Grade discordance", ruleGradeDiscordance},
	{TopicOutsideAlgorithm, "Outside the algorithm", ruleOutsideAlgorithm},
	{TopicMonitorCardiac, "Cardiac monitoring", ruleMonitorCardiac},
	{TopicMonitorHepatic, "Hepatic monitoring", ruleMonitorHepatic},
	{TopicNECFirstLine, "NEC first line", ruleNECFirstLine},
	{TopicNECLaterLine, "NEC later line", ruleNECLaterLine},
	{TopicPNETTargeted, "pNET targeted therapy", rulePNETTargeted},
	{TopicWorkup, "Baseline work-up", ruleWorkup},
	{TopicSurgery, "Surgery of the primary", ruleSurgery},
	{TopicLiverMetsSurgery, "Surgery of liver metastases", ruleLiverMetsSurgery},
	{TopicSSA, "Somatostatin analogue", ruleSSA},
	{TopicPRRT, "PRRT", rulePRRT},
	{TopicLiverDirected, "Liver-directed therapy", ruleLiverDirected},
	{TopicBoneEBRT, "Radiotherapy of bone metastases", ruleBoneEBRT},
	{TopicFollowUp, "Follow-up schedule", ruleFollowUp},
	{TopicSuspected, "NEN suspected", ruleSuspected},
}

// Topics returns every topic code, in rule order, then the order checks' topic.
func Topics() []string {
	out := make([]string, len(rules), len(rules)+1)
	for i, r := range rules {
		out[i] = r.topic
	}
	return append(out, TopicOrderCheck)
}

// Evaluate applies every rule to p at p.At and returns the cards, critical first, then
// warning, then info, capped at Config.MaxCards. A nil picture gives no cards.
func (en *Engine) Evaluate(p *fhirmap.Picture) Response {
	if p == nil {
		return Response{Cards: []Card{}}
	}
	// The cards are collected on the stack (beyond 16, append moves them to the heap),
	// then copied once to a list of their number.
	var stack [16]Card
	built, invalid := stack[:0], []string(nil)
	e := newEval(sanitize(p), en.cfg, en.newID)
	for _, r := range rules {
		for _, dc := range r.apply(e) {
			dc = guard(e, dc)
			if dc.treatment && len(dc.suggestions) == 0 {
				continue
			}
			if n := uncodedNote(suggestedDrugs(dc)...); n != "" {
				dc.extra = append(dc.extra, n)
			}
			if n := unidentifiedNote(e.p, suggestedDrugs(dc)); n != "" {
				dc.extra = append(dc.extra, n)
			}
			built, invalid = addCard(built, invalid, r.topic, en.build(r, dc))
		}
	}
	resp := Response{Cards: append(make([]Card, 0, len(built)), built...), Invalid: invalid}
	slices.SortStableFunc(resp.Cards, func(a, b Card) int { return rank(a.Indicator) - rank(b.Indicator) })
	if en.cfg.MaxCards > 0 && len(resp.Cards) > en.cfg.MaxCards {
		resp.Cards = resp.Cards[:en.cfg.MaxCards]
	}
	return resp
}

func rank(i Indicator) int {
	switch i {
	case Critical:
		return 0
	case Warning:
		return 1
	}
	return 2
}

// guard enforces safety principles 1–3 on every suggestion, whatever the rule said:
// no drug the patient already takes (active or on hold) or that is already ordered (an
// open order for it, e.g. a draft MedicationRequest accepted from an earlier card); no
// platinum–etoposide for a well-differentiated NET; no SSA, everolimus, sunitinib or
// PRRT for a NEC; no drug at all while the grade is undetermined or the diagnosis is
// not a confirmed, active, malignant NEN inside the algorithm. When the card offers
// alternatives (at-most-one) and one of them is already ordered, the choice has been
// made: none of them is offered.
func guard(e *eval, dc draftCard) draftCard {
	if dc.atMostOne {
		for _, s := range dc.suggestions {
			for _, d := range s.drugs {
				if e.drugOrdered(d) != nil {
					dc.suggestions = nil
					return dc
				}
			}
		}
	}
	kept := dc.suggestions[:0:0]
	for _, s := range dc.suggestions {
		if !drugsAllowed(e, s.drugs) {
			continue
		}
		kept = append(kept, s)
	}
	dc.suggestions = kept
	n := 0
	for _, s := range kept {
		if s.recommended {
			n++
		}
	}
	if n > 1 || !dc.atMostOne {
		for i := range dc.suggestions {
			dc.suggestions[i].recommended = false
		}
	}
	return dc
}

func drugsAllowed(e *eval, drugs []string) bool {
	if len(drugs) == 0 {
		return true
	}
	if e.cls.Uncertain() || !e.treatable() {
		return false
	}
	wellDiff := e.cls.Differentiation == fhirmap.DiffWell || e.cls.Category == CatNETG1 || e.cls.Category == CatNETG2 || e.cls.Category == CatNETG3
	for _, d := range drugs {
		if e.activeDrug(d) != nil || e.drugOrdered(d) != nil {
			return false
		}
		if wellDiff && slices.Contains(necOnlyDrugs, d) {
			return false
		}
		if e.cls.Category == CatNEC && slices.Contains(netOnlyDrugs, d) {
			return false
		}
	}
	return true
}

// unidentifiedNote is the line every card that suggests starting a drug adds when
// active (or possibly active) medication records could not be identified: one of them
// may be the suggested drug (safety principle 3). It names the records.
func unidentifiedNote(p *fhirmap.Picture, drugs []string) string {
	if len(drugs) == 0 || len(p.UnidentifiedMedications) == 0 {
		return ""
	}
	facts := make([]fact, 0, len(p.UnidentifiedMedications))
	for _, s := range p.UnidentifiedMedications {
		facts = append(facts, fact{"Unidentified medication record", "active or possibly active", s})
	}
	return fmt.Sprintf("**%d active medication record(s) could not be identified: check the medication list before ordering.**\n\n",
		len(p.UnidentifiedMedications)) + renderFacts(facts)
}

// suggestedDrugs lists the drug concepts of a card's suggestions, once each.
func suggestedDrugs(dc draftCard) []string {
	var out []string
	for _, s := range dc.suggestions {
		for _, d := range s.drugs {
			if !slices.Contains(out, d) {
				out = append(out, d)
			}
		}
	}
	return out
}

// Override reasons offered on every card with suggestions (CDS Hooks overrideReasons).
const OverrideSystem = "https://github.com/nencds/nencds/CodeSystem/override-reason"

var overrideReasons = []Coding{
	{System: OverrideSystem, Code: "already-addressed", Display: "Already addressed (outside this record)"},
	{System: OverrideSystem, Code: "clinical-judgement", Display: "Not appropriate for this patient (clinical judgement)"},
	{System: OverrideSystem, Code: "patient-declined", Display: "Patient declined"},
	{System: OverrideSystem, Code: "data-incorrect", Display: "Patient data shown is incorrect"},
}

func (en *Engine) build(r rule, dc draftCard) Card {
	c := Card{
		UUID:      en.newID(),
		Summary:   truncateSummary(dc.summary),
		Detail:    renderDetail(dc.reason, dc.facts, dc.extra...),
		Indicator: dc.indicator,
		Source: Source{
			Label: dc.guideline.Label,
			URL:   dc.guideline.URL,
			Topic: &Coding{System: TopicSystem, Code: r.topic, Display: r.display},
		},
	}
	for _, s := range dc.suggestions {
		if len(s.actions) == 0 {
			continue
		}
		c.Suggestions = append(c.Suggestions, Suggestion{
			Label:         s.label,
			UUID:          en.newID(),
			IsRecommended: s.recommended && dc.atMostOne,
			Actions:       s.actions,
		})
	}
	if len(c.Suggestions) > 0 {
		c.SelectionBehavior = "any"
		if dc.atMostOne {
			c.SelectionBehavior = "at-most-one"
		}
		c.OverrideReasons = overrideReasons
	}
	if dc.guideline.URL != "" {
		c.Links = append(c.Links, Link{Label: dc.guideline.Label, URL: dc.guideline.URL, Type: "absolute"})
	}
	for _, g := range dc.links {
		if g.URL != "" {
			c.Links = append(c.Links, Link{Label: g.Label, URL: g.URL, Type: "absolute"})
		}
	}
	if en.cfg.SMARTAppURL != "" {
		// The app opens on this card: its topic, its uuid, and the facts it used.
		ctx, _ := json.Marshal(struct {
			Topic string   `json:"topic"`
			UUID  string   `json:"uuid"`
			Facts []string `json:"facts,omitempty"`
		}{r.topic, c.UUID, refsOf(dc.facts)})
		c.Links = append(c.Links, Link{Label: "Open in the NEN app", URL: en.cfg.SMARTAppURL, Type: "smart", AppContext: string(ctx)})
	}
	return c
}

// Topic codes (docs/clinical.md §4). They are a stable contract: EHR analytics and feedback
// reports group by them.
const (
	TopicSummary                  = "nen-summary"
	TopicClassificationIncomplete = "nen-classification-incomplete"
	TopicGradeDiscordance         = "nen-grade-discordance"
	TopicOutsideAlgorithm         = "nen-outside-algorithm"
	TopicWorkup                   = "nen-workup"
	TopicNECFirstLine             = "nec-first-line"
	TopicNECLaterLine             = "nec-later-line"
	TopicSurgery                  = "nen-surgery"
	TopicLiverMetsSurgery         = "net-liver-mets-surgery"
	TopicPNETTargeted             = "pnet-targeted"
	TopicSSA                      = "net-ssa"
	TopicPRRT                     = "net-prrt"
	TopicLiverDirected            = "net-liver-directed"
	TopicBoneEBRT                 = "nen-bone-mets-ebrt"
	TopicMonitorHepatic           = "monitor-hepatic"
	TopicMonitorCardiac           = "monitor-cardiac"
	TopicFollowUp                 = "followup-schedule"
	TopicSuspected                = "nen-suspected"
)
