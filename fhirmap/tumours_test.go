package fhirmap

import (
	"slices"
	"testing"
)

// TestTumours: each NEN primary with its own metastases and results; the facts of a
// history tumour (resolved, inactive, remission) leave the top-level lists, tied by
// focus, specimen, report, condition-related, reasonReference or date.
func TestTumours(t *testing.T) {
	t.Parallel()
	active := cond("new", sysICD10CM, "C7A.1", `"clinicalStatus":{"coding":[{"code":"active"}]},"onsetDateTime":"2026-02-01"`)
	old := cond("old", sysICD10CM, "C7A.026", `"clinicalStatus":{"coding":[{"code":"resolved"}]},"onsetDateTime":"2012-01-10","abatementDateTime":"2013-02-01"`)
	oldNoEnd := cond("old", sysICD10CM, "C7A.026", `"clinicalStatus":{"coding":[{"code":"remission"}]},"onsetDateTime":"2012-01-10"`)
	kiOn := func(id, date, extra string) string {
		s := `"valueQuantity":{"value":5,"unit":"%"}`
		if date != "" {
			s = `"effectiveDateTime":"` + date + `",` + s
		}
		if extra != "" {
			s += "," + extra
		}
		return obs(id, "final", sysLOINC, "29593-1", s)
	}
	tests := []struct {
		name        string
		res         []string
		wantHistory []string // the Ki-67 refs moved to history
		wantBy      string
	}{
		{"single tumour: nothing moves", []string{active, kiOn("k", "2010-01-01", "")}, nil, ""},
		{"focus names the old tumour", []string{active, old, kiOn("k", "2026-03-01", `"focus":[{"reference":"Condition/old"}]`)}, []string{"Observation/k"}, "focus"},
		{"focus names the active tumour, even dated in the old one's time", []string{active, old, kiOn("k", "2012-03-01", `"focus":[{"reference":"Condition/new"}]`)}, nil, ""},
		{"dated before the old tumour resolved", []string{active, old, kiOn("k", "2012-03-01", "")}, []string{"Observation/k"}, "date"},
		{"dated after the old tumour resolved", []string{active, old, kiOn("k", "2026-01-20", "")}, nil, ""},
		{"undated: the index tumour", []string{active, old, kiOn("k", "", "")}, nil, ""},
		{"no abatement: more than 90 days before the new onset", []string{active, oldNoEnd, kiOn("k", "2025-06-01", "")}, []string{"Observation/k"}, "date"},
		{"no abatement: within 90 days before the new onset (diagnostic biopsy)", []string{active, oldNoEnd, kiOn("k", "2026-01-05", "")}, nil, ""},
		{"specimen of a focused result", []string{active, old,
			obs("d", "final", LocalSystem, "differentiation", `"valueString":"well","focus":[{"reference":"Condition/old"}],"specimen":{"reference":"Specimen/s1"}`),
			kiOn("k", "2026-03-01", `"specimen":{"reference":"Specimen/s1"}`)}, []string{"Observation/k"}, "specimen"},
		{"listed in the old tumour's report", []string{active, old,
			obs("d", "final", LocalSystem, "differentiation", `"valueString":"well","focus":[{"reference":"Condition/old"}]`),
			kiOn("k", "2026-03-01", ""),
			`{"resourceType":"DiagnosticReport","id":"path","status":"final","subject":{"reference":"Patient/p1"},"code":{"text":"Pathology"},"result":[{"reference":"Observation/d"},{"reference":"Observation/k"}]}`},
			[]string{"Observation/k"}, "report"},
		{"an entered-in-error report ties nothing", []string{active, old,
			obs("d", "final", LocalSystem, "differentiation", `"valueString":"well","focus":[{"reference":"Condition/old"}]`),
			kiOn("k", "2026-03-01", ""),
			`{"resourceType":"DiagnosticReport","id":"path","status":"entered-in-error","subject":{"reference":"Patient/p1"},"code":{"text":"Pathology"},"result":[{"reference":"Observation/d"},{"reference":"Observation/k"}]}`},
			nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := mapRes(t, tt.res...)
			var moved []string
			if p.History != nil {
				for _, k := range p.History.Ki67 {
					moved = append(moved, k.Ref)
				}
			}
			if !slices.Equal(moved, tt.wantHistory) {
				t.Fatalf("history Ki-67 = %v, want %v (tumours %+v)", moved, tt.wantHistory, p.Tumours)
			}
			for _, k := range p.Ki67 {
				if slices.Contains(moved, k.Ref) {
					t.Errorf("%s both in history and top level", k.Ref)
				}
			}
			if tt.wantBy != "" {
				if len(p.Tumours) < 2 || !slices.Contains(p.Tumours[1].Members, Member{Ref: "Observation/k", By: tt.wantBy}) {
					t.Errorf("tumours = %+v, want Observation/k by %s", p.Tumours, tt.wantBy)
				}
			}
			if len(p.Tumours) == 0 || !p.Tumours[0].Index || p.Tumours[0].Ref != "Condition/new" {
				t.Errorf("index tumour = %+v", p.Tumours)
			}
			if len(p.Diagnoses) != 1 || p.Diagnoses[0].Ref != "Condition/new" {
				t.Errorf("top-level diagnoses = %+v", p.Diagnoses)
			}
		})
	}
}

