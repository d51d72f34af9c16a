package enrich

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vigilsec/vigil/internal/event"
	"github.com/vigilsec/vigil/internal/procutil"
	"github.com/vigilsec/vigil/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// clock is a settable clock shared with the workers.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Unix(1_700_000_000, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newEnricher(t *testing.T, opts Options) *Enricher {
	t.Helper()
	e, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// liveProc reads pid from /proc as a sensor would see it.
func liveProc(t *testing.T, pid int) event.Process {
	t.Helper()
	p, err := newProcReader("/proc", bootID(t)).read(pid)
	if err != nil {
		t.Fatalf("read pid %d: %v", pid, err)
	}
	return p
}

func bootID(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimSpace(b))
}

// minimal is what the thinnest sensors report of a process.
func minimal(p event.Process) event.Process {
	return event.Process{PID: p.PID, TID: p.PID, StartTime: p.StartTime, ExecID: p.ExecID, UID: p.UID}
}

// startCmd starts a command and kills it at the end of the test.
func startCmd(t *testing.T, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd
}

// childOf waits for a child of ppid to appear in /proc.
func childOf(t *testing.T, ppid int) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		pids, _ := procutil.PIDs("/proc")
		for _, pid := range pids {
			b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
			if err != nil {
				continue
			}
			if st, err := parseStat(b); err == nil && st.ppid == ppid {
				return pid
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no child of %d within 10 s", ppid)
	return 0
}

// exeOf is the executable of pid as /proc shows it, without the
// " (deleted)" the kernel appends to unlinked (and memfd) files.
func exeOf(pid int) string {
	link, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	return strings.TrimSuffix(link, " (deleted)")
}

func userName(t *testing.T, uid uint32) string {
	u, err := user.LookupId(strconv.Itoa(int(uid)))
	if err != nil {
		return strconv.Itoa(int(uid))
	}
	return u.Username
}

// TestSeedAncestry seeds from the live /proc and checks that an event
// naming only this test process gets the ancestry /proc shows.
func TestSeedAncestry(t *testing.T) {
	e := newEnricher(t, Options{NoContainers: true, NoHash: true})
	n, err := e.Seed()
	if n == 0 {
		t.Fatalf("seeded nothing: %v", err)
	}
	if err != nil {
		t.Logf("seed: %v", err)
	}
	self := liveProc(t, os.Getpid())
	ev := &event.Event{Kind: event.File, Process: minimal(self)}
	e.Apply(ev)

	var want []int
	for pid := os.Getppid(); pid > 0 && len(want) < MaxAncestors; {
		want = append(want, pid)
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			t.Fatal(err)
		}
		st, err := parseStat(b)
		if err != nil {
			t.Fatal(err)
		}
		pid = st.ppid
	}
	var got []int
	for _, a := range ev.Process.Ancestors {
		got = append(got, a.PID)
		if a.Exe != exeOf(a.PID) {
			t.Errorf("ancestor %d: exe %q, /proc says %q", a.PID, a.Exe, exeOf(a.PID))
		}
	}
	if !slicesEqual(got, want) {
		t.Errorf("ancestors %v, /proc says %v", got, want)
	}
	exe, _ := os.Executable()
	p := ev.Process
	if p.Exe != exe || p.CWD == "" || len(p.Args) == 0 || p.PPID != os.Getppid() {
		t.Errorf("process = %+v; want exe %q, cwd, args and ppid %d from the table", p, exe, os.Getppid())
	}
	if p.User != userName(t, p.UID) || !p.HostPID || !p.HostNet || !p.HostMnt {
		t.Errorf("user %q, host ns %v/%v/%v; want %q and the host's namespaces", p.User, p.HostPID, p.HostNet, p.HostMnt, userName(t, p.UID))
	}
	if ev.Parent == nil || ev.Parent.PID != os.Getppid() || ev.Parent.Exe != exeOf(os.Getppid()) || ev.Parent.Ancestors != nil {
		t.Errorf("parent = %+v; want pid %d without ancestors", ev.Parent, os.Getppid())
	}
}

