package jsonscan

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseStrict(t *testing.T) {
	t.Parallel()
	many := `{` + strings.Repeat(`"k":1,`, 0)
	for i := range 40 {
		many += `"k` + string(rune('a'+i%26)) + string(rune('a'+i/26)) + `":1,`
	}
	for _, tt := range []struct {
		in     string
		reason string // "" accepted, "syntax" for ErrSyntax, else a StrictError reason prefix
	}{
		{`{"hook":"patient-view","context":{"hook":"x"}}`, ""},
		{`{"a":{"b":1},"b":{"a":1},"c":[{"a":1},{"a":2}]}`, ""},
		{`"caf\u00e9 \ud83d\ude00 é"`, ""},
		{many + `"z":1}`, ""},
		{`{"hook":"order-select","x":1,"hook":"patient-view"}`, "a key is given twice"},
		{`{"hook":1,"ho\u006fk":2}`, "a key is given twice"},
		{`{"a":{"b":1,"b":2}}`, "a key is given twice"},
		{`[{"a":1},{"a":1,"a":1}]`, "a key is given twice"},
		{many + `"ka` + `a":2}`, "a key is given twice"},
		{"{\"a\":\"\xff\"}", "a string is not valid UTF-8"},
		{"{\"\xc3\":1}", "a string is not valid UTF-8"},
		{"\"\xed\xa0\x80\"", "a string is not valid UTF-8"}, // an encoded surrogate
		{`"\ud800"`, "a string holds a lone UTF-16 surrogate"},
		{`"\udc00x"`, "a string holds a lone UTF-16 surrogate"},
		{`"\ud800\u0041"`, "a string holds a lone UTF-16 surrogate"},
		{`"\\ud800"`, ""}, // an escaped backslash, then text
		{`{"a":1,}`, "syntax"},
		{`{"a":1`, "syntax"},
	} {
		x, err := ParseStrict([]byte(tt.in), 64, 1<<20)
		var se *StrictError
		switch {
		case tt.reason == "":
			if err != nil || x == nil {
				t.Errorf("ParseStrict(%q) = %v, want accepted", tt.in, err)
			}
		case tt.reason == "syntax":
			if !errors.Is(err, ErrSyntax) {
				t.Errorf("ParseStrict(%q) = %v, want ErrSyntax", tt.in, err)
			}
		case !errors.As(err, &se) || !strings.HasPrefix(se.Reason, tt.reason):
			t.Errorf("ParseStrict(%q) = %v, want %q", tt.in, err, tt.reason)
		case se.Offset < 0 || se.Offset >= len(tt.in) || tt.in[se.Offset] != '"':
			t.Errorf("ParseStrict(%q): offset %d is not at a string", tt.in, se.Offset)
		}
	}
}

// uniqueKeys is the reference for duplicate keys: encoding/json's tokens (keys unescaped).
func uniqueKeys(data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // 1e700 is valid JSON, not a float64
	var walk func() bool
	walk = func() bool {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil || seen[k.(string)] {
					return false
				}
				seen[k.(string)] = true
				if !walk() {
					return false
				}
			}
			_, err := dec.Token()
			return err == nil
		case json.Delim('['):
			for dec.More() {
				if !walk() {
					return false
				}
			}
			_, err := dec.Token()
			return err == nil
		}
		return true
	}
	ok := walk()
	_, err := dec.Token()
	return ok && err == io.EOF
}

// FuzzParseStrict: ParseStrict accepts only what encoding/json accepts, as valid UTF-8
// without a key given twice; it refuses as syntax only what ParseWithin refuses; what
// it accepts, it indexes as Parse does.
func FuzzParseStrict(f *testing.F) {
	for _, s := range append(append([]string{`{"a":1,"a":2}`, `{"a":{"a":1}}`, `"\ud800"`, "\"\xff\""}, validSeeds...), invalidSeeds...) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		x, err := ParseStrict(data, maxDepth, math.MaxInt)
		_, within := ParseWithin(data, maxDepth, math.MaxInt)
		// A strict error may come before a syntax error further on; the reverse never.
		if (errors.Is(err, ErrSyntax) && within) || (err == nil && !within) {
			t.Fatalf("ParseStrict(%q) = %v, ParseWithin ok = %v", data, err, within)
		}
		if err != nil {
			return
		}
		if !json.Valid(data) || !utf8.Valid(data) || !uniqueKeys(data) {
			t.Fatalf("ParseStrict accepted %q: json.Valid %v, utf8.Valid %v, unique keys %v", data, json.Valid(data), utf8.Valid(data), uniqueKeys(data))
		}
		checkIndexed(t, x, data)
	})
}
