package procutil

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

const (
	idDocker = "3f1d2e6a0b4c5d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9012345678abcd"
	idCRI    = "9b0c1d2e3f405162738495a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f80"
	idPodman = "e4a1b2c3d4e5f60718293a4b5c6d7e8f9012345678abcdef0123456789abcdef"
)

func TestContainerID(t *testing.T) {
	tests := []struct {
		name   string
		cgroup string
		want   string
	}{
		{
			name:   "host_v2_root",
			cgroup: "0::/\n",
		},
		{
			name:   "host_v2_systemd_service",
			cgroup: "0::/system.slice/ssh.service\n",
		},
		{
			name: "host_v1_mixed",
			cgroup: "12:hugetlb:/\n11:memory:/system.slice/cron.service\n" +
				"1:name=systemd:/system.slice/cron.service\n0::/system.slice/cron.service\n",
		},
		{
			name:   "docker_v2_systemd_driver",
			cgroup: "0::/system.slice/docker-" + idDocker + ".scope\n",
			want:   idDocker,
		},
		{
			name: "docker_v1_cgroupfs_driver",
			cgroup: "12:pids:/docker/" + idDocker + "\n" +
				"11:memory:/docker/" + idDocker + "\n" +
				"1:name=systemd:/docker/" + idDocker + "\n",
			want: idDocker,
		},
		{
			name:   "docker_v2_cgroupfs_driver",
			cgroup: "0::/docker/" + idDocker + "\n",
			want:   idDocker,
		},
		{
			name: "kubernetes_containerd_systemd_v2",
			cgroup: "0::/kubepods.slice/kubepods-burstable.slice/" +
				"kubepods-burstable-pod5f6e7d8c_9b0a_4c1d_8e2f_3a4b5c6d7e8f.slice/cri-containerd-" + idCRI + ".scope\n",
			want: idCRI,
		},
		{
			name: "kubernetes_cgroupfs_v1",
			cgroup: "11:cpu,cpuacct:/kubepods/besteffort/pod5f6e7d8c-9b0a-4c1d-8e2f-3a4b5c6d7e8f/" + idCRI + "\n" +
				"1:name=systemd:/kubepods/besteffort/pod5f6e7d8c-9b0a-4c1d-8e2f-3a4b5c6d7e8f/" + idCRI + "\n",
			want: idCRI,
		},
		{
			name: "kubernetes_docker_shim_v1",
			cgroup: "4:memory:/kubepods.slice/kubepods-pod5f6e7d8c_9b0a_4c1d_8e2f_3a4b5c6d7e8f.slice/docker-" +
				idDocker + ".scope\n",
			want: idDocker,
		},
		{
			name: "crio_v2",
			cgroup: "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1a2b.slice/crio-" +
				idCRI + ".scope\n",
			want: idCRI,
		},
		{
			name:   "crio_conmon_is_not_a_container",
			cgroup: "0::/kubepods.slice/kubepods-besteffort.slice/crio-conmon-" + idCRI + ".scope\n",
		},
		{
			name:   "podman_rootful_v2",
			cgroup: "0::/machine.slice/libpod-" + idPodman + ".scope\n",
			want:   idPodman,
		},
		{
			name: "podman_rootless_v2_nested",
			cgroup: "0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" +
				idPodman + ".scope/container\n",
			want: idPodman,
		},
		{
			name:   "podman_conmon",
			cgroup: "0::/machine.slice/libpod-conmon-" + idPodman + ".scope\n",
		},
		{
			name:   "podman_cgroupfs_v1",
			cgroup: "10:memory:/libpod_parent/libpod-" + idPodman + "\n",
			want:   idPodman,
		},
		{
			name:   "docker_in_docker_outermost",
			cgroup: "0::/docker/" + idDocker + "/docker/" + idCRI + "\n",
			want:   idDocker,
		},
		{
			name:   "uppercase_hex_is_not_an_id",
			cgroup: "0::/docker/" + strings.ToUpper(idDocker) + "\n",
		},
		{
			name:   "short_id",
			cgroup: "0::/docker/" + idDocker[:63] + "\n",
		},
		{
			name:   "lxc_name_not_hex",
			cgroup: "0::/lxc.payload.web01/system.slice/nginx.service\n",
		},
		{
			name:   "no_trailing_newline",
			cgroup: "0::/system.slice/docker-" + idDocker + ".scope",
			want:   idDocker,
		},
		{
			name:   "garbage",
			cgroup: "not a cgroup line\n::\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ContainerID([]byte(tc.cgroup)); got != tc.want {
				t.Errorf("ContainerID() = %q, want %q", got, tc.want)
			}
		})
	}
}