func slicesEqual(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestLifecycle follows `sh -c 'sleep 5; true'` through synthetic fork,
// exec and exit events built from /proc, then checks a late event.
func TestLifecycle(t *testing.T) {
	clk := newClock()
	e := newEnricher(t, Options{NoContainers: true, NoHash: true, Now: clk.Now, Grace: 30 * time.Second})
	if _, err := e.Seed(); err != nil {
		t.Logf("seed: %v", err)
	}
	self := liveProc(t, os.Getpid())
	testExe, _ := os.Executable()

	sh := startCmd(t, "sh", "-c", "sleep 5; true")
	shProc := liveProc(t, sh.Process.Pid)

	// fork: the child runs its parent's image until it execs.
	fork := &event.Event{Kind: event.Fork, Process: event.Process{
		PID: shProc.PID, PPID: os.Getpid(), StartTime: shProc.StartTime}}
	e.Apply(fork)
	if fork.Process.Exe != testExe || fork.Process.ParentExecID != self.ExecID || fork.Parent == nil || fork.Parent.PID != os.Getpid() {
		t.Fatalf("fork: exe %q parent %q; want the parent's image %q and parent %q", fork.Process.Exe, fork.Process.ParentExecID, testExe, self.ExecID)
	}
	if fork.Process.ExecID != shProc.ExecID {
		t.Fatalf("fork: exec ID %q, want %q", fork.Process.ExecID, shProc.ExecID)
	}

	// exec: the event's fields win and replace the image.
	ex := &event.Event{Kind: event.Exec, Process: shProc}
	ex.Process.ParentExecID = ""
	e.Apply(ex)
	got, ok := e.Table().Lookup(shProc.ExecID)
	if !ok || got.Process.Exe != "/usr/bin/dash" && got.Process.Exe != exeOf(shProc.PID) {
		t.Fatalf("table after exec: %+v, %v; want exe %q", got.Process, ok, exeOf(shProc.PID))
	}
	if got.PrevExe != testExe || got.Process.ParentExecID != self.ExecID {
		t.Errorf("after exec: previous image %q, parent %q; want %q, %q", got.PrevExe, got.Process.ParentExecID, testExe, self.ExecID)
	}
	if len(ex.Process.Ancestors) == 0 || ex.Process.Ancestors[0].ExecID != self.ExecID {
		t.Errorf("exec ancestors %+v; want this test process first", ex.Process.Ancestors)
	}

	// The sleep, as a thin sensor reports it.
	sleepPID := childOf(t, shProc.PID)
	var sleepProc event.Process
	deadline := time.Now().Add(10 * time.Second)
	for {
		sleepProc = liveProc(t, sleepPID)
		if sleepProc.Exe == "/usr/bin/sleep" || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.Apply(&event.Event{Kind: event.Fork, Process: event.Process{PID: sleepPID, PPID: shProc.PID, StartTime: sleepProc.StartTime}})
	sleepExec := &event.Event{Kind: event.Exec, Process: event.Process{
		PID: sleepPID, StartTime: sleepProc.StartTime, Exe: "/usr/bin/sleep", Args: []string{"sleep", "5"}, Cmdline: "sleep 5"}}
	e.Apply(sleepExec)
	sp := sleepExec.Process
	if sp.CWD != shProc.CWD || sp.ParentExecID != shProc.ExecID || sp.Exe != "/usr/bin/sleep" {
		t.Errorf("sleep exec = %+v; want cwd %q inherited and parent %q", sp, shProc.CWD, shProc.ExecID)
	}
	if len(sp.Ancestors) < 2 || sp.Ancestors[0].PID != shProc.PID || sp.Ancestors[1].PID != os.Getpid() {
		t.Errorf("sleep ancestors %+v; want sh, then this test", sp.Ancestors)
	}

	conn := &event.Event{Kind: event.Connect, Process: minimal(sleepProc),
		Net: &event.Network{Family: "ipv4", Protocol: "tcp", DstIP: "127.0.0.1", DstPort: 9}}
	e.Apply(conn)
	if conn.Process.Exe != "/usr/bin/sleep" || conn.Process.Cmdline != "sleep 5" || conn.Parent == nil ||
		conn.Parent.Exe != got.Process.Exe || !conn.Net.Loopback || conn.Net.Internal {
		t.Errorf("connect = %+v parent %+v net %+v", conn.Process, conn.Parent, conn.Net)
	}

	// Exit, then a late event within the grace period.
	syscall.Kill(sleepPID, syscall.SIGKILL)
	sh.Process.Kill()
	sh.Wait()
	e.Apply(&event.Event{Kind: event.Exit, Process: event.Process{PID: sleepPID, StartTime: sleepProc.StartTime, ExitCode: 137}})
	clk.Add(10 * time.Second)
	late := &event.Event{Kind: event.File, Process: minimal(sleepProc), File: &event.FileInfo{Op: event.OpOpenRead, Path: "/etc/shadow"}}
	e.Apply(late)
	if late.Process.Exe != "/usr/bin/sleep" || late.Parent == nil || late.Parent.PID != shProc.PID {
		t.Errorf("late event within grace: %+v parent %+v; want sleep with parent sh", late.Process, late.Parent)
	}
	// Past the grace, the process is gone from the table and /proc.
	clk.Add(25 * time.Second)
	e.Apply(&event.Event{Kind: event.File, Process: minimal(self)}) // sweeps
	waitGone(t, sleepPID, sleepProc.StartTime)
	gone := &event.Event{Kind: event.File, Process: minimal(sleepProc)}
	e.Apply(gone)
	if gone.Process.Exe != "" {
		t.Errorf("event after the grace resolved to %q; the process is gone", gone.Process.Exe)
	}
	if s := e.Stats(); s.Unresolved == 0 || s.Table.Expired == 0 {
		t.Errorf("stats %+v; want an unresolved event and an expired entry", s)
	}
}

// waitGone waits until pid no longer runs the process started at start.
func waitGone(t *testing.T, pid int, start uint64) {
	t.Helper()
	r := newProcReader("/proc", "")
	for range 500 {
		if st, err := r.startTime(pid); err != nil || st != start {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("pid %d still runs", pid)
}

// TestLazy checks that a process whose exec was missed is read from /proc
// on its first event, and that a start time mismatch is not.
func TestLazy(t *testing.T) {
	e := newEnricher(t, Options{NoContainers: true, NoHash: true})
	if _, err := e.Seed(); err != nil {
		t.Logf("seed: %v", err)
	}
	cmd := startCmd(t, "sleep", "5")
	p := liveProc(t, cmd.Process.Pid)
	wrong := &event.Event{Kind: event.File, Process: event.Process{PID: p.PID, StartTime: p.StartTime + 1}}
	e.Apply(wrong)
	if wrong.Process.Exe != "" {
		t.Errorf("event with another start time got exe %q", wrong.Process.Exe)
	}
	ev := &event.Event{Kind: event.File, Process: event.Process{PID: p.PID, StartTime: p.StartTime}}
	e.Apply(ev)
	if ev.Process.Exe != "/usr/bin/sleep" || ev.Process.ExecID != p.ExecID || ev.Parent == nil || ev.Parent.PID != os.Getpid() {
		t.Errorf("lazy: %+v parent %+v", ev.Process, ev.Parent)
	}
	if s := e.Stats(); s.Lazy != 1 || s.LazyMissed != 1 {
		t.Errorf("stats %+v; want 1 lazy and 1 missed", s)
	}
	// A PID-only event resolves too.
	byPID := &event.Event{Kind: event.Connect, Process: event.Process{PID: p.PID}}
	e.Apply(byPID)
	if byPID.Process.ExecID != p.ExecID {
		t.Errorf("PID-only event got exec ID %q, want %q", byPID.Process.ExecID, p.ExecID)
	}
	// A PID from a record written before the process started (a log line
	// read late) names an earlier process that had the PID: not this one.
	stale := &event.Event{Kind: event.Auth, Time: time.Now().Add(-time.Hour), Process: event.Process{PID: p.PID}}
	e.Apply(stale)
	if stale.Process.ExecID != "" || stale.Process.Exe != "" || stale.Parent != nil {
		t.Errorf("record older than the process got %+v parent %+v", stale.Process, stale.Parent)
	}
	recent := &event.Event{Kind: event.Auth, Time: time.Now(), Process: event.Process{PID: p.PID}}
	e.Apply(recent)
	if recent.Process.ExecID != p.ExecID {
		t.Errorf("record of the process's lifetime got exec ID %q, want %q", recent.Process.ExecID, p.ExecID)
	}
}

func TestUsersReload(t *testing.T) {
	clk := newClock()
	passwd := filepath.Join(t.TempDir(), "passwd")
	if err := os.WriteFile(passwd, []byte("root:x:0:0:root:/root:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e := newEnricher(t, Options{NoContainers: true, NoHash: true, Now: clk.Now, PasswdPath: passwd, BootID: testBoot})
	apply := func() *event.Event {
		ev := &event.Event{Kind: event.Auth, Process: event.Process{UID: 4242, EUID: 0}}
		e.Apply(ev)
		return ev
	}
	if ev := apply(); ev.Process.User != "4242" || ev.Process.EUser != "root" {
		t.Fatalf("user %q euser %q; want 4242, root", ev.Process.User, ev.Process.EUser)
	}
	if err := os.WriteFile(passwd, []byte("root:x:0:0:root:/root:/bin/sh\nalice:x:4242:4242::/home/alice:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	future := time.Now().Add(time.Hour)
	os.Chtimes(passwd, future, future)
	clk.Add(2 * userCheckEvery)
	if ev := apply(); ev.Process.User != "alice" {
		t.Errorf("after passwd changed: user %q, want alice", ev.Process.User)
	}
}

func TestNetwork(t *testing.T) {
	e := newEnricher(t, Options{NoContainers: true, NoHash: true, BootID: testBoot,
		InternalCIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}})
	tests := []struct {
		name                   string
		kind                   event.Kind
		src, dst               string
		wantInternal, wantLoop bool
	}{
		{name: "connect_internal", kind: event.Connect, dst: "10.1.2.3", wantInternal: true},
		{name: "connect_internal_v6", kind: event.Connect, dst: "fd12::1", wantInternal: true},
		{name: "connect_external", kind: event.Connect, dst: "192.0.2.1"},
		{name: "connect_loopback_mapped", kind: event.Connect, dst: "::ffff:127.0.0.1", wantLoop: true},
		{name: "connect_loopback_v6", kind: event.Connect, dst: "::1", wantLoop: true},
		{name: "accept_judges_source", kind: event.Accept, src: "10.9.9.9", dst: "192.0.2.1", wantInternal: true},
		{name: "accept_external_source", kind: event.Accept, src: "192.0.2.1", dst: "10.0.0.1"},
		{name: "listen_has_no_remote", kind: event.Listen, src: "127.0.0.1", dst: "127.0.0.1"},
		{name: "garbage", kind: event.Connect, dst: "not-an-ip"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := &event.Event{Kind: tc.kind, Net: &event.Network{SrcIP: tc.src, DstIP: tc.dst}}
			e.Apply(ev)
			if ev.Net.Internal != tc.wantInternal || ev.Net.Loopback != tc.wantLoop {
				t.Errorf("internal %v loopback %v; want %v %v", ev.Net.Internal, ev.Net.Loopback, tc.wantInternal, tc.wantLoop)
			}
		})
	}
}

// TestHostNamespaces runs a process in new network and mount namespaces.
func TestHostNamespaces(t *testing.T) {
	testutil.RequireRoot(t)
	unshare := testutil.RequireCommand(t, "unshare")
	e := newEnricher(t, Options{NoContainers: true, NoHash: true})
	cmd := startCmd(t, unshare, "--net", "--mount", "sleep", "5")
	var p event.Process
	for range 500 {
		p = liveProc(t, cmd.Process.Pid)
		if p.Exe == "/usr/bin/sleep" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	ev := &event.Event{Kind: event.File, Process: minimal(p)}
	e.Apply(ev)
	if ev.Process.NetNS == 0 || ev.Process.HostNet || ev.Process.HostMnt || !ev.Process.HostPID {
		t.Errorf("net ns %d: host net %v, host mnt %v, host pid %v; want false, false, true",
			ev.Process.NetNS, ev.Process.HostNet, ev.Process.HostMnt, ev.Process.HostPID)
	}
}

// TestCredentials checks that the table never puts back credentials a
// process dropped or gained since its exec.
func TestCredentials(t *testing.T) {
	e := newEnricher(t, Options{NoContainers: true, NoHash: true, BootID: testBoot, PasswdPath: "/nonexistent"})
	p := proc(1<<22+5, 77, nil)
	p.UID, p.EUID, p.GID, p.EGID, p.AUID = 1000, 1000, 1000, 1000, 1000
	e.Apply(&event.Event{Kind: event.Exec, Process: *p})

	same := &event.Event{Kind: event.File, Process: event.Process{PID: p.PID, ExecID: p.ExecID, UID: 1000}}
	e.Apply(same)
	if q := same.Process; q.EUID != 1000 || q.GID != 1000 || q.EGID != 1000 || q.AUID != 1000 {
		t.Errorf("same uid: %+v; want the table's credentials", q)
	}
	changed := &event.Event{Kind: event.File, Process: event.Process{PID: p.PID, ExecID: p.ExecID, UID: 0}}
	e.Apply(changed)
	if q := changed.Process; q.UID != 0 || q.EUID != 0 || q.GID != 0 {
		t.Errorf("after setuid(0): uid %d euid %d gid %d; want the event's 0s", q.UID, q.EUID, q.GID)
	}
	e.Apply(&event.Event{Kind: event.SetID, Process: event.Process{PID: p.PID, ExecID: p.ExecID, UID: 1000},
		Cred: &event.CredInfo{Syscall: "setresuid", OldUID: 1000, OldEUID: 1000, NewGID: 1000, NewEGID: 1000, OldGID: 1000, OldEGID: 1000}})
	if got, _ := e.Table().Lookup(p.ExecID); got.Process.UID != 0 || got.Process.EUID != 0 {
		t.Errorf("after setid event the table says uid %d euid %d, want 0 0", got.Process.UID, got.Process.EUID)
	}
	if ev := (&event.Event{Kind: event.File, Process: event.Process{PID: p.PID, ExecID: p.ExecID}}); true {
		e.Apply(ev)
		if ev.Process.GID != 1000 || ev.Process.User != "0" {
			t.Errorf("after setid: gid %d user %q; want 1000 and 0", ev.Process.GID, ev.Process.User)
		}
	}
}

// TestExeHash checks the asynchronous hash: a later event of the process
// carries it, and an exec of the same file carries it at once.
func TestExeHash(t *testing.T) {
	e := newEnricher(t, Options{NoContainers: true})
	want := fileSHA256(t, "/usr/bin/sleep")
	first := liveProc(t, startCmd(t, "sleep", "5").Process.Pid)
	ev := &event.Event{Kind: event.Exec, Process: first}
	e.Apply(ev)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if got, _ := e.Table().Lookup(first.ExecID); got.Process.ExeHash == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no hash within 10 s; stats %+v", e.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	later := &event.Event{Kind: event.Connect, Process: minimal(first), Net: &event.Network{DstIP: "127.0.0.1"}}
	e.Apply(later)
	if later.Process.ExeHash != want {
		t.Errorf("later event hash %q, want %q", later.Process.ExeHash, want)
	}
	second := liveProc(t, startCmd(t, "sleep", "5").Process.Pid)
	ev2 := &event.Event{Kind: event.Exec, Process: second}
	e.Apply(ev2)
	if ev2.Process.ExeHash != want {
		t.Errorf("exec of a file hashed before: hash %q, want %q", ev2.Process.ExeHash, want)
	}
	if s := e.Stats(); s.Hashed != 1 {
		t.Errorf("hashed %d files, want 1", s.Hashed)
	}
}

func fileSHA256(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func TestPtraceTarget(t *testing.T) {
	e := newEnricher(t, Options{NoContainers: true, NoHash: true})
	target := liveProc(t, startCmd(t, "sleep", "5").Process.Pid)
	self := liveProc(t, os.Getpid())
	ev := &event.Event{Kind: event.Ptrace, Process: minimal(self),
		Target: &event.Process{PID: target.PID}, Ptrace: &event.PtraceOp{Request: "PTRACE_ATTACH"}}
	e.Apply(ev)
	if ev.Target.Exe != "/usr/bin/sleep" || ev.Target.ExecID != target.ExecID || ev.Target.User != userName(t, target.UID) {
		t.Errorf("target = %+v; want sleep with exec ID %q", ev.Target, target.ExecID)
	}
	if ev.Target.Ancestors != nil {
		t.Error("target has ancestors; only the acting process does")
	}
}
