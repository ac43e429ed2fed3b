package fhirmap

import (
	"net/url"
	"strings"
)

// Read is one FHIR read that gives Map what it reads of a patient's record: the Patient
// by id, or a search by patient. Both adapters read a record with the same list: hooks
// as its prefetch templates and FHIR fallback, the SMART app with its access token.
type Read struct {
	// Key is the CDS Hooks prefetch key (a fixed contract with the EHR configurations).
	Key string
	// Type is the resource type: "Patient" is read by id, every other type is searched
	// with patient={id} and Params.
	Type string
	// Params are the search parameters besides patient (token lists, _sort, _count), "".
	Params string
}

// Reads lists the reads of one record, in a stable order (the order of the documents
// given to Map).
func Reads() []Read {
	return []Read{
		{Key: "patient", Type: "Patient"},
		{Key: "conditions", Type: "Condition"},
		{Key: "observations", Type: "Observation", Params: "code=" + ObservationCodes() + "&_sort=-date&_count=200"},
		{Key: "medicationRequests", Type: "MedicationRequest"},
		{Key: "medicationStatements", Type: "MedicationStatement"},
		{Key: "medicationAdministrations", Type: "MedicationAdministration"},
		{Key: "procedures", Type: "Procedure"},
		{Key: "diagnosticReports", Type: "DiagnosticReport", Params: "_sort=-date&_count=100"},
		{Key: "serviceRequests", Type: "ServiceRequest"},
		{Key: "tasks", Type: "Task"},
	}
}

// Template is the read relative to a FHIR base for the patient id given as is (a
// template token such as {{context.patientId}}, or a validated bare FHIR id).
func (r Read) Template(patientID string) string {
	if r.Type == "Patient" {
		return "Patient/" + patientID
	}
	t := r.Type + "?patient=" + patientID
	if r.Params != "" {
		t += "&" + r.Params
	}
	return t
}

// URL is the absolute URL of the read under base (a parsed FHIR base: scheme, host,
// path), built as a url.URL with the patient id escaped, never by joining strings. Every
// search parameter name and value is percent-encoded per RFC 3986 (queryEscape): "|" of
// a token search is sent as %7C, which Tomcat-based servers (HAPI's default) require.
func (r Read) URL(base *url.URL, patientID string) string {
	path, query, _ := strings.Cut(r.Template("\x00"), "?")
	var params []string
	for p := range strings.SplitSeq(query, "&") {
		if p == "" {
			continue
		}
		name, value, _ := strings.Cut(p, "=")
		params = append(params, queryEscape(name)+"="+queryEscape(strings.ReplaceAll(value, "\x00", patientID)))
	}
	u := &url.URL{
		Scheme:   base.Scheme,
		Host:     base.Host,
		Path:     strings.TrimRight(base.Path, "/") + "/" + strings.ReplaceAll(path, "\x00", patientID),
		RawQuery: strings.Join(params, "&"),
	}
	if base.RawPath != "" {
		u.RawPath = strings.TrimRight(base.EscapedPath(), "/") + "/" + strings.ReplaceAll(path, "\x00", url.PathEscape(patientID))
	}
	return u.String()
}

// queryEscape percent-encodes s as one query name or value per RFC 3986: the unreserved
// characters, and the sub-delimiters and ":" "@" "/" "?" that a query may hold and a FHIR
// search reads as written ("," separates the values of a token list), stay; every other
// byte becomes %XX: "|", space, "%", "#", and "&", "=", "+", which would split or change
// a parameter.
func queryEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if queryKeep(c) {
			b.WriteByte(c)
			continue
		}
		const hex = "0123456789ABCDEF"
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

func queryKeep(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~!$'()*,;:@/?", c) >= 0
}

const loincSystem = "http://loinc.org"

// ObservationCodes returns the token list of the observations read: every LOINC and
// local code of the embedded value sets (Codes) except answer codes, as system|code, in
// file order.
func ObservationCodes() string {
	var parts []string
	seen := map[string]bool{}
	for _, c := range Codes() {
		// Answer codes (ECOG LL529-9 answers) are values, not observation codes.
		if (c.System != loincSystem && c.System != LocalSystem) || c.Prefix() || c.Use == "answer" {
			continue
		}
		tok := c.System + "|" + c.Code
		if !seen[tok] {
			seen[tok] = true
			parts = append(parts, tok)
		}
	}
	return strings.Join(parts, ",")
}
