// Package auth verifies the JWT that a CDS client sends with every call, as CDS Hooks 2.0
// "Trusting CDS Clients" asks, against a trust configuration of known clients.
//
// The flow of one check (Verifier.Authenticate):
//
//  1. Authorization must be "Bearer <compact JWS>" of bounded size.
//  2. The header's alg must be an asymmetric algorithm (never none, never HS*), crit is
//     refused, typ (when present) must be JWT.
//  3. The iss claim (and tenant, when one issuer serves several tenants) selects the
//     configured client BEFORE anything is verified; an unknown iss stops here.
//  4. alg must be in that client's list; kid is required; a jku header must be
//     allowlisted for that client (nothing else is ever fetched).
//  5. The key is looked up by kid in the client's JWK Set (inline, or fetched from
//     jwks_url/jku, cached, refreshed on an unknown kid at most once per interval). A
//     kid held inline is pinned: an allowlisted jku then causes no fetch.
//  6. golang-jwt verifies the signature with that key only, then exp (required), nbf,
//     iat (required, not in the future), aud (the endpoint invoked) and iss, with a
//     small leeway for clock skew.
//  7. jti is required; tenant must match when configured; the (iss, jti) pair must be
//     new to the replay cache (in memory, or Redis shared by replicas).
//
// Errors are *Error values whose Reason is a fixed label (ReasonOf); messages never
// contain the token or claim values. The hooks layer maps every error to 401.
package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Client is an authenticated CDS client.
type Client struct {
	Issuer string
	Tenant string
	// FHIRServers are the fhirServer bases this client may name; the FHIR fallback
	// fetches from no other server.
	FHIRServers []string
	// OpenFHIR: the fallback may read this client's FHIR servers without an access token
	// when a request gives none (trust file open_fhir_servers: servers open on purpose).
	OpenFHIR bool
	// Anonymous marks a call without a client JWT (development without a trust file, set
	// by the hooks layer, never by Authenticate): it has no FHIR server list, and the
	// FHIR policy decides alone (fhirclient.Policy.AllowOpen).
	Anonymous bool
}

// RedisURLEnv names the environment variable NewVerifier reads when Options.RedisURL
// and Options.ReplayCache are both unset.
const RedisURLEnv = "NENCDS_REDIS_URL"

// Defaults for Options fields left zero.
const (
	DefaultSkew             = 30 * time.Second
	DefaultMaxTokenLifetime = 15 * time.Minute
	DefaultJWKSTimeout      = 5 * time.Second
	DefaultJWKSMaxBytes     = 256 << 10
	DefaultJWKSMinRefresh   = 30 * time.Second
	DefaultJWKSCacheTTL     = time.Hour
	DefaultJWKSMaxStale     = 24 * time.Hour
	maxTokenBytes           = 16 << 10
	maxJTIBytes             = 256
)

// Options are the verifier's runtime dependencies. Zero values take the defaults above.
type Options struct {
	Now        func() time.Time // clock for exp/iat/nbf and caches; time.Now when nil
	HTTPClient *http.Client     // for jwks_url and jku; redirects are always refused
	// RedisURL selects the shared Redis replay cache (redis:// or rediss://). When empty
	// and ReplayCache is nil, NENCDS_REDIS_URL is used; when that is empty too, an
	// in-memory cache (one replica only).
	RedisURL string
	// ReplayCache, when set, is used as is (tests, custom stores).
	ReplayCache      ReplayCache
	ReplayCacheSize  int           // in-memory cache bound; DefaultReplayCacheSize
	Skew             time.Duration // leeway for exp, nbf, iat; DefaultSkew (at most 5m)
	MaxTokenLifetime time.Duration // refuse tokens whose exp is further away; DefaultMaxTokenLifetime
	JWKSTimeout      time.Duration // per fetch
	JWKSMaxBytes     int64         // JWK Set response size cap
	JWKSMinRefresh   time.Duration // at most one fetch per URL per interval
	JWKSCacheTTL     time.Duration // refresh keys older than this on next use
	JWKSMaxStale     time.Duration // keep serving old keys this long while refresh fails
	Logger           *slog.Logger  // slog.Default when nil; never receives tokens
}

// Verifier checks client JWTs. It is safe for concurrent use.
type Verifier struct {
	cfg         *Config
	now         func() time.Time
	skew        time.Duration
	maxLifetime time.Duration
	log         *slog.Logger
	remote      map[string]*remoteKeys // by URL; fixed at construction
	replay      ReplayCache
	closer      func() error
}

