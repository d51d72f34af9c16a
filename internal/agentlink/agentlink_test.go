package agentlink_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vigilsec/vigil/internal/agentlink"
	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/pki"
	"github.com/vigilsec/vigil/internal/server/link"
	"github.com/vigilsec/vigil/internal/server/link/linktest"
	"github.com/vigilsec/vigil/internal/server/store"
	"github.com/vigilsec/vigil/internal/server/store/sqlite"
	"github.com/vigilsec/vigil/internal/severity"
)

// The test binary re-executes itself as a link server or an agent, so the
// tests can kill -9 either side.
const helperEnv = "VIGIL_AGENTLINK_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		goleak.VerifyTestMain(m)
	case "server":
		if err := helperServer(); err != nil {
			fmt.Fprintln(os.Stderr, "helper server:", err)
			os.Exit(2)
		}
	case "agent":
		if err := helperAgent(); err != nil {
			fmt.Fprintln(os.Stderr, "helper agent:", err)
			os.Exit(2)
		}
	}
	os.Exit(0)
}

// helperServer serves the link for the store and CA in $DIR on $ADDR.
func helperServer() error {
	ctx := context.Background()
	dir := os.Getenv("DIR")
	st, err := sqlite.OpenDir(ctx, dir)
	if err != nil {
		return err
	}
	defer st.Close()
	ca, err := pki.LoadOrCreateCA(filepath.Join(dir, "ca"))
	if err != nil {
		return err
	}
	srv, err := link.NewServer(link.Options{Store: st, CA: ca})
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", os.Getenv("ADDR"))
	if err != nil {
		return err
	}
	fmt.Println("READY")
	return srv.Serve(lis)
}

// helperAgent spools $N alerts with IDs $PREFIX-<i> and runs the link.
func helperAgent() error {
	n, _ := strconv.Atoi(os.Getenv("N"))
	c, err := agentlink.New(agentlink.Options{DataDir: os.Getenv("DIR"), Server: os.Getenv("ADDR"), EnrolToken: os.Getenv("TOKEN"),
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, BatchRecords: 100, HeartbeatInterval: time.Second})
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Enrol(context.Background()); err != nil && !errors.Is(err, agentlink.ErrNotEnrolled) {
		return err
	}
	for i := range n {
		if err := c.SendAlert(testAlert(os.Getenv("PREFIX"), i)); err != nil {
			return err
		}
	}
	fmt.Println("READY")
	return c.Run(context.Background())
}

func testAlert(prefix string, i int) *alert.Alert {
	return &alert.Alert{ID: fmt.Sprintf("%s-%06d", prefix, i), Time: time.Unix(1700000000, int64(i)).UTC(),
		Rule: alert.Rule{ID: "persistence.cron", Title: "Cron job written"}, Severity: severity.High,
		Attack: alert.Attack{Tactics: []string{"TA0003"}, Techniques: []string{"T1053.003"}}, Evidence: map[string]any{"path": "/etc/cron.d/x"}}
}

