// Package store keeps what the cards became: the cards issued (no patient data: the
// patient is an HMAC-SHA256 pseudonym), the clinicians' feedback on them, the overrides
// that suppress a card, and the acceptance report. It is infrastructure beside the domain:
// the hooks adapter writes to it and `nencds report` reads it.
//
// One interface (Store), three backends chosen by a URL (Open):
//
//	memory              in the process, lost at exit, bounded in bytes (tests, -db memory)
//	sqlite:PATH         an embedded SQLite file (pure Go, modernc.org/sqlite); one replica
//	postgres://...      PostgreSQL through pgx; several replicas share it
//
// The SQL backends carry their schema as embedded, versioned migrations (migrations/),
// applied at Open under a lock; a database written by a newer nencds, a foreign database or
// a file that is not SQLite is refused with a clear error.
package store

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Card is one issued card, as stored: codes, a pseudonym and a fingerprint, never chart text.
type Card struct {
	Issuer    string // the authenticated client ("" in -dev)
	ServiceID string
	UUID      string
	Hook      string
	Topic     string // cards.TopicSystem code ("" when the card has none)
	Indicator string // info, warning, critical
	// Patient is the pseudonym of the patient (Store.Pseudonym).
	Patient string
	// Fingerprint is a digest of the facts the card used (new data: a new fingerprint).
	Fingerprint string
	Issued      time.Time
	// Suggestions are the card's suggestions (uuid and label), so that accepted
	// suggestions can be reported by label.
	Suggestions []Suggestion
}

// Suggestion is one suggestion of an issued card.
type Suggestion struct {
	UUID  string `json:"uuid"`
	Label string `json:"label"`
}

// Feedback is one feedback item. (Issuer, ServiceID, Card, Outcome, OutcomeTime) is its
// key: the same item sent twice is stored once.
type Feedback struct {
	Issuer    string
	ServiceID string
	Card      string // the card's uuid
	Outcome   string // accepted, overridden
	// OutcomeTime is the clinician's outcomeTimestamp; the key uses its UTC instant.
	OutcomeTime time.Time
	Accepted    []string // accepted suggestion uuids
	// ReasonSystem and ReasonCode are the coded override reason; Comment the userComment.
	ReasonSystem, ReasonCode, Comment string
	// Received is when the server took the item (the suppression window counts from it).
	Received time.Time
}

// Key returns the idempotency key of f: the outcome instant normalised to UTC.
func (f Feedback) Key() string {
	return strings.Join([]string{f.Issuer, f.ServiceID, f.Card, f.Outcome, outcomeKey(f.OutcomeTime)}, "\x00")
}

