// Command nencds serves the nencds CDS Hooks 2.0 service for neuroendocrine neoplasms, and
// evaluates a request or a FHIR Bundle from a file with `nencds eval`.
//
//	nencds -dev                    # development server on 127.0.0.1:8080, no client JWT
//	nencds -trust trust.yaml       # production (see the README's settings table)
//	nencds eval [-at T] [-text] FILE|-
//	nencds demo-ehr BUNDLE.json    # a fixture EHR that launches the SMART app of nencds -dev
//	nencds report -db URL [-since 30d] [-json | -html FILE]
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/nencds/nencds/cards"
	"github.com/nencds/nencds/fhirclient"
	"github.com/nencds/nencds/hooks"
	"github.com/nencds/nencds/hooks/auth"
	"github.com/nencds/nencds/hooks/telemetry"
	"github.com/nencds/nencds/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := realMain(ctx)
	if code := cli.ExitCode(err); code != 0 {
		fmt.Fprintln(os.Stderr, "nencds:", err)
		os.Exit(code)
	}
}

// realMain runs the command line of the process.
func realMain(ctx context.Context) error {
	return run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr, nil)
}

// run is realMain with its inputs injected. ready, when set, receives the listen address
// once the server accepts connections.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer, ready func(addr string)) error {
	if len(args) > 0 && args[0] == "eval" {
		return runEval(ctx, args[1:], stdin, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "demo-ehr" {
		return runDemoEHR(ctx, args[1:], stdout, stderr, nil)
	}
	if len(args) > 0 && args[0] == "report" {
		return runReport(ctx, args[1:], getenv, stdout, stderr, time.Now())
	}
	cfg, err := parseConfig(args, getenv)
	if errors.Is(err, errVersionRequested) {
		_, err = fmt.Fprintln(stdout, cli.Version("nencds"))
		return err
	}
	if err != nil {
		return err
	}
	logger := slog.New(telemetry.LogHandler(slog.NewJSONHandler(stderr, nil)))
	tc := telemetry.Config{Getenv: getenv, Prometheus: cfg.Metrics, ServiceVersion: version()}
	if testTelemetry != nil {
		testTelemetry(&tc)
	}
	tel, shutdownTelemetry, err := telemetry.Setup(ctx, tc)
	if err != nil {
		return err
	}
	defer func() {
		// serve returns after the HTTP drain: then flush pending spans, with its own deadline.
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := shutdownTelemetry(sctx); err != nil {
			logger.Warn("telemetry shutdown", "err", err)
		}
	}()
	return serve(ctx, cfg, logger, tel, ready)
}

// testTelemetry, set by tests only, adjusts the telemetry configuration (an in-memory
// span exporter and metric reader).
var testTelemetry func(*telemetry.Config)

// version is the module version of the build ("" for a development build).
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return ""
}

