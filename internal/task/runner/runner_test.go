package runner

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/vigilsec/vigil/internal/respond/audit"
	"github.com/vigilsec/vigil/internal/respond/kill"
	"github.com/vigilsec/vigil/internal/server/store"
	"github.com/vigilsec/vigil/internal/task"
	"github.com/vigilsec/vigil/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Executor is the agent link's TaskRunner (internal/agentlink).
var _ interface {
	RunTask(ctx context.Context, payload, sig []byte) (output json.RawMessage, err error)
} = (*Executor)(nil)

const hostID = "host-a"

// fixture is a server key and an executor that trusts it.
type fixture struct {
	t       *testing.T
	key     ed25519.PrivateKey
	signer  *task.Signer
	exec    *Executor
	dataDir string
	runID   atomic.Int64
}

func newFixture(t *testing.T, deps Deps) *fixture {
	t.Helper()
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := task.NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, key: key, signer: s, dataDir: t.TempDir()}
	if f.exec, err = New(pub, hostID, f.dataDir, deps); err != nil {
		t.Fatal(err)
	}
	return f
}

// sign makes a signed run of a task of typ with params for host.
func (f *fixture) sign(typ, params, host string) (payload, sig []byte, runID int64) {
	f.t.Helper()
	_, canon, err := task.ParseParams(typ, json.RawMessage(params))
	if err != nil {
		f.t.Fatal(err)
	}
	tk := store.Task{ID: 1, Type: typ, Params: canon, Targets: store.Targets{Hosts: []string{host}}, CreatedBy: "alice", CreatedAt: time.Now().UTC()}
	if tk.Signature, err = f.signer.SignTask(tk); err != nil {
		f.t.Fatal(err)
	}
	runID = f.runID.Add(1)
	payload, sig, err = f.signer.SignRun(context.Background(), tk, store.TaskRun{ID: runID, TaskID: 1, HostID: host})
	if err != nil {
		f.t.Fatal(err)
	}
	return payload, sig, runID
}

// run signs and runs a task and decodes its output's result into res.
func (f *fixture) run(typ, params string, res any) (Output, error) {
	f.t.Helper()
	payload, sig, _ := f.sign(typ, params, hostID)
	b, err := f.exec.RunTask(context.Background(), payload, sig)
	var out Output
	if b != nil {
		if jerr := json.Unmarshal(b, &out); jerr != nil {
			f.t.Fatalf("output %s: %v", b, jerr)
		}
		if res != nil && out.Result != nil {
			rb, _ := json.Marshal(out.Result)
			if jerr := json.Unmarshal(rb, res); jerr != nil {
				f.t.Fatalf("result %s: %v", rb, jerr)
			}
		}
	}
	return out, err
}

// child starts a sleeping child process and returns its identity.
func child(t *testing.T) (*exec.Cmd, kill.Target) {
	t.Helper()
	cmd := exec.Command("sleep", "1000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	b, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	st, err := kill.ParseStat(b)
	if err != nil {
		t.Fatal(err)
	}
	return cmd, kill.Target{PID: st.PID, StartTime: st.StartTime}
}

// alive reports whether the child has not been killed.
func alive(cmd *exec.Cmd) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/stat")
	if err != nil {
		return false
	}
	st, err := kill.ParseStat(b)
	return err == nil && st.State != 'Z' && st.State != 'X'
}

