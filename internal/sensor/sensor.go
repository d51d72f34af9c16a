// Package sensor defines how the agent's event sources plug in: the eBPF
// sensors and their fallbacks (proc connector, fanotify, sock_diag polling)
// all turn kernel activity into event.Event values and hand them to a Sink.
package sensor

import (
	"context"

	"github.com/vigilsec/vigil/internal/event"
)

// Sink receives events from sensors. Emit must not block: it returns false
// when the event was dropped (the agent's queue is full), and the sensor
// counts that drop in its Stats.
type Sink interface {
	Emit(ev *event.Event) bool
}

// WaitSink is a Sink that can also wait for room. Sources that can pause
// without losing anything — a log file read at an offset — use EmitWait so
// a burst is delayed rather than dropped; kernel sensors never wait.
type WaitSink interface {
	Sink
	// EmitWait blocks until the event is queued or ctx ends (false).
	EmitWait(ctx context.Context, ev *event.Event) bool
}

// SinkFunc adapts a function to a Sink.
type SinkFunc func(ev *event.Event) bool

// Emit calls f.
func (f SinkFunc) Emit(ev *event.Event) bool { return f(ev) }

// Mode says how a sensor runs.
type Mode string

// The modes.
const (
	ModeEBPF     Mode = "ebpf"     // in-kernel programs (tracepoints, raw/BTF tracepoints)
	ModeFallback Mode = "fallback" // proc connector / fanotify / sock_diag polling
	ModeOff      Mode = "off"      // not running; Reason says why
	// ModeLog is a source that reads logs (authentication logs), not the
	// kernel; it does not count in the agent's kernel mode.
	ModeLog Mode = "log"
)

// Status is what `vigil agent status` shows for one sensor.
type Status struct {
	Name string `json:"name"` // "process", "file", "network", …
	Mode Mode   `json:"mode"`
	// Attach lists what was attached (e.g. "tp_btf/sched_process_exec",
	// "tracepoint/syscalls/sys_enter_ptrace", "fanotify").
	Attach []string `json:"attach,omitempty"`
	// Reason explains a degraded or off mode, e.g. "fentry refused (EPERM);
	// using raw tracepoints".
	Reason string `json:"reason,omitempty"`
}

// Stats are a sensor's counters. Every event is either delivered or
// counted in one drop counter: nothing is lost silently.
type Stats struct {
	// Events were delivered to the sink.
	Events uint64 `json:"events"`
	// KernelDropped events could not be reserved in the ring buffer (or were
	// lost by the kernel's netlink/fanotify queue).
	KernelDropped uint64 `json:"kernel_dropped"`
	// SinkDropped events were refused by the sink (queue full).
	SinkDropped uint64 `json:"sink_dropped"`
	// Filtered events were discarded in the kernel by a path/kind filter;
	// not a loss.
	Filtered uint64 `json:"filtered,omitempty"`
	// Errors counts events that could not be decoded.
	Errors uint64 `json:"errors,omitempty"`
}

// Sensor is one event source.
type Sensor interface {
	// Name is the sensor's stable name ("process", "file", "network", …).
	Name() string
	// Start attaches and begins delivering events to sink until ctx ends
	// or Close is called. It returns once attached (or failed to attach).
	Start(ctx context.Context, sink Sink) error
	// Status reports the mode and attach points.
	Status() Status
	// Stats reports the counters so far. Safe to call concurrently.
	Stats() Stats
	// Close detaches and releases everything; it waits for the reader
	// goroutines to end.
	Close() error
}
