package fhirclient

import (
	"testing"

	"github.com/nencds/nencds/internal/security"
)

// TestPolicy: a client names only a listed base over https; an anonymous call in dev
// (AllowOpen) any public https server and loopback http, never a link-local, metadata or
// unspecified address however spelled, nor a private one.
func TestPolicy(t *testing.T) {
	t.Parallel()
	listed := []string{"https://ehr.example.org/fhir/r4/", "https://EHR2.example.org:443/api/FHIR/R4"}
	tests := []struct {
		name   string
		dev    bool
		server string
		ok     bool
	}{
		{name: "listed", server: "https://ehr.example.org/fhir/r4", ok: true},
		{name: "listed with slash", server: "https://ehr.example.org/fhir/r4/", ok: true},
		{name: "listed default port and case", server: "https://ehr2.example.org/api/FHIR/R4", ok: true},
		{name: "path case differs", server: "https://ehr2.example.org/api/fhir/r4"},
		{name: "deeper path", server: "https://ehr.example.org/fhir/r4/x"},
		{name: "other port", server: "https://ehr.example.org:8443/fhir/r4"},
		{name: "http", server: "http://ehr.example.org/fhir/r4"},
		{name: "userinfo", server: "https://user@ehr.example.org/fhir/r4"},
		{name: "query", server: "https://ehr.example.org/fhir/r4?x=1"},
		{name: "listed with trailing ?", server: "https://ehr.example.org/fhir/r4?"},
		{name: "listed with trailing #", server: "https://ehr.example.org/fhir/r4#"},
		{name: "listed via dot segments", server: "https://ehr.example.org/fhir/x/../r4"},
		{name: "dev trailing ?", dev: true, server: "https://anything.example/fhir?"},
		{name: "file", server: "file:///etc/passwd"},
		{name: "dev any https", dev: true, server: "https://anything.example/fhir", ok: true},
		{name: "dev http loopback", dev: true, server: "http://127.0.0.1:9999/fhir", ok: true},
		{name: "dev http localhost", dev: true, server: "http://localhost:9999/fhir", ok: true},
		{name: "dev http ipv6 loopback", dev: true, server: "http://[::1]:9999/fhir", ok: true},
		{name: "dev http remote", dev: true, server: "http://ehr.example.org/fhir"},
		{name: "dev metadata", dev: true, server: "https://169.254.169.254/"},
		{name: "dev unspecified", dev: true, server: "https://0.0.0.0/"},
		{name: "dev link-local with zone", dev: true, server: "https://[fe80::1%25eth0]/fhir"},
		{name: "dev link-local with zone and port", dev: true, server: "https://[fe80::1%25eth0]:8443/fhir"},
		{name: "dev link-local", dev: true, server: "https://[fe80::1]/fhir"},
		{name: "dev metadata trailing dot", dev: true, server: "https://169.254.169.254./"},
		{name: "dev metadata v4-mapped", dev: true, server: "https://[::ffff:169.254.169.254]/"},
		{name: "dev metadata ipv6", dev: true, server: "https://[fd00:ec2::254]/"},
		{name: "dev metadata decimal", dev: true, server: "https://2852039166/fhir"},
		{name: "dev metadata hex", dev: true, server: "https://0xA9FEA9FE/fhir"},
		{name: "dev metadata octal", dev: true, server: "https://0251.0376.0251.0376/fhir"},
		{name: "dev metadata short form", dev: true, server: "https://169.254.43518/fhir"},
		{name: "dev dotted quad", dev: true, server: "https://93.184.216.34/fhir", ok: true},
		{name: "dev numeric-looking name", dev: true, server: "https://1password.example/fhir", ok: true},
		{name: "dev private 10/8", dev: true, server: "https://10.1.2.3/fhir"},
		{name: "dev private 192.168/16", dev: true, server: "https://192.168.0.10/fhir"},
		{name: "dev private 172.16/12", dev: true, server: "https://172.20.0.1:8443/fhir"},
		{name: "dev shared address space", dev: true, server: "https://100.64.0.1/fhir"},
		{name: "dev unique local ipv6", dev: true, server: "https://[fd12::1]/fhir"},
		{name: "dev https loopback", dev: true, server: "https://127.0.0.1:8443/fhir", ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var err error
			if tt.dev { // an anonymous call: no list
				_, err = Policy{Mode: security.Development()}.AllowOpen(tt.server)
			} else {
				_, err = Policy{}.Allow(tt.server, listed)
			}
			if (err == nil) != tt.ok {
				t.Errorf("Allow(%q) err = %v, want ok %v", tt.server, err, tt.ok)
			}
		})
	}
}

// TestPolicyListedInEveryMode: with a list (a trust file), development relaxes https to
// loopback http and nothing else: an unlisted server is refused, loopback included, and
// production has no open mode at all. (Before: dev ignored the list.)
func TestPolicyListedInEveryMode(t *testing.T) {
	t.Parallel()
	listed := []string{"https://ehr.example.org/fhir", "http://127.0.0.1:9999/fhir"}
	dev, prod := Policy{Mode: security.Development()}, Policy{Mode: security.Production()}
	for _, tt := range []struct {
		name   string
		p      Policy
		server string
		ok     bool
	}{
		{"dev listed https", dev, "https://ehr.example.org/fhir", true},
		{"dev listed loopback http", dev, "http://127.0.0.1:9999/fhir", true},
		{"dev unlisted loopback http", dev, "http://127.0.0.1:8888/fhir", false},
		{"dev unlisted https", dev, "https://other.example.org/fhir", false},
		{"prod listed loopback http", prod, "http://127.0.0.1:9999/fhir", false},
		{"prod listed https", prod, "https://ehr.example.org/fhir", true},
	} {
		if _, err := tt.p.Allow(tt.server, listed); (err == nil) != tt.ok {
			t.Errorf("%s: Allow(%q) err = %v, want ok %v", tt.name, tt.server, err, tt.ok)
		}
	}
	if _, err := prod.AllowOpen("https://ehr.example.org/fhir"); err == nil {
		t.Error("production AllowOpen accepted a server")
	}
	if !IsLoopbackHTTP("http://localhost:8080/fhir") || IsLoopbackHTTP("https://127.0.0.1/fhir") || IsLoopbackHTTP("http://ehr.example.org/fhir") {
		t.Error("IsLoopbackHTTP")
	}
}
