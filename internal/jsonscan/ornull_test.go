package jsonscan

import (
	"slices"
	"testing"
)

func TestStringOrNull(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in     string
		want   string
		wantOK bool
	}{
		{`"ki67-1"`, "ki67-1", true},
		{`"caf\u00e9"`, "café", true},
		{`null`, "kept", true},
		{`12`, "", false},
		{`{}`, "", false},
	}
	for _, tt := range tests {
		got := "kept"
		ok := StringOrNull([]byte(tt.in), &got)
		if ok != tt.wantOK || (ok && got != tt.want) {
			t.Errorf("StringOrNull(%s) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestArrayOrNull(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in     string
		stopAt string // each returns false at this element
		want   []string
		wantOK bool
	}{
		{`[1, "a", {"b": [2]}]`, "", []string{`1`, `"a"`, `{"b": [2]}`}, true},
		{`[]`, "", nil, true},
		{`null`, "", nil, true},
		{`{"a": 1}`, "", nil, false},
		{`[1, 2, 3]`, "2", []string{"1", "2"}, false},
	}
	for _, tt := range tests {
		x, ok := Parse([]byte(tt.in))
		if !ok {
			t.Fatalf("Parse(%s) failed", tt.in)
		}
		var got []string
		ok = x.ArrayOrNull([]byte(tt.in), func(e []byte) bool {
			got = append(got, string(e))
			return string(e) != tt.stopAt
		})
		if ok != tt.wantOK || !slices.Equal(got, tt.want) {
			t.Errorf("ArrayOrNull(%s) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}
