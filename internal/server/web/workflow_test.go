package web

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilsec/vigil/internal/alert"

	"github.com/vigilsec/vigil/internal/server/store"
	"github.com/vigilsec/vigil/internal/severity"
	"github.com/vigilsec/vigil/internal/task"
)

func TestAlertWorkflowAPI(t *testing.T) {
	e := newEnv(t)
	e.seed()
	c := e.login("analyst", analystPW)
	var a alertJSON
	c.json("GET", "/api/v1/alerts/a1", nil, &a, 200)
	if a.Status != store.StatusOpen || a.Version != 1 || a.Alert.Process.Exe != "/usr/bin/crontab" {
		t.Fatalf("alert: %+v", a)
	}
	// Assign and comment, then mark handled.
	c.json("PATCH", "/api/v1/alerts/a1", alertChange{Version: 1, Assignee: new("analyst"), Comment: "looking"}, &a, 200)
	if a.Assignee != "analyst" || a.Version != 2 || len(a.Comments) != 1 || a.Comments[0].Author != "analyst" {
		t.Fatalf("after assign: %+v", a)
	}
	// A stale version is a conflict and changes nothing.
	c.json("PATCH", "/api/v1/alerts/a1", alertChange{Version: 1, Status: new("ignored")}, nil, http.StatusConflict)
	c.json("PATCH", "/api/v1/alerts/a1", alertChange{Version: 2, Status: new("handled")}, &a, 200)
	if a.Status != store.StatusHandled || a.Assignee != "analyst" {
		t.Fatalf("after handled: %+v", a)
	}
	// Bad input.
	c.json("PATCH", "/api/v1/alerts/a1", alertChange{Version: 3, Status: new("closed")}, nil, 400)
	c.json("PATCH", "/api/v1/alerts/a1", alertChange{Version: 3, Assignee: new("ghost")}, nil, 400)
	c.json("PATCH", "/api/v1/alerts/a1", alertChange{Version: 3}, nil, 400)
	c.json("PATCH", "/api/v1/alerts/nope", alertChange{Version: 1, Status: new("handled")}, nil, 404)
	if code, _ := c.do("PATCH", "/api/v1/alerts/a1", strings.NewReader(`{"version":3,"bogus":1}`), "application/json"); code != 403 {
		// no CSRF header via do(): refused before parsing
		t.Errorf("no CSRF: %d", code)
	}
	resp := c.req("PATCH", "/api/v1/alerts/a1", strings.NewReader(`{"version":3,"bogus":1}`), "application/json", map[string]string{csrfHeader: c.csrf})
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("unknown field: %d", resp.StatusCode)
	}
	// Filters.
	var l list[alertJSON]
	c.json("GET", "/api/v1/alerts?status=open", nil, &l, 200)
	if len(l.Items) != 2 {
		t.Errorf("open alerts: %d", len(l.Items))
	}
	c.json("GET", "/api/v1/alerts?tactic=TA0002&limit=1", nil, &l, 200)
	if len(l.Items) != 1 || l.Next == "" {
		t.Fatalf("page 1: %d items, next %q", len(l.Items), l.Next)
	}
	first := l.Items[0].Alert.ID
	c.json("GET", "/api/v1/alerts?tactic=TA0002&limit=1&cursor="+url.QueryEscape(l.Next), nil, &l, 200)
	if len(l.Items) != 1 || l.Items[0].Alert.ID == first {
		t.Errorf("page 2: %+v", l.Items)
	}
	// Allow-list from the alert.
	var al AllowEntry
	c.json("POST", "/api/v1/alerts/a1/allowlist", map[string]string{"scope": "host", "comment": "admin cron"}, &al, 201)
	if al.RuleID != "cron-persist" || al.HostID != "h1" || al.Exe != "/usr/bin/crontab" || al.CreatedBy != "analyst" {
		t.Errorf("allow entry: %+v", al)
	}
	raw, err := e.st.GetSetting(context.Background(), AllowListKey)
	must(t, err)
	var stored allowList
	must(t, json.Unmarshal(raw, &stored))
	if len(stored.Entries) != 1 || stored.Entries[0].ID != al.ID {
		t.Errorf("stored allow-list: %s", raw)
	}
	c.json("DELETE", "/api/v1/allowlist/"+al.ID, nil, nil, 204)
	c.json("DELETE", "/api/v1/allowlist/"+al.ID, nil, nil, 404)

	// Audit: three alert updates by analyst, allow-list add and remove.
	ups := e.audit("alert.update")
	if len(ups) != 2 || ups[0].Actor != "analyst" || ups[0].Object != "alert:a1" {
		t.Errorf("alert.update audit: %+v", ups)
	}
	if len(e.audit("allowlist.add")) != 1 || len(e.audit("allowlist.remove")) != 1 {
		t.Error("allow-list audit")
	}
	var au list[auditJSON]
	c.json("GET", "/api/v1/audit?action=alert.update", nil, &au, 200)
	if len(au.Items) != 2 {
		t.Errorf("audit API: %d", len(au.Items))
	}
}

