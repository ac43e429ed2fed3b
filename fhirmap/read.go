package fhirmap

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"
)

// Code systems read by the mapper.
const (
	sysLOINC    = "http://loinc.org"
	sysSNOMED   = "http://snomed.info/sct"
	sysICD10CM  = "http://hl7.org/fhir/sid/icd-10-cm"
	sysICDO3    = "http://terminology.hl7.org/CodeSystem/icd-o-3"
	sysRxNorm   = "http://www.nlm.nih.gov/research/umls/rxnorm"
	sysCPT      = "http://www.ama-assn.org/go/cpt"
	sysHCPCS    = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
	sysUCUM     = "http://unitsofmeasure.org"
	sysInterpV3 = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"

	// MorphologyExtensionURL is the mCODE extension that carries the ICD-O-3 morphology
	// of a cancer Condition.
	MorphologyExtensionURL = "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-histology-morphology-behavior"
	// ConditionRelatedURL is the core extension by which a Condition (a metastasis)
	// names the Condition it belongs to (its primary).
	ConditionRelatedURL = "http://hl7.org/fhir/StructureDefinition/condition-related"
)

// Matched-by values of Therapy.MatchedBy.
const (
	MatchedByIngredient  = "rxnorm-ingredient"
	MatchedByProductCode = "product-code"
	MatchedByText        = "text"
)

// Result-from values of SSTRImaging.ResultFrom.
const (
	ResultFromObservation    = "observation"
	ResultFromConclusionCode = "conclusionCode"
	ResultFromText           = "text"
)

// CaveatPreliminary and friends are the Source.Caveat texts the mapper sets.
const (
	CaveatPreliminary    = "preliminary result"
	CaveatTextDerived    = "read from the report text"
	CaveatUnverifiedCode = "matched by a code not yet verified in codes.csv"
	CaveatUnknownStatus  = "status unknown"
)

// lookupVerified returns the codes.csv row of system|code, and whether the row is
// verified (or local). Unverified rows are returned too so that callers can decide.
func lookupCoding(c fhir.Coding) (Code, bool) {
	if c.System == nil || c.Code == nil {
		return Code{}, false
	}
	return Lookup(strings.TrimSpace(*c.System), strings.TrimSpace(*c.Code))
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return strings.TrimSpace(*p)
}

// toCoding converts a library coding.
func toCoding(c fhir.Coding) Coding {
	return Coding{System: str(c.System), Code: str(c.Code), Display: str(c.Display)}
}

// ccText is code.text, or the first display.
func ccText(cc *fhir.CodeableConcept) string {
	if cc == nil {
		return ""
	}
	if t := str(cc.Text); t != "" {
		return t
	}
	for _, c := range cc.Coding {
		if d := str(c.Display); d != "" {
			return d
		}
	}
	return ""
}

// ccWords is every human-readable word of a concept (text and displays), lower case.
func ccWords(cc *fhir.CodeableConcept) string {
	if cc == nil {
		return ""
	}
	n := len(str(cc.Text))
	for _, c := range cc.Coding {
		n += 1 + len(str(c.Display))
	}
	var b strings.Builder
	b.Grow(n)
	writeLower(&b, str(cc.Text))
	for _, c := range cc.Coding {
		b.WriteByte(' ')
		writeLower(&b, str(c.Display))
	}
	return b.String()
}

// writeLower writes strings.ToLower(s) to b, ASCII without a copy of its own.
func writeLower(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			b.WriteString(strings.ToLower(s))
			return
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
}

// conceptsOf returns the codes.csv rows matched by the codings of cc, in coding order.
func conceptsOf(cc *fhir.CodeableConcept) []matched {
	if cc == nil {
		return nil
	}
	var out []matched
	for _, c := range cc.Coding {
		if row, ok := lookupCoding(c); ok {
			out = append(out, matched{Code: row, Coding: toCoding(c)})
		}
	}
	return out
}

// matched is a codes.csv row and the coding that matched it.
type matched struct {
	Code   Code
	Coding Coding
}

func (m matched) verified() bool { return m.Code.Status != "unverified" }

// parseDate parses a FHIR date, dateTime or instant of any precision. The time is
// the start of the precision given, in UTC.
//
// The layout is chosen by the shape of s, and only the one layout that can match is
// tried (a miss costs time.Parse an error): a year, a year-month and a date by their
// exact lengths (a time of day makes a string at least 18 bytes long); beyond, the
// date part is exactly 10 bytes, and a time zone (RFC 3339: Z, +hh:mm or -hh:mm) is in
// what follows it exactly when the string is not a zoneless dateTime, whose digits, 'T',
// ':' and '.' or ',' hold none of those bytes. Same results as trying RFC3339Nano,
// 2006-01-02T15:04:05, 2006-01-02, 2006-01 and 2006 in turn (TestParseDateAsLayouts).
func parseDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	var layout string
	switch {
	case s == "":
		return time.Time{}, false
	case len(s) == len("2006"):
		layout = "2006"
	case len(s) == len("2006-01"):
		layout = "2006-01"
	case len(s) == len("2006-01-02"):
		layout = "2006-01-02"
	case strings.ContainsAny(s[min(len(s), len("2006-01-02")):], "Z+-"):
		layout = time.RFC3339Nano
	default:
		layout = "2006-01-02T15:04:05"
	}
	t, err := time.Parse(layout, s)
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// firstDate returns the first of the candidate date strings that is present.
func firstDate(cands ...*string) string {
	for _, c := range cands {
		if s := str(c); s != "" {
			return s
		}
	}
	return ""
}

func periodStart(p *fhir.Period) *string {
	if p == nil {
		return nil
	}
	if p.Start != nil {
		return p.Start
	}
	return p.End
}

func periodEnd(p *fhir.Period) *string {
	if p == nil {
		return nil
	}
	return p.End
}

// refID parses a reference to a resource of type typ and returns its id ("" when the
// reference is not of that type or is not a literal reference).
func refID(ref, typ string) string {
	ref = strings.TrimSpace(ref)
	if i := strings.Index(ref, "/_history/"); i >= 0 {
		ref = ref[:i]
	}
	i := strings.LastIndex(ref, typ+"/")
	if i < 0 || (i > 0 && ref[i-1] != '/') {
		return ""
	}
	return ref[i+len(typ)+1:]
}

// normRef turns a reference into "Type/id" when it is a literal relative or absolute
// reference; otherwise it is returned trimmed.
func normRef(ref string) string {
	ref = strings.TrimSpace(ref)
	if i := strings.Index(ref, "/_history/"); i >= 0 {
		ref = ref[:i]
	}
	parts := strings.Split(ref, "/")
	if len(parts) >= 2 {
		return parts[len(parts)-2] + "/" + parts[len(parts)-1]
	}
	return ref
}

// number parses a json.Number as a finite float.
func number(n *json.Number) (float64, bool) {
	if n == nil {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(*n), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// quantityUnit is the UCUM code of q when sent, else its human unit.
func quantityUnit(q *fhir.Quantity) string {
	if q == nil {
		return ""
	}
	if c := str(q.Code); c != "" {
		return c
	}
	return str(q.Unit)
}

// fmtNum formats a float without trailing zeros.
func fmtNum(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// containsAny reports whether s contains one of the words.
func containsAny(s string, words ...string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

func strconvQuote(s string) string { return strconv.Quote(s) }
