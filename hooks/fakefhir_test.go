package hooks

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeFHIR is a hand-written FHIR server holding one patient's resources (taken from the
// prefetch of a request fixture). Its knobs make it slow, failing, paginated, looping or
// redirecting; it records every request.
type fakeFHIR struct {
	srv     *httptest.Server
	byType  map[string][]json.RawMessage
	patient json.RawMessage

	pageSize   int           // entries per page (0: all in one)
	status     int           // answer every request with this status when non-zero
	delay      time.Duration // wait before answering (or until the request ends)
	ooBody     bool          // answer every request with an OperationOutcome
	ooEntry    bool          // add an error OperationOutcome entry to every search page
	loop       bool          // the next link of the last page points back to the first
	nextBase   string        // next links use this base instead of the server's own
	redirectTo string        // redirect every request to this base
	barrier    int           // hold requests until this many are in flight (0: off)
	// readStatus and readDelay make the read of one resource ("Medication/id") fail
	// with a status or answer late.
	readStatus map[string]int
	readDelay  map[string]time.Duration
	slowPages  bool // hold every page after the first until the request ends
	tomcat     bool // refuse a request line with a raw character outside RFC 3986 (400), as Tomcat does

	hits     atomic.Int64
	mu       sync.Mutex
	auths    []string
	paths    []string
	inFlight int
	arrived  chan struct{}
}

// newFakeFHIR serves the prefetch of the request fixture body; tls picks https.
func newFakeFHIR(t testing.TB, body []byte, tls bool, knobs func(*fakeFHIR)) *fakeFHIR {
	t.Helper()
	f := &fakeFHIR{byType: map[string][]json.RawMessage{}, arrived: make(chan struct{})}
	var req struct {
		Prefetch map[string]json.RawMessage `json:"prefetch"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		t.Fatal(err)
	}
	for _, key := range PrefetchKeys {
		v := req.Prefetch[key]
		var doc struct {
			ResourceType string `json:"resourceType"`
			Entry        []struct {
				Resource json.RawMessage `json:"resource"`
			} `json:"entry"`
		}
		if len(v) == 0 || string(v) == "null" {
			continue
		}
		if err := json.Unmarshal(v, &doc); err != nil {
			t.Fatal(err)
		}
		if doc.ResourceType == "Patient" {
			f.patient = v
			continue
		}
		for _, e := range doc.Entry {
			var r struct {
				ResourceType string `json:"resourceType"`
			}
			json.Unmarshal(e.Resource, &r)
			f.byType[r.ResourceType] = append(f.byType[r.ResourceType], e.Resource)
		}
	}
	if knobs != nil {
		knobs(f)
	}
	f.srv = httptest.NewUnstartedServer(f)
	f.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused TLS clients are expected
	if tls {
		f.srv.StartTLS()
	} else {
		f.srv.Start()
	}
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeFHIR) URL() string { return f.srv.URL }

func (f *fakeFHIR) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.hits.Add(1)
	if f.tomcat && strings.ContainsAny(r.RequestURI, "|{}[]^`\"<>\\ ") {
		// Tomcat's default (relaxedQueryChars unset): "Invalid character found in the
		// request target", 400, before any servlet runs.
		http.Error(w, "Invalid character found in the request target", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.auths = append(f.auths, r.Header.Get("Authorization"))
	f.paths = append(f.paths, r.URL.RequestURI())
	f.inFlight++
	if f.barrier > 0 && f.inFlight == f.barrier {
		close(f.arrived)
	}
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inFlight--
		f.mu.Unlock()
	}()
	if f.barrier > 0 {
		select {
		case <-f.arrived:
		case <-time.After(5 * time.Second):
			http.Error(w, "requests arrived one by one", http.StatusInternalServerError)
			return
		}
	}
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-r.Context().Done():
			return
		}
	}
	if f.slowPages && r.URL.Query().Get("_page") != "" && r.URL.Query().Get("_page") != "0" {
		<-r.Context().Done()
		return
	}
	if f.redirectTo != "" {
		http.Redirect(w, r, f.redirectTo+r.URL.RequestURI(), http.StatusFound)
		return
	}
	if f.status != 0 {
		w.WriteHeader(f.status)
		fmt.Fprint(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"exception"}]}`)
		return
	}
	w.Header().Set("Content-Type", "application/fhir+json")
	if f.ooBody {
		fmt.Fprint(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"forbidden"}]}`)
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	typ := parts[len(parts)-1]
	if n := len(parts); n >= 2 && parts[n-2] == "Medication" {
		f.read(w, r, parts[n-2], parts[n-1])
		return
	}
	if len(parts) >= 2 && parts[len(parts)-2] == "Patient" {
		if f.patient == nil || PatientIDOf(f.patient) != parts[len(parts)-1] {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-found"}]}`)
			return
		}
		w.Write(f.patient)
		return
	}
	all := f.byType[typ]
	page, _ := strconv.Atoi(r.URL.Query().Get("_page"))
	size := f.pageSize
	if size <= 0 {
		size = max(len(all), 1)
	}
	lo, hi := min(page*size, len(all)), min((page+1)*size, len(all))
	b := map[string]any{"resourceType": "Bundle", "type": "searchset", "total": len(all)}
	var entries []map[string]any
	for _, res := range all[lo:hi] {
		entries = append(entries, map[string]any{"resource": res, "search": map[string]string{"mode": "match"}})
	}
	if f.ooEntry {
		entries = append(entries, map[string]any{
			"resource": json.RawMessage(`{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"too-costly"}]}`),
			"search":   map[string]string{"mode": "outcome"},
		})
	}
	if entries != nil {
		b["entry"] = entries
	}
	base := f.srv.URL
	if f.nextBase != "" {
		base = f.nextBase
	}
	q := url.Values{"patient": {r.URL.Query().Get("patient")}}
	switch {
	case hi < len(all):
		q.Set("_page", strconv.Itoa(page+1))
		b["link"] = []map[string]string{{"relation": "next", "url": base + "/" + typ + "?" + q.Encode()}}
	case f.loop && page > 0:
		q.Set("_page", "0")
		b["link"] = []map[string]string{{"relation": "next", "url": base + "/" + typ + "?" + q.Encode()}}
	}
	json.NewEncoder(w).Encode(b)
}

func (f *fakeFHIR) seenAuths() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.auths...)
}

func (f *fakeFHIR) seenPaths() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.paths...)
}

// read answers GET {typ}/{id} with the resource of that id among those served, or 404.
func (f *fakeFHIR) read(w http.ResponseWriter, r *http.Request, typ, id string) {
	ref := typ + "/" + id
	if d := f.readDelay[ref]; d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	if st := f.readStatus[ref]; st != 0 {
		w.WriteHeader(st)
		fmt.Fprint(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"exception"}]}`)
		return
	}
	for _, res := range f.byType[typ] {
		var p struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(res, &p) == nil && p.ID == id {
			w.Write(res)
			return
		}
	}
	w.WriteHeader(http.StatusNotFound)
	fmt.Fprint(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-found"}]}`)
}