func TestAlertWorkflowConsole(t *testing.T) {
	e := newEnv(t)
	e.seed()
	c := e.login("analyst", analystPW)
	// A plain form post redirects back to the alert.
	code, _ := c.form("/alerts/a2", url.Values{"version": {"1"}, "status": {"false_positive"}, "assignee": {"admin"}, "comment": {"benign admin shell"}})
	if code != http.StatusSeeOther {
		t.Fatalf("form post: %d", code)
	}
	a, err := e.st.GetAlert(context.Background(), "a2")
	must(t, err)
	if a.Status != store.StatusFalsePositive || a.Assignee != "admin" || len(a.Comments) != 1 || a.Comments[0].Text != "benign admin shell" {
		t.Fatalf("after form: %+v", a)
	}
	// htmx: the workflow panel comes back as a fragment.
	form := url.Values{"version": {"2"}, "status": {"handled"}}
	resp := c.req("POST", "/alerts/a2", strings.NewReader(form.Encode()), "application/x-www-form-urlencoded",
		map[string]string{"HX-Request": "true", csrfHeader: c.csrf})
	body := readBody(t, resp)
	if resp.StatusCode != 200 || !strings.HasPrefix(strings.TrimSpace(body), `<section class="card" id="workflow">`) || !strings.Contains(body, "st-handled") {
		t.Fatalf("htmx post: %d %s", resp.StatusCode, body)
	}
	// Stale version from the console is a 409 page.
	if code, body := c.form("/alerts/a2", url.Values{"version": {"1"}, "status": {"open"}}); code != http.StatusConflict || !strings.Contains(body, "conflict") {
		t.Errorf("stale: %d", code)
	}
	if code, _ := c.form("/alerts/a2/allowlist", url.Values{"scope": {"fleet"}}); code != http.StatusSeeOther {
		t.Errorf("allow-list: %d", code)
	}
	_, body = c.do("GET", "/settings/rules", nil, "")
	if !strings.Contains(body, "revshell") || !strings.Contains(body, "every host") {
		t.Error("allow-list page")
	}
	ups := e.audit("alert.update")
	if len(ups) != 2 || ups[0].Actor != "analyst" {
		t.Errorf("audit: %+v", ups)
	}
	_, body = c.do("GET", "/audit?object=alert:a2", nil, "")
	if strings.Count(body, "<td>alert.update</td>") != 2 {
		t.Error("audit page")
	}
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String()
}

// injections are stored verbatim and must come back escaped in HTML.
var injections = []string{
	`'; DROP TABLE alerts; --`,
	`" OR 1=1 --`,
	`<script>alert(1)</script>`,
	`"><img src=x onerror=alert(1)>`,
	`javascript:alert(1)`,
	`{{.CSRF}}`,
	`%27%22%3E`,
	`Robert'); DELETE FROM users;--`,
	"ümlaut 日本 \u202e",
}

