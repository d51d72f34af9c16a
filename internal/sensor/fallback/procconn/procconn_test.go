package procconn

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/vigilsec/vigil/internal/event"
	"github.com/vigilsec/vigil/internal/sensor"
	"github.com/vigilsec/vigil/internal/sensor/fallback/internal/procread"
	"github.com/vigilsec/vigil/internal/testutil"
)

// helperEnv makes the test binary act as the setid helper: it waits for a
// line on stdin, then sets gid and uid to 65534, then waits for stdin EOF.
const helperEnv = "VIGIL_PROCCONN_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "setid" {
		in := bufio.NewReader(os.Stdin)
		in.ReadString('\n')
		if err := syscall.Setgid(65534); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		if err := syscall.Setuid(65534); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		io.Copy(io.Discard, in)
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// collector is a Sink that keeps every event.
type collector struct {
	mu     sync.Mutex
	events []*event.Event
}

func (c *collector) Emit(ev *event.Event) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, ev)
	return true
}

// wait polls for up to 10 s for an event matching match.
func (c *collector) wait(t *testing.T, what string, match func(*event.Event) bool) *event.Event {
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
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no %s event within 10s", what)
	return nil
}

func (c *collector) count(match func(*event.Event) bool) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, ev := range c.events {
		if match(ev) {
			n++
		}
	}
	return n
}

