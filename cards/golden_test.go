package cards

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/nencds/nencds/internal/golden"
)

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
			if err := r.Validate(); err != nil {
				t.Error(err)
			}
			got, err := json.MarshalIndent(r, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			var text bytes.Buffer
			if err := WriteText(&text, r); err != nil {
				t.Fatal(err)
			}
			golden.Compare(t, filepath.Join("testdata", sc.name+".golden.json"), got)
			golden.Compare(t, filepath.Join("testdata", sc.name+".golden.txt"), text.Bytes())
		})
	}
}
