package authlog

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func newTailer(t *testing.T, path, state string) *Tailer {
	t.Helper()
	return newTailerOpt(t, path, TailerOptions{StateFile: state, Poll: 10 * time.Millisecond})
}

// next returns the texts of the next batch, failing after 5 s.
func next(t *testing.T, tl *Tailer) ([]string, Batch) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b, err := tl.Next(ctx)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	var out []string
	for _, l := range b.Lines {
		out = append(out, l.Text)
	}
	return out, b
}

// collect reads batches until it has n lines.
func collect(t *testing.T, tl *Tailer, n int) []string {
	t.Helper()
	var all []string
	for len(all) < n {
		got, _ := next(t, tl)
		all = append(all, got...)
	}
	return all
}

// noMore checks that no line arrives within a few polls.
func noMore(t *testing.T, tl *Tailer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if b, err := tl.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next = %+v, %v; want nothing", b.Lines, err)
	}
}

func appendFile(t *testing.T, p, s string) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestTailerAppendAndPartialLine(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "auth.log")
	appendFile(t, p, "one\ntwo\nthr")
	tl := newTailer(t, p, "")
	got, b := next(t, tl)
	if diff := cmp.Diff([]string{"one", "two"}, got); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	if b.Lines[1].Offset != 4 || b.Pos.Offset != 8 {
		t.Errorf("offsets: line %d, pos %d; want 4, 8", b.Lines[1].Offset, b.Pos.Offset)
	}
	noMore(t, tl) // "thr" waits for its newline
	appendFile(t, p, "ee\r\nfour\n")
	if diff := cmp.Diff([]string{"three", "four"}, collect(t, tl, 2)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestTailerWaitsForFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "auth.log")
	tl := newTailer(t, p, "")
	noMore(t, tl)
	appendFile(t, p, "hello\n")
	if got, _ := next(t, tl); !cmp.Equal(got, []string{"hello"}) {
		t.Errorf("got %q", got)
	}
}

func TestTailerRenameRotation(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "auth.log")
	appendFile(t, p, "a1\n")
	tl := newTailer(t, p, "")
	collect(t, tl, 1)
	// Lines written just before the rotation, an unterminated tail, then
	// the rename and a new file.
	appendFile(t, p, "a2\na3-tail")
	if err := os.Rename(p, p+".1"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, p, "b1\nb2\n")
	if diff := cmp.Diff([]string{"a2", "a3-tail", "b1", "b2"}, collect(t, tl, 4)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// Rotated away with no new file yet: the old one is still read.
	if err := os.Rename(p, p+".2"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, p+".2", "b3\n")
	if got := collect(t, tl, 1); !cmp.Equal(got, []string{"b3"}) {
		t.Errorf("got %q, want b3 from the renamed file", got)
	}
	appendFile(t, p, "c1\n")
	if got := collect(t, tl, 1); !cmp.Equal(got, []string{"c1"}) {
		t.Errorf("got %q, want c1 from the new file", got)
	}
}

func TestTailerCopyTruncate(t *testing.T) {
	p := filepath.Join(t.TempDir(), "auth.log")
	appendFile(t, p, "line one is long\nline two is long\n")
	tl := newTailer(t, p, "")
	collect(t, tl, 2)
	// logrotate copytruncate: copy, then truncate in place.
	if err := os.Truncate(p, 0); err != nil {
		t.Fatal(err)
	}
	appendFile(t, p, "new1\n")
	if got := collect(t, tl, 1); !cmp.Equal(got, []string{"new1"}) {
		t.Errorf("got %q", got)
	}
}

