// Package bpfcommon holds what the eBPF file and network sensors share: the
// probe that decides whether BPF can run, the acting-process header every
// ring-buffer record starts with (common.h), and a Runner that loads a
// collection, attaches its syscall tracepoints, reads the ring buffer with
// batched wakeups and keeps the counters behind sensor.Stats.
package bpfcommon

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"

	"github.com/vigilsec/vigil/internal/event"
	"github.com/vigilsec/vigil/internal/sensor"
)

// ErrUnavailable is wrapped by Probe (and the sensors' Start) when eBPF
// cannot run here at all: no privileges, no ring buffers, no tracepoints.
var ErrUnavailable = errors.New("eBPF unavailable")

// Probe checks that the programs of these sensors can load: root (or
// CAP_BPF+CAP_PERFMON), tracepoint programs, ring buffers, bpf_loop and a
// mounted tracefs (mounted here when missing). Every error wraps
// ErrUnavailable.
func Probe() error {
	if err := rlimit.RemoveMemlock(); err != nil {
		return fmt.Errorf("%w: memlock: %v", ErrUnavailable, err)
	}
	if err := features.HaveProgramType(ebpf.TracePoint); err != nil {
		return fmt.Errorf("%w: tracepoint programs: %v", ErrUnavailable, err)
	}
	if err := features.HaveMapType(ebpf.RingBuf); err != nil {
		return fmt.Errorf("%w: ring buffer: %v", ErrUnavailable, err)
	}
	if err := features.HaveProgramHelper(ebpf.TracePoint, asm.FnLoop); err != nil {
		return fmt.Errorf("%w: bpf_loop: %v", ErrUnavailable, err)
	}
	if err := EnsureTracefs(); err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return nil
}

// EnsureTracefs makes sure tracepoint IDs can be read: it mounts tracefs on
// /sys/kernel/tracing when neither that nor /sys/kernel/debug/tracing has
// events.
func EnsureTracefs() error {
	for _, d := range []string{"/sys/kernel/tracing/events", "/sys/kernel/debug/tracing/events"} {
		if _, err := os.Stat(d); err == nil {
			return nil
		}
	}
	if err := unix.Mount("nodev", "/sys/kernel/tracing", "tracefs", 0, ""); err != nil && !errors.Is(err, unix.EBUSY) {
		return fmt.Errorf("mount tracefs on /sys/kernel/tracing: %w", err)
	}
	return nil
}

// ProcHeaderSize is the size of struct proc_hdr.
const ProcHeaderSize = 80

// ProcHeader is the acting process of a record (struct proc_hdr).
type ProcHeader struct {
	Kind, PID, TID, PPID, UID, EUID, GID, EGID uint32
	// TimeNs is CLOCK_BOOTTIME at the event.
	TimeNs, CgroupID uint64
	// StartTime and ParentStart are in clock ticks since boot.
	StartTime, ParentStart uint64
	Comm                   string
}

// DecodeProcHeader decodes the header at the start of b.
func DecodeProcHeader(b []byte) (ProcHeader, error) {
	if len(b) < ProcHeaderSize {
		return ProcHeader{}, fmt.Errorf("record of %d bytes is shorter than its %d-byte process header", len(b), ProcHeaderSize)
	}
	le := binary.LittleEndian
	h := ProcHeader{
		Kind: le.Uint32(b[0:]), PID: le.Uint32(b[4:]), TID: le.Uint32(b[8:]), PPID: le.Uint32(b[12:]),
		UID: le.Uint32(b[16:]), EUID: le.Uint32(b[20:]), GID: le.Uint32(b[24:]), EGID: le.Uint32(b[28:]),
		TimeNs: le.Uint64(b[32:]), CgroupID: le.Uint64(b[40:]),
		StartTime: le.Uint64(b[48:]), ParentStart: le.Uint64(b[56:]),
		Comm: CString(b[64:80]),
	}
	return h, nil
}

