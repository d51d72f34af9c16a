// Package ransom stops ransomware on a host: decoy files that no honest
// program writes, a behaviour detector for mass encryption in protected
// directories, and restoration of what the attacker touched from the
// protected backups of internal/backup.
//
// Two fanotify groups do the work, so the guard needs no eBPF:
//
//   - A permission group (FAN_CLASS_CONTENT, FAN_REPORT_TID) marks every
//     directory under ProtectedDirs and the backup directory with
//     FAN_OPEN_PERM|FAN_EVENT_ON_CHILD, and each decoy file by inode. Every
//     open there waits for the guard. fanotify does not say how a file is
//     opened, so the guard reads /proc/TID/syscall of the waiting thread
//     (openat, open, creat, openat2 flags). A write-open of a decoy kills
//     the opener's process tree while it waits, then is denied. A
//     write-open in the backup directory by any other process is denied.
//     A write-open in a protected directory first drains the notification
//     queue, so the decision sees every change the process made before
//     this open: once it has encrypted FileThreshold files its next open
//     is denied and its tree killed. The guard fails open: its own opens,
//     reads, and events it cannot queue are allowed.
//   - A notification group (FAN_REPORT_DFID_NAME) marks the same
//     directories (inode marks; directories created later are marked when
//     seen) for FAN_CLOSE_WRITE, FAN_CREATE, FAN_DELETE, FAN_MOVED_FROM
//     and FAN_MOVED_TO. Each event names the directory by file handle and
//     the entry by name; the handle maps to the path recorded when the
//     directory was marked. The pid of each event attributes the change.
//     Rename or delete of a decoy, which no permission event announces,
//     kills the tree when the event is read.
//
// A change is "encrypted" when the first SampleSize bytes of the new
// content have entropy ≥ EntropyMin (corrected for short files) and either
// start with no known format or lose the format the extension promises
// (see Judge). Counts are kept per process and per parent (a shell loop
// running one encryptor per file), over a sliding Window.
//
// After a kill the guard waits for the process to die, restores every file
// the tree changed, renamed or deleted from the latest backup made before
// the tree's first change, moves the files it created (the .locked copies,
// ransom notes) to <BackupDir>/artefacts/<alert ID>/, recreates decoys and
// emits one alert with what it did.
//
// Limits: truncate(2) by path, io_uring opens and writes through file
// descriptors opened before the guard started are not gated (the
// notification path still sees their result); unlink and rename in the
// backup directory cannot be denied by fanotify.
package ransom

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/backup"
	"github.com/vigilsec/vigil/internal/event"
	"github.com/vigilsec/vigil/internal/respond/kill"
	"github.com/vigilsec/vigil/internal/sensor/fallback/fanotify"
	"github.com/vigilsec/vigil/internal/severity"
)

// Rule IDs of the guard's alerts.
const (
	RuleDecoy     = "VGL-RANSOM-DECOY"
	RuleBehaviour = "VGL-RANSOM-BEHAVIOUR"
)

// Defaults.
const (
	DefaultWindow        = time.Minute
	DefaultFileThreshold = 10
	DefaultEntropyMin    = 7.2
	DefaultSampleSize    = 4096
	DefaultMaxDirs       = 4096
	DefaultDecoyCheck    = 10 * time.Second
	DefaultHiddenDecoys  = 2
	DefaultBackupDelay   = 5 * time.Second
)

// Config configures a Guard.
type Config struct {
	// DecoyDirs get decoy files: one that sorts first, one that sorts
	// last and HiddenDecoys hidden ones that readdir returns early.
	DecoyDirs []string
	// ProtectedDirs are watched, recursively, for mass encryption.
	ProtectedDirs []string
	// BackupDir is the backup store's directory: only this process may
	// open files there for writing. Empty: Backup.Dir() when Backup is set.
	BackupDir string
	// Backup restores what a killed tree touched; nil: no restore.
	Backup *backup.Store
	// Window over which encrypted files are counted. 0: DefaultWindow.
	Window time.Duration
	// FileThreshold is how many files one process (or the children of one
	// parent) may encrypt within Window. 0: DefaultFileThreshold.
	FileThreshold int
	// EntropyMin in bits per byte for a 4 KiB sample. 0: DefaultEntropyMin.
	EntropyMin float64
	// SampleSize is how many leading bytes of a file are judged.
	// 0: DefaultSampleSize.
	SampleSize int
	// MaxDirs bounds the directories marked. 0: DefaultMaxDirs.
	MaxDirs int
	// HiddenDecoys per decoy directory. 0: DefaultHiddenDecoys; <0: none.
	HiddenDecoys int
	// DecoyCheck is how often missing or changed decoys are recreated.
	// 0: DefaultDecoyCheck.
	DecoyCheck time.Duration
	// BackupChanges backs up (Backup.BackupFile) files other processes
	// change in ProtectedDirs once they have been quiet for BackupDelay,
	// unless the change looked encrypted, so that restores are recent.
	BackupChanges bool
	// BackupDelay: 0 means DefaultBackupDelay.
	BackupDelay time.Duration
	// AlertOnly reports without killing, denying or restoring.
	AlertOnly bool
	// Host is the alerts' host name.
	Host string
	// Emit receives the alerts; it is called from one goroutine.
	Emit   func(*alert.Alert)
	Logger *slog.Logger
}

