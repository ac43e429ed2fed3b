package security

import "testing"

func TestModes(t *testing.T) {
	t.Parallel()
	var zero Mode
	for _, tt := range []struct {
		m    Mode
		want bool
	}{{zero, false}, {Production(), false}, {Development(), true}} {
		for name, got := range map[string]bool{
			"IsDevelopment": tt.m.IsDevelopment(), "AnonymousCalls": tt.m.AnonymousCalls(), "AnyCORSOrigin": tt.m.AnyCORSOrigin(),
			"LoopbackHTTP": tt.m.LoopbackHTTP(), "OpenFHIR": tt.m.OpenFHIR(), "PlainHTTP": tt.m.PlainHTTP(), "HTTPLinks": tt.m.HTTPLinks(),
		} {
			if got != tt.want {
				t.Errorf("%v.%s() = %v, want %v", tt.m, name, got, tt.want)
			}
		}
	}
	if zero != Production() || zero.String() != "production" || Development().String() != "development" {
		t.Error("the zero Mode must be Production")
	}
}
