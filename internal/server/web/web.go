// Package web is Vigil's console and REST API: one http.Handler serving the
// server-rendered console (html/template and htmx, every asset embedded),
// the JSON API under /api/v1/ and Prometheus metrics at /metrics.
//
// Every request but the login page and static assets needs a console
// session (cookie) or an API token (Authorization: Bearer). Roles are
// enforced on every handler: read-only users change nothing, analysts
// handle alerts and order tasks, admins also manage users, tokens and
// settings. A state-changing request made with a session must carry the
// session's CSRF token (form field csrf_token or header X-CSRF-Token).
// Every change is written to the store's audit log.
package web

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/vigilsec/vigil/internal/server/store"
)

// Tasks submits typed tasks to the task centre. The task engine (signing,
// target resolution, scheduling) implements it; the console only collects
// the order and shows the result.
type Tasks interface {
	// Submit validates, signs and stores a task, writes its audit entry
	// (action "task.submit", actor as given) and returns it. A bad type,
	// params or schedule gives an error wrapping store.ErrInvalid.
	Submit(ctx context.Context, actor, typ string, params json.RawMessage, targets store.Targets, schedule string) (store.Task, error)
}

// HostStatus says whether a host's agent is connected to this server now
// (its heartbeat may not be in the store yet).
type HostStatus interface {
	Online(hostID string) bool
}

// OnlineWindow is how recently a host must have been seen (its last
// heartbeat stored by any server replica) to count as online.
const OnlineWindow = 90 * time.Second

// Options configure the handler.
type Options struct {
	Store store.Store // required
	Tasks Tasks       // required to order tasks; nil answers 503 to task orders
	// Hosts reports live agent connections; nil means "seen within
	// OnlineWindow".
	Hosts  HostStatus
	Logger *slog.Logger // nil discards
	Now    func() time.Time
	// SecureCookies marks cookies Secure (set it when serving HTTPS).
	SecureCookies bool
	// MintEnrolToken makes an enrolment token: the string shown once to
	// the admin and the hash stored. Nil makes a random 32-byte secret
	// and stores its SHA-256.
	MintEnrolToken func() (display, hash string, err error)
	// Metrics, when set, writes more Prometheus text-format metrics after
	// the built-in ones.
	Metrics func(w io.Writer)
	// PublicMetrics serves /metrics without authentication (for a
	// Prometheus on a trusted network); by default it needs a session or
	// an API token.
	PublicMetrics bool
	// SessionTTL is how long a login lasts; 0 means 12 hours.
	SessionTTL time.Duration
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// server holds the handler's state.
type server struct {
	st        store.Store
	tasks     Tasks
	hosts     HostStatus
	log       *slog.Logger
	now       func() time.Time
	secure    bool
	mint      func() (string, string, error)
	metrics   func(io.Writer)
	pubMetric bool
	ttl       time.Duration
	limiter   *limiter
	pages     map[string]*pageTemplate
	// settingsMu serialises read-modify-write of JSON settings.
	settingsMu sync.Mutex
}

// New returns the console, API and metrics handler.
func New(o Options) (http.Handler, error) {
	if o.Store == nil {
		return nil, errors.New("web: no store")
	}
	s := &server{
		st: o.Store, tasks: o.Tasks, hosts: o.Hosts, log: o.Logger, now: o.Now,
		secure: o.SecureCookies, mint: o.MintEnrolToken, metrics: o.Metrics,
		pubMetric: o.PublicMetrics, ttl: o.SessionTTL,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.mint == nil {
		s.mint = randomEnrolToken
	}
	if s.ttl <= 0 {
		s.ttl = 12 * time.Hour
	}
	s.limiter = newLimiter(s.now)
	var err error
	if s.pages, err = loadPages(); err != nil {
		return nil, err
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /static/", http.StripPrefix("/static/", staticHandler(static)))
	// Browsers ask for /favicon.ico before anyone logs in.
	mux.Handle("GET /favicon.ico", http.StripPrefix("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.URL.Path = "favicon.svg"
		staticHandler(static).ServeHTTP(w, r)
	})))
	s.routes(mux)
	return securityHeaders(mux), nil
}

// staticHandler serves embedded assets with a day of caching.
func staticHandler(fsys fs.FS) http.Handler {
	fsrv := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		fsrv.ServeHTTP(w, r)
	})
}

// csp forbids inline script and style, framing and foreign origins.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		next.ServeHTTP(w, r)
	})
}

// maxBody bounds request bodies.
const maxBody = 1 << 20

// randomSecret returns n random bytes, base64url without padding.
func randomSecret(n int) string {
	return base64.RawURLEncoding.EncodeToString(randomBytes(n))
}

// hashToken is the stored form of a session, API or enrolment secret.
func hashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

func randomEnrolToken() (string, string, error) {
	t := "vigil-enrol-" + randomSecret(32)
	return t, hashToken(t), nil
}

// httpError is an error with the status to answer.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func errorf(code int, format string, a ...any) error {
	return &httpError{code: code, msg: fmt.Sprintf(format, a...)}
}

// statusOf maps an error to an HTTP status and a message safe to show.
func (s *server) statusOf(err error) (int, string) {
	var he *httpError
	switch {
	case errors.As(err, &he):
		return he.code, he.msg
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, "not found"
	case errors.Is(err, store.ErrConflict):
		return http.StatusConflict, "conflict: " + err.Error()
	case errors.Is(err, store.ErrInvalid):
		return http.StatusBadRequest, "invalid input: " + err.Error()
	case errors.Is(err, context.Canceled):
		return 499, "canceled"
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge, "request body too large"
	}
	s.log.Error("request failed", "err", err)
	return http.StatusInternalServerError, "internal error"
}

// online reports whether a host's agent is connected: seen within
// OnlineWindow, or connected to this server (Options.Hosts).
func (s *server) online(h store.Host) bool {
	if h.Revoked {
		return false
	}
	if !h.LastSeen.IsZero() && s.now().Sub(h.LastSeen) <= OnlineWindow {
		return true // seen by this server or another replica
	}
	return s.hosts != nil && s.hosts.Online(h.ID)
}

// audit appends an audit entry; a failure is logged and returned.
func (s *server) audit(ctx context.Context, actor, action, object string, details any) error {
	var d json.RawMessage
	if details != nil {
		b, err := json.Marshal(details)
		if err != nil {
			return err
		}
		d = b
	}
	_, err := s.st.AppendAudit(ctx, store.AuditEntry{Time: s.now(), Actor: actor, Action: action, Object: object, Details: d})
	if err != nil {
		s.log.Error("audit", "action", action, "err", err)
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}
