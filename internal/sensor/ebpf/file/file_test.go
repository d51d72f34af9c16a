package file

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigilsec/vigil/internal/event"
	"github.com/vigilsec/vigil/internal/sensor"
	"github.com/vigilsec/vigil/internal/sensor/ebpf/internal/bpfcommon"
	"github.com/vigilsec/vigil/internal/testutil"
)

// collector is a sink that keeps every event.
type collector struct {
	mu  sync.Mutex
	evs []*event.Event
}

func (c *collector) Emit(ev *event.Event) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.evs = append(c.evs, ev)
	return true
}

// wait polls up to 10 s for an event that match accepts.
func (c *collector) wait(t *testing.T, what string, match func(*event.Event) bool) *event.Event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, ev := range c.snapshot() {
			if match(ev) {
				return ev
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no event: %s; got:\n%s", what, c.dump())
	return nil
}

// waitOp waits for op on path (and new path, when not empty).
func (c *collector) waitOp(t *testing.T, op event.FileOp, path, newPath string) *event.Event {
	t.Helper()
	return c.wait(t, fmt.Sprintf("%s %s %s", op, path, newPath), func(ev *event.Event) bool {
		return ev.File.Op == op && ev.File.Path == path && ev.File.NewPath == newPath
	})
}

// under returns the events whose path or new path is below dir.
func (c *collector) under(dir string) []*event.Event {
	var out []*event.Event
	for _, ev := range c.snapshot() {
		if strings.HasPrefix(ev.File.Path, dir+"/") || strings.HasPrefix(ev.File.NewPath, dir+"/") {
			out = append(out, ev)
		}
	}
	return out
}

func (c *collector) dump() string {
	var b strings.Builder
	for _, ev := range c.snapshot() {
		fmt.Fprintf(&b, "  %s %s -> %q pid %d comm %s\n", ev.File.Op, ev.File.Path, ev.File.NewPath, ev.Process.PID, ev.Process.Name)
	}
	return b.String()
}

func (c *collector) snapshot() []*event.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*event.Event(nil), c.evs...)
}

func startSensor(t testing.TB, cfg Config) (*Sensor, *collector) {
	t.Helper()
	testutil.RequireBPF(t)
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{}
	startWith(t, s, c)
	return s, c
}

// startWith starts s with sink and closes it when the test ends.
func startWith(t testing.TB, s *Sensor, sink sensor.Sink) {
	t.Helper()
	testutil.RequireBPF(t)
	if err := s.Start(context.Background(), sink); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
}

