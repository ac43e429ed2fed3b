package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/nencds/nencds/cards"
	"github.com/nencds/nencds/fhirclient"
	"github.com/nencds/nencds/hooks"
	"github.com/nencds/nencds/hooks/telemetry"
	"github.com/nencds/nencds/internal/security"
)

// spawn runs nencds in dev mode in this process on 127.0.0.1:0, wired as cmd/nencds wires it
// with its default limits, logging JSON to nowhere (so the cost of logging is still paid).
// With withTelemetry, telemetry is set up from the OTEL_* environment (spans are recorded
// even with no exporter configured) and wired in: middleware, stage spans, FHIR transport.
func spawn(withTelemetry bool) (string, func(), error) {
	var tel *telemetry.Telemetry
	shutdownTelemetry := func(context.Context) error { return nil }
	if withTelemetry {
		var err error
		tel, shutdownTelemetry, err = telemetry.Setup(context.Background(), telemetry.Config{Getenv: os.Getenv})
		if err != nil {
			return "", nil, err
		}
	}
	logger := slog.New(telemetry.LogHandler(slog.NewJSONHandler(io.Discard, nil)))
	srv, err := hooks.NewServer(hooks.Options{
		Mode:       security.Development(),
		Logger:     logger,
		Limits:     hooks.DefaultLimits(),
		Middleware: []gin.HandlerFunc{tel.Middleware()},
		Evaluator: &hooks.Evaluator{
			Engine: cards.NewEngine(cards.DefaultConfig(), nil), // nil: random version-4 uuids
			Stage:  telemetry.StageFunc[hooks.Stage](tel),
			Resolver: &hooks.Resolver{
				FHIR:    fhirclient.New(fhirclient.Options{Transport: tel.Transport(fhirclient.Transport(security.Development())), Mode: security.Development()}),
				Policy:  fhirclient.Policy{Mode: security.Development()},
				Timeout: 5 * time.Second,
				Stage:   telemetry.StageFunc[hooks.Stage](tel),
			},
		},
		MaxInFlight: maxConcurrency,
	})
	if err != nil {
		return "", nil, err
	}
	base, stop, err := serveLoopback(srv.Handler())
	if err != nil {
		return "", nil, err
	}
	return base, func() {
		stop()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shutdownTelemetry(ctx)
	}, nil
}
