package spool

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/vigilsec/vigil/internal/testutil"
)

func rec(i int) []byte { return []byte(fmt.Sprintf("record-%06d-%s", i, strings.Repeat("x", i%50))) }

func mustOpen(t *testing.T, dir string, o Options) *Spool {
	t.Helper()
	s, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func readAll(t *testing.T, s *Spool) [][]byte {
	t.Helper()
	var out [][]byte
	for {
		rs, err := s.Read(100, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) == 0 {
			return out
		}
		out = append(out, rs...)
	}
}

func recs(from, to int) [][]byte {
	var out [][]byte
	for i := from; i < to; i++ {
		out = append(out, rec(i))
	}
	return out
}

func TestAppendReadAckReplay(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{SegmentBytes: 4096})
	for i := range 500 {
		if err := s.Append(rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	if st := s.Stats(); st.Pending != 500 || st.Segments < 3 {
		t.Fatalf("stats %+v, want 500 pending over several segments", st)
	}
	got := readAll(t, s)
	if diff := cmp.Diff(recs(0, 500), got); diff != "" {
		t.Fatalf("read (-want +got):\n%s", diff)
	}
	if err := s.Ack(200); err != nil {
		t.Fatal(err)
	}
	// Unacknowledged records come back after a rewind…
	s.Rewind()
	if diff := cmp.Diff(recs(200, 500), readAll(t, s)); diff != "" {
		t.Fatalf("after rewind (-want +got):\n%s", diff)
	}
	if err := s.Ack(100); err != nil {
		t.Fatal(err)
	}
	if err := s.Ack(201); err == nil {
		t.Fatal("ack of more records than read succeeded")
	}
	// …and after a restart.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, dir, Options{SegmentBytes: 4096})
	if st := s.Stats(); st.Pending != 200 {
		t.Fatalf("pending after reopen = %d, want 200", st.Pending)
	}
	if diff := cmp.Diff(recs(300, 500), readAll(t, s)); diff != "" {
		t.Fatalf("after reopen (-want +got):\n%s", diff)
	}
	if err := s.Ack(200); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Pending != 0 || st.Segments != 1 {
		t.Fatalf("stats after acking all = %+v, want 0 pending in 1 segment", st)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	if len(segs) != 1 {
		t.Fatalf("segment files left: %v", segs)
	}
}

func TestTornTailTruncated(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	for i := range 10 {
		if err := s.Append(rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	seg := filepath.Join(dir, fmt.Sprintf("%020d%s", 1, segSuffix))
	fi, _ := os.Stat(seg)
	// A crash mid-write leaves part of a record.
	f, err := os.OpenFile(seg, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{200, 0, 0, 0, 1, 2, 3, 4, 'p', 'a', 'r'})
	f.Close()
	s = mustOpen(t, dir, Options{})
	if fi2, _ := os.Stat(seg); fi2.Size() != fi.Size() {
		t.Fatalf("segment size %d after reopen, want the torn tail cut to %d", fi2.Size(), fi.Size())
	}
	if err := s.Append(rec(10)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(recs(0, 11), readAll(t, s)); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

func TestCorruptOldSegmentSkipped(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{SegmentBytes: 4096})
	for i := range 300 {
		if err := s.Append(rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	seg1 := filepath.Join(dir, fmt.Sprintf("%020d%s", 1, segSuffix))
	b, _ := os.ReadFile(seg1)
	b[headerSize+2] ^= 0xff // first record's payload
	os.WriteFile(seg1, b, 0o600)
	s = mustOpen(t, dir, Options{SegmentBytes: 4096})
	got := readAll(t, s)
	if st := s.Stats(); st.Corrupt != 1 || st.Pending != int64(len(got)) {
		t.Fatalf("stats %+v after reading %d records, want 1 corrupt and pending = read", st, len(got))
	}
	if len(got) == 0 || len(got) >= 300 {
		t.Fatalf("read %d records, want the ones after segment 1", len(got))
	}
	want := recs(300-len(got), 300)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

func TestCapDropsAndCounts(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{MaxBytes: 8192, SegmentBytes: 4096})
	ok, dropped := 0, 0
	for i := range 400 {
		err := s.Append(rec(i))
		switch {
		case err == nil:
			ok++
		case errors.Is(err, ErrFull):
			dropped++
		default:
			t.Fatal(err)
		}
	}
	st := s.Stats()
	if dropped == 0 || st.Dropped != uint64(dropped) || st.Bytes > 8192 {
		t.Fatalf("dropped %d, stats %+v", dropped, st)
	}
	if diff := cmp.Diff(recs(0, ok), readAll(t, s)); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	if err := s.Append(make([]byte, MaxRecord+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized record: %v, want ErrTooLarge", err)
	}
	// Acknowledging frees whole segments; appends work again.
	if err := s.Ack(ok); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(rec(1)); err != nil {
		t.Fatalf("append after ack: %v", err)
	}
}

func TestSecondOpenRefused(t *testing.T) {
	dir := t.TempDir()
	mustOpen(t, dir, Options{})
	if s, err := Open(dir, Options{}); err == nil {
		s.Close()
		t.Fatal("second Open of the same directory succeeded")
	}
}

// TestFullFileSystem fills a 1 MiB tmpfs: appends fail with ErrFull and are
// counted, what was spooled stays readable, and appends succeed again once
// space returns.
func TestFullFileSystem(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		testutil.Require(t, "VIGIL_REQUIRE_ROOT", false, "mount tmpfs: "+err.Error())
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	// A filler takes most of the space.
	filler := filepath.Join(dir, "filler")
	if out, err := exec.Command("dd", "if=/dev/zero", "of="+filler, "bs=4096", "count=200").CombinedOutput(); err != nil {
		t.Fatalf("dd: %v\n%s", err, out)
	}
	sdir := filepath.Join(dir, "spool")
	s, err := Open(sdir, Options{MaxBytes: 64 << 20, SegmentBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var stored [][]byte
	drops := 0
	payload := bytes.Repeat([]byte("evidence "), 100)
	for i := 0; drops < 50; i++ {
		r := append([]byte(fmt.Sprintf("%08d:", i)), payload...)
		err := s.Append(r)
		switch {
		case err == nil:
			stored = append(stored, r)
		case errors.Is(err, ErrFull):
			drops++
		default:
			t.Fatalf("append %d: %v", i, err)
		}
		if i > 100000 {
			t.Fatal("the file system never filled")
		}
	}
	if st := s.Stats(); st.Dropped != uint64(drops) {
		t.Fatalf("Dropped = %d, want %d", st.Dropped, drops)
	}
	if len(stored) == 0 {
		t.Fatal("nothing was stored before the file system filled")
	}
	if diff := cmp.Diff(stored, readAll(t, s)); diff != "" {
		t.Fatalf("spooled records damaged (-want +got):\n%s", diff)
	}
	// Space returns.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	more := []byte("after the disk was freed")
	if err := s.Append(more); err != nil {
		t.Fatalf("append after space returned: %v", err)
	}
	stored = append(stored, more)
	s.Close()
	s2, err := Open(sdir, Options{MaxBytes: 64 << 20, SegmentBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if diff := cmp.Diff(stored, readAll(t, s2)); diff != "" {
		t.Fatalf("after reopen (-want +got):\n%s", diff)
	}
}

// FuzzSegmentReader opens a spool whose first segment and ack file hold
// arbitrary bytes: Open and Read must not fail or panic, and a record
// appended afterwards must read back intact, also after a reopen.
func FuzzSegmentReader(f *testing.F) {
	good := func(rs ...string) []byte {
		var b []byte
		for _, r := range rs {
			h := make([]byte, headerSize)
			putHeader(h, []byte(r))
			b = append(append(b, h...), r...)
		}
		return b
	}
	f.Add(good("a", "bb", "ccc"), []byte(nil))
	f.Add(good("first")[:7], []byte{1, 2, 3})
	f.Add(append(good("x"), 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0), make([]byte, 64))
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, seg, ack []byte) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("%020d%s", 1, segSuffix)), seg, 0o600)
		os.WriteFile(filepath.Join(dir, ackFile), ack, 0o600)
		s, err := Open(dir, Options{SegmentBytes: 4096})
		if err != nil {
			t.Fatal(err)
		}
		before, err := s.Read(1<<20, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		mark := []byte("appended after fuzz input")
		if err := s.Append(mark); err != nil {
			t.Fatal(err)
		}
		got, _ := s.Read(1<<20, 1<<30)
		if len(got) != 1 || !bytes.Equal(got[0], mark) {
			t.Fatalf("after %d records, read %q, want only the appended record", len(before), got)
		}
		s.Close()
		s, err = Open(dir, Options{SegmentBytes: 4096})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		all, _ := s.Read(1<<20, 1<<30)
		if len(all) == 0 || !bytes.Equal(all[len(all)-1], mark) {
			t.Fatalf("after reopen the appended record is not last: %q", all)
		}
	})
}

// BenchmarkAppend measures appends of 200-byte records (default fsync
// policy: at most once a second).
func BenchmarkAppend(b *testing.B) {
	s, err := Open(b.TempDir(), Options{MaxBytes: 1 << 40})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	r := bytes.Repeat([]byte("e"), 200)
	b.SetBytes(int64(len(r)))
	for b.Loop() {
		if err := s.Append(r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadAck measures reading and acknowledging 200-byte records in
// batches of 1000.
func BenchmarkReadAck(b *testing.B) {
	s, err := Open(b.TempDir(), Options{MaxBytes: 1 << 40})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	r := bytes.Repeat([]byte("e"), 200)
	for range b.N {
		if err := s.Append(r); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(r)))
	b.ResetTimer()
	for n := 0; n < b.N; {
		rs, err := s.Read(1000, 1<<20)
		if err != nil || len(rs) == 0 {
			b.Fatalf("read: %d records, %v", len(rs), err)
		}
		if err := s.Ack(len(rs)); err != nil {
			b.Fatal(err)
		}
		n += len(rs)
	}
}
