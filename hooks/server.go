package hooks

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/nencds/nencds/hooks/auth"
	"github.com/nencds/nencds/hooks/telemetry"
	"github.com/nencds/nencds/internal/security"
	"github.com/nencds/nencds/store"
)

// Authenticator verifies the client JWT of one call; *auth.Verifier satisfies it. aud is
// the absolute URL of the endpoint invoked. Any error answers 401.
type Authenticator interface {
	Authenticate(ctx context.Context, authorization, aud string) (auth.Client, error)
}

var _ Authenticator = (*auth.Verifier)(nil)

// Options configure a Server.
type Options struct {
	// Mode is the deployment mode (security.Production, the zero value, or Development):
	// development allows any CORS origin and lets the server run without an
	// Authenticator (no client JWT: every call is anonymous). The FHIR fallback's
	// relaxations come from the same value, given to the Resolver's Policy.
	Mode security.Mode
	// PublicURL is the externally visible base of the service (e.g. https://cds.example.org);
	// the aud of a call is PublicURL + "/cds-services[/{id}[/feedback]]". Required unless
	// the mode allows anonymous calls.
	PublicURL string
	// Authenticator checks client JWTs. Required unless the mode allows anonymous calls;
	// when set, used in every mode.
	Authenticator Authenticator
	// AuthReason gives the log label of an authentication error (auth.ReasonOf when nil).
	AuthReason func(error) string
	// Evaluator evaluates the patient-view requests. Required.
	Evaluator *Evaluator
	// Store keeps the issued cards (codes, a patient pseudonym, a fingerprint) and the
	// feedback, and holds the overrides that suppress cards (a store.Memory when nil).
	Store store.Store
	// Cards, when set, writes issued cards in the background (a bounded queue whose drops
	// are counted); when nil they are written before the answer (tests).
	Cards CardQueue
	// SuppressFor: a card overridden for the patient is not shown again for this long,
	// unless its fingerprint changed; never a critical card or nen-summary. 0: off.
	SuppressFor time.Duration
	// StoreTimeout bounds the suppression lookup of one call (default 300 ms): past it,
	// or when the store fails, the cards are answered unsuppressed.
	StoreTimeout time.Duration
	// FeedbackTimeout bounds the commit of one feedback call (default 5 s); past it, 503.
	FeedbackTimeout time.Duration
	// Clock is the server clock of issued and received times (time.Now when nil).
	Clock func() time.Time
	// Limits bound the request decoder.
	Limits Limits
	// CORSOrigins are the allowed browser origins ("*" for any; any in development).
	CORSOrigins []string
	// MaxInFlight caps concurrent CDS calls (discovery, service, feedback); beyond, 503.
	// A call takes its slot only once its body is read, so that slow bodies hold none.
	// Default 64.
	MaxInFlight int
	// BodyTimeout bounds the reading of one request body, from when the handler starts
	// reading it (after the headers and authentication); a body not received in time
	// answers 408. It replaces the server's ReadTimeout for the body. Default 5 s.
	BodyTimeout time.Duration
	// Logger receives one line per request (never patient data or tokens): request id,
	// route, status, duration, and for CDS calls the service id, hookInstance and card
	// count. slog.Default when nil. Probes (/healthz, /readyz) log at debug level.
	Logger *slog.Logger
	// Ready, when set, answers /readyz (an error: 503).
	Ready func(context.Context) error
	// Middleware runs on every request after recovery and before CORS (telemetry).
	Middleware []gin.HandlerFunc
	// Telemetry records the CDS metrics (cards by topic, prefetch dispositions, auth
	// failures, feedback by topic); nil records nothing. Server spans and the request
	// duration come from its Middleware, put in Middleware; the stage spans from
	// telemetry.StageFunc on the Evaluator and Resolver (cmd/nencds wires all three).
	Telemetry *telemetry.Telemetry
}

// Server is the CDS Hooks HTTP service.
type Server struct {
	o        Options
	services map[string]Service
	sem      chan struct{}
	engine   *gin.Engine
	// onRelease, when set, sees every body buffer before it goes back to the pool (tests
	// poison it).
	onRelease func([]byte)
}

