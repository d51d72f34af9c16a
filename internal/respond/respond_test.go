package respond

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/event"
	"github.com/vigilsec/vigil/internal/respond/audit"
	"github.com/vigilsec/vigil/internal/respond/execguard"
	"github.com/vigilsec/vigil/internal/respond/kill"
	"github.com/vigilsec/vigil/internal/respond/netblock"
	"github.com/vigilsec/vigil/internal/respond/quarantine"
	"github.com/vigilsec/vigil/internal/testutil"
)

func newResponder(t *testing.T) (*Responder, string) {
	t.Helper()
	data := t.TempDir()
	log, err := audit.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	return &Responder{Audit: log}, data
}

func newAlert(action string) *alert.Alert {
	return &alert.Alert{ID: alert.NewID(), Rule: alert.Rule{ID: "test.rule"}, Response: alert.Response{Action: action, Result: "pending"}}
}

// procEvent starts a command and describes it as the sensor would.
func procEvent(t *testing.T, name string, args ...string) (*exec.Cmd, *event.Event) {
	t.Helper()
	cmd := exec.Command(name, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	b, err := os.ReadFile("/proc/" + itoa(cmd.Process.Pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	st, err := kill.ParseStat(b)
	if err != nil {
		t.Fatal(err)
	}
	boot, err := kill.BootID()
	if err != nil {
		t.Fatal(err)
	}
	exe, _ := os.Readlink("/proc/" + itoa(cmd.Process.Pid) + "/exe")
	return cmd, &event.Event{Kind: event.Exec, Process: event.Process{
		PID: cmd.Process.Pid, StartTime: st.StartTime, Exe: exe,
		ExecID: event.ExecID(boot, st.StartTime, cmd.Process.Pid),
	}}
}

func itoa(i int) string { return strconv.Itoa(i) }

func wantKilled(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Errorf("process ended with %v, want SIGKILL", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("process still running 10 s after the response")
	}
}

func wantAudit(t *testing.T, data string, want ...string) {
	t.Helper()
	recs, err := audit.ReadFile(data)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, r.Action+":"+r.Result)
		if r.AlertID == "" || r.RuleID != "test.rule" {
			t.Errorf("audit record without alert/rule: %+v", r)
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("audit %q, want %q", got, want)
	}
}

func TestKill(t *testing.T) {
	r, data := newResponder(t)
	cmd, ev := procEvent(t, "sleep", "300")
	if got := r.Do(context.Background(), newAlert(ActionKill), ev); got.Result != "ok" {
		t.Fatalf("Result %q", got.Result)
	}
	wantKilled(t, cmd)
	// Gone now: the second attempt fails and says why.
	if got := r.Do(context.Background(), newAlert(ActionKill), ev); !strings.HasPrefix(got.Result, "failed: ") {
		t.Errorf("Result %q, want failed", got.Result)
	}
	wantAudit(t, data, "kill:ok", "kill:failed")
}

func TestKillTree(t *testing.T) {
	r, data := newResponder(t)
	cmd, ev := procEvent(t, "sh", "-c", "sleep 300 & sleep 300 & wait")
	children := "/proc/" + itoa(ev.Process.PID) + "/task/" + itoa(ev.Process.PID) + "/children"
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if b, _ := os.ReadFile(children); len(strings.Fields(string(b))) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the shell did not start its two children")
		}
	}
	got := r.Do(context.Background(), newAlert(ActionKillTree), ev)
	if got.Result != "ok" {
		t.Fatalf("Result %q", got.Result)
	}
	wantKilled(t, cmd)
	wantAudit(t, data, "kill_tree:ok")
}

func TestNotPendingAndNone(t *testing.T) {
	r, data := newResponder(t)
	_, ev := procEvent(t, "sleep", "300")
	a := newAlert(ActionKill)
	a.Response.Result = "alert_only"
	if got := r.Do(context.Background(), a, ev); got != a.Response {
		t.Errorf("non-pending response changed: %+v", got)
	}
	if got := r.Do(context.Background(), newAlert(ActionNone), ev); !strings.HasPrefix(got.Result, "skipped: ") {
		t.Errorf("none: Result %q", got.Result)
	}
	if got := r.Do(context.Background(), newAlert("reboot"), ev); !strings.HasPrefix(got.Result, "failed: unknown action") {
		t.Errorf("unknown action: Result %q", got.Result)
	}
	if got := r.Do(context.Background(), newAlert(ActionBlockConnect), ev); !strings.HasPrefix(got.Result, "skipped: ") {
		t.Errorf("block without blocker: Result %q", got.Result)
	}
	wantAudit(t, data, "none:skipped", "reboot:failed", "block_connect:skipped")
}

func tmpfs(t *testing.T) string {
	t.Helper()
	testutil.RequireRoot(t)
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=64m,mode=0755"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	return dir
}

func copyExe(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

func startGuard(t *testing.T, dir string) *execguard.ExecGuard {
	t.Helper()
	g := execguard.New(execguard.Config{Mounts: []string{dir}})
	ctx, cancel := context.WithCancel(context.Background())
	if err := g.Start(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		g.Wait()
	})
	return g
}

