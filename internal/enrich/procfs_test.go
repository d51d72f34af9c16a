package enrich

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilsec/vigil/internal/event"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseStat(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    procStat
		wantErr bool
	}{
		{
			name: "init",
			in:   string(readTestdata(t, "stat-init.txt")),
			want: procStat{comm: "process_api", ppid: 0, flags: 4194560, startTime: 20},
		},
		{
			name: "comm_with_parens_and_spaces_on_a_pts",
			in:   "42 (a) b (c)) R 7 42 42 34819 42 4194304 0 0 0 0 0 0 0 0 20 0 1 0 98765 0 0\n",
			want: procStat{comm: "a) b (c)", ppid: 7, ttyNr: 34819, flags: 4194304, startTime: 98765},
		},
		{name: "no_comm", in: "42 a R 7", wantErr: true},
		{name: "too_few_fields", in: "42 (a) R 7 42 42 0 42 4194304 0 0", wantErr: true},
		{name: "ppid_not_a_number", in: "42 (a) R x 42 42 0 42 4194304 0 0 0 0 0 0 0 0 20 0 1 0 98765", wantErr: true},
		{name: "negative_start", in: "42 (a) R 7 42 42 0 42 4194304 0 0 0 0 0 0 0 0 20 0 1 0 -5", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStat([]byte(tc.in))
			if tc.wantErr {
				if err == nil || !errors.Is(err, errMalformed) {
					t.Fatalf("parseStat(%q) = %+v, %v; want a malformed error", tc.in, got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(procStat{})); diff != "" {
				t.Errorf("parseStat (-want +got):\n%s", diff)
			}
		})
	}
	// kthreadd is a kernel thread.
	if s, err := parseStat(readTestdata(t, "stat-kthreadd.txt")); err != nil || s.flags&pfKthread == 0 || s.comm != "kthreadd" {
		t.Errorf("kthreadd: %+v, %v; want a kernel thread named kthreadd", s, err)
	}
}

