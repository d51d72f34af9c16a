// Package execguard denies the execution of blocklisted files in the kernel
// with fanotify permission events.
//
// The guard marks whole filesystems (FAN_MARK_FILESYSTEM, or the mount
// with FAN_MARK_MOUNT where a filesystem mark is refused) for
// FAN_OPEN_EXEC_PERM. Each exec of a file there waits in the kernel until
// the guard answers: FAN_DENY when the file's (device, inode) or its
// SHA-256 is blocked — execve then fails with EPERM — and FAN_ALLOW
// otherwise.
//
// Every exec of the machine passes through here, so the guard fails open:
// an error of its own (a hash that cannot be computed, a file larger than
// MaxHashSize) allows and is counted, and a watchdog timer answers FAN_ALLOW
// for any event not decided within Timeout. When the guard's process dies,
// the kernel closes the fanotify descriptor and allows what was pending.
package execguard

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigilsec/vigil/internal/hashcache"
	"github.com/vigilsec/vigil/internal/sensor/fallback/fanotify"
)

// Defaults.
const (
	DefaultTimeout     = 2 * time.Second
	DefaultMaxHashSize = 64 << 20
	DefaultWorkers     = 4
)

// DefaultMounts are the paths whose filesystems are guarded by default:
// the root filesystem and the usual world-writable places that are often
// separate mounts.
var DefaultMounts = []string{"/", "/tmp", "/var/tmp", "/dev/shm"}

// Config configures a guard. The zero value is valid.
type Config struct {
	// Mounts are paths whose filesystems are marked; nil means
	// DefaultMounts. Paths that do not exist are skipped.
	Mounts []string
	// Hashes computes and caches file digests; nil means an in-memory
	// cache.
	Hashes *hashcache.Cache
	// MaxHashSize bounds the files hashed to check the hash blocklist;
	// larger files are allowed and counted. 0 means DefaultMaxHashSize.
	MaxHashSize int64
	// Timeout is how long an exec may wait for a decision before the
	// watchdog allows it. 0 means DefaultTimeout.
	Timeout time.Duration
	// Workers bounds the concurrent hash lookups; 0 means DefaultWorkers.
	Workers int
	Logger  *slog.Logger
	// Lazy defers marking until something is blocked, so that until the
	// first deny_exec or quarantine no exec on the machine waits for the
	// guard.
	Lazy bool
}

// Stats are the guard's counters.
type Stats struct {
	Events     uint64 `json:"events"`      // permission events received
	Allowed    uint64 `json:"allowed"`     // answered FAN_ALLOW
	Denied     uint64 `json:"denied"`      // answered FAN_DENY
	HashErrors uint64 `json:"hash_errors"` // digest failed: allowed
	Oversize   uint64 `json:"oversize"`    // larger than MaxHashSize while hashes are blocked: allowed
	Timeouts   uint64 `json:"timeouts"`    // the watchdog answered: allowed
	Overflows  uint64 `json:"overflows"`   // the kernel queue overflowed
}

// DevIno identifies a file: st_dev and st_ino as stat(2) reports them.
type DevIno struct{ Dev, Ino uint64 }

// ExecGuard answers fanotify exec permission events. Block and Unblock
// methods are safe for concurrent use and may be called before Start.
type ExecGuard struct {
	cfg    Config
	logger *slog.Logger

	mu     sync.RWMutex
	inodes map[DevIno]bool
	hashes map[string]bool

	file   *os.File // the fanotify descriptor, non-blocking and pollable
	armMu  sync.Mutex
	fd     int
	armed  bool
	marked []string
	work   chan *pending
	wg     sync.WaitGroup
	closed atomic.Bool
	stop   chan struct{} // closed by Close

	events, allowed, denied, hashErrors, oversize, timeouts, overflows atomic.Uint64

	// hook, when set by tests, runs before each hash decision.
	hook func()
}