// TestTumourExtentAndMetastases: a metastasis of the old tumour (condition-related or
// dated in its time) and its M1 never make the active tumour distant.
func TestTumourExtentAndMetastases(t *testing.T) {
	t.Parallel()
	active := cond("new", sysICD10CM, "C7A.1", `"clinicalStatus":{"coding":[{"code":"active"}]},"onsetDateTime":"2026-02-01"`)
	old := cond("old", sysICD10CM, "C7A.026", `"clinicalStatus":{"coding":[{"code":"resolved"}]},"onsetDateTime":"2012-01-10","abatementDateTime":"2013-02-01"`)
	related := cond("met", sysICD10CM, "C7B.02", `"onsetDateTime":"2025-12-01","extension":[{"url":"`+ConditionRelatedURL+`","valueReference":{"reference":"Condition/old"}}]`)
	dated := cond("met2", sysICD10CM, "C7B.03", `"onsetDateTime":"2012-06-01"`)
	m1 := obs("m1", "final", sysLOINC, "21907-1", `"effectiveDateTime":"2012-02-01","valueCodeableConcept":{"coding":[{"code":"cM1"}]}`)
	p := mapRes(t, active, old, related, dated, m1)
	if p.Extent.Status != ExtentUnknown || len(p.Secondaries) != 0 || len(p.TNM) != 0 {
		t.Errorf("extent %+v, secondaries %d, TNM %d: the old tumour's metastases leaked", p.Extent, len(p.Secondaries), len(p.TNM))
	}
	if p.History == nil || len(p.History.Secondaries) != 2 {
		t.Fatalf("history = %+v", p.History)
	}
	if !slices.Contains(p.Tumours[1].Members, Member{Ref: "Condition/met", By: "related"}) || !slices.Contains(p.Tumours[1].Members, Member{Ref: "Condition/met2", By: "date"}) {
		t.Errorf("members = %+v", p.Tumours[1].Members)
	}
	// A metastasis related to the active tumour stays, whatever its date.
	own := cond("met3", sysICD10CM, "C7B.02", `"onsetDateTime":"2012-06-01","extension":[{"url":"`+ConditionRelatedURL+`","valueReference":{"reference":"Condition/new"}}]`)
	p = mapRes(t, active, old, own)
	if p.Extent.Status != ExtentDistant || !p.Extent.Liver {
		t.Errorf("own metastasis lost: %+v", p.Extent)
	}
}

// TestTumourGrouping: which tumour is the index, and when two primaries are recorded.
func TestTumourGrouping(t *testing.T) {
	t.Parallel()
	st := func(s string) string { return `"clinicalStatus":{"coding":[{"code":"` + s + `"}]}` }
	tests := []struct {
		name      string
		res       []string
		wantIndex string
		wantN     int
		wantMulti int
	}{
		{"one active", []string{cond("a", sysICD10CM, "C25.4", st("active"))}, "Condition/a", 1, 0},
		{"only resolved: the newest is the index", []string{
			cond("a", sysICD10CM, "C25.4", st("resolved")+`,"onsetDateTime":"2010-01-01"`),
			cond("b", sysICD10CM, "C7A.026", st("resolved")+`,"onsetDateTime":"2020-01-01"`)}, "Condition/b", 2, 0},
		{"two active, different sites", []string{
			cond("a", sysICD10CM, "C25.4", st("active")+`,"onsetDateTime":"2026-01-01"`),
			cond("b", sysICD10CM, "C7A.090", st("active")+`,"onsetDateTime":"2025-01-01"`)}, "Condition/a", 2, 2},
		{"two active, same site: one tumour", []string{
			cond("a", sysICD10CM, "C25.4", st("active")+`,"onsetDateTime":"2026-01-01"`),
			cond("b", sysICD10CM, "C7A.1", st("active")+`,"onsetDateTime":"2025-01-01",`+`"bodySite":[{"coding":[{"system":"`+sysICDO3+`","code":"C25.9"}]}]`)}, "Condition/a", 1, 0},
		{"active and benign of another site: not two malignant primaries", []string{
			cond("a", sysICD10CM, "C25.4", st("active")),
			cond("b", sysICD10CM, "D3A.026", st("active"))}, "Condition/a", 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := mapRes(t, tt.res...)
			if len(p.Tumours) != tt.wantN || p.Tumours[0].Ref != tt.wantIndex || !p.Tumours[0].Index {
				t.Errorf("tumours = %+v, want %d with index %s", p.Tumours, tt.wantN, tt.wantIndex)
			}
			if len(p.MultiplePrimaries) != tt.wantMulti {
				t.Errorf("multiple primaries = %v, want %d", p.MultiplePrimaries, tt.wantMulti)
			}
		})
	}
}