// NewVerifier returns a Verifier for cfg.
func NewVerifier(cfg *Config, opts Options) (*Verifier, error) {
	if cfg == nil || cfg.publicURL == "" {
		return nil, errors.New("auth: NewVerifier needs a validated Config")
	}
	if opts.Skew < 0 || opts.Skew > 5*time.Minute {
		return nil, fmt.Errorf("auth: skew %v out of range [0, 5m]", opts.Skew)
	}
	v := &Verifier{
		cfg:         cfg,
		now:         opts.Now,
		skew:        or(opts.Skew, DefaultSkew),
		maxLifetime: or(opts.MaxTokenLifetime, DefaultMaxTokenLifetime),
		log:         opts.Logger,
		remote:      map[string]*remoteKeys{},
		closer:      func() error { return nil },
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.log == nil {
		v.log = slog.Default()
	}
	f := newFetcher(opts.HTTPClient, or(opts.JWKSTimeout, DefaultJWKSTimeout), or(opts.JWKSMaxBytes, DefaultJWKSMaxBytes), v.log)
	addRemote := func(url string) {
		if url == "" || v.remote[url] != nil {
			return
		}
		v.remote[url] = &remoteKeys{
			url: url, f: f, now: v.now,
			ttl:         or(opts.JWKSCacheTTL, DefaultJWKSCacheTTL),
			minInterval: or(opts.JWKSMinRefresh, DefaultJWKSMinRefresh),
			maxStale:    or(opts.JWKSMaxStale, DefaultJWKSMaxStale),
		}
	}
	for _, e := range cfg.clients {
		addRemote(e.cfg.JWKSURL)
		for _, u := range e.cfg.JKUAllowed {
			addRemote(u)
		}
	}
	switch redisURL := cmpOr(opts.RedisURL, os.Getenv(RedisURLEnv)); {
	case opts.ReplayCache != nil:
		v.replay = opts.ReplayCache
	case redisURL != "":
		rc, err := NewRedisReplayCache(redisURL)
		if err != nil {
			return nil, err
		}
		v.replay, v.closer = rc, rc.Close
		RedisLogger(v.log)
		v.log.Info("auth: replay cache in Redis (shared by replicas)")
	default:
		v.replay = NewMemoryReplayCache(opts.ReplayCacheSize, v.now)
		v.log.Info("auth: replay cache in memory (single replica only)")
	}
	return v, nil
}

// Close releases the Redis connection, if any.
func (v *Verifier) Close() error { return v.closer() }

// Ready reports whether the shared replay cache answers (nil for the in-memory one).
func (v *Verifier) Ready(ctx context.Context) error {
	if p, ok := v.replay.(interface{ Ping(context.Context) error }); ok {
		return p.Ping(ctx)
	}
	return nil
}

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// joseHeader is the part of the JWS header read before verification.
type joseHeader struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Typ  string          `json:"typ"`
	JKU  string          `json:"jku"`
	Crit json.RawMessage `json:"crit"`
}

// selector holds the claims read before verification to pick the client; they are
// trusted only after the signature checks out with that client's key. The NumericDate
// claims are kept raw to check their JSON type, which golang-jwt does not (it also reads
// "1767268800", a string).
type selector struct {
	Iss    string          `json:"iss"`
	Tenant *string         `json:"tenant"`
	Exp    json.RawMessage `json:"exp"`
	Iat    json.RawMessage `json:"iat"`
	Nbf    json.RawMessage `json:"nbf"`
}

