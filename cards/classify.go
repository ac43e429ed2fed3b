package cards

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nencds/nencds/fhirmap"
)

// Category is the WHO 2019 category named by the nen-summary card (docs/clinical.md §3).
type Category string

const (
	CatNETG1        Category = "NET G1"
	CatNETG2        Category = "NET G2"
	CatNETG3        Category = "NET G3"
	CatNEC          Category = "NEC"
	CatMiNEN        Category = "MiNEN"
	CatUndetermined Category = "NEN, grade undetermined"
)

// Classification is the category of the tumour and the facts that decided it.
type Classification struct {
	Category Category
	// Grade is 1–3, or 0 when neither Ki-67, mitotic count nor a grade label is known.
	Grade int
	// Differentiation as decided (unknown when absent or conflicting).
	Differentiation fhirmap.Differentiation
	// Ki67, Mitoses and Label are the most recent values (nil when absent).
	Ki67    *fhirmap.Ki67
	Mitoses *fhirmap.MitoticCount
	Label   *fhirmap.GradeLabel
	// DiffSource is the fact that gave the differentiation ("" ref when derived from a
	// Diagnosis code).
	DiffSource fhirmap.Source
	DiffFrom   string
	// MiNEN: ICD-O-3 8154/3 found.
	MiNEN bool
	// OutsideSite: a lung or thymus NET (or a tumour of those sites whose category is
	// not decided), graded by mitoses and necrosis, not the digestive Ki-67 cut-offs.
	// A lung or thymus NEC is not outside: it follows the NEC branch.
	OutsideSite bool
	// Incomplete holds why the category could not be decided safely (principles 1 and
	// 5); empty when complete.
	Incomplete []string
	// Notes are data-quality notes found while classifying (e.g. a grade label that
	// contradicts the Ki-67 value).
	Notes []fhirmap.Note
	// DiffConflicts are the differentiation facts that disagree (empty without a
	// conflict): the card that asks for pathology review lists them as its facts.
	DiffConflicts []DiffClaim
}

// DiffClaim is one differentiation on record: the value, how it was read and its source.
type DiffClaim struct {
	Value  fhirmap.Differentiation
	From   string
	Source fhirmap.Source
}

// Uncertain reports whether the classification may not drive a treatment suggestion.
func (c Classification) Uncertain() bool { return c.Category == CatUndetermined }

// WellDifferentiatedNET reports a NET G1 or G2 (the categories the source's treatment
// algorithm covers).
func (c Classification) WellDifferentiatedNET() bool {
	return c.Category == CatNETG1 || c.Category == CatNETG2
}