// outcomeKey is the normalised outcome instant: UTC, RFC 3339 with the shortest fraction.
func outcomeKey(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// Put is the result of storing one feedback item.
type Put struct {
	// Created is false for an item already stored (a resend).
	Created bool
	// Matched is false when no issued card of that uuid is known (yet): the item is kept
	// as unmatched, and reports join it once its card arrives.
	Matched bool
	// Topic is the topic of the matched card.
	Topic string
}

// Override is a card overridden for a patient: its topic and fingerprint.
type Override struct {
	Topic       string
	Fingerprint string
}

// Store is the one interface of the backends. Every method is safe for concurrent use.
type Store interface {
	// PutCards stores issued cards (a card already stored is kept as it is).
	PutCards(ctx context.Context, cards []Card) error
	// PutFeedback stores feedback items in one transaction, committed before it returns:
	// an acknowledged item survives a crash. Results are in the order of items.
	PutFeedback(ctx context.Context, items []Feedback) ([]Put, error)
	// Overrides lists the cards overridden for the patient pseudonym whose feedback was
	// received at or after since.
	Overrides(ctx context.Context, patient string, since time.Time) ([]Override, error)
	// Report aggregates cards and feedback received at or after since, per topic.
	Report(ctx context.Context, since time.Time) (*Report, error)
	// Pseudonym returns the patient pseudonym of a client's patient id under the
	// store's key: hex(HMAC-SHA256(key, issuer NUL patientID)).
	Pseudonym(issuer, patientID string) string
	// Ping checks that the store answers.
	Ping(ctx context.Context) error
	// Close releases the store.
	Close() error
}

// Options configure Open.
type Options struct {
	// Key is the pseudonym key (at least 32 bytes). Required with PostgreSQL; with SQLite,
	// when empty, the key file beside the database (PATH + ".key") is read, or created
	// with a new random key; with memory, a random key.
	Key []byte
	// MemoryMaxBytes caps the memory backend (DefaultMemoryMaxBytes when <= 0).
	MemoryMaxBytes int64
	// OnEvict is called with the number of items the memory backend evicted for its cap.
	OnEvict func(n int)
	// NoKey opens without a pseudonym key, for reading (`nencds report`): Pseudonym
	// then panics, and the key check is skipped.
	NoKey bool
}

// MinKeyBytes is the shortest pseudonym key accepted.
const MinKeyBytes = 32

// ErrUnavailable marks a store that could not answer (down, slow, locked).
var ErrUnavailable = errors.New("store unavailable")

// Open opens the store named by url: "memory", "sqlite:PATH" or "postgres://..."
// ("postgresql://" too). The SQL backends are migrated to the current schema.
func Open(ctx context.Context, url string, o Options) (Store, error) {
	switch {
	case url == "memory":
		return NewMemory(o)
	case strings.HasPrefix(url, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(url, "sqlite:"), "//")
		if path == "" {
			return nil, fmt.Errorf("store: sqlite: a path is required (sqlite:PATH)")
		}
		return openSQLite(ctx, path, o)
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return openPostgres(ctx, url, o)
	case url == "":
		return nil, fmt.Errorf("store: no database URL")
	}
	return nil, fmt.Errorf("store: unknown database URL scheme (want memory, sqlite:PATH or postgres://...)")
}

// Redact returns url without its password, for logs and errors.
func Redact(url string) string {
	i := strings.Index(url, "://")
	if i < 0 {
		return url
	}
	rest := url[i+3:]
	at := strings.LastIndex(rest, "@")
	if slash := strings.Index(rest, "/"); slash >= 0 && at > slash {
		at = -1
	}
	if at < 0 {
		return url
	}
	user := rest[:at]
	if c := strings.Index(user, ":"); c >= 0 {
		user = user[:c] + ":xxxxx"
	}
	return url[:i+3] + user + rest[at:]
}

// pseudonymizer computes patient pseudonyms under one key.
type pseudonymizer struct{ key []byte }

func (p pseudonymizer) Pseudonym(issuer, patientID string) string {
	if len(p.key) == 0 {
		panic("store: Pseudonym on a store opened without a key")
	}
	m := hmac.New(sha256.New, p.key)
	m.Write([]byte(issuer))
	m.Write([]byte{0})
	m.Write([]byte(patientID))
	return hex.EncodeToString(m.Sum(nil))
}

// keyCheck is a value derived from the key, kept in the database so that a database is
// never read with another key (every pseudonym would differ: suppression silently lost).
func (p pseudonymizer) keyCheck() string {
	m := hmac.New(sha256.New, p.key)
	m.Write([]byte("nencds pseudonym key check v1"))
	return hex.EncodeToString(m.Sum(nil))[:16]
}

// ParseKey reads a pseudonym key written as hex or base64 (standard or URL alphabet,
// padded or not); it must hold at least MinKeyBytes bytes.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	if b, err := hex.DecodeString(s); err == nil {
		return checkKey(b)
	}
	if b, err := decodeBase64(s); err == nil {
		return checkKey(b)
	}
	return nil, fmt.Errorf("the pseudonym key must be hex or base64")
}

func checkKey(b []byte) ([]byte, error) {
	if len(b) < MinKeyBytes {
		return nil, fmt.Errorf("the pseudonym key must hold at least %d bytes (it has %d)", MinKeyBytes, len(b))
	}
	return b, nil
}
