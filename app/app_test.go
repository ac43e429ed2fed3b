package app

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nencds/nencds/cards"
	"github.com/nencds/nencds/fhirclient"
	"github.com/nencds/nencds/fhirmap"
	"github.com/nencds/nencds/internal/security"
	"github.com/nencds/nencds/internal/smartfixture"
)

var testNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// fixtureEHR serves the metastatic NET G2 patient (after PRRT, on octreotide).
func fixtureEHR(t *testing.T) *smartfixture.Server {
	t.Helper()
	b, err := os.ReadFile("../testdata/patients/net-g2-si-after-prrt-octreotide.json")
	if err != nil {
		t.Fatal(err)
	}
	ehr, err := smartfixture.New(b, "nencds-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ehr.Close)
	return ehr
}

// appServer serves an App for ehr on a loopback test server; edit adjusts its options.
func appServer(t *testing.T, ehr *smartfixture.Server, edit func(*Options)) (*App, *httptest.Server) {
	t.Helper()
	var a *App
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { a.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	cfg := cards.DefaultConfig()
	cfg.SMARTAppURL = srv.URL + "/app/launch"
	o := Options{
		Mode:           security.Development(),
		PublicURL:      srv.URL,
		ClientID:       "nencds-test",
		TrustedServers: []string{ehr.FHIRBase},
		FHIR:           fhirclient.New(fhirclient.Options{Mode: security.Development()}),
		Policy:         fhirclient.Policy{Mode: security.Development()},
		Engine:         cards.NewEngine(cfg, nil),
		Now:            func() time.Time { return testNow },
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if edit != nil {
		edit(&o)
	}
	ehr.RedirectURI = strings.TrimRight(o.PublicURL, "/") + "/app/callback"
	var err error
	if a, err = New(o); err != nil {
		t.Fatal(err)
	}
	return a, srv
}

// browser is a client with a cookie jar that follows redirects, as a browser would.
func browser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 20 * time.Second}
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func launchURL(srv *httptest.Server, ehr *smartfixture.Server, launch string) string {
	return srv.URL + "/app/launch?" + url.Values{"iss": {ehr.FHIRBase}, "launch": {launch}}.Encode()
}

// TestEHRLaunch: the EHR launch runs end to end (SMART configuration, authorize with
// PKCE, callback, token exchange) and the page shows the patient's category, the cards
// with their suggestions and the SVG charts; the app read the record only with the
// issued token, which never reached the browser.
func TestEHRLaunch(t *testing.T) {
	t.Parallel()
	ehr := fixtureEHR(t)
	_, srv := appServer(t, ehr, nil)
	c := browser(t)
	ctx, _ := json.Marshal(map[string]string{"topic": cards.TopicLiverDirected, "uuid": "card-uuid-1"})
	resp, body := get(t, c, launchURL(srv, ehr, ehr.Launch(string(ctx))))
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/app/patient" {
		t.Fatalf("status %d at %s:\n%s", resp.StatusCode, resp.Request.URL, body)
	}
	for _, want := range []string{
		`<span id="category" class="category">NET G2</span>`,
		`<svg id="timeline"`, `<svg id="algorithm"`,
		`id="card-net-liver-directed" class="card info focus"`,
		`class="s-label">`, "Opened from this card.",
		"Ki-67", "octreotide",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	reqs := ehr.AuthorizeRequests()
	if len(reqs) != 1 {
		t.Fatalf("%d authorization requests, want 1", len(reqs))
	}
	q := reqs[0]
	for k, want := range map[string]string{
		"response_type": "code", "client_id": "nencds-test", "redirect_uri": srv.URL + "/app/callback",
		"aud": ehr.FHIRBase, "code_challenge_method": "S256",
	} {
		if got := q.Get(k); got != want {
			t.Errorf("authorize %s = %q, want %q", k, got, want)
		}
	}
	scope := " " + q.Get("scope") + " "
	for _, want := range []string{"launch", "openid", "fhirUser", "patient/Patient.rs", "patient/Observation.rs", "patient/Condition.rs", "patient/MedicationRequest.rs"} {
		if !strings.Contains(scope, " "+want+" ") {
			t.Errorf("scope %q lacks %s", scope, want)
		}
	}
	if len(q.Get("state")) < 32 || len(q.Get("code_challenge")) != 43 {
		t.Errorf("state %q, code_challenge %q: want 256-bit state and a SHA-256 challenge", q.Get("state"), q.Get("code_challenge"))
	}
	if n := ehr.FHIRReads.Load(); n != int64(len(fhirmap.Reads())) {
		t.Errorf("%d FHIR reads with the token, want %d", n, len(fhirmap.Reads()))
	}
	if n := ehr.Unauthorized.Load(); n != 0 {
		t.Errorf("%d FHIR reads without a valid token", n)
	}
	u, _ := url.Parse(srv.URL + "/app/")
	for _, ck := range c.Jar.Cookies(u) {
		for _, tok := range ehr.Tokens() {
			if strings.Contains(ck.Value, tok) {
				t.Errorf("cookie %s holds the access token", ck.Name)
			}
		}
	}
	for _, tok := range ehr.Tokens() {
		if strings.Contains(body, tok) {
			t.Error("the page holds the access token")
		}
	}
	// A second view reads the record again with the same session.
	if resp, _ := get(t, c, srv.URL+"/app/patient"); resp.StatusCode != http.StatusOK {
		t.Errorf("second view: status %d", resp.StatusCode)
	}
}

// TestStandaloneLaunch: /app/?iss= launches without a launch id, asking for launch/patient.
func TestStandaloneLaunch(t *testing.T) {
	t.Parallel()
	ehr := fixtureEHR(t)
	_, srv := appServer(t, ehr, nil)
	resp, body := get(t, browser(t), srv.URL+"/app/?"+url.Values{"iss": {ehr.FHIRBase}}.Encode())
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `class="category">NET G2<`) {
		t.Fatalf("status %d:\n%s", resp.StatusCode, body)
	}
	q := ehr.AuthorizeRequests()[0]
	if q.Has("launch") || !strings.HasPrefix(q.Get("scope"), "launch/patient ") {
		t.Errorf("standalone authorize: launch %q, scope %q", q.Get("launch"), q.Get("scope"))
	}
}

// TestLaunchFailures: each failure is a clear page with its status, no internals, and no
// session.
func TestLaunchFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		setup  func(*smartfixture.Server)
		target func(srv *httptest.Server, ehr *smartfixture.Server) string
		edit   func(*Options)
		status int
		want   string
	}{
		{name: "denied", setup: func(e *smartfixture.Server) { e.Deny.Store(true) }, status: http.StatusForbidden, want: "Access not granted"},
		{name: "token endpoint fails", setup: func(e *smartfixture.Server) { e.FailToken.Store(true) }, status: http.StatusBadGateway, want: "token exchange failed"},
		{name: "bad state", target: func(srv *httptest.Server, _ *smartfixture.Server) string {
			return srv.URL + "/app/callback?code=x&state=forged"
		}, status: http.StatusBadRequest, want: "Sign-in link not valid"},
		{name: "untrusted iss", target: func(srv *httptest.Server, _ *smartfixture.Server) string {
			return srv.URL + "/app/launch?iss=https%3A%2F%2Fehr.evil.example%2Ffhir&launch=1"
		}, status: http.StatusForbidden, want: "Launch refused"},
		{name: "metadata iss", target: func(srv *httptest.Server, _ *smartfixture.Server) string {
			return srv.URL + "/app/launch?iss=http%3A%2F%2F169.254.169.254%2Ffhir&launch=1"
		}, status: http.StatusForbidden, want: "Launch refused"},
		{name: "loopback iss outside dev", edit: func(o *Options) { o.Mode = security.Production(); o.Policy = fhirclient.Policy{} },
			status: http.StatusForbidden, want: "Launch refused"},
		{name: "no launch id", target: func(srv *httptest.Server, e *smartfixture.Server) string {
			return srv.URL + "/app/launch?iss=" + url.QueryEscape(e.FHIRBase)
		}, status: http.StatusBadRequest, want: "Launch incomplete"},
		{name: "no session", target: func(srv *httptest.Server, _ *smartfixture.Server) string { return srv.URL + "/app/patient" },
			status: http.StatusUnauthorized, want: "Session ended"},
		{name: "unknown path", target: func(srv *httptest.Server, _ *smartfixture.Server) string { return srv.URL + "/app/../etc" },
			status: http.StatusNotFound, want: "Not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ehr := fixtureEHR(t)
			if tt.setup != nil {
				tt.setup(ehr)
			}
			_, srv := appServer(t, ehr, func(o *Options) {
				if tt.edit != nil {
					tt.edit(o)
					o.RedirectURL = "http://127.0.0.1/app/callback"
					if !o.Mode.IsDevelopment() {
						o.RedirectURL = "https://cds.example.org/app/callback"
					}
				}
			})
			target := launchURL(srv, ehr, ehr.Launch(""))
			if tt.target != nil {
				target = tt.target(srv, ehr)
			}
			c := browser(t)
			resp, body := get(t, c, target)
			if resp.StatusCode != tt.status || !strings.Contains(body, tt.want) {
				t.Errorf("status %d, want %d with %q:\n%s", resp.StatusCode, tt.status, tt.want, body)
			}
			for _, bad := range []string{"goroutine", ".go:", "panic", "runtime."} {
				if strings.Contains(body, bad) {
					t.Errorf("error page shows %q", bad)
				}
			}
			if resp, _ := get(t, c, srv.URL+"/app/patient"); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("after the failure /app/patient answers %d, want 401", resp.StatusCode)
			}
			if n := ehr.FHIRReads.Load(); n != 0 {
				t.Errorf("%d FHIR reads after a failed launch", n)
			}
		})
	}
}