// Stats are the guard's counters.
type Stats struct {
	PermEvents     uint64 `json:"perm_events"`
	Allowed        uint64 `json:"allowed"`
	Denied         uint64 `json:"denied"`
	BackupDenied   uint64 `json:"backup_denied"`
	FailOpen       uint64 `json:"fail_open"` // allowed because the decision queue was full
	Notifications  uint64 `json:"notifications"`
	Overflows      uint64 `json:"overflows"`
	DecodeErrors   uint64 `json:"decode_errors"`
	Encrypted      uint64 `json:"encrypted"` // changes judged encrypted
	Kills          uint64 `json:"kills"`
	Restored       uint64 `json:"restored"`
	BackedUp       uint64 `json:"backed_up"`
	DecoysRestored uint64 `json:"decoys_restored"`
	DirsMarked     uint64 `json:"dirs_marked"`
}

type counters struct {
	permEvents, allowed, denied, backupDenied, failOpen, notifications, overflows, decodeErrors,
	encrypted, kills, restored, backedUp, decoysRestored, dirsMarked atomic.Uint64
}

// Guard is the anti-ransomware guard.
type Guard struct {
	cfg  Config
	log  *slog.Logger
	self int
	boot string

	permFile *os.File
	permFD   int
	notifFD  int

	dmu    sync.Mutex
	decoys map[string]*decoy // by path

	nmu     sync.Mutex // notification processing, marks and actors
	dirs    map[string]string
	marked  map[string]bool
	actors  map[int]*actor
	groups  map[int]*actor
	moves   map[int]string
	changed map[string]changeRec // files to back up, by path
	lineage map[int]lineage      // writers seen alive at a write-open
	buf     []byte
	recs    []fanotify.Record
	started bool

	decide    chan permEvent
	incidents chan *incident
	stop      chan struct{}
	closed    atomic.Bool
	wg        sync.WaitGroup
	st        counters
}

type decoy struct {
	path    string
	content []byte
}

type permEvent struct {
	fd, tid int
}

// actor is one process, or (group) the children of one parent.
type actor struct {
	pid      int
	start    uint64
	group    bool
	first    time.Time
	last     time.Time
	touched  map[string]bool      // changed, renamed away or deleted
	created  map[string]bool      // created or renamed to
	enc      map[string]time.Time // original path → when its encrypted content was seen
	encBy    map[int]bool         // pids that encrypted (groups)
	maxEnt   float64
	decoy    string
	decoyOp  string
	killed   bool
	proc     *alert.Process
	killRes  string
	killedN  int
	reported bool
}

type incident struct {
	a    *actor
	rule string
	h    *kill.Handle
}

