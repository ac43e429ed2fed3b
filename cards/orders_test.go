package cards

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nencds/nencds/fhirmap"
)

// Order checks (docs/clinical.md §5): one table per check, each with cases that fire
// and cases that stay quiet, boundary dates included.

// daysAgo is midnight UTC n days before the evaluation day.
func daysAgo(n int) time.Time {
	return time.Date(at.Year(), at.Month(), at.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, -n)
}

// medDraft is a draft MedicationRequest of drugs (matched by code).
func medDraft(id string, drugs ...string) fhirmap.DraftOrder {
	d := fhirmap.DraftOrder{Ref: "MedicationRequest/" + id, ResourceType: "MedicationRequest", Status: "draft", Text: strings.Join(drugs, " + ")}
	for _, dr := range drugs {
		d.Drugs = append(d.Drugs, fhirmap.DraftDrug{Drug: dr, MatchedBy: fhirmap.MatchedByIngredient})
	}
	return d
}

// srDraft is a draft ServiceRequest coded with the codes.csv concept's codings.
func srDraft(id, concept, text string, kind fhirmap.ProcedureKind) fhirmap.DraftOrder {
	d := fhirmap.DraftOrder{Ref: "ServiceRequest/" + id, ResourceType: "ServiceRequest", Status: "draft", Text: text, Kind: kind}
	for _, c := range codingsOf(concept) {
		d.Codes = append(d.Codes, fhirmap.Coding{System: c.System, Code: c.Code})
	}
	return d
}

func prrtDraft() fhirmap.DraftOrder {
	return srDraft("prrt", "prrt", "PRRT with Lu-177 DOTATATE", fhirmap.ProcPRRT)
}

func metabolic(kind fhirmap.LabKind, code string, t time.Time) opt {
	return func(p *fhirmap.Picture) {
		p.MetabolicTests = append(p.MetabolicTests, fhirmap.LabResult{Source: src("Observation/"+string(kind), t), Kind: kind, Code: fhirmap.Coding{System: "http://loinc.org", Code: code}})
	}
}

func karnofsky(score int, t time.Time) opt {
	return func(p *fhirmap.Picture) {
		p.Performance = append(p.Performance, fhirmap.Performance{Source: src("Observation/kps", t), Scale: "karnofsky", Score: score})
	}
}

func ssaTherapy(drug, text string, active bool, end time.Time) opt {
	return func(p *fhirmap.Picture) {
		status := "completed"
		if active {
			status = "active"
		}
		p.Therapies = append(p.Therapies, fhirmap.Therapy{Source: fhirmap.Source{Ref: "MedicationStatement/" + drug, Date: daysAgo(200), Status: status},
			Drug: drug, MatchedBy: "rxnorm-ingredient", Active: active, Start: daysAgo(200), End: end, Text: text})
	}
}

// netG2 is a fit patient with a pancreatic NET G2, SSTR-positive, progressing, and
// every baseline test of the order checks recent: the benign record.
func netG2(extra ...opt) *fhirmap.Picture {
	base := []opt{pancreaticNET(), ki67(12, "Observation/ki67", day(2025, 11, 1)), liverMets(), progression(day(2026, 5, 1)),
		sstr(fhirmap.SSTRPositive, 3), ecog(1), lvef(62, "Observation/lvef", daysAgo(20)), liverPanel(daysAgo(10)),
		metabolic(fhirmap.LabFastingGlucose, "1558-6", daysAgo(10)), metabolic(fhirmap.LabLipidPanel, "57698-3", daysAgo(10))}
	return picture(append(base, extra...)...)
}

// necRecord is a fit patient with a NEC, Ki-67 60 %.
func necRecord(extra ...opt) *fhirmap.Picture {
	base := []opt{necDiag(), ki67(60, "Observation/ki67", day(2025, 11, 1)), liverMets(), ecog(1), liverPanel(daysAgo(10))}
	return picture(append(base, extra...)...)
}

