package app

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/nencds/nencds/fhirmap"
	"github.com/nencds/nencds/internal/security"
)

const (
	sessionCookie = "nencds_app_session"
	loginCookie   = "nencds_app_login"
	loginTTL      = 10 * time.Minute
	maxSMARTBytes = 1 << 20
)

// login is a launch waiting for its callback, by state.
type login struct {
	binding  string // the value of the login cookie of the browser that launched
	verifier string // the PKCE code verifier
	iss      string // the FHIR base as the EHR named it (the aud)
	base     *url.URL
	token    string // the token endpoint
	expires  time.Time
}

// session is a signed-in browser: the token stays here, never in the browser.
type session struct {
	base     *url.URL
	token    string
	patient  string
	topic    string // the topic of the card the app was opened from ("" if none)
	cardUUID string
	expires  time.Time
}

// Scope is the scope the app asks for: the launch, the user's identity, and read access
// to every resource type that fhirmap.Reads reads (SMART 2.0 patient/T.rs scopes).
func Scope(standalone bool) string {
	s := []string{"launch", "openid", "fhirUser"}
	if standalone {
		s[0] = "launch/patient"
	}
	for _, r := range fhirmap.Reads() {
		if sc := "patient/" + r.Type + ".rs"; !slices.Contains(s, sc) {
			s = append(s, sc)
		}
	}
	return strings.Join(s, " ")
}

// trust returns the base of iss if the app may be launched by it: a FHIR server of the
// trust configuration (in development also a loopback one), under the fhirclient policy.
func (a *App) trust(iss string) (*url.URL, error) {
	if iss == "" {
		return nil, errors.New("no iss")
	}
	if u, err := url.Parse(iss); err == nil && a.o.Mode.LoopbackHTTP() && security.IsLoopback(u.Hostname()) {
		return a.o.Policy.AllowOpen(iss) // a local FHIR server in development
	}
	// Listed, in every mode.
	return a.o.Policy.Allow(iss, a.o.TrustedServers)
}

// smartConfig is the part of .well-known/smart-configuration the app reads.
type smartConfig struct {
	AuthorizationEndpoint string   `json:"authorization_endpoint"`
	TokenEndpoint         string   `json:"token_endpoint"`
	CodeChallengeMethods  []string `json:"code_challenge_methods_supported"`
}

// launch starts an EHR launch (launch given) or a standalone launch (no launch).
func (a *App) launch(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	iss, launchID := q.Get("iss"), q.Get("launch")
	standalone := r.URL.Path != Prefix+"launch"
	if !standalone && launchID == "" {
		a.fail(w, r, http.StatusBadRequest, "Launch incomplete", "The EHR launch must name the FHIR server (iss) and the launch. Open the app again from the EHR.")
		return
	}
	base, err := a.trust(iss)
	if err != nil {
		a.o.Logger.Warn("app: launch refused", "reason", err.Error())
		a.fail(w, r, http.StatusForbidden, "Launch refused", "The FHIR server that launched the app is not one that nencds trusts. Ask your administrator to list it in the trust configuration.")
		return
	}
	cfg, err := a.discover(r.Context(), base)
	if err != nil {
		a.o.Logger.Warn("app: SMART configuration", "reason", err.Error())
		a.fail(w, r, http.StatusBadGateway, "The EHR could not be reached", "The SMART configuration of the EHR could not be read. Try again in a moment.")
		return
	}
	auth, err := a.endpoint(cfg.AuthorizationEndpoint)
	if err == nil {
		_, err = a.endpoint(cfg.TokenEndpoint)
	}
	if err == nil && len(cfg.CodeChallengeMethods) > 0 && !slices.Contains(cfg.CodeChallengeMethods, "S256") {
		err = errors.New("PKCE S256 not supported")
	}
	if err != nil {
		a.o.Logger.Warn("app: SMART configuration", "reason", err.Error())
		a.fail(w, r, http.StatusBadGateway, "The EHR cannot launch the app", "The SMART configuration of the EHR is not usable (it needs an https authorization and token endpoint and PKCE S256).")
		return
	}
	state, verifier, binding := random(), random(), random()
	now := a.o.Now()
	a.mu.Lock()
	a.sweep(now)
	full := len(a.logins) >= a.maxLogins
	if !full {
		a.logins[state] = &login{binding: binding, verifier: verifier, iss: iss, base: base, token: cfg.TokenEndpoint, expires: now.Add(loginTTL)}
	}
	a.mu.Unlock()
	if full {
		a.fail(w, r, http.StatusServiceUnavailable, "Busy", "Too many sign-ins are pending. Try again in a moment.")
		return
	}
	a.setCookie(w, loginCookie, binding, loginTTL)
	sum := sha256.Sum256([]byte(verifier))
	v := auth.Query()
	v.Set("response_type", "code")
	v.Set("client_id", a.o.ClientID)
	v.Set("redirect_uri", a.redirect.String())
	if !standalone {
		v.Set("launch", launchID)
	}
	v.Set("scope", Scope(standalone))
	v.Set("state", state)
	v.Set("aud", iss)
	v.Set("code_challenge", base64.RawURLEncoding.EncodeToString(sum[:]))
	v.Set("code_challenge_method", "S256")
	auth.RawQuery = v.Encode()
	a.o.Logger.Info("app: launch", "standalone", standalone)
	http.Redirect(w, r, auth.String(), http.StatusFound)
}