// New checks cfg and returns a guard; Start begins guarding.
func New(cfg Config) (*Guard, error) {
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.FileThreshold <= 0 {
		cfg.FileThreshold = DefaultFileThreshold
	}
	if cfg.EntropyMin <= 0 {
		cfg.EntropyMin = DefaultEntropyMin
	}
	if cfg.SampleSize <= 0 {
		cfg.SampleSize = DefaultSampleSize
	}
	if cfg.MaxDirs <= 0 {
		cfg.MaxDirs = DefaultMaxDirs
	}
	if cfg.HiddenDecoys == 0 {
		cfg.HiddenDecoys = DefaultHiddenDecoys
	}
	if cfg.DecoyCheck <= 0 {
		cfg.DecoyCheck = DefaultDecoyCheck
	}
	if cfg.BackupDelay <= 0 {
		cfg.BackupDelay = DefaultBackupDelay
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.BackupDir == "" && cfg.Backup != nil {
		cfg.BackupDir = cfg.Backup.Dir()
	}
	clean := func(name string, ps []string) ([]string, error) {
		var out []string
		for i, p := range ps {
			if !filepath.IsAbs(p) {
				return nil, fmt.Errorf("ransom: %s[%d] %q: want an absolute path", name, i, p)
			}
			out = append(out, filepath.Clean(p))
		}
		return out, nil
	}
	var err error
	if cfg.DecoyDirs, err = clean("DecoyDirs", cfg.DecoyDirs); err != nil {
		return nil, err
	}
	if cfg.ProtectedDirs, err = clean("ProtectedDirs", cfg.ProtectedDirs); err != nil {
		return nil, err
	}
	if cfg.BackupDir != "" {
		if !filepath.IsAbs(cfg.BackupDir) {
			return nil, fmt.Errorf("ransom: BackupDir %q: want an absolute path", cfg.BackupDir)
		}
		cfg.BackupDir = filepath.Clean(cfg.BackupDir)
	}
	if len(cfg.DecoyDirs)+len(cfg.ProtectedDirs) == 0 && cfg.BackupDir == "" {
		return nil, errors.New("ransom: nothing to guard: no decoy, protected or backup directory")
	}
	boot, _ := kill.BootID()
	return &Guard{
		cfg: cfg, log: cfg.Logger, self: os.Getpid(), boot: boot,
		permFD: -1, notifFD: -1,
		decoys: map[string]*decoy{}, dirs: map[string]string{}, marked: map[string]bool{},
		actors: map[int]*actor{}, groups: map[int]*actor{}, moves: map[int]string{}, changed: map[string]changeRec{}, lineage: map[int]lineage{},
		buf: make([]byte, 64<<10), stop: make(chan struct{}),
	}, nil
}

// Stats returns the counters.
func (g *Guard) Stats() Stats {
	s := &g.st
	return Stats{
		PermEvents: s.permEvents.Load(), Allowed: s.allowed.Load(), Denied: s.denied.Load(),
		BackupDenied: s.backupDenied.Load(), FailOpen: s.failOpen.Load(), Notifications: s.notifications.Load(),
		Overflows: s.overflows.Load(), DecodeErrors: s.decodeErrors.Load(), Encrypted: s.encrypted.Load(),
		Kills: s.kills.Load(), Restored: s.restored.Load(), BackedUp: s.backedUp.Load(), DecoysRestored: s.decoysRestored.Load(),
		DirsMarked: s.dirsMarked.Load(),
	}
}

// Decoys lists the decoy files, sorted.
func (g *Guard) Decoys() []string {
	g.dmu.Lock()
	defer g.dmu.Unlock()
	out := make([]string, 0, len(g.decoys))
	for p := range g.decoys {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

const notifMask = unix.FAN_CLOSE_WRITE | unix.FAN_CREATE | unix.FAN_DELETE | unix.FAN_MOVED_FROM |
	unix.FAN_MOVED_TO | unix.FAN_EVENT_ON_CHILD | unix.FAN_ONDIR

// Start creates the decoys and the fanotify groups, marks the directories
// and guards until ctx ends or Close is called. It returns once guarding.
func (g *Guard) Start(ctx context.Context) (err error) {
	g.nmu.Lock()
	defer g.nmu.Unlock()
	if g.started {
		return errors.New("ransom: already started")
	}
	g.started = true
	defer func() {
		if err != nil {
			g.release()
		}
	}()
	if err := g.createDecoys(); err != nil {
		return err
	}
	if g.permFD, err = unix.FanotifyInit(unix.FAN_CLASS_CONTENT|unix.FAN_CLOEXEC|unix.FAN_NONBLOCK|unix.FAN_REPORT_TID,
		unix.O_RDONLY|unix.O_LARGEFILE|unix.O_CLOEXEC); err != nil {
		g.permFD = -1
		return fmt.Errorf("ransom: fanotify_init (permission group): %w", err)
	}
	if g.notifFD, err = unix.FanotifyInit(unix.FAN_CLASS_NOTIF|unix.FAN_CLOEXEC|unix.FAN_NONBLOCK|unix.FAN_REPORT_DFID_NAME,
		unix.O_RDONLY|unix.O_LARGEFILE|unix.O_CLOEXEC); err != nil {
		g.notifFD = -1
		return fmt.Errorf("ransom: fanotify_init with FAN_REPORT_DFID_NAME (Linux ≥ 5.9): %w", err)
	}
	for _, d := range g.cfg.ProtectedDirs {
		if err := g.markTree(d); err != nil {
			return err
		}
	}
	for _, d := range g.cfg.DecoyDirs {
		if err := g.markDir(d, notifMask&^unix.FAN_ONDIR, 0); err != nil {
			return err
		}
	}
	for _, p := range g.Decoys() {
		if err := g.markDecoy(p); err != nil {
			return err
		}
	}
	if g.cfg.BackupDir != "" {
		if err := os.MkdirAll(g.cfg.BackupDir, 0o700); err != nil {
			return fmt.Errorf("ransom: %w", err)
		}
		err := filepath.WalkDir(g.cfg.BackupDir, func(p string, de os.DirEntry, err error) error {
			if err != nil || !de.IsDir() {
				return err
			}
			return g.markDir(p, 0, unix.FAN_OPEN_PERM|unix.FAN_EVENT_ON_CHILD)
		})
		if err != nil {
			return fmt.Errorf("ransom: mark backup dir: %w", err)
		}
	}
	g.permFile = os.NewFile(uintptr(g.permFD), "fanotify-perm")
	g.decide = make(chan permEvent, 4096)
	g.incidents = make(chan *incident, 64)
	if g.cfg.BackupChanges && g.cfg.Backup != nil {
		g.wg.Add(1)
		go g.backupLoop()
	}
	g.wg.Add(5)
	go g.readPerm()
	go g.decider()
	go g.pollNotif()
	go g.respondLoop()
	go g.decoyLoop()
	go func() {
		select {
		case <-ctx.Done():
			g.Close()
		case <-g.stop:
		}
	}()
	return nil
}

// release closes what Start opened; nmu is held or Start failed.
func (g *Guard) release() {
	if g.permFile != nil {
		g.permFile.Close()
	} else if g.permFD >= 0 {
		unix.Close(g.permFD)
	}
	if g.notifFD >= 0 {
		unix.Close(g.notifFD)
		g.notifFD = -1
	}
	g.removeDecoys()
}

// Close stops the guard: pending opens are allowed by the kernel, and the
// decoys are removed.
func (g *Guard) Close() error {
	if !g.closed.CompareAndSwap(false, true) {
		return nil
	}
	close(g.stop)
	if g.permFile != nil {
		g.permFile.Close()
	}
	return nil
}

// Wait waits for the guard's goroutines after Close, then releases the
// notification group and removes the decoys.
func (g *Guard) Wait() {
	g.wg.Wait()
	g.nmu.Lock()
	defer g.nmu.Unlock()
	if g.notifFD >= 0 {
		unix.Close(g.notifFD)
		g.notifFD = -1
	}
	g.removeDecoys()
}

// markTree marks root and every directory under it; nmu is held.
func (g *Guard) markTree(root string) error {
	return filepath.WalkDir(root, func(p string, de os.DirEntry, err error) error {
		if err != nil {
			if p == root {
				return fmt.Errorf("ransom: protected dir: %w", err)
			}
			return nil
		}
		if !de.IsDir() {
			return nil
		}
		if g.cfg.BackupDir != "" && p == g.cfg.BackupDir {
			return filepath.SkipDir
		}
		return g.markDir(p, notifMask, unix.FAN_OPEN_PERM|unix.FAN_EVENT_ON_CHILD)
	})
}

// markDir marks one directory in the notification group (notif mask) and
// the permission group (perm mask); nmu is held.
func (g *Guard) markDir(dir string, notif, perm uint64) error {
	key := dir + "\x00" + strconv.FormatUint(notif, 16) + strconv.FormatUint(perm, 16)
	if g.marked[key] {
		return nil
	}
	if len(g.marked) >= g.cfg.MaxDirs {
		return fmt.Errorf("ransom: more than %d directories to mark (at %q): raise MaxDirs or protect fewer", g.cfg.MaxDirs, dir)
	}
	if notif != 0 {
		h, _, err := unix.NameToHandleAt(unix.AT_FDCWD, dir, 0)
		if err != nil {
			return fmt.Errorf("ransom: name_to_handle_at %q: %w", dir, err)
		}
		var st unix.Statfs_t
		if err := unix.Statfs(dir, &st); err != nil {
			return fmt.Errorf("ransom: statfs %q: %w", dir, err)
		}
		if err := unix.FanotifyMark(g.notifFD, unix.FAN_MARK_ADD|unix.FAN_MARK_ONLYDIR, notif, unix.AT_FDCWD, dir); err != nil {
			return fmt.Errorf("ransom: fanotify_mark %q: %w", dir, err)
		}
		if len(g.dirs) >= 4*g.cfg.MaxDirs {
			clear(g.dirs)
		}
		g.dirs[handleKey(st.Fsid.Val, h.Type(), h.Bytes())] = dir
	}
	if perm != 0 {
		if err := unix.FanotifyMark(g.permFD, unix.FAN_MARK_ADD|unix.FAN_MARK_ONLYDIR, perm, unix.AT_FDCWD, dir); err != nil {
			return fmt.Errorf("ransom: fanotify_mark %q for permission events: %w", dir, err)
		}
	}
	g.marked[key] = true
	g.st.dirsMarked.Add(1)
	return nil
}

func (g *Guard) markDecoy(p string) error {
	if err := unix.FanotifyMark(g.permFD, unix.FAN_MARK_ADD, unix.FAN_OPEN_PERM, unix.AT_FDCWD, p); err != nil {
		return fmt.Errorf("ransom: fanotify_mark decoy %q: %w", p, err)
	}
	return nil
}

func handleKey(fsid [2]int32, typ int32, h []byte) string {
	return fmt.Sprintf("%d:%d:%d:", fsid[0], fsid[1], typ) + string(h)
}

func under(p, root string) bool {
	return p == root || root == "/" || strings.HasPrefix(p, root+"/")
}

func (g *Guard) protected(p string) bool {
	if g.cfg.BackupDir != "" && under(p, g.cfg.BackupDir) {
		return false
	}
	for _, d := range g.cfg.ProtectedDirs {
		if under(p, d) {
			return true
		}
	}
	return false
}

func (g *Guard) decoyAt(p string) *decoy {
	g.dmu.Lock()
	defer g.dmu.Unlock()
	return g.decoys[p]
}

// isSelf reports whether task tid belongs to this process.
func (g *Guard) isSelf(tid int) bool {
	if tid == g.self {
		return true
	}
	var st unix.Stat_t
	return unix.Stat("/proc/self/task/"+strconv.Itoa(tid), &st) == nil
}

// readPerm reads permission events: the guard's own opens are allowed at
// once (the decider may be waiting on one), the rest are queued.
func (g *Guard) readPerm() {
	defer g.wg.Done()
	defer close(g.decide)
	buf := make([]byte, 256*unix.FAN_EVENT_METADATA_LEN)
	var recs []fanotify.Record
	for {
		n, err := g.permFile.Read(buf)
		if err != nil {
			if !g.closed.Load() {
				g.log.Error("ransom guard: read permission events", "error", err)
			}
			return
		}
		recs, err = fanotify.Decode(buf[:n], recs[:0])
		if err != nil {
			g.st.decodeErrors.Add(1)
		}
		for _, r := range recs {
			if r.Mask&unix.FAN_Q_OVERFLOW != 0 || r.FD < 0 {
				g.st.overflows.Add(1)
				continue
			}
			g.st.permEvents.Add(1)
			if g.isSelf(r.PID) {
				g.answer(r.FD, true)
				continue
			}
			select {
			case g.decide <- permEvent{fd: r.FD, tid: r.PID}:
			default:
				g.st.failOpen.Add(1)
				g.answer(r.FD, true)
			}
		}
	}
}

// answer responds to a permission event and closes its descriptor.
func (g *Guard) answer(fd int, allow bool) {
	if allow {
		g.st.allowed.Add(1)
	} else {
		g.st.denied.Add(1)
	}
	// ENOENT: the opener was killed meanwhile.
	fanotify.Answer(g.permFile, fd, allow)
	unix.Close(fd)
}

func (g *Guard) decider() {
	defer g.wg.Done()
	for ev := range g.decide {
		g.answer(ev.fd, g.allow(ev))
	}
}

// allow decides one open by another process.
func (g *Guard) allow(ev permEvent) bool {
	path, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(ev.fd))
	if err != nil {
		return true
	}
	d := g.decoyAt(path)
	inBackup := g.cfg.BackupDir != "" && under(path, g.cfg.BackupDir)
	if d == nil && !inBackup && !g.protected(path) {
		return true
	}
	intent := openIntent(ev.tid)
	if intent == intentUnknown {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(ev.tid) + "/syscall")
		g.log.Debug("ransom guard: open intent unknown", "tid", ev.tid, "path", path, "syscall", strings.TrimSpace(string(b)))
	}
	if intent == intentRead {
		return true
	}
	switch {
	case d != nil:
		if g.cfg.AlertOnly && intent == intentWrite {
			g.nmu.Lock()
			g.decoyHit(ev.tid, d, "open_write")
			g.nmu.Unlock()
			return true
		}
		if intent == intentWrite {
			g.nmu.Lock()
			g.decoyHit(ev.tid, d, "open_write")
			g.nmu.Unlock()
		}
		return false // unknown intent on a decoy: deny, no kill
	case inBackup:
		g.st.backupDenied.Add(1)
		g.log.Warn("ransom guard: denied a write-open in the backup directory", "path", path, "tid", ev.tid)
		return g.cfg.AlertOnly
	case intent == intentUnknown:
		return true
	}
	// A write-open in a protected directory: bring the counts up to date
	// with everything this process did before it.
	pid, err := tgidOf(ev.tid)
	if err != nil {
		return true
	}
	st, err := procStat(pid)
	if err != nil {
		return true
	}
	g.nmu.Lock()
	defer g.nmu.Unlock()
	// The opener is alive now; its changes may be read after it exits.
	if len(g.lineage) >= 4*maxActors {
		clear(g.lineage)
	}
	g.lineage[pid] = lineage{ppid: st.PPID, start: st.StartTime}
	g.drain()
	for _, a := range []*actor{g.actors[pid], g.groups[st.PPID]} {
		// A killed group's children are dying: none of them may open
		// anything for writing (an open answered after the restore would
		// truncate a restored file).
		if a != nil && a.killed && (!a.group || a.encBy[pid] || a.pid == st.PPID) {
			return g.cfg.AlertOnly
		}
	}
	// The open may truncate the file before any notification says so; if
	// this process is killed before it writes, the restore must still
	// cover the file.
	for _, a := range g.actorsFor(pid, time.Now()) {
		a.touched[path] = true
	}
	return true
}

func ppidOf(pid int) int {
	st, err := procStat(pid)
	if err != nil {
		return 0
	}
	return st.PPID
}

// pollNotif processes notifications as they arrive.
func (g *Guard) pollNotif() {
	defer g.wg.Done()
	t := time.NewTicker(g.cfg.Window / 4)
	defer t.Stop()
	for !g.closed.Load() {
		fds := []unix.PollFd{{Fd: int32(g.notifFD), Events: unix.POLLIN}}
		unix.Poll(fds, 200)
		g.nmu.Lock()
		g.drain()
		select {
		case <-t.C:
			g.expire(time.Now())
		default:
		}
		g.nmu.Unlock()
	}
}

// drain reads and handles every queued notification; nmu is held.
func (g *Guard) drain() {
	if g.notifFD < 0 {
		return
	}
	for {
		n, err := unix.Read(g.notifFD, g.buf)
		if err != nil || n <= 0 {
			return // EAGAIN: empty
		}
		g.recs, err = fanotify.Decode(g.buf[:n], g.recs[:0])
		if err != nil {
			g.st.decodeErrors.Add(1)
		}
		now := time.Now()
		for i := range g.recs {
			g.note(&g.recs[i], now)
		}
	}
}

// note handles one notification; nmu is held.
func (g *Guard) note(r *fanotify.Record, now time.Time) {
	g.st.notifications.Add(1)
	if r.Mask&unix.FAN_Q_OVERFLOW != 0 {
		g.st.overflows.Add(1)
		return
	}
	pid := r.PID
	var path string
	for _, in := range r.Infos {
		dir, ok := g.dirs[handleKey(in.FSID, in.HandleType, in.Handle)]
		if !ok {
			continue
		}
		path = dir
		if in.Name != "" && in.Name != "." {
			path = filepath.Join(dir, in.Name)
		}
	}
	if path == "" {
		g.st.decodeErrors.Add(1)
		return
	}
	m := r.Mask
	if m&unix.FAN_ONDIR != 0 {
		if m&(unix.FAN_CREATE|unix.FAN_MOVED_TO) != 0 && g.protected(path) {
			if err := g.markTree(path); err != nil {
				g.log.Warn("ransom guard: cannot watch new directory", "path", path, "error", err)
			}
		}
		return
	}
	if pid <= 0 || pid == g.self {
		return // the guard's own restores and decoys, or a pid from another namespace
	}
	if d := g.decoyAt(path); d != nil {
		switch {
		case m&unix.FAN_DELETE != 0:
			g.decoyHit(pid, d, "delete")
		case m&unix.FAN_MOVED_FROM != 0:
			g.decoyHit(pid, d, "rename")
		case m&unix.FAN_CLOSE_WRITE != 0:
			g.decoyHit(pid, d, "write")
		}
		return
	}
	if !g.protected(path) {
		return
	}
	acts := g.actorsFor(pid, now) // may be empty: a process gone before it was ever gated
	each := func(f func(a *actor)) {
		for _, a := range acts {
			a.last = now
			f(a)
		}
	}
	if m&unix.FAN_CREATE != 0 {
		each(func(a *actor) { a.created[path] = true })
	}
	if m&unix.FAN_CLOSE_WRITE != 0 {
		each(func(a *actor) { a.touched[path] = true })
		g.schedule(path, pid, g.judge(acts, pid, path, path, now), now)
	}
	if m&unix.FAN_MOVED_FROM != 0 {
		each(func(a *actor) { a.touched[path] = true })
		g.moves[pid] = path
	}
	if m&unix.FAN_MOVED_TO != 0 {
		from := g.moves[pid]
		delete(g.moves, pid)
		each(func(a *actor) { a.created[path] = true })
		orig := path
		if from != "" {
			orig = from
		}
		g.schedule(path, pid, g.judge(acts, pid, path, orig, now), now)
	}
	if m&unix.FAN_DELETE != 0 {
		each(func(a *actor) { a.touched[path] = true })
	}
	for _, a := range acts {
		if a.killed || a.count(now, g.cfg.Window) < g.cfg.FileThreshold || a.group && len(a.encBy) < 2 {
			continue
		}
		g.act(a, RuleBehaviour)
	}
}

// judge samples path's content and counts it against acts when it looks
// encrypted.
func (g *Guard) judge(acts []*actor, pid int, path, orig string, now time.Time) (encrypted bool) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOATIME|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		f, err = os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
		if err != nil {
			return false // gone already: the rename that follows is judged
		}
	}
	b := make([]byte, g.cfg.SampleSize)
	n, _ := f.ReadAt(b, 0)
	f.Close()
	v := Judge(b[:n], g.cfg.EntropyMin, nil, path, orig)
	if !v.Encrypted {
		return false
	}
	g.st.encrypted.Add(1)
	for _, a := range acts {
		if _, seen := a.enc[orig]; !seen {
			a.enc[orig] = now
		}
		a.encBy[pid] = true
		a.maxEnt = max(a.maxEnt, v.Entropy)
	}
	return true
}

