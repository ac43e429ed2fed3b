package hooks

import (
	"context"
	"sync"
	"time"
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
	if len(f.Card) > 128 {
		return Errorf(KindInvalid, "card is longer than 128 characters")
	}
	if f.OutcomeTimestamp == "" {
		return Errorf(KindInvalid, "outcomeTimestamp is required")
	}
	if _, err := time.Parse(time.RFC3339, f.OutcomeTimestamp); err != nil {
		return Errorf(KindInvalid, "outcomeTimestamp must be an RFC 3339 instant")
	}
	switch f.Outcome {
	case "accepted":
		if len(f.AcceptedSuggestions) == 0 {
			return Errorf(KindInvalid, "acceptedSuggestions is required when the outcome is accepted")
		}
		for j, s := range f.AcceptedSuggestions {
			if s.ID == "" {
				return Errorf(KindInvalid, "acceptedSuggestions[%d].id is required", j)
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
			if o.Reason != nil && o.Reason.Code == "" {
				return Errorf(KindInvalid, "overrideReason.reason.code is required")
			}
		}
	case "":
		return Errorf(KindInvalid, "outcome is required")
	default:
		return Errorf(KindInvalid, "outcome must be accepted or overridden")
	}
	return nil
}

// FeedbackKey identifies one feedback item, so that a resent item is stored once. It is
// the primary key a persistent store would use.
type FeedbackKey struct {
	Issuer           string // the authenticated client ("" in -dev)
	ServiceID        string
	Card             string
	Outcome          string
	OutcomeTimestamp string
}

// FeedbackStore keeps feedback. Put is idempotent: it reports whether the item was new.
type FeedbackStore interface {
	Put(ctx context.Context, key FeedbackKey, f Feedback) (created bool, err error)
}

// MemoryFeedbackStore is an in-memory FeedbackStore holding at most Max items (the oldest
// is forgotten first).
type MemoryFeedbackStore struct {
	Max int

	mu    sync.Mutex
	items map[FeedbackKey]Feedback
	order []FeedbackKey
}

var _ FeedbackStore = (*MemoryFeedbackStore)(nil)

// NewMemoryFeedbackStore returns a store of at most max items (100000 when max <= 0).
func NewMemoryFeedbackStore(max int) *MemoryFeedbackStore {
	if max <= 0 {
		max = 100000
	}
	return &MemoryFeedbackStore{Max: max, items: map[FeedbackKey]Feedback{}}
}

// Put implements FeedbackStore.
func (m *MemoryFeedbackStore) Put(_ context.Context, key FeedbackKey, f Feedback) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.items == nil {
		m.items = map[FeedbackKey]Feedback{}
	}
	if _, ok := m.items[key]; ok {
		return false, nil
	}
	for len(m.order) >= m.Max && len(m.order) > 0 {
		delete(m.items, m.order[0])
		m.order = m.order[1:]
	}
	m.items[key] = f
	m.order = append(m.order, key)
	return true, nil
}

// Len returns the number of items held.
func (m *MemoryFeedbackStore) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.items)
}

// Get returns the item stored under key.
func (m *MemoryFeedbackStore) Get(key FeedbackKey) (Feedback, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.items[key]
	return f, ok
}
