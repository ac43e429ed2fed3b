package fhirjson

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	jsonv2 "github.com/go-json-experiment/json"
)

func TestUnmarshal(t *testing.T) {
	t.Parallel()
	type quantity struct {
		Value *json.Number `json:"value"`
	}
	type doc struct {
		Status   string                     `json:"status"`
		Quantity quantity                   `json:"valueQuantity"`
		Context  json.RawMessage            `json:"context"`
		Prefetch map[string]json.RawMessage `json:"prefetch"`
	}
	data := []byte(`{"status":"final","valueQuantity":{"value":1.50},"context":{"a":[1, 2]},"prefetch":{"p":{"resourceType":"Patient"},"q":null}}`)
	var cp doc
	if err := Unmarshal(data, &cp); err != nil || string(cp.Context) != `{"a":[1, 2]}` || Within(cp.Context, data) {
		t.Errorf("Unmarshal: context %q, %v: want a copy", cp.Context, err)
	}
	var d doc
	if err := UnmarshalInPlace(data, &d); err != nil {
		t.Fatal(err)
	}
	if d.Status != "final" || d.Quantity.Value == nil || *d.Quantity.Value != "1.50" {
		t.Errorf("decoded %+v: want status final and the decimal 1.50 as written", d)
	}
	var s doc
	if err := Unmarshal([]byte(`{"valueQuantity":{"value":"2.5"}}`), &s); err != nil || *s.Quantity.Value != "2.5" {
		t.Errorf("a decimal in a string: %v, %v; want 2.5, as encoding/json reads it", s.Quantity.Value, err)
	}
	if string(d.Context) != `{"a":[1, 2]}` || !Within(d.Context, data) {
		t.Errorf("context %q: want the raw object, in place", d.Context)
	}
	if string(d.Prefetch["p"]) != `{"resourceType":"Patient"}` || !Within(d.Prefetch["p"], data) || string(d.Prefetch["q"]) != "null" {
		t.Errorf("prefetch %q: want raw values in place", d.Prefetch)
	}

	for _, tc := range []struct {
		name, data, reason string
	}{
		{"a member named twice", `{"status":"a","status":"b"}`, "a key is given twice"},
		{"named twice deeper", `{"context":{"x":1,"x":2}}`, "a key is given twice in element context"},
		{"invalid UTF-8", "{\"status\":\"\xff\"}", "a string is not valid UTF-8"},
		{"wrong kind", `{"status":5}`, "element status must be a string, not a number"},
		{"a string that is no decimal", `{"valueQuantity":{"value":"1.5 mg"}}`, "element valueQuantity/value must be a number, not a string"},
		{"syntax", `{"status":`, "unexpected end of input"},
		{"trailing data", `{"status":"a"} x`, "data after the JSON value"},
	} {
		var d doc
		err := Unmarshal([]byte(tc.data), &d)
		if err == nil {
			t.Errorf("%s: %s decoded", tc.name, tc.data)
			continue
		}
		e := Describe(err)
		if e.Reason != tc.reason {
			t.Errorf("%s: reason %q, want %q", tc.name, e.Reason, tc.reason)
		}
		if strings.Contains(e.Reason, `"`) {
			t.Errorf("%s: reason %q quotes the data", tc.name, e.Reason)
		}
	}

	// Names match exactly: FHIR and CDS Hooks names are case-sensitive.
	var c doc
	if err := Unmarshal([]byte(`{"Status":"final"}`), &c); err != nil || c.Status != "" {
		t.Errorf(`{"Status":"final"} read as %+v, %v: want status unset`, c, err)
	}
}

