package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"html/template"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nencds/nencds/store"
)

// runReport is `nencds report -db URL [-since 30d] [-json | -html FILE]`: the acceptance of
// the cards per topic, from the store.
func runReport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, now time.Time) error {
	fs := flag.NewFlagSet("nencds report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", getenv("NENCDS_DB"), "the store: sqlite:PATH or postgres://... [NENCDS_DB]")
	sinceText := fs.String("since", "30d", "the period: a number of days (30d), a Go duration (12h) or an RFC 3339 date or instant")
	asJSON := fs.Bool("json", false, "print JSON")
	htmlFile := fs.String("html", "", "write a self-contained HTML page to this file")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: nencds report -db URL [-since 30d] [-json | -html FILE]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("report: unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if *db == "" {
		return fmt.Errorf("report: -db is required (sqlite:PATH or postgres://...)")
	}
	if *asJSON && *htmlFile != "" {
		return fmt.Errorf("report: -json and -html exclude each other")
	}
	since, err := parseSince(*sinceText, now)
	if err != nil {
		return fmt.Errorf("report: -since: %w", err)
	}
	if path, ok := strings.CutPrefix(*db, "sqlite:"); ok {
		// A report never creates a database: a mistyped path is an error.
		if _, err := os.Stat(strings.TrimPrefix(path, "//")); err != nil {
			return fmt.Errorf("report: %w", err)
		}
	}
	octx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	st, err := store.Open(octx, *db, store.Options{NoKey: true})
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	defer st.Close()
	rep, err := st.Report(octx, since)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	switch {
	case *asJSON:
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	case *htmlFile != "":
		f, err := os.Create(*htmlFile)
		if err != nil {
			return fmt.Errorf("report: %w", err)
		}
		if err := writeReportHTML(f, rep, now); err != nil {
			f.Close()
			return fmt.Errorf("report: %w", err)
		}
		return f.Close()
	}
	return writeReportText(stdout, rep)
}

// parseSince reads 30d, a Go duration, or an RFC 3339 date or instant.
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 0 {
			return time.Time{}, fmt.Errorf("%q: want a number of days such as 30d", s)
		}
		return now.AddDate(0, 0, -n), nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q: want 30d, 12h, 2026-01-01 or an RFC 3339 instant", s)
}

func rateText(r *float64) string {
	if r == nil {
		return "-"
	}
	return fmt.Sprintf("%.0f %%", *r*100)
}

// countsText is "a 3, b 1" (largest first, then by name).
func countsText(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if m[a] != m[b] {
			return m[b] - m[a]
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func writeReportText(w io.Writer, rep *store.Report) error {
	fmt.Fprintf(w, "Cards since %s\n\n", rep.Since.Format(time.RFC3339))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "topic\tissued\taccepted\toverridden\tacceptance\toverride reasons\taccepted suggestions")
	for _, t := range rep.Topics {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\t%s\n", t.Topic, t.Issued, t.Accepted, t.Overridden, rateText(t.AcceptanceRate),
			countsText(t.OverrideReasons), countsText(t.SuggestionAcceptances))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if rep.Unmatched > 0 {
		fmt.Fprintf(w, "\n%d feedback item(s) about cards the store does not know.\n", rep.Unmatched)
	}
	return nil
}

// chartBar is one bar of a topic's inline SVG chart.
type chartBar struct {
	Label string
	N     int
	Y     int
	W     int
	Class string
}

type topicView struct {
	store.TopicReport
	Rate        string
	Bars        []chartBar
	Reasons     string
	Suggestions string
}

// writeReportHTML writes one self-contained page: inline CSS and one inline SVG chart per
// topic, no script, no external font or image.
func writeReportHTML(w io.Writer, rep *store.Report, now time.Time) error {
	max := 1
	for _, t := range rep.Topics {
		max = slices.Max([]int{max, t.Issued, t.Accepted, t.Overridden})
	}
	var views []topicView
	for _, t := range rep.Topics {
		v := topicView{TopicReport: t, Rate: rateText(t.AcceptanceRate), Reasons: countsText(t.OverrideReasons), Suggestions: countsText(t.SuggestionAcceptances)}
		for i, b := range []chartBar{{"issued", t.Issued, 0, 0, "issued"}, {"accepted", t.Accepted, 0, 0, "accepted"}, {"overridden", t.Overridden, 0, 0, "overridden"}} {
			b.Y = 4 + i*26
			b.W = b.N * 300 / max
			v.Bars = append(v.Bars, b)
		}
		views = append(views, v)
	}
	return reportPage.Execute(w, map[string]any{
		"Since": rep.Since.Format("2006-01-02 15:04 MST"), "Now": now.UTC().Format("2006-01-02 15:04 MST"),
		"Topics": views, "Unmatched": rep.Unmatched,
	})
}

var reportPage = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>nencds: card acceptance since {{.Since}}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 60em; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-bottom: 0.2em; }
section { border-top: 1px solid #ccc; padding: 0.5em 0 1em; }
.issued { fill: #7a8ca3; } .accepted { fill: #2e7d32; } .overridden { fill: #c62828; }
svg text { font-size: 12px; fill: #222; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; margin: 0.5em 0; }
dt { color: #555; }
</style>
</head>
<body>
<h1>Card acceptance per topic</h1>
<p>From {{.Since}} to {{.Now}}. Acceptance is accepted ÷ (accepted + overridden); cards with no feedback count only as issued.{{if .Unmatched}} {{.Unmatched}} feedback item(s) concern cards the store does not know.{{end}}</p>
{{range .Topics}}<section>
<h2>{{.Topic}}</h2>
<svg role="img" aria-label="{{.Topic}}: issued {{.Issued}}, accepted {{.Accepted}}, overridden {{.Overridden}}" width="460" height="82" viewBox="0 0 460 82" xmlns="http://www.w3.org/2000/svg">
{{range .Bars}}<text x="0" y="{{.Y}}" dy="14">{{.Label}}</text><rect class="{{.Class}}" x="80" y="{{.Y}}" width="{{.W}}" height="20"></rect><text x="{{.W}}" y="{{.Y}}" dx="86" dy="14">{{.N}}</text>
{{end}}</svg>
<dl>
<dt>Acceptance</dt><dd>{{.Rate}}</dd>
<dt>Override reasons</dt><dd>{{if .Reasons}}{{.Reasons}}{{else}}-{{end}}</dd>
<dt>Accepted suggestions</dt><dd>{{if .Suggestions}}{{.Suggestions}}{{else}}-{{end}}</dd>
</dl>
</section>
{{else}}<p>No cards in this period.</p>
{{end}}</body>
</html>
`))
