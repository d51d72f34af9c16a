// Package enrich completes runtime events before the detection engine
// judges them. Sensors report what the kernel hands them at the moment of
// an event — often only the PID, start time and exec ID of the acting
// process — and rules want its executable, command line, user, parent,
// ancestry and container. The Enricher keeps a bounded process table
// (Table), seeded from /proc so processes older than the agent have
// parents, kept current by exec, fork and exit events, and filled lazily
// from /proc for processes whose exec was missed.
//
// What Apply fills, when the sensor did not:
//   - the acting process's fields from its table entry (for exec events the
//     event's own fields win and update the table), ev.Parent and
//     ev.Process.Ancestors (up to MaxAncestors, nearest first);
//   - User/EUser names from the host's passwd file (reloaded on change);
//   - ContainerID from /proc/PID/cgroup, and ev.Container from the Docker
//     engine (cached; an unknown container gets its ID only until a
//     background lookup answers);
//   - ExeHash, computed only for executables of exec events and never on
//     the pipeline's goroutine: an exec event carries it when the same
//     file version (device, inode, ctime) was hashed before; otherwise a
//     worker hashes it and every later event of the process (and of its
//     forked children) carries it. Processes seeded or read lazily from
//     /proc are not hashed (the processes collector inventories them);
//   - an ID-only ev.Container when lookups are off;
//   - Net.Internal and Net.Loopback; HostPID/HostNet/HostMnt by comparing
//     namespace inodes with the agent's own; ev.Target for ptrace events.
//
// Slices and pointers Apply puts in events (Args, Ancestors, Parent,
// Container) are shared between events and must be treated as read-only.
package enrich

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigilsec/vigil/internal/event"
	"github.com/vigilsec/vigil/internal/hashcache"
	"github.com/vigilsec/vigil/internal/procutil"
)

// Options configure an Enricher. The zero value enriches from the live
// host with the defaults below.
type Options struct {
	// ProcPath is the procfs to read; "" means /proc.
	ProcPath string
	// PasswdPath names users; "" means /etc/passwd.
	PasswdPath string
	// BootID is the first part of exec IDs; "" reads
	// ProcPath/sys/kernel/random/boot_id.
	BootID string
	// Capacity bounds the process table; 0 means DefaultCapacity.
	Capacity int
	// Grace is how long exited processes stay resolvable; 0 means
	// DefaultGrace.
	Grace time.Duration
	// InternalCIDRs are the networks Net.Internal means.
	InternalCIDRs []netip.Prefix

	// DockerSocket is the Docker engine's socket; "" means
	// DefaultDockerSocket. NoContainers turns container lookups off.
	DockerSocket string
	// DockerRoot is the engine's data root, whose state files are read
	// before the engine is asked; "" means DefaultDockerRoot, "-" none.
	DockerRoot   string
	NoContainers bool
	// ContainerTTL, ContainerRetry and LookupTimeout default to
	// DefaultContainerTTL, DefaultContainerRetry and DefaultLookupTimeout.
	ContainerTTL   time.Duration
	ContainerRetry time.Duration
	LookupTimeout  time.Duration

	// HashCache hashes executables; nil means a cache in memory only.
	// NoHash turns hashing off.
	HashCache *hashcache.Cache
	NoHash    bool
	// MaxHashSize is the largest executable hashed; 0 means
	// DefaultMaxHashSize.
	MaxHashSize int64
	// HashWorkers is the number of hashing goroutines; 0 means 1.
	HashWorkers int

	// Now is the clock; nil means the wall clock read every
	// coarseTick (a clock read per event costs more than the rest of
	// Apply on some virtual machines). Tests move it.
	Now func() time.Time
	// Logger receives warnings; nil means slog.Default().
	Logger *slog.Logger
}

