package procread

import (
	"github.com/vigilsec/vigil/internal/procutil"

	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilsec/vigil/internal/event"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Stat
		wantErr string
	}{
		{
			name: "bash_on_pts",
			in:   "1234 (bash) S 1200 1234 1234 34817 1234 4194560 1 2 3 4 5 6 7 8 20 0 1 0 840391 3133440 352 18446744073709551615 1",
			want: Stat{Comm: "bash", PPID: 1200, TTYNr: 34817, StartTime: 840391},
		},
		{
			name: "comm_with_parens_and_spaces",
			in:   "7 (a) b (c)) R 1 7 7 0 -1 4194304 97 0 0 0 0 0 0 0 20 0 1 0 99 3133440 352",
			want: Stat{Comm: "a) b (c)", PPID: 1, StartTime: 99},
		},
		{
			name: "exactly_22_fields_newline",
			in:   "7 (x) R 1 7 7 0 -1 4194304 97 0 0 0 0 0 0 0 20 0 1 0 42\n",
			want: Stat{Comm: "x", PPID: 1, StartTime: 42},
		},
		{name: "no_parens", in: "7 x R 1", wantErr: "no command name"},
		{name: "short", in: "7 (x) R 1 7 7", wantErr: "want at least 22"},
		{name: "bad_ppid", in: "7 (x) R one 7 7 0 -1 4194304 97 0 0 0 0 0 0 0 20 0 1 0 42", wantErr: "field 4"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseStat([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseStat(%q) error = %v, want it to contain %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseStat (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseStatus(t *testing.T) {
	b, err := os.ReadFile("testdata/status")
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseStatus(b)
	if err != nil {
		t.Fatal(err)
	}
	want := Status{CapEff: 0x000001fffeffffff}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseStatus (-want +got):\n%s", diff)
	}
	setuid := "Name:\tx\nUid:\t1000\t0\t0\t0\nGid:\t100\t50\t50\t50\nCapEff:\t0000000000000000\n"
	got, err = ParseStatus([]byte(setuid))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Status{UID: 1000, EUID: 0, GID: 100, EGID: 50}, got); diff != "" {
		t.Errorf("ParseStatus (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"Uid:\t1\n", "Uid:\tx\t0\nGid:\t0\t0\nCapEff:\t0\n", "Uid:\t0\t0\nGid:\t0\t0\nCapEff:\tzz\n"} {
		if _, err := ParseStatus([]byte(bad)); err == nil {
			t.Errorf("ParseStatus(%q) = nil error", bad)
		}
	}
}

func TestSplitCmdline(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"\x00", []string{""}},
		{"ls\x00-l\x00", []string{"ls", "-l"}},
		{"sh\x00-c\x00\x00", []string{"sh", "-c", ""}},
		{"nginx: master process", []string{"nginx: master process"}},
	}
	for _, tc := range tests {
		if diff := cmp.Diff(tc.want, SplitCmdline([]byte(tc.in))); diff != "" {
			t.Errorf("SplitCmdline(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
}

func TestLinks(t *testing.T) {
	for _, tc := range []struct {
		link           string
		path           string
		deleted, memfd bool
	}{
		{"/usr/bin/ls", "/usr/bin/ls", false, false},
		{"/tmp/x (deleted)", "/tmp/x", true, false},
		{"/memfd:payload (deleted)", "/memfd:payload", true, true},
	} {
		p, d, m := ExeLink(tc.link)
		if p != tc.path || d != tc.deleted || m != tc.memfd {
			t.Errorf("ExeLink(%q) = %q, %v, %v; want %q, %v, %v", tc.link, p, d, m, tc.path, tc.deleted, tc.memfd)
		}
	}
	for nr, want := range map[uint64]string{0: "", 34816: "pts/0", 34817: "pts/1", 34816 + 1<<20: "pts/256", 1025: "tty1", 1088: "ttyS0", 1281: "console", 0x0801: ""} {
		if got := TTYName(nr); got != want {
			t.Errorf("TTYName(%d) = %q, want %q", nr, got, want)
		}
	}
	if ino, ok := NSInode("pid:[4026531836]"); !ok || ino != 4026531836 {
		t.Errorf("NSInode = %d, %v", ino, ok)
	}
	if _, ok := NSInode("pid:4026531836"); ok {
		t.Error("NSInode accepted a link without brackets")
	}
}

// TestReadLive reads a real child process whose stdin is /dev/null,
// stdout a pipe and cwd a temp dir, stopped in a sleep.
func TestReadLive(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command("/bin/sleep", "30")
	cmd.Dir = dir
	if _, err := cmd.StdoutPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()

	r, err := NewReader("/proc")
	if err != nil {
		t.Fatal(err)
	}
	// The child may not have exec'd yet; wait until its exe is sleep.
	var p event.Process
	for range 500 {
		p = event.Process{PID: cmd.Process.Pid}
		if err := r.Read(&p, Full); err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(p.Exe, "sleep") && len(p.Args) == 2 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	exe, _ := filepath.EvalSymlinks("/bin/sleep")
	if p.Exe != exe || p.Name != "sleep" || p.PPID != os.Getpid() || p.CWD != dir {
		t.Errorf("Read = exe %q name %q ppid %d cwd %q; want %q sleep %d %q", p.Exe, p.Name, p.PPID, p.CWD, exe, os.Getpid(), dir)
	}
	if diff := cmp.Diff([]string{"/bin/sleep", "30"}, p.Args); diff != "" {
		t.Errorf("Args (-want +got):\n%s", diff)
	}
	if p.Stdin != "null" || p.Stdout != "pipe" || p.Stderr != "null" {
		t.Errorf("fds = %q %q %q, want null pipe null", p.Stdin, p.Stdout, p.Stderr)
	}
	if !p.HostPID || !p.HostNet || !p.HostMnt || p.PIDNS == 0 {
		t.Errorf("namespaces: %+v", p)
	}
	if p.StartTime == 0 || !strings.HasSuffix(p.ExecID, ":"+itoa(p.StartTime)+":"+itoa(uint64(p.PID))) {
		t.Errorf("StartTime %d ExecID %q", p.StartTime, p.ExecID)
	}
	if p.ExeInode == 0 || p.ExeCtime == 0 || p.UID != uint32(os.Getuid()) {
		t.Errorf("exe inode %d ctime %d uid %d", p.ExeInode, p.ExeCtime, p.UID)
	}
	cmd.Process.Kill()
	cmd.Wait()
	p = event.Process{PID: cmd.Process.Pid}
	if err := r.Read(&p, Full); err == nil {
		t.Error("Read of a reaped process returned no error")
	}
}

func itoa(v uint64) string { return strconv.FormatUint(v, 10) }

func FuzzParseStat(f *testing.F) {
	for _, name := range []string{"testdata/stat"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("7 (a) b (c)) R 1 7 7 0 -1 4194304 97 0 0 0 0 0 0 0 20 0 1 0 99 3133440 352"))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := ParseStat(b)
		if err == nil && !strings.Contains(string(b), "("+st.Comm+")") {
			t.Errorf("comm %q not in input", st.Comm)
		}
	})
}

func FuzzParseStatus(f *testing.F) {
	b, err := os.ReadFile("testdata/status")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte("Uid:\t1000\t0\t0\t0\nGid:\t100\t50\t50\t50\nCapEff:\t0000000000000000\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ParseStatus(b)
	})
}

func FuzzLinks(f *testing.F) {
	f.Add([]byte("ls\x00-l\x00"), "/memfd:x (deleted)", uint64(34817))
	f.Add([]byte(""), "pid:[4026531836]", uint64(0))
	f.Fuzz(func(t *testing.T, cmdline []byte, link string, nr uint64) {
		args := SplitCmdline(cmdline)
		if len(cmdline) > 0 && strings.Join(args, "\x00") != strings.TrimSuffix(string(cmdline), "\x00") {
			t.Errorf("SplitCmdline(%q) = %q does not join back", cmdline, args)
		}
		ExeLink(link)
		procutil.FDType(link, func() []byte { return cmdline })
		NSInode(link)
		TTYName(nr)
	})
}
