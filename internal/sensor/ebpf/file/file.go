// Package file is the eBPF file sensor: it reports creates, writes,
// truncations, renames, unlinks, permission and owner changes and links of
// watched paths, and reads of read-watched files (/etc/shadow, SSH host
// keys, …), as event.File events.
//
// Syscall tracepoints catch open/openat/openat2/creat, rename/renameat/
// renameat2, unlink/unlinkat/rmdir, chmod/fchmod/fchmodat/fchmodat2,
// chown/fchown/fchownat/lchown, truncate/ftruncate and link/linkat/symlink/
// symlinkat. An action is reported at sys_exit, only when it succeeded.
// The kernel resolves every path to an absolute, canonical one (an fd's
// path by walking its dentries across mounts; a relative name joined to
// the dirfd's or cwd's path, "." and ".." resolved lexically) and matches
// it against the watch lists held in LPM tries, so unwatched activity never
// reaches user space; it only bumps the Filtered counter.
//
// FileInfo.Flags holds the open flags of opens and the flags argument of
// the *at calls (AT_REMOVEDIR, RENAME_EXCHANGE, …); Mode the requested mode
// of a chmod and the file's mode for fd-based actions; Dev and Inode are
// set when the action had a struct file (opens, fchmod, fchown, ftruncate).
//
// Filtered counts actions discarded by the watch lists, including — while
// a read watch is set — every read-only open whose basename is not one of
// the read-watched files'.
//
// Known limits: symlinks inside a name are not followed (the path is the
// one the caller named, made absolute: opens are exact, as their path
// comes from the opened file); a path longer than 511 bytes, or a name
// with more than 64 components, is truncated, and one whose dentry walk
// does not fit is dropped as filtered; paths are those of the acting
// process's mount namespace; io_uring and open_by_handle_at bypass these
// syscalls.
package file

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/cilium/ebpf"

	"github.com/vigilsec/vigil/internal/sensor"
	"github.com/vigilsec/vigil/internal/sensor/ebpf/internal/bpfcommon"
)

// Name is the sensor's name.
const Name = "file"

// ErrUnavailable is wrapped by Start when eBPF cannot run here.
var ErrUnavailable = bpfcommon.ErrUnavailable

// DefaultRingSize is the ring buffer size when Config.RingSize is zero.
const DefaultRingSize = 1 << 20

// Config configures the sensor.
type Config struct {
	// WriteWatch lists the paths whose changes are reported: "/etc/" is
	// the subtree below /etc, "/etc/rc*" every path starting "/etc/rc",
	// and "/etc/passwd" exactly that file.
	WriteWatch []string
	// ReadWatch lists single files whose opens for reading are reported.
	ReadWatch []string
	// RingSize is the ring buffer size in bytes (a power of two, a
	// multiple of the page size); default DefaultRingSize.
	RingSize int
	// WakeupBytes is how much data wakes the reader at once; below it the
	// reader polls every 10 ms. Default RingSize/4.
	WakeupBytes int
}

// Sensor is the file sensor. Create it with New.
type Sensor struct {
	cfg Config

	mu     sync.Mutex
	write  []watchEntry
	read   []watchEntry
	spec   *ebpf.CollectionSpec
	run    *bpfcommon.Runner
	status sensor.Status
}

var _ sensor.Sensor = (*Sensor)(nil)

// New checks the configuration; nothing is loaded before Start.
func New(cfg Config) (*Sensor, error) {
	if cfg.RingSize == 0 {
		cfg.RingSize = DefaultRingSize
	}
	s := &Sensor{cfg: cfg, status: sensor.Status{Name: Name, Mode: sensor.ModeOff, Reason: "not started"}}
	var err error
	if s.write, err = compileWatch(cfg.WriteWatch, false); err != nil {
		return nil, fmt.Errorf("file sensor: write watch: %w", err)
	}
	if s.read, err = compileWatch(cfg.ReadWatch, true); err != nil {
		return nil, fmt.Errorf("file sensor: read watch: %w", err)
	}
	return s, nil
}

// Name returns "file".
func (s *Sensor) Name() string { return Name }

// Start loads and attaches the programs and starts delivering events to
// sink. It returns an error wrapping ErrUnavailable when eBPF cannot run.
func (s *Sensor) Start(ctx context.Context, sink sensor.Sink) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.run != nil {
		return errors.New("file sensor: already started")
	}
	err := s.start(ctx, sink)
	if err != nil {
		s.status = sensor.Status{Name: Name, Mode: sensor.ModeOff, Reason: err.Error()}
	}
	return err
}

