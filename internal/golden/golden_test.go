package golden

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestNormalJSON(t *testing.T) {
	t.Parallel()
	got, err := NormalJSON([]byte(`{"b":1,"a":"x < y & z"}`))
	if err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"a\": \"x < y & z\",\n  \"b\": 1\n}\n"
	if string(got) != want {
		t.Errorf("NormalJSON = %q; want %q", got, want)
	}
	if _, err := NormalJSON([]byte(`{"a":`)); err == nil {
		t.Error("NormalJSON accepted truncated JSON")
	}
}

// fakeTB records failures instead of stopping the test.
type fakeTB struct {
	testing.TB
	failed bool
}

func (f *fakeTB) Helper()               {}
func (f *fakeTB) Errorf(string, ...any) { f.failed = true }
func (f *fakeTB) Fatalf(string, ...any) { f.failed = true }
func (f *fakeTB) Fatal(...any)          { f.failed = true }

func TestCompare(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	jsonPath := filepath.Join(dir, "x.json")
	textPath := filepath.Join(dir, "x.txt")
	rawPath := filepath.Join(dir, "raw.json")
	if err := os.WriteFile(rawPath, []byte(`{"b":1,"a":2}`), 0o644); err != nil {
		t.Fatal(err)
	}

	// -update writes the normalised JSON and the text as they are.
	compare(t, jsonPath, []byte(`{"b":1,"a":2}`), true)
	compare(t, textPath, []byte("card 1\n"), true)
	if b, _ := os.ReadFile(jsonPath); string(b) != "{\n  \"a\": 2,\n  \"b\": 1\n}\n" {
		t.Errorf("written JSON = %q", b)
	}

	tests := []struct {
		name       string
		path       string
		got        string
		wantFailed bool
	}{
		{"same JSON, other formatting", jsonPath, `{ "a": 2, "b": 1 }`, false},
		{"golden not stored normalised", rawPath, `{"a":2,"b":1}`, true},
		{"other JSON value", jsonPath, `{"a":2,"b":3}`, true},
		{"output not JSON", jsonPath, `{"a":`, true},
		{"same text", textPath, "card 1\n", false},
		{"other text", textPath, "card 2\n", true},
		{"missing golden", filepath.Join(dir, "none.json"), `{}`, true},
	}
	for _, tt := range tests {
		f := &fakeTB{TB: t}
		compare(f, tt.path, []byte(tt.got), false)
		if f.failed != tt.wantFailed {
			t.Errorf("%s: failed = %v; want %v", tt.name, f.failed, tt.wantFailed)
		}
	}
}

// TestEveryTestPackageAcceptsUpdate: `go test ./... -update` from the root fails in any
// package whose test binary does not define -update, so every package of the module
// with tests imports this package.
func TestEveryTestPackageAcceptsUpdate(t *testing.T) {
	t.Parallel()
	const self = "github.com/nencds/nencds/internal/golden"
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules" || name == "vendor") {
			return filepath.SkipDir
		}
		if path != root {
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
				return filepath.SkipDir // another module (deploy/validate)
			}
		}
		tests, _ := filepath.Glob(filepath.Join(path, "*_test.go"))
		if len(tests) == 0 || path == filepath.Join(root, "internal", "golden") {
			return nil
		}
		checked++
		fset := token.NewFileSet()
		for _, f := range tests {
			file, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
			if err != nil {
				return err
			}
			for _, imp := range file.Imports {
				if imp.Path.Value == strconv.Quote(self) {
					return nil
				}
			}
		}
		rel, _ := filepath.Rel(root, path)
		t.Errorf("%s has tests but none imports %s, so `go test ./... -update` fails there; add %s/golden_flag_test.go:\n"+
			"\timport _ %q // -update (go test ./... -update)", rel, self, rel, self)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 3 {
		t.Errorf("found only %d test packages under %s", checked, root)
	}
}
