package fhirclient

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// baseServer is a FHIR server whose base is /fhir: /fhir/start answers with a next link or
// a redirect chosen by the test, everything else with an empty searchset Bundle. It
// records every request path and whether it carried an Authorization header.
type baseServer struct {
	srv  *httptest.Server
	mu   sync.Mutex
	hits []string
}

func newBaseServer(t *testing.T, next, redirect func(srvURL string) string) *baseServer {
	t.Helper()
	b := &baseServer{}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.hits = append(b.hits, fmt.Sprintf("%s auth=%v", r.URL.EscapedPath(), r.Header.Get("Authorization") != ""))
		b.mu.Unlock()
		if r.URL.Path == "/fhir/start" {
			if redirect != nil {
				w.Header().Set("Location", redirect(b.srv.URL))
				w.WriteHeader(http.StatusFound)
				return
			}
			if next != nil {
				fmt.Fprintf(w, `{"resourceType":"Bundle","type":"searchset","link":[{"relation":"next","url":%q}]}`, next(b.srv.URL))
				return
			}
		}
		fmt.Fprint(w, `{"resourceType":"Bundle","type":"searchset"}`)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *baseServer) seen() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.hits...)
}

// TestTokenStaysUnderBase: a next link or a redirect that leaves the fhirServer base
// (dot segments plain or encoded, backslashes, another path on the same host) is never
// requested: the key fails and the token goes nowhere but under the base.
func TestTokenStaysUnderBase(t *testing.T) {
	t.Parallel()
	start := []string{"/fhir/start auth=true"}
	tests := []struct {
		name     string
		next     func(string) string
		redirect func(string) string
		wantErr  string
		wantHits []string
	}{
		{name: "next with ..", next: func(s string) string { return s + "/fhir/../admin/secret" }, wantErr: "next link leaves", wantHits: start},
		{name: "next with .", next: func(s string) string { return s + "/fhir/./Observation" }, wantErr: "next link leaves", wantHits: start},
		{name: "next with %2e%2e", next: func(s string) string { return s + "/fhir/%2e%2e/admin/secret" }, wantErr: "next link leaves", wantHits: start},
		{name: "next with %2E%2E", next: func(s string) string { return s + "/fhir/%2E%2E/admin/secret" }, wantErr: "next link leaves", wantHits: start},
		{name: "next with .%2e", next: func(s string) string { return s + "/fhir/.%2e/admin/secret" }, wantErr: "next link leaves", wantHits: start},
		{name: "next with double-encoded dots", next: func(s string) string { return s + "/fhir/%252e%252e/admin/secret" }, wantErr: "next link leaves", wantHits: start},
		{name: "next with backslash", next: func(s string) string { return s + `/fhir/..\admin\secret` }, wantErr: "next link leaves", wantHits: start},
		{name: "next with %5c", next: func(s string) string { return s + "/fhir/..%5cadmin" }, wantErr: "next link leaves", wantHits: start},
		{name: "next on a sibling path", next: func(s string) string { return s + "/fhir2/Observation" }, wantErr: "next link leaves", wantHits: start},
		{name: "next with userinfo", next: func(s string) string { return strings.Replace(s, "://", "://u:p@", 1) + "/fhir/Observation" }, wantErr: "next link leaves", wantHits: start},
		{name: "next under base", next: func(s string) string { return s + "/fhir/Observation?page=2" }, wantHits: append(start, "/fhir/Observation auth=true")},
		{name: "redirect to another tenant", redirect: func(string) string { return "/other-tenant/Observation" }, wantErr: "redirected out of the fhirServer base", wantHits: start},
		{name: "redirect with ..", redirect: func(string) string { return "/fhir/../admin/secret" }, wantErr: "redirected out of the fhirServer base", wantHits: start},
		{name: "redirect with %2e%2e", redirect: func(string) string { return "/fhir/%2e%2e/admin/secret" }, wantErr: "redirected out of the fhirServer base", wantHits: start},
		{name: "redirect with backslash", redirect: func(string) string { return "/fhir/%5c..%5cadmin" }, wantErr: "redirected out of the fhirServer base", wantHits: start},
		{name: "redirect to a sibling path", redirect: func(string) string { return "/fhirx/Observation" }, wantErr: "redirected out of the fhirServer base", wantHits: start},
		{name: "redirect with userinfo", redirect: func(s string) string { return strings.Replace(s, "://", "://u:p@", 1) + "/fhir/Observation" }, wantErr: "redirected", wantHits: start},
		{name: "redirect under base", redirect: func(string) string { return "/fhir/Observation" }, wantHits: append(start, "/fhir/Observation auth=true")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newBaseServer(t, tt.next, tt.redirect)
			base, err := url.Parse(b.srv.URL + "/fhir")
			if err != nil {
				t.Fatal(err)
			}
			c := New(Options{Transport: b.srv.Client().Transport})
			_, err = c.Pages(context.Background(), base, "secret-token", b.srv.URL+"/fhir/start")
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("err %v, want none", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(Reason(err), tt.wantErr)):
				t.Errorf("err %v, want %q", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.wantHits, b.seen()); diff != "" {
				t.Errorf("server hits (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRedirectWithoutBaseRefused: a request made without a base in its context (never
// the case in Pages) follows no redirect at all.
func TestRedirectWithoutBaseRefused(t *testing.T) {
	t.Parallel()
	b := newBaseServer(t, nil, func(string) string { return "/fhir/Observation" })
	c := New(Options{Transport: b.srv.Client().Transport})
	req, err := http.NewRequest(http.MethodGet, b.srv.URL+"/fhir/start", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.http.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatal("redirect followed without a base")
	}
	if diff := cmp.Diff([]string{"/fhir/start auth=false"}, b.seen()); diff != "" {
		t.Errorf("server hits (-want +got):\n%s", diff)
	}
}
