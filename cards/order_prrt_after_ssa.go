package cards

import (
	"fmt"
	"strings"
	"time"

	"github.com/nencds/nencds/fhirmap"
)

// Order check — PRRT while a somatostatin analogue is still acting.
//
// When (warning): the draft is PRRT and a somatostatin analogue record is
//   - long-acting (lanreotide; octreotide LAR/depot; octreotide of unstated
//     formulation, read conservatively as long-acting) and active or on hold, or last
//     given (its end, else its date or start) within ssaLongActingDays (28) before the
//     evaluation time;
//   - short-acting octreotide (subcutaneous, oral, "short-acting") and active, or last
//     given within ssaShortActingDays (24 h).
//
// Then: a card naming the draft and the SSA record; suggestion: delete the draft (to
// schedule PRRT after the wash-out).
//
// Source: docs/clinical.md §5; LUTATHERA US label (discontinue long-acting SSA at least
// 4 weeks and short-acting octreotide at least 24 hours before each dose).
func orderPRRTAfterSSA(e *eval, _ *orderEval, d *fhirmap.DraftOrder) []draftCard {
	if !isPRRT(d) {
		return nil
	}
	for i := range e.p.Therapies { // newest first
		t := &e.p.Therapies[i]
		if !contains(ssaDrugs, t.Drug) {
			continue
		}
		form := ssaFormulation(t)
		window := ssaLongActingDays
		if form == ssaShort {
			window = ssaShortActingDays
		}
		last := lastGiven(t)
		if !t.Active && !within(last, e.p.At, window) {
			continue
		}
		name := draftName(d, nil)
		var what, rule string
		switch form {
		case ssaShort:
			what = "short-acting " + t.Drug
			rule = "Stop short-acting octreotide at least 24 hours before PRRT."
		case ssaLong:
			what = "long-acting " + t.Drug
			rule = "Stop long-acting somatostatin analogues at least 4 weeks before PRRT."
		default:
			what = t.Drug + " (formulation not stated)"
			rule = "Stop long-acting somatostatin analogues at least 4 weeks, and short-acting octreotide at least 24 hours, before PRRT; the record does not say which formulation this is."
		}
		summary := fmt.Sprintf("%s drafted while on %s: check the SSA wash-out", name, what)
		if !t.Active {
			days := int(e.p.At.Sub(last).Hours() / 24)
			summary = fmt.Sprintf("%s drafted %d day(s) after %s: check the SSA wash-out", name, max(days, 0), what)
		}
		return []draftCard{{
			indicator:   Warning,
			summary:     summary,
			reason:      "Somatostatin analogues compete with Lu-177 DOTATATE for the receptor. " + rule,
			facts:       []fact{draftFact(d), therapyFact(*t)},
			guideline:   e.cfg.Guidelines.Lutathera,
			suggestions: deleteDraft(d, name),
		}}
	}
	return nil
}

type ssaForm int

const (
	ssaUnknown ssaForm = iota
	ssaLong
	ssaShort
)

// ssaFormulation reads the formulation of an SSA record from its drug and text:
// lanreotide is always long-acting (depot).
func ssaFormulation(t *fhirmap.Therapy) ssaForm {
	if t.Drug == "lanreotide" {
		return ssaLong
	}
	w := " " + strings.ToLower(t.Text) + " "
	for _, k := range []string{"lar", "depot", "long-acting", "long acting", "autogel", "prolonged", "monthly", "every 4 weeks", "q4w"} {
		if containsWordText(w, k) {
			return ssaLong
		}
	}
	for _, k := range []string{"short-acting", "short acting", "subcutaneous", "s.c.", "sc", "mycapssa", "oral", "capsule", "tid", "bid", "every 8 hours", "three times"} {
		if containsWordText(w, k) {
			return ssaShort
		}
	}
	return ssaUnknown
}

// containsWordText reports w in s as a whole word (letters and digits delimit).
func containsWordText(s, w string) bool {
	for i := 0; ; {
		j := strings.Index(s[i:], w)
		if j < 0 {
			return false
		}
		j += i
		okBefore := j == 0 || !isAlnum(s[j-1])
		okAfter := j+len(w) >= len(s) || !isAlnum(s[j+len(w)])
		if okBefore && okAfter {
			return true
		}
		i = j + 1
	}
}

func isAlnum(b byte) bool { return b >= 'a' && b <= 'z' || b >= '0' && b <= '9' }

// lastGiven is when a therapy record was last given as far as the record says: its end,
// else its date (an administration, a statement), else its start.
func lastGiven(t *fhirmap.Therapy) time.Time {
	switch {
	case !t.End.IsZero():
		return t.End
	case !t.Date.IsZero():
		return t.Date
	}
	return t.Start
}
