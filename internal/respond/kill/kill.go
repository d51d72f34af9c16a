// Package kill ends processes without racing PID reuse.
//
// A PID names a process only while it lives; once it exits the number is
// handed to the next fork. So every kill here opens a pidfd first
// (pidfd_open), then checks that the process behind that PID is the one
// the caller means — its start time, field 22 of /proc/PID/stat, equals
// the start time in its exec ID — and signals through the pidfd
// (pidfd_send_signal). The pidfd pins the process: if it has exited the
// signal fails with ESRCH instead of hitting a newcomer.
//
// Refused targets: PID 1, the calling process and its ancestors.
package kill

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/vigilsec/vigil/internal/procutil"
)

// Sentinel errors callers branch on.
var (
	// ErrGone: the process has already exited.
	ErrGone = errors.New("process is gone")
	// ErrIdentity: the PID now belongs to another process (start time differs).
	ErrIdentity = errors.New("process identity does not match")
	// ErrProtected: the target is PID 1, this process or one of its ancestors.
	ErrProtected = errors.New("refusing to kill a protected process")
)

// Target names one process: its PID and its start time in clock ticks
// since boot (event.Process.StartTime, the second part of an exec ID).
type Target struct {
	PID       int
	StartTime uint64
}

func (t Target) String() string { return fmt.Sprintf("pid %d (start %d)", t.PID, t.StartTime) }

// ParseExecID splits an exec ID (event.ExecID: "bootid:start:pid") into its
// boot ID and Target.
func ParseExecID(id string) (bootID string, t Target, err error) {
	parts := strings.Split(id, ":")
	if len(parts) != 3 {
		return "", Target{}, fmt.Errorf("exec ID %q: want boot:start:pid", id)
	}
	start, err := strconv.ParseUint(parts[1], 10, 64)
	if err != nil {
		return "", Target{}, fmt.Errorf("exec ID %q: start time: %w", id, err)
	}
	pid, err := strconv.Atoi(parts[2])
	if err != nil || pid <= 0 {
		return "", Target{}, fmt.Errorf("exec ID %q: bad pid %q", id, parts[2])
	}
	return parts[0], Target{PID: pid, StartTime: start}, nil
}

// BootID returns this boot's ID as exec IDs carry it (no dashes).
func BootID() (string, error) {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return "", fmt.Errorf("read boot ID: %w", err)
	}
	return strings.ReplaceAll(strings.TrimSpace(string(b)), "-", ""), nil
}

// Stat is what this package needs of /proc/PID/stat.
type Stat struct {
	PID       int
	Comm      string
	State     byte
	PPID      int
	StartTime uint64 // field 22, clock ticks since boot
}

// ParseStat parses the content of /proc/PID/stat (procutil.ParseStat), and
// also requires the leading PID and a one-letter state.
func ParseStat(b []byte) (Stat, error) {
	open := bytes.IndexByte(b, '(')
	if open < 1 {
		return Stat{}, fmt.Errorf("proc stat: no (comm)")
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:open])))
	if err != nil {
		return Stat{}, fmt.Errorf("proc stat: pid: %w", err)
	}
	s, err := procutil.ParseStat(b)
	if err != nil {
		return Stat{}, fmt.Errorf("proc stat: %w", err)
	}
	if len(s.State) != 1 {
		return Stat{}, fmt.Errorf("proc stat: state %q", s.State)
	}
	return Stat{PID: pid, Comm: s.Comm, State: s.State[0], PPID: s.PPID, StartTime: s.StartTime}, nil
}

// readStat reads /proc/PID/stat.
func readStat(pid int) (Stat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		if procutil.Gone(err) {
			return Stat{}, fmt.Errorf("pid %d: %w", pid, ErrGone)
		}
		return Stat{}, err
	}
	st, err := ParseStat(b)
	if err != nil {
		return Stat{}, fmt.Errorf("pid %d: %w", pid, err)
	}
	return st, nil
}

// Handle is an open, verified pidfd.
type Handle struct {
	Target
	fd int
}

// Open opens a pidfd for t and verifies its identity. A StartTime of 0 is
// refused: without it the identity cannot be checked.
func Open(t Target) (*Handle, error) {
	if t.PID <= 0 {
		return nil, fmt.Errorf("pid %d: invalid", t.PID)
	}
	if t.StartTime == 0 {
		return nil, fmt.Errorf("%v: no start time to verify: %w", t, ErrIdentity)
	}
	fd, err := unix.PidfdOpen(t.PID, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return nil, fmt.Errorf("%v: %w", t, ErrGone)
		}
		return nil, fmt.Errorf("pidfd_open %d: %w", t.PID, err)
	}
	// The pidfd was opened before this read: if the stat shows the expected
	// start time, the process had that PID throughout, so fd refers to it.
	st, err := readStat(t.PID)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	if st.StartTime != t.StartTime {
		unix.Close(fd)
		return nil, fmt.Errorf("%v: now started at %d: %w", t, st.StartTime, ErrIdentity)
	}
	return &Handle{Target: t, fd: fd}, nil
}

