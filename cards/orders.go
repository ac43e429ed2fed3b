package cards

import (
	"slices"
	"strings"

	"github.com/nencds/nencds/fhirmap"
)

// Order checks (docs/clinical.md §5): when a clinician selects (order-select) or signs
// (order-sign) orders, the same Picture checks the draft orders. Each check is its own
// file (order_*.go, with its When/Then and its source); they share the topic code
// order-check. A check answers with one card per problem, naming the draft (its
// Type/id in the facts) and offering to delete the draft or to create the missing
// test; it never blocks. At order-select only the critical checks answer.

// TopicOrderCheck is the topic code of every order-check card.
const TopicOrderCheck = "order-check"

// The windows of the order checks, in days (docs/clinical.md §5).
const (
	// orderLVEFDays: an LVEF within this many days before sunitinib is signed.
	orderLVEFDays = 90
	// orderHepaticDays: a hepatic function panel within this many days before
	// sunitinib or everolimus is signed.
	orderHepaticDays = 30
	// orderMetabolicDays: fasting glucose or HbA1c, and a lipid panel, within this
	// many days before everolimus is signed.
	orderMetabolicDays = 90
	// ssaLongActingDays: a long-acting SSA stops at least this many days before PRRT.
	ssaLongActingDays = 28
	// ssaShortActingDays: a short-acting SSA stops at least this many days (24 h)
	// before PRRT.
	ssaShortActingDays = 1
)

// Orders are the draft orders of one order-select or order-sign call.
type Orders struct {
	// Drafts are context.draftOrders, read by fhirmap.ReadDraftOrders.
	Drafts []fhirmap.DraftOrder
	// Selected are the refs (Type/id) of the drafts to check (order-select's
	// context.selections); empty: every draft is checked.
	Selected []string
	// CriticalOnly keeps only the critical cards (order-select: the order is still
	// being composed).
	CriticalOnly bool
}

// orderCheck is one check of docs/clinical.md §5: it reads one draft (with the
// others of the call) against the picture.
type orderCheck struct {
	display string
	apply   func(e *eval, o *orderEval, d *fhirmap.DraftOrder) []draftCard
	// contraindication: the check says the draft should not be given at all (principle
	// 2, PRRT without SSTR-positive imaging). When it fires, the other checks' warnings
	// about the same draft (baseline tests, wash-out) are left out: they would invite
	// preparing a drug the first card says to remove.
	contraindication bool
}

// orderChecks are the checks, in the order of the §5 table.
var orderChecks = []orderCheck{
	{"Order check: NET-only treatment for a NEC", orderNETOnlyForNEC, true},
	{"Order check: platinum–etoposide for a NET G1/G2", orderPlatinumForNET, true},
	{"Order check: PRRT without SSTR-positive imaging", orderPRRTWithoutSSTR, true},
	{"Order check: PRRT after a somatostatin analogue", orderPRRTAfterSSA, false},
	{"Order check: sunitinib and LVEF", orderSunitinibLVEF, false},
	{"Order check: hepatic panel before sunitinib or everolimus", orderHepaticPanel, false},
	{"Order check: glucose and lipids before everolimus", orderEverolimusMetabolic, false},
	{"Order check: drug already taken or ordered", orderDuplicate, false},
	{"Order check: chemotherapy with poor performance status", orderChemoPoorPerformance, false},
	{"Order check: draft medication not identified", orderUnidentified, false},
}

// orderEval is what the checks of one call share besides the eval.
type orderEval struct {
	drafts []fhirmap.DraftOrder
}

// EvaluateOrders applies the order checks to the drafts of o against p (at p.At) and
// returns their cards, critical first, capped at Config.MaxCards. No NEN on record, no
// draft, or a nil picture: no cards. The drafts never count against themselves: a
// record of the picture with the same reference as a draft (an EHR that also returns
// its drafts in the prefetch) is left out before the checks run.
func (en *Engine) EvaluateOrders(p *fhirmap.Picture, o Orders) Response {
	resp := Response{Cards: []Card{}}
	if p == nil || len(o.Drafts) == 0 {
		return resp
	}
	e := newEval(withoutDrafts(sanitize(p), o.Drafts), en.cfg, en.newID)
	if !e.nen() || !e.malignant {
		return resp
	}
	oe := &orderEval{drafts: o.Drafts}
	for i := range o.Drafts {
		d := &o.Drafts[i]
		if len(o.Selected) > 0 && !slices.Contains(o.Selected, d.Ref) {
			continue
		}
		switch d.Status {
		case "entered-in-error", "cancelled", "revoked":
			continue // withdrawn: never acted on (principle 4)
		}
		type checked struct {
			chk orderCheck
			dc  draftCard
		}
		var found []checked
		contraindicated := false
		for _, chk := range orderChecks {
			for _, dc := range chk.apply(e, oe, d) {
				found = append(found, checked{chk, dc})
				contraindicated = contraindicated || chk.contraindication
			}
		}
		for _, f := range found {
			if o.CriticalOnly && f.dc.indicator != Critical || contraindicated && f.dc.indicator != Critical {
				continue
			}
			resp.add(TopicOrderCheck, en.build(rule{topic: TopicOrderCheck, display: f.chk.display}, f.dc))
		}
	}
	slices.SortStableFunc(resp.Cards, func(a, b Card) int { return rank(a.Indicator) - rank(b.Indicator) })
	if en.cfg.MaxCards > 0 && len(resp.Cards) > en.cfg.MaxCards {
		resp.Cards = resp.Cards[:en.cfg.MaxCards]
	}
	return resp
}

