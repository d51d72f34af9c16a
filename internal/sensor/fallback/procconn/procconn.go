// Package procconn is the fallback process sensor: when eBPF cannot run,
// it learns of exec, fork, exit and uid/gid changes from the kernel's proc
// connector (NETLINK_CONNECTOR, CN_IDX_PROC) and reads the rest of each
// process from /proc.
//
// It uses github.com/mdlayher/netlink rather than raw x/sys/unix sockets:
// that socket sits in Go's network poller, so Close unblocks a pending
// receive without a self-pipe or a read timeout loop, and the library sets
// SO_RCVBUFFORCE when running as root.
//
// What the proc connector cannot give, and how this sensor copes:
//   - Everything but PIDs is read from /proc after the fact. A process that
//     exits before it is read yields an event with only what the connector
//     gave (pid, tid, and the ppid where the message has it); such events
//     are delivered and counted in Vanished, not dropped.
//   - When the kernel cannot queue a message on the socket, the next read
//     fails with ENOBUFS. The number of messages lost is not known: each
//     ENOBUFS adds one to Stats().KernelDropped, so the counter is a lower
//     bound ("loss happened at least this often"). The receive buffer is
//     raised to Config.ReadBuffer at start to make that rare.
//   - A uid/gid message carries only the new real and effective ids and
//     not which syscall made the change; the event's Cred.Syscall is
//     "setuid" or "setgid". The old ids come from the sensor's own table of
//     processes it saw exec or fork (bounded by Config.MaxTracked); for a
//     process it never saw they are reported as zero.
//   - Only the initial network namespace's root may listen.
package procconn

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/vigilsec/vigil/internal/event"
	"github.com/vigilsec/vigil/internal/procutil"
	"github.com/vigilsec/vigil/internal/sensor"
	"github.com/vigilsec/vigil/internal/sensor/fallback/internal/procread"
)

// Name is the sensor's name, shared with the eBPF process sensor it stands
// in for.
const Name = "process"

// Source is the event.Event Source of this sensor's events.
const Source = "proc_connector"

// Config configures the sensor. The zero value is usable.
type Config struct {
	// ProcPath is the procfs to read processes from; default "/proc".
	ProcPath string
	// ReadBuffer is the socket receive buffer in bytes; default 8 MiB.
	ReadBuffer int
	// MaxTracked bounds the table of known processes (old credentials of
	// setid events, parents' exec IDs); default 65536.
	MaxTracked int
}

func (c Config) withDefaults() Config {
	if c.ProcPath == "" {
		c.ProcPath = "/proc"
	}
	if c.ReadBuffer <= 0 {
		c.ReadBuffer = 8 << 20
	}
	if c.MaxTracked <= 0 {
		c.MaxTracked = 65536
	}
	return c
}

// known is what the sensor remembers of a live process.
type known struct {
	startTime            uint64
	ppid                 int
	uid, euid, gid, egid uint32
	exe, name            string
}

// Sensor is the proc connector process sensor.
type Sensor struct {
	cfg Config

	events, kernelDropped, sinkDropped, filtered, decodeErrors, vanished atomic.Uint64

	// Owned by the reader goroutine once started.
	rd         *procread.Reader
	sink       sensor.Sink
	procs      map[int]known
	monoOffset int64 // realtime - monotonic clock, ns

	mu      sync.Mutex
	conn    *netlink.Conn
	status  sensor.Status
	done    chan struct{}
	wg      sync.WaitGroup
	started bool
	closed  bool
}

var _ sensor.Sensor = (*Sensor)(nil)

// New returns a sensor that is not yet attached.
func New(cfg Config) *Sensor {
	return &Sensor{
		cfg:    cfg.withDefaults(),
		status: sensor.Status{Name: Name, Mode: sensor.ModeOff, Reason: "not started"},
		done:   make(chan struct{}),
	}
}

// Name returns "process".
func (s *Sensor) Name() string { return Name }

