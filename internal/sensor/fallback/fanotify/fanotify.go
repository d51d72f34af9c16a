// Package fanotify is the fallback file sensor: when eBPF cannot run, it
// reports actions on watched paths from two fanotify groups.
//
// The write group is initialised with FAN_REPORT_DFID_NAME (Linux ≥ 5.9)
// and marks whole filesystems (FAN_MARK_FILESYSTEM): inode marks would see
// only direct children of a directory and mount marks cannot carry
// directory-entry events, so a filesystem mark is the one way to see
// everything under a watched directory. Every event of the filesystem
// reaches user space; those outside WriteWatch are counted in
// Stats().Filtered. Each event names a directory by file handle plus an
// entry name; the handle is opened with open_by_handle_at against an fd on
// the same filesystem and the path read back from /proc/self/fd. Events map
// to ops as follows:
//   - FAN_CREATE → create; FAN_DELETE → unlink (rmdir too).
//   - FAN_RENAME (Linux ≥ 5.17) → rename with both paths. On older kernels
//     FAN_MOVED_FROM and FAN_MOVED_TO are paired when the second follows the
//     first from the same PID; an unpaired half is a rename with one path.
//   - FAN_MODIFY / FAN_CLOSE_WRITE → open_write, once per (PID, path) until
//     the file is closed, and not after that PID created the path.
//   - FAN_ATTRIB → chmod or chown, told apart by comparing the file's stat
//     with the last one seen (bounded cache); when there is none the change
//     is reported as chmod with the current mode and owner. Changes of only
//     times or xattrs are filtered.
//
// The read group cannot use DFID_NAME cheaply for FAN_OPEN: marking whole
// filesystems for opens would send every open on the host to user space.
// So it is a second group with fd reporting and inode marks on the
// ReadWatch files (a directory entry watches the files directly in it).
// The path is read from the event's fd. fanotify does not report open
// flags, so every open of a read-watched file is reported as open_read. A
// read-watched file replaced by rename or create (as passwd does with
// /etc/shadow) is marked again when the write group sees it.
//
// The read group is a FAN_CLASS_CONTENT group taking FAN_OPEN_PERM events
// where the kernel allows them: the opener waits in open(2) while the
// sensor reads who it is from /proc, and is then always allowed. A
// notification would arrive after a short-lived reader (cat /etc/shadow)
// had exited and could only be reported by PID. The wait is a readlink
// and a few /proc reads; if the agent stops, the kernel allows the
// pending opens when the group is closed. Without permission events
// (CONFIG_FANOTIFY_ACCESS_PERMISSIONS unset) the group is FAN_CLASS_NOTIF
// with FAN_OPEN, and Status().Reason says so.
//
// Queue overflows (FAN_Q_OVERFLOW) count one each in Stats().KernelDropped;
// the number of events lost with them is not known. The queue is the
// kernel's default (16384 events); an unlimited queue would let a file
// storm grow kernel memory without bound.
package fanotify

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigilsec/vigil/internal/event"
	"github.com/vigilsec/vigil/internal/sensor"
	"github.com/vigilsec/vigil/internal/sensor/fallback/internal/procread"
)

// Name is the sensor's name, shared with the eBPF file sensor.
const Name = "file"

// Source is the event.Event Source of this sensor's events.
const Source = "fanotify"

// Config says what to watch. Entries are absolute paths matched as byte
// prefixes of the event's absolute path, as in the eBPF file sensor: an
// entry ending in "/" is a directory subtree, "/etc/passwd" matches
// "/etc/passwd" and "/etc/passwd-".
type Config struct {
	// WriteWatch are the paths whose changes are reported.
	WriteWatch []string
	// ReadWatch are files (or directories, for the files directly in them)
	// whose opens are reported. Entries that do not exist at Start are
	// listed in Status().Reason and not watched.
	ReadWatch []string
	// ProcPath is the procfs to read acting processes from; default "/proc".
	ProcPath string
}

// cacheMax bounds each of the sensor's small caches; a full cache is
// cleared, which costs only precision (a chmod reported without its
// predecessor's stat, an extra open_write).
const cacheMax = 4096

