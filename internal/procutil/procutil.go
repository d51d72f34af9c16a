// Package procutil holds small procfs helpers shared by the collectors that
// read running processes: PID listing, the socket-inode to PID map, the
// container ID of a cgroup, and uid to user-name resolution.
//
// Everything takes the procfs path as an argument, so an offline copy of
// /proc (or a test tree) reads exactly like the live one.
package procutil

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/vigilsec/vigil/internal/etcfiles"
)

// PIDs lists the processes (thread-group leaders) under procPath, in
// ascending order.
func PIDs(procPath string) ([]int, error) {
	d, err := os.Open(procPath)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	pids := make([]int, 0, len(names))
	for _, n := range names {
		if n == "" || n[0] < '0' || n[0] > '9' {
			continue
		}
		pid, err := strconv.Atoi(n)
		if err != nil || pid <= 0 {
			continue
		}
		pids = append(pids, pid)
	}
	slices.Sort(pids)
	return pids, nil
}

// Gone reports whether err means that a process exited while it was being
// read: its /proc entry no longer exists (ENOENT) or no longer has a task
// (ESRCH). Such processes are skipped silently.
func Gone(err error) bool {
	return errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) || errors.Is(err, os.ErrNotExist)
}

// ParseSocketLink returns the inode of an fd symlink target of the form
// "socket:[12345]".
func ParseSocketLink(link string) (uint64, bool) {
	rest, ok := strings.CutPrefix(link, "socket:[")
	if !ok {
		return 0, false
	}
	num, ok := strings.CutSuffix(rest, "]")
	if !ok || num == "" || num[0] == '+' {
		return 0, false
	}
	ino, err := strconv.ParseUint(num, 10, 64)
	if err != nil {
		return 0, false
	}
	return ino, true
}

// SocketOwners maps each socket inode in want to the PIDs (ascending) that
// hold an fd on it, by reading the <procPath>/<pid>/fd/* symlinks. Processes
// that exit or cannot be read (permission) are skipped. An error is
// returned only when procPath itself cannot be listed or ctx is done.
func SocketOwners(ctx context.Context, procPath string, want map[uint64]struct{}) (map[uint64][]int, error) {
	owners := make(map[uint64][]int, len(want))
	if len(want) == 0 {
		return owners, nil
	}
	pids, err := PIDs(procPath)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 128)
	var names []string
	for _, pid := range pids {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		fdDir := filepath.Join(procPath, strconv.Itoa(pid), "fd")
		dfd, err := unix.Open(fdDir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			continue // exited, kernel thread without files, or not permitted
		}
		names = readDirNames(dfd, names[:0])
		for _, name := range names {
			n, err := unix.Readlinkat(dfd, name, buf)
			if err != nil || n < len("socket:[0]") || string(buf[:8]) != "socket:[" {
				continue
			}
			ino, ok := ParseSocketLink(string(buf[:n]))
			if !ok {
				continue
			}
			if _, ok := want[ino]; !ok {
				continue
			}
			if p := owners[ino]; len(p) == 0 || p[len(p)-1] != pid {
				owners[ino] = append(p, pid)
			}
		}
		unix.Close(dfd)
	}
	return owners, nil
}

