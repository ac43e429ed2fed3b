package app

import (
	"bytes"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/nencds/nencds/cards"
	"github.com/nencds/nencds/fhirclient"
	"github.com/nencds/nencds/internal/security"
)

// Prefix is the path under which the app is served.
const Prefix = "/app/"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Options configure the app.
type Options struct {
	// Mode is the security mode (security.Production, the zero value, or Development):
	// development allows http on loopback for the launching FHIR server and its
	// authorization endpoints, an http redirect URL, and drops the Secure attribute of the
	// cookies (plain-http development).
	Mode security.Mode
	// PublicURL is the external base of nencds (e.g. https://cds.example.org); the
	// default RedirectURL is PublicURL + "/app/callback".
	PublicURL string
	// ClientID is the SMART client id registered with the EHR.
	ClientID string
	// RedirectURL is the registered redirect URI (default PublicURL + "/app/callback").
	RedirectURL string
	// TrustedServers are the FHIR bases that may launch the app (iss): the FHIR servers
	// listed for the clients of the trust configuration. In development a loopback server
	// may launch it too.
	TrustedServers []string
	// FHIR reads the record (required); Policy is the SSRF policy of its reads.
	FHIR   *fhirclient.Client
	Policy fhirclient.Policy
	// HTTP makes the SMART discovery and token requests. Default: the dial-guarded
	// fhirclient.Transport, a 10 s timeout and no redirects.
	HTTP *http.Client
	// Engine evaluates the cards (required).
	Engine *cards.Engine
	// Now is the evaluation clock (default time.Now).
	Now func() time.Time
	// FHIRTimeout bounds all the reads of one page. Default 10 s.
	FHIRTimeout time.Duration
	// SessionTTL caps a session (and the token's expires_in caps it further). Default 15 min.
	SessionTTL time.Duration
	// FrameAncestors is the CSP frame-ancestors source list: who may embed the app.
	// Default "'self'".
	FrameAncestors string
	// Logger logs launches and failures, never tokens or patient data. Default slog.Default().
	Logger *slog.Logger
}

// App serves the SMART app. It is an http.Handler for the paths under Prefix.
type App struct {
	o         Options
	redirect  *url.URL
	tmpl      *template.Template
	assets    http.Handler
	csp       string
	mu        sync.Mutex
	logins    map[string]*login   // by state
	sessions  map[string]*session // by session id
	maxLogins int
}

// New returns the app for o.
func New(o Options) (*App, error) {
	if o.FHIR == nil || o.Engine == nil {
		return nil, errors.New("app: FHIR and Engine are required")
	}
	if o.ClientID == "" {
		return nil, errors.New("app: a SMART client id is required")
	}
	if o.RedirectURL == "" {
		if o.PublicURL == "" {
			return nil, errors.New("app: a redirect URL or a public URL is required")
		}
		o.RedirectURL = strings.TrimRight(o.PublicURL, "/") + "/app/callback"
	}
	redirect, err := url.Parse(o.RedirectURL)
	if err != nil || !redirect.IsAbs() || redirect.Host == "" || redirect.Fragment != "" {
		return nil, errors.New("app: the redirect URL must be an absolute URL without a fragment")
	}
	if redirect.Scheme != "https" && !(o.Mode.HTTPLinks() && redirect.Scheme == "http") {
		return nil, errors.New("app: the redirect URL must use https")
	}
	if o.HTTP == nil {
		o.HTTP = &http.Client{
			Transport: fhirclient.Transport(o.Mode),
			Timeout:   10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.FHIRTimeout <= 0 {
		o.FHIRTimeout = 10 * time.Second
	}
	if o.SessionTTL <= 0 {
		o.SessionTTL = 15 * time.Minute
	}
	if strings.TrimSpace(o.FrameAncestors) == "" {
		o.FrameAncestors = "'self'"
	}
	if strings.ContainsAny(o.FrameAncestors, ";,\r\n") {
		return nil, errors.New("app: frame ancestors is a space-separated CSP source list")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	tmpl, err := template.New("").Funcs(funcs).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	sub, err := fs.Sub(assetFS, "assets")
	if err != nil {
		return nil, err
	}
	return &App{
		o:        o,
		redirect: redirect,
		tmpl:     tmpl,
		assets:   http.StripPrefix(Prefix+"assets/", http.FileServer(http.FS(sub))),
		csp: "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
			"connect-src 'none'; form-action 'self'; base-uri 'none'; frame-ancestors " + strings.TrimSpace(o.FrameAncestors),
		logins:    map[string]*login{},
		sessions:  map[string]*session{},
		maxLogins: 10000,
	}, nil
}

// ServeHTTP serves the paths under Prefix.
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", a.csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		a.fail(w, r, http.StatusMethodNotAllowed, "Method not allowed", "The app answers GET only.")
		return
	}
	switch p := r.URL.Path; {
	case p == Prefix || p == strings.TrimSuffix(Prefix, "/"):
		a.start(w, r)
	case p == Prefix+"launch":
		a.launch(w, r)
	case p == Prefix+"callback":
		a.callback(w, r)
	case p == Prefix+"patient":
		a.patient(w, r)
	case strings.HasPrefix(p, Prefix+"assets/") && !strings.HasSuffix(p, "/"):
		h.Set("Cache-Control", "public, max-age=3600")
		a.assets.ServeHTTP(w, r)
	default:
		a.fail(w, r, http.StatusNotFound, "Not found", "There is no such page in the app.")
	}
}

// errorPage is the data of error.html.
type errorPage struct {
	Title, Message string
	Status         int
}

// fail renders a plain error page: a title and a message for the clinician, never an
// internal error text.
func (a *App) fail(w http.ResponseWriter, r *http.Request, status int, title, msg string) {
	a.render(w, status, "error.html", errorPage{Title: title, Message: msg, Status: status})
}

// render executes a template to a buffer, then writes it: a template error is a plain
// 500, never a half page.
func (a *App) render(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	if err := a.tmpl.ExecuteTemplate(&buf, name, data); err != nil {
		a.o.Logger.Error("app: render", "template", name, "err", err)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte("The page could not be shown.\n"))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// start is /app/: a standalone launch when iss is given, the open session's page when
// there is one, else a short explanation.
func (a *App) start(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("iss") != "" {
		a.launch(w, r)
		return
	}
	if _, ok := a.session(r); ok {
		http.Redirect(w, r, Prefix+"patient", http.StatusSeeOther)
		return
	}
	a.render(w, http.StatusOK, "start.html", nil)
}
