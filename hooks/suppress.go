package hooks

import (
	"context"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/nencds/nencds/cards"
	"github.com/nencds/nencds/store"
)

// CardQueue takes issued cards for a background write without blocking (*store.Queue).
type CardQueue interface {
	Enqueue(cards []store.Card) bool
}

var _ CardQueue = (*store.Queue)(nil)

// overridesLookup is the suppression lookup of one call, running beside the evaluation.
type overridesLookup struct {
	deadline time.Time
	ch       chan overridesResult
}

type overridesResult struct {
	set map[store.Override]bool
	err error
}

// lookupOverrides starts reading the patient's overrides of the last SuppressFor, under
// StoreTimeout; nil when suppression is off.
func (s *Server) lookupOverrides(ctx context.Context, patient string) *overridesLookup {
	if s.o.SuppressFor <= 0 {
		return nil
	}
	l := &overridesLookup{deadline: time.Now().Add(s.o.StoreTimeout), ch: make(chan overridesResult, 1)}
	since := s.o.Clock().Add(-s.o.SuppressFor)
	go func() {
		lctx, cancel := context.WithDeadline(ctx, l.deadline)
		defer cancel()
		list, err := s.o.Store.Overrides(lctx, patient, since)
		set := make(map[store.Override]bool, len(list))
		for _, o := range list {
			set[o] = true
		}
		l.ch <- overridesResult{set: set, err: err}
	}()
	return l
}

// suppress drops the cards overridden for the patient with the same topic and fingerprint
// (never a critical card or nen-summary). A store that fails or misses the deadline
// suppresses nothing: one log line and a metric, and the cards are answered.
func (s *Server) suppress(c *gin.Context, all []cards.Card, l *overridesLookup) []cards.Card {
	if l == nil {
		return all
	}
	ctx := c.Request.Context()
	var r overridesResult
	timer := time.NewTimer(time.Until(l.deadline))
	defer timer.Stop()
	select {
	case r = <-l.ch:
	case <-timer.C:
		r.err = context.DeadlineExceeded
	}
	if r.err != nil {
		s.o.Telemetry.RecordStoreError(ctx, "overrides")
		s.logger(c).WarnContext(ctx, "suppression skipped: the store did not answer", "err", r.err.Error())
		return all
	}
	if len(r.set) == 0 {
		return all
	}
	out := all[:0:0]
	for _, card := range all {
		if suppressible(card) && r.set[store.Override{Topic: topicOf(card), Fingerprint: Fingerprint(card)}] {
			s.o.Telemetry.RecordSuppressed(ctx, topicOf(card))
			logOf(c).suppressed++
			continue
		}
		out = append(out, card)
	}
	return out
}

// issue records the cards answered: through the queue when set, else before the answer.
func (s *Server) issue(c *gin.Context, svc Service, hook, issuer, patient string, answered []cards.Card) {
	if len(answered) == 0 {
		return
	}
	now := s.o.Clock().UTC()
	out := make([]store.Card, 0, len(answered))
	for _, card := range answered {
		if card.UUID == "" {
			continue
		}
		sc := store.Card{
			Issuer: issuer, ServiceID: svc.ID, UUID: card.UUID, Hook: hook, Topic: topicOf(card),
			Indicator: string(card.Indicator), Patient: patient, Fingerprint: Fingerprint(card), Issued: now,
		}
		if len(card.Suggestions) > 0 {
			sc.Suggestions = make([]store.Suggestion, 0, len(card.Suggestions))
		}
		for _, sg := range card.Suggestions {
			sc.Suggestions = append(sc.Suggestions, store.Suggestion{UUID: sg.UUID, Label: sg.Label})
		}
		out = append(out, sc)
	}
	if s.o.Cards != nil {
		s.o.Cards.Enqueue(out) // a drop is counted by the queue
		return
	}
	ctx := c.Request.Context()
	sctx, cancel := context.WithTimeout(ctx, s.o.StoreTimeout)
	defer cancel()
	if err := s.o.Store.PutCards(sctx, out); err != nil {
		s.o.Telemetry.RecordStoreError(ctx, "cards")
		s.logger(c).WarnContext(ctx, "issued cards not stored", "err", err.Error())
	}
}
