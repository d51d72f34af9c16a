package login

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/authlog"
	"github.com/vigilsec/vigil/internal/detect"
	"github.com/vigilsec/vigil/internal/respond"
	"github.com/vigilsec/vigil/internal/respond/audit"
	"github.com/vigilsec/vigil/internal/respond/netblock"
	"github.com/vigilsec/vigil/internal/testutil"
)

const (
	sshdPort     = "2222"
	attackerAddr = "127.0.0.5"
	bystander    = "127.0.0.6"
	blockFor     = 5 * time.Second
)

// TestRealSSHDBruteForce runs Debian's sshd on 127.0.0.1:2222, guesses
// root's password from 127.0.0.5 until the brute-force threshold, then
// logs in with a key from the same address, and feeds sshd's log through
// authlog.ParseLine, the auth rules and the responder with nftables: the
// brute force and the success raise their alerts, block_ip blocks
// 127.0.0.5 (127.0.0.6 still connects), and the block expires.
func TestRealSSHDBruteForce(t *testing.T) {
	testutil.RequireRoot(t)
	sshd := "/usr/sbin/sshd"
	_, err := os.Stat(sshd)
	testutil.Require(t, "VIGIL_REQUIRE_TOOLS", err == nil, "openssh-server is not installed")
	// Its own table: a running agent (the e2e suite's) keeps "vigil".
	nft, err := netblock.OpenNFTTable(-1, "vigil_test_sshd")
	testutil.Require(t, "VIGIL_REQUIRE_TOOLS", err == nil, fmt.Sprintf("nftables unavailable: %v", err))
	t.Cleanup(func() { nft.Close() })

	dir := t.TempDir()
	_, hostPub := newKey(t, filepath.Join(dir, "host_key"))
	userKey, userPub := newKey(t, filepath.Join(dir, "user_key"))
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), ssh.MarshalAuthorizedKey(userPub), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "sshd_config")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`HostKey %s
PidFile none
UsePAM no
PasswordAuthentication yes
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
AuthorizedKeysFile %s
StrictModes no
MaxStartups 100
LogLevel INFO
`, filepath.Join(dir, "host_key"), filepath.Join(dir, "authorized_keys"))), 0o600)
	// Debian's sshd wants its privilege separation directory.
	if _, err := os.Stat("/run/sshd"); errors.Is(err, os.ErrNotExist) {
		if err := os.Mkdir("/run/sshd", 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove("/run/sshd") })
	}
	logPath := filepath.Join(dir, "sshd.log")
	cmd := exec.Command(sshd, "-D", "-e", "-f", cfg, "-p", sshdPort, "-o", "ListenAddress=127.0.0.1", "-E", logPath)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitFor(t, "sshd listening", func() bool { return strings.Contains(readFile(logPath), "Server listening") })

	// Guess root's password from 127.0.0.5 until sshd logged 12 failures.
	for i := 0; i < 10 && strings.Count(readFile(logPath), "Failed password for root from "+attackerAddr) < 12; i++ {
		n := 0
		_, err := sshDial(attackerAddr, &ssh.ClientConfig{User: "root", HostKeyCallback: ssh.FixedHostKey(hostPub),
			Auth: []ssh.AuthMethod{ssh.RetryableAuthMethod(ssh.PasswordCallback(func() (string, error) {
				n++
				return fmt.Sprintf("guess-%d", n), nil
			}), 5)}})
		if err == nil {
			t.Fatal("a guessed password was accepted")
		}
	}
	// Then get in (here with root's key: the attacker found it elsewhere).
	c, err := sshDial(attackerAddr, &ssh.ClientConfig{User: "root", HostKeyCallback: ssh.FixedHostKey(hostPub),
		Auth: []ssh.AuthMethod{ssh.PublicKeys(userKey)}})
	if err != nil {
		t.Fatalf("key login: %v", err)
	}
	c.Close()
	waitFor(t, "the accepted login in the log", func() bool {
		return strings.Contains(readFile(logPath), "Accepted publickey for root from "+attackerAddr)
	})

	// The log, as syslog would have it: sshd -E writes bare messages.
	rs, err := LoadRules()
	if err != nil {
		t.Fatal(err)
	}
	eng, err := detect.New(rs, detect.Options{ResponseOverride: map[string]bool{
		"VGL-AUTH-BRUTEFORCE": true, "VGL-AUTH-BRUTEFORCE-SUCCESS": true}})
	if err != nil {
		t.Fatal(err)
	}
	auditLog, err := audit.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer auditLog.Close()
	resp := &respond.Responder{Audit: auditLog, Net: nft, BlockDuration: func(*alert.Alert) time.Duration { return blockFor }}
	p := &Pipeline{Engine: eng}
	now := time.Now()
	var got []*alert.Alert
	sc := bufio.NewScanner(strings.NewReader(readFile(logPath)))
	records := 0
	for sc.Scan() {
		line := fmt.Sprintf("%s vigiltest sshd[%d]: %s", now.Format(time.Stamp), cmd.Process.Pid, sc.Text())
		r, ok := authlog.ParseLine(line, now)
		if !ok {
			continue
		}
		records++
		ev, alerts := p.Handle(r)
		for _, a := range alerts {
			a.Response = resp.Do(context.Background(), a, ev)
			got = append(got, a)
		}
	}
	var brute, success *alert.Alert
	for _, a := range got {
		t.Logf("alert %s %s src_ip=%v user=%v count=%v response=%+v", a.Rule.ID, a.Severity, a.Evidence["src_ip"], a.Evidence["user"], a.Evidence["count"], a.Response)
		switch a.Rule.ID {
		case "VGL-AUTH-BRUTEFORCE":
			brute = a
		case "VGL-AUTH-BRUTEFORCE-SUCCESS":
			success = a
		}
	}
	if brute == nil || brute.Evidence["src_ip"] != attackerAddr || brute.Response.Result != "ok" {
		t.Fatalf("brute-force alert %+v (records %d)", brute, records)
	}
	if success == nil || success.Severity.String() != "critical" || success.Evidence["user"] != "root" ||
		success.Evidence["method"] != "publickey" || success.Response.Result != "ok" {
		t.Fatalf("succeeded alert %+v", success)
	}
	list, err := nft.List()
	if err != nil || len(list) != 1 || list[0].IP != netip.MustParseAddr(attackerAddr) {
		t.Errorf("blocked %+v, %v", list, err)
	}

	// The attacker's address cannot connect; another loopback address can.
	if conn, err := dialFrom(attackerAddr, time.Second); err == nil {
		conn.Close()
		t.Errorf("%s connected while blocked", attackerAddr)
	}
	if conn, err := dialFrom(bystander, 5*time.Second); err != nil {
		t.Errorf("%s: %v", bystander, err)
	} else {
		conn.Close()
	}
	// The block expires (nftables element timeout): 127.0.0.5 connects
	// again and the block list is empty.
	waitFor(t, "the block to expire", func() bool {
		conn, err := dialFrom(attackerAddr, 500*time.Millisecond)
		if err != nil {
			return false
		}
		conn.Close()
		return true
	})
	if list, err := nft.List(); err != nil || len(list) != 0 {
		t.Errorf("after expiry: blocked %+v, %v", list, err)
	}
	recs, err := audit.ReadFile(dir)
	if err != nil || len(recs) < 2 {
		t.Errorf("audit records %+v, %v", recs, err)
	}
}

