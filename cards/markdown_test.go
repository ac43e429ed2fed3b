package cards

import (
	"bytes"
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/renderer/html"

	"github.com/nencds/nencds/fhirmap"
)

// gfm renders GitHub-flavoured Markdown (tables, strikethrough, autolinks of bare URLs,
// www. and e-mail addresses) and lets raw HTML through unchanged, so that any tag that
// reaches a card shows up in the output.
var gfm = goldmark.New(goldmark.WithExtensions(extension.GFM), goldmark.WithRendererOptions(html.WithUnsafe()))

// ownTags are the only HTML elements the rules' own Markdown produces: paragraphs,
// bold, the facts list and the code spans of references.
var ownTags = map[string]bool{"p": true, "strong": true, "ul": true, "li": true, "code": true}

var tagRe = regexp.MustCompile(`<(/?)([A-Za-z][A-Za-z0-9-]*)`)

// markup reports every link, image or tag of rendered Markdown other than the rules'
// own, and any HTML comment or declaration.
func markup(t *testing.T, text string) []string {
	t.Helper()
	var out bytes.Buffer
	if err := gfm.Convert([]byte(text), &out); err != nil {
		t.Fatalf("render: %v", err)
	}
	var bad []string
	for _, m := range tagRe.FindAllStringSubmatch(out.String(), -1) {
		if !ownTags[strings.ToLower(m[2])] {
			bad = append(bad, m[0])
		}
	}
	if strings.Contains(out.String(), "<!") || strings.Contains(out.String(), "<?") {
		bad = append(bad, "<! or <?")
	}
	return bad
}

// hostile are chart texts that would become links, images, autolinks, tags, entities or
// block structure if they reached a card unescaped.
var hostile = []string{
	"Evil2 [x](https://evil.test) <script>",
	"![pixel](https://evil.test/p.png)",
	"<https://evil.test>",
	"https://evil.test/a?b=c",
	"see www.evil.test now",
	"WWW.EVIL.TEST",
	"mail me: bad@evil.test",
	"<img src=x onerror=alert(1)>",
	"</li></ul><a href=\"https://evil.test\">click</a>",
	"[x][1]\n\n[1]: https://evil.test",
	"line one\n# heading\n- item\n| a | b |\n|---|---|",
	"`code` and ``more``",
	"&lt;script&gt; &#x3C;b&#x3E; &amp;",
	"**bold** _it_ ~~strike~~ $x^2$",
	"\\[escaped\\](https://evil.test)",
	"[x](<https://evil.test>)",
	"ftp://evil.test/file",
	"javascript:alert(1)",
	"\u2028<script>\u2029",
}

func TestMdKeepsChartTextInert(t *testing.T) {
	t.Parallel()
	for _, s := range hostile {
		if bad := markup(t, "- **Diagnosis**: "+md(s)+" · "+refCode(s)); len(bad) > 0 {
			t.Errorf("md(%q) renders markup %v", s, bad)
		}
	}
	// Plain clinical text is left as it is.
	for _, s := range []string{"Ki-67 35 % (G3), liver biopsy", "NET G2, pancreas", "60 per 2 mm²", "ECOG 1 (Karnofsky 80)"} {
		if got := md(s); got != s {
			t.Errorf("md(%q) = %q, want it unchanged", s, got)
		}
	}
}

// TestIssue14ConditionText is the case measured from the outside: a Condition.code.text
// with a link and a script tag, on every card that names the diagnosis.
func TestIssue14ConditionText(t *testing.T) {
	t.Parallel()
	const evil = "Evil2 [x](https://evil.test) <script>"
	evilText := func(p *fhirmap.Picture) { p.Diagnoses[0].Text = evil }
	r := evaluate(picture(pancreaticNET(), evilText, ki67(10, "Observation/ki67", day(2025, 11, 1)), liverMets(), progression(day(2026, 4, 1)), sstr(fhirmap.SSTRPositive, 3)))
	if len(r.Cards) == 0 {
		t.Fatal("no cards")
	}
	for _, c := range r.Cards {
		if strings.Contains(c.Detail, evil) || strings.Contains(c.Summary, evil) {
			t.Errorf("%s: chart text verbatim in the card", topicOf(c))
		}
		if bad := markup(t, c.Detail); len(bad) > 0 {
			t.Errorf("%s: detail renders %v:\n%s", topicOf(c), bad, c.Detail)
		}
	}
}

// FuzzChartTextIsInert sets every plain string of each scenario's picture (texts,
// displays, codes, references, specimens, notes, dates as written) to the fuzzed text,
// evaluates, and renders every summary and detail as GitHub-flavoured Markdown: no
// chart text may create a link, image or tag.
func FuzzChartTextIsInert(f *testing.F) {
	for _, s := range hostile {
		f.Add(s)
	}
	scs := scenarios()
	f.Fuzz(func(t *testing.T, s string) {
		for _, sc := range scs {
			p := copyPicture(t, sc.p)
			setStrings(reflect.ValueOf(p).Elem(), s)
			r := evaluate(p)
			for _, c := range r.Cards {
				if bad := markup(t, c.Detail); len(bad) > 0 {
					t.Fatalf("%s/%s: chart text %q makes %v in the detail:\n%s", sc.name, topicOf(c), s, bad, c.Detail)
				}
				if bad := markup(t, c.Summary); len(bad) > 0 {
					t.Fatalf("%s/%s: chart text %q makes %v in the summary %q", sc.name, topicOf(c), s, bad, c.Summary)
				}
			}
		}
	})
}

func copyPicture(t *testing.T, p *fhirmap.Picture) *fhirmap.Picture {
	t.Helper()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var q fhirmap.Picture
	if err := json.Unmarshal(b, &q); err != nil {
		t.Fatal(err)
	}
	q.At = p.At
	return &q
}

var (
	plainString = reflect.TypeOf("")
	timeType    = reflect.TypeOf(time.Time{})
)

// setStrings sets every settable field of type string (not the typed enums, which are
// the project's vocabulary, not chart text) reachable from v to s.
func setStrings(v reflect.Value, s string) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			setStrings(v.Elem(), s)
		}
	case reflect.Struct:
		if v.Type() == timeType {
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				setStrings(v.Field(i), s)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			setStrings(v.Index(i), s)
		}
	case reflect.String:
		if v.Type() == plainString && v.CanSet() {
			v.SetString(s)
		}
	}
}
