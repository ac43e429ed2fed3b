package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/nencds/nencds/internal/security"
)

// maxConfigBytes caps the trust file; a real one is a few kilobytes.
const maxConfigBytes = 1 << 20

// DefaultAlgorithms are the algorithms a client may use when its entry lists none:
// the two the CDS Hooks 2.0 specification recommends.
var DefaultAlgorithms = []string{"ES384", "RS384"}

// supportedAlgorithms are the asymmetric JWS algorithms a trust file may list. none and
// every HS* are absent on purpose: CDS Hooks forbids unsigned and symmetric JWTs.
var supportedAlgorithms = []string{
	"ES256", "ES384", "ES512",
	"RS256", "RS384", "RS512",
	"PS256", "PS384", "PS512",
}

// File is the on-disk shape of the trust file (-trust / NENCDS_TRUST_FILE), in YAML or
// JSON. Unknown fields are rejected. See docs/security.md.
type File struct {
	// PublicURL is the externally visible base URL of this service (no trailing slash);
	// the aud of every token must be {public_url}/cds-services[/{id}[/feedback]].
	PublicURL string `json:"public_url"`
	// Clients are the CDS clients (EHRs, sandboxes) this service trusts.
	Clients []ClientConfig `json:"clients"`
}

// ClientConfig is one trusted CDS client in the trust file.
type ClientConfig struct {
	// Issuer is the exact iss claim the client puts in its JWTs (https URL).
	Issuer string `json:"iss"`
	// JWKSURL is the https URL of the client's JWK Set: fetched, cached, and refreshed
	// when a token names an unknown kid (rate limited). Exactly one of JWKSURL and JWKS.
	JWKSURL string `json:"jwks_url,omitempty"`
	// JWKS is an inline JWK Set ({"keys": [...]}) with the client's public keys.
	JWKS json.RawMessage `json:"jwks,omitempty"`
	// JKUAllowed are the jku header values accepted from this client (https URLs). A
	// token whose jku is not listed here (or equal to JWKSURL) is refused unfetched.
	JKUAllowed []string `json:"jku_allowed,omitempty"`
	// Tenant, when set, must equal the token's tenant claim. Several entries may share
	// an iss when each names a different tenant (one issuer serving many hospitals).
	Tenant string `json:"tenant,omitempty"`
	// Algorithms are the JWS algorithms accepted from this client; default ES384, RS384.
	Algorithms []string `json:"algorithms,omitempty"`
	// FHIRServers are the fhirServer bases this client may name: https URLs, or http on a
	// loopback host for a local test server (nencds then accepts it only with -dev, and
	// warns; see LoopbackFHIRServers).
	FHIRServers []string `json:"fhir_servers,omitempty"`
	// OpenFHIRServers lets the FHIR fallback read this client's fhir_servers without an
	// access token when a request carries no fhirAuthorization: only for FHIR servers that
	// are open on purpose (a public test server). Default false: no token, no fallback.
	OpenFHIRServers bool `json:"open_fhir_servers,omitempty"`
}

// Config is a validated trust configuration. Build one with LoadConfig, ParseConfig,
// NewConfig or DevProfile; it is immutable afterwards.
type Config struct {
	publicURL string
	clients   []*clientEntry
	byIss     map[string][]*clientEntry
}

type clientEntry struct {
	cfg    ClientConfig
	inline keySet // parsed ClientConfig.JWKS, nil when JWKSURL is used
}

// PublicURL returns the base URL tokens are issued for, without a trailing slash; the
// hooks layer builds the aud it passes to Authenticate from it.
func (c *Config) PublicURL() string { return c.publicURL }

// Clients returns the configured clients (Issuer, Tenant, FHIRServers), in file order.
func (c *Config) Clients() []Client {
	out := make([]Client, 0, len(c.clients))
	for _, e := range c.clients {
		out = append(out, e.client())
	}
	return out
}

func (e *clientEntry) client() Client {
	return Client{Issuer: e.cfg.Issuer, Tenant: e.cfg.Tenant, FHIRServers: slices.Clone(e.cfg.FHIRServers), OpenFHIR: e.cfg.OpenFHIRServers}
}

