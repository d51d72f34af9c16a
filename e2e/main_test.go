// Package e2e performs attack techniques for real on this machine, with the
// agent running as it would in production (`vigil agent --standalone`),
// and asserts the alerts it writes by rule ID and ATT&CK technique, and
// each response by its effect. It needs root and a kernel with BTF; all
// network traffic stays on loopback.
package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/testutil"
)

var (
	binDir string // holds the vigil binary built for the suite
	vigil  string
	// attacker performs the network techniques (e2e/internal/attacker).
	attacker string

	agentOnce sync.Once
	shared    *agentRun
	sharedErr error
)

func TestMain(m *testing.M) {
	code := func() int {
		if os.Geteuid() != 0 {
			// Tests skip (or fail under VIGIL_REQUIRE_ROOT) on their own.
			return m.Run()
		}
		dir, err := os.MkdirTemp("", "vigil-e2e-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		binDir, vigil = dir, filepath.Join(dir, "vigil")
		build := exec.Command("go", "build", "-o", vigil, "../cmd/vigil")
		build.Stdout, build.Stderr = os.Stdout, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building vigil:", err)
			return 1
		}
		attacker = filepath.Join(dir, "attacker")
		build = exec.Command("go", "build", "-o", attacker, "./internal/attacker")
		build.Stdout, build.Stderr = os.Stdout, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building the attacker tool:", err)
			return 1
		}
		code := m.Run()
		if shared != nil {
			shared.stop()
		}
		return code
	}()
	os.Exit(code)
}

// agentRun is a running agent.
type agentRun struct {
	cmd     *exec.Cmd
	dataDir string
	alerts  string
	metrics string
	authLog string // the authentication log the agent follows
	// protected is the directory the ransomware guard protects (backed
	// up at start, decoys in it).
	protected string
	// www is a web root the agent watches for webshells.
	www    string
	config string
	exited chan error
	logMu  sync.Mutex
	log    bytes.Buffer
}

func (a *agentRun) Write(p []byte) (int, error) {
	a.logMu.Lock()
	defer a.logMu.Unlock()
	return a.log.Write(p)
}

func (a *agentRun) logText() string {
	a.logMu.Lock()
	defer a.logMu.Unlock()
	return a.log.String()
}

// actRules are the rules the shared agent is allowed to act on, so the
// responses are exercised for real.
var actRules = []string{ruleReverseShell, ruleMinerPort, ruleExecShm, ruleDroppedScan, ruleBruteForce}