func start(t *testing.T) (*Sensor, *collector) {
	t.Helper()
	testutil.RequireRoot(t)
	s := New(Config{})
	c := &collector{}
	if err := s.Start(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s, c
}

func TestExecForkExit(t *testing.T) {
	s, c := start(t)
	if st := s.Status(); st.Mode != sensor.ModeFallback || st.Name != "process" || len(st.Attach) == 0 || st.Reason == "" {
		t.Errorf("Status = %+v", st)
	}
	dir := t.TempDir()
	out, err := os.Create(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	// sh waits on stdin so /proc can be read, then forks true and exits 3.
	cmd := exec.Command("/bin/sh", "-c", "read x; /bin/true; exit 3")
	cmd.Dir, cmd.Stdout = dir, out
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	shExe, _ := filepath.EvalSymlinks("/bin/sh")
	trueExe, _ := filepath.EvalSymlinks("/bin/true")

	execEv := c.wait(t, "exec of sh", func(ev *event.Event) bool {
		return ev.Kind == event.Exec && ev.Process.PID == pid
	})
	stdin.Write([]byte("go\n"))
	stdin.Close()
	if err := cmd.Wait(); err == nil || cmd.ProcessState.ExitCode() != 3 {
		t.Fatalf("sh: %v", err)
	}

	r, err := procread.NewReader("/proc")
	if err != nil {
		t.Fatal(err)
	}
	self := event.Process{PID: os.Getpid()}
	if err := r.Read(&self, procread.Basic); err != nil {
		t.Fatal(err)
	}
	p := execEv.Process
	want := event.Process{
		PID: pid, TID: pid, PPID: os.Getpid(), ParentExecID: self.ExecID,
		Exe: shExe, Name: "sh", Args: []string{"/bin/sh", "-c", "read x; /bin/true; exit 3"},
		Cmdline: "/bin/sh -c read x; /bin/true; exit 3", CWD: dir,
		Stdin: "pipe", Stdout: "file", Stderr: "null",
		AUID: p.AUID, CapEff: self.CapEff, HostPID: true, HostNet: true, HostMnt: true,
	}
	got := p
	got.ExecID, got.StartTime, got.PIDNS, got.MntNS, got.NetNS, got.ExeDev, got.ExeInode, got.ExeCtime = "", 0, 0, 0, 0, 0, 0, 0
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("exec event process (-want +got):\n%s", diff)
	}
	if p.StartTime == 0 || p.ExecID != r.ExecID(p.StartTime, pid) || p.ExeInode == 0 || p.PIDNS == 0 {
		t.Errorf("exec identity: start %d exec id %q inode %d pidns %d", p.StartTime, p.ExecID, p.ExeInode, p.PIDNS)
	}
	if execEv.Parent == nil || execEv.Parent.PID != os.Getpid() || execEv.Source != Source || time.Since(execEv.Time).Abs() > time.Minute {
		t.Errorf("exec event envelope: parent %+v source %q time %v", execEv.Parent, execEv.Source, execEv.Time)
	}

	forkEv := c.wait(t, "fork of sh", func(ev *event.Event) bool {
		return ev.Kind == event.Fork && ev.Process.PID == pid
	})
	if forkEv.Process.PPID != os.Getpid() || forkEv.Process.ExecID != p.ExecID || forkEv.Process.ParentExecID != self.ExecID {
		t.Errorf("fork of sh: %+v; want ppid %d exec id %q", forkEv.Process, os.Getpid(), p.ExecID)
	}
	trueEv := c.wait(t, "exec of true by sh", func(ev *event.Event) bool {
		return ev.Kind == event.Exec && ev.Process.PPID == pid
	})
	if trueEv.Process.ParentExecID != p.ExecID {
		t.Errorf("true's parent exec id %q, want %q", trueEv.Process.ParentExecID, p.ExecID)
	}
	if trueEv.Process.Exe != "" && trueEv.Process.Exe != trueExe {
		// /bin/true may be gone before /proc was read; then only pids. It
		// may also be a zombie by then: its stat (start time) still reads,
		// its exe link no longer does.
		t.Errorf("true exe %q, want %q", trueEv.Process.Exe, trueExe)
	}
	exitEv := c.wait(t, "exit of sh", func(ev *event.Event) bool {
		return ev.Kind == event.Exit && ev.Process.PID == pid
	})
	if exitEv.Process.ExitCode != 3 || exitEv.Process.ExecID != p.ExecID || exitEv.Process.PPID != os.Getpid() || exitEv.Process.Exe != shExe {
		t.Errorf("exit of sh: code %d exec id %q ppid %d exe %q", exitEv.Process.ExitCode, exitEv.Process.ExecID, exitEv.Process.PPID, exitEv.Process.Exe)
	}
	if st := s.Stats(); st.Events < 4 {
		t.Errorf("Stats = %+v, want at least 4 events", st)
	}
}

func TestSetID(t *testing.T) {
	_, c := start(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=setid")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	pid := cmd.Process.Pid
	c.wait(t, "exec of helper", func(ev *event.Event) bool { return ev.Kind == event.Exec && ev.Process.PID == pid })
	stdin.Write([]byte("go\n"))

	uidEv := c.wait(t, "setuid", func(ev *event.Event) bool {
		return ev.Kind == event.SetID && ev.Process.PID == pid && ev.Cred.Syscall == "setuid"
	})
	gidEv := c.wait(t, "setgid", func(ev *event.Event) bool {
		return ev.Kind == event.SetID && ev.Process.PID == pid && ev.Cred.Syscall == "setgid"
	})
	wantGID := event.CredInfo{Syscall: "setgid", OldGID: 0, NewGID: 65534}
	if diff := cmp.Diff(wantGID, *gidEv.Cred); diff != "" {
		t.Errorf("setgid cred (-want +got):\n%s", diff)
	}
	wantUID := event.CredInfo{Syscall: "setuid", OldUID: 0, NewUID: 65534, OldEUID: 0, NewEUID: 65534, OldGID: 65534, NewGID: 65534}
	if diff := cmp.Diff(wantUID, *uidEv.Cred); diff != "" {
		t.Errorf("setuid cred (-want +got):\n%s", diff)
	}
	if uidEv.Process.UID != 65534 || uidEv.Process.EUID != 65534 || uidEv.Process.ExecID == "" {
		t.Errorf("setuid process: %+v", uidEv.Process)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v", err)
	}
	c.wait(t, "exit of helper", func(ev *event.Event) bool { return ev.Kind == event.Exit && ev.Process.PID == pid })
	// Go changes the ids on every thread; the process is reported once.
	if n := c.count(func(ev *event.Event) bool { return ev.Kind == event.SetID && ev.Process.PID == pid }); n != 2 {
		t.Errorf("%d setid events for the helper, want 2", n)
	}
}

// TestGoneBeforeRead hands the sensor messages about a process that has
// been reaped: the events still go out, with the connector's PIDs, and are
// counted as vanished.
func TestGoneBeforeRead(t *testing.T) {
	s, c := newUnstarted(t)
	cmd := exec.Command("/bin/true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	s.handle(&Message{What: WhatExec, PID: pid, TGID: pid})
	s.handle(&Message{What: WhatExit, PID: pid, TGID: pid, ParentTGID: os.Getpid(), ExitCode: 9})
	s.handle(&Message{What: WhatFork, PID: pid + 1, TGID: pid, ParentTGID: os.Getpid()}) // a thread
	if len(c.events) != 2 || c.events[0].Kind != event.Exec || c.events[0].Process.PID != pid ||
		c.events[1].Process.ExitCode != 128+9 || c.events[1].Process.PPID != os.Getpid() {
		t.Fatalf("events = %+v", c.events)
	}
	if s.Vanished() != 2 || s.Stats().Events != 2 || s.Stats().Filtered != 1 {
		t.Errorf("vanished %d, stats %+v", s.Vanished(), s.Stats())
	}
}

func TestContextCancel(t *testing.T) {
	testutil.RequireRoot(t)
	ctx, cancel := context.WithCancel(context.Background())
	s := New(Config{})
	if err := s.Start(ctx, &collector{}); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background(), &collector{}); err == nil {
		t.Error("Start after Close succeeded")
	}
}

func newUnstarted(t testing.TB) (*Sensor, *collector) {
	t.Helper()
	s := New(Config{})
	rd, err := procread.NewReader("/proc")
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{}
	s.rd, s.sink, s.procs = rd, c, make(map[int]known)
	return s, c
}

// encode builds the cn_msg + proc_event payload of m.
func encode(m Message) []byte {
	b := make([]byte, cnMsgLen+16+24)
	ne.PutUint32(b[0:], cnIdxProc)
	ne.PutUint32(b[4:], cnValProc)
	ne.PutUint16(b[16:], 16+24)
	ev := b[cnMsgLen:]
	ne.PutUint32(ev[0:], m.What)
	ne.PutUint32(ev[4:], m.CPU)
	ne.PutUint64(ev[8:], m.Timestamp)
	var words [6]uint32
	switch m.What {
	case WhatNone:
		words[0] = m.Ack
	case WhatFork:
		words = [6]uint32{uint32(m.ParentPID), uint32(m.ParentTGID), uint32(m.PID), uint32(m.TGID)}
	case WhatExec:
		words = [6]uint32{uint32(m.PID), uint32(m.TGID)}
	case WhatUID, WhatGID:
		words = [6]uint32{uint32(m.PID), uint32(m.TGID), m.Real, m.Effective}
	case WhatExit:
		words = [6]uint32{uint32(m.PID), uint32(m.TGID), m.ExitCode, m.ExitSignal, uint32(m.ParentPID), uint32(m.ParentTGID)}
	}
	for i, w := range words {
		ne.PutUint32(ev[16+4*i:], w)
	}
	return b
}

var decodeCases = []Message{
	{What: WhatFork, CPU: 1, Timestamp: 123456789, ParentPID: 10, ParentTGID: 10, PID: 11, TGID: 11},
	{What: WhatExec, Timestamp: 5, PID: 11, TGID: 11},
	{What: WhatUID, PID: 12, TGID: 11, Real: 1000, Effective: 0},
	{What: WhatGID, PID: 11, TGID: 11, Real: 50, Effective: 50},
	{What: WhatExit, PID: 11, TGID: 11, ExitCode: 3 << 8, ExitSignal: 17, ParentPID: 10, ParentTGID: 10},
	{What: WhatNone, Ack: 0},
}

func TestDecode(t *testing.T) {
	for _, want := range decodeCases {
		got, err := Decode(encode(want))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Decode (-want +got):\n%s", diff)
		}
	}
	// A pre-4.18 exit has no parent fields.
	short := encode(decodeCases[4])[:cnMsgLen+16+16]
	ne.PutUint16(short[16:], 32)
	got, err := Decode(short)
	if err != nil || got.ParentTGID != 0 || got.ExitCode != 3<<8 {
		t.Errorf("Decode(short exit) = %+v, %v", got, err)
	}

	bad := map[string][]byte{
		"short cn_msg":       make([]byte, 10),
		"other connector":    func() []byte { b := encode(decodeCases[0]); b[0] = 9; return b }(),
		"length beyond data": func() []byte { b := encode(decodeCases[0]); ne.PutUint16(b[16:], 500); return b }(),
		"short fork":         func() []byte { b := encode(decodeCases[0]); ne.PutUint16(b[16:], 20); return b[:cnMsgLen+20] }(),
	}
	for name, b := range bad {
		if _, err := Decode(b); err == nil {
			t.Errorf("Decode(%s) = nil error", name)
		}
	}
}

func TestExitStatus(t *testing.T) {
	for status, want := range map[uint32]int{0: 0, 3 << 8: 3, 9: 137, 15 | 0x80: 143, 255 << 8: 255} {
		if got := ExitStatus(status); got != want {
			t.Errorf("ExitStatus(%#x) = %d, want %d", status, got, want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, m := range decodeCases {
		f.Add(encode(m))
	}
	seeds, _ := filepath.Glob("testdata/*.bin")
	for _, name := range seeds {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			return
		}
		if !slices.Contains([]uint32{WhatNone, WhatFork, WhatExec, WhatUID, WhatGID, WhatExit}, m.What) && m.PID != 0 {
			t.Errorf("undecoded kind 0x%x has pid %d", m.What, m.PID)
		}
	})
}

// BenchmarkHandleExec measures the decode + /proc enrichment path of one
// exec message, for a live process.
func BenchmarkHandleExec(b *testing.B) {
	cmd := exec.Command("/bin/sleep", "60")
	cmd.Dir = b.TempDir()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	time.Sleep(50 * time.Millisecond) // let it exec
	s, c := newUnstarted(b)
	payload := encode(Message{What: WhatExec, PID: cmd.Process.Pid, TGID: cmd.Process.Pid})
	b.ReportAllocs()
	for b.Loop() {
		m, err := Decode(payload)
		if err != nil {
			b.Fatal(err)
		}
		s.handle(&m)
		c.events = c.events[:0]
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	if s.Vanished() != 0 || !strings.HasSuffix(fmt.Sprint(s.Stats().Events), "") {
		b.Fatalf("vanished %d", s.Vanished())
	}
}

// TestDecodeCaptured decodes messages captured from this kernel.
func TestDecodeCaptured(t *testing.T) {
	names, _ := filepath.Glob("testdata/*.bin")
	if len(names) == 0 {
		t.Fatal("no captured messages in testdata")
	}
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Decode(b)
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if !strings.Contains(name, fmt.Sprintf("what-%x.bin", m.What)) || (m.What != WhatNone && m.TGID == 0) {
			t.Errorf("%s decoded as %+v", name, m)
		}
	}
}
