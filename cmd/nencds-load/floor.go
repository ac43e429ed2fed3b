package main

import (
	"net"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// floorCard is the one fixed card the floor answers: the cheapest possible CDS service.
var floorCard = gin.H{"cards": []gin.H{{
	"uuid":      "00000000-0000-4000-8000-000000000000",
	"summary":   "floor",
	"indicator": "info",
	"source":    gin.H{"label": "floor"},
}}}

// floorHandler decodes the body into map[string]any (the least a real service must do) and
// answers floorCard.
func floorHandler() http.Handler {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.POST("/cds-services/:id", func(c *gin.Context) {
		var body map[string]any
		if err := c.ShouldBindJSON(&body); err != nil {
			c.Status(http.StatusBadRequest)
			return
		}
		c.JSON(http.StatusOK, floorCard)
	})
	return r
}

// startFloor serves the floor on 127.0.0.1:0 and returns its base URL.
func startFloor() (string, func(), error) {
	return serveLoopback(floorHandler())
}

// serveLoopback serves h on a fresh loopback port.
func serveLoopback(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}
