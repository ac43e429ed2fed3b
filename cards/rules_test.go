package cards

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestScenarios(t *testing.T) {
	t.Parallel()
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			r := evaluateCfg(noCap(), sc.p)
			if diff := cmp.Diff(sc.want, topics(r)); diff != "" {
				t.Errorf("topics (-want +got):\n%s", diff)
			}
			if err := r.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func noCap() Config {
	c := DefaultConfig()
	c.MaxCards = 0
	return c
}
