package e2e

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/testutil"
)

const protectedFiles = 40

// populateProtected fills the guard's directory with documents before the
// agent starts, so its first protected backup holds them.
func populateProtected(dir string) error {
	if err := os.MkdirAll(filepath.Join(dir, "reports"), 0o755); err != nil {
		return err
	}
	for i := range protectedFiles {
		sub := ""
		if i%2 == 1 {
			sub = "reports"
		}
		body := strings.Repeat(fmt.Sprintf("Quarterly figures, line %d of document %d: revenue, costs, margin.\n", i, i), 40+i)
		if err := os.WriteFile(filepath.Join(dir, sub, fmt.Sprintf("doc-%02d.txt", i)), []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// contents maps every regular file under dir but the guard's decoys to
// its SHA-256.
func contents(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || !strings.HasPrefix(d.Name(), "doc-") {
			return err
		}
		b, err := os.ReadFile(p)
		out[p] = sha256.Sum256(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A test ransomware (AES-GCM in place, renamed .locked) that leaves the
// decoys alone is stopped by the behaviour gate: killed within the
// threshold, every file it touched restored byte for byte, the .locked
// files gone.
func TestRansomwareIsKilledAndFilesRestored(t *testing.T) {
	a := agent(t)
	gobin := testutil.RequireCommand(t, "go")
	before := contents(t, a.protected)
	if len(before) != protectedFiles {
		t.Fatalf("%d documents before the attack, want %d", len(before), protectedFiles)
	}
	locker := filepath.Join(t.TempDir(), "locker")
	build := exec.Command(gobin, "build", "-o", locker, "../internal/ransom/testdata/locker")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build locker: %v\n%s", err, out)
	}
	changedLog := filepath.Join(t.TempDir(), "changed")
	cmd := exec.Command(locker, "-dir", a.protected, "-order", "sorted", "-skip", "!,~,.", "-log", changedLog)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("locker was not killed: %v\n%s", err, out.String())
	}
	changed, _ := os.ReadFile(changedLog)
	n := strings.Count(string(changed), "changed ")
	t.Logf("locker changed %d files before it was killed", n)
	if n > 20 {
		t.Errorf("locker changed %d files, want ≤ 20", n)
	}
	al := a.waitAlert(t, "VGL-RANSOM-BEHAVIOUR", "T1486", nil)
	if al.Response.Action != "kill_tree" || !strings.HasPrefix(al.Response.Result, "ok") {
		t.Errorf("response %+v, want kill_tree ok", al.Response)
	}
	// The restore follows the kill; give it a moment.
	deadline := time.Now().Add(15 * time.Second)
	for {
		after := contents(t, a.protected)
		var locked []string
		filepath.WalkDir(a.protected, func(p string, d os.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(p, ".locked") {
				locked = append(locked, p)
			}
			return nil
		})
		diff := 0
		for p, h := range before {
			if after[p] != h {
				diff++
			}
		}
		if diff == 0 && len(locked) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d documents differ from before the attack and %d .locked files remain", diff, len(locked))
		}
		time.Sleep(200 * time.Millisecond)
	}
}
