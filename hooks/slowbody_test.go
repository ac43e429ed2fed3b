package hooks

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestSlowBodiesHoldNoSlot: connections that drip their bodies byte by byte fill more
// than MaxInFlight, yet a legitimate call is answered, and each slow body gets 408 once
// its body deadline passes. (Before: the slot was taken before the body was read, and
// the legitimate call got 503 until the server's ReadTimeout.)
func TestSlowBodiesHoldNoSlot(t *testing.T) {
	t.Parallel()
	o := testOptions(t, nil, nil)
	o.MaxInFlight = 2
	o.BodyTimeout = 500 * time.Millisecond
	s := newTestServer(t, o)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	body := fixture(t)

	const slow = 6 // three times MaxInFlight
	conns := make([]net.Conn, 0, slow)
	for range slow {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST /cds-services/%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer good\r\n"+
			"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", PatientViewID, len(body), body[:1])
		conns = append(conns, conn)
	}
	// Let every slow request reach its handler (each has sent its headers).
	time.Sleep(100 * time.Millisecond)

	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/cds-services/"+PatientViewID, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer good")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("legitimate call while %d bodies drip: status %d, want 200", slow, resp.StatusCode)
	}

	for i, conn := range conns {
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		r, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("slow connection %d: %v", i, err)
		}
		var b strings.Builder
		bufio.NewReader(r.Body).WriteTo(&b)
		r.Body.Close()
		if r.StatusCode != http.StatusRequestTimeout {
			t.Errorf("slow connection %d: status %d, want 408: %.200s", i, r.StatusCode, b.String())
			continue
		}
		if !strings.Contains(b.String(), `"code":"timeout"`) || !strings.Contains(b.String(), "not received in time") {
			t.Errorf("slow connection %d: not a timeout OperationOutcome: %.200s", i, b.String())
		}
	}
}