// TestPKCEVerifierChecked: a code obtained for another challenge is not exchanged (the
// fixture token endpoint checks the verifier), and the app shows the token failure.
func TestPKCEVerifierChecked(t *testing.T) {
	t.Parallel()
	ehr := fixtureEHR(t)
	_, srv := appServer(t, ehr, nil)
	c := browser(t)
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if strings.HasSuffix(req.URL.Path, "/auth/authorize") {
			q := req.URL.Query()
			q.Set("code_challenge", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
			req.URL.RawQuery = q.Encode()
		}
		return nil
	}
	resp, body := get(t, c, launchURL(srv, ehr, ehr.Launch("")))
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "token exchange failed") {
		t.Errorf("status %d:\n%s", resp.StatusCode, body)
	}
	if ehr.BadVerifier.Load() != 1 {
		t.Errorf("%d PKCE refusals, want 1", ehr.BadVerifier.Load())
	}
}

// TestStateBoundToBrowser: the callback of a launch made in another browser (no login
// cookie) is refused even with the right state and code.
func TestStateBoundToBrowser(t *testing.T) {
	t.Parallel()
	ehr := fixtureEHR(t)
	_, srv := appServer(t, ehr, nil)
	var callback string
	victim := browser(t)
	victim.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Path == "/app/callback" {
			callback = req.URL.String()
			return http.ErrUseLastResponse
		}
		return nil
	}
	get(t, victim, launchURL(srv, ehr, ehr.Launch("")))
	if callback == "" {
		t.Fatal("no callback")
	}
	resp, body := get(t, browser(t), callback)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "Sign-in link not valid") {
		t.Errorf("status %d:\n%s", resp.StatusCode, body)
	}
	if ehr.TokenRequests.Load() != 0 {
		t.Error("the code was exchanged for another browser")
	}
}

