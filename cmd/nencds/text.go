package main

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/nencds/nencds/cards"
	"github.com/nencds/nencds/fhirmap"
)

// writeText prints the text report of resp (cards.WriteText).
func writeText(w io.Writer, resp cards.Response) error { return cards.WriteText(w, resp) }

// writeTumours prints the tumours of the picture before the cards: which one the cards
// are about (the index tumour), the history tumours, and the facts kept with each
// history tumour and why (docs/clinical.md §2). Nothing is printed when there is no
// NEN diagnosis.
func writeTumours(w io.Writer, p *fhirmap.Picture) error {
	if p == nil || len(p.Tumours) == 0 {
		return nil
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "Tumours on record: %d\n", len(p.Tumours))
	for _, t := range p.Tumours {
		role := "history (not used by the cards)"
		switch {
		case t.Index:
			role = "the cards are about this tumour"
		case slices.Contains(p.MultiplePrimaries, t.Ref):
			role = "another active primary (not merged: MDT review)"
		}
		fmt.Fprintf(bw, "  * %s: %s; %s\n", t.Ref, tumourText(t), role)
		if len(t.Conditions) > 1 {
			fmt.Fprintf(bw, "    conditions: %s\n", strings.Join(t.Conditions, ", "))
		}
		for _, m := range t.Members {
			fmt.Fprintf(bw, "    - %s (by %s)\n", m.Ref, m.By)
		}
	}
	if len(p.MultiplePrimaries) > 1 {
		fmt.Fprintf(bw, "  Active primaries of different sites: %s (MDT review)\n", strings.Join(p.MultiplePrimaries, ", "))
	}
	fmt.Fprintln(bw)
	return bw.Flush()
}

func tumourText(t fhirmap.Tumour) string {
	site := string(t.Site)
	if site == "" {
		site = "site unknown"
	}
	parts := []string{site}
	if t.ClinicalStatus != "" {
		parts = append(parts, t.ClinicalStatus)
	}
	if t.VerificationStatus != "" {
		parts = append(parts, t.VerificationStatus)
	}
	if !t.Onset.IsZero() {
		parts = append(parts, "onset "+t.Onset.UTC().Format("2006-01-02"))
	}
	if !t.Abatement.IsZero() {
		parts = append(parts, "resolved "+t.Abatement.UTC().Format("2006-01-02"))
	}
	return strings.Join(parts, ", ")
}