type lineage struct {
	ppid  int
	start uint64
}

type changeRec struct {
	at  time.Time
	pid int
}

const maxChanged = 100000

// schedule notes a changed file for backup; nmu is held.
func (g *Guard) schedule(path string, pid int, encrypted bool, now time.Time) {
	if !g.cfg.BackupChanges || g.cfg.Backup == nil {
		return
	}
	if encrypted {
		delete(g.changed, path)
		return
	}
	if len(g.changed) < maxChanged {
		g.changed[path] = changeRec{now, pid}
	}
}

// backupLoop backs up changed files once quiet, skipping those whose
// writer has since been caught encrypting.
func (g *Guard) backupLoop() {
	defer g.wg.Done()
	t := time.NewTicker(max(g.cfg.BackupDelay/4, 50*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case now := <-t.C:
			var due []string
			g.nmu.Lock()
			for p, c := range g.changed {
				if now.Sub(c.at) < g.cfg.BackupDelay {
					continue
				}
				delete(g.changed, p)
				if a := g.actors[c.pid]; a != nil && (a.killed || len(a.enc) > 0) {
					continue
				}
				due = append(due, p)
			}
			g.nmu.Unlock()
			for _, p := range due {
				if _, err := g.cfg.Backup.BackupFile(p); err == nil {
					g.st.backedUp.Add(1)
				} else if !errors.Is(err, backup.ErrNotFound) {
					g.log.Warn("ransom guard: backup of a changed file", "path", p, "error", err)
				}
			}
		}
	}
}