// withoutDrafts returns p without the therapies, open orders and procedures that are
// the drafts themselves (same reference). p is not modified.
func withoutDrafts(p *fhirmap.Picture, drafts []fhirmap.DraftOrder) *fhirmap.Picture {
	refs := map[string]bool{}
	for _, d := range drafts {
		if d.Ref != "" {
			refs[d.Ref] = true
		}
	}
	if len(refs) == 0 {
		return p
	}
	q := *p
	q.Therapies = keep(p.Therapies, func(t fhirmap.Therapy) bool { return !refs[t.Ref] })
	q.OpenOrders = keep(p.OpenOrders, func(x fhirmap.OpenOrder) bool { return !refs[x.Ref] })
	q.Procedures = keep(p.Procedures, func(x fhirmap.Procedure) bool { return !refs[x.Ref] })
	return &q
}

// draftDrugs returns the drug concepts a draft names, of the given ones (any when none given).
func draftDrugs(d *fhirmap.DraftOrder, of ...string) []string {
	var out []string
	for _, dd := range d.Drugs {
		if (len(of) == 0 || slices.Contains(of, dd.Drug)) && !slices.Contains(out, dd.Drug) {
			out = append(out, dd.Drug)
		}
	}
	return out
}

// isPRRT: a draft of [177Lu]Lu-DOTA-TATE (as a medication) or a ServiceRequest
// recognised as PRRT.
func isPRRT(d *fhirmap.DraftOrder) bool {
	return d.Kind == fhirmap.ProcPRRT || len(draftDrugs(d, "lutathera")) > 0
}

// draftName names what a draft orders for a summary: the drug names, else the text.
func draftName(d *fhirmap.DraftOrder, drugs []string) string {
	if len(drugs) > 0 {
		names := make([]string, len(drugs))
		for i, c := range drugs {
			names[i] = drugName(c)
		}
		return strings.Join(names, " + ")
	}
	if isPRRT(d) {
		return "PRRT (Lu-177 DOTATATE)"
	}
	if d.Text != "" {
		return d.Text
	}
	return "the draft order"
}

// drugName is the display name of a drug concept ("PRRT (Lu-177 DOTATATE)" for
// lutathera).
func drugName(concept string) string {
	if concept == "lutathera" {
		return "PRRT (Lu-177 DOTATATE)"
	}
	return drugOf(concept).Name
}

// draftFact is the draft order as a fact: what, the dose as written, its reference.
func draftFact(d *fhirmap.DraftOrder) fact {
	v := d.Text
	if v == "" {
		v = draftName(d, draftDrugs(d))
	}
	if d.Dose != "" {
		v += ", " + d.Dose
	}
	var matched []string
	for _, dd := range d.Drugs {
		if dd.MatchedBy == fhirmap.MatchedByText {
			matched = append(matched, dd.Drug)
		}
	}
	if len(matched) > 0 {
		v += " (" + strings.Join(matched, ", ") + " recognised from the text)"
	}
	s := fhirmap.Source{Ref: d.Ref, Date: d.Date, Status: d.Status}
	return fact{"Draft order", v, s}
}

// deleteDraft is the suggestion that removes the draft (none when the draft has no id).
func deleteDraft(d *fhirmap.DraftOrder, name string) []draftSuggestion {
	if d.Ref == "" {
		return nil
	}
	return []draftSuggestion{{
		label:   "Remove the draft order: " + name,
		actions: []Action{{Type: "delete", Description: "Remove the draft order of " + name + " (" + d.Ref + ")", ResourceID: d.Ref}},
	}}
}

// codrafted returns another draft of the call that orders one of the concepts
// (matched by coding), nil when none.
func (o *orderEval) codrafted(concepts ...string) *fhirmap.DraftOrder {
	want := codingsOf(concepts...)
	for i := range o.drafts {
		for _, have := range o.drafts[i].Codes {
			for _, w := range want {
				if have.System == w.System && have.Code == w.Code {
					return &o.drafts[i]
				}
			}
		}
	}
	return nil
}

// recentLab returns the most recent metabolic test of the kinds within days.
func (e *eval) recentLab(days int, kinds ...fhirmap.LabKind) *fhirmap.LabResult {
	for i := range e.p.MetabolicTests {
		lt := &e.p.MetabolicTests[i]
		if slices.Contains(kinds, lt.Kind) && within(lt.Date, e.p.At, days) {
			return lt
		}
	}
	return nil
}

// lastLab returns the most recent metabolic test of the kinds, any date.
func (e *eval) lastLab(kinds ...fhirmap.LabKind) *fhirmap.LabResult {
	for i := range e.p.MetabolicTests {
		if slices.Contains(kinds, e.p.MetabolicTests[i].Kind) {
			return &e.p.MetabolicTests[i]
		}
	}
	return nil
}