// numericDates reports whether exp, iat and nbf are each a JSON number, or absent (null
// counts as absent: the required ones then fail as missing).
func (s selector) numericDates() bool {
	for _, v := range []json.RawMessage{s.Exp, s.Iat, s.Nbf} {
		if len(v) == 0 || string(v) == "null" {
			continue
		}
		if c := v[0]; c != '-' && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// tokenClaims are the verified claims. sub and other claims are tolerated.
type tokenClaims struct {
	jwt.RegisteredClaims
	Tenant string `json:"tenant,omitempty"`
}

// Authenticate checks an Authorization header value for a call to the endpoint whose
// absolute URL is aud. Any error means 401; ReasonOf gives its metric label.
func (v *Verifier) Authenticate(ctx context.Context, authorization, aud string) (Client, error) {
	c, err := v.authenticate(ctx, authorization, aud)
	if err != nil {
		v.log.DebugContext(ctx, "auth: token refused", slog.String("reason", ReasonOf(err)), slog.String("iss", issuerOf(err)))
		return Client{}, err
	}
	return c, nil
}

func issuerOf(err error) string {
	var ae *Error
	if errors.As(err, &ae) {
		return ae.Issuer
	}
	return ""
}

func (v *Verifier) authenticate(ctx context.Context, authorization, aud string) (Client, error) {
	if aud == "" {
		return Client{}, fail(ReasonInternal, "no audience given to Authenticate")
	}
	raw, err := bearerToken(authorization)
	if err != nil {
		return Client{}, err
	}
	parts := strings.Split(raw, ".") // bearerToken guarantees three parts
	var hdr joseHeader
	if err := decodeSegment(parts[0], &hdr); err != nil {
		return Client{}, fail(ReasonMalformed, "JWS header is not base64url JSON")
	}
	if !slices.Contains(supportedAlgorithms, hdr.Alg) {
		return Client{}, fail(ReasonAlg, "alg is absent, unsigned, symmetric or unsupported")
	}
	if hdr.Crit != nil {
		return Client{}, fail(ReasonMalformed, "crit header parameters are not supported")
	}
	if hdr.Typ != "" && !strings.EqualFold(hdr.Typ, "JWT") {
		return Client{}, fail(ReasonTyp, "typ is not JWT")
	}
	var sel selector
	if err := decodeSegment(parts[1], &sel); err != nil {
		return Client{}, fail(ReasonMalformed, "JWT payload is not base64url JSON")
	}
	if !sel.numericDates() {
		return Client{}, fail(ReasonMalformed, "exp, iat and nbf must be JSON numbers (NumericDate)")
	}
	entry, err := v.selectClient(sel)
	if err != nil {
		return Client{}, err
	}
	iss := entry.cfg.Issuer
	withIss := func(e *Error) *Error { e.Issuer = iss; return e }
	if !slices.Contains(entry.cfg.Algorithms, hdr.Alg) {
		return Client{}, withIss(fail(ReasonAlg, "alg not allowed for this client"))
	}
	if hdr.Kid == "" {
		return Client{}, withIss(fail(ReasonKid, "kid header is required"))
	}
	keys, err := v.keysFor(ctx, entry, hdr)
	if err != nil {
		var ae *Error
		if errors.As(err, &ae) {
			ae.Issuer = iss
		}
		return Client{}, err
	}
	var fit []any
	for _, k := range keys {
		if k.fits(hdr.Alg) {
			fit = append(fit, k.pub)
		}
	}
	if len(fit) == 0 {
		return Client{}, withIss(fail(ReasonKid, "no key with this kid fits the alg"))
	}

	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{hdr.Alg}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(v.skew),
		jwt.WithTimeFunc(v.now),
		jwt.WithAudience(aud),
		jwt.WithIssuer(iss),
		jwt.WithStrictDecoding(),
	)
	var claims tokenClaims
	_, err = parser.ParseWithClaims(raw, &claims, func(*jwt.Token) (any, error) {
		if len(fit) == 1 {
			return fit[0], nil
		}
		set := jwt.VerificationKeySet{}
		for _, k := range fit {
			set.Keys = append(set.Keys, k)
		}
		return set, nil
	})
	if err != nil {
		return Client{}, withIss(jwtFailure(err, &claims))
	}
	now := v.now()
	switch {
	case claims.IssuedAt == nil:
		return Client{}, withIss(fail(ReasonIatMissing, "iat is required"))
	case claims.ExpiresAt.Sub(now) > v.maxLifetime+v.skew:
		return Client{}, withIss(fail(ReasonLifetime, fmt.Sprintf("exp is more than %v away", v.maxLifetime)))
	case claims.ID == "":
		return Client{}, withIss(fail(ReasonJTIMissing, "jti is required"))
	case len(claims.ID) > maxJTIBytes:
		return Client{}, withIss(fail(ReasonMalformed, "jti is too long"))
	case entry.cfg.Tenant != "" && claims.Tenant != entry.cfg.Tenant:
		// selectClient matched the unverified tenant; this re-checks the verified one
		// (same bytes, so it cannot differ today: defence in depth if selection changes).
		return Client{}, withIss(fail(ReasonTenant, "tenant does not match the configured client"))
	}
	ttl := claims.ExpiresAt.Add(v.skew).Sub(now)
	fresh, err := v.replay.Remember(ctx, replayID(iss, claims.ID), ttl)
	if err != nil {
		return Client{}, &Error{Reason: ReasonReplayUnavail, Issuer: iss, msg: "cannot record jti", err: err}
	}
	if !fresh {
		return Client{}, withIss(fail(ReasonReplay, "jti already used"))
	}
	return entry.client(), nil
}

// selectClient picks the configured client named by the (unverified) iss and tenant.
func (v *Verifier) selectClient(sel selector) (*clientEntry, error) {
	entries := v.cfg.byIss[sel.Iss]
	if len(entries) == 0 {
		return nil, fail(ReasonIss, "iss is not a trusted client")
	}
	if len(entries) == 1 && entries[0].cfg.Tenant == "" {
		return entries[0], nil
	}
	if sel.Tenant != nil {
		for _, e := range entries {
			if e.cfg.Tenant == *sel.Tenant {
				return e, nil
			}
		}
	}
	e := fail(ReasonTenant, "tenant does not match the configured client")
	e.Issuer = sel.Iss // a configured issuer, safe to report
	return nil, e
}

// keysFor returns the keys under hdr.Kid from the key set the token may use: its jku
// when allowlisted for this client, else the client's jwks_url or inline jwks. A key held
// inline is pinned: a token naming an allowlisted jku and a kid of the inline set is
// verified with the inline key and nothing is fetched (an offline test set-up, a closed
// egress); a jku not allowlisted is refused before anything else, inline key or not.
func (v *Verifier) keysFor(ctx context.Context, e *clientEntry, hdr joseHeader) ([]verifyKey, error) {
	if hdr.JKU != "" {
		if hdr.JKU != e.cfg.JWKSURL && !slices.Contains(e.cfg.JKUAllowed, hdr.JKU) {
			return nil, fail(ReasonJKU, "jku is not allowlisted for this client")
		}
		if ks, ok := e.inline[hdr.Kid]; ok {
			return ks, nil
		}
		return v.remote[hdr.JKU].lookup(ctx, hdr.Kid)
	}
	if e.inline != nil {
		if ks, ok := e.inline[hdr.Kid]; ok {
			return ks, nil
		}
		return nil, fail(ReasonKid, "kid not in the client's JWK Set")
	}
	return v.remote[e.cfg.JWKSURL].lookup(ctx, hdr.Kid)
}

// jwtFailure maps a golang-jwt error to an *Error without copying its text.
func jwtFailure(err error, c *tokenClaims) *Error {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return fail(ReasonMalformed, "token cannot be decoded")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return fail(ReasonSignature, "signature does not verify")
	case errors.Is(err, jwt.ErrTokenExpired):
		return fail(ReasonExpired, "token has expired")
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return fail(ReasonNotYetValid, "nbf is in the future")
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return fail(ReasonIatFuture, "iat is in the future")
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return fail(ReasonAud, "aud is not the endpoint invoked")
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return fail(ReasonIss, "iss mismatch")
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		if c.ExpiresAt == nil {
			return fail(ReasonExpMissing, "exp is required")
		}
		if len(c.Audience) == 0 {
			return fail(ReasonAud, "aud is required")
		}
		return fail(ReasonMalformed, "a required claim is missing")
	}
	return fail(ReasonMalformed, "claims are invalid")
}

