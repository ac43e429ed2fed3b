package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/nencds/nencds/hooks"
	"github.com/nencds/nencds/internal/leakcheck"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParseConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(t *testing.T, c *Config)
		wantErr string
	}{
		{name: "dev defaults", args: []string{"-dev"}, check: func(t *testing.T, c *Config) {
			if c.Addr != "127.0.0.1:8080" || c.MaxBodyBytes != 5<<20 || c.MaxInFlight != 64 || c.FHIRTimeout != 5*time.Second {
				t.Errorf("%+v", c)
			}
		}},
		{name: "production defaults", args: []string{"-trust", "t.yaml", "-db", "memory", "-behind-proxy"}, check: func(t *testing.T, c *Config) {
			if c.Addr != ":8080" || c.TrustFile != "t.yaml" || c.Dev || c.DB != "memory" || c.SuppressDays != 30 {
				t.Errorf("%+v", c)
			}
		}},
		{name: "env", env: map[string]string{"NENCDS_DEV": "true", "NENCDS_ADDR": ":9000", "NENCDS_MAX_BODY_BYTES": "1000", "NENCDS_FHIR_TIMEOUT": "2s", "NENCDS_CORS_ORIGINS": "https://a.example, https://b.example"}, check: func(t *testing.T, c *Config) {
			if !c.Dev || c.Addr != ":9000" || c.MaxBodyBytes != 1000 || c.FHIRTimeout != 2*time.Second {
				t.Errorf("%+v", c)
			}
			if diff := cmp.Diff([]string{"https://a.example", "https://b.example"}, c.origins()); diff != "" {
				t.Errorf("origins (-want +got):\n%s", diff)
			}
		}},
		{name: "flag beats env", args: []string{"-addr", ":7000"}, env: map[string]string{"NENCDS_DEV": "1", "NENCDS_ADDR": ":9000"}, check: func(t *testing.T, c *Config) {
			if c.Addr != ":7000" {
				t.Errorf("addr %q", c.Addr)
			}
		}},
		{name: "trust required", wantErr: "trust file is required"},
		{name: "db required outside dev", args: []string{"-trust", "t.yaml", "-behind-proxy"}, wantErr: "a database is required outside -dev"},
		{name: "postgres needs a key", args: []string{"-trust", "t.yaml", "-behind-proxy", "-db", "postgres://db/nencds"}, wantErr: "needs -pseudonym-key"},
		{name: "short key", args: []string{"-dev", "-pseudonym-key", "abcd"}, wantErr: "at least 32 bytes"},
		{name: "unknown db", args: []string{"-dev", "-db", "mysql://x"}, wantErr: "-db must be"},
		{name: "negative suppress days", args: []string{"-dev", "-suppress-days", "-1"}, wantErr: "-suppress-days"},
		{name: "postgres with a key", args: []string{"-trust", "t.yaml", "-behind-proxy", "-db", "postgres://db/nencds"}, env: map[string]string{"NENCDS_PSEUDONYM_KEY": strings.Repeat("ab", 32)}, check: func(t *testing.T, c *Config) {
			if len(c.key) != 32 {
				t.Errorf("key %x", c.key)
			}
		}},
		{name: "dev default db", args: []string{"-dev"}, env: map[string]string{"HOME": "/home/clin"}, check: func(t *testing.T, c *Config) {
			if c.DB != "sqlite:/home/clin/.local/state/nencds/dev.db" {
				t.Errorf("db %q", c.DB)
			}
		}},
		{name: "dev default db, XDG", args: []string{"-dev"}, env: map[string]string{"HOME": "/home/clin", "XDG_STATE_HOME": "/var/state"}, check: func(t *testing.T, c *Config) {
			if c.DB != "sqlite:/var/state/nencds/dev.db" {
				t.Errorf("db %q", c.DB)
			}
		}},
		// Production serves plain HTTP only when TLS ends at a proxy in front, said so.
		{name: "production without TLS", args: []string{"-trust", "t.yaml", "-db", "memory"}, wantErr: "TLS is required"},
		{name: "production with TLS", args: []string{"-trust", "t.yaml", "-db", "memory", "-tls-cert", "c.pem", "-tls-key", "k.pem"}, check: func(t *testing.T, c *Config) {}},
		{name: "behind proxy by env", args: []string{"-trust", "t.yaml", "-db", "memory"}, env: map[string]string{"NENCDS_BEHIND_PROXY": "true"}, check: func(t *testing.T, c *Config) {
			if !c.BehindProxy {
				t.Error("NENCDS_BEHIND_PROXY=true not read")
			}
		}},
		{name: "dev without TLS", args: []string{"-dev"}, check: func(t *testing.T, c *Config) {
			if !c.Mode().IsDevelopment() {
				t.Error("-dev is not the development mode")
			}
		}},
		{name: "tls pair", args: []string{"-dev", "-tls-cert", "c.pem"}, wantErr: "go together"},
		{name: "bad env", env: map[string]string{"NENCDS_MAX_IN_FLIGHT": "many"}, wantErr: "NENCDS_MAX_IN_FLIGHT"},
		{name: "stray argument", args: []string{"-dev", "serve"}, wantErr: "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := parseConfig(tt.args, env(tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

// TestREADMESettings: the README's table names every flag and environment variable, and
// its first lines are the two commands.
func TestREADMESettings(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	if table := settingsTable(); !strings.Contains(readme, table) {
		t.Errorf("README lacks the settings table; paste:\n%s", table)
	}
	for _, cmd := range []string{"go run ./cmd/nencds -dev", "go test -race ./..."} {
		if !strings.Contains(strings.Join(strings.SplitN(readme, "\n", 8)[:7], "\n"), cmd) {
			t.Errorf("README does not start with %q", cmd)
		}
	}
}

// start runs the server of args until the test ends and returns its base URL.
func start(t *testing.T, args []string) string {
	t.Helper()
	base, _ := startWith(t, args, nil)
	return base
}

// startWith runs the server of args with the environment vars until the test ends and
// returns its base URL and its log (which also goes to the suite's leak capture).
func startWith(t *testing.T, args []string, vars map[string]string) (string, *leakcheck.Capture) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	logs := &leakcheck.Capture{}
	go func() {
		done <- run(ctx, args, env(vars), strings.NewReader(""), io.Discard, io.MultiWriter(logs, testCapture), func(a string) { addr <- a })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	select {
	case a := <-addr:
		return "http://" + a, logs
	case err := <-done:
		done <- nil // for the cleanup, which waits on done
		t.Fatalf("run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not start")
	}
	return "", nil
}

func fixture(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("../../testdata/requests/nen-net-g2-metastatic.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func call(t *testing.T, method, url, token string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestServeDev: `nencds -dev` serves discovery, cards and preflights, and shuts down.
func TestServeDev(t *testing.T) {
	t.Parallel()
	base := start(t, []string{"-dev", "-addr", "127.0.0.1:0"})
	if code, body := call(t, "GET", base+"/cds-services", "", nil); code != 200 || !strings.Contains(string(body), hooks.PatientViewID) {
		t.Errorf("discovery: %d %s", code, body)
	}
	code, body := call(t, "POST", base+"/cds-services/"+hooks.PatientViewID, "", fixture(t))
	if code != 200 || !strings.Contains(string(body), `"cards"`) {
		t.Errorf("patient-view: %d %s", code, body)
	}
	if code, _ := call(t, "OPTIONS", base+"/cds-services", "", nil); code != 204 {
		t.Errorf("preflight: %d", code)
	}
	if code, _ := call(t, "GET", base+"/healthz", "", nil); code != 200 {
		t.Errorf("healthz: %d", code)
	}
}

// TestServeTrust runs the production wiring (auth.LoadConfig + auth.NewVerifier) with a
// trust file holding a test key generated here, and calls it with real JWTs.
func TestServeTrust(t *testing.T) {
	t.Parallel()
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	point, err := key.PublicKey.Bytes() // uncompressed: 0x04 || X || Y, 48 bytes each
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	jwk := map[string]any{"kty": "EC", "crv": "P-384", "kid": "k1", "alg": "ES384", "use": "sig",
		"x": b64(point[1:49]), "y": b64(point[49:97])}
	trust := map[string]any{
		"public_url": "https://cds.test",
		"clients": []any{map[string]any{
			"iss": "https://ehr.test", "jwks": map[string]any{"keys": []any{jwk}},
			"algorithms": []string{"ES384"}, "fhir_servers": []string{"https://ehr.test/fhir"},
		}},
	}
	b, _ := json.Marshal(trust)
	file := filepath.Join(t.TempDir(), "trust.json")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	n := 0
	token := func(aud string) string {
		n++
		now := time.Now()
		tok := jwt.NewWithClaims(jwt.SigningMethodES384, jwt.MapClaims{
			"iss": "https://ehr.test", "sub": "client", "aud": aud, "jti": fmt.Sprintf("jti-%d", n),
			"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		})
		tok.Header["kid"] = "k1"
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	base := start(t, []string{"-trust", file, "-addr", "127.0.0.1:0", "-db", "memory", "-behind-proxy"})

	if code, body := call(t, "GET", base+"/cds-services", "", nil); code != 401 {
		t.Errorf("discovery without a token: %d %s", code, body)
	}
	if code, body := call(t, "GET", base+"/readyz", "", nil); code != 200 {
		t.Errorf("readyz with the verifier's in-memory replay cache: %d %s", code, body)
	}
	disc := token("https://cds.test/cds-services")
	if code, body := call(t, "GET", base+"/cds-services", disc, nil); code != 200 {
		t.Errorf("discovery: %d %s", code, body)
	}
	if code, _ := call(t, "GET", base+"/cds-services", disc, nil); code != 401 {
		t.Errorf("replayed token: %d, want 401", code)
	}
	svc := "https://cds.test/cds-services/" + hooks.PatientViewID
	if code, body := call(t, "POST", base+"/cds-services/"+hooks.PatientViewID, token("https://cds.test/cds-services"), fixture(t)); code != 401 {
		t.Errorf("discovery token on the service: %d %s", code, body)
	}
	if code, body := call(t, "POST", base+"/cds-services/"+hooks.PatientViewID, token(svc), fixture(t)); code != 200 || !strings.Contains(string(body), `"cards"`) {
		t.Errorf("service: %d %s", code, body)
	}
	if code, _ := call(t, "POST", base+"/cds-services/"+hooks.PatientViewID+"/feedback", token(svc), []byte(`{"feedback":[{"card":"c","outcome":"overridden","outcomeTimestamp":"2026-06-01T12:00:00Z"}]}`)); code != 401 {
		t.Errorf("service token on feedback: %d, want 401", code)
	}
	if code, body := call(t, "POST", base+"/cds-services/"+hooks.PatientViewID+"/feedback", token(svc+"/feedback"), []byte(`{"feedback":[{"card":"c","outcome":"overridden","outcomeTimestamp":"2026-06-01T12:00:00Z"}]}`)); code != 200 {
		t.Errorf("feedback: %d %s", code, body)
	}
	// A fhirServer the client does not list: 412, whatever the prefetch lacks.
	var m map[string]any
	json.Unmarshal(fixture(t), &m)
	delete(m["prefetch"].(map[string]any), "conditions")
	m["fhirServer"] = "https://169.254.169.254/fhir"
	body, _ := json.Marshal(m)
	if code, out := call(t, "POST", base+"/cds-services/"+hooks.PatientViewID, token(svc), body); code != 412 {
		t.Errorf("untrusted fhirServer: %d %s", code, out)
	}
}

func TestEval(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var req struct {
		Prefetch map[string]json.RawMessage `json:"prefetch"`
	}
	json.Unmarshal(fixture(t), &req)
	// A Bundle of the fixture patient's resources.
	var entries []map[string]json.RawMessage
	for _, v := range req.Prefetch {
		var d struct {
			ResourceType string                       `json:"resourceType"`
			Entry        []map[string]json.RawMessage `json:"entry"`
		}
		json.Unmarshal(v, &d)
		if d.ResourceType == "Patient" {
			entries = append(entries, map[string]json.RawMessage{"resource": v})
		}
		entries = append(entries, d.Entry...)
	}
	bundle, _ := json.Marshal(map[string]any{"resourceType": "Bundle", "type": "collection", "entry": entries})
	bundleFile := filepath.Join(dir, "bundle.json")
	os.WriteFile(bundleFile, bundle, 0o600)
	reqFile := "../../testdata/requests/nen-net-g2-metastatic.json"

	evalOut := func(args []string, stdin []byte) (string, error) {
		var out bytes.Buffer
		err := run(context.Background(), append([]string{"eval"}, args...), env(nil), bytes.NewReader(stdin), &out, testCapture, nil)
		return out.String(), err
	}
	cardsOf := func(s string) []string {
		var r struct {
			Cards []struct {
				Summary string `json:"summary"`
			} `json:"cards"`
		}
		if err := json.Unmarshal([]byte(s), &r); err != nil {
			t.Fatalf("output is not a response: %v\n%s", err, s)
		}
		var out []string
		for _, c := range r.Cards {
			out = append(out, c.Summary)
		}
		return out
	}
	at := []string{"-at", "2026-06-01T12:00:00Z"}
	fromReq, err := evalOut(append(at, reqFile), nil)
	if err != nil {
		t.Fatal(err)
	}
	fromStdin, err := evalOut(append(at, "-"), fixture(t))
	if err != nil {
		t.Fatal(err)
	}
	fromBundle, err := evalOut(append(at, bundleFile), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cardsOf(fromReq)) == 0 {
		t.Error("no cards for the fixture")
	}
	if diff := cmp.Diff(cardsOf(fromReq), cardsOf(fromStdin)); diff != "" {
		t.Errorf("file vs stdin (-file +stdin):\n%s", diff)
	}
	if diff := cmp.Diff(cardsOf(fromReq), cardsOf(fromBundle)); diff != "" {
		t.Errorf("request vs Bundle (-request +bundle):\n%s", diff)
	}
	text, err := evalOut(append(at, "-text", reqFile), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, cardsOf(fromReq)[0]) {
		t.Errorf("text report lacks the first card's summary:\n%s", text)
	}
	// The rule settings of the server apply to eval too.
	one, err := evalOut(append(at, "-max-cards", "1", reqFile), nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(cardsOf(fromReq)[:1], cardsOf(one)); diff != "" {
		t.Errorf("-max-cards 1 (-want +got):\n%s", diff)
	}
	rules := filepath.Join(dir, "rules.json")
	os.WriteFile(rules, []byte(`{"maxCards": 2}`), 0o600)
	two, err := evalOut(append(at, "-rules-config", rules, reqFile), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cardsOf(two)) != min(2, len(cardsOf(fromReq))) {
		t.Errorf("-rules-config maxCards 2: %d cards", len(cardsOf(two)))
	}
	for _, bad := range [][]string{{"-at", "tomorrow", reqFile}, {}, {filepath.Join(dir, "none.json")}, {"-max-cards", "-1", reqFile}, {"-rules-config", filepath.Join(dir, "none.json"), reqFile}} {
		if _, err := evalOut(bad, nil); err == nil {
			t.Errorf("eval %v: no error", bad)
		}
	}
	if _, err := evalOut([]string{"-"}, []byte(`{"hook":"patient-view"}`)); err == nil || !strings.Contains(err.Error(), "hookInstance") {
		t.Errorf("invalid request: err %v", err)
	}
}

// TestEvalOrders: `nencds eval` takes order-select and order-sign requests: the same
// answer as the server's golden responses (order-check cards; only critical at
// order-select), an unknown hook refused.
func TestEvalOrders(t *testing.T) {
	t.Parallel()
	evalOut := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(context.Background(), append([]string{"eval", "-at", "2026-06-01T12:00:00Z"}, args...), env(nil), bytes.NewReader(nil), &out, testCapture, nil)
		return out.String(), err
	}
	indicators := func(s string) []string {
		var r struct {
			Cards []struct {
				Indicator string `json:"indicator"`
				Source    struct {
					Topic struct {
						Code string `json:"code"`
					} `json:"topic"`
				} `json:"source"`
			} `json:"cards"`
		}
		if err := json.Unmarshal([]byte(s), &r); err != nil {
			t.Fatalf("output is not a response: %v\n%s", err, s)
		}
		var out []string
		for _, c := range r.Cards {
			if c.Source.Topic.Code != "order-check" {
				t.Errorf("topic %q, want order-check", c.Source.Topic.Code)
			}
			out = append(out, c.Indicator)
		}
		return out
	}
	sel, err := evalOut("../../testdata/requests/order-select-nec-everolimus-sandbox.json")
	if err != nil {
		t.Fatal(err)
	}
	sign, err := evalOut("../../testdata/requests/order-sign-pnet-sunitinib.json")
	if err != nil {
		t.Fatal(err)
	}
	selPNET, err := evalOut("../../testdata/requests/order-select-pnet-sunitinib.json")
	if err != nil {
		t.Fatal(err)
	}
	if got := indicators(sel); !cmp.Equal(got, []string{"critical"}) {
		t.Errorf("order-select NEC everolimus: indicators %v, want [critical]", got)
	}
	if got := indicators(sign); !cmp.Equal(got, []string{"warning", "warning"}) {
		t.Errorf("order-sign pNET sunitinib: indicators %v, want the LVEF and hepatic warnings", got)
	}
	if got := indicators(selPNET); len(got) != 0 {
		t.Errorf("order-select pNET sunitinib: indicators %v, want none (warnings wait for order-sign)", got)
	}
	if _, err := evalOut("-"); err == nil {
		t.Error("eval - with empty stdin: no error")
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"hook":"order-dispatch","hookInstance":"x","context":{}}`), 0o600)
	if _, err := evalOut(bad); err == nil || !strings.Contains(err.Error(), "order-dispatch") {
		t.Errorf("unknown hook: err %v", err)
	}
}
