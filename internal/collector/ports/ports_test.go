package ports

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vigilsec/vigil/internal/collector"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
	"github.com/vigilsec/vigil/internal/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var addrCmp = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

func TestParseProcNet(t *testing.T) {
	tcpHeader := "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	tcp6Header := "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	tests := []struct {
		name      string
		v6        bool
		proto     string
		state     uint8
		input     string
		want      []socket
		wantStats procNetStats
		wantProbs []string
	}{
		{
			name:  "tcp_listen_and_established",
			proto: "tcp", state: stateListen,
			input: tcpHeader +
				"   0: 0100007F:18EB 00000000:0000 0A 00000000:00000000 00:00000000 00000000   104        0 31679 1 00000000ee9a6b38 100 0 0 10 0\n" +
				"   1: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1131 1 00000000c3f76f69 100 0 0 10 0\n" +
				"   2: 020200C0:B882 507100CB:01BB 06 00000000:00000000 03:00001206 00000000     0        0 0 3 00000000353fb00d\n",
			want: []socket{
				{proto: "tcp", addr: netip.MustParseAddr("127.0.0.1"), port: 6379, uid: 104, inode: 31679},
				{proto: "tcp", addr: netip.MustParseAddr("0.0.0.0"), port: 2024, inode: 1131},
			},
			wantStats: procNetStats{lines: 3, kept: 2, skipped: 1},
		},
		{
			name:  "tcp6_wildcard_loopback_mapped",
			proto: "tcp", state: stateListen, v6: true,
			input: tcp6Header +
				"   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 31675 1 00000000845b913b 100 0 0 10 0\n" +
				"   1: 00000000000000000000000001000000:1538 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000   105        0 31676 1 0000000073790eaf 100 0 0 10 0\n" +
				"   2: 0000000000000000FFFF00000100007F:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 40211 1 0000000000000000 100 0 0 10 0\n" +
				"   3: B80D0120000000000000000001000000:01BB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 40212 1 0000000000000000 100 0 0 10 0\n",
			want: []socket{
				{proto: "tcp", addr: netip.MustParseAddr("::"), port: 8080, inode: 31675},
				{proto: "tcp", addr: netip.MustParseAddr("::1"), port: 5432, uid: 105, inode: 31676},
				{proto: "tcp", addr: netip.MustParseAddr("::ffff:127.0.0.1"), port: 8080, uid: 1000, inode: 40211},
				{proto: "tcp", addr: netip.MustParseAddr("2001:db8::1"), port: 443, inode: 40212},
			},
			wantStats: procNetStats{lines: 4, kept: 4},
		},
		{
			name:  "udp_unconn_only",
			proto: "udp", state: stateClose,
			input: "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops            \n" +
				" 7493: 0100007F:AC70 0100007F:0009 01 00000000:00000000 00:00000000 00000000     0        0 31681 2 00000000b1a16191 0         \n" +
				"12554: 3500007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   991        0 31678 2 000000006e4c5d7f 0         \n" +
				"12569: 00000000:0044 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 31680 2 00000000121fbfa6 0         \n",
			want: []socket{
				{proto: "udp", addr: netip.MustParseAddr("127.0.0.53"), port: 53, uid: 991, inode: 31678},
				{proto: "udp", addr: netip.MustParseAddr("0.0.0.0"), port: 68, inode: 31680},
			},
			wantStats: procNetStats{lines: 3, kept: 2, skipped: 1},
		},
		{
			name:  "malformed_lines",
			proto: "tcp", state: stateListen,
			input: tcpHeader +
				"   0: 0100007F:18EB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0\n" +
				"   1: 0100007F 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n" +
				"   2: 0100007G:18EB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n" +
				"   3: 0100007F:18E 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n" +
				"   4: 0100007F:18EB 00000000:0000 ZZ 00000000:00000000 00:00000000 00000000     0        0 1 1\n" +
				"   5: 0100007F:18EB 00000000:0000 0A 00000000:00000000 00:00000000 00000000    -1        0 1 1\n" +
				"   6: 0100007F:18EB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 x 1\n" +
				"   7: 00000000000000000000000001000000:1538 00000000000000000000000000000000:0000 0A 0 0 0 0 0 1 1\n" +
				"\n" +
				"   8: 0100007F:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 77 1\n",
			want:      []socket{{proto: "tcp", addr: netip.MustParseAddr("127.0.0.1"), port: 22, inode: 77}},
			wantStats: procNetStats{lines: 9, kept: 1, bad: 8},
			wantProbs: []string{
				"tcp:2: 9 fields, want at least 10",
				`tcp:3: local address "0100007F": no port`,
				`tcp:4: local address "0100007G:18EB": address: not hex`,
				`tcp:5: local address "0100007F:18E": port: want four hex digits`,
				`tcp:6: state "ZZ": not hex`,
				`tcp:7: uid "-1": not a number`,
				`tcp:8: inode "x": not a number`,
				`tcp:9: local address "00000000000000000000000001000000:1538": address: want 8 hex digits`,
			},
		},
		{
			name:  "no_header",
			proto: "udp", state: stateClose,
			input:     "12554: 3500007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   991        0 31678 2 0 0\n",
			wantStats: procNetStats{lines: 1, bad: 1},
			wantProbs: []string{"udp:1: missing header"},
		},
		{
			name:  "empty",
			proto: "tcp", state: stateListen,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []socket
			var probs plugin.Problems
			st, err := parseProcNet(strings.NewReader(tc.input), tc.proto, tc.proto, tc.v6, tc.state, &probs, func(s socket) {
				got = append(got, s)
			})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(socket{}), addrCmp); diff != "" {
				t.Errorf("sockets mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantStats, st, cmp.AllowUnexported(procNetStats{})); diff != "" {
				t.Errorf("stats mismatch (-want +got):\n%s", diff)
			}
			var gotProbs []string
			var pe *plugin.PartialError
			if errors.As(probs.Err(), &pe) {
				gotProbs = pe.Problems
			}
			if diff := cmp.Diff(tc.wantProbs, gotProbs); diff != "" {
				t.Errorf("problems mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParseProcNet(f *testing.F) {
	f.Add([]byte("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"+
		"   0: 0100007F:18EB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 31679 1 00000000ee9a6b38 100 0 0 10 0\n"+
		"   2: 020200C0:B882 507100CB:01BB 06 00000000:00000000 03:00001206 00000000     0        0 0 3 00000000353fb00d\n"), false)
	f.Add([]byte("  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n"+
		" 1470: 00000000000000000000000000000000:14E9 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 31677 2 0000000059eb6520 0\n"), true)
	f.Add([]byte("12554: 3500007F:0035\n\n  \t\n"), false)
	f.Fuzz(func(t *testing.T, b []byte, v6 bool) {
		var probs plugin.Problems
		kept := 0
		st, err := parseProcNet(strings.NewReader(string(b)), "f", "tcp", v6, stateListen, &probs, func(s socket) {
			kept++
			if !s.addr.IsValid() || s.port < 0 || s.port > 65535 || s.uid < 0 {
				t.Fatalf("bad socket %+v", s)
			}
			if s.addr.Is4() == v6 {
				t.Fatalf("socket %v from a v6=%v table", s.addr, v6)
			}
		})
		if err != nil {
			return // a line over 64 KiB
		}
		if st.kept != kept {
			t.Fatalf("stats say %d kept, emitted %d", st.kept, kept)
		}
		if st.kept+st.skipped+st.bad != st.lines {
			t.Fatalf("%d kept + %d skipped + %d bad != %d lines", st.kept, st.skipped, st.bad, st.lines)
		}
		if n := strings.Count(string(b), "\n") + 1; st.lines > n {
			t.Fatalf("accounted for %d lines, input has at most %d", st.lines, n)
		}
		if min(st.bad, 100) != min(probs.Len(), 100) {
			t.Fatalf("%d bad lines, %d problems", st.bad, probs.Len())
		}
	})
}

func TestCollectSnapshot(t *testing.T) {
	proc := testutil.TxtarToDir(t, filepath.Join("testdata", "proc-debian.txtar"))
	in := &collector.Input{ProcPath: proc}
	inv, err := New().Collect(context.Background(), in)
	var pe *plugin.PartialError
	if !errors.As(err, &pe) {
		t.Fatalf("Collect() error = %v, want a partial error for the malformed tcp6 line", err)
	}
	wantProbs := []string{filepath.Join(proc, "net", "tcp6") + ":5: 7 fields, want at least 10"}
	if diff := cmp.Diff(wantProbs, pe.Problems); diff != "" {
		t.Errorf("problems mismatch (-want +got):\n%s", diff)
	}
	want := []inventory.Port{
		{Protocol: "tcp", Family: 4, Address: "0.0.0.0", Port: 22, PID: 612, PIDs: []int{612}, Process: "sshd", Exe: "/usr/sbin/sshd", Inode: 18432, Exposed: true},
		{Protocol: "tcp", Family: 4, Address: "0.0.0.0", Port: 80, PID: 845, PIDs: []int{845, 846}, Process: "nginx", Exe: "/usr/sbin/nginx", Inode: 19610, Exposed: true},
		{Protocol: "tcp", Family: 4, Address: "127.0.0.1", Port: 6379, PID: 901, PIDs: []int{901}, Process: "redis-server", Exe: "/usr/bin/redis-server", UID: 104, Inode: 20117},
		{Protocol: "tcp", Family: 6, Address: "::", Port: 22, PID: 612, PIDs: []int{612}, Process: "sshd", Exe: "/usr/sbin/sshd", Inode: 18434, Exposed: true},
		{Protocol: "tcp", Family: 6, Address: "::", Port: 80, PID: 845, PIDs: []int{845, 846}, Process: "nginx", Exe: "/usr/sbin/nginx", Inode: 19611, Exposed: true},
		{Protocol: "tcp", Family: 6, Address: "::ffff:127.0.0.1", Port: 8080, PID: 1337, PIDs: []int{1337}, Process: "python3", Exe: "/usr/bin/python3.11", UID: 1000, Inode: 40211},
		{Protocol: "udp", Family: 4, Address: "0.0.0.0", Port: 5353, UID: 107, Inode: 16722, Exposed: true},
		{Protocol: "udp", Family: 4, Address: "127.0.0.1", Port: 323, PID: 455, PIDs: []int{455}, Process: "chronyd", Exe: "/usr/sbin/chronyd", Inode: 17990},
		{Protocol: "udp", Family: 4, Address: "127.0.0.53", Port: 53, PID: 412, PIDs: []int{412}, Process: "systemd-resolve", Exe: "/usr/lib/systemd/systemd-resolved", UID: 991, Inode: 17205},
		{Protocol: "udp", Family: 6, Address: "::1", Port: 323, PID: 455, PIDs: []int{455}, Process: "chronyd", Exe: "/usr/sbin/chronyd", Inode: 17991},
	}
	if diff := cmp.Diff(want, inv.Ports); diff != "" {
		t.Errorf("Collect() mismatch (-want +got):\n%s", diff)
	}
}

func TestCollectMergesSharedEndpoints(t *testing.T) {
	socks := []socket{
		{proto: "udp", addr: netip.MustParseAddr("0.0.0.0"), port: 68, inode: 9},
		{proto: "tcp", addr: netip.MustParseAddr("0.0.0.0"), port: 80, inode: 7, uid: 33},
		{proto: "tcp", addr: netip.MustParseAddr("0.0.0.0"), port: 80, inode: 5},
		{proto: "udp", addr: netip.MustParseAddr("0.0.0.0"), port: 68, inode: 8},
	}
	got, err := build(context.Background(), t.TempDir(), socks)
	if err != nil {
		t.Fatal(err)
	}
	want := []inventory.Port{
		{Protocol: "tcp", Family: 4, Address: "0.0.0.0", Port: 80, Inode: 5, Exposed: true},
		{Protocol: "udp", Family: 4, Address: "0.0.0.0", Port: 68, Inode: 8, Exposed: true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("build() mismatch (-want +got):\n%s", diff)
	}
}

func TestCollectSkipsWithoutProc(t *testing.T) {
	_, err := New().Collect(context.Background(), &collector.Input{RootPath: "/mnt/image"})
	if !errors.Is(err, plugin.ErrSkipped) {
		t.Errorf("Collect() error = %v, want a skip", err)
	}
}

func TestCollectFailsWithoutTables(t *testing.T) {
	_, err := New().Collect(context.Background(), &collector.Input{ProcPath: t.TempDir()})
	if err == nil || errors.Is(err, plugin.ErrSkipped) {
		t.Errorf("Collect() error = %v, want a failure", err)
	}
}

// listen opens the sockets the live tests look for.
func listen(t *testing.T) (tcp4, tcp6, udp4, wild netip.AddrPort) {
	t.Helper()
	l4, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l4.Close() })
	l6, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l6.Close() })
	u4, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u4.Close() })
	lw, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lw.Close() })
	return l4.Addr().(*net.TCPAddr).AddrPort(), l6.Addr().(*net.TCPAddr).AddrPort(),
		u4.LocalAddr().(*net.UDPAddr).AddrPort(), lw.Addr().(*net.TCPAddr).AddrPort()
}

