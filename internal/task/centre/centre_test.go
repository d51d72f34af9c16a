package centre

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/vigilsec/vigil/internal/server/lease"
	"github.com/vigilsec/vigil/internal/server/store"
	"github.com/vigilsec/vigil/internal/server/store/sqlite"
	"github.com/vigilsec/vigil/internal/task"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// clock is a settable time.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

// fleet opens a SQLite store in a temporary directory with hosts:
// web-1 (group prod, label web), web-2 (group prod, label web), db-1
// (group prod, label db), old-1 (group prod, revoked), dev-1 (group dev).
func fleet(t *testing.T) (store.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "vigil.db")
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	for _, h := range []struct {
		id, group, label string
		revoked          bool
	}{{"web-1", "prod", "web", false}, {"web-2", "prod", "web", false}, {"db-1", "prod", "db", false}, {"old-1", "prod", "web", true}, {"dev-1", "dev", "", false}} {
		if err := st.UpsertHost(ctx, store.Host{ID: h.id, Hostname: h.id, EnrolledAt: t0, LastSeen: t0}); err != nil {
			t.Fatal(err)
		}
		var labels []string
		if h.label != "" {
			labels = []string{h.label}
		}
		if err := st.SetHostAttrs(ctx, h.id, labels, []string{h.group}, 0); err != nil {
			t.Fatal(err)
		}
		if h.revoked {
			if err := st.RevokeHost(ctx, h.id); err != nil {
				t.Fatal(err)
			}
		}
	}
	return st, path
}

func newCentre(t *testing.T, st store.Store, clk *clock) (*Centre, *task.Signer) {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := task.NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	c := New(st, s)
	c.Now = clk.Now
	return c, s
}

func runHosts(t *testing.T, st store.Store, taskID int64) []string {
	t.Helper()
	runs, err := st.ListTaskRuns(context.Background(), taskID)
	if err != nil {
		t.Fatal(err)
	}
	var hosts []string
	for _, r := range runs {
		hosts = append(hosts, r.HostID+"@"+r.CreatedAt.Format("15:04"))
	}
	slices.Sort(hosts)
	return hosts
}

func TestSubmitNow(t *testing.T) {
	st, _ := fleet(t)
	clk := &clock{now: t0}
	c, signer := newCentre(t, st, clk)
	ctx := context.Background()
	tests := []struct {
		name    string
		targets store.Targets
		want    []string
	}{
		{name: "group_skips_revoked", targets: store.Targets{Groups: []string{"prod"}}, want: []string{"db-1@12:00", "web-1@12:00", "web-2@12:00"}},
		{name: "label", targets: store.Targets{Labels: []string{"web"}}, want: []string{"web-1@12:00", "web-2@12:00"}},
		{name: "union_without_duplicates", targets: store.Targets{Labels: []string{"db"}, Groups: []string{"dev"}, Hosts: []string{"db-1", "web-1"}}, want: []string{"db-1@12:00", "dev-1@12:00", "web-1@12:00"}},
		{name: "all", targets: store.Targets{All: true}, want: []string{"db-1@12:00", "dev-1@12:00", "web-1@12:00", "web-2@12:00"}},
		{name: "revoked_host_by_id_skipped", targets: store.Targets{Hosts: []string{"old-1", "dev-1"}}, want: []string{"dev-1@12:00"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tk, err := c.Submit(ctx, "alice", "malware_scan", json.RawMessage(`{"quarantine": true, "paths": ["/var/www"]}`), tc.targets, "")
			if err != nil {
				t.Fatalf("Submit: %v", err)
			}
			if diff := cmp.Diff(tc.want, runHosts(t, st, tk.ID)); diff != "" {
				t.Errorf("runs (-want +got):\n%s", diff)
			}
			got, err := st.GetTask(ctx, tk.ID)
			if err != nil {
				t.Fatal(err)
			}
			if string(got.Params) != `{"paths":["/var/www"],"quarantine":true}` || got.CreatedBy != "alice" || got.Schedule != "" {
				t.Errorf("stored task %+v", got)
			}
			// The stored task is signed, and each run signs into an
			// envelope its host verifies.
			runs, _ := st.ListTaskRuns(ctx, tk.ID)
			payload, sig, err := signer.SignRun(ctx, got, runs[0])
			if err != nil {
				t.Fatalf("SignRun: %v", err)
			}
			v := task.Verifier{Key: signer.PublicKey(), HostID: runs[0].HostID}
			if _, p, err := v.Verify(payload, sig); err != nil || p.Type() != task.MalwareScan {
				t.Errorf("Verify: %v, %v", p, err)
			}
			es, _, err := st.ListAudit(ctx, store.AuditFilter{Object: "task:" + itoa(tk.ID)})
			if err != nil {
				t.Fatal(err)
			}
			if len(es) != 1 || es[0].Actor != "alice" || es[0].Action != ActionSubmit || !strings.Contains(string(es[0].Details), `"type":"malware_scan"`) {
				t.Errorf("audit %+v", es)
			}
		})
	}
}

