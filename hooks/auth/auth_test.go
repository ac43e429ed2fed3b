package auth

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
)

const (
	pub       = "https://cds.example.org"
	issEHR    = "https://ehr.example.org"
	issMulti  = "https://multi.example.org"
	issTenant = "https://tenant.example.org"
)

var (
	quiet        = slog.New(slog.DiscardHandler)
	audDiscovery = pub + "/cds-services"
	audService   = pub + "/cds-services/nen-patient-view"
	audFeedback  = audService + "/feedback"
	jtiSeq       atomic.Int64
)

// fixture is a trust configuration over a JWKS server, with a fixed clock.
type fixture struct {
	srv   *jwksServer // serves /jwks.json and /jku.json (same set)
	evil  *jwksServer // never allowlisted anywhere
	clock *fakeClock
	cfg   *Config
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	testKeys(t)
	f := &fixture{clock: newClock()}
	f.srv = newJWKSServer(t, jwksJSON(t,
		ecJWK("ec-1", "ES384", ec384),
		rsaJWK("rsa-1", "RS384", rsa2048),
		ecJWK("ec256", "ES256", ec256),
	))
	f.evil = newJWKSServer(t, jwksJSON(t, ecJWK("ec-1", "ES384", ec384b)))
	inline := string(jwksJSON(t, ecJWK("m-1", "ES384", ec384b)))
	yml := fmt.Sprintf(`
public_url: %s/
clients:
  - iss: %s
    jwks_url: %s/jwks.json
    jku_allowed: [%s/jku.json]
    fhir_servers: [https://ehr.example.org/fhir/r4]
  - iss: %s
    tenant: hospital-a
    jwks: %s
    fhir_servers: [https://a.example.org/fhir]
  - iss: %s
    tenant: hospital-b
    jwks: %s
    fhir_servers: [https://b.example.org/fhir]
  - iss: %s
    tenant: only-tenant
    algorithms: [ES384]
    jwks: %s
`, pub, issEHR, f.srv.URL, f.srv.URL, issMulti, inline, issMulti, inline, issTenant, inline)
	cfg, err := ParseConfig([]byte(yml))
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	f.cfg = cfg
	return f
}

func (f *fixture) verifier(t *testing.T) *Verifier {
	t.Helper()
	v, _ := f.verifierWithLog(t)
	return v
}

