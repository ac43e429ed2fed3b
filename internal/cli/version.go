// Package cli holds the command-line manners every nencds binary shares: -h prints the
// usage and exits 0 (ExitCode), and -version prints what the binary was built from: the
// module version and the VCS commit that the Go toolchain stamps into the binary
// (runtime/debug.ReadBuildInfo).
//
// A binary built inside a checkout with -buildvcs=false (as CI and the container build
// do), or by go run / go test, carries no commit: it is reported as "unknown". A binary
// built from the module cache (go install module@version) carries a module version but
// no commit.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"runtime/debug"
)

// ExitCode is the process status for the error a command returned: 0 for none and for
// flag.ErrHelp (-h or -help: the flag package has printed the usage), 1 otherwise.
func ExitCode(err error) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 1
}

// VersionUsage is the usage line of the -version flag.
const VersionUsage = "print the module version and the commit of this binary, and exit"

// Version is the -version line of the named command.
func Version(name string) string { return Read().String(name) }

// Info is what the binary knows about its build.
type Info struct {
	Version  string // module version, "(devel)" for a build inside a checkout
	Commit   string // vcs.revision, "unknown" when not stamped
	Modified bool   // vcs.modified: the checkout had uncommitted changes
	Go       string // the Go version that built the binary
}

// Read returns the build information of the running binary.
func Read() Info { return fromBuildInfo(debug.ReadBuildInfo()) }

func fromBuildInfo(bi *debug.BuildInfo, ok bool) Info {
	in := Info{Version: "(devel)", Commit: "unknown"}
	if !ok || bi == nil {
		return in
	}
	if v := bi.Main.Version; v != "" {
		in.Version = v
	}
	in.Go = bi.GoVersion
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			if s.Value != "" {
				in.Commit = s.Value
			}
		case "vcs.modified":
			in.Modified = s.Value == "true"
		}
	}
	return in
}

// String is the one-line answer to -version: "<name> <version> commit <commit>[ (modified)] <go>".
func (in Info) String(name string) string {
	s := fmt.Sprintf("%s %s commit %s", name, in.Version, in.Commit)
	if in.Modified {
		s += " (modified)"
	}
	if in.Go != "" {
		s += " " + in.Go
	}
	return s
}