func (a *actor) count(now time.Time, window time.Duration) int {
	n := 0
	for _, t := range a.enc {
		if now.Sub(t) <= window {
			n++
		}
	}
	return n
}

const maxActors = 4096

// actorsFor returns the process's actor and its parent's group; nmu is held.
func (g *Guard) actorsFor(pid int, now time.Time) []*actor {
	a := g.actors[pid]
	if a == nil {
		if len(g.actors) >= maxActors {
			g.expire(now)
			if len(g.actors) >= maxActors {
				return nil
			}
		}
		var ppid int
		if st, err := procStat(pid); err == nil {
			a = newActor(pid, st.StartTime, false, now)
			a.proc = procInfo(pid, g.boot)
			ppid = st.PPID
		} else if l, ok := g.lineage[pid]; ok {
			// Exited since its write-open: counted with its parent's group.
			a = newActor(pid, l.start, false, now)
			a.proc = &alert.Process{PID: pid}
			a.proc.Ancestors = []event.Ancestor{{PID: l.ppid}}
			ppid = l.ppid
		} else {
			return nil
		}
		g.actors[pid] = a
		st := struct{ PPID int }{ppid}
		if pp := st.PPID; pp > 1 && pp != g.self && !isAncestor(pp) {
			if g.groups[pp] == nil {
				pst, err := procStat(pp)
				if err == nil {
					grp := newActor(pp, pst.StartTime, true, now)
					grp.proc = procInfo(pp, g.boot)
					g.groups[pp] = grp
				}
			}
		}
	}
	out := []*actor{a}
	if pp := a.parent(); pp > 0 && g.groups[pp] != nil {
		out = append(out, g.groups[pp])
	}
	return out
}

