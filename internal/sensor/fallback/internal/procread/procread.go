// Package procread reads what the fallback sensors need to know about a
// process from /proc/PID: the fields the eBPF sensors get from the kernel's
// task struct (exe, argv, cwd, credentials, start time, tty, fds 0–2,
// namespaces, container, capabilities).
//
// The fallback sensors learn only a PID from the kernel (proc connector,
// fanotify metadata, a socket's owner), so everything else comes from here,
// after the fact: a process that has already exited yields only what was
// read before it went, and the caller decides what to do with that.
//
// The parsers take bytes and never fail on odd input beyond returning an
// error; they are fuzzed. prometheus/procfs parses the same files, but it
// allocates a struct per file read with every field converted; this is the
// per-event hot path of the process sensor, so it reads only the fields
// used, into one event.Process, with reused buffers.
package procread

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/vigilsec/vigil/internal/event"
	"github.com/vigilsec/vigil/internal/procutil"
)

// Stat is the part of /proc/PID/stat the sensors use.
type Stat struct {
	Comm      string
	PPID      int
	TTYNr     uint64 // field 7, the controlling terminal's device number
	StartTime uint64 // field 22, clock ticks since boot
}

// ParseStat parses the contents of /proc/PID/stat. The command name (field
// 2) is in parentheses and may itself contain spaces and parentheses, so
// the fields after it are found from the last ')'.
func ParseStat(b []byte) (Stat, error) {
	var st Stat
	open := bytes.IndexByte(b, '(')
	closing := bytes.LastIndexByte(b, ')')
	if open < 0 || closing < open {
		return st, errors.New("stat: no command name in parentheses")
	}
	st.Comm = string(b[open+1 : closing])
	// Fields from 3 on; rest[0] is field 3 (state).
	rest := b[closing+1:]
	field := 2
	for len(rest) > 0 && field < 22 {
		rest = bytes.TrimLeft(rest, " ")
		var f []byte
		f, rest, _ = bytes.Cut(rest, []byte{' '})
		if len(f) == 0 {
			break
		}
		field++
		var err error
		switch field {
		case 4:
			var v int64
			v, err = strconv.ParseInt(string(f), 10, 32)
			st.PPID = int(v)
		case 7:
			var v int64
			// tty_nr is printed as a signed int.
			v, err = strconv.ParseInt(string(f), 10, 64)
			st.TTYNr = uint64(uint32(v))
		case 22:
			st.StartTime, err = strconv.ParseUint(string(bytes.TrimSpace(f)), 10, 64)
		}
		if err != nil {
			return st, fmt.Errorf("stat: field %d %q: %w", field, f, err)
		}
	}
	if field < 22 {
		return st, fmt.Errorf("stat: %d fields, want at least 22", field)
	}
	return st, nil
}

// Status is the part of /proc/PID/status the sensors use.
type Status struct {
	UID, EUID, GID, EGID uint32
	CapEff               uint64
}

// ParseStatus parses the Uid, Gid and CapEff lines of /proc/PID/status.
// All three must be present.
func ParseStatus(b []byte) (Status, error) {
	var st Status
	var seen int
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte{'\n'})
		key, val, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			continue
		}
		switch string(key) {
		case "Uid", "Gid":
			f := bytes.Fields(val)
			if len(f) < 2 {
				return st, fmt.Errorf("status: %s line %q: want real and effective ids", key, line)
			}
			r, err1 := strconv.ParseUint(string(f[0]), 10, 32)
			e, err2 := strconv.ParseUint(string(f[1]), 10, 32)
			if err := errors.Join(err1, err2); err != nil {
				return st, fmt.Errorf("status: %s line %q: %w", key, line, err)
			}
			if key[0] == 'U' {
				st.UID, st.EUID = uint32(r), uint32(e)
				seen |= 1
			} else {
				st.GID, st.EGID = uint32(r), uint32(e)
				seen |= 2
			}
		case "CapEff":
			v, err := strconv.ParseUint(string(bytes.TrimSpace(val)), 16, 64)
			if err != nil {
				return st, fmt.Errorf("status: CapEff line %q: %w", line, err)
			}
			st.CapEff = v
			seen |= 4
		}
	}
	if seen != 7 {
		return st, errors.New("status: missing Uid, Gid or CapEff line")
	}
	return st, nil
}

