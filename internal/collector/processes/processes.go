// Package processes collects the running processes of a host from procfs:
// identity, parent, executable (and its SHA-256), arguments, user, start
// time, working directory and container.
//
// Every file of a process is read relative to one open /proc/<pid>
// directory, so a PID reused between two reads cannot mix two processes:
// the old directory then answers ESRCH and the process is skipped, like
// any process that exits during the scan.
//
// Executables are hashed through /proc/<pid>/exe, which opens the file the
// process runs even when it was deleted or lives in a memfd. Digests are
// cached by file identity (internal/hashcache) in Input.DataDir.
package processes

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigilsec/vigil/internal/collector"
	"github.com/vigilsec/vigil/internal/hashcache"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
	"github.com/vigilsec/vigil/internal/procutil"
)

// Name is the collector's name.
const Name = inventory.CategoryProcesses

// clockTicks is USER_HZ, the unit of start times in /proc/<pid>/stat. It
// is 100 on every Linux architecture Vigil supports.
const clockTicks = 100

// maxCmdline bounds how much of one command line is read.
const maxCmdline = 256 << 10

type processes struct {
	// hashFn is passed to the hash cache; nil means SHA-256. Tests count
	// calls through it.
	hashFn func(io.Reader) ([sha256.Size]byte, error)

	mu       sync.Mutex // serialises Collect: it owns the cache
	cache    *hashcache.Cache
	cacheDir string
}

// New returns the processes collector. It keeps its exe hash cache
// between runs.
func New() collector.Collector { return &processes{} }

func (*processes) Name() string { return Name }
func (*processes) Version() int { return 1 }
func (*processes) Requirements() *plugin.Capabilities {
	return &plugin.Capabilities{Root: true, RunningHost: true}
}

// Collect reads every process under in.ProcPath.
func (p *processes) Collect(ctx context.Context, in *collector.Input) (*inventory.Inventory, error) {
	if in.ProcPath == "" {
		return nil, plugin.Skip("no procfs to read processes from")
	}
	p.mu.Lock()
	defer p.mu.Unlock()

	pids, err := procutil.PIDs(in.ProcPath)
	if err != nil {
		return nil, err
	}
	var problems plugin.Problems
	r := &reader{
		proc:  in.ProcPath,
		users: loadUsers(in.Root),
		cache: p.openCache(in.DataDir),
		buf:   make([]byte, 4096),
	}
	if bt, err := procutil.BootTime(in.ProcPath); err != nil {
		problems.Add(err)
	} else {
		r.btime = bt
	}
	if b, err := os.ReadFile(filepath.Join(in.ProcPath, "sys/kernel/random/boot_id")); err == nil {
		r.bootID = strings.TrimSpace(string(b))
	}

	// Executables are hashed by a few workers while the main loop reads
	// on: a cold cache is dominated by hashing. The channel's buffer
	// bounds how many exe files are open at once.
	jobs := make(chan hashJob, 32)
	sums := make([]string, len(pids))
	var wg sync.WaitGroup
	for range hashWorkers() {
		wg.Go(func() {
			for j := range jobs {
				if sum, err := r.cache.Sum(j.f); err == nil {
					sums[j.i] = sum
				}
				j.f.Close()
			}
		})
	}
	out := make([]inventory.Process, 0, len(pids))
	err = r.readAll(ctx, pids, &out, jobs, &problems)
	close(jobs)
	wg.Wait()
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].SHA256 = sums[i]
	}
	if err := r.cache.Save(); err != nil {
		slog.Debug("exe hash cache kept in memory only", "error", err)
	}
	// PIDs are listed in ascending order and read in that order.
	return &inventory.Inventory{Processes: out}, problems.Err()
}

type hashJob struct {
	i int // index in the output
	f *os.File
}

func hashWorkers() int { return min(runtime.GOMAXPROCS(0), 4) }

// readAll reads each process into out and queues its executable on jobs.
func (r *reader) readAll(ctx context.Context, pids []int, out *[]inventory.Process, jobs chan<- hashJob, problems *plugin.Problems) error {
	for _, pid := range pids {
		if err := ctx.Err(); err != nil {
			return err
		}
		proc, exe, ok := r.read(pid, problems)
		if !ok {
			continue
		}
		if exe != nil {
			jobs <- hashJob{i: len(*out), f: exe}
		}
		*out = append(*out, proc)
	}
	return nil
}

