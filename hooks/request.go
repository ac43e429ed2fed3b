package hooks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"os"
	"regexp"
	"strings"

	"github.com/nencds/nencds/cards"
	"github.com/nencds/nencds/fhirclient"
	"github.com/nencds/nencds/internal/fhirjson"
)

// Request is a CDS Hooks 2.0 service request.
type Request struct {
	Hook              string                     `json:"hook"`
	HookInstance      string                     `json:"hookInstance"`
	FHIRServer        string                     `json:"fhirServer,omitempty"`
	FHIRAuthorization *FHIRAuthorization         `json:"fhirAuthorization,omitempty"`
	Context           json.RawMessage            `json:"context"`
	Prefetch          map[string]json.RawMessage `json:"prefetch,omitempty"`

	// PatientView is Context decoded by Validate: the patient-view context, and the
	// userId, patientId and encounterId of the order hooks.
	PatientView PatientViewContext `json:"-"`
	// Orders is the order context decoded by Validate for order-select and order-sign
	// (nil for patient-view).
	Orders *cards.Orders `json:"-"`
}

// FHIRAuthorization is the OAuth 2.0 access token the client grants for fhirServer. The
// token is used for the fallback fetches of one request only: never logged, never cached.
type FHIRAuthorization struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope"`
	Subject     string `json:"subject"`
	Patient     string `json:"patient,omitempty"`
}

// usable reports whether the token may be sent: present and not expired (an expires_in
// of 0 or less is an expired token, which the fallback does not use).
func (a *FHIRAuthorization) usable() bool { return a != nil && a.AccessToken != "" && a.ExpiresIn > 0 }

// PatientViewContext is the context of the patient-view hook.
type PatientViewContext struct {
	UserID      string `json:"userId"`
	PatientID   string `json:"patientId"`
	EncounterID string `json:"encounterId,omitempty"`
}

// Limits bound what the request decoder accepts.
type Limits struct {
	// MaxBytes caps the body (413 beyond). Default 5 MiB.
	MaxBytes int64
	// MaxDepth caps JSON nesting of objects and arrays (400 beyond). Default 64.
	MaxDepth int
	// MaxString caps the length in bytes of one JSON string, escapes included (400
	// beyond). Default 1 MiB.
	MaxString int
}

// DefaultLimits returns the documented defaults.
func DefaultLimits() Limits {
	return Limits{MaxBytes: 5 << 20, MaxDepth: 64, MaxString: 1 << 20}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxBytes <= 0 {
		l.MaxBytes = d.MaxBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.MaxString <= 0 {
		l.MaxString = d.MaxString
	}
	return l
}

// CheckContentType returns a KindUnsupportedMedia error unless ct is JSON
// (application/json or application/*+json, charset utf-8 if any).
func CheckContentType(ct string) error {
	if ct == "" {
		return Errorf(KindUnsupportedMedia, "Content-Type must be application/json")
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return Errorf(KindUnsupportedMedia, "Content-Type must be application/json")
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return Errorf(KindUnsupportedMedia, "charset must be utf-8")
	}
	if mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")) {
		return nil
	}
	return Errorf(KindUnsupportedMedia, "Content-Type must be application/json, not %q", mt)
}

// ReadBody reads at most l.MaxBytes from r: beyond, a KindTooLarge error.
func ReadBody(r io.Reader, l Limits) ([]byte, error) {
	b, err := readBody(r, nil, -1, l)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// readBody is ReadBody appending to b (readAll: size is the announced length, -1 when
// unknown); on error it returns b as grown, for the caller's pool.
func readBody(r io.Reader, b []byte, size int64, l Limits) ([]byte, error) {
	l = l.withDefaults()
	b, err := readAll(io.LimitReader(r, l.MaxBytes+1), b, size)
	if err != nil {
		if KindOf(err) == KindTooLarge {
			return b, &Error{Kind: KindTooLarge, Msg: fmt.Sprintf("request body over %d bytes", l.MaxBytes), Err: err}
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return b, &Error{Kind: KindTimeout, Msg: "request body not received in time", Err: err}
		}
		return b, &Error{Kind: KindInvalid, Msg: "request body could not be read", Err: err}
	}
	if int64(len(b)) > l.MaxBytes {
		return b, Errorf(KindTooLarge, "request body over %d bytes", l.MaxBytes)
	}
	return b, nil
}

// DecodeJSON decodes exactly one JSON value from data into v, strictly (internal/fhirjson):
// the limits on nesting and string length; member names matched exactly; no member named
// twice in an object nor a string that is not valid UTF-8; trailing data rejected; a
// syntax or type error with its line and column. A json.RawMessage in v is a sub-slice of
// data. Every error is KindInvalid.
func DecodeJSON(data []byte, l Limits, v any) error {
	l = l.withDefaults()
	if len(bytes.TrimSpace(data)) == 0 {
		return Errorf(KindInvalid, "empty body: a JSON object is required")
	}
	if err := checkShape(data, l); err != nil {
		return err
	}
	if err := fhirjson.UnmarshalInPlace(data, v); err != nil {
		e := fhirjson.Describe(err)
		if e.Offset <= 0 && strings.Contains(e.Reason, "end of input") {
			e.Offset = int64(len(data))
		}
		line, col := position(data, e.Offset)
		// The decoder's own error is not kept: its text may quote the body.
		return Errorf(KindInvalid, "malformed JSON at line %d, column %d: %s", line, col, e.Reason)
	}
	return nil
}

// position returns the 1-based line and column of byte offset off.
func position(data []byte, off int64) (line, col int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	if off < 0 {
		off = 0
	}
	before := data[:off]
	line = bytes.Count(before, []byte{'\n'}) + 1
	col = int(off) - bytes.LastIndexByte(before, '\n')
	return line, col
}

// checkShape enforces the nesting and string limits in one pass, before any decoding
// allocates. It does not validate JSON; the decoder does.
func checkShape(data []byte, l Limits) error {
	depth := 0
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '{', '[':
			depth++
			if depth > l.MaxDepth {
				line, col := position(data, int64(i))
				return Errorf(KindInvalid, "JSON nested deeper than %d at line %d, column %d", l.MaxDepth, line, col)
			}
		case '}', ']':
			depth--
		case '"':
			start := i
			i = stringEnd(data, i+1)
			if i-start-1 > l.MaxString {
				line, col := position(data, int64(start))
				return Errorf(KindInvalid, "JSON string longer than %d bytes at line %d, column %d", l.MaxString, line, col)
			}
		}
	}
	return nil
}