// bearerToken extracts a compact JWS from an Authorization header value: scheme
// "Bearer" (any case), one or more spaces, then three base64url segments.
func bearerToken(h string) (string, error) {
	if strings.TrimSpace(h) == "" {
		return "", fail(ReasonMissing, "no Authorization header")
	}
	if len(h) > maxTokenBytes {
		return "", fail(ReasonMalformed, "Authorization header too large")
	}
	scheme, rest, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", fail(ReasonMalformed, "Authorization is not a Bearer token")
	}
	tok := strings.TrimLeft(rest, " ")
	dots := 0
	for i := 0; i < len(tok); i++ {
		switch c := tok[i]; {
		case c == '.':
			dots++
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return "", fail(ReasonMalformed, "Bearer token is not a compact JWS")
		}
	}
	if dots != 2 || strings.HasPrefix(tok, ".") || strings.Contains(tok, "..") {
		return "", fail(ReasonMalformed, "Bearer token is not a compact JWS")
	}
	return tok, nil
}

// decodeSegment decodes one base64url (unpadded) JSON object segment into v.
func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.Strict().DecodeString(seg)
	if err != nil {
		return err
	}
	if len(b) == 0 || b[0] != '{' {
		return errors.New("not a JSON object")
	}
	return json.Unmarshal(b, v)
}
