package cards

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// goldenConfig is the default policy plus a SMART app URL, so that the goldens show
// smart links too.
func goldenConfig() Config {
	c := DefaultConfig()
	c.SMARTAppURL = "https://nen-app.example.org/launch"
	return c
}

// TestGolden compares, for every scenario, the response JSON with
// testdata/<scenario>.golden.json and the text report with testdata/<scenario>.golden.txt
// (go test ./cards -update rewrites them).
func TestGolden(t *testing.T) {
	t.Parallel()
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			r := evaluateCfg(goldenConfig(), sc.p)
			got, err := json.MarshalIndent(r, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			var text bytes.Buffer
			if err := WriteText(&text, r); err != nil {
				t.Fatal(err)
			}
			compareGolden(t, filepath.Join("testdata", sc.name+".golden.json"), got)
			compareGolden(t, filepath.Join("testdata", sc.name+".golden.txt"), text.Bytes())
		})
	}
}

func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cards -update)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}