func TestTailerTruncateAndRegrow(t *testing.T) {
	// Truncated and written past the old offset between two polls: the
	// size alone does not show it, the fingerprint does.
	p := filepath.Join(t.TempDir(), "auth.log")
	appendFile(t, p, "old-1\nold-2\n")
	tl := newTailer(t, p, "")
	collect(t, tl, 2)
	if err := os.WriteFile(p, []byte("NEW-first-line-longer\nNEW-2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"NEW-first-line-longer", "NEW-2"}, collect(t, tl, 2)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestTailerRestartFromState(t *testing.T) {
	dir := t.TempDir()
	p, state := filepath.Join(dir, "auth.log"), filepath.Join(dir, "state")
	appendFile(t, p, "l1\nl2\n")
	tl := newTailer(t, p, state)
	_, b := next(t, tl)
	if err := tl.Commit(b.Pos); err != nil {
		t.Fatal(err)
	}
	// Read but not committed when the agent stops (crash between read and
	// commit): the batch must come again.
	appendFile(t, p, "l3\n")
	got, _ := next(t, tl)
	if !cmp.Equal(got, []string{"l3"}) {
		t.Fatalf("got %q", got)
	}
	tl.Close()

	tl2 := newTailer(t, p, state)
	appendFile(t, p, "l4\n")
	if diff := cmp.Diff([]string{"l3", "l4"}, collect(t, tl2, 2)); diff != "" {
		t.Errorf("after restart (-want +got):\n%s", diff)
	}
}

func TestTailerRotatedWhileDown(t *testing.T) {
	dir := t.TempDir()
	p, state := filepath.Join(dir, "auth.log"), filepath.Join(dir, "state")
	appendFile(t, p, "x1\n")
	tl := newTailer(t, p, state)
	_, b := next(t, tl)
	if err := tl.Commit(b.Pos); err != nil {
		t.Fatal(err)
	}
	tl.Close()
	// While the agent is down: more lines, rotation, a new file.
	appendFile(t, p, "x2\n")
	if err := os.Rename(p, p+".1"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, p, "y1\n")
	tl2 := newTailer(t, p, state)
	if diff := cmp.Diff([]string{"x2", "y1"}, collect(t, tl2, 2)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestTailerReplacedSameInode(t *testing.T) {
	// The file is rewritten in place (same inode) and grows past the saved
	// offset while the agent is down: the fingerprint tells it is new.
	dir := t.TempDir()
	p, state := filepath.Join(dir, "auth.log"), filepath.Join(dir, "state")
	appendFile(t, p, "old\n")
	tl := newTailer(t, p, state)
	_, b := next(t, tl)
	if err := tl.Commit(b.Pos); err != nil {
		t.Fatal(err)
	}
	tl.Close()
	if err := os.WriteFile(p, []byte("fresh-1\nfresh-2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tl2 := newTailer(t, p, state)
	if diff := cmp.Diff([]string{"fresh-1", "fresh-2"}, collect(t, tl2, 2)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestTailerBadState(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	for _, s := range []string{`{"offset":-1}`, `{"offset":1,"fp":"zz","fp_len":3}`, `not json`, `{"offset":1,"extra":2}`} {
		if err := os.WriteFile(state, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := NewTailer(filepath.Join(dir, "log"), TailerOptions{StateFile: state}); err == nil {
			t.Errorf("state %s accepted", s)
		}
	}
}

// TestTailerKilledMidBatch runs a consumer in a child process that copies
// every line it handles to an output file and commits after each batch,
// kills it with SIGKILL while lines are flowing, and restarts it. No line
// may be lost; lines before the last commit must not come twice.
func TestTailerKilledMidBatch(t *testing.T) {
	if os.Getenv("AUTHLOG_TAIL_CHILD") != "" {
		t.Skip("child")
	}
	dir := t.TempDir()
	logPath, state, out := filepath.Join(dir, "auth.log"), filepath.Join(dir, "state"), filepath.Join(dir, "out")
	const total = 3000
	var all strings.Builder
	for i := range total {
		fmt.Fprintf(&all, "line %05d\n", i)
	}
	if err := os.WriteFile(logPath, []byte(all.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestTailerChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "AUTHLOG_TAIL_CHILD="+logPath+"|"+state+"|"+out)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	cmd := start()
	// Kill once some, but not all, lines are out.
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(out)
		if n := strings.Count(string(b), "\n"); n > 200 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	committed, err := LoadPosition(state)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(out)
	firstCount := strings.Count(string(first), "\n")
	if firstCount >= total {
		t.Skipf("child finished before it was killed (%d lines); nothing to check", firstCount)
	}
	cmd = start()
	deadline = time.Now().Add(20 * time.Second)
	for {
		b, _ := os.ReadFile(out)
		if strings.Contains(string(b), fmt.Sprintf("line %05d\n", total-1)) || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()

	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := map[int]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n, err := strconv.Atoi(strings.TrimPrefix(sc.Text(), "line "))
		if err != nil {
			t.Fatalf("bad output line %q", sc.Text())
		}
		seen[n]++
	}
	commitLine := int(committed.Offset / int64(len("line 00000\n")))
	dups := 0
	for i := range total {
		switch c := seen[i]; {
		case c == 0:
			t.Errorf("line %d lost", i)
		case c > 1 && i < commitLine:
			t.Errorf("line %d read %d times though committed", i, c)
		case c > 1:
			dups++
		}
	}
	t.Logf("killed after %d lines (committed through line %d); %d uncommitted lines delivered again", firstCount, commitLine, dups)
}

// TestTailerChild is the consumer TestTailerKilledMidBatch runs and kills.
func TestTailerChild(t *testing.T) {
	env := os.Getenv("AUTHLOG_TAIL_CHILD")
	if env == "" {
		t.Skip("helper for TestTailerKilledMidBatch")
	}
	parts := strings.Split(env, "|")
	tl, err := NewTailer(parts[0], TailerOptions{StateFile: parts[1], Poll: 10 * time.Millisecond, MaxBatch: 7})
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.OpenFile(parts[2], os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	for {
		b, err := tl.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range b.Lines {
			// One write per line so a kill can land mid-batch.
			if _, err := out.WriteString(l.Text + "\n"); err != nil {
				t.Fatal(err)
			}
		}
		if err := tl.Commit(b.Pos); err != nil {
			t.Fatal(err)
		}
	}
}

// With StartAtEnd, the end is taken when the tailer is made: lines written
// before the first Next are delivered, what the file held before is not.
func TestStartAtEndIsTakenAtNewTailer(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "auth.log")
	if err := os.WriteFile(p, []byte("old line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tl, err := NewTailer(p, TailerOptions{StateFile: filepath.Join(dir, "pos"), StartAtEnd: true, Poll: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer tl.Close()
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("new line\n")
	f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b, err := tl.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Lines) != 1 || b.Lines[0].Text != "new line" {
		t.Errorf("got %+v, want only the line written after NewTailer", b.Lines)
	}
}

// A tailer that starts at the end and stops before committing anything
// (the agent stopped while its first batch was still being judged) must
// not, on its next start, skip to the end again: lines written since the
// first start are new lines.
func TestStartAtEndIsKeptAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	p, state := filepath.Join(dir, "auth.log"), filepath.Join(dir, "pos")
	if err := os.WriteFile(p, []byte("old line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	opt := TailerOptions{StateFile: state, StartAtEnd: true, Poll: 10 * time.Millisecond}
	tl, err := NewTailer(p, opt)
	if err != nil {
		t.Fatal(err)
	}
	appendLines(t, p, "first batch")
	if got, _ := next(t, tl); !cmp.Equal(got, []string{"first batch"}) {
		t.Fatalf("first run read %q", got)
	}
	tl.Close() // stopped before the batch was committed
	appendLines(t, p, "written while down")
	tl = newTailerOpt(t, p, opt)
	if got := collect(t, tl, 2); !cmp.Equal(got, []string{"first batch", "written while down"}) {
		t.Errorf("after the restart read %q, want the uncommitted batch and the line written while down", got)
	}
}

func appendLines(t *testing.T, p string, lines ...string) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, l := range lines {
		if _, err := f.WriteString(l + "\n"); err != nil {
			t.Fatal(err)
		}
	}
}

func newTailerOpt(t *testing.T, path string, opt TailerOptions) *Tailer {
	t.Helper()
	tl, err := NewTailer(path, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tl.Close() })
	return tl
}
