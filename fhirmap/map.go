package fhirmap

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/nencds/nencds/internal/jsonscan"
)

// Input is what Map reads: the documents of one patient as they arrived (prefetch values
// or FHIR fallback pages), each a Bundle or a single resource.
type Input struct {
	PatientID string            // the bare id from context.patientId
	At        time.Time         // the evaluation time; rules and ages use it, never the clock
	Documents []json.RawMessage // Bundles (any type) or single resources
	// FHIRServer is the request's fhirServer base ("" when none): a resource whose
	// subject is an absolute Patient reference belongs to the patient only on this base.
	FHIRServer string
	// Notes are data-quality notes of the reading itself (e.g. a referenced Medication
	// the FHIR server could not give); Map puts them first in Picture.Notes.
	Notes []Note
}

// ErrNotResource is wrapped by the error Map returns when a document as a whole is not
// a FHIR resource.
var ErrNotResource = errors.New("fhirmap: document is not a FHIR resource")

// maxBundleDepth bounds Bundles nested in Bundles.
const maxBundleDepth = 3

// Map builds the Picture. It returns an error only when a document as a whole is not a
// FHIR resource (not a JSON object, no resourceType); a bad entry inside a Bundle becomes
// a Note and the rest is read. A null or empty document means "no data".
//
// Each entry is decoded once into its typed resource
// (github.com/samply/golang-fhir-models); a small peek first reads its resourceType and
// its raw status, because the library fills a missing required status with the first
// code of the value set.
func Map(in Input) (*Picture, error) {
	m := newMapper(in)
	for _, n := range in.Notes {
		m.note(n.Kind, n.Ref, n.Text)
	}
	rc := &received{byRef: map[string]int{}}
	for i, doc := range in.Documents {
		doc = bytes.TrimSpace(doc)
		if len(doc) == 0 || bytes.Equal(doc, []byte("null")) {
			continue
		}
		if doc[0] != '{' {
			return nil, fmt.Errorf("document %d: %w", i, ErrNotResource)
		}
		// Fastest path: one validation pass, then the envelope and the entries are
		// read as sub-slices (jsonscan) whenever encoding/json would read them the same.
		if x, ok := jsonscan.Parse(doc); ok {
			if d, ok := scanDocument(x, doc); ok {
				if d.ResourceType == "" {
					return nil, fmt.Errorf("document %d: %w", i, ErrNotResource)
				}
				rc.document(x, doc, d, 0)
				continue
			}
		}
		// Fast path: the document and its entries in one decoding. When an entry
		// wrapper is malformed, the robust path reads the entries one by one.
		var d document
		if err := json.Unmarshal(doc, &d); err == nil {
			if d.ResourceType == "" {
				return nil, fmt.Errorf("document %d: %w", i, ErrNotResource)
			}
			rc.document(nil, doc, d, 0)
			continue
		}
		p, ok := peekOf(doc)
		if !ok {
			return nil, fmt.Errorf("document %d: %w", i, ErrNotResource)
		}
		rc.document(nil, doc, document{peek: p, robust: true}, 0)
	}
	m.replay(rc)
	m.finish()
	return m.p, nil
}

// peek is what is read of every resource before its typed decoding.
type peek struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
	// Status is the raw status element; nil when absent.
	Status *string `json:"status"`
}

// peekOf peeks at a resource. A status of the wrong JSON type does not hide the
// resource type: the typed decoding then reports the resource as unreadable.
func peekOf(raw []byte) (peek, bool) {
	if len(raw) == 0 || raw[0] != '{' {
		return peek{}, false
	}
	var p peek
	if json.Unmarshal(raw, &p) == nil {
		return p, p.ResourceType != ""
	}
	var min struct {
		ResourceType string `json:"resourceType"`
	}
	if json.Unmarshal(raw, &min) != nil || min.ResourceType == "" {
		return peek{}, false
	}
	return peek{ResourceType: min.ResourceType}, true
}

