package enrich

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/vigilsec/vigil/internal/event"
	"github.com/vigilsec/vigil/internal/procutil"
)

const (
	// maxCmdline bounds the command line read from /proc, as the eBPF
	// sensor bounds argv: it keeps table entries small.
	maxCmdline = 4096
	// maxArgs bounds the number of arguments kept.
	maxArgs = 256
)

// procReader reads processes from a procfs. Each process is read
// relative to one open /proc/PID directory, so a PID reused between two
// reads cannot mix two processes: the old directory answers ESRCH.
type procReader struct {
	proc   string
	bootID string
	buf    []byte
}

func newProcReader(procPath, bootID string) *procReader {
	return &procReader{proc: procPath, bootID: bootID, buf: make([]byte, 4096)}
}

// errMalformed marks a procfs file that does not parse.
var errMalformed = errors.New("malformed")

// read returns what /proc/PID says of one process, with ExecID set and
// PPID set (but not ParentExecID: that needs the parent's start time).
// An error satisfying procutil.Gone means the process no longer exists.
func (r *procReader) read(pid int) (event.Process, error) {
	var p event.Process
	dir := filepath.Join(r.proc, strconv.Itoa(pid))
	dfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return p, err
	}
	defer unix.Close(dfd)

	b, err := r.readAt(dfd, "stat", 0)
	if err != nil {
		return p, err
	}
	st, err := parseStat(b)
	if err != nil {
		return p, fmt.Errorf("%s/stat: %w", dir, err)
	}
	p.PID, p.TID, p.PPID, p.Name = pid, pid, st.ppid, st.comm
	p.StartTime = st.startTime
	p.ExecID = event.ExecID(r.bootID, st.startTime, pid)
	p.TTY = ttyName(st.ttyNr)

	b, err = r.readAt(dfd, "status", 0)
	if err != nil {
		return p, err
	}
	s, err := parseStatus(b)
	if err != nil {
		return p, fmt.Errorf("%s/status: %w", dir, err)
	}
	p.UID, p.EUID, p.GID, p.EGID, p.CapEff = s.uid, s.euid, s.gid, s.egid, s.capEff

	p.AUID = 1<<32 - 1
	if b, err := r.readAt(dfd, "loginuid", 0); err == nil {
		if v, err := strconv.ParseUint(string(bytes.TrimSpace(b)), 10, 32); err == nil {
			p.AUID = uint32(v)
		}
	}
	if b, err := r.readAt(dfd, "cgroup", 0); err == nil {
		p.ContainerID = procutil.ContainerID(b)
	}
	p.PIDNS = r.nsInode(dfd, "ns/pid")
	p.MntNS = r.nsInode(dfd, "ns/mnt")
	p.NetNS = r.nsInode(dfd, "ns/net")

	if st.flags&pfKthread != 0 {
		return p, nil // kernel threads have no image, cwd or files
	}
	b, err = r.readAt(dfd, "cmdline", maxCmdline)
	if err != nil {
		return p, err
	}
	p.Cmdline, p.Args = splitCmdline(b)

	if link, err := r.readlinkAt(dfd, "exe"); err == nil {
		path, deleted := strings.CutSuffix(link, " (deleted)")
		p.Exe = path
		// A memfd always reads as deleted; it never had a path to lose.
		p.ExeMemfd = strings.HasPrefix(path, "/memfd:")
		p.ExeDeleted = deleted && !p.ExeMemfd
		var fst unix.Stat_t
		if unix.Fstatat(dfd, "exe", &fst, 0) == nil {
			p.ExeDev, p.ExeInode, p.ExeCtime = fst.Dev, fst.Ino, unix.TimespecToNsec(fst.Ctim)
		}
	}
	if cwd, err := r.readlinkAt(dfd, "cwd"); err == nil {
		p.CWD = strings.TrimSuffix(cwd, " (deleted)")
	}
	var unixTable []byte
	readUnix := func() []byte {
		if unixTable == nil {
			unixTable, _ = r.readAt(dfd, "net/unix", maxUnixTable)
			if unixTable == nil {
				unixTable = []byte{}
			}
		}
		return unixTable
	}
	p.Stdin = r.fdType(dfd, "fd/0", readUnix)
	p.Stdout = r.fdType(dfd, "fd/1", readUnix)
	p.Stderr = r.fdType(dfd, "fd/2", readUnix)

	// The process may have exited and its PID been reused while we read:
	// the open directory then answers ESRCH (or ENOENT) from here on.
	if _, err := r.readAt(dfd, "stat", 0); err != nil {
		return p, err
	}
	return p, nil
}

