package agent

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	vigilv1 "github.com/vigilsec/vigil/api/vigil/v1"
	"github.com/vigilsec/vigil/internal/agentlink"
	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/event"
	"github.com/vigilsec/vigil/internal/server/link"
	"github.com/vigilsec/vigil/internal/server/link/linktest"
)

type nopEngine struct{}

func (nopEngine) Process(*event.Event) []*alert.Alert { return nil }

// recordResponder notes which alerts it was asked to act on.
type recordResponder struct {
	mu    sync.Mutex
	rules []string
}

func (r *recordResponder) Do(_ context.Context, a *alert.Alert, _ *event.Event) alert.Response {
	r.mu.Lock()
	r.rules = append(r.rules, a.Rule.ID)
	r.mu.Unlock()
	return alert.Response{Action: a.Response.Action, Result: "ok"}
}

// TestAllowListSkipsResponse: the console's allow-list reaches the agent
// in a heartbeat ack, is kept across restarts, and makes the agent skip
// the response of an allowed alert (still raised and sent), while other
// alerts are acted on.
func TestAllowListSkipsResponse(t *testing.T) {
	var policy atomic.Pointer[vigilv1.Policy]
	policy.Store(&vigilv1.Policy{Version: "v1", Allow: []*vigilv1.AllowEntry{
		{Id: "al-1", RuleId: "VGL-EXEC-TMP", Exe: "/opt/cfgmgmt/bin/agent"}}})
	e := linktest.Start(t, "", "", func(o *link.Options) {
		o.Policy = func(context.Context, string) (*vigilv1.Policy, error) { return policy.Load(), nil }
	})
	dir := t.TempDir()
	newClient := func() *agentlink.Client {
		c, err := agentlink.New(agentlink.Options{DataDir: dir, Server: e.Addr, EnrolToken: e.Token(t),
			HeartbeatInterval: 50 * time.Millisecond, MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := newClient()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(15 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	waitUntil("the policy", func() bool { return c.Policy() != nil })

	resp := &recordResponder{}
	a, err := New(Default(), dir, Deps{Engine: nopEngine{}, Responder: resp, Uplink: &uplink{client: c, log: slog.Default()}}, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	if a.alerts, err = OpenAlertWriter(filepath.Join(dir, "alerts.jsonl")); err != nil {
		t.Fatal(err)
	}
	defer a.alerts.Close()
	mk := func(rule, exe string) *alert.Alert {
		return &alert.Alert{ID: rule + exe, Time: time.Now(), Rule: alert.Rule{ID: rule, Title: rule},
			Process: &alert.Process{PID: 42, Exe: exe}, Response: alert.Response{Action: "kill", Result: "pending"}}
	}
	allowed := mk("VGL-EXEC-TMP", "/opt/cfgmgmt/bin/agent")
	otherExe := mk("VGL-EXEC-TMP", "/tmp/x")
	otherRule := mk("VGL-REVSHELL", "/opt/cfgmgmt/bin/agent")
	for _, al := range []*alert.Alert{allowed, otherExe, otherRule} {
		a.deliver(ctx, al, &event.Event{})
	}
	if !strings.Contains(allowed.Response.Result, "allow-listed") || !strings.Contains(allowed.Response.Result, "al-1") {
		t.Errorf("allowed alert's response: %+v", allowed.Response)
	}
	if otherExe.Response.Result != "ok" || otherRule.Response.Result != "ok" {
		t.Errorf("other alerts' responses: %+v, %+v", otherExe.Response, otherRule.Response)
	}
	resp.mu.Lock()
	if got := strings.Join(resp.rules, ","); got != "VGL-EXEC-TMP,VGL-REVSHELL" {
		t.Errorf("responder acted on %s, want the two alerts not allowed", got)
	}
	resp.mu.Unlock()
	// The allowed alert is still sent to the server.
	if st := c.Stats(); st.SpoolPending+int64(st.Acked) < 3 {
		t.Errorf("link stats %+v: want all three alerts sent", st)
	}

	// The console changes the list: the agent follows.
	policy.Store(&vigilv1.Policy{Version: "v2"})
	waitUntil("the new policy", func() bool { return c.Policy().Version == "v2" })
	if _, ok := c.Policy().Allowed("VGL-EXEC-TMP", "/opt/cfgmgmt/bin/agent"); ok {
		t.Fatal("an entry removed in the console still allows")
	}
	cancel()
	<-done
	c.Close()

	// A restarted agent applies the saved policy before it connects.
	policy.Store(&vigilv1.Policy{Version: "v3", Allow: []*vigilv1.AllowEntry{{Id: "al-3", RuleId: "VGL-X"}}})
	c2, err := agentlink.New(agentlink.Options{DataDir: dir, Server: e.Addr})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if p := c2.Policy(); p == nil || p.Version != "v2" {
		t.Fatalf("saved policy %+v, want v2", p)
	}
}
