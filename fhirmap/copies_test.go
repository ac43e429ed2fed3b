package fhirmap

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// reformat re-encodes a resource with its keys sorted and no spaces: the same JSON value
// written differently.
func reformat(t *testing.T, res string) string {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(res), &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) == res {
		t.Fatal("reformat did not change the text")
	}
	return string(b)
}

// TestCopiesOfOneResource: when one resource (type/id) arrives in two documents, the copy
// used does not depend on their order: a withdrawn copy wins (the resource is skipped),
// else the newest by meta.lastUpdated then meta.versionId; differing copies with nothing
// to tell keep the first with a conflict note; identical copies are silent.
func TestCopiesOfOneResource(t *testing.T) {
	t.Parallel()
	const (
		q5  = `"valueQuantity":{"value":5,"unit":"%","system":"http://unitsofmeasure.org","code":"%"}`
		q25 = `"valueQuantity":{"value":25,"unit":"%","system":"http://unitsofmeasure.org","code":"%"}`
	)
	final := ki67("k", "final", q5)
	type want struct {
		Ki67      []float64 // percents, both orders
		Diagnoses int
		Notes     []Note // about the resource, both orders
	}
	skipped := func(ref, why string) []Note {
		return []Note{{Kind: NoteSkipped, Ref: ref, Text: strings.SplitN(ref, "/", 2)[0] + " skipped: " + why}}
	}
	conflict := []Note{{Kind: NoteConflict, Ref: "Observation/k", Text: "Observation/k was received in 2 differing copies and neither meta.lastUpdated nor meta.versionId tells which is current; the first copy received is used"}}
	tests := []struct {
		name string
		a, b string
		want want
		// firstWins: differing copies with nothing to tell; the result follows the order.
		firstWins []float64
	}{
		{name: "final and entered-in-error", a: final, b: ki67("k", "entered-in-error", q5),
			want: want{Notes: skipped("Observation/k", "entered in error")}},
		{name: "final and entered-in-error, the error copy older", a: ki67("k", "final", `"meta":{"versionId":"3","lastUpdated":"2025-03-10T00:00:00Z"},`+q25), b: ki67("k", "entered-in-error", `"meta":{"versionId":"1","lastUpdated":"2025-03-01T00:00:00Z"},`+q5),
			want: want{Notes: skipped("Observation/k", "entered in error")}},
		{name: "final and cancelled", a: final, b: ki67("k", "cancelled", q5),
			want: want{Notes: skipped("Observation/k", "cancelled")}},
		{name: "confirmed and refuted condition", a: cond("c", sysICD10CM, "C7A.012", `"verificationStatus":{"coding":[{"code":"confirmed"}]}`), b: cond("c", sysICD10CM, "C7A.012", `"verificationStatus":{"coding":[{"code":"refuted"}]}`),
			want: want{Notes: skipped("Condition/c", "refuted")}},
		{name: "confirmed and entered-in-error condition", a: cond("c", sysICD10CM, "C7A.012", ""), b: cond("c", sysICD10CM, "C7A.012", `"verificationStatus":{"coding":[{"code":"entered-in-error"}]}`),
			want: want{Notes: skipped("Condition/c", "entered in error")}},
		{name: "newer lastUpdated", a: ki67("k", "final", `"meta":{"lastUpdated":"2025-03-01T10:00:00Z"},`+q5), b: ki67("k", "final", `"meta":{"lastUpdated":"2025-03-01T10:00:00.5+00:00"},`+q25),
			want: want{Ki67: []float64{25}}},
		{name: "newer lastUpdated beats a higher versionId", a: ki67("k", "final", `"meta":{"versionId":"9","lastUpdated":"2025-03-01T10:00:00Z"},`+q5), b: ki67("k", "final", `"meta":{"versionId":"2","lastUpdated":"2025-03-02T10:00:00Z"},`+q25),
			want: want{Ki67: []float64{25}}},
		{name: "same lastUpdated, higher versionId", a: ki67("k", "final", `"meta":{"versionId":"2","lastUpdated":"2025-03-01T10:00:00Z"},`+q5), b: ki67("k", "final", `"meta":{"versionId":"10","lastUpdated":"2025-03-01T10:00:00Z"},`+q25),
			want: want{Ki67: []float64{25}}},
		{name: "versionId only", a: ki67("k", "final", `"meta":{"versionId":"1"},`+q5), b: ki67("k", "final", `"meta":{"versionId":"2"},`+q25),
			want: want{Ki67: []float64{25}}},
		{name: "differing, no meta", a: final, b: ki67("k", "final", q25),
			want: want{Notes: conflict}, firstWins: []float64{5, 25}},
		{name: "differing, same meta", a: ki67("k", "final", `"meta":{"versionId":"1","lastUpdated":"2025-03-01T10:00:00Z"},`+q5), b: ki67("k", "final", `"meta":{"versionId":"1","lastUpdated":"2025-03-01T10:00:00Z"},`+q25),
			want: want{Notes: conflict}, firstWins: []float64{5, 25}},
		{name: "differing, versionId not a number", a: ki67("k", "final", `"meta":{"versionId":"a"},`+q5), b: ki67("k", "final", `"meta":{"versionId":"b"},`+q25),
			want: want{Notes: conflict}, firstWins: []float64{5, 25}},
		{name: "identical", a: final, b: final, want: want{Ki67: []float64{5}}},
		{name: "identical, written differently", a: final, b: reformat(t, final), want: want{Ki67: []float64{5}}},
		{name: "identical condition", a: cond("c", sysICD10CM, "C7A.012", ""), b: cond("c", sysICD10CM, "C7A.012", ""), want: want{Diagnoses: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for order, docs := range [][]string{{tt.a, tt.b}, {tt.b, tt.a}} {
				p, err := Map(Input{PatientID: pid, At: testAt, Documents: []json.RawMessage{bundle(docs[0]), bundle(docs[1])}})
				if err != nil {
					t.Fatal(err)
				}
				got := want{Diagnoses: len(p.Diagnoses)}
				for _, k := range p.Ki67 {
					got.Ki67 = append(got.Ki67, k.Percent)
				}
				for _, n := range p.Notes {
					if n.Ref == "Observation/k" || n.Ref == "Condition/c" {
						got.Notes = append(got.Notes, n)
					}
				}
				w := tt.want
				if tt.firstWins != nil {
					w.Ki67 = []float64{tt.firstWins[order]}
				}
				if diff := cmp.Diff(w, got); diff != "" {
					t.Errorf("order %d (-want +got):\n%s", order, diff)
				}
			}
		})
	}
}

// TestCopiesKeepArrivalOrder: resources and the notes of reading the documents keep the
// order in which they arrived, a resource at the place of its first copy.
func TestCopiesKeepArrivalOrder(t *testing.T) {
	t.Parallel()
	docs := []json.RawMessage{
		bundle(ki67("a", "entered-in-error", `"valueQuantity":{"value":1,"unit":"%"}`), `[]`, ki67("b", "entered-in-error", `"valueQuantity":{"value":2,"unit":"%"}`)),
		bundle(ki67("a", "entered-in-error", `"valueQuantity":{"value":1,"unit":"%"}`), ki67("c", "entered-in-error", `"valueQuantity":{"value":3,"unit":"%"}`)),
	}
	p, err := Map(Input{PatientID: pid, At: testAt, Documents: docs})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range p.Notes {
		got = append(got, string(n.Kind)+" "+n.Ref)
	}
	want := []string{"skipped Observation/a", "rejected ", "skipped Observation/b", "skipped Observation/c"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("notes (-want +got):\n%s", diff)
	}
}
