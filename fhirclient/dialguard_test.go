package fhirclient

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nencds/nencds/internal/security"
)

// TestDialControl: the dial guard refuses link-local and metadata addresses always and
// loopback outside dev, whatever name led to them; other addresses pass.
func TestDialControl(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr        string
		prod, devOK bool
		private     bool // refused for an open read (PublicOnly)
	}{
		{addr: "169.254.169.254:80"},
		{addr: "169.254.0.1:443"},
		{addr: "[fe80::1]:443"},
		{addr: "[fe80::1%eth0]:443"},
		{addr: "[febf::1]:443"},
		{addr: "[::ffff:169.254.169.254]:80"},
		{addr: "[fd00:ec2::254]:80"},
		{addr: "100.100.100.200:80"},
		{addr: "0.0.0.0:443"},
		{addr: "[::]:443"},
		{addr: "224.0.0.1:443"},
		{addr: "[ff02::1]:443"},
		{addr: "not-an-address"},
		{addr: "ehr.example.org:443"},
		{addr: "127.0.0.1:443", devOK: true},
		{addr: "127.8.9.10:443", devOK: true},
		{addr: "[::1]:443", devOK: true},
		{addr: "10.0.0.1:443", prod: true, devOK: true, private: true},
		{addr: "192.168.1.20:8443", prod: true, devOK: true, private: true},
		{addr: "100.64.3.4:443", prod: true, devOK: true, private: true},
		{addr: "[fd12::1]:443", prod: true, devOK: true, private: true},
		{addr: "93.184.216.34:443", prod: true, devOK: true},
		{addr: "[2001:db8::1]:443", prod: true, devOK: true},
		{addr: "[fd00:ec2::253]:443", prod: true, devOK: true, private: true},
		{addr: "169.255.0.1:443", prod: true, devOK: true},
	}
	for _, tt := range tests {
		for _, m := range []security.Mode{security.Production(), security.Development()} {
			want := tt.prod
			if m.IsDevelopment() {
				want = tt.devOK
			}
			err := dialControl(m)(context.Background(), "tcp", tt.addr, nil)
			if (err == nil) != want {
				t.Errorf("dialControl(%v)(%q) = %v, want allowed %v", m, tt.addr, err, want)
			}
			err = dialControl(m)(PublicOnly(context.Background()), "tcp", tt.addr, nil)
			if (err == nil) != (want && !tt.private) {
				t.Errorf("dialControl(%v) of an open read (%q) = %v, want allowed %v", m, tt.addr, err, want && !tt.private)
			}
		}
	}
}

// TestFHIRTransportGuard: the default transport of the FHIR client applies the guard at
// connection time: outside dev a loopback server, by literal or by a name resolving to
// it (localhost), gets no request; in dev it does.
func TestFHIRTransportGuard(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprint(w, `{"resourceType":"Bundle","type":"searchset"}`)
	}))
	defer srv.Close()
	_, port, _ := strings.Cut(strings.TrimPrefix(srv.URL, "http://"), ":")
	for _, server := range []string{srv.URL, "http://localhost:" + port} {
		base, err := url.Parse(server + "/fhir")
		if err != nil {
			t.Fatal(err)
		}
		_, err = New(Options{}).Pages(context.Background(), base, "secret-token", server+"/fhir/Condition")
		if err == nil || !strings.Contains(err.Error(), errDialRefused.Error()) {
			t.Errorf("%s outside dev: err %v, want the dial refused", server, err)
		}
		if n := hits.Load(); n != 0 {
			t.Fatalf("%s outside dev: %d requests reached the server", server, n)
		}
		if _, err := New(Options{Mode: security.Development()}).Pages(context.Background(), base, "", server+"/fhir/Condition"); err != nil {
			t.Errorf("%s in dev: %v", server, err)
		}
		if n := hits.Swap(0); n != 1 {
			t.Errorf("%s in dev: %d requests, want 1", server, n)
		}
	}
}

// TestOpenReadRefusesPrivateAtDial: the PublicOnly mark of an open read reaches the dial
// guard through the transport: a private address is refused before any packet is sent.
// (Before: -dev read https hosts in private ranges.)
func TestOpenReadRefusesPrivateAtDial(t *testing.T) {
	t.Parallel()
	base, _ := url.Parse("https://10.255.255.1:9/fhir")
	c := New(Options{Mode: security.Development(), RequestTimeout: 300 * time.Millisecond})
	_, err := c.Pages(PublicOnly(context.Background()), base, "", "https://10.255.255.1:9/fhir/Condition")
	if err == nil || !strings.Contains(err.Error(), errDialRefused.Error()) {
		t.Errorf("open read of a private address: %v, want the dial refused", err)
	}
	_, err = c.Pages(context.Background(), base, "", "https://10.255.255.1:9/fhir/Condition")
	if err != nil && strings.Contains(err.Error(), errDialRefused.Error()) {
		t.Errorf("a listed read of a private address was refused by the guard: %v", err)
	}
}