// Classify applies docs/clinical.md §3 to the picture.
func Classify(p *fhirmap.Picture) Classification {
	var c Classification
	// The most recent value grades; of several values of the newest day, the higher
	// (conservative; fhirmap orders them so, this holds for any Picture).
	if i := newestHighest(len(p.Ki67), func(i int) (time.Time, float64) { return p.Ki67[i].Date, p.Ki67[i].Percent }); i >= 0 {
		c.Ki67 = &p.Ki67[i]
	}
	if i := newestHighest(len(p.Mitoses), func(i int) (time.Time, float64) { return p.Mitoses[i].Date, p.Mitoses[i].Per2mm2 }); i >= 0 {
		c.Mitoses = &p.Mitoses[i]
	}
	for i := range p.GradeLabels {
		if p.GradeLabels[i].Grade > 0 {
			c.Label = &p.GradeLabels[i]
			break
		}
	}
	site := primarySite(p)
	c.OutsideSite = site == fhirmap.SiteLung || site == fhirmap.SiteThymus
	c.MiNEN = hasMiNEN(p)
	c.Differentiation, c.DiffSource, c.DiffFrom = differentiation(p, &c)

	// The grade functions are fhirmap's (one definition of the WHO cut-offs); they
	// return 0 for a value that cannot be a Ki-67 percentage or a mitotic count. fhirmap
	// rejects such values already; should one reach the rules, the category is not
	// decided from the other inputs but left undetermined (principle 5).
	kiGrade, mitGrade := 0, 0
	invalid := false
	if c.Ki67 != nil {
		if kiGrade = fhirmap.Ki67Grade(c.Ki67.Percent); kiGrade == 0 {
			invalid = true
			c.Incomplete = append(c.Incomplete, fmt.Sprintf("the most recent Ki-67 value (%s) is not a valid percentage", num(c.Ki67.Percent)))
		}
	}
	if c.Mitoses != nil {
		if mitGrade = fhirmap.MitoticGrade(c.Mitoses.Per2mm2); mitGrade == 0 {
			invalid = true
			c.Incomplete = append(c.Incomplete, fmt.Sprintf("the most recent mitotic count (%s) is not a valid count", num(c.Mitoses.Per2mm2)))
		}
	}
	c.Grade = max(kiGrade, mitGrade)
	if c.Grade == 0 && c.Label != nil {
		c.Grade = c.Label.Grade
	}
	if c.Label != nil && (kiGrade > 0 || mitGrade > 0) && c.Label.Grade != c.Grade && !hasGradeMismatchNote(p, c.Label.Ref) {
		c.Notes = append(c.Notes, fhirmap.Note{
			Kind: fhirmap.NoteGradeMismatch, Ref: c.Label.Ref,
			Text: fmt.Sprintf("Reported grade %q contradicts the computed grade G%d (Ki-67 / mitotic count); the numeric value is used.", c.Label.Label, c.Grade),
		})
	}

	switch {
	case c.MiNEN:
		c.Category = CatMiNEN
	case invalid:
		c.Category = CatUndetermined
	case c.OutsideSite:
		// Lung and thymus: the digestive cut-offs do not apply. A poorly differentiated
		// tumour is a NEC; otherwise the grade is left to the MDT.
		if c.Differentiation == fhirmap.DiffPoor {
			c.Category = CatNEC
		} else {
			c.Category = CatUndetermined
		}
	case c.Grade == 0:
		c.Incomplete = append(c.Incomplete, "no Ki-67 index, mitotic count or histologic grade on record")
		if c.Differentiation == fhirmap.DiffPoor {
			c.Category = CatNEC // a NEC is high grade by definition
		} else {
			c.Category = CatUndetermined
		}
	case c.Grade <= 2:
		if c.Differentiation == fhirmap.DiffPoor {
			c.Category = CatUndetermined
			c.Incomplete = append(c.Incomplete, fmt.Sprintf("poorly differentiated morphology recorded with a G%d proliferation index; a NEC is always high grade", c.Grade))
		} else if c.Grade == 1 {
			c.Category = CatNETG1
		} else {
			c.Category = CatNETG2
		}
	default: // G3
		switch c.Differentiation {
		case fhirmap.DiffWell:
			c.Category = CatNETG3
		case fhirmap.DiffPoor:
			c.Category = CatNEC
		default:
			c.Category = CatUndetermined
			c.Incomplete = append(c.Incomplete, "high-grade proliferation (G3) without a recorded differentiation: NET G3 and NEC are told apart by morphology")
		}
	}
	if c.OutsideSite && c.Category == CatNEC {
		// A NEC of any primary follows the NEC branch (docs/clinical.md §3): only lung
		// and thymus NETs are outside the algorithm.
		c.OutsideSite = false
	}
	if c.DiffFrom == "conflict" {
		// The conflicting facts were named by differentiation.
		if c.Category != CatMiNEN && !c.OutsideSite {
			c.Category = CatUndetermined
		}
	}
	return c
}

// newestHighest returns the index of the highest value among those of the same
// calendar day as the first (the most recent; lists are newest first), or -1.
func newestHighest(n int, get func(int) (time.Time, float64)) int {
	if n == 0 {
		return -1
	}
	best := 0
	d0, v := get(0)
	if d0.IsZero() {
		return 0
	}
	y, m, d := d0.UTC().Date()
	for i := 1; i < n; i++ {
		di, vi := get(i)
		if di.IsZero() {
			continue
		}
		if yi, mi, dd := di.UTC().Date(); yi != y || mi != m || dd != d {
			continue
		}
		if vi > v {
			best, v = i, vi
		}
	}
	return best
}

func hasGradeMismatchNote(p *fhirmap.Picture, ref string) bool {
	for _, n := range p.Notes {
		if n.Kind == fhirmap.NoteGradeMismatch && n.Ref == ref {
			return true
		}
	}
	return false
}

func hasMiNEN(p *fhirmap.Picture) bool {
	un := unconfirmedRefs(p)
	for _, d := range p.Diagnoses {
		if confirmedDiagnosis(d) && (d.Morphology == "8154/3" || d.Concept == "morph-minen") {
			return true
		}
	}
	for _, m := range p.Morphologies {
		if !un[m.Ref] && m.Code == "8154/3" {
			return true
		}
	}
	return false
}

// confirmedDiagnosis: verificationStatus confirmed or absent. docs/clinical.md §2: an
// unconfirmed, provisional or differential diagnosis goes to the summary and work-up
// cards only; it never decides the classification (differentiation, morphology, site).
func confirmedDiagnosis(d fhirmap.Diagnosis) bool {
	return d.VerificationStatus == "" || d.VerificationStatus == "confirmed"
}

// unconfirmedRefs are the references of the diagnoses that are not confirmed: the
// morphology and differentiation facts fhirmap derived from them carry the same
// reference and are left out of the classification too.
func unconfirmedRefs(p *fhirmap.Picture) map[string]bool {
	var un map[string]bool
	for _, d := range p.Diagnoses {
		if !confirmedDiagnosis(d) && d.Ref != "" {
			if un == nil {
				un = map[string]bool{}
			}
			un[d.Ref] = true
		}
	}
	return un
}