func (a *actor) parent() int {
	if a.proc != nil && len(a.proc.Ancestors) > 0 {
		return a.proc.Ancestors[0].PID
	}
	return 0
}

func newActor(pid int, start uint64, group bool, now time.Time) *actor {
	return &actor{pid: pid, start: start, group: group, first: now, last: now,
		touched: map[string]bool{}, created: map[string]bool{}, enc: map[string]time.Time{}, encBy: map[int]bool{}}
}

// isAncestor reports whether pid is this process or one of its ancestors
// (never killed: kill.KillTree refuses them).
func isAncestor(pid int) bool {
	for p := os.Getpid(); p > 1; {
		if p == pid {
			return true
		}
		st, err := procStat(p)
		if err != nil {
			return false
		}
		p = st.PPID
	}
	return false
}

// expire forgets idle actors; nmu is held.
func (g *Guard) expire(now time.Time) {
	for _, m := range []map[int]*actor{g.actors, g.groups} {
		for pid, a := range m {
			if (!a.killed || a.reported) && now.Sub(a.last) > g.cfg.Window {
				delete(m, pid)
			}
		}
	}
	if len(g.moves) > maxActors {
		clear(g.moves)
	}
}

// decoyHit handles a decoy written, renamed or deleted by pid; nmu is held.
func (g *Guard) decoyHit(pid int, d *decoy, op string) {
	if tg, err := tgidOf(pid); err == nil {
		pid = tg
	}
	acts := g.actorsFor(pid, time.Now())
	if len(acts) == 0 {
		g.log.Warn("ransom guard: decoy touched by a process already gone", "decoy", d.path, "op", op, "pid", pid)
		g.st.decoysRestored.Add(uint64(g.ensureDecoys()))
		return
	}
	a := acts[0]
	if a.killed {
		return
	}
	a.decoy, a.decoyOp = d.path, op
	g.act(a, RuleDecoy)
}

