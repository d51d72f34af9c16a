package e2e

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/testutil"
)

func pathIs(p string) func(Alert) bool {
	return func(a Alert) bool { return strings.Contains(a.raw, `"`+p+`"`) }
}

// writeThenRemove writes a file the way an attacker's shell would (with
// /bin/sh, so the writer is not the test binary) and removes it after.
func writeThenRemove(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(path) })
	sh(t, fmt.Sprintf("printf '%%s\\n' '%s' > %s", content, path))
}

// appendRestore appends a line to an existing (or new) file with /bin/sh
// and restores the original content afterwards.
func appendRestore(t *testing.T, path, line string) {
	t.Helper()
	orig, err := os.ReadFile(path)
	existed := err == nil
	t.Cleanup(func() {
		if existed {
			os.WriteFile(path, orig, 0o644)
		} else {
			os.Remove(path)
		}
	})
	os.MkdirAll(filepath.Dir(path), 0o755)
	sh(t, fmt.Sprintf("printf '%%s\\n' '%s' >> %s", line, path))
}

func TestPersistenceWrites(t *testing.T) {
	a := agent(t)
	m := marker(t)
	home, _ := os.UserHomeDir()
	cases := []struct {
		name, rule, technique, path string
		do                          func(t *testing.T, path string)
	}{
		{"cron.d", rulePersistCron, "T1053.003", "/etc/cron.d/" + m, func(t *testing.T, p string) {
			writeThenRemove(t, p, "* * * * * root /bin/true")
		}},
		{"systemd unit", rulePersistSystemd, "T1543.002", "/etc/systemd/system/" + m + ".service", func(t *testing.T, p string) {
			writeThenRemove(t, p, "[Service]\nExecStart=/bin/true")
		}},
		{"rc.local", rulePersistRC, "T1037.004", "/etc/rc.local", func(t *testing.T, p string) {
			appendRestore(t, p, "# "+m)
		}},
		{"init.d", rulePersistRC, "T1037.004", "/etc/init.d/" + m, func(t *testing.T, p string) {
			writeThenRemove(t, p, "#!/bin/sh")
		}},
		{"profile.d", rulePersistShellRC, "T1546.004", "/etc/profile.d/" + m + ".sh", func(t *testing.T, p string) {
			writeThenRemove(t, p, "true")
		}},
		{"bashrc", rulePersistShellRC, "T1546.004", filepath.Join(home, ".bashrc"), func(t *testing.T, p string) {
			appendRestore(t, p, "# "+m)
		}},
		{"authorized_keys", rulePersistSSHKeys, "T1098.004", filepath.Join(home, ".ssh", "authorized_keys"), func(t *testing.T, p string) {
			appendRestore(t, p, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB4mXq3kQwsdX1m2Z0gmQK3X6X2cnY1n9cLx7O4wV6pN "+m)
		}},
		{"ld.so.preload", rulePersistPreload, "T1574.006", "/etc/ld.so.preload", func(t *testing.T, p string) {
			// An empty line preloads nothing; the write is what matters.
			appendRestore(t, p, "")
		}},
		{"sudoers.d", rulePersistSudoers, "T1548.003", "/etc/sudoers.d/" + strings.ReplaceAll(m, ".", "-"), func(t *testing.T, p string) {
			writeThenRemove(t, p, "# "+m)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.do(t, c.path)
			a.waitAlert(t, c.rule, c.technique, pathIs(c.path))
		})
	}
}

func TestUID0Account(t *testing.T) {
	a := agent(t)
	testutil.RequireCommand(t, "useradd")
	name := fmt.Sprintf("ve2e%d", os.Getpid()%100000)
	t.Cleanup(func() { exec.Command("userdel", "-f", name).Run() })
	run(t, "useradd", "-o", "-u", "0", "-M", "-s", "/usr/sbin/nologin", name)
	a.waitAlert(t, ruleUID0, "T1136.001", cmdHas(name))
}

func TestShadowReadByUnusualBinary(t *testing.T) {
	a := agent(t)
	dir := t.TempDir()
	reader := filepath.Join(dir, "report-gen")
	copyBin(t, "/bin/cat", reader)
	if err := exec.Command(reader, "/etc/shadow").Run(); err != nil {
		t.Fatal(err)
	}
	a.waitAlert(t, ruleShadowRead, "T1003.008", func(al Alert) bool { return al.Process.Exe == reader })
	// The usual reader is not an alert.
	run(t, "/usr/bin/passwd", "-S", "root")
	a.noAlert(t, ruleShadowRead, func(al Alert) bool { return al.Process.Exe == "/usr/bin/passwd" })
}

func TestHistoryClearingAndLogTruncation(t *testing.T) {
	a := agent(t)
	m := marker(t)
	sh(t, "bash -c 'history -c; : "+m+"'")
	a.waitAlert(t, ruleHistoryClear, "T1070.003", cmdHas(m))

	// The rule watches the logs that record an intrusion (auth, syslog,
	// wtmp…), rotated copies included: a rotated syslog name this host
	// does not use stands in for the real one.
	log := "/var/log/syslog.97"
	if _, err := os.Stat(log); err == nil {
		t.Skipf("%s exists on this host; not touching it", log)
	}
	os.WriteFile(log, []byte("line\n"), 0o640)
	t.Cleanup(func() { os.Remove(log) })
	sh(t, "truncate -s 0 "+log)
	a.waitAlert(t, ruleLogTruncate, "T1070.002", pathIs(log))
}

func TestSystemBinaryReplaced(t *testing.T) {
	a := agent(t)
	m := marker(t)
	target := "/usr/bin/" + m
	copyBin(t, "/bin/ls", target)
	t.Cleanup(func() { os.Remove(target) })
	time.Sleep(200 * time.Millisecond)
	sh(t, "cp /bin/true "+target)
	a.waitAlert(t, ruleBinTamper, "T1554", pathIs(target))
}

func TestKernelModuleLoad(t *testing.T) {
	a := agent(t)
	_, err := os.Stat("/proc/modules")
	testutil.Require(t, "VIGIL_REQUIRE_MODULES", err == nil, "this kernel has no module support (no /proc/modules)")
	testutil.RequireCommand(t, "insmod")
	ko := filepath.Join(t.TempDir(), "vigil_e2e.ko")
	os.WriteFile(ko, []byte("not an ELF module"), 0o644)
	// The load fails (bad module); the attempt is what is detected.
	exec.Command("insmod", ko).Run()
	a.waitAlert(t, ruleModuleLoad, "T1547.006", nil)
}

func TestPtraceOtherUser(t *testing.T) {
	a := agent(t)
	testutil.RequireCommand(t, "strace")
	testutil.RequireCommand(t, "setpriv")
	victim := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "sleep", "30")
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	defer victim.Process.Kill()
	time.Sleep(300 * time.Millisecond)
	exec.Command("timeout", "1", "strace", "-p", strconv.Itoa(victim.Process.Pid)).Run()
	a.waitAlert(t, rulePtrace, "T1055.008", nil)
}