// NewServer checks o and builds the routes.
func NewServer(o Options) (*Server, error) {
	if o.Evaluator == nil || o.Evaluator.Engine == nil {
		return nil, errors.New("hooks: Options.Evaluator with an Engine is required")
	}
	if !o.Mode.AnonymousCalls() {
		if o.Authenticator == nil {
			return nil, errors.New("hooks: an Authenticator is required outside dev mode")
		}
		if o.PublicURL == "" {
			return nil, errors.New("hooks: PublicURL is required outside dev mode")
		}
	}
	o.PublicURL = strings.TrimRight(o.PublicURL, "/")
	if o.Store == nil {
		st, err := store.NewMemory(store.Options{})
		if err != nil {
			return nil, err
		}
		o.Store = st
	}
	if o.StoreTimeout <= 0 {
		o.StoreTimeout = 300 * time.Millisecond
	}
	if o.FeedbackTimeout <= 0 {
		o.FeedbackTimeout = 5 * time.Second
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 64
	}
	if o.BodyTimeout <= 0 {
		o.BodyTimeout = DefaultBodyTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.AuthReason == nil {
		o.AuthReason = auth.ReasonOf
	}
	o.Limits = o.Limits.withDefaults()
	s := &Server{o: o, services: map[string]Service{}, sem: make(chan struct{}, o.MaxInFlight)}
	for _, svc := range Services() {
		s.services[svc.ID] = svc
	}
	s.engine = s.routes()
	return s, nil
}

// Handler returns the HTTP handler of every route.
func (s *Server) Handler() http.Handler { return s.engine }

// routes declares every route and middleware in one place.
func (s *Server) routes() *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.HandleMethodNotAllowed = false
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.Use(s.access)
	r.Use(s.recovery)
	r.Use(s.o.Middleware...)
	r.Use(s.cors)

	r.GET("/healthz", s.wrap(s.healthz))
	r.GET("/readyz", s.wrap(s.readyz))

	api := r.Group("/cds-services")
	api.GET("", s.authn(func(*gin.Context) string { return "/cds-services" }), s.wrap(s.limited(s.discovery)))
	api.POST("/:id", s.authn(func(c *gin.Context) string { return "/cds-services/" + c.Param("id") }), s.wrap(s.service))
	api.POST("/:id/feedback", s.authn(func(c *gin.Context) string { return "/cds-services/" + c.Param("id") + "/feedback" }), s.wrap(s.feedback))

	r.NoRoute(s.wrap(func(*gin.Context) error { return Errorf(KindNotFound, "no such endpoint") }))
	return r
}

type handler func(c *gin.Context) error

// wrap renders a handler's error: the one place where errors become statuses. The
// response written, the call's body buffer goes back to its pool (buffers.go).
func (s *Server) wrap(h handler) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := h(c); err != nil {
			s.fail(c, err)
		}
		s.releaseBody(c)
	}
}

// fail writes err as its status and OperationOutcome. The kind (and the missing prefetch
// keys of a 412) go to the request's log line; a 5xx also logs its cause on its own line.
func (s *Server) fail(c *gin.Context, err error) {
	status, oo := Outcome(err)
	rl := logOf(c)
	rl.kind = KindOf(err).String()
	if status >= 500 && status != http.StatusServiceUnavailable {
		s.logger(c).ErrorContext(c.Request.Context(), "request failed", "route", route(c), "status", status, "err", err.Error())
	}
	var e *Error
	if errors.As(err, &e) {
		for _, m := range e.Missing {
			rl.missing = append(rl.missing, m.Key)
		}
	}
	if status == http.StatusUnauthorized {
		c.Header("WWW-Authenticate", "Bearer")
	}
	s.render(c, status, oo)
	c.Abort()
}

// render marshals v to a pooled buffer before writing any header; the buffer goes back
// to its pool once written (a ResponseWriter keeps nothing of what it is given).
func (s *Server) render(c *gin.Context, status int, v any) {
	buf := renderPool.Get().(*bytes.Buffer)
	buf.Reset()
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		s.logger(c).ErrorContext(c.Request.Context(), "response could not be encoded", "err", err.Error())
		status = http.StatusInternalServerError
		buf.Reset()
		_, oo := Outcome(err)
		json.NewEncoder(buf).Encode(oo)
	}
	c.Data(status, "application/json; charset=utf-8", buf.Bytes())
	if buf.Cap() <= poolMax {
		renderPool.Put(buf)
	}
}

// recovery turns a panic into a 500 OperationOutcome (if nothing was written yet).
func (s *Server) recovery(c *gin.Context) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			err := &Error{Kind: KindInternal, Err: fmt.Errorf("panic: %v", v)}
			if c.Writer.Written() {
				s.logger(c).ErrorContext(c.Request.Context(), "panic after the response started", "err", err.Error())
				c.Abort()
				return
			}
			s.fail(c, err)
		}
	}()
	c.Next()
}

