package store

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// heldKeys returns the digests of the items the memory store holds, from its queue (the
// order of eviction): what its indexes must agree with.
func heldKeys(m *Memory) map[digest]bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[digest]bool{}
	for _, it := range m.items[m.head:] {
		out[it.key] = true
	}
	return out
}

// TestMemoryIndexesUnderEviction: under a small cap, with cards and feedback in every
// order (feedback before its card, resends, old and new receptions, several patients),
// Len, Overrides and Report always agree with a plain reading of the items held.
func TestMemoryIndexesUnderEviction(t *testing.T) {
	t.Parallel()
	evicted := 0
	m, err := NewMemory(Options{Key: testKey, MemoryMaxBytes: 24 << 10, OnEvict: func(n int) { evicted += n }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(1, 2))
	var cards []Card
	var items []Feedback
	patients := []string{"p1", "p2", "p3"}
	var buf []byte
	received := map[string]time.Time{}
	for round := range 400 {
		switch rng.IntN(3) {
		case 0, 1:
			c := card(fmt.Sprint("c", len(cards)), patients[rng.IntN(3)], fmt.Sprint("topic-", rng.IntN(4)), fmt.Sprint("f", rng.IntN(3)),
				Suggestion{fmt.Sprint("s", len(cards)), "label " + strings.Repeat("x", rng.IntN(40))})
			c.Issued = t0.Add(time.Duration(rng.IntN(10)) * time.Hour)
			if err := m.PutCards(ctx, []Card{c}); err != nil {
				t.Fatal(err)
			}
			cards = append(cards, c)
		case 2:
			outcome := []string{"overridden", "accepted"}[rng.IntN(2)]
			f := fb(fmt.Sprint("c", len(cards)-5+rng.IntN(8)), outcome, t0.Add(time.Duration(rng.IntN(3))*time.Second))
			if _, ok := received[f.Key()]; !ok { // a resend is the same item
				received[f.Key()] = t0.Add(time.Duration(rng.IntN(10)) * time.Hour)
			}
			f.Received = received[f.Key()]
			if outcome == "accepted" {
				f.Accepted = []string{f.Card[1:]}
				f.Accepted[0] = "s" + f.Accepted[0]
			}
			if _, err := m.PutFeedback(ctx, []Feedback{f}); err != nil {
				t.Fatal(err)
			}
			items = append(items, f)
		}
		if round%10 != 9 {
			continue
		}
		held := heldKeys(m)
		var hc []Card
		for _, c := range cards {
			if held[keyDigest(&buf, c.Issuer, c.ServiceID, c.UUID)] && !slices.ContainsFunc(hc, func(h Card) bool { return h.UUID == c.UUID }) {
				hc = append(hc, c)
			}
		}
		var hf []Feedback
		seen := map[string]bool{}
		for _, f := range items {
			if k := f.Key(); held[keyDigest(&buf, k)] && !seen[k] {
				seen[k] = true
				hf = append(hf, f)
			}
		}
		if nc, nf := m.Len(); nc != len(hc) || nf != len(hf) {
			t.Fatalf("round %d: Len = %d, %d; held %d, %d", round, nc, nf, len(hc), len(hf))
		}
		for _, since := range []time.Time{{}, t0.Add(5 * time.Hour)} {
			for _, p := range patients {
				got, err := m.Overrides(ctx, p, since)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(wantOverrides(hc, hf, p, since), sortOverrides(got)); diff != "" {
					t.Fatalf("round %d: Overrides(%s, %v) (-want +got):\n%s", round, p, since, diff)
				}
			}
			got, err := m.Report(ctx, since)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(wantReport(hc, hf, since), got); diff != "" {
				t.Fatalf("round %d: Report(%v) (-want +got):\n%s", round, since, diff)
			}
		}
	}
	if held, ev := m.Bytes(); held > 24<<10 || ev == 0 || int(ev) != evicted {
		t.Errorf("held %d bytes, evicted %d (counted %d)", held, ev, evicted)
	}
}

// wantOverrides is Overrides read plainly from the cards and feedback held.
func wantOverrides(cards []Card, items []Feedback, patient string, since time.Time) []Override {
	var out []Override
	for _, c := range cards {
		if c.Patient != patient {
			continue
		}
		if slices.ContainsFunc(items, func(f Feedback) bool {
			return f.Card == c.UUID && f.Outcome == "overridden" && !f.Received.Before(since)
		}) {
			out = append(out, Override{Topic: c.Topic, Fingerprint: c.Fingerprint})
		}
	}
	return sortOverrides(out)
}

func sortOverrides(o []Override) []Override {
	slices.SortFunc(o, func(a, b Override) int {
		return strings.Compare(a.Topic+"\x00"+a.Fingerprint, b.Topic+"\x00"+b.Fingerprint)
	})
	return o
}

// wantReport is Report read plainly from the cards and feedback held.
func wantReport(cards []Card, items []Feedback, since time.Time) *Report {
	b := newReportBuilder(since)
	for _, c := range cards {
		if !c.Issued.Before(since) {
			b.issued(c.Topic, 1)
		}
	}
	for _, f := range items {
		if f.Received.Before(since) {
			continue
		}
		i := slices.IndexFunc(cards, func(c Card) bool { return c.UUID == f.Card })
		if i < 0 {
			b.feedback(false, "", f.Outcome, f.ReasonCode, f.Accepted, nil)
			continue
		}
		b.feedback(true, cards[i].Topic, f.Outcome, f.ReasonCode, f.Accepted, cards[i].Suggestions)
	}
	return b.report()
}