// readDirNames appends the entry names of the open directory dfd (without
// "." and "..") to names. It reads with getdents directly: Readdirnames
// on an *os.File would lstat nothing either, but wrapping every fd
// directory in an *os.File costs a finalizer and a poller registration.
func readDirNames(dfd int, names []string) []string {
	var buf [8192]byte
	for {
		n, err := unix.Getdents(dfd, buf[:])
		if err != nil || n <= 0 {
			return names
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
}

// ContainerID returns the container ID named in the contents of a
// /proc/<pid>/cgroup file, or "" when the process is not in a container.
// It recognises the cgroup v1 and v2 layouts of Docker ("/docker/<id>",
// "docker-<id>.scope"), containerd and CRI-O under Kubernetes
// ("cri-containerd-<id>.scope", "crio-<id>.scope", "/kubepods/.../<id>")
// and Podman ("libpod-<id>.scope", "/libpod_parent/libpod-<id>"). IDs are
// 64 lowercase hex digits; conmon monitor scopes are not containers. When
// containers nest, the outermost ID (the one the host's engine knows) is
// returned.
func ContainerID(cgroup []byte) string {
	for len(cgroup) > 0 {
		var line []byte
		line, cgroup, _ = bytes.Cut(cgroup, []byte{'\n'})
		// hierarchy-ID:controller-list:cgroup-path; the path may itself
		// contain ':' so cut only the first two.
		_, rest, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			continue
		}
		_, path, ok := bytes.Cut(rest, []byte{':'})
		if !ok {
			continue
		}
		if id := containerIDFromPath(path); id != "" {
			return id
		}
	}
	return ""
}

func containerIDFromPath(path []byte) string {
	for len(path) > 0 {
		var seg []byte
		seg, path, _ = bytes.Cut(path, []byte{'/'})
		if id := containerIDFromSegment(seg); id != "" {
			return id
		}
	}
	return ""
}

// containerIDFromSegment recognises one path element: "<id>",
// "<runtime>-<id>" or "<runtime>-<id>.scope".
func containerIDFromSegment(seg []byte) string {
	seg = bytes.TrimSuffix(seg, []byte(".scope"))
	if len(seg) < 64 {
		return ""
	}
	id := seg[len(seg)-64:]
	if !isHex64(id) {
		return ""
	}
	if len(seg) == 64 {
		return string(id)
	}
	prefix := seg[:len(seg)-64]
	if prefix[len(prefix)-1] != '-' || bytes.Contains(prefix, []byte("conmon")) {
		return ""
	}
	return string(id)
}

func isHex64(b []byte) bool {
	if len(b) != 64 {
		return false
	}
	for _, c := range b {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Users maps uids to names as read from a passwd file. The first entry
// for a uid wins, as with getpwuid.
type Users map[int]string

// ParsePasswd reads a passwd(5) file with etcfiles.ParsePasswd. Malformed
// lines are counted in bad and otherwise ignored: a process's user is
// best-effort.
func ParsePasswd(r io.Reader) (users Users, bad int, err error) {
	entries, lineErrs, err := etcfiles.ParsePasswd(r)
	return etcfiles.UIDNames(entries), len(lineErrs), err
}

// Name returns the user name for uid, or the uid as a decimal string
// when passwd does not name it.
func (u Users) Name(uid int) string {
	if n, ok := u[uid]; ok {
		return n
	}
	return strconv.Itoa(uid)
}

// FDType classifies the target of a /proc/PID/fd/N link as
// event.Process.Stdin describes: "socket" (a network socket), "unix" (a
// Unix-domain socket), "pipe", "tty", "null", "file" or "other".
// unixTable, when set, returns the process's /proc/PID/net/unix (read
// once per process by the caller); without it every socket is "socket".
func FDType(link string, unixTable func() []byte) string {
	switch {
	case strings.HasPrefix(link, "socket:["):
		if unixTable != nil && InUnixTable(unixTable(), strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")) {
			return "unix"
		}
		return "socket"
	case strings.HasPrefix(link, "pipe:["):
		return "pipe"
	case link == "/dev/null":
		return "null"
	case strings.HasPrefix(link, "/dev/pts/"), strings.HasPrefix(link, "/dev/tty"), link == "/dev/console":
		return "tty"
	case strings.HasPrefix(link, "/dev/"):
		return "other"
	case strings.HasPrefix(link, "/"):
		return "file"
	default:
		return "other" // anon_inode:…, memfd without a path, …
	}
}

// InUnixTable reports whether inode (decimal) is a socket of the
// /proc/net/unix table: "Num RefCount Protocol Flags Type St Inode Path".
func InUnixTable(table []byte, inode string) bool {
	if inode == "" {
		return false
	}
	for len(table) > 0 {
		line := table
		if i := bytes.IndexByte(table, '\n'); i >= 0 {
			line, table = table[:i], table[i+1:]
		} else {
			table = nil
		}
		f := bytes.Fields(line)
		if len(f) >= 7 && string(f[6]) == inode {
			return true
		}
	}
	return false
}
