package file

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilsec/vigil/internal/event"
	"github.com/vigilsec/vigil/internal/sensor/ebpf/internal/bpfcommon"
)

// TestRecordLayout checks the decoder's offsets against the layout clang
// gave struct file_rec.
func TestRecordLayout(t *testing.T) {
	var r fileFileRec
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"proc header", unsafe.Sizeof(r.H), bpfcommon.ProcHeaderSize},
		{"comm", unsafe.Offsetof(r.H.Comm), 64},
		{"start_time", unsafe.Offsetof(r.H.StartTime), 48},
		{"op", unsafe.Offsetof(r.Op), offOp},
		{"flags", unsafe.Offsetof(r.Flags), offFlags},
		{"mode", unsafe.Offsetof(r.Mode), offMode},
		{"uid", unsafe.Offsetof(r.Uid), offUID},
		{"gid", unsafe.Offsetof(r.Gid), offGID},
		{"path_len", unsafe.Offsetof(r.PathLen), offPathLen},
		{"new_len", unsafe.Offsetof(r.NewLen), offNewLen},
		{"dev", unsafe.Offsetof(r.Dev), offDev},
		{"ino", unsafe.Offsetof(r.Ino), offIno},
		{"path", unsafe.Offsetof(r.Path), offPath},
		{"new_path", unsafe.Offsetof(r.NewPath), offNewPath},
		{"path buffer", unsafe.Sizeof(r.Path), pathBuf},
	} {
		if c.got != c.want {
			t.Errorf("%s at %d, decoder uses %d", c.name, c.got, c.want)
		}
	}
}

// record builds a file record as the kernel writes it.
func record(op uint32, path, newPath string) []byte {
	size := offPath + len(path)
	if newPath != "" {
		size = offNewPath + len(newPath)
	}
	b := make([]byte, size)
	le := binary.LittleEndian
	le.PutUint32(b[0:], op)
	le.PutUint32(b[4:], 1234)           // pid
	le.PutUint32(b[8:], 1235)           // tid
	le.PutUint32(b[12:], 1)             // ppid
	le.PutUint32(b[20:], 0)             // euid
	le.PutUint64(b[32:], 5_000_000_000) // boot ns
	le.PutUint64(b[40:], 77)            // cgroup
	le.PutUint64(b[48:], 4200)          // start ticks
	le.PutUint64(b[56:], 1)             // parent start
	copy(b[64:], "bash")
	le.PutUint32(b[offOp:], op)
	le.PutUint32(b[offFlags:], 0o1101)
	le.PutUint32(b[offMode:], 0o100644)
	le.PutUint32(b[offUID:], 10)
	le.PutUint32(b[offGID:], 20)
	le.PutUint16(b[offPathLen:], uint16(len(path)))
	le.PutUint16(b[offNewLen:], uint16(len(newPath)))
	le.PutUint64(b[offDev:], 8<<20|1)
	le.PutUint64(b[offIno:], 99)
	copy(b[offPath:], path)
	if newPath != "" {
		copy(b[offNewPath:], newPath)
	}
	return b
}

func TestDecode(t *testing.T) {
	d := &decoder{bootID: "0f1e2d3c-0000-4000-8000-000000000001", clock: bpfcommon.Clock{}}
	ev, err := d.decode(record(5, "/tmp/a", "/etc/cron.d/a"))
	if err != nil {
		t.Fatal(err)
	}
	want := &event.Event{
		Kind: event.File,
		Time: time.Time{}.Add(5 * time.Second).UTC(),
		Process: event.Process{
			PID: 1234, TID: 1235, PPID: 1, Name: "bash", CgroupID: 77, StartTime: 4200, AUID: ^uint32(0),
			ExecID:       "0f1e2d3c000040008000000000000001:4200:1234",
			ParentExecID: "0f1e2d3c000040008000000000000001:1:1",
		},
		File: &event.FileInfo{Op: event.OpRename, Path: "/tmp/a", NewPath: "/etc/cron.d/a", Mode: 0o100644,
			Flags: 0o1101, Dev: 0x801, Inode: 99},
	}
	if diff := cmp.Diff(want, ev); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}

	for _, c := range []struct {
		name string
		rec  []byte
		want string
	}{
		{"short_header", record(2, "/a", "")[:40], "shorter than its 80-byte process header"},
		{"short_fixed", record(2, "/a", "")[:100], "shorter than its 128-byte fixed part"},
		{"unknown_op", record(1, "/a", ""), "unknown op 1"},
		{"zero_path", record(2, "", ""), "path length 0"},
		{"relative", record(2, "a/b", ""), `"a/b" is not absolute`},
		{"overrun", record(2, "/abc", "")[:offPath+2], "overruns"},
		{"new_overrun", record(5, "/a", "/bcd")[:offNewPath+2], "new path of 4 bytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := d.decode(c.rec)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(record(2, "/etc/cron.d/x", ""))
	f.Add(record(5, "/tmp/a", "/etc/cron.d/a"))
	f.Add(record(8, "/", ""))
	d := &decoder{bootID: "b", clock: bpfcommon.NewClock()}
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := d.decode(b)
		if err != nil {
			return
		}
		if ev.File == nil || !strings.HasPrefix(ev.File.Path, "/") || len(ev.File.Path) >= pathBuf {
			t.Fatalf("decoded an invalid event: %+v", ev.File)
		}
	})
}
