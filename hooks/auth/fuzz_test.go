package auth

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var knownReasons = []string{
	ReasonMissing, ReasonMalformed, ReasonAlg, ReasonTyp, ReasonIss, ReasonTenant, ReasonKid,
	ReasonJKU, ReasonJWKSUnavail, ReasonSignature, ReasonAud, ReasonExpired, ReasonExpMissing,
	ReasonNotYetValid, ReasonIatFuture, ReasonIatMissing, ReasonLifetime, ReasonJTIMissing,
	ReasonReplay, ReasonReplayUnavail,
}

// FuzzAuthorizationHeader: whatever the Authorization header holds, Authenticate never
// panics, never accepts (the fuzzer holds no trusted private key), answers with a known
// reason, and never echoes the input. Run: go test ./hooks/auth -fuzz FuzzAuthorizationHeader
func FuzzAuthorizationHeader(f *testing.F) {
	testKeys(f)
	clock := newClock()
	jwks := string(jwksJSON(f, ecJWK("k1", "ES384", ec384), rsaJWK("r1", "RS384", rsa2048)))
	cfg, err := ParseConfig([]byte(fmt.Sprintf("public_url: %s\nclients:\n  - iss: %s\n    jwks: %s\n", pub, issEHR, jwks)))
	if err != nil {
		f.Fatal(err)
	}
	v, err := NewVerifier(cfg, Options{Now: clock.Now, ReplayCache: NewMemoryReplayCache(0, clock.Now), Logger: quiet})
	if err != nil {
		f.Fatal(err)
	}
	claims := jwt.MapClaims{
		"iss": issEHR, "aud": audService, "jti": "j",
		"iat": clock.Now().Unix(), "exp": clock.Now().Add(time.Minute).Unix(),
	}
	// Seeds: shapes an attacker would try, each signed with a key the verifier does not trust.
	f.Add("")
	f.Add("Bearer ")
	f.Add("Bearer a.b.c")
	f.Add("bearer ..")
	f.Add("Basic Zm9vOmJhcg==")
	f.Add("Bearer " + sign(f, jwt.SigningMethodES384, ec384b, map[string]any{"kid": "k1"}, claims))
	f.Add("Bearer " + sign(f, jwt.SigningMethodES256, ec256, map[string]any{"kid": "k1"}, claims))
	f.Add("Bearer " + sign(f, jwt.SigningMethodHS256, []byte("k1"), map[string]any{"kid": "k1"}, claims))
	f.Add("Bearer " + forge(`{"alg":"none","kid":"k1"}`, `{"iss":"`+issEHR+`"}`, nil))
	f.Add("Bearer " + forge(`{"alg":"ES384","kid":"k1","jku":"https://169.254.169.254/"}`, `{"iss":"`+issEHR+`"}`, []byte("s")))
	f.Add("Bearer " + forge(`{"alg":"ES384","kid":"k1"}`, `{"iss":"`+issEHR+`","exp":1e400}`, []byte("s")))
	f.Fuzz(func(t *testing.T, h string) {
		c, err := v.Authenticate(context.Background(), h, audService)
		if err == nil {
			t.Fatalf("accepted %q as %+v", h, c)
		}
		if r := ReasonOf(err); !slices.Contains(knownReasons, r) {
			t.Fatalf("unknown reason %q for %q: %v", r, h, err)
		}
		if tok := strings.TrimSpace(h); len(tok) > 12 && strings.Contains(err.Error(), tok) {
			t.Fatalf("error echoes the header: %v", err)
		}
		if tok, err := bearerToken(h); err == nil {
			if strings.Count(tok, ".") != 2 || strings.ContainsAny(tok, " +/=") {
				t.Fatalf("bearerToken(%q) = %q, not a compact JWS", h, tok)
			}
		}
	})
}
