// Package golden is test support for golden files: one way to compare an output with its
// file in testdata/ and to rewrite the file with -update, shared by every suite.
//
// It registers the -update flag, so that `go test ./... -update` works from the root: a
// test binary rejects a flag that none of its packages defines, so every package with
// tests imports this one, if only as
//
//	import _ "github.com/nencds/nencds/internal/golden" // -update (go test ./... -update)
//
// TestEveryTestPackageAcceptsUpdate holds that. Golden files are stored normalised
// (NormalJSON for .json), so a regeneration on a clean tree changes nothing.
package golden

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ from the current output")

// Update reports whether the test binary runs with -update (rewrite the golden files).
func Update() bool { return *update }

// Compare checks got against the golden file at path or, with -update, writes got
// (normalised, for a .json file) to path. A .json file is compared as normalised JSON
// (NormalJSON), so formatting alone never fails a test; any other file byte for byte.
func Compare(tb testing.TB, path string, got []byte) {
	tb.Helper()
	compare(tb, path, got, *update)
}

func compare(tb testing.TB, path string, got []byte, update bool) {
	tb.Helper()
	isJSON := filepath.Ext(path) == ".json"
	if isJSON {
		var err error
		if got, err = NormalJSON(got); err != nil {
			tb.Fatalf("output for %s is not JSON: %v", path, err)
		}
	}
	if update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			tb.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("%v (run go test with -update to create it)", err)
	}
	if isJSON {
		stored := want
		if want, err = NormalJSON(want); err != nil {
			tb.Fatalf("golden %s is not JSON: %v", path, err)
		}
		if !bytes.Equal(stored, want) {
			tb.Errorf("golden %s is not stored normalised (run go test with -update)", path)
		}
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		tb.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

// NormalJSON re-encodes a JSON document with sorted object keys, two-space indent, no
// HTML escaping and a final newline.
func NormalJSON(b []byte) ([]byte, error) {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
