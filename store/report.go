package store

import (
	"slices"
	"time"
)

// Report is the acceptance of the cards per topic since a time (`nencds report`).
type Report struct {
	Since  time.Time     `json:"since"`
	Topics []TopicReport `json:"topics"`
	// Unmatched counts feedback items about cards the store does not know (issued before
	// the store, by another deployment, or never); they are in no topic.
	Unmatched int `json:"unmatched_feedback"`
}

// TopicReport is the acceptance of one topic code.
type TopicReport struct {
	Topic      string `json:"topic"`
	Issued     int    `json:"issued"`
	Accepted   int    `json:"accepted"`
	Overridden int    `json:"overridden"`
	// OverrideReasons counts overrides per reason code ("uncoded": no coded reason).
	OverrideReasons map[string]int `json:"override_reasons"`
	// AcceptanceRate is accepted ÷ (accepted + overridden); null without feedback.
	AcceptanceRate *float64 `json:"acceptance_rate"`
	// SuggestionAcceptances counts accepted suggestions per suggestion label.
	SuggestionAcceptances map[string]int `json:"suggestion_acceptances"`
}

// UncodedReason is the override_reasons key of overrides without a coded reason.
const UncodedReason = "uncoded"

// reportBuilder aggregates rows into a Report (shared by every backend).
type reportBuilder struct {
	since     time.Time
	topics    map[string]*TopicReport
	unmatched int
}

func newReportBuilder(since time.Time) *reportBuilder {
	return &reportBuilder{since: since, topics: map[string]*TopicReport{}}
}

func (b *reportBuilder) topic(t string) *TopicReport {
	r := b.topics[t]
	if r == nil {
		r = &TopicReport{Topic: t, OverrideReasons: map[string]int{}, SuggestionAcceptances: map[string]int{}}
		b.topics[t] = r
	}
	return r
}

func (b *reportBuilder) issued(topic string, n int) { b.topic(topic).Issued += n }

// feedback adds one item; matched says whether its card is known (topic, suggestions).
func (b *reportBuilder) feedback(matched bool, topic, outcome, reasonCode string, accepted []string, suggestions []Suggestion) {
	if !matched {
		b.unmatched++
		return
	}
	r := b.topic(topic)
	switch outcome {
	case "accepted":
		r.Accepted++
		for _, id := range accepted {
			label := "unknown suggestion"
			for _, s := range suggestions {
				if s.UUID == id {
					label = s.Label
					break
				}
			}
			r.SuggestionAcceptances[label]++
		}
	case "overridden":
		r.Overridden++
		if reasonCode == "" {
			reasonCode = UncodedReason
		}
		r.OverrideReasons[reasonCode]++
	}
}

func (b *reportBuilder) report() *Report {
	out := &Report{Since: b.since.UTC(), Topics: []TopicReport{}, Unmatched: b.unmatched}
	for _, r := range b.topics {
		if n := r.Accepted + r.Overridden; n > 0 {
			rate := float64(r.Accepted) / float64(n)
			r.AcceptanceRate = &rate
		}
		out.Topics = append(out.Topics, *r)
	}
	slices.SortFunc(out.Topics, func(a, b TopicReport) int {
		if a.Topic < b.Topic {
			return -1
		}
		if a.Topic > b.Topic {
			return 1
		}
		return 0
	})
	return out
}
