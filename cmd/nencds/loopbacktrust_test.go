package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTrustFileLoopbackFHIRServer: a trust file that lists an http FHIR server on loopback
// (a local test server) stops a production server, and starts a -dev one with a warning.
func TestTrustFileLoopbackFHIRServer(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "trust.yaml")
	trust := `public_url: http://localhost:8080
clients:
  - iss: https://ehr.test
    jwks_url: https://ehr.test/jwks.json
    fhir_servers: [http://127.0.0.1:9999/fhir]
`
	if err := os.WriteFile(file, []byte(trust), 0o600); err != nil {
		t.Fatal(err)
	}
	err := run(context.Background(), []string{"-trust", file, "-addr", "127.0.0.1:0", "-behind-proxy", "-db", "memory"}, env(nil), strings.NewReader(""), io.Discard, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "allowed only with -dev") {
		t.Errorf("production with a loopback http fhir_servers entry: %v, want a refusal", err)
	}
	_, logs := startWith(t, []string{"-dev", "-trust", file, "-addr", "127.0.0.1:0", "-db", "memory"}, nil)
	if !strings.Contains(logs.String(), "http FHIR servers on loopback") {
		t.Errorf("-dev with a loopback http fhir_servers entry: no warning in the log:\n%s", logs.String())
	}
}
