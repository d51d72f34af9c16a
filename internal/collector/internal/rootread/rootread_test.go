package rootread

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestReader(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "usr/lib/cron.d"), 0o755)
	os.WriteFile(filepath.Join(dir, "usr/lib/cron.d/job"), []byte("x"), 0o644)
	os.MkdirAll(filepath.Join(dir, "etc"), 0o755)
	// An absolute link, resolved inside the root, never on the host.
	os.Symlink("/usr/lib/cron.d", filepath.Join(dir, "etc/cron.d"))
	os.MkdirAll(filepath.Join(dir, "locked"), 0o000)
	t.Cleanup(func() { os.Chmod(filepath.Join(dir, "locked"), 0o755) })

	r := &Reader{FS: os.DirFS(dir)}
	if got := r.ReadDir("etc/nope"); got != nil || r.Found {
		t.Errorf("missing dir: %v, Found=%v", got, r.Found)
	}
	if got := r.ReadDir("usr/lib/cron.d"); len(got) != 1 {
		t.Errorf("ReadDir = %v", got)
	}
	if got := r.ReadDirResolved("etc/cron.d"); len(got) != 1 || got[0].Name() != "job" || !r.Found {
		t.Errorf("ReadDirResolved = %v, Found=%v", got, r.Found)
	}
	f := r.Open("etc/cron.d/job")
	if f == nil {
		t.Fatal("Open through the link failed")
	}
	b, _ := io.ReadAll(f)
	f.Close()
	if string(b) != "x" {
		t.Errorf("content = %q", b)
	}
	real, fi, err := r.Stat("etc/cron.d/job")
	if err != nil || real != "usr/lib/cron.d/job" || fi.Size() != 1 {
		t.Errorf("Stat = %q, %v, %v", real, fi, err)
	}
	if r.Open("etc/cron.d/none") != nil || r.Problems.Len() != 0 {
		t.Errorf("missing file gave a file or a problem: %v", r.Problems.Err())
	}
	if os.Geteuid() != 0 { // root reads mode-000 directories anyway
		r.ReadDir("locked")
		if r.Problems.Len() != 1 {
			t.Errorf("unreadable dir: problems %v", r.Problems.Err())
		}
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := &Reader{FS: fs.FS(os.DirFS(t.TempDir()))}
	var ran []int
	err := r.Run(ctx, func() { ran = append(ran, 1) }, func() { ran = append(ran, 2); cancel() }, func() { ran = append(ran, 3) })
	if !errors.Is(err, context.Canceled) || len(ran) != 2 {
		t.Errorf("Run = %v after steps %v, want Canceled after 2", err, ran)
	}
}