// TestRefused runs a kill of a live child through every check that must
// refuse it, and checks that the child survives each; then the valid run
// kills it, and replays of it are refused, also after a restart.
func TestRefused(t *testing.T) {
	f := newFixture(t, Deps{})
	cmd, tg := child(t)
	params := fmt.Sprintf(`{"pid": %d, "start_time": %d}`, tg.PID, tg.StartTime)
	valid, validSig, _ := f.sign("kill_process", params, hostID)
	var env task.Envelope
	if err := json.Unmarshal(valid, &env); err != nil {
		t.Fatal(err)
	}
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	forged := func(mod func(e *task.Envelope), key ed25519.PrivateKey) ([]byte, []byte) {
		e := env
		e.RunID += 1000
		mod(&e)
		b, err := json.Marshal(&e)
		if err != nil {
			t.Fatal(err)
		}
		return b, task.SignPayload(key, b)
	}
	wrongHost, wrongHostSig, _ := f.sign("kill_process", params, "host-b")
	tests := []struct {
		name    string
		payload []byte
		sig     []byte
		wantIs  error
	}{
		{name: "tampered", payload: []byte(strings.Replace(string(valid), `"pid":`, `"pid":1`, 1)), sig: validSig, wantIs: task.ErrBadSignature},
		{name: "wrong_key", payload: valid, sig: task.SignPayload(otherKey, valid), wantIs: task.ErrBadSignature},
		{name: "wrong_host", payload: wrongHost, sig: wrongHostSig, wantIs: task.ErrWrongHost},
		{name: "unknown_type", wantIs: task.ErrUnknownType},
		{name: "bad_params", wantIs: task.ErrInvalidParams},
		{name: "expired", wantIs: task.ErrExpired},
		{name: "wrong_identity_is_a_failed_run", wantIs: kill.ErrIdentity},
	}
	tests[3].payload, tests[3].sig = forged(func(e *task.Envelope) { e.Type = "run_command"; e.Params = json.RawMessage(`{"cmd":"kill"}`) }, f.key)
	tests[4].payload, tests[4].sig = forged(func(e *task.Envelope) { e.Params = json.RawMessage(fmt.Sprintf(`{"pid":%d}`, tg.PID)) }, f.key)
	tests[5].payload, tests[5].sig = forged(func(e *task.Envelope) {
		e.IssuedAt, e.ExpiresAt = e.IssuedAt.Add(-2*time.Hour), e.ExpiresAt.Add(-2*time.Hour)
	}, f.key)
	tests[6].payload, tests[6].sig, _ = f.sign("kill_process", fmt.Sprintf(`{"pid": %d, "start_time": %d}`, tg.PID, tg.StartTime+1), hostID)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := f.exec.RunTask(context.Background(), tc.payload, tc.sig)
			if !errors.Is(err, tc.wantIs) {
				t.Fatalf("RunTask: error %v, want one wrapping %v", err, tc.wantIs)
			}
			if tc.wantIs != kill.ErrIdentity && out != nil {
				t.Errorf("refused run returned output %s", out)
			}
			if !alive(cmd) {
				t.Fatal("the child was killed by a refused run")
			}
		})
	}

	out, err := f.exec.RunTask(context.Background(), valid, validSig)
	if err != nil {
		t.Fatalf("valid run: %v (output %s)", err, out)
	}
	cmd.Wait()
	if alive(cmd) {
		t.Fatal("the valid run did not kill the child")
	}
	if _, err := f.exec.RunTask(context.Background(), valid, validSig); !errors.Is(err, task.ErrReplay) {
		t.Errorf("replayed payload: error %v, want ErrReplay", err)
	}
	// The server signing the same run again (new nonce) is refused too.
	again, againSig := forged(func(e *task.Envelope) { e.RunID = env.RunID; e.Nonce = strings.Repeat("ab", 16) }, f.key)
	if _, err := f.exec.RunTask(context.Background(), again, againSig); !errors.Is(err, task.ErrReplay) {
		t.Errorf("re-signed run: error %v, want ErrReplay", err)
	}
	// A restarted agent remembers.
	restarted, err := New(f.signer.PublicKey(), hostID, f.dataDir, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := restarted.RunTask(context.Background(), valid, validSig); !errors.Is(err, task.ErrReplay) {
		t.Errorf("replay after restart: error %v, want ErrReplay", err)
	}
	// A lazy executor refuses runs until it has a key, then shares the
	// replay state.
	var key ed25519.PublicKey
	lazy, err := NewLazy(func() (ed25519.PublicKey, string) { return key, hostID }, f.dataDir, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	fresh, freshSig, _ := f.sign("unblock_ip", `{"ip": "192.0.2.1"}`, hostID)
	if _, err := lazy.RunTask(context.Background(), fresh, freshSig); !errors.Is(err, task.ErrBadSignature) {
		t.Errorf("lazy executor without a key: error %v, want ErrBadSignature", err)
	}
	key = f.signer.PublicKey()
	if _, err := lazy.RunTask(context.Background(), valid, validSig); !errors.Is(err, task.ErrReplay) {
		t.Errorf("lazy executor, replay: error %v, want ErrReplay", err)
	}
	if _, err := lazy.RunTask(context.Background(), fresh, freshSig); err == nil || !strings.Contains(err.Error(), "network blocking is not available") {
		t.Errorf("lazy executor with a key: error %v, want the run to reach the blocker", err)
	}
	// A corrupt replay file stops the agent rather than forgetting.
	if err := os.WriteFile(filepath.Join(f.dataDir, "tasks", "seen.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(f.signer.PublicKey(), hostID, f.dataDir, Deps{}); err == nil {
		t.Error("New accepted a corrupt replay file")
	}
}

func TestKillProcess(t *testing.T) {
	testutil.RequireRoot(t)
	adir := t.TempDir()
	alog, err := audit.Open(adir)
	if err != nil {
		t.Fatal(err)
	}
	defer alog.Close()
	f := newFixture(t, Deps{Audit: alog})
	boot, err := kill.BootID()
	if err != nil {
		t.Fatal(err)
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	sleep, _ = filepath.EvalSymlinks(sleep)

	t.Run("wrong_exe", func(t *testing.T) {
		cmd, tg := child(t)
		_, err := f.run("kill_process", fmt.Sprintf(`{"pid": %d, "start_time": %d, "exe": "/usr/sbin/sshd"}`, tg.PID, tg.StartTime), nil)
		if !errors.Is(err, kill.ErrIdentity) || !alive(cmd) {
			t.Fatalf("kill with the wrong exe: error %v, alive %v; want ErrIdentity and alive", err, alive(cmd))
		}
	})
	t.Run("wrong_boot", func(t *testing.T) {
		cmd, tg := child(t)
		_, err := f.run("kill_process", fmt.Sprintf(`{"pid": %d, "start_time": %d, "boot_id": "%s"}`, tg.PID, tg.StartTime, strings.Repeat("0", 32)), nil)
		if !errors.Is(err, kill.ErrIdentity) || !alive(cmd) {
			t.Fatalf("kill of another boot's process: error %v, alive %v", err, alive(cmd))
		}
	})
	t.Run("gone", func(t *testing.T) {
		cmd, tg := child(t)
		cmd.Process.Kill()
		cmd.Wait()
		_, err := f.run("kill_process", fmt.Sprintf(`{"pid": %d, "start_time": %d}`, tg.PID, tg.StartTime), nil)
		if !errors.Is(err, kill.ErrGone) && !errors.Is(err, kill.ErrIdentity) {
			t.Fatalf("kill of an exited process: error %v, want ErrGone", err)
		}
	})
	t.Run("ok", func(t *testing.T) {
		cmd, tg := child(t)
		var res KillResult
		out, err := f.run("kill_process", fmt.Sprintf(`{"pid": %d, "start_time": %d, "boot_id": "%s", "exe": "%s"}`, tg.PID, tg.StartTime, boot, sleep), &res)
		if err != nil {
			t.Fatalf("kill: %v", err)
		}
		cmd.Wait()
		if alive(cmd) {
			t.Fatal("child survived")
		}
		want := KillResult{PID: tg.PID, StartTime: tg.StartTime, Exe: sleep, Killed: 1}
		if diff := cmp.Diff(want, res); diff != "" {
			t.Errorf("result (-want +got):\n%s", diff)
		}
		if out.Type != task.KillProcess || out.Error != "" || out.Finished.Before(out.Started) {
			t.Errorf("output %+v", out)
		}
	})
	t.Run("tree", func(t *testing.T) {
		// sh forks a sleep, then waits: two processes in the tree.
		cmd := exec.Command("sh", "-c", "sleep 1000 & wait")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Wait()
		defer cmd.Process.Kill()
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/stat")
		st, err := kill.ParseStat(b)
		if err != nil {
			t.Fatal(err)
		}
		var kids []byte
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			kids, _ = os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", st.PID, st.PID))
			if len(strings.TrimSpace(string(kids))) > 0 {
				break
			}
		}
		if len(strings.TrimSpace(string(kids))) == 0 {
			t.Fatal("sh started no child")
		}
		var res KillResult
		if _, err := f.run("kill_process", fmt.Sprintf(`{"pid": %d, "start_time": %d, "tree": true}`, st.PID, st.StartTime), &res); err != nil {
			t.Fatalf("kill tree: %v", err)
		}
		if res.Killed != 2 {
			t.Errorf("killed %d, want 2", res.Killed)
		}
		// SIGKILL is delivered asynchronously: the child is gone, or a
		// zombie, within moments.
		kid, _ := strconv.Atoi(strings.Fields(string(kids))[0])
		alive := func() bool {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", kid))
			return err == nil && strings.Contains(string(b), "(sleep)") && !strings.Contains(string(b), ") Z ")
		}
		for deadline := time.Now().Add(5 * time.Second); alive() && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		}
		if alive() {
			t.Errorf("the tree's sleep %d survived", kid)
		}
	})
	recs, err := audit.ReadFile(adir)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, r := range recs {
		actions = append(actions, r.Action+":"+r.Result)
	}
	want := []string{"kill:failed", "kill:failed", "kill:failed", "kill:ok", "kill_tree:ok"}
	if diff := cmp.Diff(want, actions); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
}

// TestTimeoutAndCancel checks the per-type timeout, and that a run whose
// context has ended before it starts is not marked as seen.
func TestTimeoutAndCancel(t *testing.T) {
	f := newFixture(t, Deps{})
	f.exec.Timeouts = map[task.Type]time.Duration{task.MalwareScan: time.Nanosecond}
	out, err := f.run("malware_scan", `{"paths": ["/usr"]}`, nil)
	if err == nil || !strings.Contains(err.Error(), "timeout 1ns") || out.Error == "" {
		t.Errorf("malware_scan with a 1ns timeout: error %v, output %+v", err, out)
	}

	payload, sig, _ := f.sign("unblock_ip", `{"ip": "192.0.2.1"}`, hostID)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.exec.RunTask(ctx, payload, sig); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled run: error %v", err)
	}
	if _, err := f.exec.RunTask(context.Background(), payload, sig); errors.Is(err, task.ErrReplay) {
		t.Errorf("a run canceled before it started was marked as seen: %v", err)
	}
}

// BenchmarkRunTask measures a whole accepted run of the cheapest type:
// verification, the durable replay record (an fsync'd file write) and the
// operation's failure without a blocker.
func BenchmarkRunTask(b *testing.B) {
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	s, _ := task.NewSigner(key)
	ex, err := New(pub, hostID, b.TempDir(), Deps{})
	if err != nil {
		b.Fatal(err)
	}
	_, canon, _ := task.ParseParams("unblock_ip", json.RawMessage(`{"ip": "192.0.2.1"}`))
	tk := store.Task{ID: 1, Type: "unblock_ip", Params: canon, CreatedBy: "alice", CreatedAt: time.Now().UTC()}
	tk.Signature, _ = s.SignTask(tk)
	ctx := context.Background()
	var id int64
	b.ReportAllocs()
	for b.Loop() {
		id++
		payload, sig, err := s.SignRun(ctx, tk, store.TaskRun{ID: id, TaskID: 1, HostID: hostID})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ex.RunTask(ctx, payload, sig); err == nil || errors.Is(err, task.ErrReplay) {
			b.Fatalf("RunTask: %v", err)
		}
	}
}
