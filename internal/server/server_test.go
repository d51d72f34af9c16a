package server

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/agentlink"
	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/export/webhook"
	"github.com/vigilsec/vigil/internal/server/store"
	"github.com/vigilsec/vigil/internal/server/web"
	"github.com/vigilsec/vigil/internal/severity"
)

// startServer opens and runs a server on loopback ports of its own.
func startServer(t *testing.T) *Server {
	t.Helper()
	s, stop := runServer(t, t.TempDir(), nil)
	t.Cleanup(stop)
	return s
}

// runServer opens a server in dir, calls before (when set) and runs it
// until stop.
func runServer(t *testing.T, dir string, before func(*Server)) (*Server, func()) {
	t.Helper()
	return runServerWith(t, Config{DataDir: dir}, before)
}

// runServerWith is runServer with more of the configuration; the listen
// addresses are always loopback ports of its own.
func runServerWith(t *testing.T, cfg Config, before func(*Server)) (*Server, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cfg.Listen, cfg.AgentListen = "127.0.0.1:0", "127.0.0.1:0"
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if before != nil {
		before(s)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	select {
	case <-s.Listening():
	case err := <-done:
		t.Fatalf("Run: %v", err)
	}
	return s, stop
}

// TestServerWithAgent runs the assembled server with a real agent link:
// enrolment with a console-made token, heartbeat (online, /healthz),
// alert delivery, and the separation of the agent's credentials from the
// console.
func TestServerWithAgent(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	tok, err := s.CreateEnrolToken(ctx, "test", "admin", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	agentDir := t.TempDir()
	c, err := agentlink.New(agentlink.Options{DataDir: agentDir, Server: s.AgentAddr(), EnrolToken: tok,
		Hostname: "web-1", HeartbeatInterval: 200 * time.Millisecond, MinBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- c.Run(runCtx) }()
	defer func() {
		stop()
		<-ran
		c.Close()
	}()

	// Ready only while the named host is online, as vigil up uses it.
	s.SetReady(func() bool { return c.HostID() != "" && s.Link.Online(c.HostID()) })
	healthz := func() int {
		resp, err := http.Get("http://" + s.Addr() + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	deadline := time.Now().Add(30 * time.Second)
	for healthz() != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("/healthz never answered 200 with the agent connected")
		}
		time.Sleep(50 * time.Millisecond)
	}
	h, err := s.Store.GetHost(ctx, c.HostID())
	if err != nil || h.Hostname != "web-1" || h.CertSHA256 == "" {
		t.Fatalf("registry: %+v, %v", h, err)
	}

	// Settings → Notifications names a webhook: stored alerts go out as
	// signed OCSF Detection Findings.
	hooks := make(chan []byte, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhook.Verify([]byte("s3cret"), r.Header.Get(webhook.SignatureHeader), body, time.Minute, time.Now()); err != nil {
			t.Errorf("webhook signature: %v", err)
		}
		hooks <- body
	}))
	defer hook.Close()
	setting, _ := json.Marshal(map[string]any{"webhook": map[string]any{"url": hook.URL, "secret": "s3cret"}, "min_severity": "medium"})
	if err := s.Store.PutSetting(ctx, web.NotificationsKey, setting); err != nil {
		t.Fatal(err)
	}
	if err := s.notify.reload(ctx); err != nil {
		t.Fatal(err)
	}

	// An alert goes through the spool and the link into the store, once.
	al := &alert.Alert{ID: "a-1", Time: time.Now().UTC(), Host: "web-1", Rule: alert.Rule{ID: "VGL-PERSIST-CRON", Version: 1, Title: "Cron or at job file written"},
		Severity: severity.High, Attack: alert.Attack{Tactics: []string{"TA0003"}, Techniques: []string{"T1053.003"}},
		Evidence: map[string]any{"path": "/etc/cron.d/x"}}
	if err := c.SendAlert(al); err != nil {
		t.Fatal(err)
	}
	for {
		as, _, err := s.Store.ListAlerts(ctx, store.AlertFilter{HostID: c.HostID()})
		if err != nil {
			t.Fatal(err)
		}
		if len(as) == 1 && as[0].Alert.Rule.ID == "VGL-PERSIST-CRON" && as[0].Status == store.StatusOpen {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("alerts in the store: %+v", as)
		}
		time.Sleep(50 * time.Millisecond)
	}

	select {
	case body := <-hooks:
		var ev struct {
			ClassUID int `json:"class_uid"`
			Finding  struct {
				UID string `json:"uid"`
			} `json:"finding_info"`
		}
		if err := json.Unmarshal(body, &ev); err != nil || ev.ClassUID != 2004 || ev.Finding.UID != "a-1" {
			t.Errorf("webhook got %s (%v)", body, err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the alert was not exported to the webhook")
	}

	// An analyst allow-lists the rule on this host: the next such alert
	// is stored closed as ignored, with the reason, and not exported; the
	// alert of another rule after it still is.
	allow, _ := json.Marshal(map[string]any{"entries": []web.AllowEntry{{ID: "al-1", RuleID: "VGL-PERSIST-CRON",
		HostID: c.HostID(), AlertID: "a-1", CreatedBy: "alice", Comment: "config management writes cron files"}}})
	if err := s.Store.PutSetting(ctx, web.AllowListKey, allow); err != nil {
		t.Fatal(err)
	}
	s.allow.mu.Lock()
	s.allow.read = time.Time{}
	s.allow.mu.Unlock()
	a2, a3 := *al, *al
	a2.ID = "a-2"
	a3.ID, a3.Rule = "a-3", alert.Rule{ID: "VGL-PERSIST-SYSTEMD", Version: 1, Title: "Systemd unit written"}
	for _, a := range []*alert.Alert{&a2, &a3} {
		if err := c.SendAlert(a); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case body := <-hooks:
		if !strings.Contains(string(body), `"uid":"a-3"`) {
			t.Errorf("exported after the allow-list entry: %s; want only a-3", body)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the alert of another rule was not exported")
	}
	rec, err := s.Store.GetAlert(ctx, "a-2")
	if err != nil || rec.Status != store.StatusIgnored || len(rec.Comments) != 1 || !strings.Contains(rec.Comments[0].Text, "al-1") {
		t.Errorf("allow-listed alert: %+v, %v", rec, err)
	}

	// The agent's certificate opens no console API: not on the link's
	// port (gRPC only) ...
	cert, err := tls.LoadX509KeyPair(filepath.Join(agentDir, agentlink.CertFile), filepath.Join(agentDir, agentlink.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	tc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		Certificates: []tls.Certificate{cert}, RootCAs: s.CA.Pool(), ServerName: "127.0.0.1"}}}
	for _, path := range []string{"/api/v1/hosts", "/api/v1/alerts", "/"} {
		resp, err := tc.Get("https://" + s.AgentAddr() + path)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Errorf("GET %s on the agent link with the agent's certificate: 200 %s", path, body)
			}
		}
	}
	// ... nor on the console's, where the certificate or the enrolment
	// token are no credentials.
	for _, auth := range []string{"", "Bearer " + tok, "Bearer " + h.CertSHA256} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+s.Addr()+"/api/v1/hosts", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("console API with %q: %d, want 401", auth, resp.StatusCode)
		}
	}

	// Revoked: the next heartbeat is refused, the agent stops retrying,
	// and the host goes offline.
	if err := s.Store.RevokeHost(ctx, c.HostID()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-ran:
		if err == nil {
			t.Fatal("the revoked agent's link ended without an error")
		}
		ran <- err
	case <-time.After(30 * time.Second):
		t.Fatal("the revoked agent is still connected")
	}
}

