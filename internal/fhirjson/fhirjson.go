// Package fhirjson is how nencds reads JSON: one decoder for the CDS Hooks requests, the
// FHIR documents they carry or the fallback reads, and the resources in them.
//
// The decoder is github.com/go-json-experiment/json, the upstream of Go's encoding/json/v2,
// with one set of options:
//   - member names match exactly (FHIR and CDS Hooks names are case-sensitive);
//   - an object that names a member twice is refused, and so is a string that is not
//     valid UTF-8: two readers could read such a document differently;
//   - FHIR decimals are kept as written (json.Number), never rounded through float64;
//   - with UnmarshalInPlace, a json.RawMessage is a sub-slice of the input, not a copy:
//     callers must not modify the input while the result is in use.
//
// Every document is read once: Unmarshal decodes a value into Go types, ReadDocument
// reads a FHIR document's envelope (what nencds decides on before decoding a resource:
// its type, id and status, a Bundle's entries and links, an OperationOutcome's issues)
// with each entry's resource as a sub-slice, decoded later by its reader.
//
// Errors never quote the data (Describe): a decoding error names the place (a JSON Pointer
// of member names and indices) and the kinds, so that it can go to a client, a card note
// or a log.
package fhirjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// decimal keeps a JSON number as written in a json.Number (the type samply's FHIR models
// use for decimal), as encoding/json does; like encoding/json, it also takes a string that
// holds a valid JSON number, and refuses any other.
var decimal = jsonv2.UnmarshalFromFunc(func(dec *jsontext.Decoder, n *json.Number) error {
	switch dec.PeekKind() {
	case '0':
		v, err := dec.ReadValue()
		if err != nil {
			return err
		}
		*n = json.Number(v)
		return nil
	case '"':
		v, err := dec.ReadValue()
		if err != nil {
			return err
		}
		s, err := jsontext.AppendUnquote(nil, v)
		if err != nil {
			return err
		}
		if !jsontext.Value(s).IsValid() || len(s) == 0 || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) {
			return &jsonv2.SemanticError{JSONKind: '"', GoType: reflect.TypeFor[float64]()}
		}
		*n = json.Number(s)
		return nil
	}
	return jsonv2.SkipFunc // null, or a kind the default refuses
})

// interned are the shared *string values of Intern, by value.
var interned = map[string]*string{}

// Intern makes the *string fields that decode to one of values share one immutable
// string: the code systems, codes and units that nearly every resource repeats are then
// not allocated per resource. Call it only while packages initialise (it is not safe
// for use during decoding). A decoded *string may therefore be shared: never assign
// through it.
func Intern(values ...string) {
	for _, v := range values {
		if _, ok := interned[v]; !ok && v != "" {
			s := v
			interned[v] = &s
		}
	}
}

func init() {
	Intern(
		// code systems and units that FHIR resources repeat
		"http://loinc.org", "http://snomed.info/sct", "http://unitsofmeasure.org",
		"http://hl7.org/fhir/sid/icd-10-cm", "http://www.nlm.nih.gov/research/umls/rxnorm",
		"http://terminology.hl7.org/CodeSystem/observation-category",
		"http://terminology.hl7.org/CodeSystem/condition-clinical",
		"http://terminology.hl7.org/CodeSystem/condition-ver-status",
		"http://terminology.hl7.org/CodeSystem/condition-category",
		"http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
		"http://terminology.hl7.org/CodeSystem/v2-0074",
		"laboratory", "exam", "imaging", "vital-signs", "survey", "social-history", "procedure",
		"active", "inactive", "resolved", "remission", "recurrence", "relapse", "confirmed",
		"provisional", "unconfirmed", "refuted", "entered-in-error", "problem-list-item",
		"encounter-diagnosis", "RAD", "PAT", "LAB", "H", "HH", "L", "LL", "N", "A",
		"%", "ng/mL", "ng/L", "pg/mL", "U/L", "[IU]/L", "mg/dL", "g/dL", "mg/L", "umol/L",
		"mmol/L", "nmol/L", "pmol/L", "mg/(24.h)", "umol/(24.h)", "mg/g{creat}", "10*3/uL",
		"10*9/L", "/2.mm2", "{score}", "1", "mL/min/{1.73_m2}", "d", "wk", "mo", "a",
	)
}

