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

// FeedbackRecord is one stored feedback item: its key, the topic code of the card it is
// about (cards.TopicSystem; "" when the card is unknown, e.g. older than the CardTopics
// window) and the item as received. A persistent store keeps the topic with the item so
// that acceptance can be analysed per topic code.
type FeedbackRecord struct {
	Key      FeedbackKey
	Topic    string
	Feedback Feedback
}

// FeedbackStore keeps feedback. Put is idempotent: it reports whether the item was new.
type FeedbackStore interface {
	Put(ctx context.Context, r FeedbackRecord) (created bool, err error)
}

// OutcomeCounts are the feedback outcomes of one topic code.
type OutcomeCounts struct {
	Accepted   int
	Overridden int
}

// MemoryFeedbackStore is an in-memory FeedbackStore holding at most Max items (the oldest
// is forgotten first).
type MemoryFeedbackStore struct {
	Max int

	mu    sync.Mutex
	items map[FeedbackKey]FeedbackRecord
	order []FeedbackKey
}

var _ FeedbackStore = (*MemoryFeedbackStore)(nil)

// NewMemoryFeedbackStore returns a store of at most max items (100000 when max <= 0).
func NewMemoryFeedbackStore(max int) *MemoryFeedbackStore {
	if max <= 0 {
		max = 100000
	}
	return &MemoryFeedbackStore{Max: max, items: map[FeedbackKey]FeedbackRecord{}}
}

// Put implements FeedbackStore.
func (m *MemoryFeedbackStore) Put(_ context.Context, r FeedbackRecord) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.items == nil {
		m.items = map[FeedbackKey]FeedbackRecord{}
	}
	if _, ok := m.items[r.Key]; ok {
		return false, nil
	}
	for len(m.order) >= m.Max && len(m.order) > 0 {
		delete(m.items, m.order[0])
		m.order = m.order[1:]
	}
	m.items[r.Key] = r
	m.order = append(m.order, r.Key)
	return true, nil
}

// Len returns the number of items held.
func (m *MemoryFeedbackStore) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.items)
}

// Get returns the record stored under key.
func (m *MemoryFeedbackStore) Get(key FeedbackKey) (FeedbackRecord, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.items[key]
	return r, ok
}

// ByTopic returns the outcomes held per topic code ("" for cards of unknown topic): the
// acceptance of each kind of card.
func (m *MemoryFeedbackStore) ByTopic() map[string]OutcomeCounts {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]OutcomeCounts{}
	for _, r := range m.items {
		c := out[r.Topic]
		switch r.Key.Outcome {
		case "accepted":
			c.Accepted++
		case "overridden":
			c.Overridden++
		}
		out[r.Topic] = c
	}
	return out
}

// CardRef names one card returned to one client by one service.
type CardRef struct {
	Issuer    string // the authenticated client ("" in -dev)
	ServiceID string
	Card      string // the card's uuid
}

// CardTopics remembers the topic code of each card returned, so that feedback, which
// names only the card's uuid, can be counted and stored by topic. A persistent or shared
// implementation (Redis, SQL) may replace MemoryCardTopics.
type CardTopics interface {
	// Remember records the topic code of each card (topics[uuid] = code).
	Remember(ctx context.Context, issuer, serviceID string, topics map[string]string) error
	// Topic returns the topic code of a card, or false when unknown or forgotten.
	Topic(ctx context.Context, ref CardRef) (string, bool, error)
}

// MemoryCardTopics is an in-memory CardTopics holding at most Max cards, each for TTL
// after it was returned (the oldest is forgotten first). Safe for concurrent use.
type MemoryCardTopics struct {
	max int
	ttl time.Duration
	now func() time.Time

	mu    sync.Mutex
	items map[CardRef]cardTopic
	queue []queuedRef // in order of insertion, hence of expiry
	head  int
}

type cardTopic struct {
	topic   string
	expires time.Time
}

type queuedRef struct {
	ref     CardRef
	expires time.Time
}

var _ CardTopics = (*MemoryCardTopics)(nil)

// Defaults of NewMemoryCardTopics.
const (
	DefaultCardTopicsMax = 100000
	DefaultCardTopicsTTL = 24 * time.Hour
)

// NewMemoryCardTopics returns an index of at most max cards (DefaultCardTopicsMax when
// max <= 0) kept for ttl (DefaultCardTopicsTTL when ttl <= 0); now is the clock
// (time.Now when nil).
func NewMemoryCardTopics(max int, ttl time.Duration, now func() time.Time) *MemoryCardTopics {
	if max <= 0 {
		max = DefaultCardTopicsMax
	}
	if ttl <= 0 {
		ttl = DefaultCardTopicsTTL
	}
	if now == nil {
		now = time.Now
	}
	return &MemoryCardTopics{max: max, ttl: ttl, now: now, items: map[CardRef]cardTopic{}}
}

// Remember implements CardTopics.
func (m *MemoryCardTopics) Remember(_ context.Context, issuer, serviceID string, topics map[string]string) error {
	now := m.now()
	expires := now.Add(m.ttl)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expire(now)
	for card, topic := range topics {
		ref := CardRef{Issuer: issuer, ServiceID: serviceID, Card: card}
		for len(m.items) >= m.max && m.head < len(m.queue) {
			m.pop()
		}
		m.items[ref] = cardTopic{topic: topic, expires: expires}
		m.queue = append(m.queue, queuedRef{ref: ref, expires: expires})
	}
	return nil
}

// Topic implements CardTopics.
func (m *MemoryCardTopics) Topic(_ context.Context, ref CardRef) (string, bool, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expire(now)
	e, ok := m.items[ref]
	if !ok || !now.Before(e.expires) {
		return "", false, nil
	}
	return e.topic, true, nil
}

// Len returns the number of cards held.
func (m *MemoryCardTopics) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.items)
}

// expire forgets the cards whose time is up.
func (m *MemoryCardTopics) expire(now time.Time) {
	for m.head < len(m.queue) && !now.Before(m.queue[m.head].expires) {
		m.pop()
	}
}

// pop forgets the oldest queued card (unless it was remembered again since) and compacts
// the queue once half of it is spent.
func (m *MemoryCardTopics) pop() {
	q := m.queue[m.head]
	m.queue[m.head] = queuedRef{}
	m.head++
	if e, ok := m.items[q.ref]; ok && e.expires.Equal(q.expires) {
		delete(m.items, q.ref)
	}
	if m.head > 1024 && m.head*2 > len(m.queue) {
		m.queue = append([]queuedRef(nil), m.queue[m.head:]...)
		m.head = 0
	}
}
