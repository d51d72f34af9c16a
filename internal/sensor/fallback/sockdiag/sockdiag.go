// Package sockdiag is the fallback network sensor: when eBPF cannot run,
// it polls the kernel's socket table through sock_diag (NETLINK_SOCK_DIAG,
// inet_diag) and reports sockets that appeared since the last poll: a new
// TCP listener as listen, a new established TCP socket as accept when its
// local port is a listener's and as connect otherwise, and a new connected
// UDP socket as connect. The owning process is found by scanning
// /proc/*/fd for the new sockets' inodes only (procutil.SocketOwners).
//
// Polling has limits, stated in Status().Reason: a connection opened and
// closed between two polls is not seen at all, and the times are those of
// the poll. Sockets already open at Start are the baseline and not
// reported. A socket waiting in a listener's accept queue has no inode
// yet; it is reported once accept(2) gives it one.
//
// It uses github.com/mdlayher/netlink for the dump requests: multi-part
// replies and netlink errors are handled there.
package sockdiag

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
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

// Name is the sensor's name, shared with the eBPF network sensor.
const Name = "network"

// Source is the event.Event Source of this sensor's events.
const Source = "sock_diag"

// Config configures the sensor. The zero value is usable.
type Config struct {
	// Interval between polls; default 1 s.
	Interval time.Duration
	// ProcPath is the procfs for socket owners; default "/proc".
	ProcPath string
}

// TCP states of include/net/tcp_states.h.
const (
	tcpEstablished = 1
	tcpListen      = 10
)

// Sock is one socket of an inet_diag dump.
type Sock struct {
	Family   uint8 // AF_INET, AF_INET6
	Protocol uint8 // IPPROTO_TCP, IPPROTO_UDP
	State    uint8
	Src, Dst netip.AddrPort
	Cookie   uint64
	UID      uint32
	Inode    uint32
}

// inetDiagMsgLen is sizeof(struct inet_diag_msg).
const inetDiagMsgLen = 72

// DecodeMsg decodes a struct inet_diag_msg (attributes after it are
// ignored); proto is the protocol of the request, which the reply does not
// repeat.
func DecodeMsg(b []byte, proto uint8) (Sock, error) {
	var s Sock
	if len(b) < inetDiagMsgLen {
		return s, fmt.Errorf("inet_diag_msg: %d bytes, want %d", len(b), inetDiagMsgLen)
	}
	s.Family, s.State, s.Protocol = b[0], b[1], proto
	sport, dport := binary.BigEndian.Uint16(b[4:]), binary.BigEndian.Uint16(b[6:])
	var src, dst netip.Addr
	switch s.Family {
	case unix.AF_INET:
		src, dst = netip.AddrFrom4([4]byte(b[8:12])), netip.AddrFrom4([4]byte(b[24:28]))
	case unix.AF_INET6:
		src, dst = netip.AddrFrom16([16]byte(b[8:24])), netip.AddrFrom16([16]byte(b[24:40]))
	default:
		return s, fmt.Errorf("inet_diag_msg: address family %d", s.Family)
	}
	s.Src, s.Dst = netip.AddrPortFrom(src, sport), netip.AddrPortFrom(dst, dport)
	s.Cookie = uint64(ne.Uint32(b[44:])) | uint64(ne.Uint32(b[48:]))<<32
	s.UID, s.Inode = ne.Uint32(b[64:]), ne.Uint32(b[68:])
	return s, nil
}

var ne = binary.NativeEndian

// request builds a struct inet_diag_req_v2 for a dump of every socket of
// family and proto in the given states.
func request(family, proto uint8, states uint32) []byte {
	b := make([]byte, 56)
	b[0], b[1] = family, proto
	ne.PutUint32(b[4:], states)
	return b
}

