package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nencds/nencds/internal/cli"
)

func TestHistQuantiles(t *testing.T) {
	t.Parallel()
	var h hist
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Millisecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.9, 900 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {1, 1000 * time.Millisecond}} {
		got := h.quantile(c.q)
		if rel := float64(got-c.want) / float64(c.want); rel < -0.02 || rel > 0.02 {
			t.Errorf("quantile(%v) = %s, want %s within 2%%", c.q, got, c.want)
		}
	}
	var merged hist
	merged.merge(&h)
	merged.merge(&h)
	if merged.n != 2000 || merged.quantile(0.5) != h.quantile(0.5) || merged.max != time.Second {
		t.Errorf("merge: n=%d p50=%s max=%s", merged.n, merged.quantile(0.5), merged.max)
	}
	if got := (&hist{}).quantile(0.5); got != 0 {
		t.Errorf("empty quantile = %s", got)
	}
}

func TestBucketsAreMonotonic(t *testing.T) {
	t.Parallel()
	prev := -1
	for v := uint64(0); v < 1<<20; v += 7 {
		b := bucketOf(v)
		if b < prev {
			t.Fatalf("bucketOf(%d) = %d < %d", v, b, prev)
		}
		if bucketValue(b) < v {
			t.Fatalf("bucketValue(%d) = %d below the value %d it holds", b, bucketValue(b), v)
		}
		prev = b
	}
}

func TestCheckTarget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url    string
		remote bool
		ok     bool
	}{
		{"http://127.0.0.1:8080", false, true},
		{"http://127.3.2.1:8080", false, true},
		{"http://localhost:8080", false, true},
		{"http://[::1]:8080", false, true},
		{"http://10.0.0.5:8080", false, false},
		{"http://192.168.1.2", false, false},
		{"https://cds.example.org", false, false},
		{"https://cds.example.org", true, true},
		{"ftp://127.0.0.1", false, false},
		{"127.0.0.1:8080", false, false},
	}
	for _, tc := range tests {
		err := checkTarget(tc.url, tc.remote)
		if (err == nil) != tc.ok {
			t.Errorf("checkTarget(%q, %v) = %v, want ok=%v", tc.url, tc.remote, err, tc.ok)
		}
	}
}

func TestFlagBounds(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"-c", "0"}, {"-c", "1000"}, {"-d", "0s"}, {"-d", "11m"}, {"-warmup", "2m"}, {"-fallback", "50ms"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags(%v) accepted", args)
		}
	}
	o, err := parseFlags([]string{"-spawn", "-fallback", "50ms", "-c", "4", "-d", "1s"}, io.Discard)
	if err != nil || o.Concurrency != 4 || o.Fallback != 50*time.Millisecond {
		t.Errorf("parseFlags: %+v, %v", o, err)
	}
}

func TestPhaseCountsRequestsAndErrors(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if n.Add(1)%3 == 0 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.Write([]byte(`{"cards":[]}`))
	}))
	defer srv.Close()
	// A whole second: on a saturated machine a shorter window may see no request finish.
	res, err := phase(context.Background(), newClient(2), "t", srv.URL, "", [][]byte{[]byte(`{}`)}, 2, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if res.requests == 0 || res.requests != res.lat.n {
		t.Fatalf("requests %d, latencies %d", res.requests, res.lat.n)
	}
	// Every third request the server saw failed; the window may cut a few in flight.
	if want := res.requests / 3; res.errors+2 < want || res.errors > want+2 {
		t.Errorf("errors %d of %d, want about a third", res.errors, res.requests)
	}
	if diff := cmp.Diff(map[int]uint64{500: res.errors}, res.statuses); diff != "" && res.errors > 0 {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
}

func TestFloorHandler(t *testing.T) {
	t.Parallel()
	h := floorHandler()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", "/cds-services/floor", strings.NewReader(`{"hook":"patient-view"}`)))
	var got struct{ Cards []map[string]any }
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || w.Code != 200 || len(got.Cards) != 1 {
		t.Errorf("floor: %d %s (%v)", w.Code, w.Body, err)
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", "/cds-services/floor", strings.NewReader(`{"hook":`)))
	if w.Code != http.StatusBadRequest {
		t.Errorf("floor with bad JSON: %d", w.Code)
	}
}

func TestFakeFHIRServesThePrefetch(t *testing.T) {
	t.Parallel()
	body := []byte(`{"hook":"patient-view","fhirAuthorization":{"access_token":"x"},"context":{"patientId":"p1"},"prefetch":{
		"patient":{"resourceType":"Patient","id":"p1"},
		"conditions":{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"Condition","id":"c1"}}]},
		"tasks":null}}`)
	fake, err := startFakeFHIR([][]byte{body}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	tests := []struct {
		path       string
		wantStatus int
		wantSub    string
	}{
		{"/Patient/p1", 200, `"id":"p1"`},
		{"/Condition?patient=p1", 200, `"id":"c1"`},
		{"/Task?patient=p1", 200, `"total":0`},
		{"/Procedure?patient=p1", 200, `"total":0`},
		{"/Condition?patient=other", 404, ""},
		{"/Unknown?patient=p1", 404, ""},
	}
	for _, tc := range tests {
		resp, err := http.Get(fake.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.wantStatus || !strings.Contains(string(b), tc.wantSub) {
			t.Errorf("GET %s: %d %s, want %d with %s", tc.path, resp.StatusCode, b, tc.wantStatus, tc.wantSub)
		}
	}
	stripped, err := withoutPrefetch([][]byte{body}, fake.URL)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(stripped[0], &m)
	if _, ok := m["prefetch"]; ok || m["fhirServer"] != fake.URL || m["fhirAuthorization"] != nil || m["hook"] != "patient-view" {
		t.Errorf("withoutPrefetch: %s", stripped[0])
	}
}

// TestSpawnEndToEnd runs the whole tool briefly against nencds in this process: every
// testdata request must answer 200, and the report must carry both targets and the ratio.
func TestSpawnEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	t.Parallel()
	var out strings.Builder
	err := realMain(context.Background(), []string{"-spawn", "-requests", "../../testdata/requests/*.json",
		"-c", "2", "-d", "300ms", "-warmup", "0s"}, &out)
	if err != nil {
		t.Fatalf("realMain: %v\n%s", err, out.String())
	}
	for _, want := range []string{"nencds", "floor", "throughput nencds/floor:", "p99/p50 nencds:", "heap after GC"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

// TestHelpAndVersion: -h prints the usage and exits 0; -version prints the version line.
func TestHelpAndVersion(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	err := realMain(context.Background(), []string{"-h"}, &out)
	if code := cli.ExitCode(err); code != 0 || !strings.Contains(out.String(), "-requests") {
		t.Errorf("nencds-load -h: exit status %d (%v), usage %q", code, err, out.String())
	}
	out.Reset()
	if err := realMain(context.Background(), []string{"-version"}, &out); err != nil || !strings.HasPrefix(out.String(), "nencds-load ") || !strings.Contains(out.String(), " commit ") {
		t.Errorf("nencds-load -version: %v, %q", err, out.String())
	}
}
