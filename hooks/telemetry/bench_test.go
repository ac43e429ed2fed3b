package telemetry

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// BenchmarkMiddleware measures what telemetry adds to one request: the server span, two
// child spans, three metric records, against the same router without it (nil Telemetry).
func BenchmarkMiddleware(b *testing.B) {
	for _, bc := range []struct {
		name string
		on   bool
	}{{"off", false}, {"on", true}} {
		b.Run(bc.name, func(b *testing.B) {
			var tel *Telemetry
			if bc.on {
				var shutdown func(context.Context) error
				var err error
				tel, shutdown, err = Setup(context.Background(), Config{
					Getenv:       func(string) string { return "" },
					SpanExporter: tracetest.NewNoopExporter(),
					MetricReader: sdkmetric.NewManualReader(),
				})
				if err != nil {
					b.Fatal(err)
				}
				defer shutdown(context.Background())
			}
			r := gin.New()
			r.Use(tel.Middleware())
			r.POST("/cds-services/:id", func(c *gin.Context) {
				ctx := c.Request.Context()
				_, s := tel.StartMapping(ctx)
				s.End()
				_, s = tel.StartRules(ctx)
				s.End()
				tel.RecordPrefetch(ctx, "observations", Present)
				tel.RecordCards(ctx, c.Param("id"), "nen-summary")
				c.Status(http.StatusOK)
			})
			req := httptest.NewRequest(http.MethodPost, "/cds-services/nencds-patient-view", nil)
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				r.ServeHTTP(w, req)
			}
		})
	}
}
