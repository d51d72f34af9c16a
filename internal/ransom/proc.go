package ransom

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/event"
	"github.com/vigilsec/vigil/internal/procutil"
)

// Open intents read from /proc/TID/syscall while the opener waits for a
// permission decision.
const (
	intentUnknown = iota // not in an open syscall we can read (io_uring, compat)
	intentRead
	intentWrite
)

// ParseSyscall parses /proc/TID/syscall of a blocked task: the syscall
// number and its six arguments. ok is false for "running", -1 (not in a
// syscall) or malformed text.
func ParseSyscall(b []byte) (nr int, args [6]uint64, ok bool) {
	f := strings.Fields(string(bytes.TrimSpace(b)))
	if len(f) < 7 {
		return 0, args, false
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n < 0 {
		return 0, args, false
	}
	for i := range 6 {
		v, err := strconv.ParseUint(strings.TrimPrefix(f[1+i], "0x"), 16, 64)
		if err != nil {
			return 0, args, false
		}
		args[i] = v
	}
	return n, args, true
}

// openIntent tells whether task tid, blocked in an open, opens for
// writing: O_WRONLY, O_RDWR, O_TRUNC, O_APPEND or O_CREAT, or creat(2).
// execve and other opens are reads.
//
// The permission event is queued just before the opener goes to sleep, and
// the kernel reports "running" until it sleeps, so the read is retried for
// up to about 50 ms.
func openIntent(tid int) int {
	var (
		nr   int
		args [6]uint64
		ok   bool
	)
	for i := 0; i < 250 && !ok; i++ {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(tid) + "/syscall")
		if err != nil {
			return intentUnknown
		}
		if nr, args, ok = ParseSyscall(b); !ok {
			if !bytes.HasPrefix(b, []byte("running")) {
				return intentUnknown
			}
			time.Sleep(200 * time.Microsecond)
		}
	}
	if !ok {
		return intentUnknown
	}
	var flags uint64
	switch nr {
	case unix.SYS_OPENAT:
		flags = args[2]
	case sysOpen:
		flags = args[1]
	case sysCreat:
		return intentWrite
	case unix.SYS_OPENAT2:
		// struct open_how { u64 flags; u64 mode; u64 resolve; } in the
		// caller's memory.
		how, err := readMem(tid, args[2], 8)
		if err != nil {
			return intentUnknown
		}
		flags = binary.NativeEndian.Uint64(how)
	case unix.SYS_EXECVE, unix.SYS_EXECVEAT:
		return intentRead
	default:
		return intentUnknown
	}
	if flags&unix.O_ACCMODE != unix.O_RDONLY || flags&(unix.O_TRUNC|unix.O_APPEND|unix.O_CREAT) != 0 {
		return intentWrite
	}
	return intentRead
}

func readMem(tid int, addr uint64, n int) ([]byte, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(tid) + "/mem")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, int64(addr)); err != nil {
		return nil, err
	}
	return b, nil
}

// procStat reads /proc/PID/stat.
func procStat(pid int) (procutil.Stat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procutil.Stat{}, err
	}
	return procutil.ParseStat(b)
}

// tgidOf returns the thread group (process) of a task.
func tgidOf(tid int) (int, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(tid) + "/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Tgid:"); ok {
			return strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return 0, fmt.Errorf("task %d: no Tgid", tid)
}

// procInfo describes a process for an alert, with up to 8 ancestors. It
// must be read before the process is killed.
func procInfo(pid int, boot string) *alert.Process {
	p := &alert.Process{PID: pid, Ancestors: []event.Ancestor{}}
	fill := func(pid int) (exe, cmd string, uid uint32, start uint64, ppid int) {
		dir := "/proc/" + strconv.Itoa(pid)
		exe, _ = os.Readlink(dir + "/exe")
		if b, err := os.ReadFile(dir + "/cmdline"); err == nil {
			cmd = strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
		}
		var st unix.Stat_t
		if unix.Stat(dir, &st) == nil {
			uid = st.Uid
		}
		if s, err := procStat(pid); err == nil {
			start, ppid = s.StartTime, s.PPID
		}
		return
	}
	execID := func(pid int, start uint64) string {
		if boot == "" || start == 0 {
			return ""
		}
		return fmt.Sprintf("%s:%d:%d", boot, start, pid)
	}
	var start uint64
	var ppid int
	p.Exe, p.Cmdline, p.UID, start, ppid = fill(pid)
	p.ExecID = execID(pid, start)
	for i := 0; i < 8 && ppid > 0; i++ {
		exe, cmd, uid, st, pp := fill(ppid)
		p.Ancestors = append(p.Ancestors, event.Ancestor{PID: ppid, ExecID: execID(ppid, st), Exe: exe, Cmdline: cmd, UID: uid})
		ppid = pp
	}
	return p
}
