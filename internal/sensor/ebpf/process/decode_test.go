package process

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilsec/vigil/internal/event"
)

// record builds a raw record as the kernel writes it.
func record(h processPevent, exe, cwd, args string) []byte {
	h.ExeLen, h.CwdLen, h.ArgsLen = uint16(len(exe)), uint16(len(cwd)), uint16(len(args))
	b := make([]byte, headerSize, headerSize+len(exe)+len(cwd)+len(args))
	copy(b, unsafe.Slice((*byte)(unsafe.Pointer(&h)), headerSize))
	return append(append(append(b, exe...), cwd...), args...)
}

func comm(s string) (c [16]int8) {
	for i := 0; i < len(s) && i < 15; i++ {
		c[i] = int8(s[i])
	}
	return c
}

func execHeader() processPevent {
	return processPevent{
		Kind: kindExec, Pid: 42, Tid: 42, Ppid: 1, Uid: 1000, Euid: 1000, Gid: 1000, Egid: 1000, Auid: 1000,
		Ktime: 5e9, StartTime: 123 * nsPerTick, ParentStart: 7 * nsPerTick, CgroupId: 9, CapEff: 0,
		ExeDev: 2049, ExeIno: 77, ExeCtimeSec: 10, ExeCtimeNsec: 5 | 1<<31, ExeNlink: 1, ExeMagic: 0xef53,
		TtyMajor: 136, TtyIndex: 3, FdMode: [3]uint32{sIFCHR | 0o620, sIFSOCK, sIFIFO},
		FdRdev: [3]uint32{136<<20 | 3, 0, 0}, Pidns: 1, Mntns: 2, Netns: 3, HostPidns: 1, HostMntns: 2, HostNetns: 4,
		Comm: comm("curl"),
	}
}

func TestDecodeExec(t *testing.T) {
	d := newDecoder("0a-1b", time.Unix(1000, 0), t.TempDir())
	raw := record(execHeader(), "curl\x00bin\x00usr\x00", "tmp\x00", "curl\x00-s\x00http://x y\x00")
	ev, err := d.decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := &event.Event{Kind: event.Exec, Time: time.Unix(1005, 0), Source: "ebpf",
		Process: event.Process{PID: 42, TID: 42, PPID: 1, ExecID: "0a1b:123:42", ParentExecID: "0a1b:7:1",
			Exe: "/usr/bin/curl", Name: "curl", Args: []string{"curl", "-s", "http://x y"}, Cmdline: "curl -s http://x y",
			CWD: "/tmp", TTY: "pts/3", UID: 1000, EUID: 1000, GID: 1000, EGID: 1000, AUID: 1000, CgroupID: 9,
			StartTime: 123, ExeDev: 2049, ExeInode: 77, ExeCtime: 10e9 + 5, Stdin: "tty", Stdout: "socket", Stderr: "pipe",
			PIDNS: 1, MntNS: 2, NetNS: 3, HostPID: true, HostMnt: true},
		Parent: &event.Process{PID: 1, ExecID: "0a1b:7:1"},
	}
	if diff := cmp.Diff(want, ev); diff != "" {
		t.Errorf("decode (-want +got):\n%s", diff)
	}
}

func TestDecodeArgsTruncated(t *testing.T) {
	d := newDecoder("b", time.Unix(0, 0), t.TempDir())
	var args []byte
	for i := 0; i < 70; i++ {
		args = append(args, 'a', 0)
	}
	ev, err := d.decode(record(execHeader(), "x\x00", "", string(args)))
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Process.Args) != maxArgs || !ev.Process.ArgsTruncated {
		t.Errorf("%d args truncated %v, want %d and truncated", len(ev.Process.Args), ev.Process.ArgsTruncated, maxArgs)
	}
}

func TestDecodeBad(t *testing.T) {
	d := newDecoder("b", time.Unix(0, 0), t.TempDir())
	for _, tc := range []struct {
		name string
		raw  []byte
	}{
		{"empty", nil},
		{"short_header", make([]byte, headerSize-1)},
		{"data_beyond_record", record(execHeader(), "abc", "", "")[:headerSize+1]},
		{"unknown_kind", record(processPevent{Kind: 99}, "", "", "")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if ev, err := d.decode(tc.raw); err == nil {
				t.Errorf("decode = %+v, want an error", ev)
			}
		})
	}
	_, err := d.decode(nil)
	if !errors.Is(err, errShort) {
		t.Errorf("decode(nil) = %v, want errShort", err)
	}
}

