package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/vigilsec/vigil/internal/server/store"
)

// argon2id parameters: OWASP's 19 MiB, 2 passes, 1 lane.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
)

// HashPassword returns the argon2id hash of a password in PHC string form
// ($argon2id$v=19$m=…,t=…,p=…$salt$key).
func HashPassword(password string) (string, error) {
	if password == "" {
		return "", errors.New("empty password")
	}
	salt := randomBytes(16)
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// CheckPassword reports whether password matches a HashPassword hash.
func CheckPassword(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var v int
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || m > 1<<21 || t == 0 || t > 16 || p == 0 {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	key, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(key) == 0 || len(key) > 64 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1
}

// dummyHash is checked for unknown users so that a login takes as long
// whether or not the user exists.
var dummyHash = sync.OnceValue(func() string {
	h, _ := HashPassword(randomSecret(16))
	return h
})

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux ≥ 3.17
	}
	return b
}

// EnsureAdmin makes sure an enabled admin user exists. When none does, it
// creates username (default "admin") with a generated password and returns
// that password, once, for `vigil up` to print; otherwise it returns "".
func EnsureAdmin(ctx context.Context, st store.Store, username string, now time.Time) (password string, err error) {
	if username == "" {
		username = "admin"
	}
	us, err := st.ListUsers(ctx)
	if err != nil {
		return "", fmt.Errorf("ensure admin: %w", err)
	}
	for _, u := range us {
		if u.Role == store.RoleAdmin && !u.Disabled {
			return "", nil
		}
	}
	password = randomSecret(18)
	hash, err := HashPassword(password)
	if err != nil {
		return "", err
	}
	u := store.User{Username: username, PasswordHash: hash, Role: store.RoleAdmin, CreatedAt: now}
	if err := st.CreateUser(ctx, u); err != nil {
		if !errors.Is(err, store.ErrConflict) {
			return "", fmt.Errorf("ensure admin: %w", err)
		}
		// The user exists but is not an enabled admin: make it one.
		if err := st.UpdateUser(ctx, u); err != nil {
			return "", fmt.Errorf("ensure admin: %w", err)
		}
	}
	if _, err := st.AppendAudit(ctx, store.AuditEntry{Time: now, Actor: "system", Action: "user.bootstrap", Object: "user:" + username}); err != nil {
		return "", fmt.Errorf("ensure admin: %w", err)
	}
	return password, nil
}

// principal is the authenticated caller.
type principal struct {
	User    store.User
	Session *store.Session // nil for an API token
	Token   *store.APIToken
}

func (p *principal) csrf() string {
	if p.Session == nil {
		return ""
	}
	return p.Session.CSRFSecret
}

var roleRank = map[store.Role]int{store.RoleReadOnly: 0, store.RoleAnalyst: 1, store.RoleAdmin: 2}

func (p *principal) can(min store.Role) bool {
	r, ok := roleRank[p.User.Role]
	return ok && r >= roleRank[min]
}

const (
	sessionCookie = "vigil_session"
	loginCookie   = "vigil_login"
	csrfField     = "csrf_token"
	csrfHeader    = "X-CSRF-Token"
)

// authenticate finds the caller from the bearer token or session cookie.
// It returns nil when there is neither or it is not valid.
func (s *server) authenticate(r *http.Request) (*principal, error) {
	ctx := r.Context()
	if ah := r.Header.Get("Authorization"); ah != "" {
		secret, ok := strings.CutPrefix(ah, "Bearer ")
		if !ok || secret == "" {
			return nil, nil
		}
		t, err := s.st.GetAPIToken(ctx, hashToken(secret))
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		} else if err != nil {
			return nil, err
		}
		u, err := s.activeUser(ctx, t.Username)
		if u == nil || err != nil {
			return nil, err
		}
		if err := s.st.TouchAPIToken(ctx, t.Hash, s.now()); err != nil {
			s.log.Warn("touch api token", "err", err)
		}
		return &principal{User: *u, Token: &t}, nil
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil, nil
	}
	se, err := s.st.GetSession(ctx, hashToken(c.Value), s.now())
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	u, err := s.activeUser(ctx, se.Username)
	if u == nil || err != nil {
		return nil, err
	}
	return &principal{User: *u, Session: &se}, nil
}

// activeUser returns the user, or nil when it is gone or disabled.
func (s *server) activeUser(ctx context.Context, name string) (*store.User, error) {
	u, err := s.st.GetUser(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	if u.Disabled || !u.Role.Valid() {
		return nil, nil
	}
	return &u, nil
}

// checkCSRF verifies a session request's CSRF token.
func checkCSRF(r *http.Request, p *principal) bool {
	if p.Session == nil {
		return true // API tokens are not sent by browsers on their own
	}
	tok := r.Header.Get(csrfHeader)
	if tok == "" {
		tok = r.PostFormValue(csrfField)
	}
	return tok != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(p.Session.CSRFSecret)) == 1
}

func safeMethod(m string) bool { return m == http.MethodGet || m == http.MethodHead }

// handlerKind says how to answer an unauthenticated or forbidden request.
type handlerKind int

