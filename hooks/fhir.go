package hooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/nencds/nencds/internal/jsonscan"
)

// FHIRPolicy decides which fhirServer the fallback may fetch from, so that nencds never
// becomes a proxy into the hospital network: outside Dev, only a base listed for the
// authenticated client (auth.Client.FHIRServers), over https; in Dev, any https server
// and http on loopback, but never a link-local, unspecified or multicast address.
type FHIRPolicy struct {
	Dev bool
}

// Allow returns the parsed base of server if the policy lets it be fetched for a client
// that lists trusted. Its error message is client-safe.
func (p FHIRPolicy) Allow(server string, trusted []string) (*url.URL, error) {
	u, err := ParseFHIRBase(server)
	if err != nil {
		return nil, errors.New("fhirServer is not a valid base URL")
	}
	host := u.Hostname()
	if ip := net.ParseIP(stripZone(strings.TrimSuffix(host, "."))); ip != nil && forbiddenIP(ip) {
		return nil, errors.New("fhirServer is not a trusted FHIR server")
	}
	if oddIPv4.MatchString(strings.TrimSuffix(host, ".")) && net.ParseIP(host) == nil {
		// 2852039166, 0xa9fea9fe, 0251.0376.0251.0376, 169.254.43518: resolvers and
		// browsers read these as IPv4 addresses (here 169.254.169.254).
		return nil, errors.New("fhirServer is not a trusted FHIR server")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !p.Dev || !isLoopback(host) {
			return nil, errors.New("fhirServer must use https")
		}
	default:
		return nil, errors.New("fhirServer must use https")
	}
	if p.Dev {
		return u, nil
	}
	want := normalBase(u)
	for _, t := range trusted {
		tu, err := url.Parse(t)
		if err != nil || !tu.IsAbs() {
			continue
		}
		if normalBase(tu) == want {
			return u, nil
		}
	}
	return nil, errors.New("fhirServer is not a trusted FHIR server for this client")
}

// ParseFHIRBase parses a fhirServer: an absolute URL with a host and nothing a server
// could read otherwise than as a base: no userinfo, no query (not even an empty one: a
// trailing "?"), no fragment (not even a trailing "#"), no dot segment (plain or
// percent-encoded) and no backslash. The result is the base alone (scheme, host, path),
// from which fetch URLs are built.
func ParseFHIRBase(server string) (*url.URL, error) {
	u, err := url.Parse(server)
	switch {
	case err != nil:
		return nil, errors.New("not a URL")
	case !u.IsAbs() || u.Host == "" || u.Opaque != "":
		return nil, errors.New("not an absolute URL")
	case u.User != nil:
		return nil, errors.New("has credentials")
	case u.RawQuery != "" || u.ForceQuery:
		return nil, errors.New("has a query")
	case u.Fragment != "" || strings.Contains(server, "#"):
		return nil, errors.New("has a fragment")
	case hasDotSegment(u):
		return nil, errors.New("has a dot segment or backslash")
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}, nil
}

// oddIPv4 is a host made of one to four numbers (decimal, octal or hex), which is an IPv4
// address to inet_aton and the WHATWG URL parser even when not a dotted quad.
var oddIPv4 = regexp.MustCompile(`(?i)^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}$`)

// stripZone drops an IPv6 zone ("fe80::1%eth0" → "fe80::1"), which net.ParseIP refuses.
func stripZone(host string) string {
	if i := strings.IndexByte(host, '%'); i >= 0 {
		return host[:i]
	}
	return host
}

// metadataNets are cloud metadata addresses outside the link-local ranges.
var metadataNets = []*net.IPNet{
	{IP: net.ParseIP("fd00:ec2::254"), Mask: net.CIDRMask(128, 128)},     // AWS IMDS over IPv6
	{IP: net.IPv4(100, 100, 100, 200).To4(), Mask: net.CIDRMask(32, 32)}, // Alibaba Cloud
}