func sorted(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestSubmitRefused(t *testing.T) {
	st, _ := fleet(t)
	c, _ := newCentre(t, st, &clock{now: t0})
	ctx := context.Background()
	prod := store.Targets{Groups: []string{"prod"}}
	tests := []struct {
		name     string
		actor    string
		typ      string
		params   string
		targets  store.Targets
		schedule string
		wantErr  string
		wantIs   error
	}{
		{name: "unknown_type", typ: "run_command", params: `{"cmd": "id"}`, targets: prod, wantIs: task.ErrUnknownType},
		{name: "bad_params", typ: "kill_process", params: `{"pid": 12}`, targets: prod, wantIs: task.ErrInvalidParams},
		{name: "unknown_param", typ: "collect", params: `{"shell": "sh"}`, targets: prod, wantIs: task.ErrInvalidParams},
		{name: "no_targets", typ: "collect", targets: store.Targets{}, wantErr: "no targets"},
		{name: "empty_target", typ: "collect", targets: store.Targets{Labels: []string{""}}, wantErr: "printable"},
		{name: "unknown_host", typ: "collect", targets: store.Targets{Hosts: []string{"nope"}}, wantErr: `unknown host "nope"`},
		{name: "no_matching_host", typ: "collect", targets: store.Targets{Groups: []string{"staging"}}, wantErr: "match no"},
		{name: "only_revoked", typ: "collect", targets: store.Targets{Hosts: []string{"old-1"}}, wantErr: "match no"},
		{name: "bad_schedule", typ: "collect", targets: prod, schedule: "61 * * * *", wantErr: "schedule"},
		{name: "six_fields", typ: "collect", targets: prod, schedule: "0 0 * * * *", wantErr: "schedule"},
		{name: "timezone", typ: "collect", targets: prod, schedule: "CRON_TZ=Asia/Tokyo 0 3 * * *", wantErr: "UTC"},
		{name: "tz_no_space", typ: "collect", targets: prod, schedule: "TZ=UTC", wantErr: "UTC"},
		{name: "too_often", typ: "collect", targets: prod, schedule: "@every 10s", wantErr: "at least every"},
		{name: "never", typ: "collect", targets: prod, schedule: "0 0 30 2 *", wantErr: "never fires"},
		{name: "no_actor", actor: "-", typ: "collect", targets: prod, wantErr: "no actor"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			actor := tc.actor
			switch actor {
			case "":
				actor = "alice"
			case "-":
				actor = ""
			}
			_, err := c.Submit(ctx, actor, tc.typ, json.RawMessage(tc.params), tc.targets, tc.schedule)
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.wantErr) || (tc.wantIs != nil && !errors.Is(err, tc.wantIs)) {
				t.Fatalf("Submit: error %v, want ErrInvalid containing %q (is %v)", err, tc.wantErr, tc.wantIs)
			}
		})
	}
	ts, err := st.ListTasks(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 0 {
		t.Errorf("refused submissions created %d tasks", len(ts))
	}
	es, _, _ := st.ListAudit(ctx, store.AuditFilter{Action: ActionSubmit})
	if len(es) != 0 {
		t.Errorf("refused submissions were audited as submitted: %+v", es)
	}
}

