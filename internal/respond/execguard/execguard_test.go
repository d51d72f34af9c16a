package execguard

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigilsec/vigil/internal/testutil"
)

const helperEnv = "VIGIL_EXECGUARD_HELPER"

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperEnv); dir != "" {
		if err := helper(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// helper guards dir and never answers an exec whose hash must be checked:
// it announces the event on stdout and blocks, to be killed by the test.
func helper(dir string) error {
	g := New(Config{Mounts: []string{dir}, Timeout: time.Hour})
	g.hook = func() {
		fmt.Println("pending")
		select {}
	}
	if err := g.BlockHash(hex.EncodeToString(make([]byte, 32))); err != nil {
		return err
	}
	if err := g.Start(context.Background()); err != nil {
		return err
	}
	fmt.Println("ready")
	select {}
}

// tmpfs mounts a fresh tmpfs for the test, so only its execs pass through
// the guard under test.
func tmpfs(t *testing.T) string {
	t.Helper()
	testutil.RequireRoot(t)
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=64m,mode=0755"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

func copyFile(t *testing.T, src, dst string) (dev, ino uint64) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Stat(dst, &st); err != nil {
		t.Fatal(err)
	}
	return st.Dev, st.Ino
}

func sha(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func start(t *testing.T, cfg Config) *ExecGuard {
	t.Helper()
	g := New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	if err := g.Start(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		g.Wait()
	})
	return g
}

func run(path string) error { return exec.Command(path).Run() }

func wantEPERM(t *testing.T, path string) {
	t.Helper()
	if err := run(path); !errors.Is(err, syscall.EPERM) {
		t.Errorf("exec %s: err = %v, want EPERM", path, err)
	}
}

func wantRuns(t *testing.T, path string, code int) {
	t.Helper()
	err := run(path)
	var ee *exec.ExitError
	switch {
	case code == 0 && err != nil, code != 0 && (!errors.As(err, &ee) || ee.ExitCode() != code):
		t.Errorf("exec %s: err = %v, want exit code %d", path, err, code)
	}
}

func TestBlockInode(t *testing.T) {
	dir := tmpfs(t)
	blocked := filepath.Join(dir, "blocked")
	dev, ino := copyFile(t, "/bin/true", blocked)
	ok := filepath.Join(dir, "ok")
	copyFile(t, "/bin/true", ok)

	g := start(t, Config{Mounts: []string{dir}})
	if !slices.Contains(g.Marked(), "fs:"+dir) {
		t.Errorf("marks %q, want fs:%s", g.Marked(), dir)
	}
	g.BlockInode(dev, ino)
	wantEPERM(t, blocked)
	wantRuns(t, ok, 0)
	wantRuns(t, "/bin/true", 0)

	g.UnblockInode(dev, ino)
	wantRuns(t, blocked, 0)
	if st := g.Stats(); st.Denied != 1 || st.Allowed < 2 {
		t.Errorf("stats %+v, want 1 denied, ≥ 2 allowed", st)
	}
}

func TestBlockHash(t *testing.T) {
	dir := tmpfs(t)
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	copyFile(t, "/bin/true", a)
	copyFile(t, "/bin/true", b) // same content, another inode
	other := filepath.Join(dir, "false")
	copyFile(t, "/bin/false", other)

	g := start(t, Config{Mounts: []string{dir}})
	if err := g.BlockHash("nothex"); err == nil {
		t.Error("BlockHash(nothex): no error")
	}
	if err := g.BlockHash(sha(t, a)); err != nil {
		t.Fatal(err)
	}
	wantEPERM(t, a)
	wantEPERM(t, b)
	wantRuns(t, other, 1)
	wantRuns(t, "/bin/true", 0) // another filesystem: not guarded

	g.UnblockHash(sha(t, a))
	wantRuns(t, b, 0)
	if st := g.Stats(); st.Denied != 2 {
		t.Errorf("stats %+v, want 2 denied", st)
	}
}

func TestOversizeAllowed(t *testing.T) {
	dir := tmpfs(t)
	a := filepath.Join(dir, "a")
	copyFile(t, "/bin/true", a)
	g := start(t, Config{Mounts: []string{dir}, MaxHashSize: 1024})
	if err := g.BlockHash(sha(t, a)); err != nil {
		t.Fatal(err)
	}
	wantRuns(t, a, 0)
	if st := g.Stats(); st.Oversize != 1 {
		t.Errorf("stats %+v, want 1 oversize", st)
	}
}

// A decision that takes longer than Timeout is answered FAN_ALLOW by the
// watchdog.
func TestWatchdogAllows(t *testing.T) {
	dir := tmpfs(t)
	a := filepath.Join(dir, "a")
	copyFile(t, "/bin/true", a)
	g := New(Config{Mounts: []string{dir}, Timeout: 100 * time.Millisecond})
	release := make(chan struct{})
	g.hook = func() { <-release }
	if err := g.BlockHash(sha(t, a)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := g.Start(ctx); err != nil {
		t.Fatal(err)
	}
	wantRuns(t, a, 0)
	close(release)
	cancel()
	g.Wait()
	if st := g.Stats(); st.Timeouts != 1 || st.Allowed != 1 || st.Denied != 0 {
		t.Errorf("stats %+v, want 1 timeout, 1 allowed", st)
	}
}

// When the guard's process dies with an exec pending, the kernel allows it.
func TestDeathReleasesExecs(t *testing.T) {
	dir := tmpfs(t)
	a := filepath.Join(dir, "a")
	copyFile(t, "/bin/true", a)

	h := exec.Command(os.Args[0], "-test.run=^$")
	h.Env = append(os.Environ(), helperEnv+"="+dir)
	out, err := h.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	h.Stderr = os.Stderr
	if err := h.Start(); err != nil {
		t.Fatal(err)
	}
	defer h.Wait()
	defer h.Process.Kill()
	lines := bufio.NewScanner(out)
	expect := func(want string) {
		t.Helper()
		if !lines.Scan() || lines.Text() != want {
			t.Fatalf("helper said %q (%v), want %q", lines.Text(), lines.Err(), want)
		}
	}
	expect("ready")
	done := make(chan error, 1)
	go func() { done <- run(a) }()
	expect("pending")
	select {
	case err := <-done:
		t.Fatalf("exec finished while the guard held it: %v", err)
	default:
	}
	if err := h.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, out)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exec after the guard died: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("exec still blocked 10 s after the guard died")
	}
}

// The default marks cover the root filesystem, where t.TempDir lives.
func TestDefaultMounts(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	a := filepath.Join(dir, "a")
	dev, ino := copyFile(t, "/bin/true", a)
	g := start(t, Config{})
	if !slices.Contains(g.Marked(), "fs:/") {
		t.Errorf("marks %q, want fs:/", g.Marked())
	}
	g.BlockInode(dev, ino)
	wantEPERM(t, a)
	wantRuns(t, "/bin/true", 0)
}

func BenchmarkExecAllowed(b *testing.B) {
	testutil.RequireRoot(b)
	dir := b.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=64m"); err != nil {
		b.Fatal(err)
	}
	defer unix.Unmount(dir, unix.MNT_DETACH)
	a := filepath.Join(dir, "a")
	bin, _ := os.ReadFile("/bin/true")
	os.WriteFile(a, bin, 0o755)
	for _, mode := range []string{"unguarded", "inode_only", "hash_blocklist"} {
		b.Run(mode, func(b *testing.B) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if mode != "unguarded" {
				g := New(Config{Mounts: []string{dir}})
				g.BlockInode(1, 1)
				if mode == "hash_blocklist" {
					g.BlockHash(hex.EncodeToString(make([]byte, 32)))
				}
				if err := g.Start(ctx); err != nil {
					b.Fatal(err)
				}
				defer g.Wait()
			}
			for b.Loop() {
				if err := run(a); err != nil {
					b.Fatal(err)
				}
			}
			cancel()
		})
	}
}

// A lazy guard marks nothing until the first block, then denies.
func TestLazyGuardArmsOnFirstBlock(t *testing.T) {
	testutil.RequireRoot(t)
	dir := tmpfs(t)
	blocked := filepath.Join(dir, "blocked")
	copyFile(t, "/bin/true", blocked)
	g := New(Config{Mounts: []string{dir}, Lazy: true})
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); g.Close(); g.Wait() }()
	if err := g.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if g.Armed() || len(g.Marked()) != 0 {
		t.Fatalf("lazy guard marked %v before any block", g.Marked())
	}
	if err := exec.Command(blocked).Run(); err != nil {
		t.Fatalf("exec before block: %v", err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(blocked, &st); err != nil {
		t.Fatal(err)
	}
	g.BlockInode(st.Dev, st.Ino)
	if !g.Armed() {
		t.Fatal("guard not armed after BlockInode")
	}
	if err := exec.Command(blocked).Run(); !errors.Is(err, syscall.EPERM) {
		t.Fatalf("exec after block: %v, want EPERM", err)
	}
}