// LoopbackFHIRServers returns the fhir_servers that are http on a loopback host (a local
// test server), which nencds accepts only in development, with a warning.
func (c *Config) LoopbackFHIRServers() []string {
	var out []string
	for _, e := range c.clients {
		for _, u := range e.cfg.FHIRServers {
			if p, err := url.Parse(u); err == nil && p.Scheme == "http" && security.IsLoopback(p.Hostname()) {
				out = append(out, u)
			}
		}
	}
	return out
}

// LoadConfig reads and validates a YAML or JSON trust file.
func LoadConfig(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("auth: trust file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
	if err != nil {
		return nil, fmt.Errorf("auth: trust file %s: %w", path, err)
	}
	if len(data) > maxConfigBytes {
		return nil, fmt.Errorf("auth: trust file %s: larger than %d bytes", path, maxConfigBytes)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return cfg, nil
}

// ParseConfig validates a trust file's content (YAML or JSON). Unknown and duplicate
// fields are errors.
func ParseConfig(data []byte) (*Config, error) {
	var f File
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		return nil, fmt.Errorf("auth: trust file: %w", err)
	}
	return NewConfig(f)
}

// NewConfig validates f and returns the Config it describes.
func NewConfig(f File) (*Config, error) {
	var errs []error
	pub, err := checkPublicURL(f.PublicURL)
	if err != nil {
		errs = append(errs, err)
	}
	if len(f.Clients) == 0 {
		errs = append(errs, errors.New("clients: at least one client is required"))
	}
	cfg := &Config{publicURL: pub, byIss: map[string][]*clientEntry{}}
	for i, cc := range f.Clients {
		e, cerrs := checkClient(cc)
		for _, ce := range cerrs {
			errs = append(errs, fmt.Errorf("clients[%d]: %w", i, ce))
		}
		if e != nil {
			cfg.clients = append(cfg.clients, e)
			cfg.byIss[e.cfg.Issuer] = append(cfg.byIss[e.cfg.Issuer], e)
		}
	}
	for iss, entries := range cfg.byIss {
		if len(entries) < 2 {
			continue
		}
		seen := map[string]bool{}
		for _, e := range entries {
			switch {
			case e.cfg.Tenant == "":
				errs = append(errs, fmt.Errorf("iss %q appears %d times: each entry must then name a distinct tenant", iss, len(entries)))
			case seen[e.cfg.Tenant]:
				errs = append(errs, fmt.Errorf("iss %q: tenant %q listed twice", iss, e.cfg.Tenant))
			}
			seen[e.cfg.Tenant] = true
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("auth: invalid trust configuration: %w", errors.Join(errs...))
	}
	return cfg, nil
}

func checkClient(cc ClientConfig) (*clientEntry, []error) {
	var errs []error
	if cc.Issuer == "" {
		errs = append(errs, errors.New("iss is required"))
	} else if err := checkHTTPS("iss", cc.Issuer, true); err != nil {
		errs = append(errs, err)
	}
	e := &clientEntry{cfg: cc}
	hasInline := len(cc.JWKS) > 0 && string(cc.JWKS) != "null"
	switch {
	case cc.JWKSURL != "" && hasInline:
		errs = append(errs, errors.New("jwks_url and jwks are exclusive: give one"))
	case cc.JWKSURL == "" && !hasInline:
		errs = append(errs, errors.New("one of jwks_url or jwks is required"))
	case cc.JWKSURL != "":
		if err := checkHTTPS("jwks_url", cc.JWKSURL, false); err != nil {
			errs = append(errs, err)
		}
	default:
		ks, skipped, err := parseJWKS(cc.JWKS)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("jwks: %w", err))
		case len(ks) == 0:
			errs = append(errs, fmt.Errorf("jwks: no usable public signing key with a kid (%d skipped)", skipped))
		default:
			e.inline = ks
		}
	}
	for _, u := range cc.JKUAllowed {
		if err := checkHTTPS("jku_allowed", u, false); err != nil {
			errs = append(errs, err)
		}
	}
	if len(cc.Algorithms) == 0 {
		e.cfg.Algorithms = slices.Clone(DefaultAlgorithms)
	}
	for _, a := range e.cfg.Algorithms {
		if !slices.Contains(supportedAlgorithms, a) {
			errs = append(errs, fmt.Errorf("algorithms: %q is not allowed (use asymmetric ones: %s; never none or HS*)", a, strings.Join(supportedAlgorithms, ", ")))
		}
	}
	for _, u := range cc.FHIRServers {
		if p, err := url.Parse(u); err == nil && p.Scheme == "http" && security.IsLoopback(p.Hostname()) {
			p.Scheme = "https" // a local test server: the rest of the checks hold
			u = p.String()
		}
		if err := checkHTTPS("fhir_servers", u, false); err != nil {
			errs = append(errs, err)
		}
	}
	e.cfg.JKUAllowed = slices.Clone(cc.JKUAllowed)
	e.cfg.FHIRServers = slices.Clone(cc.FHIRServers)
	if len(errs) > 0 {
		return nil, errs
	}
	return e, nil
}

