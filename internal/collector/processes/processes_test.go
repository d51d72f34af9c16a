package processes

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/vigilsec/vigil/internal/collector"
	"github.com/vigilsec/vigil/internal/hashcache"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
	"github.com/vigilsec/vigil/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// snapshot unpacks a txtar /proc snapshot and turns its cmdline files
// back into the kernel's form (\0 for NUL, no final newline).
func snapshot(t *testing.T, name string) (proc, root string) {
	t.Helper()
	dir := testutil.TxtarToDir(t, filepath.Join("testdata", name))
	files, err := filepath.Glob(filepath.Join(dir, "proc", "*", "cmdline"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b = bytes.ReplaceAll(bytes.TrimSuffix(b, []byte("\n")), []byte(`\0`), []byte{0})
		if err := os.WriteFile(f, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "proc"), filepath.Join(dir, "root")
}

// fileSHA256 is the digest of path, or "" when it does not exist on this
// machine (snapshot exe links point at the snapshot host's files).
func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func execID(boot string, ticks, pid int) string {
	return base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "%s:%d:%d", boot, ticks, pid))
}

func TestCollectSnapshot(t *testing.T) {
	proc, root := snapshot(t, "proc-debian.txtar")
	in := &collector.Input{Root: os.DirFS(root), RootPath: root, ProcPath: proc}
	inv, err := New().Collect(context.Background(), in)
	var pe *plugin.PartialError
	if !errors.As(err, &pe) {
		t.Fatalf("Collect() error = %v, want a partial error for pid 2001", err)
	}
	if diff := cmp.Diff([]string{filepath.Join(proc, "2001") + "/stat: no (comm)"}, pe.Problems); diff != "" {
		t.Errorf("problems mismatch (-want +got):\n%s", diff)
	}
	const boot = "b3c4d5e6-f708-4192-a3b4-c5d6e7f80912"
	const docker = "3f1d2e6a0b4c5d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9012345678abcd"
	at := func(ticks int) time.Time { return time.Unix(1700000000, int64(ticks)*1e7).UTC() }
	want := []inventory.Process{
		{
			PID: 1, Name: "systemd", Exe: "/usr/lib/systemd/systemd", Args: []string{"/sbin/init", "splash"}, Cmdline: "/sbin/init splash",
			User: "root", StartTime: at(2), CWD: "/", SHA256: fileSHA256(t, "/usr/lib/systemd/systemd"), ExecID: execID(boot, 2, 1),
		},
		{PID: 2, Name: "kthreadd", Cmdline: "[kthreadd]", User: "root", StartTime: at(2), ExecID: execID(boot, 2, 2)},
		{PID: 9, PPID: 2, Name: "kworker/0:1H-kblockd", Cmdline: "[kworker/0:1H-kblockd]", User: "root", StartTime: at(3), ExecID: execID(boot, 3, 9)},
		{
			PID: 612, PPID: 1, Name: "sshd", Exe: "/usr/sbin/sshd",
			Args:    []string{"sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups"},
			Cmdline: "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups",
			User:    "root", StartTime: at(415), CWD: "/", SHA256: fileSHA256(t, "/usr/sbin/sshd"), ExecID: execID(boot, 415, 612),
		},
		{
			PID: 845, PPID: 820, Name: "nginx", Exe: "/usr/sbin/nginx",
			Args: []string{"nginx: master process nginx -g daemon off;"}, Cmdline: "nginx: master process nginx -g daemon off;",
			User: "root", StartTime: at(2087), CWD: "/", ContainerID: docker, SHA256: fileSHA256(t, "/usr/sbin/nginx"), ExecID: execID(boot, 2087, 845),
		},
		{
			PID: 846, PPID: 845, Name: "nginx", Exe: "/usr/sbin/nginx",
			Args: []string{"nginx: worker process"}, Cmdline: "nginx: worker process",
			User: "101", UID: 101, StartTime: at(2090), CWD: "/", ContainerID: docker, SHA256: fileSHA256(t, "/usr/sbin/nginx"), ExecID: execID(boot, 2090, 846),
		},
		{
			PID: 901, PPID: 1, Name: "redis-server", Exe: "/usr/bin/redis-server", ExeDeleted: true,
			Args: []string{"/usr/bin/redis-server 127.0.0.1:6379"}, Cmdline: "/usr/bin/redis-server 127.0.0.1:6379",
			User: "redis", UID: 104, StartTime: at(633), CWD: "/var/lib/redis", ExecID: execID(boot, 633, 901),
		},
		{
			PID: 1200, PPID: 1199, Name: "(sd-pam)", Exe: "/usr/lib/systemd/systemd", Args: []string{"(sd-pam)"}, Cmdline: "(sd-pam)",
			User: "alice", UID: 1000, StartTime: at(90210), CWD: "/", SHA256: fileSHA256(t, "/usr/lib/systemd/systemd"), ExecID: execID(boot, 90210, 1200),
		},
		{
			PID: 1337, PPID: 1, Name: "3", Exe: "/memfd:payload", ExeMemfd: true, Args: []string{"[kworker/u8:3]"}, Cmdline: "[kworker/u8:3]",
			User: "www-data", UID: 33, StartTime: at(123456), CWD: "/tmp", ExecID: execID(boot, 123456, 1337),
		},
		{
			PID: 1400, PPID: 1337, Name: "a b) c", Exe: "/home/alice/bin/a b) c",
			Args: []string{"./a b) c", "--flag=x y", "", "", "last"}, Cmdline: "./a b) c --flag=x y   last",
			User: "alice", UID: 1000, StartTime: at(123500), CWD: "/home/alice", ExecID: execID(boot, 123500, 1400),
		},
		{PID: 3000, PPID: 1400, Name: "bash", Cmdline: "[bash]", User: "alice", UID: 1000, StartTime: at(124000), ExecID: execID(boot, 124000, 3000)},
	}
	if diff := cmp.Diff(want, inv.Processes); diff != "" {
		t.Errorf("Collect() mismatch (-want +got):\n%s", diff)
	}
}