// peekValid is peekOf for a resource known to be valid JSON (an entry of a document that
// was validated or decoded): its top-level members are read in place; peekOf decides
// whenever encoding/json could read them differently.
func peekValid(x *jsonscan.Index, raw []byte) (peek, bool) {
	if len(raw) > 0 && raw[0] == '{' {
		var p peek
		if x.Fields(raw, peekFields, func(n int, v []byte) bool {
			switch n {
			case 0:
				return jsonscan.StringOrNull(v, &p.ResourceType)
			case 1:
				return jsonscan.StringOrNull(v, &p.ID)
			default:
				return scanStatus(v, &p.Status)
			}
		}) {
			return p, p.ResourceType != ""
		}
	}
	return peekOf(raw)
}

var (
	peekFields     = []string{"resourceType", "id", "status"}
	documentFields = []string{"resourceType", "id", "status", "entry"}
	entryFields    = []string{"fullUrl", "resource"}
)

// scanDocument reads what json.Unmarshal into a document reads, from valid JSON, without
// copying; ok is false whenever encoding/json could read it differently or fail (a value
// of the wrong type, a key matched only by case folding, a field given twice): the caller
// then uses encoding/json.
func scanDocument(x *jsonscan.Index, doc []byte) (d document, ok bool) {
	ok = x.Fields(doc, documentFields, func(n int, v []byte) bool {
		switch n {
		case 0:
			return jsonscan.StringOrNull(v, &d.ResourceType)
		case 1:
			return jsonscan.StringOrNull(v, &d.ID)
		case 2:
			return scanStatus(v, &d.Status)
		default:
			return scanEntries(x, v, &d.Entry)
		}
	})
	return d, ok
}

// scanEntries reads Bundle.entry as []bundleEntry: null is no entries, a null element a
// zero entry, the resource the raw value.
func scanEntries(x *jsonscan.Index, v []byte, dst *[]bundleEntry) bool {
	var entries []bundleEntry
	if jsonscan.Kind(v) == '[' {
		entries = make([]bundleEntry, 0, 16)
	}
	ok := x.ArrayOrNull(v, func(e []byte) bool {
		var be bundleEntry
		ok := true
		switch jsonscan.Kind(e) {
		case 'n':
		case '{':
			ok = x.Fields(e, entryFields, func(n int, v []byte) bool {
				if n == 0 {
					return jsonscan.StringOrNull(v, &be.FullURL)
				}
				be.Resource = v
				return true
			})
		default:
			ok = false
		}
		entries = append(entries, be)
		return ok
	})
	*dst = entries
	return ok
}

// scanStatus reads a string or null (nil) into dst.
func scanStatus(v []byte, dst **string) bool {
	if jsonscan.IsNull(v) {
		return true
	}
	s, ok := jsonscan.String(v)
	*dst = &s
	return ok
}

// document is a resource read as a possible Bundle. Its envelope is read without the
// library so that an odd entry wrapper (an unknown search mode, a malformed link)
// cannot sink the whole Bundle.
type document struct {
	peek
	Entry  []bundleEntry `json:"entry"`
	robust bool          // Entry was not decoded: read the entries one by one
}

type bundleEntry struct {
	FullURL  string          `json:"fullUrl"`
	Resource json.RawMessage `json:"resource"`
}

// x indexes doc when it was checked by jsonscan.Parse (nil otherwise).
func (rc *received) document(x *jsonscan.Index, doc json.RawMessage, d document, depth int) {
	if d.ResourceType != "Bundle" {
		rc.add(doc, d.peek, "")
		return
	}
	if depth >= maxBundleDepth {
		rc.note(NoteRejected, refOf("Bundle", d.ID, ""), "Bundle nested too deeply; not read")
		return
	}
	entries := d.Entry
	if d.robust {
		var env struct {
			Entry []json.RawMessage `json:"entry"`
		}
		if err := json.Unmarshal(doc, &env); err != nil {
			rc.note(NoteRejected, refOf("Bundle", d.ID, ""), "Bundle entries could not be read: "+jsonProblem(err))
			return
		}
		entries = make([]bundleEntry, 0, len(env.Entry))
		for i, raw := range env.Entry {
			var e bundleEntry
			if err := json.Unmarshal(raw, &e); err != nil {
				rc.note(NoteRejected, "", fmt.Sprintf("Bundle entry %d could not be read: %s", i, jsonProblem(err)))
				continue
			}
			entries = append(entries, e)
		}
	}
	for i, e := range entries {
		res := bytes.TrimSpace(e.Resource)
		if len(res) == 0 || bytes.Equal(res, []byte("null")) {
			continue // a search entry without a resource
		}
		ep, ok := peekValid(x, res)
		if !ok {
			rc.note(NoteRejected, fullURLRef(e.FullURL), fmt.Sprintf("Bundle entry %d is not a FHIR resource; skipped", i))
			continue
		}
		if ep.ResourceType == "Bundle" {
			nested, ok := scanDocument(x, res)
			if !ok {
				nested = document{}
				if err := json.Unmarshal(res, &nested); err != nil {
					nested = document{peek: ep, robust: true}
				}
			}
			rc.document(x, res, nested, depth+1)
			continue
		}
		rc.add(res, ep, e.FullURL)
	}
}