// TestBlockIPPolicy checks which addresses block_ip refuses: 127.0.0.1,
// ::1, unspecified and the configured never-block networks; any other
// loopback address is blocked.
func TestBlockIPPolicy(t *testing.T) {
	fb := &fakeBlocker{}
	auditLog, err := audit.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer auditLog.Close()
	r := &respond.Responder{Audit: auditLog, Net: fb, NeverBlock: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}
	for _, tc := range []struct {
		ip   string
		want string
	}{
		{"127.0.0.5", "ok"},
		{"203.0.113.9", "ok"},
		{"::ffff:203.0.113.10", "ok"},
		{"127.0.0.1", "skipped"},
		{"::1", "skipped"},
		{"0.0.0.0", "skipped"},
		{"192.0.2.44", "skipped"},
	} {
		a := &alert.Alert{ID: alert.NewID(), Rule: alert.Rule{ID: "VGL-AUTH-BRUTEFORCE"}, Response: alert.Response{Action: "block_ip", Result: "pending"}}
		ev := Convert(authlog.Event{Service: "sshd", Kind: authlog.KindFailure, SourceIP: netip.MustParseAddr(tc.ip)})
		if got := r.Do(context.Background(), a, &ev); !strings.HasPrefix(got.Result, tc.want) {
			t.Errorf("%s: %q, want %s", tc.ip, got.Result, tc.want)
		}
	}
	want := []string{"127.0.0.5", "203.0.113.9", "203.0.113.10"}
	if fmt.Sprint(fb.blocked) != fmt.Sprint(want) {
		t.Errorf("blocked %v, want %v", fb.blocked, want)
	}
}

type fakeBlocker struct{ blocked []string }

func (f *fakeBlocker) Block(ip netip.Addr, d time.Duration) error {
	f.blocked = append(f.blocked, ip.String())
	return nil
}
func (f *fakeBlocker) Unblock(netip.Addr) error        { return nil }
func (f *fakeBlocker) List() ([]netblock.Entry, error) { return nil, nil }
func (f *fakeBlocker) Mode() string                    { return "fake" }
func (f *fakeBlocker) Close() error                    { return nil }

func newKey(t *testing.T, path string) (ssh.Signer, ssh.PublicKey) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	blk, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(blk), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s, s.PublicKey()
}

func dialFrom(src string, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: timeout}
	return d.Dial("tcp", "127.0.0.1:"+sshdPort)
}

func sshDial(src string, cfg *ssh.ClientConfig) (*ssh.Client, error) {
	conn, err := dialFrom(src, 10*time.Second)
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	c, chans, reqs, err := ssh.NewClientConn(conn, "127.0.0.1:"+sshdPort, cfg)
	if err != nil {
		conn.Close()
		return nil, err
	}
	conn.SetDeadline(time.Time{})
	return ssh.NewClient(c, chans, reqs), nil
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

// waitFor polls cond for up to 30 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}
