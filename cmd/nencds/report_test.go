package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nencds/nencds/store"
)

var reportNow = time.Date(2026, 6, 30, 12, 0, 0, 0, time.UTC)

// reportDB writes a SQLite store with cards and feedback of two topics.
func reportDB(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "nencds.db")
	st, err := store.Open(t.Context(), "sqlite:"+path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	at := reportNow.Add(-24 * time.Hour)
	card := func(uuid, topic string, s ...store.Suggestion) store.Card {
		return store.Card{Issuer: "i", ServiceID: "nen-patient-view", UUID: uuid, Hook: "patient-view", Topic: topic,
			Indicator: "info", Patient: st.Pseudonym("i", "p"), Fingerprint: "f", Issued: at, Suggestions: s}
	}
	err = st.PutCards(t.Context(), []store.Card{
		card("a", "net-ssa", store.Suggestion{UUID: "s1", Label: "Start <octreotide> LAR"}),
		card("b", "net-ssa"),
		card("c", "nen-workup"),
	})
	if err != nil {
		t.Fatal(err)
	}
	fb := func(uuid, outcome string) store.Feedback {
		return store.Feedback{Issuer: "i", ServiceID: "nen-patient-view", Card: uuid, Outcome: outcome, OutcomeTime: at, Received: at}
	}
	acc := fb("a", "accepted")
	acc.Accepted = []string{"s1"}
	ov := fb("b", "overridden")
	ov.ReasonSystem, ov.ReasonCode = "https://github.com/nencds/nencds/CodeSystem/override-reason", "patient-declined"
	if _, err := st.PutFeedback(t.Context(), []store.Feedback{acc, ov, fb("zz", "overridden")}); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReportJSON(t *testing.T) {
	t.Parallel()
	path := reportDB(t)
	var out bytes.Buffer
	if err := runReport(t.Context(), []string{"-db", "sqlite:" + path, "-since", "7d", "-json"}, env(nil), &out, io.Discard, reportNow); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Since  time.Time `json:"since"`
		Topics []struct {
			Topic                 string         `json:"topic"`
			Issued                int            `json:"issued"`
			Accepted              int            `json:"accepted"`
			Overridden            int            `json:"overridden"`
			OverrideReasons       map[string]int `json:"override_reasons"`
			AcceptanceRate        *float64       `json:"acceptance_rate"`
			SuggestionAcceptances map[string]int `json:"suggestion_acceptances"`
		} `json:"topics"`
		Unmatched int `json:"unmatched_feedback"`
	}
	dec := json.NewDecoder(&out)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatal(err)
	}
	if !got.Since.Equal(reportNow.AddDate(0, 0, -7)) || len(got.Topics) != 2 || got.Unmatched != 1 {
		t.Fatalf("%+v", got)
	}
	ssa := got.Topics[1]
	if ssa.Topic != "net-ssa" || ssa.Issued != 2 || ssa.Accepted != 1 || ssa.Overridden != 1 || *ssa.AcceptanceRate != 0.5 ||
		ssa.OverrideReasons["patient-declined"] != 1 || ssa.SuggestionAcceptances["Start <octreotide> LAR"] != 1 {
		t.Errorf("net-ssa %+v", ssa)
	}
	if w := got.Topics[0]; w.Topic != "nen-workup" || w.Issued != 1 || w.AcceptanceRate != nil {
		t.Errorf("nen-workup %+v", w)
	}
	// A period that ends before the data: nothing.
	out.Reset()
	if err := runReport(t.Context(), []string{"-db", "sqlite:" + path, "-since", "2026-06-30", "-json"}, env(nil), &out, io.Discard, reportNow); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"topics": []`) {
		t.Errorf("empty period: %s", out.String())
	}
}

// TestReportHTML: one self-contained page, an inline SVG per topic, chart text escaped.
func TestReportHTML(t *testing.T) {
	t.Parallel()
	path := reportDB(t)
	file := filepath.Join(t.TempDir(), "report.html")
	if err := runReport(t.Context(), []string{"-db", "sqlite:" + path, "-html", file}, env(nil), io.Discard, io.Discard, reportNow); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	if n := strings.Count(page, "<svg "); n != 2 {
		t.Errorf("%d charts, want 2", n)
	}
	for _, bad := range []string{"<script", "src=", "href=", "@import", "url(", "<octreotide>"} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	if !strings.Contains(page, "net-ssa") || !strings.Contains(page, "patient-declined 1") || !strings.Contains(page, "&lt;octreotide&gt;") {
		t.Errorf("page lacks the figures:\n%s", page)
	}
}

func TestReportText(t *testing.T) {
	t.Parallel()
	path := reportDB(t)
	var out bytes.Buffer
	if err := runReport(t.Context(), []string{"-db", "sqlite:" + path}, env(nil), &out, io.Discard, reportNow); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"net-ssa", "50 %", "patient-declined 1", "1 feedback item(s)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, out.String())
		}
	}
}

func TestReportErrors(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "none.db")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "-db is required"},
		{[]string{"-db", "sqlite:" + missing}, "no such file"},
		{[]string{"-db", "sqlite:x", "-since", "yesterday"}, "-since"},
		{[]string{"-db", "sqlite:x", "-json", "-html", "f"}, "exclude"},
	} {
		err := runReport(t.Context(), tt.args, env(nil), io.Discard, io.Discard, reportNow)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v, want %q", tt.args, err, tt.want)
		}
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("the report created a database")
	}
}

func TestParseSince(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Time{
		"30d":                  reportNow.AddDate(0, 0, -30),
		"12h":                  reportNow.Add(-12 * time.Hour),
		"2026-01-01":           time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		"2026-01-01T10:00:00Z": time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC),
	} {
		if got, err := parseSince(in, reportNow); err != nil || !got.Equal(want) {
			t.Errorf("parseSince(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"-3d", "x", "d"} {
		if _, err := parseSince(bad, reportNow); err == nil {
			t.Errorf("parseSince(%q) accepted", bad)
		}
	}
}

// TestKill9KeepsFeedback: the server (this test binary, re-run as a child) acknowledges
// feedback, is killed with SIGKILL, and the SQLite database holds every acknowledged item.
func TestKill9KeepsFeedback(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "nencds.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperServe$")
	cmd.Env = append(os.Environ(), "NENCDS_TEST_SERVE_DB=sqlite:"+path)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "addr "); ok {
				addr <- a
			}
		}
	}()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case <-time.After(60 * time.Second):
		t.Fatal("the child server did not start")
	}
	const n = 20
	for i := range n {
		body := fmt.Sprintf(`{"feedback":[{"card":"card-%d","outcome":"overridden","outcomeTimestamp":"2026-06-01T12:05:00Z"}]}`, i)
		resp, err := http.Post(base+"/cds-services/nen-patient-view/feedback", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("feedback %d: status %d", i, resp.StatusCode)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	st, err := store.Open(t.Context(), "sqlite:"+path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rep, err := st.Report(t.Context(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Unmatched != n {
		t.Errorf("%d acknowledged items after kill -9, want %d", rep.Unmatched, n)
	}
}

// TestHelperServe is the child of TestKill9KeepsFeedback: a -dev server on the database
// of NENCDS_TEST_SERVE_DB, printing its address; it runs until killed.
func TestHelperServe(t *testing.T) {
	db := os.Getenv("NENCDS_TEST_SERVE_DB")
	if db == "" {
		t.Skip("the child process of TestKill9KeepsFeedback")
	}
	err := run(context.Background(), []string{"-dev", "-addr", "127.0.0.1:0", "-db", db}, env(nil), strings.NewReader(""), io.Discard, io.Discard,
		func(a string) { fmt.Fprintf(os.Stdout, "addr %s\n", a) })
	t.Fatal(err)
}
