package fhirclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/nencds/nencds/internal/fhirjson"
	"github.com/nencds/nencds/internal/security"
)

// Options configure the FHIR client.
type Options struct {
	// Transport makes the requests (Transport(Mode) when nil); telemetry wraps it.
	Transport http.RoundTripper
	// Mode decides whether the default transport may connect to loopback (as Policy).
	Mode security.Mode
	// MaxBytes caps one response body. Default 10 MiB.
	MaxBytes int64
	// MaxPages caps the pages read for one prefetch key by following next links. Default 10.
	MaxPages int
	// RequestTimeout caps one HTTP request. Default 3 s.
	RequestTimeout time.Duration
}

// Client reads FHIR resources (the prefetch fallback of hooks, the record of the SMART
// app). It follows redirects and next links only under the same base (scheme, host, port
// and path prefix, no dot segments); the access token is sent to the named server for
// the one request and kept nowhere.
type Client struct {
	http           *http.Client
	maxBytes       int64
	maxPages       int
	requestTimeout time.Duration
}

// New returns a Client for o.
func New(o Options) *Client {
	if o.MaxBytes <= 0 {
		o.MaxBytes = 10 << 20
	}
	if o.MaxPages <= 0 {
		o.MaxPages = 10
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 3 * time.Second
	}
	t := o.Transport
	if t == nil {
		t = Transport(o.Mode)
	}
	return &Client{
		http: &http.Client{
			Transport: t,
			CheckRedirect: func(req *http.Request, via []*http.Request) error {
				if len(via) >= 3 {
					return errors.New("too many redirects")
				}
				// Every redirect target passes the same check as a next link, so the
				// token never follows a redirect out of the fhirServer base.
				base, _ := req.Context().Value(baseKey{}).(*url.URL)
				if base == nil {
					return errRedirectBase
				}
				first := via[0].URL
				if !strings.EqualFold(req.URL.Scheme, first.Scheme) || !strings.EqualFold(req.URL.Host, first.Host) {
					return errRedirectHost
				}
				if !UnderBase(req.URL, base) {
					return errRedirectBase
				}
				return nil
			},
		},
		maxBytes:       o.MaxBytes,
		maxPages:       o.MaxPages,
		requestTimeout: o.RequestTimeout,
	}
}

// reasonTimeout is the reason of a request that did not end before its deadline.
const reasonTimeout = "the FHIR server did not answer in time"

var (
	errRedirectHost = errors.New("redirect to another host refused")
	errRedirectBase = errors.New("redirect out of the fhirServer base refused")
)

// baseKey carries the fhirServer base of a fetch in its request context, for CheckRedirect.
type baseKey struct{}

// fetchError is a failed fetch with a client-safe reason.
type fetchError struct {
	reason string
	status int // the HTTP status of a non-200 answer, else 0
	err    error
}

func (e *fetchError) Error() string {
	if e.err != nil {
		return e.reason + ": " + e.err.Error()
	}
	return e.reason
}
func (e *fetchError) Unwrap() error { return e.err }

// Status is the HTTP status of a read that the FHIR server answered with a status other
// than 200 (401: the token is not accepted), else 0.
func Status(err error) int {
	var fe *fetchError
	if errors.As(err, &fe) {
		return fe.status
	}
	return 0
}

// Reason is the client-safe reason of a failed read (no URL, no patient data, no token).
func Reason(err error) string {
	var fe *fetchError
	if errors.As(err, &fe) {
		return fe.reason
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "the FHIR server did not answer in time"
	}
	return "the FHIR server could not be read"
}

// Pages reads first (a URL under base) and then every next link, up to the page cap,
// only under base. A page that is an OperationOutcome, or a Bundle carrying an error or
// fatal issue, fails; so does any page that is not a search Bundle (type searchset or
// collection).
//
// A read cut short after at least one page (a next link seen before: a loop; the page
// cap; the deadline) returns the pages read AND an *Incomplete error: what was read is
// usable, and the record may hold more, which the caller must say. Any other error, and
// a read cut short before its first page, returns no pages.
func (c *Client) Pages(ctx context.Context, base *url.URL, token, first string) ([]*fhirjson.Document, error) {
	return c.pages(ctx, base, token, first, searchBundle)
}

// Incomplete is a search read in part (Pages): Reason is a fixed, client-safe label.
type Incomplete struct {
	Reason string // IncompleteLoop, IncompletePageCap or IncompleteDeadline
	Detail string // client-safe words for a data-quality note
}

// The reasons of an Incomplete read (low-cardinality metric labels).
const (
	IncompleteLoop     = "loop"
	IncompletePageCap  = "page-cap"
	IncompleteDeadline = "deadline"
)

func (e *Incomplete) Error() string { return "search read in part: " + e.Detail }

// Patient reads the Patient id at target (a URL under base); anything else fails.
func (c *Client) Patient(ctx context.Context, base *url.URL, token, target, id string) (*fhirjson.Document, error) {
	pages, err := c.pages(ctx, base, token, target, func(p *fhirjson.Document) string {
		if p.ResourceType != "Patient" || p.ID != id {
			return "the FHIR server answered with something other than the Patient of context.patientId"
		}
		return ""
	})
	if err != nil {
		return nil, err
	}
	return pages[0], nil
}