// Start subscribes to proc events and delivers them to sink until ctx ends
// or Close is called.
func (s *Sensor) Start(ctx context.Context, sink sensor.Sink) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.closed {
		return errors.New("proc connector: already started")
	}
	rd, err := procread.NewReader(s.cfg.ProcPath)
	if err != nil {
		return fmt.Errorf("proc connector: %w", err)
	}
	conn, err := netlink.Dial(unix.NETLINK_CONNECTOR, &netlink.Config{Groups: cnIdxProc})
	if err != nil {
		s.status.Reason = "proc connector: " + err.Error()
		return fmt.Errorf("proc connector: dial: %w", err)
	}
	if err := conn.SetReadBuffer(s.cfg.ReadBuffer); err != nil {
		conn.Close()
		return fmt.Errorf("proc connector: set receive buffer to %d bytes: %w", s.cfg.ReadBuffer, err)
	}
	if _, err := conn.Send(netlink.Message{
		Header: netlink.Header{Type: netlink.Done},
		Data:   listenRequest(procCnMcastListen),
	}); err != nil {
		conn.Close()
		s.status.Reason = "proc connector: " + err.Error()
		return fmt.Errorf("proc connector: listen: %w", err)
	}
	s.rd, s.sink, s.conn = rd, sink, conn
	s.procs = make(map[int]known)
	s.monoOffset = clockOffset()
	s.started = true
	s.status = sensor.Status{
		Name:   Name,
		Mode:   sensor.ModeFallback,
		Attach: []string{"netlink/connector/proc"},
		Reason: "eBPF unavailable; proc connector: process details are read from /proc after the event, so a process that exits at once is reported with its PIDs only",
	}
	s.wg.Add(2)
	go s.read()
	go func() {
		defer s.wg.Done()
		select {
		case <-ctx.Done():
			conn.Close()
		case <-s.done:
		}
	}()
	return nil
}

// read receives and handles messages until the socket is closed.
func (s *Sensor) read() {
	defer s.wg.Done()
	for {
		msgs, err := s.conn.Receive()
		if err != nil {
			if errors.Is(err, unix.ENOBUFS) {
				s.kernelDropped.Add(1)
				continue
			}
			if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
				continue
			}
			return // closed (Close or ctx) — or a socket error nothing can fix
		}
		for _, m := range msgs {
			msg, err := Decode(m.Data)
			if err != nil {
				s.decodeErrors.Add(1)
				continue
			}
			s.handle(&msg)
		}
	}
}

// handle turns one decoded message into an event, if it is one we report.
func (s *Sensor) handle(m *Message) {
	var ev *event.Event
	switch m.What {
	case WhatExec:
		ev = s.exec(m)
	case WhatFork:
		if m.PID != m.TGID {
			s.filtered.Add(1) // a new thread, not a process
			return
		}
		ev = s.fork(m)
	case WhatExit:
		if m.PID != m.TGID {
			s.filtered.Add(1)
			return
		}
		ev = s.exit(m)
	case WhatUID, WhatGID:
		ev = s.setid(m)
	case WhatNone:
		if m.Ack != 0 {
			s.decodeErrors.Add(1)
		}
		return
	default:
		s.filtered.Add(1)
		return
	}
	if ev == nil {
		s.filtered.Add(1)
		return
	}
	ev.Time = time.Unix(0, int64(m.Timestamp)+s.monoOffset).UTC()
	ev.Source = Source
	if s.sink.Emit(ev) {
		s.events.Add(1)
	} else {
		s.sinkDropped.Add(1)
	}
}

