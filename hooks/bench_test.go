package hooks

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// largestRequest returns the largest testdata request.
func largestRequest(b *testing.B) (string, []byte) {
	files, err := filepath.Glob("../testdata/requests/*.json")
	if err != nil || len(files) == 0 {
		b.Fatal("no testdata/requests/*.json")
	}
	var name string
	var body []byte
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		if len(data) > len(body) {
			name, body = filepath.Base(f), data
		}
	}
	return name, body
}

// BenchmarkHandler measures the whole HTTP handler (authentication, decoding, prefetch
// resolution, mapping, rules, rendering) with the largest testdata request.
func BenchmarkHandler(b *testing.B) {
	name, body := largestRequest(b)
	b.Logf("request %s, %d bytes", name, len(body))
	s := newTestServer(b, testOptions(b, nil, nil))
	h := s.Handler()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/cds-services/"+PatientViewID, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer good")
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}
