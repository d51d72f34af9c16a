package backup

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const crashEnv = "VIGIL_BACKUP_CRASH_TEST"

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashEnv); dir != "" {
		crashHelper(dir) // the child of TestCrashMidSnapshot; does not return
	}
	os.Exit(m.Run())
}

func sum(t testing.TB, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// tree writes n files (some duplicates) under dir and returns path → sha256.
func tree(t testing.TB, dir string, n int, seed uint64) map[string]string {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	out := map[string]string{}
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("d%d", i%4), fmt.Sprintf("file%03d.txt", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var b []byte
		if i%5 == 0 {
			b = []byte("the same content in several files\n") // dedup
		} else {
			b = fmt.Appendf(nil, "file %d seed %d: %s\n", i, seed, strings.Repeat(fmt.Sprint(r.Uint64()), 1+r.IntN(200)))
		}
		if err := os.WriteFile(p, b, 0o640); err != nil {
			t.Fatal(err)
		}
		out[p] = sum(t, p)
	}
	return out
}

func open(t testing.TB) *Store {
	t.Helper()
	s, err := Open(Config{Dir: filepath.Join(t.TempDir(), "backup")})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSnapshotRestore(t *testing.T) {
	s := open(t)
	src := t.TempDir()
	want := tree(t, src, 50, 1)
	special := filepath.Join(src, "special")
	if err := os.WriteFile(special, []byte("owned by nobody\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mt := time.Date(2020, 1, 2, 3, 4, 5, 600, time.UTC)
	if os.Geteuid() == 0 {
		if err := os.Chown(special, 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(special, 0o751|fs.ModeSetuid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(special, mt, mt); err != nil {
		t.Fatal(err)
	}
	want[special] = sum(t, special)
	m, st, err := s.Snapshot(context.Background(), []string{src})
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 51 || len(m.Entries) != 51 || st.NewBlobs != 42 {
		t.Errorf("stats %+v, entries %d: want 51 files, 42 blobs (10 files share one)", st, len(m.Entries))
	}
	// Damage everything, then restore in place by path.
	for p := range want {
		if err := os.WriteFile(p, []byte("encrypted!"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := s.Restore(src, time.Time{}, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Restored) != 51 || len(rep.Failed) != 0 {
		t.Fatalf("restored %d, failed %v", len(rep.Restored), rep.Failed)
	}
	for p, h := range want {
		if got := sum(t, p); got != h {
			t.Errorf("%s: sha256 %s, want %s", p, got, h)
		}
	}
	fi, err := os.Stat(special)
	if err != nil {
		t.Fatal(err)
	}
	sys := fi.Sys().(*syscall.Stat_t)
	if fi.Mode() != 0o751|fs.ModeSetuid || !fi.ModTime().Equal(mt) {
		t.Errorf("special: mode %v mtime %v, want -rwsr-x--x %v", fi.Mode(), fi.ModTime(), mt)
	}
	if os.Geteuid() == 0 && (sys.Uid != 65534 || sys.Gid != 65534) {
		t.Errorf("special: owner %d:%d, want 65534:65534", sys.Uid, sys.Gid)
	}
	// Restore the whole snapshot elsewhere.
	dest := t.TempDir()
	if rep, err = s.Restore(m.ID, time.Time{}, dest); err != nil || len(rep.Restored) != 51 {
		t.Fatalf("restore snapshot to %s: %v %+v", dest, err, rep)
	}
	for p, h := range want {
		if got := sum(t, filepath.Join(dest, p)); got != h {
			t.Errorf("%s under dest: sha256 %s, want %s", p, got, h)
		}
	}
	// Store permissions.
	for _, d := range []string{s.Dir(), filepath.Join(s.Dir(), "blobs"), filepath.Join(s.Dir(), "manifests")} {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v %v, want 0700", d, fi.Mode(), err)
		}
	}
	filepath.WalkDir(s.Dir(), func(p string, de fs.DirEntry, err error) error {
		if err == nil && !de.IsDir() {
			if fi, _ := de.Info(); fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: mode %v, want 0600", p, fi.Mode())
			}
		}
		return nil
	})
}

// TestVersionsBefore: an encrypted version backed up after the attack does
// not replace the good one for a restore before the attack.
func TestVersionsBefore(t *testing.T) {
	s := open(t)
	p := filepath.Join(t.TempDir(), "report.docx")
	if err := os.WriteFile(p, []byte("good version 1"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.BackupFile(p); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("good version 2"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.BackupFile(p); err != nil {
		t.Fatal(err)
	}
	good := sum(t, p)
	if _, err := s.BackupFile(p); err != nil { // unchanged: no new version
		t.Fatal(err)
	}
	attack := time.Now()
	if err := os.WriteFile(p, []byte("\x8f\x01encrypted garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.BackupFile(p); err != nil {
		t.Fatal(err)
	}
	vs, err := s.Versions(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 3 {
		t.Fatalf("%d versions, want 3: %+v", len(vs), vs)
	}
	rep, err := s.RestoreFiles([]string{p, p + ".missing"}, attack)
	if err != nil {
		t.Fatal(err)
	}
	if got := sum(t, p); got != good || len(rep.Restored) != 1 {
		t.Errorf("restored %s (%+v), want the last good version %s", got, rep, good)
	}
	if _, ok := rep.Failed[p+".missing"]; !ok {
		t.Errorf("missing file not reported: %+v", rep.Failed)
	}
	if _, err := s.Restore(p, vs[0].Time, ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("restore before the first backup: %v, want ErrNotFound", err)
	}
	head, err := s.Head(vs[0].Hash, 4)
	if err != nil || string(head) != "good" {
		t.Errorf("Head = %q, %v", head, err)
	}
}

func TestSkipLargeAndPrune(t *testing.T) {
	s, err := Open(Config{Dir: filepath.Join(t.TempDir(), "b"), MaxFileSize: 1000, KeepVersions: 2, MaxAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "big"), make([]byte, 1001), 0o644)
	p := filepath.Join(src, "small")
	for i := range 4 {
		os.WriteFile(p, fmt.Appendf(nil, "v%d", i), 0o644)
		_, st, err := s.Snapshot(context.Background(), []string{src})
		if err != nil {
			t.Fatal(err)
		}
		if st.Skipped != 1 || st.Files != 1 {
			t.Fatalf("stats %+v: want 1 file, 1 skipped", st)
		}
	}
	ps, err := s.Prune(time.Now().Add(2 * time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if ps.Manifests != 2 || ps.Blobs != 2 {
		t.Errorf("prune %+v: want 2 manifests and 2 blobs removed", ps)
	}
	vs, _ := s.Versions(p)
	if len(vs) != 2 {
		t.Errorf("%d versions after prune, want 2", len(vs))
	}
	if bad, err := s.Verify(); err != nil || len(bad) != 0 {
		t.Errorf("verify: %v %v", bad, err)
	}
}

func TestBadManifestIsAnError(t *testing.T) {
	s := open(t)
	id := "20260101T000000.000000000Z-0000abcd"
	os.WriteFile(filepath.Join(s.Dir(), "manifests", id+".json"), []byte(`{"version":1,"id":"`+id+`"`), 0o600)
	if _, err := s.List(); err == nil || !strings.Contains(err.Error(), id) {
		t.Errorf("List with a truncated manifest: %v, want an error naming it", err)
	}
}

// crashHelper runs in a child: it snapshots the tree and prints "blob"
// after each blob, slowly, so the parent can kill it mid-backup.
func crashHelper(dir string) {
	s, err := Open(Config{Dir: filepath.Join(dir, "backup")})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	testHookBlobWritten = func() {
		fmt.Println("blob")
		time.Sleep(5 * time.Millisecond)
	}
	_, _, err = s.Snapshot(context.Background(), []string{filepath.Join(dir, "src")})
	fmt.Fprintln(os.Stderr, "snapshot did not crash:", err)
	os.Exit(3)
}

// TestCrashMidSnapshot kills a real backup process while it writes blobs:
// the store keeps the earlier snapshot, no manifest names a missing or
// partial blob, and the next snapshot works.
func TestCrashMidSnapshot(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	want := tree(t, src, 40, 7)
	s, err := Open(Config{Dir: filepath.Join(dir, "backup")})
	if err != nil {
		t.Fatal(err)
	}
	first, _, err := s.Snapshot(context.Background(), []string{src})
	if err != nil {
		t.Fatal(err)
	}
	tree(t, src, 200, 8) // change everything: the child writes new blobs
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	for i := 0; i < 20 && sc.Scan(); i++ {
	}
	cmd.Process.Kill()
	cmd.Wait()

	s2, err := Open(Config{Dir: filepath.Join(dir, "backup")})
	if err != nil {
		t.Fatal(err)
	}
	list, err := s2.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != first.ID {
		t.Errorf("manifests after the crash: %+v, want only %s", list, first.ID)
	}
	if bad, err := s2.Verify(); err != nil || len(bad) != 0 {
		t.Errorf("verify after the crash: %v %v", bad, err)
	}
	if tmp, _ := os.ReadDir(filepath.Join(dir, "backup", "tmp")); len(tmp) != 0 {
		t.Errorf("tmp not cleaned: %d entries", len(tmp))
	}
	dest := t.TempDir()
	if _, err := s2.Restore(first.ID, time.Time{}, dest); err != nil {
		t.Fatal(err)
	}
	for p, h := range want {
		if got := sum(t, filepath.Join(dest, p)); got != h {
			t.Errorf("%s: %s, want %s", p, got, h)
		}
	}
	if _, st, err := s2.Snapshot(context.Background(), []string{src}); err != nil || st.Files != 200 {
		t.Errorf("snapshot after the crash: %+v %v", st, err)
	}
}

func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(`{"version":1,"id":"20260101T000000.000000000Z-0000abcd","time":"2026-01-01T00:00:00Z","kind":"file","entries":[{"path":"/a/b","mode":420,"uid":0,"gid":0,"mtime":"2026-01-01T00:00:00Z","size":3,"sha256":"` + strings.Repeat("ab", 32) + `","ctime":"2026-01-01T00:00:00Z"}]}`))
	f.Add([]byte(`{"version":1,"id":"x","kind":"snapshot"}`))
	f.Add([]byte(`{"version":1,"id":"20260101T000000.000000000Z-0000abcd","time":"2026-01-01T00:00:00Z","kind":"file","entries":[{"path":"../x","size":-1}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseManifest(b)
		if err != nil {
			return
		}
		for _, e := range m.Entries {
			if !filepath.IsAbs(e.Path) || strings.Contains(e.Path, "/../") || !validHash(e.Hash) || e.Size < 0 {
				t.Fatalf("accepted bad entry %+v", e)
			}
		}
		if !ValidID(m.ID) {
			t.Fatalf("accepted bad id %q", m.ID)
		}
	})
}

var _ = cmp.Diff
