package fhirclient

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/nencds/nencds/internal/security"
)

// Policy decides which FHIR server nencds may read from, so that nencds never becomes a
// proxy into the hospital network. In every mode an authenticated client may name only
// a base listed for it (auth.Client.FHIRServers, Allow), over https; the development
// mode relaxes two things only: http on loopback (LoopbackHTTP), and, for an anonymous
// call (no trust file), any public https server (AllowOpen), never one on a private
// (intranet) address. No mode reads a link-local, metadata, unspecified or
// multicast address.
type Policy struct {
	Mode security.Mode
}

// Allow returns the parsed base of server if an authenticated client that lists the
// bases listed may have it read. Its error message is client-safe.
func (p Policy) Allow(server string, listed []string) (*url.URL, error) {
	u, err := p.check(server)
	if err != nil {
		return nil, err
	}
	want := normalBase(u)
	for _, t := range listed {
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

// AllowOpen returns the parsed base of server if an anonymous call (development without
// a trust file) may have it read: any https server on a public address, or http on
// loopback. Outside development nothing is open. The private ranges are refused here for
// a literal address and again at connection time for a name (PublicOnly).
func (p Policy) AllowOpen(server string) (*url.URL, error) {
	if !p.Mode.OpenFHIR() {
		return nil, errors.New("fhirServer is not a trusted FHIR server for this client")
	}
	u, err := p.check(server)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(stripZone(strings.TrimSuffix(u.Hostname(), "."))); ip != nil && privateIP(ip) {
		return nil, errors.New("fhirServer is on a private network address")
	}
	return u, nil
}

// check parses server and applies the rules of every caller: never a forbidden address
// however spelled; https, or http on loopback when the mode allows it.
func (p Policy) check(server string) (*url.URL, error) {
	u, err := ParseBase(server)
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
		if !p.Mode.LoopbackHTTP() || !security.IsLoopback(host) {
			return nil, errors.New("fhirServer must use https")
		}
	default:
		return nil, errors.New("fhirServer must use https")
	}
	return u, nil
}

// IsLoopbackHTTP reports whether base is an http URL on a loopback host: a base a trust
// file may list only in development (and then with a warning).
func IsLoopbackHTTP(base string) bool {
	u, err := url.Parse(base)
	return err == nil && u.Scheme == "http" && security.IsLoopback(u.Hostname())
}

// ParseBase parses a fhirServer: an absolute URL with a host and nothing a server
// could read otherwise than as a base: no userinfo, no query (not even an empty one: a
// trailing "?"), no fragment (not even a trailing "#"), no dot segment (plain or
// percent-encoded) and no backslash. The result is the base alone (scheme, host, path),
// from which fetch URLs are built.
func ParseBase(server string) (*url.URL, error) {
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

// privateNets are the intranet ranges an open (anonymous, development) read must not
// reach: RFC 1918, shared address space (RFC 6598) and IPv6 unique local addresses.
var privateNets = []*net.IPNet{
	{IP: net.IPv4(100, 64, 0, 0).To4(), Mask: net.CIDRMask(10, 32)},
}

// privateIP reports whether ip is on an intranet range (privateNets, net.IP.IsPrivate).
func privateIP(ip net.IP) bool {
	if ip.IsPrivate() {
		return true
	}
	for _, n := range privateNets {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

var errDialRefused = errors.New("connection to a forbidden address refused")

// publicOnlyKey marks the context of an open read (PublicOnly).
type publicOnlyKey struct{}

// PublicOnly marks ctx for an open read (AllowOpen): the dial guard then also refuses the
// private ranges and loopback over anything but the base AllowOpen accepted (a name that
// resolves to 10.0.0.5 is refused when dialled).
func PublicOnly(ctx context.Context) context.Context {
	return context.WithValue(ctx, publicOnlyKey{}, true)
}

// dialControl is the net.Dialer ControlContext of Transport: it sees the address actually
// dialled, after DNS, so a name that resolves to a link-local or metadata address is
// refused as its literal is; loopback is refused unless the mode allows loopback; the
// private ranges are refused for an open read (PublicOnly).
func dialControl(m security.Mode) func(ctx context.Context, network, address string, _ syscall.RawConn) error {
	return func(ctx context.Context, network, address string, _ syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return errDialRefused
		}
		ip := net.ParseIP(stripZone(host))
		if ip == nil || forbiddenIP(ip) || (ip.IsLoopback() && !m.LoopbackHTTP()) {
			return errDialRefused
		}
		if open, _ := ctx.Value(publicOnlyKey{}).(bool); open && privateIP(ip) {
			return errDialRefused
		}
		return nil
	}
}

// Transport is the transport for the FHIR fallback: http.DefaultTransport's settings
// with a dial guard that refuses, at connection time, link-local and metadata addresses
// (169.254.0.0/16, fe80::/10, ...), unspecified and multicast ones, loopback unless the
// mode allows it, and the private ranges for an open read. Give it to Options.Transport
// (wrapped by telemetry if need be); the default transport of New is
// Transport(Options.Mode).
func Transport(m security.Mode) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, ControlContext: dialControl(m)}
	t.DialContext = d.DialContext
	return t
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
