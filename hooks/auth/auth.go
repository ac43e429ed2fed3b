// Package auth verifies the JWT that a CDS client sends with every call, as CDS Hooks 2.0
// "Trusting CDS Clients" asks, against a trust configuration of known clients.
//
// TODO(auth): contract stub; the verifier is being built.
package auth

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// Client is an authenticated CDS client.
type Client struct {
	Issuer string
	Tenant string
	// FHIRServers are the fhirServer bases this client may name; the FHIR fallback
	// fetches from no other server.
	FHIRServers []string
}

// Config is the trust configuration (the -trust file).
type Config struct{}

// Options are the verifier's runtime dependencies.
type Options struct {
	Now        func() time.Time // clock for exp/iat/nbf; time.Now when nil
	HTTPClient *http.Client     // for jwks_url
	RedisURL   string           // shared replay cache when set
}

// Verifier checks client JWTs.
type Verifier struct{}

// LoadConfig reads a YAML or JSON trust file.
func LoadConfig(path string) (*Config, error) { return nil, errors.New("auth: not implemented") }

// NewVerifier returns a Verifier for cfg.
func NewVerifier(cfg *Config, opts Options) (*Verifier, error) {
	return nil, errors.New("auth: not implemented")
}

// Authenticate checks an Authorization header value for a call to the endpoint whose
// absolute URL is aud. Any error means 401; ReasonOf gives its metric label.
func (v *Verifier) Authenticate(ctx context.Context, authorization, aud string) (Client, error) {
	return Client{}, errors.New("auth: not implemented")
}

// ReasonOf returns a short, low-cardinality reason for an authentication error
// ("missing", "malformed", "expired", ...), safe for metrics and logs.
func ReasonOf(err error) string { return "unknown" }