// Sensor is the fanotify file sensor.
type Sensor struct {
	cfg Config

	events, kernelDropped, sinkDropped, filtered, decodeErrors atomic.Uint64

	mu      sync.Mutex
	status  sensor.Status
	started bool
	closed  bool
	files   []*os.File // write group, read group
	closeFn sync.Once
	done    chan struct{}
	wg      sync.WaitGroup

	sink   sensor.Sink
	readFD int // the read group's fd, for re-marking
	// readMask is the read group's event: FAN_OPEN_PERM, or FAN_OPEN
	// where permission events are unavailable.
	readMask uint64
	readFile *os.File // the read group, to answer permission events on
	mountFDs map[[2]int32]int
	renameOK bool // FAN_RENAME is supported

	// Owned by the write-group goroutine.
	writing map[string]struct{} // pid + "\x00" + path with open_write reported or created
	attrs   map[string]attr
	dirs    map[string]string // file handle → last resolved directory path
	pending *move
	wbuf    []byte // readlink buffer of the write goroutine
	rbuf    []byte // and of the read goroutine
}

type attr struct{ mode, uid, gid uint32 }

type move struct {
	path string
	rec  Record
}

var _ sensor.Sensor = (*Sensor)(nil)

// New checks cfg and returns a sensor that is not yet attached.
func New(cfg Config) (*Sensor, error) {
	if cfg.ProcPath == "" {
		cfg.ProcPath = "/proc"
	}
	for _, list := range []struct {
		name  string
		paths []string
	}{{"WriteWatch", cfg.WriteWatch}, {"ReadWatch", cfg.ReadWatch}} {
		for i, p := range list.paths {
			if !filepath.IsAbs(p) || filepath.Clean(p) != strings.TrimSuffix(p, "/") && p != "/" {
				return nil, fmt.Errorf("fanotify: %s[%d] %q: want an absolute, clean path", list.name, i, p)
			}
		}
	}
	if len(cfg.WriteWatch) == 0 && len(cfg.ReadWatch) == 0 {
		return nil, errors.New("fanotify: nothing to watch: WriteWatch and ReadWatch are empty")
	}
	return &Sensor{
		cfg:      cfg,
		status:   sensor.Status{Name: Name, Mode: sensor.ModeOff, Reason: "not started"},
		done:     make(chan struct{}),
		readFD:   -1,
		mountFDs: make(map[[2]int32]int),
		writing:  make(map[string]struct{}),
		attrs:    make(map[string]attr),
		dirs:     make(map[string]string),
		wbuf:     make([]byte, unix.PathMax),
		rbuf:     make([]byte, unix.PathMax),
	}, nil
}

// Name returns "file".
func (s *Sensor) Name() string { return Name }

const writeMask = unix.FAN_CREATE | unix.FAN_DELETE | unix.FAN_MODIFY | unix.FAN_CLOSE_WRITE |
	unix.FAN_ATTRIB | unix.FAN_ONDIR

