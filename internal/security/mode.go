// Package security holds the deployment mode of nencds: one value, built once in cmd from
// the -dev flag and handed down to every package that relaxes a rule for development
// (the HTTP server, the FHIR read policy and client, the rules configuration), so that
// they cannot disagree. Each relaxation is a named method; the zero Mode is Production.
package security

// Mode is production (the zero value) or development. Build it with Production or
// Development.
type Mode struct{ dev bool }

// Production is the mode of every deployment: every rule holds.
func Production() Mode { return Mode{} }

// Development is the mode of `nencds -dev` on a developer machine, never a deployment:
// the relaxations below, and nothing else.
func Development() Mode { return Mode{dev: true} }

// IsDevelopment reports whether m is Development.
func (m Mode) IsDevelopment() bool { return m.dev }

func (m Mode) String() string {
	if m.dev {
		return "development"
	}
	return "production"
}

// AnonymousCalls: without a trust file, calls carry no client JWT (anonymous client).
func (m Mode) AnonymousCalls() bool { return m.dev }

// AnyCORSOrigin: any browser origin may call (the public sandbox page on a developer
// machine), with Chrome's Private Network Access preflight answered.
func (m Mode) AnyCORSOrigin() bool { return m.dev }

// LoopbackHTTP: a FHIR server may be read over http on a loopback address (a local test
// server), and the FHIR dial guard lets loopback through. With a trust file, only when
// the client lists it (and startup warns).
func (m Mode) LoopbackHTTP() bool { return m.dev }

// OpenFHIR: an anonymous call (no trust file) may name any public https FHIR server, and
// the fallback may read a FHIR server without an access token (fhirAuthorization
// absent), as the public sandbox does with its open servers. Never a private address.
func (m Mode) OpenFHIR() bool { return m.dev }

// PlainHTTP: the server may listen without TLS and without -behind-proxy.
func (m Mode) PlainHTTP() bool { return m.dev }

// HTTPLinks: a configured SMART app link may be http (a local app).
func (m Mode) HTTPLinks() bool { return m.dev }