// verifierWithLog returns a verifier logging at debug level into the returned buffer.
func (f *fixture) verifierWithLog(t *testing.T) (*Verifier, *syncBuffer) {
	t.Helper()
	buf := &syncBuffer{}
	v, err := NewVerifier(f.cfg, Options{
		Now:         f.clock.Now,
		HTTPClient:  f.srv.Client(), // trusts every httptest TLS server's certificate
		ReplayCache: NewMemoryReplayCache(0, f.clock.Now),
		Logger:      slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	t.Cleanup(func() { _ = v.Close() })
	return v, buf
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (f *fixture) claims(iss string, aud any) jwt.MapClaims {
	now := f.clock.Now()
	return jwt.MapClaims{
		"iss": iss,
		"sub": "client-id",
		"aud": aud,
		"exp": now.Add(5 * time.Minute).Unix(),
		"iat": now.Unix(),
		"jti": fmt.Sprintf("jti-%d", jtiSeq.Add(1)),
	}
}

func bearer(tok string) string { return "Bearer " + tok }

func esTok(t *testing.T, c jwt.MapClaims, hdr map[string]any) string {
	h := map[string]any{"kid": "ec-1"}
	for k, v := range hdr {
		h[k] = v
	}
	return sign(t, jwt.SigningMethodES384, ec384, h, c)
}

func without(c jwt.MapClaims, k string) jwt.MapClaims { delete(c, k); return c }

func with(c jwt.MapClaims, k string, v any) jwt.MapClaims { c[k] = v; return c }

// forge assembles a token from raw header and claims JSON and a raw signature.
func forge(header, claims string, sig []byte) string {
	e := base64.RawURLEncoding
	return e.EncodeToString([]byte(header)) + "." + e.EncodeToString([]byte(claims)) + "." + e.EncodeToString(sig)
}

func TestAuthenticateRejects(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	now := f.clock.Now()
	ecPubDER, err := x509.MarshalPKIXPublicKey(&ec384.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	ecPubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecPubDER})
	rsaPubDER, err := x509.MarshalPKIXPublicKey(&rsa2048.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	rsaPubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: rsaPubDER})

	claimsJSON := func(c jwt.MapClaims) string {
		b, _ := json.Marshal(c)
		return string(b)
	}

	tests := []struct {
		name   string
		header func(t *testing.T) string // Authorization value
		aud    string                    // endpoint invoked; audService when empty
		replay bool                      // present the same header twice; the second must fail
		want   string
	}{
		{name: "no header", header: func(*testing.T) string { return "" }, want: ReasonMissing},
		{name: "blank header", header: func(*testing.T) string { return "   " }, want: ReasonMissing},
		{name: "basic scheme", header: func(*testing.T) string { return "Basic dXNlcjpwYXNz" }, want: ReasonMalformed},
		{name: "bearer without token", header: func(*testing.T) string { return "Bearer " }, want: ReasonMalformed},
		{name: "two segments", header: func(*testing.T) string { return "Bearer abc.def" }, want: ReasonMalformed},
		{name: "garbage segments", header: func(*testing.T) string { return "Bearer a.b.c" }, want: ReasonMalformed},
		{name: "non-base64 characters", header: func(*testing.T) string { return "Bearer ey+J.ey/J.sig=" }, want: ReasonMalformed},
		{name: "oversized", header: func(*testing.T) string { return "Bearer " + strings.Repeat("a", 20000) + ".b.c" }, want: ReasonMalformed},
		{name: "header not JSON", header: func(t *testing.T) string {
			return bearer(forge("not json", claimsJSON(f.claims(issEHR, audService)), []byte("x")))
		}, want: ReasonMalformed},
		{name: "alg none", header: func(t *testing.T) string {
			return bearer(forge(`{"alg":"none","typ":"JWT","kid":"ec-1"}`, claimsJSON(f.claims(issEHR, audService)), nil))
		}, want: ReasonAlg},
		{name: "alg None (case)", header: func(t *testing.T) string {
			return bearer(forge(`{"alg":"None","kid":"ec-1"}`, claimsJSON(f.claims(issEHR, audService)), nil))
		}, want: ReasonAlg},
		{name: "alg missing", header: func(t *testing.T) string {
			return bearer(forge(`{"kid":"ec-1"}`, claimsJSON(f.claims(issEHR, audService)), []byte("sig")))
		}, want: ReasonAlg},
		{name: "HS256 signed with the EC public key (algorithm confusion)", header: func(t *testing.T) string {
			return bearer(sign(t, jwt.SigningMethodHS256, ecPubPEM, map[string]any{"kid": "ec-1"}, f.claims(issEHR, audService)))
		}, want: ReasonAlg},
		{name: "HS384 signed with the RSA public key (algorithm confusion)", header: func(t *testing.T) string {
			return bearer(sign(t, jwt.SigningMethodHS384, rsaPubPEM, map[string]any{"kid": "rsa-1"}, f.claims(issEHR, audService)))
		}, want: ReasonAlg},
		{name: "ES256 not in the client's algorithms", header: func(t *testing.T) string {
			return bearer(sign(t, jwt.SigningMethodES256, ec256, map[string]any{"kid": "ec256"}, f.claims(issEHR, audService)))
		}, want: ReasonAlg},
		{name: "RS384 where the client allows ES384 only", header: func(t *testing.T) string {
			return bearer(sign(t, jwt.SigningMethodRS384, rsa2048, map[string]any{"kid": "m-1"}, with(f.claims(issTenant, audService), "tenant", "only-tenant")))
		}, want: ReasonAlg},
		{name: "typ not JWT", header: func(t *testing.T) string {
			return bearer(esTok(t, f.claims(issEHR, audService), map[string]any{"typ": "at+jwt"}))
		}, want: ReasonTyp},
		{name: "crit header", header: func(t *testing.T) string {
			return bearer(esTok(t, f.claims(issEHR, audService), map[string]any{"crit": []string{"exp"}}))
		}, want: ReasonMalformed},
		{name: "expired", header: func(t *testing.T) string {
			c := f.claims(issEHR, audService)
			c["iat"], c["exp"] = now.Add(-10*time.Minute).Unix(), now.Add(-time.Minute).Unix()
			return bearer(esTok(t, c, nil))
		}, want: ReasonExpired},
		// NumericDate claims are JSON numbers (RFC 7519 §2); golang-jwt also reads quoted ones.
		{name: "exp a quoted string", header: func(t *testing.T) string {
			c := f.claims(issEHR, audService)
			return bearer(esTok(t, with(c, "exp", fmt.Sprint(c["exp"])), nil))
		}, want: ReasonMalformed},
		{name: "iat a quoted string", header: func(t *testing.T) string {
			c := f.claims(issEHR, audService)
			return bearer(esTok(t, with(c, "iat", fmt.Sprint(c["iat"])), nil))
		}, want: ReasonMalformed},
		{name: "nbf a quoted string", header: func(t *testing.T) string {
			return bearer(esTok(t, with(f.claims(issEHR, audService), "nbf", fmt.Sprint(now.Add(-time.Minute).Unix())), nil))
		}, want: ReasonMalformed},
		{name: "exp null", header: func(t *testing.T) string {
			return bearer(esTok(t, with(f.claims(issEHR, audService), "exp", nil), nil))
		}, want: ReasonExpMissing},
		{name: "exp missing", header: func(t *testing.T) string {
			return bearer(esTok(t, without(f.claims(issEHR, audService), "exp"), nil))
		}, want: ReasonExpMissing},
		{name: "nbf in the future", header: func(t *testing.T) string {
			return bearer(esTok(t, with(f.claims(issEHR, audService), "nbf", now.Add(2*time.Minute).Unix()), nil))
		}, want: ReasonNotYetValid},
		{name: "iat in the future", header: func(t *testing.T) string {
			return bearer(esTok(t, with(f.claims(issEHR, audService), "iat", now.Add(2*time.Minute).Unix()), nil))
		}, want: ReasonIatFuture},
		{name: "iat missing", header: func(t *testing.T) string {
			return bearer(esTok(t, without(f.claims(issEHR, audService), "iat"), nil))
		}, want: ReasonIatMissing},
		{name: "lifetime too long", header: func(t *testing.T) string {
			return bearer(esTok(t, with(f.claims(issEHR, audService), "exp", now.Add(24*time.Hour).Unix()), nil))
		}, want: ReasonLifetime},
		{name: "discovery token used on a service", header: func(t *testing.T) string {
			return bearer(esTok(t, f.claims(issEHR, audDiscovery), nil))
		}, aud: audService, want: ReasonAud},
		{name: "service token used on feedback", header: func(t *testing.T) string {
			return bearer(esTok(t, f.claims(issEHR, audService), nil))
		}, aud: audFeedback, want: ReasonAud},
		{name: "aud of another service", header: func(t *testing.T) string {
			return bearer(esTok(t, f.claims(issEHR, "https://other.example.org/cds-services/nen-patient-view"), nil))
		}, want: ReasonAud},
		{name: "aud prefix only", header: func(t *testing.T) string {
			return bearer(esTok(t, f.claims(issEHR, audService+"x"), nil))
		}, want: ReasonAud},
		{name: "aud missing", header: func(t *testing.T) string {
			return bearer(esTok(t, without(f.claims(issEHR, audService), "aud"), nil))
		}, want: ReasonAud},
		{name: "unknown iss", header: func(t *testing.T) string {
			return bearer(esTok(t, f.claims("https://attacker.example.net", audService), nil))
		}, want: ReasonIss},
		{name: "iss missing", header: func(t *testing.T) string {
			return bearer(esTok(t, without(f.claims(issEHR, audService), "iss"), nil))
		}, want: ReasonIss},
		{name: "iss differs only by trailing slash", header: func(t *testing.T) string {
			return bearer(esTok(t, f.claims(issEHR+"/", audService), nil))
		}, want: ReasonIss},
		{name: "kid missing", header: func(t *testing.T) string {
			return bearer(sign(t, jwt.SigningMethodES384, ec384, nil, f.claims(issEHR, audService)))
		}, want: ReasonKid},
		{name: "unknown kid", header: func(t *testing.T) string {
			return bearer(esTok(t, f.claims(issEHR, audService), map[string]any{"kid": "nope"}))
		}, want: ReasonKid},
		{name: "kid of an RSA key with alg ES384", header: func(t *testing.T) string {
			return bearer(esTok(t, f.claims(issEHR, audService), map[string]any{"kid": "rsa-1"}))
		}, want: ReasonKid},
		{name: "unlisted jku", header: func(t *testing.T) string {
			return bearer(esTok(t, f.claims(issEHR, audService), map[string]any{"jku": f.evil.URL + "/jwks.json"}))
		}, want: ReasonJKU},
		{name: "jku of the metadata endpoint", header: func(t *testing.T) string {
			return bearer(esTok(t, f.claims(issEHR, audService), map[string]any{"jku": "http://169.254.169.254/latest/meta-data"}))
		}, want: ReasonJKU},
		{name: "signed by another key under a known kid", header: func(t *testing.T) string {
			return bearer(sign(t, jwt.SigningMethodES384, ec384b, map[string]any{"kid": "ec-1"}, f.claims(issEHR, audService)))
		}, want: ReasonSignature},
		{name: "tampered payload", header: func(t *testing.T) string {
			tok := esTok(t, f.claims(issEHR, audService), nil)
			parts := strings.Split(tok, ".")
			c := f.claims(issEHR, audService)
			c["sub"] = "someone-else"
			parts[1] = base64.RawURLEncoding.EncodeToString([]byte(claimsJSON(c)))
			return bearer(strings.Join(parts, "."))
		}, want: ReasonSignature},
		{name: "tampered signature", header: func(t *testing.T) string {
			tok := esTok(t, f.claims(issEHR, audService), nil)
			b := []byte(tok)
			i := len(b) - 5
			b[i] = map[bool]byte{true: 'A', false: 'B'}[b[i] != 'A']
			return bearer(string(b))
		}, want: ReasonSignature},
		{name: "jti missing", header: func(t *testing.T) string {
			return bearer(esTok(t, without(f.claims(issEHR, audService), "jti"), nil))
		}, want: ReasonJTIMissing},
		{name: "jti empty", header: func(t *testing.T) string {
			return bearer(esTok(t, with(f.claims(issEHR, audService), "jti", ""), nil))
		}, want: ReasonJTIMissing},
		{name: "replayed jti", header: func(t *testing.T) string {
			return bearer(esTok(t, f.claims(issEHR, audService), nil))
		}, replay: true, want: ReasonReplay},
		{name: "wrong tenant", header: func(t *testing.T) string {
			c := with(f.claims(issTenant, audService), "tenant", "someone-else")
			return bearer(sign(t, jwt.SigningMethodES384, ec384b, map[string]any{"kid": "m-1"}, c))
		}, want: ReasonTenant},
		{name: "tenant missing where configured", header: func(t *testing.T) string {
			return bearer(sign(t, jwt.SigningMethodES384, ec384b, map[string]any{"kid": "m-1"}, f.claims(issTenant, audService)))
		}, want: ReasonTenant},
		{name: "tenant of a multi-tenant issuer not configured", header: func(t *testing.T) string {
			c := with(f.claims(issMulti, audService), "tenant", "hospital-z")
			return bearer(sign(t, jwt.SigningMethodES384, ec384b, map[string]any{"kid": "m-1"}, c))
		}, want: ReasonTenant},
		{name: "tenant claim not a string", header: func(t *testing.T) string {
			c := with(f.claims(issMulti, audService), "tenant", 42)
			return bearer(sign(t, jwt.SigningMethodES384, ec384b, map[string]any{"kid": "m-1"}, c))
		}, want: ReasonMalformed},
		{name: "exp not a number", header: func(t *testing.T) string {
			return bearer(esTok(t, with(f.claims(issEHR, audService), "exp", "tomorrow"), nil))
		}, want: ReasonMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, logs := f.verifierWithLog(t)
			aud := tc.aud
			if aud == "" {
				aud = audService
			}
			h := tc.header(t)
			if tc.replay {
				if _, err := v.Authenticate(context.Background(), h, aud); err != nil {
					t.Fatalf("first use refused: %v", err)
				}
			}
			c, err := v.Authenticate(context.Background(), h, aud)
			if err == nil {
				t.Fatalf("Authenticate accepted the token: %+v", c)
			}
			if got := ReasonOf(err); got != tc.want {
				t.Errorf("ReasonOf(%v) = %q, want %q", err, got, tc.want)
			}
			if !strings.Contains(logs.String(), "reason="+tc.want) {
				t.Errorf("no debug line with reason=%s in the log:\n%s", tc.want, logs)
			}
			if diff := cmp.Diff(Client{}, c); diff != "" {
				t.Errorf("client on failure (-want +got):\n%s", diff)
			}
			// The message never carries the token or any part of it.
			if tok := strings.TrimSpace(strings.TrimPrefix(h, "Bearer ")); len(tok) > 8 {
				for _, part := range strings.Split(tok, ".") {
					if len(part) > 8 && strings.Contains(err.Error(), part) {
						t.Errorf("error message contains a token segment: %v", err)
					}
					if len(part) > 8 && strings.Contains(logs.String(), part) {
						t.Errorf("log contains a token segment:\n%s", logs)
					}
				}
			}
		})
	}
	if n := f.evil.hits.Load(); n != 0 {
		t.Errorf("the unlisted jku server received %d requests, want 0", n)
	}
}