func orderCards(p *fhirmap.Picture, criticalOnly bool, drafts ...fhirmap.DraftOrder) Response {
	return NewEngine(noCap(), seqIDs()).EvaluateOrders(p, Orders{Drafts: drafts, CriticalOnly: criticalOnly})
}

// byCheck returns the cards of one check (its topic display).
func byCheck(r Response, display string) []Card {
	var out []Card
	for _, c := range r.Cards {
		if c.Source.Topic != nil && c.Source.Topic.Display == display {
			out = append(out, c)
		}
	}
	return out
}

type orderCase struct {
	name      string
	p         *fhirmap.Picture
	drafts    []fhirmap.DraftOrder
	indicator Indicator // "" : the check stays quiet
	creates   []string  // codes the create actions carry (any order)
}

// runChecks runs a table for one check and, for every card, the common contract.
func runChecks(t *testing.T, display string, cases []orderCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := orderCards(tc.p, false, tc.drafts...)
			got := byCheck(r, display)
			if tc.indicator == "" {
				if len(got) != 0 {
					t.Fatalf("want no %q card, got %q", display, got[0].Summary)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("want one %q card, got %d: %v", display, len(got), summaries(r))
			}
			c := got[0]
			if c.Indicator != tc.indicator {
				t.Errorf("indicator %s, want %s (%s)", c.Indicator, tc.indicator, c.Summary)
			}
			checkOrderCard(t, c, tc.drafts)
			var creates []string
			for _, s := range c.Suggestions {
				for _, a := range s.Actions {
					if a.Type == "create" {
						creates = append(creates, createdCodes(t, a.Resource)...)
					}
				}
			}
			for _, want := range tc.creates {
				if !contains(creates, want) {
					t.Errorf("no create action with code %s (got %v)", want, creates)
				}
			}
			if len(tc.creates) == 0 && len(creates) > 0 {
				t.Errorf("unexpected create actions %v", creates)
			}
		})
	}
}

func summaries(r Response) []string {
	var out []string
	for _, c := range r.Cards {
		out = append(out, c.Summary)
	}
	return out
}

// checkOrderCard: the card contract of every order check: topic order-check, valid
// card, the draft named in the facts, a delete action with resourceId = the draft's
// Type/id, override reasons.
func checkOrderCard(t *testing.T, c Card, drafts []fhirmap.DraftOrder) {
	t.Helper()
	if err := c.Validate(); err != nil {
		t.Errorf("card invalid: %v", err)
	}
	if c.Source.Topic == nil || c.Source.Topic.Code != TopicOrderCheck {
		t.Errorf("topic %+v, want %s", c.Source.Topic, TopicOrderCheck)
	}
	named := ""
	for _, d := range drafts {
		if strings.Contains(c.Detail, "`"+d.Ref+"`") {
			named = d.Ref
		}
	}
	if named == "" {
		t.Errorf("detail names no draft: %s", c.Detail)
	}
	deleted := false
	for _, s := range c.Suggestions {
		for _, a := range s.Actions {
			if a.Type == "delete" {
				deleted = true
				if a.ResourceID != named {
					t.Errorf("delete resourceId %q, want %q", a.ResourceID, named)
				}
			}
		}
	}
	if !deleted {
		t.Errorf("no delete action")
	}
	if len(c.OverrideReasons) == 0 {
		t.Errorf("no override reasons")
	}
	if strings.Contains(c.Summary, "/") && strings.Contains(c.Summary, "Request/") {
		t.Errorf("summary quotes a reference: %s", c.Summary)
	}
}

