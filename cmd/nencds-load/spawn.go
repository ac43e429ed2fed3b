package main

import (
	"io"
	"log/slog"
	"time"

	"github.com/nencds/nencds/cards"
	"github.com/nencds/nencds/hooks"
)

// spawn runs nencds in dev mode in this process on 127.0.0.1:0, wired as cmd/nencds wires it
// with its default limits, logging JSON to nowhere (so the cost of logging is still paid).
func spawn() (string, func(), error) {
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	srv, err := hooks.NewServer(hooks.Options{
		Dev:    true,
		Logger: logger,
		Limits: hooks.DefaultLimits(),
		Evaluator: &hooks.Evaluator{
			Engine: cards.NewEngine(cards.DefaultConfig(), hooks.NewUUID),
			Resolver: &hooks.Resolver{
				FHIR:    hooks.NewFHIRClient(hooks.FHIROptions{}),
				Policy:  hooks.FHIRPolicy{Dev: true},
				Timeout: 5 * time.Second,
			},
		},
		MaxInFlight: maxConcurrency,
	})
	if err != nil {
		return "", nil, err
	}
	return serveLoopback(srv.Handler())
}
