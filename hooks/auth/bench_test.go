package auth

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// alwaysFresh lets a benchmark present one token repeatedly.
type alwaysFresh struct{}

func (alwaysFresh) Remember(context.Context, string, time.Duration) (bool, error) { return true, nil }

// BenchmarkAuthenticate measures one full check (parse, key lookup from a warm cache,
// signature, claims, replay-cache call) per algorithm.
func BenchmarkAuthenticate(b *testing.B) {
	testKeys(b)
	clock := newClock()
	jwks := string(jwksJSON(b, ecJWK("ec", "ES384", ec384), rsaJWK("rsa", "RS384", rsa2048)))
	cfg, err := ParseConfig([]byte(fmt.Sprintf("public_url: %s\nclients:\n  - iss: %s\n    jwks: %s\n", pub, issEHR, jwks)))
	if err != nil {
		b.Fatal(err)
	}
	v, err := NewVerifier(cfg, Options{Now: clock.Now, ReplayCache: alwaysFresh{}, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	claims := jwt.MapClaims{"iss": issEHR, "aud": audService, "jti": "j",
		"iat": clock.Now().Unix(), "exp": clock.Now().Add(5 * time.Minute).Unix()}
	for _, bc := range []struct {
		name   string
		method jwt.SigningMethod
		key    any
		kid    string
	}{
		{"ES384", jwt.SigningMethodES384, ec384, "ec"},
		{"RS384", jwt.SigningMethodRS384, rsa2048, "rsa"},
	} {
		h := "Bearer " + sign(b, bc.method, bc.key, map[string]any{"kid": bc.kid}, claims)
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			for b.Loop() {
				if _, err := v.Authenticate(ctx, h, audService); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
