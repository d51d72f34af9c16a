package process

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/vigilsec/vigil/internal/event"
	"github.com/vigilsec/vigil/internal/procutil"
)

// Record kinds, flags and syscall numbers as process.bpf.c defines them.
const (
	kindExec = iota + 1
	kindFork
	kindExit
	kindSetID
	kindCapset
	kindPtrace
	kindModule
	kindMemfd
)

const (
	flagTruncArgs = 1 << iota
	flagTruncExe
	flagTruncCWD
	flagBlocked
	flagNoChild
	flagTruncPath
)

var syscallNames = [...]string{
	1: "setuid", 2: "setgid", 3: "setreuid", 4: "setregid", 5: "setresuid", 6: "setresgid",
	7: "setfsuid", 8: "setfsgid", 9: "capset", 10: "init_module", 11: "finit_module",
}

// maxArgs bounds the argv entries reported.
const maxArgs = 64

// nsPerTick converts start_boottime (ns) to USER_HZ clock ticks.
const nsPerTick = 10_000_000

const headerSize = int(unsafe.Sizeof(processPevent{}))

// Magic numbers of the filesystems memfd_create uses.
const (
	tmpfsMagic     = 0x01021994
	hugetlbfsMagic = 0x958458f6
)

// errShort is returned for a record smaller than its header says.
var errShort = errors.New("short record")

// decoder turns ring buffer records into events. It is used by the one
// reader goroutine only.
type decoder struct {
	bootID   string
	bootWall time.Time // wall-clock time of boot, for bpf_ktime_get_boot_ns
	proc     string    // procfs root for best-effort lookups
	// exes remembers the executable path of the processes the sensor saw
	// exec (or looked up), so fork, exit and syscall events carry one.
	exes map[uint32]string
	hdr  processPevent
}

// maxExeCache bounds exes; at the bound the cache starts over.
const maxExeCache = 1 << 16

func newDecoder(bootID string, bootWall time.Time, proc string) *decoder {
	// event.ExecID drops the dashes; dropping them once here saves it an
	// allocation per call.
	bootID = strings.ReplaceAll(bootID, "-", "")
	return &decoder{bootID: bootID, bootWall: bootWall, proc: proc, exes: make(map[uint32]string)}
}

