package fhirclient

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/nencds/nencds/internal/jsonscan"
)

// peekSeeds are the prefetch values of the testdata requests, the testdata Bundles, and
// odd shapes that the fast path must hand to encoding/json.
func peekSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	var seeds [][]byte
	requests, _ := filepath.Glob("../testdata/requests/*.json")
	patients, _ := filepath.Glob("../testdata/patients/*.json")
	if len(requests) == 0 {
		tb.Fatal("no testdata/requests/*.json")
	}
	for _, f := range append(requests, patients...) {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		seeds = append(seeds, b)
		var r struct{ Prefetch map[string]json.RawMessage }
		if json.Unmarshal(b, &r) == nil {
			for _, v := range r.Prefetch {
				seeds = append(seeds, v)
			}
		}
	}
	for _, s := range []string{
		`{"resourceType":"Bundle","type":"searchset","link":[{"relation":"next","url":"https://e.org/fhir/Condition?page=2"}]}`,
		`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"OperationOutcome","issue":[{"severity":"error"}]}}]}`,
		`{"resourceType":"Bundle","entry":[null,{"resource":null}],"link":null}`,
		`{"resourceType":"OperationOutcome","issue":[{"severity":5}]}`,
		`{"resourceType":"Patient","id":"a","id":"b"}`,
		`{"resourceTyp\u0065":"Patient"}`,
		`{"ResourceType":"Patient"}`,
		`{"resourceType":"Bundle","entry":{}}`,
		`[]`,
	} {
		seeds = append(seeds, []byte(s))
	}
	return seeds
}

// checkPeek checks that whenever the fast peek reads a document, encoding/json reads the
// same, and that Peek and PeekIn agree.
func checkPeek(t *testing.T, data []byte) {
	t.Helper()
	x, valid := jsonscan.Parse(data)
	if !valid {
		return
	}
	if got, ok := scanPeek(x, data); ok {
		var want Peeked
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatalf("scanPeek read %q, encoding/json fails: %v", data, err)
		}
		if diff := cmp.Diff(want, *got, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("scanPeek(%q) (-json +scan):\n%s", data, diff)
		}
	}
	p1, err1 := PeekIn(x, data)
	p2, err2 := Peek(append([]byte(nil), data...))
	if (err1 == nil) != (err2 == nil) || cmp.Diff(p2, p1, cmpopts.EquateEmpty()) != "" {
		t.Fatalf("PeekIn and Peek of %q differ: %v / %v", data, err1, err2)
	}
}

func TestPeekAgreesWithEncodingJSON(t *testing.T) {
	t.Parallel()
	fast := 0
	for _, s := range peekSeeds(t) {
		checkPeek(t, s)
		if x, ok := jsonscan.Parse(s); ok {
			if _, ok := scanPeek(x, s); ok {
				fast++
			}
		}
	}
	if fast < 10 {
		t.Errorf("scanPeek read only %d seeds", fast)
	}
	p, err := Peek([]byte(`{"resourceType":"Bundle","type":"searchset","link":[{"relation":"self","url":"a"},{"relation":"next","url":"b"}],"entry":[{"resource":{"resourceType":"OperationOutcome","issue":[{"severity":"warning"},{"severity":"fatal"}]}}]}`))
	if err != nil || p.Next() != "b" || !p.Failed() {
		t.Errorf("Peek = %+v, %v; want next b and failed", p, err)
	}
}

// FuzzPeek: the fast peek agrees with encoding/json whenever it reads a document at all.
func FuzzPeek(f *testing.F) {
	for _, s := range peekSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkPeek(t, data)
	})
}
