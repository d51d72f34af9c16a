package kill

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/vigilsec/vigil/internal/event"
	"github.com/vigilsec/vigil/internal/testutil"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Stat
		wantErr bool
	}{
		{
			name: "sleep",
			in:   "4242 (sleep) S 4200 4242 4200 34816 4242 4194304 105 0 0 0 0 0 0 0 20 0 1 0 1234567 2293760 128 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n",
			want: Stat{PID: 4242, Comm: "sleep", State: 'S', PPID: 4200, StartTime: 1234567},
		},
		{
			name: "comm_with_parens_and_spaces",
			in:   "7 (a) b) (c ) R 1 7 7 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 99 0 0 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0",
			want: Stat{PID: 7, Comm: "a) b) (c ", State: 'R', PPID: 1, StartTime: 99},
		},
		{name: "empty", in: "", wantErr: true},
		{name: "no_comm", in: "12 sleep S 1", wantErr: true},
		{name: "truncated", in: "12 (sleep) S 1 2 3", wantErr: true},
		{name: "bad_start", in: "12 (x) S 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 x 0", wantErr: true},
		{name: "bad_pid", in: "x (x) S 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 5 0", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseStat([]byte(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseStat (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParseStat(f *testing.F) {
	for _, name := range []string{"self", "1"} {
		if b, err := os.ReadFile("/proc/" + name + "/stat"); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("7 (a) b) (c ) R 1 7 7 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 99 0"))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := ParseStat(b)
		if err == nil && st.PID == 0 && st.Comm == "" && st.State == 0 {
			t.Errorf("no error but empty result for %q", b)
		}
	})
}

func TestParseExecID(t *testing.T) {
	id := event.ExecID("0b9e-12", 777, 42)
	boot, tg, err := ParseExecID(id)
	if err != nil {
		t.Fatal(err)
	}
	if boot != "0b9e12" || tg != (Target{PID: 42, StartTime: 777}) {
		t.Errorf("ParseExecID(%q) = %q, %v", id, boot, tg)
	}
	for _, bad := range []string{"", "a:b", "a:1:x", "a:x:1", "a:1:0", "a:1:2:3", "a:-1:2"} {
		if _, _, err := ParseExecID(bad); err == nil {
			t.Errorf("ParseExecID(%q): no error", bad)
		}
	}
}

func FuzzParseExecID(f *testing.F) {
	f.Add("0b9e12:777:42")
	f.Add("::")
	f.Fuzz(func(t *testing.T, s string) {
		boot, tg, err := ParseExecID(s)
		if err != nil {
			return
		}
		if tg.PID <= 0 {
			t.Errorf("ParseExecID(%q) accepted pid %d", s, tg.PID)
		}
		boot2, tg2, err := ParseExecID(event.ExecID(boot, tg.StartTime, tg.PID))
		if err != nil || tg2 != tg || boot2 != strings.ReplaceAll(boot, "-", "") {
			t.Errorf("round trip of %q: %q %v %v, want %q %v", s, boot2, tg2, err, boot, tg)
		}
	})
}

// start runs a command and returns its Target.
func start(t *testing.T, name string, args ...string) (*exec.Cmd, Target) {
	t.Helper()
	cmd := exec.Command(name, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	st, err := readStat(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	return cmd, Target{PID: cmd.Process.Pid, StartTime: st.StartTime}
}

// waitExited polls the pidfd until the process has exited.
func waitExited(t *testing.T, h *Handle) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if h.Exited() {
			return
		}
	}
	t.Errorf("%v did not exit", h.Target)
}

func TestKill(t *testing.T) {
	cmd, tg := start(t, "sleep", "300")
	watch, err := Open(tg)
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close()
	if err := Kill(tg); err != nil {
		t.Fatal(err)
	}
	waitExited(t, watch)
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != unix.SIGKILL {
		t.Errorf("sleep ended with %v, want SIGKILL", err)
	}
	// Killed and reaped: the target is gone.
	if err := Kill(tg); !errors.Is(err, ErrGone) {
		t.Errorf("second Kill: err = %v, want ErrGone", err)
	}
}

func TestKillWrongStartTime(t *testing.T) {
	_, tg := start(t, "sleep", "300")
	wrong := Target{PID: tg.PID, StartTime: tg.StartTime + 1}
	if err := Kill(wrong); !errors.Is(err, ErrIdentity) {
		t.Fatalf("Kill(%v): err = %v, want ErrIdentity", wrong, err)
	}
	if _, err := KillTree(wrong); !errors.Is(err, ErrIdentity) {
		t.Fatalf("KillTree(%v): err = %v, want ErrIdentity", wrong, err)
	}
	if err := Kill(Target{PID: tg.PID}); !errors.Is(err, ErrIdentity) {
		t.Fatalf("Kill without start time: err = %v, want ErrIdentity", err)
	}
	h, err := Open(tg)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if h.Exited() {
		t.Error("sleep exited after refused kills")
	}
}

func TestKillProtected(t *testing.T) {
	for _, pid := range []int{1, os.Getpid(), os.Getppid()} {
		st, err := readStat(pid)
		if err != nil {
			t.Fatal(err)
		}
		tg := Target{PID: pid, StartTime: st.StartTime}
		if err := Kill(tg); !errors.Is(err, ErrProtected) {
			t.Errorf("Kill(%v): err = %v, want ErrProtected", tg, err)
		}
		if _, err := KillTree(tg); !errors.Is(err, ErrProtected) {
			t.Errorf("KillTree(%v): err = %v, want ErrProtected", tg, err)
		}
	}
}

// descendants lists the verified descendants of pid.
func descendants(t *testing.T, pid int) []Target {
	t.Helper()
	stats, err := scan()
	if err != nil {
		t.Fatal(err)
	}
	in := map[int]bool{pid: true}
	var out []Target
	for grew := true; grew; {
		grew = false
		for _, st := range stats {
			if in[st.PPID] && !in[st.PID] {
				in[st.PID] = true
				out = append(out, Target{PID: st.PID, StartTime: st.StartTime})
				grew = true
			}
		}
	}
	return out
}

func TestKillTree(t *testing.T) {
	testutil.RequireCommand(t, "sh")
	// root sh → (sleep, sh → (sleep, sleep)): three levels.
	cmd, tg := start(t, "sh", "-c", `sleep 300 & sh -c 'sleep 300 & sleep 300 & wait' & wait`)
	var desc []Target
	for deadline := time.Now().Add(10 * time.Second); len(desc) < 4 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		desc = descendants(t, tg.PID)
	}
	if len(desc) != 4 {
		t.Fatalf("found %d descendants of the tree, want 4: %v", len(desc), desc)
	}
	var watch []*Handle
	for _, d := range append(desc, tg) {
		h, err := Open(d)
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		watch = append(watch, h)
	}
	n, err := KillTree(tg)
	if err != nil {
		t.Fatal(err)
	}
	if n != 5 {
		t.Errorf("KillTree killed %d, want 5", n)
	}
	for _, h := range watch {
		waitExited(t, h)
	}
	cmd.Wait()
}
