// Package process is the eBPF process sensor: it reports exec, fork, exit,
// credential changes (setuid family, capset), ptrace, kernel module loads
// and memfd_create as event.Event values, and kills an exec of a blocked
// executable in the kernel before it runs.
//
// The scheduler hooks are loaded in the best flavour the kernel accepts —
// BTF tracepoints, else raw tracepoints, else classic tracepoints — and the
// syscall hooks are classic syscall tracepoints. All records travel through
// one ring buffer. The kernel side wakes the reader only when the buffer
// fills past an eighth; the reader polls on its own every Config.Poll, so a
// fork/exec storm costs few wakeups and an event still arrives within
// about Poll.
//
// "Host" namespaces (Process.HostPID/HostMnt/HostNet) are those of the
// kernel's init_task, which the BPF program finds once by following
// real_parent to the task that is its own parent; it does not depend on
// where the agent runs.
package process

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"

	"github.com/vigilsec/vigil/internal/sensor"
	"github.com/vigilsec/vigil/internal/sensor/ebpf/internal/bpfcommon"
)

// Name is the sensor's name.
const Name = "process"

// ErrUnavailable means eBPF cannot run here (not root, no kernel BTF, or
// no flavour of the programs loads); the agent then uses fallback sensors.
var ErrUnavailable = errors.New("ebpf process sensor unavailable")

// Config tunes the sensor. The zero value uses the defaults.
type Config struct {
	// RingSize is the ring buffer size in bytes, a power of two and a
	// multiple of the page size; default 8 MiB.
	RingSize int
	// Poll is how often the reader looks at the ring buffer without a
	// wakeup; default 10 ms.
	Poll time.Duration
	// Proc is the procfs root for best-effort lookups; default "/proc".
	Proc string
}

const (
	defaultRingSize = 8 << 20
	defaultPoll     = 10 * time.Millisecond
	// linger is how long the reader keeps polling after the last record
	// before it blocks; it must exceed the kernel's wakeup gap (5 ms).
	linger = 50 * time.Millisecond
)

// flavour is one way of hooking the scheduler tracepoints.
type flavour struct {
	name   string // "tp_btf", "raw_tp", "tracepoint"
	progs  [3]string
	attach func(p *ebpf.Program, tp string) (link.Link, error)
}

var schedHooks = [3]string{"sched_process_exec", "sched_process_fork", "sched_process_exit"}

var flavours = []flavour{
	{"tp_btf", [3]string{"exec_btf", "fork_btf", "exit_btf"}, func(p *ebpf.Program, _ string) (link.Link, error) {
		return link.AttachTracing(link.TracingOptions{Program: p})
	}},
	{"raw_tp", [3]string{"exec_raw", "fork_raw", "exit_raw"}, func(p *ebpf.Program, tp string) (link.Link, error) {
		return link.AttachRawTracepoint(link.RawTracepointOptions{Name: tp, Program: p})
	}},
	{"tracepoint", [3]string{"exec_tp", "fork_tp", "exit_tp"}, func(p *ebpf.Program, tp string) (link.Link, error) {
		return link.Tracepoint("sched", tp, p, nil)
	}},
}

// Sensor is the process sensor. Create it with New.
type Sensor struct {
	cfg Config

	mu     sync.Mutex
	status sensor.Status
	coll   *ebpf.Collection
	links  []link.Link
	// sysProgs maps the syscall programs to their tracepoints.
	sysProgs map[string]string
	rd       *ringbuf.Reader
	done     chan struct{}
	closed   bool

	events      atomic.Uint64
	sinkDropped atomic.Uint64
	errors      atomic.Uint64
}

var _ sensor.Sensor = (*Sensor)(nil)

// New returns a sensor; Start loads and attaches it.
func New(cfg Config) *Sensor {
	if cfg.RingSize == 0 {
		cfg.RingSize = defaultRingSize
	}
	if cfg.Poll <= 0 {
		cfg.Poll = defaultPoll
	}
	if cfg.Proc == "" {
		cfg.Proc = "/proc"
	}
	return &Sensor{cfg: cfg, status: sensor.Status{Name: Name, Mode: sensor.ModeOff, Reason: "not started"}}
}

// Name returns "process".
func (s *Sensor) Name() string { return Name }

