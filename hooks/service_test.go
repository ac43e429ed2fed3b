package hooks

import (
	"slices"
	"strings"
	"testing"

	"github.com/nencds/nencds/fhirmap"
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

// TestPrefetchKeysAreReads: the prefetch keys are the keys of fhirmap.Reads, in order, so
// that the hooks and the SMART app read the same record.
func TestPrefetchKeysAreReads(t *testing.T) {
	t.Parallel()
	var keys []string
	for _, r := range fhirmap.Reads() {
		keys = append(keys, r.Key)
	}
	if !slices.Equal(keys, PrefetchKeys) {
		t.Errorf("fhirmap.Reads keys %q, PrefetchKeys %q", keys, PrefetchKeys)
	}
	if got := PrefetchTemplates()[KeyConditions]; got != "Condition?patient={{context.patientId}}" {
		t.Errorf("conditions template %q", got)
	}
}