// New returns a guard; Start begins guarding.
func New(cfg Config) *ExecGuard {
	if cfg.Mounts == nil {
		cfg.Mounts = DefaultMounts
	}
	if cfg.Hashes == nil {
		cfg.Hashes = hashcache.Open("", hashcache.Options{})
	}
	if cfg.MaxHashSize <= 0 {
		cfg.MaxHashSize = DefaultMaxHashSize
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &ExecGuard{cfg: cfg, logger: cfg.Logger, inodes: map[DevIno]bool{}, hashes: map[string]bool{}}
}

// BlockInode denies exec of the file with this device and inode (stat(2)
// st_dev and st_ino).
func (g *ExecGuard) BlockInode(dev, ino uint64) {
	g.mu.Lock()
	g.inodes[DevIno{dev, ino}] = true
	g.mu.Unlock()
	g.arm()
}

// UnblockInode lifts BlockInode.
func (g *ExecGuard) UnblockInode(dev, ino uint64) {
	g.mu.Lock()
	delete(g.inodes, DevIno{dev, ino})
	g.mu.Unlock()
}

// BlockHash denies exec of any file whose SHA-256 is sha256hex.
func (g *ExecGuard) BlockHash(sha256hex string) error {
	h, err := normHash(sha256hex)
	if err != nil {
		return err
	}
	g.mu.Lock()
	g.hashes[h] = true
	g.mu.Unlock()
	return g.arm()
}

// UnblockHash lifts BlockHash.
func (g *ExecGuard) UnblockHash(sha256hex string) {
	h, err := normHash(sha256hex)
	if err != nil {
		return
	}
	g.mu.Lock()
	delete(g.hashes, h)
	g.mu.Unlock()
}

func normHash(s string) (string, error) {
	s = strings.ToLower(s)
	if b, err := hex.DecodeString(s); err != nil || len(b) != 32 {
		return "", fmt.Errorf("sha256 %q: want 64 hex digits", s)
	}
	return s, nil
}

// Stats returns the counters.
func (g *ExecGuard) Stats() Stats {
	return Stats{
		Events: g.events.Load(), Allowed: g.allowed.Load(), Denied: g.denied.Load(),
		HashErrors: g.hashErrors.Load(), Oversize: g.oversize.Load(), Timeouts: g.timeouts.Load(),
		Overflows: g.overflows.Load(),
	}
}

// Marked lists the marks made by Start, as "fs:/path" or "mount:/path".
func (g *ExecGuard) Marked() []string {
	g.armMu.Lock()
	defer g.armMu.Unlock()
	return append([]string(nil), g.marked...)
}

// Start creates the fanotify group, marks the configured filesystems and
// answers events until ctx ends or Close is called. It returns once marked.
func (g *ExecGuard) Start(ctx context.Context) error {
	fd, err := unix.FanotifyInit(unix.FAN_CLASS_CONTENT|unix.FAN_CLOEXEC|unix.FAN_NONBLOCK, unix.O_RDONLY|unix.O_LARGEFILE|unix.O_CLOEXEC)
	if err != nil {
		return fmt.Errorf("fanotify_init: %w", err)
	}
	g.armMu.Lock()
	g.fd = fd
	lazy := g.cfg.Lazy && !g.hasBlocks()
	var err2 error
	if !lazy {
		err2 = g.markAll()
	}
	if err2 == nil {
		g.file = os.NewFile(uintptr(fd), "fanotify")
	}
	g.armMu.Unlock()
	if err2 != nil {
		unix.Close(fd)
		return err2
	}
	g.work = make(chan *pending)
	for range g.cfg.Workers {
		g.wg.Go(g.worker)
	}
	g.wg.Go(func() { g.read() })
	g.stop = make(chan struct{})
	g.wg.Go(func() {
		select {
		case <-ctx.Done():
			g.Close()
		case <-g.stop:
		}
	})
	return nil
}

// markAll marks the configured filesystems; armMu is held.
func (g *ExecGuard) markAll() error {
	if g.armed {
		return nil
	}
	for _, p := range g.cfg.Mounts {
		if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
			g.logger.Info("exec guard: skipping missing mount", "path", p)
			continue
		}
		kind := "fs"
		err := unix.FanotifyMark(g.fd, unix.FAN_MARK_ADD|unix.FAN_MARK_FILESYSTEM, unix.FAN_OPEN_EXEC_PERM, unix.AT_FDCWD, p)
		if err != nil {
			kind = "mount"
			err = unix.FanotifyMark(g.fd, unix.FAN_MARK_ADD|unix.FAN_MARK_MOUNT, unix.FAN_OPEN_EXEC_PERM, unix.AT_FDCWD, p)
		}
		if err != nil {
			return fmt.Errorf("fanotify_mark %q: %w", p, err)
		}
		g.marked = append(g.marked, kind+":"+p)
	}
	if len(g.marked) == 0 {
		return fmt.Errorf("exec guard: none of the mounts %q exists", g.cfg.Mounts)
	}
	g.armed = true
	return nil
}

func (g *ExecGuard) hasBlocks() bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return len(g.inodes)+len(g.hashes) > 0
}