func TestCollectSkipsWithoutProc(t *testing.T) {
	_, err := New().Collect(context.Background(), &collector.Input{RootPath: "/mnt/image"})
	if !errors.Is(err, plugin.ErrSkipped) {
		t.Errorf("Collect() error = %v, want a skip", err)
	}
}

func TestCollectFailsOnMissingProc(t *testing.T) {
	_, err := New().Collect(context.Background(), &collector.Input{ProcPath: filepath.Join(t.TempDir(), "nope")})
	if err == nil || errors.Is(err, plugin.ErrSkipped) {
		t.Errorf("Collect() error = %v, want a failure", err)
	}
}

func TestParseStat(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    stat
		wantErr string
	}{
		{
			name: "real_cat",
			in:   "8606 (cat) R 8597 8597 5445 0 -1 4194304 101 0 0 0 0 0 0 0 20 0 1 0 42119 3133440 409 18446744073709551615 94521384181760\n",
			want: stat{comm: "cat", ppid: 8597, flags: 4194304, startTime: 42119},
		},
		{
			name: "parens_and_spaces_in_comm",
			in:   "77 (a) b (c)) S 1 77 77 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 99 0 0\n",
			want: stat{comm: "a) b (c)", ppid: 1, flags: 4194560, startTime: 99},
		},
		{
			name: "exactly_22_fields",
			in:   "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 2\n",
			want: stat{comm: "kthreadd", flags: 2129984, startTime: 2},
		},
		{name: "no_comm", in: "2001 (broken\n", wantErr: "no (comm)"},
		{name: "truncated", in: "1 (init) S 0 1 1\n", wantErr: "6 fields, want at least 22"},
		{name: "bad_ppid", in: "1 (init) S x 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 2 0\n", wantErr: `field 4 "x": not a number`},
		{name: "negative_start", in: "1 (init) S 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 -2 0\n", wantErr: `field 22 "-2": not a number`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStat([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Errorf("parseStat() error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(stat{})); diff != "" {
				t.Errorf("parseStat() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte("8606 (cat) R 8597 8597 5445 0 -1 4194304 101 0 0 0 0 0 0 0 20 0 1 0 42119 3133440 409\n"))
	f.Add([]byte("77 (a) b (c)) S 1 77 77 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 99 0 0\n"))
	f.Add([]byte("2001 (broken\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parseStat(b)
		if err != nil {
			return
		}
		if !bytes.Contains(b, []byte("("+s.comm+")")) {
			t.Fatalf("comm %q is not in the input", s.comm)
		}
		if s.ppid < 0 {
			t.Fatalf("negative ppid %d", s.ppid)
		}
		if !bytes.Contains(b, []byte(fmt.Sprint(s.startTime))) {
			t.Fatalf("start time %d is not in the input", s.startTime)
		}
	})
}

func TestParseUID(t *testing.T) {
	tests := []struct {
		in      string
		want    int
		wantErr bool
	}{
		{"Name:\tsleep\nUmask:\t0022\nUid:\t1000\t0\t0\t0\nGid:\t0\t0\t0\t0\n", 1000, false},
		{"Uid:\t0\t0\t0\t0", 0, false},
		{"Name:\tx\n", -1, true},
		{"Uid:\n", -1, true},
		{"Uid:\t-5\t0\t0\t0\n", -1, true},
	}
	for _, tc := range tests {
		got, err := parseUID([]byte(tc.in))
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("parseUID(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func FuzzParseUID(f *testing.F) {
	f.Add([]byte("Name:\tsleep\nUmask:\t0022\nUid:\t1000\t0\t0\t0\nGid:\t0\t0\t0\t0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		uid, err := parseUID(b)
		if (err == nil) != (uid >= 0) {
			t.Fatalf("parseUID() = %d, %v", uid, err)
		}
		if err == nil && !bytes.Contains(b, []byte(fmt.Sprint(uid))) {
			t.Fatalf("uid %d is not in the input", uid)
		}
	})
}

func TestSplitCmdline(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"\x00", nil},
		{"/bin/sleep\x00300\x00", []string{"/bin/sleep", "300"}},
		{"nginx: worker process", []string{"nginx: worker process"}},
		{"a\x00\x00b\x00", []string{"a", "", "b"}},
	}
	for _, tc := range tests {
		if diff := cmp.Diff(tc.want, splitCmdline([]byte(tc.in))); diff != "" {
			t.Errorf("splitCmdline(%q) mismatch (-want +got):\n%s", tc.in, diff)
		}
	}
}

// countingHash counts how often the cache hashes a file.
type countingHash struct{ n atomic.Int64 }

func (c *countingHash) hash(r io.Reader) ([sha256.Size]byte, error) {
	c.n.Add(1)
	h := sha256.New()
	var sum [sha256.Size]byte
	_, err := io.Copy(h, r)
	h.Sum(sum[:0])
	return sum, err
}

// fakeProc writes a minimal procfs with three processes, two of which
// run the same binary.
func fakeProc(t *testing.T) (proc string, bins []string) {
	t.Helper()
	dir := t.TempDir()
	proc = filepath.Join(dir, "proc")
	for i, content := range []string{"\x7fELF one", "\x7fELF two"} {
		p := filepath.Join(dir, fmt.Sprintf("bin%d", i))
		if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
		bins = append(bins, p)
	}
	write := func(name, content string) {
		p := filepath.Join(proc, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("stat", "btime 1700000000\n")
	for pid, bin := range map[int]string{10: bins[0], 11: bins[0], 12: bins[1]} {
		write(fmt.Sprintf("%d/stat", pid), fmt.Sprintf("%d (p) S 1 0 0 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 500 0 0\n", pid))
		write(fmt.Sprintf("%d/status", pid), "Uid:\t0\t0\t0\t0\n")
		write(fmt.Sprintf("%d/cmdline", pid), bin+"\x00")
		if err := os.Symlink(bin, filepath.Join(proc, fmt.Sprint(pid), "exe")); err != nil {
			t.Fatal(err)
		}
	}
	return proc, bins
}

func TestHashCacheAcrossRuns(t *testing.T) {
	proc, bins := fakeProc(t)
	dataDir := t.TempDir()
	in := &collector.Input{ProcPath: proc, DataDir: dataDir}
	sums := map[string]string{bins[0]: fileSHA256(t, bins[0]), bins[1]: fileSHA256(t, bins[1])}

	var first []inventory.Process
	run := func(t *testing.T, c *processes, wantHashes int64) {
		t.Helper()
		var cnt countingHash
		c.hashFn = cnt.hash
		inv, err := c.Collect(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range inv.Processes {
			if p.SHA256 != sums[p.Exe] {
				t.Errorf("pid %d: sha256 %s, want %s", p.PID, p.SHA256, sums[p.Exe])
			}
		}
		if first == nil {
			first = inv.Processes
		} else if diff := cmp.Diff(first, inv.Processes); diff != "" {
			t.Errorf("output differs from the first run (-first +got):\n%s", diff)
		}
		if got := cnt.n.Load(); got != wantHashes {
			t.Errorf("hashed %d times, want %d", got, wantHashes)
		}
	}
	cachePath := filepath.Join(dataDir, hashcache.FileName)
	steps := []struct {
		name       string
		prepare    func()
		wantHashes int64
	}{
		{name: "cold_hashes_each_binary_once", prepare: func() {}, wantHashes: 2},
		{name: "second_run_from_file_is_warm", prepare: func() {}, wantHashes: 0},
		{
			name: "corrupt_cache_file_is_ignored",
			prepare: func() {
				if err := os.WriteFile(cachePath, []byte("garbage\x00\x01"), 0o600); err != nil {
					t.Fatal(err)
				}
			},
			wantHashes: 2,
		},
		{name: "rewritten_file_is_warm_again", prepare: func() {}, wantHashes: 0},
		{
			name:       "unwritable_data_dir_still_works",
			prepare:    func() { in.DataDir = filepath.Join(bins[0], "sub") }, // below a regular file
			wantHashes: 2,
		},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			s.prepare()
			run(t, &processes{}, s.wantHashes)
		})
	}
}

// liveCollect runs the collector on the live host and returns the
// process with the given PID.
func liveCollect(t *testing.T, c collector.Collector, dataDir string, pid int) inventory.Process {
	t.Helper()
	in := &collector.Input{Root: os.DirFS("/"), RootPath: "/", ProcPath: "/proc", Live: true, DataDir: dataDir}
	inv, err := c.Collect(context.Background(), in)
	if err != nil {
		var pe *plugin.PartialError
		if !errors.As(err, &pe) {
			t.Fatal(err)
		}
		t.Logf("partial: %v", pe.Problems)
	}
	for i, p := range inv.Processes {
		if i > 0 && inv.Processes[i-1].PID >= p.PID {
			t.Errorf("processes not sorted by PID at %d", i)
		}
	}
	for _, p := range inv.Processes {
		if p.PID == pid {
			return p
		}
	}
	t.Fatalf("pid %d not reported", pid)
	return inventory.Process{}
}

func sleepBinary(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(testutil.RequireCommand(t, "sleep"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func start(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
}

func bootID(t *testing.T) string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestCollectLive(t *testing.T) {
	bin := sleepBinary(t)
	path := filepath.Join(t.TempDir(), "vigil-test-sleep")
	if err := os.WriteFile(path, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(bin)
	wantSum := hex.EncodeToString(sum[:])
	cmd := exec.Command(path, "300")
	cmd.Dir = "/tmp"
	start(t, cmd)
	started := time.Now()
	pid := cmd.Process.Pid
	c, dataDir := New(), t.TempDir()

	got := liveCollect(t, c, dataDir, pid)
	want := inventory.Process{
		PID: pid, PPID: os.Getpid(), Name: "vigil-test-slee", Exe: path, Cmdline: path + " 300", Args: []string{path, "300"},
		User: "root", UID: os.Getuid(), CWD: "/tmp", SHA256: wantSum,
	}
	if os.Getuid() != 0 {
		want.User = fmt.Sprint(os.Getuid())
	}
	if d := got.StartTime.Sub(started); d < -3*time.Second || d > 3*time.Second {
		t.Errorf("start time %v is %v away from now", got.StartTime, d)
	}
	if got.StartTime.Location() != time.UTC {
		t.Errorf("start time %v is not UTC", got.StartTime)
	}
	raw, err := base64.StdEncoding.DecodeString(got.ExecID)
	if err != nil {
		t.Errorf("exec id %q: %v", got.ExecID, err)
	}
	if !strings.HasPrefix(string(raw), bootID(t)+":") || !strings.HasSuffix(string(raw), fmt.Sprintf(":%d", pid)) {
		t.Errorf("exec id %q, want boot id:ticks:%d", raw, pid)
	}
	got.StartTime, got.ExecID = time.Time{}, ""
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("live process mismatch (-want +got):\n%s", diff)
	}

	t.Run("deleted_exe", func(t *testing.T) {
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		got := liveCollect(t, c, dataDir, pid)
		if !got.ExeDeleted || got.Exe != path || got.SHA256 != wantSum || got.ExeMemfd {
			t.Errorf("got exe %q deleted %v memfd %v sha256 %s; want %q, deleted, sha256 %s",
				got.Exe, got.ExeDeleted, got.ExeMemfd, got.SHA256, path, wantSum)
		}
	})
	t.Run("kernel_threads", func(t *testing.T) {
		got := liveCollect(t, c, dataDir, 2) // kthreadd
		if got.Name != "kthreadd" || got.Cmdline != "[kthreadd]" || got.Exe != "" || got.SHA256 != "" || got.Args != nil {
			t.Errorf("kthreadd: %+v", got)
		}
	})
}

func TestCollectLiveMemfd(t *testing.T) {
	bin := sleepBinary(t)
	fd, err := unix.MemfdCreate("vigil-test", unix.MFD_CLOEXEC)
	if err != nil {
		t.Skipf("memfd_create: %v", err)
	}
	f := os.NewFile(uintptr(fd), "memfd")
	t.Cleanup(func() { f.Close() })
	if _, err := f.Write(bin); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/proc/self/fd/3", "300")
	cmd.ExtraFiles = []*os.File{f} // fd 3 in the child
	start(t, cmd)
	sum := sha256.Sum256(bin)

	got := liveCollect(t, New(), "", cmd.Process.Pid)
	if !got.ExeMemfd || got.ExeDeleted || got.Exe != "/memfd:vigil-test" || got.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("got exe %q memfd %v deleted %v sha256 %s; want /memfd:vigil-test, memfd, sha256 %x",
			got.Exe, got.ExeMemfd, got.ExeDeleted, got.SHA256, sum)
	}
}

func TestCollectCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := New().Collect(ctx, &collector.Input{ProcPath: "/proc"}); !errors.Is(err, context.Canceled) {
		t.Errorf("Collect() error = %v, want context.Canceled", err)
	}
}

func BenchmarkCollect(b *testing.B) {
	in := &collector.Input{Root: os.DirFS("/"), RootPath: "/", ProcPath: "/proc", Live: true}
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			if _, err := New().Collect(context.Background(), in); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("warm", func(b *testing.B) {
		c := New()
		in := *in
		in.DataDir = b.TempDir()
		if _, err := c.Collect(context.Background(), &in); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := c.Collect(context.Background(), &in); err != nil {
				b.Fatal(err)
			}
		}
	})
}
