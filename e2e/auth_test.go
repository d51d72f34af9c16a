package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/testutil"
)

const (
	ruleBruteForce        = "VGL-AUTH-BRUTEFORCE"
	ruleBruteForceSuccess = "VGL-AUTH-BRUTEFORCE-SUCCESS"
)

// appendAuth appends sshd lines, stamped now in rsyslog's format, to the
// authentication log an agent follows.
func appendAuth(t *testing.T, path string, lines ...string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b strings.Builder
	for i, l := range lines {
		stamp := time.Now().Format("2006-01-02T15:04:05.000000-07:00")
		fmt.Fprintf(&b, "%s vm sshd[%d]: %s\n", stamp, 4000+i, l)
	}
	if _, err := f.WriteString(b.String()); err != nil {
		t.Fatal(err)
	}
}

func failures(ip string, n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("Failed password for root from %s port %d ssh2", ip, 40000+i))
	}
	return out
}

func srcIs(ip string) func(Alert) bool {
	return func(a Alert) bool { return a.Evidence["src_ip"] == ip }
}

// The agent follows an authentication log: failures from one address
// raise the brute-force alert, and a success after them the critical one.
func TestBruteForceFromAuthLog(t *testing.T) {
	a := agent(t)
	ip := "192.0.2.71"
	appendAuth(t, a.authLog, failures(ip, 12)...)
	al := a.waitAlert(t, ruleBruteForce, "T1110.001", srcIs(ip))
	if al.Evidence["user"] != "root" {
		t.Errorf("brute-force alert evidence has no user: %s", al.raw)
	}
	// The source is blocked for incoming packets: nftables, whatever
	// block_connect uses (192.0.2.0/24 is documentation space: nothing
	// real is cut off).
	if al.Response.Action != "block_ip" || al.Response.Result != "ok" {
		t.Errorf("brute-force response %+v, want block_ip ok", al.Response)
	}
	nft := testutil.RequireCommand(t, "nft")
	if out, err := exec.Command(nft, "list", "set", "inet", "vigil", "blocked4").CombinedOutput(); err != nil || !strings.Contains(string(out), ip) {
		t.Errorf("%s not in the agent's nftables set (%v):\n%s", ip, err, out)
	}
	appendAuth(t, a.authLog, "Accepted password for root from "+ip+" port 41000 ssh2")
	ok := a.waitAlert(t, ruleBruteForceSuccess, "T1110", srcIs(ip))
	if ok.Severity != "critical" {
		t.Errorf("succeeded brute force is %s, want critical", ok.Severity)
	}
}

// A restarted agent resumes the log where it stopped: lines written while
// it was down are judged, lines judged before are not judged again — also
// after a kill -9.
func TestAuthLogResumesAcrossRestart(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireBPF(t)
	dir := t.TempDir()
	a, err := newAgentRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.start(); err != nil {
		t.Fatal(err)
	}
	defer a.stop()
	first, second, third := "198.51.100.1", "198.51.100.2", "198.51.100.3"
	appendAuth(t, a.authLog, failures(first, 10)...)
	a.waitAlert(t, ruleBruteForce, "T1110.001", srcIs(first))

	a.halt(syscall.SIGTERM)
	appendAuth(t, a.authLog, failures(second, 10)...)
	if err := a.start(); err != nil {
		t.Fatal(err)
	}
	a.waitAlert(t, ruleBruteForce, "T1110.001", srcIs(second))

	// Give the position a moment to be committed, then kill -9.
	time.Sleep(time.Second)
	a.halt(syscall.SIGKILL)
	appendAuth(t, a.authLog, failures(third, 10)...)
	if err := a.start(); err != nil {
		t.Fatal(err)
	}
	a.waitAlert(t, ruleBruteForce, "T1110.001", srcIs(third))
	time.Sleep(2 * time.Second)
	count := map[string]int{}
	for _, al := range a.readAlerts(t) {
		if al.Rule.ID == ruleBruteForce {
			count[fmt.Sprint(al.Evidence["src_ip"])]++
		}
	}
	for _, ip := range []string{first, second, third} {
		if count[ip] != 1 {
			t.Errorf("%s: %d brute-force alerts, want exactly 1 (all: %v)", ip, count[ip], count)
		}
	}
}
