package network

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigilsec/vigil/internal/event"
	"github.com/vigilsec/vigil/internal/testutil"
)

type collector struct {
	mu  sync.Mutex
	evs []*event.Event
}

func (c *collector) Emit(ev *event.Event) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.evs = append(c.evs, ev)
	return true
}

func (c *collector) snapshot() []*event.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*event.Event(nil), c.evs...)
}

// wait polls up to 10 s for an event of kind whose Net matches want in the
// fields want sets.
func (c *collector) wait(t *testing.T, kind event.Kind, want event.Network) *event.Event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, ev := range c.snapshot() {
			if ev.Kind == kind && netMatches(ev.Net, want) {
				return ev
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	var b strings.Builder
	for _, ev := range c.snapshot() {
		fmt.Fprintf(&b, "  %s %+v pid %d\n", ev.Kind, *ev.Net, ev.Process.PID)
	}
	t.Fatalf("no %s event like %+v; got:\n%s", kind, want, b.String())
	return nil
}

func netMatches(n *event.Network, w event.Network) bool {
	return (w.Family == "" || n.Family == w.Family) && (w.Protocol == "" || n.Protocol == w.Protocol) &&
		(w.SrcIP == "" || n.SrcIP == w.SrcIP) && (w.SrcPort == 0 || n.SrcPort == w.SrcPort) &&
		(w.DstIP == "" || n.DstIP == w.DstIP) && (w.DstPort == 0 || n.DstPort == w.DstPort) &&
		(w.OldState == "" || n.OldState == w.OldState) && (w.NewState == "" || n.NewState == w.NewState) &&
		(w.Result == "" || n.Result == w.Result)
}

func startSensorB(b *testing.B) {
	b.Helper()
	testutil.RequireBPF(b)
	s, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Start(context.Background(), sinkFunc(func(*event.Event) bool { return true })); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
}

func startSensor(t *testing.T, cfg Config) (*Sensor, *collector) {
	t.Helper()
	testutil.RequireBPF(t)
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{}
	if err := s.Start(context.Background(), c); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, c
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func addrPort(a net.Addr) netip.AddrPort {
	return a.(interface{ AddrPort() netip.AddrPort }).AddrPort()
}

func checkSelf(t *testing.T, ev *event.Event) {
	t.Helper()
	if ev.Process.PID != os.Getpid() || ev.Process.UID != uint32(os.Getuid()) || ev.Process.ExecID == "" || ev.Source != "ebpf" {
		t.Errorf("%s by pid %d uid %d exec id %q source %q, want pid %d", ev.Kind, ev.Process.PID, ev.Process.UID, ev.Process.ExecID, ev.Source, os.Getpid())
	}
}

func TestListenAcceptConnect(t *testing.T) {
	for _, tc := range []struct{ name, network, addr, ip, family string }{
		{"ipv4", "tcp4", "127.0.0.1:0", "127.0.0.1", "ipv4"},
		{"ipv6", "tcp6", "[::1]:0", "::1", "ipv6"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c := startSensor(t, Config{})
			for _, a := range s.Status().Attach {
				if strings.Contains(a, "inet_sock_set_state") {
					t.Errorf("TCP state attached though off: %v", s.Status().Attach)
				}
			}
			ln, err := net.Listen(tc.network, tc.addr)
			must(t, err)
			defer ln.Close()
			port := int(addrPort(ln.Addr()).Port())
			ev := c.wait(t, event.Listen, event.Network{SrcIP: tc.ip, SrcPort: port})
			checkSelf(t, ev)
			if ev.Net.Family != tc.family || ev.Net.Protocol != "tcp" || !ev.Net.Loopback || ev.Net.DstIP != "" {
				t.Errorf("listen %+v", *ev.Net)
			}

			accepted := make(chan net.Conn, 1)
			go func() {
				conn, err := ln.Accept()
				if err == nil {
					accepted <- conn
				}
				close(accepted)
			}()
			conn, err := net.Dial(tc.network, ln.Addr().String())
			must(t, err)
			defer conn.Close()
			if a, ok := <-accepted; ok {
				defer a.Close()
			}
			client := addrPort(conn.LocalAddr())
			// Go connects non-blocking: the result is EINPROGRESS.
			ev = c.wait(t, event.Connect, event.Network{DstIP: tc.ip, DstPort: port})
			checkSelf(t, ev)
			want := event.Network{Family: tc.family, Protocol: "tcp", SrcIP: tc.ip, SrcPort: int(client.Port()),
				DstIP: tc.ip, DstPort: port, Loopback: true, Result: "EINPROGRESS"}
			if *ev.Net != want {
				t.Errorf("connect %+v, want %+v", *ev.Net, want)
			}
			ev = c.wait(t, event.Accept, event.Network{DstPort: port})
			checkSelf(t, ev)
			want = event.Network{Family: tc.family, Protocol: "tcp", SrcIP: tc.ip, SrcPort: int(client.Port()),
				DstIP: tc.ip, DstPort: port, Loopback: true}
			if *ev.Net != want {
				t.Errorf("accept %+v, want %+v", *ev.Net, want)
			}
		})
	}
}

// freePort returns a loopback TCP port nobody listens on.
func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	must(t, err)
	port := int(addrPort(ln.Addr()).Port())
	ln.Close()
	return port
}