// TestFHIR401: a token the EHR no longer accepts ends the session with a clear page.
func TestFHIR401(t *testing.T) {
	t.Parallel()
	ehr := fixtureEHR(t)
	_, srv := appServer(t, ehr, nil)
	c := browser(t)
	if resp, body := get(t, c, launchURL(srv, ehr, ehr.Launch(""))); resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d:\n%s", resp.StatusCode, body)
	}
	ehr.RevokeTokens()
	resp, body := get(t, c, srv.URL+"/app/patient")
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "FHIR 401") {
		t.Errorf("status %d:\n%s", resp.StatusCode, body)
	}
	if resp, body := get(t, c, srv.URL+"/app/patient"); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Session ended") {
		t.Errorf("after the 401: status %d:\n%s", resp.StatusCode, body)
	}
}

// TestHeaders: strict headers on every answer; frame-ancestors as configured; pages are
// not cached; the session cookie is HttpOnly, SameSite=Lax, and Secure outside dev.
func TestHeaders(t *testing.T) {
	t.Parallel()
	ehr := fixtureEHR(t)
	_, srv := appServer(t, ehr, func(o *Options) { o.FrameAncestors = "'self' https://ehr.example.org" })
	for _, path := range []string{"/app/", "/app/patient", "/app/assets/app.css", "/app/nope"} {
		resp, _ := get(t, http.DefaultClient, srv.URL+path)
		h := resp.Header
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'self' https://ehr.example.org"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", path)
		}
		if path != "/app/assets/app.css" && h.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q", path, h.Get("Cache-Control"))
		}
	}
	for _, dev := range []bool{true, false} {
		a := &App{o: Options{Mode: modeOf(dev)}}
		w := httptest.NewRecorder()
		a.setCookie(w, sessionCookie, "x", time.Minute)
		ck := w.Result().Cookies()[0]
		if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Secure == dev || ck.Path != Prefix || ck.MaxAge != 60 {
			t.Errorf("dev %v: cookie %+v", dev, ck)
		}
	}
	if _, err := New(Options{FHIR: fhirclient.New(fhirclient.Options{}), Engine: cards.NewEngine(cards.DefaultConfig(), nil), ClientID: "x", PublicURL: "https://a.example", FrameAncestors: "'self'; script-src *"}); err == nil {
		t.Error("a frame-ancestors value with a directive separator was accepted")
	}
}