// discover reads {base}/.well-known/smart-configuration.
func (a *App) discover(ctx context.Context, base *url.URL) (*smartConfig, error) {
	u := *base
	u.Path = strings.TrimRight(base.Path, "/") + "/.well-known/smart-configuration"
	if base.RawPath != "" {
		u.RawPath = strings.TrimRight(base.EscapedPath(), "/") + "/.well-known/smart-configuration"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	var cfg smartConfig
	if err := a.doJSON(req, &cfg); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// doJSON makes req and decodes a 200 JSON answer of at most maxSMARTBytes into v.
func (a *App) doJSON(req *http.Request, v any) error {
	resp, err := a.o.HTTP.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL
		}
		return fmt.Errorf("request failed: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxSMARTBytes+1))
	if err != nil {
		return fmt.Errorf("answer unreadable: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("answered HTTP %d", resp.StatusCode)
	}
	if len(body) > maxSMARTBytes {
		return errors.New("answer too large")
	}
	if ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); ct != "" && ct != "application/json" && !strings.HasSuffix(ct, "+json") {
		return fmt.Errorf("answered %s, not JSON", ct)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return errors.New("answer is not the expected JSON")
	}
	return nil
}

// endpoint checks an authorization server endpoint: an absolute https URL without
// credentials or fragment (in dev, http on loopback too).
func (a *App) endpoint(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.User != nil || u.Fragment != "" || u.Opaque != "" {
		return nil, errors.New("endpoint is not an absolute URL")
	}
	if u.Scheme != "https" && !(a.o.Mode.LoopbackHTTP() && u.Scheme == "http" && security.IsLoopback(u.Hostname())) {
		return nil, errors.New("endpoint must use https")
	}
	return u, nil
}

// tokenResponse is the part of the token response the app reads.
type tokenResponse struct {
	AccessToken string          `json:"access_token"`
	TokenType   string          `json:"token_type"`
	ExpiresIn   json.Number     `json:"expires_in"`
	Patient     string          `json:"patient"`
	AppContext  json.RawMessage `json:"appContext"`
}

// appContext is the appContext of the card's smart link (cards.Engine): its topic and uuid.
type appContext struct {
	Topic string `json:"topic"`
	UUID  string `json:"uuid"`
}

var (
	fhirID    = regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)
	topicCode = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)
)