// stringEnd is the index of the quote that closes the string whose contents start at i
// (len(data) when it is not closed): the next quote not escaped by an odd run of
// backslashes, found with bytes.IndexByte (strings are most of a request's bytes).
func stringEnd(data []byte, i int) int {
	for {
		j := bytes.IndexByte(data[i:], '"')
		if j < 0 {
			return len(data)
		}
		q := i + j
		n := 0
		for k := q - 1; k >= i && data[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return q
		}
		i = q + 1
	}
}

// DecodeRequest decodes a CDS Hooks request body strictly (see DecodeJSON). It does not
// validate the fields: see Request.Validate. Context and the prefetch values are
// sub-slices of data: do not modify data while the request is in use.
func DecodeRequest(data []byte, l Limits) (*Request, error) {
	var req Request
	if err := DecodeJSON(data, l, &req); err != nil {
		return nil, err
	}
	return &req, nil
}

// fhirID is the FHIR id datatype.
var fhirID = regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)

// Validate checks req for service svc: the hook, hookInstance, the context fields, the
// fhirServer and fhirAuthorization pair, and the shape of every prefetch value. It
// decodes the patient-view context into req.PatientView. Every error is KindInvalid.
func (req *Request) Validate(svc Service) error {
	if req.Hook == "" {
		return Errorf(KindInvalid, "hook is required")
	}
	if req.Hook != svc.Hook {
		return Errorf(KindInvalid, "service %q answers hook %q, not %q", svc.ID, svc.Hook, req.Hook)
	}
	if req.HookInstance == "" {
		return Errorf(KindInvalid, "hookInstance is required")
	}
	if len(req.HookInstance) > 128 {
		return Errorf(KindInvalid, "hookInstance is longer than 128 characters")
	}
	if len(req.Context) == 0 || string(req.Context) == "null" {
		return Errorf(KindInvalid, "context is required")
	}
	var pv PatientViewContext
	if err := fhirjson.Unmarshal(req.Context, &pv); err != nil {
		return Errorf(KindInvalid, "context must be an object with string fields userId, patientId and encounterId")
	}
	if pv.PatientID == "" {
		return Errorf(KindInvalid, "context.patientId is required")
	}
	if !fhirID.MatchString(pv.PatientID) || strings.Trim(pv.PatientID, ".") == "" {
		return Errorf(KindInvalid, "context.patientId must be a bare FHIR id (e.g. \"123\", not \"Patient/123\")")
	}
	if pv.UserID == "" {
		return Errorf(KindInvalid, "context.userId is required")
	}
	if pv.EncounterID != "" && (!fhirID.MatchString(pv.EncounterID) || strings.Trim(pv.EncounterID, ".") == "") {
		return Errorf(KindInvalid, "context.encounterId must be a bare FHIR id")
	}
	req.PatientView = pv

	if req.FHIRServer != "" {
		u, err := fhirclient.ParseBase(req.FHIRServer)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") {
			return Errorf(KindInvalid, "fhirServer must be an absolute http(s) base URL without credentials, query, fragment or dot segments")
		}
	}
	if a := req.FHIRAuthorization; a != nil {
		if req.FHIRServer == "" {
			return Errorf(KindInvalid, "fhirAuthorization requires fhirServer")
		}
		if a.AccessToken == "" {
			return Errorf(KindInvalid, "fhirAuthorization.access_token is required")
		}
		if !strings.EqualFold(a.TokenType, "Bearer") {
			return Errorf(KindInvalid, "fhirAuthorization.token_type must be Bearer")
		}
		if strings.ContainsAny(a.AccessToken, "\r\n") {
			return Errorf(KindInvalid, "fhirAuthorization.access_token is malformed")
		}
		if a.Patient != "" && a.Patient != pv.PatientID {
			// A token for another patient: using it would read that patient's record.
			return Errorf(KindInvalid, "fhirAuthorization.patient must be context.patientId")
		}
	}
	for key, v := range req.Prefetch {
		t := firstByte(v)
		if t != '{' && t != 'n' {
			return Errorf(KindInvalid, "prefetch %q must be a FHIR resource or null", key)
		}
	}
	if isOrderHook(svc.Hook) {
		return req.validateOrders(svc)
	}
	return nil
}

func firstByte(b []byte) byte {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 {
		return 0
	}
	return b[0]
}