// act kills a's tree (unless AlertOnly) and queues the incident; nmu is
// held. The kill happens here, while a write-open of the actor may still
// be waiting for its answer.
func (g *Guard) act(a *actor, rule string) {
	a.killed = true
	inc := &incident{a: a, rule: rule}
	if g.cfg.AlertOnly {
		a.killRes = "alert_only"
	} else {
		t := kill.Target{PID: a.pid, StartTime: a.start}
		h, herr := kill.Open(t)
		n, err := kill.KillTree(t)
		a.killedN = n
		switch {
		case err == nil:
			a.killRes = "ok"
			g.st.kills.Add(1)
		case errors.Is(err, kill.ErrGone):
			a.killRes = "skipped: process already exited"
		default:
			a.killRes = "failed: " + err.Error()
		}
		if herr == nil {
			inc.h = h
		}
		g.log.Warn("ransom guard: killed process tree", "rule", rule, "pid", a.pid, "killed", n, "error", err)
	}
	select {
	case g.incidents <- inc:
	default:
		g.log.Error("ransom guard: incident queue full; restore skipped", "pid", a.pid)
		if inc.h != nil {
			inc.h.Close()
		}
	}
}

// respondLoop restores and reports incidents, one at a time.
func (g *Guard) respondLoop() {
	defer g.wg.Done()
	for {
		select {
		case <-g.stop:
			return
		case inc := <-g.incidents:
			g.handleIncident(inc)
		}
	}
}