// tempDir is a fresh directory under /tmp with symlinks resolved, so
// expected paths are canonical.
func tempDir(t testing.TB) string {
	t.Helper()
	d, err := os.MkdirTemp("/tmp", "vigil-file-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	d, err = filepath.EvalSymlinks(d)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// startTicks is field 22 of /proc/<pid>/stat.
func startTicks(t testing.TB, pid int) uint64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	must(t, err)
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	n, err := strconv.ParseUint(f[19], 10, 64)
	must(t, err)
	return n
}

func TestProcessFields(t *testing.T) {
	dir := tempDir(t)
	s, c := startSensor(t, Config{WriteWatch: []string{dir + "/"}})
	st := s.Status()
	if st.Mode != "ebpf" || len(st.Attach) == 0 {
		t.Fatalf("status %+v", st)
	}
	p := filepath.Join(dir, "new")
	must(t, os.WriteFile(p, []byte("x"), 0o640))
	ev := c.waitOp(t, event.OpCreate, p, "")

	boot, err := bpfcommon.BootID()
	must(t, err)
	pid := os.Getpid()
	pr := ev.Process
	if pr.PID != pid || pr.PPID != os.Getppid() || pr.UID != uint32(os.Getuid()) || pr.EUID != uint32(os.Geteuid()) || pr.GID != uint32(os.Getgid()) {
		t.Errorf("process %+v, want pid %d ppid %d uid %d", pr, pid, os.Getppid(), os.Getuid())
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d/task/%d", pid, pr.TID)); err != nil {
		t.Errorf("tid %d is not a thread of %d: %v", pr.TID, pid, err)
	}
	if want := startTicks(t, pid); pr.StartTime != want {
		t.Errorf("start time %d, want %d", pr.StartTime, want)
	}
	if want := event.ExecID(boot, startTicks(t, pid), pid); pr.ExecID != want {
		t.Errorf("exec id %q, want %q", pr.ExecID, want)
	}
	if want := event.ExecID(boot, startTicks(t, os.Getppid()), os.Getppid()); pr.ParentExecID != want {
		t.Errorf("parent exec id %q, want %q", pr.ParentExecID, want)
	}
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/comm", pid, pr.TID))
	if err == nil && pr.Name != strings.TrimSpace(string(comm)) {
		t.Errorf("name %q, want %q", pr.Name, comm)
	}
	if pr.CgroupID == 0 {
		t.Error("no cgroup id")
	}
	var stt unix.Stat_t
	must(t, unix.Stat(p, &stt))
	if ev.File.Inode != stt.Ino || ev.File.Dev != stt.Dev {
		t.Errorf("dev/inode %d/%d, want %d/%d", ev.File.Dev, ev.File.Inode, stt.Dev, stt.Ino)
	}
	if ev.File.Mode != stt.Mode {
		t.Errorf("mode %o, want %o", ev.File.Mode, stt.Mode)
	}
	if d := time.Since(ev.Time); d < 0 || d > time.Minute || ev.Source != "ebpf" || ev.Kind != event.File {
		t.Errorf("time %v (%v ago), source %q, kind %q", ev.Time, d, ev.Source, ev.Kind)
	}
}

func TestOps(t *testing.T) {
	dir := tempDir(t)
	outside := tempDir(t)
	_, c := startSensor(t, Config{WriteWatch: []string{dir + "/"}})
	j := func(n string) string { return filepath.Join(dir, n) }

	must(t, os.WriteFile(j("a"), []byte("1"), 0o644))
	c.waitOp(t, event.OpCreate, j("a"), "")

	f, err := os.OpenFile(j("a"), os.O_WRONLY|os.O_APPEND, 0)
	must(t, err)
	f.Close()
	ev := c.waitOp(t, event.OpOpenWrite, j("a"), "")
	if ev.File.Flags&unix.O_APPEND == 0 {
		t.Errorf("flags %#x lack O_APPEND", ev.File.Flags)
	}

	f, err = os.OpenFile(j("a"), os.O_WRONLY|os.O_TRUNC, 0)
	must(t, err)
	c.waitOp(t, event.OpTruncate, j("a"), "")
	must(t, f.Truncate(0)) // ftruncate
	f.Close()
	must(t, os.Truncate(j("a"), 10))
	c.wait(t, "truncate and ftruncate", func(*event.Event) bool {
		n := 0
		for _, ev := range c.under(dir) {
			if ev.File.Op == event.OpTruncate && ev.File.Path == j("a") {
				n++
			}
		}
		return n >= 3
	})

	must(t, os.Chmod(j("a"), 0o755))
	if ev := c.waitOp(t, event.OpChmod, j("a"), ""); ev.File.Mode != 0o755 {
		t.Errorf("chmod mode %o", ev.File.Mode)
	}
	f, err = os.Open(j("a"))
	must(t, err)
	must(t, f.Chmod(0o700)) // fchmod
	c.wait(t, "fchmod", func(ev *event.Event) bool {
		return ev.File.Op == event.OpChmod && ev.File.Mode == 0o700 && ev.File.Path == j("a") && ev.File.Inode != 0
	})
	must(t, f.Chmod(0)) // the new mode, even when zero
	c.wait(t, "fchmod 0", func(ev *event.Event) bool {
		return ev.File.Op == event.OpChmod && ev.File.Mode == 0 && ev.File.Path == j("a")
	})
	must(t, f.Chown(12, 34)) // fchown
	f.Close()
	c.wait(t, "fchown", func(ev *event.Event) bool {
		return ev.File.Op == event.OpChown && ev.File.UID == 12 && ev.File.GID == 34 && ev.File.Path == j("a")
	})
	must(t, os.Chown(j("a"), 56, 78))
	c.wait(t, "chown", func(ev *event.Event) bool {
		return ev.File.Op == event.OpChown && ev.File.UID == 56 && ev.File.GID == 78 && ev.File.Path == j("a")
	})
	must(t, os.Symlink("a", j("s")))
	c.waitOp(t, event.OpLink, j("a"), j("s"))
	must(t, os.Lchown(j("s"), 9, 9))
	c.wait(t, "lchown", func(ev *event.Event) bool {
		return ev.File.Op == event.OpChown && ev.File.UID == 9 && ev.File.Path == j("s")
	})
	must(t, os.Link(j("a"), j("h")))
	c.waitOp(t, event.OpLink, j("a"), j("h"))

	must(t, os.Rename(j("h"), j("h2")))
	c.waitOp(t, event.OpRename, j("h"), j("h2"))
	must(t, os.Remove(j("h2"))) // unlinkat
	c.waitOp(t, event.OpUnlink, j("h2"), "")
	must(t, unix.Unlink(j("s")))
	c.waitOp(t, event.OpUnlink, j("s"), "")
	must(t, os.Mkdir(j("d"), 0o755))
	must(t, unix.Rmdir(j("d")))
	c.waitOp(t, event.OpUnlink, j("d"), "")

	// Renamed in from outside: only the destination is watched.
	must(t, os.WriteFile(filepath.Join(outside, "in"), nil, 0o644))
	must(t, os.Rename(filepath.Join(outside, "in"), j("in")))
	c.waitOp(t, event.OpRename, filepath.Join(outside, "in"), j("in"))

	// Failed actions are not reported.
	if err := os.Remove(j("missing")); err == nil {
		t.Fatal("removed a missing file")
	}
	must(t, os.WriteFile(j("end"), nil, 0o644))
	c.waitOp(t, event.OpCreate, j("end"), "")
	for _, ev := range c.under(dir) {
		if ev.File.Path == j("missing") {
			t.Errorf("failed unlink reported: %+v", ev.File)
		}
		if ev.Process.PID != os.Getpid() {
			t.Errorf("%s %s by pid %d, want %d", ev.File.Op, ev.File.Path, ev.Process.PID, os.Getpid())
		}
	}
}

// TestRelativePaths checks that names relative to the cwd or a dirfd are
// reported as absolute, canonical paths.
func TestRelativePaths(t *testing.T) {
	dir := tempDir(t)
	must(t, os.Mkdir(filepath.Join(dir, "sub"), 0o755))
	cronName := fmt.Sprintf("vigil-test-%d", os.Getpid())
	cronFile := "/etc/cron.d/" + cronName
	t.Cleanup(func() { os.Remove(cronFile) })
	_, c := startSensor(t, Config{WriteWatch: []string{dir + "/", "/etc/cron.d/"}})

	// The brief's case: a shell in /etc appending to cron.d/<name>.
	cmd := exec.Command("sh", "-c", "cd /etc && echo x >> cron.d/"+cronName+" && chmod 600 ./cron.d/../cron.d/"+cronName)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	ev := c.waitOp(t, event.OpCreate, cronFile, "")
	if ev.Process.PID != cmd.Process.Pid || ev.Process.PPID != os.Getpid() {
		t.Errorf("pid %d ppid %d, want %d %d", ev.Process.PID, ev.Process.PPID, cmd.Process.Pid, os.Getpid())
	}
	c.waitOp(t, event.OpChmod, cronFile, "")

	// openat with a dirfd and a name with "." and "..".
	dfd, err := unix.Open(filepath.Join(dir, "sub"), unix.O_DIRECTORY|unix.O_RDONLY, 0)
	must(t, err)
	defer unix.Close(dfd)
	fd, err := unix.Openat(dfd, ".//../sub/./f", unix.O_CREAT|unix.O_WRONLY, 0o600)
	must(t, err)
	unix.Close(fd)
	c.waitOp(t, event.OpCreate, filepath.Join(dir, "sub/f"), "")

	// renameat and unlinkat relative to the dirfd; ".." past the root
	// stays at the root.
	must(t, unix.Renameat(dfd, "f", dfd, "../g"))
	c.waitOp(t, event.OpRename, filepath.Join(dir, "sub/f"), filepath.Join(dir, "g"))
	must(t, unix.Fchmodat(dfd, "../g", 0o644, 0))
	c.waitOp(t, event.OpChmod, filepath.Join(dir, "g"), "")
	must(t, unix.Fchownat(dfd, "../g", 1, 2, 0))
	c.waitOp(t, event.OpChown, filepath.Join(dir, "g"), "")
	must(t, unix.Symlinkat("../g", dfd, "lnk"))
	c.waitOp(t, event.OpLink, filepath.Join(dir, "g"), filepath.Join(dir, "sub/lnk"))
	must(t, unix.Linkat(dfd, "../g", dfd, "hard", 0))
	c.waitOp(t, event.OpLink, filepath.Join(dir, "g"), filepath.Join(dir, "sub/hard"))
	must(t, unix.Unlinkat(dfd, "../../../../../../../.."+dir+"/g", 0))
	c.waitOp(t, event.OpUnlink, filepath.Join(dir, "g"), "")

	// chmod +x in a watched /tmp-style directory from a shell in it.
	must(t, os.WriteFile(filepath.Join(dir, "tool"), nil, 0o644))
	cmd = exec.Command("chmod", "+x", "tool")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	ev = c.waitOp(t, event.OpChmod, filepath.Join(dir, "tool"), "")
	if ev.File.Mode&0o111 != 0o111 || ev.Process.PID != cmd.Process.Pid || ev.Process.Name != "chmod" {
		t.Errorf("chmod +x: mode %o pid %d name %q, want pid %d", ev.File.Mode, ev.Process.PID, ev.Process.Name, cmd.Process.Pid)
	}
}

// TestTmpWatch watches all of /tmp/, as an agent would.
func TestTmpWatch(t *testing.T) {
	dir := tempDir(t)
	_, c := startSensor(t, Config{WriteWatch: []string{"/tmp/"}})
	p := filepath.Join(dir, "payload")
	must(t, os.WriteFile(p, nil, 0o644))
	must(t, os.Chmod(p, 0o755))
	if ev := c.waitOp(t, event.OpChmod, p, ""); ev.File.Mode != 0o755 {
		t.Errorf("mode %o", ev.File.Mode)
	}
}

func TestReadWatch(t *testing.T) {
	dir := tempDir(t)
	other := tempDir(t)
	secret := filepath.Join(dir, "shadow")
	decoy := filepath.Join(other, "shadow") // same basename, not watched
	must(t, os.WriteFile(secret, []byte("s"), 0o600))
	must(t, os.WriteFile(decoy, []byte("s"), 0o600))
	s, c := startSensor(t, Config{ReadWatch: []string{secret}})

	before := s.Stats().Filtered
	_, err := os.ReadFile(decoy)
	must(t, err)
	_, err = os.ReadFile(filepath.Join(dir, "..", filepath.Base(dir), "shadow"))
	must(t, err)
	ev := c.waitOp(t, event.OpOpenRead, secret, "")
	if ev.Process.PID != os.Getpid() || ev.File.Flags&unix.O_ACCMODE != unix.O_RDONLY || ev.File.Inode == 0 {
		t.Errorf("open_read %+v by %d", ev.File, ev.Process.PID)
	}
	// O_RDWR of a read-watched file that no write watch covers is a read.
	f, err := os.OpenFile(secret, os.O_RDWR, 0)
	must(t, err)
	f.Close()
	c.wait(t, "O_RDWR open_read", func(ev *event.Event) bool {
		return ev.File.Op == event.OpOpenRead && ev.File.Flags&unix.O_ACCMODE == unix.O_RDWR
	})
	for _, ev := range c.under(other) {
		t.Errorf("unwatched read reported: %+v", ev.File)
	}
	if s.Stats().Filtered <= before {
		t.Errorf("filtered count did not grow: %d -> %d", before, s.Stats().Filtered)
	}
}

func TestUnwatchedFiltered(t *testing.T) {
	watched := tempDir(t)
	quiet := tempDir(t)
	exact := filepath.Join(quiet, "exact")
	s, c := startSensor(t, Config{WriteWatch: []string{watched + "/", exact}})
	before := s.Stats().Filtered
	for i := range 20 {
		p := filepath.Join(quiet, fmt.Sprintf("f%d", i))
		must(t, os.WriteFile(p, nil, 0o644))
		must(t, os.Chmod(p, 0o600))
		must(t, os.Remove(p))
	}
	must(t, os.WriteFile(exact+"2", nil, 0o644)) // exact entries match exactly
	must(t, os.WriteFile(exact, nil, 0o644))
	c.waitOp(t, event.OpCreate, exact, "")
	must(t, os.WriteFile(filepath.Join(watched, "marker"), nil, 0o644))
	c.waitOp(t, event.OpCreate, filepath.Join(watched, "marker"), "")
	for _, ev := range c.under(quiet) {
		if ev.File.Path != exact {
			t.Errorf("unwatched path reported: %s %s", ev.File.Op, ev.File.Path)
		}
	}
	if got := s.Stats().Filtered - before; got < 61 {
		t.Errorf("filtered grew by %d, want >= 61", got)
	}
}

func TestSetWatch(t *testing.T) {
	a, b := tempDir(t), tempDir(t)
	s, c := startSensor(t, Config{WriteWatch: []string{a + "/"}})
	must(t, os.WriteFile(filepath.Join(b, "before"), nil, 0o644))
	must(t, s.SetWatch([]string{b + "/"}, nil))
	must(t, os.WriteFile(filepath.Join(a, "after"), nil, 0o644))
	must(t, os.WriteFile(filepath.Join(b, "after"), nil, 0o644))
	c.waitOp(t, event.OpCreate, filepath.Join(b, "after"), "")
	for _, ev := range c.snapshot() {
		if ev.File.Path == filepath.Join(b, "before") || ev.File.Path == filepath.Join(a, "after") {
			t.Errorf("unwatched at the time, yet reported: %s", ev.File.Path)
		}
	}
	// Read watches change at run time too.
	secret := filepath.Join(a, "secret")
	must(t, os.WriteFile(secret, nil, 0o600))
	must(t, s.SetWatch(nil, []string{secret}))
	_, err := os.ReadFile(secret)
	must(t, err)
	c.waitOp(t, event.OpOpenRead, secret, "")
	if err := s.SetWatch([]string{"relative/"}, nil); err == nil {
		t.Error("SetWatch accepted a relative path")
	}
	if err := s.SetWatch(nil, []string{"/etc/"}); err == nil {
		t.Error("SetWatch accepted a directory as a read watch")
	}
}

// TestWriteStorm floods a tiny ring buffer through a slow sink: every
// action must be either delivered or counted as a kernel drop.
func TestWriteStorm(t *testing.T) {
	dir := tempDir(t)
	testutil.RequireBPF(t)
	s, err := New(Config{WriteWatch: []string{dir + "/"}, RingSize: os.Getpagesize()})
	must(t, err)
	var mu sync.Mutex
	got := 0
	sink := sinkFunc(func(ev *event.Event) bool {
		time.Sleep(100 * time.Microsecond)
		if strings.HasPrefix(ev.File.Path, dir+"/") {
			mu.Lock()
			got++
			mu.Unlock()
		}
		return true
	})
	must(t, s.Start(context.Background(), sink))
	defer s.Close()
	const n = 2000
	for i := range n {
		must(t, os.WriteFile(filepath.Join(dir, strconv.Itoa(i)), nil, 0o644))
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		total := uint64(got) + s.Stats().KernelDropped
		mu.Unlock()
		if total == n {
			break
		}
		if total > n || time.Now().After(deadline) {
			t.Fatalf("delivered %d + dropped %d = %d, want %d", got, s.Stats().KernelDropped, total, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	st := s.Stats()
	t.Logf("storm of %d: delivered %d, kernel dropped %d", n, got, st.KernelDropped)
	if st.KernelDropped == 0 {
		t.Errorf("a %d-byte ring and a slow sink dropped nothing", os.Getpagesize())
	}
}

type sinkFunc func(*event.Event) bool

func (f sinkFunc) Emit(ev *event.Event) bool { return f(ev) }
