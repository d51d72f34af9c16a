package middleware

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/collector"
	"github.com/vigilsec/vigil/internal/collector/packages"
	"github.com/vigilsec/vigil/internal/collector/ports"
	"github.com/vigilsec/vigil/internal/collector/processes"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/testutil"
)

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startServer starts a server in the foreground and stops it (and its
// process group) when the test ends, then waits until it accepts
// connections on port.
func startServer(t *testing.T, port int, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
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
			return cmd
		}
		select {
		case <-exited:
			t.Fatalf("%s exited: %s", name, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not listen on port %d: %v\n%s", name, port, err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// livePackages runs the packages collector over the live root.
func livePackages(t *testing.T) []inventory.Package {
	t.Helper()
	inv, err := packages.New().Collect(context.Background(), &collector.Input{Root: os.DirFS("/"), RootPath: "/"})
	if err != nil {
		t.Fatalf("packages: %v", err)
	}
	if len(inv.Packages) == 0 {
		t.Fatal("packages: no packages on the live host")
	}
	return inv.Packages
}

// dpkgOwner returns the package owning a file and its version.
func dpkgOwner(t *testing.T, file string) (pkg, version string) {
	t.Helper()
	out, err := exec.Command("dpkg-query", "-S", file).Output()
	if err != nil {
		return "", ""
	}
	pkg, _, _ = strings.Cut(strings.TrimSpace(string(out)), ":")
	v, err := exec.Command("dpkg-query", "-W", "-f", "${Version}", pkg).Output()
	if err != nil {
		t.Fatalf("dpkg-query -W %s: %v", pkg, err)
	}
	return pkg, string(v)
}

// collectLive runs the processes, ports and packages collectors, then
// middleware.
func collectLive(t *testing.T) []inventory.Middleware {
	t.Helper()
	testutil.RequireRoot(t)
	in := &collector.Input{Root: os.DirFS("/"), RootPath: "/", ProcPath: "/proc", Live: true, DataDir: t.TempDir()}
	prior := &inventory.Inventory{Packages: livePackages(t)}
	for _, c := range []collector.Collector{processes.New(), ports.New()} {
		inv, err := c.Collect(context.Background(), in)
		if err != nil && inv == nil {
			t.Fatalf("%s: %v", c.Name(), err)
		}
		prior.Merge(inv)
	}
	in.Prior = prior
	inv, err := New().Collect(context.Background(), in)
	if err != nil {
		t.Fatalf("Collect() error = %v", err)
	}
	return inv.Middleware
}

func findPID(ms []inventory.Middleware, pid int) *inventory.Middleware {
	for i := range ms {
		if ms[i].PID == pid {
			return &ms[i]
		}
	}
	return nil
}

func TestCollectLiveServers(t *testing.T) {
	testutil.RequireRoot(t)
	nginxBin := testutil.RequireCommand(t, "nginx")
	redisBin := testutil.RequireCommand(t, "redis-server")
	memcachedBin := testutil.RequireCommand(t, "memcached")
	dir := t.TempDir()

	nginxPort := freePort(t)
	nginxConf := filepath.Join(dir, "nginx.conf")
	writeFile(t, dir, "nginx.conf", fmt.Sprintf(`worker_processes 2;
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
	server { listen 127.0.0.1:%[2]d; return 204; }
}
`, dir, nginxPort))
	nginx := startServer(t, nginxPort, nginxBin, "-c", nginxConf, "-g", "daemon off;")

	// Redis writes a title over its argv; the template keeps the config
	// file in it.
	redisPort := freePort(t)
	redisConf := filepath.Join(dir, "redis.conf")
	writeFile(t, dir, "redis.conf", fmt.Sprintf("port %d\nbind 127.0.0.1\nsave \"\"\nappendonly no\ndaemonize no\n"+
		"dir %s\nproc-title-template \"{title} {listen-addr} {server-mode} {config-file}\"\n", redisPort, dir))
	redis := startServer(t, redisPort, redisBin, redisConf)

	memcachedPort := freePort(t)
	memcached := startServer(t, memcachedPort, memcachedBin,
		"-l", "127.0.0.1", "-p", strconv.Itoa(memcachedPort), "-U", "0", "-u", "nobody")

	start := time.Now()
	got := collectLive(t)
	t.Logf("collected in %v: %+v", time.Since(start), got)

	tests := []struct {
		name    string
		pid     int
		exe     string // whose package gives the version
		pkg     string // the package reported
		config  string
		port    int
		workers bool
	}{
		{name: "nginx", pid: nginx.Process.Pid, exe: "/usr/sbin/nginx", pkg: "nginx", config: nginxConf, port: nginxPort, workers: true},
		{name: "redis", pid: redis.Process.Pid, exe: "/usr/bin/redis-server", pkg: "redis-server", config: redisConf, port: redisPort},
		{name: "memcached", pid: memcached.Process.Pid, exe: "/usr/bin/memcached", pkg: "memcached", config: "/etc/memcached.conf", port: memcachedPort},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := findPID(got, tc.pid)
			if m == nil {
				t.Fatalf("no middleware with PID %d; got %+v", tc.pid, got)
			}
			_, version := dpkgOwner(t, tc.exe)
			if m.Name != tc.name || !m.Running || m.Package != tc.pkg || m.Version != version || m.VersionSource != "dpkg" {
				t.Errorf("got %s %s from %s (package %q, running %v), want %s %s from dpkg (package %q, running)",
					m.Name, m.Version, m.VersionSource, m.Package, m.Running, tc.name, version, tc.pkg)
			}
			if !slices.Equal(m.ConfigPaths, []string{tc.config}) {
				t.Errorf("ConfigPaths = %q, want [%q]", m.ConfigPaths, tc.config)
			}
			want := inventory.ListenAddr{Protocol: "tcp", Address: "127.0.0.1", Port: tc.port}
			if !slices.Contains(m.Listen, want) {
				t.Errorf("Listen = %+v, want it to hold %+v", m.Listen, want)
			}
			if tc.workers {
				// The workers are children of the master and not reported.
				for _, o := range got {
					if o.Name == tc.name && o.PID != tc.pid && o.Running && slices.Contains(o.Listen, want) {
						t.Errorf("worker reported as its own %s: %+v", tc.name, o)
					}
				}
			}
		})
	}
}

func TestCollectLiveDockerd(t *testing.T) {
	testutil.RequireDocker(t)
	got := collectLive(t)
	var d *inventory.Middleware
	for i := range got {
		if got[i].Name == "docker" && got[i].Running && got[i].Details["container_id"] == "" {
			d = &got[i]
		}
	}
	if d == nil {
		t.Fatalf("no running docker middleware; got %+v", got)
	}
	if pkg, version := dpkgOwner(t, d.Exe); pkg != "" {
		if d.Version != version || d.VersionSource != "dpkg" {
			t.Errorf("docker version %q from %q, want %q from dpkg (package %s)", d.Version, d.VersionSource, version, pkg)
		}
	} else if d.Version == "" || d.VersionSource != "buildinfo" {
		t.Errorf("docker version %q from %q, want one from buildinfo", d.Version, d.VersionSource)
	}
	if len(d.Listen) != 0 {
		t.Logf("dockerd listens on %+v", d.Listen)
	}
}
