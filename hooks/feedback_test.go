package hooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/go-cmp/cmp"

	"github.com/nencds/nencds/cards"
	"github.com/nencds/nencds/hooks/auth"
	"github.com/nencds/nencds/store"
)

func TestFeedback(t *testing.T) {
	t.Parallel()
	const ts = `"outcomeTimestamp":"2026-06-01T12:05:00Z"`
	tests := []struct {
		name   string
		body   string
		status int
		want   string
	}{
		{name: "accepted", body: `{"feedback":[{"card":"c1","outcome":"accepted","acceptedSuggestions":[{"id":"s1"}],` + ts + `}]}`, status: 200},
		{name: "overridden bare", body: `{"feedback":[{"card":"c1","outcome":"overridden",` + ts + `}]}`, status: 200},
		{name: "overridden with reason", body: `{"feedback":[{"card":"c1","outcome":"overridden","overrideReason":{"reason":{"system":"s","code":"patient-declined","display":"Patient declined"}},` + ts + `}]}`, status: 200},
		{name: "overridden with comment", body: `{"feedback":[{"card":"c1","outcome":"overridden","overrideReason":{"userComment":"seen elsewhere"},` + ts + `}]}`, status: 200},
		{name: "several", body: `{"feedback":[{"card":"c1","outcome":"overridden",` + ts + `},{"card":"c2","outcome":"accepted","acceptedSuggestions":[{"id":"s"}],` + ts + `}]}`, status: 200},
		{name: "no feedback", body: `{}`, status: 400, want: "feedback is required"},
		{name: "empty feedback", body: `{"feedback":[]}`, status: 400, want: "at least one item"},
		{name: "no card", body: `{"feedback":[{"outcome":"overridden",` + ts + `}]}`, status: 400, want: "feedback[0]: card is required"},
		{name: "no outcome", body: `{"feedback":[{"card":"c1",` + ts + `}]}`, status: 400, want: "outcome is required"},
		{name: "bad outcome", body: `{"feedback":[{"card":"c1","outcome":"ignored",` + ts + `}]}`, status: 400, want: "accepted or overridden"},
		{name: "accepted without suggestions", body: `{"feedback":[{"card":"c1","outcome":"accepted",` + ts + `}]}`, status: 400, want: "acceptedSuggestions is required"},
		{name: "suggestion without id", body: `{"feedback":[{"card":"c1","outcome":"accepted","acceptedSuggestions":[{}],` + ts + `}]}`, status: 400, want: "acceptedSuggestions[0].id"},
		{name: "accepted with override reason", body: `{"feedback":[{"card":"c1","outcome":"accepted","acceptedSuggestions":[{"id":"s"}],"overrideReason":{"userComment":"x"},` + ts + `}]}`, status: 400, want: "only for the outcome overridden"},
		{name: "overridden with suggestions", body: `{"feedback":[{"card":"c1","outcome":"overridden","acceptedSuggestions":[{"id":"s"}],` + ts + `}]}`, status: 400, want: "only for the outcome accepted"},
		{name: "empty override reason", body: `{"feedback":[{"card":"c1","outcome":"overridden","overrideReason":{},` + ts + `}]}`, status: 400, want: "reason or a userComment"},
		{name: "reason without code", body: `{"feedback":[{"card":"c1","outcome":"overridden","overrideReason":{"reason":{"system":"s","display":"x"}},` + ts + `}]}`, status: 400, want: "reason.code"},
		{name: "reason without system", body: `{"feedback":[{"card":"c1","outcome":"overridden","overrideReason":{"reason":{"code":"patient-declined"}},` + ts + `}]}`, status: 400, want: "reason.system is required"},
		{name: "timestamp with an offset", body: `{"feedback":[{"card":"c1","outcome":"overridden","outcomeTimestamp":"2026-06-01T14:05:00+02:00"}]}`, status: 400, want: "must be in UTC"},
		{name: "timestamp +00:00", body: `{"feedback":[{"card":"c1","outcome":"overridden","outcomeTimestamp":"2026-06-01T12:05:00+00:00"}]}`, status: 200},
		{name: "comment of 4 KiB", body: `{"feedback":[{"card":"c1","outcome":"overridden","overrideReason":{"userComment":"` + strings.Repeat("x", MaxUserComment) + `"},` + ts + `}]}`, status: 200},
		{name: "comment over 4 KiB", body: `{"feedback":[{"card":"c1","outcome":"overridden","overrideReason":{"userComment":"` + strings.Repeat("x", MaxUserComment+1) + `"},` + ts + `}]}`, status: 400, want: "userComment is longer than 4096 bytes"},
		{name: "card id too long", body: `{"feedback":[{"card":"` + strings.Repeat("c", 129) + `","outcome":"overridden",` + ts + `}]}`, status: 400, want: "card is longer"},
		{name: "too many items", body: `{"feedback":[` + strings.Repeat(`{"card":"c1","outcome":"overridden",`+ts+`},`, MaxFeedbackItems) + `{"card":"c1","outcome":"overridden",` + ts + `}]}`, status: 400, want: "more than 100"},
		{name: "no timestamp", body: `{"feedback":[{"card":"c1","outcome":"overridden"}]}`, status: 400, want: "outcomeTimestamp is required"},
		{name: "bad timestamp", body: `{"feedback":[{"card":"c1","outcome":"overridden","outcomeTimestamp":"yesterday"}]}`, status: 400, want: "RFC 3339"},
		{name: "malformed", body: `{"feedback":[`, status: 400, want: "malformed JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newTestServer(t, testOptions(t, nil, nil))
			w := do(s.Handler(), http.MethodPost, "/cds-services/"+PatientViewID+"/feedback", []byte(tt.body), nil)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if tt.status != 200 {
				if got := diags(outcomeOf(t, w.Body.Bytes())); !strings.Contains(got, tt.want) {
					t.Errorf("diagnostics %q, want %q", got, tt.want)
				}
			}
		})
	}
}

