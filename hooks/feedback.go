package hooks

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"sync"
	"time"

	"github.com/nencds/nencds/cards"
	"github.com/nencds/nencds/store"
)

// Budgets of one feedback request: every stored byte has one (the body cap bounds the
// rest).
const (
	MaxFeedbackItems   = 100  // items per request
	MaxUserComment     = 4096 // bytes of overrideReason.userComment
	MaxFeedbackID      = 128  // characters of a card or suggestion uuid
	MaxAcceptedPerItem = 64   // accepted suggestions per item
	MaxReasonSystem    = 256  // characters of overrideReason.reason.system
	MaxReasonCode      = 128  // characters of overrideReason.reason.code
)

// FeedbackRequest is the body of POST /cds-services/{id}/feedback.
type FeedbackRequest struct {
	Feedback []Feedback `json:"feedback"`
}

// Feedback is one feedback item: what the clinician did with a card.
type Feedback struct {
	Card                string               `json:"card"`
	Outcome             string               `json:"outcome"` // accepted, overridden
	AcceptedSuggestions []AcceptedSuggestion `json:"acceptedSuggestions,omitempty"`
	OverrideReason      *OverrideReason      `json:"overrideReason,omitempty"`
	OutcomeTimestamp    string               `json:"outcomeTimestamp"`
}

// AcceptedSuggestion names an accepted suggestion by its uuid.
type AcceptedSuggestion struct {
	ID string `json:"id"`
}

// outcomeTime parses outcomeTimestamp: an RFC 3339 instant in UTC (CDS Hooks 2.0), "Z"
// or an offset of zero. The store keys duplicates on the instant, however written.
func (f Feedback) outcomeTime() (time.Time, error) {
	t, err := time.Parse(time.RFC3339, f.OutcomeTimestamp)
	if err != nil {
		return time.Time{}, Errorf(KindInvalid, "outcomeTimestamp must be an RFC 3339 instant")
	}
	if _, off := t.Zone(); off != 0 {
		return time.Time{}, Errorf(KindInvalid, "outcomeTimestamp must be in UTC (Z), not with an offset")
	}
	return t.UTC(), nil
}

// OverrideReason is why a card was overridden: a coded reason, a comment, or both.
type OverrideReason struct {
	Reason      *ReasonCoding `json:"reason,omitempty"`
	UserComment string        `json:"userComment,omitempty"`
}

// ReasonCoding is the coded override reason (one of the card's overrideReasons).
type ReasonCoding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code"`
	Display string `json:"display,omitempty"`
}

// Validate checks the body per CDS Hooks 2.0. Every error is KindInvalid and names the item.
func (r *FeedbackRequest) Validate() error {
	if r.Feedback == nil {
		return Errorf(KindInvalid, "feedback is required")
	}
	if len(r.Feedback) == 0 {
		return Errorf(KindInvalid, "feedback must hold at least one item")
	}
	if len(r.Feedback) > MaxFeedbackItems {
		return Errorf(KindInvalid, "feedback holds %d items, more than %d: send them in several calls", len(r.Feedback), MaxFeedbackItems)
	}
	for i, f := range r.Feedback {
		if err := f.validate(); err != nil {
			return Errorf(KindInvalid, "feedback[%d]: %s", i, err.(*Error).Msg)
		}
	}
	return nil
}

