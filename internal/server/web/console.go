package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/server/store"
	"github.com/vigilsec/vigil/internal/severity"
)

// pageTemplate is one page: the layout plus the page's own blocks.
type pageTemplate struct{ t *template.Template }

// Tactics names the MITRE ATT&CK enterprise tactics.
var Tactics = map[string]string{
	"TA0043": "Reconnaissance", "TA0042": "Resource Development", "TA0001": "Initial Access",
	"TA0002": "Execution", "TA0003": "Persistence", "TA0004": "Privilege Escalation",
	"TA0005": "Defense Evasion", "TA0006": "Credential Access", "TA0007": "Discovery",
	"TA0008": "Lateral Movement", "TA0009": "Collection", "TA0011": "Command and Control",
	"TA0010": "Exfiltration", "TA0040": "Impact",
}

var funcs = template.FuncMap{
	"sev": func(l severity.Level) string { return l.String() },
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"tactic": func(id string) string {
		if n, ok := Tactics[id]; ok {
			return n + " (" + id + ")"
		}
		return id
	},
	"join": strings.Join,
	"pretty": func(v any) string {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return fmt.Sprint(v)
		}
		return string(b)
	},
	"prettyraw": func(raw json.RawMessage) string {
		var buf bytes.Buffer
		if json.Indent(&buf, raw, "", "  ") != nil {
			return string(raw)
		}
		return buf.String()
	},
	"can": func(u *store.User, role string) bool {
		return u != nil && (&principal{User: *u}).can(store.Role(role))
	},
	"add": func(a, b int) int { return a + b },
	"short": func(s string) string {
		if len(s) > 12 {
			return s[:12]
		}
		return s
	},
	"query": func(q url.Values, kv ...string) string {
		c := url.Values{}
		for k, v := range q {
			c[k] = slices.Clone(v)
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				c.Del(kv[i])
			} else {
				c.Set(kv[i], kv[i+1])
			}
		}
		return c.Encode()
	},
}

func loadPages() (map[string]*pageTemplate, error) {
	base, err := template.New("").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*pageTemplate{}
	for _, n := range names {
		if path.Base(n) == "layout.html" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(templateFS, n)
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", n, err)
		}
		pages[strings.TrimSuffix(path.Base(n), ".html")] = &pageTemplate{t: t}
	}
	return pages, nil
}

// pageData is what every page template gets.
type pageData struct {
	Title string
	Nav   string
	User  *store.User
	CSRF  string
	Flash string
	Query url.Values
	Data  any
}

var flashes = map[string]string{
	"saved": "Saved.", "deleted": "Deleted.", "task": "Task ordered.", "allowed": "Added to the allow-list.",
	"revoked": "Host revoked.", "loggedout": "You are logged out.",
}