// SplitCmdline splits the NUL-separated contents of /proc/PID/cmdline into
// arguments. A trailing NUL ends the last argument; an empty file (kernel
// threads, zombies) gives nil.
func SplitCmdline(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	b = bytes.TrimSuffix(b, []byte{0})
	n := bytes.Count(b, []byte{0}) + 1
	args := make([]string, 0, n)
	for len(b) > 0 || len(args) < n {
		var a []byte
		a, b, _ = bytes.Cut(b, []byte{0})
		args = append(args, string(a))
	}
	return args
}

// ExeLink interprets the target of /proc/PID/exe: the kernel appends
// " (deleted)" to the path of an unlinked file, and a memfd shows as
// "/memfd:NAME (deleted)".
func ExeLink(link string) (path string, deleted, memfd bool) {
	path, deleted = strings.CutSuffix(link, " (deleted)")
	memfd = strings.HasPrefix(path, "/memfd:")
	return path, deleted, memfd
}

// TTYName names the terminal with device number nr (stat field 7, encoded
// like new_encode_dev): "pts/N", "ttyN", "ttySN", "console" or "" for none
// or an unknown device.
func TTYName(nr uint64) string {
	if nr == 0 {
		return ""
	}
	major := (nr >> 8) & 0xfff
	minor := (nr & 0xff) | ((nr >> 12) & 0xfff00)
	switch {
	case major >= 136 && major <= 143:
		return "pts/" + strconv.FormatUint((major-136)*256+minor, 10)
	case major == 4 && minor < 64:
		return "tty" + strconv.FormatUint(minor, 10)
	case major == 4:
		return "ttyS" + strconv.FormatUint(minor-64, 10)
	case major == 5 && minor == 1:
		return "console"
	case major == 5 && minor == 0:
		return "tty"
	}
	return ""
}

// NSInode parses a /proc/PID/ns/* link target such as "pid:[4026531836]".
func NSInode(link string) (uint32, bool) {
	_, rest, ok := strings.Cut(link, ":[")
	if !ok {
		return 0, false
	}
	num, ok := strings.CutSuffix(rest, "]")
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseUint(num, 10, 32)
	return uint32(v), err == nil
}

