package fhirmap

import (
	_ "embed"
	"encoding/csv"
	"fmt"
	"slices"
	"strings"

	"github.com/nencds/nencds/internal/fhirjson"
)

// codesCSV is the project's code list, kept in the repository so that the binary embeds
// exactly what was reviewed (docs/clinical.md §2 says what is read with which codes).
//
//go:embed codes.csv
var codesCSV string

// Code is one row of codes.csv: a code of a concept, with what nencds uses it for.
type Code struct {
	Concept string // e.g. "sunitinib", "ki67", "secondary-nen-liver"
	Use     string // detect, order, exclude, answer (a value such as an ECOG answer, not a code to query)
	System  string // a URI; the csv's "local" is LocalSystem
	Code    string // e.g. "29593-1"; a prefix pattern ends in ".*" (C34.*, D3A.*)
	Display string
	Status  string // verified, unverified, local
	Note    string // dosage text for drugs, units, caveats
}

// Prefix reports whether Code is a prefix pattern such as "C7A.*".
func (c Code) Prefix() bool { return strings.HasSuffix(c.Code, ".*") }

// Verified reports whether the row's code was checked against a public source
// (status "verified"). A draft order carries a code only when it is verified.
func (c Code) Verified() bool { return c.Code != "" && c.Status == "verified" }

// Matches reports whether system|code falls under c: equal system and, for a prefix
// pattern, the code starts with the pattern's stem; otherwise the code is equal.
func (c Code) Matches(system, code string) bool {
	if system != c.System || code == "" {
		return false
	}
	if c.Prefix() {
		return strings.HasPrefix(code, strings.TrimSuffix(c.Code, "*"))
	}
	return code == c.Code
}

var (
	// allRows is every row of codes.csv, including rows whose code is still empty (a
	// code to be looked up: only their concept, display, status and note are known).
	allRows = mustParseCodes(codesCSV)
	// codeList is the rows that carry a code: the only ones that can match.
	codeList = withCode(allRows)
	// exactIndex maps system|code to the first exact row; prefixRows are the patterns.
	exactIndex, prefixRows = indexCodes(codeList)
	// conceptRows are the rows of each concept, in file order (ByConcept).
	conceptRows = byConcept(allRows)
)

// The systems and codes of codes.csv are decoded without an allocation each.
func init() {
	for _, c := range codeList {
		fhirjson.Intern(c.System, c.Code)
	}
}

func byConcept(rows []Code) map[string][]Code {
	m := map[string][]Code{}
	for _, c := range rows {
		m[c.Concept] = append(m[c.Concept], c)
	}
	for k, v := range m {
		m[k] = slices.Clip(v) // an append by a caller copies
	}
	return m
}

func withCode(rows []Code) []Code {
	var out []Code
	for _, c := range rows {
		if c.Code != "" {
			out = append(out, c)
		}
	}
	return out
}

func indexCodes(list []Code) (map[string]Code, []Code) {
	exact := map[string]Code{}
	var prefix []Code
	for _, c := range list {
		if c.Prefix() {
			prefix = append(prefix, c)
			continue
		}
		if _, dup := exact[c.System+"|"+c.Code]; !dup {
			exact[c.System+"|"+c.Code] = c
		}
	}
	return exact, prefix
}

// Codes returns every code of the embedded list, in file order; rows whose code is
// still empty are left out (see ByConcept). The slice is shared: do not modify it.
func Codes() []Code { return codeList }

// ByConcept returns the rows of one concept, in file order, including a row whose
// code is still empty (Code == ""; e.g. a drug whose RxNorm code is not yet known):
// its display, status and note (the dosage text of a drug) are still the reviewed
// ones. Such a row never matches (Lookup, Matches); callers that need a code must
// check Code and Status themselves. The slice is shared: do not modify it.
func ByConcept(concept string) []Code { return conceptRows[concept] }

// Lookup returns the first code that matches system|code (exact codes before prefix
// patterns) and whether there is one.
func Lookup(system, code string) (Code, bool) {
	if code == "" {
		return Code{}, false
	}
	if c, ok := exactIndex[system+"|"+code]; ok {
		return c, true
	}
	for _, c := range prefixRows {
		if c.Matches(system, code) {
			return c, true
		}
	}
	return Code{}, false
}

// mustParseCodes parses codes.csv. A row whose code column holds several codes
// separated by spaces ("8151/3 8152/3") becomes one Code per code; a row with an empty
// code (a code still to be looked up) becomes one Code with Code "", kept out of
// matching (see codeList).
func mustParseCodes(text string) []Code {
	rows, err := csv.NewReader(strings.NewReader(text)).ReadAll()
	if err != nil {
		panic(fmt.Sprintf("fhirmap: codes.csv: %v", err))
	}
	if len(rows) < 2 || strings.Join(rows[0], ",") != "concept,use,system,code,display,status,note" {
		panic("fhirmap: codes.csv: unexpected header")
	}
	var out []Code
	for _, r := range rows[1:] {
		system := r[2]
		if system == "local" {
			system = LocalSystem
		}
		codes := strings.Fields(r[3])
		if len(codes) == 0 {
			codes = []string{""}
		}
		for _, code := range codes {
			out = append(out, Code{Concept: r[0], Use: r[1], System: system, Code: code, Display: r[4], Status: r[5], Note: r[6]})
		}
	}
	return out
}