func (f Feedback) validate() error {
	if f.Card == "" {
		return Errorf(KindInvalid, "card is required")
	}
	if len(f.Card) > MaxFeedbackID {
		return Errorf(KindInvalid, "card is longer than %d characters", MaxFeedbackID)
	}
	if f.OutcomeTimestamp == "" {
		return Errorf(KindInvalid, "outcomeTimestamp is required")
	}
	if _, err := f.outcomeTime(); err != nil {
		return err
	}
	switch f.Outcome {
	case "accepted":
		if len(f.AcceptedSuggestions) == 0 {
			return Errorf(KindInvalid, "acceptedSuggestions is required when the outcome is accepted")
		}
		if len(f.AcceptedSuggestions) > MaxAcceptedPerItem {
			return Errorf(KindInvalid, "acceptedSuggestions holds more than %d suggestions", MaxAcceptedPerItem)
		}
		for j, s := range f.AcceptedSuggestions {
			if s.ID == "" {
				return Errorf(KindInvalid, "acceptedSuggestions[%d].id is required", j)
			}
			if len(s.ID) > MaxFeedbackID {
				return Errorf(KindInvalid, "acceptedSuggestions[%d].id is longer than %d characters", j, MaxFeedbackID)
			}
		}
		if f.OverrideReason != nil {
			return Errorf(KindInvalid, "overrideReason is only for the outcome overridden")
		}
	case "overridden":
		if len(f.AcceptedSuggestions) > 0 {
			return Errorf(KindInvalid, "acceptedSuggestions is only for the outcome accepted")
		}
		if o := f.OverrideReason; o != nil {
			if o.Reason == nil && o.UserComment == "" {
				return Errorf(KindInvalid, "overrideReason needs a reason or a userComment")
			}
			if r := o.Reason; r != nil {
				// CDS Hooks 2.0: the reason is a Coding with both system and code.
				if r.Code == "" {
					return Errorf(KindInvalid, "overrideReason.reason.code is required")
				}
				if r.System == "" {
					return Errorf(KindInvalid, "overrideReason.reason.system is required")
				}
				if len(r.Code) > MaxReasonCode || len(r.System) > MaxReasonSystem {
					return Errorf(KindInvalid, "overrideReason.reason: system over %d or code over %d characters", MaxReasonSystem, MaxReasonCode)
				}
			}
			if len(o.UserComment) > MaxUserComment {
				return Errorf(KindInvalid, "overrideReason.userComment is longer than %d bytes", MaxUserComment)
			}
		}
	case "":
		return Errorf(KindInvalid, "outcome is required")
	default:
		return Errorf(KindInvalid, "outcome must be accepted or overridden")
	}
	return nil
}

// record returns the store's record of a validated item received at received.
func (f Feedback) record(issuer, serviceID string, received time.Time) store.Feedback {
	at, _ := f.outcomeTime() // validated
	r := store.Feedback{
		Issuer: issuer, ServiceID: serviceID, Card: f.Card, Outcome: f.Outcome,
		OutcomeTime: at, Received: received.UTC(),
	}
	for _, s := range f.AcceptedSuggestions {
		r.Accepted = append(r.Accepted, s.ID)
	}
	if o := f.OverrideReason; o != nil {
		r.Comment = o.UserComment
		if o.Reason != nil {
			r.ReasonSystem, r.ReasonCode = o.Reason.System, o.Reason.Code
		}
	}
	return r
}

// fingerprintBufs hold the bytes Fingerprint hashes (a card's detail: a few KiB).
var fingerprintBufs = sync.Pool{New: func() any { return new([]byte) }}

// Fingerprint is the digest of what a card says about the patient: its topic, urgency,
// summary, detail (where the facts it used are listed with their values, dates and
// references) and suggestion labels. New data changes it; the digest holds no chart text.
func Fingerprint(c cards.Card) string {
	topic := topicOf(c)
	// The digest of the parts, each followed by a NUL, hashed in one piece; its first 16
	// bytes in hex.
	n := len(topic) + len(c.Indicator) + len(c.Summary) + len(c.Detail) + 4
	for _, s := range c.Suggestions {
		n += len(s.Label) + 1
	}
	bp := fingerprintBufs.Get().(*[]byte)
	b := slices.Grow((*bp)[:0], n)
	for _, s := range []string{topic, string(c.Indicator), c.Summary, c.Detail} {
		b = append(b, s...)
		b = append(b, 0)
	}
	for _, s := range c.Suggestions {
		b = append(b, s.Label...)
		b = append(b, 0)
	}
	sum := sha256.Sum256(b)
	if cap(b) <= 64<<10 {
		*bp = b
		fingerprintBufs.Put(bp)
	}
	var out [32]byte
	hex.Encode(out[:], sum[:16])
	return string(out[:])
}

// topicOf returns the topic code of a card ("" for none).
func topicOf(c cards.Card) string {
	if c.Source.Topic != nil {
		return c.Source.Topic.Code
	}
	return ""
}

// suppressible reports whether an overridden card may be held back: never a critical
// card (a safety finding, docs/clinical.md §1), never nen-summary (what nencds understood,
// with the data-quality notes, docs/clinical.md §4).
func suppressible(c cards.Card) bool {
	return c.Indicator != cards.Critical && topicOf(c) != cards.TopicSummary
}
