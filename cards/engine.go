// Package cards holds the NEN treatment guideline as reviewable rules: one rule per topic
// code, each reading the fhirmap.Picture and producing CDS Hooks cards with draft orders
// (MedicationRequest, ServiceRequest) and monitoring tasks (Task). The clinical
// specification is ../shared/clinical/GUIDELINE.md. Rules never read the clock: the
// evaluation time is Picture.At.
package cards

import "github.com/nencds/nencds/fhirmap"

// Engine evaluates the rules with one Config.
//
// TODO(cards): contract stub; the rules are being built.
type Engine struct {
	cfg   Config
	newID func() string
}

// Config holds the local policy: thresholds, windows and limits with documented defaults.
type Config struct {
	// MaxCards caps the number of cards returned (0: no cap).
	MaxCards int
	// SMARTAppURL, when set, adds a "smart" link to every card.
	SMARTAppURL string
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config { return Config{} }

// NewEngine returns an Engine. newID makes the uuid of each card and suggestion
// (random in the server, deterministic in tests).
func NewEngine(cfg Config, newID func() string) *Engine {
	return &Engine{cfg: cfg, newID: newID}
}

// Evaluate applies every rule to p at p.At and returns the cards, critical first.
func (e *Engine) Evaluate(p *fhirmap.Picture) Response {
	return Response{Cards: []Card{}}
}