// Enricher fills events from its process table and the host. Apply is
// meant to be called from one goroutine (the pipeline); everything is
// nonetheless safe for concurrent use. Close stops its workers.
type Enricher struct {
	proc   string
	bootID string
	// btime is the boot time (Unix seconds, /proc/stat), 0 if unknown:
	// it turns a process's start time into wall time.
	btime    int64
	now      func() time.Time
	logger   *slog.Logger
	internal []netip.Prefix
	hostNS   struct{ pid, mnt, net uint32 }

	t *Table
	// The fields below are guarded by t.mu.
	reader     *procReader
	users      *users
	lastSweep  time.Time
	cgroupCIDs map[uint64]string    // cgroup ID → container ID ("" for none)
	lazyMiss   map[string]time.Time // exec IDs /proc could not give, until when
	known      map[fileKey]string   // executable → SHA-256 hex
	stats      Stats

	containers *containerCache // nil when off
	hasher     *hasher         // nil when off

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Stats count what the enrichment did.
type Stats struct {
	Table TableStats `json:"table"`
	// Lazy processes were read from /proc on first sight; LazyMissed
	// events named a process /proc no longer had.
	Lazy       uint64 `json:"lazy"`
	LazyMissed uint64 `json:"lazy_missed"`
	// Unresolved events named no process the table or /proc knew.
	Unresolved uint64 `json:"unresolved"`
	// Hash counters: jobs queued, dropped (queue full), done, failed.
	HashQueued  uint64 `json:"hash_queued"`
	HashDropped uint64 `json:"hash_dropped"`
	Hashed      uint64 `json:"hashed"`
	HashFailed  uint64 `json:"hash_failed"`
	// ContainerLookups asked the engine; ContainerFailures got no answer
	// or "no such container".
	ContainerLookups  uint64 `json:"container_lookups"`
	ContainerFailures uint64 `json:"container_failures"`
}

const (
	maxCgroupCache = 4096
	maxLazyMiss    = 4096
	sweepEvery     = time.Second
)

// New returns an Enricher with an empty table; call Seed to fill it from
// /proc. It fails only when the boot ID cannot be read.
func New(opts Options) (*Enricher, error) {
	if opts.ProcPath == "" {
		opts.ProcPath = "/proc"
	}
	if opts.PasswdPath == "" {
		opts.PasswdPath = "/etc/passwd"
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.BootID == "" {
		p := filepath.Join(opts.ProcPath, "sys/kernel/random/boot_id")
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read boot ID: %w", err)
		}
		opts.BootID = strings.TrimSpace(string(b))
	}
	e := &Enricher{
		proc:       opts.ProcPath,
		bootID:     opts.BootID,
		now:        opts.Now,
		logger:     opts.Logger,
		t:          NewTable(opts.Capacity, opts.Grace, opts.BootID),
		reader:     newProcReader(opts.ProcPath, opts.BootID),
		users:      newUsers(opts.PasswdPath),
		cgroupCIDs: make(map[uint64]string),
		lazyMiss:   make(map[string]time.Time),
		known:      make(map[fileKey]string),
	}
	for _, p := range opts.InternalCIDRs {
		e.internal = append(e.internal, p.Masked())
	}
	self := filepath.Join(opts.ProcPath, "self")
	e.hostNS.pid = nsOf(self, "ns/pid")
	e.hostNS.mnt = nsOf(self, "ns/mnt")
	e.hostNS.net = nsOf(self, "ns/net")
	e.btime, _ = procutil.BootTime(opts.ProcPath) // 0: no reuse check
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	if e.now == nil {
		c := newCoarseClock()
		e.now = c.now
		e.wg.Go(func() { c.run(ctx) })
	}
	e.users.refresh(e.now())
	if !opts.NoContainers {
		sock := opts.DockerSocket
		if sock == "" {
			sock = DefaultDockerSocket
		}
		root := opts.DockerRoot
		switch root {
		case "":
			root = DefaultDockerRoot
		case "-":
			root = ""
		}
		e.containers = newContainerCache(sock, root,
			orDefault(opts.LookupTimeout, DefaultLookupTimeout),
			orDefault(opts.ContainerTTL, DefaultContainerTTL),
			orDefault(opts.ContainerRetry, DefaultContainerRetry), e.now)
		e.wg.Go(func() { e.containers.run(ctx) })
	}
	if !opts.NoHash {
		cache := opts.HashCache
		if cache == nil {
			cache = hashcache.Open("", hashcache.Options{Logger: opts.Logger})
		}
		maxSize := opts.MaxHashSize
		if maxSize <= 0 {
			maxSize = DefaultMaxHashSize
		}
		e.hasher = &hasher{
			cache: cache, maxSize: min(maxSize, hashcache.MaxFileSize), proc: opts.ProcPath,
			jobs: make(chan hashJob, hashQueue), store: e.storeHash,
		}
		for range max(opts.HashWorkers, 1) {
			e.wg.Go(func() { e.hasher.run(ctx) })
		}
	}
	return e, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func nsOf(dir, name string) uint32 {
	link, err := os.Readlink(filepath.Join(dir, name))
	if err != nil {
		return 0
	}
	return parseNSLink(link)
}

// Close stops the background workers and waits for them.
func (e *Enricher) Close() error {
	e.cancel()
	e.wg.Wait()
	return nil
}

// Table returns the process table.
func (e *Enricher) Table() *Table { return e.t }

// Seed fills the table from every process in the procfs. See Table.Seed.
func (e *Enricher) Seed() (int, error) {
	return e.t.Seed(e.proc)
}

// Stats returns the counters so far.
func (e *Enricher) Stats() Stats {
	e.t.mu.Lock()
	s := e.stats
	s.Table = e.t.stats
	s.Table.Entries = len(e.t.byExec)
	e.t.mu.Unlock()
	if h := e.hasher; h != nil {
		s.HashQueued, s.HashDropped = h.queued.Load(), h.dropped.Load()
		s.Hashed, s.HashFailed = h.hashed.Load(), h.failed.Load()
	}
	if c := e.containers; c != nil {
		s.ContainerLookups, s.ContainerFailures = c.lookups.Load(), c.failures.Load()
	}
	return s
}

// Apply fills the missing parts of ev from the process table and the
// host, and updates the table with what ev says (exec, fork, exit, and
// credential changes).
func (e *Enricher) Apply(ev *event.Event) {
	now := e.now()
	t := e.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if d := now.Sub(e.lastSweep); d >= sweepEvery || d < 0 {
		e.lastSweep = now
		t.sweep(now)
		if e.users.refresh(now) {
			t.gen++
		}
	}

	p := &ev.Process
	var en *entry
	switch ev.Kind {
	case event.Exec:
		en = e.exec(p)
	case event.Fork:
		en = e.fork(p)
	default:
		en = e.resolve(p, now, ev.Time)
	}
	if en == nil {
		if p.PID > 0 || p.ExecID != "" {
			e.stats.Unresolved++
		}
	} else {
		fill(p, &en.proc)
		switch ev.Kind {
		case event.SetID, event.Capset:
			e.updateCreds(en, ev.Cred)
		}
	}
	e.finish(p)
	if en != nil {
		p.Ancestors, ev.Parent = e.ancestry(en)
	} else if pe := t.get(p.ParentExecID); pe != nil && p.ParentExecID != "" {
		// An unknown process whose sensor named its parent.
		ev.Parent = e.view(pe)
		anc, _ := e.ancestry(pe)
		p.Ancestors = append([]event.Ancestor{ancestorOf(ev.Parent)}, anc[:min(len(anc), MaxAncestors-1)]...)
	}
	if ev.Kind == event.Exit && en != nil {
		t.exit(en, now)
	}

	if p.ContainerID != "" && ev.Container == nil {
		if e.containers != nil {
			if ev.Kind == event.Exec {
				// A container's first processes are often gone before a
				// background lookup answers, and rules about containers
				// need its configuration: an exec in an unknown container
				// asks now, bounded by the lookup timeout (a failure is
				// cached as such, so this happens once per container).
				ev.Container = e.containers.resolve(context.Background(), p.ContainerID)
			} else {
				ev.Container = e.containers.get(p.ContainerID, now)
			}
		} else {
			ev.Container = &event.Container{ID: p.ContainerID}
		}
	}
	if ev.Net != nil {
		e.network(ev.Net, ev.Kind)
	}
	if ev.Target != nil {
		if te := e.resolve(ev.Target, now, ev.Time); te != nil {
			fill(ev.Target, &te.proc)
		}
		e.finish(ev.Target)
	}
}

// finish sets the user names and host-namespace flags of p.
func (e *Enricher) finish(p *event.Process) {
	if p.User == "" {
		p.User = e.users.name(p.UID)
	}
	if p.EUser == "" {
		p.EUser = e.users.name(p.EUID)
	}
	if !p.HostPID && p.PIDNS != 0 && e.hostNS.pid != 0 {
		p.HostPID = p.PIDNS == e.hostNS.pid
	}
	if !p.HostMnt && p.MntNS != 0 && e.hostNS.mnt != 0 {
		p.HostMnt = p.MntNS == e.hostNS.mnt
	}
	if !p.HostNet && p.NetNS != 0 && e.hostNS.net != 0 {
		p.HostNet = p.NetNS == e.hostNS.net
	}
}

// setExecID derives p.ExecID from the PID and start time when missing.
func (e *Enricher) setExecID(p *event.Process) {
	if p.ExecID == "" && p.StartTime != 0 && p.PID > 0 {
		p.ExecID = event.ExecID(e.bootID, p.StartTime, p.PID)
	}
}

// resolve finds the entry of the process p names: by exec ID, else by
// PID; a process the table does not know is read from /proc when it is
// still alive (and, if p names a start time, the same process). A PID
// alone, from an event that happened at a known time (at), names a
// process only if that process had started by then: the PID in a log line
// read later may have been reused.
func (e *Enricher) resolve(p *event.Process, now, at time.Time) *entry {
	t := e.t
	e.setExecID(p)
	if p.ExecID != "" {
		if en := t.get(p.ExecID); en != nil {
			t.touch(en)
			return en
		}
		start, pid, ok := parseExecID(p.ExecID)
		if !ok {
			start, pid = p.StartTime, p.PID
		}
		if pid <= 0 || start == 0 {
			return nil
		}
		if until, ok := e.lazyMiss[p.ExecID]; ok && now.Before(until) {
			return nil
		}
		if en := e.lazy(pid, start, 0); en != nil && en.proc.ExecID == p.ExecID {
			return en
		}
		e.stats.LazyMissed++
		if len(e.lazyMiss) >= maxLazyMiss {
			clear(e.lazyMiss)
		}
		e.lazyMiss[p.ExecID] = now.Add(t.grace)
		return nil
	}
	if p.PID <= 0 {
		return nil
	}
	en := t.byPID[p.PID]
	if en != nil && !e.startedBy(&en.proc, at) {
		en = nil // a later process with the same PID
	}
	if en != nil && en.exited.IsZero() {
		t.touch(en)
		return en
	}
	// Exited (a late event, or a reused PID) or unknown: /proc decides.
	if l := e.lazy(p.PID, 0, 0); l != nil && e.startedBy(&l.proc, at) {
		return l
	}
	return en
}

// startSlack allows for the second resolution of log timestamps and of
// the boot time.
const startSlack = 2 * time.Second

// userHZ is the unit of /proc start times (clock ticks per second).
const userHZ = 100

// startedBy reports whether p had started by at, as far as is known.
func (e *Enricher) startedBy(p *event.Process, at time.Time) bool {
	if at.IsZero() || e.btime == 0 || p.StartTime == 0 {
		return true
	}
	start := time.Unix(e.btime, 0).Add(time.Duration(p.StartTime) * (time.Second / userHZ))
	return !start.After(at.Add(startSlack))
}

// lazy reads pid from /proc and adds it, with its missing parents, to the
// table. With start ≠ 0 the process must have started then. depth bounds
// the recursion to the ancestry the events show.
func (e *Enricher) lazy(pid int, start uint64, depth int) *entry {
	t := e.t
	p, err := e.reader.read(pid)
	if err != nil {
		if !procutil.Gone(err) && !errors.Is(err, os.ErrPermission) {
			e.logger.Debug("read process", "pid", pid, "error", err)
		}
		return nil
	}
	if start != 0 && p.StartTime != start {
		return nil
	}
	if en := t.get(p.ExecID); en != nil {
		return en
	}
	if pe := e.parentOf(p.PPID, p.StartTime, depth); pe != nil {
		p.ParentExecID = pe.proc.ExecID
	}
	e.stats.Lazy++
	t.gen++ // cached chains may have stopped short of this process
	return t.insert(&p)
}

// parentOf finds the parent of a process that started at childStart,
// from the PID index or /proc.
func (e *Enricher) parentOf(ppid int, childStart uint64, depth int) *entry {
	if ppid <= 0 {
		return nil
	}
	if pe := e.t.byPID[ppid]; pe != nil && pe.exited.IsZero() && pe.proc.StartTime <= childStart {
		return pe
	}
	if depth >= MaxAncestors {
		return nil
	}
	pe := e.lazy(ppid, 0, depth+1)
	if pe == nil || pe.proc.StartTime > childStart {
		return nil
	}
	return pe
}

// exec records a new image for the exec ID of p and returns its entry.
func (e *Enricher) exec(p *event.Process) *entry {
	t := e.t
	e.setExecID(p)
	if p.ExecID == "" {
		// A sensor that knows neither exec ID nor start time: /proc does.
		if p.PID <= 0 {
			return nil
		}
		st, err := e.reader.startTime(p.PID)
		if err != nil {
			return nil
		}
		p.StartTime = st
		e.setExecID(p)
	}
	if p.ContainerID == "" && p.PID > 0 {
		p.ContainerID = e.containerID(p.PID, p.CgroupID)
	}
	en := t.get(p.ExecID)
	if en == nil {
		if p.ParentExecID == "" {
			if pe := e.parentOf(p.PPID, p.StartTime, 0); pe != nil {
				p.ParentExecID = pe.proc.ExecID
			}
		}
		en = t.insert(p)
	} else {
		img := *p
		img.Ancestors = nil
		inherit(&img, &en.proc)
		en.prevExe = en.proc.Exe
		parent := img.ParentExecID
		img.ParentExecID = en.proc.ParentExecID
		en.proc = img
		if parent != en.proc.ParentExecID {
			t.setParent(en, parent)
		}
		en.ancGen, en.viewGen = 0, 0
		if en.children > 0 {
			t.gen++ // this image shows in its children's chains
		}
		t.touch(en)
	}
	e.hash(en)
	return en
}

// inherit copies into an exec'd image what survives exec and the event
// did not say: parent, cwd, tty, container, start time, stdio and
// namespaces.
func inherit(img, old *event.Process) {
	if img.PPID == 0 {
		img.PPID = old.PPID
	}
	if img.ParentExecID == "" {
		img.ParentExecID = old.ParentExecID
	}
	if img.StartTime == 0 {
		img.StartTime = old.StartTime
	}
	fillString(&img.CWD, old.CWD)
	fillString(&img.TTY, old.TTY)
	fillString(&img.ContainerID, old.ContainerID)
	if img.CgroupID == 0 {
		img.CgroupID = old.CgroupID
	}
	fillString(&img.Stdin, old.Stdin)
	fillString(&img.Stdout, old.Stdout)
	fillString(&img.Stderr, old.Stderr)
	fillNS(img, old)
}

// fork records a new process that runs its parent's image.
func (e *Enricher) fork(p *event.Process) *entry {
	t := e.t
	e.setExecID(p)
	if p.ExecID == "" {
		return e.resolve(p, e.now(), time.Time{})
	}
	if en := t.get(p.ExecID); en != nil {
		t.touch(en)
		return en
	}
	var pe *entry
	if p.ParentExecID != "" {
		pe = t.get(p.ParentExecID)
	}
	if pe == nil {
		pe = e.parentOf(p.PPID, p.StartTime, 0)
	}
	if pe == nil {
		return t.insert(p)
	}
	// The child runs its parent's image with its parent's credentials;
	// what the event says of it wins.
	child := pe.proc
	child.PID, child.TID, child.ExecID, child.StartTime = p.PID, p.TID, p.ExecID, p.StartTime
	child.PPID, child.ParentExecID = p.PPID, p.ParentExecID
	if child.PPID == 0 {
		child.PPID = pe.proc.PID
	}
	fillString(&child.ParentExecID, pe.proc.ExecID)
	if p.Name != "" {
		child.Name = p.Name
	}
	if p.UID|p.EUID|p.GID|p.EGID != 0 {
		child.UID, child.EUID, child.GID, child.EGID = p.UID, p.EUID, p.GID, p.EGID
	}
	if p.CgroupID != 0 {
		child.CgroupID = p.CgroupID
	}
	if p.ContainerID != "" {
		child.ContainerID = p.ContainerID
	}
	return t.insert(&child)
}

// updateCreds keeps the table's credentials current after setid and
// capset events, so later events the sensors fill less get them right.
func (e *Enricher) updateCreds(en *entry, c *event.CredInfo) {
	if c == nil {
		return
	}
	if c.Syscall == "capset" {
		en.proc.CapEff = c.NewCapEff
	} else {
		en.proc.UID, en.proc.EUID, en.proc.GID, en.proc.EGID = c.NewUID, c.NewEUID, c.NewGID, c.NewEGID
		if c.NewCapEff != 0 || c.OldCapEff != 0 {
			en.proc.CapEff = c.NewCapEff
		}
	}
	if en.children > 0 {
		e.t.gen++
	}
	en.ancGen, en.viewGen = 0, 0
}

// containerID reads the container of pid from its cgroup file, cached
// by cgroup ID when the sensor gave one.
func (e *Enricher) containerID(pid int, cgroupID uint64) string {
	if cgroupID != 0 {
		if id, ok := e.cgroupCIDs[cgroupID]; ok {
			return id
		}
	}
	b, err := e.reader.readFile(filepath.Join(e.proc, strconv.Itoa(pid), "cgroup"))
	if err != nil {
		return ""
	}
	id := procutil.ContainerID(b)
	if cgroupID != 0 {
		if len(e.cgroupCIDs) >= maxCgroupCache {
			clear(e.cgroupCIDs)
		}
		e.cgroupCIDs[cgroupID] = id
	}
	return id
}

// hash gives en its executable's digest when known, else queues a job.
func (e *Enricher) hash(en *entry) {
	p := &en.proc
	if e.hasher == nil || p.ExeHash != "" || p.Exe == "" {
		return
	}
	key := fileKey{dev: p.ExeDev, ino: p.ExeInode, ctime: p.ExeCtime}
	if key.ino != 0 && key.ctime != 0 {
		if sum, ok := e.known[key]; ok {
			p.ExeHash = sum
			return
		}
	}
	e.hasher.enqueue(hashJob{execID: p.ExecID, pid: p.PID, start: p.StartTime, exe: p.Exe, key: key})
}

// storeHash records a worker's digest. It runs on the worker.
func (e *Enricher) storeHash(j hashJob, key fileKey, sum string) {
	e.t.mu.Lock()
	defer e.t.mu.Unlock()
	if len(e.known) >= maxKnown {
		clear(e.known)
	}
	e.known[key] = sum
	en := e.t.get(j.execID)
	if en == nil || en.proc.ExeHash != "" || en.proc.Exe != j.exe {
		return // gone, or exec'd again meanwhile
	}
	if en.proc.ExeInode != 0 && (en.proc.ExeInode != key.ino || en.proc.ExeDev != key.dev) {
		return
	}
	en.proc.ExeHash = sum
	en.viewGen = 0
	if en.proc.ExeInode == 0 {
		en.proc.ExeDev, en.proc.ExeInode, en.proc.ExeCtime = key.dev, key.ino, key.ctime
	}
}

// network sets the flags of the remote address: the destination, or the
// source for an accepted connection.
func (e *Enricher) network(n *event.Network, kind event.Kind) {
	remote := n.DstIP
	if kind == event.Accept {
		remote = n.SrcIP
	}
	if remote == "" || kind == event.Listen {
		return
	}
	addr, err := netip.ParseAddr(remote)
	if err != nil {
		return
	}
	addr = addr.Unmap()
	if addr.IsLoopback() {
		n.Loopback = true
	}
	for _, p := range e.internal {
		if p.Contains(addr) {
			n.Internal = true
			return
		}
	}
}

// ancestry returns en's ancestor chain and its parent's view. The chain
// is cached in the entry, the view in the parent's entry (all its
// children share it), until the table's generation changes.
func (e *Enricher) ancestry(en *entry) ([]event.Ancestor, *event.Process) {
	t := e.t
	pe := t.get(en.proc.ParentExecID)
	if pe == nil || pe == en {
		return nil, nil
	}
	if en.ancGen != t.gen+1 {
		// Walk twice: once to size the chain, so it costs no more than
		// it holds.
		n := 0
		for a := pe; a != nil && n < MaxAncestors; a = t.get(a.proc.ParentExecID) {
			n++
			if a.proc.ParentExecID == a.proc.ExecID {
				break
			}
		}
		en.anc = make([]event.Ancestor, 0, n)
		for a := pe; len(en.anc) < n; a = t.get(a.proc.ParentExecID) {
			en.anc = append(en.anc, event.Ancestor{
				PID: a.proc.PID, ExecID: a.proc.ExecID, Exe: a.proc.Exe, Name: a.proc.Name,
				Cmdline: a.proc.Cmdline, User: e.users.name(a.proc.UID), UID: a.proc.UID,
			})
		}
		en.ancGen = t.gen + 1
	}
	return en.anc, e.view(pe)
}

// view returns en's process as event.Parent shows it: with user names
// and host-namespace flags, without ancestors; cached in the entry.
func (e *Enricher) view(en *entry) *event.Process {
	if en.view == nil || en.viewGen != e.t.gen+1 {
		v := en.proc
		e.finish(&v)
		en.view, en.viewGen = &v, e.t.gen+1
	}
	return en.view
}

func ancestorOf(p *event.Process) event.Ancestor {
	return event.Ancestor{PID: p.PID, ExecID: p.ExecID, Exe: p.Exe, Name: p.Name, Cmdline: p.Cmdline, User: p.User, UID: p.UID}
}

// fill copies into dst what src knows and dst does not. Credentials are
// the sensor's: they are filled only when dst carries none beyond a uid
// that agrees with the table, so a process that changed its uid since
// its exec is never shown with the old one.
func fill(dst, src *event.Process) {
	if dst.PID == 0 {
		dst.PID = src.PID
	}
	if dst.PPID == 0 {
		dst.PPID = src.PPID
	}
	fillString(&dst.ExecID, src.ExecID)
	fillString(&dst.ParentExecID, src.ParentExecID)
	if dst.StartTime == 0 {
		dst.StartTime = src.StartTime
	}
	if dst.Exe == "" {
		dst.Exe, dst.ExeDeleted, dst.ExeMemfd = src.Exe, src.ExeDeleted, src.ExeMemfd
		dst.ExeDev, dst.ExeInode, dst.ExeCtime = src.ExeDev, src.ExeInode, src.ExeCtime
	}
	if dst.ExeHash == "" && dst.Exe == src.Exe && (dst.ExeInode == 0 || dst.ExeInode == src.ExeInode) {
		dst.ExeHash = src.ExeHash
	}
	fillString(&dst.Name, src.Name)
	if dst.Args == nil {
		dst.Args = src.Args
	}
	fillString(&dst.Cmdline, src.Cmdline)
	fillString(&dst.CWD, src.CWD)
	fillString(&dst.TTY, src.TTY)
	if dst.EUID == 0 && dst.GID == 0 && dst.EGID == 0 && dst.CapEff == 0 && dst.UID == src.UID {
		dst.EUID, dst.GID, dst.EGID, dst.CapEff = src.EUID, src.GID, src.EGID, src.CapEff
	}
	if dst.AUID == 0 {
		dst.AUID = src.AUID
	}
	if dst.CgroupID == 0 {
		dst.CgroupID = src.CgroupID
	}
	fillString(&dst.ContainerID, src.ContainerID)
	fillString(&dst.Stdin, src.Stdin)
	fillString(&dst.Stdout, src.Stdout)
	fillString(&dst.Stderr, src.Stderr)
	fillNS(dst, src)
}

func fillNS(dst, src *event.Process) {
	if dst.PIDNS == 0 {
		dst.PIDNS, dst.HostPID = src.PIDNS, dst.HostPID || src.HostPID
	}
	if dst.MntNS == 0 {
		dst.MntNS, dst.HostMnt = src.MntNS, dst.HostMnt || src.HostMnt
	}
	if dst.NetNS == 0 {
		dst.NetNS, dst.HostNet = src.NetNS, dst.HostNet || src.HostNet
	}
}

func fillString(dst *string, src string) {
	if *dst == "" {
		*dst = src
	}
}

// coarseTick is the resolution of the default clock: ample for a grace
// of seconds and cache lifetimes of minutes.
const coarseTick = 50 * time.Millisecond

// coarseClock is time.Now read every coarseTick by its own goroutine.
type coarseClock struct{ t atomic.Pointer[time.Time] }

func newCoarseClock() *coarseClock {
	c := &coarseClock{}
	now := time.Now()
	c.t.Store(&now)
	return c
}

func (c *coarseClock) now() time.Time { return *c.t.Load() }

func (c *coarseClock) run(ctx context.Context) {
	tick := time.NewTicker(coarseTick)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			c.t.Store(&now)
		}
	}
}

// Container returns the details of container id, asking the engine now if
// they are not known yet: the first events of a new container carry only
// its ID, and an alert about one should name its image. Nil when
// container lookups are off.
func (e *Enricher) Container(ctx context.Context, id string) *event.Container {
	if e.containers == nil || id == "" {
		return nil
	}
	return e.containers.resolve(ctx, id)
}
