package cards

import (
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig().Validate() = %v; want nil", err)
	}
	tests := []struct {
		name   string
		mutate func(*Config)
		field  string
	}{
		{"negative card cap", func(c *Config) { c.MaxCards = -1 }, "maxCards"},
		{"elderly age not an age", func(c *Config) { c.ElderlyAge = 7 }, "elderlyAge"},
		{"ECOG cut-off out of 0-5", func(c *Config) { c.ECOGChemoMax = 6 }, "ecogChemoMax"},
		{"zero cycle length", func(c *Config) { c.CycleDaysChemo = 0 }, "cycleDaysChemo"},
		{"LVEF drop as a percentage", func(c *Config) { c.LVEFRelativeDrop = 20 }, "lvefRelativeDrop"},
		{"relative SMART app URL", func(c *Config) { c.SMARTAppURL = "/app" }, "smartAppUrl"},
		{"guideline without https", func(c *Config) { c.Guidelines.WHO.URL = "http://example.org" }, "guidelines.who.url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := DefaultConfig()
			tt.mutate(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.field) {
				t.Errorf("Validate() = %v; want an error naming %q", err, tt.field)
			}
		})
	}
}
