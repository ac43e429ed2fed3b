package auth

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseConfigRejects(t *testing.T) {
	t.Parallel()
	const okClient = `
  - iss: https://ehr.example.org
    jwks_url: https://ehr.example.org/jwks.json
`
	tests := []struct {
		name, yml, want string
	}{
		{"empty", ``, "public_url is required"},
		{"no clients", "public_url: https://cds.example.org\nclients: []\n", "at least one client"},
		{"unknown top-level field", "public_url: https://cds.example.org\nextra: 1\nclients:" + okClient, "unknown field"},
		{"unknown client field", "public_url: https://cds.example.org\nclients:" + okClient + "    jwks_uri: https://x.example.org\n", "unknown field"},
		{"duplicate field", "public_url: https://cds.example.org\npublic_url: https://x.example.org\nclients:" + okClient, "already set"},
		{"http public_url", "public_url: http://cds.example.org\nclients:" + okClient, "must be https"},
		{"public_url with query", "public_url: https://cds.example.org/?a=b\nclients:" + okClient, "plain base URL"},
		{"http iss", "public_url: https://cds.example.org\nclients:\n  - iss: http://ehr.example.org\n    jwks_url: https://ehr.example.org/jwks.json\n", "iss \"http://ehr.example.org\": must be an https URL"},
		{"no iss", "public_url: https://cds.example.org\nclients:\n  - jwks_url: https://ehr.example.org/jwks.json\n", "iss is required"},
		{"http jwks_url", "public_url: https://cds.example.org\nclients:\n  - iss: https://ehr.example.org\n    jwks_url: http://ehr.example.org/jwks.json\n", "jwks_url"},
		{"no key source", "public_url: https://cds.example.org\nclients:\n  - iss: https://ehr.example.org\n", "one of jwks_url or jwks"},
		{"both key sources", "public_url: https://cds.example.org\nclients:" + okClient + "    jwks: {keys: []}\n", "exclusive"},
		{"inline jwks without usable key", "public_url: https://cds.example.org\nclients:\n  - iss: https://ehr.example.org\n    jwks: {keys: [{kty: oct, kid: a, k: c2VjcmV0}]}\n", "no usable public signing key"},
		{"inline jwks not a set", "public_url: https://cds.example.org\nclients:\n  - iss: https://ehr.example.org\n    jwks: [1, 2]\n", "not a JWK Set"},
		{"http jku", "public_url: https://cds.example.org\nclients:" + okClient + "    jku_allowed: [http://ehr.example.org/jwks.json]\n", "jku_allowed"},
		{"alg none", "public_url: https://cds.example.org\nclients:" + okClient + "    algorithms: [none]\n", `"none" is not allowed`},
		{"alg HS256", "public_url: https://cds.example.org\nclients:" + okClient + "    algorithms: [ES384, HS256]\n", `"HS256" is not allowed`},
		{"alg lower case", "public_url: https://cds.example.org\nclients:" + okClient + "    algorithms: [es384]\n", `"es384" is not allowed`},
		{"http fhir server", "public_url: https://cds.example.org\nclients:" + okClient + "    fhir_servers: [http://10.0.0.1/fhir]\n", "fhir_servers"},
		{"fhir server with user info", "public_url: https://cds.example.org\nclients:" + okClient + "    fhir_servers: [https://u:p@ehr.example.org/fhir]\n", "user info"},
		{"duplicate iss without tenants", "public_url: https://cds.example.org\nclients:" + okClient + okClient, "distinct tenant"},
		{"duplicate iss and tenant", "public_url: https://cds.example.org\nclients:" + okClient + "    tenant: a\n" + okClient + "    tenant: a\n", `tenant "a" listed twice`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := ParseConfig([]byte(tc.yml))
			if err == nil {
				t.Fatalf("ParseConfig accepted it: %+v", cfg)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestParseConfigJSONAndDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := ParseConfig([]byte(`{"public_url": "https://cds.example.org/",
	  "clients": [{"iss": "https://ehr.example.org", "jwks_url": "https://ehr.example.org/jwks.json",
	               "fhir_servers": ["https://ehr.example.org/fhir/r4"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.PublicURL(), "https://cds.example.org"; got != want {
		t.Errorf("PublicURL() = %q, want %q", got, want)
	}
	want := []Client{{Issuer: "https://ehr.example.org", FHIRServers: []string{"https://ehr.example.org/fhir/r4"}}}
	if diff := cmp.Diff(want, cfg.Clients()); diff != "" {
		t.Errorf("Clients() (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(DefaultAlgorithms, cfg.clients[0].cfg.Algorithms); diff != "" {
		t.Errorf("default algorithms (-want +got):\n%s", diff)
	}
	// Clients returns copies: callers cannot widen the allowlist.
	cfg.Clients()[0].FHIRServers[0] = "https://169.254.169.254/"
	if got := cfg.Clients()[0].FHIRServers[0]; got != "https://ehr.example.org/fhir/r4" {
		t.Errorf("Clients() shares its slices: %q", got)
	}
}

func TestLoadConfigTestdata(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"sandbox-trust.yaml", "example-trust.yaml"} {
		cfg, err := LoadConfig(filepath.Join("testdata", name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(cfg.Clients()) == 0 {
			t.Errorf("%s: no clients", name)
		}
	}
	if _, err := LoadConfig(filepath.Join("testdata", "does-not-exist.yaml")); err == nil {
		t.Error("LoadConfig of a missing file succeeded")
	}
	big := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(big, make([]byte, maxConfigBytes+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfig(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("oversized trust file: %v", err)
	}
}

func TestDevProfileMatchesTestdata(t *testing.T) {
	t.Parallel()
	dev, err := DevProfile("http://localhost:8080")
	if err != nil {
		t.Fatal(err)
	}
	file, err := LoadConfig(filepath.Join("testdata", "sandbox-trust.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(dev.Clients(), file.Clients()); diff != "" {
		t.Errorf("DevProfile and testdata/sandbox-trust.yaml differ (-dev +file):\n%s", diff)
	}
	if diff := cmp.Diff(dev.clients[0].cfg, file.clients[0].cfg); diff != "" {
		t.Errorf("client config (-dev +file):\n%s", diff)
	}
	if dev.PublicURL() != file.PublicURL() {
		t.Errorf("public_url: %q vs %q", dev.PublicURL(), file.PublicURL())
	}
	if _, err := DevProfile("http://cds.example.org"); err == nil {
		t.Error("DevProfile accepted a non-loopback http public URL")
	}
}

func TestParseJWKSSkipsUnusableKeys(t *testing.T) {
	t.Parallel()
	testKeys(t)
	priv := ecJWK("priv", "ES384", ec384)
	d, err := ec384.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	priv["d"] = b64(d)
	enc := ecJWK("enc", "", ec384)
	enc["use"] = "enc"
	offCurve := ecJWK("off", "ES384", ec384)
	offCurve["y"] = offCurve["x"]
	weak := rsaJWK("weak", "RS256", rsa2048)
	weak["n"] = b64(rsa2048.N.Bytes()[:100])
	noKid := ecJWK("", "ES384", ec384)
	ks, skipped, err := parseJWKS(jwksJSON(t, ecJWK("good", "ES384", ec384), priv, enc, offCurve, weak, noKid,
		map[string]any{"kty": "OKP", "kid": "ed", "crv": "Ed25519", "x": "AA"}))
	if err != nil {
		t.Fatal(err)
	}
	var kids []string
	for kid := range ks {
		kids = append(kids, kid)
	}
	if diff := cmp.Diff([]string{"good"}, kids); diff != "" {
		t.Errorf("usable kids (-want +got):\n%s", diff)
	}
	if skipped != 6 {
		t.Errorf("skipped %d keys, want 6", skipped)
	}
}

func TestNewVerifierRejectsBadOptions(t *testing.T) {
	t.Parallel()
	cfg, err := DevProfile("http://localhost:8080")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  *Config
		opts Options
		want string
	}{
		{"nil config", nil, Options{}, "validated Config"},
		{"zero config", &Config{}, Options{}, "validated Config"},
		{"negative skew", cfg, Options{Skew: -time.Second}, "skew"},
		{"huge skew", cfg, Options{Skew: time.Hour}, "skew"},
		{"bad Redis URL", cfg, Options{RedisURL: "http://user:pw@redis:6379"}, "invalid Redis URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.opts.Logger = quiet
			v, err := NewVerifier(tc.cfg, tc.opts)
			if err == nil {
				_ = v.Close()
				t.Fatal("NewVerifier succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "pw@") {
				t.Errorf("error %q: want it to mention %q and not the password", err, tc.want)
			}
		})
	}
}