// Sensor is the sock_diag polling sensor.
type Sensor struct {
	cfg Config

	events, sinkDropped, errCount atomic.Uint64

	mu      sync.Mutex
	status  sensor.Status
	conn    *netlink.Conn
	started bool
	closed  bool
	done    chan struct{}
	wg      sync.WaitGroup

	// Owned by the poller.
	sink sensor.Sink
	rd   *procread.Reader
	seen map[uint64]struct{} // cookies reported or in the baseline
}

var _ sensor.Sensor = (*Sensor)(nil)

// New returns a sensor that is not yet started.
func New(cfg Config) *Sensor {
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.ProcPath == "" {
		cfg.ProcPath = "/proc"
	}
	return &Sensor{
		cfg:    cfg,
		status: sensor.Status{Name: Name, Mode: sensor.ModeOff, Reason: "not started"},
		done:   make(chan struct{}),
	}
}

// Name returns "network".
func (s *Sensor) Name() string { return Name }

// Start takes the baseline and polls every Interval until ctx ends or
// Close is called.
func (s *Sensor) Start(ctx context.Context, sink sensor.Sink) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.closed {
		return errors.New("sock_diag: already started")
	}
	rd, err := procread.NewReader(s.cfg.ProcPath)
	if err != nil {
		return fmt.Errorf("sock_diag: %w", err)
	}
	conn, err := netlink.Dial(unix.NETLINK_SOCK_DIAG, nil)
	if err != nil {
		s.status.Reason = "sock_diag: " + err.Error()
		return fmt.Errorf("sock_diag: dial: %w", err)
	}
	s.conn, s.sink, s.rd = conn, sink, rd
	socks, err := s.dump()
	if err != nil {
		conn.Close()
		s.status.Reason = err.Error()
		return err
	}
	s.seen = make(map[uint64]struct{}, len(socks))
	for _, sk := range socks {
		if sk.Inode != 0 {
			s.seen[sk.Cookie] = struct{}{}
		}
	}
	s.started = true
	s.status = sensor.Status{
		Name:   Name,
		Mode:   sensor.ModeFallback,
		Attach: []string{"netlink/sock_diag/inet"},
		Reason: fmt.Sprintf("eBPF unavailable; polling sock_diag every %s: connections shorter than the interval are not seen", s.cfg.Interval),
	}
	s.wg.Add(1)
	go s.run(ctx)
	return nil
}

func (s *Sensor) run(ctx context.Context) {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.done:
			return
		case <-t.C:
		}
		if err := s.poll(ctx); err != nil {
			s.errCount.Add(1)
		}
	}
}

// dump lists TCP listeners and established TCP and UDP sockets, IPv4 and
// IPv6.
func (s *Sensor) dump() ([]Sock, error) {
	var all []Sock
	for _, q := range []struct {
		family, proto uint8
		states        uint32
	}{
		{unix.AF_INET, unix.IPPROTO_TCP, 1<<tcpEstablished | 1<<tcpListen},
		{unix.AF_INET6, unix.IPPROTO_TCP, 1<<tcpEstablished | 1<<tcpListen},
		{unix.AF_INET, unix.IPPROTO_UDP, 1 << tcpEstablished},
		{unix.AF_INET6, unix.IPPROTO_UDP, 1 << tcpEstablished},
	} {
		msgs, err := s.conn.Execute(netlink.Message{
			Header: netlink.Header{Type: unix.SOCK_DIAG_BY_FAMILY, Flags: netlink.Request | netlink.Dump},
			Data:   request(q.family, q.proto, q.states),
		})
		if err != nil {
			return nil, fmt.Errorf("sock_diag: dump family %d protocol %d: %w", q.family, q.proto, err)
		}
		for _, m := range msgs {
			sk, err := DecodeMsg(m.Data, q.proto)
			if err != nil {
				s.errCount.Add(1)
				continue
			}
			all = append(all, sk)
		}
	}
	return all, nil
}