// text decodes a JSON string into a *string field, sharing an interned value (Intern);
// other kinds take the default path (null: nil; anything else: an error).
var text = jsonv2.UnmarshalFromFunc(func(dec *jsontext.Decoder, p **string) error {
	if dec.PeekKind() != '"' {
		return jsonv2.SkipFunc
	}
	v, err := dec.ReadValue()
	if err != nil {
		return err
	}
	b := v[1 : len(v)-1]
	if bytes.IndexByte(b, '\\') >= 0 {
		u, err := jsontext.AppendUnquote(nil, v)
		if err != nil {
			return err
		}
		s := string(u)
		*p = &s
		return nil
	}
	*p = shared(b)
	return nil
})

// recent holds the *string values decoded lately, by a hash of their text: a subject
// reference, a display or a date that the resources of one record repeat is then
// allocated once. Entries are immutable and replaced whole (atomically), so that
// concurrent decodings may share them; a value is used only when its text is equal.
var (
	recent     [1024]atomic.Pointer[string]
	recentSeed = maphash.MakeSeed()
)

// shared returns a *string holding b: an interned one (Intern), a recent one with the
// same text, or a new one (then kept in recent).
func shared(b []byte) *string {
	if s, ok := interned[string(b)]; ok {
		return s
	}
	if len(b) < 2 || len(b) > 256 {
		s := string(b)
		return &s
	}
	slot := &recent[maphash.Bytes(recentSeed, b)%uint64(len(recent))]
	if p := slot.Load(); p != nil && *p == string(b) {
		return p
	}
	s := string(b)
	slot.Store(&s)
	return &s
}

// options are the decoding options of the package (the library's defaults are the rest:
// exact names, no duplicate names, valid UTF-8). Built once: the library caches its
// per-type decoders in them.
var options = jsonv2.WithUnmarshalers(jsonv2.JoinUnmarshalers(decimal, text))

// Unmarshal decodes the JSON value data into v with the options of the package. A
// json.RawMessage in v is a copy (see UnmarshalInPlace).
func Unmarshal(data []byte, v any) error {
	return jsonv2.Unmarshal(data, v, options)
}

// UnmarshalInPlace is Unmarshal where a json.RawMessage in v is a sub-slice of data, not
// a copy (the request decoder: the prefetch values are most of a request). It costs more
// per call than Unmarshal (its options are built per call), so use it once per document.
func UnmarshalInPlace(data []byte, v any) error {
	raw := jsonv2.UnmarshalFromFunc(func(dec *jsontext.Decoder, m *json.RawMessage) error {
		val, err := dec.ReadValue()
		if err != nil {
			return err
		}
		*m = inPlace(data, dec, val)
		return nil
	})
	return jsonv2.Unmarshal(data, v, jsonv2.WithUnmarshalers(jsonv2.JoinUnmarshalers(decimal, text, raw)))
}

// inPlace returns val, just read by dec from data, as the sub-slice of data it was read
// from (the decoder's offset is an offset into data).
func inPlace(data []byte, dec *jsontext.Decoder, val jsontext.Value) json.RawMessage {
	end := dec.InputOffset()
	start := end - int64(len(val))
	if start < 0 || end > int64(len(data)) || !bytes.Equal(data[start:end], val) {
		return json.RawMessage(bytes.Clone(val)) // not read from data as is: keep a copy
	}
	return json.RawMessage(data[start:end:end])
}

// Within reports whether sub is a part of data's memory (a sub-slice of it, not a copy):
// what UnmarshalInPlace and ReadDocument promise of the raw values they return.
func Within(sub, data []byte) bool {
	if len(sub) == 0 || len(data) == 0 {
		return false
	}
	s, d := uintptr(unsafe.Pointer(unsafe.SliceData(sub))), uintptr(unsafe.Pointer(unsafe.SliceData(data)))
	return s >= d && s+uintptr(len(sub)) <= d+uintptr(len(data))
}

// Valid reports whether data is exactly one JSON value that the package would read:
// valid syntax, no member named twice, valid UTF-8.
func Valid(data []byte) bool {
	return jsontext.Value(data).IsValid()
}

// decoders reuses jsontext Decoders (and their state) between documents.
var decoders = sync.Pool{New: func() any { return new(reader) }}

type reader struct {
	buf  bytes.Buffer
	dec  jsontext.Decoder
	data []byte // the input, which buf reads
	err  error  // the first read error of text
}