// startTime reads only the start time of pid.
func (r *procReader) startTime(pid int) (uint64, error) {
	b, err := r.readFile(filepath.Join(r.proc, strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	st, err := parseStat(b)
	if err != nil {
		return 0, err
	}
	return st.startTime, nil
}

// maxUnixTable bounds the read of /proc/PID/net/unix (a socket not in
// the part read is taken for a network socket).
const maxUnixTable = 4 << 20

func (r *procReader) fdType(dfd int, name string, unixTable func() []byte) string {
	link, err := r.readlinkAt(dfd, name)
	if err != nil {
		return ""
	}
	return procutil.FDType(link, unixTable)
}

func (r *procReader) nsInode(dfd int, name string) uint32 {
	link, err := r.readlinkAt(dfd, name)
	if err != nil {
		return 0
	}
	return parseNSLink(link)
}

func (r *procReader) readFile(path string) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	return r.readFD(fd, 0)
}

// readAt reads the file name below dfd into r.buf (up to limit bytes
// when limit > 0). The result is valid until the next read.
func (r *procReader) readAt(dfd int, name string, limit int) ([]byte, error) {
	fd, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	return r.readFD(fd, limit)
}

func (r *procReader) readFD(fd, limit int) ([]byte, error) {
	n := 0
	for {
		if limit > 0 && n >= limit {
			return r.buf[:limit], nil
		}
		if n == len(r.buf) {
			r.buf = append(r.buf, make([]byte, len(r.buf))...)
		}
		m, err := unix.Read(fd, r.buf[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if m == 0 {
			return r.buf[:n], nil
		}
		n += m
	}
}

func (r *procReader) readlinkAt(dfd int, name string) (string, error) {
	buf := r.buf[:cap(r.buf)]
	for {
		n, err := unix.Readlinkat(dfd, name, buf)
		if err != nil {
			return "", err
		}
		if n < len(buf) {
			return string(buf[:n]), nil
		}
		if len(buf) >= 1<<16 {
			return "", errors.New("link target too long")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// pfKthread is PF_KTHREAD in the flags field of /proc/PID/stat.
const pfKthread = 0x00200000

// procStat holds the fields of /proc/PID/stat used here.
type procStat struct {
	comm      string
	ppid      int
	ttyNr     uint32
	flags     uint64
	startTime uint64 // clock ticks since boot
}

// parseStat parses /proc/PID/stat (procutil.ParseStat) into the fields
// used here.
func parseStat(b []byte) (procStat, error) {
	s, err := procutil.ParseStat(b)
	if err != nil {
		return procStat{}, fmt.Errorf("%w: %v", errMalformed, err)
	}
	return procStat{comm: s.Comm, ppid: s.PPID, ttyNr: s.TTYNr, flags: s.Flags, startTime: s.StartTime}, nil
}

// procStatus holds the fields of /proc/PID/status used here.
type procStatus struct {
	uid, euid, gid, egid uint32
	capEff               uint64
}

// parseStatus reads the Uid, Gid and CapEff lines of /proc/PID/status.
// Uid and Gid are required; CapEff is not (kernels without it are old).
func parseStatus(b []byte) (procStatus, error) {
	var s procStatus
	var haveUID, haveGID bool
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte{'\n'})
		key, val, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			continue
		}
		var err error
		switch string(key) {
		case "Uid":
			s.uid, s.euid, err = parseIDPair(val)
			haveUID = err == nil
		case "Gid":
			s.gid, s.egid, err = parseIDPair(val)
			haveGID = err == nil
		case "CapEff":
			s.capEff, err = strconv.ParseUint(string(bytes.TrimSpace(val)), 16, 64)
		default:
			continue
		}
		if err != nil {
			return procStatus{}, fmt.Errorf("%w: %s line %q: %v", errMalformed, key, bytes.TrimSpace(val), err)
		}
	}
	if !haveUID || !haveGID {
		return procStatus{}, fmt.Errorf("%w: no Uid or Gid line", errMalformed)
	}
	return s, nil
}

// parseIDPair parses "real effective saved fs" and returns the first two.
func parseIDPair(v []byte) (real, eff uint32, err error) {
	f := bytes.Fields(v)
	if len(f) < 2 {
		return 0, 0, errors.New("want 4 ids")
	}
	r, err := strconv.ParseUint(string(f[0]), 10, 32)
	if err != nil {
		return 0, 0, err
	}
	e, err := strconv.ParseUint(string(f[1]), 10, 32)
	if err != nil {
		return 0, 0, err
	}
	return uint32(r), uint32(e), nil
}

// splitCmdline splits a NUL-separated /proc/PID/cmdline into the command
// line joined by spaces and the arguments, which share its bytes (so an
// entry pays for the text once). At most maxArgs arguments are kept.
func splitCmdline(b []byte) (cmdline string, args []string) {
	b = bytes.TrimRight(b, "\x00")
	if len(b) == 0 {
		return "", nil
	}
	n := min(bytes.Count(b, []byte{0})+1, maxArgs)
	args = make([]string, 0, n)
	joined := make([]byte, len(b))
	copy(joined, b)
	for i, c := range joined {
		if c == 0 {
			joined[i] = ' '
		}
	}
	cmdline = string(joined)
	start, end := 0, 0
	for i := 0; i <= len(b) && len(args) < n; i++ {
		if i == len(b) || b[i] == 0 {
			args = append(args, cmdline[start:i])
			start, end = i+1, i
		}
	}
	// Past maxArgs the arguments stop; the command line stops with them.
	return cmdline[:end], args
}

// parseNSLink returns the inode of a namespace link "pid:[4026531836]",
// or 0.
func parseNSLink(link string) uint32 {
	_, rest, ok := strings.Cut(link, ":[")
	if !ok {
		return 0
	}
	num, ok := strings.CutSuffix(rest, "]")
	if !ok || num == "" || num[0] == '+' {
		return 0
	}
	v, err := strconv.ParseUint(num, 10, 32)
	if err != nil {
		return 0
	}
	return uint32(v)
}

// ttyName names a tty device from the tty_nr field of /proc/PID/stat
// (major in bits 8–15, minor in bits 0–7 and 20–31), as the kernel's
// devices are named: "pts/3", "tty1", "ttyS0", "console". Devices it
// does not know are "tty(MAJOR:MINOR)"; 0 is "".
func ttyName(nr uint32) string {
	if nr == 0 {
		return ""
	}
	major := (nr >> 8) & 0xfff
	minor := (nr & 0xff) | ((nr >> 12) & 0xfff00)
	switch {
	case major >= 136 && major <= 143:
		return "pts/" + strconv.FormatUint(uint64((major-136)*256+minor), 10)
	case major == 4 && minor < 64:
		return "tty" + strconv.FormatUint(uint64(minor), 10)
	case major == 4:
		return "ttyS" + strconv.FormatUint(uint64(minor-64), 10)
	case major == 5 && minor == 0:
		return "tty"
	case major == 5 && minor == 1:
		return "console"
	}
	return "tty(" + strconv.FormatUint(uint64(major), 10) + ":" + strconv.FormatUint(uint64(minor), 10) + ")"
}

// parseExecID returns the start time and PID of an exec ID built by
// event.ExecID ("boot:start:pid").
func parseExecID(id string) (start uint64, pid int, ok bool) {
	i := strings.LastIndexByte(id, ':')
	if i < 0 {
		return 0, 0, false
	}
	j := strings.LastIndexByte(id[:i], ':')
	if j < 0 {
		return 0, 0, false
	}
	start, err := strconv.ParseUint(id[j+1:i], 10, 64)
	if err != nil {
		return 0, 0, false
	}
	pid, err = strconv.Atoi(id[i+1:])
	if err != nil || pid <= 0 {
		return 0, 0, false
	}
	return start, pid, true
}