func TestDenyExec(t *testing.T) {
	dir := tmpfs(t)
	evil, twin := filepath.Join(dir, "evil"), filepath.Join(dir, "twin")
	copyExe(t, "/bin/sleep", evil)
	copyExe(t, "/bin/sleep", twin)
	r, data := newResponder(t)
	r.Guard = startGuard(t, dir)
	cmd, ev := procEvent(t, evil, "300")
	if got := r.Do(context.Background(), newAlert(ActionDenyExec), ev); got.Result != "ok" {
		t.Fatalf("Result %q", got.Result)
	}
	wantKilled(t, cmd)
	for _, p := range []string{evil, twin} {
		if err := exec.Command(p, "0").Run(); !errors.Is(err, syscall.EPERM) {
			t.Errorf("exec %s: err = %v, want EPERM", p, err)
		}
	}
	if err := exec.Command("/bin/sleep", "0").Run(); err != nil {
		t.Errorf("/bin/sleep: %v", err)
	}
	wantAudit(t, data, "deny_exec:ok")
}

func TestBlockConnect(t *testing.T) {
	testutil.RequireBPF(t)
	b, err := netblock.OpenBPF("")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ln, err := net.Listen("tcp", "127.0.0.7:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	r, data := newResponder(t)
	r.Net = b
	r.BlockDuration = func(*alert.Alert) time.Duration { return time.Minute }
	ev := &event.Event{Kind: event.Connect, Net: &event.Network{Family: "ipv4", Protocol: "tcp", DstIP: "127.0.0.7", DstPort: 4444}}
	if got := r.Do(context.Background(), newAlert(ActionBlockConnect), ev); got.Result != "ok" {
		t.Fatalf("Result %q", got.Result)
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second); !errors.Is(err, syscall.EPERM) {
		t.Errorf("connect: err = %v, want EPERM", err)
	}
	list, _ := b.List()
	if len(list) != 1 || list[0].IP != netip.MustParseAddr("127.0.0.7") || time.Until(list[0].Expires) > time.Minute {
		t.Errorf("List = %+v, want 127.0.0.7 for a minute", list)
	}
	wantAudit(t, data, "block_connect:ok")
}

func TestQuarantineFile(t *testing.T) {
	r, data := newResponder(t)
	s, err := quarantine.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	r.Quarantine = s
	p := filepath.Join(t.TempDir(), "dropper.sh")
	os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755)
	ev := &event.Event{Kind: event.File, Process: event.Process{PID: 1, Exe: "/usr/bin/curl"}, File: &event.FileInfo{Op: event.OpCreate, Path: p}}
	if got := r.Do(context.Background(), newAlert(ActionQuarantine), ev); got.Result != "ok" {
		t.Fatalf("Result %q", got.Result)
	}
	if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("file still at %s", p)
	}
	list, err := s.List()
	if err != nil || len(list) != 1 || list[0].OriginalPath != p {
		t.Errorf("List = %+v, %v", list, err)
	}
	wantAudit(t, data, "quarantine:ok")
}

// Quarantining a running executable also ends its process and, with the
// guard, blocks its content from exec.
func TestQuarantineExe(t *testing.T) {
	dir := tmpfs(t)
	evil := filepath.Join(dir, "miner")
	copyExe(t, "/bin/sleep", evil)
	r, data := newResponder(t)
	r.Guard = startGuard(t, dir)
	s, err := quarantine.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	s.Guard = r.Guard
	r.Quarantine = s
	cmd, ev := procEvent(t, evil, "300")
	if got := r.Do(context.Background(), newAlert(ActionQuarantine), ev); got.Result != "ok" {
		t.Fatalf("Result %q", got.Result)
	}
	wantKilled(t, cmd)
	copyExe(t, "/bin/sleep", evil) // dropped again
	if err := exec.Command(evil, "0").Run(); !errors.Is(err, syscall.EPERM) {
		t.Errorf("exec of re-dropped file: err = %v, want EPERM", err)
	}
	wantAudit(t, data, "quarantine:ok")
}

// recordingBlocker remembers what it was asked to block.
type recordingBlocker struct{ blocked []netip.Addr }

func (b *recordingBlocker) Block(ip netip.Addr, _ time.Duration) error {
	b.blocked = append(b.blocked, ip)
	return nil
}
func (b *recordingBlocker) Unblock(netip.Addr) error        { return nil }
func (b *recordingBlocker) List() ([]netblock.Entry, error) { return nil, nil }
func (b *recordingBlocker) Mode() string                    { return "recording" }
func (b *recordingBlocker) Close() error                    { return nil }

// block_ip goes to the inbound blocker (the BPF blocker sees only
// connects and sends); block_connect stays with Net.
func TestBlockIPUsesInbound(t *testing.T) {
	r, _ := newResponder(t)
	out, in := &recordingBlocker{}, &recordingBlocker{}
	r.Net, r.Inbound = out, in
	auth := &event.Event{Kind: event.Auth, Auth: &event.AuthInfo{Service: "sshd", Outcome: "failure", SrcIP: "192.0.2.9"}}
	if got := r.Do(context.Background(), newAlert(ActionBlockIP), auth); got.Result != "ok" {
		t.Fatalf("block_ip: %q", got.Result)
	}
	conn := &event.Event{Kind: event.Connect, Net: &event.Network{Family: "ipv4", Protocol: "tcp", DstIP: "192.0.2.10", DstPort: 4444}}
	if got := r.Do(context.Background(), newAlert(ActionBlockConnect), conn); got.Result != "ok" {
		t.Fatalf("block_connect: %q", got.Result)
	}
	if len(in.blocked) != 1 || in.blocked[0].String() != "192.0.2.9" || len(out.blocked) != 1 || out.blocked[0].String() != "192.0.2.10" {
		t.Errorf("inbound %v, outbound %v; want 192.0.2.9 inbound, 192.0.2.10 outbound", in.blocked, out.blocked)
	}
}
