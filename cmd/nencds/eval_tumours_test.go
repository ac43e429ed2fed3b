package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestEvalTextShowsTumours: `nencds eval -text` names the tumours on record, which one
// the cards are about, and the facts kept with a history tumour and why.
func TestEvalTextShowsTumours(t *testing.T) {
	var out bytes.Buffer
	args := []string{"eval", "-text", "-at", "2026-06-01T12:00:00Z", "../../testdata/requests/nec-active-with-resolved-net-history.json"}
	if err := run(context.Background(), args, env(nil), bytes.NewReader(nil), &out, testCapture, nil); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{
		"Tumours on record: 2",
		"Condition/nec-1: site unknown, active, confirmed, onset 2026-05-02; the cards are about this tumour",
		"Condition/old-net-rectum: rectum, resolved, confirmed, onset 2009-03-02, resolved 2011-06-30; history (not used by the cards)",
		"Observation/old-ki67 (by date)",
		"Observation/old-diff (by focus)",
		"Condition/old-liver-met (by related)",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("text report lacks %q:\n%s", want, s)
		}
	}
	if i, j := strings.Index(s, "Tumours on record"), strings.Index(s, "=== Card 1"); i < 0 || j < i {
		t.Errorf("tumours are not shown before the cards:\n%s", s)
	}
}