// decode converts one record. It does not retain raw.
func (d *decoder) decode(raw []byte) (*event.Event, error) {
	if len(raw) < headerSize {
		return nil, fmt.Errorf("record of %d bytes: %w (header is %d)", len(raw), errShort, headerSize)
	}
	h := &d.hdr
	*h = processPevent{}
	copy(unsafe.Slice((*byte)(unsafe.Pointer(h)), headerSize), raw)
	data := raw[headerSize:]
	exeLen, cwdLen, argsLen := int(h.ExeLen), int(h.CwdLen), int(h.ArgsLen)
	if exeLen+cwdLen+argsLen > len(data) {
		return nil, fmt.Errorf("record kind %d: data of %d+%d+%d bytes in %d: %w", h.Kind, exeLen, cwdLen, argsLen, len(data), errShort)
	}

	ev := &event.Event{
		Time:   d.bootWall.Add(time.Duration(h.Ktime)),
		Source: "ebpf",
	}
	p := &ev.Process
	d.fillProcess(p, h)

	switch h.Kind {
	case kindExec:
		ev.Kind = event.Exec
		p.Exe = joinPath(data[:exeLen])
		p.CWD = joinPath(data[exeLen : exeLen+cwdLen])
		d.fillArgs(p, data[exeLen+cwdLen:exeLen+cwdLen+argsLen], h.Flags&flagTruncArgs != 0)
		p.TTY = ttyName(h)
		p.Stdin = fdType(h.FdMode[0], h.FdRdev[0])
		p.Stdout = fdType(h.FdMode[1], h.FdRdev[1])
		p.Stderr = fdType(h.FdMode[2], h.FdRdev[2])
		if h.ExeCtimeSec != 0 || h.ExeCtimeNsec != 0 {
			// Bit 31 of i_ctime_nsec is the kernel's I_CTIME_QUERIED flag.
			p.ExeCtime = h.ExeCtimeSec*1e9 + int64(h.ExeCtimeNsec&^(1<<31))
		}
		p.ExeDeleted = h.ExeNlink == 0
		p.ExeMemfd = (h.ExeMagic == tmpfsMagic || h.ExeMagic == hugetlbfsMagic) &&
			bytes.HasPrefix(firstComponent(data[:exeLen]), []byte("memfd:"))
		ev.Blocked = h.Flags&flagBlocked != 0
		d.remember(h.Pid, p.Exe)
	case kindFork:
		ev.Kind = event.Fork
		if h.Flags&flagNoChild != 0 {
			// The classic tracepoint gives the child's PID only: the
			// record describes the parent.
			parent := *p
			parent.Ancestors = nil
			ev.Parent = &parent
			*p = event.Process{PID: int(h.TargetPid), PPID: int(h.Pid), ParentExecID: parent.ExecID,
				UID: p.UID, EUID: p.EUID, GID: p.GID, EGID: p.EGID, AUID: p.AUID, Name: p.Name,
				Exe: parent.Exe, CgroupID: p.CgroupID, CapEff: p.CapEff, ExeDev: p.ExeDev, ExeInode: p.ExeInode,
				PIDNS: p.PIDNS, MntNS: p.MntNS, NetNS: p.NetNS, HostPID: p.HostPID, HostNet: p.HostNet, HostMnt: p.HostMnt}
			if st, err := readStartTime(d.proc, p.PID); err == nil {
				p.StartTime = st
				p.ExecID = event.ExecID(d.bootID, st, p.PID)
			}
		}
		if p.Exe == "" {
			p.Exe = d.exe(uint32(p.PPID))
		}
		d.remember(uint32(p.PID), p.Exe)
	case kindExit:
		ev.Kind = event.Exit
		p.ExitCode = exitStatus(h.Arg)
		p.Exe = d.exe(h.Pid)
		delete(d.exes, h.Pid)
	case kindSetID, kindCapset:
		ev.Kind = event.SetID
		if h.Kind == kindCapset {
			ev.Kind = event.Capset
		}
		ev.Cred = &event.CredInfo{
			Syscall: syscallName(h.Syscall),
			OldUID:  h.OldUid, NewUID: h.Uid,
			OldEUID: h.OldEuid, NewEUID: h.Euid,
			OldGID: h.OldGid, NewGID: h.Gid,
			OldEGID: h.OldEgid, NewEGID: h.Egid,
			OldFSUID: h.OldFsuid, NewFSUID: h.Fsuid,
			OldFSGID: h.OldFsgid, NewFSGID: h.Fsgid,
			OldCapEff: h.OldCapEff, NewCapEff: h.CapEff,
		}
	case kindPtrace:
		ev.Kind = event.Ptrace
		ev.Ptrace = &event.PtraceOp{Request: ptraceRequest(h.Arg)}
		ev.Target = d.target(h)
	case kindModule:
		ev.Kind = event.Module
		m := &event.ModInfo{Syscall: syscallName(h.Syscall)}
		if exeLen > 0 {
			m.Path = joinPath(data[:exeLen])
			m.Name = moduleName(m.Path)
		}
		ev.Module = m
	case kindMemfd:
		ev.Kind = event.Memfd
		ev.Memfd = &event.MemfdInfo{Name: cString(h.Name[:]), Flags: uint32(h.Arg)}
	default:
		return nil, fmt.Errorf("record kind %d: unknown", h.Kind)
	}
	if p.Exe == "" && h.Kind != kindExec {
		p.Exe = d.exe(uint32(p.PID))
	}
	if ev.Parent == nil && p.PPID != 0 {
		ev.Parent = &event.Process{PID: p.PPID, ExecID: p.ParentExecID, Exe: d.exe(uint32(p.PPID))}
	}
	return ev, nil
}