// BootID reads the kernel's boot ID, the first part of every exec ID.
func BootID(procPath string) (string, error) {
	b, err := os.ReadFile(procPath + "/sys/kernel/random/boot_id")
	if err != nil {
		return "", fmt.Errorf("read boot id: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// Reader reads processes from one procfs. The host namespaces it compares
// against are the reader's own (the agent runs in the host's namespaces;
// /proc/1/ns may be unreadable or belong to a container's init).
type Reader struct {
	proc   string
	bootID string
	hostNS [3]uint32 // pid, mnt, net
	buf    []byte
	link   []byte
}

// NewReader returns a Reader of procPath (normally "/proc").
func NewReader(procPath string) (*Reader, error) {
	id, err := BootID(procPath)
	if err != nil {
		return nil, err
	}
	r := &Reader{proc: procPath, bootID: id, buf: make([]byte, 0, 4096), link: make([]byte, unix.PathMax)}
	for i, ns := range []string{"pid", "mnt", "net"} {
		r.hostNS[i], _ = NSInode(r.readlink(procPath + "/self/ns/" + ns))
	}
	return r, nil
}

// BootIDValue returns the boot ID used in exec IDs.
func (r *Reader) BootIDValue() string { return r.bootID }

// ExecID returns the exec ID of pid started at startTime (clock ticks).
func (r *Reader) ExecID(startTime uint64, pid int) string {
	return event.ExecID(r.bootID, startTime, pid)
}

// Level says how much of a process Read fills in.
type Level int

// The levels.
const (
	// Basic reads stat, status and the exe link: PID, PPID, Name, IDs,
	// credentials, Exe. Cheap enough for every file and network event.
	Basic Level = iota
	// Full adds argv, cwd, loginuid, tty, fds 0–2, namespaces, cgroup and
	// the exe's inode: what an exec event carries.
	Full
)

// Read fills p (whose PID is set) from /proc/PID at level. It returns an
// error wrapping a procutil.Gone condition when the process no longer
// exists; fields read before the process went stay filled. A parse error of
// a /proc file is returned too, also after filling what it could.
func (r *Reader) Read(p *event.Process, level Level) error {
	dir := r.proc + "/" + strconv.Itoa(p.PID)
	b, err := r.read(dir + "/stat")
	if err != nil {
		return fmt.Errorf("pid %d: %w", p.PID, err)
	}
	st, err := ParseStat(b)
	if err != nil {
		return fmt.Errorf("pid %d: %w", p.PID, err)
	}
	p.Name, p.PPID, p.StartTime = st.Comm, st.PPID, st.StartTime
	p.ExecID = r.ExecID(st.StartTime, p.PID)
	p.TTY = TTYName(st.TTYNr)

	if b, err = r.read(dir + "/status"); err != nil {
		return fmt.Errorf("pid %d: %w", p.PID, err)
	}
	status, err := ParseStatus(b)
	if err != nil {
		return fmt.Errorf("pid %d: %w", p.PID, err)
	}
	p.UID, p.EUID, p.GID, p.EGID, p.CapEff = status.UID, status.EUID, status.GID, status.EGID, status.CapEff

	// Kernel threads have no exe; that is not an error.
	p.Exe, p.ExeDeleted, p.ExeMemfd = ExeLink(r.readlink(dir + "/exe"))
	if level < Full {
		return nil
	}

	if b, err = r.read(dir + "/cmdline"); err == nil {
		p.Args = SplitCmdline(b)
		p.Cmdline = strings.Join(p.Args, " ")
	}
	p.CWD = r.readlink(dir + "/cwd")
	if b, err = r.read(dir + "/loginuid"); err == nil {
		if v, err := strconv.ParseUint(string(bytes.TrimSpace(b)), 10, 32); err == nil {
			p.AUID = uint32(v)
		}
	}
	var unixTable []byte
	readUnix := func() []byte {
		if unixTable == nil {
			unixTable, _ = r.read(dir + "/net/unix")
			if unixTable == nil {
				unixTable = []byte{}
			}
		}
		return unixTable
	}
	for i, f := range []*string{&p.Stdin, &p.Stdout, &p.Stderr} {
		if l := r.readlink(dir + "/fd/" + strconv.Itoa(i)); l != "" {
			*f = procutil.FDType(l, readUnix)
		}
	}
	if b, err = r.read(dir + "/cgroup"); err == nil {
		p.ContainerID = procutil.ContainerID(b)
	}
	for i, ns := range [3]*uint32{&p.PIDNS, &p.MntNS, &p.NetNS} {
		*ns, _ = NSInode(r.readlink(dir + "/ns/" + [3]string{"pid", "mnt", "net"}[i]))
	}
	p.HostPID = p.PIDNS != 0 && p.PIDNS == r.hostNS[0]
	p.HostMnt = p.MntNS != 0 && p.MntNS == r.hostNS[1]
	p.HostNet = p.NetNS != 0 && p.NetNS == r.hostNS[2]
	var sb unix.Stat_t
	if unix.Stat(dir+"/exe", &sb) == nil {
		p.ExeDev, p.ExeInode = sb.Dev, sb.Ino
		p.ExeCtime = sb.Ctim.Nano()
	}
	// The process may have exited during the reads above; stat again so a
	// caller can tell a complete read from a partial one.
	if _, err := os.Stat(dir + "/stat"); err != nil {
		return fmt.Errorf("pid %d: %w", p.PID, err)
	}
	return nil
}

// StartTime reads the start time (clock ticks) of pid, for parent exec IDs.
func (r *Reader) StartTime(pid int) (uint64, error) {
	b, err := r.read(r.proc + "/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	st, err := ParseStat(b)
	return st.StartTime, err
}

// read reads a small /proc file into the reader's buffer, valid until the
// next call.
func (r *Reader) read(path string) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	r.buf = r.buf[:0]
	for {
		if len(r.buf) == cap(r.buf) {
			r.buf = append(r.buf, 0)[:len(r.buf)]
		}
		n, err := unix.Read(fd, r.buf[len(r.buf):cap(r.buf)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			return r.buf, nil
		}
		r.buf = r.buf[:len(r.buf)+n]
	}
}

// readlink returns the target of a /proc link, or "" when it cannot be read.
func (r *Reader) readlink(path string) string {
	n, err := unix.Readlink(path, r.link)
	if err != nil {
		return ""
	}
	return string(r.link[:n])
}