func newClient(t *testing.T, dir, addr, token string, tweak func(*agentlink.Options)) *agentlink.Client {
	t.Helper()
	o := agentlink.Options{DataDir: dir, Server: addr, EnrolToken: token, MinBackoff: 10 * time.Millisecond,
		MaxBackoff: 200 * time.Millisecond, HeartbeatInterval: 100 * time.Millisecond}
	if tweak != nil {
		tweak(&o)
	}
	c, err := agentlink.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// run runs the client until the test ends or stop is called; wait returns
// Run's result.
func run(t *testing.T, c *agentlink.Client) (stop func(), wait func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	var res error
	wait = func() error {
		once.Do(func() { res = <-done })
		return res
	}
	t.Cleanup(func() { cancel(); wait() })
	return cancel, wait
}

func waitFor(t *testing.T, what string, timeout time.Duration, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func countAlerts(t *testing.T, st store.Store, host string) int {
	t.Helper()
	n, err := st.CountAlerts(context.Background(), store.AlertFilter{HostID: host})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestEnrolAndDeliver(t *testing.T) {
	e := linktest.Start(t, "", "", nil)
	dir := t.TempDir()
	c := newClient(t, dir, e.Addr, e.Token(t), func(o *agentlink.Options) {
		o.Heartbeat = func() agentlink.HeartbeatInfo {
			return agentlink.HeartbeatInfo{SensorMode: "ebpf", Drops: map[string]uint64{"exec": 2}}
		}
	})
	const n = 500
	for i := range n {
		if err := c.SendAlert(testAlert("a", i)); err != nil {
			t.Fatal(err)
		}
		if err := c.SendEvent(fmt.Sprintf("ev-%d", i), time.Now(), "exec", json.RawMessage(`{"pid":42}`)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.SendInventory(json.RawMessage(`{"packages":[{"name":"openssl"}]}`)); err != nil {
		t.Fatal(err)
	}
	run(t, c)
	waitFor(t, "enrolment", 10*time.Second, func() bool { return c.HostID() != "" })
	host := c.HostID()
	ctx := context.Background()
	waitFor(t, "delivery", 20*time.Second, func() bool { return c.Stats().SpoolPending == 0 })
	if got := countAlerts(t, e.Store, host); got != n {
		t.Fatalf("%d alerts stored, want %d", got, n)
	}
	if got, _ := e.Store.CountEvents(ctx, host); got != n {
		t.Fatalf("%d events stored, want %d", got, n)
	}
	if inv, err := e.Store.LatestInventory(ctx, host); err != nil || !strings.Contains(string(inv.Data), "openssl") {
		t.Fatalf("inventory %+v, %v", inv, err)
	}
	waitFor(t, "heartbeat", 10*time.Second, func() bool {
		hb, ok := e.Server.Heartbeat(host)
		return ok && hb.SensorMode == "ebpf" && hb.Drops["exec"] == 2 && hb.RSSBytes > 0 && hb.QueueDepth == 0
	})
	hn, _ := os.Hostname()
	var h store.Host
	waitFor(t, "stored heartbeat", 10*time.Second, func() bool {
		var err error
		if h, err = e.Store.GetHost(ctx, host); err != nil {
			t.Fatal(err)
		}
		return h.Hostname == hn && h.SensorMode == "ebpf" && h.CertSHA256 != ""
	})
	if fi, err := os.Stat(filepath.Join(dir, agentlink.KeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", fi, err)
	}
}

func TestEnrolTokenUsedTwice(t *testing.T) {
	e := linktest.Start(t, "", "", nil)
	tok := e.Token(t)
	a := newClient(t, t.TempDir(), e.Addr, tok, nil)
	if err := a.Enrol(context.Background()); err != nil {
		t.Fatal(err)
	}
	b := newClient(t, t.TempDir(), e.Addr, tok, nil)
	_, wait := run(t, b)
	if err := wait(); !errors.Is(err, agentlink.ErrRejected) {
		t.Fatalf("Run with a used token: %v, want ErrRejected", err)
	}
	if b.HostID() != "" {
		t.Fatal("second agent got a host ID")
	}
}

func TestEnrolWrongCAPin(t *testing.T) {
	e := linktest.Start(t, "", "", nil)
	good, err := pki.ParseEnrolToken(e.Token(t))
	if err != nil {
		t.Fatal(err)
	}
	other, err := pki.NewCA("impostor", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	bad := pki.EnrolToken{Secret: good.Secret, CAPin: other.SHA256()}
	c := newClient(t, t.TempDir(), e.Addr, bad.String(), nil)
	err = c.Enrol(context.Background())
	if err == nil || !strings.Contains(err.Error(), "pinned") {
		t.Fatalf("Enrol against a server of another CA: %v, want a pin error", err)
	}
	// The secret never reached the server: the token is still unused.
	toks, err := e.Store.ListEnrolTokens(context.Background())
	if err != nil || len(toks) != 1 || !toks[0].UsedAt.IsZero() {
		t.Fatalf("tokens %+v, %v: want one unused", toks, err)
	}
	if _, err := pki.ParseEnrolToken("vgl1.short.abc"); err == nil {
		t.Fatal("malformed token parsed")
	}
}

func TestRevokedAgentStops(t *testing.T) {
	e := linktest.Start(t, "", "", nil)
	c := newClient(t, t.TempDir(), e.Addr, e.Token(t), nil)
	_, wait := run(t, c)
	waitFor(t, "connection", 10*time.Second, func() bool { return c.Stats().Connected })
	if err := e.Store.RevokeHost(context.Background(), c.HostID()); err != nil {
		t.Fatal(err)
	}
	if err := wait(); !errors.Is(err, agentlink.ErrRejected) || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("Run after revocation: %v, want ErrRejected (revoked)", err)
	}
}

func TestExpiredCertificateRefused(t *testing.T) {
	// The server's clock moves past the certificate's one-hour validity.
	var skew atomic.Int64
	e := linktest.Start(t, "", "", func(o *link.Options) {
		o.ClientCertValidity = time.Hour
		o.Now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	})
	c := newClient(t, t.TempDir(), e.Addr, e.Token(t), nil)
	if err := c.Enrol(context.Background()); err != nil {
		t.Fatal(err)
	}
	skew.Store(int64(2 * time.Hour))
	_, wait := run(t, c)
	if err := wait(); !errors.Is(err, agentlink.ErrRejected) || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("Run with an expired certificate: %v, want ErrRejected (expired)", err)
	}
}

type signer struct{}

func (signer) SignRun(_ context.Context, t store.Task, r store.TaskRun) ([]byte, []byte, error) {
	p, _ := json.Marshal(map[string]any{"type": t.Type, "run": r.ID})
	return p, []byte("sig:" + string(p)), nil
}

type runner struct{}

func (runner) RunTask(_ context.Context, payload, sig []byte) (json.RawMessage, error) {
	if string(sig) != "sig:"+string(payload) {
		return nil, errors.New("bad signature")
	}
	var p struct{ Type string }
	json.Unmarshal(payload, &p)
	if p.Type == "fail" {
		return json.RawMessage(`{"step":"kill"}`), errors.New("process not found")
	}
	return json.RawMessage(`{"done":` + strconv.Quote(p.Type) + `}`), nil
}

func TestTasksDispatchedAndResults(t *testing.T) {
	e := linktest.Start(t, "", "", func(o *link.Options) { o.TaskSigner = signer{} })
	c := newClient(t, t.TempDir(), e.Addr, e.Token(t), func(o *agentlink.Options) { o.Runner = runner{} })
	run(t, c)
	waitFor(t, "connection", 10*time.Second, func() bool { return c.Stats().Connected })
	ctx := context.Background()
	var tasks []store.Task
	for _, typ := range []string{"collect", "fail"} {
		task, err := e.Store.CreateTask(ctx, store.Task{Type: typ, Params: json.RawMessage(`{}`), Targets: store.Targets{Hosts: []string{c.HostID()}},
			CreatedBy: "admin", CreatedAt: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Store.AddTaskRuns(ctx, task.ID, []string{c.HostID()}, time.Now()); err != nil {
			t.Fatal(err)
		}
		tasks = append(tasks, task)
	}
	e.Server.KickTasks(c.HostID())
	runOf := func(task store.Task) store.TaskRun {
		rs, err := e.Store.ListTaskRuns(ctx, task.ID)
		if err != nil || len(rs) != 1 {
			t.Fatalf("runs %+v, %v", rs, err)
		}
		return rs[0]
	}
	waitFor(t, "task results", 10*time.Second, func() bool {
		return runOf(tasks[0]).State == store.RunSucceeded && runOf(tasks[1]).State == store.RunFailed
	})
	if out := string(runOf(tasks[0]).Output); out != `{"done":"collect"}` {
		t.Fatalf("output %s", out)
	}
	if out := string(runOf(tasks[1]).Output); !strings.Contains(out, "process not found") || !strings.Contains(out, `"step"`) {
		t.Fatalf("failed output %s", out)
	}
}

// TestSpoolDropsReported: records dropped because the spool is full are
// counted and reach the server in the heartbeat, and what was spooled is
// delivered.
func TestSpoolDropsReported(t *testing.T) {
	e := linktest.Start(t, "", "", nil)
	c := newClient(t, t.TempDir(), e.Addr, e.Token(t), func(o *agentlink.Options) {
		o.SpoolBytes, o.SpoolSegmentBytes = 64<<10, 8<<10
	})
	sent, dropped := 0, 0
	for i := range 1000 {
		if err := c.SendAlert(testAlert("d", i)); err != nil {
			dropped++
			continue
		}
		sent++
	}
	if dropped == 0 {
		t.Fatal("nothing dropped by a 64 KiB spool")
	}
	run(t, c)
	waitFor(t, "heartbeat with drops", 10*time.Second, func() bool {
		hb, ok := e.Server.Heartbeat(c.HostID())
		return ok && hb.SpoolDrops == uint64(dropped)
	})
	waitFor(t, "delivery", 10*time.Second, func() bool { return countAlerts(t, e.Store, c.HostID()) == sent })
}

// startHelper starts the test binary as a helper and waits for READY.
func startHelper(t *testing.T, role string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), helperEnv+"="+role), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "READY" {
		t.Fatalf("helper %s: %q, %v", role, line, err)
	}
	return cmd
}

func kill9(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestServerKilledMidIngest kills the server process with SIGKILL while an
// agent uploads, keeps the agent producing while the server is down, then
// restarts the server: every alert is stored exactly once.
func TestServerKilledMidIngest(t *testing.T) {
	sdir, addr := t.TempDir(), freeAddr(t)
	// Create the store and CA, and a token, before the server process runs.
	st, err := sqlite.OpenDir(context.Background(), sdir)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.LoadOrCreateCA(filepath.Join(sdir, "ca"))
	if err != nil {
		t.Fatal(err)
	}
	tok := linktest.NewToken(t, st, ca)
	st.Close()

	srv := startHelper(t, "server", "DIR="+sdir, "ADDR="+addr)
	c := newClient(t, t.TempDir(), addr, tok, func(o *agentlink.Options) { o.BatchRecords = 50 })
	const first, second = 20000, 2000
	for i := range first {
		if err := c.SendAlert(testAlert("k", i)); err != nil {
			t.Fatal(err)
		}
	}
	stop, _ := run(t, c)
	waitFor(t, "some acks", 60*time.Second, func() bool { return c.Stats().Acked >= 1000 })
	kill9(t, srv)
	acked := c.Stats().Acked
	t.Logf("server killed after %d of %d records were acknowledged", acked, first)
	if acked >= first {
		t.Log("warning: ingest finished before the kill")
	}
	// The agent goes on producing while the server is down.
	for i := first; i < first+second; i++ {
		if err := c.SendAlert(testAlert("k", i)); err != nil {
			t.Fatal(err)
		}
	}
	startHelper(t, "server", "DIR="+sdir, "ADDR="+addr)
	waitFor(t, "delivery after restart", 120*time.Second, func() bool { return c.Stats().SpoolPending == 0 })
	stop()

	st, err = sqlite.OpenDir(context.Background(), sdir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	checkExactlyOnce(t, st, c.HostID(), "k", first+second)
}

// checkExactlyOnce checks that the host has alerts prefix-0…n-1, each once.
func checkExactlyOnce(t *testing.T, st store.Store, host, prefix string, n int) {
	t.Helper()
	seen := map[string]int{}
	f := store.AlertFilter{HostID: host, Page: store.Page{Limit: 1000}}
	for {
		as, next, err := st.ListAlerts(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range as {
			seen[a.Alert.ID]++
		}
		if next == "" {
			break
		}
		f.Cursor = next
	}
	if len(seen) != n {
		t.Fatalf("%d distinct alerts stored, want %d", len(seen), n)
	}
	for i := range n {
		id := fmt.Sprintf("%s-%06d", prefix, i)
		if seen[id] != 1 {
			t.Fatalf("alert %s stored %d times", id, seen[id])
		}
	}
}

// TestAgentKilledMidUpload kills the agent process with SIGKILL while it
// uploads; the restarted agent replays its spool: every alert is stored
// exactly once.
func TestAgentKilledMidUpload(t *testing.T) {
	e := linktest.Start(t, "", "", nil)
	adir := t.TempDir()
	const n = 20000
	ag := startHelper(t, "agent", "DIR="+adir, "ADDR="+e.Addr, "TOKEN="+e.Token(t), "N="+strconv.Itoa(n), "PREFIX=g")
	var host string
	waitFor(t, "enrolment", 30*time.Second, func() bool {
		hs, _, err := e.Store.ListHosts(context.Background(), store.HostFilter{})
		if err == nil && len(hs) == 1 {
			host = hs[0].ID
		}
		return host != ""
	})
	waitFor(t, "some alerts", 60*time.Second, func() bool { return countAlerts(t, e.Store, host) >= 1000 })
	kill9(t, ag)
	got := countAlerts(t, e.Store, host)
	t.Logf("agent killed after %d of %d alerts were stored", got, n)
	startHelper(t, "agent", "DIR="+adir, "ADDR="+e.Addr, "N=0")
	waitFor(t, "delivery after restart", 120*time.Second, func() bool { return countAlerts(t, e.Store, host) == n })
	checkExactlyOnce(t, e.Store, host, "g", n)
}

// TestCertificateExpiresWhileConnected: a live connection ends at the first
// heartbeat after the certificate expires.
func TestCertificateExpiresWhileConnected(t *testing.T) {
	var skew atomic.Int64
	e := linktest.Start(t, "", "", func(o *link.Options) {
		o.ClientCertValidity = time.Hour
		o.Now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	})
	c := newClient(t, t.TempDir(), e.Addr, e.Token(t), nil)
	_, wait := run(t, c)
	waitFor(t, "connection", 10*time.Second, func() bool { return c.Stats().Connected })
	skew.Store(int64(2 * time.Hour))
	if err := wait(); !errors.Is(err, agentlink.ErrRejected) || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("Run after expiry: %v, want ErrRejected (expired)", err)
	}
}
