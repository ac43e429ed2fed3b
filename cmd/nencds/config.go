package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nencds/nencds/cards"
	"github.com/nencds/nencds/hooks"
	"github.com/nencds/nencds/internal/cli"
	"github.com/nencds/nencds/internal/security"
)

// Config is every setting of the server. Each field is a flag and a NENCDS_* environment
// variable (the flag wins); settings lists them, and the README's table documents them.
type Config struct {
	// Dev selects the development mode (Mode): the relaxations of security.Development,
	// and the default address 127.0.0.1:8080. Never in production.
	Dev bool
	// Addr is the listen address (default :8080, or 127.0.0.1:8080 with -dev).
	Addr string
	// PublicURL is the external base URL of the service, the base of every JWT aud
	// (default: the trust file's public_url).
	PublicURL string
	// TrustFile is the trust configuration of CDS clients (required without -dev).
	TrustFile string
	// RedisURL, when set, holds the shared JWT replay cache.
	RedisURL string
	// TLSCert and TLSKey serve HTTPS when both are set. Outside -dev one of them and
	// BehindProxy is required.
	TLSCert, TLSKey string
	// BehindProxy says that TLS ends at a proxy in front (an ingress): nencds then serves
	// plain HTTP outside -dev.
	BehindProxy bool
	// CORSOrigins are the allowed browser origins, comma separated ("*": any).
	CORSOrigins string
	// MaxBodyBytes caps a request body (413 beyond).
	MaxBodyBytes int64
	// MaxJSONDepth caps the JSON nesting of a request (400 beyond).
	MaxJSONDepth int
	// MaxJSONString caps one JSON string of a request, in bytes (400 beyond).
	MaxJSONString int
	// MaxInFlight caps concurrent CDS calls (503 beyond).
	MaxInFlight int
	// BodyTimeout bounds the reading of one request body (408 beyond), before a slot is taken.
	BodyTimeout time.Duration
	// FHIRTimeout bounds all the fallback fetches of one request.
	FHIRTimeout time.Duration
	// FHIRRequestTimeout bounds one fallback HTTP request.
	FHIRRequestTimeout time.Duration
	// FHIRMaxBytes caps one FHIR response body.
	FHIRMaxBytes int64
	// FHIRMaxPages caps the pages read for one prefetch key.
	FHIRMaxPages int
	// ReadHeaderTimeout, ReadTimeout, WriteTimeout and IdleTimeout are the http.Server timeouts.
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// ShutdownTimeout bounds the drain of in-flight requests on SIGTERM.
	ShutdownTimeout time.Duration
	// Metrics serves Prometheus /metrics on the listen address (as
	// OTEL_METRICS_EXPORTER=prometheus does).
	Metrics bool
	// RulesConfig is a JSON file of cards.Config fields merged over cards.DefaultConfig().
	RulesConfig string
	// MaxCards and SMARTAppURL override the rules configuration when set.
	MaxCards    int
	SMARTAppURL string
	// App serves the SMART app under /app/ (always with -dev) and gives every card its
	// smart link unless SMARTAppURL names another app.
	App bool
	// SMARTClientID and SMARTRedirectURL are the app's registration with the EHR.
	SMARTClientID, SMARTRedirectURL string
	// AppFrameAncestors is the app's CSP frame-ancestors: who may embed it.
	AppFrameAncestors string

	// DB is the store: memory, sqlite:PATH or postgres://... (see storeConfig).
	DB string
	// PseudonymKey is the HMAC key of patient pseudonyms (hex or base64).
	PseudonymKey string
	// SuppressDays: an overridden card is not shown again for this many days (0: off).
	SuppressDays int
	// StoreTimeout bounds the suppression lookup of one call.
	StoreTimeout time.Duration
	// CardQueue is the buffer of the background write of issued cards (responses).
	CardQueue int
	// key is the parsed PseudonymKey.
	key []byte

	// Rules is the resolved rules configuration (defaults, file, flags), validated.
	Rules cards.Config
	// set names the settings given by flag or environment.
	set map[string]bool
	// evalLocal: the configuration of a local `nencds eval`, checked as in development.
	evalLocal bool
}

// setting is one row of the settings table: a flag, its environment variable and its doc.
type setting struct {
	flag, env, doc string
	bind           func(fs *flag.FlagSet, c *Config, name, doc string)
}