const (
	kindPage handlerKind = iota // redirect to the login page, HTML errors
	kindAPI                     // JSON errors
)

// guard authenticates, checks CSRF and role, then calls h.
func (s *server) guard(kind handlerKind, min store.Role, h func(w http.ResponseWriter, r *http.Request, p *principal) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fail := func(err error) {
			if kind == kindAPI {
				s.apiError(w, err)
			} else {
				s.pageError(w, r, nil, err)
			}
		}
		p, err := s.authenticate(r)
		if err != nil {
			fail(err)
			return
		}
		if p == nil {
			if kind == kindPage && safeMethod(r.Method) {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="vigil"`)
			fail(errorf(http.StatusUnauthorized, "authentication required"))
			return
		}
		if !safeMethod(r.Method) && !checkCSRF(r, p) {
			fail(errorf(http.StatusForbidden, "missing or bad CSRF token"))
			return
		}
		if !p.can(min) {
			fail(errorf(http.StatusForbidden, "role %s may not do this", p.User.Role))
			return
		}
		if err := h(w, r, p); err != nil {
			if kind == kindAPI {
				s.apiError(w, err)
			} else {
				s.pageError(w, r, p, err)
			}
		}
	})
}

// limiter throttles failed logins per client address and user name.
type limiter struct {
	mu    sync.Mutex
	now   func() time.Time
	fails map[string]*failCount
}

type failCount struct {
	n     int
	first time.Time
}

const (
	loginWindow     = 15 * time.Minute
	maxFailsPerUser = 5  // per address and user name
	maxFailsPerAddr = 50 // per address, any user name
	maxTracked      = 100000
)

func newLimiter(now func() time.Time) *limiter {
	return &limiter{now: now, fails: map[string]*failCount{}}
}

func limiterKeys(addr, user string) (string, string) {
	return "a\x00" + addr, "u\x00" + addr + "\x00" + strings.ToLower(user)
}

// allowed reports whether a login attempt may be checked now.
func (l *limiter) allowed(addr, user string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	ka, ku := limiterKeys(addr, user)
	return !l.over(ka, maxFailsPerAddr) && !l.over(ku, maxFailsPerUser)
}

func (l *limiter) over(k string, max int) bool {
	f := l.fails[k]
	if f == nil {
		return false
	}
	if l.now().Sub(f.first) >= loginWindow {
		delete(l.fails, k)
		return false
	}
	return f.n >= max
}

// failed records a failed attempt.
func (l *limiter) failed(addr, user string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.fails) >= maxTracked {
		for k, f := range l.fails {
			if now.Sub(f.first) >= loginWindow {
				delete(l.fails, k)
			}
		}
	}
	ka, ku := limiterKeys(addr, user)
	for _, k := range []string{ka, ku} {
		f := l.fails[k]
		if f == nil || now.Sub(f.first) >= loginWindow {
			if len(l.fails) >= maxTracked {
				continue // full of live entries: the address limit still holds for known keys
			}
			f = &failCount{first: now}
			l.fails[k] = f
		}
		f.n++
	}
}

// succeeded forgets a user's failures from an address.
func (l *limiter) succeeded(addr, user string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ku := limiterKeys(addr, user)
	delete(l.fails, ku)
}

// clientAddr is the peer's IP address. Forwarding headers are not trusted.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// login checks credentials and opens a session. It returns the cookie
// value, or an error: 429 when throttled, 401 for bad credentials.
func (s *server) login(ctx context.Context, addr, username, password string) (string, error) {
	if !s.limiter.allowed(addr, username) {
		return "", errorf(http.StatusTooManyRequests, "too many failed logins; try again later")
	}
	u, err := s.activeUser(ctx, username)
	if err != nil {
		return "", err
	}
	hash := dummyHash()
	if u != nil {
		hash = u.PasswordHash
	}
	if !CheckPassword(hash, password) || u == nil {
		s.limiter.failed(addr, username)
		_ = s.audit(ctx, "anonymous", "user.login_failed", "user:"+safeName(username), map[string]string{"addr": addr})
		return "", errorf(http.StatusUnauthorized, "wrong user name or password")
	}
	s.limiter.succeeded(addr, username)
	if _, err := s.st.DeleteExpiredSessions(ctx, s.now()); err != nil {
		s.log.Warn("delete expired sessions", "err", err)
	}
	secret := randomSecret(32)
	now := s.now()
	se := store.Session{TokenHash: hashToken(secret), Username: u.Username, CSRFSecret: randomSecret(32), CreatedAt: now, ExpiresAt: now.Add(s.ttl)}
	if err := s.st.CreateSession(ctx, se); err != nil {
		return "", err
	}
	if err := s.audit(ctx, u.Username, "user.login", "user:"+u.Username, map[string]string{"addr": addr}); err != nil {
		return "", err
	}
	return secret, nil
}

// safeName bounds an untrusted user name for the audit log.
func safeName(n string) string {
	n = strings.ToValidUTF8(strings.ReplaceAll(n, "\x00", ""), "?")
	if len(n) > 128 {
		n = n[:128]
	}
	return strings.ToValidUTF8(n, "")
}

func (s *server) setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteStrictMode})
}
