package hooks

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/nencds/nencds/cards"
)

// fingerprintStreamed is Fingerprint as first written (each part written to the hash in
// turn): the fingerprints already stored must not change.
func fingerprintStreamed(c cards.Card) string {
	h := sha256.New()
	topic := ""
	if c.Source.Topic != nil {
		topic = c.Source.Topic.Code
	}
	for _, s := range []string{topic, string(c.Indicator), c.Summary, c.Detail} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	for _, s := range c.Suggestions {
		h.Write([]byte(s.Label))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// TestFingerprintStable: every card of the golden responses, and cards without a topic,
// suggestions or text, keep the fingerprint they had.
func TestFingerprintStable(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../testdata/responses/*.json")
	if err != nil || len(files) == 0 {
		t.Fatal("no testdata/responses/*.json")
	}
	all := []cards.Card{
		{},
		{Indicator: cards.Info},
		{Summary: "a\x00b", Detail: "\x00", Suggestions: []cards.Suggestion{{Label: ""}, {Label: "x"}}},
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var resp cards.Response
		if err := json.Unmarshal(b, &resp); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		all = append(all, resp.Cards...)
	}
	if len(all) < 40 {
		t.Fatalf("only %d cards", len(all))
	}
	for _, c := range all {
		if got, want := Fingerprint(c), fingerprintStreamed(c); got != want {
			t.Errorf("%s %q: fingerprint %s, was %s", topicOf(c), c.Summary, got, want)
		}
	}
}
