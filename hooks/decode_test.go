package hooks

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/nencds/nencds/fhirclient"
	"github.com/nencds/nencds/internal/jsonscan"
)

// decodeSeeds are the testdata requests, their prefetch values, and odd shapes that the
// fast paths must hand to encoding/json.
func decodeSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	files, err := filepath.Glob("../testdata/requests/*.json")
	if err != nil || len(files) == 0 {
		tb.Fatal("no testdata/requests/*.json")
	}
	var seeds [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		seeds = append(seeds, b)
		var r struct{ Prefetch map[string]json.RawMessage }
		if err := json.Unmarshal(b, &r); err != nil {
			tb.Fatal(err)
		}
		for _, v := range r.Prefetch {
			seeds = append(seeds, v)
		}
	}
	for _, s := range []string{
		`{"Hook":"patient-view","hook":"x"}`,
		`{"hook":"a","hook":"b"}`,
		`{"ho\u006fk":"patient-view"}`,
		`{"hook":5}`,
		`{"hook":null,"context":null,"prefetch":null}`,
		`{"prefetch":{"patient":null,"a\u0062":{},"x":{},"x":[]}}`,
		`{"prefetch":[]}`,
		`{"fhirAuthorization":{"access_token":"t","Token_Type":"Bearer"},"fhirServer":"https://e.org/fhir"}`,
		`{"fhirAuthorization":{"expires_in":"soon"}}`,
		`{"resourceType":"Bundle","link":[null,{"relation":"next","url":"https://e.org/p2"}],"entry":[null,{"resource":null},{"resource":{"resourceType":"OperationOutcome","issue":[{"severity":"error"}]}}]}`,
		`{"resourceType":"OperationOutcome","issue":{"severity":"fatal"}}`,
		`{"resourceType":"Bundle","entry":[{"Resource":{"resourceType":"Patient"}}]}`,
		`{"resourceType":"Patient","ſd":"x"}`,
		`{"resourceType":"Bundle","entry":[5]}`,
	} {
		seeds = append(seeds, []byte(s))
	}
	return seeds
}

// checkScans checks that whenever a fast path reads data, encoding/json reads the same.
func checkScans(t *testing.T, data []byte) {
	t.Helper()
	// DecodeRequest answers as DecodeJSON does, limits included.
	for _, l := range []Limits{{}, {MaxDepth: 3, MaxString: 12}} {
		got, gotErr := DecodeRequest(data, l)
		var want Request
		wantErr := DecodeJSON(data, l, &want)
		if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
			t.Fatalf("DecodeRequest(%q, %+v) error %v, DecodeJSON %v", data, l, gotErr, wantErr)
		}
		if gotErr == nil {
			if diff := cmp.Diff(want, *got, cmpopts.EquateEmpty(), cmpopts.IgnoreUnexported(Request{})); diff != "" {
				t.Fatalf("DecodeRequest(%q, %+v) (-DecodeJSON +DecodeRequest):\n%s", data, l, diff)
			}
		}
	}
	x, valid := jsonscan.Parse(data)
	if !valid {
		return
	}
	if got, ok := scanRequest(x, data); ok {
		var want Request
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatalf("scanRequest read %q, encoding/json fails: %v", data, err)
		}
		if diff := cmp.Diff(want, *got, cmpopts.EquateEmpty(), cmpopts.IgnoreUnexported(Request{})); diff != "" {
			t.Fatalf("scanRequest(%q) (-json +scan):\n%s", data, diff)
		}
		// The prefetch values read in place are peeked without a second check, and alike.
		for _, v := range got.Prefetch {
			p1, err1 := fhirclient.PeekIn(got.index, v)
			p2, err2 := fhirclient.Peek(append([]byte(nil), v...))
			if (err1 == nil) != (err2 == nil) || cmp.Diff(p2, p1, cmpopts.EquateEmpty()) != "" {
				t.Fatalf("peek of prefetch value %q differs in place and copied: %v / %v", v, err1, err2)
			}
		}
	}
}

func TestScansAgreeWithEncodingJSON(t *testing.T) {
	t.Parallel()
	fast := 0
	for _, s := range decodeSeeds(t) {
		checkScans(t, s)
		if x, ok := jsonscan.Parse(s); ok {
			if _, ok := scanRequest(x, s); ok {
				fast++
			}
		}
	}
	// The fast path must actually serve the ordinary requests.
	if fast < 10 {
		t.Errorf("scanRequest read only %d seeds", fast)
	}
	for _, s := range []string{`{"Hook":"x"}`, `{"hook":"a","hook":"b"}`, `{"hook":5}`, `{"prefetch":{"a\u0062":{}}}`} {
		x, ok := jsonscan.Parse([]byte(s))
		if !ok {
			t.Fatalf("%s is valid JSON", s)
		}
		if _, ok := scanRequest(x, []byte(s)); ok {
			t.Errorf("scanRequest(%s) read it; encoding/json must decide", s)
		}
	}
}

// FuzzScans: the fast request readers (and the in-place peek) agree with encoding/json whenever they
// read a document at all.
func FuzzScans(f *testing.F) {
	for _, s := range decodeSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkScans(t, data)
	})
}

// BenchmarkDecodeRequest compares the request decoder with plain encoding/json on the
// largest testdata request.
func BenchmarkDecodeRequest(b *testing.B) {
	_, body := largestRequest(b)
	b.Run("DecodeRequest", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DecodeRequest(body, Limits{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("DecodeJSON", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			var r Request
			if err := DecodeJSON(body, Limits{}, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
}
