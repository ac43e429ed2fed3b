// Package smartfixture is test support: an in-process fixture EHR for the SMART app
// tests. It serves a SMART configuration, an authorization endpoint that approves (or
// denies) at once, a token endpoint that checks the code, the redirect URI, the client
// id and the PKCE S256 verifier, and FHIR read and search endpoints over one patient's
// Bundle that answer only to a bearer token it issued for that patient. Loopback only.
package smartfixture

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Server is the fixture EHR.
type Server struct {
	// URL is the server's origin; FHIRBase (URL + "/fhir") is the iss.
	URL, FHIRBase string
	// ClientID is the client id the authorization and token endpoints accept.
	ClientID string
	// RedirectURI, when set, is the only redirect URI accepted.
	RedirectURI string

	// Deny makes the authorization endpoint answer error=access_denied.
	Deny atomic.Bool
	// FailToken makes the token endpoint answer 500.
	FailToken atomic.Bool

	// FHIRReads counts FHIR requests with a valid token; Unauthorized those without.
	FHIRReads, Unauthorized atomic.Int64
	// TokenRequests counts token requests; BadVerifier those refused on PKCE.
	TokenRequests, BadVerifier atomic.Int64

	srv       *httptest.Server
	patientID string
	byType    map[string][]json.RawMessage
	patient   json.RawMessage

	mu        sync.Mutex
	failing   map[string]bool   // resource types whose search answers 500
	launches  map[string]string // launch id → appContext
	codes     map[string]grant
	tokens    map[string]bool
	authorize []url.Values
}

type grant struct {
	challenge, redirect, clientID, appContext, scope string
}

// New serves bundle (a FHIR Bundle of one patient whose Patient has id patientID).
func New(bundle []byte, clientID string) (*Server, error) {
	var b struct {
		Entry []struct {
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(bundle, &b); err != nil {
		return nil, fmt.Errorf("smartfixture: %w", err)
	}
	s := &Server{ClientID: clientID, byType: map[string][]json.RawMessage{}, launches: map[string]string{}, codes: map[string]grant{}, tokens: map[string]bool{}}
	for _, e := range b.Entry {
		var head struct{ ResourceType, ID string }
		if json.Unmarshal(e.Resource, &head) != nil {
			continue
		}
		if head.ResourceType == "Patient" {
			s.patient, s.patientID = e.Resource, head.ID
			continue
		}
		s.byType[head.ResourceType] = append(s.byType[head.ResourceType], e.Resource)
	}
	if s.patientID == "" {
		return nil, fmt.Errorf("smartfixture: the bundle has no Patient")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /fhir/.well-known/smart-configuration", s.smartConfiguration)
	mux.HandleFunc("GET /auth/authorize", s.authorizeEndpoint)
	mux.HandleFunc("POST /auth/token", s.token)
	mux.HandleFunc("GET /fhir/", s.fhir)
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	s.FHIRBase = s.URL + "/fhir"
	return s, nil
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// PatientID is the id of the patient in context.
func (s *Server) PatientID() string { return s.patientID }

// Launch registers an EHR launch carrying appContext (the card's, as the EHR passes it
// on) and returns its launch id.
func (s *Server) Launch(appContext string) string {
	id := random()
	s.mu.Lock()
	s.launches[id] = appContext
	s.mu.Unlock()
	return id
}

// FailSearches makes the searches of resourceType answer 500.
func (s *Server) FailSearches(resourceType string) {
	s.mu.Lock()
	if s.failing == nil {
		s.failing = map[string]bool{}
	}
	s.failing[resourceType] = true
	s.mu.Unlock()
}

// RevokeTokens invalidates every issued token: the FHIR endpoints then answer 401.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	clear(s.tokens)
	s.mu.Unlock()
}

// AuthorizeRequests returns the query of every authorization request seen.
func (s *Server) AuthorizeRequests() []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.authorize)
}

func (s *Server) smartConfiguration(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                           s.URL,
		"authorization_endpoint":           s.URL + "/auth/authorize",
		"token_endpoint":                   s.URL + "/auth/token",
		"grant_types_supported":            []string{"authorization_code"},
		"code_challenge_methods_supported": []string{"S256"},
		"capabilities":                     []string{"launch-ehr", "launch-standalone", "client-public", "context-ehr-patient", "context-standalone-patient", "permission-v2", "sso-openid-connect"},
		"scopes_supported":                 []string{"launch", "launch/patient", "openid", "fhirUser", "patient/*.rs"},
		"response_types_supported":         []string{"code"},
	})
}

