package process

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/vigilsec/vigil/internal/event"
	"github.com/vigilsec/vigil/internal/sensor"
	"github.com/vigilsec/vigil/internal/testutil"
)

// collector is a sink that keeps every event.
type collector struct {
	mu     sync.Mutex
	events []*event.Event
	refuse bool
}

func (c *collector) Emit(ev *event.Event) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.refuse {
		return false
	}
	c.events = append(c.events, ev)
	return true
}

// waitFor polls for up to 10 s for an event matching match.
func (c *collector) waitFor(t *testing.T, what string, match func(*event.Event) bool) *event.Event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		for _, ev := range c.events {
			if match(ev) {
				c.mu.Unlock()
				return ev
			}
		}
		c.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no %s event within 10 s", what)
	return nil
}

func startSensor(t *testing.T, cfg Config) (*Sensor, *collector) {
	t.Helper()
	testutil.RequireBPF(t)
	s := New(cfg)
	c := &collector{}
	if err := s.Start(context.Background(), c); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, c
}

func bootID(t *testing.T) string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func execOf(pid int) func(*event.Event) bool {
	return func(ev *event.Event) bool { return ev.Kind == event.Exec && ev.Process.PID == pid }
}

func TestStatus(t *testing.T) {
	s, _ := startSensor(t, Config{})
	st := s.Status()
	if st.Name != Name || st.Mode != sensor.ModeEBPF {
		t.Fatalf("status %+v, want name %q mode ebpf", st, Name)
	}
	for _, want := range []string{"tp_btf/sched_process_exec", "tp_btf/sched_process_fork", "tp_btf/sched_process_exit",
		"tracepoint/syscalls/sys_enter_ptrace", "tracepoint/syscalls/sys_exit_setuid", "tracepoint/syscalls/sys_enter_memfd_create"} {
		if !slices.Contains(st.Attach, want) {
			t.Errorf("Attach %v lacks %q", st.Attach, want)
		}
	}
}

func TestExec(t *testing.T) {
	_, c := startSensor(t, Config{})
	dir := t.TempDir()
	cmd := exec.Command("/bin/sleep", "30", "two words")
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	ev := c.waitFor(t, "exec", execOf(cmd.Process.Pid))

	boot := bootID(t)
	childStart, err := readStartTime("/proc", cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	selfStart, err := readStartTime("/proc", os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Stat("/usr/bin/sleep", &st); err != nil {
		t.Fatal(err)
	}
	auid := uint32(4294967295)
	if b, err := os.ReadFile("/proc/self/loginuid"); err == nil {
		n, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32)
		auid = uint32(n)
	}
	var caps unix.CapUserData
	unix.Capget(&unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_1}, &caps)
	p := ev.Process
	want := event.Process{
		PID: cmd.Process.Pid, TID: cmd.Process.Pid, PPID: os.Getpid(),
		ExecID:       event.ExecID(boot, childStart, cmd.Process.Pid),
		ParentExecID: event.ExecID(boot, selfStart, os.Getpid()),
		Exe:          "/usr/bin/sleep", Name: "sleep",
		Args: []string{"/bin/sleep", "30", "two words"}, Cmdline: "/bin/sleep 30 two words",
		CWD: dir, UID: 0, EUID: 0, GID: 0, EGID: 0, AUID: auid,
		CgroupID: p.CgroupID, StartTime: childStart,
		ExeDev: st.Dev, ExeInode: st.Ino, ExeCtime: st.Ctim.Nano(),
		Stdin: "null", Stdout: "null", Stderr: "null",
		PIDNS: nsInode(t, "pid"), MntNS: nsInode(t, "mnt"), NetNS: nsInode(t, "net"),
		HostPID: true, HostNet: true, HostMnt: true,
		CapEff: p.CapEff,
	}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("exec process (-want +got):\n%s", diff)
	}
	if p.CapEff == 0 || p.CgroupID == 0 {
		t.Errorf("CapEff %#x CgroupID %d, want both set for a root process", p.CapEff, p.CgroupID)
	}
	if ev.Parent == nil || ev.Parent.PID != os.Getpid() || ev.Parent.ExecID != want.ParentExecID {
		t.Errorf("Parent %+v, want pid %d exec id %s", ev.Parent, os.Getpid(), want.ParentExecID)
	}
	if ev.Source != "ebpf" || time.Since(ev.Time).Abs() > time.Minute {
		t.Errorf("Source %q Time %v, want ebpf and about now", ev.Source, ev.Time)
	}
}