func TestJoinPath(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"memfd:x\x00", "/memfd:x"},
		{"c\x00b\x00a\x00", "/a/b/c"},
		{"c\x00b", "/b/c"},
	} {
		if got := joinPath([]byte(tc.in)); got != tc.want {
			t.Errorf("joinPath(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFdType(t *testing.T) {
	for _, tc := range []struct {
		mode, rdev uint32
		want       string
	}{
		{0, 0, ""},
		{sIFSOCK | 0o777, 0, "socket"},
		{sIFIFO | 0o600, 0, "pipe"},
		{sIFREG | 0o644, 0, "file"},
		{sIFCHR | 0o666, 1<<20 | 3, "null"},
		{sIFCHR | 0o666, 1<<20 | 5, "other"}, // /dev/zero
		{sIFCHR | 0o620, 4<<20 | 1, "tty"},
		{sIFCHR | 0o620, 143<<20 | 9, "tty"},
		{0o040000, 0, "other"}, // a directory
	} {
		if got := fdType(tc.mode, tc.rdev); got != tc.want {
			t.Errorf("fdType(%o, %#x) = %q, want %q", tc.mode, tc.rdev, got, tc.want)
		}
	}
}

func TestExitStatus(t *testing.T) {
	for code, want := range map[int64]int{0: 0, 3 << 8: 3, 9: 137, 0x80 | 11: 139, 255 << 8: 255} {
		if got := exitStatus(code); got != want {
			t.Errorf("exitStatus(%#x) = %d, want %d", code, got, want)
		}
	}
}

func TestModuleName(t *testing.T) {
	for in, want := range map[string]string{"/lib/modules/x/nf-tables.ko.zst": "nf_tables", "/tmp/a.ko": "a", "/tmp/x.bin": "", "/.ko": ""} {
		if got := moduleName(in); got != want {
			t.Errorf("moduleName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseStartTime(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("testdata", "stat"))
	if err != nil {
		t.Fatal(err)
	}
	if st, err := parseStartTime(good); err != nil || st != 905341 {
		t.Errorf("parseStartTime(testdata/stat) = %d, %v, want 905341", st, err)
	}
	for _, bad := range []string{"", "1 (x", "1 (a) b) S 1 2", "1 (x) S 1 1 1 0 -1 4194304 0 0 0 0 0 0 0 0 20 0 1 0 notanumber 0"} {
		if _, err := parseStartTime([]byte(bad)); err == nil {
			t.Errorf("parseStartTime(%q) succeeded", bad)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(record(execHeader(), "curl\x00bin\x00usr\x00", "tmp\x00", "curl\x00-s\x00"))
	f.Add(record(processPevent{Kind: kindSetID, Syscall: 1}, "", "", ""))
	f.Add(record(processPevent{Kind: kindPtrace, Arg: 16, TargetPid: 1}, "", "", ""))
	f.Add(record(processPevent{Kind: kindModule, Syscall: 11}, "x.ko\x00", "", ""))
	f.Add(record(processPevent{Kind: kindFork, Flags: flagNoChild, TargetPid: 2}, "", "", ""))
	f.Add(record(processPevent{Kind: kindMemfd, Name: [256]int8{'a'}}, "", "", ""))
	proc := f.TempDir() // an empty procfs: lookups fail quietly
	f.Fuzz(func(t *testing.T, raw []byte) {
		d := newDecoder("b", time.Unix(0, 0), proc)
		ev, err := d.decode(raw)
		if err == nil && !ev.Kind.Valid() {
			t.Fatalf("decoded kind %q", ev.Kind)
		}
	})
}

func FuzzParseStartTime(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "stat")); err == nil {
		f.Add(b)
	}
	f.Add([]byte("1 (a) b)) S"))
	f.Fuzz(func(t *testing.T, b []byte) {
		parseStartTime(b)
	})
}

func BenchmarkDecodeExec(b *testing.B) {
	d := newDecoder("943b6ee94c68429fb6da54e2e3205224", time.Unix(0, 0), b.TempDir())
	raw := record(execHeader(), "curl\x00bin\x00usr\x00", "work\x00root\x00", "curl\x00-s\x00-o\x00/tmp/out\x00https://example.invalid/path\x00")
	d.exes[1] = "/sbin/init"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.decode(raw); err != nil {
			b.Fatal(err)
		}
	}
}
