package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/nencds/nencds/cards"
	"github.com/nencds/nencds/fhirclient"
	"github.com/nencds/nencds/hooks"
	"github.com/nencds/nencds/hooks/telemetry"
	"github.com/nencds/nencds/internal/security"
	"github.com/nencds/nencds/store"
)

// spawn runs nencds in dev mode in this process on 127.0.0.1:0, wired as cmd/nencds wires it
// with its default limits, logging JSON to nowhere (so the cost of logging is still paid).
// With withTelemetry, telemetry is set up from the OTEL_* environment (spans are recorded
// even with no exporter configured) and wired in: middleware, stage spans, FHIR transport.
// db is the store ("sqlite": a new file in a temporary directory, removed at the end;
// "sqlite:PATH"; "memory"), behind the card queue, with suppression of 30 days, as
// cmd/nencds opens it.
func spawn(withTelemetry bool, db string) (string, func(), error) {
	var tel *telemetry.Telemetry
	shutdownTelemetry := func(context.Context) error { return nil }
	if withTelemetry {
		var err error
		tel, shutdownTelemetry, err = telemetry.Setup(context.Background(), telemetry.Config{Getenv: os.Getenv})
		if err != nil {
			return "", nil, err
		}
	}
	dir := ""
	if db == "sqlite" {
		var err error
		if dir, err = os.MkdirTemp("", "nencds-load-"); err != nil {
			return "", nil, err
		}
		db = "sqlite:" + filepath.Join(dir, "load.db")
	}
	removeDir := func() {
		if dir != "" {
			os.RemoveAll(dir)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := store.Open(ctx, db, store.Options{})
	if err != nil {
		removeDir()
		return "", nil, err
	}
	logger := slog.New(telemetry.LogHandler(slog.NewJSONHandler(io.Discard, nil)))
	queue := store.NewQueue(st, store.QueueOptions{Logger: logger})
	srv, err := hooks.NewServer(hooks.Options{
		Mode:        security.Development(),
		Logger:      logger,
		Limits:      hooks.DefaultLimits(),
		Middleware:  []gin.HandlerFunc{tel.Middleware()},
		Store:       st,
		Cards:       queue,
		SuppressFor: 30 * 24 * time.Hour,
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
	closeStore := func() {
		qctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		queue.Close(qctx)
		st.Close()
		removeDir()
	}
	if err != nil {
		closeStore()
		return "", nil, err
	}
	base, stop, err := serveLoopback(srv.Handler())
	if err != nil {
		closeStore()
		return "", nil, err
	}
	return base, func() {
		stop()
		closeStore()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shutdownTelemetry(ctx)
	}, nil
}
