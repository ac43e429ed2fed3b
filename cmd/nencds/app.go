package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"

	"github.com/nencds/nencds/app"
	"github.com/nencds/nencds/cards"
	"github.com/nencds/nencds/fhirclient"
	"github.com/nencds/nencds/hooks/auth"
	"github.com/nencds/nencds/hooks/telemetry"
)

// devClientID is the SMART client id of the app in -dev when none is configured.
const devClientID = "nencds-dev"

// newApp wires the SMART app when it is on (-app, or -dev), and gives every card its
// smart link ({public URL}/app/launch) unless -smart-app-url (or the rules file) names
// another app. listen is the listener's address: in -dev without a public URL, the app's
// redirect URL is on it. It returns nil when the app is off.
func newApp(cfg *Config, logger *slog.Logger, tel *telemetry.Telemetry, listen net.Addr) (*app.App, error) {
	if !cfg.App && !cfg.Dev {
		return nil, nil
	}
	publicURL := cfg.PublicURL
	var trusted []string
	if cfg.TrustFile != "" {
		trust, err := auth.LoadConfig(cfg.TrustFile)
		if err != nil {
			return nil, fmt.Errorf("trust file: %w", err)
		}
		if publicURL == "" {
			publicURL = trust.PublicURL()
		}
		for _, c := range trust.Clients() {
			trusted = append(trusted, c.FHIRServers...)
		}
	}
	if publicURL == "" && cfg.Dev {
		publicURL = "http://" + loopbackAddr(listen)
	}
	if publicURL == "" {
		return nil, fmt.Errorf("the SMART app needs a public URL (-public-url or the trust file's public_url)")
	}
	publicURL = strings.TrimRight(publicURL, "/")
	clientID := cfg.SMARTClientID
	if clientID == "" && cfg.Dev {
		clientID = devClientID
	}
	if clientID == "" {
		return nil, fmt.Errorf("the SMART app needs its client id (-smart-client-id)")
	}
	if cfg.Rules.SMARTAppURL == "" {
		cfg.Rules.SMARTAppURL = publicURL + "/app/launch"
		if err := cfg.Rules.Validate(); err != nil {
			return nil, fmt.Errorf("SMART app URL: %w", err)
		}
	}
	return app.New(app.Options{
		Mode:           cfg.Mode(),
		PublicURL:      publicURL,
		ClientID:       clientID,
		RedirectURL:    cfg.SMARTRedirectURL,
		TrustedServers: trusted,
		// The same client, SSRF policy and deadlines as the hooks fallback.
		FHIR: fhirclient.New(fhirclient.Options{
			Transport:      tel.Transport(fhirclient.Transport(cfg.Mode())),
			Mode:           cfg.Mode(),
			MaxBytes:       cfg.FHIRMaxBytes,
			MaxPages:       cfg.FHIRMaxPages,
			RequestTimeout: cfg.FHIRRequestTimeout,
		}),
		Policy:         fhirclient.Policy{Mode: cfg.Mode()},
		Engine:         cards.NewEngine(cfg.Rules, nil),
		FHIRTimeout:    cfg.FHIRTimeout,
		FrameAncestors: cfg.AppFrameAncestors,
		Logger:         logger,
	})
}

// loopbackAddr is the listen address as a browser on this machine reaches it.
func loopbackAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// withApp sends the paths under /app/ to the app and everything else to next.
func withApp(next http.Handler, a *app.App) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/app" || strings.HasPrefix(r.URL.Path, app.Prefix) {
			a.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}
