// Command nencds serves the nencds CDS Hooks 2.0 service for neuroendocrine neoplasms, and
// evaluates a request or a FHIR Bundle from a file with `nencds eval`.
//
//	nencds -dev                    # development server on 127.0.0.1:8080, no client JWT
//	nencds -trust trust.yaml       # production (see the README's settings table)
//	nencds eval [-at T] [-text] FILE|-
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
	"syscall"

	"github.com/nencds/nencds/cards"
	"github.com/nencds/nencds/hooks"
	"github.com/nencds/nencds/hooks/auth"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := realMain(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "nencds:", err)
		os.Exit(1)
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
	cfg, err := parseConfig(args, getenv)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(stderr, nil))
	return serve(ctx, cfg, logger, ready)
}

// newServer wires the hooks server of cfg. close releases what it holds (the verifier's
// replay cache connection).
func newServer(cfg *Config, logger *slog.Logger) (srv *hooks.Server, close func() error, err error) {
	opts := hooks.Options{
		Dev:         cfg.Dev,
		PublicURL:   cfg.PublicURL,
		Limits:      cfg.limits(),
		CORSOrigins: cfg.origins(),
		MaxInFlight: cfg.MaxInFlight,
		Logger:      logger,
		Evaluator: &hooks.Evaluator{
			Engine: cards.NewEngine(cards.DefaultConfig(), hooks.NewUUID),
			Resolver: &hooks.Resolver{
				FHIR: hooks.NewFHIRClient(hooks.FHIROptions{
					MaxBytes:       cfg.FHIRMaxBytes,
					MaxPages:       cfg.FHIRMaxPages,
					RequestTimeout: cfg.FHIRRequestTimeout,
				}),
				Policy:  hooks.FHIRPolicy{Dev: cfg.Dev},
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
		v, err := auth.NewVerifier(trust, auth.Options{RedisURL: cfg.RedisURL, Logger: logger})
		if err != nil {
			return nil, nil, fmt.Errorf("trust: %w", err)
		}
		opts.Authenticator, opts.Ready, close = v, v.Ready, v.Close
	}
	switch {
	case cfg.Dev && opts.Authenticator == nil:
		logger.Warn("DEV MODE: client JWTs are NOT verified, any CORS origin is allowed and " +
			"http fhirServer on loopback is read. Never expose this server to a network.")
	case cfg.Dev:
		logger.Warn("DEV MODE with a trust file: client JWTs are verified, but any CORS origin " +
			"is allowed and http fhirServer on loopback is read. Never in production.")
	}
	srv, err = hooks.NewServer(opts)
	if err != nil {
		close()
		return nil, nil, err
	}
	return srv, close, nil
}

// serve listens until ctx ends, then drains in-flight requests.
func serve(ctx context.Context, cfg *Config, logger *slog.Logger, ready func(string)) error {
	srv, closeServer, err := newServer(cfg, logger)
	if err != nil {
		return err
	}
	defer closeServer()
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}
	logger.Info("nencds listening", "addr", ln.Addr().String(), "scheme", scheme, "dev", cfg.Dev)
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