func (s *Sensor) exec(m *Message) *event.Event {
	ev := &event.Event{Kind: event.Exec, Process: event.Process{PID: m.TGID, TID: m.PID}}
	p := &ev.Process
	if err := s.rd.Read(p, procread.Full); err != nil {
		s.readFailed(err)
		if k, ok := s.procs[p.PID]; ok && p.StartTime == 0 {
			// Gone before /proc was read: the process is still the one
			// that forked (same start time), only its image is unknown.
			p.PPID, p.StartTime = k.ppid, k.startTime
			p.UID, p.EUID, p.GID, p.EGID = k.uid, k.euid, k.gid, k.egid
			p.ExecID = s.rd.ExecID(k.startTime, p.PID)
		}
	}
	s.remember(p)
	s.fillParent(ev)
	return ev
}

func (s *Sensor) fork(m *Message) *event.Event {
	ev := &event.Event{Kind: event.Fork, Process: event.Process{PID: m.TGID, PPID: m.ParentTGID}}
	p := &ev.Process
	if err := s.rd.Read(p, procread.Basic); err != nil {
		s.readFailed(err)
		if p.PPID == 0 {
			p.PPID = m.ParentTGID
		}
	}
	s.remember(p)
	s.fillParent(ev)
	return ev
}

func (s *Sensor) exit(m *Message) *event.Event {
	ev := &event.Event{Kind: event.Exit, Process: event.Process{
		PID: m.TGID, PPID: m.ParentTGID, ExitCode: ExitStatus(m.ExitCode),
	}}
	p := &ev.Process
	if k, ok := s.procs[p.PID]; ok {
		delete(s.procs, p.PID)
		p.StartTime, p.Exe, p.Name = k.startTime, k.exe, k.name
		if p.PPID == 0 {
			p.PPID = k.ppid
		}
		p.UID, p.EUID, p.GID, p.EGID = k.uid, k.euid, k.gid, k.egid
	} else if err := s.rd.Read(p, procread.Basic); err != nil {
		// The exiting task is usually still a zombie and readable; it is
		// gone if its parent reaped it already.
		s.readFailed(err)
		p.PPID = m.ParentTGID
		p.ExitCode = ExitStatus(m.ExitCode)
	}
	if p.StartTime != 0 {
		p.ExecID = s.rd.ExecID(p.StartTime, p.PID)
	}
	s.fillParent(ev)
	return ev
}

func (s *Sensor) setid(m *Message) *event.Event {
	ev := &event.Event{Kind: event.SetID, Process: event.Process{PID: m.TGID, TID: m.PID}}
	p := &ev.Process
	old, seen := s.procs[p.PID]
	if err := s.rd.Read(p, procread.Basic); err != nil {
		s.readFailed(err)
		if seen {
			p.Name, p.Exe, p.StartTime, p.PPID = old.name, old.exe, old.startTime, old.ppid
			p.ExecID = s.rd.ExecID(old.startTime, p.PID)
		}
	}
	// The ids of the kind that did not change come from the table: /proc
	// may already show later changes. Only an unknown process takes them
	// from /proc.
	cur := old
	if !seen {
		cur = known{startTime: p.StartTime, ppid: p.PPID, uid: p.UID, euid: p.EUID, gid: p.GID, egid: p.EGID, exe: p.Exe, name: p.Name}
	}
	c := &event.CredInfo{}
	if m.What == WhatUID {
		c.Syscall = "setuid"
		c.OldUID, c.OldEUID, c.OldGID = old.uid, old.euid, cur.gid
		cur.uid, cur.euid = m.Real, m.Effective
	} else {
		c.Syscall = "setgid"
		c.OldUID, c.OldEUID, c.OldGID = cur.uid, cur.euid, old.gid
		cur.gid, cur.egid = m.Real, m.Effective
	}
	c.NewUID, c.NewEUID, c.NewGID = cur.uid, cur.euid, cur.gid
	p.UID, p.EUID, p.GID, p.EGID = cur.uid, cur.euid, cur.gid, cur.egid
	// A multi-threaded process (Go, glibc's setxid broadcast) reports
	// every thread's change; report the process once.
	if seen && old.uid == cur.uid && old.euid == cur.euid && old.gid == cur.gid && old.egid == cur.egid {
		return nil
	}
	ev.Cred = c
	s.remember(p)
	s.fillParent(ev)
	return ev
}