// authorizeEndpoint checks the authorization request of SMART App Launch 2.0 and
// answers at once with a code (or access_denied), as an EHR whose user approves.
func (s *Server) authorizeEndpoint(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	s.authorize = append(s.authorize, q)
	s.mu.Unlock()
	scopes := strings.Fields(q.Get("scope"))
	launch := q.Get("launch")
	var problem string
	switch {
	case q.Get("response_type") != "code":
		problem = "response_type must be code"
	case q.Get("client_id") != s.ClientID:
		problem = "unknown client_id"
	case q.Get("redirect_uri") == "" || (s.RedirectURI != "" && q.Get("redirect_uri") != s.RedirectURI):
		problem = "redirect_uri not registered"
	case q.Get("state") == "":
		problem = "no state"
	case q.Get("aud") != s.FHIRBase:
		problem = "aud must be the FHIR base"
	case q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
		problem = "PKCE S256 required"
	case !slices.Contains(scopes, "openid") || !slices.Contains(scopes, "fhirUser"):
		problem = "scope must hold openid fhirUser"
	case launch != "" && !slices.Contains(scopes, "launch"):
		problem = "an EHR launch needs the launch scope"
	case launch == "" && !slices.Contains(scopes, "launch/patient"):
		problem = "a standalone launch needs launch/patient"
	}
	s.mu.Lock()
	appContext, known := s.launches[launch]
	s.mu.Unlock()
	if problem == "" && launch != "" && !known {
		problem = "unknown launch"
	}
	if problem != "" {
		http.Error(w, "invalid authorization request: "+problem, http.StatusBadRequest)
		return
	}
	back, _ := url.Parse(q.Get("redirect_uri"))
	v := back.Query()
	v.Set("state", q.Get("state"))
	if s.Deny.Load() {
		v.Set("error", "access_denied")
	} else {
		code := random()
		s.mu.Lock()
		s.codes[code] = grant{challenge: q.Get("code_challenge"), redirect: q.Get("redirect_uri"), clientID: q.Get("client_id"), appContext: appContext, scope: q.Get("scope")}
		s.mu.Unlock()
		v.Set("code", code)
	}
	back.RawQuery = v.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

// token exchanges a code for an access token, checking the PKCE verifier.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	s.TokenRequests.Add(1)
	if s.FailToken.Load() {
		http.Error(w, "token endpoint down", http.StatusInternalServerError)
		return
	}
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	code := r.PostForm.Get("code")
	s.mu.Lock()
	g, ok := s.codes[code]
	delete(s.codes, code)
	s.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	switch {
	case r.PostForm.Get("grant_type") != "authorization_code" || !ok:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
		return
	case r.PostForm.Get("redirect_uri") != g.redirect || r.PostForm.Get("client_id") != g.clientID:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
		return
	case base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge:
		s.BadVerifier.Add(1)
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "PKCE verification failed"})
		return
	}
	tok := random()
	s.mu.Lock()
	s.tokens[tok] = true
	s.mu.Unlock()
	resp := map[string]any{
		"access_token": tok, "token_type": "Bearer", "expires_in": 300,
		"scope": g.scope, "patient": s.patientID,
	}
	if g.appContext != "" {
		resp["appContext"] = g.appContext
	}
	writeJSON(w, http.StatusOK, resp)
}

// fhir serves the patient's resources to the bearer of an issued token: the Patient by
// id, and a search by patient for every other type (other parameters ignored).
func (s *Server) fhir(w http.ResponseWriter, r *http.Request) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	valid := ok && s.tokens[tok]
	s.mu.Unlock()
	if !valid {
		s.Unauthorized.Add(1)
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, map[string]any{"resourceType": "OperationOutcome", "issue": []any{map[string]string{"severity": "error", "code": "login"}}})
		return
	}
	s.FHIRReads.Add(1)
	path := strings.TrimPrefix(r.URL.Path, "/fhir/")
	if id, ok := strings.CutPrefix(path, "Patient/"); ok {
		if id != s.patientID {
			writeJSON(w, http.StatusNotFound, map[string]any{"resourceType": "OperationOutcome", "issue": []any{map[string]string{"severity": "error", "code": "not-found"}}})
			return
		}
		w.Header().Set("Content-Type", "application/fhir+json")
		w.Write(s.patient)
		return
	}
	s.mu.Lock()
	failing := s.failing[path]
	s.mu.Unlock()
	if failing {
		writeJSON(w, http.StatusInternalServerError, map[string]any{"resourceType": "OperationOutcome", "issue": []any{map[string]string{"severity": "error", "code": "exception"}}})
		return
	}
	if strings.Contains(path, "/") || r.URL.Query().Get("patient") != s.patientID {
		writeJSON(w, http.StatusBadRequest, map[string]any{"resourceType": "OperationOutcome", "issue": []any{map[string]string{"severity": "error", "code": "not-supported"}}})
		return
	}
	entries := []map[string]any{}
	for _, res := range s.byType[path] {
		entries = append(entries, map[string]any{"resource": res})
	}
	w.Header().Set("Content-Type", "application/fhir+json")
	json.NewEncoder(w).Encode(map[string]any{"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func random() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Tokens returns the access tokens issued and still valid.
func (s *Server) Tokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for t := range s.tokens {
		out = append(out, t)
	}
	return out
}

// IssueToken issues an access token for the patient outside any launch, as an EHR does
// for the fhirAuthorization of a CDS Hooks call.
func (s *Server) IssueToken() string {
	tok := random()
	s.mu.Lock()
	s.tokens[tok] = true
	s.mu.Unlock()
	return tok
}