func TestDescribeQuotesNoData(t *testing.T) {
	t.Parallel()
	secret := "Evil-Patient-Name"
	for _, data := range []string{
		`{"id":"` + secret + `","id":"x"}`,
		`{"count":"` + secret + `"}`,
		`{"` + secret + `":1,"` + secret + `":2}`,
		`{"id":"x"} "` + secret + `"`,
		`{"id":` + secret + `}`,
	} {
		var v struct {
			ID    string `json:"id"`
			Count int    `json:"count"`
		}
		err := Unmarshal([]byte(data), &v)
		if err == nil {
			t.Errorf("%s decoded", data)
			continue
		}
		if r := Describe(err).Reason; strings.Contains(r, secret) {
			t.Errorf("%s: reason %q quotes the data", data, r)
		}
		if _, err := ReadDocument([]byte(data)); err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("%s: ReadDocument error %q quotes the data", data, err)
		}
	}
}

func TestReadDocument(t *testing.T) {
	t.Parallel()
	data := []byte(`{"resourceType":"Bundle","id":"b1","type":"searchset",
	  "link":[{"relation":"self","url":"https://e.org/fhir/Observation?patient=1"},{"relation":"next","url":"https://e.org/fhir/p2"}],
	  "entry":[
	    {"fullUrl":"https://e.org/fhir/Observation/o1","resource":{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"Ki-67"}}},
	    {"resource":{"resourceType":"OperationOutcome","issue":[{"severity":"warning"},{"severity":"error"}]}},
	    null,
	    {"search":{"mode":"include"}},
	    {"resource":{"id":"no-type"}},
	    5,
	    {"resource":[1]},
	    {"resource":{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Patient","id":"p","status":7}}]}},
	    {"resource":{"resource\u0054ype":"Condition","id":"c\u00e9"}}
	  ]}`)
	d, err := ReadDocument(data)
	if err != nil {
		t.Fatal(err)
	}
	if d.ResourceType != "Bundle" || d.ID != "b1" || d.Type != "searchset" || d.Next() != "https://e.org/fhir/p2" || !d.Failed() {
		t.Errorf("envelope %+v: want Bundle b1 searchset, a next link, failed", d)
	}
	if len(d.Entries) != 9 {
		t.Fatalf("%d entries, want 9", len(d.Entries))
	}
	o := d.Entries[0]
	if o.FullURL != "https://e.org/fhir/Observation/o1" || o.Resource == nil || o.Resource.ResourceType != "Observation" ||
		o.Resource.ID != "o1" || o.Resource.Status == nil || *o.Resource.Status != "final" || !Within(o.Resource.Raw, data) {
		t.Errorf("entry 0 = %+v", o)
	}
	var back struct {
		Code struct {
			Text string `json:"text"`
		} `json:"code"`
	}
	if err := Unmarshal(o.Resource.Raw, &back); err != nil || back.Code.Text != "Ki-67" {
		t.Errorf("entry 0 raw %q does not decode to its resource: %v", o.Resource.Raw, err)
	}
	if r := d.Entries[1].Resource; r == nil || !r.HasError() {
		t.Errorf("entry 1: want an OperationOutcome with an error")
	}
	for _, i := range []int{2, 3} {
		if e := d.Entries[i]; e.Resource != nil || e.Problem != "" {
			t.Errorf("entry %d = %+v: want no resource and no problem", i, e)
		}
	}
	if r := d.Entries[4].Resource; r == nil || r.ResourceType != "" {
		t.Errorf("entry 4: want a resource without a type")
	}
	if e := d.Entries[5]; e.Resource != nil || e.Problem == "" {
		t.Errorf("entry 5 = %+v: want a problem", e)
	}
	if e := d.Entries[6]; e.Resource != nil || e.Problem == "" {
		t.Errorf("entry 6 = %+v: want a problem", e)
	}
	n := d.Entries[7].Resource
	if n == nil || n.ResourceType != "Bundle" || len(n.Entries) != 1 || n.Entries[0].Resource.ResourceType != "Patient" || n.Entries[0].Resource.Status != nil || !n.Entries[0].Resource.BadStatus {
		t.Errorf("entry 7: want a nested Bundle holding a Patient whose status (not a string) is unset")
	}
	if r := d.Entries[8].Resource; r == nil || r.ResourceType != "Condition" || r.ID != "cé" {
		t.Errorf("entry 8 = %+v: want escaped names and values unescaped", r)
	}

	for _, tc := range []struct{ data, problem string }{
		{`{"resourceType":"Bundle","entry":{}}`, "entry is not an array"},
		{`{"resourceType":"Bundle","link":"x","entry":[]}`, "link is not an array"},
		{`{"resourceType":"OperationOutcome","issue":{"severity":"fatal"}}`, "issue is not an array"},
	} {
		d, err := ReadDocument([]byte(tc.data))
		if err != nil || d.Problem != tc.problem {
			t.Errorf("%s: problem %q, %v; want %q", tc.data, d.Problem, err, tc.problem)
		}
	}
	for _, bad := range []string{``, `[]`, `"x"`, `null`, `{"resourceType":"Patient"`, `{"resourceType":"Patient"} {}`,
		`{"resourceType":"Patient","id":"a","id":"b"}`, "{\"resourceType\":\"Patient\",\"id\":\"\xfe\"}",
		`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Patient","resourceType":"Group"}}]}`} {
		if d, err := ReadDocument([]byte(bad)); err == nil {
			t.Errorf("ReadDocument(%q) = %+v, want an error", bad, d)
		}
	}
}

