// Command nencds-load drives a running nencds with the testdata CDS Hooks requests at a
// chosen concurrency for a bounded duration and prints throughput, p50/p90/p99 and errors.
// In the same run it drives a floor server (a bare Gin handler that decodes the same body
// into map[string]any and answers one fixed card) identically and prints the ratios, so the
// figures compare nencds with the cheapest possible CDS service on the same machine. The
// two are measured in alternating rounds (-rounds), so that a change of background load
// hits both alike; with -spawn the live heap and the RSS are sampled through the run.
//
//	go run ./cmd/nencds -dev &                      # a dev server on 127.0.0.1:8080
//	go run ./cmd/nencds-load -c 8 -d 30s            # load it, then the floor
//	go run ./cmd/nencds-load -spawn -c 8 -d 60s     # or run nencds in this process
//	go run ./cmd/nencds-load -spawn -fallback 50ms  # FHIR fallback with a slow fake FHIR server
//	go run ./cmd/nencds-load -spawn -telemetry=false # the same without hooks/telemetry
//
// It only targets loopback addresses unless -allow-remote is given, and every run stops by
// itself: -d is capped at 10 minutes and -c at 256.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/nencds/nencds/internal/cli"
)

const (
	maxDuration    = 10 * time.Minute
	maxConcurrency = 256
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := realMain(ctx, os.Args[1:], os.Stdout)
	if code := cli.ExitCode(err); code != 0 {
		fmt.Fprintln(os.Stderr, "nencds-load:", err)
		os.Exit(code)
	}
}

// options are the command line.
type options struct {
	URL         string
	Service     string
	Requests    string
	Concurrency int
	Duration    time.Duration
	Warmup      time.Duration
	Floor       bool
	AllowRemote bool
	Spawn       bool
	Fallback    time.Duration
	Auth        string
	Telemetry   bool
	Rounds      int
	MemProfile  string
	Version     bool
	DB          string
}

func parseFlags(args []string, out io.Writer) (*options, error) {
	fs := flag.NewFlagSet("nencds-load", flag.ContinueOnError)
	fs.SetOutput(out)
	o := &options{}
	fs.StringVar(&o.URL, "url", "http://127.0.0.1:8080", "base URL of the nencds to load (loopback only unless -allow-remote)")
	fs.StringVar(&o.Service, "service", "", "CDS service id (default: the first patient-view service of the discovery document)")
	fs.StringVar(&o.Requests, "requests", "testdata/requests/*.json", "glob of CDS Hooks request files, sent round robin")
	fs.IntVar(&o.Concurrency, "c", 8, "concurrent clients (at most 256)")
	fs.DurationVar(&o.Duration, "d", 10*time.Second, "measured duration of each target (at most 10m)")
	fs.DurationVar(&o.Warmup, "warmup", 2*time.Second, "unmeasured load before each measurement")
	fs.BoolVar(&o.Floor, "floor", true, "also load the floor server and print the ratios")
	fs.BoolVar(&o.AllowRemote, "allow-remote", false, "allow a target that is not a loopback address")
	fs.BoolVar(&o.Spawn, "spawn", false, "run nencds (dev mode) inside this process on 127.0.0.1:0 instead of -url")
	fs.DurationVar(&o.Fallback, "fallback", 0, "with -spawn: strip the prefetch and serve it from a fake FHIR server that waits this long per query")
	fs.StringVar(&o.Auth, "authorization", "", "Authorization header value to send (a client JWT for a non-dev server)")
	fs.IntVar(&o.Rounds, "rounds", 3, "alternate nencds and the floor this many times, each for d/rounds, so that a change of background load hits both alike")
	fs.StringVar(&o.DB, "db", "sqlite", "with -spawn: the store of issued cards, wired as cmd/nencds wires it (card queue, suppression of 30 days): `sqlite` (a new file in a temporary directory, as nencds -dev keeps its own), `sqlite:PATH`, or `memory`")
	fs.StringVar(&o.MemProfile, "memprofile", "", "with -spawn: write a heap profile (go tool pprof) to this file at the end")
	fs.BoolVar(&o.Version, "version", false, cli.VersionUsage)
	fs.BoolVar(&o.Telemetry, "telemetry", true, "with -spawn: wire hooks/telemetry in (OTEL_* environment; spans recorded even without an exporter)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case o.Concurrency < 1 || o.Concurrency > maxConcurrency:
		return nil, fmt.Errorf("-c %d: want 1..%d", o.Concurrency, maxConcurrency)
	case o.Duration <= 0 || o.Duration > maxDuration:
		return nil, fmt.Errorf("-d %s: want more than 0 and at most %s", o.Duration, maxDuration)
	case o.Warmup < 0 || o.Warmup > time.Minute:
		return nil, fmt.Errorf("-warmup %s: want 0..1m", o.Warmup)
	case o.Fallback != 0 && !o.Spawn:
		return nil, errors.New("-fallback needs -spawn (the dev server must be allowed to read the fake http FHIR server)")
	case o.Rounds < 1 || o.Rounds > 20 || o.Duration/time.Duration(o.Rounds) < 100*time.Millisecond:
		return nil, fmt.Errorf("-rounds %d: want 1..20 and at least 100ms per round", o.Rounds)
	case o.Fallback < 0 || o.Fallback > 10*time.Second:
		return nil, fmt.Errorf("-fallback %s: want 0..10s", o.Fallback)
	}
	return o, nil
}