// newReader returns a pooled decoder over data: it reads data in place (a bytes.Buffer
// reader is not copied).
func newReader(data []byte) *reader {
	r := decoders.Get().(*reader)
	r.buf = *bytes.NewBuffer(data)
	r.dec.Reset(&r.buf)
	r.data, r.err = data, nil
	return r
}

func (r *reader) release() {
	r.buf = bytes.Buffer{}
	r.dec.Reset(&r.buf)
	r.data, r.err = nil, nil
	decoders.Put(r)
}

// Error is a decoding error: where (Offset, a byte offset into the input; Pointer, the
// member names and indices leading there) and what (Reason, with no data quoted).
type Error struct {
	Offset  int64
	Pointer string
	Reason  string
	Err     error
}

func (e *Error) Error() string { return e.Reason }
func (e *Error) Unwrap() error { return e.Err }

// Describe turns a decoding error of the package (or of encoding/json) into an *Error
// whose Reason quotes no data: a syntax fault and its offset, a value of the wrong JSON
// kind and its place, a member named twice, invalid UTF-8. Other errors are returned as
// an *Error with the message "unreadable JSON".
func Describe(err error) *Error {
	var fe *Error
	if errors.As(err, &fe) {
		return fe
	}
	var se *jsonv2.SemanticError
	var sy *jsontext.SyntacticError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		at := place(string(se.JSONPointer))
		want := "another kind"
		if se.GoType != nil {
			want = kindName(se.GoType.Kind().String())
		}
		if se.JSONKind != 0 {
			return &Error{Offset: se.ByteOffset, Pointer: string(se.JSONPointer), Err: err,
				Reason: fmt.Sprintf("%s must be %s, not %s", at, want, jsonKind(se.JSONKind))}
		}
		return &Error{Offset: se.ByteOffset, Pointer: string(se.JSONPointer), Err: err,
			Reason: fmt.Sprintf("%s has a value that cannot be read", at)}
	case errors.As(err, &sy):
		return &Error{Offset: sy.ByteOffset, Pointer: string(sy.JSONPointer), Err: err, Reason: syntaxReason(sy)}
	case errors.As(err, &te):
		return &Error{Offset: te.Offset, Pointer: te.Field, Err: err,
			Reason: fmt.Sprintf("%s must be %s, not %s", place(te.Field), kindName(te.Type.Kind().String()), te.Value)}
	}
	return &Error{Reason: "unreadable JSON", Err: err}
}

// syntaxReason is the reason of a syntax error without the input's bytes (the library's
// own messages quote a few).
func syntaxReason(sy *jsontext.SyntacticError) string {
	msg := ""
	if sy.Err != nil {
		msg = sy.Err.Error()
	}
	switch {
	case errors.Is(sy.Err, jsontext.ErrDuplicateName):
		if p := parent(string(sy.JSONPointer)); p != "" {
			return "a key is given twice in " + place(p)
		}
		return "a key is given twice"
	case errors.Is(sy.Err, jsontext.ErrNonStringName):
		return "an object key is not a string"
	case strings.Contains(msg, "surrogate"):
		return "a string holds an invalid surrogate escape"
	case strings.Contains(msg, "UTF-8"):
		return "a string is not valid UTF-8"
	case errors.Is(sy.Err, io.ErrUnexpectedEOF) || strings.Contains(msg, "unexpected EOF"):
		return "unexpected end of input"
	case strings.Contains(msg, "after top-level value"):
		return "data after the JSON value"
	}
	return "invalid JSON syntax"
}

// place names a JSON Pointer for a message ("element valueQuantity/value"): "the
// document" for the root.
func place(ptr string) string {
	ptr = strings.TrimPrefix(ptr, "/")
	if ptr == "" {
		return "the document"
	}
	if len(ptr) > 120 {
		ptr = ptr[:120] + "…"
	}
	return "element " + ptr
}

func parent(ptr string) string {
	if i := bytes.LastIndexByte([]byte(ptr), '/'); i >= 0 {
		return ptr[:i]
	}
	return ""
}

func jsonKind(k jsontext.Kind) string {
	switch k {
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	case '"':
		return "a string"
	case '0':
		return "a number"
	case '{':
		return "an object"
	case '[':
		return "an array"
	}
	return "another kind"
}

// kindName is the JSON kind a Go kind reads.
func kindName(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64":
		return "a number"
	case "struct", "map":
		return "an object"
	case "slice", "array":
		return "an array"
	}
	return "another kind"
}
