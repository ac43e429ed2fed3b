package cards

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// mdPieces are the fragments the random texts are built from: plain words, every
// escaped character, near misses of "://" and "www.", controls, separators, non-ASCII
// and invalid UTF-8.
var mdPieces = []string{
	"Ki-67", " ", "NET G2", "pancreas", "60 per 2 mm²", "é", "ü", "日本", "\u00a0", "\ufffd",
	"\\", "`", "*", "_", "[", "]", "<", ">", "!", "|", "~", "&", "@", "$",
	":", "/", "//", "://", ":/", "http", "www", "WwW", "ww", ".", "w.", "wｗw.",
	"\n", "\r", "\t", "\x00", "\x7f", "\u0085", "\u2028", "\u2029", "\xff", "\xc3", "\xe2\x80",
}

// TestMdInertShortcut: md gives what the escaping loop gives, for the hostile texts and
// for random texts built from mdPieces; and the texts it leaves alone are those inert
// says so.
func TestMdInertShortcut(t *testing.T) {
	t.Parallel()
	check := func(s string) {
		t.Helper()
		if got, want := md(s), escapeMD(s); got != want {
			t.Errorf("md(%q) = %q, the escaping loop gives %q", s, got, want)
		}
		if inert(s) && escapeMD(s) != s {
			t.Errorf("inert(%q), but the escaping loop changes it", s)
		}
	}
	for _, s := range hostile {
		check(s)
	}
	for _, s := range mdPieces {
		check(s)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 100000 {
		var b strings.Builder
		for range 1 + rng.IntN(8) {
			b.WriteString(mdPieces[rng.IntN(len(mdPieces))])
		}
		check(b.String())
	}
}

func FuzzMdInertShortcut(f *testing.F) {
	for _, s := range append(hostile, mdPieces...) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := md(s), escapeMD(s); got != want {
			t.Errorf("md(%q) = %q, the escaping loop gives %q", s, got, want)
		}
	})
}
