package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/nencds/nencds/internal/cli"
)

// TestHelpExitsZero: -h (and -help, --help) prints the usage and exits 0, for the server
// and for every subcommand.
func TestHelpExitsZero(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"-h"}, {"-help"}, {"--help"}, {"-dev", "-h"},
		{"eval", "-h"}, {"eval", "--help"}, {"demo-ehr", "-h"}, {"report", "-h"},
	} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), args, env(nil), strings.NewReader(""), &stdout, &stderr, nil)
		if code := cli.ExitCode(err); code != 0 {
			t.Errorf("nencds %s: exit status %d (%v); want 0", strings.Join(args, " "), code, err)
		}
		if sub := args[0]; !strings.HasPrefix(sub, "-") && !strings.Contains(stderr.String(), "usage: nencds "+sub) {
			t.Errorf("nencds %s printed no usage: %q", strings.Join(args, " "), stderr.String())
		}
	}
	// A wrong flag is still an error.
	if err := run(context.Background(), []string{"-no-such-flag"}, env(nil), strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{}, nil); cli.ExitCode(err) != 1 {
		t.Errorf("nencds -no-such-flag: %v; want exit status 1", err)
	}
}

// TestVersion: -version prints the module version and the commit (unknown in a test
// binary), and starts nothing: no trust file is needed.
func TestVersion(t *testing.T) {
	t.Parallel()
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"-version"}, env(nil), strings.NewReader(""), &stdout, &bytes.Buffer{}, nil); err != nil {
		t.Fatalf("nencds -version: %v", err)
	}
	got := stdout.String()
	if !strings.HasPrefix(got, "nencds ") || !strings.Contains(got, " commit ") || !strings.HasSuffix(got, "\n") {
		t.Errorf("nencds -version = %q; want \"nencds <version> commit <commit> ...\"", got)
	}
}

// TestUsageNamesSubcommands: the server's usage names each subcommand run dispatches and
// the -version flag.
func TestUsageNamesSubcommands(t *testing.T) {
	t.Parallel()
	for _, want := range []string{"nencds eval", "nencds demo-ehr", "nencds report", "nencds -version"} {
		if !strings.Contains(usage, want) {
			t.Errorf("usage lacks %q:\n%s", want, usage)
		}
	}
}
