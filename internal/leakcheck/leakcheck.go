// Package leakcheck supports the test suites' proof that no patient data, access token or
// JWT reaches a log line, a span or a metric: a Capture that every logger and exporter of
// a test binary writes into, and a Set of sentinel values (taken from the testdata
// fixtures and added by the tests) that must never appear in it. Used by TestMain of the
// hooks and cmd/nencds tests; not by the service itself.
package leakcheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// Capture is a concurrency-safe in-memory sink (an io.Writer) for everything a test binary
// logs or exports.
type Capture struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (c *Capture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Write(p)
}

// String returns everything written so far.
func (c *Capture) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

// Len returns the number of bytes written so far.
func (c *Capture) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Len()
}

// Match says how a sentinel is searched for.
type Match int

const (
	// Substring finds the value anywhere (long, distinctive values: tokens, display text).
	Substring Match = iota
	// Token finds the value only as a whole token, delimited by characters other than
	// letters, digits, '-', '.', '_' (short values such as ids and names).
	Token
)

// Sentinel is one value that must never be logged or exported.
type Sentinel struct {
	Kind  string // what it is: "patient id", "access token", "display", ...
	Value string
	Match Match
}

// Set is a set of sentinels. The zero value is empty and usable.
type Set struct {
	items map[Sentinel]bool
}

// Add adds values of one kind; empty values are ignored.
func (s *Set) Add(kind string, m Match, values ...string) {
	if s.items == nil {
		s.items = map[Sentinel]bool{}
	}
	for _, v := range values {
		if v = strings.TrimSpace(v); v != "" {
			s.items[Sentinel{Kind: kind, Value: v, Match: m}] = true
		}
	}
}

// Len returns the number of sentinels.
func (s *Set) Len() int { return len(s.items) }

// Count returns the number of sentinels of one kind.
func (s *Set) Count(kind string) int {
	n := 0
	for it := range s.items {
		if it.Kind == kind {
			n++
		}
	}
	return n
}

// jwtRE finds anything shaped like a compact JWS or JWE: base64url of `{"` then a dot.
var jwtRE = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*`)

// Leak is one sentinel found in a text.
type Leak struct {
	Sentinel
	Context string // up to 60 characters either side
}

func (l Leak) String() string {
	return fmt.Sprintf("%s %q in …%s…", l.Kind, l.Value, l.Context)
}

// Find returns every sentinel of s found in text, and every JWT-shaped string.
func (s *Set) Find(text string) []Leak {
	var out []Leak
	for it := range s.items {
		if i := index(text, it); i >= 0 {
			out = append(out, Leak{Sentinel: it, Context: around(text, i, len(it.Value))})
		}
	}
	for _, loc := range jwtRE.FindAllStringIndex(text, 5) {
		out = append(out, Leak{Sentinel: Sentinel{Kind: "JWT", Value: text[loc[0]:loc[1]]}, Context: around(text, loc[0], loc[1]-loc[0])})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Value < out[j].Value
	})
	return out
}

func index(text string, it Sentinel) int {
	if it.Match == Substring {
		return strings.Index(text, it.Value)
	}
	from := 0
	for {
		i := strings.Index(text[from:], it.Value)
		if i < 0 {
			return -1
		}
		i += from
		end := i + len(it.Value)
		if (i == 0 || !word(text[i-1])) && (end == len(text) || !word(text[end])) {
			return i
		}
		from = i + 1
	}
}

func word(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_'
}

func around(text string, i, n int) string {
	lo, hi := max(0, i-60), min(len(text), i+n+60)
	return strings.ReplaceAll(text[lo:hi], "\n", "⏎")
}

// Kinds of the sentinels that FromTestdata collects.
const (
	KindPatientID   = "patient id"
	KindResourceID  = "resource id"
	KindName        = "patient name"
	KindBirthDate   = "birth date"
	KindText        = "resource text"
	KindAccessToken = "access token"
)

// FromTestdata collects sentinels from the CDS Hooks requests under dir/requests and the
// FHIR Bundles under dir/patients: context.patientId and every Patient's id, name and
// birthDate; every resource id; every display, text, narrative div, conclusion,
// valueString and comment of 12 or more characters (shorter ones, such as "Final", are
// not distinctive); fhirAuthorization access tokens.
func FromTestdata(dir string) (*Set, error) {
	s := &Set{}
	files, err := filepath.Glob(filepath.Join(dir, "requests", "*.json"))
	if err != nil {
		return nil, err
	}
	patients, err := filepath.Glob(filepath.Join(dir, "patients", "*.json"))
	if err != nil {
		return nil, err
	}
	for _, f := range patients {
		if !strings.HasSuffix(f, ".golden.json") {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("leakcheck: no fixtures under %s", dir)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			continue // a fixture that is deliberately not JSON
		}
		s.walk(v, "")
	}
	return s, nil
}

// walk collects sentinels from a decoded JSON value; parent is the enclosing key.
func (s *Set) walk(v any, parent string) {
	switch v := v.(type) {
	case map[string]any:
		if ctx, ok := v["context"].(map[string]any); ok {
			if id, ok := ctx["patientId"].(string); ok {
				s.Add(KindPatientID, Token, id)
			}
		}
		if fa, ok := v["fhirAuthorization"].(map[string]any); ok {
			if tok, ok := fa["access_token"].(string); ok {
				s.Add(KindAccessToken, Substring, tok)
			}
		}
		if rt, ok := v["resourceType"].(string); ok {
			id, _ := v["id"].(string)
			if rt == "Patient" {
				s.Add(KindPatientID, Token, id)
				if bd, ok := v["birthDate"].(string); ok {
					s.Add(KindBirthDate, Token, bd)
				}
				if names, ok := v["name"].([]any); ok {
					for _, n := range names {
						nm, _ := n.(map[string]any)
						if fam, ok := nm["family"].(string); ok {
							s.Add(KindName, Token, fam)
						}
						if txt, ok := nm["text"].(string); ok {
							s.Add(KindName, Token, txt)
						}
						if given, ok := nm["given"].([]any); ok {
							for _, g := range given {
								if gs, ok := g.(string); ok {
									s.Add(KindName, Token, gs)
								}
							}
						}
					}
				}
			} else if len(id) >= 4 && rt != "Bundle" && rt != "OperationOutcome" {
				s.Add(KindResourceID, Token, id)
			}
		}
		for k, child := range v {
			if str, ok := child.(string); ok && (k == "display" || k == "text" || k == "div" || k == "conclusion" || k == "valueString" || k == "comment") && len(str) >= 12 {
				s.Add(KindText, Substring, str)
			}
			s.walk(child, k)
		}
	case []any:
		for _, child := range v {
			s.walk(child, parent)
		}
	}
}

// Check builds the sentinel set of the testdata folder plus secrets (as access tokens)
// and returns an error listing every sentinel found in text, or nil. A test suite's
// TestMain calls it on everything its logs, spans and metrics captured.
func Check(text, testdata string, secrets []string) error {
	set, err := FromTestdata(testdata)
	if err != nil {
		return fmt.Errorf("leak check: %w", err)
	}
	set.Add(KindAccessToken, Substring, secrets...)
	leaks := set.Find(text)
	if len(leaks) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "LEAK CHECK FAILED: %d sentinel(s) in the logs, spans or metrics of the test run (%d bytes captured):", len(leaks), len(text))
	for _, l := range leaks {
		b.WriteString("\n  " + l.String())
	}
	return errors.New(b.String())
}