// render writes a page, or only block (an htmx partial) when block is set.
func (s *server) render(w http.ResponseWriter, r *http.Request, code int, p *principal, page, block, title string, data any) {
	pt, ok := s.pages[page]
	if !ok {
		http.Error(w, "no such page", http.StatusInternalServerError)
		return
	}
	pd := pageData{Title: title, Nav: page, Query: r.URL.Query(), Data: data, Flash: flashes[r.URL.Query().Get("ok")]}
	if p != nil {
		pd.User, pd.CSRF = &p.User, p.csrf()
	}
	if block == "" {
		block = "layout"
	}
	var buf bytes.Buffer
	if err := pt.t.ExecuteTemplate(&buf, block, pd); err != nil {
		s.log.Error("render", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

func (s *server) pageError(w http.ResponseWriter, r *http.Request, p *principal, err error) {
	code, msg := s.statusOf(err)
	s.render(w, r, code, p, "error", "", "Error", map[string]any{"Code": code, "Status": http.StatusText(code), "Message": msg})
}

func isHTMX(r *http.Request) bool { return r.Header.Get("HX-Request") == "true" }

// back redirects after a form post (303), keeping htmx on the same page.
func back(w http.ResponseWriter, r *http.Request, to, flash string) {
	if flash != "" {
		sep := "?"
		if strings.Contains(to, "?") {
			sep = "&"
		}
		to += sep + "ok=" + flash
	}
	if isHTMX(r) {
		w.Header().Set("HX-Redirect", to)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// routes registers the console, API and metrics.
func (s *server) routes(mux *http.ServeMux) {
	s.apiRoutes(mux)
	type hf = func(w http.ResponseWriter, r *http.Request, p *principal) error
	read := func(pat string, h hf) { mux.Handle(pat, s.guard(kindPage, store.RoleReadOnly, h)) }
	analyst := func(pat string, h hf) { mux.Handle(pat, s.guard(kindPage, store.RoleAnalyst, h)) }
	admin := func(pat string, h hf) { mux.Handle(pat, s.guard(kindPage, store.RoleAdmin, h)) }

	mux.HandleFunc("GET /login", s.loginPage)
	mux.HandleFunc("POST /login", s.loginPost)
	mux.Handle("POST /logout", s.guard(kindPage, store.RoleReadOnly, func(w http.ResponseWriter, r *http.Request, p *principal) error {
		if p.Session == nil {
			return errorf(http.StatusBadRequest, "an API token has no session to end")
		}
		if err := s.st.DeleteSession(r.Context(), p.Session.TokenHash); err != nil {
			return err
		}
		s.setCookie(w, sessionCookie, "", -1)
		if err := s.audit(r.Context(), p.User.Username, "user.logout", "user:"+p.User.Username, nil); err != nil {
			return err
		}
		http.Redirect(w, r, "/login?ok=loggedout", http.StatusSeeOther)
		return nil
	}))
	mux.Handle("GET /metrics", http.HandlerFunc(s.serveMetrics))

	read("GET /{$}", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		d, err := s.dashboard(r.Context())
		if err != nil {
			return err
		}
		s.render(w, r, 200, p, "dashboard", "", "Dashboard", dashView(d))
		return nil
	})
	read("GET /hosts", s.hostsPage)
	read("GET /hosts/{id}", s.hostPage)
	analyst("POST /hosts/{id}/attrs", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		imp, err := strconv.Atoi(strings.TrimSpace(r.PostFormValue("importance")))
		if err != nil {
			return errorf(http.StatusBadRequest, "importance must be a number")
		}
		id := r.PathValue("id")
		a := hostAttrs{Labels: splitList(r.PostFormValue("labels")), Groups: splitList(r.PostFormValue("groups")), Importance: imp}
		if err := s.setHostAttrs(r.Context(), p, id, a); err != nil {
			return err
		}
		back(w, r, "/hosts/"+url.PathEscape(id), "saved")
		return nil
	})
	admin("POST /hosts/{id}/revoke", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		id := r.PathValue("id")
		if err := s.revokeHost(r.Context(), p, id); err != nil {
			return err
		}
		back(w, r, "/hosts/"+url.PathEscape(id), "revoked")
		return nil
	})
	read("GET /alerts", s.alertsPage)
	read("GET /alerts/{id}", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		a, err := s.st.GetAlert(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		v, err := s.alertView(r, a)
		if err != nil {
			return err
		}
		s.render(w, r, 200, p, "alert", "", a.Alert.Rule.Title, v)
		return nil
	})
	analyst("POST /alerts/{id}", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		id := r.PathValue("id")
		ver, err := strconv.Atoi(r.PostFormValue("version"))
		if err != nil {
			return errorf(http.StatusBadRequest, "bad version")
		}
		ch := alertChange{Version: ver, Comment: r.PostFormValue("comment")}
		if r.PostForm.Has("status") {
			st := r.PostFormValue("status")
			ch.Status = &st
		}
		if r.PostForm.Has("assignee") {
			as := r.PostFormValue("assignee")
			ch.Assignee = &as
		}
		a, err := s.updateAlert(r.Context(), p, id, ch)
		if err != nil {
			return err
		}
		if isHTMX(r) {
			v, err := s.alertView(r, a)
			if err != nil {
				return err
			}
			s.render(w, r, 200, p, "alert", "workflow", "", v)
			return nil
		}
		back(w, r, "/alerts/"+url.PathEscape(id), "saved")
		return nil
	})
	analyst("POST /alerts/{id}/allowlist", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		id := r.PathValue("id")
		if _, err := s.allowAlert(r.Context(), p, id, r.PostFormValue("scope"), r.PostFormValue("comment")); err != nil {
			return err
		}
		back(w, r, "/alerts/"+url.PathEscape(id), "allowed")
		return nil
	})
	read("GET /vulns", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		f, err := parseVulnFilter(r.URL.Query())
		if err != nil {
			return err
		}
		vs, err := s.st.ListVulns(r.Context(), f)
		if err != nil {
			return err
		}
		s.render(w, r, 200, p, "vulns", "", "Vulnerabilities", map[string]any{"Vulns": vs, "Filter": f})
		return nil
	})
	read("GET /vulns/{id}", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		sum, fs, err := s.vulnDetail(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		type row struct {
			store.VulnFinding
			Hostname string
		}
		names := map[string]string{}
		rows := make([]row, 0, len(fs))
		for _, f := range fs {
			n, ok := names[f.HostID]
			if !ok {
				if h, err := s.st.GetHost(r.Context(), f.HostID); err == nil {
					n = h.Hostname
				}
				names[f.HostID] = n
			}
			rows = append(rows, row{f, n})
		}
		s.render(w, r, 200, p, "vuln", "", sum.VulnID, map[string]any{"Vuln": sum, "Findings": rows})
		return nil
	})
	analyst("POST /vulns/{id}/fix", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		t, err := s.fixVuln(r.Context(), p, r.PathValue("id"))
		if err != nil {
			return err
		}
		back(w, r, fmt.Sprintf("/tasks/%d", t.ID), "task")
		return nil
	})
	read("GET /tasks", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		pp := &params{q: r.URL.Query()}
		offset := pp.int("offset", 0, 0, 1<<30)
		if pp.err != nil {
			return pp.err
		}
		ts, err := s.st.ListTasks(r.Context(), 50, offset)
		if err != nil {
			return err
		}
		s.render(w, r, 200, p, "tasks", "", "Task centre", map[string]any{"Tasks": ts, "Types": TaskTypes, "Offset": offset})
		return nil
	})
	analyst("POST /tasks", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		o := taskOrder{Type: r.PostFormValue("type"), Params: json.RawMessage(strings.TrimSpace(r.PostFormValue("params"))),
			Targets: store.Targets{All: r.PostFormValue("all") == "on", Hosts: splitList(r.PostFormValue("hosts")),
				Groups: splitList(r.PostFormValue("groups")), Labels: splitList(r.PostFormValue("labels"))},
			Schedule: r.PostFormValue("schedule")}
		t, err := s.submitTask(r.Context(), p, o)
		if err != nil {
			return err
		}
		back(w, r, fmt.Sprintf("/tasks/%d", t.ID), "task")
		return nil
	})
	read("GET /tasks/{id}", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		id, err := pathInt(r, "id")
		if err != nil {
			return err
		}
		t, err := s.st.GetTask(r.Context(), id)
		if err != nil {
			return err
		}
		runs, err := s.st.ListTaskRuns(r.Context(), id)
		if err != nil {
			return err
		}
		s.render(w, r, 200, p, "task", "", fmt.Sprintf("Task %d", id), map[string]any{"Task": t, "Runs": runs})
		return nil
	})
	read("GET /audit", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		f, err := parseAuditFilter(r.URL.Query())
		if err != nil {
			return err
		}
		es, next, err := s.st.ListAudit(r.Context(), f)
		if err != nil {
			return err
		}
		s.render(w, r, 200, p, "audit", "", "Audit log", map[string]any{"Entries": es, "Next": next})
		return nil
	})
	s.settingsRoutes(read, analyst, admin)
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.pageError(w, r, nil, errorf(http.StatusNotFound, "no such page"))
	}))
}

