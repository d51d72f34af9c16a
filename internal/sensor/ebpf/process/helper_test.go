package process

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

// helperEnv selects a trigger when the test binary runs as a helper
// process (see TestMain): the trigger causes the behaviour under test in a
// process of its own.
const helperEnv = "VIGIL_PROCESS_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		if err := runHelper(mode, os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// helper returns a command running the test binary as helper mode.
func helper(mode string, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	return cmd
}

func runHelper(mode string, args []string) error {
	switch mode {
	case "execfd":
		// execfd PATH: open PATH, unlink it, exec the open file.
		fd, err := unix.Open(args[0], unix.O_RDONLY, 0)
		if err != nil {
			return err
		}
		if err := os.Remove(args[0]); err != nil {
			return err
		}
		return syscall.Exec("/proc/self/fd/"+strconv.Itoa(fd), []string{"deleted-exe", "arg1"}, nil)
	case "memfd":
		// memfd NAME: copy /bin/true into a memfd and exec it.
		fd, err := unix.MemfdCreate(args[0], 0)
		if err != nil {
			return err
		}
		b, err := os.ReadFile("/bin/true")
		if err != nil {
			return err
		}
		if _, err := unix.Write(fd, b); err != nil {
			return err
		}
		return syscall.Exec("/proc/self/fd/"+strconv.Itoa(fd), []string{"fileless"}, nil)
	case "setid":
		// setuid(0) as root changes nothing; then setgid, then setuid.
		if err := syscall.Setuid(0); err != nil {
			return err
		}
		if err := syscall.Setgid(65534); err != nil {
			return err
		}
		return syscall.Setuid(65534)
	case "capset":
		runtime.LockOSThread()
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			return err
		}
		data[0].Effective &^= 1 << unix.CAP_SYS_ADMIN
		return unix.Capset(&hdr, &data[0])
	case "storm":
		// storm N [fork]: the storm of bench/execstorm, reporting its
		// CPU time as JSON.
		n, _ := strconv.Atoi(args[0])
		fork := len(args) > 1 && args[1] == "fork"
		start := time.Now()
		for i := 0; i < n; i++ {
			if fork {
				if err := forkExit(); err != nil {
					return err
				}
				continue
			}
			if err := exec.Command("/bin/true").Run(); err != nil {
				return err
			}
		}
		return json.NewEncoder(os.Stdout).Encode(stormResult{CPU: cpuTime(), Wall: time.Since(start)})
	}
	return fmt.Errorf("unknown mode %q", mode)
}

type stormResult struct {
	CPU  time.Duration `json:"cpu"`
	Wall time.Duration `json:"wall"`
}

// forkExit forks a child that exits at once, and reaps it.
func forkExit() error {
	pid, _, errno := syscall.RawSyscall(syscall.SYS_FORK, 0, 0, 0)
	if errno != 0 {
		return errno
	}
	if pid == 0 {
		syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 0, 0, 0)
	}
	var ws syscall.WaitStatus
	_, err := syscall.Wait4(int(pid), &ws, 0, nil)
	return err
}

// cpuTime is the user+system time of this process and its reaped children.
func cpuTime() time.Duration {
	var self, kids syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
	tv := func(t syscall.Timeval) time.Duration { return time.Duration(t.Nano()) }
	return tv(self.Utime) + tv(self.Stime) + tv(kids.Utime) + tv(kids.Stime)
}
