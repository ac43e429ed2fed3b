package hooks

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nencds/nencds/cards"
	"github.com/nencds/nencds/internal/golden"
)

// checkWire checks a service answer as it goes on the wire: a cards.Response that passes
// cards' own invariants (Response.Validate), and no null, empty object or empty array
// anywhere except "cards": [].
func checkWire(t *testing.T, body []byte) {
	t.Helper()
	var resp cards.Response
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatalf("answer is not a cards.Response: %v", err)
	}
	if err := resp.Validate(); err != nil {
		t.Errorf("answer breaks the card invariants: %v", err)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case nil:
			t.Errorf("%s: null on the wire", path)
		case map[string]any:
			if len(x) == 0 {
				t.Errorf("%s: empty object on the wire", path)
			}
			for k, e := range x {
				walk(path+"."+k, e)
			}
		case []any:
			if len(x) == 0 && path != "$.cards" {
				t.Errorf("%s: empty array on the wire", path)
			}
			for i, e := range x {
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		case string:
			if x == "" {
				t.Errorf("%s: empty string on the wire", path)
			}
		}
	}
	walk("$", v)
}

// goldenAtExtension is the request extension a fixture may carry to change the evaluation
// time of its golden test (RFC 3339). Only this harness reads it; the server ignores it.
const goldenAtExtension = "nencds-test-at"

// fixtureAt is the evaluation time of a testdata request: its goldenAtExtension, else
// goldenAt.
func fixtureAt(t testing.TB, body []byte) time.Time {
	t.Helper()
	var req struct {
		Extension map[string]json.RawMessage `json:"extension"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		t.Fatal(err)
	}
	raw, ok := req.Extension[goldenAtExtension]
	if !ok {
		return goldenAt
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("extension %s: %v", goldenAtExtension, err)
	}
	at, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("extension %s: %v", goldenAtExtension, err)
	}
	return at
}

// fixtureService is the service that answers the hook of a testdata request.
func fixtureService(t testing.TB, body []byte) Service {
	t.Helper()
	var head struct {
		Hook string `json:"hook"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		t.Fatal(err)
	}
	svc, ok := ServiceForHook(head.Hook)
	if !ok {
		t.Fatalf("no service for hook %q", head.Hook)
	}
	return svc
}

// TestGolden runs every testdata/requests/*.json through the whole HTTP handler (the
// service of the request's hook: patient-view, order-select, order-sign) and
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
			at := fixtureAt(t, body)
			svc := fixtureService(t, body)
			o := testOptions(t, &fakeAuth{}, nil)
			o.Evaluator.Now = func() time.Time { return at }
			s := newTestServer(t, o)
			w := do(s.Handler(), http.MethodPost, "/cds-services/"+svc.ID, body, nil)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d, want 200: %s", w.Code, w.Body)
			}
			checkWire(t, w.Body.Bytes())
			golden.Compare(t, filepath.Join("../testdata/responses", name+".json"), w.Body.Bytes())
		})
	}
}