// readFailed counts a /proc read that did not complete.
func (s *Sensor) readFailed(err error) {
	if procutil.Gone(err) {
		s.vanished.Add(1)
	} else {
		s.decodeErrors.Add(1)
	}
}

// remember records p in the process table, keeping the table bounded: when
// full, entries of processes no longer in /proc are swept, and if that
// frees nothing the process is not recorded.
func (s *Sensor) remember(p *event.Process) {
	if p.StartTime == 0 {
		return
	}
	if _, ok := s.procs[p.PID]; !ok && len(s.procs) >= s.cfg.MaxTracked {
		for pid := range s.procs {
			if err := unix.Access(s.cfg.ProcPath+"/"+strconv.Itoa(pid), unix.F_OK); err != nil {
				delete(s.procs, pid)
			}
		}
		if len(s.procs) >= s.cfg.MaxTracked {
			return
		}
	}
	s.procs[p.PID] = known{
		startTime: p.StartTime, ppid: p.PPID, uid: p.UID, euid: p.EUID, gid: p.GID, egid: p.EGID,
		exe: p.Exe, name: p.Name,
	}
}

// fillParent sets the parent's exec ID and a short Parent, from the table
// or from /proc.
func (s *Sensor) fillParent(ev *event.Event) {
	ppid := ev.Process.PPID
	if ppid <= 0 {
		return
	}
	parent := &event.Process{PID: ppid}
	if k, ok := s.procs[ppid]; ok {
		parent.StartTime, parent.Exe, parent.Name = k.startTime, k.exe, k.name
		parent.UID, parent.EUID, parent.GID, parent.EGID = k.uid, k.euid, k.gid, k.egid
		parent.ExecID = s.rd.ExecID(k.startTime, ppid)
	} else if err := s.rd.Read(parent, procread.Basic); err == nil {
		s.remember(parent)
	}
	ev.Process.ParentExecID = parent.ExecID
	ev.Parent = parent
}

// Status reports the mode and attach point.
func (s *Sensor) Status() sensor.Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.status
	st.Attach = append([]string(nil), st.Attach...)
	return st
}

// Stats reports the counters. KernelDropped counts ENOBUFS occurrences,
// each standing for one or more lost messages.
func (s *Sensor) Stats() sensor.Stats {
	return sensor.Stats{
		Events:        s.events.Load(),
		KernelDropped: s.kernelDropped.Load(),
		SinkDropped:   s.sinkDropped.Load(),
		Filtered:      s.filtered.Load(),
		Errors:        s.decodeErrors.Load(),
	}
}

// Vanished counts events delivered with only the connector's PIDs because
// the process had exited before /proc could be read.
func (s *Sensor) Vanished() uint64 { return s.vanished.Load() }

// Close unsubscribes, closes the socket and waits for the reader.
func (s *Sensor) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	conn := s.conn
	s.status = sensor.Status{Name: Name, Mode: sensor.ModeOff, Reason: "closed"}
	s.mu.Unlock()
	if conn == nil {
		return nil
	}
	close(s.done)
	// Best effort: the socket is closed right after, which unsubscribes too.
	_, _ = conn.Send(netlink.Message{Header: netlink.Header{Type: netlink.Done}, Data: listenRequest(procCnMcastIgnore)})
	err := conn.Close()
	s.wg.Wait()
	if err != nil && !errors.Is(err, unix.EBADF) && !errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("proc connector: close: %w", err)
	}
	return nil
}

// clockOffset returns CLOCK_REALTIME - CLOCK_MONOTONIC in ns, to turn the
// connector's monotonic timestamps into wall-clock times.
func clockOffset() int64 {
	var mono, real unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &mono)
	_ = unix.ClockGettime(unix.CLOCK_REALTIME, &real)
	return real.Nano() - mono.Nano()
}
