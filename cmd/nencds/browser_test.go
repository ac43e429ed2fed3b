package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/nencds/nencds/cards"
	"github.com/nencds/nencds/internal/smartfixture"
)

// chromium finds a Chromium or Chrome binary: NENCDS_CHROMIUM, else the usual names.
func chromium() string {
	if p := os.Getenv("NENCDS_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// TestBrowserEHRLaunch runs the SMART EHR launch end to end in headless Chromium, as an
// EHR does from a card: `nencds -dev` answers a patient-view call (read through the
// fhirServer fallback of a fixture EHR), the EHR launches the smart link of a card with
// its appContext, the browser follows the authorization (PKCE) to the app's page, and
// the page shows the category, the suggested options and the SVG charts, with no
// JavaScript or console error. The screenshot goes to NENCDS_SCREENSHOT when set (the
// README's docs/app-screenshot.png is made so), else to the test's temporary directory.
func TestBrowserEHRLaunch(t *testing.T) {
	t.Parallel()
	exe := chromium()
	if exe == "" {
		t.Skip("no Chromium found (apt-get install chromium, or set NENCDS_CHROMIUM): the browser test is skipped")
	}
	bundle, err := os.ReadFile("../../testdata/patients/net-g2-si-after-prrt-octreotide.json")
	if err != nil {
		t.Fatal(err)
	}
	ehr, err := smartfixture.New(bundle, devClientID)
	if err != nil {
		t.Fatal(err)
	}
	defer ehr.Close()
	base := start(t, []string{"-dev", "-addr", "127.0.0.1:0"})
	ehr.RedirectURI = base + "/app/callback"

	// The EHR calls the service; the cards carry the smart link.
	body, _ := json.Marshal(map[string]any{
		"hook": "patient-view", "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
		"fhirServer":        ehr.FHIRBase,
		"fhirAuthorization": map[string]any{"access_token": ehr.IssueToken(), "token_type": "Bearer", "expires_in": 300, "scope": "patient/*.rs", "subject": "nencds"},
		"context":           map[string]string{"userId": "Practitioner/1", "patientId": ehr.PatientID()},
	})
	status, out := call(t, "POST", base+"/cds-services/nen-patient-view", "", body)
	if status != 200 {
		t.Fatalf("patient-view: %d %s", status, out)
	}
	var resp cards.Response
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	var link *cards.Link
	var card cards.Card
	for _, c := range resp.Cards {
		for i := range c.Links {
			if c.Links[i].Type == "smart" && len(c.Suggestions) > 0 && link == nil {
				link, card = &c.Links[i], c
			}
		}
	}
	if link == nil {
		t.Fatalf("no card with suggestions carries a smart link: %s", out)
	}
	if link.URL != base+"/app/launch" {
		t.Errorf("smart link %q, want %s/app/launch", link.URL, base)
	}
	var ac struct{ Topic, UUID string }
	if err := json.Unmarshal([]byte(link.AppContext), &ac); err != nil || ac.Topic != card.Source.Topic.Code || ac.UUID != card.UUID {
		t.Errorf("appContext %s does not name the card (%s, %s)", link.AppContext, card.Source.Topic.Code, card.UUID)
	}
	// The EHR launches the link with a launch id that carries the appContext.
	target := link.URL + "?" + url.Values{"iss": {ehr.FHIRBase}, "launch": {ehr.Launch(link.AppContext)}}.Encode()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancelCtx := chromedp.NewContext(actx)
	defer cancelCtx()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	// Every console message, exception and browser log entry of the page, from the
	// first navigation on.
	var mu sync.Mutex
	var problems []string
	mctx, stopMessages := context.WithCancel(ctx)
	messages := chromedp.Console(mctx)
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning || m.IsException() {
				mu.Lock()
				problems = append(problems, m.String())
				mu.Unlock()
			}
		}
	}()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(target),
		chromedp.WaitVisible(chromedp.ID("category")),
	); err != nil {
		t.Fatalf("browser: %v", err)
	}
	category, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("category")))
	if err != nil {
		t.Fatal(err)
	}
	location, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	svgs, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("svg").length`))
	if err != nil {
		t.Fatal(err)
	}
	suggestions, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll(".s-label")).map(e => e.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	active, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement ? document.activeElement.id : ""`))
	if err != nil {
		t.Fatal(err)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	stopMessages()
	<-collected
	if category != "NET G2" {
		t.Errorf("category %q, want NET G2", category)
	}
	if u, _ := url.Parse(location); u == nil || u.Path != "/app/patient" || u.Fragment != "card-"+ac.Topic {
		t.Errorf("landed on %s, want /app/patient#card-%s", location, ac.Topic)
	}
	if active != "card-"+ac.Topic {
		t.Errorf("focus on %q, want the card the app was opened from", active)
	}
	if svgs < 2 {
		t.Errorf("%d SVG pictures, want the timeline and the algorithm", svgs)
	}
	for _, s := range card.Suggestions {
		if !strings.Contains(strings.Join(suggestions, "\n"), s.Label) {
			t.Errorf("suggestion %q of the card not on the page (%q)", s.Label, suggestions)
		}
	}
	mu.Lock()
	if len(problems) > 0 {
		t.Errorf("browser errors: %q", problems)
	}
	mu.Unlock()
	if n := ehr.Unauthorized.Load(); n != 0 {
		t.Errorf("%d FHIR reads without a valid token", n)
	}
	path := os.Getenv("NENCDS_SCREENSHOT")
	if path == "" {
		path = filepath.Join(t.TempDir(), "app.png")
	}
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", path, len(shot))
}

