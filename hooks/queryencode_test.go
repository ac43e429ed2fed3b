package hooks

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/nencds/nencds/fhirmap"
	"github.com/nencds/nencds/hooks/auth"
)

// TestFallbackQueriesAreEncoded: a FHIR server that refuses raw characters outside RFC
// 3986 in the request line, as Tomcat (HAPI's default) does, answers every fallback read,
// and each read decodes to its template. (Before: the observations search sent
// code=http://loinc.org|..., the server answered 400, and the call got 412.)
func TestFallbackQueriesAreEncoded(t *testing.T) {
	t.Parallel()
	fake := newFakeFHIR(t, fixture(t), true, func(f *fakeFHIR) { f.tomcat = true })
	o := testOptions(t, &fakeAuth{client: auth.Client{Issuer: "https://ehr.test", FHIRServers: []string{fake.URL()}}}, fake.srv.Client().Transport)
	w := do(newTestServer(t, o).Handler(), http.MethodPost, "/cds-services/"+PatientViewID, fallbackBody(t, fake.URL(), "secret-token"), nil)
	if w.Code != http.StatusOK {
		t.Fatalf("status %d, want 200: %.400s", w.Code, w.Body)
	}
	want := map[string]string{}
	for _, r := range fhirmap.Reads() {
		want[r.Type] = r.Template("net-g2-metastatic")
	}
	seen := 0
	for _, p := range fake.seenPaths() {
		if strings.ContainsAny(p, "|{}[]^`\"<> ") {
			t.Errorf("raw character in the request line %q", p)
		}
		u, err := url.Parse(p)
		if err != nil {
			t.Fatal(err)
		}
		typ := strings.TrimPrefix(u.Path, "/")
		typ, _, _ = strings.Cut(typ, "/")
		tmpl, ok := want[typ]
		if !ok || u.RawQuery == "" {
			continue
		}
		_, q, _ := strings.Cut(tmpl, "?")
		wantQ, _ := url.ParseQuery(q)
		// The template's own "|" and "," are literal: parse it without decoding surprises.
		if got := u.Query(); got.Encode() != wantQ.Encode() {
			t.Errorf("%s: query decodes to %v, want %v", typ, got, wantQ)
		}
		seen++
	}
	if seen < 8 {
		t.Errorf("checked %d search reads, want the 8 searches", seen)
	}
}
