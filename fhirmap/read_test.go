package fhirmap

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// parseDateLayouts is parseDate as it was: every layout tried in turn.
func parseDateLayouts(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02", "2006-01", "2006"} {
		if len(layout) <= 10 && len(s) != len(layout) {
			continue
		}
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

func sameAsLayouts(t *testing.T, s string) {
	t.Helper()
	got, ok := parseDate(s)
	want, wantOK := parseDateLayouts(s)
	if got != want || ok != wantOK {
		t.Errorf("parseDate(%q) = %v, %v; every layout in turn: %v, %v", s, got, ok, want, wantOK)
	}
}

// dateEdges are FHIR dates of every precision, offsets, Z, fractions, and near misses.
var dateEdges = []string{
	"", " ", "2024", "2024-03", "2024-03-01", " 2024-03-01 ", "2024-3", "2024-3-1", "24-03-01", "20240301",
	"2024-13", "2024-00", "2024-02-30", "2024-02-29", "2023-02-29", "0000", "9999-12-31", "abcd", "20x4",
	"2024-03-01T10:00:00Z", "2024-03-01T10:00:00+02:00", "2024-03-01T10:00:00-05:30", "2024-03-01T10:00:00+14:00",
	"2024-03-01T10:00:00.5Z", "2024-03-01T10:00:00.123456789Z", "2024-03-01T10:00:00.1234567891Z",
	"2024-03-01T10:00:00,5Z", "2024-03-01T10:00:00.Z", "2024-03-01T10:00:00.123+01:00",
	"2024-03-01T10:00:00", "2024-03-01T10:00:00.250", "2024-03-01T10:00:00,250", "2024-03-01T1:00:00",
	"2024-03-01T1:00:00Z", "2024-03-01T10:00", "2024-03-01T10:00Z", "2024-03-01T10Z", "2024-03-01T24:00:00Z",
	"2024-03-01T10:60:00Z", "2024-03-01T10:00:60Z", "2024-03-01 10:00:00Z", "2024-03-01t10:00:00z",
	"2024-03-01T10:00:00z", "2024-03-01T10:00:00+0200", "2024-03-01T10:00:00+02", "2024-03-01T10:00:00+2:00",
	"2024-03-01T10:00:00UTC", "2024-03-01T10:00:00 Z", "2024-03-01T10:00:00Z ", "2024-03-01T10:00:00ZZ",
	"2024-03-01T10:00:00+24:00", "2024-03-01T10:00:00-00:00", "2024-03-01T10:00:00+00:60",
	"2024-03-01Z", "2024-03Z", "2024Z", "2024-03-01-", "+024-03-01", "-2024", "2024-03-01T", "T10:00:00Z",
	"2024-03-01T10:00:00.-5", "2024-03-01T10:00:00.+5Z", "\t2024\n", "２０２４", "2024-03-01T10:00:00Ｚ",
}

func TestParseDateAsLayouts(t *testing.T) {
	t.Parallel()
	for _, s := range dateEdges {
		sameAsLayouts(t, s)
	}
	// Random strings built from the pieces of a FHIR date, each piece sometimes dropped,
	// repeated or replaced by a near miss.
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	pieces := []func() string{
		func() string { return pick("2024", "1999", "0001", "9999", "202", "20245", "") },
		func() string { return pick("-03", "-12", "-13", "-00", "-3", "", "03") },
		func() string { return pick("-01", "-29", "-31", "-32", "-1", "", "01") },
		func() string { return pick("T", "t", " ", "", "TT") },
		func() string { return pick("10", "00", "23", "24", "1", "100", "") },
		func() string { return pick(":00", ":59", ":60", ":5", "", "00") },
		func() string { return pick(":00", ":59", ":60", ":5", "", "00") },
		func() string {
			return pick("", "", ".5", ".123", ".123456789", ".1234567891", ",5", ".", ".x", "..5")
		},
		func() string {
			return pick("", "Z", "z", "+02:00", "-05:30", "+14:00", "+24:00", "+0200", "+02", "-", "Z+01:00", " ")
		},
	}
	for range 200000 {
		var b strings.Builder
		for _, p := range pieces {
			b.WriteString(p())
		}
		s := b.String()
		if rng.IntN(10) == 0 && len(s) > 0 { // one byte overwritten
			i := rng.IntN(len(s))
			s = s[:i] + string("0Z+-:.T x"[rng.IntN(9)]) + s[i+1:]
		}
		sameAsLayouts(t, s)
	}
}

func FuzzParseDate(f *testing.F) {
	for _, s := range dateEdges {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { sameAsLayouts(t, s) })
}

// TestWriteLowerAsToLower: writeLower writes what strings.ToLower gives, for ASCII,
// non-ASCII (İ, Σ, ẞ), invalid UTF-8 and random bytes.
func TestWriteLowerAsToLower(t *testing.T) {
	t.Parallel()
	check := func(s string) {
		t.Helper()
		var b strings.Builder
		writeLower(&b, s)
		if got, want := b.String(), strings.ToLower(s); got != want {
			t.Errorf("writeLower(%q) = %q, strings.ToLower: %q", s, got, want)
		}
	}
	for _, s := range []string{"", "Ki-67", "NET G2 Pancreas", "@[`{", "İstanbul", "ΣΑΣ", "ẞ", "Ä", "\xff\xfe", "a\x00B", "ＡＢＣ"} {
		check(s)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 20000 {
		b := make([]byte, rng.IntN(12))
		for i := range b {
			b[i] = byte(rng.IntN(256))
			if rng.IntN(2) == 0 {
				b[i] &= 0x7f
			}
		}
		check(string(b))
	}
}