// Start loads the programs, attaches them and starts the reader. It
// returns an error wrapping ErrUnavailable when eBPF cannot run here.
func (s *Sensor) Start(ctx context.Context, sink sensor.Sink) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.coll != nil || s.closed {
		return errors.New("process sensor: already started")
	}
	if s.cfg.RingSize < os.Getpagesize() || s.cfg.RingSize&(s.cfg.RingSize-1) != 0 {
		return fmt.Errorf("process sensor: ring size %d is not a power of two of at least a page", s.cfg.RingSize)
	}
	if err := s.available(); err != nil {
		s.status.Reason = err.Error()
		return err
	}
	// The syscall tracepoints need tracefs for their IDs; a host without
	// it mounted would silently lose them.
	if err := bpfcommon.EnsureTracefs(); err != nil {
		s.status.Reason = err.Error()
	}
	bootID, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return fmt.Errorf("process sensor: boot id: %w", err)
	}
	dec := newDecoder(strings.TrimSpace(string(bootID)), bootWall(), s.cfg.Proc)

	var reasons []string
	for _, fl := range flavours {
		err := s.load(fl)
		if err == nil {
			break
		}
		reasons = append(reasons, fmt.Sprintf("%s: %v", fl.name, err))
	}
	if s.coll == nil {
		s.status.Reason = strings.Join(reasons, "; ")
		return fmt.Errorf("%w: %s", ErrUnavailable, s.status.Reason)
	}
	reasons = append(reasons, s.attachSyscalls()...)
	s.status.Mode = sensor.ModeEBPF
	s.status.Reason = strings.Join(reasons, "; ")

	s.rd, err = ringbuf.NewReader(s.coll.Maps["events"])
	if err != nil {
		s.release()
		return fmt.Errorf("process sensor: ring buffer reader: %w", err)
	}
	s.done = make(chan struct{})
	go s.read(ctx, sink, dec)
	return nil
}

// available checks the preconditions of loading anything.
func (s *Sensor) available() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: needs root", ErrUnavailable)
	}
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		return fmt.Errorf("%w: no kernel BTF: %v", ErrUnavailable, err)
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		return fmt.Errorf("%w: memlock rlimit: %v", ErrUnavailable, err)
	}
	return nil
}

// load loads the programs with fl's scheduler hooks and attaches those.
// On failure it leaves nothing loaded.
func (s *Sensor) load(fl flavour) error {
	spec, err := loadProcess()
	if err != nil {
		return fmt.Errorf("load spec: %w", err)
	}
	spec.Maps["events"].MaxEntries = uint32(s.cfg.RingSize)
	if err := spec.Variables["wakeup_bytes"].Set(uint64(s.cfg.RingSize / 8)); err != nil {
		return fmt.Errorf("set wakeup_bytes: %w", err)
	}
	keep := map[string]bool{}
	for _, p := range fl.progs {
		keep[p] = true
	}
	for name, p := range spec.Programs {
		if p.Type != ebpf.TracePoint || strings.HasPrefix(p.SectionName, "tracepoint/sched/") {
			if !keep[name] {
				delete(spec.Programs, name)
			}
		}
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	var links []link.Link
	var attach []string
	for i, name := range fl.progs {
		l, err := fl.attach(coll.Programs[name], schedHooks[i])
		if err != nil {
			for _, l := range links {
				l.Close()
			}
			coll.Close()
			return fmt.Errorf("attach %s: %w", schedHooks[i], err)
		}
		links = append(links, l)
		attach = append(attach, fl.name+"/"+schedHooks[i])
	}
	s.sysProgs = map[string]string{}
	for name, p := range spec.Programs {
		if tp, ok := strings.CutPrefix(p.SectionName, "tracepoint/syscalls/"); ok {
			s.sysProgs[name] = tp
		}
	}
	s.coll, s.links, s.status.Attach = coll, links, attach
	return nil
}

// attachSyscalls attaches the syscall tracepoint programs; a failure
// degrades the sensor and is returned as a reason.
func (s *Sensor) attachSyscalls() []string {
	var reasons []string
	names := make([]string, 0, len(s.sysProgs))
	for name := range s.sysProgs {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		tp := s.sysProgs[name]
		l, err := link.Tracepoint("syscalls", tp, s.coll.Programs[name], nil)
		if errors.Is(err, os.ErrNotExist) {
			reasons = append(reasons, "tracepoint/syscalls/"+tp+" absent from this kernel")
			continue
		}
		if err != nil {
			reasons = append(reasons, fmt.Sprintf("tracepoint/syscalls/%s: %v", tp, err))
			continue
		}
		s.links = append(s.links, l)
		s.status.Attach = append(s.status.Attach, "tracepoint/syscalls/"+tp)
	}
	return reasons
}

// read delivers records until the reader is closed or ctx ends.
func (s *Sensor) read(ctx context.Context, sink sensor.Sink, dec *decoder) {
	defer close(s.done)
	var rec ringbuf.Record
	stop := context.AfterFunc(ctx, func() { s.rd.SetDeadline(time.Now()) })
	defer stop()
	// After a wakeup the reader polls every Poll for a while (records
	// submitted without a wakeup follow the one that woke it); then it
	// blocks until the kernel wakes it (see submit in process.bpf.c).
	lastData := time.Now()
	for {
		if ctx.Err() != nil {
			return
		}
		if time.Since(lastData) < linger {
			s.rd.SetDeadline(time.Now().Add(s.cfg.Poll))
		} else {
			s.rd.SetDeadline(time.Time{})
		}
		err := s.rd.ReadInto(&rec)
		switch {
		case err == nil:
			lastData = time.Now()
		case errors.Is(err, os.ErrDeadlineExceeded):
			continue
		case errors.Is(err, ringbuf.ErrClosed):
			return
		default:
			s.errors.Add(1)
			continue
		}
		ev, err := dec.decode(rec.RawSample)
		if err != nil {
			s.errors.Add(1)
			continue
		}
		if sink.Emit(ev) {
			s.events.Add(1)
		} else {
			s.sinkDropped.Add(1)
		}
	}
}

// Status reports the mode, attach points and why the sensor is degraded.
func (s *Sensor) Status() sensor.Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.status
	st.Attach = append([]string(nil), st.Attach...)
	return st
}

