// Package network is the eBPF network sensor: outbound connects (TCP and
// UDP, with their result), accepted TCP connections, listening sockets
// and, when enabled, TCP state changes, as event.Connect, event.Accept,
// event.Listen and event.TCPState events.
//
// connect(2) is caught at sys_enter (the destination, from the caller's
// sockaddr) and reported at sys_exit with its result as an errno name
// ("" for success, "EINPROGRESS", "ECONNREFUSED", …) and the source the
// kernel bound. accept/accept4 and listen are reported at sys_exit from the
// socket itself. Only AF_INET/AF_INET6 TCP and UDP sockets count; IPv4-
// mapped IPv6 addresses are shown as IPv4.
//
// TCP state changes come from the sock/inet_sock_set_state tracepoint,
// which often fires in softirq context: the process of such an event is
// whichever task was running, not necessarily the socket's owner.
package network

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/vigilsec/vigil/internal/sensor"
	"github.com/vigilsec/vigil/internal/sensor/ebpf/internal/bpfcommon"
)

// Name is the sensor's name.
const Name = "network"

// ErrUnavailable is wrapped by Start when eBPF cannot run here.
var ErrUnavailable = bpfcommon.ErrUnavailable

// DefaultRingSize is the ring buffer size when Config.RingSize is zero.
const DefaultRingSize = 512 << 10

// Config configures the sensor.
type Config struct {
	// TCPState turns on TCP state change events (off by default: they are
	// many).
	TCPState bool
	// RingSize is the ring buffer size in bytes (a power of two, a
	// multiple of the page size); default DefaultRingSize.
	RingSize int
	// WakeupBytes is how much data wakes the reader at once; below it the
	// reader polls every 10 ms. Default RingSize/4.
	WakeupBytes int
}

// Sensor is the network sensor. Create it with New.
type Sensor struct {
	cfg Config

	mu     sync.Mutex
	run    *bpfcommon.Runner
	status sensor.Status
}

var _ sensor.Sensor = (*Sensor)(nil)

// New returns a sensor; nothing is loaded before Start.
func New(cfg Config) (*Sensor, error) {
	if cfg.RingSize == 0 {
		cfg.RingSize = DefaultRingSize
	}
	if cfg.RingSize < 0 || cfg.WakeupBytes < 0 {
		return nil, fmt.Errorf("network sensor: negative ring size %d or wakeup bytes %d", cfg.RingSize, cfg.WakeupBytes)
	}
	return &Sensor{cfg: cfg, status: sensor.Status{Name: Name, Mode: sensor.ModeOff, Reason: "not started"}}, nil
}

// Name returns "network".
func (s *Sensor) Name() string { return Name }

// Start loads and attaches the programs and starts delivering events to
// sink. It returns an error wrapping ErrUnavailable when eBPF cannot run.
func (s *Sensor) Start(ctx context.Context, sink sensor.Sink) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.run != nil {
		return errors.New("network sensor: already started")
	}
	if err := s.start(ctx, sink); err != nil {
		s.status = sensor.Status{Name: Name, Mode: sensor.ModeOff, Reason: err.Error()}
		return fmt.Errorf("network sensor: %w", err)
	}
	return nil
}

func (s *Sensor) start(ctx context.Context, sink sensor.Sink) error {
	bootID, err := bpfcommon.BootID()
	if err != nil {
		return err
	}
	spec, err := loadNetwork()
	if err != nil {
		return err
	}
	run, err := bpfcommon.Load(spec, bpfcommon.Config{
		Name: Name, RingSize: s.cfg.RingSize, WakeupBytes: uint64(s.cfg.WakeupBytes),
		Skip: func(prog string) bool { return prog == "tcp_state" && !s.cfg.TCPState },
	})
	if err != nil {
		return err
	}
	if err := run.Attach(spec); err != nil {
		run.Close()
		return err
	}
	d := &decoder{bootID: bootID, clock: bpfcommon.NewClock()}
	if err := run.Start(ctx, sink, d.decode); err != nil {
		run.Close()
		return err
	}
	s.run, s.status = run, run.Status()
	return nil
}

// Status reports the mode and attach points.
func (s *Sensor) Status() sensor.Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// Stats reports the counters so far. Filtered counts connects on sockets
// that are not TCP or UDP (e.g. ICMP datagram sockets).
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