func TestInjectionVerbatimAndEscaped(t *testing.T) {
	for i, inj := range injections {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			e := newEnv(t)
			e.seed()
			admin := e.login("admin", adminPW)
			ctx := context.Background()
			// Each text field the console and API accept.
			admin.json("PATCH", "/api/v1/alerts/a1", alertChange{Version: 1, Comment: inj}, nil, 200)
			admin.json("PUT", "/api/v1/hosts/h1/attrs", hostAttrs{Labels: []string{inj}, Groups: []string{inj}}, nil, 200)
			var al AllowEntry
			admin.json("POST", "/api/v1/alerts/a1/allowlist", map[string]string{"comment": inj}, &al, 201)
			var et enrolTokenJSON
			admin.json("POST", "/api/v1/enrol-tokens", map[string]any{"name": inj}, &et, 201)
			var at apiTokenJSON
			admin.json("POST", "/api/v1/tokens", map[string]any{"name": inj}, &at, 201)
			var tk taskJSON
			admin.json("POST", "/api/v1/tasks", taskOrder{Type: "kill_process", Params: json.RawMessage(mustJSON(t, map[string]string{"exe": inj})),
				Targets: store.Targets{Groups: []string{inj}}, Schedule: inj}, &tk, 201)
			admin.json("PUT", "/api/v1/settings/notifications", map[string]any{"kafka": map[string]any{"brokers": []string{"127.0.0.1:9092"}, "topic": inj}}, nil, 200)
			// User names are restricted to a safe alphabet: refused, not stored.
			admin.json("POST", "/api/v1/users", userInput{Username: inj, Password: "long-enough-password", Role: "analyst"}, nil, 400)
			if us, _ := e.st.ListUsers(ctx); len(us) != 3 {
				t.Errorf("users: %d", len(us))
			}
			// Search parameters are data, not SQL.
			var hl list[hostJSON]
			admin.json("GET", "/api/v1/hosts?q="+url.QueryEscape(inj), nil, &hl, 200)
			admin.json("GET", "/api/v1/hosts?label="+url.QueryEscape(inj), nil, &hl, 200)
			if len(hl.Items) != 1 || hl.Items[0].ID != "h1" {
				t.Errorf("label search: %+v", hl.Items)
			}
			admin.json("GET", "/api/v1/alerts?q="+url.QueryEscape(inj)+"&rule="+url.QueryEscape(inj), nil, nil, 200)

			// Stored verbatim.
			a, err := e.st.GetAlert(ctx, "a1")
			must(t, err)
			h, err := e.st.GetHost(ctx, "h1")
			must(t, err)
			task, err := e.st.GetTask(ctx, tk.ID)
			must(t, err)
			ets, err := e.st.ListEnrolTokens(ctx)
			must(t, err)
			ats, err := e.st.ListAPITokens(ctx, "")
			must(t, err)
			n, err := e.notificationsOf()
			must(t, err)
			got := []string{a.Comments[0].Text, h.Labels[0], h.Groups[0], al.Comment, ets[0].Name, ats[0].Name, task.Targets.Groups[0], task.Schedule, n.Kafka.Topic}
			for j, g := range got {
				if g != strings.TrimSpace(inj) {
					t.Errorf("field %d stored as %q, want %q", j, g, inj)
				}
			}
			// Rendered escaped wherever it shows.
			esc := html.EscapeString(inj)
			for _, p := range []string{"/alerts/a1", "/hosts/h1", "/hosts", "/settings/rules", "/settings/enrol", "/settings/tokens", fmt.Sprintf("/tasks/%d", tk.ID), "/tasks", "/audit", "/settings/notifications"} {
				_, body := admin.do("GET", p, nil, "")
				if strings.ContainsAny(inj, `<>"'&`) && strings.Contains(body, inj) {
					t.Errorf("%s contains the raw string %q", p, inj)
				}
				if strings.Contains(inj, "<script>") && strings.Contains(body, "<script>alert") {
					t.Errorf("%s: script injected", p)
				}
				_ = esc
			}
			_, body := admin.do("GET", "/alerts/a1", nil, "")
			if !strings.Contains(body, templateEscape(inj)) {
				t.Errorf("alert page lacks the escaped comment %q", templateEscape(inj))
			}
		})
	}
}

