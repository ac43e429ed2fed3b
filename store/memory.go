package store

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"sync"
	"time"
)

// DefaultMemoryMaxBytes is the default byte cap of the memory backend.
const DefaultMemoryMaxBytes = 64 << 20

// Memory is the in-process backend: bounded in bytes (the oldest cards and feedback items
// are evicted first, and counted through Options.OnEvict), lost at exit.
type Memory struct {
	pseudonymizer
	max     int64
	onEvict func(int)

	mu       sync.Mutex
	bytes    int64
	cards    map[string]*Card // by cardKey
	feedback map[string]*Feedback
	// byPatient indexes card keys by patient, fbByCard feedback keys by card key.
	byPatient map[string]map[string]bool
	fbByCard  map[string]map[string]bool
	order     []memEntry // insertion order, for eviction
	head      int
	evicted   int64
}

type memEntry struct {
	card bool
	key  string
	size int64
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty memory store.
func NewMemory(o Options) (*Memory, error) {
	key := o.Key
	if len(key) == 0 {
		key = make([]byte, 32)
		rand.Read(key)
	} else if _, err := checkKey(key); err != nil {
		return nil, err
	}
	max := o.MemoryMaxBytes
	if max <= 0 {
		max = DefaultMemoryMaxBytes
	}
	return &Memory{
		pseudonymizer: pseudonymizer{key: key}, max: max, onEvict: o.OnEvict,
		cards: map[string]*Card{}, feedback: map[string]*Feedback{},
		byPatient: map[string]map[string]bool{}, fbByCard: map[string]map[string]bool{},
	}, nil
}

func cardKey(issuer, service, uuid string) string { return issuer + "\x00" + service + "\x00" + uuid }

// memOverhead approximates the bookkeeping bytes of one item (map entry, struct, queue).
const memOverhead = 256

func cardSize(c *Card) int64 {
	n := len(c.Issuer) + len(c.ServiceID) + len(c.UUID) + len(c.Hook) + len(c.Topic) + len(c.Indicator) + len(c.Patient) + len(c.Fingerprint)
	for _, s := range c.Suggestions {
		n += len(s.UUID) + len(s.Label) + 32
	}
	return int64(2*n + memOverhead) // the key repeats the identifiers
}

func feedbackSize(f *Feedback) int64 {
	n := len(f.Issuer) + len(f.ServiceID) + len(f.Card) + len(f.Outcome) + len(f.ReasonSystem) + len(f.ReasonCode) + len(f.Comment)
	for _, a := range f.Accepted {
		n += len(a) + 16
	}
	return int64(n + len(f.Key()) + memOverhead)
}

// add records an entry and evicts the oldest ones beyond the cap (with m.mu held).
func (m *Memory) add(e memEntry) {
	m.order = append(m.order, e)
	m.bytes += e.size
	n := 0
	for m.bytes > m.max && m.head < len(m.order)-1 {
		old := m.order[m.head]
		m.order[m.head] = memEntry{}
		m.head++
		if old.card {
			if c := m.cards[old.key]; c != nil {
				unindex(m.byPatient, c.Patient, old.key)
			}
			delete(m.cards, old.key)
		} else {
			if f := m.feedback[old.key]; f != nil {
				unindex(m.fbByCard, cardKey(f.Issuer, f.ServiceID, f.Card), old.key)
			}
			delete(m.feedback, old.key)
		}
		m.bytes -= old.size
		n++
	}
	if m.head > 1024 && m.head*2 > len(m.order) {
		m.order = append([]memEntry(nil), m.order[m.head:]...)
		m.head = 0
	}
	if n > 0 {
		m.evicted += int64(n)
		if m.onEvict != nil {
			m.onEvict(n)
		}
	}
}

// PutCards implements Store.
func (m *Memory) PutCards(_ context.Context, cards []Card) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range cards {
		c := cards[i]
		c.Suggestions = append([]Suggestion(nil), c.Suggestions...)
		k := cardKey(c.Issuer, c.ServiceID, c.UUID)
		if _, ok := m.cards[k]; ok {
			continue
		}
		m.cards[k] = &c
		index(m.byPatient, c.Patient, k)
		m.add(memEntry{card: true, key: k, size: cardSize(&c)})
	}
	return nil
}

// PutFeedback implements Store.
func (m *Memory) PutFeedback(_ context.Context, items []Feedback) ([]Put, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Put, len(items))
	for i := range items {
		f := items[i]
		f.Accepted = append([]string(nil), f.Accepted...)
		c, ok := m.cards[cardKey(f.Issuer, f.ServiceID, f.Card)]
		if ok {
			out[i].Matched, out[i].Topic = true, c.Topic
		}
		k := f.Key()
		if _, dup := m.feedback[k]; dup {
			continue
		}
		out[i].Created = true
		m.feedback[k] = &f
		index(m.fbByCard, cardKey(f.Issuer, f.ServiceID, f.Card), k)
		m.add(memEntry{key: k, size: feedbackSize(&f)})
	}
	return out, nil
}

// Overrides implements Store.
func (m *Memory) Overrides(_ context.Context, patient string, since time.Time) ([]Override, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Override
	for ck := range m.byPatient[patient] {
		c := m.cards[ck]
		for fk := range m.fbByCard[ck] {
			if f := m.feedback[fk]; f.Outcome == "overridden" && !f.Received.Before(since) {
				out = append(out, Override{Topic: c.Topic, Fingerprint: c.Fingerprint})
				break
			}
		}
	}
	return out, nil
}

// Report implements Store.
func (m *Memory) Report(_ context.Context, since time.Time) (*Report, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := newReportBuilder(since)
	for _, c := range m.cards {
		if !c.Issued.Before(since) {
			b.issued(c.Topic, 1)
		}
	}
	for _, f := range m.feedback {
		if f.Received.Before(since) {
			continue
		}
		c, ok := m.cards[cardKey(f.Issuer, f.ServiceID, f.Card)]
		if !ok {
			b.feedback(false, "", f.Outcome, f.ReasonCode, f.Accepted, nil)
			continue
		}
		b.feedback(true, c.Topic, f.Outcome, f.ReasonCode, f.Accepted, c.Suggestions)
	}
	return b.report(), nil
}

// Bytes returns the bytes accounted and the items evicted so far.
func (m *Memory) Bytes() (held, evicted int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.bytes, m.evicted
}

// Len returns the number of cards and feedback items held.
func (m *Memory) Len() (cards, feedback int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.cards), len(m.feedback)
}

// Ping implements Store.
func (m *Memory) Ping(context.Context) error { return nil }

// Close implements Store.
func (m *Memory) Close() error { return nil }

func decodeBase64(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, base64.CorruptInputError(0)
}

func index(m map[string]map[string]bool, k, v string) {
	if m[k] == nil {
		m[k] = map[string]bool{}
	}
	m[k][v] = true
}

func unindex(m map[string]map[string]bool, k, v string) {
	delete(m[k], v)
	if len(m[k]) == 0 {
		delete(m, k)
	}
}
