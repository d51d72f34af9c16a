package detect

import (
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/event"
)

func authEv(at time.Duration, outcome, ip string, count int) *event.Event {
	return &event.Event{Kind: event.Auth, Time: t0.Add(at),
		Auth: &event.AuthInfo{Service: "sshd", Outcome: outcome, User: "root", SrcIP: ip, Count: count}}
}

// TestAggregateWeight checks that aggregate.weight makes one event count
// for several occurrences, and that weight 0 adds nothing.
func TestAggregateWeight(t *testing.T) {
	e := mustEngine(t, "rules:"+ruleYAML("VGL-TEST-WEIGHT", "auth", `auth.outcome == "failure"`, `
    aggregate: {window: 60s, group_by: auth.src_ip, threshold: 6, weight: "auth.src_ip == '192.0.2.9' ? 0 : auth.count"}
`), Options{})
	// 1 + 4 = 5 < 6: nothing; the next single failure makes 6.
	for i, tc := range []struct {
		ev   *event.Event
		want int
	}{
		{authEv(0, "failure", "192.0.2.1", 1), 0},
		{authEv(time.Second, "failure", "192.0.2.1", 4), 0},
		{authEv(2*time.Second, "failure", "192.0.2.9", 50), 0},
		{authEv(3*time.Second, "failure", "192.0.2.1", 0), 1},
		{authEv(4*time.Second, "failure", "192.0.2.2", 100), 1},
	} {
		got := e.Process(tc.ev)
		if len(got) != tc.want {
			t.Fatalf("event %d: %d alerts, want %d", i, len(got), tc.want)
		}
		if len(got) == 1 && got[0].Evidence["count"] != 6 {
			t.Errorf("event %d: count %v, want 6", i, got[0].Evidence["count"])
		}
	}
}

// TestAggregateFireOn checks the two-step sequence: failures count, only a
// success fires, and only when enough failures preceded it within the
// window.
func TestAggregateFireOn(t *testing.T) {
	e := mustEngine(t, "rules:"+ruleYAML("VGL-TEST-SEQ", "auth", `auth.outcome in ["failure", "success"]`, `
    aggregate: {window: 60s, group_by: auth.src_ip, threshold: 3, weight: auth.count, fire_on: "auth.outcome == 'success'"}
    suppress: 0s
`), Options{})
	steps := []struct {
		ev   *event.Event
		want int
	}{
		{authEv(0, "failure", "192.0.2.1", 1), 0},
		{authEv(time.Second, "failure", "192.0.2.1", 1), 0},
		{authEv(2*time.Second, "success", "192.0.2.1", 1), 0}, // 2 failures: not enough
		{authEv(3*time.Second, "failure", "192.0.2.1", 1), 0}, // the 3rd: no alert without a success
		{authEv(4*time.Second, "failure", "192.0.2.1", 1), 0},
		{authEv(5*time.Second, "success", "192.0.2.2", 1), 0}, // another address
		{authEv(6*time.Second, "success", "192.0.2.1", 1), 1},
		{authEv(7*time.Second, "success", "192.0.2.1", 1), 0}, // the group started over
		// Failures older than the window do not count.
		{authEv(10*time.Second, "failure", "192.0.2.3", 3), 0},
		{authEv(80*time.Second, "success", "192.0.2.3", 1), 0},
		{authEv(90*time.Second, "failure", "192.0.2.3", 3), 0},
		{authEv(91*time.Second, "success", "192.0.2.3", 1), 1},
	}
	for i, tc := range steps {
		got := e.Process(tc.ev)
		if len(got) != tc.want {
			t.Fatalf("step %d: %d alerts, want %d", i, len(got), tc.want)
		}
		if len(got) == 1 && got[0].Evidence["count"] != 3 {
			t.Errorf("step %d: count %v, want 3", i, got[0].Evidence["count"])
		}
	}
}

// TestAggregateFireOnDistinct checks fire_on with distinct values.
func TestAggregateFireOnDistinct(t *testing.T) {
	e := mustEngine(t, "rules:"+ruleYAML("VGL-TEST-SEQD", "auth", `true`, `
    aggregate: {window: 60s, group_by: auth.user, distinct: auth.src_ip, threshold: 2, fire_on: "auth.outcome == 'success'"}
`), Options{})
	for i, tc := range []struct {
		ev   *event.Event
		want int
	}{
		{authEv(0, "failure", "192.0.2.1", 1), 0},
		{authEv(1, "failure", "192.0.2.1", 1), 0},
		{authEv(2, "failure", "192.0.2.2", 1), 0},
		{authEv(3, "failure", "192.0.2.3", 1), 0},
		{authEv(4, "success", "192.0.2.4", 1), 1},
	} {
		if got := e.Process(tc.ev); len(got) != tc.want {
			t.Fatalf("event %d: %d alerts, want %d", i, len(got), tc.want)
		}
	}
}