// agent returns the suite's shared agent, starting it on first use.
func agent(t *testing.T) *agentRun {
	t.Helper()
	testutil.RequireRoot(t)
	testutil.RequireBPF(t)
	agentOnce.Do(func() {
		var args []string
		for _, r := range actRules {
			args = append(args, "--act", r)
		}
		shared, sharedErr = startAgent(append(args, "--internal-cidr", "127.0.0.0/8")...)
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared
}

func startAgent(extra ...string) (*agentRun, error) {
	dir, err := os.MkdirTemp("", "vigil-e2e-")
	if err != nil {
		return nil, err
	}
	a, err := newAgentRun(dir)
	if err != nil {
		return nil, err
	}
	return a, a.start(extra...)
}

// newAgentRun prepares an agent's directory: configuration, data dir,
// alerts file and the authentication log it follows.
func newAgentRun(dir string) (*agentRun, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	metrics := ln.Addr().String()
	ln.Close()
	cfg := filepath.Join(dir, "agent.yaml")
	authLog := filepath.Join(dir, "auth.log")
	if err := os.WriteFile(authLog, nil, 0o600); err != nil {
		return nil, err
	}
	protected := filepath.Join(dir, "protected")
	if err := populateProtected(protected); err != nil {
		return nil, err
	}
	www := filepath.Join(dir, "www")
	if err := os.MkdirAll(www, 0o755); err != nil {
		return nil, err
	}
	conf := fmt.Sprintf("collectors: {interval: 0s}\nstatus_interval: 500ms\nauth: {files: [%s]}\nransomware: {protected_dirs: [%s]}\n"+
		"scan: {web_roots: [%s], quarantine: true, interval: 0s}\n", authLog, protected, www)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	return &agentRun{dataDir: filepath.Join(dir, "data"), alerts: filepath.Join(dir, "alerts.jsonl"), metrics: metrics,
		authLog: authLog, config: cfg, protected: protected, www: www}, nil
}

// start runs the agent and waits for it to say it is ready.
func (a *agentRun) start(extra ...string) error {
	args := append([]string{"--data-dir", a.dataDir, "agent", "--standalone", "--config", a.config,
		"--alerts-file", a.alerts, "--metrics-listen", a.metrics}, extra...)
	a.cmd = exec.Command(vigil, args...)
	a.cmd.Stdout, a.cmd.Stderr = a, a
	// A restart appends to the same log: only a "ready" after this point
	// counts.
	from := len(a.logText())
	// The agent must not outlive a test binary that dies (a blocked
	// address would stay blocked).
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := a.cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- a.cmd.Wait() }()
	a.exited = exited
	deadline := time.After(60 * time.Second)
	for {
		if strings.Contains(a.logText()[from:], "msg=ready") {
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("agent exited before ready (%v); log:\n%s", err, a.logText())
		case <-deadline:
			a.cmd.Process.Kill()
			return fmt.Errorf("agent not ready in 60s; log:\n%s", a.logText())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// halt stops the agent with sig and waits for it to end, keeping its
// directory for a restart.
func (a *agentRun) halt(sig syscall.Signal) {
	a.cmd.Process.Signal(sig)
	select {
	case <-a.exited:
	case <-time.After(15 * time.Second):
		a.cmd.Process.Kill()
		<-a.exited
	}
}

func (a *agentRun) stop() {
	a.cmd.Process.Signal(syscall.SIGTERM)
	for i := 0; i < 200 && a.cmd.ProcessState == nil; i++ {
		if syscall.Kill(a.cmd.Process.Pid, 0) != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	a.cmd.Process.Kill()
	os.RemoveAll(filepath.Dir(a.dataDir))
}

// Alert is the alert contract as an outside reader sees it.
type Alert struct {
	ID   string    `json:"id"`
	Time time.Time `json:"time"`
	Host string    `json:"host"`
	Rule struct {
		ID      string `json:"id"`
		Version int    `json:"version"`
		Title   string `json:"title"`
	} `json:"rule"`
	Severity string `json:"severity"`
	Attack   struct {
		Tactics    []string `json:"tactics"`
		Techniques []string `json:"techniques"`
	} `json:"attack"`
	Process struct {
		PID       int    `json:"pid"`
		ExecID    string `json:"exec_id"`
		Exe       string `json:"exe"`
		Cmdline   string `json:"cmdline"`
		User      string `json:"user"`
		Ancestors []struct {
			PID     int    `json:"pid"`
			Exe     string `json:"exe"`
			Cmdline string `json:"cmdline"`
		} `json:"ancestors"`
	} `json:"process"`
	Container *struct {
		ID    string `json:"id"`
		Name  string `json:"name"`
		Image string `json:"image"`
	} `json:"container"`
	Evidence map[string]any `json:"evidence"`
	Response struct {
		Action string `json:"action"`
		Result string `json:"result"`
	} `json:"response"`
	raw string
}

func (a *agentRun) readAlerts(t *testing.T) []Alert {
	t.Helper()
	data, err := os.ReadFile(a.alerts)
	if err != nil {
		t.Fatal(err)
	}
	// The agent may be appending while we read: a file grows page by page
	// even under one write(2), so a last line without its newline is still
	// being written and is left for the next read.
	if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
		data = data[:i+1]
	} else {
		data = nil
	}
	var out []Alert
	for line := range bytes.Lines(data) {
		var al Alert
		if err := json.Unmarshal(line, &al); err != nil {
			t.Fatalf("alerts file has a bad line %q: %v", line, err)
		}
		al.raw = strings.TrimSuffix(string(line), "\n")
		out = append(out, al)
	}
	return out
}

// waitAlert waits up to 15 s for an alert of rule whose fields satisfy
// match, and checks its ATT&CK technique.
func (a *agentRun) waitAlert(t *testing.T, rule, technique string, match func(Alert) bool) Alert {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		alerts := a.readAlerts(t)
		for _, al := range alerts {
			if al.Rule.ID == rule && (match == nil || match(al)) {
				if !slices.Contains(al.Attack.Techniques, technique) {
					t.Errorf("alert %s has techniques %v, want %s", rule, al.Attack.Techniques, technique)
				}
				if al.Time.Location() != time.UTC || al.ID == "" || al.Host == "" || al.Rule.Version < 1 || len(al.Attack.Tactics) == 0 {
					t.Errorf("alert %s breaks the contract: %s", rule, al.raw)
				}
				return al
			}
		}
		if time.Now().After(deadline) {
			var seen []string
			for _, al := range alerts {
				seen = append(seen, al.Rule.ID+" "+al.Process.Cmdline)
			}
			t.Fatalf("no %s alert within 15s; alerts so far:\n  %s\nagent log tail:\n%s", rule,
				strings.Join(seen, "\n  "), tail(a.logText(), 2000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// noAlert checks that no alert of rule matches within a short wait (the
// events of a benign twin have passed through the pipeline by then).
func (a *agentRun) noAlert(t *testing.T, rule string, match func(Alert) bool) {
	t.Helper()
	time.Sleep(2 * time.Second)
	for _, al := range a.readAlerts(t) {
		if al.Rule.ID == rule && (match == nil || match(al)) {
			t.Errorf("unexpected %s alert: %s", rule, al.raw)
		}
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// sh runs a shell command line and returns its combined output.
func sh(t *testing.T, script string) string {
	t.Helper()
	out, err := exec.Command("/bin/sh", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return string(out)
}

// marker makes a name unique to this run, so an alert can be told from
// earlier ones.
func marker(t *testing.T) string {
	return fmt.Sprintf("vigil-e2e-%d-%s", os.Getpid(), strings.ReplaceAll(strings.ToLower(t.Name()), "/", "-"))
}
