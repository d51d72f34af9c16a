package enrich

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/vigilsec/vigil/internal/hashcache"
)

// Executable hashing. The pipeline never reads a file: an exec whose
// executable (device, inode, ctime) was hashed before gets the digest at
// once, from known; any other queues a job and goes on without one. A
// worker hashes the file through internal/hashcache (so each version of a
// file is read once per run, or once ever with a persisted cache) and
// stores the digest in the process's table entry, from where every later
// event of the process (file, network, exit, children's forks) carries it.

const (
	// DefaultMaxHashSize is the largest executable hashed.
	DefaultMaxHashSize = 64 << 20
	hashQueue          = 256
	maxKnown           = 16384
)

// fileKey identifies one version of an executable: a write changes ctime.
type fileKey struct {
	dev, ino uint64
	ctime    int64
}

type hashJob struct {
	execID string
	pid    int
	start  uint64 // clock ticks; the /proc/PID/exe of another process is not opened
	exe    string
	key    fileKey // zero when the sensor did not say
}

type hasher struct {
	cache   *hashcache.Cache
	maxSize int64
	proc    string
	jobs    chan hashJob
	store   func(job hashJob, key fileKey, sum string) // under the table's lock

	queued, dropped, hashed, failed atomic.Uint64
}

// enqueue queues a job; it never blocks and reports false when the queue
// is full.
func (h *hasher) enqueue(j hashJob) bool {
	select {
	case h.jobs <- j:
		h.queued.Add(1)
		return true
	default:
		h.dropped.Add(1)
		return false
	}
}

// run hashes queued executables until ctx ends.
func (h *hasher) run(ctx context.Context) {
	r := newProcReader(h.proc, "")
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-h.jobs:
			key, sum, ok := h.hash(r, j)
			if !ok {
				h.failed.Add(1)
				continue
			}
			h.hashed.Add(1)
			h.store(j, key, sum)
		}
	}
}

// hash opens the job's executable, through /proc/PID/exe while the
// process lives (that works for deleted and memfd executables), else by
// path when the sensor gave its identity to check against.
func (h *hasher) hash(r *procReader, j hashJob) (fileKey, string, bool) {
	f := h.openProc(r, j)
	if f == nil {
		f = h.openPath(j)
	}
	if f == nil {
		return fileKey{}, "", false
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Size > h.maxSize {
		return fileKey{}, "", false
	}
	sum, err := h.cache.Sum(f)
	if err != nil || sum == "" {
		return fileKey{}, "", false
	}
	return fileKey{dev: st.Dev, ino: st.Ino, ctime: unix.TimespecToNsec(st.Ctim)}, sum, true
}

func (h *hasher) openProc(r *procReader, j hashJob) *os.File {
	dir := filepath.Join(h.proc, strconv.Itoa(j.pid))
	dfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer unix.Close(dfd)
	b, err := r.readAt(dfd, "stat", 0)
	if err != nil {
		return nil
	}
	if st, err := parseStat(b); err != nil || (j.start != 0 && st.startTime != j.start) {
		return nil
	}
	fd, err := unix.Openat(dfd, "exe", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	f := os.NewFile(uintptr(fd), "exe")
	// The process may have exec'd again since the event: the file must
	// be the one the event named.
	if j.key.ino != 0 && !sameFile(f, j.key) {
		f.Close()
		return nil
	}
	return f
}

func (h *hasher) openPath(j hashJob) *os.File {
	if j.key.ino == 0 || j.exe == "" || j.exe[0] != '/' {
		return nil
	}
	fd, err := unix.Open(j.exe, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil
	}
	f := os.NewFile(uintptr(fd), j.exe)
	if !sameFile(f, j.key) {
		f.Close()
		return nil
	}
	return f
}

func sameFile(f *os.File, k fileKey) bool {
	var st unix.Stat_t
	if unix.Fstat(int(f.Fd()), &st) != nil {
		return false
	}
	return st.Dev == k.dev && st.Ino == k.ino && (k.ctime == 0 || unix.TimespecToNsec(st.Ctim) == k.ctime)
}
