package hooks

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nencds/nencds/cards"
	"github.com/nencds/nencds/store"
)

// storeServer returns a patient-view handler over the store st as cmd/nencds wires it:
// suppression on (30 days), issued cards through the background queue, random card uuids.
func storeServer(b *testing.B, st store.Store) (http.Handler, func()) {
	q := store.NewQueue(st, store.QueueOptions{})
	o := testOptions(b, nil, nil)
	o.Store, o.Cards, o.SuppressFor = st, q, 30*24*time.Hour
	o.Evaluator.Engine = cards.NewEngine(cards.DefaultConfig(), nil)
	return newTestServer(b, o).Handler(), func() { q.Close(b.Context()) }
}

// benchSQLite opens a SQLite store in a temporary directory holding some history: 20 000
// cards of 2 000 other patients and 4 000 feedback items (so that the suppression lookup
// reads indexed tables, not empty ones).
func benchSQLite(b *testing.B) store.Store {
	st, err := store.Open(b.Context(), "sqlite:"+filepath.Join(b.TempDir(), "bench.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	now := time.Now()
	var cs []store.Card
	var fs []store.Feedback
	for i := range 20000 {
		uuid := fmt.Sprintf("hist-%d", i)
		cs = append(cs, store.Card{Issuer: "", ServiceID: PatientViewID, UUID: uuid, Hook: "patient-view", Topic: "net-ssa",
			Indicator: "info", Patient: st.Pseudonym("", fmt.Sprint("other-", i%2000)), Fingerprint: "f", Issued: now})
		if i%5 == 0 {
			fs = append(fs, store.Feedback{ServiceID: PatientViewID, Card: uuid, Outcome: "overridden", OutcomeTime: now, Received: now})
		}
	}
	if err := st.PutCards(b.Context(), cs); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < len(fs); i += 100 {
		if _, err := st.PutFeedback(b.Context(), fs[i:min(i+100, len(fs))]); err != nil {
			b.Fatal(err)
		}
	}
	return st
}

// BenchmarkPatientViewStore compares the patient-view handler with the SQLite store
// (suppression lookup, issued cards queued) and with -db memory, on the same 58-resource
// request, interleaved (one call of each per iteration, so that the machine's background
// weighs on both alike). It reports the p50 of each and their ratio (target: sqlite p50 ≤
// 1.15 × memory p50).
func BenchmarkPatientViewStore(b *testing.B) {
	body, err := os.ReadFile("../testdata/requests/perf-50-resources.json")
	if err != nil {
		b.Fatal(err)
	}
	mem, err := store.NewMemory(store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	hm, closeM := storeServer(b, mem)
	defer closeM()
	hs, closeS := storeServer(b, benchSQLite(b))
	defer closeS()
	var mt, st []time.Duration
	for b.Loop() {
		mt = append(mt, timedServe(b, hm, "/cds-services/"+PatientViewID, body))
		st = append(st, timedServe(b, hs, "/cds-services/"+PatientViewID, body))
	}
	reportP50Ratio(b, "memory", mt, "sqlite", st)
}

// BenchmarkFeedbackIngest posts feedback to the handler with the SQLite store, from
// GOMAXPROCS×4 concurrent clients, items per request 1 and 10 (every item new, each
// request one committed transaction), and reports items/s.
func BenchmarkFeedbackIngest(b *testing.B) {
	for _, per := range []int{1, 10} {
		b.Run(fmt.Sprintf("sqlite/items=%d", per), func(b *testing.B) {
			st, err := store.Open(b.Context(), "sqlite:"+filepath.Join(b.TempDir(), "bench.db"), store.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			h, closeQ := storeServer(b, st)
			defer closeQ()
			var n atomic.Int64
			b.SetParallelism(4)
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					var buf bytes.Buffer
					buf.WriteString(`{"feedback":[`)
					for j := range per {
						if j > 0 {
							buf.WriteByte(',')
						}
						fmt.Fprintf(&buf, `{"card":"card-%d","outcome":"overridden","overrideReason":{"reason":{"system":"%s","code":"clinical-judgement"}},"outcomeTimestamp":"2026-06-01T12:05:00Z"}`,
							n.Add(1), cards.OverrideSystem)
					}
					buf.WriteString(`]}`)
					req := httptest.NewRequest(http.MethodPost, "/cds-services/"+PatientViewID+"/feedback", &buf)
					req.Header.Set("Authorization", "Bearer good")
					req.Header.Set("Content-Type", "application/json")
					w := httptest.NewRecorder()
					h.ServeHTTP(w, req)
					if w.Code != http.StatusOK {
						b.Errorf("status %d: %s", w.Code, w.Body)
						return
					}
				}
			})
			b.ReportMetric(float64(n.Load())/time.Since(start).Seconds(), "items/s")
		})
	}
}
