package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// minRSABits is the smallest RSA modulus accepted from a JWK Set.
const minRSABits = 2048

// verifyKey is one public key from a JWK Set.
type verifyKey struct {
	kid string
	alg string // the JWK's alg, "" when unspecified
	pub crypto.PublicKey
}

// keySet maps kid to its keys (normally one; a set may publish, say, an EC and an RSA
// key under one kid, and the token's alg picks).
type keySet map[string][]verifyKey

// jwk holds the members of a JSON Web Key (RFC 7517, 7518) that verification needs.
type jwk struct {
	Kty    string   `json:"kty"`
	Kid    string   `json:"kid"`
	Use    string   `json:"use"`
	Alg    string   `json:"alg"`
	KeyOps []string `json:"key_ops"`
	Crv    string   `json:"crv"`
	X      string   `json:"x"`
	Y      string   `json:"y"`
	N      string   `json:"n"`
	E      string   `json:"e"`
	D      string   `json:"d"`
}

// parseJWKS decodes a JWK Set. Keys that cannot verify a JWS here (no kid, encryption
// keys, unknown kty, private keys, weak or invalid keys) are skipped and counted; only
// a document that is not a JWK Set is an error.
func parseJWKS(data []byte) (keySet, int, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, 0, fmt.Errorf("not a JWK Set: %w", err)
	}
	if doc.Keys == nil {
		return nil, 0, errors.New(`not a JWK Set: no "keys" array`)
	}
	ks := keySet{}
	skipped := 0
	for _, raw := range doc.Keys {
		var k jwk
		if err := json.Unmarshal(raw, &k); err != nil {
			skipped++
			continue
		}
		vk, err := k.verifyKey()
		if err != nil {
			skipped++
			continue
		}
		ks[vk.kid] = append(ks[vk.kid], vk)
	}
	return ks, skipped, nil
}

func (k jwk) verifyKey() (verifyKey, error) {
	switch {
	case k.Kid == "":
		return verifyKey{}, errors.New("no kid")
	case k.D != "":
		return verifyKey{}, errors.New("private key material in a public JWK Set")
	case k.Use != "" && k.Use != "sig":
		return verifyKey{}, errors.New("not a signing key")
	case len(k.KeyOps) > 0 && !slices.Contains(k.KeyOps, "verify"):
		return verifyKey{}, errors.New("key_ops excludes verify")
	}
	vk := verifyKey{kid: k.Kid, alg: k.Alg}
	switch k.Kty {
	case "EC":
		var curve elliptic.Curve
		switch k.Crv {
		case "P-256":
			curve = elliptic.P256()
		case "P-384":
			curve = elliptic.P384()
		case "P-521":
			curve = elliptic.P521()
		default:
			return verifyKey{}, fmt.Errorf("unsupported curve %q", k.Crv)
		}
		size := (curve.Params().BitSize + 7) / 8
		x, err1 := base64.RawURLEncoding.DecodeString(k.X)
		y, err2 := base64.RawURLEncoding.DecodeString(k.Y)
		if err1 != nil || err2 != nil || len(x) != size || len(y) != size {
			return verifyKey{}, errors.New("bad EC coordinates")
		}
		point := append(append([]byte{4}, x...), y...)
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, point)
		if err != nil {
			return verifyKey{}, fmt.Errorf("EC point: %w", err)
		}
		vk.pub = pub
	case "RSA":
		n, err1 := base64.RawURLEncoding.DecodeString(k.N)
		e, err2 := base64.RawURLEncoding.DecodeString(k.E)
		if err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 {
			return verifyKey{}, errors.New("bad RSA parameters")
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if pub.N.BitLen() < minRSABits || pub.E < 3 || pub.E%2 == 0 {
			return verifyKey{}, errors.New("weak or invalid RSA key")
		}
		vk.pub = pub
	default:
		return verifyKey{}, fmt.Errorf("unsupported kty %q", k.Kty)
	}
	return vk, nil
}

// fits reports whether k can verify a JWS with alg: the JWK's alg (when given) agrees,
// and the key type and curve are the ones alg names.
func (k verifyKey) fits(alg string) bool {
	if k.alg != "" && k.alg != alg {
		return false
	}
	switch pub := k.pub.(type) {
	case *ecdsa.PublicKey:
		switch alg {
		case "ES256":
			return pub.Curve == elliptic.P256()
		case "ES384":
			return pub.Curve == elliptic.P384()
		case "ES512":
			return pub.Curve == elliptic.P521()
		}
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	}
	return false
}

