package sockdiag

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/vigilsec/vigil/internal/event"
	"github.com/vigilsec/vigil/internal/sensor"
	"github.com/vigilsec/vigil/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type collector struct {
	mu     sync.Mutex
	events []*event.Event
}

func (c *collector) Emit(ev *event.Event) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, ev)
	return true
}

func (c *collector) wait(t *testing.T, what string, match func(*event.Event) bool) *event.Event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		for _, ev := range c.events {
			if match(ev) {
				c.mu.Unlock()
				return ev
			}
		}
		c.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no %s event within 10s", what)
	return nil
}

func TestLoopback(t *testing.T) {
	testutil.RequireRoot(t)
	// A listener open before Start is the baseline: not reported.
	old, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()

	s := New(Config{Interval: 50 * time.Millisecond})
	c := &collector{}
	if err := s.Start(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	}()
	if st := s.Status(); st.Mode != sensor.ModeFallback || st.Name != "network" || st.Reason == "" {
		t.Errorf("Status = %+v", st)
	}
	pid := os.Getpid()
	for _, tc := range []struct{ name, network, addr, family string }{
		{"ipv4", "tcp4", "127.0.0.1:0", "ipv4"},
		{"ipv6", "tcp6", "[::1]:0", "ipv6"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen(tc.network, tc.addr)
			if err != nil {
				testutil.Require(t, "VIGIL_REQUIRE_IPV6", false, "no "+tc.addr+": "+err.Error())
			}
			defer ln.Close()
			lport := ln.Addr().(*net.TCPAddr).Port
			ip := ln.Addr().(*net.TCPAddr).IP.String()
			lev := c.wait(t, "listen", func(ev *event.Event) bool {
				return ev.Kind == event.Listen && ev.Net.SrcPort == lport
			})
			want := &event.Network{Family: tc.family, Protocol: "tcp", SrcIP: ip, SrcPort: lport, Loopback: true}
			if diff := cmp.Diff(want, lev.Net); diff != "" {
				t.Errorf("listen (-want +got):\n%s", diff)
			}
			if lev.Process.PID != pid || lev.Process.ExecID == "" || lev.Source != Source {
				t.Errorf("listen process %+v source %q, want pid %d", lev.Process, lev.Source, pid)
			}

			client, err := net.Dial(tc.network, ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			server, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer server.Close()
			cport := client.LocalAddr().(*net.TCPAddr).Port
			cev := c.wait(t, "connect", func(ev *event.Event) bool {
				return ev.Kind == event.Connect && ev.Net.DstPort == lport
			})
			want = &event.Network{Family: tc.family, Protocol: "tcp", SrcIP: ip, SrcPort: cport, DstIP: ip, DstPort: lport, Loopback: true}
			if diff := cmp.Diff(want, cev.Net); diff != "" {
				t.Errorf("connect (-want +got):\n%s", diff)
			}
			aev := c.wait(t, "accept", func(ev *event.Event) bool {
				return ev.Kind == event.Accept && ev.Net.DstPort == lport
			})
			want = &event.Network{Family: tc.family, Protocol: "tcp", SrcIP: ip, SrcPort: cport, DstIP: ip, DstPort: lport, Loopback: true}
			if diff := cmp.Diff(want, aev.Net); diff != "" {
				t.Errorf("accept (-want +got):\n%s", diff)
			}
			if cev.Process.PID != pid || aev.Process.PID != pid {
				t.Errorf("connect pid %d, accept pid %d, want %d", cev.Process.PID, aev.Process.PID, pid)
			}
		})
	}

	t.Run("udp", func(t *testing.T) {
		srv, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		conn, err := net.Dial("udp4", srv.LocalAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		port := srv.LocalAddr().(*net.UDPAddr).Port
		ev := c.wait(t, "udp connect", func(ev *event.Event) bool {
			return ev.Kind == event.Connect && ev.Net.Protocol == "udp" && ev.Net.DstPort == port
		})
		if ev.Process.PID != pid || ev.Net.SrcPort != conn.LocalAddr().(*net.UDPAddr).Port {
			t.Errorf("udp connect = %+v, %+v", ev.Process, ev.Net)
		}
	})

	oldPort := old.Addr().(*net.TCPAddr).Port
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ev := range c.events {
		if ev.Kind == event.Listen && ev.Net.SrcPort == oldPort {
			t.Errorf("baseline listener reported: %+v", ev.Net)
		}
	}
}

func TestContextCancel(t *testing.T) {
	testutil.RequireRoot(t)
	ctx, cancel := context.WithCancel(context.Background())
	s := New(Config{Interval: 10 * time.Millisecond})
	if err := s.Start(ctx, &collector{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * time.Millisecond)
	cancel()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// encodeMsg builds a struct inet_diag_msg.
func encodeMsg(sk Sock) []byte {
	b := make([]byte, inetDiagMsgLen)
	b[0], b[1] = sk.Family, sk.State
	binary.BigEndian.PutUint16(b[4:], sk.Src.Port())
	binary.BigEndian.PutUint16(b[6:], sk.Dst.Port())
	if sk.Family == unix.AF_INET {
		a, d := sk.Src.Addr().As4(), sk.Dst.Addr().As4()
		copy(b[8:], a[:])
		copy(b[24:], d[:])
	} else {
		a, d := sk.Src.Addr().As16(), sk.Dst.Addr().As16()
		copy(b[8:], a[:])
		copy(b[24:], d[:])
	}
	ne.PutUint32(b[44:], uint32(sk.Cookie))
	ne.PutUint32(b[48:], uint32(sk.Cookie>>32))
	ne.PutUint32(b[64:], sk.UID)
	ne.PutUint32(b[68:], sk.Inode)
	return b
}

var decodeCases = []Sock{
	{Family: unix.AF_INET, Protocol: unix.IPPROTO_TCP, State: tcpEstablished,
		Src: netip.MustParseAddrPort("10.0.0.1:43210"), Dst: netip.MustParseAddrPort("10.0.0.2:22"),
		Cookie: 1<<40 | 7, UID: 1000, Inode: 12345},
	{Family: unix.AF_INET6, Protocol: unix.IPPROTO_UDP, State: tcpEstablished,
		Src: netip.MustParseAddrPort("[::ffff:127.0.0.1]:5000"), Dst: netip.MustParseAddrPort("[::ffff:127.0.0.1]:53"),
		Cookie: 9, Inode: 1},
}

func TestDecodeMsg(t *testing.T) {
	for _, want := range decodeCases {
		got, err := DecodeMsg(encodeMsg(want), want.Protocol)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
			t.Errorf("DecodeMsg (-want +got):\n%s", diff)
		}
	}
	n := netInfo(decodeCases[1])
	if n.Family != "ipv4" || n.SrcIP != "127.0.0.1" || n.DstIP != "127.0.0.1" || !n.Loopback || n.Protocol != "udp" {
		t.Errorf("netInfo of a mapped address = %+v", n)
	}
	if _, err := DecodeMsg(make([]byte, 10), unix.IPPROTO_TCP); err == nil {
		t.Error("DecodeMsg(short) = nil error")
	}
	bad := encodeMsg(decodeCases[0])
	bad[0] = 99
	if _, err := DecodeMsg(bad, unix.IPPROTO_TCP); err == nil {
		t.Error("DecodeMsg(family 99) = nil error")
	}
}

func FuzzDecodeMsg(f *testing.F) {
	for _, sk := range decodeCases {
		f.Add(encodeMsg(sk))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		sk, err := DecodeMsg(b, unix.IPPROTO_TCP)
		if err != nil {
			return
		}
		n := netInfo(sk)
		if n.Family != "ipv4" && n.Family != "ipv6" {
			t.Errorf("family %q", n.Family)
		}
	})
}