func FuzzContainerID(f *testing.F) {
	f.Add([]byte("0::/system.slice/docker-" + idDocker + ".scope\n"))
	f.Add([]byte("12:pids:/docker/" + idDocker + "\n1:name=systemd:/docker/" + idDocker + "\n"))
	f.Add([]byte("0::/kubepods.slice/kubepods-burstable.slice/cri-containerd-" + idCRI + ".scope\n"))
	f.Add([]byte("0::/machine.slice/libpod-conmon-" + idPodman + ".scope\n"))
	f.Add([]byte("0::/\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		id := ContainerID(b)
		if id == "" {
			return
		}
		if !isHex64([]byte(id)) {
			t.Fatalf("ContainerID() = %q, not 64 lowercase hex digits", id)
		}
		if !bytes.Contains(b, []byte(id)) {
			t.Fatalf("ContainerID() = %q, not in the input", id)
		}
	})
}

func TestParseSocketLink(t *testing.T) {
	tests := []struct {
		link   string
		want   uint64
		wantOK bool
	}{
		{"socket:[12345]", 12345, true},
		{"socket:[0]", 0, true},
		{"socket:[18446744073709551615]", 18446744073709551615, true},
		{"socket:[18446744073709551616]", 0, false},
		{"socket:[+1]", 0, false},
		{"socket:[]", 0, false},
		{"socket:[12", 0, false},
		{"pipe:[12345]", 0, false},
		{"anon_inode:[eventfd]", 0, false},
		{"/dev/null", 0, false},
	}
	for _, tc := range tests {
		got, ok := ParseSocketLink(tc.link)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("ParseSocketLink(%q) = %d, %v; want %d, %v", tc.link, got, ok, tc.want, tc.wantOK)
		}
	}
}

func FuzzParseSocketLink(f *testing.F) {
	f.Add("socket:[12345]")
	f.Add("pipe:[4242]")
	f.Fuzz(func(t *testing.T, s string) {
		ino, ok := ParseSocketLink(s)
		if !ok {
			return
		}
		if want := "socket:[" + itoa(ino) + "]"; s != want && !strings.HasPrefix(s, "socket:[0") {
			t.Fatalf("ParseSocketLink(%q) = %d, which prints as %q", s, ino, want)
		}
	})
}

func itoa(u uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + u%10)
		u /= 10
		if u == 0 {
			return string(b[i:])
		}
	}
}

const debianPasswd = `root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
bin:x:2:2:bin:/bin:/usr/sbin/nologin
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
_apt:x:42:65534::/nonexistent:/usr/sbin/nologin
systemd-network:x:998:998:systemd Network Management:/:/usr/sbin/nologin
toor:x:0:0:second root:/root:/bin/sh
# a comment

broken line
bad:x:notanumber:0::/:/bin/sh
+::::::
`

func TestParsePasswd(t *testing.T) {
	users, bad, err := ParsePasswd(strings.NewReader(debianPasswd))
	if err != nil {
		t.Fatal(err)
	}
	want := Users{0: "root", 1: "daemon", 2: "bin", 33: "www-data", 65534: "nobody", 42: "_apt", 998: "systemd-network"}
	if diff := cmp.Diff(want, users); diff != "" {
		t.Errorf("ParsePasswd() mismatch (-want +got):\n%s", diff)
	}
	// "broken line" and "bad:x:notanumber:..."; the NIS compat line
	// "+::::::" is skipped, as nss_files and etcfiles.ParsePasswd do.
	if bad != 2 {
		t.Errorf("ParsePasswd() bad = %d, want 2", bad)
	}
	if got := users.Name(33); got != "www-data" {
		t.Errorf("Name(33) = %q", got)
	}
	if got := users.Name(1234); got != "1234" {
		t.Errorf("Name(1234) = %q, want the number", got)
	}
}