// Start creates the groups and marks, and delivers events to sink until
// ctx ends or Close is called.
func (s *Sensor) Start(ctx context.Context, sink sensor.Sink) (err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.closed {
		return errors.New("fanotify: already started")
	}
	s.sink = sink
	defer func() {
		if err != nil {
			s.release()
			s.status.Reason = err.Error()
		}
	}()
	var attach, notes []string
	var readNote string
	if len(s.cfg.WriteWatch) > 0 {
		fd, err := unix.FanotifyInit(unix.FAN_CLASS_NOTIF|unix.FAN_CLOEXEC|unix.FAN_NONBLOCK|unix.FAN_REPORT_DFID_NAME,
			unix.O_RDONLY|unix.O_CLOEXEC|unix.O_LARGEFILE)
		if err != nil {
			return fmt.Errorf("fanotify: init write group with FAN_REPORT_DFID_NAME (Linux ≥ 5.9): %w", err)
		}
		s.files = append(s.files, os.NewFile(uintptr(fd), "fanotify-write"))
		for _, p := range s.cfg.WriteWatch {
			a, err := s.markFilesystem(fd, p)
			if err != nil {
				return err
			}
			if a != "" {
				attach = append(attach, a)
			}
		}
	}
	if len(s.cfg.ReadWatch) > 0 {
		const readFlags = unix.O_RDONLY | unix.O_CLOEXEC | unix.O_LARGEFILE | unix.O_NOATIME
		s.readMask = unix.FAN_OPEN_PERM
		fd, err := unix.FanotifyInit(unix.FAN_CLASS_CONTENT|unix.FAN_CLOEXEC|unix.FAN_NONBLOCK, readFlags)
		if err != nil {
			permErr := err
			s.readMask = unix.FAN_OPEN
			fd, err = unix.FanotifyInit(unix.FAN_CLASS_NOTIF|unix.FAN_CLOEXEC|unix.FAN_NONBLOCK, readFlags)
			if err != nil {
				return fmt.Errorf("fanotify: init read group: %w", err)
			}
			readNote = fmt.Sprintf("; no permission events (%v): a reader that exits at once is reported by PID only", permErr)
		}
		s.readFile = os.NewFile(uintptr(fd), "fanotify-read")
		s.files = append(s.files, s.readFile)
		s.readFD = fd
		for _, p := range s.cfg.ReadWatch {
			if err := markRead(fd, p, s.readMask); err != nil {
				if errors.Is(err, unix.ENOENT) {
					notes = append(notes, p+" does not exist")
					continue
				}
				return err
			}
			attach = append(attach, "fanotify/inode:"+p)
		}
	}
	reason := "eBPF unavailable; fanotify: changes from filesystem marks filtered by path in user space, opens from inode marks on read-watched files (open flags unknown)" + readNote
	if !s.renameOK && len(s.cfg.WriteWatch) > 0 {
		reason += "; FAN_RENAME unsupported, renames paired from moved_from/moved_to"
	}
	if len(notes) > 0 {
		reason += "; not watched: " + strings.Join(notes, ", ")
	}
	s.status = sensor.Status{Name: Name, Mode: sensor.ModeFallback, Attach: attach, Reason: reason}
	s.started = true

	for i, f := range s.files {
		rd, err := procread.NewReader(s.cfg.ProcPath)
		if err != nil {
			return fmt.Errorf("fanotify: %w", err)
		}
		write := i == 0 && len(s.cfg.WriteWatch) > 0
		s.wg.Add(1)
		go s.loop(f, rd, write)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		select {
		case <-ctx.Done():
			s.closeFiles()
		case <-s.done:
		}
	}()
	return nil
}

// markFilesystem marks the filesystem holding p (or its nearest existing
// ancestor) once, and keeps an fd on it for open_by_handle_at.
func (s *Sensor) markFilesystem(fd int, p string) (string, error) {
	for {
		if _, err := os.Lstat(p); err == nil || p == "/" {
			break
		}
		p = filepath.Dir(strings.TrimSuffix(p, "/"))
	}
	var st unix.Statfs_t
	if err := unix.Statfs(p, &st); err != nil {
		return "", fmt.Errorf("fanotify: statfs %q: %w", p, err)
	}
	if _, ok := s.mountFDs[st.Fsid.Val]; ok {
		return "", nil
	}
	// open_by_handle_at needs a real (not O_PATH) fd on the filesystem;
	// a directory avoids opening a watched file.
	dir := p
	if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
		dir = filepath.Dir(p)
	}
	mfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("fanotify: open %q: %w", dir, err)
	}
	s.mountFDs[st.Fsid.Val] = mfd
	mask := uint64(writeMask | unix.FAN_RENAME)
	err = unix.FanotifyMark(fd, unix.FAN_MARK_ADD|unix.FAN_MARK_FILESYSTEM, mask, unix.AT_FDCWD, p)
	if errors.Is(err, unix.EINVAL) {
		mask = writeMask | unix.FAN_MOVED_FROM | unix.FAN_MOVED_TO
		err = unix.FanotifyMark(fd, unix.FAN_MARK_ADD|unix.FAN_MARK_FILESYSTEM, mask, unix.AT_FDCWD, p)
	} else if err == nil {
		s.renameOK = true
	}
	if err != nil {
		return "", fmt.Errorf("fanotify: mark filesystem of %q: %w", p, err)
	}
	return "fanotify/filesystem:" + p, nil
}

func markRead(fd int, p string, mask uint64) error {
	fi, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("fanotify: read watch %q: %w", p, err)
	}
	if fi.IsDir() {
		mask |= unix.FAN_EVENT_ON_CHILD
	}
	if err := unix.FanotifyMark(fd, unix.FAN_MARK_ADD, mask, unix.AT_FDCWD, p); err != nil {
		return fmt.Errorf("fanotify: mark %q for opens: %w", p, err)
	}
	return nil
}

