package cards

import (
	"regexp"
	"testing"
)

// TestRandomUUIDs checks the default id source of NewEngine (the server's): random
// version-4 UUIDs, never repeated.
func TestRandomUUIDs(t *testing.T) {
	t.Parallel()
	v4 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	e := NewEngine(DefaultConfig(), nil)
	seen := map[string]bool{}
	for range 1000 {
		id := e.newID()
		if !v4.MatchString(id) {
			t.Fatalf("id %q is not a version-4 UUID", id)
		}
		if seen[id] {
			t.Fatalf("id %q repeated", id)
		}
		seen[id] = true
	}
}