// jsonProblem describes a decoding error without quoting the data.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("malformed JSON at offset %d", se.Offset)
	case errors.As(err, &te):
		if te.Field != "" {
			return fmt.Sprintf("element %s has the wrong JSON type (%s)", te.Field, te.Value)
		}
		return fmt.Sprintf("wrong JSON type (%s)", te.Value)
	default:
		msg := err.Error()
		if len(msg) > 120 {
			msg = msg[:120]
		}
		return msg
	}
}

func fullURLRef(u string) string {
	if u == "" || strings.HasPrefix(u, "urn:") {
		return ""
	}
	return normRef(u)
}

func refOf(typ, id, fullURL string) string {
	if id != "" {
		return typ + "/" + id
	}
	if r := fullURLRef(fullURL); r != "" {
		return r
	}
	return ""
}

// resource dispatches one resource by type. Resources of other types are ignored.
func (m *mapper) resource(raw json.RawMessage, p peek, fullURL string) {
	r := rawRes{raw: raw, peek: p, ref: refOf(p.ResourceType, p.ID, fullURL)}
	switch p.ResourceType {
	case "Patient":
		m.patient(r)
	case "Condition":
		m.condition(r)
	case "Observation":
		m.observation(r)
	case "DiagnosticReport":
		m.diagnosticReport(r)
	case "MedicationRequest":
		m.medicationRequest(r)
	case "MedicationStatement":
		m.medicationStatement(r)
	case "MedicationAdministration":
		m.medicationAdministration(r)
	case "Medication":
		m.medication(r)
	case "Procedure":
		m.procedure(r)
	case "ServiceRequest":
		m.serviceRequest(r)
	case "Task":
		m.task(r)
	case "OperationOutcome":
		m.operationOutcome(r)
	}
}

// operationOutcome notes a server error reported in place of (or beside) data.
// Information and warnings (e.g. "no results") are not data-quality problems.
func (m *mapper) operationOutcome(r rawRes) {
	var oo struct {
		Issue []struct {
			Severity string `json:"severity"`
		} `json:"issue"`
	}
	if json.Unmarshal(r.raw, &oo) != nil {
		return
	}
	for _, is := range oo.Issue {
		if is.Severity == "error" || is.Severity == "fatal" {
			m.note(NoteCaveat, r.ref, "the FHIR server reported an error for a query (OperationOutcome); data may be missing")
			return
		}
	}
}

// rawRes is one resource as received.
type rawRes struct {
	raw  json.RawMessage
	peek peek
	ref  string
}

func (r rawRes) status() string {
	if r.peek.Status == nil {
		return ""
	}
	return strings.TrimSpace(*r.peek.Status)
}

// unreadable records a resource that the library could not decode.
func (m *mapper) unreadable(r rawRes, err error) {
	m.note(NoteRejected, r.ref, r.peek.ResourceType+" could not be read ("+jsonProblem(err)+"); skipped")
}

// subjectOK checks that a subject/patient reference names the patient: a resource
// belongs to the patient only through a literal Patient/<id> reference, relative or
// absolute on the request's own fhirServer (Input.FHIRServer). Anything else (another
// patient, a Group, a Patient on another server, a contained or logical reference, no
// reference at all) is skipped with a data-quality note; the search being by patient
// proves nothing (a server may return a Group member's data, or a copy from elsewhere).
func (m *mapper) subjectOK(r rawRes, ref *string) bool {
	if m.in.PatientID == "" {
		return true
	}
	s := ""
	if ref != nil {
		s = strings.TrimSpace(*ref)
	}
	why := m.notOwned(s)
	if why == "" {
		return true
	}
	m.note(NoteSkipped, r.ref, r.peek.ResourceType+" skipped: "+why)
	return false
}