// loop reads and handles events of one group until its file is closed.
func (s *Sensor) loop(f *os.File, rd *procread.Reader, write bool) {
	handle := s.handleRead
	if write {
		handle = s.handleWrite
	}
	defer s.wg.Done()
	buf := make([]byte, 64<<10)
	var recs []Record
	for {
		n, err := f.Read(buf)
		if err != nil {
			if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
				continue
			}
			return // closed
		}
		recs, err = Decode(buf[:n], recs[:0])
		if err != nil {
			s.decodeErrors.Add(1)
		}
		for i := range recs {
			handle(&recs[i], rd)
			if recs[i].FD >= 0 {
				unix.Close(recs[i].FD)
			}
		}
		if write {
			s.flushMove(rd)
		}
	}
}

// handleRead handles an event of the read group. A permission event is
// answered (allowed) once the opener has been read from /proc, before the
// event is passed on.
func (s *Sensor) handleRead(r *Record, rd *procread.Reader) {
	if r.Mask&unix.FAN_Q_OVERFLOW != 0 {
		s.kernelDropped.Add(1)
		return
	}
	ev := s.readEvent(r, rd)
	if r.FD >= 0 && r.Mask&unix.FAN_OPEN_PERM != 0 {
		if err := Answer(s.readFile, r.FD, true); err != nil {
			// ENOENT: the opener was killed meanwhile.
			s.decodeErrors.Add(1)
		}
	}
	if ev != nil {
		s.send(ev)
	}
}

// readEvent builds the open_read event of a read-group record, or returns
// nil for a record that is not one or is outside the watch.
func (s *Sensor) readEvent(r *Record, rd *procread.Reader) *event.Event {
	if r.FD < 0 || r.Mask&(unix.FAN_OPEN|unix.FAN_OPEN_PERM) == 0 {
		s.decodeErrors.Add(1)
		return nil
	}
	n, err := unix.Readlink("/proc/self/fd/"+strconv.Itoa(r.FD), s.rbuf)
	if err != nil {
		s.decodeErrors.Add(1)
		return nil
	}
	path := strings.TrimSuffix(string(s.rbuf[:n]), " (deleted)")
	if !matches(s.cfg.ReadWatch, path) {
		s.filtered.Add(1)
		return nil
	}
	fi := &event.FileInfo{Op: event.OpOpenRead, Path: path}
	var st unix.Stat_t
	if unix.Fstat(r.FD, &st) == nil {
		fi.Mode, fi.Dev, fi.Inode = st.Mode, st.Dev, st.Ino
	}
	return s.event(r.PID, fi, rd)
}

// Answer writes the response to the permission event whose file
// descriptor is fd on the fanotify group f: FAN_ALLOW, or FAN_DENY when
// allow is false. It does not close fd.
func Answer(f io.Writer, fd int, allow bool) error {
	resp := uint32(unix.FAN_ALLOW)
	if !allow {
		resp = unix.FAN_DENY
	}
	var b [8]byte // struct fanotify_response
	binary.NativeEndian.PutUint32(b[0:4], uint32(int32(fd)))
	binary.NativeEndian.PutUint32(b[4:8], resp)
	_, err := f.Write(b[:])
	return err
}

// handleWrite handles an event of the write group.
func (s *Sensor) handleWrite(r *Record, rd *procread.Reader) {
	if r.Mask&unix.FAN_Q_OVERFLOW != 0 {
		s.kernelDropped.Add(1)
		return
	}
	var path, oldPath, newPath string
	for _, in := range r.Infos {
		p, ok := s.resolve(in)
		if !ok {
			s.decodeErrors.Add(1)
			return
		}
		switch in.Type {
		case unix.FAN_EVENT_INFO_TYPE_OLD_DFID_NAME:
			oldPath = p
		case unix.FAN_EVENT_INFO_TYPE_NEW_DFID_NAME:
			newPath = p
		default:
			path = p
		}
	}
	s.apply(r, path, oldPath, newPath, rd)
}