// TestChartTextEscaped: text from the record reaches the page, SVG included, escaped.
func TestChartTextEscaped(t *testing.T) {
	t.Parallel()
	ehr := fixtureEHR(t)
	a, _ := appServer(t, ehr, nil)
	evil := `<script>alert(1)</script>"><img src=x onerror=alert(2)>`
	src := fhirmap.Source{Ref: "Observation/" + evil, Date: testNow.AddDate(-1, 0, 0), DateText: evil}
	p := &fhirmap.Picture{
		PatientID: "p", At: testNow,
		Diagnoses:  []fhirmap.Diagnosis{{ConditionFact: fhirmap.ConditionFact{Source: src, Text: evil, ClinicalStatus: "active"}, Site: fhirmap.SitePancreas}},
		Ki67:       []fhirmap.Ki67{{Source: src, Percent: 12, Raw: evil}},
		Therapies:  []fhirmap.Therapy{{Source: src, Drug: evil, Active: true, Start: src.Date}},
		Procedures: []fhirmap.Procedure{{Source: src, Kind: fhirmap.ProcedureKind(evil), Text: evil}},
		Notes:      []fhirmap.Note{{Kind: fhirmap.NoteCaveat, Ref: evil, Text: evil}},
	}
	w := httptest.NewRecorder()
	a.render(w, http.StatusOK, "page.html", buildPage(p, a.o.Engine.Evaluate(p), ""))
	body := w.Body.String()
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, body)
	}
	if strings.Contains(body, "<script>alert") || strings.Contains(body, "<img src=x") {
		t.Error("record text reached the page unescaped")
	}
	if !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("the escaped text is missing")
	}
	if !strings.Contains(body, `<svg id="timeline"`) {
		t.Error("no timeline")
	}
}

