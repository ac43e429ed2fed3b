package cards

import (
	"fmt"
	"strconv"
	"time"

	"github.com/nencds/nencds/fhirmap"
)

// Order check — chemotherapy with a poor performance status.
//
// When (warning): the draft names a chemotherapy drug (cisplatin, carboplatin,
// etoposide, temozolomide, capecitabine, fluorouracil, irinotecan) and the most recent
// performance status is ECOG ≥ 3 or Karnofsky ≤ 40 (ECOG wins over a Karnofsky of the
// same day).
// Then: a card naming the draft and the score; suggestions: create an MDT review
// (unless open); delete the draft.
//
// Source: docs/clinical.md §5; ENETS 2023 NEC guidance (chemotherapy for fit patients,
// ECOG 0–2).
func orderChemoPoorPerformance(e *eval, _ *orderEval, d *fhirmap.DraftOrder) []draftCard {
	drugs := draftDrugs(d, chemoDrugs...)
	if len(drugs) == 0 {
		return nil
	}
	ps := recentPerformance(e.p)
	if ps == nil || !poor(ps) {
		return nil
	}
	name := draftName(d, drugs)
	label, score := "ECOG", strconv.Itoa(ps.Score)
	if ps.Scale == "karnofsky" {
		label, score = "Karnofsky", strconv.Itoa(ps.Score)+" %"
	}
	var sugg []draftSuggestion
	if acts := e.mdtReview("chemotherapy with poor performance status"); len(acts) > 0 {
		sugg = append(sugg, draftSuggestion{label: "Request MDT review", actions: acts})
	}
	return []draftCard{{
		indicator:   Warning,
		summary:     fmt.Sprintf("%s drafted with %s %s: chemotherapy is for fit patients", capitalise(name), label, score),
		reason:      fmt.Sprintf("The most recent performance status is %s %s (ECOG 3 or worse); chemotherapy is given to patients with ECOG 0–2.", label, score),
		facts:       []fact{draftFact(d), {label, score, ps.Source}},
		guideline:   e.cfg.Guidelines.ENETS,
		suggestions: append(sugg, deleteDraft(d, name)...),
	}}
}

// recentPerformance is the most recent performance status; of the same day, ECOG.
func recentPerformance(p *fhirmap.Picture) *fhirmap.Performance {
	if len(p.Performance) == 0 {
		return nil
	}
	first := &p.Performance[0]
	for i := range p.Performance {
		ps := &p.Performance[i]
		if !sameDate(ps.Date, first.Date) {
			break
		}
		if ps.Scale == "ecog" {
			return ps
		}
	}
	return first
}

// poor: ECOG ≥ 3 or Karnofsky ≤ 40.
func poor(ps *fhirmap.Performance) bool {
	if ps.Scale == "karnofsky" {
		return ps.Score <= 40
	}
	return ps.Score >= 3
}

func sameDate(a, b time.Time) bool {
	ay, am, ad := a.UTC().Date()
	by, bm, bd := b.UTC().Date()
	return ay == by && am == bm && ad == bd
}