func TestConnectResults(t *testing.T) {
	s, c := startSensor(t, Config{})
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	must(t, err)
	defer ln.Close()
	port := int(addrPort(ln.Addr()).Port())

	// A blocking connect that succeeds: result "".
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	must(t, err)
	must(t, unix.Connect(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}))
	sa, err := unix.Getsockname(fd)
	must(t, err)
	unix.Close(fd)
	ev := c.wait(t, event.Connect, event.Network{DstPort: port, SrcPort: sa.(*unix.SockaddrInet4).Port})
	if ev.Net.Result != "" {
		t.Errorf("result %q, want success", ev.Net.Result)
	}

	// Refused.
	closed := freePort(t)
	fd, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	must(t, err)
	if err := unix.Connect(fd, &unix.SockaddrInet4{Port: closed, Addr: [4]byte{127, 0, 0, 1}}); err != unix.ECONNREFUSED {
		t.Fatalf("connect to a closed port: %v", err)
	}
	unix.Close(fd)
	c.wait(t, event.Connect, event.Network{DstPort: closed, Result: "ECONNREFUSED", Protocol: "tcp"})

	// UDP over IPv6 loopback: connect sends nothing.
	fd, err = unix.Socket(unix.AF_INET6, unix.SOCK_DGRAM, 0)
	must(t, err)
	must(t, unix.Connect(fd, &unix.SockaddrInet6{Port: 5353, Addr: netip.IPv6Loopback().As16()}))
	unix.Close(fd)
	ev = c.wait(t, event.Connect, event.Network{DstIP: "::1", DstPort: 5353})
	if ev.Net.Protocol != "udp" || ev.Net.Family != "ipv6" || ev.Net.SrcIP != "::1" || ev.Net.SrcPort == 0 || ev.Net.Result != "" {
		t.Errorf("udp6 connect %+v", *ev.Net)
	}

	// An IPv4-mapped destination on an IPv6 socket shows as IPv4.
	fd, err = unix.Socket(unix.AF_INET6, unix.SOCK_DGRAM, 0)
	must(t, err)
	must(t, unix.Connect(fd, &unix.SockaddrInet6{Port: 5354, Addr: netip.MustParseAddr("::ffff:127.0.0.2").As16()}))
	unix.Close(fd)
	ev = c.wait(t, event.Connect, event.Network{DstPort: 5354})
	if ev.Net.DstIP != "127.0.0.2" || ev.Net.Family != "ipv4" || ev.Net.SrcIP != "127.0.0.1" {
		t.Errorf("mapped connect %+v", *ev.Net)
	}

	// A raw ICMP socket is neither TCP nor UDP: filtered in the kernel.
	before := s.Stats().Filtered
	fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_ICMP)
	must(t, err)
	must(t, unix.Connect(fd, &unix.SockaddrInet4{Port: 0, Addr: [4]byte{127, 0, 0, 3}}))
	unix.Close(fd)
	// A UDP marker after it: once it arrives, the ICMP connect was seen.
	fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	must(t, err)
	must(t, unix.Connect(fd, &unix.SockaddrInet4{Port: 5355, Addr: [4]byte{127, 0, 0, 4}}))
	unix.Close(fd)
	c.wait(t, event.Connect, event.Network{DstIP: "127.0.0.4", DstPort: 5355})
	for _, ev := range c.snapshot() {
		if ev.Net.DstIP == "127.0.0.3" {
			t.Errorf("ICMP connect reported: %+v", *ev.Net)
		}
	}
	if s.Stats().Filtered <= before {
		t.Errorf("filtered stayed at %d", before)
	}
	if st := s.Stats(); st.Events == 0 || st.Errors != 0 || st.KernelDropped != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestChildProcess checks the acting process of another program's connect.
