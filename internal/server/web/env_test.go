package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/event"
	"github.com/vigilsec/vigil/internal/server/store"
	"github.com/vigilsec/vigil/internal/server/store/sqlite"
	"github.com/vigilsec/vigil/internal/server/web/faketasks"
	"github.com/vigilsec/vigil/internal/severity"
)

var t0 = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is a console on a real SQLite store behind a loopback server.
type env struct {
	t     *testing.T
	st    store.Store
	tasks *faketasks.Recorder
	clock *clock
	srv   *httptest.Server
}

// Passwords of the users every env has.
const (
	adminPW   = "admin-password-123"
	analystPW = "analyst-password-123"
	readerPW  = "reader-password-123"
)

var (
	hashOnce  sync.Once
	userHashs map[string]string
)

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir()+"/vigil.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := &clock{t: t0}
	e := &env{t: t, st: st, clock: c, tasks: &faketasks.Recorder{Store: st, Now: c.Now}}
	h, err := New(Options{Store: st, Tasks: e.tasks, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	hashOnce.Do(func() {
		userHashs = map[string]string{}
		for n, pw := range map[string]string{"admin": adminPW, "analyst": analystPW, "reader": readerPW} {
			userHashs[n], _ = HashPassword(pw)
		}
	})
	for n, role := range map[string]store.Role{"admin": store.RoleAdmin, "analyst": store.RoleAnalyst, "reader": store.RoleReadOnly} {
		must(t, st.CreateUser(ctx, store.User{Username: n, PasswordHash: userHashs[n], Role: role, CreatedAt: t0}))
	}
	return e
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// seed adds two hosts, alerts, findings and inventory.
func (e *env) seed() {
	t := e.t
	ctx := context.Background()
	for _, h := range []store.Host{
		{ID: "h1", Hostname: "web-1", OS: "Debian 12", AgentVersion: "1.0.0", SensorMode: "ebpf", EnrolledAt: t0.Add(-time.Hour), LastSeen: t0.Add(-10 * time.Second)},
		{ID: "h2", Hostname: "db-1", OS: "Debian 12", AgentVersion: "1.0.0", SensorMode: "ebpf", EnrolledAt: t0.Add(-time.Hour), LastSeen: t0.Add(-time.Hour)},
	} {
		must(t, e.st.UpsertHost(ctx, h))
	}
	as := []alert.Alert{
		testAlert("a1", "h1", severity.Critical, "cron-persist", "Cron persistence", "TA0003"),
		testAlert("a2", "h1", severity.High, "revshell", "Reverse shell", "TA0002"),
		testAlert("a3", "h2", severity.Medium, "revshell", "Reverse shell", "TA0002"),
	}
	for _, a := range as {
		if _, err := e.st.IngestAlerts(ctx, a.Host, []alert.Alert{a}); err != nil {
			t.Fatal(err)
		}
	}
	must(t, e.st.ReplaceFindings(ctx, "h1", []store.VulnFinding{
		{HostID: "h1", VulnID: "CVE-2024-3094", Package: "xz-utils", Version: "5.6.0-1", FixedVersion: "5.6.1+really5.4.5-1", Severity: severity.Critical, Priority: 90, Summary: "xz backdoor", Data: json.RawMessage(`{"id":"CVE-2024-3094","package":{"name":"xz-utils","ecosystem":"Debian:12"}}`)},
	}))
	must(t, e.st.ReplaceFindings(ctx, "h2", []store.VulnFinding{
		{HostID: "h2", VulnID: "CVE-2024-3094", Package: "xz-utils", Version: "5.6.0-1", FixedVersion: "5.6.1+really5.4.5-1", Severity: severity.Critical, Priority: 80, Summary: "xz backdoor", Data: json.RawMessage(`{"id":"CVE-2024-3094","package":{"name":"xz-utils","ecosystem":"Debian:12"}}`)},
		{HostID: "h2", VulnID: "CVE-2023-0001", Package: "openssl", Version: "3.0.1", Severity: severity.High, Priority: 40, Summary: "openssl bug"},
	}))
}

func testAlert(id, host string, sev severity.Level, rule, title, tactic string) alert.Alert {
	return alert.Alert{ID: id, Time: t0.Add(-time.Minute), Host: host, Rule: alert.Rule{ID: rule, Version: 1, Title: title},
		Severity: sev, Attack: alert.Attack{Tactics: []string{tactic}, Techniques: []string{"T1053.003"}},
		Process: &alert.Process{PID: 4242, ExecID: "b:1:4242", Exe: "/usr/bin/crontab", Cmdline: "crontab /tmp/evil", User: "www-data",
			Ancestors: []event.Ancestor{{PID: 812, Exe: "/usr/sbin/nginx", Cmdline: "nginx: worker"}, {PID: 1, Exe: "/sbin/init"}}},
		Container: &event.Container{ID: "c0ffee", Name: "web", Image: "nginx:1.25"},
		Evidence:  map[string]any{"path": "/var/spool/cron/crontabs/www-data", "bytes": 42},
		Response:  alert.Response{Action: "none", Result: "ok"}, Count: 1}
}

// client is a browser: a cookie jar and the session's CSRF token.
type client struct {
	e    *env
	c    *http.Client
	csrf string
	// bearer, when set, authenticates instead of cookies.
	bearer string
}

func (e *env) anon() *client {
	jar, _ := cookiejar.New(nil)
	return &client{e: e, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// login logs in through the form and returns the client.
func (e *env) login(user, pw string) *client {
	e.t.Helper()
	c := e.anon()
	code, _ := c.loginAttempt(user, pw)
	if code != http.StatusSeeOther {
		e.t.Fatalf("login %s: status %d", user, code)
	}
	var me struct {
		CSRF string `json:"csrf_token"`
	}
	c.json("GET", "/api/v1/me", nil, &me, 200)
	c.csrf = me.CSRF
	return c
}

func (c *client) loginAttempt(user, pw string) (int, string) {
	c.e.t.Helper()
	_, body := c.do("GET", "/login", nil, "")
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		c.e.t.Fatalf("no CSRF field on the login page")
	}
	form := url.Values{"csrf_token": {m[1]}, "username": {user}, "password": {pw}, "next": {"/"}}
	return c.do("POST", "/login", strings.NewReader(form.Encode()), "application/x-www-form-urlencoded")
}

func (c *client) do(method, path string, body io.Reader, ctype string) (int, string) {
	c.e.t.Helper()
	resp := c.req(method, path, body, ctype, nil)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b)
}

func (c *client) req(method, path string, body io.Reader, ctype string, hdr map[string]string) *http.Response {
	c.e.t.Helper()
	req, err := http.NewRequest(method, c.e.srv.URL+path, body)
	if err != nil {
		c.e.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.c.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	return resp
}

// form posts a form with the session's CSRF token.
func (c *client) form(path string, v url.Values) (int, string) {
	c.e.t.Helper()
	if v == nil {
		v = url.Values{}
	}
	if c.csrf != "" && !v.Has("csrf_token") {
		v.Set("csrf_token", c.csrf)
	}
	return c.do("POST", path, strings.NewReader(v.Encode()), "application/x-www-form-urlencoded")
}

// json calls the API with the CSRF header and decodes the answer.
func (c *client) json(method, path string, in, out any, want int) string {
	c.e.t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			c.e.t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	hdr := map[string]string{}
	if c.csrf != "" {
		hdr[csrfHeader] = c.csrf
	}
	ctype := ""
	if in != nil {
		ctype = "application/json"
	}
	resp := c.req(method, path, body, ctype, hdr)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		c.e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.e.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return string(b)
}

// audit returns the audit entries with action, newest first.
func (e *env) audit(action string) []store.AuditEntry {
	e.t.Helper()
	es, _, err := e.st.ListAudit(context.Background(), store.AuditFilter{Action: action, Page: store.Page{Limit: 1000}})
	must(e.t, err)
	return es
}

func (e *env) auditCount() int {
	e.t.Helper()
	es, _, err := e.st.ListAudit(context.Background(), store.AuditFilter{Page: store.Page{Limit: 1000}})
	must(e.t, err)
	return len(es)
}

func newRecorder(h http.Handler, method, path string, body io.Reader) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, body))
	return rec
}

func newTestServer(t *testing.T, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}