// newServer wires the hooks server of cfg. close releases what it holds (the verifier's
// replay cache connection).
func newServer(cfg *Config, logger *slog.Logger, tel *telemetry.Telemetry) (srv *hooks.Server, close func() error, err error) {
	mode := cfg.Mode()
	opts := hooks.Options{
		Mode:        mode,
		PublicURL:   cfg.PublicURL,
		Limits:      cfg.limits(),
		CORSOrigins: cfg.origins(),
		MaxInFlight: cfg.MaxInFlight,
		BodyTimeout: cfg.BodyTimeout,
		Logger:      logger,
		Middleware:  []gin.HandlerFunc{tel.Middleware()},
		Telemetry:   tel,
		Evaluator: &hooks.Evaluator{
			Stage:  telemetry.StageFunc[hooks.Stage](tel), // spans: prefetch, mapping, rules
			Engine: cards.NewEngine(cfg.Rules, nil),       // nil: random version-4 uuids
			Resolver: &hooks.Resolver{
				Stage: telemetry.StageFunc[hooks.Stage](tel), // a span per fetched key
				FHIR: fhirclient.New(fhirclient.Options{
					// The dial guard (no link-local or metadata address; loopback only
					// in -dev) under the tracing transport.
					Transport:      tel.Transport(fhirclient.Transport(mode)),
					Mode:           mode,
					MaxBytes:       cfg.FHIRMaxBytes,
					MaxPages:       cfg.FHIRMaxPages,
					RequestTimeout: cfg.FHIRRequestTimeout,
				}),
				Policy:  fhirclient.Policy{Mode: mode},
				Timeout: cfg.FHIRTimeout,
			},
		},
	}
	close = func() error { return nil }
	if cfg.TrustFile != "" {
		trust, err := auth.LoadConfig(cfg.TrustFile)
		if err != nil {
			return nil, nil, fmt.Errorf("trust file: %w", err)
		}
		if opts.PublicURL == "" {
			opts.PublicURL = trust.PublicURL()
		}
		if loop := trust.LoopbackFHIRServers(); len(loop) > 0 {
			if !mode.LoopbackHTTP() {
				return nil, nil, fmt.Errorf("trust file: fhir_servers %v are http on loopback, a local test server: allowed only with -dev", loop)
			}
			logger.Warn("DEV MODE: the trust file lists http FHIR servers on loopback (local test servers); their access tokens travel unencrypted", "fhir_servers", loop)
		}
		v, err := auth.NewVerifier(trust, auth.Options{RedisURL: cfg.RedisURL, Logger: logger})
		if err != nil {
			return nil, nil, fmt.Errorf("trust: %w", err)
		}
		opts.Authenticator, opts.Ready, close = v, v.Ready, v.Close
	}
	switch {
	case mode.IsDevelopment() && opts.Authenticator == nil:
		logger.Warn("DEV MODE: client JWTs are NOT verified, any CORS origin is allowed, any public " +
			"https fhirServer and http on loopback is read, with or without an access token. " +
			"Never expose this server to a network.")
	case mode.IsDevelopment():
		logger.Warn("DEV MODE with a trust file: client JWTs are verified and each client may name only " +
			"its fhir_servers, but any CORS origin is allowed, http on loopback is read and a " +
			"missing access token does not stop the fallback. Never in production.")
	}
	closeStore, err := openStore(cfg, logger, tel, &opts)
	if err != nil {
		close()
		return nil, nil, err
	}
	closeVerifier := close
	close = func() error { return errors.Join(closeStore(), closeVerifier()) }
	srv, err = hooks.NewServer(opts)
	if err != nil {
		close()
		return nil, nil, err
	}
	return srv, close, nil
}

// serve listens until ctx ends, then drains in-flight requests.
func serve(ctx context.Context, cfg *Config, logger *slog.Logger, tel *telemetry.Telemetry, ready func(string)) error {
	// Listen first: in -dev the SMART app's redirect URL is on the listener's address.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	smartApp, err := newApp(cfg, logger, tel, ln.Addr())
	if err != nil {
		ln.Close()
		return err
	}
	srv, closeServer, err := newServer(cfg, logger, tel)
	if err != nil {
		ln.Close()
		return err
	}
	defer closeServer()
	handler := srv.Handler()
	if smartApp != nil {
		handler = withApp(handler, smartApp)
	}
	if m := tel.MetricsHandler(); m != nil { // -metrics or OTEL_METRICS_EXPORTER=prometheus
		// GET /metrics to Prometheus, everything else to the CDS server unchanged (an
		// http.ServeMux would clean and redirect paths that Gin answers itself).
		cds := handler
		handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/metrics" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
				m.ServeHTTP(w, r)
				return
			}
			cds.ServeHTTP(w, r)
		})
	}
	hs := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}
	if scheme == "http" && !cfg.Mode().PlainHTTP() {
		logger.Info("serving plain HTTP: TLS ends at the proxy in front (-behind-proxy)")
	}
	logger.Info("nencds listening", "addr", ln.Addr().String(), "scheme", scheme, "mode", cfg.Mode().String())
	if ready != nil {
		ready(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() {
		if cfg.TLSCert != "" {
			errc <- hs.ServeTLS(ln, cfg.TLSCert, cfg.TLSKey)
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("nencds shutting down", "drain", cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
