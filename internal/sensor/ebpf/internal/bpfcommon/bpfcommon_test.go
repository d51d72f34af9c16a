package bpfcommon

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/vigilsec/vigil/internal/testutil"
)

func TestDecodeProcHeader(t *testing.T) {
	b := make([]byte, ProcHeaderSize)
	le := binary.LittleEndian
	for i, v := range []uint32{3, 10, 11, 1, 1000, 0, 1001, 1002} {
		le.PutUint32(b[4*i:], v)
	}
	le.PutUint64(b[32:], 7)
	le.PutUint64(b[40:], 8)
	le.PutUint64(b[48:], 9)
	le.PutUint64(b[56:], 2)
	copy(b[64:], "sshd\x00junk")
	h, err := DecodeProcHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	want := ProcHeader{Kind: 3, PID: 10, TID: 11, PPID: 1, UID: 1000, EUID: 0, GID: 1001, EGID: 1002,
		TimeNs: 7, CgroupID: 8, StartTime: 9, ParentStart: 2, Comm: "sshd"}
	if h != want {
		t.Errorf("got %+v, want %+v", h, want)
	}
	p := h.Process("aa-bb")
	if p.ExecID != "aabb:9:10" || p.ParentExecID != "aabb:2:1" || p.AUID != ^uint32(0) || p.Name != "sshd" {
		t.Errorf("process %+v", p)
	}
	if _, err := DecodeProcHeader(b[:79]); err == nil || !strings.Contains(err.Error(), "79 bytes") {
		t.Errorf("short header: %v", err)
	}
	full := make([]byte, 16)
	copy(full, "0123456789abcdef")
	if got := CString(full); got != "0123456789abcdef" {
		t.Errorf("unterminated comm %q", got)
	}
}

func TestKernelDev(t *testing.T) {
	var st unix.Stat_t
	if err := unix.Stat("/dev/null", &st); err != nil {
		t.Fatal(err)
	}
	// /dev/null is 1:3; the kernel encodes it as 1<<20 | 3.
	if got := KernelDev(1<<20 | 3); got != st.Rdev {
		t.Errorf("KernelDev = %#x, stat says %#x", got, st.Rdev)
	}
}

func TestClock(t *testing.T) {
	c := NewClock()
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(c.Time(uint64(ts.Nano()))); d < -time.Second || d > time.Second {
		t.Errorf("boot clock off by %v", d)
	}
}

func TestBootID(t *testing.T) {
	id, err := BootID()
	if err != nil || len(id) != 32 {
		t.Errorf("boot id %q, %v", id, err)
	}
}

func TestLoadRejectsRingSize(t *testing.T) {
	testutil.RequireBPF(t)
	spec := &ebpf.CollectionSpec{}
	for _, n := range []int{0, 1000, 3 * 4096} {
		if _, err := Load(spec, Config{Name: "x", RingSize: n}); err == nil || !strings.Contains(err.Error(), "ring size") {
			t.Errorf("ring size %d: %v", n, err)
		}
	}
}

func TestProbe(t *testing.T) {
	testutil.RequireBPF(t)
	if err := Probe(); err != nil {
		t.Fatal(err)
	}
}