// callback ends a launch: it checks state (and that the same browser launched), then
// exchanges the code with the PKCE verifier and opens a session.
func (a *App) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	state := q.Get("state")
	a.mu.Lock()
	l := a.logins[state]
	delete(a.logins, state) // one use, whatever happens next
	a.mu.Unlock()
	a.clearCookie(w, loginCookie)
	if e := q.Get("error"); e != "" {
		if e == "access_denied" {
			a.fail(w, r, http.StatusForbidden, "Access not granted", "The EHR did not grant the app access to this record. Nothing was read.")
			return
		}
		a.fail(w, r, http.StatusBadGateway, "Sign-in failed", "The EHR's authorization server refused the sign-in ("+clip(e, 40)+"). Open the app again from the EHR.")
		return
	}
	c, err := r.Cookie(loginCookie)
	if l == nil || state == "" || err != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(l.binding)) != 1 || a.o.Now().After(l.expires) {
		a.fail(w, r, http.StatusBadRequest, "Sign-in link not valid", "This sign-in is not valid or has expired (its state does not match a launch from this browser). Open the app again from the EHR.")
		return
	}
	code := q.Get("code")
	if code == "" {
		a.fail(w, r, http.StatusBadRequest, "Sign-in incomplete", "The authorization server sent no code. Open the app again from the EHR.")
		return
	}
	tr, err := a.exchange(r.Context(), l, code)
	if err != nil {
		a.o.Logger.Warn("app: token exchange failed", "reason", err.Error())
		a.fail(w, r, http.StatusBadGateway, "Sign-in failed", "The app could not obtain access from the EHR (the token exchange failed). Open the app again from the EHR.")
		return
	}
	if !fhirID.MatchString(tr.Patient) || strings.Trim(tr.Patient, ".") == "" {
		a.fail(w, r, http.StatusBadRequest, "No patient", "The EHR launched the app without a patient in context. Open the app from a patient's chart.")
		return
	}
	var ac appContext
	if len(tr.AppContext) > 0 {
		raw := tr.AppContext
		var s string
		if json.Unmarshal(raw, &s) == nil { // appContext is a string holding JSON
			raw = []byte(s)
		}
		if json.Unmarshal(raw, &ac) != nil || !topicCode.MatchString(ac.Topic) {
			ac = appContext{}
		}
	}
	now := a.o.Now()
	ttl := a.o.SessionTTL
	if n, err := tr.ExpiresIn.Int64(); err == nil && n > 0 && time.Duration(n)*time.Second < ttl {
		ttl = time.Duration(n) * time.Second
	}
	sid := random()
	a.mu.Lock()
	a.sweep(now)
	a.sessions[sid] = &session{base: l.base, token: tr.AccessToken, patient: tr.Patient, topic: ac.Topic, cardUUID: clip(ac.UUID, 64), expires: now.Add(ttl)}
	a.mu.Unlock()
	a.setCookie(w, sessionCookie, sid, ttl)
	a.o.Logger.Info("app: signed in")
	target := Prefix + "patient"
	if ac.Topic != "" {
		target += "#card-" + ac.Topic
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// exchange posts the code and the verifier to the token endpoint.
func (a *App) exchange(ctx context.Context, l *login, code string) (*tokenResponse, error) {
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {a.redirect.String()},
		"client_id":     {a.o.ClientID},
		"code_verifier": {l.verifier},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.token, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	var tr tokenResponse
	if err := a.doJSON(req, &tr); err != nil {
		return nil, err
	}
	if tr.AccessToken == "" || !strings.EqualFold(tr.TokenType, "bearer") {
		return nil, errors.New("no bearer access token in the answer")
	}
	return &tr, nil
}

// session returns the live session of the request's cookie.
func (a *App) session(r *http.Request) (*session, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil, false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.sessions[c.Value]
	if s == nil || a.o.Now().After(s.expires) {
		delete(a.sessions, c.Value)
		return nil, false
	}
	return s, true
}

// endSession forgets the session of the request (after a FHIR 401).
func (a *App) endSession(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		a.mu.Lock()
		delete(a.sessions, c.Value)
		a.mu.Unlock()
	}
	a.clearCookie(w, sessionCookie)
}

// sweep drops expired logins and sessions (a.mu held).
func (a *App) sweep(now time.Time) {
	for k, l := range a.logins {
		if now.After(l.expires) {
			delete(a.logins, k)
		}
	}
	for k, s := range a.sessions {
		if now.After(s.expires) {
			delete(a.sessions, k)
		}
	}
}

func (a *App) setCookie(w http.ResponseWriter, name, value string, ttl time.Duration) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: Prefix, MaxAge: int(ttl / time.Second),
		HttpOnly: true, Secure: !a.o.Mode.PlainHTTP(), SameSite: http.SameSiteLaxMode,
	})
}

func (a *App) clearCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: Prefix, MaxAge: -1, HttpOnly: true, Secure: !a.o.Mode.PlainHTTP(), SameSite: http.SameSiteLaxMode})
}

// random is 256 bits from crypto/rand, base64url: states, verifiers, session ids.
func random() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// clip shortens s to n bytes of printable ASCII, for echoing a protocol value.
func clip(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return -1
		}
		return r
	}, s)
	if len(s) > n {
		s = s[:n]
	}
	return s
}
