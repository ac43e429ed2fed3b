package telemetry_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/nencds/nencds/hooks/telemetry"
)

// Example shows the whole wiring of a server: telemetry from the OTEL_* environment, the
// Gin middleware, the instrumented FHIR client, trace ids in the logs, spans and metrics in
// a handler, /metrics on its own listener, and the flush on shutdown.
func Example() {
	ctx := context.Background() // in cmd: signal.NotifyContext(..., os.Interrupt, syscall.SIGTERM)

	tel, shutdownTelemetry, err := telemetry.Setup(ctx, telemetry.Config{
		ServiceVersion: "0.1.0",
		Getenv:         func(string) string { return "" }, // os.Getenv in cmd
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	logger := slog.New(telemetry.LogHandler(slog.NewJSONHandler(os.Stderr, nil)))
	fhir := &http.Client{Transport: tel.Transport(http.DefaultTransport)}

	r := gin.New()
	r.Use(tel.Middleware())
	r.POST("/cds-services/:id", func(c *gin.Context) {
		ctx := c.Request.Context() // carries the server span
		pctx, prefetch := tel.StartPrefetch(ctx)
		fctx, fetch := tel.StartFetch(pctx, "observations")
		if req, err := http.NewRequestWithContext(fctx, http.MethodGet, "http://127.0.0.1:1/Observation", nil); err == nil {
			if resp, err := fhir.Do(req); err == nil {
				resp.Body.Close()
				tel.RecordPrefetch(fctx, "observations", telemetry.Fetched)
			} else {
				telemetry.Fail(fetch, "fhir fetch failed")
				tel.RecordPrefetch(fctx, "observations", telemetry.Failed)
			}
		}
		fetch.End()
		prefetch.End()
		_, mapping := tel.StartMapping(ctx)
		mapping.End()
		_, rules := tel.StartRules(ctx)
		rules.End()
		tel.RecordCards(ctx, c.Param("id"), "nen-summary")
		logger.InfoContext(ctx, "cds service", "service", c.Param("id"), "cards", 1)
		c.JSON(http.StatusOK, gin.H{"cards": []any{}})
	})
	if h := tel.MetricsHandler(); h != nil {
		go http.ListenAndServe("127.0.0.1:9464", h) // a separate, cluster-internal port
	}
	srv := &http.Server{Addr: "127.0.0.1:8080", Handler: r}
	_ = srv // go srv.ListenAndServe(); <-ctx.Done()

	// On SIGTERM: stop accepting and drain, then flush the telemetry.
	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	if err := shutdownTelemetry(sctx); err != nil {
		fmt.Println("telemetry shutdown:", err)
	}
	fmt.Println("metrics handler:", tel.MetricsHandler() != nil)
	// Output: metrics handler: false
}
