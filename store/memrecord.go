package store

import (
	"crypto/sha256"
	"encoding/binary"
)

// A memRecord is one item of the memory backend as bytes: its strings one after the
// other, each as a uvarint length and its bytes; the fields are in the order of the
// card* and fb* constants, and the list (suggestions, accepted uuids) fills the rest.
type memRecord []byte

// The strings of a card record; suggestions follow as (uuid, label) pairs.
const (
	cardIssuer = iota
	cardServiceID
	cardUUID
	cardHook
	cardTopic
	cardIndicator
	cardPatient
	cardFingerprint
	cardSuggestions
)

// The strings of a feedback record; the accepted suggestion uuids follow.
const (
	fbIssuer = iota
	fbServiceID
	fbCard
	fbOutcome
	fbReasonSystem
	fbReasonCode
	fbComment
	fbOutcomeTime // outcomeKey
	fbAccepted
)

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendCard appends the record of c (its Issued time is kept in its memItem).
func appendCard(b []byte, c *Card) []byte {
	for _, s := range [...]string{c.Issuer, c.ServiceID, c.UUID, c.Hook, c.Topic, c.Indicator, c.Patient, c.Fingerprint} {
		b = appendString(b, s)
	}
	for _, s := range c.Suggestions {
		b = appendString(appendString(b, s.UUID), s.Label)
	}
	return b
}

// appendFeedback appends the record of f (its Received time is kept in its memItem).
func appendFeedback(b []byte, f *Feedback) []byte {
	for _, s := range [...]string{f.Issuer, f.ServiceID, f.Card, f.Outcome, f.ReasonSystem, f.ReasonCode, f.Comment, outcomeKey(f.OutcomeTime)} {
		b = appendString(b, s)
	}
	for _, s := range f.Accepted {
		b = appendString(b, s)
	}
	return b
}

// next splits the first string off r.
func (r memRecord) next() (s []byte, rest memRecord) {
	n, k := binary.Uvarint(r)
	end := k + int(n)
	return r[k:end], r[end:]
}

// field returns the string i of r (the bytes of the record: valid until the next write).
func (r memRecord) field(i int) []byte {
	var s []byte
	for range i + 1 {
		s, r = r.next()
	}
	return s
}

// strings returns the strings of r from the string i on.
func (r memRecord) strings(i int) []string {
	for range i {
		_, r = r.next()
	}
	var out []string
	for len(r) > 0 {
		var s []byte
		s, r = r.next()
		out = append(out, string(s))
	}
	return out
}

// suggestions returns the suggestions of a card record.
func (r memRecord) suggestions() []Suggestion {
	s := r.strings(cardSuggestions)
	out := make([]Suggestion, 0, len(s)/2)
	for i := 0; i+1 < len(s); i += 2 {
		out = append(out, Suggestion{UUID: s[i], Label: s[i+1]})
	}
	return out
}

// keyDigest is the SHA-256 of the parts joined by NUL, built in *buf: the key of a card
// is issuer NUL service NUL uuid; of feedback, Feedback.Key; of a patient, the pseudonym.
func keyDigest[S ~string | ~[]byte](buf *[]byte, parts ...S) digest {
	b := (*buf)[:0]
	for i, p := range parts {
		if i > 0 {
			b = append(b, 0)
		}
		b = append(b, p...)
	}
	*buf = b
	return sha256.Sum256(b)
}

// memRef is where a record lives in a memArena. A record is shorter than 4 GiB: the
// strings it holds are codes, uuids and a userComment that hooks caps at 4 KiB.
type memRef struct {
	chunk  uint64
	off, n uint32
}

// memArena is the log of records: byte chunks, appended to at the end and dropped from the
// front once every record in them is evicted (items are evicted in the order they were
// added). A record never spans two chunks; one larger than a chunk gets a chunk of its
// own. A chunk holds no pointer: the collector does not scan it.
type memArena struct {
	chunks    [][]byte // chunks[i] is chunk number first+i; the last one is being filled
	first     uint64
	chunkSize int
}

// newMemArena sizes the chunks for a store capped at capBytes: 1/16 of it, between 4 KiB
// and 256 KiB, so that the chunks not counted (the oldest one being evicted, the newest
// one's free tail) stay small beside the cap.
func newMemArena(capBytes int64) memArena {
	return memArena{chunkSize: int(min(max(capBytes/16, 4<<10), 256<<10))}
}

// add copies rec to the end of the log.
func (a *memArena) add(rec []byte) memRef {
	last := len(a.chunks) - 1
	if last < 0 || cap(a.chunks[last])-len(a.chunks[last]) < len(rec) {
		a.chunks = append(a.chunks, make([]byte, 0, max(a.chunkSize, len(rec))))
		last++
	}
	c := a.chunks[last]
	a.chunks[last] = append(c, rec...)
	return memRef{chunk: a.first + uint64(last), off: uint32(len(c)), n: uint32(len(rec))}
}

// get returns the record at ref (the arena's bytes: valid until the next add or release).
func (a *memArena) get(ref memRef) []byte {
	return a.chunks[ref.chunk-a.first][ref.off : ref.off+ref.n]
}

// release drops the chunks before chunk number oldest (the oldest record held is in it).
func (a *memArena) release(oldest uint64) {
	k := int(oldest - a.first)
	if k <= 0 {
		return
	}
	clear(a.chunks[:k])
	a.chunks = a.chunks[k:]
	a.first = oldest
}
