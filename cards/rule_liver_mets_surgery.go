package cards

import "fmt"

// Topic net-liver-mets-surgery — potentially resectable liver metastases.
//
// When: a confirmed, active, well-differentiated NET (G1/G2) of a GEP site with liver
// metastases and no extrahepatic distant disease.
// Then: an info card with a draft surgical referral to assess resection of the liver
// metastases; the detail mentions neoadjuvant PRRT in selected SSTR-positive cases.
//
// Guideline: docs/clinical.md §4 row net-liver-mets-surgery; ESMO 2020 GEP-NEN.
func ruleLiverMetsSurgery(e *eval) []draftCard {
	if !e.treatable() || !e.cls.WellDifferentiatedNET() || !gep(e.site) || !e.p.Extent.Liver || e.p.Extent.ExtrahepaticDistant {
		return nil
	}
	code := orderCoding(OrderSurgicalLiver, "Surgical referral: resection of liver metastases")
	if e.openTask([]fhirCoding{code}) {
		return nil
	}
	facts := append([]fact{e.categoryFact()}, e.spreadFacts()...)
	return []draftCard{{
		indicator: Info,
		summary:   fmt.Sprintf("%s with liver-only metastases: assess for liver resection", e.cls.Category),
		reason:    "A well-differentiated NET has metastasised to the liver with no extrahepatic distant disease on record; the liver metastases may be resectable.",
		facts:     facts,
		extra:     []string{"In selected SSTR-positive cases, neoadjuvant PRRT may be discussed before surgery."},
		guideline: e.cfg.Guidelines.ESMO,
		suggestions: []draftSuggestion{{label: "Refer for liver metastasis resection", actions: []Action{
			e.drafts.service([]fhirCoding{code}, "Surgical referral: assess resection of NET liver metastases", "Draft referral: hepatobiliary surgery for potentially resectable liver metastases"),
		}}},
	}}
}