// apply turns one write-group record, its paths resolved, into events.
func (s *Sensor) apply(r *Record, path, oldPath, newPath string, rd *procread.Reader) {
	m := r.Mask
	if m&(unix.FAN_MOVED_FROM|unix.FAN_MOVED_TO) == 0 {
		s.flushMove(rd)
	}
	if m&unix.FAN_RENAME != 0 {
		s.rename(r.PID, oldPath, newPath, rd)
		m &^= unix.FAN_RENAME
	}
	if m&unix.FAN_MOVED_TO != 0 {
		from := ""
		if s.pending != nil && s.pending.rec.PID == r.PID {
			from = s.pending.path
		} else {
			s.flushMove(rd)
		}
		s.pending = nil
		s.rename(r.PID, from, path, rd)
	}
	if m&unix.FAN_MOVED_FROM != 0 {
		s.flushMove(rd)
		s.pending = &move{path: path, rec: *r}
	}
	if path == "" || m&(unix.FAN_CREATE|unix.FAN_DELETE|unix.FAN_MODIFY|unix.FAN_CLOSE_WRITE|unix.FAN_ATTRIB) == 0 {
		return
	}
	if !matches(s.cfg.WriteWatch, path) {
		s.filtered.Add(1)
		return
	}
	key := strconv.Itoa(r.PID) + "\x00" + path
	if m&unix.FAN_CREATE != 0 {
		put(s.writing, key, struct{}{})
		s.emit(r.PID, s.statInfo(event.OpCreate, path), rd)
		s.remark(path)
	}
	if m&(unix.FAN_MODIFY|unix.FAN_CLOSE_WRITE) != 0 {
		_, seen := s.writing[key]
		if m&unix.FAN_MODIFY != 0 && !seen {
			put(s.writing, key, struct{}{})
		}
		if m&unix.FAN_CLOSE_WRITE != 0 {
			delete(s.writing, key)
		}
		if seen {
			s.filtered.Add(1)
		} else {
			s.emit(r.PID, s.statInfo(event.OpOpenWrite, path), rd)
		}
	}
	if m&unix.FAN_ATTRIB != 0 {
		s.attrib(r.PID, path, rd)
	}
	if m&unix.FAN_DELETE != 0 {
		delete(s.attrs, path)
		s.emit(r.PID, &event.FileInfo{Op: event.OpUnlink, Path: path}, rd)
	}
}

func (s *Sensor) rename(pid int, from, to string, rd *procread.Reader) {
	if !matches(s.cfg.WriteWatch, from) && !matches(s.cfg.WriteWatch, to) {
		s.filtered.Add(1)
		return
	}
	fi := s.statInfo(event.OpRename, to)
	fi.Path, fi.NewPath = from, to
	delete(s.attrs, from)
	s.emit(pid, fi, rd)
	s.remark(to)
}

// flushMove reports a moved_from that no moved_to followed.
func (s *Sensor) flushMove(rd *procread.Reader) {
	if p := s.pending; p != nil {
		s.pending = nil
		s.rename(p.rec.PID, p.path, "", rd)
	}
}

// attrib reports an attribute change as chmod and/or chown.
func (s *Sensor) attrib(pid int, path string, rd *procread.Reader) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		s.emit(pid, &event.FileInfo{Op: event.OpChmod, Path: path}, rd)
		return
	}
	now := attr{mode: st.Mode, uid: st.Uid, gid: st.Gid}
	old, known := s.attrs[path]
	put(s.attrs, path, now)
	info := func(op event.FileOp) *event.FileInfo {
		return &event.FileInfo{Op: op, Path: path, Mode: st.Mode, UID: st.Uid, GID: st.Gid, Dev: st.Dev, Inode: st.Ino}
	}
	switch {
	case !known:
		s.emit(pid, info(event.OpChmod), rd)
	case old == now:
		s.filtered.Add(1) // times or xattrs
	default:
		if old.uid != now.uid || old.gid != now.gid {
			s.emit(pid, info(event.OpChown), rd)
		}
		if old.mode != now.mode {
			s.emit(pid, info(event.OpChmod), rd)
		}
	}
}

// statInfo returns a FileInfo for path with its current stat, and records
// the attributes for a later chmod/chown.
func (s *Sensor) statInfo(op event.FileOp, path string) *event.FileInfo {
	fi := &event.FileInfo{Op: op, Path: path}
	var st unix.Stat_t
	if path != "" && unix.Lstat(path, &st) == nil {
		fi.Mode, fi.Dev, fi.Inode = st.Mode, st.Dev, st.Ino
		put(s.attrs, path, attr{mode: st.Mode, uid: st.Uid, gid: st.Gid})
	}
	return fi
}