func TestOpenRefusesUnknownStore(t *testing.T) {
	_, err := Open(context.Background(), Config{DataDir: t.TempDir(), Store: "mysql://u:secret@db/vigil"})
	if err == nil {
		t.Fatal("a mysql store was accepted")
	}
	if got := err.Error(); strings.Contains(got, "secret") {
		t.Errorf("error shows the password: %s", got)
	}
}

// hookRecorder is a webhook receiver that records the IDs of the alerts
// it is sent, in order; while down it answers 503.
type hookRecorder struct {
	*httptest.Server
	down  atomic.Bool
	mu    sync.Mutex
	order []string
}

func newHookRecorder(t *testing.T) *hookRecorder {
	h := &hookRecorder{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if h.down.Load() {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		var ev struct {
			Finding struct {
				UID string `json:"uid"`
			} `json:"finding_info"`
		}
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Errorf("webhook body %q: %v", body, err)
			return
		}
		h.mu.Lock()
		h.order = append(h.order, ev.Finding.UID)
		h.mu.Unlock()
	}))
	t.Cleanup(h.Close)
	return h
}

// setting is the notification setting that sends alerts to h.
func (h *hookRecorder) setting() json.RawMessage {
	b, _ := json.Marshal(map[string]any{"webhook": map[string]any{"url": h.URL, "secret": "s3cret"}})
	return b
}

