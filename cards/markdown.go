package cards

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Chart text in card prose (docs/clinical.md §4; CDS Hooks security considerations on
// card content). Every value taken from the chart — a Condition's text, a code's
// display, a specimen, a drug name as sent, a reference, a data-quality note that quotes
// the record — goes through md before it enters a card's summary or detail, so that it
// is shown as the text it is and can never become Markdown or HTML: no link, image,
// autolink, tag, entity, emphasis, code span, heading, list or table. The card builder
// applies it to every fact and note it renders (fact.writeMarkdown, notesMarkdown) and to
// the summary; a rule that names a chart value in a sentence wraps it in md.
// markdown_test.go fuzzes this through the whole engine and a GitHub-flavoured
// Markdown renderer.

// mdEscaped are the ASCII punctuation characters that can open or close inline
// Markdown or HTML markup inside a line: code spans, emphasis, strikethrough, links and
// images ("[", "]", "!"), tags and autolinks ("<", ">"), entities ("&"), math ("$"),
// table cells ("|"), e-mail autolinks ("@") and the escape itself. CommonMark lets any
// ASCII punctuation be escaped with a backslash; the escaped character is shown
// literally (and "<" and "&" become &lt; and &amp; in HTML). Characters that matter
// only at the start of a line ("#", "+", "-", "1.") need no escape: a chart value never
// starts a line.
const mdEscaped = "\\`*_[]<>!|~&@$"

// md escapes chart text for Markdown and HTML. Line breaks and other control
// characters become spaces (a chart value never starts a block: no heading, list or
// table row), every markup character is backslash-escaped, and the two shapes GitHub's
// autolink extension turns into links without any markup — "scheme://" and "www." —
// are broken with an escape too ("https\://", "www\."), as is "@" (e-mail autolinks).
func md(s string) string {
	if inert(s) {
		return s
	}
	return escapeMD(s)
}

// escapeMD is md rune by rune.
func escapeMD(s string) string {
	if s == "" {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	rs := []rune(s)
	for i, r := range rs {
		switch {
		case r == '\n' || r == '\r' || r == '\t' || unicode.IsControl(r) || r == '\u2028' || r == '\u2029':
			b.WriteByte(' ')
			continue
		case r < 0x80 && strings.ContainsRune(mdEscaped, r):
			b.WriteByte('\\')
		case r == ':' && i+2 < len(rs) && rs[i+1] == '/' && rs[i+2] == '/':
			b.WriteByte('\\')
		case r == '.' && i >= 3 && strings.EqualFold(string(rs[i-3:i]), "www"):
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// inert reports whether md leaves s as it is: valid UTF-8 without a control character,
// a line or paragraph separator, a character of mdEscaped, a "://" or a "www." (any
// case). escapeMD writes every other rune back unchanged (the common case: no copy).
func inert(s string) bool {
	for i, r := range s {
		switch {
		case r == utf8.RuneError, unicode.IsControl(r), r == '\u2028', r == '\u2029':
			return false
		case r < 0x80 && strings.ContainsRune(mdEscaped, r):
			return false
		case r == ':' && strings.HasPrefix(s[i+1:], "//"):
			return false
		case r == '.' && i >= 3 && strings.EqualFold(s[i-3:i], "www"):
			return false
		}
	}
	return true
}

// refCode shows a resource reference in the one compact style of the facts list: a
// code span. Nothing inside a code span is Markdown or HTML (no link, autolink, tag or
// entity), so the reference needs no escape; only a backtick could close the span and
// a line break end the item: both become spaces (a FHIR id has neither).
func refCode(ref string) string {
	ref = strings.Map(func(r rune) rune {
		if r == '`' || r == '\n' || r == '\r' || unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, ref)
	if strings.TrimSpace(ref) == "" {
		return ""
	}
	return "`" + ref + "`"
}

// mdAll escapes each chart value of a list.
func mdAll(xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = md(x)
	}
	return out
}
