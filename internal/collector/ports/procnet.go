package ports

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"strconv"

	"github.com/vigilsec/vigil/internal/plugin"
)

// TCP states as printed (in hex) in /proc/net/{tcp,udp}{,6} and sent by
// sock_diag; see include/net/tcp_states.h.
const (
	stateListen = 0x0a // TCP_LISTEN: a listening TCP socket
	stateClose  = 0x07 // TCP_CLOSE: an unconnected UDP socket, "UNCONN" in ss
)

// socket is one listening TCP or bound, unconnected UDP socket.
type socket struct {
	proto string // "tcp" or "udp"
	addr  netip.Addr
	port  int
	uid   int
	inode uint64
}

func (s socket) family() int {
	if s.addr.Is4() {
		return 4
	}
	return 6
}

// procNetStats accounts for every data line of a /proc/net file.
type procNetStats struct {
	lines   int // data lines (after the header)
	kept    int // sockets in the wanted state, emitted
	skipped int // well-formed sockets in other states
	bad     int // malformed lines, each reported as a problem
}

// parseProcNet reads a /proc/net/{tcp,tcp6,udp,udp6} table and emits the
// sockets in state want. The addresses are the kernel's raw __be32 words
// printed as host-endian integers, so they are decoded with the native
// byte order: an offline /proc snapshot must come from a machine of the
// same endianness. Malformed lines are reported in problems as
// "<name>:<line>: ...".
func parseProcNet(r io.Reader, name, proto string, v6 bool, want uint8, problems *plugin.Problems, emit func(socket)) (procNetStats, error) {
	var st procNetStats
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 512), 64<<10)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := sc.Bytes()
		if lineNo == 1 {
			if !bytes.Contains(line, []byte("local_address")) {
				st.lines++
				st.bad++
				problems.Addf("%s:%d: missing header", name, lineNo)
			}
			continue
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		st.lines++
		s, state, err := parseProcNetLine(line, proto, v6)
		if err != nil {
			st.bad++
			problems.Addf("%s:%d: %v", name, lineNo, err)
			continue
		}
		if state != want {
			st.skipped++
			continue
		}
		st.kept++
		emit(s)
	}
	if err := sc.Err(); err != nil {
		return st, fmt.Errorf("read %s: %w", name, err)
	}
	return st, nil
}

// parseProcNetLine parses
//
//	sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
func parseProcNetLine(line []byte, proto string, v6 bool) (socket, uint8, error) {
	var f [10][]byte
	n := 0
	for rest := line; n < len(f); n++ {
		rest = bytes.TrimLeft(rest, " \t")
		if len(rest) == 0 {
			break
		}
		i := bytes.IndexAny(rest, " \t")
		if i < 0 {
			i = len(rest)
		}
		f[n], rest = rest[:i], rest[i:]
	}
	if n < len(f) {
		return socket{}, 0, fmt.Errorf("%d fields, want at least %d", n, len(f))
	}
	addr, port, err := parseHexAddrPort(f[1], v6)
	if err != nil {
		return socket{}, 0, fmt.Errorf("local address %q: %w", f[1], err)
	}
	if len(f[3]) != 2 {
		return socket{}, 0, fmt.Errorf("state %q: want two hex digits", f[3])
	}
	state, err := strconv.ParseUint(string(f[3]), 16, 8)
	if err != nil {
		return socket{}, 0, fmt.Errorf("state %q: not hex", f[3])
	}
	uid, err := strconv.ParseUint(string(f[7]), 10, 32)
	if err != nil {
		return socket{}, 0, fmt.Errorf("uid %q: not a number", f[7])
	}
	inode, err := strconv.ParseUint(string(f[9]), 10, 64)
	if err != nil {
		return socket{}, 0, fmt.Errorf("inode %q: not a number", f[9])
	}
	return socket{proto: proto, addr: addr, port: port, uid: int(uid), inode: inode}, uint8(state), nil
}

// parseHexAddrPort decodes "0100007F:1F90" (IPv4) or the 32-digit IPv6
// form, each 32-bit word in host byte order, and a big-endian port.
func parseHexAddrPort(b []byte, v6 bool) (netip.Addr, int, error) {
	ab, pb, ok := bytes.Cut(b, []byte{':'})
	if !ok {
		return netip.Addr{}, 0, fmt.Errorf("no port")
	}
	if len(pb) != 4 {
		return netip.Addr{}, 0, fmt.Errorf("port: want four hex digits")
	}
	var p [2]byte
	if _, err := hex.Decode(p[:], pb); err != nil {
		return netip.Addr{}, 0, fmt.Errorf("port: not hex")
	}
	port := int(binary.BigEndian.Uint16(p[:]))
	want := 8
	if v6 {
		want = 32
	}
	if len(ab) != want {
		return netip.Addr{}, 0, fmt.Errorf("address: want %d hex digits", want)
	}
	var raw [16]byte
	if _, err := hex.Decode(raw[:want/2], ab); err != nil {
		return netip.Addr{}, 0, fmt.Errorf("address: not hex")
	}
	// Each word was printed as a host-endian integer: turn it back into
	// the network-order bytes it holds.
	for i := 0; i < want/2; i += 4 {
		binary.NativeEndian.PutUint32(raw[i:], binary.BigEndian.Uint32(raw[i:]))
	}
	if !v6 {
		return netip.AddrFrom4([4]byte(raw[:4])), port, nil
	}
	return netip.AddrFrom16(raw), port, nil
}
