package hooks

import (
	"strings"
	"testing"
)

// TestObservationCodes checks the observations prefetch asks for the codes the rules read
// (Ki-67, ECOG, the local mitotic count) and never for answer codes, which are values.
func TestObservationCodes(t *testing.T) {
	t.Parallel()
	got := ObservationCodes()
	for _, want := range []string{
		"http://loinc.org|29593-1",
		"http://loinc.org|89247-1",
		"https://github.com/nencds/nencds/CodeSystem/observation|mitotic-count",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("ObservationCodes() lacks %q", want)
		}
	}
	for _, tok := range strings.Split(got, ",") {
		if _, code, _ := strings.Cut(tok, "|"); strings.HasPrefix(code, "LA") {
			t.Errorf("ObservationCodes() asks for the answer code %q", tok)
		}
	}
}
