package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// All keys are generated here, per test binary run; none is committed.
var (
	keysOnce             sync.Once
	ec384, ec384b, ec256 *ecdsa.PrivateKey
	rsa2048              *rsa.PrivateKey
)

func testKeys(t testing.TB) {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		must := func(e error) {
			if e != nil && err == nil {
				err = e
			}
		}
		var e error
		ec384, e = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		must(e)
		ec384b, e = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		must(e)
		ec256, e = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(e)
		rsa2048, e = rsa.GenerateKey(rand.Reader, 2048)
		must(e)
		if err != nil {
			panic(err)
		}
	})
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func pad(b []byte, n int) []byte {
	out := make([]byte, n)
	copy(out[n-len(b):], b)
	return out
}

// ecJWK returns the public JWK of k.
func ecJWK(kid, alg string, k *ecdsa.PrivateKey) map[string]any {
	size := (k.Curve.Params().BitSize + 7) / 8
	crv := map[int]string{256: "P-256", 384: "P-384", 521: "P-521"}[k.Curve.Params().BitSize]
	m := map[string]any{
		"kty": "EC", "use": "sig", "crv": crv, "kid": kid,
		"x": b64(pad(k.X.Bytes(), size)), "y": b64(pad(k.Y.Bytes(), size)),
	}
	if alg != "" {
		m["alg"] = alg
	}
	return m
}

func rsaJWK(kid, alg string, k *rsa.PrivateKey) map[string]any {
	m := map[string]any{
		"kty": "RSA", "use": "sig", "kid": kid,
		"n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes()),
	}
	if alg != "" {
		m["alg"] = alg
	}
	return m
}

func jwksJSON(t testing.TB, keys ...map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sign returns a compact JWS with the given header fields (alg set from method) and claims.
func sign(t testing.TB, method jwt.SigningMethod, key any, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return s
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// jwksServer is an https JWK Set endpoint that counts its requests; its set can change.
type jwksServer struct {
	*httptest.Server
	hits     atomic.Int64
	mu       sync.Mutex
	body     []byte
	status   int    // answer with this status when non-zero
	redirect string // answer 302 to this URL when set
}

func newJWKSServer(t testing.TB, body []byte) *jwksServer {
	t.Helper()
	s := &jwksServer{body: body}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		b, status, redirect := s.body, s.status, s.redirect
		s.mu.Unlock()
		if redirect != "" {
			http.Redirect(w, r, redirect, http.StatusFound)
			return
		}
		if status != 0 {
			w.WriteHeader(status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) redirectTo(url string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.redirect = url
}

func (s *jwksServer) fail(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = status
}

func (s *jwksServer) set(body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body = body
}