// nsInode is this process's namespace inode (the test runs in the host's).
func nsInode(t *testing.T, ns string) uint32 {
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/"+ns, &st); err != nil {
		t.Fatal(err)
	}
	return uint32(st.Ino)
}

func TestForkExit(t *testing.T) {
	_, c := startSensor(t, Config{})
	cmd := exec.Command("/bin/sh", "-c", "/bin/true; exit 3")
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("sh: %v, want exit status 3", err)
	}
	sh := cmd.Process.Pid
	exit := c.waitFor(t, "exit", func(ev *event.Event) bool { return ev.Kind == event.Exit && ev.Process.PID == sh })
	if exit.Process.ExitCode != 3 || exit.Process.Exe != "/usr/bin/dash" {
		t.Errorf("exit: code %d exe %q, want 3 and /usr/bin/dash", exit.Process.ExitCode, exit.Process.Exe)
	}
	fork := c.waitFor(t, "fork", func(ev *event.Event) bool { return ev.Kind == event.Fork && ev.Process.PPID == sh })
	shExec := c.waitFor(t, "exec of sh", execOf(sh))
	if fork.Process.ParentExecID != shExec.Process.ExecID || fork.Process.Exe != "/usr/bin/dash" ||
		fork.Process.ExecID == "" || fork.Process.PID == sh {
		t.Errorf("fork %+v, want a child of %s with exe /usr/bin/dash", fork.Process, shExec.Process.ExecID)
	}
	childExec := c.waitFor(t, "exec of true", execOf(fork.Process.PID))
	if childExec.Process.ExecID != fork.Process.ExecID || childExec.Process.Exe != "/usr/bin/true" {
		t.Errorf("exec after fork: %s %q, want exec id %s and /usr/bin/true", childExec.Process.ExecID, childExec.Process.Exe, fork.Process.ExecID)
	}
	c.waitFor(t, "exit of true", func(ev *event.Event) bool {
		return ev.Kind == event.Exit && ev.Process.PID == fork.Process.PID && ev.Process.ExitCode == 0
	})
}

// TestExecSocketStdio checks the stdio types at exec: a Unix socketpair
// (how process managers such as Node's child_process pass stdio) is
// "unix", a TCP connection (a reverse shell's) is "socket".
func TestExecSocketStdio(t *testing.T) {
	_, c := startSensor(t, Config{})
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, b := os.NewFile(uintptr(fds[0]), "a"), os.NewFile(uintptr(fds[1]), "b")
	defer a.Close()
	defer b.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tcp, err := conn.(*net.TCPConn).File()
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	errf, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer errf.Close()
	for _, tc := range []struct {
		in, out *os.File
		want    [3]string
	}{
		{a, a, [3]string{"unix", "unix", "file"}},
		{tcp, tcp, [3]string{"socket", "socket", "file"}},
	} {
		cmd := exec.Command("/bin/true")
		cmd.Stdin, cmd.Stdout, cmd.Stderr = tc.in, tc.out, errf
		if err := cmd.Run(); err != nil {
			t.Fatal(err)
		}
		ev := c.waitFor(t, "exec", execOf(cmd.Process.Pid))
		got := [3]string{ev.Process.Stdin, ev.Process.Stdout, ev.Process.Stderr}
		if got != tc.want {
			t.Errorf("stdio %q, want %q", got, tc.want)
		}
	}
}

func TestExecDeleted(t *testing.T) {
	_, c := startSensor(t, Config{})
	path := copyFile(t, "/bin/true", "gone-true")
	cmd := helper("execfd", path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("helper: %v: %s", err, out)
	}
	ev := c.waitFor(t, "exec", func(ev *event.Event) bool {
		return ev.Kind == event.Exec && ev.Process.PID == cmd.Process.Pid && ev.Process.Name != "process.test"
	})
	p := ev.Process
	if p.Exe != path || !p.ExeDeleted || p.ExeMemfd || !slices.Equal(p.Args, []string{"deleted-exe", "arg1"}) {
		t.Errorf("exe %q deleted %v memfd %v args %q, want %q deleted, not memfd, [deleted-exe arg1]", p.Exe, p.ExeDeleted, p.ExeMemfd, p.Args, path)
	}
}

