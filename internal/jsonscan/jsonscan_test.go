package jsonscan

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var validSeeds = []string{
	`{}`, `[]`, `""`, `0`, `-0`, `1.5e+10`, `-12.25E-3`, `true`, `false`, `null`,
	` {"a" : [1, 2, {"b": null}], "c": "d\"e\\", "f": "\u00e9\n"} `,
	`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Patient","id":"1"}}]}`,
	"\"\xff\xfe\"", `[[[[]]]]`, `{"":""}`, `"\/"`,
}

var invalidSeeds = []string{
	``, ` `, `{`, `}`, `[`, `]`, `{"a"}`, `{"a":}`, `{"a":1,}`, `[1,]`, `[,1]`, `{,}`,
	`01`, `-`, `1.`, `.5`, `1e`, `1e+`, `+1`, `tru`, `nul`, `truex`, `"abc`, `"\x"`,
	`"\u12"`, `"\u12g4"`, "\"a\x01b\"", `{} {}`, `[1 2]`, `{"a":1 "b":2}`, `{1:2}`,
	`[}`, `{]`, `NaN`, `"\`, "\ufeff{}",
}

func TestValid(t *testing.T) {
	t.Parallel()
	for _, s := range append(append([]string{}, validSeeds...), invalidSeeds...) {
		if got, want := Valid([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("Valid(%q) = %v, json.Valid says %v", s, got, want)
		}
	}
	files, _ := filepath.Glob("../../testdata/requests/*.json")
	if len(files) == 0 {
		t.Fatal("no testdata/requests/*.json")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !Valid(data) {
			t.Errorf("%s: Valid = false", f)
		}
		if Valid(data[:len(data)-2]) {
			t.Errorf("%s cut short: Valid = true", f)
		}
	}
}

func TestValidDepthAsEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, depth := range []int{maxDepth - 1, maxDepth, maxDepth + 1} {
		for _, open := range []string{"[", `{"a":`} {
			closeBy := map[string]string{"[": "]", `{"a":`: "}"}[open]
			for _, data := range [][]byte{
				[]byte(strings.Repeat(open, depth) + "1" + strings.Repeat(closeBy, depth)),
				[]byte(strings.Repeat(open, depth-1) + "[]" + strings.Repeat(closeBy, depth-1)),
				[]byte(strings.Repeat(open, depth-1) + "{}" + strings.Repeat(closeBy, depth-1)),
			} {
				want := json.Valid(data)
				if got := Valid(data); got != want {
					t.Errorf("Valid at depth %d (%q...): %v, json.Valid says %v", depth, data[:12], got, want)
				}
				if _, got := Parse(data); got != want {
					t.Errorf("Parse at depth %d (%q...): %v, json.Valid says %v", depth, data[:12], got, want)
				}
			}
		}
	}
}

func TestIndexCapped(t *testing.T) {
	t.Parallel()
	// More containers than the index records: the cursors still read every element.
	n := maxIndexed + 100
	data := []byte("[" + strings.Repeat("[1],", n) + `{"k":[2]}]`)
	x, ok := Parse(data)
	if !ok {
		t.Fatal("Parse failed")
	}
	if len(x.opens) != maxIndexed {
		t.Errorf("index holds %d containers, want the cap %d", len(x.opens), maxIndexed)
	}
	count, last := 0, ""
	x.Elements(data, func(v []byte) bool { count, last = count+1, string(v); return true })
	if count != n+1 || last != `{"k":[2]}` {
		t.Errorf("Elements saw %d elements, last %q; want %d, {\"k\":[2]}", count, last, n+1)
	}
}

// FuzzValid: Valid agrees with json.Valid on any input; on valid objects and arrays the
// cursors see what encoding/json sees; String decodes as encoding/json does.
func FuzzValid(f *testing.F) {
	for _, s := range append(append([]string{}, validSeeds...), invalidSeeds...) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, want := Valid(data), json.Valid(data)
		if got != want {
			t.Fatalf("Valid(%q) = %v, json.Valid says %v", data, got, want)
		}
		// The cursors never panic, valid or not.
		Members(data, func(k, v []byte) bool { return true })
		Elements(data, func(v []byte) bool { return true })
		Fields(data, []string{"a", "id"}, func(int, []byte) bool { return true })
		x, ok := Parse(data)
		if ok != want {
			t.Fatalf("Parse(%q) ok = %v, json.Valid says %v", data, ok, want)
		}
		if !want {
			return
		}
		checkCursors(t, data)
		checkIndexed(t, x, data)
	})
}

// checkIndexed walks every container of v (a part of x's document) with and without the
// index: the cursors must give the same values.
func checkIndexed(t *testing.T, x *Index, v []byte) {
	t.Helper()
	type kv struct{ K, V string }
	var plain, indexed []kv
	var nested [][]byte
	switch Kind(v) {
	case '{':
		Members(v, func(k, v []byte) bool { plain = append(plain, kv{string(k), string(v)}); return true })
		x.Members(v, func(k, v []byte) bool {
			indexed = append(indexed, kv{string(k), string(v)})
			nested = append(nested, v)
			return true
		})
	case '[':
		Elements(v, func(v []byte) bool { plain = append(plain, kv{V: string(v)}); return true })
		x.Elements(v, func(v []byte) bool {
			indexed = append(indexed, kv{V: string(v)})
			nested = append(nested, v)
			return true
		})
	default:
		return
	}
	if diff := cmp.Diff(plain, indexed); diff != "" {
		t.Fatalf("indexed cursor differs on %q (-plain +indexed):\n%s", v, diff)
	}
	for _, n := range nested {
		checkIndexed(t, x, n)
	}
}

func TestIndexOnFixtures(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob("../../testdata/requests/*.json")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		x, ok := Parse(data)
		if !ok {
			t.Fatalf("%s: Parse failed", f)
		}
		checkIndexed(t, x, data)
		var pre []byte
		x.Fields(data, []string{"prefetch"}, func(_ int, v []byte) bool { pre = v; return true })
		if !x.Contains(pre) || x.Contains(pre[:len(pre)-1]) || x.Contains(bytes.Clone(pre)) {
			t.Errorf("%s: Contains is wrong about the prefetch object or a part or copy of it", f)
		}
		// A copy is not a part of the indexed document: the cursors read it instead.
		checkIndexed(t, x, bytes.Clone(data))
	}
}

func checkCursors(t *testing.T, data []byte) {
	t.Helper()
	switch Kind(data) {
	case '{':
		var want []json.RawMessage // keys and values in order, from the json.Decoder tokens
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.Token()
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				t.Fatal(err)
			}
			kb, _ := json.Marshal(k)
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				t.Fatal(err)
			}
			want = append(want, kb, v)
		}
		var got []json.RawMessage
		Members(data, func(k, v []byte) bool {
			s, ok := String(append(append([]byte{'"'}, k...), '"'))
			if !ok {
				t.Fatalf("key %q is not a string", k)
			}
			kb, _ := json.Marshal(s)
			got = append(got, kb, append([]byte(nil), v...))
			return true
		})
		if diff := cmp.Diff(rawStrings(want), rawStrings(got)); diff != "" {
			t.Fatalf("Members(%q) (-want +got):\n%s", data, diff)
		}
	case '[':
		var want []json.RawMessage
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatal(err)
		}
		var got []json.RawMessage
		Elements(data, func(v []byte) bool {
			got = append(got, v)
			return true
		})
		if diff := cmp.Diff(rawStrings(want), rawStrings(got)); diff != "" {
			t.Fatalf("Elements(%q) (-want +got):\n%s", data, diff)
		}
	case '"':
		var want string
		if err := json.Unmarshal(bytes.TrimSpace(data), &want); err != nil {
			t.Fatal(err)
		}
		got, ok := String(bytes.TrimSpace(data))
		if !ok || got != want {
			t.Fatalf("String(%q) = %q, %v; want %q", data, got, ok, want)
		}
	}
}

func rawStrings(rs []json.RawMessage) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	return out
}

func TestFields(t *testing.T) {
	t.Parallel()
	names := []string{"resourceType", "id"}
	tests := []struct {
		name   string
		obj    string
		want   map[string]string
		wantOK bool
	}{
		{"exact names, others ignored", `{"resourceType":"Patient","other":{"id":1},"id":"p1"}`, map[string]string{"resourceType": `"Patient"`, "id": `"p1"`}, true},
		{"no members", `{}`, map[string]string{}, true},
		{"case-folded key", `{"ID":"p1"}`, map[string]string{}, false},
		{"escaped key", `{"i\u0064":"p1"}`, map[string]string{}, false},
		{"non-ASCII key (folds to s in encoding/json)", `{"ſtatus":"x"}`, map[string]string{}, false},
		{"name twice", `{"id":"a","id":"b"}`, map[string]string{"id": `"a"`}, false},
		{"not an object", `["id"]`, map[string]string{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := map[string]string{}
			ok := Fields([]byte(tt.obj), names, func(n int, v []byte) bool {
				got[names[n]] = string(v)
				return true
			})
			if ok != tt.wantOK {
				t.Errorf("ok = %v, want %v", ok, tt.wantOK)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
		})
	}
}

func TestString(t *testing.T) {
	t.Parallel()
	for _, s := range []string{`"plain"`, `"\u00e9\n\"x\""`, "\"\xff\"", `""`, `5`, `null`, `"`} {
		var want string
		wantOK := json.Unmarshal([]byte(s), &want) == nil && s != "null"
		got, ok := String([]byte(s))
		if ok != wantOK || got != want {
			t.Errorf("String(%s) = %q, %v; want %q, %v", s, got, ok, want, wantOK)
		}
	}
}

func BenchmarkValid(b *testing.B) {
	data, err := os.ReadFile("../../testdata/requests/perf-50-resources.json")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.Run("jsonscan", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if !Valid(data) {
				b.Fatal("invalid")
			}
		}
	})
	b.Run("jsonscan-Parse", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := Parse(data); !ok {
				b.Fatal("invalid")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if !json.Valid(data) {
				b.Fatal("invalid")
			}
		}
	})
}