func FuzzParsePasswd(f *testing.F) {
	f.Add([]byte(debianPasswd))
	f.Add([]byte("root:x:0:0:root:/root:/bin/ash\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		users, bad, err := ParsePasswd(bytes.NewReader(b))
		if err != nil {
			return // a read error
		}
		lines := 0
		for l := range strings.SplitSeq(string(b), "\n") {
			if l != "" && l[0] != '#' {
				lines++
			}
		}
		// Every counted line is either a user, a duplicate uid or bad.
		if len(users)+bad > lines {
			t.Fatalf("%d users + %d bad > %d lines", len(users), bad, lines)
		}
		for uid, name := range users {
			if uid < 0 || name == "" || strings.ContainsAny(name, ":\n") {
				t.Fatalf("bad entry %d=%q", uid, name)
			}
		}
	})
}

func TestPIDsLive(t *testing.T) {
	pids, err := PIDs("/proc")
	if err != nil {
		t.Fatal(err)
	}
	self := os.Getpid()
	found := false
	for i, p := range pids {
		if i > 0 && pids[i-1] >= p {
			t.Fatalf("PIDs not strictly ascending at %d: %d, %d", i, pids[i-1], p)
		}
		found = found || p == self
	}
	if !found {
		t.Errorf("PIDs() does not list our own PID %d", self)
	}
}

func TestSocketOwnersLive(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	ino := st.Sys().(*syscall.Stat_t).Ino
	got, err := SocketOwners(context.Background(), "/proc", map[uint64]struct{}{ino: {}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[uint64][]int{ino: {os.Getpid()}}, got); diff != "" {
		t.Errorf("SocketOwners() mismatch (-want +got):\n%s", diff)
	}
}

func TestSocketOwnersTree(t *testing.T) {
	dir := t.TempDir()
	mk := func(pid, fd, target string) {
		p := filepath.Join(dir, pid, "fd")
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if target == "" {
			return
		}
		if err := os.Symlink(target, filepath.Join(p, fd)); err != nil {
			t.Fatal(err)
		}
	}
	mk("1", "3", "socket:[100]")
	mk("1", "4", "socket:[100]") // the same socket twice in one process
	mk("1", "5", "pipe:[100]")
	mk("22", "0", "/dev/null")
	mk("22", "7", "socket:[100]")
	mk("22", "8", "socket:[200]")
	mk("22", "9", "socket:[300]") // not wanted
	mk("3", "", "")               // no fds (kernel thread)
	if err := os.MkdirAll(filepath.Join(dir, "self"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := SocketOwners(context.Background(), dir, map[uint64]struct{}{100: {}, 200: {}, 400: {}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[uint64][]int{100: {1, 22}, 200: {22}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SocketOwners() mismatch (-want +got):\n%s", diff)
	}
}

func TestFDType(t *testing.T) {
	table := []byte("Num       RefCount Protocol Flags    Type St Inode Path\n" +
		"ffff8f3b0a0b6c00: 00000003 00000000 00000000 0001 03 23411 /run/systemd/journal/stdout\n" +
		"ffff8f3b0a0b7000: 00000003 00000000 00000000 0001 03 555\n")
	unixTable := func() []byte { return table }
	for link, want := range map[string]string{
		"socket:[555]": "unix", "socket:[23411]": "unix", "socket:[123]": "socket", "socket:[55]": "socket",
		"pipe:[9]": "pipe", "/dev/null": "null", "/dev/pts/3": "tty", "/dev/tty1": "tty", "/dev/console": "tty",
		"/dev/sda": "other", "/var/log/x.log": "file", "/tmp/x (deleted)": "file", "anon_inode:[eventpoll]": "other",
	} {
		if got := FDType(link, unixTable); got != want {
			t.Errorf("FDType(%q) = %q, want %q", link, got, want)
		}
	}
	if got := FDType("socket:[555]", nil); got != "socket" {
		t.Errorf("without the table: %q, want socket", got)
	}
}

// TestFDTypeLive tells a socketpair from a TCP socket of this process, as
// the fallback sensors read them.
func TestFDTypeLive(t *testing.T) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pair[0])
	defer unix.Close(pair[1])
	tcp, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(tcp)
	table := func() []byte {
		b, err := os.ReadFile("/proc/self/net/unix")
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for fd, want := range map[int]string{pair[0]: "unix", tcp: "socket"} {
		link, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
		if err != nil {
			t.Fatal(err)
		}
		if got := FDType(link, table); got != want {
			t.Errorf("fd %d (%s): %q, want %q", fd, link, got, want)
		}
	}
}