func (d *decoder) fillProcess(p *event.Process, h *processPevent) {
	p.PID = int(h.Pid)
	p.TID = int(h.Tid)
	p.PPID = int(h.Ppid)
	p.StartTime = h.StartTime / nsPerTick
	p.ExecID = event.ExecID(d.bootID, p.StartTime, p.PID)
	if h.Ppid != 0 {
		p.ParentExecID = event.ExecID(d.bootID, h.ParentStart/nsPerTick, int(h.Ppid))
	}
	p.Name = cString(h.Comm[:])
	p.UID, p.EUID, p.GID, p.EGID, p.AUID = h.Uid, h.Euid, h.Gid, h.Egid, h.Auid
	p.CgroupID = h.CgroupId
	if cg := cString(h.Cgroup[:]); cg != "" && p.ContainerID == "" {
		p.ContainerID = procutil.ContainerID([]byte("0::/" + cg + "\n"))
	}
	p.CapEff = h.CapEff
	p.ExeDev, p.ExeInode = h.ExeDev, h.ExeIno
	p.PIDNS, p.MntNS, p.NetNS = h.Pidns, h.Mntns, h.Netns
	p.HostPID = h.HostPidns != 0 && h.Pidns == h.HostPidns
	p.HostMnt = h.HostMntns != 0 && h.Mntns == h.HostMntns
	p.HostNet = h.HostNetns != 0 && h.Netns == h.HostNetns
}

// fillArgs splits argv (NUL-separated) into at most maxArgs entries.
func (d *decoder) fillArgs(p *event.Process, b []byte, truncated bool) {
	b = bytes.TrimRight(b, "\x00")
	if len(b) == 0 {
		return
	}
	n := bytes.Count(b, []byte{0}) + 1
	if n > maxArgs {
		n, truncated = maxArgs, true
	}
	all := string(b) // one allocation; the args are substrings of it
	args := make([]string, 0, n)
	cmd := make([]byte, 0, len(b))
	for len(args) < n {
		i := strings.IndexByte(all, 0)
		arg := all
		if i >= 0 && len(args) < n-1 {
			arg, all = all[:i], all[i+1:]
		} else if i >= 0 {
			arg = all[:i]
		}
		if len(args) > 0 {
			cmd = append(cmd, ' ')
		}
		cmd = append(cmd, arg...)
		args = append(args, arg)
	}
	p.Args = args
	p.Cmdline = string(cmd)
	p.ArgsTruncated = truncated
}

// remember records pid's executable.
func (d *decoder) remember(pid uint32, exe string) {
	if exe == "" {
		return
	}
	if len(d.exes) >= maxExeCache {
		clear(d.exes)
	}
	d.exes[pid] = exe
}

// exe returns pid's executable from the cache, else from /proc (cached).
func (d *decoder) exe(pid uint32) string {
	if pid == 0 {
		return ""
	}
	if exe, ok := d.exes[pid]; ok {
		return exe
	}
	exe, err := os.Readlink(d.proc + "/" + strconv.FormatUint(uint64(pid), 10) + "/exe")
	if err != nil {
		return ""
	}
	d.remember(pid, exe)
	return exe
}

// target describes the traced process of a ptrace event. Its PID is in the
// tracer's PID namespace, so it is looked up in /proc only when the tracer
// is in the host's.
func (d *decoder) target(h *processPevent) *event.Process {
	t := &event.Process{PID: int(h.TargetPid)}
	if h.HostPidns == 0 || h.Pidns != h.HostPidns || t.PID <= 0 {
		return t
	}
	dir := d.proc + "/" + strconv.Itoa(t.PID)
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return t
	}
	t.UID = st.Uid // the owner of /proc/PID is the task's effective UID
	t.Exe = d.exe(uint32(t.PID))
	if start, err := readStartTime(d.proc, t.PID); err == nil {
		t.StartTime = start
		t.ExecID = event.ExecID(d.bootID, start, t.PID)
	}
	return t
}

