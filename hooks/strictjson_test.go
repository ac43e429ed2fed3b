package hooks

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
)

// TestStrictRequestJSON: a key given twice and a string that is not valid UTF-8 answer
// 400 with an OperationOutcome that names the place, on the service and on feedback.
// (Before: encoding/json kept the last "hook" and replaced bad bytes, and answered 200.)
func TestStrictRequestJSON(t *testing.T) {
	t.Parallel()
	svc := "/cds-services/" + PatientViewID
	good := fixture(t)
	twice := bytes.Replace(good, []byte(`"hook"`), []byte(`"hook": "order-select", "hook"`), 1)
	escapedTwice := bytes.Replace(good, []byte(`"hookInstance"`), []byte(`"ho\u006fk": "order-select", "hookInstance"`), 1)
	badUTF8 := bytes.Replace(good, []byte(`"hookInstance": "`), []byte("\"hookInstance\": \"\xff"), 1)
	if bytes.Equal(twice, good) || bytes.Equal(badUTF8, good) || bytes.Equal(escapedTwice, good) {
		t.Fatal("the fixture changed shape: the edits did not apply")
	}
	tests := []struct {
		name, path string
		body       []byte
		want       string
	}{
		{"hook twice", svc, twice, "a key is given twice"},
		{"hook twice, once escaped", svc, escapedTwice, "a key is given twice"},
		{"nested key twice", svc, bytes.Replace(good, []byte(`"patientId"`), []byte(`"userId": "x", "patientId"`), 1), "a key is given twice"},
		{"invalid UTF-8", svc, badUTF8, "not valid UTF-8"},
		{"lone surrogate", svc, bytes.Replace(good, []byte(`"hookInstance": "`), []byte(`"hookInstance": "\ud800`), 1), "surrogate"},
		{"feedback key twice", svc + "/feedback", []byte(`{"feedback":[],"feedback":[]}`), "a key is given twice"},
		{"feedback invalid UTF-8", svc + "/feedback", []byte("{\"feedback\":[{\"card\":\"\xc3\"}]}"), "not valid UTF-8"},
	}
	s := newTestServer(t, testOptions(t, nil, nil))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(s.Handler(), http.MethodPost, tt.path, tt.body, nil)
			if w.Code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %.200s", w.Code, w.Body)
			}
			if got := diags(outcomeOf(t, w.Body.Bytes())); !strings.Contains(got, tt.want) || !strings.Contains(got, "line ") {
				t.Errorf("diagnostics %q, want %q with its line", got, tt.want)
			}
		})
	}
	if w := do(s.Handler(), http.MethodPost, svc, good, nil); w.Code != http.StatusOK {
		t.Fatalf("the fixture itself: status %d: %.200s", w.Code, w.Body)
	}
}
