package quarantine

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigilsec/vigil/internal/testutil"
)

type fakeGuard struct {
	mu      sync.Mutex
	blocked map[string]bool
}

func (g *fakeGuard) BlockHash(h string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.blocked == nil {
		g.blocked = map[string]bool{}
	}
	g.blocked[h] = true
	return nil
}

func (g *fakeGuard) UnblockHash(h string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.blocked, h)
}

func writeFile(t *testing.T, path string, content []byte, mode fs.FileMode, mtime time.Time) {
	t.Helper()
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

func checkRestored(t *testing.T, path string, content []byte, mode fs.FileMode, mtime time.Time, uid int) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, content) {
		t.Errorf("%s: content differs after restore", path)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != mode {
		t.Errorf("%s: mode %v, want %v", path, fi.Mode(), mode)
	}
	if !fi.ModTime().Equal(mtime) {
		t.Errorf("%s: mtime %v, want %v", path, fi.ModTime(), mtime)
	}
	if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != uid {
		t.Errorf("%s: uid %d, want %d", path, st.Uid, uid)
	}
}

func testRoundTrip(t *testing.T, dataDir, srcDir string) {
	s, err := Open(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	guard := &fakeGuard{}
	s.Guard = guard
	path := filepath.Join(srcDir, "evil.sh")
	content := []byte("#!/bin/sh\necho pwned\n")
	mode := fs.FileMode(0o751) | fs.ModeSetuid
	mtime := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	writeFile(t, path, content, mode, mtime)
	uid := os.Getuid()
	if uid == 0 {
		uid = 1234
		if err := os.Lchown(path, 1234, 5678); err != nil {
			t.Fatal(err)
		}
		os.Chmod(path, mode) // chown cleared setuid
	}

	m, err := s.Quarantine(path, "alert-1", "rule-1")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(content)
	if m.SHA256 != hex.EncodeToString(sum[:]) || m.Size != int64(len(content)) || m.Mode != mode || !m.MTime.Equal(mtime) || m.AlertID != "alert-1" || m.RuleID != "rule-1" || m.OriginalPath != path {
		t.Errorf("meta %+v", m)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("original still there: %v", err)
	}
	q, _ := s.Path(m.ID)
	if fi, err := os.Stat(q); err != nil || fi.Mode().Perm() != 0 {
		t.Errorf("quarantined file %s: %v, %v; want mode 0000", q, fi, err)
	}
	if !guard.blocked[m.SHA256] {
		t.Error("hash not blocked")
	}
	list, err := s.List()
	if err != nil || len(list) != 1 || list[0] != m {
		t.Errorf("List = %+v, %v", list, err)
	}

	// The path is taken: restore refuses, the entry stays unreadable.
	writeFile(t, path, []byte("new"), 0o644, mtime)
	if _, err := s.Restore(m.ID, false); !errors.Is(err, ErrExists) {
		t.Errorf("Restore over an existing file: err = %v, want ErrExists", err)
	}
	if fi, err := os.Stat(q); err != nil || fi.Mode().Perm() != 0 {
		t.Errorf("after refused restore: %v, %v; want mode 0000", fi, err)
	}
	if _, err := s.Restore(m.ID, true); err != nil {
		t.Fatal(err)
	}
	checkRestored(t, path, content, mode, mtime, uid)
	if guard.blocked[m.SHA256] {
		t.Error("hash still blocked after restore")
	}
	if list, _ := s.List(); len(list) != 0 {
		t.Errorf("List after restore = %+v", list)
	}
}

func TestRoundTrip(t *testing.T) {
	testRoundTrip(t, t.TempDir(), t.TempDir())
}

// Across filesystems the file is copied, synced and unlinked.
func TestRoundTripAcrossFilesystems(t *testing.T) {
	testutil.RequireRoot(t)
	src := t.TempDir()
	if err := unix.Mount("tmpfs", src, "tmpfs", 0, "size=16m"); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(src, unix.MNT_DETACH)
	testRoundTrip(t, t.TempDir(), src)
}

func TestRefusals(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	link := filepath.Join(dir, "link")
	os.Symlink("/etc/passwd", link)
	for _, p := range []string{dir, link, filepath.Join(dir, "missing")} {
		if _, err := s.Quarantine(p, "", ""); err == nil {
			t.Errorf("Quarantine(%s): no error", p)
		}
	}
	if _, err := os.Lstat(link); err != nil {
		t.Errorf("symlink gone: %v", err)
	}
	for _, id := range []string{"", "../x", strings.Repeat("a", 32) + "/..", strings.Repeat("A", 32)} {
		if _, err := s.Restore(id, false); err == nil {
			t.Errorf("Restore(%q): no error", id)
		}
		if err := s.Delete(id); err == nil {
			t.Errorf("Delete(%q): no error", id)
		}
	}
}

func TestTamperedRefused(t *testing.T) {
	s, _ := Open(t.TempDir())
	p := filepath.Join(t.TempDir(), "f")
	writeFile(t, p, []byte("data"), 0o644, time.Now())
	m, err := s.Quarantine(p, "", "")
	if err != nil {
		t.Fatal(err)
	}
	q, _ := s.Path(m.ID)
	os.Chmod(q, 0o600)
	os.WriteFile(q, []byte("other"), 0o600)
	if _, err := s.Restore(m.ID, false); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("Restore of tampered content: err = %v", err)
	}
	if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("tampered content restored")
	}
	if err := s.Delete(m.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(m.ID); err == nil {
		t.Error("Get after Delete: no error")
	}
}

func TestParseMeta(t *testing.T) {
	good, err := os.ReadFile("testdata/meta.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseMeta(good); err != nil {
		t.Fatalf("testdata/meta.json: %v", err)
	}
	for name, edit := range map[string][2]string{
		"relative_path": {`"/tmp/evil"`, `"tmp/evil"`},
		"unclean_path":  {`"/tmp/evil"`, `"/tmp/../etc/evil"`},
		"bad_id":        {`"0123456789abcdef0123456789abcdef"`, `"../../x"`},
		"bad_sha":       {`"e3b0`, `"zz00`},
		"negative_size": {`"size": 0`, `"size": -1`},
		"mode_type":     {`"mode": 493`, `"mode": 2147484141`},
		"not_json":      {`{`, `[`},
	} {
		t.Run(name, func(t *testing.T) {
			b := strings.Replace(string(good), edit[0], edit[1], 1)
			if b == string(good) {
				t.Fatalf("edit %q did not apply", edit[0])
			}
			if _, err := ParseMeta([]byte(b)); err == nil {
				t.Errorf("no error for %s", b)
			}
		})
	}
}

func FuzzParseMeta(f *testing.F) {
	if b, err := os.ReadFile("testdata/meta.json"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMeta(b)
		if err != nil {
			return
		}
		if !validID(m.ID) || !filepath.IsAbs(m.OriginalPath) || strings.Contains(m.OriginalPath, "..") && filepath.Clean(m.OriginalPath) != m.OriginalPath {
			t.Errorf("accepted %+v", m)
		}
	})
}
