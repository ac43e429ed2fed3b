package hooks

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/nencds/nencds/hooks/auth"
	"github.com/nencds/nencds/internal/security"
)

// FuzzDecodeRequest: the decoder and validator never panic, and every error is a client
// error (400 or 413), never a 500.
func FuzzDecodeRequest(f *testing.F) {
	files, _ := filepath.Glob("../testdata/requests/*.json")
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"hook":"patient-view","hookInstance":"x","context":{"patientId":"1","userId":"u"},"prefetch":{"patient":null}}`))
	f.Add([]byte(`{"a":"\"\\"}`))
	f.Add([]byte(`[[[[[[`))
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := DecodeRequest(data, Limits{MaxDepth: 16, MaxString: 4096})
		if err != nil {
			if k := KindOf(err); k != KindInvalid && k != KindTooLarge {
				t.Fatalf("kind %v for bad input: %v", k, err)
			}
			return
		}
		if err := req.Validate(PatientView()); err != nil && KindOf(err) != KindInvalid {
			t.Fatalf("Validate: kind %v: %v", KindOf(err), err)
		}
	})
}

// FuzzPrefetch: any prefetch value for any key, through resolution (no FHIR server) and
// the whole handler: never a panic, never a 500.
func FuzzPrefetch(f *testing.F) {
	f.Add("conditions", []byte(`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"Condition","id":"c"}}]}`))
	f.Add("patient", []byte(`{"resourceType":"Patient","id":"net-g2-metastatic","birthDate":"1962"}`))
	f.Add("observations", []byte(`{"resourceType":"OperationOutcome"}`))
	f.Add("observations", []byte(`{"resourceType":"Bundle","link":[{"relation":"next","url":"http://169.254.169.254/"}]}`))
	f.Add("tasks", []byte(`null`))
	f.Add("procedures", []byte(`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Procedure","performedDateTime":"x"}},{"resource":7}]}`))
	base := fixture(f)
	o := testOptions(f, nil, &dialRecorder{})
	o.Mode, o.Authenticator = security.Development(), nil
	s := newTestServer(f, o)
	f.Fuzz(func(t *testing.T, key string, value []byte) {
		var m map[string]any
		if err := json.Unmarshal(base, &m); err != nil {
			t.Fatal(err)
		}
		m["prefetch"].(map[string]any)[key] = json.RawMessage(value)
		body, err := json.Marshal(m)
		if err != nil {
			return // not JSON: the decoder's fuzz target covers it
		}
		w := do(s.Handler(), http.MethodPost, "/cds-services/"+PatientViewID, body, nil)
		if w.Code >= 500 {
			t.Fatalf("status %d for prefetch %q = %s: %s", w.Code, key, value, w.Body)
		}
		if req, err := DecodeRequest(body, Limits{}); err == nil && req.Validate(PatientView()) == nil {
			r := &Resolver{}
			if _, err := r.Resolve(context.Background(), req, auth.Client{}); err != nil && KindOf(err) == KindInternal {
				t.Fatalf("Resolve: internal error: %v", err)
			}
		}
	})
}