func TestMinerConnectionIsBlocked(t *testing.T) {
	a := agent(t)
	ln, err := net.Listen("tcp", "127.0.0.33:3333")
	if err != nil {
		t.Skipf("port 3333 busy: %v", err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	// A renamed miner: the rule must not rely on the name.
	miner := filepath.Join(t.TempDir(), "kworker")
	copyBin(t, attacker, miner)
	exec.Command(miner, "miner", "-o", "stratum+tcp://127.0.0.33:3333", "--donate-level", "1").Run()
	al := a.waitAlert(t, ruleMinerPort, "T1496", func(al Alert) bool { return al.Process.Exe == miner })
	if al.Response.Action != "block_connect" || al.Response.Result != "ok" {
		t.Fatalf("response %+v, want block_connect ok", al.Response)
	}
	// The effect: a new connection to the pool address is refused.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.33:3333", time.Second)
		if err != nil {
			if !errors.Is(err, syscall.EPERM) {
				t.Errorf("connect after block: %v, want EPERM", err)
			}
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("connect to the pool still allowed after block_connect")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestConnectSweepOfInternalAddresses(t *testing.T) {
	a := agent(t)
	// 40 addresses in 127.0.0.0/8, configured internal; a closed port. The
	// tool lives outside temporary directories, so only the sweep rule
	// applies.
	dir := filepath.Join("/opt", marker(t))
	os.MkdirAll(dir, 0o755)
	t.Cleanup(func() { os.RemoveAll(dir) })
	scanner := filepath.Join(dir, "update-check")
	copyBin(t, attacker, scanner)
	run(t, scanner, "sweep", "127.0.1.2", "40", "9")
	a.waitAlert(t, ruleSweep, "T1046", func(al Alert) bool { return al.Process.Exe == scanner })
}

func TestDroppedScannerIsDenied(t *testing.T) {
	a := agent(t)
	scanner := filepath.Join(t.TempDir(), "update-check")
	copyBin(t, attacker, scanner)
	// Its own content (trailing bytes an ELF loader ignores), so blocking
	// its hash blocks no other test's copy of the attacker tool.
	f, err := os.OpenFile(scanner, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(f, marker(t))
	f.Close()
	// The agent acts on this rule (deny_exec) and kills it mid-sweep, so
	// its exit is not checked.
	exec.Command(scanner, "sweep", "127.0.2.2", "40", "9").Run()
	al := a.waitAlert(t, ruleDroppedScan, "T1210", func(al Alert) bool { return al.Process.Exe == scanner })
	if al.Response.Action != "deny_exec" || al.Response.Result != "ok" {
		t.Fatalf("response %+v, want deny_exec ok", al.Response)
	}
	err = exec.Command(scanner, "sweep", "127.0.2.2", "1", "9").Run()
	if !errors.Is(err, syscall.EPERM) {
		t.Fatalf("exec of the blocked scanner: %v, want EPERM", err)
	}
	// A copy (another inode, same content) is refused by its hash.
	twin := filepath.Join(t.TempDir(), "twin")
	copyBin(t, scanner, twin)
	if err := exec.Command(twin, "sweep", "127.0.2.2", "1", "9").Run(); !errors.Is(err, syscall.EPERM) {
		t.Fatalf("exec of a copy of the blocked scanner: %v, want EPERM", err)
	}
}

func TestContainerShell(t *testing.T) {
	a := agent(t)
	testutil.RequireDocker(t)
	m := marker(t)
	// A shell reading commands from its stdin, in a container with
	// SYS_ADMIN and the host PID namespace.
	cmd := exec.Command("docker", "run", "--rm", "-i", "--network", "none", "--cap-add", "SYS_ADMIN", "--pid", "host",
		"--label", "e2e="+m, "vigil-test/busybox:1", "sh")
	cmd.Stdin = strings.NewReader("echo " + m + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), m) {
		t.Fatalf("docker run: %v %s", err, out)
	}
	inContainer := func(al Alert) bool { return al.Container != nil && al.Container.Image == "vigil-test/busybox:1" }
	al := a.waitAlert(t, ruleContainerShell, "T1609", inContainer)
	if len(al.Container.ID) != 64 || al.Container.Name == "" {
		t.Errorf("container shell alert without the container: %+v", al.Container)
	}
	a.waitAlert(t, ruleContainerPriv, "T1611", inContainer)
}
