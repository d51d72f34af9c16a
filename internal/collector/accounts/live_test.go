package accounts

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/ssh"

	"github.com/vigilsec/vigil/internal/collector"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
	"github.com/vigilsec/vigil/internal/testutil"
)

// TestCollectLive adds a second uid-0 account and a user with an
// authorized key to this machine, and expects the collector, reading
// os.DirFS("/"), to report both.
func TestCollectLive(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireCommand(t, "useradd")
	testutil.RequireCommand(t, "userdel")

	suffix := fmt.Sprintf("%d", os.Getpid()%1000000)
	rootName, keyName := "vgl-root-"+suffix, "vgl-keys-"+suffix
	run(t, "useradd", "-o", "-u", "0", "-M", "-s", "/bin/bash", rootName)
	t.Cleanup(func() { cleanupUser(t, rootName, false) })
	run(t, "useradd", "-m", "-s", "/bin/bash", keyName)
	t.Cleanup(func() { cleanupUser(t, keyName, true) })

	pubLine, wantFP := newKey(t, keyName+"@test")
	home := filepath.Join("/home", keyName)
	if out, err := exec.Command("getent", "passwd", keyName).Output(); err == nil {
		if f := strings.Split(strings.TrimSpace(string(out)), ":"); len(f) == 7 {
			home = f[5]
		}
	}
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	keysFile := filepath.Join(home, ".ssh", "authorized_keys")
	if err := os.WriteFile(keysFile, []byte(`no-pty,command="echo a,b" `+pubLine+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	in := &collector.Input{Root: os.DirFS("/"), RootPath: "/", ProcPath: "/proc", Live: true, Now: time.Now}
	inv, err := New().Collect(context.Background(), in)
	st := plugin.StatusFromErr(err)
	if st.State != plugin.StateSucceeded && st.State != plugin.StatePartial {
		t.Fatalf("Collect: %v", err)
	}
	for _, p := range st.Problems {
		t.Logf("problem on this host: %s", p)
	}
	users := map[string]inventory.User{}
	for _, u := range inv.Accounts.Users {
		users[u.Name] = u
	}

	r, ok := users[rootName]
	if !ok {
		t.Fatalf("uid-0 user %q not reported", rootName)
	}
	if r.UID != 0 || !r.Privileged || !r.InteractiveShell {
		t.Errorf("%s: uid %d privileged %v interactive %v, want 0 true true", rootName, r.UID, r.Privileged, r.InteractiveShell)
	}
	if r.PasswordState == PasswordUnknown {
		t.Errorf("%s: password state unknown although root can read /etc/shadow", rootName)
	}

	k, ok := users[keyName]
	if !ok {
		t.Fatalf("user %q not reported", keyName)
	}
	if k.Privileged || k.PasswordState != PasswordLocked {
		t.Errorf("%s: privileged %v password %q, want false and locked (useradd's '!')", keyName, k.Privileged, k.PasswordState)
	}
	want := []inventory.AuthorizedKey{{
		Type: "ssh-ed25519", Fingerprint: wantFP, Comment: keyName + "@test",
		Options: []string{"no-pty", `command="echo a,b"`}, File: keysFile, Line: 1,
	}}
	if diff := cmp.Diff(want, k.AuthorizedKeys); diff != "" {
		t.Errorf("%s: authorized keys (-want +got):\n%s", keyName, diff)
	}
}

// newKey returns an authorized_keys line and its fingerprint as
// ssh-keygen prints it, made with ssh-keygen when installed, else in Go.
func newKey(t *testing.T, comment string) (line, fingerprint string) {
	t.Helper()
	if _, err := exec.LookPath("ssh-keygen"); err == nil {
		priv := filepath.Join(t.TempDir(), "id")
		run(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", priv)
		pub, err := os.ReadFile(priv + ".pub")
		if err != nil {
			t.Fatal(err)
		}
		out := run(t, "ssh-keygen", "-lf", priv+".pub") // "256 SHA256:... comment (ED25519)"
		f := strings.Fields(out)
		if len(f) < 2 {
			t.Fatalf("ssh-keygen -lf printed %q", out)
		}
		return strings.TrimSpace(string(pub)), f[1]
	}
	pk, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pk)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp))) + " " + comment, ssh.FingerprintSHA256(sp)
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := runRetry(name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// runRetry runs a command, retrying while another process (a concurrent
// test) holds the passwd/group locks.
func runRetry(name string, args ...string) ([]byte, error) {
	for i := 0; ; i++ {
		out, err := exec.Command(name, args...).CombinedOutput()
		if err == nil || i == 10 || !strings.Contains(string(out), "lock") {
			return out, err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func cleanupUser(t *testing.T, name string, removeHome bool) {
	args := []string{"-f", name}
	if removeHome {
		args = []string{"-f", "-r", name}
	}
	if out, err := runRetry("userdel", args...); err != nil {
		t.Errorf("userdel %s: %v\n%s", name, err, out)
	}
}

func TestCollectCanceled(t *testing.T) {
	dir := testutil.TxtarToDir(t, "testdata/debian.txtar")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := New().Collect(ctx, &collector.Input{Root: os.DirFS(dir)}); err == nil {
		t.Error("Collect with a canceled context succeeded")
	}
}