func TestParseStatus(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    procStatus
		wantErr bool
	}{
		{
			name: "init",
			in:   string(readTestdata(t, "status-init.txt")),
			want: procStatus{capEff: 0x1ffffffffff},
		},
		{
			name: "user_process",
			in:   "Name:\tbash\nUid:\t1000\t1001\t1000\t1000\nGid:\t100\t101\t100\t100\nCapEff:\t0000000000000000\n",
			want: procStatus{uid: 1000, euid: 1001, gid: 100, egid: 101},
		},
		{name: "no_uid", in: "Gid:\t0\t0\t0\t0\n", wantErr: true},
		{name: "short_uid", in: "Uid:\t0\nGid:\t0\t0\t0\t0\n", wantErr: true},
		{name: "uid_too_big", in: "Uid:\t4294967296\t0\t0\t0\nGid:\t0\t0\t0\t0\n", wantErr: true},
		{name: "bad_capeff", in: "Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nCapEff:\tzz\n", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatus([]byte(tc.in))
			if tc.wantErr {
				if !errors.Is(err, errMalformed) {
					t.Fatalf("parseStatus = %+v, %v; want a malformed error", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(procStatus{})); diff != "" {
				t.Errorf("parseStatus (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSplitCmdline(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		wantLine string
		wantArgs []string
	}{
		{name: "empty", in: ""},
		{name: "nuls_only", in: "\x00\x00"},
		{name: "args", in: "sh\x00-c\x00sleep 5\x00", wantLine: "sh -c sleep 5", wantArgs: []string{"sh", "-c", "sleep 5"}},
		{name: "rewritten_title", in: "nginx: worker process", wantLine: "nginx: worker process", wantArgs: []string{"nginx: worker process"}},
		{name: "empty_arg", in: "a\x00\x00b\x00", wantLine: "a  b", wantArgs: []string{"a", "", "b"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			line, args := splitCmdline([]byte(tc.in))
			if line != tc.wantLine {
				t.Errorf("cmdline = %q, want %q", line, tc.wantLine)
			}
			if diff := cmp.Diff(tc.wantArgs, args); diff != "" {
				t.Errorf("args (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("too_many_args", func(t *testing.T) {
		in := strings.Repeat("x\x00", maxArgs+10)
		line, args := splitCmdline([]byte(in))
		if len(args) != maxArgs || line != strings.Join(args, " ") {
			t.Errorf("got %d args and a %d-byte line; want %d args and the line they make", len(args), len(line), maxArgs)
		}
	})
}

func TestSmallParsers(t *testing.T) {
	ns := map[string]uint32{"pid:[4026531836]": 4026531836, "net:[1]": 1, "pid:[]": 0, "pid:[+1]": 0, "pid:[99999999999]": 0, "x": 0}
	for link, want := range ns {
		if got := parseNSLink(link); got != want {
			t.Errorf("parseNSLink(%q) = %d, want %d", link, got, want)
		}
	}
	tty := map[uint32]string{0: "", 136 << 8: "pts/0", 136<<8 | 3: "pts/3", 136<<8 | 0x1<<20: "pts/256",
		4<<8 | 1: "tty1", 4<<8 | 64: "ttyS0", 5<<8 | 1: "console", 5 << 8: "tty", 7<<8 | 2: "tty(7:2)"}
	for nr, want := range tty {
		if got := ttyName(nr); got != want {
			t.Errorf("ttyName(%#x) = %q, want %q", nr, got, want)
		}
	}
	id := event.ExecID("0e9a-11", 1234, 77)
	if start, pid, ok := parseExecID(id); !ok || start != 1234 || pid != 77 {
		t.Errorf("parseExecID(%q) = %d, %d, %v", id, start, pid, ok)
	}
	for _, bad := range []string{"", "x", "a:b", "a:1:x", "a:x:1", "a:1:-1"} {
		if _, _, ok := parseExecID(bad); ok {
			t.Errorf("parseExecID(%q) ok, want not", bad)
		}
	}
}

// TestReadSelf reads this test process and checks what /proc says by
// other means.
func TestReadSelf(t *testing.T) {
	r := newProcReader("/proc", "boot")
	p, err := r.read(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	exe, _ := os.Executable()
	wd, _ := os.Getwd()
	if p.Exe != exe || p.CWD != wd || p.PPID != os.Getppid() || uint32(os.Getuid()) != p.UID || p.Args[0] != os.Args[0] {
		t.Errorf("read self = %+v; want exe %q, cwd %q, ppid %d, uid %d, args %q", p, exe, wd, os.Getppid(), os.Getuid(), os.Args)
	}
	if p.ExeInode == 0 || p.PIDNS == 0 || p.MntNS == 0 || p.NetNS == 0 || p.StartTime == 0 {
		t.Errorf("read self = %+v; want exe inode, namespaces and start time", p)
	}
	if p.ExecID != event.ExecID("boot", p.StartTime, os.Getpid()) {
		t.Errorf("exec ID %q does not match start time %d", p.ExecID, p.StartTime)
	}
	if _, err := r.read(1 << 30); err == nil {
		t.Error("read of a PID that cannot exist succeeded")
	}
}

func FuzzParseStat(f *testing.F) {
	for _, name := range []string{"stat-init.txt", "stat-kthreadd.txt", "stat-sleep.txt"} {
		f.Add(readTestdata(f, name))
	}
	f.Add([]byte("1 ((() R 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parseStat(b)
		if err != nil {
			return
		}
		if !strings.Contains(string(b), "("+s.comm+")") {
			t.Errorf("comm %q is not between parentheses in %q", s.comm, b)
		}
	})
}

func FuzzParseStatus(f *testing.F) {
	for _, name := range []string{"status-init.txt", "status-sleep.txt"} {
		f.Add(readTestdata(f, name))
	}
	f.Add([]byte("Uid:\t1\t2\t3\t4\nGid:\t5\t6\t7\t8\nCapEff:\tffff\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseStatus(b)
	})
}

func FuzzSplitCmdline(f *testing.F) {
	f.Add([]byte("sh\x00-c\x00sleep 5\x00"))
	f.Add([]byte("nginx: worker process"))
	f.Add([]byte("\x00a\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		line, args := splitCmdline(b)
		if len(args) > maxArgs {
			t.Fatalf("%d args, more than %d", len(args), maxArgs)
		}
		if line != strings.Join(args, " ") {
			t.Fatalf("cmdline %q is not the args %q joined", line, args)
		}
	})
}

func FuzzParseExecID(f *testing.F) {
	f.Add("6c1f0d2e-aa", uint64(12345), 678, "6c1f:12345:678")
	f.Add("", uint64(1), 1, "a:b:c:1:2")
	f.Fuzz(func(t *testing.T, boot string, start uint64, pid int, raw string) {
		parseExecID(raw) // must not panic
		if pid <= 0 || strings.Contains(boot, ":") {
			return
		}
		gs, gp, ok := parseExecID(event.ExecID(boot, start, pid))
		if !ok || gs != start || gp != pid {
			t.Fatalf("ExecID(%q, %d, %d) parsed to %d, %d, %v", boot, start, pid, gs, gp, ok)
		}
	})
}