func (g *Guard) handleIncident(inc *incident) {
	a := inc.a
	if inc.h != nil {
		// Wait for the tree's root to die so that nothing it still does
		// lands after the restore.
		for i := 0; i < 200 && !inc.h.Exited(); i++ {
			time.Sleep(10 * time.Millisecond)
		}
		inc.h.Close()
	}
	g.nmu.Lock()
	g.drain()
	touched := mapKeys(a.touched)
	created := a.created
	var createdL []string
	for p := range created {
		createdL = append(createdL, p)
	}
	encCount, maxEnt := len(a.enc), a.maxEnt
	g.nmu.Unlock()

	ev := map[string]any{
		"files_touched":   len(touched),
		"files_encrypted": encCount,
		"entropy_max":     round2(maxEnt),
		"entropy_min":     g.cfg.EntropyMin,
		"threshold":       g.cfg.FileThreshold,
		"window_seconds":  g.cfg.Window.Seconds(),
		"kill_tree":       a.killRes,
		"killed":          a.killedN,
	}
	if len(touched) > 0 {
		ev["paths"] = capList(touched, 50)
	}
	if a.decoy != "" {
		ev["decoy"], ev["decoy_op"] = a.decoy, a.decoyOp
	}
	restoredN := 0
	switch {
	case g.cfg.AlertOnly:
		ev["restore"] = "skipped: alert only"
	case g.cfg.Backup == nil:
		ev["restore"] = "skipped: no backup store"
	default:
		all := slices.Clone(touched)
		for _, p := range createdL {
			if !a.touched[p] {
				all = append(all, p)
			}
		}
		sort.Strings(all)
		rep, err := g.cfg.Backup.RestoreFiles(all, a.first)
		if err != nil {
			ev["restore"] = "failed: " + err.Error()
			break
		}
		restoredN = len(rep.Restored)
		g.st.restored.Add(uint64(restoredN))
		ev["restored"] = restoredN
		var artefacts, unrecoverable []string
		for p := range rep.Failed {
			if !created[p] {
				if _, err := os.Lstat(p); err == nil || a.touched[p] {
					unrecoverable = append(unrecoverable, p)
				}
				continue
			}
			if moved, err := g.moveArtefact(p, a); err == nil && moved {
				artefacts = append(artefacts, p)
			}
		}
		sort.Strings(artefacts)
		sort.Strings(unrecoverable)
		ev["artefacts_removed"] = len(artefacts)
		if len(artefacts) > 0 {
			ev["artefacts"] = capList(artefacts, 50)
		}
		if len(unrecoverable) > 0 {
			ev["unrecoverable"] = capList(unrecoverable, 50)
		}
	}
	ev["decoys_restored"] = g.ensureDecoys()
	g.st.decoysRestored.Add(uint64(ev["decoys_restored"].(int)))

	title := "Ransomware: mass encryption of files"
	if inc.rule == RuleDecoy {
		title = "Ransomware: decoy file " + a.decoyOp
	}
	res := alert.Response{Action: "kill_tree", Result: a.killRes}
	if g.cfg.AlertOnly {
		res = alert.Response{Action: "kill_tree", Result: "alert_only"}
	}
	al := &alert.Alert{
		ID: alert.NewID(), Time: time.Now().UTC(), Host: g.cfg.Host,
		Rule:     alert.Rule{ID: inc.rule, Version: 1, Title: title},
		Severity: severity.Critical,
		Attack:   alert.Attack{Tactics: []string{"TA0040"}, Techniques: []string{"T1486"}},
		Process:  a.proc, Evidence: ev, Response: res, Count: max(1, encCount),
	}
	g.nmu.Lock()
	a.reported = true
	g.nmu.Unlock()
	if g.cfg.Emit != nil {
		g.cfg.Emit(al)
	}
}

// moveArtefact moves a file the attacker created out of the protected
// directory, into <BackupDir>/artefacts/<pid>-<time>/, or removes it when
// there is no backup directory on the same filesystem.
func (g *Guard) moveArtefact(p string, a *actor) (bool, error) {
	fi, err := os.Lstat(p)
	if err != nil || !fi.Mode().IsRegular() {
		return false, err
	}
	if g.cfg.BackupDir != "" {
		dir := filepath.Join(g.cfg.BackupDir, "artefacts", fmt.Sprintf("%d-%d", a.pid, a.first.Unix()))
		if err := os.MkdirAll(dir, 0o700); err == nil {
			to := filepath.Join(dir, strings.ReplaceAll(strings.TrimPrefix(p, "/"), "/", "%"))
			if err := os.Rename(p, to); err == nil {
				return true, nil
			}
		}
	}
	return true, os.Remove(p)
}

func mapKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func capList(s []string, n int) []string {
	if len(s) > n {
		return append(slices.Clone(s[:n]), fmt.Sprintf("… %d more", len(s)-n))
	}
	return s
}

func round2(f float64) float64 { return float64(int(f*100+0.5)) / 100 }
