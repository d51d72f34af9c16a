package exposure

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/testutil"
)

// freePort returns a TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startNginx runs Debian's nginx in the foreground on addr:port and stops
// it (and its workers) when the test ends; it returns the master's pid.
func startNginx(t *testing.T, bin, addr string, port int) int {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, `worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path %[1]s/body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	server { listen %[2]s:%[3]d; return 204; }
}
`, dir, addr, port), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", conf, "-g", "daemon off;")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
		if err == nil {
			c.Close()
			return cmd.Process.Pid
		}
		select {
		case <-exited:
			t.Fatalf("nginx exited: %s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx does not listen on port %d: %v\n%s", port, err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// debPackages returns the installed packages named, as the dpkg extractor
// reports them.
func debPackages(t *testing.T, names ...string) map[string]inventory.Package {
	t.Helper()
	out, err := exec.Command("dpkg-query", append([]string{"-W", "-f", "${Package}\t${Version}\t${Architecture}\n"}, names...)...).Output()
	if err != nil {
		t.Fatalf("dpkg-query %v: %v", names, err)
	}
	pkgs := map[string]inventory.Package{}
	for l := range strings.Lines(string(out)) {
		f := strings.Split(strings.TrimSuffix(l, "\n"), "\t")
		pkgs[f[0]] = inventory.Package{Name: f[0], Version: f[1], Arch: f[2], Type: "deb", Source: "/var/lib/dpkg/status"}
	}
	return pkgs
}

// TestLiveNginx runs nginx on loopback, then a second one on 0.0.0.0, and
// checks what the live host's Index says of nginx's packages each time.
func TestLiveNginx(t *testing.T) {
	testutil.RequireRoot(t)
	bin := testutil.RequireCommand(t, "nginx")
	testutil.RequireCommand(t, "dpkg-query")
	owner, err := exec.Command("dpkg-query", "-S", "/usr/sbin/nginx").Output()
	if err != nil {
		t.Fatalf("dpkg-query -S /usr/sbin/nginx: %v", err)
	}
	nginxPkg, _, _ := strings.Cut(string(owner), ":")
	pkgs := debPackages(t, nginxPkg, "libc6", "libssl3", "base-files")
	list := []inventory.Package{pkgs[nginxPkg], pkgs["libc6"], pkgs["libssl3"], pkgs["base-files"]}
	ctx := context.Background()

	loPort := freePort(t)
	loPID := startNginx(t, bin, "127.0.0.1", loPort)
	idx, err := New(ctx, Input{Root: os.DirFS("/"), ProcPath: "/proc", Packages: list})
	if err != nil {
		t.Fatal(err)
	}
	exposed, why := idx.Exposure(pkgs[nginxPkg])
	want := fmt.Sprintf("/usr/sbin/nginx (pid %d) listens only on non-exposed 127.0.0.1:%d", loPID, loPort)
	if exposed || why != want {
		t.Errorf("loopback nginx: Exposure(%s) = %v, %q; want false, %q", nginxPkg, exposed, why, want)
	}

	port := freePort(t)
	pid := startNginx(t, bin, "0.0.0.0", port)
	start := time.Now()
	idx, err = New(ctx, Input{Root: os.DirFS("/"), ProcPath: "/proc", Packages: list})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("New over the live host: %v", time.Since(start))
	tests := []struct {
		name        string
		pkg         inventory.Package
		wantExposed bool
		// wantWhy is the exact reason; for libraries that other exposed
		// services on the host may load too, only its tail is checked.
		wantWhy, wantSuffix string
	}{
		{name: "nginx_binary", pkg: pkgs[nginxPkg], wantExposed: true,
			wantWhy: fmt.Sprintf("/usr/sbin/nginx (pid %d) listens on 0.0.0.0:%d", pid, port)},
		{name: "libssl3", pkg: pkgs["libssl3"], wantExposed: true, wantSuffix: " and listens on "},
		// dpkg lists /lib/x86_64-linux-gnu/libc.so.6; maps shows /usr/lib/...
		{name: "libc6_merged_usr", pkg: pkgs["libc6"], wantExposed: true, wantSuffix: " and listens on "},
		{name: "base_files_not_loaded", pkg: pkgs["base-files"]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			exposed, why := idx.Exposure(tc.pkg)
			t.Logf("%s: %v, %q", tc.pkg.Name, exposed, why)
			if exposed != tc.wantExposed {
				t.Errorf("Exposure(%s) = %v (%q), want %v", tc.pkg.Name, exposed, why, tc.wantExposed)
			}
			if tc.wantSuffix != "" {
				if !strings.Contains(why, tc.wantSuffix) {
					t.Errorf("Exposure(%s) why = %q, want it to contain %q", tc.pkg.Name, why, tc.wantSuffix)
				}
				return
			}
			if diff := cmp.Diff(tc.wantWhy, why); diff != "" {
				t.Errorf("Exposure(%s) why (-want +got):\n%s", tc.pkg.Name, diff)
			}
		})
	}
	// The exposed nginx is the most exposed loader of libssl3 unless an
	// older exposed service loads it too: either way its maps were read.
	if l, ok := idx.loaded["/usr/lib/x86_64-linux-gnu/libssl.so.3"]; !ok || l.p.rank() != 2 || l.p.pid > pid {
		t.Errorf("libssl.so.3 load = %+v, want an exposed process", l)
	}
}

func BenchmarkNewLive(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root to read every process")
	}
	out, err := exec.Command("dpkg-query", "-W", "-f", "${Package}\t${Version}\t${Architecture}\n").Output()
	if err != nil {
		b.Skip("no dpkg-query")
	}
	var pkgs []inventory.Package
	for l := range strings.Lines(string(out)) {
		f := strings.Split(strings.TrimSuffix(l, "\n"), "\t")
		pkgs = append(pkgs, inventory.Package{Name: f[0], Version: f[1], Arch: f[2], Type: "deb", Source: "/var/lib/dpkg/status"})
		if len(pkgs) == 100 {
			break
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := New(context.Background(), Input{Root: os.DirFS("/"), ProcPath: "/proc", Packages: pkgs}); err != nil {
			b.Fatal(err)
		}
	}
}