// templateEscape is how html/template writes text in an element.
func templateEscape(s string) string {
	r := strings.NewReplacer("&", "&amp;", "'", "&#39;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "+", "&#43;")
	return r.Replace(s)
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	must(t, err)
	return string(b)
}

func (e *env) notificationsOf() (Notifications, error) {
	var n Notifications
	raw, err := e.st.GetSetting(context.Background(), NotificationsKey)
	if err != nil {
		return n, err
	}
	return n, json.Unmarshal(raw, &n)
}

func TestVulnFixTask(t *testing.T) {
	e := newEnv(t)
	e.seed()
	c := e.login("analyst", analystPW)
	var v struct {
		Vuln     vulnJSON      `json:"vuln"`
		Findings []findingJSON `json:"findings"`
	}
	c.json("GET", "/api/v1/vulns/CVE-2024-3094", nil, &v, 200)
	if v.Vuln.Hosts != 2 || len(v.Findings) != 2 || v.Vuln.Severity != severity.Critical {
		t.Fatalf("vuln: %+v", v)
	}
	// One click in the console.
	code, _ := c.form("/vulns/CVE-2024-3094/fix", nil)
	if code != http.StatusSeeOther {
		t.Fatalf("fix: %d", code)
	}
	subs := e.tasks.Submissions()
	if len(subs) != 1 {
		t.Fatalf("submissions: %d", len(subs))
	}
	want := struct {
		Actor, Type string
		Hosts       []string
		Params      map[string]any
	}{"analyst", "fix_packages", []string{"h1", "h2"}, map[string]any{"findings": []any{"CVE-2024-3094/Debian:12/xz-utils"}}}
	var params map[string]any
	must(t, json.Unmarshal(subs[0].Params, &params))
	got := want
	got.Actor, got.Type, got.Hosts, got.Params = subs[0].Actor, subs[0].Type, subs[0].Targets.Hosts, params
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("submission (-want +got):\n%s", d)
	}
	// The task package accepts the parameters.
	var fp task.FixPackagesParams
	must(t, json.Unmarshal(subs[0].Params, &fp))
	if err := fp.Validate(); err != nil {
		t.Errorf("fix_packages params: %v", err)
	}
	// The task page shows a run per host.
	var tl list[taskJSON]
	c.json("GET", "/api/v1/tasks", nil, &tl, 200)
	var runs list[runJSON]
	c.json("GET", fmt.Sprintf("/api/v1/tasks/%d/runs", tl.Items[0].ID), nil, &runs, 200)
	if len(runs.Items) != 2 {
		t.Errorf("runs: %+v", runs)
	}
	if len(e.audit("task.submit")) != 1 {
		t.Error("task audit")
	}
	// Task order validation.
	c.json("POST", "/api/v1/tasks", taskOrder{Type: "rm -rf /", Targets: store.Targets{All: true}}, nil, 400)
	c.json("POST", "/api/v1/tasks", taskOrder{Type: "vuln_scan"}, nil, 400)
	c.json("POST", "/api/v1/tasks", map[string]any{"type": "vuln_scan", "params": "x", "targets": map[string]any{"all": true}}, nil, 400)
	e.tasks.Err = fmt.Errorf("bad schedule: %w", store.ErrInvalid)
	c.json("POST", "/api/v1/tasks", taskOrder{Type: "vuln_scan", Targets: store.Targets{All: true}, Schedule: "nope"}, nil, 400)
	c.json("POST", "/api/v1/vulns/CVE-1999-0001/fix", nil, nil, 404)
}