func realMain(ctx context.Context, args []string, out io.Writer) error {
	o, err := parseFlags(args, out)
	if err != nil {
		return err
	}
	if o.Version {
		_, err := fmt.Fprintln(out, cli.Version("nencds-load"))
		return err
	}
	bodies, err := loadRequests(o.Requests)
	if err != nil {
		return err
	}

	if o.Spawn {
		var fhirURL string
		if o.Fallback > 0 {
			fake, err := startFakeFHIR(bodies, o.Fallback)
			if err != nil {
				return err
			}
			defer fake.Close()
			fhirURL = fake.URL
			if bodies, err = withoutPrefetch(bodies, fhirURL); err != nil {
				return err
			}
		}
		base, stopServer, err := spawn(o.Telemetry, o.DB)
		if err != nil {
			return err
		}
		defer stopServer()
		o.URL = base
	}
	if err := checkTarget(o.URL, o.AllowRemote); err != nil {
		return err
	}
	client := newClient(o.Concurrency)
	if o.Service == "" {
		if o.Service, err = discover(ctx, client, o.URL, o.Auth); err != nil {
			return err
		}
	}
	target := strings.TrimRight(o.URL, "/") + "/cds-services/" + url.PathEscape(o.Service)

	fmt.Fprintf(out, "nencds-load: %d request files (%s), -c %d, -d %s in %d rounds, warmup %s, GOMAXPROCS %d\n",
		len(bodies), sizes(bodies), o.Concurrency, o.Duration, o.Rounds, o.Warmup, runtime.GOMAXPROCS(0))
	if o.Spawn {
		fmt.Fprintf(out, "nencds in process (dev mode), telemetry %v\n", o.Telemetry)
	}
	if o.Fallback > 0 {
		fmt.Fprintf(out, "FHIR fallback: every prefetch key fetched from a fake FHIR server that waits %s per query\n", o.Fallback)
	}

	var floorTarget string
	if o.Floor {
		floorURL, stopFloor, err := startFloor()
		if err != nil {
			return err
		}
		defer stopFloor()
		floorTarget = floorURL + "/cds-services/floor"
	}
	// Warm both up, then alternate them round by round (each round d/rounds per target).
	if o.Warmup > 0 {
		if _, err := phase(ctx, client, "nencds", target, o.Auth, bodies, o.Concurrency, o.Warmup); err != nil {
			return err
		}
		if o.Floor {
			if _, err := phase(ctx, client, "floor", floorTarget, "", bodies, o.Concurrency, o.Warmup); err != nil {
				return err
			}
		}
	}
	res := &result{name: "nencds", statuses: map[int]uint64{}}
	fres := &result{name: "floor", statuses: map[int]uint64{}}
	var heap heapTrace
	if o.Spawn {
		heap.sample() // after the warm-up: pools, connections and caches are in place
	}
	per := o.Duration / time.Duration(o.Rounds)
	for range o.Rounds {
		r, err := phaseSampled(ctx, client, "nencds", target, o.Auth, bodies, o.Concurrency, per, &heap, o.Spawn)
		if err != nil {
			return err
		}
		res.add(r)
		if o.Floor {
			r, err := phase(ctx, client, "floor", floorTarget, "", bodies, o.Concurrency, per)
			if err != nil {
				return err
			}
			fres.add(r)
		}
	}
	if o.Spawn {
		heap.sample()
		res.heap = &heap
		if o.MemProfile != "" {
			if err := writeHeapProfile(o.MemProfile); err != nil {
				return err
			}
		}
	}
	results := []*result{res}
	if o.Floor {
		results = append(results, fres)
	}
	report(out, results, o)
	if res.errors > 0 {
		return fmt.Errorf("%d of %d nencds requests failed", res.errors, res.requests)
	}
	return nil
}