// remark marks a read-watched file again after it was replaced.
func (s *Sensor) remark(path string) {
	if s.readFD < 0 || path == "" {
		return
	}
	for _, p := range s.cfg.ReadWatch {
		if p == path {
			_ = markRead(s.readFD, p, s.readMask) // best effort: the file may be gone again
		}
	}
}

func (s *Sensor) emit(pid int, fi *event.FileInfo, rd *procread.Reader) {
	s.send(s.event(pid, fi, rd))
}

// event builds the event of file action fi by process pid.
func (s *Sensor) event(pid int, fi *event.FileInfo, rd *procread.Reader) *event.Event {
	ev := &event.Event{Kind: event.File, Time: time.Now().UTC(), Source: Source, File: fi, Process: event.Process{PID: pid}}
	// The acting process may be gone; the PID alone is still reported.
	_ = rd.Read(&ev.Process, procread.Basic)
	return ev
}

// send passes ev to the sink, counting it as delivered or dropped.
func (s *Sensor) send(ev *event.Event) {
	if s.sink.Emit(ev) {
		s.events.Add(1)
	} else {
		s.sinkDropped.Add(1)
	}
}

// resolve turns a directory handle and name into an absolute path.
func (s *Sensor) resolve(in Info) (string, bool) {
	key := string(in.Handle)
	dir, err := s.openHandle(in)
	if err != nil {
		var ok bool
		if dir, ok = s.dirs[key]; !ok {
			return "", false
		}
	} else {
		put(s.dirs, key, dir)
	}
	if in.Name == "" || in.Name == "." {
		return dir, true
	}
	if dir == "/" {
		return "/" + in.Name, true
	}
	return dir + "/" + in.Name, true
}

func (s *Sensor) openHandle(in Info) (string, error) {
	mfd, ok := s.mountFDs[in.FSID]
	if !ok {
		return "", fmt.Errorf("no mount for fsid %v", in.FSID)
	}
	fd, err := unix.OpenByHandleAt(mfd, unix.NewFileHandle(in.HandleType, in.Handle), unix.O_PATH|unix.O_CLOEXEC)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	n, err := unix.Readlink("/proc/self/fd/"+strconv.Itoa(fd), s.wbuf)
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(string(s.wbuf[:n]), " (deleted)"), nil
}

// put stores v under k, clearing m first when it is full.
func put[V any](m map[string]V, k string, v V) {
	if len(m) >= cacheMax {
		clear(m)
	}
	m[k] = v
}

// matches reports whether path starts with one of the prefixes.
func matches(prefixes []string, path string) bool {
	if path == "" {
		return false
	}
	for _, p := range prefixes {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// Status reports the mode and marks.
func (s *Sensor) Status() sensor.Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.status
	st.Attach = append([]string(nil), st.Attach...)
	return st
}

// Stats reports the counters. KernelDropped counts queue overflows, each
// standing for one or more lost events; Errors counts events whose
// directory could not be resolved to a path.
func (s *Sensor) Stats() sensor.Stats {
	return sensor.Stats{
		Events:        s.events.Load(),
		KernelDropped: s.kernelDropped.Load(),
		SinkDropped:   s.sinkDropped.Load(),
		Filtered:      s.filtered.Load(),
		Errors:        s.decodeErrors.Load(),
	}
}

// Close removes the groups and waits for the readers.
func (s *Sensor) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	started := s.started
	s.status = sensor.Status{Name: Name, Mode: sensor.ModeOff, Reason: "closed"}
	s.mu.Unlock()
	if started {
		close(s.done)
	}
	s.closeFiles()
	s.wg.Wait()
	s.release()
	return nil
}

func (s *Sensor) closeFiles() {
	s.closeFn.Do(func() {
		for _, f := range s.files {
			f.Close()
		}
	})
}

// release closes the mount fds (and the groups, if Start failed).
func (s *Sensor) release() {
	if !s.started {
		s.closeFiles()
	}
	for k, fd := range s.mountFDs {
		unix.Close(fd)
		delete(s.mountFDs, k)
	}
}
