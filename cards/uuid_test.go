package cards

import (
	"fmt"
	"math/rand/v2"
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

// TestUUIDStringAsSprintf: uuidString writes what fmt's %x of the five groups wrote, for
// all-zero, all-one and random bytes.
func TestUUIDStringAsSprintf(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 8))
	inputs := [][16]byte{{}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
	for range 1000 {
		var b [16]byte
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		inputs = append(inputs, b)
	}
	for _, b := range inputs {
		want := b
		want[6] = want[6]&0x0f | 0x40
		want[8] = want[8]&0x3f | 0x80
		w := fmt.Sprintf("%x-%x-%x-%x-%x", want[0:4], want[4:6], want[6:8], want[8:10], want[10:16])
		if got := uuidString(b); got != w {
			t.Errorf("uuidString(%x) = %s, want %s", b, got, w)
		}
	}
}