func TestAuthenticateAccepts(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ehr := Client{Issuer: issEHR, FHIRServers: []string{"https://ehr.example.org/fhir/r4"}}
	tests := []struct {
		name string
		tok  func(t *testing.T) string
		aud  string
		want Client
	}{
		{name: "ES384", tok: func(t *testing.T) string {
			return esTok(t, f.claims(issEHR, audService), map[string]any{"typ": "JWT"})
		}, aud: audService, want: ehr},
		{name: "RS384", tok: func(t *testing.T) string {
			return sign(t, jwt.SigningMethodRS384, rsa2048, map[string]any{"kid": "rsa-1"}, f.claims(issEHR, audService))
		}, aud: audService, want: ehr},
		{name: "ES384 discovery, aud as array", tok: func(t *testing.T) string {
			return esTok(t, f.claims(issEHR, []string{audDiscovery}), nil)
		}, aud: audDiscovery, want: ehr},
		{name: "ES384 feedback", tok: func(t *testing.T) string {
			return esTok(t, f.claims(issEHR, audFeedback), nil)
		}, aud: audFeedback, want: ehr},
		{name: "allowlisted jku", tok: func(t *testing.T) string {
			return esTok(t, f.claims(issEHR, audService), map[string]any{"jku": f.srv.URL + "/jku.json"})
		}, aud: audService, want: ehr},
		{name: "jku equal to jwks_url", tok: func(t *testing.T) string {
			return esTok(t, f.claims(issEHR, audService), map[string]any{"jku": f.srv.URL + "/jwks.json"})
		}, aud: audService, want: ehr},
		{name: "nbf, sub and extra claims tolerated; skew honoured", tok: func(t *testing.T) string {
			c := f.claims(issEHR, audService)
			c["nbf"] = f.clock.Now().Add(10 * time.Second).Unix()
			c["iat"] = f.clock.Now().Add(10 * time.Second).Unix()
			c["extension"] = map[string]any{"x": 1}
			return esTok(t, c, nil)
		}, aud: audService, want: ehr},
		{name: "multi-tenant issuer selects by tenant", tok: func(t *testing.T) string {
			c := with(f.claims(issMulti, audService), "tenant", "hospital-b")
			return sign(t, jwt.SigningMethodES384, ec384b, map[string]any{"kid": "m-1"}, c)
		}, aud: audService, want: Client{Issuer: issMulti, Tenant: "hospital-b", FHIRServers: []string{"https://b.example.org/fhir"}}},
		{name: "configured tenant", tok: func(t *testing.T) string {
			c := with(f.claims(issTenant, audService), "tenant", "only-tenant")
			return sign(t, jwt.SigningMethodES384, ec384b, map[string]any{"kid": "m-1"}, c)
		}, aud: audService, want: Client{Issuer: issTenant, Tenant: "only-tenant"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := f.verifier(t)
			got, err := v.Authenticate(context.Background(), "Bearer "+tc.tok(t), tc.aud)
			if err != nil {
				t.Fatalf("Authenticate: %v (reason %s)", err, ReasonOf(err))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("client (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBearerSchemeCaseAndSpaces(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, prefix := range []string{"bearer ", "BEARER  "} {
		v := f.verifier(t)
		tok := esTok(t, f.claims(issEHR, audService), nil)
		if _, err := v.Authenticate(context.Background(), prefix+tok, audService); err != nil {
			t.Errorf("%q: %v", prefix, err)
		}
	}
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	srv := newJWKSServer(t, jwksJSON(t, ecJWK("k1", "ES384", ec384)))
	cfg, err := NewConfig(File{PublicURL: pub, Clients: []ClientConfig{{Issuer: issEHR, JWKSURL: srv.URL + "/jwks.json"}}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(cfg, Options{Now: f.clock.Now, HTTPClient: srv.Client(), JWKSMinRefresh: 30 * time.Second, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tok := func(kid string, key any) string {
		return "Bearer " + sign(t, jwt.SigningMethodES384, key, map[string]any{"kid": kid}, f.claims(issEHR, audService))
	}
	check := func(step, h string, wantReason string, wantHits int64) {
		t.Helper()
		_, err := v.Authenticate(ctx, h, audService)
		if got := ReasonOf(err); got != wantReason {
			t.Errorf("%s: reason %q (%v), want %q", step, got, err, wantReason)
		}
		if got := srv.hits.Load(); got != wantHits {
			t.Errorf("%s: %d JWKS fetches, want %d", step, got, wantHits)
		}
	}
	check("first token fetches the set", tok("k1", ec384), "", 1)
	check("known kid is served from cache", tok("k1", ec384), "", 1)

	// The EHR rotates: k2 is published; k1 stays for tokens in flight.
	srv.set(jwksJSON(t, ecJWK("k1", "ES384", ec384), ecJWK("k2", "ES384", ec384b)))
	check("unknown kid inside the rate-limit window is not fetched", tok("k2", ec384b), ReasonKid, 1)
	f.clock.Advance(31 * time.Second)

	// Concurrent misses share one fetch, and all succeed.
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			if _, err := v.Authenticate(ctx, tok("k2", ec384b), audService); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent rotated-key token refused: %v", err)
	}
	if got := srv.hits.Load(); got != 2 {
		t.Errorf("after rotation: %d JWKS fetches, want 2", got)
	}
	check("forged kid after the refresh is refused without another fetch", tok("k3", ec384b), ReasonKid, 2)
	check("still rate limited", tok("k4", ec384b), ReasonKid, 2)
	f.clock.Advance(31 * time.Second)
	check("after the window, one more fetch", tok("k5", ec384b), ReasonKid, 3)
}

func TestJWKSUnavailable(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	big := newJWKSServer(t, []byte(`{"keys":[`+strings.Repeat(" ", 2048)+`]}`))
	cfg, err := NewConfig(File{PublicURL: pub, Clients: []ClientConfig{{Issuer: issEHR, JWKSURL: big.URL + "/jwks.json"}}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(cfg, Options{Now: f.clock.Now, HTTPClient: big.Client(), JWKSMaxBytes: 1024, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Authenticate(context.Background(), bearer(esTok(t, f.claims(issEHR, audService), nil)), audService)
	if got := ReasonOf(err); got != ReasonJWKSUnavail {
		t.Errorf("oversized JWK Set: reason %q (%v), want %q", got, err, ReasonJWKSUnavail)
	}
}

func TestJWKSRedirectRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	hop := newJWKSServer(t, nil)
	hop.redirectTo(f.evil.URL + "/jwks.json")
	cfg, err := NewConfig(File{PublicURL: pub, Clients: []ClientConfig{{Issuer: issEHR, JWKSURL: hop.URL + "/jwks.json"}}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(cfg, Options{Now: f.clock.Now, HTTPClient: hop.Client(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	// Signed with the key the redirect target serves: following it would verify.
	h := bearer(sign(t, jwt.SigningMethodES384, ec384b, map[string]any{"kid": "ec-1"}, f.claims(issEHR, audService)))
	_, err = v.Authenticate(context.Background(), h, audService)
	if got := ReasonOf(err); got != ReasonJWKSUnavail {
		t.Errorf("reason %q (%v), want %q", got, err, ReasonJWKSUnavail)
	}
	if n := f.evil.hits.Load(); n != 0 {
		t.Errorf("redirect target received %d requests, want 0", n)
	}
}

// Keys older than the cache TTL are refetched; while the endpoint fails the last good
// keys serve until JWKSMaxStale, then tokens are refused.
func TestJWKSStaleKeys(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	srv := newJWKSServer(t, jwksJSON(t, ecJWK("k1", "ES384", ec384)))
	cfg, err := NewConfig(File{PublicURL: pub, Clients: []ClientConfig{{Issuer: issEHR, JWKSURL: srv.URL + "/jwks.json"}}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(cfg, Options{
		Now: f.clock.Now, HTTPClient: srv.Client(), Logger: quiet,
		JWKSCacheTTL: time.Hour, JWKSMinRefresh: 30 * time.Second, JWKSMaxStale: 3 * time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	try := func(step, want string, wantHits int64) {
		t.Helper()
		h := bearer(sign(t, jwt.SigningMethodES384, ec384, map[string]any{"kid": "k1"}, f.claims(issEHR, audService)))
		_, err := v.Authenticate(context.Background(), h, audService)
		if got := ReasonOf(err); got != want {
			t.Errorf("%s: reason %q (%v), want %q", step, got, err, want)
		}
		if got := srv.hits.Load(); got != wantHits {
			t.Errorf("%s: %d fetches, want %d", step, got, wantHits)
		}
	}
	try("first fetch", "", 1)
	f.clock.Advance(61 * time.Minute)
	try("TTL passed: refetched", "", 2)
	srv.fail(http.StatusServiceUnavailable)
	f.clock.Advance(61 * time.Minute)
	try("refresh fails: stale keys still serve", "", 3)
	f.clock.Advance(10 * time.Second)
	try("within the rate-limit window: no fetch", "", 3)
	f.clock.Advance(2 * time.Hour)
	try("beyond max stale: keys dropped", ReasonJWKSUnavail, 4)
	srv.fail(0)
	try("endpoint back, but rate limited", ReasonJWKSUnavail, 4)
	f.clock.Advance(31 * time.Second)
	try("endpoint back", "", 5)
}

func TestConcurrentReplayAcceptsOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	v := f.verifier(t)
	h := bearer(esTok(t, f.claims(issEHR, audService), nil))
	var ok atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			if _, err := v.Authenticate(context.Background(), h, audService); err == nil {
				ok.Add(1)
			} else if ReasonOf(err) != ReasonReplay {
				t.Errorf("unexpected reason %q: %v", ReasonOf(err), err)
			}
		})
	}
	wg.Wait()
	if got := ok.Load(); got != 1 {
		t.Errorf("token accepted %d times, want 1", got)
	}
}

func TestReasonOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{fmt.Errorf("wrapped: %w", fail(ReasonReplay, "x")), ReasonReplay},
		{context.Canceled, ReasonInternal},
	}
	for _, tc := range tests {
		if got := ReasonOf(tc.err); got != tc.want {
			t.Errorf("ReasonOf(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// TestPinnedKey: a client whose inline JWK Set holds the token's kid and whose jku is
// allowlisted is verified with the inline key, and the jku is never fetched (before:
// every jku was fetched, and an offline set-up refused the token as jwks-unavailable); an
// unlisted jku is still refused unfetched; a kid not held inline is fetched from the jku.
func TestPinnedKey(t *testing.T) {
	t.Parallel()
	testKeys(t)
	clock := newClock()
	jku := newJWKSServer(t, jwksJSON(t, ecJWK("remote-only", "ES384", ec384b)))
	evil := newJWKSServer(t, jwksJSON(t, ecJWK("pinned", "ES384", ec384b)))
	cfg, err := ParseConfig([]byte(fmt.Sprintf(`
public_url: %s
clients:
  - iss: %s
    jwks: %s
    jku_allowed: [%s/jwks.json]
`, pub, issEHR, jwksJSON(t, ecJWK("pinned", "ES384", ec384)), jku.URL)))
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(cfg, Options{Now: clock.Now, HTTPClient: jku.Client(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = v.Close() })
	claims := func() jwt.MapClaims {
		now := clock.Now()
		return jwt.MapClaims{"iss": issEHR, "aud": audService, "iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
			"jti": fmt.Sprintf("jti-%d", jtiSeq.Add(1))}
	}
	tok := sign(t, jwt.SigningMethodES384, ec384, map[string]any{"kid": "pinned", "jku": jku.URL + "/jwks.json"}, claims())
	if _, err := v.Authenticate(context.Background(), bearer(tok), audService); err != nil {
		t.Fatalf("pinned key with an allowlisted jku: %v", err)
	}
	if n := jku.hits.Load(); n != 0 {
		t.Errorf("the jku was fetched %d times, want 0 (the key is pinned)", n)
	}
	tok = sign(t, jwt.SigningMethodES384, ec384, map[string]any{"kid": "pinned", "jku": evil.URL + "/jwks.json"}, claims())
	if _, err := v.Authenticate(context.Background(), bearer(tok), audService); ReasonOf(err) != ReasonJKU {
		t.Errorf("unlisted jku with a pinned kid: %v, want reason jku", err)
	}
	if n := evil.hits.Load(); n != 0 {
		t.Errorf("the unlisted jku was fetched %d times", n)
	}
	tok = sign(t, jwt.SigningMethodES384, ec384b, map[string]any{"kid": "remote-only", "jku": jku.URL + "/jwks.json"}, claims())
	if _, err := v.Authenticate(context.Background(), bearer(tok), audService); err != nil {
		t.Errorf("a kid only under the allowlisted jku: %v", err)
	}
	if n := jku.hits.Load(); n != 1 {
		t.Errorf("the jku was fetched %d times for a kid not pinned, want 1", n)
	}
}
