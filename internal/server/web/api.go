package web

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/server/store"
	"github.com/vigilsec/vigil/internal/severity"
)

// JSON forms of the store's types (docs/api.md).

type hostJSON struct {
	ID           string    `json:"id"`
	Hostname     string    `json:"hostname"`
	OS           string    `json:"os"`
	AgentVersion string    `json:"agent_version"`
	SensorMode   string    `json:"sensor_mode"`
	Labels       []string  `json:"labels"`
	Groups       []string  `json:"groups"`
	Importance   int       `json:"importance"`
	CertSerial   string    `json:"cert_serial"`
	CertSHA256   string    `json:"cert_sha256"`
	Revoked      bool      `json:"revoked"`
	Online       bool      `json:"online"`
	EnrolledAt   time.Time `json:"enrolled_at,omitzero"`
	LastSeen     time.Time `json:"last_seen,omitzero"`
}

func (s *server) hostJSON(h store.Host) hostJSON {
	return hostJSON{ID: h.ID, Hostname: h.Hostname, OS: h.OS, AgentVersion: h.AgentVersion, SensorMode: h.SensorMode,
		Labels: orEmpty(h.Labels), Groups: orEmpty(h.Groups), Importance: h.Importance, CertSerial: h.CertSerial,
		CertSHA256: h.CertSHA256, Revoked: h.Revoked, Online: s.online(h), EnrolledAt: h.EnrolledAt, LastSeen: h.LastSeen}
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

type commentJSON struct {
	Time   time.Time `json:"time"`
	Author string    `json:"author"`
	Text   string    `json:"text"`
}

type alertJSON struct {
	Alert     alert.Alert       `json:"alert"`
	Status    store.AlertStatus `json:"status"`
	Assignee  string            `json:"assignee"`
	Comments  []commentJSON     `json:"comments,omitempty"`
	Version   int               `json:"version"`
	UpdatedAt time.Time         `json:"updated_at,omitzero"`
}

func toAlertJSON(r store.AlertRecord) alertJSON {
	a := alertJSON{Alert: r.Alert, Status: r.Status, Assignee: r.Assignee, Version: r.Version, UpdatedAt: r.UpdatedAt}
	for _, c := range r.Comments {
		a.Comments = append(a.Comments, commentJSON(c))
	}
	return a
}

type taskJSON struct {
	ID        int64           `json:"id"`
	Type      string          `json:"type"`
	Params    json.RawMessage `json:"params"`
	Targets   store.Targets   `json:"targets"`
	Schedule  string          `json:"schedule,omitempty"`
	Signature []byte          `json:"signature"`
	CreatedBy string          `json:"created_by"`
	CreatedAt time.Time       `json:"created_at"`
}

func toTaskJSON(t store.Task) taskJSON {
	p := t.Params
	if len(p) == 0 {
		p = json.RawMessage(`{}`)
	}
	return taskJSON{ID: t.ID, Type: t.Type, Params: p, Targets: t.Targets, Schedule: t.Schedule, Signature: t.Signature, CreatedBy: t.CreatedBy, CreatedAt: t.CreatedAt}
}

type runJSON struct {
	ID           int64           `json:"id"`
	TaskID       int64           `json:"task_id"`
	HostID       string          `json:"host_id"`
	State        store.RunState  `json:"state"`
	CreatedAt    time.Time       `json:"created_at"`
	DispatchedAt time.Time       `json:"dispatched_at,omitzero"`
	FinishedAt   time.Time       `json:"finished_at,omitzero"`
	Output       json.RawMessage `json:"output,omitempty"`
}

type userJSON struct {
	Username  string     `json:"username"`
	Role      store.Role `json:"role"`
	Disabled  bool       `json:"disabled"`
	CreatedAt time.Time  `json:"created_at"`
}

func toUserJSON(u store.User) userJSON {
	return userJSON{Username: u.Username, Role: u.Role, Disabled: u.Disabled, CreatedAt: u.CreatedAt}
}

type apiTokenJSON struct {
	ID        string    `json:"id"` // SHA-256 of the secret, hex
	Username  string    `json:"username"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	LastUsed  time.Time `json:"last_used,omitzero"`
	Token     string    `json:"token,omitempty"` // only in the answer that creates it
}

type enrolTokenJSON struct {
	ID        string    `json:"id"` // the stored hash
	Name      string    `json:"name"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	UsedAt    time.Time `json:"used_at,omitzero"`
	UsedBy    string    `json:"used_by,omitempty"`
	Token     string    `json:"token,omitempty"` // only in the answer that creates it
}

func toEnrolJSON(t store.EnrolToken) enrolTokenJSON {
	return enrolTokenJSON{ID: t.Hash, Name: t.Name, CreatedBy: t.CreatedBy, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, UsedAt: t.UsedAt, UsedBy: t.UsedBy}
}

type auditJSON struct {
	ID      int64           `json:"id"`
	Time    time.Time       `json:"time"`
	Actor   string          `json:"actor"`
	Action  string          `json:"action"`
	Object  string          `json:"object"`
	Details json.RawMessage `json:"details,omitempty"`
}

type vulnJSON struct {
	VulnID   string         `json:"id"`
	Severity severity.Level `json:"severity"`
	Priority int            `json:"priority"`
	Hosts    int            `json:"hosts"`
	Packages int            `json:"packages"`
	Summary  string         `json:"summary"`
}

type findingJSON struct {
	HostID       string          `json:"host_id"`
	VulnID       string          `json:"vuln_id"`
	Package      string          `json:"package"`
	Version      string          `json:"version"`
	FixedVersion string          `json:"fixed_version,omitempty"`
	Severity     severity.Level  `json:"severity"`
	Priority     int             `json:"priority"`
	Summary      string          `json:"summary"`
	Data         json.RawMessage `json:"data,omitempty"`
}

func toFindings(fs []store.VulnFinding) []findingJSON {
	out := make([]findingJSON, 0, len(fs))
	for _, f := range fs {
		out = append(out, findingJSON(f))
	}
	return out
}

type snapshotJSON struct {
	ID     int64           `json:"id"`
	HostID string          `json:"host_id"`
	Time   time.Time       `json:"time"`
	SHA256 string          `json:"sha256"`
	Data   json.RawMessage `json:"data,omitempty"`
}

// list is a page of results.
type list[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next,omitempty"` // cursor of the next page
	Total *int   `json:"total,omitempty"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}

func (s *server) apiError(w http.ResponseWriter, err error) {
	code, msg := s.statusOf(err)
	writeJSON(w, code, map[string]string{"error": msg})
}

// readJSON decodes a request body strictly: one object, known fields.
func readJSON(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return errorf(http.StatusUnsupportedMediaType, "want Content-Type application/json")
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return errorf(http.StatusBadRequest, "bad JSON body: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errorf(http.StatusBadRequest, "bad JSON body: trailing data")
	}
	return nil
}

func pathInt(r *http.Request, name string) (int64, error) {
	n, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || n <= 0 {
		return 0, errorf(http.StatusBadRequest, "bad %s", name)
	}
	return n, nil
}

// apiRoutes registers /api/v1.
func (s *server) apiRoutes(mux *http.ServeMux) {
	type hf = func(w http.ResponseWriter, r *http.Request, p *principal) error
	read := func(pat string, h hf) { mux.Handle(pat, s.guard(kindAPI, store.RoleReadOnly, h)) }
	analyst := func(pat string, h hf) { mux.Handle(pat, s.guard(kindAPI, store.RoleAnalyst, h)) }
	admin := func(pat string, h hf) { mux.Handle(pat, s.guard(kindAPI, store.RoleAdmin, h)) }

	read("GET /api/v1/me", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		writeJSON(w, 200, map[string]any{"user": toUserJSON(p.User), "csrf_token": p.csrf()})
		return nil
	})
	read("GET /api/v1/dashboard", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		d, err := s.dashboard(r.Context())
		if err != nil {
			return err
		}
		bySev := map[string]int{}
		for l, n := range d.OpenAlerts.BySeverity {
			bySev[l.String()] = n
		}
		writeJSON(w, 200, map[string]any{"score": d.Score, "hosts": d.Hosts,
			"open_alerts": map[string]any{"by_severity": bySev, "by_tactic": d.OpenAlerts.ByTactic}})
		return nil
	})

	// Hosts.
	read("GET /api/v1/hosts", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		f, err := parseHostFilter(r.URL.Query())
		if err != nil {
			return err
		}
		hs, next, err := s.st.ListHosts(r.Context(), f)
		if err != nil {
			return err
		}
		out := list[hostJSON]{Items: []hostJSON{}, Next: next}
		for _, h := range hs {
			out.Items = append(out.Items, s.hostJSON(h))
		}
		writeJSON(w, 200, out)
		return nil
	})
	read("GET /api/v1/hosts/{id}", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		h, err := s.st.GetHost(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		writeJSON(w, 200, s.hostJSON(h))
		return nil
	})
	analyst("PUT /api/v1/hosts/{id}/attrs", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		var a hostAttrs
		if err := readJSON(r, &a); err != nil {
			return err
		}
		if err := s.setHostAttrs(r.Context(), p, r.PathValue("id"), a); err != nil {
			return err
		}
		h, err := s.st.GetHost(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		writeJSON(w, 200, s.hostJSON(h))
		return nil
	})
	admin("POST /api/v1/hosts/{id}/revoke", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		if err := s.revokeHost(r.Context(), p, r.PathValue("id")); err != nil {
			return err
		}
		writeJSON(w, 200, map[string]bool{"revoked": true})
		return nil
	})
	read("GET /api/v1/hosts/{id}/inventory", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		snap, err := s.snapshot(r, r.PathValue("id"), r.URL.Query().Get("snapshot"))
		if err != nil {
			return err
		}
		writeJSON(w, 200, snapshotJSON(snap))
		return nil
	})
	read("GET /api/v1/hosts/{id}/inventory/history", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		pp := &params{q: r.URL.Query()}
		n := pp.int("limit", 50, 1, maxPageLimit)
		if pp.err != nil {
			return pp.err
		}
		if _, err := s.st.GetHost(r.Context(), r.PathValue("id")); err != nil {
			return err
		}
		hist, err := s.st.InventoryHistory(r.Context(), r.PathValue("id"), n)
		if err != nil {
			return err
		}
		out := list[snapshotJSON]{Items: []snapshotJSON{}}
		for _, h := range hist {
			out.Items = append(out.Items, snapshotJSON(h))
		}
		writeJSON(w, 200, out)
		return nil
	})
	read("GET /api/v1/hosts/{id}/inventory/diff", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		d, err := s.diff(r, r.PathValue("id"))
		if err != nil {
			return err
		}
		writeJSON(w, 200, d)
		return nil
	})
	read("GET /api/v1/hosts/{id}/vulns", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		if _, err := s.st.GetHost(r.Context(), r.PathValue("id")); err != nil {
			return err
		}
		fs, err := s.st.ListHostFindings(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		writeJSON(w, 200, list[findingJSON]{Items: toFindings(fs)})
		return nil
	})

	// Alerts.
	read("GET /api/v1/alerts", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		f, err := parseAlertFilter(r.URL.Query())
		if err != nil {
			return err
		}
		as, next, err := s.st.ListAlerts(r.Context(), f)
		if err != nil {
			return err
		}
		out := list[alertJSON]{Items: []alertJSON{}, Next: next}
		for _, a := range as {
			out.Items = append(out.Items, toAlertJSON(a))
		}
		writeJSON(w, 200, out)
		return nil
	})
	read("GET /api/v1/alerts/stats", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		f, err := parseAlertFilter(r.URL.Query())
		if err != nil {
			return err
		}
		st, err := s.st.AlertStats(r.Context(), f)
		if err != nil {
			return err
		}
		bySev := map[string]int{}
		for l, n := range st.BySeverity {
			bySev[l.String()] = n
		}
		writeJSON(w, 200, map[string]any{"by_severity": bySev, "by_status": st.ByStatus, "by_tactic": st.ByTactic})
		return nil
	})
	read("GET /api/v1/alerts/{id}", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		a, err := s.st.GetAlert(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		writeJSON(w, 200, toAlertJSON(a))
		return nil
	})
	analyst("PATCH /api/v1/alerts/{id}", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		var ch alertChange
		if err := readJSON(r, &ch); err != nil {
			return err
		}
		a, err := s.updateAlert(r.Context(), p, r.PathValue("id"), ch)
		if err != nil {
			return err
		}
		writeJSON(w, 200, toAlertJSON(a))
		return nil
	})
	analyst("POST /api/v1/alerts/{id}/allowlist", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		var in struct {
			Scope   string `json:"scope"`
			Comment string `json:"comment"`
		}
		if err := readJSON(r, &in); err != nil {
			return err
		}
		e, err := s.allowAlert(r.Context(), p, r.PathValue("id"), in.Scope, in.Comment)
		if err != nil {
			return err
		}
		writeJSON(w, 201, e)
		return nil
	})
	read("GET /api/v1/allowlist", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		al, err := s.allowList(r.Context())
		if err != nil {
			return err
		}
		writeJSON(w, 200, list[AllowEntry]{Items: al.Entries})
		return nil
	})
	analyst("DELETE /api/v1/allowlist/{id}", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		if err := s.removeAllow(r.Context(), p, r.PathValue("id")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})

	// Vulnerabilities.
	read("GET /api/v1/vulns", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		f, err := parseVulnFilter(r.URL.Query())
		if err != nil {
			return err
		}
		vs, err := s.st.ListVulns(r.Context(), f)
		if err != nil {
			return err
		}
		out := list[vulnJSON]{Items: []vulnJSON{}}
		for _, v := range vs {
			out.Items = append(out.Items, vulnJSON(v))
		}
		writeJSON(w, 200, out)
		return nil
	})
	read("GET /api/v1/vulns/{id}", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		sum, fs, err := s.vulnDetail(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		writeJSON(w, 200, map[string]any{"vuln": vulnJSON(sum), "findings": toFindings(fs)})
		return nil
	})
	analyst("POST /api/v1/vulns/{id}/fix", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		t, err := s.fixVuln(r.Context(), p, r.PathValue("id"))
		if err != nil {
			return err
		}
		writeJSON(w, 201, toTaskJSON(t))
		return nil
	})

	// Tasks.
	read("GET /api/v1/tasks", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		pp := &params{q: r.URL.Query()}
		limit, offset := pp.int("limit", 50, 1, maxPageLimit), pp.int("offset", 0, 0, 1<<30)
		if pp.err != nil {
			return pp.err
		}
		ts, err := s.st.ListTasks(r.Context(), limit, offset)
		if err != nil {
			return err
		}
		out := list[taskJSON]{Items: []taskJSON{}}
		for _, t := range ts {
			out.Items = append(out.Items, toTaskJSON(t))
		}
		writeJSON(w, 200, out)
		return nil
	})
	analyst("POST /api/v1/tasks", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		var o taskOrder
		if err := readJSON(r, &o); err != nil {
			return err
		}
		t, err := s.submitTask(r.Context(), p, o)
		if err != nil {
			return err
		}
		writeJSON(w, 201, toTaskJSON(t))
		return nil
	})
	read("GET /api/v1/tasks/{id}", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		id, err := pathInt(r, "id")
		if err != nil {
			return err
		}
		t, err := s.st.GetTask(r.Context(), id)
		if err != nil {
			return err
		}
		writeJSON(w, 200, toTaskJSON(t))
		return nil
	})
	read("GET /api/v1/tasks/{id}/runs", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		id, err := pathInt(r, "id")
		if err != nil {
			return err
		}
		if _, err := s.st.GetTask(r.Context(), id); err != nil {
			return err
		}
		runs, err := s.st.ListTaskRuns(r.Context(), id)
		if err != nil {
			return err
		}
		out := list[runJSON]{Items: []runJSON{}}
		for _, x := range runs {
			out.Items = append(out.Items, runJSON(x))
		}
		writeJSON(w, 200, out)
		return nil
	})

	// Audit.
	read("GET /api/v1/audit", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		f, err := parseAuditFilter(r.URL.Query())
		if err != nil {
			return err
		}
		es, next, err := s.st.ListAudit(r.Context(), f)
		if err != nil {
			return err
		}
		out := list[auditJSON]{Items: []auditJSON{}, Next: next}
		for _, e := range es {
			out.Items = append(out.Items, auditJSON(e))
		}
		writeJSON(w, 200, out)
		return nil
	})

	// Users and tokens (admin).
	admin("GET /api/v1/users", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		us, err := s.st.ListUsers(r.Context())
		if err != nil {
			return err
		}
		out := list[userJSON]{Items: []userJSON{}}
		for _, u := range us {
			out.Items = append(out.Items, toUserJSON(u))
		}
		writeJSON(w, 200, out)
		return nil
	})
	admin("POST /api/v1/users", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		var in userInput
		if err := readJSON(r, &in); err != nil {
			return err
		}
		u, err := s.createUser(r.Context(), p, in)
		if err != nil {
			return err
		}
		writeJSON(w, 201, toUserJSON(u))
		return nil
	})
	admin("PATCH /api/v1/users/{name}", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		var in userInput
		if err := readJSON(r, &in); err != nil {
			return err
		}
		u, err := s.updateUser(r.Context(), p, r.PathValue("name"), in)
		if err != nil {
			return err
		}
		writeJSON(w, 200, toUserJSON(u))
		return nil
	})
	admin("DELETE /api/v1/users/{name}", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		if err := s.deleteUser(r.Context(), p, r.PathValue("name")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
	admin("GET /api/v1/tokens", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		ts, err := s.st.ListAPITokens(r.Context(), r.URL.Query().Get("user"))
		if err != nil {
			return err
		}
		out := list[apiTokenJSON]{Items: []apiTokenJSON{}}
		for _, t := range ts {
			out.Items = append(out.Items, apiTokenJSON{ID: t.Hash, Username: t.Username, Name: t.Name, CreatedAt: t.CreatedAt, LastUsed: t.LastUsed})
		}
		writeJSON(w, 200, out)
		return nil
	})
	admin("POST /api/v1/tokens", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		var in struct {
			Username string `json:"username"`
			Name     string `json:"name"`
		}
		if err := readJSON(r, &in); err != nil {
			return err
		}
		secret, t, err := s.createAPIToken(r.Context(), p, in.Username, in.Name)
		if err != nil {
			return err
		}
		writeJSON(w, 201, apiTokenJSON{ID: t.Hash, Username: t.Username, Name: t.Name, CreatedAt: t.CreatedAt, Token: secret})
		return nil
	})
	admin("DELETE /api/v1/tokens/{id}", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		if err := s.deleteAPIToken(r.Context(), p, r.PathValue("id")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
	admin("GET /api/v1/enrol-tokens", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		ts, err := s.st.ListEnrolTokens(r.Context())
		if err != nil {
			return err
		}
		out := list[enrolTokenJSON]{Items: []enrolTokenJSON{}}
		for _, t := range ts {
			out.Items = append(out.Items, toEnrolJSON(t))
		}
		writeJSON(w, 200, out)
		return nil
	})
	admin("POST /api/v1/enrol-tokens", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		var in struct {
			Name       string `json:"name"`
			ValidHours int    `json:"valid_hours"`
		}
		if err := readJSON(r, &in); err != nil {
			return err
		}
		if in.ValidHours == 0 {
			in.ValidHours = 24
		}
		display, t, err := s.createEnrolToken(r.Context(), p, in.Name, time.Duration(in.ValidHours)*time.Hour)
		if err != nil {
			return err
		}
		j := toEnrolJSON(t)
		j.Token = display
		writeJSON(w, 201, j)
		return nil
	})
	admin("DELETE /api/v1/enrol-tokens/{id}", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		if err := s.deleteEnrolToken(r.Context(), p, r.PathValue("id")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
	admin("GET /api/v1/settings/notifications", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		n, err := s.notifications(r.Context())
		if err != nil {
			return err
		}
		writeJSON(w, 200, n.redacted())
		return nil
	})
	admin("PUT /api/v1/settings/notifications", func(w http.ResponseWriter, r *http.Request, p *principal) error {
		var n Notifications
		if err := readJSON(r, &n); err != nil {
			return err
		}
		if err := s.putNotifications(r.Context(), p, n); err != nil {
			return err
		}
		n, err := s.notifications(r.Context())
		if err != nil {
			return err
		}
		writeJSON(w, 200, n.redacted())
		return nil
	})
	mux.Handle("/api/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such API endpoint"})
	}))
}

// snapshot loads a host's latest inventory, or the one named by id.
func (s *server) snapshot(r *http.Request, hostID, id string) (store.InventorySnapshot, error) {
	if id == "" {
		if _, err := s.st.GetHost(r.Context(), hostID); err != nil {
			return store.InventorySnapshot{}, err
		}
		return s.st.LatestInventory(r.Context(), hostID)
	}
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 {
		return store.InventorySnapshot{}, errorf(http.StatusBadRequest, "bad snapshot id")
	}
	snap, err := s.st.GetInventory(r.Context(), n)
	if err != nil {
		return snap, err
	}
	if snap.HostID != hostID {
		return store.InventorySnapshot{}, store.ErrNotFound
	}
	return snap, nil
}

// inventoryDiff compares two snapshots of a host.
type inventoryDiff struct {
	From    snapshotJSON       `json:"from"`
	To      snapshotJSON       `json:"to"`
	Changes []inventory.Change `json:"changes"`
}

// diff compares snapshots from and to (query parameters; default the two
// latest).
func (s *server) diff(r *http.Request, hostID string) (inventoryDiff, error) {
	var d inventoryDiff
	q := r.URL.Query()
	from, to := q.Get("from"), q.Get("to")
	if from == "" || to == "" {
		if _, err := s.st.GetHost(r.Context(), hostID); err != nil {
			return d, err
		}
		hist, err := s.st.InventoryHistory(r.Context(), hostID, 2)
		if err != nil {
			return d, err
		}
		if len(hist) < 2 {
			return d, errorf(http.StatusNotFound, "the host has fewer than two inventory snapshots")
		}
		if to == "" {
			to = strconv.FormatInt(hist[0].ID, 10)
		}
		if from == "" {
			from = strconv.FormatInt(hist[1].ID, 10)
		}
	}
	a, err := s.snapshot(r, hostID, from)
	if err != nil {
		return d, err
	}
	b, err := s.snapshot(r, hostID, to)
	if err != nil {
		return d, err
	}
	var sa, sb inventory.Snapshot
	if err := json.Unmarshal(a.Data, &sa); err != nil {
		return d, errorf(http.StatusUnprocessableEntity, "snapshot %d is not readable: %v", a.ID, err)
	}
	if err := json.Unmarshal(b.Data, &sb); err != nil {
		return d, errorf(http.StatusUnprocessableEntity, "snapshot %d is not readable: %v", b.ID, err)
	}
	a.Data, b.Data = nil, nil
	d.From, d.To = snapshotJSON(a), snapshotJSON(b)
	d.Changes = orEmpty(inventory.Diff(&sa, &sb))
	return d, nil
}