func TestTokens(t *testing.T) {
	e := newEnv(t)
	e.seed()
	admin := e.login("admin", adminPW)
	// API token for the read-only user: it can read, not change.
	var at apiTokenJSON
	admin.json("POST", "/api/v1/tokens", map[string]string{"username": "reader", "name": "siem"}, &at, 201)
	if !strings.HasPrefix(at.Token, apiTokenPrefix) || at.ID != hashToken(at.Token) {
		t.Fatalf("token: %+v", at)
	}
	var tl list[apiTokenJSON]
	admin.json("GET", "/api/v1/tokens", nil, &tl, 200)
	if len(tl.Items) != 1 || tl.Items[0].Token != "" {
		t.Errorf("token list shows secrets: %+v", tl)
	}
	bot := e.anon()
	bot.bearer = at.Token
	var hl list[hostJSON]
	bot.json("GET", "/api/v1/hosts", nil, &hl, 200)
	if len(hl.Items) != 2 {
		t.Errorf("hosts via token: %d", len(hl.Items))
	}
	bot.json("PATCH", "/api/v1/alerts/a1", alertChange{Version: 1, Status: new("handled")}, nil, 403)
	// An analyst token changes without CSRF (no browser involved).
	admin.json("POST", "/api/v1/tokens", map[string]string{"username": "analyst", "name": "soar"}, &at, 201)
	bot.bearer = at.Token
	bot.json("PATCH", "/api/v1/alerts/a1", alertChange{Version: 1, Status: new("handled")}, nil, 200)
	if ups := e.audit("alert.update"); len(ups) != 1 || ups[0].Actor != "analyst" {
		t.Errorf("audit via token: %+v", ups)
	}
	tok, err := e.st.GetAPIToken(context.Background(), at.ID)
	must(t, err)
	if tok.LastUsed.IsZero() {
		t.Error("last use not recorded")
	}
	bot.json("POST", "/logout", nil, nil, 400)
	admin.json("DELETE", "/api/v1/tokens/"+at.ID, nil, nil, 204)
	bot.json("GET", "/api/v1/hosts", nil, nil, 401)

	// Enrolment token: shown once, only its hash stored.
	var et enrolTokenJSON
	admin.json("POST", "/api/v1/enrol-tokens", map[string]any{"name": "web", "valid_hours": 2}, &et, 201)
	if et.Token == "" || et.ID != hashToken(et.Token) || !et.ExpiresAt.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("enrol token: %+v", et)
	}
	if _, err := e.st.ConsumeEnrolToken(context.Background(), hashToken(et.Token), t0, "h9"); err != nil {
		t.Errorf("the agent cannot use the token: %v", err)
	}
	admin.json("POST", "/api/v1/enrol-tokens", map[string]any{"name": "x", "valid_hours": 100000}, nil, 400)
	// The console shows a new token once.
	code, body := admin.form("/settings/enrol", url.Values{"name": {"db"}, "valid_hours": {"24"}})
	m := regexpFind(`<pre>(vigil-enrol-[^<]+)</pre>`, body)
	if code != 201 || m == "" {
		t.Fatalf("console enrol token: %d", code)
	}
	if _, body := admin.do("GET", "/settings/enrol", nil, ""); strings.Contains(body, m) {
		t.Error("token shown again")
	}
	// A custom minter (the link engineer's format) is used when given.
	h, err := New(Options{Store: e.st, Now: e.clock.Now, MintEnrolToken: func() (string, string, error) { return "custom-token", "custom-hash", nil }})
	must(t, err)
	ce := &env{t: t, st: e.st, clock: e.clock, srv: newTestServer(t, h)}
	admin2 := ce.login("admin", adminPW)
	admin2.json("POST", "/api/v1/enrol-tokens", map[string]any{"name": "custom"}, &et, 201)
	if et.Token != "custom-token" || et.ID != "custom-hash" {
		t.Errorf("custom minter: %+v", et)
	}
	if len(e.audit("enrol_token.create")) != 3 || len(e.audit("api_token.create")) != 2 || len(e.audit("api_token.delete")) != 1 {
		t.Error("token audit")
	}
}

func regexpFind(re, s string) string {
	m := regexp.MustCompile(re).FindStringSubmatch(s)
	if m == nil {
		return ""
	}
	return m[1]
}

func TestUsersAdmin(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin", adminPW)
	admin.json("POST", "/api/v1/users", userInput{Username: "carol", Password: "short", Role: "analyst"}, nil, 400)
	admin.json("POST", "/api/v1/users", userInput{Username: "carol", Password: "carol-password-1", Role: "boss"}, nil, 400)
	admin.json("POST", "/api/v1/users", userInput{Username: "carol", Password: "carol-password-1", Role: "analyst"}, nil, 201)
	admin.json("POST", "/api/v1/users", userInput{Username: "carol", Password: "carol-password-1", Role: "analyst"}, nil, 409)
	e.login("carol", "carol-password-1")
	admin.json("PATCH", "/api/v1/users/carol", userInput{Role: "read-only", Password: "carol-password-2"}, nil, 200)
	c := e.login("carol", "carol-password-2")
	c.json("POST", "/api/v1/tasks", taskOrder{Type: "vuln_scan", Targets: store.Targets{All: true}}, nil, 403)
	// An admin cannot lock themselves out.
	admin.json("PATCH", "/api/v1/users/admin", userInput{Role: "analyst"}, nil, 409)
	admin.json("DELETE", "/api/v1/users/admin", nil, nil, 409)
	admin.json("DELETE", "/api/v1/users/carol", nil, nil, 204)
	c.json("GET", "/api/v1/me", nil, nil, 401)
	if len(e.audit("user.create")) != 1 || len(e.audit("user.update")) != 1 || len(e.audit("user.delete")) != 1 {
		t.Error("user audit")
	}
	// Notifications keep the secret write-only.
	var n Notifications
	admin.json("PUT", "/api/v1/settings/notifications", map[string]any{"webhook": map[string]any{"url": "https://127.0.0.1/hook", "secret": "s3cret"}}, &n, 200)
	if n.Webhook.Secret != "" || !n.Webhook.SecretSet {
		t.Errorf("secret echoed: %+v", n.Webhook)
	}
	admin.json("PUT", "/api/v1/settings/notifications", map[string]any{"webhook": map[string]any{"url": "ftp://x"}}, nil, 400)
	admin.json("PUT", "/api/v1/settings/notifications", map[string]any{"syslog": map[string]any{"addr": "no-port"}}, nil, 400)
	if code, _ := admin.form("/settings/notifications", url.Values{"webhook_url": {"https://127.0.0.1/hook2"}, "keep_secret": {"on"}}); code != 303 {
		t.Fatalf("console notifications: %d", code)
	}
	got, err := e.notificationsOf()
	must(t, err)
	if got.Webhook.URL != "https://127.0.0.1/hook2" || got.Webhook.Secret != "s3cret" {
		t.Errorf("stored: %+v", got.Webhook)
	}
	if _, body := admin.do("GET", "/settings/notifications", nil, ""); strings.Contains(body, "s3cret") {
		t.Error("secret shown")
	}
}

