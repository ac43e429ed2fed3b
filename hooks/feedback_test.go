package hooks

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/nencds/nencds/hooks/auth"
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
		{name: "reason without code", body: `{"feedback":[{"card":"c1","outcome":"overridden","overrideReason":{"reason":{"display":"x"}},` + ts + `}]}`, status: 400, want: "reason.code"},
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

// TestFeedbackIdempotent: the same item sent twice is stored once; the logs hold counts only.
func TestFeedbackIdempotent(t *testing.T) {
	t.Parallel()
	store := NewMemoryFeedbackStore(0)
	var logs bytes.Buffer
	o := testOptions(t, &fakeAuth{client: auth.Client{Issuer: "https://ehr.example.org"}}, nil)
	o.Feedback = store
	o.Logger = teeLogger(&logs, slog.LevelInfo)
	s := newTestServer(t, o)
	body := []byte(`{"feedback":[{"card":"card-uuid-1","outcome":"overridden","overrideReason":{"userComment":"private comment"},"outcomeTimestamp":"2026-06-01T12:05:00Z"}]}`)
	for i := 0; i < 2; i++ {
		if w := do(s.Handler(), http.MethodPost, "/cds-services/"+PatientViewID+"/feedback", body, nil); w.Code != 200 {
			t.Fatalf("call %d: status %d: %s", i, w.Code, w.Body)
		}
	}
	if n := store.Len(); n != 1 {
		t.Errorf("%d items stored, want 1", n)
	}
	f, ok := store.Get(FeedbackKey{Issuer: "https://ehr.example.org", ServiceID: PatientViewID, Card: "card-uuid-1", Outcome: "overridden", OutcomeTimestamp: "2026-06-01T12:05:00Z"})
	if !ok || f.Feedback.OverrideReason == nil || f.Feedback.OverrideReason.UserComment != "private comment" {
		t.Errorf("stored %+v, %v", f, ok)
	}
	for _, secret := range []string{"card-uuid-1", "private comment"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("logs contain %q", secret)
		}
	}
	if !strings.Contains(logs.String(), `"new":0`) || !strings.Contains(logs.String(), `"new":1`) {
		t.Errorf("logs lack the counts: %s", logs.String())
	}
}

func TestMemoryFeedbackStoreBound(t *testing.T) {
	t.Parallel()
	m := NewMemoryFeedbackStore(2)
	for _, c := range []string{"a", "b", "c"} {
		if ok, err := m.Put(t.Context(), FeedbackRecord{Key: FeedbackKey{Card: c}, Feedback: Feedback{Card: c}}); !ok || err != nil {
			t.Fatalf("Put(%s) = %v, %v", c, ok, err)
		}
	}
	if m.Len() != 2 {
		t.Errorf("Len %d, want 2", m.Len())
	}
	if _, ok := m.Get(FeedbackKey{Card: "a"}); ok {
		t.Error("the oldest item was kept")
	}
}