func str(p func(*Config) *string, def string) func(*flag.FlagSet, *Config, string, string) {
	return func(fs *flag.FlagSet, c *Config, n, d string) { fs.StringVar(p(c), n, def, d) }
}
func boolean(p func(*Config) *bool) func(*flag.FlagSet, *Config, string, string) {
	return func(fs *flag.FlagSet, c *Config, n, d string) { fs.BoolVar(p(c), n, false, d) }
}
func integer(p func(*Config) *int, def int) func(*flag.FlagSet, *Config, string, string) {
	return func(fs *flag.FlagSet, c *Config, n, d string) { fs.IntVar(p(c), n, def, d) }
}
func int64s(p func(*Config) *int64, def int64) func(*flag.FlagSet, *Config, string, string) {
	return func(fs *flag.FlagSet, c *Config, n, d string) { fs.Int64Var(p(c), n, def, d) }
}
func duration(p func(*Config) *time.Duration, def time.Duration) func(*flag.FlagSet, *Config, string, string) {
	return func(fs *flag.FlagSet, c *Config, n, d string) { fs.DurationVar(p(c), n, def, d) }
}

var (
	defaultLimits = hooks.DefaultLimits()
	defaultRules  = cards.DefaultConfig()
)

// settings is the one list of settings: flags, environment and README table derive from it.
var settings = []setting{
	{"dev", "NENCDS_DEV", "development mode (docs/security.md): no client JWT unless -trust is given (logged loudly), any CORS origin, http fhirServer on loopback, open FHIR reads, no TLS needed, default address 127.0.0.1:8080", boolean(func(c *Config) *bool { return &c.Dev })},
	{"addr", "NENCDS_ADDR", "listen address (default :8080; 127.0.0.1:8080 with -dev)", str(func(c *Config) *string { return &c.Addr }, "")},
	{"public-url", "NENCDS_PUBLIC_URL", "external base URL, the base of every JWT aud (default: the trust file's public_url)", str(func(c *Config) *string { return &c.PublicURL }, "")},
	{"trust", "NENCDS_TRUST_FILE", "trust file of CDS clients (YAML or JSON); required without -dev", str(func(c *Config) *string { return &c.TrustFile }, "")},
	{"redis-url", "NENCDS_REDIS_URL", "Redis URL of the shared JWT replay cache (in memory when empty)", str(func(c *Config) *string { return &c.RedisURL }, "")},
	{"tls-cert", "NENCDS_TLS_CERT", "TLS certificate file (PEM); serve HTTPS with -tls-key", str(func(c *Config) *string { return &c.TLSCert }, "")},
	{"tls-key", "NENCDS_TLS_KEY", "TLS private key file (PEM)", str(func(c *Config) *string { return &c.TLSKey }, "")},
	{"behind-proxy", "NENCDS_BEHIND_PROXY", "TLS ends at a proxy in front (an ingress): serve plain HTTP; without -dev, one of -tls-cert/-tls-key and this is required", boolean(func(c *Config) *bool { return &c.BehindProxy })},
	{"cors-origins", "NENCDS_CORS_ORIGINS", "allowed browser origins, comma separated; * for any (any with -dev)", str(func(c *Config) *string { return &c.CORSOrigins }, "")},
	{"max-body-bytes", "NENCDS_MAX_BODY_BYTES", "maximum request body in bytes (413 beyond)", int64s(func(c *Config) *int64 { return &c.MaxBodyBytes }, defaultLimits.MaxBytes)},
	{"max-json-depth", "NENCDS_MAX_JSON_DEPTH", "maximum JSON nesting of a request (400 beyond)", integer(func(c *Config) *int { return &c.MaxJSONDepth }, defaultLimits.MaxDepth)},
	{"max-json-string", "NENCDS_MAX_JSON_STRING", "maximum length of one JSON string in bytes (400 beyond)", integer(func(c *Config) *int { return &c.MaxJSONString }, defaultLimits.MaxString)},
	{"max-in-flight", "NENCDS_MAX_IN_FLIGHT", "maximum concurrent CDS calls (503 beyond); a call takes its slot once its body is read", integer(func(c *Config) *int { return &c.MaxInFlight }, 64)},
	{"body-timeout", "NENCDS_BODY_TIMEOUT", "deadline for reading one request body, before a concurrency slot is taken (408 beyond)", duration(func(c *Config) *time.Duration { return &c.BodyTimeout }, hooks.DefaultBodyTimeout)},
	{"fhir-timeout", "NENCDS_FHIR_TIMEOUT", "deadline of all FHIR fallback fetches of one request", duration(func(c *Config) *time.Duration { return &c.FHIRTimeout }, 5*time.Second)},
	{"fhir-request-timeout", "NENCDS_FHIR_REQUEST_TIMEOUT", "deadline of one FHIR fallback HTTP request", duration(func(c *Config) *time.Duration { return &c.FHIRRequestTimeout }, 3*time.Second)},
	{"fhir-max-bytes", "NENCDS_FHIR_MAX_BYTES", "maximum FHIR response body in bytes", int64s(func(c *Config) *int64 { return &c.FHIRMaxBytes }, 10<<20)},
	{"fhir-max-pages", "NENCDS_FHIR_MAX_PAGES", "maximum Bundle pages (next links) read for one prefetch key", integer(func(c *Config) *int { return &c.FHIRMaxPages }, 10)},
	{"read-header-timeout", "NENCDS_READ_HEADER_TIMEOUT", "http.Server ReadHeaderTimeout", duration(func(c *Config) *time.Duration { return &c.ReadHeaderTimeout }, 5*time.Second)},
	{"read-timeout", "NENCDS_READ_TIMEOUT", "http.Server ReadTimeout", duration(func(c *Config) *time.Duration { return &c.ReadTimeout }, 15*time.Second)},
	{"write-timeout", "NENCDS_WRITE_TIMEOUT", "http.Server WriteTimeout", duration(func(c *Config) *time.Duration { return &c.WriteTimeout }, 30*time.Second)},
	{"idle-timeout", "NENCDS_IDLE_TIMEOUT", "http.Server IdleTimeout", duration(func(c *Config) *time.Duration { return &c.IdleTimeout }, 60*time.Second)},
	{"shutdown-timeout", "NENCDS_SHUTDOWN_TIMEOUT", "drain deadline on SIGTERM", duration(func(c *Config) *time.Duration { return &c.ShutdownTimeout }, 20*time.Second)},
	{"metrics", "NENCDS_METRICS", "serve Prometheus metrics on GET /metrics of the listen address (also OTEL_METRICS_EXPORTER=prometheus); no patient data, but keep it cluster-internal", boolean(func(c *Config) *bool { return &c.Metrics })},
	{"rules-config", "NENCDS_RULES_CONFIG", "JSON file of rule settings (cards.Config fields: thresholds, windows, guideline links; see docs/rules.md) merged over the defaults; unknown fields are refused", str(func(c *Config) *string { return &c.RulesConfig }, "")},
	{"max-cards", "NENCDS_MAX_CARDS", "maximum cards per answer, most urgent first (0: no cap); overrides -rules-config", integer(func(c *Config) *int { return &c.MaxCards }, defaultRules.MaxCards)},
	{"smart-app-url", "NENCDS_SMART_APP_URL", "SMART app launch URL added as a smart link to every card (https; none when empty); overrides -rules-config", str(func(c *Config) *string { return &c.SMARTAppURL }, defaultRules.SMARTAppURL)},
	{"app", "NENCDS_APP", "serve the SMART app under /app/ and give every card its smart link ({public_url}/app/launch, unless -smart-app-url names another app); always on with -dev", boolean(func(c *Config) *bool { return &c.App })},
	{"smart-client-id", "NENCDS_SMART_CLIENT_ID", "SMART client id of the app as registered with the EHR (required with -app; nencds-dev with -dev)", str(func(c *Config) *string { return &c.SMARTClientID }, "")},
	{"smart-redirect-url", "NENCDS_SMART_REDIRECT_URL", "redirect URI of the app as registered with the EHR (default {public_url}/app/callback)", str(func(c *Config) *string { return &c.SMARTRedirectURL }, "")},
	{"app-frame-ancestors", "NENCDS_APP_FRAME_ANCESTORS", "CSP frame-ancestors of the app: the EHR origins that may embed it, space separated", str(func(c *Config) *string { return &c.AppFrameAncestors }, "'self'")},
	{"db", "NENCDS_DB", "the store of issued cards and feedback: `sqlite:PATH`, `postgres://...` (several replicas) or `memory` (lost at exit); required without -dev; -dev default `sqlite:$XDG_STATE_HOME/nencds/dev.db` (else `~/.local/state/nencds/dev.db`)", str(func(c *Config) *string { return &c.DB }, "")},
	{"pseudonym-key", "NENCDS_PSEUDONYM_KEY", "HMAC-SHA256 key of patient pseudonyms, at least 32 bytes as hex or base64; required with PostgreSQL (the same on every replica); with SQLite, when empty, generated once into PATH.key", str(func(c *Config) *string { return &c.PseudonymKey }, "")},
	{"suppress-days", "NENCDS_SUPPRESS_DAYS", "an overridden card is not shown again for the same patient for this many days unless its facts changed; never a critical card or nen-summary (0: off)", integer(func(c *Config) *int { return &c.SuppressDays }, 30)},
	{"store-timeout", "NENCDS_STORE_TIMEOUT", "deadline of the suppression lookup of one call; past it, or when the store fails, cards are answered unsuppressed", duration(func(c *Config) *time.Duration { return &c.StoreTimeout }, 300*time.Millisecond)},
	{"card-queue", "NENCDS_CARD_QUEUE", "responses buffered for the background write of issued cards (beyond: dropped and counted in nencds.store.cards.dropped)", integer(func(c *Config) *int { return &c.CardQueue }, 1024)},
}