// received returns how many times each alert ID came, and the order.
func (h *hookRecorder) received() (map[string]int, []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := map[string]int{}
	for _, id := range h.order {
		n[id]++
	}
	return n, slices.Clone(h.order)
}

// TestExportReplayedAfterRestart: while the webhook is down the server
// stops; alerts it had not delivered go out after it starts again, each
// once, and the outbox is empty afterwards.
func TestExportReplayedAfterRestart(t *testing.T) {
	ctx := context.Background()
	hook := newHookRecorder(t)
	hook.down.Store(true)
	dir := t.TempDir()
	s, stop := runServer(t, dir, func(s *Server) {
		if err := s.Store.PutSetting(ctx, web.NotificationsKey, hook.setting()); err != nil {
			t.Fatal(err)
		}
	})
	now := time.Now().UTC()
	if err := s.Store.UpsertHost(ctx, store.Host{ID: "h1", Hostname: "web-1", EnrolledAt: now, LastSeen: now}); err != nil {
		t.Fatal(err)
	}
	var as []alert.Alert
	for i := range 3 {
		as = append(as, alert.Alert{ID: fmt.Sprintf("r-%d", i), Time: now, Rule: alert.Rule{ID: "VGL-X", Title: "x"}, Severity: severity.High})
	}
	if _, err := s.Store.IngestAlerts(ctx, "h1", as); err != nil {
		t.Fatal(err)
	}
	s.notify.kick()
	deadline := time.Now().Add(10 * time.Second)
	tried := func() bool {
		s.notify.mu.Lock()
		defer s.notify.mu.Unlock()
		return len(s.notify.outs) == 1 && s.notify.outs[0].q.Stats().Retries > 0
	}
	for !tried() {
		if time.Now().After(deadline) {
			t.Fatal("the webhook was never tried")
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()

	hook.down.Store(false)
	s, stop = runServer(t, dir, nil)
	defer stop()
	var got map[string]int
	for {
		out, err := s.Store.OutboxAlerts(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		got, _ = hook.received()
		if len(out) == 0 && len(got) == 3 {
			break
		}
		if time.Now().After(deadline.Add(20 * time.Second)) {
			t.Fatalf("after restart: delivered %v, outbox %d", got, len(out))
		}
		time.Sleep(50 * time.Millisecond)
	}
	for id, n := range got {
		if n != 1 {
			t.Errorf("%s delivered %d times, want once", id, n)
		}
	}
}

// TestAllowPolicyPerHost: each agent gets the allow-list entries for its
// host and for every host, under a version that changes with them.
func TestAllowPolicyPerHost(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	put := func(es ...web.AllowEntry) {
		putAllowList(t, s.Store, es...)
		s.allow.mu.Lock()
		s.allow.read = time.Time{}
		s.allow.mu.Unlock()
	}
	put(web.AllowEntry{ID: "a", RuleID: "R1", HostID: "h1"}, web.AllowEntry{ID: "b", RuleID: "R2", HostID: "h2"},
		web.AllowEntry{ID: "c", RuleID: "R3", Exe: "/usr/bin/x"})
	p1, err := s.allow.policy(ctx, "h1")
	if err != nil {
		t.Fatal(err)
	}
	p2, _ := s.allow.policy(ctx, "h2")
	again, _ := s.allow.policy(ctx, "h1")
	var ids []string
	for _, e := range p1.GetAllow() {
		ids = append(ids, e.GetId()+":"+e.GetRuleId()+":"+e.GetExe())
	}
	if strings.Join(ids, ",") != "a:R1:,c:R3:/usr/bin/x" {
		t.Fatalf("h1's entries %v", ids)
	}
	if p1.GetVersion() == p2.GetVersion() || p1.GetVersion() != again.GetVersion() || p1.GetVersion() == "" {
		t.Fatalf("versions h1 %q, h2 %q, h1 again %q", p1.GetVersion(), p2.GetVersion(), again.GetVersion())
	}
	put(web.AllowEntry{ID: "c", RuleID: "R3", Exe: "/usr/bin/x"})
	p3, _ := s.allow.policy(ctx, "h1")
	if p3.GetVersion() == p1.GetVersion() || len(p3.GetAllow()) != 1 {
		t.Fatalf("after removing h1's entry: %v", p3)
	}
}

// slowSettings is a store whose GetSetting waits until release is closed.
type slowSettings struct {
	store.Store
	release chan struct{}
	reads   atomic.Int32
}

func (s *slowSettings) GetSetting(ctx context.Context, key string) (json.RawMessage, error) {
	s.reads.Add(1)
	<-s.release
	return s.Store.GetSetting(ctx, key)
}

// TestAllowPolicyDoesNotWaitOnStore: once the allow-list has been read,
// heartbeats get the copy in hand while one background read refreshes it,
// so a slow store does not hold up agents' acks.
func TestAllowPolicyDoesNotWaitOnStore(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	put := func(es ...web.AllowEntry) { putAllowList(t, s.Store, es...) }
	put(web.AllowEntry{ID: "a", RuleID: "R1"})
	slow := &slowSettings{Store: s.Store, release: make(chan struct{})}
	l := &allowList{st: slow}
	close(slow.release)
	if p, err := l.policy(ctx, "h1"); err != nil || len(p.GetAllow()) != 1 {
		t.Fatalf("first policy %v, %v", p, err)
	}
	slow.release = make(chan struct{})
	put(web.AllowEntry{ID: "a", RuleID: "R1"}, web.AllowEntry{ID: "b", RuleID: "R2"})
	l.mu.Lock()
	l.read = l.read.Add(-2 * allowCacheFor) // stale
	l.mu.Unlock()
	for range 50 { // many heartbeats while the store hangs
		p, err := l.policy(ctx, "h1")
		if err != nil || len(p.GetAllow()) != 1 {
			t.Fatalf("policy while the store hangs: %v, %v", p, err)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); slow.reads.Load() < 2 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	l.policy(ctx, "h1")
	if n := slow.reads.Load(); n != 2 {
		t.Fatalf("%d store reads, want 2 (the first and one refresh)", n)
	}
	close(slow.release)
	deadline := time.Now().Add(10 * time.Second)
	for {
		p, _ := l.policy(ctx, "h1")
		if len(p.GetAllow()) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the background read never refreshed the allow-list")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCorruptAllowListDoesNotStopExport: an allow-list setting that does
// not decode only silences nothing; alerts still go out and leave the
// outbox.
func TestCorruptAllowListDoesNotStopExport(t *testing.T) {
	ctx := context.Background()
	got := make(chan []byte, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- b
	}))
	defer hook.Close()
	setting, _ := json.Marshal(map[string]any{"webhook": map[string]any{"url": hook.URL, "secret": "k"}})
	s, stop := runServer(t, t.TempDir(), func(s *Server) {
		if err := s.Store.PutSetting(ctx, web.NotificationsKey, setting); err != nil {
			t.Fatal(err)
		}
		if err := s.Store.PutSetting(ctx, web.AllowListKey, json.RawMessage(`{"entries": "not a list"}`)); err != nil {
			t.Fatal(err)
		}
	})
	defer stop()
	now := time.Now().UTC()
	if err := s.Store.UpsertHost(ctx, store.Host{ID: "h1", Hostname: "web-1", EnrolledAt: now, LastSeen: now}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Store.IngestAlerts(ctx, "h1", []alert.Alert{{ID: "x-1", Time: now, Rule: alert.Rule{ID: "VGL-X", Title: "x"}, Severity: severity.High}}); err != nil {
		t.Fatal(err)
	}
	s.notify.kick()
	select {
	case b := <-got:
		if !strings.Contains(string(b), `"uid":"x-1"`) {
			t.Fatalf("webhook got %s", b)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a corrupt allow-list stopped the export")
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		out, err := s.Store.OutboxAlerts(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(out) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox still holds %d", len(out))
		}
	}
}

// putAllowList stores the console's allow-list setting.
func putAllowList(t *testing.T, st store.Store, es ...web.AllowEntry) {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"entries": es})
	if err := st.PutSetting(context.Background(), web.AllowListKey, b); err != nil {
		t.Fatal(err)
	}
}