// differentiation decides well/poor from every confirmed source: differentiation
// observations, ICD-O-3 morphology (Condition or Observation) and the diagnosis codes
// (ICD-10-CM C7A.0x / C7A.1, SNOMED). No source overrides another (principles 1, 2,
// 5): any well/poor disagreement is a conflict (reported as "conflict", differentiation
// unknown, and the conflicting facts named in c.Incomplete).
func differentiation(p *fhirmap.Picture, c *Classification) (fhirmap.Differentiation, fhirmap.Source, string) {
	un := unconfirmedRefs(p)
	type cand struct {
		v    fhirmap.Differentiation
		src  fhirmap.Source
		from string
	}
	var cands []cand
	// Observations first: when all sources agree, the explicit statement is cited.
	for _, f := range p.Differentiation {
		if f.From == "observation" && f.Value != fhirmap.DiffUnknown && !un[f.Ref] {
			cands = append(cands, cand{f.Value, f.Source, f.From})
		}
	}
	for _, f := range p.Differentiation {
		if f.From != "observation" && f.Value != fhirmap.DiffUnknown && !un[f.Ref] {
			cands = append(cands, cand{f.Value, f.Source, f.From})
		}
	}
	for _, m := range p.Morphologies {
		if m.Differentiation != fhirmap.DiffUnknown && !un[m.Ref] {
			cands = append(cands, cand{m.Differentiation, m.Source, "ICD-O-3 " + m.Code})
		}
	}
	for _, d := range p.Diagnoses {
		if d.Differentiation != fhirmap.DiffUnknown && confirmedDiagnosis(d) {
			cands = append(cands, cand{d.Differentiation, d.Source, "diagnosis code " + firstCode(d.Codes)})
		}
	}
	if len(cands) == 0 {
		return fhirmap.DiffUnknown, fhirmap.Source{}, ""
	}
	conflict := false
	for _, x := range cands[1:] {
		if x.v != cands[0].v {
			conflict = true
		}
	}
	if !conflict {
		return cands[0].v, cands[0].src, cands[0].from
	}
	// Name every distinct fact once, as a clinician does (value, how it was read, date);
	// the references are in the facts list (DiffConflicts), not in the sentence.
	var named []string
	seen := map[string]bool{}
	for _, x := range cands {
		s := "well differentiated (" + x.from
		if x.v == fhirmap.DiffPoor {
			s = "poorly differentiated (" + x.from
		}
		if d := dateText(x.src); d != "" {
			s += ", " + d
		}
		s += ")"
		if !seen[s+x.src.Ref] {
			seen[s+x.src.Ref] = true
			if !slices.Contains(named, s) {
				named = append(named, s)
			}
			c.DiffConflicts = append(c.DiffConflicts, DiffClaim{x.v, x.from, x.src})
		}
	}
	c.Incomplete = append(c.Incomplete, "conflicting differentiation on record: "+strings.Join(named, " vs "))
	return fhirmap.DiffUnknown, fhirmap.Source{}, "conflict"
}

func firstCode(cs []fhirmap.Coding) string {
	if len(cs) == 0 {
		return ""
	}
	return cs[0].Code
}

// primarySite is the site of the first confirmed NEN diagnosis that names one (an
// unconfirmed diagnosis never decides the site the rules act on).
func primarySite(p *fhirmap.Picture) fhirmap.Site {
	for _, d := range p.Diagnoses {
		if confirmedDiagnosis(d) && d.Site != fhirmap.SiteUnknown {
			return d.Site
		}
	}
	return fhirmap.SiteUnknown
}

// summarySite is the site the nen-summary card names: the confirmed one, else the
// site of an unconfirmed diagnosis (the summary shows unconfirmed diagnoses, marked).
func summarySite(p *fhirmap.Picture) fhirmap.Site {
	if s := primarySite(p); s != fhirmap.SiteUnknown {
		return s
	}
	for _, d := range p.Diagnoses {
		if d.Site != fhirmap.SiteUnknown {
			return d.Site
		}
	}
	return fhirmap.SiteUnknown
}

// siteText is a site in words for summaries.
func siteText(s fhirmap.Site) string {
	if s == fhirmap.SiteUnknown {
		return "primary site unknown"
	}
	return strings.ReplaceAll(string(s), "-", " ")
}

// gep reports whether a site is gastroenteropancreatic (or not known to be otherwise).
func gep(s fhirmap.Site) bool {
	switch s {
	case fhirmap.SiteLung, fhirmap.SiteThymus, fhirmap.SiteKidney:
		return false
	}
	return true
}
