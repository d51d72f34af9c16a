package netblock

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigilsec/vigil/internal/testutil"
)

func TestParseCgroup2Mount(t *testing.T) {
	in := "tmpfs /sys/fs/cgroup tmpfs rw 0 0\ncgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\ncgroup2 /sys/fs/cgroup/uni\\040fied cgroup2 rw 0 0\n"
	got, err := parseCgroup2Mount(strings.NewReader(in))
	if err != nil || got != "/sys/fs/cgroup/uni fied" {
		t.Errorf("parseCgroup2Mount = %q, %v", got, err)
	}
	if _, err := parseCgroup2Mount(strings.NewReader("proc /proc proc rw 0 0\n")); err == nil {
		t.Error("no cgroup2 mount: no error")
	}
}

func FuzzParseCgroup2Mount(f *testing.F) {
	if b, err := os.ReadFile("/proc/self/mounts"); err == nil {
		f.Add(string(b))
	}
	f.Add("cgroup2 /a\\040b cgroup2 rw 0 0\n")
	f.Add("x /\\777\\0 cgroup2")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parseCgroup2Mount(strings.NewReader(s))
		if err == nil && len(p) > len(s) {
			t.Errorf("path %q longer than input", p)
		}
	})
}

// listen opens a TCP listener on addr that accepts and closes.
func listen(t testing.TB, addr string) string {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln.Addr().String()
}

func dial(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err == nil {
		c.Close()
	}
	return err
}

// sendUDP sends one datagram from an unconnected socket (sendmsg hook).
func sendUDP(addr string) error {
	ap := netip.MustParseAddrPort(addr)
	network := "udp4"
	if ap.Addr().Is6() {
		network = "udp6"
	}
	c, err := net.ListenUDP(network, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.WriteToUDPAddrPort([]byte("x"), ap)
	return err
}

func openBPF(t *testing.T) *BPF {
	t.Helper()
	testutil.RequireBPF(t)
	b, err := OpenBPF("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
	})
	return b
}

func TestBPFBlockConnect(t *testing.T) {
	b := openBPF(t)
	blocked := listen(t, "127.0.0.7:0")
	open := listen(t, "127.0.0.1:0")
	ip := netip.MustParseAddr("127.0.0.7")
	if err := b.Block(ip, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := dial(blocked); !errors.Is(err, syscall.EPERM) {
		t.Errorf("connect %s: err = %v, want EPERM", blocked, err)
	}
	if err := sendUDP(blocked); !errors.Is(err, syscall.EPERM) {
		t.Errorf("sendmsg %s: err = %v, want EPERM", blocked, err)
	}
	// The same address through a dual-stack socket, IPv4-mapped.
	_, port, _ := net.SplitHostPort(blocked)
	if err := dial("[::ffff:127.0.0.7]:" + port); !errors.Is(err, syscall.EPERM) {
		t.Errorf("connect [::ffff:127.0.0.7]: err = %v, want EPERM", err)
	}
	if err := dial(open); err != nil {
		t.Errorf("connect %s (not blocked): %v", open, err)
	}
	list, err := b.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].IP != ip || time.Until(list[0].Expires) < 59*time.Minute {
		t.Errorf("List = %+v, want %s for an hour", list, ip)
	}
	if n, err := b.Denied(); err != nil || n < 3 {
		t.Errorf("Denied = %d, %v, want ≥ 3", n, err)
	}
	if err := b.Unblock(ip); err != nil {
		t.Fatal(err)
	}
	if err := dial(blocked); err != nil {
		t.Errorf("connect after Unblock: %v", err)
	}
	if err := b.Unblock(ip); err != nil {
		t.Errorf("second Unblock: %v", err)
	}
}

func TestBPFExpiry(t *testing.T) {
	b := openBPF(t)
	addr := listen(t, "127.0.0.7:0")
	if err := b.Block(netip.MustParseAddr("127.0.0.7"), 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := dial(addr); !errors.Is(err, syscall.EPERM) {
		t.Errorf("connect while blocked: err = %v, want EPERM", err)
	}
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if err = dial(addr); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("connect after expiry: %v", err)
	}
	if list, _ := b.List(); len(list) != 0 {
		t.Errorf("List after expiry = %+v, want none", list)
	}
	if n, err := b.Sweep(); err != nil || n != 1 {
		t.Errorf("Sweep = %d, %v, want 1", n, err)
	}
}