// cors answers preflights with 204 and sets the CORS headers on every response.
func (s *Server) cors(c *gin.Context) {
	h := c.Writer.Header()
	origin := c.GetHeader("Origin")
	if origin != "" && s.originAllowed(origin) {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
		h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
		h.Set("Access-Control-Max-Age", "600")
		h.Set("Access-Control-Expose-Headers", RequestIDHeader)
		// A public page (the CDS Hooks sandbox) calling a dev server on localhost: Chrome's
		// Private Network Access preflight. Only in development.
		if s.o.Mode.AnyCORSOrigin() && c.GetHeader("Access-Control-Request-Private-Network") == "true" {
			h.Set("Access-Control-Allow-Private-Network", "true")
		}
	}
	if c.Request.Method == http.MethodOptions {
		h.Set("Allow", "GET, POST, OPTIONS")
		c.AbortWithStatus(http.StatusNoContent)
		return
	}
	c.Next()
}

func (s *Server) originAllowed(origin string) bool {
	if s.o.Mode.AnyCORSOrigin() {
		return true
	}
	for _, o := range s.o.CORSOrigins {
		if o == "*" || strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}

// DefaultBodyTimeout is Options.BodyTimeout when unset.
const DefaultBodyTimeout = 5 * time.Second

// acquire takes a concurrency slot: release gives it back; a KindUnavailable error (503)
// when MaxInFlight calls are running.
func (s *Server) acquire() (release func(), err error) {
	select {
	case s.sem <- struct{}{}:
		return func() { <-s.sem }, nil
	default:
		return nil, Errorf(KindUnavailable, "server busy; retry later")
	}
}

// limited runs h in a concurrency slot (for a call without a body).
func (s *Server) limited(h handler) handler {
	return func(c *gin.Context) error {
		release, err := s.acquire()
		if err != nil {
			return err
		}
		defer release()
		return h(c)
	}
}

const clientKey = "nencds.client"

// authn authenticates the call for the endpoint whose path path gives (the aud).
func (s *Server) authn(path func(*gin.Context) string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if s.o.Authenticator == nil { // only when the mode allows anonymous calls (NewServer checks)
			c.Set(clientKey, auth.Client{Anonymous: true})
			c.Next()
			return
		}
		client, err := s.o.Authenticator.Authenticate(c.Request.Context(), c.GetHeader("Authorization"), s.o.PublicURL+path(c))
		if err != nil {
			reason := s.o.AuthReason(err)
			s.o.Telemetry.RecordAuthFailure(c.Request.Context(), reason)
			logOf(c).authReason = reason
			s.fail(c, &Error{Kind: KindUnauthenticated})
			return
		}
		c.Set(clientKey, client)
		c.Next()
	}
}

func clientOf(c *gin.Context) auth.Client {
	v, _ := c.Get(clientKey)
	cl, _ := v.(auth.Client)
	return cl
}