// CString returns b up to its first NUL.
func CString(b []byte) string {
	if i := indexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// Process converts the header into the event's process fields.
func (h *ProcHeader) Process(bootID string) event.Process {
	p := event.Process{
		PID: int(h.PID), TID: int(h.TID), PPID: int(h.PPID),
		Name: h.Comm,
		UID:  h.UID, EUID: h.EUID, GID: h.GID, EGID: h.EGID,
		CgroupID:  h.CgroupID,
		StartTime: h.StartTime,
		AUID:      ^uint32(0),
	}
	p.ExecID = event.ExecID(bootID, h.StartTime, p.PID)
	if h.PPID != 0 {
		p.ParentExecID = event.ExecID(bootID, h.ParentStart, p.PPID)
	}
	return p
}

// Clock turns CLOCK_BOOTTIME nanoseconds into wall-clock times.
type Clock struct{ boot time.Time }

// NewClock measures the wall-clock time of boot.
func NewClock() Clock {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts)
	return Clock{boot: time.Now().Add(-time.Duration(ts.Nano()))}
}

// Time returns the UTC wall-clock time of a CLOCK_BOOTTIME reading.
func (c Clock) Time(bootNs uint64) time.Time {
	return c.boot.Add(time.Duration(bootNs)).UTC()
}

// BootID returns this boot's ID from /proc/sys/kernel/random/boot_id
// without its dashes, as event.ExecID writes it (so ExecID need not copy
// it per event).
func BootID() (string, error) {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return "", fmt.Errorf("boot id: %w", err)
	}
	return strings.ReplaceAll(strings.TrimSpace(string(b)), "-", ""), nil
}

// KernelDev converts a kernel dev_t (major<<20 | minor) into the
// user-space encoding stat(2) reports.
func KernelDev(d uint64) uint64 {
	return unix.Mkdev(uint32(d>>20), uint32(d&(1<<20-1)))
}

// DecodeFunc turns one ring-buffer record into an event.
type DecodeFunc func(rec []byte) (*event.Event, error)

// Config configures a Runner.
type Config struct {
	Name string // sensor name for Status
	// RingSize is the ring buffer's size in bytes: a power of two and a
	// multiple of the page size.
	RingSize int
	// WakeupBytes: the kernel wakes the reader only when this much data
	// waits; otherwise the reader polls every PollInterval.
	WakeupBytes  uint64
	PollInterval time.Duration
	// Skip names programs not to attach (optional features switched off).
	Skip func(progName string) bool
}

// Runner owns one loaded collection: its links, its ring-buffer reader and
// the counters.
type Runner struct {
	cfg    Config
	Coll   *ebpf.Collection
	links  []link.Link
	attach []string
	reason string

	rd     *ringbuf.Reader
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed atomic.Bool

	events, sinkDropped, errs atomic.Uint64
}

// Load loads spec with the ring buffer resized and the wakeup threshold
// set, after Probe.
func Load(spec *ebpf.CollectionSpec, cfg Config) (*Runner, error) {
	if err := Probe(); err != nil {
		return nil, err
	}
	if cfg.RingSize <= 0 || cfg.RingSize&(cfg.RingSize-1) != 0 || cfg.RingSize%os.Getpagesize() != 0 {
		return nil, fmt.Errorf("ring size %d: not a power of two multiple of the page size", cfg.RingSize)
	}
	if cfg.PollInterval <= 0 || cfg.PollInterval > 10*time.Millisecond {
		cfg.PollInterval = 10 * time.Millisecond
	}
	if cfg.WakeupBytes == 0 {
		cfg.WakeupBytes = uint64(cfg.RingSize / 4)
	}
	spec = spec.Copy()
	spec.Maps["events"].MaxEntries = uint32(cfg.RingSize)
	if err := spec.Variables["wakeup_bytes"].Set(cfg.WakeupBytes); err != nil {
		return nil, fmt.Errorf("set wakeup_bytes: %w", err)
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("load %s programs: %+v", cfg.Name, ve)
		}
		return nil, fmt.Errorf("load %s programs: %w", cfg.Name, err)
	}
	return &Runner{cfg: cfg, Coll: coll}, nil
}

