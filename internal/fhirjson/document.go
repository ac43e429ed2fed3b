package fhirjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"

	"github.com/go-json-experiment/json/jsontext"
)

// Document is a FHIR document as ReadDocument reads it: what is decided on before a
// resource is decoded. It is the one peek type of nencds: the prefetch resolver, the
// FHIR client and fhirmap all read documents through it.
type Document struct {
	// Raw is the whole resource, a sub-slice of the input.
	Raw json.RawMessage
	// ResourceType is "" when the object has no resourceType string: not a FHIR resource.
	ResourceType string
	ID           string
	// Status is the raw status element: nil when absent, null or not a string. (samply's
	// models fill a missing required status with the first code of its value set: a
	// reader checks this one.)
	Status *string
	// BadStatus is a status member that is neither a string nor null.
	BadStatus bool
	// Type is Bundle.type.
	Type string
	// Issues are the severities of OperationOutcome.issue.
	Issues []string
	// Links are Bundle.link.
	Links []Link
	// Entries are Bundle.entry, in order, null elements included (as an Entry without a
	// Resource).
	Entries []Entry
	// Problem says why a part of the envelope could not be read ("" when all could): an
	// entry, link or issue member that is not an array. What could be read is read.
	Problem string
}

// Link is a Bundle link.
type Link struct {
	Relation string
	URL      string
}

// Entry is a Bundle entry.
type Entry struct {
	FullURL string
	// Resource is the entry's resource, nil when the entry has none (a search entry
	// without a resource, a null) or when it could not be read (Problem).
	Resource *Document
	// Problem says why the entry could not be read: the entry, or its resource, is not an
	// object.
	Problem string
}

// ErrNotObject is the error of ReadDocument for a JSON value that is not an object.
var ErrNotObject = errors.New("not a JSON object")

// ReadDocument reads the FHIR document data (a resource or a Bundle, nested Bundles too)
// in one pass: its envelope, and for each Bundle entry its resource's envelope and raw
// bytes (sub-slices of data). It fails, with an *Error, only when data is not one JSON
// object the package would read (a syntax fault, a member named twice, invalid UTF-8);
// an object without a resourceType is returned with ResourceType "".
func ReadDocument(data []byte) (*Document, error) {
	r := newReader(data)
	defer r.release()
	if k := r.dec.PeekKind(); k != '{' {
		if k == 0 { // a syntax error: the read says which
			_, err := r.dec.ReadValue()
			return nil, Describe(orEOF(err))
		}
		if !Valid(data) {
			_, err := r.dec.ReadValue()
			if err == nil {
				_, err = r.dec.ReadValue()
			}
			return nil, Describe(orEOF(err))
		}
		return nil, &Error{Reason: "the document is not a JSON object", Err: ErrNotObject}
	}
	d, err := r.resource()
	if err == nil {
		if _, err = r.dec.ReadToken(); err == io.EOF {
			return d, nil
		} else if err == nil {
			err = &Error{Offset: r.dec.InputOffset(), Reason: "data after the JSON value"}
		}
	}
	return nil, Describe(orEOF(err))
}

func orEOF(err error) error {
	if err == nil || err == io.EOF {
		return &Error{Reason: "unexpected end of input", Err: io.ErrUnexpectedEOF}
	}
	return err
}

// resource reads the object at the decoder (its first token is '{').
func (r *reader) resource() (*Document, error) {
	if _, err := r.dec.ReadToken(); err != nil {
		return nil, err
	}
	start := r.dec.InputOffset() - 1
	d := new(Document)
	for {
		name, err := r.name()
		if err != nil {
			return nil, err
		}
		if name == nil {
			break
		}
		switch string(name) {
		case "resourceType":
			d.ResourceType, _ = r.text(resourceTypes)
		case "id":
			d.ID, _ = r.text(nil)
		case "status":
			k := r.dec.PeekKind()
			if s, ok := r.text(statuses); ok {
				d.Status = &s
			}
			d.BadStatus = k != '"' && k != 'n'
		case "type":
			d.Type, _ = r.text(nil)
		case "issue":
			r.issues(d)
		case "link":
			r.links(d)
		case "entry":
			r.entries(d)
		default:
			r.skip()
		}
		if r.err != nil {
			return nil, r.err
		}
	}
	end := r.dec.InputOffset()
	d.Raw = r.data[start:end:end]
	return d, nil
}

// issues reads OperationOutcome.issue into d.
func (r *reader) issues(d *Document) {
	if !r.array(d, "issue") {
		return
	}
	for r.more() {
		if !r.open() {
			continue
		}
		for name := r.member(); name != nil; name = r.member() {
			if string(name) == "severity" {
				s, _ := r.text(severities)
				d.Issues = append(d.Issues, s)
			} else {
				r.skip()
			}
		}
	}
}

// links reads Bundle.link into d.
func (r *reader) links(d *Document) {
	if !r.array(d, "link") {
		return
	}
	for r.more() {
		var l Link
		if r.open() {
			for name := r.member(); name != nil; name = r.member() {
				switch string(name) {
				case "relation":
					l.Relation, _ = r.text(nil)
				case "url":
					l.URL, _ = r.text(nil)
				default:
					r.skip()
				}
			}
		}
		d.Links = append(d.Links, l)
	}
}