// notOwned is why the reference s does not name the patient, "" when it does.
func (m *mapper) notOwned(s string) string {
	if i := strings.Index(s, "/_history/"); i >= 0 {
		s = s[:i]
	}
	switch {
	case s == "":
		return "it names no patient (no subject reference)"
	case strings.HasPrefix(s, "#"):
		return "its subject is a contained resource, not a Patient of the record"
	case strings.HasPrefix(s, "urn:"):
		return "its subject is not a Patient/<id> reference"
	}
	base, rest := "", s
	if i := strings.LastIndex(s, "/Patient/"); i >= 0 && strings.Contains(s[:i], "://") {
		base, rest = s[:i], s[i+1:]
	}
	typ, id, ok := strings.Cut(rest, "/")
	if !ok || strings.Contains(id, "/") || (base == "" && strings.Contains(typ, ":")) {
		return "its subject is not a Patient/<id> reference"
	}
	if typ != "Patient" {
		return "its subject is a " + typ + ", not the patient"
	}
	if base != "" && !sameBase(base, m.in.FHIRServer) {
		return "its subject is a Patient on another FHIR server"
	}
	if id != m.in.PatientID {
		return "its subject is another patient"
	}
	return ""
}

// sameBase reports whether the FHIR bases a and b are the same: scheme and host compared
// without case, the default port dropped, no trailing slash. An empty b (no fhirServer)
// matches no absolute reference.
func sameBase(a, b string) bool {
	if b == "" {
		return false
	}
	norm := func(s string) string {
		s = strings.TrimRight(strings.TrimSpace(s), "/")
		scheme, rest, ok := strings.Cut(s, "://")
		if !ok {
			return s
		}
		host, path, _ := strings.Cut(rest, "/")
		scheme, host = strings.ToLower(scheme), strings.ToLower(host)
		host = strings.TrimSuffix(host, map[string]string{"https": ":443", "http": ":80"}[scheme])
		return scheme + "://" + host + "/" + path
	}
	return norm(a) == norm(b)
}

// received is what the documents hold, in arrival order: the notes of their reading and
// the resources, one slot per resource with every copy of it (the same type/id in two
// documents, as overlapping prefetch keys give). Map replays it once every document is
// read, so that the copy used does not depend on the order of the documents.
type received struct {
	events []int // ≥ 0: a slot; < 0: the note -1-e
	notes  []Note
	slots  []slot
	byRef  map[string]int // type/id → slot
}

// slot is one resource: its first copy and any later ones.
type slot struct {
	ref   string
	first rawCopy
	more  []rawCopy
}

type rawCopy struct {
	raw     json.RawMessage
	peek    peek
	fullURL string
}

func (rc *received) note(kind NoteKind, ref, text string) {
	rc.events = append(rc.events, -1-len(rc.notes))
	rc.notes = append(rc.notes, Note{Kind: kind, Ref: ref, Text: text})
}

// add records a resource; a later copy of a resource already seen joins its slot.
func (rc *received) add(raw json.RawMessage, p peek, fullURL string) {
	c := rawCopy{raw: raw, peek: p, fullURL: fullURL}
	ref := refOf(p.ResourceType, p.ID, fullURL)
	if ref != "" && p.ID != "" {
		if i, ok := rc.byRef[ref]; ok {
			rc.slots[i].more = append(rc.slots[i].more, c)
			return
		}
		rc.byRef[ref] = len(rc.slots)
	}
	rc.events = append(rc.events, len(rc.slots))
	rc.slots = append(rc.slots, slot{ref: ref, first: c})
}

// replay maps what rc holds, in arrival order, one copy per resource (choose).
func (m *mapper) replay(rc *received) {
	for _, ev := range rc.events {
		if ev < 0 {
			n := rc.notes[-1-ev]
			m.note(n.Kind, n.Ref, n.Text)
			continue
		}
		c := m.choose(&rc.slots[ev])
		m.resource(c.raw, c.peek, c.fullURL)
	}
}