// Attach attaches every program whose section is
// "tracepoint/<group>/<event>". A tracepoint this kernel lacks (e.g.
// sys_enter_fchmodat2 before 6.6) is skipped and named in Status's Reason;
// it is an error only when nothing attaches.
func (r *Runner) Attach(spec *ebpf.CollectionSpec) error {
	var missing []string
	for name, ps := range spec.Programs {
		if r.cfg.Skip != nil && r.cfg.Skip(name) {
			continue
		}
		parts := strings.Split(ps.SectionName, "/")
		if len(parts) != 3 || parts[0] != "tracepoint" {
			return fmt.Errorf("program %s: unsupported section %q", name, ps.SectionName)
		}
		l, err := link.Tracepoint(parts[1], parts[2], r.Coll.Programs[name], nil)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				missing = append(missing, parts[2])
				continue
			}
			return fmt.Errorf("attach %s: %w", ps.SectionName, err)
		}
		r.links = append(r.links, l)
		r.attach = append(r.attach, ps.SectionName)
	}
	if len(r.links) == 0 {
		return fmt.Errorf("%w: no tracepoint attached (missing: %s)", ErrUnavailable, strings.Join(missing, ", "))
	}
	slices.Sort(r.attach)
	if len(missing) > 0 {
		slices.Sort(missing)
		r.reason = "tracepoints absent on this kernel: " + strings.Join(missing, ", ")
	}
	return nil
}

// Start begins reading the ring buffer: each record is decoded and handed
// to sink until ctx ends or Close is called.
func (r *Runner) Start(ctx context.Context, sink sensor.Sink, decode DecodeFunc) error {
	rd, err := ringbuf.NewReader(r.Coll.Maps["events"])
	if err != nil {
		return fmt.Errorf("ring buffer reader: %w", err)
	}
	r.rd = rd
	ctx, r.cancel = context.WithCancel(ctx)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.read(ctx, sink, decode)
	}()
	return nil
}

// linger is how long the reader keeps polling after the last record
// before it blocks; it must exceed the kernel's wakeup gap (5 ms).
const linger = 50 * time.Millisecond

func (r *Runner) read(ctx context.Context, sink sensor.Sink, decode DecodeFunc) {
	var rec ringbuf.Record
	stop := context.AfterFunc(ctx, func() { r.rd.SetDeadline(time.Now()) })
	defer stop()
	// After a wakeup the reader polls every PollInterval for a while
	// (records submitted without a wakeup follow the one that woke it);
	// then it blocks until the kernel wakes it (see submit in common.h).
	lastData := time.Now()
	for ctx.Err() == nil {
		if time.Since(lastData) < linger {
			r.rd.SetDeadline(time.Now().Add(r.cfg.PollInterval))
		} else {
			r.rd.SetDeadline(time.Time{})
		}
		err := r.rd.ReadInto(&rec)
		if err == nil {
			lastData = time.Now()
		}
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			continue
		case errors.Is(err, ringbuf.ErrClosed):
			return
		case err != nil:
			r.errs.Add(1)
			continue
		}
		ev, err := decode(rec.RawSample)
		if err != nil {
			r.errs.Add(1)
			continue
		}
		ev.Source = "ebpf"
		if sink.Emit(ev) {
			r.events.Add(1)
		} else {
			r.sinkDropped.Add(1)
		}
	}
}

// Status reports the attach points.
func (r *Runner) Status() sensor.Status {
	st := sensor.Status{Name: r.cfg.Name, Mode: sensor.ModeEBPF, Reason: r.reason}
	st.Attach = append(st.Attach, r.attach...)
	return st
}

// Stats reports the counters; the kernel's are summed over CPUs.
func (r *Runner) Stats() sensor.Stats {
	st := sensor.Stats{Events: r.events.Load(), SinkDropped: r.sinkDropped.Load(), Errors: r.errs.Load()}
	if r.closed.Load() {
		return st
	}
	st.KernelDropped = r.counter(0)
	st.Filtered = r.counter(1)
	return st
}

func (r *Runner) counter(idx uint32) uint64 {
	var per []uint64
	if err := r.Coll.Maps["counters"].Lookup(idx, &per); err != nil {
		return 0
	}
	var n uint64
	for _, v := range per {
		n += v
	}
	return n
}

// Close detaches, stops the reader and frees the collection. Counters
// read after Close keep only the user-space ones.
func (r *Runner) Close() error {
	if r.closed.Swap(true) {
		return nil
	}
	// Each detach waits for an RCU grace period; in parallel they share
	// them.
	errs := make([]error, len(r.links), len(r.links)+1)
	var wg sync.WaitGroup
	for i, l := range r.links {
		wg.Go(func() { errs[i] = l.Close() })
	}
	wg.Wait()
	if r.cancel != nil {
		r.cancel()
	}
	if r.rd != nil {
		errs = append(errs, r.rd.Close())
	}
	r.wg.Wait()
	r.Coll.Close()
	return errors.Join(errs...)
}