func TestExecMemfd(t *testing.T) {
	_, c := startSensor(t, Config{})
	cmd := helper("memfd", "vigil-fileless")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("helper: %v: %s", err, out)
	}
	pid := cmd.Process.Pid
	mfd := c.waitFor(t, "memfd", func(ev *event.Event) bool { return ev.Kind == event.Memfd && ev.Process.PID == pid })
	if mfd.Memfd == nil || *mfd.Memfd != (event.MemfdInfo{Name: "vigil-fileless", Flags: 0}) {
		t.Errorf("memfd %+v, want name vigil-fileless flags 0", mfd.Memfd)
	}
	ev := c.waitFor(t, "exec", func(ev *event.Event) bool {
		return ev.Kind == event.Exec && ev.Process.PID == pid && ev.Process.Args[0] == "fileless"
	})
	p := ev.Process
	if p.Exe != "/memfd:vigil-fileless" || !p.ExeMemfd || !p.ExeDeleted {
		t.Errorf("exe %q memfd %v deleted %v, want /memfd:vigil-fileless, memfd, deleted", p.Exe, p.ExeMemfd, p.ExeDeleted)
	}
}

func TestSetID(t *testing.T) {
	_, c := startSensor(t, Config{})
	cmd := helper("setid")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("helper: %v: %s", err, out)
	}
	pid := cmd.Process.Pid
	ev := c.waitFor(t, "setuid", func(ev *event.Event) bool {
		return ev.Kind == event.SetID && ev.Process.PID == pid && ev.Cred.Syscall == "setuid"
	})
	want := event.CredInfo{Syscall: "setuid", OldUID: 0, NewUID: 65534, OldEUID: 0, NewEUID: 65534,
		OldGID: 65534, NewGID: 65534, OldEGID: 65534, NewEGID: 65534, OldFSUID: 0, NewFSUID: 65534,
		OldFSGID: 65534, NewFSGID: 65534, OldCapEff: ev.Cred.OldCapEff, NewCapEff: ev.Cred.NewCapEff}
	if diff := cmp.Diff(want, *ev.Cred); diff != "" {
		t.Errorf("setuid cred (-want +got):\n%s", diff)
	}
	if ev.Process.UID != 65534 || ev.Process.EUID != 65534 {
		t.Errorf("process uid %d euid %d after setuid, want 65534", ev.Process.UID, ev.Process.EUID)
	}
	gid := c.waitFor(t, "setgid", func(ev *event.Event) bool {
		return ev.Kind == event.SetID && ev.Process.PID == pid && ev.Cred.Syscall == "setgid"
	})
	if gid.Cred.OldGID != 0 || gid.Cred.NewGID != 65534 || gid.Cred.NewUID != 0 {
		t.Errorf("setgid cred %+v, want gid 0→65534, uid 0", gid.Cred)
	}
	// setuid(0) by root changed nothing, so it is not reported.
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ev := range c.events {
		if ev.Kind == event.SetID && ev.Process.PID == pid && ev.Cred.NewUID == 0 && ev.Cred.Syscall == "setuid" {
			t.Errorf("unchanged setuid(0) reported: %+v", ev.Cred)
		}
	}
}

func TestCapset(t *testing.T) {
	_, c := startSensor(t, Config{})
	cmd := helper("capset")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("helper: %v: %s", err, out)
	}
	ev := c.waitFor(t, "capset", func(ev *event.Event) bool { return ev.Kind == event.Capset && ev.Process.PID == cmd.Process.Pid })
	const sysAdmin = 1 << unix.CAP_SYS_ADMIN
	if ev.Cred.Syscall != "capset" || ev.Cred.OldCapEff&sysAdmin == 0 || ev.Cred.NewCapEff&sysAdmin != 0 ||
		ev.Cred.OldCapEff&^sysAdmin != ev.Cred.NewCapEff {
		t.Errorf("capset %+v, want CAP_SYS_ADMIN dropped from the effective set", ev.Cred)
	}
}