func TestHostsAPI(t *testing.T) {
	e := newEnv(t)
	e.seed()
	e.putInventory("h1", t0.Add(-2*time.Hour), false)
	e.putInventory("h1", t0.Add(-time.Hour), true)
	c := e.login("reader", readerPW)
	var hl list[hostJSON]
	c.json("GET", "/api/v1/hosts?sort=last_seen", nil, &hl, 200)
	if len(hl.Items) != 2 || hl.Items[0].ID != "h1" || !hl.Items[0].Online || hl.Items[1].Online {
		t.Fatalf("hosts: %+v", hl.Items)
	}
	c.json("GET", "/api/v1/hosts?sort=cpu", nil, nil, 400)
	var inv snapshotJSON
	c.json("GET", "/api/v1/hosts/h1/inventory", nil, &inv, 200)
	if !strings.Contains(string(inv.Data), `"toor"`) {
		t.Error("latest inventory")
	}
	var hist list[snapshotJSON]
	c.json("GET", "/api/v1/hosts/h1/inventory/history", nil, &hist, 200)
	if len(hist.Items) != 2 {
		t.Fatalf("history: %d", len(hist.Items))
	}
	c.json("GET", fmt.Sprintf("/api/v1/hosts/h2/inventory?snapshot=%d", hist.Items[0].ID), nil, nil, 404) // another host's snapshot
	var d inventoryDiff
	c.json("GET", "/api/v1/hosts/h1/inventory/diff", nil, &d, 200)
	if len(d.Changes) == 0 || d.Changes[0].Severity != severity.Critical || !strings.Contains(d.Changes[0].Summary, "toor") {
		t.Errorf("diff: %+v", d.Changes)
	}
	// Reversed: the user disappears.
	c.json("GET", fmt.Sprintf("/api/v1/hosts/h1/inventory/diff?from=%d&to=%d", hist.Items[0].ID, hist.Items[1].ID), nil, &d, 200)
	if len(d.Changes) == 0 {
		t.Error("reverse diff empty")
	}
	c.json("GET", "/api/v1/hosts/h2/inventory/diff", nil, nil, 404)
	var vl list[findingJSON]
	c.json("GET", "/api/v1/hosts/h2/vulns", nil, &vl, 200)
	if len(vl.Items) != 2 {
		t.Errorf("host vulns: %d", len(vl.Items))
	}
	// Online: seen lately (h1, by any replica), or connected to this
	// server's link before its heartbeat reached the store (h2).
	c.json("GET", "/api/v1/hosts", nil, &hl, 200)
	for _, x := range hl.Items {
		if x.Online != (x.ID == "h1") {
			t.Errorf("without the link: host %s online %v", x.ID, x.Online)
		}
	}
	h, err := New(Options{Store: e.st, Now: e.clock.Now, Hosts: onlineSet{"h2": true}})
	must(t, err)
	srv := &env{t: t, st: e.st, clock: e.clock, srv: newTestServer(t, h)}
	rc := srv.login("reader", readerPW)
	rc.json("GET", "/api/v1/hosts", nil, &hl, 200)
	for _, x := range hl.Items {
		if !x.Online {
			t.Errorf("with the link: host %s offline", x.ID)
		}
	}
	// Revoke.
	admin := e.login("admin", adminPW)
	admin.json("POST", "/api/v1/hosts/h2/revoke", nil, nil, 200)
	admin.json("POST", "/api/v1/hosts/nope/revoke", nil, nil, 404)
	c.json("GET", "/api/v1/hosts?revoked=true", nil, &hl, 200)
	if len(hl.Items) != 1 || hl.Items[0].ID != "h2" || hl.Items[0].Online {
		t.Errorf("revoked: %+v", hl.Items)
	}
	admin.json("PUT", "/api/v1/hosts/h1/attrs", hostAttrs{Importance: 101}, nil, 400)
	if len(e.audit("host.revoke")) != 1 {
		t.Error("revoke audit")
	}
}