// loadRequests reads every request file of the glob; each must be a JSON object. The
// load goes to one patient-view service: request files of another hook (the
// order-select and order-sign fixtures) are left out.
func loadRequests(glob string) ([][]byte, error) {
	files, err := filepath.Glob(glob)
	if err != nil {
		return nil, fmt.Errorf("-requests %q: %w", glob, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("-requests %q matches no file (run from the repository root)", glob)
	}
	sort.Strings(files)
	var bodies [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(b, &obj); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		var hook string
		if json.Unmarshal(obj["hook"], &hook) == nil && hook != "" && hook != "patient-view" {
			continue
		}
		bodies = append(bodies, b)
	}
	return bodies, nil
}

func sizes(bodies [][]byte) string {
	var total, largest int
	for _, b := range bodies {
		total += len(b)
		largest = max(largest, len(b))
	}
	return fmt.Sprintf("%d KiB in all, largest %d KiB", total>>10, largest>>10)
}

// checkTarget refuses any target whose host is not a loopback address, unless allowed.
func checkTarget(raw string, allowRemote bool) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("-url %q: want an http(s) URL", raw)
	}
	if allowRemote {
		return nil
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-url %q is not a loopback address (127.0.0.0/8, ::1, localhost); pass -allow-remote to load another host you run", raw)
	}
	return nil
}

func newClient(conc int) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = conc * 2
	tr.MaxIdleConnsPerHost = conc * 2
	tr.DisableCompression = true
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// discover returns the id of the first patient-view service of the discovery document.
func discover(ctx context.Context, client *http.Client, base, auth string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/cds-services", nil)
	if err != nil {
		return "", err
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("discovery: %w (is nencds running? go run ./cmd/nencds -dev, or pass -spawn)", err)
	}
	defer resp.Body.Close()
	var doc struct {
		Services []struct{ Hook, ID string } `json:"services"`
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("discovery: status %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		return "", fmt.Errorf("discovery: %w", err)
	}
	for _, s := range doc.Services {
		if s.Hook == "patient-view" {
			return s.ID, nil
		}
	}
	return "", errors.New("discovery: no patient-view service")
}

// result is what one target did during the measured window.
type result struct {
	name      string
	requests  uint64
	errors    uint64
	statuses  map[int]uint64
	transport uint64
	elapsed   time.Duration
	lat       hist
	heap      *heapTrace // nencds in process only
}

func (r *result) rps() float64 { return float64(r.requests) / r.elapsed.Seconds() }

// add merges the counts and latencies of another measured window of the same target.
func (r *result) add(o *result) {
	r.requests += o.requests
	r.errors += o.errors
	r.transport += o.transport
	r.elapsed += o.elapsed
	for s, n := range o.statuses {
		r.statuses[s] += n
	}
	r.lat.merge(&o.lat)
}

// heapTrace is the live heap (after a forced GC) and the resident set size sampled during
// the measured nencds load: growth shows as a trend, not as one noisy difference.
type heapTrace struct {
	heap []uint64 // bytes
	rss  []uint64 // bytes; empty when /proc is not available
}

func (h *heapTrace) sample() {
	h.heap = append(h.heap, heapAfterGC())
	if r, ok := rssBytes(); ok {
		h.rss = append(h.rss, r)
	}
}

// heapSampleEvery is the interval of the heap samples during a long run.
const heapSampleEvery = 10 * time.Second

// phaseSampled is phase, sampling the heap every heapSampleEvery while it runs (sample).
func phaseSampled(ctx context.Context, client *http.Client, name, target, auth string, bodies [][]byte, conc int, d time.Duration, h *heapTrace, sample bool) (*result, error) {
	if !sample || d < heapSampleEvery {
		return phase(ctx, client, name, target, auth, bodies, conc, d)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(heapSampleEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				h.sample()
			}
		}
	}()
	r, err := phase(ctx, client, name, target, auth, bodies, conc, d)
	close(done)
	wg.Wait()
	return r, err
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// rssBytes is the resident set size of this process (Linux /proc/self/statm).
func rssBytes() (uint64, bool) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, false
	}
	var pages uint64
	if _, err := fmt.Sscan(f[1], &pages); err != nil {
		return 0, false
	}
	return pages * uint64(os.Getpagesize()), true
}

