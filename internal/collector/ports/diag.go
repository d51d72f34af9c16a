package ports

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// sock_diag (linux/inet_diag.h), what ss(8) uses. One dump request per
// protocol and family asks the kernel for the sockets in the wanted state
// only, so established connections are never copied to user space.
const (
	sockDiagByFamily = 20 // SOCK_DIAG_BY_FAMILY
	reqSize          = 56 // struct inet_diag_req_v2
	msgSize          = 72 // struct inet_diag_msg
)

type diagQuery struct {
	proto  string
	ipProt uint8
	family uint8
	state  uint8
	file   string // the /proc/net table with the same sockets
}

var diagQueries = []diagQuery{
	{"tcp", unix.IPPROTO_TCP, unix.AF_INET, stateListen, "tcp"},
	{"tcp", unix.IPPROTO_TCP, unix.AF_INET6, stateListen, "tcp6"},
	{"udp", unix.IPPROTO_UDP, unix.AF_INET, stateClose, "udp"},
	{"udp", unix.IPPROTO_UDP, unix.AF_INET6, stateClose, "udp6"},
}

// diagConn is an open NETLINK_SOCK_DIAG socket.
type diagConn struct{ c *netlink.Conn }

func dialDiag() (*diagConn, error) {
	c, err := netlink.Dial(unix.NETLINK_SOCK_DIAG, nil)
	if err != nil {
		return nil, fmt.Errorf("dial sock_diag: %w", err)
	}
	return &diagConn{c}, nil
}

func (d *diagConn) Close() error { return d.c.Close() }

// dump returns the sockets of one query.
func (d *diagConn) dump(q diagQuery) ([]socket, error) {
	req := make([]byte, reqSize)
	req[0] = q.family
	req[1] = q.ipProt
	binary.NativeEndian.PutUint32(req[4:], 1<<q.state)
	msgs, err := d.c.Execute(netlink.Message{
		Header: netlink.Header{
			Type:  sockDiagByFamily,
			Flags: netlink.Request | netlink.Dump,
		},
		Data: req,
	})
	if err != nil {
		return nil, fmt.Errorf("sock_diag %s%s: %w", q.proto, familySuffix(q.family), err)
	}
	socks := make([]socket, 0, len(msgs))
	for _, m := range msgs {
		s, ok := parseDiagMsg(m.Data, q.proto)
		if !ok {
			return nil, fmt.Errorf("sock_diag %s%s: short message of %d bytes", q.proto, familySuffix(q.family), len(m.Data))
		}
		socks = append(socks, s)
	}
	return socks, nil
}

func familySuffix(f uint8) string {
	if f == unix.AF_INET6 {
		return "6"
	}
	return ""
}

// parseDiagMsg decodes a struct inet_diag_msg.
func parseDiagMsg(b []byte, proto string) (socket, bool) {
	if len(b) < msgSize {
		return socket{}, false
	}
	var addr netip.Addr
	switch b[0] {
	case unix.AF_INET:
		addr = netip.AddrFrom4([4]byte(b[8:12]))
	case unix.AF_INET6:
		addr = netip.AddrFrom16([16]byte(b[8:24]))
	default:
		return socket{}, false
	}
	return socket{
		proto: proto,
		addr:  addr,
		port:  int(binary.BigEndian.Uint16(b[4:6])),
		uid:   int(binary.NativeEndian.Uint32(b[64:68])),
		inode: uint64(binary.NativeEndian.Uint32(b[68:72])),
	}, true
}