// healthz handles GET /healthz: the process is alive.
func (s *Server) healthz(c *gin.Context) error {
	s.render(c, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// readyz handles GET /readyz: the server can take traffic.
func (s *Server) readyz(c *gin.Context) error {
	if s.o.Ready != nil {
		if err := s.o.Ready(c.Request.Context()); err != nil {
			s.logger(c).WarnContext(c.Request.Context(), "not ready", "err", err.Error())
			return &Error{Kind: KindUnavailable, Msg: "not ready", Err: err}
		}
	}
	s.render(c, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}

// discovery handles GET /cds-services.
func (s *Server) discovery(c *gin.Context) error {
	s.render(c, http.StatusOK, Discovery{Services: Services()})
	return nil
}

// body checks the content type and reads the capped body under BodyTimeout, and then
// takes a concurrency slot: a body dripped slowly holds a goroutine until its deadline,
// never a slot. The caller must call release when done (when err is nil).
func (s *Server) body(c *gin.Context) (data []byte, release func(), err error) {
	if err := CheckContentType(c.GetHeader("Content-Type")); err != nil {
		return nil, nil, err
	}
	rc := http.NewResponseController(c.Writer)
	// Unsupported only off a real connection (a ResponseRecorder): the body is in memory.
	deadline := rc.SetReadDeadline(time.Now().Add(s.o.BodyTimeout)) == nil
	buf, data, err := readBodyPooled(http.MaxBytesReader(c.Writer, c.Request.Body, s.o.Limits.MaxBytes), c.Request.ContentLength, s.o.Limits)
	holdBody(c, buf) // given back by wrap once the response is written
	if err != nil {
		// The deadline stays: net/http may try to drain the rest of the body before it
		// answers, and must give up at once.
		return nil, nil, err
	}
	if deadline {
		rc.SetReadDeadline(time.Time{})
	}
	release, err = s.acquire()
	if err != nil {
		return nil, nil, err
	}
	return data, release, nil
}

func (s *Server) lookup(c *gin.Context) (Service, error) {
	svc, ok := s.services[c.Param("id")]
	if !ok {
		return Service{}, Errorf(KindNotFound, "no CDS service with this id")
	}
	return svc, nil
}

// service handles POST /cds-services/{id}.
func (s *Server) service(c *gin.Context) error {
	svc, err := s.lookup(c)
	if err != nil {
		return err
	}
	rl := logOf(c)
	rl.service = svc.ID
	data, release, err := s.body(c)
	if err != nil {
		return err
	}
	defer release()
	req, err := DecodeRequest(data, s.o.Limits)
	if err != nil {
		return err
	}
	rl.hookInstance = req.HookInstance
	if err := req.Validate(svc); err != nil {
		return err
	}
	ctx := c.Request.Context()
	client := clientOf(c)
	patient := s.o.Store.Pseudonym(client.Issuer, req.PatientView.PatientID)
	// The overrides of the patient are read while the cards are computed.
	// Only patient-view cards are suppressed: the order checks are safety checks at the
	// moment of ordering, shown every time.
	var overrides *overridesLookup
	if req.Hook == "patient-view" {
		overrides = s.lookupOverrides(ctx, patient)
	}
	res, err := s.o.Evaluator.Run(ctx, req, client)
	if res != nil {
		for key, d := range res.Dispositions {
			s.o.Telemetry.RecordPrefetch(ctx, key, telemetry.Disposition(d))
		}
		for key, reason := range res.Partial {
			s.o.Telemetry.RecordPartialRead(ctx, key, reason)
		}
	}
	if err != nil {
		return err
	}
	res.Response.Cards = s.suppress(c, res.Response.Cards, overrides)
	topics := make([]string, 0, len(res.Response.Cards))
	for _, card := range res.Response.Cards {
		topics = append(topics, topicOf(card))
	}
	s.o.Telemetry.RecordCards(ctx, svc.ID, topics...)
	if inv := res.Response.Invalid; len(inv) > 0 {
		// A rule built a card that failed validation: it was left out of the answer. A
		// defect to fix, never silent; topic codes only.
		s.o.Telemetry.RecordInvalidCards(ctx, svc.ID, inv...)
		s.logger(c).ErrorContext(ctx, "cards failed validation and were left out", "service", svc.ID, "topics", inv)
		rl.invalid = inv
	}
	s.issue(c, svc, req.Hook, client.Issuer, patient, res.Response.Cards)
	rl.cards = len(res.Response.Cards)
	rl.topics = topics
	s.render(c, http.StatusOK, res.Response)
	return nil
}

// feedback handles POST /cds-services/{id}/feedback.
func (s *Server) feedback(c *gin.Context) error {
	svc, err := s.lookup(c)
	if err != nil {
		return err
	}
	rl := logOf(c)
	rl.service = svc.ID
	data, release, err := s.body(c)
	if err != nil {
		return err
	}
	defer release()
	var fr FeedbackRequest
	if err := DecodeJSON(data, s.o.Limits, &fr); err != nil {
		return err
	}
	if err := fr.Validate(); err != nil {
		return err
	}
	ctx := c.Request.Context()
	issuer := clientOf(c).Issuer
	rl.feedback = len(fr.Feedback)
	received := s.o.Clock()
	items := make([]store.Feedback, len(fr.Feedback))
	for i, f := range fr.Feedback {
		items[i] = f.record(issuer, svc.ID, received)
	}
	// Committed before the 200: an acknowledged item survives a crash. A store that is
	// down or slow answers 503, so that the EHR retries (the items are idempotent).
	sctx, cancel := context.WithTimeout(ctx, s.o.FeedbackTimeout)
	puts, err := s.o.Store.PutFeedback(sctx, items)
	cancel()
	if err != nil {
		s.o.Telemetry.RecordStoreError(ctx, "feedback")
		s.logger(c).WarnContext(ctx, "feedback not stored", "err", err.Error())
		return &Error{Kind: KindUnavailable, Msg: "feedback could not be stored; retry later", Err: err}
	}
	for i, p := range puts {
		if !p.Matched {
			rl.feedbackUnmatched++
		}
		if p.Created {
			rl.feedbackNew++
			s.o.Telemetry.RecordFeedback(ctx, svc.ID, p.Topic, items[i].Outcome)
		}
	}
	c.Status(http.StatusOK)
	return nil
}

// The request log: one line per request, written by access when the request is done.

const (
	reqLogKey = "nencds.reqlog"
	// RequestIDHeader carries the request id: a sane one sent by the client is kept,
	// otherwise one is generated; it is echoed on every response and logged.
	RequestIDHeader = "X-Request-Id"
)

// reqLog is what the handlers of one request add to its log line: codes and counts only.
type reqLog struct {
	id           string
	service      string
	hookInstance string
	cards        int      // -1: no cards answered
	topics       []string // topic codes of the cards answered, in answer order
	invalid      []string // topic codes of cards left out because they failed validation
	feedback     int      // items received (feedback calls)
	feedbackNew  int
	// feedbackUnmatched counts items about cards the store does not know (kept anyway).
	feedbackUnmatched int
	suppressed        int      // cards held back after an override
	kind              string   // error kind of a failed request
	missing           []string // prefetch keys of a 412
	authReason        string   // auth.ReasonOf of a 401
}

func logOf(c *gin.Context) *reqLog {
	if v, ok := c.Get(reqLogKey); ok {
		return v.(*reqLog)
	}
	rl := &reqLog{cards: -1} // only when access did not run (not through routes)
	c.Set(reqLogKey, rl)
	return rl
}

// logger is the server's logger with the request id of c.
func (s *Server) logger(c *gin.Context) *slog.Logger {
	return s.o.Logger.With("request_id", logOf(c).id)
}

// probes log at debug level: a kubelet calls them every few seconds.
var probes = map[string]bool{"/healthz": true, "/readyz": true}

// access gives the request its id (echoed in X-Request-Id) and, when it is done, logs its
// one line: request id, method, route template, status, duration, and what the handlers
// recorded (service id, hookInstance, card count and topic codes, feedback counts, error
// kind, missing prefetch keys, auth failure reason). Never a patient id, a token or request content.
func (s *Server) access(c *gin.Context) {
	start := time.Now()
	rl := &reqLog{id: requestID(c.GetHeader(RequestIDHeader)), cards: -1}
	c.Set(reqLogKey, rl)
	c.Header(RequestIDHeader, rl.id)
	c.Next()

	status := c.Writer.Status()
	attrs := make([]slog.Attr, 0, 14)
	attrs = append(attrs,
		slog.String("request_id", rl.id),
		slog.String("method", c.Request.Method),
		slog.String("route", route(c)),
		slog.Int("status", status),
		slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
	)
	if rl.service != "" {
		attrs = append(attrs, slog.String("service", rl.service))
	}
	if rl.hookInstance != "" {
		if safeID(rl.hookInstance) {
			attrs = append(attrs, slog.String("hookInstance", rl.hookInstance))
		} else {
			attrs = append(attrs, slog.String("hookInstance", "invalid"))
		}
	}
	if rl.cards >= 0 {
		attrs = append(attrs, slog.Int("cards", rl.cards), slog.Any("topics", rl.topics))
	}
	if len(rl.invalid) > 0 {
		attrs = append(attrs, slog.Any("invalid_cards", rl.invalid))
	}
	if rl.suppressed > 0 {
		attrs = append(attrs, slog.Int("suppressed", rl.suppressed))
	}
	if rl.feedback > 0 {
		attrs = append(attrs, slog.Int("items", rl.feedback), slog.Int("new", rl.feedbackNew), slog.Int("unmatched", rl.feedbackUnmatched))
	}
	if rl.kind != "" && status >= 400 {
		attrs = append(attrs, slog.String("kind", rl.kind))
	}
	if len(rl.missing) > 0 {
		attrs = append(attrs, slog.Any("missing", rl.missing))
	}
	if rl.authReason != "" {
		attrs = append(attrs, slog.String("auth_reason", rl.authReason))
	}
	level := slog.LevelInfo
	switch {
	case probes[c.FullPath()] && status < 400:
		level = slog.LevelDebug
	case status >= 500:
		level = slog.LevelWarn
	}
	// c.Request carries the server span of the telemetry middleware (trace ids).
	s.o.Logger.LogAttrs(c.Request.Context(), level, "request", attrs...)
}

// route is the route template of c ("unmatched" for none): never the raw path.
func route(c *gin.Context) string {
	if r := c.FullPath(); r != "" {
		return r
	}
	return "unmatched"
}

// requestID returns h when it is a sane request id, else a new random one.
func requestID(h string) string {
	if safeID(h) {
		return h
	}
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// safeID reports whether s is 1 to 64 characters of [A-Za-z0-9._-].
func safeID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}
