package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestClinicalCitations: the repository is self-contained: every citation of the clinical
// specification names a section that docs/clinical.md has (§n, or §n.m for a numbered
// item of §1), and no file refers to the specification's former home outside the
// repository.
func TestClinicalCitations(t *testing.T) {
	t.Parallel()
	const root = "../.."
	spec, err := os.ReadFile(filepath.Join(root, "docs", "clinical.md"))
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^## ([0-9]+)\. `).FindAllStringSubmatch(string(spec), -1) {
		sections[m[1]] = true
	}
	// Items of §1 are numbered "1. **...", "2. **..." under its heading.
	_, afterOne, _ := strings.Cut(string(spec), "\n## 1. ")
	one, _, _ := strings.Cut(afterOne, "\n## 2. ")
	items := len(regexp.MustCompile(`(?m)^[0-9]+\. \*\*`).FindAllString(one, -1))
	if len(sections) < 6 || items < 8 {
		t.Fatalf("docs/clinical.md: %d sections, %d safety principles; want §1–§6 and 8 principles", len(sections), items)
	}
	cite := regexp.MustCompile(`clinical\.md §([0-9]+)(?:\.([0-9]+))?`)
	outside := []string{"shared/" + "clinical", "GUIDELINE" + ".md", "GUIDELINE" + " §"}
	checked := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (strings.HasPrefix(n, ".") || n == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(path) {
		case ".go", ".md", ".csv", ".yaml", ".yml", ".json", ".txt":
		default:
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		text := string(b)
		rel, _ := filepath.Rel(root, path)
		for _, o := range outside {
			if strings.Contains(text, o) {
				t.Errorf("%s refers to %q, outside the repository: cite docs/clinical.md §n", rel, o)
			}
		}
		for _, m := range cite.FindAllStringSubmatch(text, -1) {
			checked++
			if !sections[m[1]] {
				t.Errorf("%s cites %s: docs/clinical.md has no §%s", rel, m[0], m[1])
			}
			if m[2] != "" {
				n, _ := strconv.Atoi(m[2])
				if m[1] != "1" || n < 1 || n > items {
					t.Errorf("%s cites %s: no such item", rel, m[0])
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 20 {
		t.Errorf("only %d citations found: is the walk reading the repository?", checked)
	}
}
