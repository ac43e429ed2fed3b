package fhirmap

import (
	_ "embed"
	"encoding/csv"
	"fmt"
	"strings"
)

// codesCSV is the project's code list (a copy of shared/clinical/codes.csv, kept in the
// repository so that the binary embeds exactly what was reviewed).
//
//go:embed codes.csv
var codesCSV string

// Code is one row of codes.csv: a code of a concept, with what nencds uses it for.
type Code struct {
	Concept string // e.g. "sunitinib", "ki67", "secondary-nen-liver"
	Use     string // detect, order, exclude
	System  string // a URI; the csv's "local" is LocalSystem
	Code    string // e.g. "29593-1"; a prefix pattern ends in ".*" (C34.*, D3A.*)
	Display string
	Status  string // verified, unverified, local
	Note    string // dosage text for drugs, units, caveats
}

// Prefix reports whether Code is a prefix pattern such as "C7A.*".
func (c Code) Prefix() bool { return strings.HasSuffix(c.Code, ".*") }

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
	codeList = mustParseCodes(codesCSV)
	// exactIndex maps system|code to the first exact row; prefixRows are the patterns.
	exactIndex, prefixRows = indexCodes(codeList)
)

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

// Codes returns every code of the embedded list, in file order. The slice is shared:
// do not modify it.
func Codes() []Code { return codeList }

// ByConcept returns the codes of one concept, in file order.
func ByConcept(concept string) []Code {
	var out []Code
	for _, c := range codeList {
		if c.Concept == concept {
			out = append(out, c)
		}
	}
	return out
}

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
// code (a code still to be looked up) is kept out of matching.
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
		for _, code := range strings.Fields(r[3]) {
			out = append(out, Code{Concept: r[0], Use: r[1], System: system, Code: code, Display: r[4], Status: r[5], Note: r[6]})
		}
	}
	return out
}
