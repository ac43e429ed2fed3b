package store

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

// benchCards are the cards of one chart open (five, as a patient-view answers), for one
// patient, with the shapes hooks stores (pseudonym, fingerprint, a few suggestions).
func benchCards(patient string, n int) []Card {
	out := make([]Card, 5)
	for i := range out {
		c := card(fmt.Sprintf("%08d-4c1e-4b7a-9d2f-%012d", n, i), patient, "net-ssa", fmt.Sprintf("%064x", n*5+i))
		if i%2 == 0 {
			c.Suggestions = []Suggestion{{fmt.Sprintf("s-%d-%d-a", n, i), "Start octreotide LAR"}, {fmt.Sprintf("s-%d-%d-b", n, i), "Order 68Ga-DOTATATE PET/CT"}}
		}
		out[i] = c
	}
	return out
}

// fillMemory stores ~cards cards of one patient, one card in 100 overridden, and caps
// the store at what it then holds, so that every later put evicts (the steady state of
// a long run).
func fillMemory(b *testing.B, cards int) (*Memory, string) {
	b.Helper()
	m, err := NewMemory(Options{Key: testKey, MemoryMaxBytes: 1 << 40})
	if err != nil {
		b.Fatal(err)
	}
	patient := m.Pseudonym("https://ehr.test", "p1")
	ctx := b.Context()
	for n := range cards / 5 {
		batch := benchCards(patient, n)
		if err := m.PutCards(ctx, batch); err != nil {
			b.Fatal(err)
		}
		if n%20 == 0 {
			if _, err := m.PutFeedback(ctx, []Feedback{fb(batch[0].UUID, "overridden", t0)}); err != nil {
				b.Fatal(err)
			}
		}
	}
	m.mu.Lock()
	m.max = m.bytes
	m.mu.Unlock()
	return m, patient
}

// BenchmarkMemoryPutCardsOverrides is one chart open against a full memory store of
// ~100k cards (one in 100 overridden): the suppression lookup (Overrides) and the five
// cards issued (PutCards, evicting as many old items), with an override every 20 opens. It also reports the live heap objects and bytes the
// store holds per card: what the garbage collector marks at every cycle.
func BenchmarkMemoryPutCardsOverrides(b *testing.B) {
	const cards = 100_000
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m, patient := fillMemory(b, cards)
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	c, _ := m.Len()
	held, _ := m.Bytes()
	objects, heap := float64(after.HeapObjects-before.HeapObjects), float64(after.HeapAlloc-before.HeapAlloc)

	ctx := b.Context()
	since := t0.Add(-30 * 24 * time.Hour)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		ov, err := m.Overrides(ctx, patient, since)
		if err != nil || len(ov) == 0 {
			b.Fatalf("Overrides = %d, %v", len(ov), err)
		}
		batch := benchCards(patient, cards/5+i)
		if err := m.PutCards(ctx, batch); err != nil {
			b.Fatal(err)
		}
		if i%20 == 0 {
			if _, err := m.PutFeedback(ctx, []Feedback{fb(batch[0].UUID, "overridden", t0)}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(objects/float64(c), "heap-objects/card")
	b.ReportMetric(heap/float64(c), "heap-B/card")
	b.ReportMetric(heap/float64(held), "heap-B/accounted-B")
}