// TestDemoEHR: `nencds demo-ehr` prints a launch URL that a browser (here a client with a
// cookie jar) follows through the SMART launch to the app's page.
func TestDemoEHR(t *testing.T) {
	t.Parallel()
	base := start(t, []string{"-dev", "-addr", "127.0.0.1:0"})
	ctx, cancel := context.WithCancel(context.Background())
	launch := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- runDemoEHR(ctx, []string{"-cds", base, "../../testdata/patients/net-g2-si-after-prrt-octreotide.json"}, io.Discard, io.Discard, func(u string) { launch <- u })
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("demo-ehr: %v", err)
		}
	}()
	var target string
	select {
	case target = <-launch:
	case err := <-done:
		t.Fatalf("demo-ehr: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("demo-ehr printed no launch URL")
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 20 * time.Second}
	resp, err := c.Get(target)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/app/patient" || !strings.Contains(string(b), `class="category">NET G2<`) {
		t.Errorf("launch ended at %s with %d:\n%.400s", resp.Request.URL, resp.StatusCode, b)
	}
}

// TestAppConfig: the app is on with -dev (every card then links to it) and with -app;
// outside dev it needs its client id and a public URL; -smart-app-url keeps its value.
func TestAppConfig(t *testing.T) {
	t.Parallel()
	addr := &net.TCPAddr{IP: net.IPv4zero, Port: 8081}
	tests := []struct {
		name    string
		args    []string
		on      bool
		link    string
		wantErr string
	}{
		{name: "dev", args: []string{"-dev"}, on: true, link: "http://127.0.0.1:8081/app/launch"},
		{name: "dev with public url", args: []string{"-dev", "-public-url", "https://cds.example.org/"}, on: true, link: "https://cds.example.org/app/launch"},
		{name: "dev with another app", args: []string{"-dev", "-smart-app-url", "https://other.example.org/launch"}, on: true, link: "https://other.example.org/launch"},
		{name: "off", args: []string{"-trust", "../../hooks/auth/testdata/sandbox-trust.yaml", "-behind-proxy"}},
		{name: "app without client id", args: []string{"-app", "-trust", "../../hooks/auth/testdata/sandbox-trust.yaml", "-behind-proxy"}, wantErr: "client id"},
		{name: "app", args: []string{"-app", "-smart-client-id", "nencds", "-trust", "../../hooks/auth/testdata/sandbox-trust.yaml", "-behind-proxy", "-public-url", "https://cds.example.org"}, on: true, link: "https://cds.example.org/app/launch"},
	}
	for _, tt := range tests {
		// -db memory: outside -dev a store is required (not what this test is about).
		cfg, err := parseConfig(tt.args, env(map[string]string{"NENCDS_DB": "memory"}))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		a, err := newApp(cfg, slog.New(slog.DiscardHandler), nil, addr)
		switch {
		case tt.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: err %v, want %q", tt.name, err, tt.wantErr)
			}
			continue
		case err != nil:
			t.Fatalf("%s: %v", tt.name, err)
		}
		if (a != nil) != tt.on || cfg.Rules.SMARTAppURL != tt.link {
			t.Errorf("%s: app on %v, link %q; want %v, %q", tt.name, a != nil, cfg.Rules.SMARTAppURL, tt.on, tt.link)
		}
	}
}