// forbiddenIP reports whether nencds must never connect to ip: link-local (169.254.0.0/16
// with the cloud metadata endpoints, fe80::/10), another metadata address, unspecified or
// multicast.
func forbiddenIP(ip net.IP) bool {
	if ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsUnspecified() || ip.IsMulticast() || ip.IsInterfaceLocalMulticast() {
		return true
	}
	for _, n := range metadataNets {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

var errDialRefused = errors.New("connection to a forbidden address refused")

// dialControl is the net.Dialer Control of FHIRTransport: it sees the address actually
// dialled, after DNS, so a name that resolves to a link-local or metadata address is
// refused as its literal is; loopback is refused unless dev.
func dialControl(dev bool) func(network, address string, _ syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return errDialRefused
		}
		ip := net.ParseIP(stripZone(host))
		if ip == nil || forbiddenIP(ip) || (ip.IsLoopback() && !dev) {
			return errDialRefused
		}
		return nil
	}
}

// FHIRTransport is the transport for the FHIR fallback: http.DefaultTransport's settings
// with a dial guard that refuses, at connection time, link-local and metadata addresses
// (169.254.0.0/16, fe80::/10, ...), unspecified and multicast ones, and loopback unless
// dev. Give it to FHIROptions.Transport (wrapped by telemetry if need be); the default
// transport of NewFHIRClient is FHIRTransport(FHIROptions.Dev).
func FHIRTransport(dev bool) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: dialControl(dev)}
	t.DialContext = d.DialContext
	return t
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// normalBase is scheme://host[:port]/path with the scheme and host lower-cased, the
// default port dropped and no trailing slash.
func normalBase(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if port != "" {
		host = net.JoinHostPort(host, port)
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return scheme + "://" + host + strings.TrimRight(u.EscapedPath(), "/")
}

// FHIROptions configure the fallback FHIR client.
type FHIROptions struct {
	// Transport makes the requests (FHIRTransport(Dev) when nil); telemetry wraps it.
	Transport http.RoundTripper
	// Dev lets the default transport connect to loopback (as FHIRPolicy.Dev).
	Dev bool
	// MaxBytes caps one response body. Default 10 MiB.
	MaxBytes int64
	// MaxPages caps the pages read for one prefetch key by following next links. Default 10.
	MaxPages int
	// RequestTimeout caps one HTTP request. Default 3 s.
	RequestTimeout time.Duration
}

// FHIRClient reads FHIR resources for the prefetch fallback. It follows redirects and
// next links only under the same base (scheme, host, port and path prefix, no dot
// segments); the access token is
// sent to the named server for the one request and kept nowhere.
type FHIRClient struct {
	http           *http.Client
	maxBytes       int64
	maxPages       int
	requestTimeout time.Duration
}

// NewFHIRClient returns a FHIRClient for o.
func NewFHIRClient(o FHIROptions) *FHIRClient {
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
		t = FHIRTransport(o.Dev)
	}
	return &FHIRClient{
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
				if !underBaseURL(req.URL, base) {
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

var (
	errRedirectHost = errors.New("redirect to another host refused")
	errRedirectBase = errors.New("redirect out of the fhirServer base refused")
)

// baseKey carries the fhirServer base of a fetch in its request context, for CheckRedirect.
type baseKey struct{}

// fetchError is a failed fetch with a client-safe reason.
type fetchError struct {
	reason string
	err    error
}

func (e *fetchError) Error() string {
	if e.err != nil {
		return e.reason + ": " + e.err.Error()
	}
	return e.reason
}
func (e *fetchError) Unwrap() error { return e.err }

func reasonOf(err error) string {
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
// only under base. A next link seen before ends the reading (a loop has nothing new).
// A page that is an OperationOutcome, or a Bundle carrying an error or fatal issue, fails;
// so does any page that is not a search Bundle (type searchset or collection).
func (c *FHIRClient) Pages(ctx context.Context, base *url.URL, token, first string) ([]json.RawMessage, error) {
	return c.pages(ctx, base, token, first, searchBundle)
}

// Patient reads the Patient id at target (a URL under base); anything else fails.
func (c *FHIRClient) Patient(ctx context.Context, base *url.URL, token, target, id string) (json.RawMessage, error) {
	pages, err := c.pages(ctx, base, token, target, func(p *peeked) string {
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

// searchBundle accepts a search result page.
func searchBundle(p *peeked) string {
	if p.ResourceType != "Bundle" || (p.Type != "searchset" && p.Type != "collection") {
		return "the FHIR server answered with something other than a search Bundle"
	}
	return ""
}

// pages is Pages with accept judging every page ("" accepts, else the client-safe reason).
func (c *FHIRClient) pages(ctx context.Context, base *url.URL, token, first string, accept func(*peeked) string) ([]json.RawMessage, error) {
	var pages []json.RawMessage
	seen := map[string]bool{}
	next := first
	for next != "" {
		if seen[next] {
			break
		}
		if len(pages) >= c.maxPages {
			return nil, &fetchError{reason: fmt.Sprintf("more than %d pages", c.maxPages)}
		}
		if !underBase(next, base) {
			return nil, &fetchError{reason: "a next link leaves the fhirServer base"}
		}
		seen[next] = true
		page, err := c.get(ctx, base, token, next)
		if err != nil {
			return nil, err
		}
		p, err := peek(page)
		if err != nil {
			return nil, &fetchError{reason: "the FHIR server answered with something that is not a FHIR resource"}
		}
		if p.failed() {
			return nil, &fetchError{reason: "the FHIR server answered with an OperationOutcome"}
		}
		if reason := accept(p); reason != "" {
			return nil, &fetchError{reason: reason}
		}
		pages = append(pages, page)
		next = p.next()
	}
	return pages, nil
}

// underBase reports whether raw is an absolute URL under base (underBaseURL).
func underBase(raw string, base *url.URL) bool {
	u, err := url.Parse(raw)
	return err == nil && underBaseURL(u, base)
}

// underBaseURL reports whether u is an absolute URL on base's scheme, host and port,
// without userinfo, whose path is base's path or below it on a segment boundary and has
// no dot segment (plain or percent-encoded) nor backslash that a server could resolve
// out of the base.
func underBaseURL(u, base *url.URL) bool {
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

func (c *FHIRClient) get(ctx context.Context, base *url.URL, token, target string) (json.RawMessage, error) {
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
			return nil, &fetchError{reason: "the FHIR server did not answer in time", err: ctx.Err()}
		}
		return nil, &fetchError{reason: "the FHIR server could not be reached", err: redact(err)}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, &fetchError{reason: fmt.Sprintf("the FHIR server answered HTTP %d", resp.StatusCode)}
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

// peeked is the little of a FHIR document the resolver reads.
type peeked struct {
	ResourceType string      `json:"resourceType"`
	ID           string      `json:"id"`
	Type         string      `json:"type"`
	Issue        []peekIssue `json:"issue"`
	Link         []peekLink  `json:"link"`
	Entry        []peekEntry `json:"entry"`
}

type peekIssue struct {
	Severity string `json:"severity"`
}

type peekLink struct {
	Relation string `json:"relation"`
	URL      string `json:"url"`
}

type peekEntry struct {
	Resource struct {
		ResourceType string      `json:"resourceType"`
		Issue        []peekIssue `json:"issue"`
	} `json:"resource"`
}

// peek reads a FHIR document: one validation pass and a skim when the document is valid
// JSON that encoding/json would read the same way (scanPeek), else encoding/json.
func peek(doc json.RawMessage) (*peeked, error) {
	return peekIn(nil, doc)
}

// peekIn is peek for a document that may be a part of the indexed x (a prefetch value of
// a request read in place): then it is known to be valid and is not checked again.
func peekIn(x *jsonscan.Index, doc json.RawMessage) (*peeked, error) {
	var p *peeked
	ok := x.Contains(doc)
	if !ok {
		x, ok = jsonscan.Parse(doc)
	}
	if ok {
		p, ok = scanPeek(x, doc)
	}
	if !ok {
		p = new(peeked)
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

// scanPeek reads valid JSON as json.Unmarshal into a peeked would; ok is false whenever
// encoding/json could read it differently or fail.
func scanPeek(x *jsonscan.Index, doc []byte) (*peeked, bool) {
	p := new(peeked)
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
				var l peekLink
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
				var pe peekEntry
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

func scanIssues(x *jsonscan.Index, v []byte, dst *[]peekIssue) bool {
	return x.ArrayOrNull(v, func(e []byte) bool {
		var is peekIssue
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

// failed reports whether the document says the read failed: an OperationOutcome, or a
// Bundle with an OperationOutcome entry of severity error or fatal.
func (p *peeked) failed() bool {
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

func (p *peeked) next() string {
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
