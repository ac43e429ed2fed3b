package hooks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/google/go-cmp/cmp"

	"github.com/nencds/nencds/internal/fhirjson"
)

// decodeSeeds are the testdata requests and odd shapes.
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
		"{\"hook\":\"patient-view\",\"context\":{\"userId\":\"\xff\"}}",
		`{"hook":"patient-view","context":{"a":[1,{"b":2}]},"prefetch":{"p":{"resourceType":"Patient"}}} `,
	} {
		seeds = append(seeds, []byte(s))
	}
	return seeds
}

// checkDecode checks DecodeRequest against the decoder library's own reading (which
// copies raw values): the same request or both an error, and context and prefetch read in
// place.
func checkDecode(t *testing.T, data []byte) {
	t.Helper()
	got, err := DecodeRequest(data, Limits{})
	var want Request
	wantErr := jsonv2.Unmarshal(data, &want)
	if shapeErr := checkShape(data, DefaultLimits()); shapeErr != nil && wantErr == nil {
		wantErr = shapeErr
	}
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("DecodeRequest(%q) error %v, the library %v", data, err, wantErr)
	}
	if err != nil {
		if KindOf(err) != KindInvalid {
			t.Fatalf("DecodeRequest(%q) error kind %v, want invalid", data, KindOf(err))
		}
		return
	}
	// The library reads json.RawMessage as written, leading space included; DecodeRequest
	// as the value alone.
	trim := cmp.Transformer("trim", func(m json.RawMessage) string { return string(bytes.TrimSpace(m)) })
	if diff := cmp.Diff(want, *got, trim); diff != "" {
		t.Fatalf("DecodeRequest(%q) (-library +DecodeRequest):\n%s", data, diff)
	}
	for key, v := range got.Prefetch {
		if !fhirjson.Within(v, data) {
			t.Fatalf("DecodeRequest(%q): prefetch %q is a copy", data, key)
		}
	}
	if len(got.Context) > 0 && !fhirjson.Within(got.Context, data) {
		t.Fatalf("DecodeRequest(%q): context is a copy", data)
	}
}

func TestDecodeRequestAgreesWithTheLibrary(t *testing.T) {
	t.Parallel()
	for _, s := range decodeSeeds(t) {
		checkDecode(t, s)
	}
}

// TestDecodeRequestStrict: what two readers could read differently is refused.
func TestDecodeRequestStrict(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ body, want string }{
		{`{"hook":"order-select","hook":"patient-view"}`, "malformed JSON at line 1, column 24: a key is given twice"},
		{`{"prefetch":{"p":{"id":"a","id":"b"}}}`, "malformed JSON at line 1, column 28: a key is given twice in element prefetch/p"},
		{"{\"hook\":\"patient-view\",\n\"hookInstance\":\"\xff\"}", "malformed JSON at line 2, column 17: a string is not valid UTF-8"},
		{`{"hook":5}`, "malformed JSON at line 1, column 9: element hook must be a string, not a number"},
		{`{"hook":"patient-view"} {}`, "malformed JSON at line 1, column 25: data after the JSON value"},
	} {
		_, err := DecodeRequest([]byte(tc.body), Limits{})
		if err == nil || err.Error() != "bad request: "+tc.want {
			t.Errorf("DecodeRequest(%q) = %v, want %q", tc.body, err, tc.want)
		}
	}
	// Names match exactly: "Hook" is not the hook.
	req, err := DecodeRequest([]byte(`{"Hook":"patient-view"}`), Limits{})
	if err != nil || req.Hook != "" {
		t.Errorf(`{"Hook":...}: %+v, %v; want no hook`, req, err)
	}
}

// FuzzDecodeRequestAgrees: DecodeRequest reads what the decoder library reads, in place.
func FuzzDecodeRequestAgrees(f *testing.F) {
	for _, s := range decodeSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecode(t, data)
	})
}

// BenchmarkDecodeRequest measures the request decoder on the largest testdata request.
func BenchmarkDecodeRequest(b *testing.B) {
	_, body := largestRequest(b)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeRequest(body, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

// shapeByBytes is checkShape's string scan done byte by byte (its former form), the
// reference for the IndexByte scan.
func shapeByBytes(data []byte, maxString int) int {
	for i := 0; i < len(data); i++ {
		if data[i] != '"' {
			continue
		}
		start := i
		i++
		for i < len(data) && data[i] != '"' {
			if data[i] == '\\' {
				i++
			}
			i++
		}
		if i > len(data) {
			return -2 // a backslash ends an unclosed string: invalid JSON, refused by the decoder
		}
		if i-start-1 > maxString {
			return start
		}
	}
	return -1
}

// FuzzCheckShapeStrings: the string-length limit fails at the same string as a byte-by-byte
// scan, escapes and unclosed strings included.
func FuzzCheckShapeStrings(f *testing.F) {
	for _, s := range []string{`"abc"`, `"a\"bc"`, `"a\\"bcdef"`, `"\\\\\"xyz"`, `"abc`, `["ab","c\\","defg"]`, `"\`} {
		f.Add([]byte(s), 2)
	}
	f.Fuzz(func(t *testing.T, data []byte, limit int) {
		if limit < 0 || limit > 64 {
			return
		}
		want := shapeByBytes(data, limit)
		if want == -2 {
			return
		}
		err := checkShape(data, Limits{MaxDepth: 1 << 30, MaxString: limit})
		if (want >= 0) != (err != nil) {
			t.Fatalf("checkShape(%q, %d) = %v; byte scan fails at %d", data, limit, err, want)
		}
		if want >= 0 {
			line, col := position(data, int64(want))
			if !strings.Contains(err.Error(), fmt.Sprintf("line %d, column %d", line, col)) {
				t.Fatalf("checkShape(%q, %d) = %v; byte scan fails at line %d, column %d", data, limit, err, line, col)
			}
		}
	})
}

// FuzzCheckShapeDepth: the nesting limit fails exactly where a byte-by-byte count of the
// brackets outside strings passes it, indentation of any width included.
func FuzzCheckShapeDepth(f *testing.F) {
	f.Add([]byte(`{"a":[1,{"b":"[["}]}`), 2)
	f.Add([]byte("{\n          [\n                  [ \"x\" ]]}"), 2)
	f.Fuzz(func(t *testing.T, data []byte, limit int) {
		if limit < 1 || limit > 8 || shapeByBytes(data, 1<<30) == -2 {
			return
		}
		want := -1
		depth := 0
	scan:
		for i := 0; i < len(data); i++ {
			switch data[i] {
			case '{', '[':
				if depth++; depth > limit {
					want = i
					break scan
				}
			case '}', ']':
				depth--
			case '"':
				for i++; i < len(data) && data[i] != '"'; i++ {
					if data[i] == '\\' {
						i++
					}
				}
			}
		}
		err := checkShape(data, Limits{MaxDepth: limit, MaxString: 1 << 30})
		if (want >= 0) != (err != nil) {
			t.Fatalf("checkShape(%q, depth %d) = %v; the byte count fails at %d", data, limit, err, want)
		}
	})
}

// BenchmarkCheckShape measures the limits pass of the request decoder on the largest
// testdata request.
func BenchmarkCheckShape(b *testing.B) {
	_, body := largestRequest(b)
	b.SetBytes(int64(len(body)))
	l := DefaultLimits()
	for b.Loop() {
		if err := checkShape(body, l); err != nil {
			b.Fatal(err)
		}
	}
}
