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

	"github.com/nencds/nencds/internal/fhirjson"
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
	// Read are documents already read by fhirjson.ReadDocument (the prefetch resolver and
	// the FHIR client read each prefetch value and page once): Map reads them first, then
	// Documents.
	Read []*fhirjson.Document
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
// Each document is read once (fhirjson.ReadDocument: its envelope, and each entry's type,
// id and raw status, which the reader checks itself because samply's models fill a missing
// required status with the first code of the value set); then each resource mapped is
// decoded once into its model (models.go, or samply's).
func Map(in Input) (*Picture, error) {
	m := newMapper(in)
	for _, n := range in.Notes {
		m.note(n.Kind, n.Ref, n.Text)
	}
	docs := make([]*fhirjson.Document, 0, len(in.Read)+len(in.Documents))
	for i, d := range in.Read {
		if d == nil {
			continue
		}
		if d.ResourceType == "" {
			return nil, fmt.Errorf("document %d: %w", i, ErrNotResource)
		}
		docs = append(docs, d)
	}
	for i, raw := range in.Documents {
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
			continue
		}
		d, err := fhirjson.ReadDocument(raw)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w (%s)", len(in.Read)+i, ErrNotResource, err)
		}
		if d.ResourceType == "" {
			return nil, fmt.Errorf("document %d: %w", len(in.Read)+i, ErrNotResource)
		}
		docs = append(docs, d)
	}
	n := 0
	for _, d := range docs {
		n += countResources(d, 0)
	}
	rc := &received{byRef: make(map[string]int, n), events: make([]int, 0, n), slots: make([]slot, 0, n)}
	for _, d := range docs {
		rc.document(d, 0)
	}
	m.replay(rc)
	m.finish()
	return m.p, nil
}

// countResources is the number of resources that rc.document records of d.
func countResources(d *fhirjson.Document, depth int) int {
	if d.ResourceType != "Bundle" {
		return 1
	}
	if depth >= maxBundleDepth {
		return 0
	}
	n := 0
	for _, e := range d.Entries {
		if e.Resource != nil && e.Resource.ResourceType != "" {
			n += countResources(e.Resource, depth+1)
		}
	}
	return n
}

// decode decodes a resource into its model (models.go, or samply's) with the one decoder
// of nencds.
func decode[T any](r rawRes) (T, error) {
	var v T
	err := fhirjson.Unmarshal(r.doc.Raw, &v)
	return v, err
}

// document records the resources of d (a resource, or a Bundle and its entries, nested
// Bundles to maxBundleDepth) and the notes of its reading.
func (rc *received) document(d *fhirjson.Document, depth int) {
	if d.ResourceType != "Bundle" {
		rc.add(d, "")
		return
	}
	if depth >= maxBundleDepth {
		rc.note(NoteRejected, refOf("Bundle", d.ID, ""), "Bundle nested too deeply; not read")
		return
	}
	if d.Problem != "" {
		rc.note(NoteRejected, refOf("Bundle", d.ID, ""), "Bundle could not be read in full ("+d.Problem+")")
	}
	for i, e := range d.Entries {
		switch {
		case e.Problem != "":
			rc.note(NoteRejected, fullURLRef(e.FullURL), fmt.Sprintf("Bundle entry %d could not be read (%s); skipped", i, e.Problem))
		case e.Resource == nil:
			// a search entry without a resource
		case e.Resource.ResourceType == "":
			rc.note(NoteRejected, fullURLRef(e.FullURL), fmt.Sprintf("Bundle entry %d is not a FHIR resource; skipped", i))
		case e.Resource.ResourceType == "Bundle":
			rc.document(e.Resource, depth+1)
		default:
			rc.add(e.Resource, e.FullURL)
		}
	}
}

// jsonProblem describes a decoding error without quoting the data.
func jsonProblem(err error) string {
	return fhirjson.Describe(err).Reason
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

// hasStatus are the resource types read whose R4 definition has a status element.
var hasStatus = map[string]bool{
	"Observation": true, "DiagnosticReport": true, "MedicationRequest": true, "MedicationStatement": true,
	"MedicationAdministration": true, "Medication": true, "Procedure": true, "ServiceRequest": true, "Task": true,
}

// resource dispatches one resource by type. Resources of other types are ignored.
func (m *mapper) resource(d *fhirjson.Document, fullURL string) {
	r := rawRes{doc: d, ref: refOf(d.ResourceType, d.ID, fullURL)}
	if d.BadStatus && hasStatus[d.ResourceType] {
		// A status that is not a string (the readers check the raw status, and samply's
		// models would refuse the resource): refused with a note, whatever the reader.
		m.note(NoteRejected, r.ref, d.ResourceType+" skipped: its status is not a code")
		return
	}
	switch d.ResourceType {
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
	if r.doc.HasError() {
		m.note(NoteCaveat, r.ref, "the FHIR server reported an error for a query (OperationOutcome); data may be missing")
	}
}

// rawRes is one resource as received.
type rawRes struct {
	doc *fhirjson.Document
	ref string
}

func (r rawRes) status() string { return docStatus(r.doc) }

// docStatus is the raw status of a resource, trimmed ("" when absent).
func docStatus(d *fhirjson.Document) string {
	if d.Status == nil {
		return ""
	}
	return strings.TrimSpace(*d.Status)
}

// unreadable records a resource that the library could not decode.
func (m *mapper) unreadable(r rawRes, err error) {
	m.note(NoteRejected, r.ref, r.doc.ResourceType+" could not be read ("+jsonProblem(err)+"); skipped")
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
	m.note(NoteSkipped, r.ref, r.doc.ResourceType+" skipped: "+why)
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
	doc     *fhirjson.Document
	fullURL string
}

func (rc *received) note(kind NoteKind, ref, text string) {
	rc.events = append(rc.events, -1-len(rc.notes))
	rc.notes = append(rc.notes, Note{Kind: kind, Ref: ref, Text: text})
}

// add records a resource; a later copy of a resource already seen joins its slot.
func (rc *received) add(d *fhirjson.Document, fullURL string) {
	c := rawCopy{doc: d, fullURL: fullURL}
	ref := refOf(d.ResourceType, d.ID, fullURL)
	if ref != "" && d.ID != "" {
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
		m.resource(c.doc, c.fullURL)
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
		stamps[i] = stampOf(c.doc.Raw)
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
			if bytes.Equal(c.doc.Raw, o.doc.Raw) {
				continue next
			}
			if !decoded {
				v, decoded = jsonValue(c.doc.Raw), true
			}
			if values[i] == nil {
				values[i] = jsonValue(o.doc.Raw)
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
	switch docStatus(c.doc) {
	case "entered-in-error", "cancelled":
		return true
	}
	if c.doc.ResourceType != "Condition" {
		return false
	}
	var cond struct {
		VerificationStatus *fhir.CodeableConcept `json:"verificationStatus"`
	}
	if fhirjson.Unmarshal(c.doc.Raw, &cond) != nil {
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
	if fhirjson.Unmarshal(raw, &r) != nil || r.Meta == nil {
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