func TestSchedule(t *testing.T) {
	st, path := fleet(t)
	clk := &clock{now: t0.Add(10 * time.Minute)} // 12:10
	c, signer := newCentre(t, st, clk)
	ctx := context.Background()
	tk, err := c.Submit(ctx, "alice", "vuln_scan", nil, store.Targets{Labels: []string{"web"}}, "0 * * * *")
	if err != nil {
		t.Fatal(err)
	}
	if got := runHosts(t, st, tk.ID); len(got) != 0 {
		t.Fatalf("a scheduled task ran at once: %v", got)
	}
	due := func(c *Centre, at time.Time) time.Time {
		t.Helper()
		next, err := c.RunDue(ctx, at)
		if err != nil {
			t.Fatalf("RunDue(%s): %v", at.Format("15:04"), err)
		}
		return next
	}
	at := func(h, m int) time.Time { return time.Date(2026, 3, 1, h, m, 0, 0, time.UTC) }

	if next := due(c, at(12, 59)); !next.Equal(at(13, 0)) {
		t.Errorf("next slot %v, want 13:00", next)
	}
	if got := runHosts(t, st, tk.ID); len(got) != 0 {
		t.Fatalf("ran before its slot: %v", got)
	}
	if next := due(c, at(13, 0)); !next.Equal(at(14, 0)) {
		t.Errorf("next slot %v, want 14:00", next)
	}
	due(c, at(13, 30)) // the same slot again: nothing new
	want := []string{"web-1@13:00", "web-2@13:00"}
	if diff := cmp.Diff(want, runHosts(t, st, tk.ID)); diff != "" {
		t.Fatalf("runs after 13:00 (-want +got):\n%s", diff)
	}

	// A restarted server (new store connection, new centre, same key
	// file in real life: same signer here) does not run 13:00 again.
	st.Close()
	st2, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	c2 := New(st2, signer)
	c2.Now = clk.Now
	due(c2, at(13, 45))
	if diff := cmp.Diff(sorted(want), runHosts(t, st2, tk.ID)); diff != "" {
		t.Fatalf("runs after restart (-want +got):\n%s", diff)
	}
	// Down from 13:45 to 16:20: the 14:00, 15:00 and 16:00 slots are
	// caught up once, with 16:00.
	due(c2, at(16, 20))
	want = append(want, "web-1@16:00", "web-2@16:00")
	if diff := cmp.Diff(sorted(want), runHosts(t, st2, tk.ID)); diff != "" {
		t.Fatalf("runs after catching up (-want +got):\n%s", diff)
	}
	es, _, err := st2.ListAudit(ctx, store.AuditFilter{Action: ActionSchedule})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 2 || !strings.Contains(string(es[0].Details), `"missed_slots":2`) || es[0].Actor != "system" {
		t.Errorf("schedule audit %+v", es)
	}

	// A crash after marking the 17:00 slot but before creating its runs:
	// the next pass creates them, once.
	if err := c2.putSlot(ctx, tk.ID, slotState{Slot: at(17, 0), State: slotCreating}); err != nil {
		t.Fatal(err)
	}
	due(c2, at(17, 1))
	due(c2, at(17, 2))
	want = append(want, "web-1@17:00", "web-2@17:00")
	if diff := cmp.Diff(sorted(want), runHosts(t, st2, tk.ID)); diff != "" {
		t.Fatalf("runs after a half-done slot (-want +got):\n%s", diff)
	}
	// A crash after creating the runs but before confirming: no second set.
	if err := c2.putSlot(ctx, tk.ID, slotState{Slot: at(17, 0), State: slotCreating}); err != nil {
		t.Fatal(err)
	}
	due(c2, at(17, 3))
	if diff := cmp.Diff(sorted(want), runHosts(t, st2, tk.ID)); diff != "" {
		t.Fatalf("runs after a re-marked slot (-want +got):\n%s", diff)
	}

	// A scheduled task written to the store without the centre's
	// signature never runs.
	forged, err := st2.CreateTask(ctx, store.Task{Type: "collect", Params: json.RawMessage(`{}`), Targets: store.Targets{All: true},
		Schedule: "* * * * *", CreatedBy: "mallory", CreatedAt: at(17, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.RunDue(ctx, at(17, 5)); err == nil || !strings.Contains(err.Error(), "not signed") {
		t.Errorf("RunDue with a forged task: error %v, want not signed", err)
	}
	if got := runHosts(t, st2, forged.ID); len(got) != 0 {
		t.Errorf("forged task ran: %v", got)
	}
}

// TestRun checks the loop: started after a slot passed, it reads the
// scheduled task from the store and creates the slot's runs, then stops
// when its context ends.
func TestRun(t *testing.T) {
	st, _ := fleet(t)
	clk := &clock{now: t0}
	c, _ := newCentre(t, st, clk)
	ctx, cancel := context.WithCancel(context.Background())
	tk, err := c.Submit(ctx, "alice", "collect", json.RawMessage(`{"collectors":["packages"]}`), store.Targets{Hosts: []string{"db-1"}}, "@daily")
	if err != nil {
		t.Fatal(err)
	}
	clk.now = t0.Add(13 * time.Hour) // past midnight
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()
	var got []string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if got = runHosts(t, st, tk.ID); len(got) > 0 {
			break
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if diff := cmp.Diff([]string{"db-1@00:00"}, got); diff != "" {
		t.Errorf("runs (-want +got):\n%s", diff)
	}
}

// TestRunOnlyOnPrimary: a replica that does not hold the primary lease
// creates no scheduled runs; once the holder lets go, it takes the lease
// over and creates them.
func TestRunOnlyOnPrimary(t *testing.T) {
	st, _ := fleet(t)
	clk := &clock{now: t0}
	c, _ := newCentre(t, st, clk)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tk, err := c.Submit(ctx, "alice", "collect", json.RawMessage(`{"collectors":["packages"]}`), store.Targets{Hosts: []string{"db-1"}}, "@daily")
	if err != nil {
		t.Fatal(err)
	}
	clk.now = t0.Add(13 * time.Hour) // past midnight: a slot is due

	const ttl = 400 * time.Millisecond
	other := lease.New(st, "primary", ttl, nil) // the primary replica
	if ok, err := other.Try(ctx); !ok || err != nil {
		t.Fatalf("other replica takes the lease: %v, %v", ok, err)
	}
	mine := lease.New(st, "primary", ttl, nil)
	var asked atomic.Int32
	c.Primary = func() bool { asked.Add(1); return mine.Held() }
	go mine.Run(ctx)
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()
	for deadline := time.Now().Add(10 * time.Second); asked.Load() < 2; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Run never asked whether it is the primary")
		}
		other.Try(ctx) // keep it
	}
	if got := runHosts(t, st, tk.ID); len(got) != 0 {
		t.Fatalf("a standby replica created runs %v", got)
	}
	other.Release()
	var got []string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if got = runHosts(t, st, tk.ID); len(got) > 0 {
			break
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if diff := cmp.Diff([]string{"db-1@00:00"}, got); diff != "" {
		t.Errorf("runs after taking the lease over (-want +got):\n%s", diff)
	}
}

func TestParseSchedule(t *testing.T) {
	tests := map[string]string{ // spec → next after t0 (12:00 UTC), "" for an error
		"0 3 * * *":     "2026-03-02T03:00:00Z",
		"*/15 * * * *":  "2026-03-01T12:15:00Z",
		"30 12 * * MON": "2026-03-02T12:30:00Z",
		"@hourly":       "2026-03-01T13:00:00Z",
		"@every 2h":     "2026-03-01T14:00:00Z",
		"0 0 1 1 *":     "2027-01-01T00:00:00Z",
		"":              "",
		"* * *":         "",
		"0 0 * * 8":     "",
		"@every 59s":    "",
		"@reboot":       "",
		"*/0 * * * *":   "",
		"TZ=":           "",
		"0 0 31 4 *":    "",
		"0\n0 * * *":    "",
	}
	for spec, want := range tests {
		s, err := ParseSchedule(spec)
		if want == "" {
			if err == nil || !errors.Is(err, ErrInvalid) {
				t.Errorf("ParseSchedule(%q): error %v, want ErrInvalid", spec, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseSchedule(%q): %v", spec, err)
			continue
		}
		if got := s.Next(t0).Format(time.RFC3339); got != want {
			t.Errorf("ParseSchedule(%q).Next(t0) = %s, want %s", spec, got, want)
		}
	}
}

// FuzzParseSchedule checks the cron parser never panics or hangs on
// console input, and that what parses has a next slot.
func FuzzParseSchedule(f *testing.F) {
	for _, s := range []string{"0 3 * * *", "*/5 1-3 * JAN-MAR MON-FRI", "@daily", "@every 1h30m", "TZ=UTC", "CRON_TZ=", "1-2/0 * * * *", "0 0 30 2 *"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		s, err := ParseSchedule(spec)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if s.Next(t0).IsZero() {
			t.Fatalf("%q parsed but never fires after %v", spec, t0)
		}
	})
}

// TestExpireRuns: a dispatched run whose result never comes is failed as
// lost after its type's deadline, with an audit entry; a run still within
// its deadline, a finished run and a pending one are left alone.
func TestExpireRuns(t *testing.T) {
	st, _ := fleet(t)
	clk := &clock{now: t0}
	c, _ := newCentre(t, st, clk)
	ctx := context.Background()
	kill, err := c.Submit(ctx, "alice", "kill_process", json.RawMessage(`{"pid": 4242, "start_time": 123456}`), store.Targets{Hosts: []string{"web-1", "web-2", "db-1"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	scan, err := c.Submit(ctx, "alice", "malware_scan", json.RawMessage(`{"paths": ["/srv"]}`), store.Targets{Hosts: []string{"web-1"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	kr, _ := st.ListTaskRuns(ctx, kill.ID)
	sr, _ := st.ListTaskRuns(ctx, scan.ID)
	// The first kill run and the scan are sent and never answered; the
	// second kill run is answered; the third is never sent (its host is
	// offline).
	for _, id := range []int64{kr[0].ID, kr[1].ID, sr[0].ID} {
		if err := st.SetRunState(ctx, id, store.RunDispatched, t0, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.SetRunState(ctx, kr[1].ID, store.RunSucceeded, t0.Add(time.Second), json.RawMessage(`{}`)); err != nil {
		t.Fatal(err)
	}
	state := func(id int64, runs func() []store.TaskRun) store.TaskRun {
		for _, r := range runs() {
			if r.ID == id {
				return r
			}
		}
		t.Fatalf("run %d missing", id)
		return store.TaskRun{}
	}
	killRuns := func() []store.TaskRun { rs, _ := st.ListTaskRuns(ctx, kill.ID); return rs }
	scanRuns := func() []store.TaskRun { rs, _ := st.ListTaskRuns(ctx, scan.ID); return rs }

	killDeadline := task.ResultDeadline(task.KillProcess)
	if n, err := c.ExpireRuns(ctx, t0.Add(killDeadline-time.Second)); err != nil || n != 0 {
		t.Fatalf("before the deadline: %d expired, %v", n, err)
	}
	n, err := c.ExpireRuns(ctx, t0.Add(killDeadline))
	if err != nil || n != 1 {
		t.Fatalf("at the kill deadline: %d expired (%v), want 1", n, err)
	}
	lost := state(kr[0].ID, killRuns)
	if lost.State != store.RunFailed || !strings.Contains(string(lost.Output), `"lost":true`) || !lost.FinishedAt.Equal(t0.Add(killDeadline)) {
		t.Fatalf("lost run %+v", lost)
	}
	if r := state(kr[1].ID, killRuns); r.State != store.RunSucceeded {
		t.Fatalf("answered run became %s", r.State)
	}
	if r := state(kr[2].ID, killRuns); r.State != store.RunPending {
		t.Fatalf("pending run became %s", r.State)
	}
	if r := state(sr[0].ID, scanRuns); r.State != store.RunDispatched {
		t.Fatalf("a 2 h scan was failed after %v", killDeadline)
	}
	// The scan's deadline is its 2 h timeout plus the grace.
	if n, err := c.ExpireRuns(ctx, t0.Add(task.ResultDeadline(task.MalwareScan))); err != nil || n != 1 {
		t.Fatalf("at the scan deadline: %d expired, %v", n, err)
	}
	es, _, err := st.ListAudit(ctx, store.AuditFilter{Object: "task:" + itoa(kill.ID)})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 2 || es[0].Action != ActionRunLost || !strings.Contains(string(es[0].Details), `"host":"`+kr[0].HostID+`"`) {
		t.Fatalf("audit %+v", es)
	}
}