type onlineSet map[string]bool

func (o onlineSet) Online(id string) bool { return o[id] }

func TestMetrics(t *testing.T) {
	e := newEnv(t)
	e.seed()
	c := e.login("reader", readerPW)
	code, body := c.do("GET", "/metrics", nil, "")
	if code != 200 {
		t.Fatalf("metrics: %d", code)
	}
	for _, want := range []string{`vigil_hosts{state="online"} 1`, `vigil_hosts{state="offline"} 1`, `vigil_agents_online 1`,
		`vigil_alerts_open{severity="critical"} 1`, `vigil_alerts_open{severity="high"} 1`, `vigil_alerts_open{severity="medium"} 1`, `vigil_alerts_open{severity="low"} 0`} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("no %q in\n%s", want, body)
		}
	}
	h, err := New(Options{Store: e.st, Now: e.clock.Now, PublicMetrics: true, Metrics: func(w io.Writer) { fmt.Fprintln(w, "vigil_ingest_events_total 7") }})
	must(t, err)
	rec := newRecorder(h, "GET", "/metrics", nil)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "vigil_ingest_events_total 7\n") {
		t.Errorf("public metrics: %d %s", rec.Code, rec.Body)
	}
}

func TestScoreFormula(t *testing.T) {
	tests := []struct {
		name string
		in   ScoreInputs
		want int
	}{
		{"clean", ScoreInputs{ActiveHosts: 10}, 100},
		{"empty_fleet", ScoreInputs{}, 100},
		{"one_critical_alert", ScoreInputs{OpenAlerts: map[severity.Level]int{severity.Critical: 1}}, 90},
		{"critical_alerts_capped", ScoreInputs{OpenAlerts: map[severity.Level]int{severity.Critical: 100}}, 60},
		{"mixed_alerts", ScoreInputs{OpenAlerts: map[severity.Level]int{severity.High: 2, severity.Medium: 3, severity.Low: 5, severity.Info: 50}}, 100 - 8 - 3 - 1},
		{"urgent_vulns", ScoreInputs{UrgentVulns: 4, OtherHighVulns: 6}, 100 - 12 - 3},
		{"vulns_capped", ScoreInputs{UrgentVulns: 100, OtherHighVulns: 100}, 100 - 25 - 10},
		{"half_offline", ScoreInputs{ActiveHosts: 10, OfflineHosts: 5}, 90},
		{"never_seen_counted_once", ScoreInputs{ActiveHosts: 10, OfflineHosts: 5, NeverSeen: 5}, 90},
		{"revoked", ScoreInputs{ActiveHosts: 1, RevokedHosts: 9}, 95},
		{"everything_bad", ScoreInputs{OpenAlerts: map[severity.Level]int{severity.Critical: 9, severity.High: 9, severity.Medium: 99, severity.Low: 99},
			UrgentVulns: 99, OtherHighVulns: 99, ActiveHosts: 4, OfflineHosts: 4, RevokedHosts: 9}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ComputeScore(tc.in)
			if got.Score != tc.want {
				t.Errorf("score %d, want %d (%+v)", got.Score, tc.want, got.Deductions)
			}
			sum := 0.0
			for _, d := range got.Deductions {
				sum += d.Points
				if d.Points > d.Cap || d.Points <= 0 || d.Count <= 0 {
					t.Errorf("deduction %+v", d)
				}
			}
			if want := max(0, 100-int(sum+0.5)); got.Score != want && got.Score != max(0, 100-int(sum)) {
				t.Errorf("score %d does not match deductions summing to %.1f", got.Score, sum)
			}
		})
	}
	// The dashboard computes it from the store.
	e := newEnv(t)
	e.seed()
	c := e.login("reader", readerPW)
	var d struct {
		Score Score `json:"score"`
		Hosts fleet `json:"hosts"`
	}
	c.json("GET", "/api/v1/dashboard", nil, &d, 200)
	// 1 critical (10) + 1 high (4) + 1 medium (1) open alerts; CVE-2024-3094
	// (priority 90) urgent (3); CVE-2023-0001 high, priority 40 (0.5); 1 of
	// 2 hosts offline (10).
	if d.Score.Score != 72 || d.Hosts.Online != 1 || d.Hosts.Offline != 1 {
		t.Errorf("dashboard: %+v", d)
	}
}

