package network

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"

	"github.com/vigilsec/vigil/internal/event"
	"github.com/vigilsec/vigil/internal/sensor/ebpf/internal/bpfcommon"
)

// Offsets in struct net_rec (network.bpf.c); TestRecordLayout checks them
// against the generated type.
const (
	offFamily   = bpfcommon.ProcHeaderSize
	offProtocol = offFamily + 2
	offSport    = offFamily + 4
	offDport    = offFamily + 6
	offResult   = offFamily + 8
	offOldState = offFamily + 12
	offNewState = offFamily + 14
	offSaddr    = offFamily + 16
	offDaddr    = offFamily + 32
	recSize     = offFamily + 48
)

// Record kinds (K_* in network.bpf.c).
const (
	kindConnect  = 1
	kindAccept   = 2
	kindListen   = 3
	kindTCPState = 4
)

// tcpStates names the kernel's TCP states (include/net/tcp_states.h).
var tcpStates = [...]string{
	1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2", 6: "TIME_WAIT",
	7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN", 11: "CLOSING", 12: "NEW_SYN_RECV",
}

type decoder struct {
	bootID string
	clock  bpfcommon.Clock
}

// decode parses one fixed-size network record.
func (d *decoder) decode(b []byte) (*event.Event, error) {
	h, err := bpfcommon.DecodeProcHeader(b)
	if err != nil {
		return nil, err
	}
	if len(b) < recSize {
		return nil, fmt.Errorf("network record of %d bytes, want %d", len(b), recSize)
	}
	le := binary.LittleEndian
	ev := &event.Event{Time: d.clock.Time(h.TimeNs), Process: h.Process(d.bootID)}
	switch h.Kind {
	case kindConnect:
		ev.Kind = event.Connect
	case kindAccept:
		ev.Kind = event.Accept
	case kindListen:
		ev.Kind = event.Listen
	case kindTCPState:
		ev.Kind = event.TCPState
	default:
		return nil, fmt.Errorf("network record: unknown kind %d", h.Kind)
	}

	n := &event.Network{}
	switch le.Uint16(b[offProtocol:]) {
	case unix.IPPROTO_TCP:
		n.Protocol = "tcp"
	case unix.IPPROTO_UDP:
		n.Protocol = "udp"
	default:
		return nil, fmt.Errorf("network record: protocol %d is neither TCP nor UDP", le.Uint16(b[offProtocol:]))
	}
	var local, remote netip.Addr
	switch fam := le.Uint16(b[offFamily:]); fam {
	case unix.AF_INET:
		local, remote = netip.AddrFrom4([4]byte(b[offSaddr:])), netip.AddrFrom4([4]byte(b[offDaddr:]))
	case unix.AF_INET6:
		local, remote = netip.AddrFrom16([16]byte(b[offSaddr:])).Unmap(), netip.AddrFrom16([16]byte(b[offDaddr:])).Unmap()
	default:
		return nil, fmt.Errorf("network record: address family %d is neither AF_INET nor AF_INET6", fam)
	}
	lport, rport := int(le.Uint16(b[offSport:])), int(le.Uint16(b[offDport:]))

	// Source is the local end, except for Accept, where the remote end
	// started the connection.
	n.SrcIP, n.SrcPort, n.DstIP, n.DstPort = local.String(), lport, remote.String(), rport
	shown := remote
	switch ev.Kind {
	case event.Accept:
		n.SrcIP, n.SrcPort, n.DstIP, n.DstPort = n.DstIP, n.DstPort, n.SrcIP, n.SrcPort
	case event.Listen:
		n.DstIP, n.DstPort = "", 0
		shown = local
	case event.Connect:
		if r := int32(le.Uint32(b[offResult:])); r < 0 {
			n.Result = unix.ErrnoName(unix.Errno(-r))
			if n.Result == "" {
				n.Result = fmt.Sprintf("errno %d", -r)
			}
		}
		if lport == 0 && local.IsUnspecified() {
			n.SrcIP, n.SrcPort = "", 0 // not bound: the connect failed early
		}
	case event.TCPState:
		n.OldState = stateName(le.Uint16(b[offOldState:]))
		n.NewState = stateName(le.Uint16(b[offNewState:]))
	}
	n.Family = "ipv6"
	if shown.Is4() {
		n.Family = "ipv4"
	}
	n.Loopback = shown.IsLoopback()
	ev.Net = n
	return ev, nil
}

func stateName(s uint16) string {
	if int(s) < len(tcpStates) && tcpStates[s] != "" {
		return tcpStates[s]
	}
	return fmt.Sprintf("STATE_%d", s)
}