// TestAlgorithmBranch: the highlighted branch follows the category, the extent and the
// cards present.
func TestAlgorithmBranch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		cat    cards.Category
		extent fhirmap.ExtentStatus
		topics []string
		on     []string
	}{
		{name: "metastatic NET G2 on SSA", cat: cards.CatNETG2, extent: fhirmap.ExtentDistant, topics: []string{cards.TopicSSA}, on: []string{"NEN on record", "NET G1 / G2", "Metastatic or unresectable", "Somatostatin analogue"}},
		{name: "localised NET G1", cat: cards.CatNETG1, extent: fhirmap.ExtentLimited, topics: []string{cards.TopicSurgery}, on: []string{"NET G1 / G2", "Localised", "Resection of the primary"}},
		{name: "NEC", cat: cards.CatNEC, topics: []string{cards.TopicNECFirstLine, cards.TopicSSA}, on: []string{"NEC", "Platinum + etoposide"}},
		{name: "undetermined", cat: cards.CatUndetermined, topics: []string{cards.TopicClassificationIncomplete}, on: []string{"Grade undetermined", "Complete the classification"}},
	}
	for _, tt := range tests {
		p := &fhirmap.Picture{Diagnoses: []fhirmap.Diagnosis{{}}, Extent: fhirmap.Extent{Status: tt.extent}}
		topics := map[string]bool{}
		for _, tp := range tt.topics {
			topics[tp] = true
		}
		al := buildAlgorithm(p, cards.Classification{Category: tt.cat}, topics)
		var on []string
		for _, n := range al.Nodes {
			if n.On {
				on = append(on, strings.Join(n.Lines, " "))
			}
		}
		for _, want := range tt.on {
			found := false
			for _, o := range on {
				found = found || o == want
			}
			if !found {
				t.Errorf("%s: %q not highlighted (on: %q)", tt.name, want, on)
			}
		}
		if tt.cat == cards.CatNEC && strings.Contains(strings.Join(on, "|"), "Somatostatin") {
			t.Errorf("%s: a leaf of another branch is highlighted: %q", tt.name, on)
		}
	}
}

// TestRecordReadFails: when a read of the record fails, the page says which and shows no
// picture and no card (never a picture of part of the record).
func TestRecordReadFails(t *testing.T) {
	t.Parallel()
	ehr := fixtureEHR(t)
	ehr.FailSearches("Observation")
	_, srv := appServer(t, ehr, nil)
	resp, body := get(t, browser(t), launchURL(srv, ehr, ehr.Launch("")))
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "Observation: the FHIR server answered HTTP 500") {
		t.Errorf("status %d:\n%s", resp.StatusCode, body)
	}
	if strings.Contains(body, `id="category"`) || strings.Contains(body, "<svg") {
		t.Error("a picture was shown from part of the record")
	}
}

// TestTumours: the page lists the picture's tumours, the index tumour first and the
// history tumours marked, with the history facts marked too.
func TestTumours(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../testdata/requests/nec-active-with-resolved-net-history.json")
	if err != nil {
		t.Fatal(err)
	}
	var req struct {
		Context  struct{ PatientID string }
		Prefetch map[string]json.RawMessage
	}
	if err := json.Unmarshal(b, &req); err != nil {
		t.Fatal(err)
	}
	var docs []json.RawMessage
	for _, v := range req.Prefetch {
		docs = append(docs, v)
	}
	p, err := fhirmap.Map(fhirmap.Input{PatientID: req.Context.PatientID, At: testNow, Documents: docs})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Tumours) < 2 {
		t.Fatalf("fixture has %d tumours, want an index and a history tumour", len(p.Tumours))
	}
	pg := buildPage(p, cards.NewEngine(cards.DefaultConfig(), nil).Evaluate(p), "")
	if len(pg.Tumours) != len(p.Tumours) || !pg.Tumours[0].Index || !strings.HasPrefix(pg.Tumours[0].Role, "index") {
		t.Fatalf("tumours %+v", pg.Tumours)
	}
	history := false
	for _, tu := range pg.Tumours[1:] {
		history = history || tu.Role == "history"
	}
	if !history {
		t.Errorf("no history tumour in %+v", pg.Tumours)
	}
	if p.History != nil && len(p.History.Ki67)+len(p.History.Procedures)+len(p.History.GradeLabels) > 0 {
		found := false
		for _, f := range pg.Facts {
			found = found || strings.HasPrefix(f.What, "History tumour: ")
		}
		if !found {
			t.Error("the history facts are not marked")
		}
	}
}
