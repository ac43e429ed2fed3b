package validate

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// stage is one FROM ... stage of a Dockerfile with its instructions (continuations joined).
type stage struct {
	from  string
	lines []string
}

func parseDockerfile(t *testing.T, path string) (args map[string]string, stages []stage) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	args = map[string]string{}
	var cur strings.Builder
	flush := func() {
		line := strings.TrimSpace(cur.String())
		cur.Reset()
		if line == "" {
			return
		}
		instr, rest, _ := strings.Cut(line, " ")
		switch strings.ToUpper(instr) {
		case "FROM":
			stages = append(stages, stage{from: rest})
		case "ARG":
			if len(stages) == 0 {
				k, v, _ := strings.Cut(rest, "=")
				args[k] = v
			}
			fallthrough
		default:
			if len(stages) > 0 {
				stages[len(stages)-1].lines = append(stages[len(stages)-1].lines, line)
			}
		}
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			cur.WriteString(strings.TrimSuffix(line, `\`) + " ")
			continue
		}
		cur.WriteString(line)
		flush()
	}
	flush()
	return args, stages
}

func TestDockerfile(t *testing.T) {
	t.Parallel()
	args, stages := parseDockerfile(t, "../Dockerfile")
	if len(stages) != 2 {
		t.Fatalf("want a builder and a final stage, got %d stages", len(stages))
	}
	build, final := stages[0], stages[1]

	// Builder: golang at the go.mod language version.
	gomod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	from := strings.ReplaceAll(build.from, "${GO_VERSION}", args["GO_VERSION"])
	if !strings.HasPrefix(from, "golang:"+string(m[1])+" ") && !strings.HasPrefix(from, "golang:"+string(m[1])+".") {
		t.Errorf("builder FROM %q, want golang:%s", from, m[1])
	}
	body := strings.Join(build.lines, "\n")
	for _, want := range []string{"CGO_ENABLED=0", "go build", "./cmd/nencds", "-trimpath"} {
		if !strings.Contains(body, want) {
			t.Errorf("builder stage lacks %q", want)
		}
	}

	// Final: minimal, non-root, numeric user, no fetched content.
	if !strings.HasPrefix(final.from, "gcr.io/distroless/static") && final.from != "scratch" {
		t.Errorf("final FROM %q, want distroless static or scratch", final.from)
	}
	var user string
	for _, l := range final.lines {
		if strings.HasPrefix(strings.ToUpper(l), "USER ") {
			user = strings.TrimSpace(l[5:])
		}
		if strings.HasPrefix(strings.ToUpper(l), "ADD ") || strings.HasPrefix(strings.ToUpper(l), "RUN ") {
			t.Errorf("final stage runs or fetches: %q", l)
		}
	}
	if uid, _, _ := strings.Cut(user, ":"); uid != "65532" {
		t.Errorf("final USER %q, want 65532", user)
	}
}

// TestDockerContextHasTheBuild checks deploy/Dockerfile.dockerignore against what
// `go build ./cmd/nencds` reads: every Go and embedded file of the binary's packages, go.mod
// and go.sum must be in the build context, and tests and testdata must not be.
func TestDockerContextHasTheBuild(t *testing.T) {
	t.Parallel()
	patterns := readIgnore(t, "../Dockerfile.dockerignore")
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-e", "-deps", "-f", `{{.Dir}}|{{join .GoFiles ","}}|{{join .EmbedFiles ","}}`, "./cmd/nencds")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOWORK=off") // read-only: never touch the main go.mod
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	need := []string{"go.mod", "go.sum"}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		parts := strings.Split(line, "|")
		rel, err := filepath.Rel(root, parts[0])
		if err != nil || strings.HasPrefix(rel, "..") {
			continue // a module dependency, downloaded in the image
		}
		for _, list := range parts[1:] {
			for _, f := range strings.Split(list, ",") {
				if f != "" {
					need = append(need, filepath.ToSlash(filepath.Join(rel, f)))
				}
			}
		}
	}
	if len(need) < 5 {
		t.Fatalf("go list found too few files (%v); is cmd/nencds there?", need)
	}
	for _, f := range need {
		if ignored(patterns, f) {
			t.Errorf("%s is needed by the build but excluded from the Docker context", f)
		}
	}
	for _, f := range []string{"hooks/server_test.go", "testdata/requests/x.json", "hooks/testdata/x.json", ".git/config", "deploy/base/deployment.yaml", "cmd/nencds-load/main.go"} {
		if !ignored(patterns, f) {
			t.Errorf("%s should not be in the Docker context", f)
		}
	}
}

type ignorePattern struct {
	re     *regexp.Regexp
	negate bool
}

func readIgnore(t *testing.T, path string) []ignorePattern {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []ignorePattern
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p := ignorePattern{}
		if strings.HasPrefix(line, "!") {
			p.negate, line = true, line[1:]
		}
		line = strings.TrimPrefix(filepath.ToSlash(filepath.Clean(line)), "/")
		var re strings.Builder
		re.WriteString("^")
		for i := 0; i < len(line); i++ {
			switch {
			case strings.HasPrefix(line[i:], "**/"):
				re.WriteString("(.*/)?")
				i += 2
			case strings.HasPrefix(line[i:], "**"):
				re.WriteString(".*")
				i++
			case line[i] == '*':
				re.WriteString("[^/]*")
			case line[i] == '?':
				re.WriteString("[^/]")
			default:
				re.WriteString(regexp.QuoteMeta(line[i : i+1]))
			}
		}
		re.WriteString("$")
		p.re = regexp.MustCompile(re.String())
		out = append(out, p)
	}
	return out
}

// ignored applies the patterns as Docker does: in order, the last match wins, and a pattern
// matches a path when it matches the path or one of its parent directories.
func ignored(patterns []ignorePattern, path string) bool {
	ex := false
	for _, p := range patterns {
		match := false
		for sub := path; ; {
			if p.re.MatchString(sub) {
				match = true
				break
			}
			i := strings.LastIndex(sub, "/")
			if i < 0 {
				break
			}
			sub = sub[:i]
		}
		if match {
			ex = !p.negate
		}
	}
	return ex
}