// poll reports the sockets that appeared since the last poll.
func (s *Sensor) poll(ctx context.Context) error {
	socks, err := s.dump()
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	type portKey struct {
		proto uint8
		port  uint16
	}
	listeners := make(map[portKey]struct{})
	current := make(map[uint64]struct{}, len(socks))
	var fresh []Sock
	for _, sk := range socks {
		if sk.State == tcpListen {
			listeners[portKey{sk.Protocol, sk.Src.Port()}] = struct{}{}
		}
		if sk.Inode == 0 {
			continue // in an accept queue: reported once accepted
		}
		current[sk.Cookie] = struct{}{}
		if _, ok := s.seen[sk.Cookie]; !ok {
			fresh = append(fresh, sk)
		}
	}
	s.seen = current
	if len(fresh) == 0 {
		return nil
	}
	want := make(map[uint64]struct{}, len(fresh))
	for _, sk := range fresh {
		want[uint64(sk.Inode)] = struct{}{}
	}
	owners, err := procutil.SocketOwners(ctx, s.cfg.ProcPath, want)
	if err != nil {
		owners = nil // report without owners rather than not at all
		s.errCount.Add(1)
	}
	for _, sk := range fresh {
		ev := &event.Event{Time: now, Source: Source, Net: netInfo(sk)}
		switch {
		case sk.State == tcpListen:
			ev.Kind = event.Listen
		case sk.Protocol == unix.IPPROTO_TCP && has(listeners, portKey{sk.Protocol, sk.Src.Port()}):
			ev.Kind = event.Accept
			// The remote end is the source of an accepted connection.
			n := ev.Net
			n.SrcIP, n.SrcPort, n.DstIP, n.DstPort = n.DstIP, n.DstPort, n.SrcIP, n.SrcPort
		default:
			ev.Kind = event.Connect
		}
		if pids := owners[uint64(sk.Inode)]; len(pids) > 0 {
			ev.Process.PID = pids[0]
			_ = s.rd.Read(&ev.Process, procread.Basic) // the owner may be gone
		} else {
			ev.Process.UID, ev.Process.EUID = sk.UID, sk.UID
		}
		if s.sink.Emit(ev) {
			s.events.Add(1)
		} else {
			s.sinkDropped.Add(1)
		}
	}
	return nil
}

func has[K comparable](m map[K]struct{}, k K) bool {
	_, ok := m[k]
	return ok
}

// netInfo describes sk as a connect or listen: source is the local end.
// IPv4-mapped IPv6 addresses are shown as IPv4.
func netInfo(sk Sock) *event.Network {
	src, dst := sk.Src.Addr().Unmap(), sk.Dst.Addr().Unmap()
	n := &event.Network{Family: "ipv6", Protocol: "tcp", SrcIP: src.String(), SrcPort: int(sk.Src.Port())}
	if src.Is4() {
		n.Family = "ipv4"
	}
	if sk.Protocol == unix.IPPROTO_UDP {
		n.Protocol = "udp"
	}
	if sk.State == tcpListen {
		n.Loopback = src.IsLoopback()
		return n
	}
	n.DstIP, n.DstPort = dst.String(), int(sk.Dst.Port())
	n.Loopback = dst.IsLoopback()
	return n
}

// Status reports the mode and polling interval.
func (s *Sensor) Status() sensor.Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.status
	st.Attach = append([]string(nil), st.Attach...)
	return st
}

// Stats reports the counters. Nothing is dropped in the kernel; what
// polling misses is not counted (see the package comment). Errors counts
// failed polls and undecodable replies.
func (s *Sensor) Stats() sensor.Stats {
	return sensor.Stats{
		Events:      s.events.Load(),
		SinkDropped: s.sinkDropped.Load(),
		Errors:      s.errCount.Load(),
	}
}

// Close stops polling and closes the socket.
func (s *Sensor) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.status = sensor.Status{Name: Name, Mode: sensor.ModeOff, Reason: "closed"}
	conn := s.conn
	s.mu.Unlock()
	close(s.done)
	s.wg.Wait()
	if conn != nil {
		if err := conn.Close(); err != nil {
			return fmt.Errorf("sock_diag: close: %w", err)
		}
	}
	return nil
}
