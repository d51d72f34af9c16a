package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/server/store"
	"github.com/vigilsec/vigil/internal/task"
)

// The operations below are shared by the console and the API: each checks
// its input, makes the change and writes the audit entry.

// alertChange is a requested workflow change; nil fields keep the value.
type alertChange struct {
	Version  int     `json:"version"`
	Status   *string `json:"status,omitempty"`
	Assignee *string `json:"assignee,omitempty"`
	Comment  string  `json:"comment,omitempty"`
}

func (s *server) updateAlert(ctx context.Context, p *principal, id string, ch alertChange) (store.AlertRecord, error) {
	rec, err := s.st.GetAlert(ctx, id)
	if err != nil {
		return rec, err
	}
	u := store.AlertUpdate{ID: id, Version: ch.Version, Status: rec.Status, Assignee: rec.Assignee, At: s.now(), Actor: p.User.Username}
	if ch.Status != nil {
		u.Status = store.AlertStatus(*ch.Status)
		if !u.Status.Valid() {
			return rec, errorf(http.StatusBadRequest, "unknown status %q", clip(*ch.Status))
		}
	}
	if ch.Assignee != nil {
		u.Assignee = strings.TrimSpace(*ch.Assignee)
		if err := checkText(u.Assignee, 128); err != nil {
			return rec, errorf(http.StatusBadRequest, "assignee: %v", err)
		}
		if u.Assignee != "" {
			if _, err := s.st.GetUser(ctx, u.Assignee); errors.Is(err, store.ErrNotFound) {
				return rec, errorf(http.StatusBadRequest, "no user %q to assign", clip(u.Assignee))
			} else if err != nil {
				return rec, err
			}
		}
	}
	if c := strings.TrimSpace(ch.Comment); c != "" {
		if err := checkText(c, 10000); err != nil {
			return rec, errorf(http.StatusBadRequest, "comment: %v", err)
		}
		u.Comment = &store.Comment{Time: u.At, Author: p.User.Username, Text: c}
	}
	if ch.Status == nil && ch.Assignee == nil && u.Comment == nil {
		return rec, errorf(http.StatusBadRequest, "nothing to change")
	}
	if _, err := s.st.UpdateAlert(ctx, u); err != nil { // writes the audit entry itself
		return rec, err
	}
	return s.st.GetAlert(ctx, id)
}

