package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"slices"
	"sync"
	"time"
)

// DefaultMemoryMaxBytes is the default byte cap of the memory backend.
const DefaultMemoryMaxBytes = 64 << 20

// Memory is the in-process backend: bounded in bytes (the oldest cards and feedback items
// are evicted first, and counted through Options.OnEvict), lost at exit.
//
// # Representation
//
// A full store holds some 100k items, and the garbage collector marks everything the
// heap points to at every cycle: with one object per card, string, suggestion and index
// entry, a full store cost a mark of tens of milliseconds every second or so, on the
// request path. So the store keeps almost no pointers:
//
//   - Every item is one record, its strings encoded one after the other (memrecord.go),
//     appended to a log of byte chunks (memArena) that are dropped from the front as the
//     oldest items are evicted. A chunk is one pointer-free object.
//   - Every item has one fixed-size entry (memItem) in a queue in insertion order, the
//     order of eviction: its key digest, its time, where its record lives and the bytes
//     it counts. Items are named by their sequence number in that queue.
//   - The indexes map SHA-256 digests of the keys ([32]byte, collision-free in practice)
//     to sequence numbers: keys and values without pointers, which the collector does
//     not scan.
//   - Overrides reads its own small index: per patient, the cards that have "overridden"
//     feedback, and per card key, that feedback (a slice each: the only pointers, one
//     per overridden card). It never walks the patient's other cards.
//
// # Bytes
//
// Bytes counts, for every item, its record and a fixed overhead (memItemOverhead: its
// queue entry and index entry, with the slack of their growth); "overridden" feedback
// counts its override index entries too (memOverrideOverhead). Not counted: the unused
// part of at most two chunks (the oldest, partly evicted, and the newest, partly
// filled) and the tail a chunk leaves when the next record does not fit in it.
// BenchmarkMemoryPutCardsOverrides reports the heap bytes per byte counted (about 0.8).
type Memory struct {
	pseudonymizer
	max     int64
	onEvict func(int)

	mu       sync.Mutex
	bytes    int64
	evicted  int64
	log      memArena
	items    []memItem // in insertion order; items[head:] are held
	head     int
	base     uint64              // sequence number of items[0]
	cards    map[digest]uint64   // card key digest → item
	feedback map[digest]struct{} // feedback key digest (Feedback.Key)
	ovByCard map[digest][]uint64 // card key digest → its held "overridden" feedback items
	ovByPat  map[digest][]uint64 // patient digest → its held cards with overridden feedback
	scratch  []byte              // a record being built
	keyBuf   []byte              // a key being digested
}

// digest is the SHA-256 of a key (a card key, Feedback.Key, a patient pseudonym).
type digest [sha256.Size]byte

// memItem is one held item; it holds no pointer.
type memItem struct {
	key  digest // of the card key or of Feedback.Key
	sec  int64  // card Issued or feedback Received, in Unix seconds
	nsec int32  // and nanoseconds
	kind itemKind
	size int64 // bytes counted
	rec  memRef
}

type itemKind uint8

const (
	cardItem itemKind = iota
	feedbackItem
	overriddenItem // feedback whose outcome is "overridden"
)

// memItemOverhead is what an item counts beyond its record: its queue entry (72 bytes)
// and index entry (40) with the slack of their growth (up to twice), and a margin.
const memItemOverhead = 256

// memOverrideOverhead is what "overridden" feedback counts for the override index.
const memOverrideOverhead = 64

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
		log:   newMemArena(max),
		cards: map[digest]uint64{}, feedback: map[digest]struct{}{},
		ovByCard: map[digest][]uint64{}, ovByPat: map[digest][]uint64{},
	}, nil
}

// item returns the item of sequence number seq (held).
func (m *Memory) item(seq uint64) *memItem { return &m.items[seq-m.base] }

// record returns the record of it (valid until the next write).
func (m *Memory) record(it *memItem) memRecord { return memRecord(m.log.get(it.rec)) }

// add appends an item and evicts the oldest ones beyond the cap (never the new one);
// it returns the new item's sequence number.
func (m *Memory) add(it memItem, rec []byte) uint64 {
	it.rec = m.log.add(rec)
	it.size += int64(len(rec)) + memItemOverhead
	m.items = append(m.items, it)
	seq := m.base + uint64(len(m.items)-1)
	m.bytes += it.size
	n := 0
	for m.bytes > m.max && m.head < len(m.items)-1 {
		m.evictOldest()
		n++
	}
	if n > 0 {
		m.log.release(m.items[m.head].rec.chunk)
		m.compact()
		m.evicted += int64(n)
		if m.onEvict != nil {
			m.onEvict(n)
		}
	}
	return seq
}

// evictOldest drops the oldest item and its index entries.
func (m *Memory) evictOldest() {
	it := &m.items[m.head]
	seq := m.base + uint64(m.head)
	switch it.kind {
	case cardItem:
		delete(m.cards, it.key)
		if len(m.ovByCard[it.key]) > 0 {
			m.unlinkCard(seq)
		}
	case overriddenItem:
		m.unlinkOverride(seq)
		fallthrough
	case feedbackItem:
		delete(m.feedback, it.key)
	}
	m.bytes -= it.size
	m.head++
}

// compact drops the evicted entries of the queue once they are half of it.
func (m *Memory) compact() {
	if m.head > 1024 && m.head*2 > len(m.items) {
		m.base += uint64(m.head)
		m.items = append([]memItem(nil), m.items[m.head:]...)
		m.head = 0
	}
}

// linkCard lists the card seq among its patient's overridden cards.
func (m *Memory) linkCard(seq uint64) {
	p := keyDigest(&m.keyBuf, m.record(m.item(seq)).field(cardPatient))
	m.ovByPat[p] = append(m.ovByPat[p], seq)
}

