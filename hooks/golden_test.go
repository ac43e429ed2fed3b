package hooks

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// goldenAtExtension is the request extension a fixture may carry to change the evaluation
// time of its golden test (RFC 3339). Only this harness reads it; the server ignores it.
const goldenAtExtension = "nencds-test-at"

// TestGolden runs every testdata/requests/*.json through the whole HTTP handler and
// compares the normalised answer with testdata/responses/<same name> (-update rewrites).
func TestGolden(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../testdata/requests/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/requests/*.json")
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".json")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			body, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			at := goldenAt
			var ext struct {
				Extension map[string]json.RawMessage `json:"extension"`
			}
			if json.Unmarshal(body, &ext) == nil {
				if raw, ok := ext.Extension[goldenAtExtension]; ok {
					var s string
					if err := json.Unmarshal(raw, &s); err != nil {
						t.Fatalf("extension %s: %v", goldenAtExtension, err)
					}
					if at, err = time.Parse(time.RFC3339, s); err != nil {
						t.Fatalf("extension %s: %v", goldenAtExtension, err)
					}
				}
			}
			o := testOptions(t, &fakeAuth{}, nil)
			o.Evaluator.Now = func() time.Time { return at }
			s := newTestServer(t, o)
			w := do(s.Handler(), http.MethodPost, "/cds-services/"+PatientViewID, body, nil)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d, want 200: %s", w.Code, w.Body)
			}
			got := normalJSON(t, w.Body.Bytes())
			golden := filepath.Join("../testdata/responses", name+".json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./hooks -update)", err)
			}
			if diff := cmp.Diff(string(normalJSON(t, want)), string(got)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", golden, diff)
			}
		})
	}
}
