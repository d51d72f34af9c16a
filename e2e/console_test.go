package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/testutil"
)

// upRun is a running `vigil up`.
type upRun struct {
	cmd      *exec.Cmd
	dataDir  string
	url      string
	password string
	mu       sync.Mutex
	log      strings.Builder
	exited   chan error
}

var (
	consoleLine  = regexp.MustCompile(`Console: (http://\S+)`)
	passwordLine = regexp.MustCompile(`Password \(shown once\): (\S+)`)
)

// startUp starts `vigil up` on loopback ports of its own and waits until
// /healthz says the local agent is connected.
func startUp(t *testing.T, dataDir string) *upRun {
	t.Helper()
	u := &upRun{dataDir: dataDir, exited: make(chan error, 1)}
	// The shipped defaults, but no ransomware decoys or auth logs of the
	// machine's own: this agent is here for the console.
	conf := "auth:\n  enabled: false\n"
	if err := os.WriteFile(filepath.Join(dataDir, "agent.yaml"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	u.cmd = exec.Command(vigil, "--data-dir", dataDir, "up", "--listen", "127.0.0.1:0", "--agent-listen", "127.0.0.1:0",
		"--config", filepath.Join(dataDir, "agent.yaml"), "--alerts-file", filepath.Join(dataDir, "alerts.jsonl"),
		"--metrics-listen", "off")
	stdout, err := u.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	u.cmd.Stderr = &lockedWriter{mu: &u.mu, w: &u.log}
	if err := u.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			u.mu.Lock()
			u.log.WriteString(sc.Text() + "\n")
			u.mu.Unlock()
			lines <- sc.Text()
		}
		close(lines)
	}()
	go func() { u.exited <- u.cmd.Wait() }()
	t.Cleanup(func() { u.stop(t) })

	deadline := time.After(60 * time.Second)
	for u.url == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("vigil up exited before serving the console:\n%s", u.logText())
			}
			if m := passwordLine.FindStringSubmatch(l); m != nil {
				u.password = m[1]
			}
			if m := consoleLine.FindStringSubmatch(l); m != nil {
				u.url = m[1]
			}
		case <-deadline:
			t.Fatalf("vigil up printed no console address within 60 s:\n%s", u.logText())
		}
	}
	go func() {
		for range lines {
		}
	}()
	if u.password == "" {
		t.Fatalf("vigil up printed no admin password on first start:\n%s", u.logText())
	}
	healthy := time.Now().Add(90 * time.Second)
	for {
		resp, err := http.Get(u.url + "/healthz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
			if time.Now().After(healthy) {
				t.Fatalf("/healthz still %d (%s) after 90 s:\n%s", resp.StatusCode, body, u.logText())
			}
		} else if time.Now().After(healthy) {
			t.Fatalf("/healthz: %v\n%s", err, u.logText())
		}
		time.Sleep(500 * time.Millisecond)
	}
	return u
}

func (u *upRun) logText() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return tail(u.log.String(), 6000)
}

func (u *upRun) stop(t *testing.T) {
	if u.cmd.Process == nil {
		return
	}
	u.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-u.exited:
	case <-time.After(30 * time.Second):
		u.cmd.Process.Kill()
		<-u.exited
		t.Errorf("vigil up did not stop within 30 s of SIGTERM:\n%s", u.logText())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// importHostAdvisory puts into the server's vulnerability database one
// advisory that this host's installed bash is affected by (fixed in a
// later revision than the installed one), so the console has a
// vulnerability on this host to fix. It returns the advisory's ID.
func importHostAdvisory(t *testing.T, serverDir string) string {
	t.Helper()
	ver := strings.TrimSpace(sh(t, "dpkg-query -W -f '${Version}' bash"))
	osr := sh(t, ". /etc/os-release; echo $ID:$VERSION_ID")
	eco := strings.TrimSpace(osr)
	eco = strings.ToUpper(eco[:1]) + eco[1:] // "Debian:12"
	id := fmt.Sprintf("VIGIL-E2E-%d", os.Getpid())
	rec := map[string]any{
		"schema_version": "1.6.0",
		"id":             id,
		"modified":       time.Now().UTC().Format(time.RFC3339),
		"published":      time.Now().UTC().Format(time.RFC3339),
		"summary":        "bash: test advisory of the console's browser test",
		"affected": []any{map[string]any{
			"package": map[string]any{"ecosystem": eco, "name": "bash"},
			"ranges": []any{map[string]any{"type": "ECOSYSTEM", "events": []any{
				map[string]any{"introduced": "0"}, map[string]any{"fixed": ver + "+vigil1"}}}},
		}},
		"severity": []any{map[string]any{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}},
	}
	b, _ := json.Marshal(rec)
	path := filepath.Join(t.TempDir(), id+".json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(vigil, "--data-dir", serverDir, "db", "import", path).CombinedOutput(); err != nil {
		t.Fatalf("db import: %v\n%s", err, out)
	}
	return id
}

// TestConsoleInBrowser is the console's acceptance test: log in, see this
// host and its fingerprint, cause a real alert through the local agent,
// handle it, order a fix, see the audit log. Screenshots of the main pages
// go to e2e/console/artifacts (or $VIGIL_ARTIFACTS).
func TestConsoleInBrowser(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireCommand(t, "node")
	testutil.RequireCommand(t, "chromium")
	if _, err := os.Stat("console/node_modules/playwright-core"); err != nil {
		if os.Getenv("VIGIL_REQUIRE_TOOLS") == "1" {
			t.Fatal("playwright-core is not installed: run scripts/test-deps.sh (npm ci in e2e/console)")
		}
		t.Skip("playwright-core is not installed: run `npm ci` in e2e/console")
	}
	dataDir := t.TempDir()
	vuln := importHostAdvisory(t, filepath.Join(dataDir, "server"))
	u := startUp(t, dataDir)

	artifacts := os.Getenv("VIGIL_ARTIFACTS")
	if artifacts == "" {
		artifacts, _ = filepath.Abs("console/artifacts")
	}
	host, _ := os.Hostname()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	node := exec.CommandContext(ctx, "node", "console.mjs")
	node.Dir = "console"
	node.Env = append(os.Environ(), "VIGIL_URL="+u.url, "VIGIL_PASSWORD="+u.password, "VIGIL_HOSTNAME="+host,
		"VIGIL_MARKER="+marker(t), "VIGIL_VULN="+vuln, "ARTIFACTS="+artifacts)
	out, err := node.CombinedOutput()
	t.Logf("browser test:\n%s", out)
	if err != nil {
		t.Fatalf("browser test failed: %v (screenshots and the failing page in %s)\nvigil up log:\n%s", err, artifacts, u.logText())
	}
	t.Logf("screenshots in %s", artifacts)
}
