package hooks

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Kind is the error vocabulary of nencds. Each kind has exactly one HTTP status, given in
// its comment and mapped in one place (Kind.Status).
type Kind int

const (
	// KindInternal is an unexpected failure (HTTP 500). Its detail is logged, never sent.
	KindInternal Kind = iota
	// KindInvalid is a malformed or invalid request (HTTP 400).
	KindInvalid
	// KindUnauthenticated is a missing or refused client JWT (HTTP 401). The answer is
	// generic; the reason goes to the log.
	KindUnauthenticated
	// KindNotFound is an unknown service or route (HTTP 404).
	KindNotFound
	// KindMissingData is prefetch data the rules need that could not be had (HTTP 412).
	KindMissingData
	// KindTooLarge is a body over the configured cap (HTTP 413).
	KindTooLarge
	// KindUnsupportedMedia is a body that is not JSON (HTTP 415).
	KindUnsupportedMedia
	// KindUnavailable is a saturated or not yet ready server (HTTP 503).
	KindUnavailable
	// KindTimeout is a request body not received within its deadline (HTTP 408).
	KindTimeout
)

var kindStatus = map[Kind]int{
	KindInternal:         http.StatusInternalServerError,
	KindInvalid:          http.StatusBadRequest,
	KindUnauthenticated:  http.StatusUnauthorized,
	KindNotFound:         http.StatusNotFound,
	KindMissingData:      http.StatusPreconditionFailed,
	KindTooLarge:         http.StatusRequestEntityTooLarge,
	KindUnsupportedMedia: http.StatusUnsupportedMediaType,
	KindUnavailable:      http.StatusServiceUnavailable,
	KindTimeout:          http.StatusRequestTimeout,
}

// issueCode is the FHIR IssueType of each kind.
var kindIssue = map[Kind]string{
	KindInternal:         "exception",
	KindInvalid:          "invalid",
	KindUnauthenticated:  "login",
	KindNotFound:         "not-found",
	KindMissingData:      "incomplete",
	KindTooLarge:         "too-long",
	KindUnsupportedMedia: "not-supported",
	KindUnavailable:      "transient",
	KindTimeout:          "timeout",
}

// Status returns the HTTP status of k.
func (k Kind) Status() int {
	if s, ok := kindStatus[k]; ok {
		return s
	}
	return http.StatusInternalServerError
}

func (k Kind) String() string {
	return strings.ToLower(http.StatusText(k.Status()))
}

// Error is an error of a Kind. Msg is safe to send to the client (no patient data, no
// token); Err, when set, is the cause, logged for 5xx and never sent.
type Error struct {
	Kind Kind
	Msg  string
	// Missing lists the prefetch keys that could not be had (KindMissingData), each with
	// a client-safe reason.
	Missing []MissingKey
	Err     error
}

// MissingKey is one prefetch key that could not be had and why.
type MissingKey struct {
	Key    string
	Reason string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Kind.String())
	if e.Msg != "" {
		b.WriteString(": ")
		b.WriteString(e.Msg)
	}
	for _, m := range e.Missing {
		fmt.Fprintf(&b, "; %s: %s", m.Key, m.Reason)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of kind k with a client-safe message.
func Errorf(k Kind, format string, args ...any) error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...)}
}

// KindOf returns the Kind of err: that of the first *Error in its chain, KindTooLarge for
// an *http.MaxBytesError, KindInternal otherwise.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return KindTooLarge
	}
	return KindInternal
}

// OperationOutcome is the FHIR R4 OperationOutcome that every non-2xx answer carries.
type OperationOutcome struct {
	ResourceType string  `json:"resourceType"`
	Issue        []Issue `json:"issue"`
}

// Issue is one OperationOutcome.issue.
type Issue struct {
	Severity    string   `json:"severity"`
	Code        string   `json:"code"`
	Diagnostics string   `json:"diagnostics,omitempty"`
	Expression  []string `json:"expression,omitempty"`
}

// Outcome maps err to its HTTP status and the OperationOutcome to send. Internal errors
// get a generic message; their detail is for the log only.
func Outcome(err error) (int, OperationOutcome) {
	k := KindOf(err)
	oo := OperationOutcome{ResourceType: "OperationOutcome"}
	var e *Error
	errors.As(err, &e)
	switch {
	case k == KindInternal:
		oo.Issue = []Issue{{Severity: "error", Code: kindIssue[k], Diagnostics: "internal error"}}
	case k == KindUnauthenticated:
		oo.Issue = []Issue{{Severity: "error", Code: kindIssue[k], Diagnostics: "authentication required"}}
	case k == KindMissingData && e != nil && len(e.Missing) > 0:
		for _, m := range e.Missing {
			oo.Issue = append(oo.Issue, Issue{
				Severity:    "error",
				Code:        kindIssue[k],
				Diagnostics: fmt.Sprintf("prefetch %q could not be had: %s", m.Key, m.Reason),
				Expression:  []string{"prefetch." + m.Key},
			})
		}
	default:
		msg := http.StatusText(k.Status())
		if e != nil && e.Msg != "" {
			msg = e.Msg
		} else if k == KindTooLarge {
			msg = "request body too large"
		}
		oo.Issue = []Issue{{Severity: "error", Code: kindIssue[k], Diagnostics: msg}}
	}
	return k.Status(), oo
}