func (s *Sensor) start(ctx context.Context, sink sensor.Sink) error {
	bootID, err := bpfcommon.BootID()
	if err != nil {
		return fmt.Errorf("file sensor: %w", err)
	}
	spec, err := loadFile()
	if err != nil {
		return fmt.Errorf("file sensor: %w", err)
	}
	run, err := bpfcommon.Load(spec, bpfcommon.Config{Name: Name, RingSize: s.cfg.RingSize, WakeupBytes: uint64(s.cfg.WakeupBytes)})
	if err != nil {
		return fmt.Errorf("file sensor: %w", err)
	}
	s.spec, s.run = spec, run
	if err := s.apply(nil, nil); err != nil {
		return s.abort(err)
	}
	if err := run.Attach(spec); err != nil {
		return s.abort(err)
	}
	d := &decoder{bootID: bootID, clock: bpfcommon.NewClock()}
	if err := run.Start(ctx, sink, d.decode); err != nil {
		return s.abort(err)
	}
	s.status = run.Status()
	return nil
}

func (s *Sensor) abort(err error) error {
	s.run.Close()
	s.run = nil
	return fmt.Errorf("file sensor: %w", err)
}

// SetWatch replaces the watch lists, at run time too; the lists are
// checked as in New, and on error nothing changes.
func (s *Sensor) SetWatch(write, read []string) error {
	w, err := compileWatch(write, false)
	if err != nil {
		return fmt.Errorf("file sensor: write watch: %w", err)
	}
	r, err := compileWatch(read, true)
	if err != nil {
		return fmt.Errorf("file sensor: read watch: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	oldW, oldR := s.write, s.read
	s.write, s.read = w, r
	if s.run == nil {
		return nil
	}
	if err := s.apply(oldW, oldR); err != nil {
		return fmt.Errorf("file sensor: %w", err)
	}
	return nil
}

// apply writes s.write and s.read into the kernel maps, removing the
// entries of the previous lists that are gone. New entries go in before
// old ones leave, so a path watched in both never falls through.
func (s *Sensor) apply(oldW, oldR []watchEntry) error {
	m := s.run.Coll.Maps
	if err := syncTrie(m["write_watch"], oldW, s.write); err != nil {
		return fmt.Errorf("write watch: %w", err)
	}
	if err := syncTrie(m["read_watch"], oldR, s.read); err != nil {
		return fmt.Errorf("read watch: %w", err)
	}
	names := m["read_names"]
	keep := map[[nameKeyLen]byte]bool{}
	for _, e := range s.read {
		k := nameKey(e.key)
		keep[k] = true
		if err := names.Put(k, uint8(1)); err != nil {
			return fmt.Errorf("read names: %w", err)
		}
	}
	for _, e := range oldR {
		if k := nameKey(e.key); !keep[k] {
			if err := names.Delete(k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
				return fmt.Errorf("read names: %w", err)
			}
		}
	}
	enabled := fileSettings{}
	if len(s.read) > 0 {
		enabled.ReadEnabled = 1
	}
	if err := m["file_settings"].Put(uint32(0), enabled); err != nil {
		return fmt.Errorf("settings: %w", err)
	}
	return nil
}

func syncTrie(m *ebpf.Map, old, cur []watchEntry) error {
	keep := map[string]bool{}
	for _, e := range cur {
		keep[e.key] = true
		v := fileWatch{Len: uint16(len(e.key))}
		if e.exact {
			v.Exact = 1
		}
		if e.covered {
			v.Covered = 1
		}
		if err := m.Put(lpmKey(e.key), v); err != nil {
			return fmt.Errorf("put %q: %w", e.key, err)
		}
	}
	for _, e := range old {
		if keep[e.key] {
			continue
		}
		if err := m.Delete(lpmKey(e.key)); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return fmt.Errorf("delete %q: %w", e.key, err)
		}
	}
	return nil
}

func lpmKey(p string) fileLpmKey {
	k := fileLpmKey{Prefixlen: uint32(len(p)) * 8}
	for i := 0; i < len(p); i++ {
		k.Data[i] = int8(p[i])
	}
	return k
}

// Status reports the mode and attach points.
func (s *Sensor) Status() sensor.Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// Stats reports the counters so far.
func (s *Sensor) Stats() sensor.Stats {
	s.mu.Lock()
	run := s.run
	s.mu.Unlock()
	if run == nil {
		return sensor.Stats{}
	}
	return run.Stats()
}

// Close detaches and releases everything.
func (s *Sensor) Close() error {
	s.mu.Lock()
	run := s.run
	s.status = sensor.Status{Name: Name, Mode: sensor.ModeOff, Reason: "closed"}
	s.mu.Unlock()
	if run == nil {
		return nil
	}
	return run.Close()
}
