package golden

import (
	"os"
	"path/filepath"
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

	// -update writes the normalised JSON and the text as they are.
	Compare(t, jsonPath, []byte(`{"b":1,"a":2}`), true)
	Compare(t, textPath, []byte("card 1\n"), true)
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
		{"other JSON value", jsonPath, `{"a":2,"b":3}`, true},
		{"output not JSON", jsonPath, `{"a":`, true},
		{"same text", textPath, "card 1\n", false},
		{"other text", textPath, "card 2\n", true},
		{"missing golden", filepath.Join(dir, "none.json"), `{}`, true},
	}
	for _, tt := range tests {
		f := &fakeTB{TB: t}
		Compare(f, tt.path, []byte(tt.got), false)
		if f.failed != tt.wantFailed {
			t.Errorf("%s: failed = %v; want %v", tt.name, f.failed, tt.wantFailed)
		}
	}
}