// openCache returns the cache for dataDir, loading it on first use.
func (p *processes) openCache(dataDir string) *hashcache.Cache {
	if p.cache == nil || p.cacheDir != dataDir {
		p.cache = hashcache.Open(dataDir, hashcache.Options{Hash: p.hashFn})
		p.cacheDir = dataDir
	}
	return p.cache
}

// loadUsers reads etc/passwd of the inventoried root once per run. A
// missing or unreadable file leaves users shown by uid.
func loadUsers(root fs.FS) procutil.Users {
	if root == nil {
		return nil
	}
	f, err := root.Open("etc/passwd")
	if err != nil {
		return nil
	}
	defer f.Close()
	users, _, _ := procutil.ParsePasswd(f)
	return users
}

// reader reads processes; its buffer is reused across files.
type reader struct {
	proc   string
	btime  int64
	bootID string
	users  procutil.Users
	cache  *hashcache.Cache
	buf    []byte
}

// read returns one process and its open executable (nil when it has
// none or it cannot be opened), which the caller must close; ok is false
// when the process exited during the read or its stat is malformed
// (reported in problems).
func (r *reader) read(pid int, problems *plugin.Problems) (p inventory.Process, exe *os.File, ok bool) {
	dir := filepath.Join(r.proc, strconv.Itoa(pid))
	dfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		if !procutil.Gone(err) {
			problems.Addf("%s: %v", dir, err)
		}
		return p, nil, false
	}
	defer unix.Close(dfd)

	b, err := r.readAt(dfd, "stat", 0)
	if err != nil {
		if !procutil.Gone(err) {
			problems.Addf("%s/stat: %v", dir, err)
		}
		return p, nil, false
	}
	st, err := parseStat(b)
	if err != nil {
		problems.Addf("%s/stat: %v", dir, err)
		return p, nil, false
	}
	p.PID, p.PPID, p.Name = pid, st.ppid, st.comm
	ticks := time.Duration(st.startTime) * (time.Second / clockTicks)
	if r.btime > 0 {
		p.StartTime = time.Unix(r.btime, 0).Add(ticks).UTC()
	}
	p.ExecID = base64.StdEncoding.EncodeToString(
		[]byte(r.bootID + ":" + strconv.FormatUint(st.startTime, 10) + ":" + strconv.Itoa(pid)))

	b, err = r.readAt(dfd, "status", 0)
	if procutil.Gone(err) {
		return p, nil, false
	}
	p.UID = -1
	if err == nil {
		if p.UID, err = parseUID(b); err != nil {
			problems.Addf("%s/status: %v", dir, err)
		}
	}
	if p.UID >= 0 {
		p.User = r.users.Name(p.UID)
	}

	b, err = r.readAt(dfd, "cmdline", maxCmdline)
	if procutil.Gone(err) {
		return p, nil, false
	}
	p.Args = splitCmdline(b)
	p.Cmdline = strings.Join(p.Args, " ")
	if p.Cmdline == "" {
		p.Cmdline = "[" + p.Name + "]"
	}

	if b, err := r.readAt(dfd, "cgroup", 0); err == nil {
		p.ContainerID = procutil.ContainerID(b)
	}

	if st.flags&pfKthread != 0 {
		return p, nil, true // kernel threads have no executable or cwd
	}
	if link, err := r.readlinkAt(dfd, "exe"); err == nil {
		path, deleted := strings.CutSuffix(link, " (deleted)")
		p.Exe = path
		// A memfd always reads as deleted; it never had a path to lose.
		p.ExeMemfd = strings.HasPrefix(path, "/memfd:")
		p.ExeDeleted = deleted && !p.ExeMemfd
		exe = r.openExe(dfd)
	}
	if cwd, err := r.readlinkAt(dfd, "cwd"); err == nil {
		p.CWD = strings.TrimSuffix(cwd, " (deleted)")
	}
	return p, exe, true
}

// openExe opens the process's executable through its exe link, which
// works for deleted and memfd executables. It returns nil when the file
// cannot be opened (permission, exited).
func (r *reader) openExe(dfd int) *os.File {
	fd, err := unix.Openat(dfd, "exe", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	return os.NewFile(uintptr(fd), "exe")
}

// readAt reads the file name below dfd into r.buf (grown as needed, up
// to limit bytes when limit > 0). The result is valid until the next call.
func (r *reader) readAt(dfd int, name string, limit int) ([]byte, error) {
	fd, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	n := 0
	for {
		if n == len(r.buf) {
			if limit > 0 && n >= limit {
				return r.buf[:n], nil
			}
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

func (r *reader) readlinkAt(dfd int, name string) (string, error) {
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