func createdCodes(t *testing.T, raw json.RawMessage) []string {
	t.Helper()
	if err := CheckJSON(raw); err != nil {
		t.Errorf("created resource: %v", err)
	}
	var r struct {
		ResourceType string              `json:"resourceType"`
		Status       string              `json:"status"`
		Code         fhirCodeableConcept `json:"code"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	if r.Status != "draft" {
		t.Errorf("created %s has status %q, want draft", r.ResourceType, r.Status)
	}
	var out []string
	for _, c := range r.Code.Coding {
		out = append(out, c.Code)
	}
	return out
}

func TestOrderNETOnlyForNEC(t *testing.T) {
	t.Parallel()
	const d = "Order check: NET-only treatment for a NEC"
	runChecks(t, d, []orderCase{
		{"everolimus for NEC", necRecord(), []fhirmap.DraftOrder{medDraft("m1", "everolimus")}, Critical, nil},
		{"sunitinib for NEC", necRecord(), []fhirmap.DraftOrder{medDraft("m1", "sunitinib")}, Critical, nil},
		{"octreotide for NEC", necRecord(), []fhirmap.DraftOrder{medDraft("m1", "octreotide")}, Critical, nil},
		{"lanreotide for NEC", necRecord(), []fhirmap.DraftOrder{medDraft("m1", "lanreotide")}, Critical, nil},
		{"PRRT referral for NEC", necRecord(), []fhirmap.DraftOrder{prrtDraft()}, Critical, nil},
		{"Lu-177 as a medication for NEC", necRecord(), []fhirmap.DraftOrder{medDraft("m1", "lutathera")}, Critical, nil},
		{"platinum for NEC: indicated", necRecord(), []fhirmap.DraftOrder{medDraft("m1", "carboplatin"), medDraft("m2", "etoposide")}, "", nil},
		{"everolimus for NET G2", netG2(), []fhirmap.DraftOrder{medDraft("m1", "everolimus")}, "", nil},
		{"Ki-67 60 % without differentiation is not NEC", picture(nenNoDiff(fhirmap.SitePancreas), ki67(60, "Observation/ki67", day(2025, 11, 1))), []fhirmap.DraftOrder{medDraft("m1", "everolimus")}, "", nil},
	})
}

func TestOrderPlatinumForNET(t *testing.T) {
	t.Parallel()
	const d = "Order check: platinum–etoposide for a NET G1/G2"
	runChecks(t, d, []orderCase{
		{"carboplatin for NET G2", netG2(), []fhirmap.DraftOrder{medDraft("m1", "carboplatin")}, Critical, nil},
		{"etoposide for NET G2", netG2(), []fhirmap.DraftOrder{medDraft("m1", "etoposide")}, Critical, nil},
		{"cisplatin for NET G1", picture(smallBowelNET(), ki67(1, "Observation/ki67", day(2025, 11, 1))), []fhirmap.DraftOrder{medDraft("m1", "cisplatin")}, Critical, nil},
		{"carboplatin for NEC", necRecord(), []fhirmap.DraftOrder{medDraft("m1", "carboplatin")}, "", nil},
		{"carboplatin for NET G3 (outside the algorithm)", picture(pancreaticNET(), ki67(35, "Observation/ki67", day(2025, 11, 1))), []fhirmap.DraftOrder{medDraft("m1", "carboplatin")}, "", nil},
		{"temozolomide for NET G2", netG2(), []fhirmap.DraftOrder{medDraft("m1", "temozolomide")}, "", nil},
	})
}

func TestOrderPRRTWithoutSSTR(t *testing.T) {
	t.Parallel()
	const d = "Order check: PRRT without SSTR-positive imaging"
	noSSTR := picture(pancreaticNET(), ki67(12, "Observation/ki67", day(2025, 11, 1)), liverMets())
	runChecks(t, d, []orderCase{
		{"no SSTR imaging", noSSTR, []fhirmap.DraftOrder{prrtDraft()}, Critical, []string{"78815"}},
		{"SSTR negative", netG2(func(p *fhirmap.Picture) { p.SSTR[0].Result = fhirmap.SSTRNegative; p.SSTR[0].Krenning = 0 }), []fhirmap.DraftOrder{prrtDraft()}, Critical, nil},
		{"Krenning 1", netG2(func(p *fhirmap.Picture) { p.SSTR[0].Krenning = 1 }), []fhirmap.DraftOrder{prrtDraft()}, Critical, nil},
		{"Lu-177 medication, no SSTR", noSSTR, []fhirmap.DraftOrder{medDraft("m1", "lutathera")}, Critical, []string{"78815"}},
		{"no SSTR, SSTR PET drafted too", noSSTR, []fhirmap.DraftOrder{prrtDraft(), srDraft("pet", "sstr-pet", "SSTR PET", "")}, Critical, nil},
		{"SSTR positive Krenning 3", netG2(), []fhirmap.DraftOrder{prrtDraft()}, "", nil},
		{"SSTR positive, Krenning not reported", netG2(func(p *fhirmap.Picture) { p.SSTR[0].Krenning = -1 }), []fhirmap.DraftOrder{prrtDraft()}, "", nil},
		{"not a PRRT draft", noSSTR, []fhirmap.DraftOrder{medDraft("m1", "everolimus")}, "", nil},
	})
}

func TestOrderPRRTAfterSSA(t *testing.T) {
	t.Parallel()
	const d = "Order check: PRRT after a somatostatin analogue"
	runChecks(t, d, []orderCase{
		{"active lanreotide", netG2(ssaTherapy("lanreotide", "lanreotide 120 mg", true, time.Time{})), []fhirmap.DraftOrder{prrtDraft()}, Warning, nil},
		{"lanreotide last 27 days ago", netG2(ssaTherapy("lanreotide", "lanreotide 120 mg", false, daysAgo(27))), []fhirmap.DraftOrder{prrtDraft()}, Warning, nil},
		{"lanreotide last 29 days ago", netG2(ssaTherapy("lanreotide", "lanreotide 120 mg", false, daysAgo(29))), []fhirmap.DraftOrder{prrtDraft()}, "", nil},
		{"octreotide LAR 27 days ago", netG2(ssaTherapy("octreotide", "Sandostatin LAR depot 30 mg", false, daysAgo(27))), []fhirmap.DraftOrder{prrtDraft()}, Warning, nil},
		{"octreotide of unstated formulation 27 days ago", netG2(ssaTherapy("octreotide", "octreotide", false, daysAgo(27))), []fhirmap.DraftOrder{prrtDraft()}, Warning, nil},
		{"short-acting octreotide today", netG2(ssaTherapy("octreotide", "octreotide 100 mcg subcutaneous tid", false, daysAgo(0))), []fhirmap.DraftOrder{prrtDraft()}, Warning, nil},
		{"short-acting octreotide 2 days ago", netG2(ssaTherapy("octreotide", "octreotide 100 mcg subcutaneous tid", false, daysAgo(2))), []fhirmap.DraftOrder{prrtDraft()}, "", nil},
		{"active short-acting octreotide", netG2(ssaTherapy("octreotide", "octreotide 100 mcg subcutaneous tid", true, time.Time{})), []fhirmap.DraftOrder{prrtDraft()}, Warning, nil},
		{"no SSA", netG2(), []fhirmap.DraftOrder{prrtDraft()}, "", nil},
		{"lanreotide, but the draft is not PRRT", netG2(ssaTherapy("lanreotide", "lanreotide", true, time.Time{})), []fhirmap.DraftOrder{medDraft("m1", "everolimus")}, "", nil},
	})
}

func TestOrderSunitinibLVEF(t *testing.T) {
	t.Parallel()
	const d = "Order check: sunitinib and LVEF"
	withLVEF := func(opts ...opt) *fhirmap.Picture {
		return netG2(append([]opt{func(p *fhirmap.Picture) { p.LVEF = nil }}, opts...)...)
	}
	sun := []fhirmap.DraftOrder{medDraft("m1", "sunitinib")}
	runChecks(t, d, []orderCase{
		{"no LVEF on record", withLVEF(), sun, Warning, []string{"93306"}},
		{"LVEF 89 days ago", withLVEF(lvef(60, "Observation/lvef", daysAgo(89))), sun, "", nil},
		{"LVEF 91 days ago", withLVEF(lvef(60, "Observation/lvef", daysAgo(91))), sun, Warning, []string{"93306"}},
		{"no LVEF, echocardiogram drafted with it", withLVEF(), append(sun, srDraft("echo", "echocardiogram", "Echo", "")), "", nil},
		{"no LVEF, echocardiogram open", withLVEF(openOrder("ServiceRequest", "http://www.ama-assn.org/go/cpt", "93306")), sun, "", nil},
		{"LVEF 45 % after 50 % (10 % relative): warning", withLVEF(lvef(45, "Observation/lvef2", daysAgo(5)), lvef(50, "Observation/lvef1", daysAgo(200))), sun, Warning, []string{OrderCardiologyReview}},
		{"LVEF 45 % after 60 % (25 % relative): critical", withLVEF(lvef(45, "Observation/lvef2", daysAgo(5)), lvef(60, "Observation/lvef1", daysAgo(200))), sun, Critical, []string{OrderCardiologyReview}},
		{"LVEF 50 % is not below 50 %", withLVEF(lvef(50, "Observation/lvef", daysAgo(5))), sun, "", nil},
		{"everolimus: no LVEF check", withLVEF(), []fhirmap.DraftOrder{medDraft("m1", "everolimus")}, "", nil},
	})
}

func TestOrderHepaticPanel(t *testing.T) {
	t.Parallel()
	const d = "Order check: hepatic panel before sunitinib or everolimus"
	noLiver := func(opts ...opt) *fhirmap.Picture {
		return netG2(append([]opt{func(p *fhirmap.Picture) { p.LiverTests = nil }}, opts...)...)
	}
	runChecks(t, d, []orderCase{
		{"sunitinib, no liver tests", noLiver(), []fhirmap.DraftOrder{medDraft("m1", "sunitinib")}, Warning, []string{"24325-3"}},
		{"everolimus, no liver tests", noLiver(), []fhirmap.DraftOrder{medDraft("m1", "everolimus")}, Warning, []string{"24325-3"}},
		{"panel 29 days ago", noLiver(liverPanel(daysAgo(29))), []fhirmap.DraftOrder{medDraft("m1", "sunitinib")}, "", nil},
		{"panel 31 days ago", noLiver(liverPanel(daysAgo(31))), []fhirmap.DraftOrder{medDraft("m1", "sunitinib")}, Warning, []string{"24325-3"}},
		{"ALT alone is not a panel", noLiver(liverTest(daysAgo(3))), []fhirmap.DraftOrder{medDraft("m1", "sunitinib")}, Warning, []string{"24325-3"}},
		{"panel drafted with it", noLiver(), []fhirmap.DraftOrder{medDraft("m1", "sunitinib"), srDraft("lft", "hepatic-panel", "LFT", "")}, "", nil},
		{"lanreotide: no hepatic check", noLiver(), []fhirmap.DraftOrder{medDraft("m1", "lanreotide")}, "", nil},
	})
}

func TestOrderEverolimusMetabolic(t *testing.T) {
	t.Parallel()
	const d = "Order check: glucose and lipids before everolimus"
	noLabs := func(opts ...opt) *fhirmap.Picture {
		return netG2(append([]opt{func(p *fhirmap.Picture) { p.MetabolicTests = nil }}, opts...)...)
	}
	eve := []fhirmap.DraftOrder{medDraft("m1", "everolimus")}
	runChecks(t, d, []orderCase{
		{"none on record", noLabs(), eve, Warning, []string{"1558-6", "57698-3"}},
		{"glucose and lipids recent", noLabs(metabolic(fhirmap.LabFastingGlucose, "1558-6", daysAgo(89)), metabolic(fhirmap.LabLipidPanel, "57698-3", daysAgo(89))), eve, "", nil},
		{"HbA1c and lipids recent", noLabs(metabolic(fhirmap.LabHbA1c, "4548-4", daysAgo(30)), metabolic(fhirmap.LabLipidPanel, "57698-3", daysAgo(30))), eve, "", nil},
		{"lipids 91 days ago", noLabs(metabolic(fhirmap.LabFastingGlucose, "1558-6", daysAgo(30)), metabolic(fhirmap.LabLipidPanel, "57698-3", daysAgo(91))), eve, Warning, []string{"57698-3"}},
		{"lipids drafted with it, glucose missing", noLabs(), append(eve, srDraft("lip", "lipid-panel", "Lipids", "")), Warning, []string{"1558-6"}},
		{"sunitinib: no metabolic check", noLabs(), []fhirmap.DraftOrder{medDraft("m1", "sunitinib")}, "", nil},
	})
}

func TestOrderDuplicate(t *testing.T) {
	t.Parallel()
	const d = "Order check: drug already taken or ordered"
	runChecks(t, d, []orderCase{
		{"already takes sunitinib", netG2(therapy("sunitinib", true, day(2026, 1, 1))), []fhirmap.DraftOrder{medDraft("m1", "sunitinib")}, Warning, nil},
		{"sunitinib in the past only", netG2(therapy("sunitinib", false, day(2025, 1, 1))), []fhirmap.DraftOrder{medDraft("m1", "sunitinib")}, "", nil},
		{"open order of another id", netG2(openDrugOrder("everolimus", "")), []fhirmap.DraftOrder{medDraft("m1", "everolimus")}, Warning, nil},
		{"the draft itself in the prefetch", netG2(openDrugOrder("everolimus", "")), []fhirmap.DraftOrder{medDraft("draft-everolimus", "everolimus")}, "", nil},
		{"the draft itself as an active request", netG2(therapy("everolimus", true, day(2026, 5, 30))), []fhirmap.DraftOrder{medDraft("everolimus", "everolimus")}, "", nil},
		{"lanreotide while on octreotide (same class)", netG2(therapy("octreotide", true, day(2026, 1, 1))), []fhirmap.DraftOrder{medDraft("m1", "lanreotide")}, Warning, nil},
		{"cisplatin while on carboplatin (same class)", necRecord(therapy("carboplatin", true, day(2026, 5, 1))), []fhirmap.DraftOrder{medDraft("m1", "cisplatin")}, Warning, nil},
		{"etoposide while on carboplatin: the regimen", necRecord(therapy("carboplatin", true, day(2026, 5, 1))), []fhirmap.DraftOrder{medDraft("m1", "etoposide")}, "", nil},
		{"drafted twice", netG2(), []fhirmap.DraftOrder{medDraft("m1", "everolimus"), medDraft("m2", "everolimus")}, Warning, nil},
		{"echo drafted with an echo open", netG2(openOrder("ServiceRequest", "http://www.ama-assn.org/go/cpt", "93306")), []fhirmap.DraftOrder{srDraft("echo", "echocardiogram", "Echo", "")}, Warning, nil},
		{"unrelated drug", netG2(), []fhirmap.DraftOrder{{Ref: "MedicationRequest/m1", ResourceType: "MedicationRequest", Text: "metformin 500 mg"}}, "", nil},
	})
}

func TestOrderChemoPoorPerformance(t *testing.T) {
	t.Parallel()
	const d = "Order check: chemotherapy with poor performance status"
	necPS := func(opts ...opt) *fhirmap.Picture {
		return necRecord(append([]opt{func(p *fhirmap.Picture) { p.Performance = nil }}, opts...)...)
	}
	carbo := []fhirmap.DraftOrder{medDraft("m1", "carboplatin")}
	runChecks(t, d, []orderCase{
		{"ECOG 3", necPS(ecog(3)), carbo, Warning, []string{OrderMDTReview}},
		{"ECOG 2", necPS(ecog(2)), carbo, "", nil},
		{"Karnofsky 40", necPS(karnofsky(40, day(2026, 5, 20))), carbo, Warning, []string{OrderMDTReview}},
		{"Karnofsky 50", necPS(karnofsky(50, day(2026, 5, 20))), carbo, "", nil},
		{"same day: ECOG 1 wins over Karnofsky 40", necPS(karnofsky(40, day(2026, 5, 20)), ecog(1)), carbo, "", nil},
		{"newer Karnofsky 30 after older ECOG 1", necPS(karnofsky(30, day(2026, 5, 28)), ecog(1)), carbo, Warning, []string{OrderMDTReview}},
		{"unknown performance status", necPS(), carbo, "", nil},
		{"ECOG 3, not chemotherapy", necPS(ecog(3)), []fhirmap.DraftOrder{srDraft("ct", "ct-abdomen-pelvis-contrast", "CT", "")}, "", nil},
	})
}

// TestOrderQuiet: benign drafts get no card at all.
func TestOrderQuiet(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		p      *fhirmap.Picture
		drafts []fhirmap.DraftOrder
	}{
		{"everolimus for a fit NET G2 with every baseline", netG2(), []fhirmap.DraftOrder{medDraft("m1", "everolimus")}},
		{"sunitinib for a fit NET G2 with every baseline", netG2(), []fhirmap.DraftOrder{medDraft("m1", "sunitinib")}},
		{"PRRT for an SSTR-positive NET G2 off SSA", netG2(), []fhirmap.DraftOrder{prrtDraft()}},
		{"carboplatin + etoposide for a fit NEC", necRecord(), []fhirmap.DraftOrder{medDraft("m1", "carboplatin"), medDraft("m2", "etoposide")}},
		{"unrelated drug", necRecord(), []fhirmap.DraftOrder{{Ref: "MedicationRequest/m1", ResourceType: "MedicationRequest", Text: "ondansetron 8 mg"}}},
		{"no NEN on record", picture(therapy("sunitinib", true, day(2026, 1, 1))), []fhirmap.DraftOrder{medDraft("m1", "sunitinib"), medDraft("m2", "carboplatin")}},
		{"no drafts", necRecord(), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := orderCards(tc.p, false, tc.drafts...)
			if len(r.Cards) != 0 || r.Cards == nil {
				t.Errorf("want {\"cards\": []}, got %v", summaries(r))
			}
		})
	}
}

// TestOrderSelectOnlyCritical: order-select (CriticalOnly) keeps the critical cards,
// order-sign all; the selections restrict the drafts checked.
func TestOrderSelectOnlyCritical(t *testing.T) {
	t.Parallel()
	p := netG2(func(p *fhirmap.Picture) { p.LiverTests = nil })
	drafts := []fhirmap.DraftOrder{medDraft("m1", "carboplatin"), medDraft("m2", "sunitinib")}
	sign := orderCards(p, false, drafts...)
	sel := orderCards(p, true, drafts...)
	if len(sign.Cards) < 2 || len(sel.Cards) != 1 || sel.Cards[0].Indicator != Critical {
		t.Fatalf("sign %v, select %v", summaries(sign), summaries(sel))
	}
	for _, c := range sign.Cards {
		if c.Indicator == Critical && c.Summary != sel.Cards[0].Summary {
			t.Errorf("critical card %q missing at order-select", c.Summary)
		}
	}
	only := NewEngine(noCap(), seqIDs()).EvaluateOrders(p, Orders{Drafts: drafts, Selected: []string{"MedicationRequest/m2"}})
	for _, c := range only.Cards {
		if strings.Contains(c.Detail, "MedicationRequest/m1") {
			t.Errorf("unselected draft checked: %s", c.Summary)
		}
	}
	if len(only.Cards) == 0 {
		t.Errorf("selected sunitinib draft not checked")
	}
}

// TestOrderContraindicationFirst: when a draft should not be given at all (everolimus
// for a NEC), the baseline-test warnings for it are left out: no card invites preparing
// a drug that another card says to remove.
func TestOrderContraindicationFirst(t *testing.T) {
	t.Parallel()
	r := orderCards(necRecord(func(p *fhirmap.Picture) { p.LiverTests = nil }), false, medDraft("m1", "everolimus"), medDraft("m2", "carboplatin"))
	if len(r.Cards) != 1 || r.Cards[0].Indicator != Critical || !strings.Contains(r.Cards[0].Detail, "MedicationRequest/m1") {
		t.Fatalf("want only the critical everolimus card, got %v", summaries(r))
	}
	// Without the contraindication, the same draft gets its baseline warnings.
	r = orderCards(netG2(func(p *fhirmap.Picture) { p.LiverTests = nil }), false, medDraft("m1", "everolimus"))
	if got := byCheck(r, "Order check: hepatic panel before sunitinib or everolimus"); len(got) != 1 {
		t.Errorf("NET G2: want the hepatic warning, got %v", summaries(r))
	}
}

// TestOrderNotAgainstItself: a draft that also arrives in the prefetch (an EHR that
// stores drafts) is neither "already ordered" nor does it hold back its own checks.
func TestOrderNotAgainstItself(t *testing.T) {
	t.Parallel()
	p := netG2(func(p *fhirmap.Picture) { p.LiverTests = nil }, openDrugOrder("sunitinib", ""),
		func(p *fhirmap.Picture) {
			p.OpenOrders = append(p.OpenOrders, fhirmap.OpenOrder{Source: fhirmap.Source{Ref: "ServiceRequest/x"}, ResourceType: "ServiceRequest"})
		})
	r := orderCards(p, false, medDraft("draft-sunitinib", "sunitinib"))
	if got := byCheck(r, "Order check: drug already taken or ordered"); len(got) != 0 {
		t.Errorf("draft counted against itself: %s", got[0].Summary)
	}
	if got := byCheck(r, "Order check: hepatic panel before sunitinib or everolimus"); len(got) != 1 {
		t.Errorf("draft suppressed its own hepatic check: %v", summaries(r))
	}
}

// TestOrderCardsValid: every order card of every table passes the CDS Hooks card rules
// (deep) and summaries stay under 140 characters with long names.
func TestOrderCardsValid(t *testing.T) {
	t.Parallel()
	for _, sc := range orderScenarios() {
		r := NewEngine(noCap(), seqIDs()).EvaluateOrders(sc.p, Orders{Drafts: sc.drafts})
		if err := r.Validate(); err != nil {
			t.Errorf("%s: %v", sc.name, err)
		}
	}
}

type orderScenario struct {
	name   string
	p      *fhirmap.Picture
	drafts []fhirmap.DraftOrder
}

// orderScenarios are records on which several checks fire, for the resource tests.
func orderScenarios() []orderScenario {
	long := medDraft("m9", "everolimus")
	long.Text = strings.Repeat("everolimus tablets extended description ", 8)
	return []orderScenario{
		{"nec-everything", necRecord(ecog(3), func(p *fhirmap.Picture) { p.LiverTests = nil }), []fhirmap.DraftOrder{medDraft("m1", "everolimus"), medDraft("m2", "sunitinib"), prrtDraft(), medDraft("m3", "carboplatin")}},
		{"net-everything", picture(pancreaticNET(), ki67(12, "Observation/ki67", day(2025, 11, 1)), ssaTherapy("lanreotide", "lanreotide", true, time.Time{}), lvef(40, "Observation/l2", daysAgo(3)), lvef(60, "Observation/l1", daysAgo(300))),
			[]fhirmap.DraftOrder{medDraft("m1", "everolimus"), medDraft("m2", "sunitinib"), prrtDraft(), medDraft("m3", "carboplatin"), long}},
	}
}

func TestOrderUnidentified(t *testing.T) {
	t.Parallel()
	const d = "Order check: draft medication not identified"
	unknown := fhirmap.DraftOrder{Ref: "MedicationRequest/m1", ResourceType: "MedicationRequest", Status: "draft", Unidentified: true}
	for _, tc := range []struct {
		name     string
		drafts   []fhirmap.DraftOrder
		critical bool
		want     int
	}{
		{"order-sign", []fhirmap.DraftOrder{unknown}, false, 1},
		{"order-select: info waits", []fhirmap.DraftOrder{unknown}, true, 0},
		{"identified", []fhirmap.DraftOrder{medDraft("m1", "everolimus")}, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := orderCards(netG2(), tc.critical, tc.drafts...)
			got := byCheck(r, d)
			if len(got) != tc.want {
				t.Fatalf("%d cards, want %d: %v", len(got), tc.want, summaries(r))
			}
			for _, c := range got {
				if c.Indicator != Info || c.Validate() != nil || !strings.Contains(c.Detail, "`MedicationRequest/m1`") {
					t.Errorf("card %+v", c)
				}
			}
		})
	}
}