func liveInput() *collector.Input {
	return &collector.Input{Root: os.DirFS("/"), RootPath: "/", ProcPath: "/proc", Live: true}
}

func TestCollectLive(t *testing.T) {
	testutil.RequireRoot(t)
	tcp4, tcp6, udp4, wild := listen(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	pid := os.Getpid()
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []struct {
		name    string
		netlink func(*collector.Input) bool
	}{
		{"netlink", isLiveProc},
		{"proc_net", func(*collector.Input) bool { return false }},
	} {
		t.Run(mode.name, func(t *testing.T) {
			inv, err := (&ports{netlink: mode.netlink}).Collect(context.Background(), liveInput())
			if err != nil {
				t.Fatal(err)
			}
			if !slices.IsSortedFunc(inv.Ports, comparePorts) {
				t.Errorf("ports are not sorted: %+v", inv.Ports)
			}
			for _, tc := range []struct {
				proto   string
				ap      netip.AddrPort
				exposed bool
			}{
				{"tcp", tcp4, false}, {"tcp", tcp6, false}, {"udp", udp4, false}, {"tcp", wild, true},
			} {
				want := inventory.Port{
					Protocol: tc.proto, Family: family(tc.ap.Addr()), Address: tc.ap.Addr().String(), Port: int(tc.ap.Port()),
					PID: pid, PIDs: []int{pid}, Process: strings.TrimSpace(string(comm)), Exe: exe, UID: os.Getuid(), Exposed: tc.exposed,
				}
				got := find(inv.Ports, tc.proto, tc.ap)
				if got == nil {
					t.Errorf("%s %v not reported", tc.proto, tc.ap)
					continue
				}
				if got.Inode == 0 {
					t.Errorf("%s %v: no inode", tc.proto, tc.ap)
				}
				got.Inode = 0
				if diff := cmp.Diff(want, *got); diff != "" {
					t.Errorf("%s %v mismatch (-want +got):\n%s", tc.proto, tc.ap, diff)
				}
			}
		})
	}
}

func comparePorts(a, b inventory.Port) int {
	if c := strings.Compare(a.Protocol, b.Protocol); c != 0 {
		return c
	}
	if a.Family != b.Family {
		return a.Family - b.Family
	}
	if c := netip.MustParseAddr(a.Address).Compare(netip.MustParseAddr(b.Address)); c != 0 {
		return c
	}
	return a.Port - b.Port
}

func family(a netip.Addr) int {
	if a.Is4() {
		return 4
	}
	return 6
}

func find(ps []inventory.Port, proto string, ap netip.AddrPort) *inventory.Port {
	for i, p := range ps {
		if p.Protocol == proto && p.Address == ap.Addr().String() && p.Port == int(ap.Port()) {
			return &ps[i]
		}
	}
	return nil
}

// endpoints is the set of "proto addr port" a collector run reports.
func endpoints(ps []inventory.Port) []string {
	var out []string
	for _, p := range ps {
		out = append(out, fmt.Sprintf("%s %s %d", p.Protocol, p.Address, p.Port))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// ssEndpoints runs `ss -Htlnu` once per family and normalises its local
// addresses: "*" is the wildcard of the family, "[::1]" loses its
// brackets, "%iface" suffixes go.
func ssEndpoints(t *testing.T) []string {
	ss := testutil.RequireCommand(t, "ss")
	var out []string
	for _, fam := range []string{"-4", "-6"} {
		b, err := exec.Command(ss, "-Htlnu", fam).Output()
		if err != nil {
			t.Fatalf("ss: %v", err)
		}
		for line := range strings.Lines(string(b)) {
			f := strings.Fields(line)
			if len(f) < 5 {
				t.Fatalf("ss line %q: too few fields", line)
			}
			i := strings.LastIndexByte(f[4], ':')
			host, port := f[4][:i], f[4][i+1:]
			if h, _, ok := strings.Cut(host, "%"); ok {
				host = h
			}
			host = strings.Trim(host, "[]")
			if host == "*" {
				host = map[string]string{"-4": "0.0.0.0", "-6": "::"}[fam]
			}
			a, err := netip.ParseAddr(host)
			if err != nil {
				t.Fatalf("ss line %q: %v", line, err)
			}
			if _, err := strconv.Atoi(port); err != nil {
				t.Fatalf("ss line %q: port %q", line, port)
			}
			out = append(out, fmt.Sprintf("%s %s %s", f[0], a, port))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// eventually retries a comparison of two live snapshots: other test
// binaries running in parallel open and close sockets between them.
func eventually(t *testing.T, fn func() string) {
	t.Helper()
	var diff string
	for range 5 {
		if diff = fn(); diff == "" {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Error(diff)
}

func TestMatchesSS(t *testing.T) {
	testutil.RequireRoot(t)
	listen(t)
	eventually(t, func() string {
		inv, err := New().Collect(context.Background(), liveInput())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(ssEndpoints(t), endpoints(inv.Ports)); diff != "" {
			return "collector and ss disagree (-ss +collector):\n" + diff
		}
		return ""
	})
}

func TestProcNetMatchesNetlink(t *testing.T) {
	testutil.RequireRoot(t)
	listen(t)
	eventually(t, func() string {
		nl, err := New().Collect(context.Background(), liveInput())
		if err != nil {
			t.Fatal(err)
		}
		pn, err := (&ports{netlink: func(*collector.Input) bool { return false }}).Collect(context.Background(), liveInput())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(nl.Ports, pn.Ports); diff != "" {
			return "netlink and /proc/net disagree (-netlink +proc):\n" + diff
		}
		return ""
	})
}

func TestCollectCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := New().Collect(ctx, liveInput()); !errors.Is(err, context.Canceled) {
		t.Errorf("Collect() error = %v, want context.Canceled", err)
	}
}

func BenchmarkCollect(b *testing.B) {
	c := New()
	in := liveInput()
	for b.Loop() {
		if _, err := c.Collect(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
}
