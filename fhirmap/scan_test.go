package fhirmap

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/nencds/nencds/internal/jsonscan"
)

// scanSeeds are the patient Bundles, their entries, and odd shapes that the in-place
// readers must hand to encoding/json.
func scanSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	files, err := filepath.Glob("../testdata/patients/*.json")
	if err != nil || len(files) == 0 {
		tb.Fatal("no testdata/patients/*.json")
	}
	var seeds [][]byte
	for _, f := range files {
		if filepath.Ext(filepath.Base(f[:len(f)-len(".json")])) == ".golden" {
			continue // *.picture.golden.json
		}
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		seeds = append(seeds, b)
		var d struct {
			Entry []struct{ Resource json.RawMessage }
		}
		if err := json.Unmarshal(b, &d); err != nil {
			tb.Fatal(err)
		}
		for _, e := range d.Entry {
			seeds = append(seeds, e.Resource)
		}
	}
	for _, s := range []string{
		`{"resourceType":"Bundle","entry":[null,{"resource":null},{"fullUrl":null,"resource":{"resourceType":"Patient","id":"p"}}]}`,
		`{"resourceType":"Bundle","entry":[{"Resource":{"resourceType":"Patient"}}]}`,
		`{"resourceType":"Bundle","entry":[5]}`,
		`{"resourceType":"Bundle","entry":{"resource":{}}}`,
		`{"resourceType":"Observation","status":5,"id":"o"}`,
		`{"resourceType":"Observation","Status":"final"}`,
		`{"resourceType":"Observation","status":null,"id":"o","id":"p"}`,
		`{"resourceType":"Observ\u0061tion","st\u0061tus":"final"}`,
		`{"resourceType":"Patient","ſtatus":"x"}`,
		`{"resourceType":"Condition","status":"\ud800"}`,
		`{"resourceType":null}`,
	} {
		seeds = append(seeds, []byte(s))
	}
	return seeds
}

// checkScan checks that whenever an in-place reader reads data, encoding/json reads the
// same.
func checkScan(t *testing.T, data []byte) {
	t.Helper()
	x, ok := jsonscan.Parse(data)
	if !ok {
		return
	}
	opts := cmp.Options{cmp.AllowUnexported(document{}), cmpopts.EquateEmpty()}
	if got, ok := scanDocument(x, data); ok {
		var want document
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatalf("scanDocument read %q, encoding/json fails: %v", data, err)
		}
		if diff := cmp.Diff(want, got, opts); diff != "" {
			t.Fatalf("scanDocument(%q) (-json +scan):\n%s", data, diff)
		}
	}
	for _, idx := range []*jsonscan.Index{x, nil} {
		gp, gok := peekValid(idx, data)
		wp, wok := peekOf(data)
		if gok != wok || cmp.Diff(wp, gp) != "" {
			t.Fatalf("peekValid(%q) = %+v, %v; peekOf %+v, %v", data, gp, gok, wp, wok)
		}
	}
}

func TestScanAgreesWithEncodingJSON(t *testing.T) {
	t.Parallel()
	fast := 0
	for _, s := range scanSeeds(t) {
		checkScan(t, s)
		if x, ok := jsonscan.Parse(s); ok {
			if _, ok := scanDocument(x, s); ok {
				fast++
			}
		}
	}
	if fast < 20 {
		t.Errorf("scanDocument read only %d seeds; the fast path must serve ordinary documents", fast)
	}
}

// FuzzScan: the in-place document and peek readers agree with encoding/json whenever
// they read a document at all.
func FuzzScan(f *testing.F) {
	for _, s := range scanSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkScan(t, data)
	})
}