// usage heads the -h output of the server; the flags follow.
const usage = `usage: nencds [flags]              serve the CDS Hooks services
       nencds eval [flags] FILE|-   evaluate a CDS Hooks request or a FHIR Bundle from a file (nencds eval -h)
       nencds demo-ehr [flags] FILE a fixture EHR on loopback to try the SMART app with nencds -dev (nencds demo-ehr -h)
       nencds report [flags]        acceptance of the cards per topic (nencds report -h)
       nencds -version              print the module version and the commit

Each setting is a flag and an environment variable (in brackets); the flag wins.

`

// errVersionRequested is parseConfig's answer to -version: run prints the version.
var errVersionRequested = errors.New("version requested")

// parseConfig reads the environment, then the flags of args.
func parseConfig(args []string, getenv func(string) string) (*Config, error) {
	var c Config
	fs := flag.NewFlagSet("nencds", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	showVersion := fs.Bool("version", false, cli.VersionUsage)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	for _, s := range settings {
		s.bind(fs, &c, s.flag, s.doc+" ["+s.env+"]")
	}
	for _, s := range settings {
		if v := getenv(s.env); v != "" {
			if err := fs.Set(s.flag, v); err != nil {
				return nil, fmt.Errorf("%s: %w", s.env, err)
			}
		}
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if *showVersion {
		return nil, errVersionRequested
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if c.Addr == "" {
		c.Addr = ":8080"
		if c.Dev {
			c.Addr = "127.0.0.1:8080"
		}
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return nil, fmt.Errorf("-tls-cert and -tls-key go together")
	}
	if !c.Dev && c.TrustFile == "" {
		return nil, fmt.Errorf("a trust file is required (-trust FILE or NENCDS_TRUST_FILE); or -dev for development")
	}
	if c.TLSCert == "" && !c.BehindProxy && !c.Mode().PlainHTTP() {
		return nil, fmt.Errorf("TLS is required: give -tls-cert and -tls-key, or -behind-proxy (NENCDS_BEHIND_PROXY=true) when TLS ends at a proxy in front; or -dev for development")
	}
	c.set = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { c.set[f.Name] = true })
	rules, err := c.rulesConfig()
	if err != nil {
		return nil, err
	}
	c.Rules = rules
	if err := c.storeConfig(getenv); err != nil {
		return nil, err
	}
	return &c, nil
}

// Mode is the one security mode of the process, from -dev: every package that relaxes a
// rule for development receives this value (hooks.Options, the FHIR policy and client,
// the rules configuration).
func (c *Config) Mode() security.Mode {
	if c.Dev {
		return security.Development()
	}
	return security.Production()
}

// limits returns the request decoder limits.
func (c *Config) limits() hooks.Limits {
	return hooks.Limits{MaxBytes: c.MaxBodyBytes, MaxDepth: c.MaxJSONDepth, MaxString: c.MaxJSONString}
}

func (c *Config) origins() []string {
	var out []string
	for _, o := range strings.Split(c.CORSOrigins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			out = append(out, o)
		}
	}
	return out
}

// settingsTable is the README's table of settings, generated from settings (the test
// TestREADMESettings keeps the README equal to it).
func settingsTable() string {
	var c Config
	fs := flag.NewFlagSet("nencds", flag.ContinueOnError)
	var b strings.Builder
	b.WriteString("| flag | environment | default | meaning |\n|---|---|---|---|\n")
	for _, s := range settings {
		s.bind(fs, &c, s.flag, s.doc)
		def := fs.Lookup(s.flag).DefValue
		switch def {
		case "", "false":
			def = "-"
		default:
			def = "`" + def + "`"
		}
		fmt.Fprintf(&b, "| `-%s` | `%s` | %s | %s |\n", s.flag, s.env, def, s.doc)
	}
	return b.String()
}