// fetcher downloads JWK Sets with a timeout, a size cap and no redirects.
type fetcher struct {
	client   *http.Client
	timeout  time.Duration
	maxBytes int64
	log      *slog.Logger
}

func newFetcher(base *http.Client, timeout time.Duration, maxBytes int64, log *slog.Logger) *fetcher {
	c := &http.Client{}
	if base != nil {
		*c = *base
	}
	// A JWK Set URL is operator-configured; a redirect could point anywhere.
	c.CheckRedirect = func(*http.Request, []*http.Request) error {
		return errors.New("redirect refused")
	}
	return &fetcher{client: c, timeout: timeout, maxBytes: maxBytes, log: log}
}

func (f *fetcher) fetch(ctx context.Context, url string) (keySet, error) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, f.maxBytes+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > f.maxBytes {
		return nil, fmt.Errorf("JWK Set larger than %d bytes", f.maxBytes)
	}
	ks, skipped, err := parseJWKS(body)
	if err != nil {
		return nil, err
	}
	if len(ks) == 0 {
		return nil, fmt.Errorf("no usable public signing key (%d skipped)", skipped)
	}
	f.log.Info("auth: fetched JWK Set", slog.String("url", url), slog.Int("keys", len(ks)), slog.Int("skipped", skipped))
	return ks, nil
}

// remoteKeys is the cached JWK Set of one configured URL (a jwks_url or an allowlisted
// jku). Keys are refreshed when older than ttl or when a token names an unknown kid, at
// most once per minInterval, and concurrent misses share one fetch. If refreshing fails
// the previous keys stay in use for up to maxStale after the last successful fetch.
type remoteKeys struct {
	url         string
	f           *fetcher
	now         func() time.Time
	ttl         time.Duration
	minInterval time.Duration
	maxStale    time.Duration

	mu          sync.Mutex
	keys        keySet
	fetchedAt   time.Time // last success
	lastAttempt time.Time
	lastErr     error
	inflight    *fetchCall
}

type fetchCall struct{ done chan struct{} }

// lookup returns the keys for kid, or a *Error with ReasonKid or ReasonJWKSUnavail.
func (r *remoteKeys) lookup(ctx context.Context, kid string) ([]verifyKey, error) {
	r.mu.Lock()
	now := r.now()
	ks, found := r.keys[kid]
	if found && now.Sub(r.fetchedAt) < r.ttl {
		r.mu.Unlock()
		return ks, nil
	}
	call := r.inflight
	if call == nil && (r.lastAttempt.IsZero() || now.Sub(r.lastAttempt) >= r.minInterval) {
		call = &fetchCall{done: make(chan struct{})}
		r.inflight = call
		r.lastAttempt = now
		// Detached from the caller: other callers may be waiting on this fetch.
		go r.refresh(context.WithoutCancel(ctx), call)
	}
	if call == nil { // rate limited: answer from what we have
		defer r.mu.Unlock()
		return r.answer(kid)
	}
	r.mu.Unlock()
	select {
	case <-call.done:
	case <-ctx.Done():
		return nil, &Error{Reason: ReasonJWKSUnavail, msg: "waiting for the JWK Set", err: ctx.Err()}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.answer(kid)
}

// answer must be called with r.mu held.
func (r *remoteKeys) answer(kid string) ([]verifyKey, error) {
	if r.keys == nil {
		return nil, &Error{Reason: ReasonJWKSUnavail, msg: "no JWK Set from " + r.url, err: r.lastErr}
	}
	if ks, ok := r.keys[kid]; ok {
		return ks, nil
	}
	return nil, fail(ReasonKid, "kid not in the client's JWK Set")
}

func (r *remoteKeys) refresh(ctx context.Context, call *fetchCall) {
	ks, err := r.f.fetch(ctx, r.url)
	r.mu.Lock()
	defer r.mu.Unlock()
	defer close(call.done)
	r.inflight = nil
	now := r.now()
	if err != nil {
		r.lastErr = err
		r.f.log.Warn("auth: JWK Set fetch failed", slog.String("url", r.url), slog.String("error", err.Error()))
		if r.keys != nil && now.Sub(r.fetchedAt) > r.maxStale {
			r.keys = nil
		}
		return
	}
	r.keys, r.fetchedAt, r.lastErr = ks, now, nil
}
