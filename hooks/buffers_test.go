package hooks

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/nencds/nencds/cards"
	"github.com/nencds/nencds/store"
)

// TestReadBodyPooledAsReadBody: the pooled read gives the bytes and the errors (kind and
// words) of ReadBody for every announced length: right, short, long, unknown, beyond
// the limit; readers that return one byte at a time, fail, time out, or stop at
// MaxBytesReader's cap.
func TestReadBodyPooledAsReadBody(t *testing.T) {
	t.Parallel()
	const limit = 1000
	body := func(n int) []byte { return bytes.Repeat([]byte("x"), n) }
	type reader func(b []byte) io.Reader
	readers := map[string]reader{
		"plain":    func(b []byte) io.Reader { return bytes.NewReader(b) },
		"one byte": func(b []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(b)) },
		"half":     func(b []byte) io.Reader { return iotest.HalfReader(bytes.NewReader(b)) },
		"failing": func(b []byte) io.Reader {
			return io.MultiReader(bytes.NewReader(b), iotest.ErrReader(errors.New("connection reset")))
		},
		"deadline": func(b []byte) io.Reader {
			return io.MultiReader(bytes.NewReader(b), iotest.ErrReader(os.ErrDeadlineExceeded))
		},
		"max bytes": func(b []byte) io.Reader {
			return http.MaxBytesReader(httptest.NewRecorder(), io.NopCloser(bytes.NewReader(b)), limit)
		},
	}
	for _, n := range []int{0, 1, 511, 512, 513, limit - 1, limit, limit + 1, 3 * limit} {
		for _, size := range []int64{-1, 0, int64(n), int64(n) - 1, int64(n) + 1, limit, limit + 1, 1 << 40} {
			for name, r := range readers {
				want, wantErr := ReadBody(r(body(n)), Limits{MaxBytes: limit})
				buf, got, err := readBodyPooled(r(body(n)), size, Limits{MaxBytes: limit})
				if buf == nil {
					t.Fatalf("n=%d size=%d %s: no buffer to give back", n, size, name)
				}
				if !bytes.Equal(got, want) || fmt.Sprint(err) != fmt.Sprint(wantErr) || KindOf(err) != KindOf(wantErr) {
					t.Errorf("n=%d size=%d %s: got %d bytes, %v (%v); ReadBody: %d bytes, %v (%v)",
						n, size, name, len(got), err, KindOf(err), len(want), wantErr, KindOf(wantErr))
				}
			}
		}
	}
}

// TestReadAllSized: a body of the announced length ends in a buffer of its length plus
// one (the read that sees EOF), from any starting buffer; unknown or wrong lengths still
// read everything.
func TestReadAllSized(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 100, 511, 4096, 74281, bodyPresize, bodyPresize + 1, 3*bodyPresize + 7} {
		data := bytes.Repeat([]byte{'a'}, n)
		for _, start := range []int{0, 1, 512, min(n+1, bodyPresize)} {
			got, err := readAll(bytes.NewReader(data), make([]byte, 0, start), int64(n))
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("n=%d start=%d: %d bytes, %v", n, start, len(got), err)
			}
			if start <= n && cap(got) != n+1 {
				t.Errorf("n=%d start=%d: capacity %d, want %d", n, start, cap(got), n+1)
			}
		}
		for _, size := range []int64{-1, 0, int64(n / 2), int64(2*n + 1)} {
			got, err := readAll(iotest.HalfReader(bytes.NewReader(data)), nil, size)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("n=%d size=%d: %d bytes, %v", n, size, len(got), err)
			}
		}
	}
}

// TestBodyOnTheWire: through a real server, a chunked body (no Content-Length) is answered
// as the same body with one; a chunked or announced body beyond MaxBytes is 413; a body
// shorter than its Content-Length is 400.
func TestBodyOnTheWire(t *testing.T) {
	t.Parallel()
	body := fixture(t)
	o := testOptions(t, nil, nil)
	o.Limits.MaxBytes = int64(len(body))
	srv := httptest.NewServer(newTestServer(t, o).Handler())
	defer srv.Close()
	url := srv.URL + "/cds-services/" + PatientViewID
	post := func(r io.Reader, length int64) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, url, r)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = length
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer good")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	uuids := regexp.MustCompile(`00000000-0000-4000-8000-\d{12}`)
	wantStatus, want := post(bytes.NewReader(body), int64(len(body)))
	if wantStatus != http.StatusOK {
		t.Fatalf("with Content-Length: status %d: %.300s", wantStatus, want)
	}
	// io.MultiReader hides the length: the client sends the body chunked.
	status, got := post(io.MultiReader(bytes.NewReader(body)), -1)
	if status != http.StatusOK || uuids.ReplaceAllString(got, "U") != uuids.ReplaceAllString(want, "U") {
		t.Errorf("chunked: status %d, answer differs from the one with a Content-Length:\n%.300s", status, got)
	}
	over := append(bytes.Clone(body), ' ')
	for _, length := range []int64{int64(len(over)), -1} {
		status, got := post(io.MultiReader(bytes.NewReader(over)), length)
		if status != http.StatusRequestEntityTooLarge || !strings.Contains(got, fmt.Sprintf("over %d bytes", len(body))) {
			t.Errorf("%d bytes, Content-Length %d: status %d, want 413: %.300s", len(over), length, status, got)
		}
	}

	// A Content-Length longer than the body, then the client stops sending.
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /cds-services/%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer good\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", PatientViewID, len(body), body[:len(body)/2])
	conn.(*net.TCPConn).CloseWrite()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "could not be read") {
		t.Errorf("short body: status %d, want 400: %.300s", resp.StatusCode, b)
	}
}

// recordingStore keeps everything handed to the store, as handed.
type recordingStore struct {
	*store.Memory
	mu       sync.Mutex
	cards    []store.Card
	feedback []store.Feedback
}