func phase(ctx context.Context, client *http.Client, name, target, auth string, bodies [][]byte, conc int, d time.Duration) (*result, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var next atomic.Uint64
	workers := make([]*result, conc)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range conc {
		r := &result{statuses: map[int]uint64{}}
		workers[w] = r
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				body := bodies[next.Add(1)%uint64(len(bodies))]
				t0 := time.Now()
				status, err := send(ctx, client, target, auth, body)
				lat := time.Since(t0)
				if ctx.Err() != nil {
					return // cut by the end of the window: not a result
				}
				r.requests++
				r.lat.record(lat)
				switch {
				case err != nil:
					r.errors++
					r.transport++
				case status != http.StatusOK:
					r.errors++
					r.statuses[status]++
				}
			}
		}()
	}
	wg.Wait()
	total := &result{name: name, statuses: map[int]uint64{}, elapsed: time.Since(start)}
	for _, r := range workers {
		total.requests += r.requests
		total.errors += r.errors
		total.transport += r.transport
		for s, n := range r.statuses {
			total.statuses[s] += n
		}
		total.lat.merge(&r.lat)
	}
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return nil, err // interrupted
	}
	return total, nil
}

func send(ctx context.Context, client *http.Client, target, auth string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, err
}

func heapAfterGC() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func report(out io.Writer, results []*result, o *options) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\trequests\terrors\treq/s\tp50\tp90\tp99\tmax\tp99/p50\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%s\t%s\t%s\t%s\t%.2f\t\n", r.name, r.requests, r.errors, r.rps(),
			ms(r.lat.quantile(0.50)), ms(r.lat.quantile(0.90)), ms(r.lat.quantile(0.99)), ms(r.lat.max),
			ratio(r.lat.quantile(0.99), r.lat.quantile(0.50)))
	}
	tw.Flush()
	for _, r := range results {
		if r.errors > 0 {
			fmt.Fprintf(out, "%s errors: %d transport, by status %v\n", r.name, r.transport, r.statuses)
		}
	}
	n := results[0]
	if h := n.heap; h != nil && len(h.heap) >= 2 {
		first, last := h.heap[0], h.heap[len(h.heap)-1]
		fmt.Fprintf(out, "heap after GC during the nencds run (server and load generator in one process), KiB: %s\n", kib(h.heap))
		fmt.Fprintf(out, "heap after GC, end minus start of the nencds run: %+d KiB (%+.1f%%)\n", (int64(last)-int64(first))>>10, 100*(float64(last)-float64(first))/float64(first))
		if len(h.rss) >= 2 {
			fmt.Fprintf(out, "RSS during the nencds run, KiB: %s\n", kib(h.rss))
		}
	}
	if len(results) == 2 {
		f := results[1]
		fmt.Fprintf(out, "throughput nencds/floor: %.2f (target >= 0.70)\n", n.rps()/f.rps())
		fmt.Fprintf(out, "p50 nencds/floor: %.2f\n", ratio(n.lat.quantile(0.5), f.lat.quantile(0.5)))
	}
	fmt.Fprintf(out, "p99/p50 nencds: %.2f (target <= 4 at -c 8)\n", ratio(n.lat.quantile(0.99), n.lat.quantile(0.50)))
	if o.Fallback > 0 {
		fmt.Fprintf(out, "p50 nencds / one FHIR query (%s): %.2f (target < 2: queries in parallel)\n", o.Fallback, ratio(n.lat.quantile(0.5), o.Fallback))
		fmt.Fprintf(out, "p99 nencds / one FHIR query (%s): %.2f (one page per key here; next links of one key are read in sequence)\n", o.Fallback, ratio(n.lat.quantile(0.99), o.Fallback))
	}
}

func kib(v []uint64) string {
	parts := make([]string, len(v))
	for i, b := range v {
		parts[i] = fmt.Sprint(b >> 10)
	}
	return strings.Join(parts, " ")
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }

func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