// unlinkCard removes the card seq from its patient's overridden cards.
func (m *Memory) unlinkCard(seq uint64) {
	p := keyDigest(&m.keyBuf, m.record(m.item(seq)).field(cardPatient))
	removeSeq(m.ovByPat, p, seq)
}

// linkOverride indexes the "overridden" feedback seq under its card, and the card (when
// held, and not yet listed) under its patient.
func (m *Memory) linkOverride(seq uint64) {
	ck := m.feedbackCard(seq)
	m.ovByCard[ck] = append(m.ovByCard[ck], seq)
	if c, ok := m.cards[ck]; ok && len(m.ovByCard[ck]) == 1 {
		m.linkCard(c)
	}
}

// unlinkOverride removes the "overridden" feedback seq from the override index.
func (m *Memory) unlinkOverride(seq uint64) {
	ck := m.feedbackCard(seq)
	removeSeq(m.ovByCard, ck, seq)
	if c, ok := m.cards[ck]; ok && len(m.ovByCard[ck]) == 0 {
		m.unlinkCard(c)
	}
}

// feedbackCard is the card key digest of the feedback item seq.
func (m *Memory) feedbackCard(seq uint64) digest {
	r := m.record(m.item(seq))
	return keyDigest(&m.keyBuf, r.field(fbIssuer), r.field(fbServiceID), r.field(fbCard))
}

// removeSeq removes seq from the list of k (and the list when empty).
func removeSeq(idx map[digest][]uint64, k digest, seq uint64) {
	l := idx[k]
	if i := slices.Index(l, seq); i >= 0 {
		l = slices.Delete(l, i, i+1)
	}
	if len(l) == 0 {
		delete(idx, k)
		return
	}
	idx[k] = l
}

// PutCards implements Store.
func (m *Memory) PutCards(_ context.Context, cards []Card) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range cards {
		c := &cards[i]
		k := keyDigest(&m.keyBuf, c.Issuer, c.ServiceID, c.UUID)
		if _, ok := m.cards[k]; ok {
			continue
		}
		m.scratch = appendCard(m.scratch[:0], c)
		sec, nsec := unixTime(c.Issued)
		seq := m.add(memItem{key: k, sec: sec, nsec: nsec, kind: cardItem}, m.scratch)
		m.cards[k] = seq
		if len(m.ovByCard[k]) > 0 {
			m.linkCard(seq)
		}
	}
	return nil
}

// PutFeedback implements Store.
func (m *Memory) PutFeedback(_ context.Context, items []Feedback) ([]Put, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Put, len(items))
	for i := range items {
		f := &items[i]
		if c, ok := m.cards[keyDigest(&m.keyBuf, f.Issuer, f.ServiceID, f.Card)]; ok {
			out[i].Matched, out[i].Topic = true, string(m.record(m.item(c)).field(cardTopic))
		}
		k := keyDigest(&m.keyBuf, f.Key())
		if _, dup := m.feedback[k]; dup {
			continue
		}
		out[i].Created = true
		it := memItem{key: k, kind: feedbackItem}
		if f.Outcome == "overridden" {
			it.kind, it.size = overriddenItem, memOverrideOverhead
		}
		it.sec, it.nsec = unixTime(f.Received)
		m.scratch = appendFeedback(m.scratch[:0], f)
		seq := m.add(it, m.scratch)
		m.feedback[k] = struct{}{}
		if it.kind == overriddenItem {
			m.linkOverride(seq)
		}
	}
	return out, nil
}

// Overrides implements Store.
func (m *Memory) Overrides(_ context.Context, patient string, since time.Time) ([]Override, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sec, nsec := unixTime(since)
	var out []Override
	for _, c := range m.ovByPat[keyDigest(&m.keyBuf, patient)] {
		if card := m.item(c); m.overriddenSince(card.key, sec, nsec) {
			r := m.record(card)
			out = append(out, Override{Topic: string(r.field(cardTopic)), Fingerprint: string(r.field(cardFingerprint))})
		}
	}
	return out, nil
}

// overriddenSince reports whether the card of key has "overridden" feedback received at
// or after (sec, nsec).
func (m *Memory) overriddenSince(card digest, sec int64, nsec int32) bool {
	for _, f := range m.ovByCard[card] {
		if !m.item(f).before(sec, nsec) {
			return true
		}
	}
	return false
}

// Report implements Store.
func (m *Memory) Report(_ context.Context, since time.Time) (*Report, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := newReportBuilder(since)
	sec, nsec := unixTime(since)
	for i := m.head; i < len(m.items); i++ {
		it := &m.items[i]
		if it.before(sec, nsec) {
			continue
		}
		r := m.record(it)
		if it.kind == cardItem {
			b.issued(string(r.field(cardTopic)), 1)
			continue
		}
		outcome, reason, accepted := string(r.field(fbOutcome)), string(r.field(fbReasonCode)), r.strings(fbAccepted)
		c, ok := m.cards[keyDigest(&m.keyBuf, r.field(fbIssuer), r.field(fbServiceID), r.field(fbCard))]
		if !ok {
			b.feedback(false, "", outcome, reason, accepted, nil)
			continue
		}
		cr := m.record(m.item(c))
		b.feedback(true, string(cr.field(cardTopic)), outcome, reason, accepted, cr.suggestions())
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

// unixTime splits t for memItem (exact, and defined for the zero time too).
func unixTime(t time.Time) (int64, int32) { return t.Unix(), int32(t.Nanosecond()) }

// before reports whether the item's time is before (sec, nsec).
func (it *memItem) before(sec int64, nsec int32) bool {
	return it.sec < sec || it.sec == sec && it.nsec < nsec
}

func decodeBase64(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, base64.CorruptInputError(0)
}
