package cards

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/nencds/nencds/fhirmap"
)

// optionPool is every picture fragment the property tests combine.
var optionPool = []opt{
	pancreaticNET(), smallBowelNET(), necDiag(), pancreaticNEC(), nenNoDiff(fhirmap.SiteColon), nenNoDiff(fhirmap.SitePancreas),
	diag("nen-lung", fhirmap.SiteLung, fhirmap.DiffWell, "C7A.090"), diag("nen-thymus", fhirmap.SiteThymus, fhirmap.DiffUnknown, "C7A.091"),
	ki67(1, "Observation/k1", day(2026, 1, 1)), ki67(3, "Observation/k3", day(2025, 1, 1)), ki67(20, "Observation/k20", day(2024, 1, 1)),
	ki67(21, "Observation/k21", day(2026, 2, 1)), ki67(80, "Observation/k80", day(2023, 1, 1)),
	mitoses(1), mitoses(12), mitoses(30), gradeLabel(1), gradeLabel(3),
	diffObs(fhirmap.DiffWell), diffObs(fhirmap.DiffPoor), morphology("8154/3", ""), morphology("8246/3", fhirmap.DiffPoor), morphology("8240/3", fhirmap.DiffWell),
	liverMets(), boneMets(), limited(), ecog(0), ecog(2), ecog(3), age(45), age(80),
	progression(day(2026, 5, 1)), progression(day(2025, 1, 1)), sstr(fhirmap.SSTRPositive, 3), sstr(fhirmap.SSTRPositive, -1), sstr(fhirmap.SSTRNegative, 0), syndrome(),
	therapy("sunitinib", true, day(2026, 1, 1)), therapy("everolimus", true, day(2026, 1, 1)), therapy("octreotide", true, day(2026, 1, 1)),
	therapy("lanreotide", true, day(2026, 1, 1)), therapy("carboplatin", true, day(2026, 5, 1)), therapy("cisplatin", false, day(2025, 1, 1)),
	therapy("etoposide", true, day(2026, 5, 1)), therapy("sunitinib", false, day(2025, 1, 1)),
	lvef(40, "Observation/lvef-low", day(2026, 5, 20)), lvef(62, "Observation/lvef-base", day(2025, 12, 20)), liverTest(day(2026, 5, 25)),
	marker(fhirmap.MarkerCgA, "yes", day(2026, 5, 1)), marker(fhirmap.Marker5HIAAUrine, "yes", day(2026, 5, 1)), crossSection(day(2026, 5, 1)),
	openOrder("ServiceRequest", "http://loinc.org", "24325-3"), openOrder("Task", OrderSystem, OrderFollowUpVisit), openOrder("ServiceRequest", OrderSystem, OrderMDTReview),
	procedure(fhirmap.ProcPrimaryResection), procedure(fhirmap.ProcPRRT), procedure(fhirmap.ProcEBRT),
	verification("provisional"), clinical("remission"),
}

// pictureFrom builds a picture from choice bytes (diagnosis-dependent options are
// applied only once a diagnosis exists).
func pictureFrom(choices []byte) *fhirmap.Picture {
	p := picture()
	for _, c := range choices {
		o := optionPool[int(c)%len(optionPool)]
		func() {
			defer func() { _ = recover() }() // verification/clinical on a picture without a diagnosis
			o(p)
		}()
	}
	return p
}

// checkProperties asserts what must hold for every picture: valid cards, ordering, and
// safety principles 1–3.
func checkProperties(t *testing.T, p *fhirmap.Picture) {
	t.Helper()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("picture: diagnoses %+v ki67 %+v therapies %+v", p.Diagnoses, p.Ki67, p.Therapies)
		}
	})
	r := evaluateCfg(noCap(), p)
	if err := r.Validate(); err != nil {
		t.Fatalf("invalid response: %v", err)
	}
	for i := 1; i < len(r.Cards); i++ {
		if rank(r.Cards[i-1].Indicator) > rank(r.Cards[i].Indicator) {
			t.Fatalf("order: %v", topics(r))
		}
	}
	cls := Classify(p)
	drugs := drugsSuggested(t, r)
	if cls.Category == CatUndetermined || cls.Category == CatMiNEN || cls.OutsideSite {
		if len(drugs) > 0 {
			t.Fatalf("%s: drugs suggested %v", cls.Category, drugs)
		}
	}
	if cls.Category == CatNEC {
		for _, d := range drugs {
			if slices.Contains(netOnlyDrugs, d) {
				t.Fatalf("NEC: %s suggested", d)
			}
		}
		if hasTopic(r, TopicPRRT) || hasTopic(r, TopicSSA) || hasTopic(r, TopicPNETTargeted) {
			t.Fatalf("NEC: %v", topics(r))
		}
	}
	if cls.Differentiation == fhirmap.DiffWell || strings.HasPrefix(string(cls.Category), "NET") {
		for _, d := range drugs {
			if slices.Contains(necOnlyDrugs, d) {
				t.Fatalf("well-differentiated NET: %s suggested", d)
			}
		}
	}
	for _, th := range p.Therapies {
		if th.Active && slices.Contains(drugs, th.Drug) {
			t.Fatalf("active %s suggested again", th.Drug)
		}
	}
	if len(p.Diagnoses) == 0 && len(r.Cards) > 0 && !(len(r.Cards) == 1 && topicOf(r.Cards[0]) == TopicSuspected) {
		t.Fatalf("no NEN but cards %v", topics(r))
	}
}

func TestPropertiesRandomPictures(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for range 600 {
		choices := make([]byte, 1+rng.IntN(12))
		for j := range choices {
			choices[j] = byte(rng.IntN(256))
		}
		checkProperties(t, pictureFrom(choices))
		if t.Failed() {
			t.Fatalf("choices %v", choices)
		}
	}
}

func FuzzEvaluate(f *testing.F) {
	f.Add([]byte{0, 12, 22, 31})
	f.Add([]byte{2, 12, 32, 40})
	f.Add([]byte{4, 11, 23, 33})
	f.Fuzz(func(t *testing.T, choices []byte) {
		if len(choices) > 40 {
			return
		}
		checkProperties(t, pictureFrom(choices))
	})
}