func (r *recordingStore) PutCards(ctx context.Context, cs []store.Card) error {
	r.mu.Lock()
	r.cards = append(r.cards, cs...)
	r.mu.Unlock()
	return r.Memory.PutCards(ctx, cs)
}

func (r *recordingStore) PutFeedback(ctx context.Context, items []store.Feedback) ([]store.Put, error) {
	r.mu.Lock()
	r.feedback = append(r.feedback, items...)
	r.mu.Unlock()
	return r.Memory.PutFeedback(ctx, items)
}

type call struct{ path, body string }

// TestBodyPoolPoisoned: every body buffer is overwritten as it goes back to the pool.
// Every testdata request, a feedback call on the first card of each answer, bad bodies,
// and the requests again (now suppressed) give the same answers and the same store
// contents as a server without poisoning; and the calls sent concurrently, under -race,
// give the same answers (a goroutine still reading a body after its handler would race
// with the poisoning, a sub-slice kept would answer poison).
func TestBodyPoolPoisoned(t *testing.T) {
	t.Parallel()
	fixtures := metaFixtures(t)
	requests := make([]call, len(fixtures))
	for i, fx := range fixtures {
		requests[i] = call{"/cds-services/" + fx.service, string(fx.body)}
	}
	bad := []call{
		{"/cds-services/" + PatientViewID, `{"hook":"patient-view","hookInstance":`},
		{"/cds-services/" + PatientViewID, strings.Replace(string(fixture(t)), `"patient-view"`, `"order-sign"`, 1)},
		{"/cds-services/" + PatientViewID + "/feedback", `{"feedback":[{"card":"c1","outcome":"ignored","outcomeTimestamp":"2026-06-01T12:05:00Z"}]}`},
	}

	type server struct {
		h        http.Handler
		st       *recordingStore
		released int
	}
	newServer := func(poison bool) *server {
		o := testOptions(t, nil, nil)
		mem, err := store.NewMemory(store.Options{Key: bytes.Repeat([]byte("k"), store.MinKeyBytes)})
		if err != nil {
			t.Fatal(err)
		}
		st := &recordingStore{Memory: mem}
		o.Store = st
		o.SuppressFor = 30 * 24 * time.Hour
		o.Clock = func() time.Time { return goldenAt }
		s := newTestServer(t, o)
		srv := &server{h: s.Handler(), st: st}
		if poison {
			var mu sync.Mutex
			s.onRelease = func(b []byte) {
				mu.Lock()
				srv.released++
				mu.Unlock()
				for i := range b[:cap(b)] {
					b[:cap(b)][i] = 0xA5
				}
			}
		}
		return srv
	}
	send := func(s *server, calls []call) []string {
		out := make([]string, len(calls))
		for i, c := range calls {
			w := do(s.h, http.MethodPost, c.path, []byte(c.body), nil)
			out[i] = fmt.Sprintf("%d %s", w.Code, w.Body)
		}
		return out
	}
	// The sequence: the requests; overrides of the first card of each answer; bad
	// bodies; the requests again.
	script := func(s *server) (first, feedback, again []string) {
		first = send(s, requests)
		var fb []call
		for _, a := range first {
			var resp cards.Response
			if json.Unmarshal([]byte(a[4:]), &resp) != nil || len(resp.Cards) == 0 {
				continue
			}
			fb = append(fb, call{"/cds-services/" + PatientViewID + "/feedback", fmt.Sprintf(
				`{"feedback":[{"card":%q,"outcome":"overridden","overrideReason":{"userComment":"seen"},"outcomeTimestamp":"2026-06-01T12:05:00Z"}]}`,
				resp.Cards[0].UUID)})
		}
		feedback = send(s, append(fb, bad...))
		again = send(s, requests)
		return first, feedback, again
	}
	ref, poisoned := newServer(false), newServer(true)
	f1, fb1, a1 := script(ref)
	f2, fb2, a2 := script(poisoned)
	for i := range f1 {
		if f1[i] != f2[i] || a1[i] != a2[i] {
			t.Errorf("%s: the answer differs with poisoned buffers", fixtures[i].name)
		}
	}
	if !reflect.DeepEqual(fb1, fb2) {
		t.Errorf("feedback answers differ with poisoned buffers:\n%v\n%v", fb1, fb2)
	}
	if len(fb1) <= len(bad) || !strings.HasPrefix(fb1[0], "200") {
		t.Fatalf("no feedback was accepted: %v", fb1)
	}
	if !reflect.DeepEqual(ref.st.cards, poisoned.st.cards) || !reflect.DeepEqual(ref.st.feedback, poisoned.st.feedback) {
		t.Errorf("store contents differ with poisoned buffers")
	}
	r1, err1 := ref.st.Report(context.Background(), time.Time{})
	r2, err2 := poisoned.st.Report(context.Background(), time.Time{})
	if err1 != nil || err2 != nil || !reflect.DeepEqual(r1, r2) {
		t.Errorf("reports differ with poisoned buffers: %v %v", err1, err2)
	}
	if want := 2*len(requests) + len(fb1); poisoned.released != want {
		t.Errorf("%d buffers given back, want one per call (%d)", poisoned.released, want)
	}

	// Concurrently: the same answers (card uuids aside: their order is the order of calls).
	uuids := regexp.MustCompile(`00000000-0000-4000-8000-\d{12}`)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got := send(poisoned, requests)
			for i := range got {
				if uuids.ReplaceAllString(got[i], "U") != uuids.ReplaceAllString(a1[i], "U") {
					t.Errorf("goroutine %d, %s: the answer differs with poisoned buffers", g, fixtures[i].name)
				}
			}
		}()
	}
	wg.Wait()
}