// loginPage shows the login form with a login CSRF token (double submit:
// a cookie and a form field that must match).
func (s *server) loginPage(w http.ResponseWriter, r *http.Request) {
	tok := randomSecret(32)
	s.setCookie(w, loginCookie, tok, 600)
	next := r.URL.Query().Get("next")
	if !safeNext(next) {
		next = "/"
	}
	s.render(w, r, 200, nil, "login", "", "Log in", map[string]any{"Token": tok, "Next": next})
}

// safeNext accepts only a local path as a post-login destination.
func safeNext(n string) bool {
	return strings.HasPrefix(n, "/") && !strings.HasPrefix(n, "//") && !strings.HasPrefix(n, "/\\") && !strings.ContainsAny(n, "\r\n")
}

func (s *server) loginPost(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(loginCookie)
	form := r.PostFormValue(csrfField)
	if err != nil || c.Value == "" || form == "" || c.Value != form {
		s.pageError(w, r, nil, errorf(http.StatusForbidden, "the login form expired; reload the page"))
		return
	}
	user, pw := r.PostFormValue("username"), r.PostFormValue("password")
	secret, err := s.login(r.Context(), clientAddr(r), user, pw)
	if err != nil {
		code, msg := s.statusOf(err)
		tok := randomSecret(32)
		s.setCookie(w, loginCookie, tok, 600)
		s.render(w, r, code, nil, "login", "", "Log in", map[string]any{"Token": tok, "Next": r.PostFormValue("next"), "Error": msg, "Username": user})
		return
	}
	s.setCookie(w, loginCookie, "", -1)
	s.setCookie(w, sessionCookie, secret, int(s.ttl/time.Second))
	next := r.PostFormValue("next")
	if !safeNext(next) {
		next = "/"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// dashView prepares dashboard bars.
type bar struct {
	Label string
	Link  string
	N     int
	Max   int
}

func dashView(d dashboard) map[string]any {
	var sev []bar
	maxSev := 1
	for l := severity.Critical; l >= severity.Info; l-- {
		maxSev = max(maxSev, d.OpenAlerts.BySeverity[l])
	}
	for l := severity.Critical; l >= severity.Info; l-- {
		n := d.OpenAlerts.BySeverity[l]
		sev = append(sev, bar{Label: l.String(), Link: "/alerts?status=open&severity=" + l.String(), N: n, Max: maxSev})
	}
	var tac []bar
	maxTac := 1
	for t, n := range d.OpenAlerts.ByTactic {
		tac = append(tac, bar{Label: t, Link: "/alerts?status=open&tactic=" + url.QueryEscape(t), N: n})
		maxTac = max(maxTac, n)
	}
	sort.Slice(tac, func(i, j int) bool { return tac[i].N > tac[j].N || tac[i].N == tac[j].N && tac[i].Label < tac[j].Label })
	for i := range tac {
		tac[i].Max = maxTac
	}
	var vul []bar
	bands := []struct {
		label  string
		lo, hi int
	}{{"priority 70–100", 70, 101}, {"priority 40–69", 40, 70}, {"priority 0–39", 0, 40}}
	for _, b := range bands {
		n := 0
		for _, v := range d.Vulns {
			if v.Priority >= b.lo && v.Priority < b.hi {
				n++
			}
		}
		vul = append(vul, bar{Label: b.label, Link: "/vulns?min_severity=high", N: n, Max: max(1, len(d.Vulns))})
	}
	return map[string]any{"D": d, "Sev": sev, "Tac": tac, "Vul": vul, "TopVulns": d.Vulns[:min(10, len(d.Vulns))]}
}

// hostRow is a host list row.
type hostRow struct {
	store.Host
	Online bool
}

func (s *server) hostsPage(w http.ResponseWriter, r *http.Request, p *principal) error {
	f, err := parseHostFilter(r.URL.Query())
	if err != nil {
		return err
	}
	hs, next, err := s.st.ListHosts(r.Context(), f)
	if err != nil {
		return err
	}
	rows := make([]hostRow, 0, len(hs))
	for _, h := range hs {
		rows = append(rows, hostRow{Host: h, Online: s.online(h)})
	}
	block := ""
	if isHTMX(r) && r.Header.Get("HX-Target") == "host-rows" {
		block = "rows"
	}
	s.render(w, r, 200, p, "hosts", block, "Hosts", map[string]any{"Hosts": rows, "Next": next, "Filter": f})
	return nil
}

// hostTabs are the host page's tabs, in order.
var hostTabs = []struct{ ID, Label string }{
	{"overview", "Overview"}, {"accounts", "Accounts"}, {"ports", "Ports"}, {"processes", "Processes"},
	{"middleware", "Middleware"}, {"scheduled_tasks", "Cron jobs"}, {"startup_items", "Startup items"},
	{"packages", "Packages"}, {"containers", "Containers"}, {"changes", "Changes"},
	{"vulns", "Vulnerabilities"}, {"alerts", "Alerts"},
}

func (s *server) hostPage(w http.ResponseWriter, r *http.Request, p *principal) error {
	ctx := r.Context()
	h, err := s.st.GetHost(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	tab := r.URL.Query().Get("tab")
	if tab == "" {
		tab = "overview"
	}
	if !slices.ContainsFunc(hostTabs, func(t struct{ ID, Label string }) bool { return t.ID == tab }) {
		return errorf(http.StatusBadRequest, "no tab %q", clip(tab))
	}
	v := map[string]any{"Host": hostRow{Host: h, Online: s.online(h)}, "Tab": tab, "Tabs": hostTabs}
	switch tab {
	case "changes":
		hist, err := s.st.InventoryHistory(ctx, h.ID, 50)
		if err != nil {
			return err
		}
		v["History"] = hist
		if len(hist) >= 2 {
			d, err := s.diff(r, h.ID)
			if err != nil {
				return err
			}
			v["Diff"] = d
		}
	case "vulns":
		fs, err := s.st.ListHostFindings(ctx, h.ID)
		if err != nil {
			return err
		}
		v["Findings"] = fs
	case "alerts":
		f, err := parseAlertFilter(r.URL.Query())
		if err != nil {
			return err
		}
		f.HostID = h.ID
		as, next, err := s.st.ListAlerts(ctx, f)
		if err != nil {
			return err
		}
		v["Alerts"], v["Next"] = as, next
	default:
		snap, err := s.st.LatestInventory(ctx, h.ID)
		if err == nil {
			var inv inventory.Snapshot
			if err := json.Unmarshal(snap.Data, &inv); err != nil {
				v["InvError"] = err.Error()
			} else {
				v["Inv"], v["Snap"] = &inv, snap
			}
		} else if !isNotFound(err) {
			return err
		}
	}
	s.render(w, r, 200, p, "host", "", h.Hostname, v)
	return nil
}

func (s *server) alertsPage(w http.ResponseWriter, r *http.Request, p *principal) error {
	f, err := parseAlertFilter(r.URL.Query())
	if err != nil {
		return err
	}
	as, next, err := s.st.ListAlerts(r.Context(), f)
	if err != nil {
		return err
	}
	n := -1 // not counted on later pages
	if f.Cursor == "" {
		cf := f
		cf.Page = store.Page{Limit: alertCountCap}
		if n, err = s.st.CountAlerts(r.Context(), cf); err != nil {
			return err
		}
	}
	block := ""
	if isHTMX(r) && r.Header.Get("HX-Target") == "alert-rows" {
		block = "rows"
	}
	s.render(w, r, 200, p, "alerts", block, "Alerts", map[string]any{"Alerts": as, "Next": next, "Count": n, "Capped": n >= alertCountCap,
		"Statuses":   []store.AlertStatus{store.StatusOpen, store.StatusHandled, store.StatusIgnored, store.StatusFalsePositive},
		"Severities": []string{"critical", "high", "medium", "low", "info"}, "Tactics": Tactics})
	return nil
}

// alertCountCap bounds the alert list's count: an exact count over a
// million alerts takes seconds, and 10000 capped ones 150 ms when a tactic
// or text filter applies; the page shows "1000+".
const alertCountCap = 1000

// procNode is one line of an alert's process tree, root first.
type procNode struct {
	Depth   int
	PID     int
	Exe     string
	Cmdline string
	User    string
	Actor   bool
}

func (s *server) alertView(r *http.Request, a store.AlertRecord) (map[string]any, error) {
	var tree []procNode
	if pr := a.Alert.Process; pr != nil {
		anc := pr.Ancestors
		for i := len(anc) - 1; i >= 0; i-- { // ancestors are parent first
			x := anc[i]
			exe := x.Exe
			if exe == "" {
				exe = x.Name
			}
			tree = append(tree, procNode{Depth: len(anc) - 1 - i, PID: x.PID, Exe: exe, Cmdline: x.Cmdline, User: x.User})
		}
		tree = append(tree, procNode{Depth: len(anc), PID: pr.PID, Exe: pr.Exe, Cmdline: pr.Cmdline, User: pr.User, Actor: true})
	}
	keys := make([]string, 0, len(a.Alert.Evidence))
	for k := range a.Alert.Evidence {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	type ev struct{ Key, Value string }
	var evidence []ev
	for _, k := range keys {
		val := a.Alert.Evidence[k]
		sv, ok := val.(string)
		if !ok {
			b, _ := json.Marshal(val)
			sv = string(b)
		}
		evidence = append(evidence, ev{k, sv})
	}
	users, err := s.st.ListUsers(r.Context())
	if err != nil {
		return nil, err
	}
	var names []string
	for _, u := range users {
		if !u.Disabled && u.Role != store.RoleReadOnly {
			names = append(names, u.Username)
		}
	}
	var host *store.Host
	if h, err := s.st.GetHost(r.Context(), a.Alert.Host); err == nil {
		host = &h
	}
	return map[string]any{"A": a, "Tree": tree, "Evidence": evidence, "Users": names, "Host": host,
		"Statuses": []store.AlertStatus{store.StatusOpen, store.StatusHandled, store.StatusIgnored, store.StatusFalsePositive},
		"Procs":    procIndent(tree)}, nil
}

// procIndent is the tree as indented lines.
func procIndent(tree []procNode) []string {
	var out []string
	for _, n := range tree {
		out = append(out, strings.Repeat("  ", n.Depth)+"└─ "+fmt.Sprintf("[%d] %s", n.PID, n.Exe))
	}
	return out
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