// arm marks the filesystems of a lazy guard once something is blocked.
func (g *ExecGuard) arm() error {
	g.armMu.Lock()
	defer g.armMu.Unlock()
	if g.armed || g.file == nil {
		return nil // armed already, or Start will mark
	}
	if err := g.markAll(); err != nil {
		g.logger.Error("exec guard: cannot mark", "error", err)
		return err
	}
	return nil
}

// Armed reports whether the filesystems are marked (a lazy guard marks
// them on the first block).
func (g *ExecGuard) Armed() bool {
	g.armMu.Lock()
	defer g.armMu.Unlock()
	return g.armed
}

// Close stops the guard; the kernel allows whatever was still pending.
func (g *ExecGuard) Close() error {
	if g.file == nil || !g.closed.CompareAndSwap(false, true) {
		return nil
	}
	close(g.stop)
	return g.file.Close()
}

// Wait waits until the guard's goroutines ended after Close (or the end of
// Start's context).
func (g *ExecGuard) Wait() { g.wg.Wait() }

// pending is one permission event awaiting its answer.
type pending struct {
	mu    sync.Mutex
	fd    int
	done  bool
	timer *time.Timer
}

func (g *ExecGuard) read() {
	defer close(g.work)
	buf := make([]byte, 256*unix.FAN_EVENT_METADATA_LEN)
	for {
		n, err := g.file.Read(buf)
		if err != nil {
			if !g.closed.Load() {
				g.logger.Error("exec guard: read fanotify", "error", err)
			}
			return
		}
		for b := buf[:n]; len(b) >= unix.FAN_EVENT_METADATA_LEN; {
			evLen := binary.NativeEndian.Uint32(b[0:4])
			if evLen < unix.FAN_EVENT_METADATA_LEN || int(evLen) > len(b) || b[4] != unix.FANOTIFY_METADATA_VERSION {
				g.logger.Error("exec guard: bad fanotify event", "len", evLen, "version", b[4])
				break
			}
			mask := binary.NativeEndian.Uint64(b[8:16])
			fd := int(int32(binary.NativeEndian.Uint32(b[16:20])))
			b = b[evLen:]
			if mask&unix.FAN_Q_OVERFLOW != 0 || fd < 0 {
				g.overflows.Add(1)
				continue
			}
			g.events.Add(1)
			g.handle(fd)
		}
	}
}

// handle decides what it can at once (blocked inode, no hash blocklist)
// and hands the rest to the workers, with the watchdog armed first.
func (g *ExecGuard) handle(fd int) {
	p := &pending{fd: fd}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		g.answer(p, true)
		return
	}
	g.mu.RLock()
	blocked, anyHash := g.inodes[DevIno{st.Dev, st.Ino}], len(g.hashes) > 0
	g.mu.RUnlock()
	if blocked || !anyHash {
		g.answer(p, !blocked)
		return
	}
	if st.Size > g.cfg.MaxHashSize {
		g.oversize.Add(1)
		g.answer(p, true)
		return
	}
	p.mu.Lock()
	p.timer = time.AfterFunc(g.cfg.Timeout, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if !p.done {
			g.timeouts.Add(1)
			g.respond(p.fd, true)
			p.done = true // the worker still owns and closes fd
		}
	})
	p.mu.Unlock()
	g.work <- p
}

func (g *ExecGuard) worker() {
	for p := range g.work {
		if g.hook != nil {
			g.hook()
		}
		allow := true
		f := os.NewFile(uintptr(p.fd), "exec")
		sum, err := g.cfg.Hashes.Sum(f)
		switch {
		case err != nil:
			g.hashErrors.Add(1)
		case sum != "":
			g.mu.RLock()
			allow = !g.hashes[sum]
			g.mu.RUnlock()
		}
		p.mu.Lock()
		p.timer.Stop()
		if !p.done {
			g.respond(p.fd, allow)
			p.done = true
		}
		// Closing under p.mu: the watchdog can no longer answer for a
		// descriptor number that is about to be reused.
		f.Close()
		p.mu.Unlock()
	}
}

// answer responds and closes the event's descriptor.
func (g *ExecGuard) answer(p *pending, allow bool) {
	g.respond(p.fd, allow)
	unix.Close(p.fd)
}

func (g *ExecGuard) respond(fd int, allow bool) {
	if allow {
		g.allowed.Add(1)
	} else {
		g.denied.Add(1)
		path, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
		g.logger.Info("exec guard: denied exec", "path", path)
	}
	if err := fanotify.Answer(g.file, fd, allow); err != nil && !g.closed.Load() {
		g.logger.Error("exec guard: write response", "error", err)
	}
}