// netns creates a network namespace with lo up (and fd00::7 on it) and
// returns an open descriptor of it.
func netns(t *testing.T) *os.File {
	t.Helper()
	testutil.RequireRoot(t)
	testutil.RequireCommand(t, "ip")
	name := fmt.Sprintf("vigil-netblock-%d", os.Getpid())
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	ip("netns", "add", name)
	t.Cleanup(func() { exec.Command("ip", "netns", "delete", name).Run() })
	ip("-n", name, "link", "set", "lo", "up")
	ip("-n", name, "addr", "add", "fd00::7/128", "dev", "lo", "nodad")
	f, err := os.Open("/run/netns/" + name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// inNetns runs fn on a thread inside the namespace ns. The thread is
// never returned to the scheduler: it ends with the goroutine.
func inNetns(t *testing.T, ns *os.File, fn func()) {
	t.Helper()
	done := make(chan error)
	go func() {
		runtime.LockOSThread()
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- err
			return
		}
		fn()
		done <- nil
	}()
	if err := <-done; err != nil {
		t.Fatalf("setns: %v", err)
	}
}

// The BPF programs see every namespace; test IPv6 on an address only the
// test's namespace has.
func TestBPFBlockIPv6(t *testing.T) {
	b := openBPF(t)
	ns := netns(t)
	if err := b.Block(netip.MustParseAddr("fd00::7"), time.Hour); err != nil {
		t.Fatal(err)
	}
	inNetns(t, ns, func() {
		addr := listen(t, "[fd00::7]:0")
		if err := dial(addr); !errors.Is(err, syscall.EPERM) {
			t.Errorf("connect %s: err = %v, want EPERM", addr, err)
		}
		if err := sendUDP(addr); !errors.Is(err, syscall.EPERM) {
			t.Errorf("sendmsg %s: err = %v, want EPERM", addr, err)
		}
		if err := dial(listen(t, "[::1]:0")); err != nil {
			t.Errorf("connect ::1: %v", err)
		}
	})
}

// The nftables fallback, in a namespace of the test's own: the host's
// ruleset is never touched.
func TestNFT(t *testing.T) {
	ns := netns(t)
	n, err := OpenNFT(int(ns.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := n.Close(); err != nil {
			t.Error(err)
		}
	}()
	ip4, ip6 := netip.MustParseAddr("127.0.0.7"), netip.MustParseAddr("fd00::7")
	if err := n.Block(ip4, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := n.Block(ip6, 0); err != nil {
		t.Fatal(err)
	}
	list, err := n.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Errorf("List = %+v, want 2 entries", list)
	}
	for _, e := range list {
		switch {
		case e.IP == ip4 && time.Until(e.Expires) > 59*time.Minute:
		case e.IP == ip6 && e.Expires.IsZero():
		default:
			t.Errorf("unexpected entry %+v", e)
		}
	}
	// The output rule rejects: TCP connect fails with EHOSTUNREACH.
	refused := func(err error) bool {
		return errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES)
	}
	inNetns(t, ns, func() {
		blocked4 := listen(t, "127.0.0.7:0")
		blocked6 := listen(t, "[fd00::7]:0")
		if err := dial(blocked4); !refused(err) {
			t.Errorf("connect %s: err = %v, want refused at once", blocked4, err)
		}
		if err := dial(blocked6); !refused(err) {
			t.Errorf("connect %s: err = %v, want refused at once", blocked6, err)
		}
		if err := sendUDP(blocked4); !refused(err) {
			t.Errorf("sendmsg %s: err = %v, want refused at once", blocked4, err)
		}
		if err := dial(listen(t, "127.0.0.1:0")); err != nil {
			t.Errorf("connect 127.0.0.1: %v", err)
		}
		if err := n.Unblock(ip4); err != nil {
			t.Fatal(err)
		}
		if err := dial(blocked4); err != nil {
			t.Errorf("connect after Unblock: %v", err)
		}
		// Expiry: a short timeout lets traffic through again.
		if err := n.Block(ip4, time.Second); err != nil {
			t.Fatal(err)
		}
		if err := dial(blocked4); !refused(err) {
			t.Errorf("connect while blocked for 1 s: err = %v, want refused at once", err)
		}
		var err error
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if err = dial(blocked4); err == nil {
				break
			}
		}
		if err != nil {
			t.Errorf("connect after expiry: %v", err)
		}
	})
}

func BenchmarkConnectLoopback(b *testing.B) {
	addr := listen(b, "127.0.0.1:0")
	run := func(b *testing.B) {
		for b.Loop() {
			if err := dial(addr); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("no_programs", run)
	b.Run("bpf_1000_blocked", func(b *testing.B) {
		testutil.RequireBPF(b)
		bl, err := OpenBPF("")
		if err != nil {
			b.Fatal(err)
		}
		defer bl.Close()
		for i := range 1000 {
			bl.Block(netip.AddrFrom4([4]byte{10, 99, byte(i >> 8), byte(i)}), time.Hour)
		}
		run(b)
	})
}