// AllowEntry is one allow-list entry made from an alert. The list is the
// setting AllowListKey ({"entries": [...]}), for the rules engine to read:
// an event matching RuleID and Exe (and HostID unless empty) should not
// alert.
type AllowEntry struct {
	ID        string    `json:"id"`
	RuleID    string    `json:"rule_id"`
	HostID    string    `json:"host_id,omitempty"` // "" for every host
	Exe       string    `json:"exe,omitempty"`     // "" for any executable
	AlertID   string    `json:"alert_id"`
	Comment   string    `json:"comment,omitempty"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}

// AllowListKey is the setting holding the alert allow-list.
const AllowListKey = "rules.allowlist"

type allowList struct {
	Entries []AllowEntry `json:"entries"`
}

func (s *server) allowList(ctx context.Context) (allowList, error) {
	var al allowList
	raw, err := s.st.GetSetting(ctx, AllowListKey)
	if errors.Is(err, store.ErrNotFound) {
		return allowList{Entries: []AllowEntry{}}, nil
	} else if err != nil {
		return al, err
	}
	if err := json.Unmarshal(raw, &al); err != nil {
		return al, fmt.Errorf("setting %s: %w", AllowListKey, err)
	}
	if al.Entries == nil {
		al.Entries = []AllowEntry{}
	}
	return al, nil
}

// allowAlert adds an allow-list entry from an alert: scope "host" limits
// it to the alert's host, "fleet" applies it everywhere.
func (s *server) allowAlert(ctx context.Context, p *principal, id, scope, comment string) (AllowEntry, error) {
	rec, err := s.st.GetAlert(ctx, id)
	if err != nil {
		return AllowEntry{}, err
	}
	if err := checkText(comment, 1000); err != nil {
		return AllowEntry{}, errorf(http.StatusBadRequest, "comment: %v", err)
	}
	e := AllowEntry{ID: randomSecret(9), RuleID: rec.Alert.Rule.ID, AlertID: id, Comment: strings.TrimSpace(comment),
		CreatedBy: p.User.Username, CreatedAt: s.now().UTC()}
	switch scope {
	case "", "host":
		e.HostID = rec.Alert.Host
	case "fleet":
	default:
		return e, errorf(http.StatusBadRequest, "scope must be host or fleet")
	}
	if rec.Alert.Process != nil {
		e.Exe = rec.Alert.Process.Exe
	}
	s.settingsMu.Lock()
	defer s.settingsMu.Unlock()
	al, err := s.allowList(ctx)
	if err != nil {
		return e, err
	}
	al.Entries = append(al.Entries, e)
	if err := s.putJSONSetting(ctx, AllowListKey, al); err != nil {
		return e, err
	}
	return e, s.audit(ctx, p.User.Username, "allowlist.add", "alert:"+id, e)
}

func (s *server) removeAllow(ctx context.Context, p *principal, entryID string) error {
	s.settingsMu.Lock()
	defer s.settingsMu.Unlock()
	al, err := s.allowList(ctx)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(al.Entries, func(e AllowEntry) bool { return e.ID == entryID })
	if i < 0 {
		return store.ErrNotFound
	}
	e := al.Entries[i]
	al.Entries = slices.Delete(al.Entries, i, i+1)
	if err := s.putJSONSetting(ctx, AllowListKey, al); err != nil {
		return err
	}
	return s.audit(ctx, p.User.Username, "allowlist.remove", "alert:"+e.AlertID, e)
}

func (s *server) putJSONSetting(ctx context.Context, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.st.PutSetting(ctx, key, b)
}

// TaskTypes are the task types the console offers: the task package's
// closed list.
var TaskTypes = func() []string {
	var out []string
	for _, t := range task.Types {
		out = append(out, string(t))
	}
	return out
}()

// taskOrder is a task request.
type taskOrder struct {
	Type     string          `json:"type"`
	Params   json.RawMessage `json:"params,omitempty"`
	Targets  store.Targets   `json:"targets"`
	Schedule string          `json:"schedule,omitempty"`
}

func (s *server) submitTask(ctx context.Context, p *principal, o taskOrder) (store.Task, error) {
	if s.tasks == nil {
		return store.Task{}, errorf(http.StatusServiceUnavailable, "the task centre is not running")
	}
	if !slices.Contains(TaskTypes, o.Type) {
		return store.Task{}, errorf(http.StatusBadRequest, "unknown task type %q", clip(o.Type))
	}
	if len(o.Params) == 0 {
		o.Params = json.RawMessage(`{}`)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(o.Params, &obj); err != nil || obj == nil {
		return store.Task{}, errorf(http.StatusBadRequest, "params must be a JSON object")
	}
	if !o.Targets.All && len(o.Targets.Hosts)+len(o.Targets.Groups)+len(o.Targets.Labels) == 0 {
		return store.Task{}, errorf(http.StatusBadRequest, "no targets")
	}
	for _, l := range [][]string{o.Targets.Hosts, o.Targets.Groups, o.Targets.Labels, {o.Schedule}} {
		for _, v := range l {
			if err := checkText(v, maxParamLen); err != nil {
				return store.Task{}, errorf(http.StatusBadRequest, "target or schedule: %v", err)
			}
		}
	}
	// Submit writes the audit entry (task.submit) with the stored task.
	return s.tasks.Submit(ctx, p.User.Username, o.Type, o.Params, o.Targets, strings.TrimSpace(o.Schedule))
}

// vulnFindingLister is an optional store method listing a vulnerability's
// findings on every host; without it the hosts are walked one by one.
type vulnFindingLister interface {
	ListVulnFindings(ctx context.Context, vulnID string) ([]store.VulnFinding, error)
}

// vulnDetail returns a vulnerability's summary and its findings.
func (s *server) vulnDetail(ctx context.Context, id string) (store.VulnSummary, []store.VulnFinding, error) {
	var sum store.VulnSummary
	vs, err := s.st.ListVulns(ctx, store.VulnFilter{Text: id, Limit: maxPageLimit})
	if err != nil {
		return sum, nil, err
	}
	i := slices.IndexFunc(vs, func(v store.VulnSummary) bool { return v.VulnID == id })
	if i < 0 {
		return sum, nil, fmt.Errorf("vulnerability %q: %w", clip(id), store.ErrNotFound)
	}
	sum = vs[i]
	var out []store.VulnFinding
	if l, ok := s.st.(vulnFindingLister); ok {
		out, err = l.ListVulnFindings(ctx, id)
		return sum, out, err
	}
	f := store.HostFilter{Page: store.Page{Limit: maxPageLimit}}
	for {
		hs, next, err := s.st.ListHosts(ctx, f)
		if err != nil {
			return sum, nil, err
		}
		for _, h := range hs {
			fs, err := s.st.ListHostFindings(ctx, h.ID)
			if err != nil {
				return sum, nil, err
			}
			for _, x := range fs {
				if x.VulnID == id {
					out = append(out, x)
				}
			}
		}
		if next == "" {
			return sum, out, nil
		}
		f.Cursor = next
	}
}

// findingKey is a finding's key as `vigil scan host` prints it and
// fix_packages takes it: "<OSV ID>/<ecosystem>/<package>". The ecosystem
// comes from the finding's JSON (package.ecosystem); "" when absent.
func findingKey(f store.VulnFinding) string {
	var d struct {
		Package struct {
			Ecosystem string `json:"ecosystem"`
		} `json:"package"`
	}
	if json.Unmarshal(f.Data, &d) != nil || d.Package.Ecosystem == "" {
		return ""
	}
	return f.VulnID + "/" + d.Package.Ecosystem + "/" + f.Package
}

// fixVuln orders fix_packages on every affected host whose finding names
// its ecosystem, with params {"findings": [keys]}.
func (s *server) fixVuln(ctx context.Context, p *principal, id string) (store.Task, error) {
	_, fs, err := s.vulnDetail(ctx, id)
	if err != nil {
		return store.Task{}, err
	}
	var hosts, keys []string
	for _, f := range fs {
		k := findingKey(f)
		if k == "" {
			continue
		}
		if !slices.Contains(hosts, f.HostID) {
			hosts = append(hosts, f.HostID)
		}
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(hosts)
	slices.Sort(keys)
	if len(hosts) == 0 {
		return store.Task{}, errorf(http.StatusConflict, "no affected host has a fixable finding (the findings name no package ecosystem)")
	}
	params, _ := json.Marshal(map[string]any{"findings": keys})
	return s.submitTask(ctx, p, taskOrder{Type: "fix_packages", Params: params, Targets: store.Targets{Hosts: hosts}})
}

// userInput creates or changes a user.
type userInput struct {
	Username string `json:"username"`
	Password string `json:"password,omitempty"`
	Role     string `json:"role,omitempty"`
	Disabled *bool  `json:"disabled,omitempty"`
}

func validUsername(n string) error {
	if n == "" || len(n) > 64 {
		return errorf(http.StatusBadRequest, "user name must be 1–64 characters")
	}
	for _, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._@-", r)) {
			return errorf(http.StatusBadRequest, "user name may hold letters, digits and . _ @ - only")
		}
	}
	return nil
}

func checkPasswordPolicy(pw string) error {
	if len(pw) < 12 || len(pw) > 1024 {
		return errorf(http.StatusBadRequest, "password must be 12–1024 bytes")
	}
	return nil
}

func (s *server) createUser(ctx context.Context, p *principal, in userInput) (store.User, error) {
	if err := validUsername(in.Username); err != nil {
		return store.User{}, err
	}
	if err := checkPasswordPolicy(in.Password); err != nil {
		return store.User{}, err
	}
	role := store.Role(in.Role)
	if !role.Valid() {
		return store.User{}, errorf(http.StatusBadRequest, "role must be admin, analyst or read-only")
	}
	hash, err := HashPassword(in.Password)
	if err != nil {
		return store.User{}, err
	}
	u := store.User{Username: in.Username, PasswordHash: hash, Role: role, CreatedAt: s.now()}
	if in.Disabled != nil {
		u.Disabled = *in.Disabled
	}
	if err := s.st.CreateUser(ctx, u); err != nil {
		return u, err
	}
	return u, s.audit(ctx, p.User.Username, "user.create", "user:"+u.Username, map[string]any{"role": u.Role, "disabled": u.Disabled})
}

func (s *server) updateUser(ctx context.Context, p *principal, name string, in userInput) (store.User, error) {
	u, err := s.st.GetUser(ctx, name)
	if err != nil {
		return u, err
	}
	details := map[string]any{}
	if in.Role != "" {
		if !store.Role(in.Role).Valid() {
			return u, errorf(http.StatusBadRequest, "role must be admin, analyst or read-only")
		}
		u.Role = store.Role(in.Role)
		details["role"] = u.Role
	}
	if in.Disabled != nil {
		u.Disabled = *in.Disabled
		details["disabled"] = u.Disabled
	}
	if in.Password != "" {
		if err := checkPasswordPolicy(in.Password); err != nil {
			return u, err
		}
		if u.PasswordHash, err = HashPassword(in.Password); err != nil {
			return u, err
		}
		details["password"] = "changed"
	}
	if len(details) == 0 {
		return u, errorf(http.StatusBadRequest, "nothing to change")
	}
	if name == p.User.Username && (u.Role != store.RoleAdmin || u.Disabled) {
		return u, errorf(http.StatusConflict, "you cannot demote or disable yourself")
	}
	if err := s.st.UpdateUser(ctx, u); err != nil {
		return u, err
	}
	return u, s.audit(ctx, p.User.Username, "user.update", "user:"+name, details)
}

func (s *server) deleteUser(ctx context.Context, p *principal, name string) error {
	if name == p.User.Username {
		return errorf(http.StatusConflict, "you cannot delete yourself")
	}
	if err := s.st.DeleteUser(ctx, name); err != nil {
		return err
	}
	return s.audit(ctx, p.User.Username, "user.delete", "user:"+name, nil)
}

// createEnrolToken mints an enrolment token valid for ttl.
func (s *server) createEnrolToken(ctx context.Context, p *principal, name string, ttl time.Duration) (string, store.EnrolToken, error) {
	if err := checkText(name, 128); err != nil {
		return "", store.EnrolToken{}, errorf(http.StatusBadRequest, "name: %v", err)
	}
	if ttl <= 0 || ttl > 30*24*time.Hour {
		return "", store.EnrolToken{}, errorf(http.StatusBadRequest, "validity must be between 1 hour and 30 days")
	}
	display, hash, err := s.mint()
	if err != nil {
		return "", store.EnrolToken{}, fmt.Errorf("mint enrolment token: %w", err)
	}
	now := s.now()
	t := store.EnrolToken{Hash: hash, Name: strings.TrimSpace(name), CreatedBy: p.User.Username, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	if err := s.st.CreateEnrolToken(ctx, t); err != nil {
		return "", t, err
	}
	return display, t, s.audit(ctx, p.User.Username, "enrol_token.create", "enrol_token:"+shortHash(hash), map[string]any{"name": t.Name, "expires_at": t.ExpiresAt})
}

func (s *server) deleteEnrolToken(ctx context.Context, p *principal, hash string) error {
	if err := s.st.DeleteEnrolToken(ctx, hash); err != nil {
		return err
	}
	return s.audit(ctx, p.User.Username, "enrol_token.delete", "enrol_token:"+shortHash(hash), nil)
}

// apiTokenPrefix starts every API token, so leaked ones are easy to find.
const apiTokenPrefix = "vigil_api_"

func (s *server) createAPIToken(ctx context.Context, p *principal, user, name string) (string, store.APIToken, error) {
	if user == "" {
		user = p.User.Username
	}
	if _, err := s.st.GetUser(ctx, user); err != nil {
		return "", store.APIToken{}, err
	}
	if err := checkText(name, 128); err != nil || strings.TrimSpace(name) == "" {
		return "", store.APIToken{}, errorf(http.StatusBadRequest, "token name must be 1–128 characters of text")
	}
	secret := apiTokenPrefix + randomSecret(32)
	t := store.APIToken{Hash: hashToken(secret), Username: user, Name: strings.TrimSpace(name), CreatedAt: s.now()}
	if err := s.st.CreateAPIToken(ctx, t); err != nil {
		return "", t, err
	}
	return secret, t, s.audit(ctx, p.User.Username, "api_token.create", "api_token:"+shortHash(t.Hash), map[string]string{"user": user, "name": t.Name})
}

func (s *server) deleteAPIToken(ctx context.Context, p *principal, hash string) error {
	if err := s.st.DeleteAPIToken(ctx, hash); err != nil {
		return err
	}
	return s.audit(ctx, p.User.Username, "api_token.delete", "api_token:"+shortHash(hash), nil)
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// hostAttrs are the console-owned host attributes.
type hostAttrs struct {
	Labels     []string `json:"labels"`
	Groups     []string `json:"groups"`
	Importance int      `json:"importance"`
}

func (s *server) setHostAttrs(ctx context.Context, p *principal, id string, a hostAttrs) error {
	for _, l := range [][]string{a.Labels, a.Groups} {
		if len(l) > 64 {
			return errorf(http.StatusBadRequest, "at most 64 labels and 64 groups")
		}
		for _, v := range l {
			if err := checkText(v, 128); err != nil || v == "" {
				return errorf(http.StatusBadRequest, "labels and groups must be 1–128 characters of text")
			}
		}
	}
	if a.Importance < 0 || a.Importance > 100 {
		return errorf(http.StatusBadRequest, "importance must be 0–100")
	}
	if a.Labels == nil {
		a.Labels = []string{}
	}
	if a.Groups == nil {
		a.Groups = []string{}
	}
	if err := s.st.SetHostAttrs(ctx, id, a.Labels, a.Groups, a.Importance); err != nil {
		return err
	}
	return s.audit(ctx, p.User.Username, "host.attrs", "host:"+id, a)
}

func (s *server) revokeHost(ctx context.Context, p *principal, id string) error {
	if err := s.st.RevokeHost(ctx, id); err != nil {
		return err
	}
	return s.audit(ctx, p.User.Username, "host.revoke", "host:"+id, nil)
}

// NotificationsKey is the setting holding the exporters' configuration,
// for the exporter engine to read.
const NotificationsKey = "notifications"

// Notifications configure the exporters (docs/exporters.md). Secrets are
// write-only: reads show only whether one is set.
type Notifications struct {
	Webhook struct {
		URL       string `json:"url,omitempty"`
		Secret    string `json:"secret,omitempty"`
		SecretSet bool   `json:"secret_set,omitempty"`
		Batch     bool   `json:"batch,omitempty"`
	} `json:"webhook"`
	Syslog struct {
		Addr string `json:"addr,omitempty"`
		TLS  bool   `json:"tls,omitempty"`
	} `json:"syslog"`
	Kafka struct {
		Brokers []string `json:"brokers,omitempty"`
		Topic   string   `json:"topic,omitempty"`
	} `json:"kafka"`
	MinSeverity string `json:"min_severity,omitempty"` // "" exports every alert
}

func (s *server) notifications(ctx context.Context) (Notifications, error) {
	var n Notifications
	raw, err := s.st.GetSetting(ctx, NotificationsKey)
	if errors.Is(err, store.ErrNotFound) {
		return n, nil
	} else if err != nil {
		return n, err
	}
	if err := json.Unmarshal(raw, &n); err != nil {
		return n, fmt.Errorf("setting %s: %w", NotificationsKey, err)
	}
	return n, nil
}

// redacted hides the webhook secret.
func (n Notifications) redacted() Notifications {
	n.Webhook.SecretSet = n.Webhook.Secret != ""
	n.Webhook.Secret = ""
	return n
}

func (s *server) putNotifications(ctx context.Context, p *principal, n Notifications) error {
	if u := n.Webhook.URL; u != "" {
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			return errorf(http.StatusBadRequest, "webhook URL must be http(s)://host/…")
		}
	}
	addrs := append([]string{}, n.Kafka.Brokers...)
	if n.Syslog.Addr != "" {
		addrs = append(addrs, n.Syslog.Addr)
	}
	for _, a := range addrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return errorf(http.StatusBadRequest, "address %q: want host:port", clip(a))
		}
	}
	if len(n.Kafka.Brokers) > 0 && n.Kafka.Topic == "" {
		return errorf(http.StatusBadRequest, "kafka needs a topic")
	}
	if n.MinSeverity != "" {
		p := &params{q: url.Values{"s": {n.MinSeverity}}}
		p.severity("s")
		if p.err != nil {
			return errorf(http.StatusBadRequest, "min_severity: unknown severity")
		}
	}
	for _, v := range []string{n.Webhook.URL, n.Webhook.Secret, n.Syslog.Addr, n.Kafka.Topic} {
		if err := checkText(v, 2048); err != nil {
			return errorf(http.StatusBadRequest, "notifications: %v", err)
		}
	}
	s.settingsMu.Lock()
	defer s.settingsMu.Unlock()
	if n.Webhook.Secret == "" && n.Webhook.SecretSet {
		// Keep the stored secret when the form leaves it blank.
		old, err := s.notifications(ctx)
		if err != nil {
			return err
		}
		n.Webhook.Secret = old.Webhook.Secret
	}
	n.Webhook.SecretSet = false
	if err := s.putJSONSetting(ctx, NotificationsKey, n); err != nil {
		return err
	}
	return s.audit(ctx, p.User.Username, "settings.notifications", "setting:"+NotificationsKey, n.redacted())
}
