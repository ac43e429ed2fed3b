package hooks

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
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
	// The recorder's body is one buffer reused by every call, so that the figures are the
	// handler's, not the growth of a fresh recorder's buffer (a server writes to its
	// connection's buffered writer).
	out := bytes.NewBuffer(make([]byte, 0, 256<<10))
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/cds-services/"+PatientViewID, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer good")
		req.Header.Set("Content-Type", "application/json")
		out.Reset()
		w := httptest.NewRecorder()
		w.Body = out
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// orderSignBody is perf-50-resources.json as an order-sign request with three draft
// orders (everolimus, lanreotide, a contrast CT), built here so that the patient-view
// fixture stays the largest request of testdata.
func orderSignBody(b *testing.B) (pv, sign []byte) {
	pv, err := os.ReadFile("../testdata/requests/perf-50-resources.json")
	if err != nil {
		b.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(pv, &m); err != nil {
		b.Fatal(err)
	}
	ctx := m["context"].(map[string]any)
	pid, _ := ctx["patientId"].(string)
	subject := map[string]any{"reference": "Patient/" + pid}
	rx := "http://www.nlm.nih.gov/research/umls/rxnorm"
	mr := func(id, code, name, dose string) map[string]any {
		return map[string]any{"resource": map[string]any{"resourceType": "MedicationRequest", "id": id, "status": "draft", "intent": "order",
			"medicationCodeableConcept": map[string]any{"coding": []any{map[string]any{"system": rx, "code": code, "display": name}}, "text": name},
			"subject":                   subject, "dosageInstruction": []any{map[string]any{"text": dose}}}}
	}
	ctx["draftOrders"] = map[string]any{"resourceType": "Bundle", "type": "collection", "entry": []any{
		mr("everolimus-draft", "141704", "everolimus", "10 mg PO once daily"),
		map[string]any{"resource": map[string]any{"resourceType": "MedicationRequest", "id": "lanreotide-draft", "status": "draft", "intent": "order",
			"medicationCodeableConcept": map[string]any{"text": "lanreotide 120 mg deep SC every 4 weeks"}, "subject": subject}},
		map[string]any{"resource": map[string]any{"resourceType": "ServiceRequest", "id": "ct-draft", "status": "draft", "intent": "order",
			"code":    map[string]any{"coding": []any{map[string]any{"system": "http://www.ama-assn.org/go/cpt", "code": "74177"}}, "text": "CT abdomen and pelvis with contrast"},
			"subject": subject}},
	}}
	m["hook"] = "order-sign"
	sign, err = json.Marshal(m)
	if err != nil {
		b.Fatal(err)
	}
	return pv, sign
}

// BenchmarkOrderSignVsPatientView measures order-sign (3 draft orders) and patient-view
// on the same 58-resource record through the whole HTTP handler, interleaved (one of
// each per iteration, so that the machine's background weighs on both alike), and
// reports the p50 of each and their ratio (target: order-sign p50 ≤ 1.2 × patient-view).
func BenchmarkOrderSignVsPatientView(b *testing.B) {
	pv, sign := orderSignBody(b)
	s := newTestServer(b, testOptions(b, nil, nil))
	h := s.Handler()
	if !strings.Contains(string(mustServe(b, h, "/cds-services/"+OrderSignID, sign)), `"order-check"`) {
		b.Fatal("the order-sign request raised no order check: the benchmark would measure an empty answer")
	}
	var pvTimes, signTimes []time.Duration
	b.ReportAllocs()
	for b.Loop() {
		pvTimes = append(pvTimes, timedServe(b, h, "/cds-services/"+PatientViewID, pv))
		signTimes = append(signTimes, timedServe(b, h, "/cds-services/"+OrderSignID, sign))
	}
	reportP50Ratio(b, "pv", pvTimes, "sign", signTimes)
}

// reportP50Ratio reports the p50 of two interleaved series of call times (base and other,
// in µs) and their ratio other/base: the figure the side-by-side benchmarks compare.
func reportP50Ratio(b *testing.B, baseName string, base []time.Duration, otherName string, other []time.Duration) {
	p50 := func(ds []time.Duration) float64 {
		s := slices.Clone(ds)
		slices.Sort(s)
		return float64(s[len(s)/2].Microseconds())
	}
	base50, other50 := p50(base), p50(other)
	b.ReportMetric(base50, baseName+"-p50-µs")
	b.ReportMetric(other50, otherName+"-p50-µs")
	if base50 > 0 {
		b.ReportMetric(other50/base50, otherName+"/"+baseName+"-p50")
	}
}

// mustServe posts body to path through h with the test client's token and returns the
// answer, which must be a 200.
func mustServe(b *testing.B, h http.Handler, path string, body []byte) []byte {
	w, _ := serve(b, h, path, body)
	return w.Body.Bytes()
}

// timedServe is mustServe that returns how long the handler took.
func timedServe(b *testing.B, h http.Handler, path string, body []byte) time.Duration {
	_, d := serve(b, h, path, body)
	return d
}

func serve(b *testing.B, h http.Handler, path string, body []byte) (*httptest.ResponseRecorder, time.Duration) {
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer good")
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	start := time.Now()
	h.ServeHTTP(w, req)
	d := time.Since(start)
	if w.Code != http.StatusOK {
		b.Fatalf("%s: status %d: %s", path, w.Code, w.Body)
	}
	return w, d
}
