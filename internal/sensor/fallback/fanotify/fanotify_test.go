package fanotify

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/vigilsec/vigil/internal/event"
	"github.com/vigilsec/vigil/internal/sensor"
	"github.com/vigilsec/vigil/internal/sensor/fallback/internal/procread"
	"github.com/vigilsec/vigil/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

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

// take waits up to 10 s for a file event matching op and path, and returns
// it, removing it and everything before it.
func (c *collector) take(t *testing.T, op event.FileOp, path string) *event.Event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		for i, ev := range c.events {
			if ev.File.Op == op && (ev.File.Path == path || op == event.OpRename && ev.File.NewPath == path) {
				c.events = c.events[i+1:]
				c.mu.Unlock()
				return ev
			}
		}
		c.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no %s event for %s within 10s; have %v", op, path, c.summary())
	return nil
}

func (c *collector) summary() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var s []string
	for _, ev := range c.events {
		s = append(s, string(ev.File.Op)+" "+ev.File.Path+" "+ev.File.NewPath)
	}
	return s
}

func (c *collector) any(pred func(*event.Event) bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ev := range c.events {
		if pred(ev) {
			return true
		}
	}
	return false
}

func TestFileOps(t *testing.T) {
	testutil.RequireRoot(t)
	dir, outside := t.TempDir(), t.TempDir()
	secret := filepath.Join(dir, "secret")
	existing := filepath.Join(dir, "existing")
	for _, p := range []string{secret, existing} {
		if err := os.WriteFile(p, []byte("s"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s, err := New(Config{WriteWatch: []string{dir + "/"}, ReadWatch: []string{secret, "/nonexistent/shadow"}})
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{}
	if err := s.Start(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	}()
	st := s.Status()
	if st.Mode != sensor.ModeFallback || st.Name != "file" || !strings.Contains(st.Reason, "/nonexistent/shadow does not exist") || len(st.Attach) != 2 {
		t.Errorf("Status = %+v", st)
	}
	self := event.Process{PID: os.Getpid()}
	rd, err := procread.NewReader("/proc")
	if err != nil {
		t.Fatal(err)
	}
	if err := rd.Read(&self, procread.Basic); err != nil {
		t.Fatal(err)
	}
	check := func(ev *event.Event, want event.FileInfo) {
		t.Helper()
		got := *ev.File
		got.Dev, got.Inode = 0, 0
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s event (-want +got):\n%s", want.Op, diff)
		}
		if ev.Process.PID != self.PID || ev.Process.ExecID != self.ExecID || ev.Source != Source {
			t.Errorf("%s event process %+v, source %q; want pid %d exec id %q", want.Op, ev.Process, ev.Source, self.PID, self.ExecID)
		}
	}

	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	if err := os.WriteFile(a, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	check(c.take(t, event.OpCreate, a), event.FileInfo{Op: event.OpCreate, Path: a, Mode: unix.S_IFREG | 0o644})

	f, err := os.OpenFile(existing, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("more")
	f.WriteString("more")
	f.Close()
	check(c.take(t, event.OpOpenWrite, existing), event.FileInfo{Op: event.OpOpenWrite, Path: existing, Mode: unix.S_IFREG | 0o600})

	if err := os.Rename(a, b); err != nil {
		t.Fatal(err)
	}
	check(c.take(t, event.OpRename, b), event.FileInfo{Op: event.OpRename, Path: a, NewPath: b, Mode: unix.S_IFREG | 0o644})

	if err := os.Chmod(b, 0o755); err != nil {
		t.Fatal(err)
	}
	check(c.take(t, event.OpChmod, b), event.FileInfo{Op: event.OpChmod, Path: b, Mode: unix.S_IFREG | 0o755})
	if err := os.Chown(b, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	check(c.take(t, event.OpChown, b), event.FileInfo{Op: event.OpChown, Path: b, Mode: unix.S_IFREG | 0o755, UID: 65534, GID: 65534})
	if err := os.Chtimes(b, time.Unix(1, 0), time.Unix(1, 0)); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(b); err != nil {
		t.Fatal(err)
	}
	check(c.take(t, event.OpUnlink, b), event.FileInfo{Op: event.OpUnlink, Path: b})

	if _, err := os.ReadFile(secret); err != nil {
		t.Fatal(err)
	}
	check(c.take(t, event.OpOpenRead, secret), event.FileInfo{Op: event.OpOpenRead, Path: secret, Mode: unix.S_IFREG | 0o600})

	// Replace the read-watched file as passwd does; reads are still seen.
	tmp := filepath.Join(outside, "secret.new")
	if err := os.WriteFile(tmp, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, secret); err != nil {
		t.Fatal(err)
	}
	check(c.take(t, event.OpRename, secret), event.FileInfo{Op: event.OpRename, Path: tmp, NewPath: secret, Mode: unix.S_IFREG | 0o600})
	if _, err := os.ReadFile(secret); err != nil {
		t.Fatal(err)
	}
	check(c.take(t, event.OpOpenRead, secret), event.FileInfo{Op: event.OpOpenRead, Path: secret, Mode: unix.S_IFREG | 0o600})

	// Outside the watch: nothing, but counted as filtered.
	before := s.Stats().Filtered
	if err := os.WriteFile(filepath.Join(outside, "x"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats().Filtered == before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if s.Stats().Filtered == before {
		t.Error("write outside the watch was not counted as filtered")
	}
	if c.any(func(ev *event.Event) bool { return strings.HasPrefix(ev.File.Path, outside) }) {
		t.Errorf("events outside the watch: %v", c.summary())
	}
	if c.any(func(ev *event.Event) bool { return ev.File.Op == event.OpChmod && ev.File.Path == b }) {
		t.Errorf("a time change was reported: %v", c.summary())
	}
	if st := s.Stats(); st.Events < 9 || st.KernelDropped != 0 {
		t.Errorf("Stats = %+v", st)
	}
}

// TestShortLivedReader: a reader that exits as soon as it has read a
// watched file (cat /etc/shadow) is still reported with its executable,
// because the open waits for the sensor's answer.
func TestShortLivedReader(t *testing.T) {
	testutil.RequireRoot(t)
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("s"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{ReadWatch: []string{secret}})
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{}
	if err := s.Start(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if strings.Contains(s.Status().Reason, "no permission events") {
		t.Skipf("kernel without fanotify permission events: %s", s.Status().Reason)
	}
	cat, err := filepath.EvalSymlinks("/bin/cat")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		out, err := exec.Command(cat, secret).Output()
		if err != nil || string(out) != "s" {
			t.Fatalf("cat %s = %q, %v", secret, out, err)
		}
		ev := c.take(t, event.OpOpenRead, secret)
		if ev.Process.Exe != cat || ev.Process.PID == 0 {
			t.Fatalf("read %d: process %+v, want exe %s", i, ev.Process, cat)
		}
	}
}

// TestMovePairing checks the moved_from/moved_to pairing used on kernels
// without FAN_RENAME, on resolved paths.
func TestMovePairing(t *testing.T) {
	s, err := New(Config{WriteWatch: []string{"/w/"}})
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{}
	s.sink = c
	rd, err := procread.NewReader("/proc")
	if err != nil {
		t.Fatal(err)
	}
	pid := os.Getpid()
	s.apply(&Record{Mask: unix.FAN_MOVED_FROM, PID: pid}, "/w/a", "", "", rd)
	s.apply(&Record{Mask: unix.FAN_MOVED_TO, PID: pid}, "/w/b", "", "", rd)
	s.apply(&Record{Mask: unix.FAN_MOVED_FROM, PID: pid}, "/w/c", "", "", rd)
	s.flushMove(rd)
	s.apply(&Record{Mask: unix.FAN_MOVED_FROM, PID: pid}, "/elsewhere/d", "", "", rd)
	s.apply(&Record{Mask: unix.FAN_MOVED_TO, PID: pid + 1}, "/w/e", "", "", rd)
	s.apply(&Record{Mask: unix.FAN_MOVED_FROM, PID: pid}, "/elsewhere/f", "", "", rd)
	s.apply(&Record{Mask: unix.FAN_MOVED_TO, PID: pid}, "/elsewhere/g", "", "", rd)
	var got [][2]string
	for _, ev := range c.events {
		got = append(got, [2]string{ev.File.Path, ev.File.NewPath})
	}
	want := [][2]string{{"/w/a", "/w/b"}, {"/w/c", ""}, {"", "/w/e"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("renames (-want +got):\n%s", diff)
	}
	if f := s.Stats().Filtered; f != 2 {
		t.Errorf("filtered = %d, want 2 (/elsewhere/d unpaired, f→g)", f)
	}
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "nothing to watch"},
		{Config{WriteWatch: []string{"etc/"}}, `WriteWatch[0] "etc/"`},
		{Config{WriteWatch: []string{"/etc/"}, ReadWatch: []string{"/etc/../shadow"}}, `ReadWatch[0] "/etc/../shadow"`},
	} {
		if _, err := New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) error = %v, want %q", tc.cfg, err, tc.want)
		}
	}
	if _, err := New(Config{WriteWatch: []string{"/", "/etc/", "/etc/passwd"}}); err != nil {
		t.Errorf("New with valid paths: %v", err)
	}
}

func TestContextCancel(t *testing.T) {
	testutil.RequireRoot(t)
	ctx, cancel := context.WithCancel(context.Background())
	s, err := New(Config{WriteWatch: []string{t.TempDir() + "/"}, ReadWatch: []string{"/etc/passwd"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx, &collector{}); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// encodeEvent builds one fanotify event with DFID_NAME-style infos.
func encodeEvent(mask uint64, fd, pid int32, infos ...Info) []byte {
	var body []byte
	for _, in := range infos {
		rec := make([]byte, 4+16+len(in.Handle))
		rec[0] = in.Type
		ne.PutUint32(rec[4:], uint32(in.FSID[0]))
		ne.PutUint32(rec[8:], uint32(in.FSID[1]))
		ne.PutUint32(rec[12:], uint32(len(in.Handle)))
		ne.PutUint32(rec[16:], uint32(in.HandleType))
		copy(rec[20:], in.Handle)
		if in.Type != unix.FAN_EVENT_INFO_TYPE_FID && in.Type != unix.FAN_EVENT_INFO_TYPE_DFID {
			rec = append(rec, in.Name...)
			rec = append(rec, 0)
		}
		for len(rec)%4 != 0 {
			rec = append(rec, 0)
		}
		ne.PutUint16(rec[2:], uint16(len(rec)))
		body = append(body, rec...)
	}
	b := make([]byte, metadataLen, metadataLen+len(body))
	ne.PutUint32(b[0:], uint32(metadataLen+len(body)))
	b[4] = unix.FANOTIFY_METADATA_VERSION
	ne.PutUint16(b[6:], metadataLen)
	ne.PutUint64(b[8:], mask)
	ne.PutUint32(b[16:], uint32(fd))
	ne.PutUint32(b[20:], uint32(pid))
	return append(b, body...)
}

var (
	dfid   = Info{Type: unix.FAN_EVENT_INFO_TYPE_DFID_NAME, FSID: [2]int32{1, 2}, HandleType: 1, Handle: []byte{1, 2, 3, 4, 5, 6, 7, 8}, Name: "a.txt"}
	oldDir = Info{Type: unix.FAN_EVENT_INFO_TYPE_OLD_DFID_NAME, FSID: [2]int32{1, 2}, HandleType: 1, Handle: []byte{1, 2, 3, 4, 5, 6, 7, 8}, Name: "old"}
	newDir = Info{Type: unix.FAN_EVENT_INFO_TYPE_NEW_DFID_NAME, FSID: [2]int32{1, 2}, HandleType: 1, Handle: []byte{9, 9, 9, 9, 9, 9, 9, 9}, Name: "new"}
)

func TestDecode(t *testing.T) {
	buf := append(encodeEvent(unix.FAN_CREATE, -1, 42, dfid), encodeEvent(unix.FAN_RENAME, -1, 43, oldDir, newDir)...)
	buf = append(buf, encodeEvent(unix.FAN_OPEN, 7, 44)...)
	got, err := Decode(buf, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []Record{
		{Mask: unix.FAN_CREATE, FD: -1, PID: 42, Infos: []Info{dfid}},
		{Mask: unix.FAN_RENAME, FD: -1, PID: 43, Infos: []Info{oldDir, newDir}},
		{Mask: unix.FAN_OPEN, FD: 7, PID: 44},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Decode (-want +got):\n%s", diff)
	}
	bad := map[string][]byte{
		"short":     buf[:10],
		"version":   func() []byte { b := encodeEvent(unix.FAN_OPEN, 7, 1); b[4] = 2; return b }(),
		"event_len": func() []byte { b := encodeEvent(unix.FAN_OPEN, 7, 1); ne.PutUint32(b, 4096); return b }(),
		"no_nul":    func() []byte { b := encodeEvent(unix.FAN_CREATE, -1, 1, dfid); return b[:len(b)-3] }(),
		"handle_size": func() []byte {
			b := encodeEvent(unix.FAN_CREATE, -1, 1, dfid)
			ne.PutUint32(b[metadataLen+12:], 200)
			return b
		}(),
	}
	for name, b := range bad {
		if name == "no_nul" {
			ne.PutUint32(b, uint32(len(b)))
			ne.PutUint16(b[metadataLen+2:], uint16(len(b)-metadataLen))
		}
		recs, err := Decode(b, nil)
		if err == nil {
			t.Errorf("Decode(%s) = %+v, nil error", name, recs)
		}
	}
	// An fd of a malformed event is still handed back to be closed.
	b := encodeEvent(unix.FAN_OPEN, 9, 1, dfid)
	ne.PutUint16(b[metadataLen+2:], 2)
	recs, err := Decode(b, nil)
	if err == nil || len(recs) != 1 || recs[0].FD != 9 {
		t.Errorf("Decode(bad info with fd) = %+v, %v", recs, err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(encodeEvent(unix.FAN_CREATE, -1, 42, dfid))
	f.Add(append(encodeEvent(unix.FAN_RENAME, -1, 43, oldDir, newDir), encodeEvent(unix.FAN_OPEN, 7, 44)...))
	f.Add(encodeEvent(unix.FAN_Q_OVERFLOW, -1, 0))
	seeds, _ := filepath.Glob("testdata/*.bin")
	for _, name := range seeds {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, _ := Decode(b, nil)
		for _, r := range recs {
			for _, in := range r.Infos {
				if len(in.Handle) > len(b) || len(in.Name) > len(b) {
					t.Fatalf("info larger than input: %+v", in)
				}
			}
		}
	})
}

// TestDecodeCaptured decodes a batch read from this kernel: create, rename,
// attrib, delete events with DFID_NAME infos.
func TestDecodeCaptured(t *testing.T) {
	b, err := os.ReadFile("testdata/dfid-name-batch.bin")
	if err != nil {
		t.Fatal(err)
	}
	recs, err := Decode(b, nil)
	if err != nil || len(recs) == 0 {
		t.Fatalf("Decode = %d records, %v", len(recs), err)
	}
	for _, r := range recs {
		if r.FD != unix.FAN_NOFD || r.PID <= 0 || len(r.Infos) == 0 || len(r.Infos[0].Handle) == 0 {
			t.Errorf("record %+v", r)
		}
	}
	if recs[0].Mask&unix.FAN_CREATE == 0 || recs[0].Infos[0].Name != "a" {
		t.Errorf("first record %+v, want create of a", recs[0])
	}
}