// entries reads Bundle.entry into d.
func (r *reader) entries(d *Document) {
	if !r.array(d, "entry") {
		return
	}
	if d.Entries == nil {
		d.Entries = make([]Entry, 0, 8)
	}
	for r.more() {
		var e Entry
		switch r.dec.PeekKind() {
		case 'n':
			r.skip()
		case '{':
			r.open()
			for name := r.member(); name != nil; name = r.member() {
				switch string(name) {
				case "fullUrl":
					e.FullURL, _ = r.text(nil)
				case "resource":
					switch r.dec.PeekKind() {
					case '{':
						res, err := r.resource()
						if err != nil {
							r.fail(err)
						}
						e.Resource = res
					case 'n':
						r.skip()
					default:
						e.Problem = "the entry's resource is not an object"
						r.skip()
					}
				default:
					r.skip()
				}
			}
		default:
			e.Problem = "the entry is not an object"
			r.skip()
		}
		d.Entries = append(d.Entries, e)
	}
}

// name reads the next member name of the object being read, unescaped; nil after its
// '}' (which it reads) or on an error.
func (r *reader) name() ([]byte, error) {
	switch r.dec.PeekKind() {
	case '}':
		_, err := r.dec.ReadToken()
		return nil, err
	case 0:
		_, err := r.dec.ReadToken()
		return nil, orEOF(err)
	}
	raw, err := r.dec.ReadValue()
	if err != nil {
		return nil, err
	}
	name := raw[1 : len(raw)-1]
	if bytes.IndexByte(name, '\\') >= 0 {
		return jsontext.AppendUnquote(nil, raw)
	}
	return name, nil
}

// member is name for the loops of the nested objects: nil also after an error, which it
// keeps in r.err.
func (r *reader) member() []byte {
	if r.err != nil {
		return nil
	}
	name, err := r.name()
	if err != nil {
		r.fail(err)
		return nil
	}
	return name
}

// open reads the '{' of an object at the decoder; any other value is skipped (false).
func (r *reader) open() bool {
	if r.err != nil {
		return false
	}
	if r.dec.PeekKind() != '{' {
		r.skip()
		return false
	}
	_, err := r.dec.ReadToken()
	r.fail(err)
	return err == nil
}

// array opens the array member of d at the decoder (its elements are then read while
// more reports one). A member that is not an array is skipped and named in d.Problem;
// null has no elements. Both give false.
func (r *reader) array(d *Document, member string) bool {
	if r.err != nil {
		return false
	}
	switch r.dec.PeekKind() {
	case '[':
		_, err := r.dec.ReadToken()
		r.fail(err)
		return err == nil
	case 'n':
	default:
		if d.Problem == "" {
			d.Problem = member + " is not an array"
		}
	}
	r.skip()
	return false
}

// more reports whether another element follows in the array being read; after the last
// it reads the ']'.
func (r *reader) more() bool {
	if r.err != nil {
		return false
	}
	switch r.dec.PeekKind() {
	case ']':
		_, err := r.dec.ReadToken()
		r.fail(err)
		return false
	case 0:
		_, err := r.dec.ReadToken()
		r.fail(orEOF(err))
		return false
	}
	return true
}

func (r *reader) skip() { r.fail(r.dec.SkipValue()) }

// fail keeps the first error.
func (r *reader) fail(err error) {
	if err != nil && r.err == nil {
		r.err = err
	}
}

// text reads a string value (ok), or skips a value of another kind. A value found in
// known is returned without allocating. A read error is kept in r.err.
func (r *reader) text(known map[string]string) (s string, ok bool) {
	if r.dec.PeekKind() != '"' {
		r.skip()
		return "", false
	}
	raw, err := r.dec.ReadValue()
	if err != nil {
		r.fail(err)
		return "", false
	}
	b := raw[1 : len(raw)-1]
	if bytes.IndexByte(b, '\\') >= 0 {
		u, err := jsontext.AppendUnquote(nil, raw)
		if err != nil {
			r.fail(err)
			return "", false
		}
		return string(u), true
	}
	if s, ok := known[string(b)]; ok {
		return s, true
	}
	return string(b), true
}

// The values read most often, kept once.
var (
	resourceTypes = set("Bundle", "Patient", "Condition", "Observation", "DiagnosticReport",
		"MedicationRequest", "MedicationStatement", "MedicationAdministration", "Medication",
		"Procedure", "ServiceRequest", "Task", "OperationOutcome")
	statuses = set("final", "amended", "corrected", "preliminary", "registered", "cancelled",
		"entered-in-error", "unknown", "active", "completed", "stopped", "on-hold", "draft",
		"intended", "not-taken", "in-progress", "not-done", "revoked", "requested")
	severities = set("fatal", "error", "warning", "information")
)

func set(values ...string) map[string]string {
	m := make(map[string]string, len(values))
	for _, v := range values {
		m[v] = v
	}
	return m
}

// Failed reports whether the document says a read failed: an OperationOutcome, or a
// Bundle with an OperationOutcome entry of severity error or fatal.
func (d *Document) Failed() bool {
	if d.ResourceType == "OperationOutcome" {
		return true
	}
	if d.ResourceType != "Bundle" {
		return false
	}
	for _, e := range d.Entries {
		if e.Resource != nil && e.Resource.ResourceType == "OperationOutcome" && e.Resource.HasError() {
			return true
		}
	}
	return false
}

// HasError reports whether an OperationOutcome has an issue of severity error or fatal.
func (d *Document) HasError() bool {
	for _, s := range d.Issues {
		if s == "error" || s == "fatal" {
			return true
		}
	}
	return false
}

// Next is the URL of the next page of a Bundle, or "".
func (d *Document) Next() string {
	if d.ResourceType != "Bundle" {
		return ""
	}
	for _, l := range d.Links {
		if l.Relation == "next" {
			return l.URL
		}
	}
	return ""
}