// Signal sends sig through the pidfd.
func (h *Handle) Signal(sig unix.Signal) error {
	if err := unix.PidfdSendSignal(h.fd, sig, nil, 0); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("%v: %w", h.Target, ErrGone)
		}
		return fmt.Errorf("signal %v to %v: %w", sig, h.Target, err)
	}
	return nil
}

// Exited reports whether the process has exited (the pidfd polls readable).
func (h *Handle) Exited() bool {
	fds := []unix.PollFd{{Fd: int32(h.fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, 0)
	return err == nil && n == 1
}

// Close releases the pidfd.
func (h *Handle) Close() error { return unix.Close(h.fd) }

// protected returns the PIDs that must never be killed: 1, this process and
// its ancestors.
func protected() map[int]bool {
	p := map[int]bool{1: true}
	for pid := os.Getpid(); pid > 1 && !p[pid]; {
		p[pid] = true
		st, err := readStat(pid)
		if err != nil {
			break
		}
		pid = st.PPID
	}
	return p
}

func checkProtected(pid int, prot map[int]bool) error {
	if prot[pid] {
		return fmt.Errorf("pid %d is init, the agent or its ancestor: %w", pid, ErrProtected)
	}
	return nil
}

// Kill sends SIGKILL to t after verifying its identity. It does not wait
// for the process to exit.
func Kill(t Target) error {
	if err := checkProtected(t.PID, protected()); err != nil {
		return err
	}
	h, err := Open(t)
	if err != nil {
		return err
	}
	defer h.Close()
	return h.Signal(unix.SIGKILL)
}

// maxRounds bounds the scans for descendants forked while the tree is
// being stopped.
const maxRounds = 16

// KillTree kills t and all its descendants: it stops the root (SIGSTOP) so
// it forks no more, stops every descendant found by scanning /proc, scans
// again until no new descendant appears, then kills the descendants
// deepest first and the root last, each through its own verified pidfd.
// It returns the number of processes killed. A descendant that exits on
// its own meanwhile is not an error.
func KillTree(t Target) (int, error) {
	prot := protected()
	if err := checkProtected(t.PID, prot); err != nil {
		return 0, err
	}
	root, err := Open(t)
	if err != nil {
		return 0, err
	}
	defer root.Close()
	if err := root.Signal(unix.SIGSTOP); err != nil {
		return 0, err
	}

	type node struct {
		h     *Handle
		depth int
	}
	known := map[int]*node{t.PID: {h: root}}
	var desc []*node
	defer func() {
		for _, n := range desc {
			n.h.Close()
		}
	}()
	for round := 0; round < maxRounds; round++ {
		stats, err := scan()
		if err != nil {
			return 0, err
		}
		added := 0
		// Walk outward from the known set until no process in the scan has
		// a known parent and is unknown itself.
		for grew := true; grew; {
			grew = false
			for _, st := range stats {
				parent, ok := known[st.PPID]
				if !ok || known[st.PID] != nil {
					continue
				}
				if err := checkProtected(st.PID, prot); err != nil {
					return 0, err
				}
				h, err := Open(Target{PID: st.PID, StartTime: st.StartTime})
				if err != nil {
					if errors.Is(err, ErrGone) || errors.Is(err, ErrIdentity) {
						continue // exited (and maybe reused) since the scan
					}
					return 0, err
				}
				if err := h.Signal(unix.SIGSTOP); err != nil && !errors.Is(err, ErrGone) {
					h.Close()
					return 0, err
				}
				n := &node{h: h, depth: parent.depth + 1}
				known[st.PID] = n
				desc = append(desc, n)
				added++
				grew = true
			}
		}
		if added == 0 {
			break
		}
	}
	slices.SortStableFunc(desc, func(a, b *node) int { return b.depth - a.depth })
	killed := 0
	var errs []error
	for _, n := range desc {
		switch err := n.h.Signal(unix.SIGKILL); {
		case err == nil:
			killed++
		case !errors.Is(err, ErrGone):
			errs = append(errs, err)
		}
	}
	if err := root.Signal(unix.SIGKILL); err != nil {
		errs = append(errs, err)
	} else {
		killed++
	}
	return killed, errors.Join(errs...)
}

// scan reads /proc/*/stat of every process.
func scan() ([]Stat, error) {
	pids, err := procutil.PIDs("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	out := make([]Stat, 0, len(pids))
	for _, pid := range pids {
		st, err := readStat(pid)
		if err != nil {
			continue // exited meanwhile, or unreadable
		}
		out = append(out, st)
	}
	return out, nil
}