// TestFeedbackIdempotent: the same item sent twice, or with its instant written another
// way, is stored once; the logs hold counts only.
func TestFeedbackIdempotent(t *testing.T) {
	t.Parallel()
	st := newMemoryStore(t)
	var logs bytes.Buffer
	o := testOptions(t, &fakeAuth{client: auth.Client{Issuer: "https://ehr.example.org"}}, nil)
	o.Store = st
	o.Logger = teeLogger(&logs, slog.LevelInfo)
	s := newTestServer(t, o)
	for i, ts := range []string{"2026-06-01T12:05:00Z", "2026-06-01T12:05:00Z", "2026-06-01T12:05:00.000Z", "2026-06-01T12:05:00+00:00"} {
		body := []byte(`{"feedback":[{"card":"card-uuid-1","outcome":"overridden","overrideReason":{"userComment":"private comment"},"outcomeTimestamp":"` + ts + `"}]}`)
		if w := do(s.Handler(), http.MethodPost, "/cds-services/"+PatientViewID+"/feedback", body, nil); w.Code != 200 {
			t.Fatalf("call %d: status %d: %s", i, w.Code, w.Body)
		}
	}
	if _, n := st.Len(); n != 1 {
		t.Errorf("%d items stored, want 1", n)
	}
	for _, secret := range []string{"card-uuid-1", "private comment"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("logs contain %q", secret)
		}
	}
	if !strings.Contains(logs.String(), `"new":0`) || !strings.Contains(logs.String(), `"new":1`) || !strings.Contains(logs.String(), `"unmatched":1`) {
		t.Errorf("logs lack the counts: %s", logs.String())
	}
}

