package network

import (
	"encoding/binary"
	"strings"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilsec/vigil/internal/event"
	"github.com/vigilsec/vigil/internal/sensor/ebpf/internal/bpfcommon"
)

// TestRecordLayout checks the decoder's offsets against the layout clang
// gave struct net_rec.
func TestRecordLayout(t *testing.T) {
	var r networkNetRec
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"proc header", unsafe.Sizeof(r.H), bpfcommon.ProcHeaderSize},
		{"family", unsafe.Offsetof(r.Family), offFamily},
		{"protocol", unsafe.Offsetof(r.Protocol), offProtocol},
		{"sport", unsafe.Offsetof(r.Sport), offSport},
		{"dport", unsafe.Offsetof(r.Dport), offDport},
		{"result", unsafe.Offsetof(r.Result), offResult},
		{"oldstate", unsafe.Offsetof(r.Oldstate), offOldState},
		{"newstate", unsafe.Offsetof(r.Newstate), offNewState},
		{"saddr", unsafe.Offsetof(r.Saddr), offSaddr},
		{"daddr", unsafe.Offsetof(r.Daddr), offDaddr},
		{"size", unsafe.Sizeof(r), recSize},
	} {
		if c.got != c.want {
			t.Errorf("%s at %d, decoder uses %d", c.name, c.got, c.want)
		}
	}
}

// record builds a network record as the kernel writes it.
func record(kind uint32, family, proto uint16, src, dst []byte, sport, dport uint16, result int32, oldS, newS uint16) []byte {
	b := make([]byte, recSize)
	le := binary.LittleEndian
	le.PutUint32(b[0:], kind)
	le.PutUint32(b[4:], 300)
	le.PutUint32(b[8:], 301)
	le.PutUint32(b[12:], 1)
	le.PutUint64(b[48:], 10)
	copy(b[64:], "curl")
	le.PutUint16(b[offFamily:], family)
	le.PutUint16(b[offProtocol:], proto)
	le.PutUint16(b[offSport:], sport)
	le.PutUint16(b[offDport:], dport)
	le.PutUint32(b[offResult:], uint32(result))
	le.PutUint16(b[offOldState:], oldS)
	le.PutUint16(b[offNewState:], newS)
	copy(b[offSaddr:], src)
	copy(b[offDaddr:], dst)
	return b
}

var (
	v4lo     = []byte{127, 0, 0, 1}
	v4pub    = []byte{203, 0, 113, 7}
	v6lo     = []byte{15: 1}
	v6mapped = []byte{10: 0xff, 11: 0xff, 12: 198, 13: 51, 14: 100, 15: 2}
)

func TestDecode(t *testing.T) {
	d := &decoder{bootID: "boot"}
	for _, c := range []struct {
		name string
		rec  []byte
		kind event.Kind
		want event.Network
	}{
		{"connect_refused", record(1, 2, 6, v4lo, v4pub, 40000, 443, -111, 0, 0), event.Connect,
			event.Network{Family: "ipv4", Protocol: "tcp", SrcIP: "127.0.0.1", SrcPort: 40000, DstIP: "203.0.113.7", DstPort: 443, Result: "ECONNREFUSED"}},
		{"connect_unbound", record(1, 2, 17, nil, v4pub, 0, 53, -101, 0, 0), event.Connect,
			event.Network{Family: "ipv4", Protocol: "udp", DstIP: "203.0.113.7", DstPort: 53, Result: "ENETUNREACH"}},
		{"connect_mapped", record(1, 10, 6, v6mapped, v6mapped, 1, 2, -115, 0, 0), event.Connect,
			event.Network{Family: "ipv4", Protocol: "tcp", SrcIP: "198.51.100.2", SrcPort: 1, DstIP: "198.51.100.2", DstPort: 2, Result: "EINPROGRESS"}},
		{"connect_odd_errno", record(1, 2, 6, v4lo, v4lo, 1, 2, -4095, 0, 0), event.Connect,
			event.Network{Family: "ipv4", Protocol: "tcp", SrcIP: "127.0.0.1", SrcPort: 1, DstIP: "127.0.0.1", DstPort: 2, Loopback: true, Result: "errno 4095"}},
		{"accept_swaps", record(2, 10, 6, v6lo, v6mapped, 22, 50000, 0, 0, 0), event.Accept,
			event.Network{Family: "ipv4", Protocol: "tcp", SrcIP: "198.51.100.2", SrcPort: 50000, DstIP: "::1", DstPort: 22}},
		{"listen_local", record(3, 10, 6, v6lo, nil, 8080, 0, 0, 0, 0), event.Listen,
			event.Network{Family: "ipv6", Protocol: "tcp", SrcIP: "::1", SrcPort: 8080, Loopback: true}},
		{"tcp_state", record(4, 2, 6, v4lo, v4lo, 1, 2, 0, 2, 1), event.TCPState,
			event.Network{Family: "ipv4", Protocol: "tcp", SrcIP: "127.0.0.1", SrcPort: 1, DstIP: "127.0.0.1", DstPort: 2, Loopback: true, OldState: "SYN_SENT", NewState: "ESTABLISHED"}},
		{"tcp_state_unknown", record(4, 2, 6, v4lo, v4lo, 1, 2, 0, 99, 0), event.TCPState,
			event.Network{Family: "ipv4", Protocol: "tcp", SrcIP: "127.0.0.1", SrcPort: 1, DstIP: "127.0.0.1", DstPort: 2, Loopback: true, OldState: "STATE_99", NewState: "STATE_0"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ev, err := d.decode(c.rec)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Kind != c.kind || ev.Process.PID != 300 || ev.Process.Name != "curl" || ev.Process.ExecID != "boot:10:300" {
				t.Errorf("kind %s process %+v", ev.Kind, ev.Process)
			}
			if diff := cmp.Diff(c.want, *ev.Net); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
	for _, c := range []struct {
		name string
		rec  []byte
		want string
	}{
		{"short", record(1, 2, 6, nil, nil, 0, 0, 0, 0, 0)[:100], "network record of 100 bytes, want 128"},
		{"kind", record(9, 2, 6, nil, nil, 0, 0, 0, 0, 0), "unknown kind 9"},
		{"family", record(1, 1, 6, nil, nil, 0, 0, 0, 0, 0), "address family 1"},
		{"protocol", record(1, 2, 1, nil, nil, 0, 0, 0, 0, 0), "protocol 1 is neither"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := d.decode(c.rec); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(record(1, 2, 6, v4lo, v4pub, 40000, 443, -111, 0, 0))
	f.Add(record(2, 10, 6, v6lo, v6mapped, 22, 50000, 0, 0, 0))
	f.Add(record(4, 2, 6, v4lo, v4lo, 1, 2, 0, 2, 1))
	d := &decoder{bootID: "b", clock: bpfcommon.NewClock()}
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := d.decode(b)
		if err != nil {
			return
		}
		if ev.Net == nil || (ev.Net.Family != "ipv4" && ev.Net.Family != "ipv6") || !ev.Kind.Valid() {
			t.Fatalf("decoded an invalid event: %+v", ev)
		}
	})
}
