package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// compose is the part of deploy/compose.yaml the test reads.
type compose struct {
	Services map[string]struct {
		Image       string            `json:"image"`
		Environment map[string]string `json:"environment"`
		Volumes     []string          `json:"volumes"`
	} `json:"services"`
}

// qualifiedImage is registry/path:tag (or @digest) with a registry host: a name with a
// dot or a port, or localhost. docker.io/library/redis:7 passes; redis:7 does not.
var qualifiedImage = regexp.MustCompile(`^([a-z0-9-]+(\.[a-z0-9-]+)+(:[0-9]+)?|localhost(:[0-9]+)?)/[a-z0-9._/-]+(:[A-Za-z0-9._-]+|@sha256:[0-9a-f]{64})$`)

// TestComposeFile: deploy/compose.yaml parses, names only fully qualified images with a
// tag, mounts files that exist, and sets on nencds only real settings (a NENCDS_*
// variable of the settings table, or an OTEL_* variable of the OpenTelemetry SDK) whose
// values the server accepts.
func TestComposeFile(t *testing.T) {
	t.Parallel()
	const path = "../../deploy/compose.yaml"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c compose
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	for _, want := range []string{"nencds", "redis", "postgres", "otel-collector"} {
		if _, ok := c.Services[want]; !ok {
			t.Errorf("service %s missing", want)
		}
	}
	var images []string
	for name, s := range c.Services {
		images = append(images, s.Image)
		if !qualifiedImage.MatchString(s.Image) {
			t.Errorf("service %s: image %q is not fully qualified (registry/namespace/name:tag)", name, s.Image)
		}
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if !strings.HasPrefix(src, ".") {
				continue // a named volume
			}
			if _, err := os.Stat(filepath.Join("../../deploy", src)); err != nil {
				t.Errorf("service %s mounts %s: %v", name, src, err)
			}
		}
	}
	known := map[string]bool{}
	for _, s := range settings {
		known[s.env] = true
	}
	envs := c.Services["nencds"].Environment
	if len(envs) == 0 {
		t.Fatal("service nencds sets no environment")
	}
	for k := range envs {
		if !known[k] && !strings.HasPrefix(k, "OTEL_") {
			t.Errorf("service nencds sets %s, which is no nencds setting", k)
		}
	}
	// Compose interpolates ${NAME...} from the shell: the test gives each such variable a
	// value of the right form.
	interpolated := map[string]string{"NENCDS_PSEUDONYM_KEY": strings.Repeat("ab", 32)}
	resolved := map[string]string{}
	for k, v := range envs {
		if name, ok := strings.CutPrefix(v, "${"); ok {
			name, _, _ = strings.Cut(strings.TrimSuffix(name, "}"), ":")
			iv, known := interpolated[name]
			if !known {
				t.Errorf("%s = %s: no test value for ${%s}", k, v, name)
			}
			v = iv
		}
		resolved[k] = v
	}
	if _, err := parseConfig(nil, env(resolved)); err != nil {
		t.Errorf("nencds refuses the compose settings: %v", err)
	}
	for _, want := range []string{"docker.io/library/redis:7", "docker.io/library/postgres:15"} {
		if !slices.Contains(images, want) {
			t.Errorf("no service runs %s", want)
		}
	}
}

// TestCollectorConfig: the collector configuration parses and wires a traces and a
// metrics pipeline from receivers and to exporters it defines.
func TestCollectorConfig(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../deploy/otel-collector.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Receivers map[string]any `json:"receivers"`
		Exporters map[string]any `json:"exporters"`
		Service   struct {
			Pipelines map[string]struct {
				Receivers []string `json:"receivers"`
				Exporters []string `json:"exporters"`
			} `json:"pipelines"`
		} `json:"service"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"traces", "metrics"} {
		pl, ok := cfg.Service.Pipelines[p]
		if !ok || len(pl.Receivers) == 0 || len(pl.Exporters) == 0 {
			t.Errorf("pipeline %s missing or empty", p)
			continue
		}
		for _, r := range pl.Receivers {
			if _, ok := cfg.Receivers[r]; !ok {
				t.Errorf("pipeline %s: receiver %s not defined", p, r)
			}
		}
		for _, e := range pl.Exporters {
			if _, ok := cfg.Exporters[e]; !ok {
				t.Errorf("pipeline %s: exporter %s not defined", p, e)
			}
		}
	}
}
