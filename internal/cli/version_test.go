package cli

import (
	"errors"
	"flag"
	"fmt"
	"runtime/debug"
	"strings"
	"testing"

	_ "github.com/nencds/nencds/internal/golden" // -update (go test ./... -update)
)

func TestFromBuildInfo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		bi   *debug.BuildInfo
		ok   bool
		want string
	}{
		{"no build info", nil, false, "nencds (devel) commit unknown"},
		{"checkout built with -buildvcs=false", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}},
			true, "nencds (devel) commit unknown go1.26.8"},
		{"checkout with VCS stamping", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.modified", Value: "false"}}},
			true, "nencds (devel) commit 0123abcd go1.26.8"},
		{"uncommitted changes", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.modified", Value: "true"}}},
			true, "nencds (devel) commit 0123abcd (modified) go1.26.8"},
		{"go install module@version", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"}},
			true, "nencds v1.2.3 commit unknown go1.26.8"},
		{"empty main version", &debug.BuildInfo{Main: debug.Module{}}, true, "nencds (devel) commit unknown"},
	}
	for _, tt := range tests {
		if got := fromBuildInfo(tt.bi, tt.ok).String("nencds"); got != tt.want {
			t.Errorf("%s: %q; want %q", tt.name, got, tt.want)
		}
	}
}

// The test binary itself has build information: Read reports its Go version.
func TestRead(t *testing.T) {
	t.Parallel()
	in := Read()
	if !strings.HasPrefix(in.Go, "go") || in.Version == "" || in.Commit == "" {
		t.Errorf("Read() = %+v", in)
	}
}

func TestExitCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"success", nil, 0},
		{"-h", flag.ErrHelp, 0},
		{"-h wrapped", fmt.Errorf("eval: %w", flag.ErrHelp), 0},
		{"failure", errors.New("boom"), 1},
	}
	for _, tt := range tests {
		if got := ExitCode(tt.err); got != tt.want {
			t.Errorf("%s: ExitCode(%v) = %d; want %d", tt.name, tt.err, got, tt.want)
		}
	}
}