func TestHTMXPartials(t *testing.T) {
	e := newEnv(t)
	e.seed()
	c := e.login("reader", readerPW)
	for path, target := range map[string]string{"/hosts?q=web": "host-rows", "/alerts?severity=high": "alert-rows"} {
		resp := c.req("GET", path, nil, "", map[string]string{"HX-Request": "true", "HX-Target": target})
		body := readBody(t, resp)
		if resp.StatusCode != 200 || !strings.HasPrefix(strings.TrimSpace(body), `<div id="`+target+`">`) || strings.Contains(body, "<html") {
			t.Errorf("%s partial: %d %.200s", path, resp.StatusCode, body)
		}
	}
	_, body := c.do("GET", "/hosts?q=web", nil, "")
	if !strings.Contains(body, "web-1") || strings.Contains(body, "db-1") || !strings.Contains(body, "<html") {
		t.Error("host search page")
	}
}

func TestNoTaskCentre(t *testing.T) {
	e := newEnv(t)
	e.seed()
	h, err := New(Options{Store: e.st, Now: e.clock.Now})
	must(t, err)
	ne := &env{t: t, st: e.st, clock: e.clock, srv: newTestServer(t, h)}
	c := ne.login("analyst", analystPW)
	c.json("POST", "/api/v1/tasks", taskOrder{Type: "vuln_scan", Targets: store.Targets{All: true}}, nil, http.StatusServiceUnavailable)
	c.json("POST", "/api/v1/vulns/CVE-2024-3094/fix", nil, nil, http.StatusServiceUnavailable)
	if _, err := New(Options{}); err == nil {
		t.Error("New without a store")
	}
}

func TestOpenCountsExact(t *testing.T) {
	e := newEnv(t)
	e.seed()
	const bulk = 1005
	var as []alert.Alert
	for i := range bulk {
		as = append(as, testAlert(fmt.Sprintf("bulk%04d", i), "h2", severity.Critical, "miner", "Miner", "TA0040"))
	}
	if _, err := e.st.IngestAlerts(context.Background(), "h2", as); err != nil {
		t.Fatal(err)
	}
	c := e.login("reader", readerPW)
	var d struct {
		OpenAlerts struct {
			BySeverity map[string]int `json:"by_severity"`
			ByTactic   map[string]int `json:"by_tactic"`
		} `json:"open_alerts"`
	}
	c.json("GET", "/api/v1/dashboard", nil, &d, 200)
	if d.OpenAlerts.BySeverity["critical"] < bulk || d.OpenAlerts.ByTactic["TA0040"] < bulk || d.OpenAlerts.ByTactic["TA0002"] != 2 {
		t.Errorf("counts: %+v", d.OpenAlerts)
	}
	if _, body := c.do("GET", "/", nil, ""); !strings.Contains(body, fmt.Sprint(d.OpenAlerts.BySeverity["critical"])) {
		t.Error("dashboard does not show the exact count")
	}
	// Handling an alert shows at once.
	analyst := e.login("analyst", analystPW)
	analyst.json("PATCH", "/api/v1/alerts/a3", alertChange{Version: 1, Status: new("handled")}, nil, 200)
	c.json("GET", "/api/v1/dashboard", nil, &d, 200)
	if d.OpenAlerts.ByTactic["TA0002"] != 1 {
		t.Errorf("after handling a3: %+v", d.OpenAlerts.ByTactic)
	}
}