func TestChildProcess(t *testing.T) {
	py := testutil.RequireCommand(t, "python3")
	_, c := startSensor(t, Config{})
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	must(t, err)
	defer ln.Close()
	port := addrPort(ln.Addr()).Port()
	cmd := exec.Command(py, "-c", "import socket; socket.create_connection(('127.0.0.1', "+strconv.Itoa(int(port))+")).close()")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	ev := c.wait(t, event.Connect, event.Network{DstIP: "127.0.0.1", DstPort: int(port)})
	if ev.Process.PID != cmd.Process.Pid || ev.Process.PPID != os.Getpid() || !strings.HasPrefix(ev.Process.Name, "python3") {
		t.Errorf("pid %d ppid %d name %q, want %d %d python3", ev.Process.PID, ev.Process.PPID, ev.Process.Name, cmd.Process.Pid, os.Getpid())
	}
}

func TestTCPState(t *testing.T) {
	s, c := startSensor(t, Config{TCPState: true})
	found := false
	for _, a := range s.Status().Attach {
		found = found || a == "tracepoint/sock/inet_sock_set_state"
	}
	if !found {
		t.Fatalf("not attached: %v", s.Status().Attach)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	must(t, err)
	defer ln.Close()
	port := int(addrPort(ln.Addr()).Port())
	c.wait(t, event.TCPState, event.Network{SrcPort: port, OldState: "CLOSE", NewState: "LISTEN"})
	conn, err := net.Dial("tcp4", ln.Addr().String())
	must(t, err)
	client := int(addrPort(conn.LocalAddr()).Port())
	conn.Close()
	// The source port is chosen after the move to SYN_SENT.
	c.wait(t, event.TCPState, event.Network{SrcIP: "127.0.0.1", DstPort: port, OldState: "CLOSE", NewState: "SYN_SENT"})
	ev := c.wait(t, event.TCPState, event.Network{SrcPort: client, DstPort: port, OldState: "SYN_SENT", NewState: "ESTABLISHED"})
	if ev.Net.Family != "ipv4" || ev.Net.Protocol != "tcp" || !ev.Net.Loopback {
		t.Errorf("state %+v", *ev.Net)
	}
}

// TestStorm floods a one-page ring through a slow sink: every connect is
// delivered or counted as a kernel drop.
func TestStorm(t *testing.T) {
	testutil.RequireBPF(t)
	s, err := New(Config{RingSize: os.Getpagesize()})
	must(t, err)
	var mu sync.Mutex
	got := 0
	const port = 5399
	sink := sinkFunc(func(ev *event.Event) bool {
		time.Sleep(100 * time.Microsecond)
		if ev.Kind == event.Connect && ev.Net.DstIP == "127.0.0.9" && ev.Net.DstPort == port {
			mu.Lock()
			got++
			mu.Unlock()
		}
		return true
	})
	must(t, s.Start(context.Background(), sink))
	defer s.Close()
	const n = 3000
	for range n {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
		must(t, err)
		must(t, unix.Connect(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 9}}))
		unix.Close(fd)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		delivered := got
		mu.Unlock()
		// Other processes' connects may share the ring: drops can only be
		// at least what is missing here.
		dropped := s.Stats().KernelDropped
		if uint64(delivered)+dropped >= n && delivered <= n {
			t.Logf("storm of %d: delivered %d, kernel dropped %d", n, delivered, dropped)
			if dropped == 0 {
				t.Error("a one-page ring and a slow sink dropped nothing")
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivered %d + dropped %d < %d", delivered, dropped, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type sinkFunc func(*event.Event) bool

func (f sinkFunc) Emit(ev *event.Event) bool { return f(ev) }