// Read reads the resource typ/id at target (a URL under base, e.g. a Medication that a
// record references); an answer that is not that resource fails.
func (c *Client) Read(ctx context.Context, base *url.URL, token, target, typ, id string) (*fhirjson.Document, error) {
	pages, err := c.pages(ctx, base, token, target, func(p *fhirjson.Document) string {
		if p.ResourceType != typ || p.ID != id {
			return "the FHIR server answered with something other than the " + typ + " read"
		}
		return ""
	})
	if err != nil {
		return nil, err
	}
	return pages[0], nil
}

// searchBundle accepts a search result page.
func searchBundle(p *fhirjson.Document) string {
	if p.ResourceType != "Bundle" || (p.Type != "searchset" && p.Type != "collection") {
		return "the FHIR server answered with something other than a search Bundle"
	}
	return ""
}

// pages is Pages with accept judging every page ("" accepts, else the client-safe reason).
func (c *Client) pages(ctx context.Context, base *url.URL, token, first string, accept func(*fhirjson.Document) string) ([]*fhirjson.Document, error) {
	var pages []*fhirjson.Document
	seen := map[string]bool{}
	next := first
	for next != "" {
		if seen[next] {
			return pages, &Incomplete{Reason: IncompleteLoop, Detail: "its next links loop back to a page already read"}
		}
		if len(pages) >= c.maxPages {
			return pages, &Incomplete{Reason: IncompletePageCap, Detail: fmt.Sprintf("it has more than %d pages (the page cap)", c.maxPages)}
		}
		if !underBase(next, base) {
			return nil, &fetchError{reason: "a next link leaves the fhirServer base"}
		}
		seen[next] = true
		page, err := c.get(ctx, base, token, next)
		if err != nil {
			if len(pages) > 0 && (ctx.Err() != nil || Reason(err) == reasonTimeout) {
				return pages, &Incomplete{Reason: IncompleteDeadline, Detail: "the FHIR server did not send every page in time"}
			}
			return nil, err
		}
		p, err := fhirjson.ReadDocument(page)
		if err != nil || p.ResourceType == "" {
			return nil, &fetchError{reason: "the FHIR server answered with something that is not a FHIR resource"}
		}
		if p.Failed() {
			return nil, &fetchError{reason: "the FHIR server answered with an OperationOutcome"}
		}
		if reason := accept(p); reason != "" {
			return nil, &fetchError{reason: reason}
		}
		pages = append(pages, p)
		next = p.Next()
	}
	return pages, nil
}

// underBase reports whether raw is an absolute URL under base (UnderBase).
func underBase(raw string, base *url.URL) bool {
	u, err := url.Parse(raw)
	return err == nil && UnderBase(u, base)
}

// UnderBase reports whether u is an absolute URL on base's scheme, host and port,
// without userinfo, whose path is base's path or below it on a segment boundary and has
// no dot segment (plain or percent-encoded) nor backslash that a server could resolve
// out of the base.
func UnderBase(u, base *url.URL) bool {
	if u == nil || !u.IsAbs() || u.User != nil || u.Opaque != "" || u.Host == "" || hasDotSegment(u) {
		return false
	}
	nb := normalBase(base)
	nu := normalBase(&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath})
	return nu == nb || strings.HasPrefix(nu, nb+"/")
}

// hasDotSegment reports whether the path of u has a "." or ".." segment, written plainly
// or percent-encoded (once or more), or a backslash (which some servers read as "/").
func hasDotSegment(u *url.URL) bool {
	for _, p := range []string{u.Path, u.RawPath, u.EscapedPath()} {
		if strings.Contains(p, `\`) {
			return true
		}
		for _, seg := range strings.Split(p, "/") {
			// Unescape repeatedly: %252e%252e reads as .. on a server that decodes twice.
			for range 4 {
				d, err := url.PathUnescape(seg)
				if err != nil || d == seg {
					break
				}
				seg = d
			}
			if seg == "." || seg == ".." || strings.Contains(seg, `\`) {
				return true
			}
		}
	}
	return false
}

func (c *Client) get(ctx context.Context, base *url.URL, token, target string) (json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, c.requestTimeout)
	defer cancel()
	ctx = context.WithValue(ctx, baseKey{}, base)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, &fetchError{reason: "invalid FHIR URL", err: err}
	}
	req.Header.Set("Accept", "application/fhir+json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		switch {
		case errors.Is(err, errRedirectHost):
			return nil, &fetchError{reason: "the FHIR server redirected to another host"}
		case errors.Is(err, errRedirectBase):
			return nil, &fetchError{reason: "the FHIR server redirected out of the fhirServer base"}
		case errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil:
			return nil, &fetchError{reason: reasonTimeout, err: ctx.Err()}
		}
		return nil, &fetchError{reason: "the FHIR server could not be reached", err: redact(err)}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, &fetchError{reason: fmt.Sprintf("the FHIR server answered HTTP %d", resp.StatusCode), status: resp.StatusCode}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBytes+1))
	if err != nil {
		if ctx.Err() != nil {
			return nil, &fetchError{reason: "the FHIR server did not answer in time", err: ctx.Err()}
		}
		return nil, &fetchError{reason: "the FHIR answer could not be read", err: redact(err)}
	}
	if int64(len(body)) > c.maxBytes {
		return nil, &fetchError{reason: fmt.Sprintf("the FHIR answer is over %d bytes", c.maxBytes)}
	}
	return body, nil
}

// redact drops the URL (which holds the patient id) from a *url.Error.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