// joinPath turns the components the kernel wrote (leaf first, each
// NUL-terminated) into an absolute path.
func joinPath(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	b = bytes.TrimRight(b, "\x00")
	out := make([]byte, 0, len(b)+1)
	for len(b) > 0 {
		i := bytes.LastIndexByte(b, 0)
		out = append(out, '/')
		out = append(out, b[i+1:]...)
		if i < 0 {
			break
		}
		b = b[:i]
	}
	if len(out) == 0 {
		return "/"
	}
	return string(out)
}

// firstComponent is the leaf name of a component list.
func firstComponent(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}

func cString(b []int8) string {
	u := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(b))), len(b))
	if i := bytes.IndexByte(u, 0); i >= 0 {
		u = u[:i]
	}
	return string(u)
}

func syscallName(n uint32) string {
	if int(n) < len(syscallNames) {
		return syscallNames[n]
	}
	return ""
}

// ttyName renders the controlling terminal as ps does: "pts/N" for
// Unix98 pseudo-terminals, else the kernel's name ("tty1", "ttyS0").
func ttyName(h *processPevent) string {
	if h.TtyMajor >= 136 && h.TtyMajor <= 143 {
		return "pts/" + strconv.FormatUint(uint64(h.TtyIndex), 10)
	}
	return cString(h.TtyName[:])
}

// File type bits of i_mode.
const (
	sIFMT   = 0o170000
	sIFSOCK = 0o140000
	sIFREG  = 0o100000
	sIFCHR  = 0o020000
	sIFIFO  = 0o010000
)

// afUnix is AF_UNIX.
const afUnix = 1

// fdType classifies an open file by its inode mode and (kernel-encoded)
// device number, or, for a socket, its address family: "unix" for a
// Unix-domain socket, "socket" for any other (network) socket.
func fdType(mode, rdev uint32) string {
	switch mode & sIFMT {
	case 0:
		return ""
	case sIFSOCK:
		// For sockets the program puts the address family in rdev.
		if rdev == afUnix {
			return "unix"
		}
		return "socket"
	case sIFIFO:
		return "pipe"
	case sIFREG:
		return "file"
	case sIFCHR:
		major, minor := rdev>>20, rdev&0xfffff
		switch {
		case major == 1 && minor == 3:
			return "null"
		case major == 4 || major == 5 || (major >= 136 && major <= 143):
			return "tty"
		}
	}
	return "other"
}

// exitStatus turns the kernel's exit code into a shell-style status: the
// exit() value, or 128+N for a process killed by signal N.
func exitStatus(code int64) int {
	if sig := code & 0x7f; sig != 0 {
		return 128 + int(sig)
	}
	return int(code>>8) & 0xff
}

var ptraceRequests = map[int64]string{
	4: "PTRACE_POKETEXT", 5: "PTRACE_POKEDATA", 6: "PTRACE_POKEUSER", 13: "PTRACE_SETREGS",
	16: "PTRACE_ATTACH", 0x4205: "PTRACE_SETREGSET", 0x4206: "PTRACE_SEIZE",
}

func ptraceRequest(req int64) string {
	if s, ok := ptraceRequests[req]; ok {
		return s
	}
	return "PTRACE_" + strconv.FormatInt(req, 10)
}

// moduleName derives a module's name from its file as modprobe names it:
// the base name without ".ko" and any compression suffix, '-' read as '_'.
func moduleName(path string) string {
	base := path[strings.LastIndexByte(path, '/')+1:]
	name, _, ok := strings.Cut(base, ".ko")
	if !ok || name == "" {
		return ""
	}
	return strings.ReplaceAll(name, "-", "_")
}