// choose picks the copy of a resource to map (docs/clinical.md §1.4: withdrawn data is never
// used). Identical copies are one. Among differing copies, a withdrawn one (status
// entered-in-error or cancelled, a Condition entered-in-error or refuted) wins, and its
// reader skips the resource with the usual note; else the newest by meta.lastUpdated,
// then by the highest meta.versionId; when nothing tells which is current, the first copy
// received is kept with a conflict note naming the resource.
func (m *mapper) choose(s *slot) rawCopy {
	if len(s.more) == 0 {
		return s.first
	}
	copies := distinctCopies(append([]rawCopy{s.first}, s.more...))
	if len(copies) == 1 {
		return copies[0]
	}
	for _, c := range copies {
		if withdrawnCopy(c) {
			return c
		}
	}
	stamps := make([]stamp, len(copies))
	for i, c := range copies {
		stamps[i] = stampOf(c.raw)
	}
	for i := range copies {
		newest := true
		for j := range copies {
			if j != i {
				if d, ok := stamps[i].compare(stamps[j]); !ok || d <= 0 {
					newest = false
					break
				}
			}
		}
		if newest {
			return copies[i]
		}
	}
	m.note(NoteConflict, s.ref, fmt.Sprintf("%s was received in %d differing copies and neither meta.lastUpdated nor meta.versionId tells which is current; the first copy received is used", s.ref, len(copies)))
	return copies[0]
}

// distinctCopies drops the copies identical (as JSON values) to an earlier one.
func distinctCopies(copies []rawCopy) []rawCopy {
	var out []rawCopy
	var values []any
next:
	for _, c := range copies {
		var v any
		decoded := false
		for i, o := range out {
			if bytes.Equal(bytes.TrimSpace(c.raw), bytes.TrimSpace(o.raw)) {
				continue next
			}
			if !decoded {
				v, decoded = jsonValue(c.raw), true
			}
			if values[i] == nil {
				values[i] = jsonValue(o.raw)
			}
			if v != nil && reflect.DeepEqual(v, values[i]) {
				continue next
			}
		}
		out = append(out, c)
		values = append(values, v)
	}
	return out
}

// jsonValue decodes raw with numbers kept as written; nil when it cannot be read.
func jsonValue(raw []byte) any {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if d.Decode(&v) != nil {
		return nil
	}
	return v
}

// withdrawnCopy reports whether a copy says the resource is withdrawn, as its reader
// would skip it: status entered-in-error or cancelled, or a Condition whose verification
// status is entered-in-error or refuted.
func withdrawnCopy(c rawCopy) bool {
	switch (rawRes{peek: c.peek}).status() {
	case "entered-in-error", "cancelled":
		return true
	}
	if c.peek.ResourceType != "Condition" {
		return false
	}
	var cond struct {
		VerificationStatus *fhir.CodeableConcept `json:"verificationStatus"`
	}
	if json.Unmarshal(c.raw, &cond) != nil {
		return false
	}
	switch firstCode(cond.VerificationStatus) {
	case "entered-in-error", "refuted":
		return true
	}
	return false
}

// stamp is what tells copies of a resource apart in time: meta.lastUpdated and
// meta.versionId (when an integer).
type stamp struct {
	updated    time.Time
	hasUpdated bool
	version    int64
	hasVersion bool
}

func stampOf(raw []byte) stamp {
	var r struct {
		Meta *struct {
			LastUpdated *string `json:"lastUpdated"`
			VersionID   *string `json:"versionId"`
		} `json:"meta"`
	}
	var s stamp
	if json.Unmarshal(raw, &r) != nil || r.Meta == nil {
		return s
	}
	if r.Meta.LastUpdated != nil {
		if t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(*r.Meta.LastUpdated)); err == nil {
			s.updated, s.hasUpdated = t, true
		}
	}
	if r.Meta.VersionID != nil {
		if v, err := strconv.ParseInt(strings.TrimSpace(*r.Meta.VersionID), 10, 64); err == nil {
			s.version, s.hasVersion = v, true
		}
	}
	return s
}

// compare orders s and o by lastUpdated, then versionId; ok is false when neither tells.
func (s stamp) compare(o stamp) (int, bool) {
	if s.hasUpdated && o.hasUpdated && !s.updated.Equal(o.updated) {
		return s.updated.Compare(o.updated), true
	}
	if s.hasVersion && o.hasVersion && s.version != o.version {
		return cmp.Compare(s.version, o.version), true
	}
	return 0, false
}