func newMemoryStore(t testing.TB) *store.Memory {
	t.Helper()
	st, err := store.NewMemory(store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// downStore fails every call, or blocks each until its context ends (slow).
type downStore struct {
	*store.Memory
	slow bool
}

func (d downStore) fail(ctx context.Context) error {
	if d.slow {
		<-ctx.Done()
		return ctx.Err()
	}
	return errors.New("connection refused")
}

func (d downStore) PutFeedback(ctx context.Context, _ []store.Feedback) ([]store.Put, error) {
	return nil, d.fail(ctx)
}
func (d downStore) Overrides(ctx context.Context, _ string, _ time.Time) ([]store.Override, error) {
	return nil, d.fail(ctx)
}
func (d downStore) PutCards(ctx context.Context, _ []store.Card) error { return d.fail(ctx) }

// TestStoreDown: feedback answers 503 with an OperationOutcome (the EHR retries), and
// patient-view still answers every card, within the store timeout, with one log line.
func TestStoreDown(t *testing.T) {
	t.Parallel()
	for _, slow := range []bool{false, true} {
		t.Run(fmt.Sprint("slow=", slow), func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			o := testOptions(t, nil, nil)
			o.Store = downStore{Memory: newMemoryStore(t), slow: slow}
			o.SuppressFor = 30 * 24 * time.Hour
			o.StoreTimeout = 50 * time.Millisecond
			o.FeedbackTimeout = 50 * time.Millisecond
			o.Logger = teeLogger(&logs, slog.LevelInfo)
			h := newTestServer(t, o).Handler()
			w := do(h, http.MethodPost, "/cds-services/"+PatientViewID+"/feedback",
				[]byte(`{"feedback":[{"card":"c1","outcome":"overridden","outcomeTimestamp":"2026-06-01T12:05:00Z"}]}`), nil)
			if w.Code != http.StatusServiceUnavailable {
				t.Fatalf("feedback: status %d, want 503: %s", w.Code, w.Body)
			}
			if d := diags(outcomeOf(t, w.Body.Bytes())); !strings.Contains(d, "retry") {
				t.Errorf("diagnostics %q", d)
			}
			w = do(h, http.MethodPost, "/cds-services/"+PatientViewID, fixture(t), nil)
			if w.Code != 200 {
				t.Fatalf("patient-view: status %d: %s", w.Code, w.Body)
			}
			var resp cards.Response
			if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil || len(resp.Cards) < 2 {
				t.Fatalf("cards: %v %s", err, w.Body)
			}
			if n := strings.Count(logs.String(), "suppression skipped"); n != 1 {
				t.Errorf("%d suppression log lines, want 1: %s", n, logs.String())
			}
		})
	}
}

// serveWith returns a handler over st with random card uuids and suppression on.
func serveWith(t *testing.T, st store.Store, days int) http.Handler {
	return serveAs(t, "https://ehr.test", st, days)
}

// serveAs is serveWith for the client issuer (the pseudonym of a patient is per client).
func serveAs(t *testing.T, issuer string, st store.Store, days int) http.Handler {
	o := testOptions(t, &fakeAuth{client: auth.Client{Issuer: issuer}}, nil)
	o.Store = st
	o.SuppressFor = time.Duration(days) * 24 * time.Hour
	o.Evaluator.Engine = cards.NewEngine(cards.DefaultConfig(), nil)
	return newTestServer(t, o).Handler()
}

func patientView(t *testing.T, h http.Handler, body []byte) []cards.Card {
	t.Helper()
	w := do(h, http.MethodPost, "/cds-services/"+PatientViewID, body, nil)
	if w.Code != 200 {
		t.Fatalf("patient-view: status %d: %s", w.Code, w.Body)
	}
	var resp cards.Response
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	return resp.Cards
}

func override(t *testing.T, h http.Handler, cs ...cards.Card) {
	t.Helper()
	var items []string
	for _, c := range cs {
		items = append(items, fmt.Sprintf(`{"card":%q,"outcome":"overridden","overrideReason":{"reason":{"system":%q,"code":"clinical-judgement"}},"outcomeTimestamp":"2026-06-01T12:05:00Z"}`, c.UUID, cards.OverrideSystem))
	}
	if w := do(h, http.MethodPost, "/cds-services/"+PatientViewID+"/feedback", []byte(`{"feedback":[`+strings.Join(items, ",")+`]}`), nil); w.Code != 200 {
		t.Fatalf("feedback: %d %s", w.Code, w.Body)
	}
}

func topicsOf(cs []cards.Card) []string {
	var out []string
	for _, c := range cs {
		out = append(out, topicOf(c))
	}
	return out
}

// TestSuppression: every card overridden; at the next chart open of the same patient
// only nen-summary comes back (never suppressed); another patient, or suppression off,
// sees every card; new data (another fingerprint) shows the card again.
func TestSuppression(t *testing.T) {
	t.Parallel()
	st := newMemoryStore(t)
	h := serveWith(t, st, 30)
	first := patientView(t, h, fixture(t))
	if len(first) < 3 {
		t.Fatalf("the fixture gives %d cards", len(first))
	}
	override(t, h, first...)
	again := patientView(t, h, fixture(t))
	if diff := cmp.Diff([]string{cards.TopicSummary}, topicsOf(again)); diff != "" {
		t.Errorf("after overrides (-want +got):\n%s", diff)
	}
	// The same patient id at another client (EHR) is another patient.
	if got := patientView(t, serveAs(t, "https://other-ehr.test", st, 30), fixture(t)); len(got) != len(first) {
		t.Errorf("another client's patient: %v", topicsOf(got))
	}
	if got := patientView(t, serveWith(t, st, 0), fixture(t)); len(got) != len(first) {
		t.Errorf("-suppress-days 0: %v", topicsOf(got))
	}
}

// TestSuppressRules: a card is held back only when overridden with the same topic and
// fingerprint; never a critical card or nen-summary.
func TestSuppressRules(t *testing.T) {
	t.Parallel()
	mk := func(topic string, ind cards.Indicator, detail string) cards.Card {
		return cards.Card{UUID: topic + detail, Summary: "s", Detail: detail, Indicator: ind,
			Source: cards.Source{Label: "l", Topic: &cards.Coding{System: cards.TopicSystem, Code: topic}}}
	}
	overridden := []cards.Card{
		mk("net-ssa", cards.Info, "Ki-67 5 %"),
		mk("nec-first-line", cards.Critical, "x"),
		mk(cards.TopicSummary, cards.Info, "y"),
		mk("net-prrt", cards.Warning, "old facts"),
	}
	set := map[store.Override]bool{}
	for _, c := range overridden {
		set[store.Override{Topic: topicOf(c), Fingerprint: Fingerprint(c)}] = true
	}
	now := []cards.Card{
		mk("net-ssa", cards.Info, "Ki-67 5 %"),     // same: held back
		mk("nec-first-line", cards.Critical, "x"),  // critical: shown
		mk(cards.TopicSummary, cards.Info, "y"),    // summary: shown
		mk("net-prrt", cards.Warning, "new facts"), // new fingerprint: shown
		mk("nen-workup", cards.Info, "never overridden"),
	}
	s := newTestServer(t, testOptions(t, nil, nil))
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = httptest.NewRequest(http.MethodPost, "/", nil)
	l := &overridesLookup{deadline: time.Now().Add(time.Second), ch: make(chan overridesResult, 1)}
	l.ch <- overridesResult{set: set}
	got := topicsOf(s.suppress(c, now, l))
	if diff := cmp.Diff([]string{"nec-first-line", cards.TopicSummary, "net-prrt", "nen-workup"}, got); diff != "" {
		t.Errorf("suppress (-want +got):\n%s", diff)
	}
}

// TestSuppressionAcrossRestartsAndReplicas: an override given to one server holds on a
// second server sharing the store, and after a restart (the database reopened).
func TestSuppressionAcrossRestartsAndReplicas(t *testing.T) {
	t.Parallel()
	urls := map[string]string{"sqlite": "sqlite:" + filepath.Join(t.TempDir(), "nencds.db")}
	if u := os.Getenv("NENCDS_TEST_POSTGRES_URL"); u != "" {
		urls["postgres"] = u
	} else {
		t.Log("PostgreSQL part skipped: NENCDS_TEST_POSTGRES_URL is not set")
	}
	key := []byte(strings.Repeat("k", 32))
	for name, url := range urls {
		t.Run(name, func(t *testing.T) {
			open := func() store.Store {
				st, err := store.Open(t.Context(), url, store.Options{Key: key})
				if err != nil {
					t.Fatal(err)
				}
				return st
			}
			// A client of its own, so that runs sharing a database do not meet.
			issuer := fmt.Sprintf("https://ehr-%d.test", time.Now().UnixNano())
			body := fixture(t)
			st1, st2 := open(), open()
			a, b := serveAs(t, issuer, st1, 30), serveAs(t, issuer, st2, 30)
			first := patientView(t, a, body)
			var ssa cards.Card
			for _, c := range first {
				if topicOf(c) != cards.TopicSummary && c.Indicator != cards.Critical {
					ssa = c
					break
				}
			}
			override(t, a, ssa)
			if got := topicsOf(patientView(t, b, body)); slices.Contains(got, topicOf(ssa)) {
				t.Errorf("replica b shows %s again: %v", topicOf(ssa), got)
			}
			st1.Close()
			st2.Close()
			st3 := open()
			defer st3.Close()
			if got := topicsOf(patientView(t, serveAs(t, issuer, st3, 30), body)); slices.Contains(got, topicOf(ssa)) || len(got) != len(first)-1 {
				t.Errorf("after a restart: %v (first %v)", got, topicsOf(first))
			}
		})
	}
}