// reference is what ReadDocument must read, computed from the library's generic decoding.
func reference(v any) *Document {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	d := &Document{ResourceType: str(obj, "resourceType"), ID: str(obj, "id"), Type: str(obj, "type")}
	if s, ok := obj["status"].(string); ok {
		d.Status = &s
	} else if st, has := obj["status"]; has && st != nil {
		d.BadStatus = true
	}
	arr := func(k string, each func(any)) {
		switch a := obj[k].(type) {
		case nil:
		case []any:
			for _, e := range a {
				each(e)
			}
		default:
			if d.Problem == "" {
				d.Problem = k + " is not an array"
			}
		}
	}
	// The members in document order decide which problem is named first: the test
	// compares problems only when there is one candidate.
	arr("issue", func(e any) {
		if m, ok := e.(map[string]any); ok {
			if _, has := m["severity"]; has {
				d.Issues = append(d.Issues, str(m, "severity"))
			}
		}
	})
	arr("link", func(e any) {
		m, _ := e.(map[string]any)
		d.Links = append(d.Links, Link{Relation: str(m, "relation"), URL: str(m, "url")})
	})
	arr("entry", func(e any) {
		var en Entry
		switch m := e.(type) {
		case nil:
		case map[string]any:
			en.FullURL = str(m, "fullUrl")
			switch r := m["resource"].(type) {
			case nil:
			case map[string]any:
				en.Resource = reference(r)
			default:
				en.Problem = "the entry's resource is not an object"
			}
		default:
			en.Problem = "the entry is not an object"
		}
		d.Entries = append(d.Entries, en)
	})
	return d
}

