package fhirclient

import (
	"encoding/json"
	"errors"

	"github.com/nencds/nencds/internal/jsonscan"
)

// Peeked is the little of a FHIR document that the client and the prefetch resolver read.
type Peeked struct {
	ResourceType string      `json:"resourceType"`
	ID           string      `json:"id"`
	Type         string      `json:"type"`
	Issue        []PeekIssue `json:"issue"`
	Link         []PeekLink  `json:"link"`
	Entry        []PeekEntry `json:"entry"`
}

// PeekIssue is an OperationOutcome issue, by severity.
type PeekIssue struct {
	Severity string `json:"severity"`
}

// PeekLink is a Bundle link.
type PeekLink struct {
	Relation string `json:"relation"`
	URL      string `json:"url"`
}

// PeekEntry is a Bundle entry, by its resource type and issues.
type PeekEntry struct {
	Resource struct {
		ResourceType string      `json:"resourceType"`
		Issue        []PeekIssue `json:"issue"`
	} `json:"resource"`
}

// Peek reads a FHIR document: one validation pass and a skim when the document is valid
// JSON that encoding/json would read the same way (scanPeek), else encoding/json.
func Peek(doc json.RawMessage) (*Peeked, error) {
	return PeekIn(nil, doc)
}

// PeekIn is Peek for a document that may be a part of the indexed x (a prefetch value of
// a request read in place): then it is known to be valid and is not checked again.
func PeekIn(x *jsonscan.Index, doc json.RawMessage) (*Peeked, error) {
	var p *Peeked
	ok := x.Contains(doc)
	if !ok {
		x, ok = jsonscan.Parse(doc)
	}
	if ok {
		p, ok = scanPeek(x, doc)
	}
	if !ok {
		p = new(Peeked)
		if err := json.Unmarshal(doc, p); err != nil {
			return nil, err
		}
	}
	if p.ResourceType == "" {
		return nil, errors.New("no resourceType")
	}
	return p, nil
}

var (
	peekedFields   = []string{"resourceType", "id", "issue", "link", "entry", "type"}
	issueFields    = []string{"severity"}
	linkFields     = []string{"relation", "url"}
	entryFields    = []string{"resource"}
	entryResFields = []string{"resourceType", "issue"}
)

// scanPeek reads valid JSON as json.Unmarshal into a Peeked would; ok is false whenever
// encoding/json could read it differently or fail.
func scanPeek(x *jsonscan.Index, doc []byte) (*Peeked, bool) {
	p := new(Peeked)
	ok := x.Fields(doc, peekedFields, func(n int, v []byte) bool {
		switch n {
		case 0:
			return jsonscan.StringOrNull(v, &p.ResourceType)
		case 1:
			return jsonscan.StringOrNull(v, &p.ID)
		case 5:
			return jsonscan.StringOrNull(v, &p.Type)
		case 2:
			return scanIssues(x, v, &p.Issue)
		case 3:
			return x.ArrayOrNull(v, func(e []byte) bool {
				var l PeekLink
				ok := scanObject(x, e, linkFields, func(n int, v []byte) bool {
					if n == 0 {
						return jsonscan.StringOrNull(v, &l.Relation)
					}
					return jsonscan.StringOrNull(v, &l.URL)
				})
				p.Link = append(p.Link, l)
				return ok
			})
		default: // entry
			return x.ArrayOrNull(v, func(e []byte) bool {
				var pe PeekEntry
				ok := scanObject(x, e, entryFields, func(_ int, v []byte) bool {
					return scanObject(x, v, entryResFields, func(n int, v []byte) bool {
						if n == 0 {
							return jsonscan.StringOrNull(v, &pe.Resource.ResourceType)
						}
						return scanIssues(x, v, &pe.Resource.Issue)
					})
				})
				p.Entry = append(p.Entry, pe)
				return ok
			})
		}
	})
	return p, ok
}

func scanIssues(x *jsonscan.Index, v []byte, dst *[]PeekIssue) bool {
	return x.ArrayOrNull(v, func(e []byte) bool {
		var is PeekIssue
		ok := scanObject(x, e, issueFields, func(_ int, v []byte) bool {
			return jsonscan.StringOrNull(v, &is.Severity)
		})
		*dst = append(*dst, is)
		return ok
	})
}

// scanObject reads the named fields of an object (jsonscan.Fields); null leaves them
// unchanged, any other value fails.
func scanObject(x *jsonscan.Index, v []byte, names []string, fn func(n int, v []byte) bool) bool {
	switch jsonscan.Kind(v) {
	case 'n':
		return true
	case '{':
		return x.Fields(v, names, fn)
	}
	return false
}

// Failed reports whether the document says the read failed: an OperationOutcome, or a
// Bundle with an OperationOutcome entry of severity error or fatal.
func (p *Peeked) Failed() bool {
	if p.ResourceType == "OperationOutcome" {
		return true
	}
	if p.ResourceType != "Bundle" {
		return false
	}
	for _, e := range p.Entry {
		if e.Resource.ResourceType != "OperationOutcome" {
			continue
		}
		for _, is := range e.Resource.Issue {
			if is.Severity == "error" || is.Severity == "fatal" {
				return true
			}
		}
	}
	return false
}

// Next is the URL of the next page of a Bundle, or "".
func (p *Peeked) Next() string {
	if p.ResourceType != "Bundle" {
		return ""
	}
	for _, l := range p.Link {
		if l.Relation == "next" {
			return l.URL
		}
	}
	return ""
}