func TestPtrace(t *testing.T) {
	_, c := startSensor(t, Config{})
	target := exec.Command("/bin/sleep", "30")
	if err := target.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { target.Process.Kill(); target.Wait() }()
	pid := target.Process.Pid
	c.waitFor(t, "exec of sleep", execOf(pid)) // the target's exe is known
	func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := syscall.PtraceAttach(pid); err != nil {
			t.Fatalf("PTRACE_ATTACH: %v", err)
		}
		var ws syscall.WaitStatus
		if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
			t.Fatalf("wait: %v", err)
		}
		if err := syscall.PtraceDetach(pid); err != nil {
			t.Fatalf("PTRACE_DETACH: %v", err)
		}
	}()
	ev := c.waitFor(t, "ptrace", func(ev *event.Event) bool { return ev.Kind == event.Ptrace && ev.Process.PID == os.Getpid() })
	if ev.Ptrace == nil || ev.Ptrace.Request != "PTRACE_ATTACH" {
		t.Errorf("ptrace %+v, want PTRACE_ATTACH", ev.Ptrace)
	}
	start, _ := readStartTime("/proc", pid)
	if ev.Target == nil || ev.Target.PID != pid || ev.Target.Exe != "/usr/bin/sleep" || ev.Target.UID != 0 ||
		ev.Target.ExecID != event.ExecID(bootID(t), start, pid) {
		t.Errorf("target %+v, want pid %d /usr/bin/sleep uid 0", ev.Target, pid)
	}
}

func TestModule(t *testing.T) {
	testutil.RequireBPF(t)
	_, err := os.Stat("/sys/kernel/tracing/events/syscalls/sys_enter_finit_module")
	testutil.Require(t, "VIGIL_REQUIRE_MODULES", err == nil, "kernel without module syscalls (CONFIG_MODULES off)")
	_, c := startSensor(t, Config{})
	path := filepath.Join(t.TempDir(), "vigil-bogus.ko")
	if err := os.WriteFile(path, []byte("not an ELF module"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.FinitModule(int(f.Fd()), "", 0); err == nil {
		t.Fatal("finit_module of junk succeeded")
	}
	ev := c.waitFor(t, "module", func(ev *event.Event) bool { return ev.Kind == event.Module && ev.Process.PID == os.Getpid() })
	if *ev.Module != (event.ModInfo{Syscall: "finit_module", Path: path, Name: "vigil_bogus"}) {
		t.Errorf("module %+v, want finit_module of %s", ev.Module, path)
	}
}

func TestBlockExec(t *testing.T) {
	s, c := startSensor(t, Config{})
	path := copyFile(t, "/bin/true", "blocked-true")
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	if err := s.BlockExec(st.Dev, st.Ino); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path)
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("blocked exec: %v, want killed by SIGKILL", err)
	}
	ev := c.waitFor(t, "blocked exec", execOf(cmd.Process.Pid))
	if !ev.Blocked || ev.Process.Exe != path {
		t.Errorf("exec event blocked %v exe %q, want blocked %q", ev.Blocked, ev.Process.Exe, path)
	}
	if err := s.UnblockExec(st.Dev, st.Ino); err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command(path)
	if err := cmd.Run(); err != nil {
		t.Fatalf("exec after UnblockExec: %v", err)
	}
	if ev := c.waitFor(t, "exec", execOf(cmd.Process.Pid)); ev.Blocked {
		t.Error("exec after UnblockExec reported as blocked")
	}
	if err := s.UnblockExec(st.Dev, st.Ino); err != nil {
		t.Errorf("UnblockExec of an unblocked file: %v", err)
	}
}

// copyFile copies an executable into the test's temporary directory.
func copyFile(t *testing.T, src, name string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestStorm runs execs and expects each one delivered or counted as
// dropped; a small ring buffer and a slow sink make drops likely.
func TestStorm(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		slow bool
	}{
		{name: "default", cfg: Config{}},
		{name: "small_ring_slow_sink", cfg: Config{RingSize: 16 << 10}, slow: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testutil.RequireBPF(t)
			const n = 2000
			s := New(tc.cfg)
			var seen atomic.Int64
			self := os.Getpid()
			sink := sensor.SinkFunc(func(ev *event.Event) bool {
				if tc.slow {
					time.Sleep(50 * time.Microsecond)
				}
				if ev.Kind == event.Exec && ev.Process.PPID == self && ev.Process.Exe == "/usr/bin/true" {
					seen.Add(1)
				}
				return true
			})
			if err := s.Start(context.Background(), sink); err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var wg sync.WaitGroup
			for w := 0; w < 4; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < n/4; i++ {
						if err := exec.Command("/bin/true").Run(); err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			deadline := time.Now().Add(20 * time.Second)
			var st sensor.Stats
			for time.Now().Before(deadline) {
				st = s.Stats()
				if seen.Load()+int64(st.KernelDropped) >= n {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			t.Logf("seen %d of %d, stats %+v", seen.Load(), n, st)
			if seen.Load()+int64(st.KernelDropped) < n {
				t.Errorf("seen %d + kernel dropped %d < %d execs", seen.Load(), st.KernelDropped, n)
			}
		})
	}
}