// checkDocument checks ReadDocument against the library's own decoding of data.
func checkDocument(t *testing.T, data []byte) {
	var v any
	refErr := jsonv2.Unmarshal(data, &v)
	d, err := ReadDocument(data)
	if _, isObj := v.(map[string]any); (refErr == nil && isObj) != (err == nil) {
		t.Fatalf("ReadDocument(%q) error %v; the library: %v, value %T", data, err, refErr, v)
	}
	if err != nil {
		return
	}
	var check func(got, want *Document)
	check = func(got, want *Document) {
		if !Within(got.Raw, data) {
			t.Fatalf("ReadDocument(%q): Raw %q is not in place", data, got.Raw)
		}
		var raw any
		if jsonv2.Unmarshal(got.Raw, &raw) != nil || !reflect.DeepEqual(reference(raw), want) {
			t.Fatalf("ReadDocument(%q): Raw %q is not the resource", data, got.Raw)
		}
		g, w := *got, *want
		g.Raw, g.Entries, w.Entries = nil, nil, nil
		// With two members that are not arrays, the first in the document is named.
		if m, _ := raw.(map[string]any); w.Problem != "" && g.Problem != "" {
			member := strings.TrimSuffix(g.Problem, " is not an array")
			if _, isArr := m[member].([]any); m[member] != nil && !isArr {
				g.Problem = w.Problem
			}
		}
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("ReadDocument(%q):\n got %+v\nwant %+v", data, g, w)
		}
		if len(got.Entries) != len(want.Entries) {
			t.Fatalf("ReadDocument(%q): %d entries, want %d", data, len(got.Entries), len(want.Entries))
		}
		for i := range got.Entries {
			ge, we := got.Entries[i], want.Entries[i]
			if ge.FullURL != we.FullURL || ge.Problem != we.Problem || (ge.Resource == nil) != (we.Resource == nil) {
				t.Fatalf("ReadDocument(%q): entry %d = %+v, want %+v", data, i, ge, we)
			}
			if ge.Resource != nil {
				check(ge.Resource, we.Resource)
			}
		}
	}
	check(d, reference(v))
}

func documentSeeds(tb testing.TB) [][]byte {
	files, err := filepath.Glob("../../testdata/requests/*.json")
	if err != nil || len(files) == 0 {
		tb.Fatal("no testdata/requests/*.json")
	}
	var seeds [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		var r struct {
			Prefetch map[string]json.RawMessage `json:"prefetch"`
		}
		if err := Unmarshal(b, &r); err != nil {
			tb.Fatalf("%s: %v", f, err)
		}
		seeds = append(seeds, b)
		for _, v := range r.Prefetch {
			seeds = append(seeds, v)
		}
	}
	for _, s := range []string{
		`{"resourceType":"Bundle","link":[null,{"relation":"next","url":"https://e.org/p2"}],"entry":[null,{"resource":null},{"resource":{"resourceType":"OperationOutcome","issue":[{"severity":"error"}]}}]}`,
		`{"resourceType":"OperationOutcome","issue":{"severity":"fatal"}}`,
		`{"resourceType":"Bundle","entry":[{"Resource":{"resourceType":"Patient"}}]}`,
		`{"resourceType":"Patient","ſd":"x","status":["x"]}`,
		`{"resourceType":"Bundle","entry":[5,{"resource":"x"},{"fullUrl":7}]}`,
		`{"resourceType":"Bundle","type":{"x":1},"id":null,"entry":[{"resource":{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Task","status":"draft"}}]}}]}`,
		`{"resourceType":"Patient","id":"a","id":"b"}`,
		`{"resource\u0054ype":"Patient","i\u0064":"\u00e9"}`,
	} {
		seeds = append(seeds, []byte(s))
	}
	return seeds
}

func TestReadDocumentAgreesWithTheLibrary(t *testing.T) {
	t.Parallel()
	for _, s := range documentSeeds(t) {
		checkDocument(t, s)
	}
}

// FuzzReadDocument: the envelope reader reads what the library's generic decoding holds,
// fails exactly when it fails, and returns every resource in place.
func FuzzReadDocument(f *testing.F) {
	for _, s := range documentSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDocument(t, data)
	})
}

func BenchmarkReadDocument(b *testing.B) {
	data, err := os.ReadFile("../../testdata/requests/perf-50-resources.json")
	if err != nil {
		b.Fatal(err)
	}
	var r struct {
		Prefetch map[string]json.RawMessage `json:"prefetch"`
	}
	if err := Unmarshal(data, &r); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		for _, v := range r.Prefetch {
			if string(v) == "null" {
				continue
			}
			if _, err := ReadDocument(v); err != nil {
				b.Fatal(err)
			}
		}
	}
}