// checkHTTPS requires an absolute https URL with a host and no user info or fragment.
// An issuer may be any such URI; the others are fetched or matched, so they take no query.
func checkHTTPS(field, raw string, isIssuer bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s %q: %w", field, raw, err)
	}
	switch {
	case u.Scheme != "https":
		return fmt.Errorf("%s %q: must be an https URL", field, raw)
	case u.Host == "" || u.Hostname() == "":
		return fmt.Errorf("%s %q: has no host", field, raw)
	case u.User != nil:
		return fmt.Errorf("%s %q: must not carry user info", field, raw)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return fmt.Errorf("%s %q: must not have a fragment", field, raw)
	case !isIssuer && u.RawQuery != "":
		return fmt.Errorf("%s %q: must not have a query", field, raw)
	}
	return nil
}

// checkPublicURL accepts an https base URL, or http for a loopback host (a developer
// machine driven by the public sandbox in a browser). The trailing slash is removed.
func checkPublicURL(raw string) (string, error) {
	if raw == "" {
		return "", errors.New("public_url is required (the base URL clients call, used for the aud check)")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("public_url %q: %w", raw, err)
	}
	switch {
	case u.Scheme == "http" && security.IsLoopback(u.Hostname()):
	case u.Scheme != "https":
		return "", fmt.Errorf("public_url %q: must be https (http only for localhost)", raw)
	}
	switch {
	case u.Hostname() == "":
		return "", fmt.Errorf("public_url %q: has no host", raw)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(raw, "?#"):
		return "", fmt.Errorf("public_url %q: must be a plain base URL (no user info, query or fragment)", raw)
	}
	return strings.TrimRight(raw, "/"), nil
}

// Sandbox identifiers, as the public CDS Hooks sandbox signs its JWTs
// (iss, and the jku header naming its JWK Set).
const (
	SandboxIssuer  = "https://sandbox.cds-hooks.org"
	SandboxJWKSURL = "https://sandbox.cds-hooks.org/.well-known/jwks.json"
	// SandboxFHIRServer is the SMART Health IT R4 server the sandbox uses by default.
	SandboxFHIRServer = "https://launch.smarthealthit.org/v/r4/fhir"
)

// DevProfile returns a trust configuration that trusts the public CDS Hooks sandbox
// (https://sandbox.cds-hooks.org), whose keys are fetched at runtime from its JWK Set.
//
// FOR TESTING ONLY: the sandbox's private signing key is public (it ships in the
// sandbox's open-source repository), so anyone can mint tokens this profile accepts.
// Never use it with real patient data. publicURL is this service's base URL as the
// sandbox calls it (for example http://localhost:8080).
func DevProfile(publicURL string) (*Config, error) {
	return NewConfig(File{
		PublicURL: publicURL,
		Clients: []ClientConfig{{
			Issuer:      SandboxIssuer,
			JWKSURL:     SandboxJWKSURL,
			JKUAllowed:  []string{SandboxJWKSURL},
			Algorithms:  []string{"ES384", "ES256"},
			FHIRServers: []string{SandboxFHIRServer},
		}},
	})
}
