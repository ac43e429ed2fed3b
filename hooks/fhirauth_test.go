package hooks

import (
	"net/http"
	"strings"
	"testing"

	"github.com/nencds/nencds/fhirclient"
	"github.com/nencds/nencds/hooks/auth"
	"github.com/nencds/nencds/internal/security"
)

// TestFallbackAllowlistAndToken runs the handler against the fake FHIR server and checks,
// in both modes, which fhirServer is read and with which token. Before: -dev with a trust
// file read any loopback server the client named; a request without fhirAuthorization,
// or with an expired one, was read without a token in production; a token for another
// patient was used.
func TestFallbackAllowlistAndToken(t *testing.T) {
	t.Parallel()
	type setup struct {
		dev       bool
		anonymous bool // no Authenticator (development without a trust file)
		tls       bool
		listed    bool // the client lists the fake's base
		open      bool // the client's trust entry has open_fhir_servers
	}
	tests := []struct {
		name   string
		s      setup
		edit   func(m map[string]any)
		status int
		want   string // in the diagnostics
		hits   bool   // the fake server was read
		token  string // the Authorization it saw, when read
	}{
		{name: "production, listed, token", s: setup{tls: true, listed: true}, status: 200, hits: true, token: "Bearer secret-token"},
		{name: "production, no fhirAuthorization", s: setup{tls: true, listed: true}, edit: func(m map[string]any) { delete(m, "fhirAuthorization") },
			status: 412, want: "no usable fhirAuthorization"},
		{name: "production, expired token", s: setup{tls: true, listed: true}, edit: func(m map[string]any) { m["fhirAuthorization"].(map[string]any)["expires_in"] = 0 },
			status: 412, want: "no usable fhirAuthorization"},
		{name: "production, no token, open on purpose", s: setup{tls: true, listed: true, open: true}, edit: func(m map[string]any) { delete(m, "fhirAuthorization") },
			status: 200, hits: true, token: ""},
		{name: "production, expired token, open on purpose", s: setup{tls: true, listed: true, open: true}, edit: func(m map[string]any) { m["fhirAuthorization"].(map[string]any)["expires_in"] = -5 },
			status: 200, hits: true, token: ""},
		{name: "production, unlisted", s: setup{tls: true}, status: 412, want: "not a trusted FHIR server for this client"},
		{name: "token of another patient", s: setup{tls: true, listed: true}, edit: func(m map[string]any) { m["fhirAuthorization"].(map[string]any)["patient"] = "someone-else" },
			status: 400, want: "fhirAuthorization.patient must be context.patientId"},
		{name: "token of this patient", s: setup{tls: true, listed: true}, edit: func(m map[string]any) { m["fhirAuthorization"].(map[string]any)["patient"] = "net-g2-metastatic" },
			status: 200, hits: true, token: "Bearer secret-token"},
		{name: "dev with trust, unlisted loopback http", s: setup{dev: true}, status: 412, want: "not a trusted FHIR server for this client"},
		{name: "dev with trust, listed loopback http", s: setup{dev: true, listed: true}, status: 200, hits: true, token: "Bearer secret-token"},
		{name: "dev with trust, no token", s: setup{dev: true, listed: true}, edit: func(m map[string]any) { delete(m, "fhirAuthorization") }, status: 200, hits: true, token: ""},
		{name: "dev with trust, expired token not sent", s: setup{dev: true, listed: true}, edit: func(m map[string]any) { m["fhirAuthorization"].(map[string]any)["expires_in"] = 0 },
			status: 200, hits: true, token: ""},
		{name: "dev anonymous, any loopback, no token", s: setup{dev: true, anonymous: true}, edit: func(m map[string]any) { delete(m, "fhirAuthorization") }, status: 200, hits: true, token: ""},
		{name: "dev anonymous, private https", s: setup{dev: true, anonymous: true}, edit: func(m map[string]any) { m["fhirServer"] = "https://10.20.30.40/fhir" },
			status: 412, want: "private network"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := newFakeFHIR(t, fixture(t), tt.s.tls, nil)
			client := auth.Client{Issuer: "https://ehr.test", FHIRServers: []string{"https://ehr.example.org/fhir"}, OpenFHIR: tt.s.open}
			if tt.s.listed {
				client.FHIRServers = append(client.FHIRServers, fake.URL())
			}
			o := testOptions(t, &fakeAuth{client: client}, fake.srv.Client().Transport)
			if tt.s.dev {
				o.Mode = security.Development()
				o.Evaluator.Resolver.Policy = fhirclient.Policy{Mode: security.Development()}
			}
			if tt.s.anonymous {
				o.Authenticator = nil
			}
			body := edit(t, func(m map[string]any) {
				delete(m, "prefetch")
				m["fhirServer"] = fake.URL()
				m["fhirAuthorization"] = map[string]any{"access_token": "secret-token", "token_type": "Bearer", "expires_in": 300, "scope": "patient/*.read", "subject": "cds-service"}
				if tt.edit != nil {
					tt.edit(m)
				}
			})
			w := do(newTestServer(t, o).Handler(), http.MethodPost, "/cds-services/"+PatientViewID, body, nil)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %.300s", w.Code, tt.status, w.Body)
			}
			if tt.want != "" {
				if got := diags(outcomeOf(t, w.Body.Bytes())); !strings.Contains(got, tt.want) {
					t.Errorf("diagnostics %q, want %q", got, tt.want)
				}
			}
			if n := fake.hits.Load(); (n > 0) != tt.hits {
				t.Fatalf("the FHIR server was read %d times, want read: %v", n, tt.hits)
			}
			for _, a := range fake.seenAuths() {
				if a != tt.token {
					t.Errorf("Authorization %q, want %q", a, tt.token)
				}
			}
		})
	}
}

// testFHIRAuthorization is a usable fhirAuthorization: outside development the fallback
// reads only with one.
func testFHIRAuthorization() map[string]any {
	return map[string]any{"access_token": "tok", "token_type": "Bearer", "expires_in": 300, "scope": "patient/*.read", "subject": "cds-service"}
}