// Stats reports the counters. KernelDropped is the sum of the per-CPU
// count of records the ring buffer refused.
func (s *Sensor) Stats() sensor.Stats {
	st := sensor.Stats{Events: s.events.Load(), SinkDropped: s.sinkDropped.Load(), Errors: s.errors.Load()}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.coll != nil {
		var perCPU []uint64
		if err := s.coll.Maps["drops"].Lookup(uint32(0), &perCPU); err == nil {
			for _, n := range perCPU {
				st.KernelDropped += n
			}
		}
	}
	return st
}

// BlockExec makes the kernel kill any process that executes the file
// with this device (as in unix.Stat_t.Dev) and inode, at exec.
func (s *Sensor) BlockExec(dev, ino uint64) error {
	m, err := s.blocked()
	if err != nil {
		return err
	}
	if err := m.Put(processPblkKey{Dev: dev, Ino: ino}, uint8(1)); err != nil {
		return fmt.Errorf("block exec of %d:%d: %w", dev, ino, err)
	}
	return nil
}

// UnblockExec removes a file from the blocked list; removing one that is
// not blocked is not an error.
func (s *Sensor) UnblockExec(dev, ino uint64) error {
	m, err := s.blocked()
	if err != nil {
		return err
	}
	if err := m.Delete(processPblkKey{Dev: dev, Ino: ino}); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("unblock exec of %d:%d: %w", dev, ino, err)
	}
	return nil
}

func (s *Sensor) blocked() (*ebpf.Map, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.coll == nil {
		return nil, errors.New("process sensor: not running")
	}
	return s.coll.Maps["blocked"], nil
}

// Close detaches the programs and waits for the reader to end.
func (s *Sensor) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	var err error
	if s.rd != nil {
		err = s.rd.Close()
		<-s.done
		s.rd = nil
	}
	s.release()
	s.status.Mode = sensor.ModeOff
	return err
}

func (s *Sensor) release() {
	for _, l := range s.links {
		l.Close()
	}
	s.links = nil
	if s.coll != nil {
		s.coll.Close()
		s.coll = nil
	}
}

// bootWall is the wall-clock time of boot, so that CLOCK_BOOTTIME stamps
// from the kernel become event times.
func bootWall() time.Time {
	var ts unix.Timespec
	now := time.Now()
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return now
	}
	return now.Add(-time.Duration(ts.Nano()))
}
