package containers

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
	"golang.org/x/tools/txtar"

	"github.com/vigilsec/vigil/internal/collector"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeEngine serves the API responses of a txtar archive (file
// "containers/json" answers GET /containers/json) on a unix socket, and
// answers 404 to anything else. fail maps a path to a status to return
// instead.
func fakeEngine(t *testing.T, archive string, fail map[string]int) string {
	t.Helper()
	a, err := txtar.ParseFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, f := range a.Files {
		files["/"+f.Name] = f.Data
	}
	sock := filepath.Join(t.TempDir(), "docker.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if code := fail[r.URL.Path]; code != 0 {
			w.WriteHeader(code)
			w.Write([]byte(`{"message":"injected failure"}`))
			return
		}
		b, ok := files[r.URL.Path]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"message":"No such container"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	}))
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return "unix://" + sock
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

const testImageID = "sha256:bf773d2b71d15d0cfae9557cf2d4a0b27f0213cb876f7b0695440e2aea639477"

// engine2010Want is what the engine-20.10 responses describe.
var engine2010Want = []inventory.Container{
	{
		ID: "ca7613337994f8ac85b9786e448e0870119ded33e09a6d73557c9760544ae2a8", Name: "vt-a",
		Image: "vigil-test/busybox:1", ImageID: testImageID, Engine: "docker", State: "running",
		Created: mustTime("2026-11-27T14:53:55.776838096Z"), PID: 14510,
		CapAdd: []string{"SYS_ADMIN"}, CapDrop: []string{"NET_RAW"},
		Mounts: []inventory.ContainerMount{
			{Type: "bind", Source: "/etc", Destination: "/host-etc", ReadWrite: false, Sensitive: true},
			{Type: "bind", Source: "/tmp", Destination: "/data", ReadWrite: true, Sensitive: false},
		},
		// Network "none": the configured 127.0.0.1:8080 binding is not published.
	},
	{
		ID: "946bc43588e60f9ee50e6304d64961d84fabb4d9b57b0c2f4441f28339b16770", Name: "vt-b",
		Image: "vigil-test/busybox:1", ImageID: testImageID, Engine: "docker", State: "running",
		Created: mustTime("2026-11-27T14:53:57.580281507Z"), PID: 14645,
		HostPID: true, HostIPC: true, HostUTS: true, User: "1000:1000",
		SecurityOpt: []string{"no-new-privileges", "label=disable"},
	},
	{
		ID: "0614f35845270721e077431c00798581508cf82059047faff8b3cce184099476", Name: "vt-c",
		Image: "vigil-test/busybox:1", ImageID: testImageID, Engine: "docker", State: "created",
		Created: mustTime("2026-11-27T14:53:58.97449131Z"), Privileged: true,
		SecurityOpt: []string{"label=disable"},
	},
	{
		ID: "fa57725edfb092ae008779683f438c53738873ec8d63698a1627f9b7e5b1dc1a", Name: "vt-d",
		Image: "vigil-test/busybox:1", ImageID: testImageID, Engine: "docker", State: "created",
		Created: mustTime("2026-11-27T14:53:59.163099945Z"),
		Mounts: []inventory.ContainerMount{
			{Type: "volume", Source: "/var/lib/docker/volumes/vt-vol/_data", Destination: "/vol", ReadWrite: true},
			{Type: "bind", Source: "/var/run/docker.sock", Destination: "/var/run/docker.sock", ReadWrite: true, Sensitive: true},
			{Type: "bind", Source: "/", Destination: "/host", ReadWrite: true, Sensitive: true},
		},
	},
}

func TestCollectFakeEngine(t *testing.T) {
	const archive = "testdata/engine-20.10.txtar"
	tests := []struct {
		name      string
		fail      map[string]int
		want      []inventory.Container
		wantState plugin.State
	}{
		{
			name:      "all_inspected",
			want:      engine2010Want,
			wantState: plugin.StateSucceeded,
		},
		{
			name:      "one_inspect_fails",
			fail:      map[string]int{"/containers/" + engine2010Want[1].ID + "/json": http.StatusInternalServerError},
			want:      []inventory.Container{engine2010Want[0], engine2010Want[2], engine2010Want[3]},
			wantState: plugin.StatePartial,
		},
		{
			name:      "one_removed_after_list",
			fail:      map[string]int{"/containers/" + engine2010Want[2].ID + "/json": http.StatusNotFound},
			want:      []inventory.Container{engine2010Want[0], engine2010Want[1], engine2010Want[3]},
			wantState: plugin.StateSucceeded,
		},
		{
			name:      "list_fails",
			fail:      map[string]int{"/containers/json": http.StatusInternalServerError},
			wantState: plugin.StateFailed,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			host := fakeEngine(t, archive, tc.fail)
			inv, err := New().Collect(context.Background(), &collector.Input{DockerHost: host})
			st := plugin.StatusFromErr(err)
			if st.State != tc.wantState {
				t.Fatalf("state = %v (%v), want %v", st.State, err, tc.wantState)
			}
			var got []inventory.Container
			if inv != nil {
				got = inv.Containers
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("containers mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCollectNoEngine(t *testing.T) {
	dir := t.TempDir()
	// A socket file nobody listens on any more: connection refused.
	stale := filepath.Join(dir, "stale.sock")
	l, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()

	tests := []struct {
		name    string
		host    string
		wantErr string
	}{
		{name: "no_host", host: "", wantErr: "no Docker host configured"},
		{name: "missing_socket", host: "unix://" + dir + "/docker.sock", wantErr: "no Docker engine at " + dir + "/docker.sock"},
		{name: "refused", host: "unix://" + stale, wantErr: "no Docker engine at " + stale},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New().Collect(context.Background(), &collector.Input{DockerHost: tc.host})
			if !errors.Is(err, plugin.ErrSkipped) {
				t.Fatalf("Collect() error = %v, want a skip", err)
			}
			if err.Error() != tc.wantErr {
				t.Errorf("Collect() error = %q, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestSocketPath(t *testing.T) {
	tests := []struct {
		host    string
		want    string
		wantErr bool
	}{
		{host: "unix:///var/run/docker.sock", want: "/var/run/docker.sock"},
		{host: "/run/user/1000/docker.sock", want: "/run/user/1000/docker.sock"},
		{host: "tcp://127.0.0.1:2375", wantErr: true},
		{host: "unix://", wantErr: true},
	}
	for _, tc := range tests {
		got, err := socketPath(tc.host)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("socketPath(%q) = %q, %v; want %q, error %v", tc.host, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestSensitiveHostPath(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{"/", true},
		{"/etc", true},
		{"/etc/", true},
		{"/etc/kubernetes/admin.conf", true},
		{"/etc/localtime", false},
		{"/root", true},
		{"/root/.ssh", true},
		{"/proc", true},
		{"/proc/1/ns", true},
		{"/sys/fs/cgroup", true},
		{"/dev", true},
		{"/dev/sda", true},
		{"/dev/null", false},
		{"/boot", true},
		{"/var", true},
		{"/var/run", true},
		{"/run", true},
		{"/var/run/docker.sock", true},
		{"/run/docker.sock", true},
		{"/run/containerd/containerd.sock", true},
		{"/var/run/containerd/containerd.sock", true},
		{"/var/lib/docker", true},
		{"/var/lib/docker/overlay2", true},
		{"/var/lib", true},
		{"/usr", true},
		{"/usr/share/zoneinfo", false},
		{"/tmp", false},
		{"/home/alice/app", false},
		{"/srv/data", false},
		{"/var/log/nginx", false},
		{"/run/user/1000", false},
		{"/etcetera", false},
		{"/var/lib/docker-data", false},
		{"/../etc", true},
		{"relative/etc", false},
		{"", false},
	}
	for _, tc := range tests {
		if got := SensitiveHostPath(tc.path); got != tc.want {
			t.Errorf("SensitiveHostPath(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
}

func TestConvertPorts(t *testing.T) {
	// NetworkSettings.Ports of a bridge container run with
	// -p 8080:80 -p 127.0.0.1:5353:53/udp and EXPOSE 443.
	const raw = `{"443/tcp":null,"53/udp":[{"HostIp":"127.0.0.1","HostPort":"5353"}],` +
		`"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"},{"HostIp":"::","HostPort":"8080"}]}`
	var m map[string][]portBinding
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatal(err)
	}
	want := []inventory.ContainerPort{
		{Protocol: "udp", ContainerPort: 53, HostIP: "127.0.0.1", HostPort: 5353},
		{Protocol: "tcp", ContainerPort: 80, HostIP: "0.0.0.0", HostPort: 8080},
		{Protocol: "tcp", ContainerPort: 80, HostIP: "::", HostPort: 8080},
	}
	if diff := cmp.Diff(want, convertPorts(m)); diff != "" {
		t.Errorf("convertPorts mismatch (-want +got):\n%s", diff)
	}
}

func FuzzConvert(f *testing.F) {
	a, err := txtar.ParseFile("testdata/engine-20.10.txtar")
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range a.Files {
		if strings.HasSuffix(file.Name, "/json") && file.Name != "containers/json" {
			f.Add(file.Data)
		}
	}
	f.Add([]byte(`{"Name":"/x","HostConfig":{"CapAdd":["cap_net_admin"],"PortBindings":{"x/tcp":[{}],"80":[{"HostPort":"-1"}]}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var c inspect
		if json.Unmarshal(data, &c) != nil {
			return
		}
		got := convert(&c)
		if len(got.Mounts) != len(c.Mounts) {
			t.Fatalf("%d mounts from %d", len(got.Mounts), len(c.Mounts))
		}
		if strings.HasPrefix(c.Name, "/") && got.Name != c.Name[1:] {
			t.Fatalf("name %q from %q", got.Name, c.Name)
		}
		for _, cp := range append(got.CapAdd, got.CapDrop...) {
			if strings.HasPrefix(cp, "CAP_") {
				t.Fatalf("capability %q keeps its prefix", cp)
			}
		}
		for _, m := range got.Mounts {
			if m.Sensitive && m.Type != "bind" {
				t.Fatalf("non-bind mount %+v marked sensitive", m)
			}
		}
	})
}

func FuzzSensitiveHostPath(f *testing.F) {
	for _, s := range []string{"/", "/etc/passwd", "/var/run/docker.sock", "/var/lib", "/tmp/x", "//etc/../root", "/dev/null"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got := SensitiveHostPath(p)
		if p == "" || p[0] != '/' {
			if got {
				t.Fatalf("relative path %q is sensitive", p)
			}
			return
		}
		// The verdict depends on the cleaned path only.
		if clean := filepath.Clean(p); SensitiveHostPath(clean) != got {
			t.Fatalf("SensitiveHostPath(%q) = %v but SensitiveHostPath(%q) differs", p, got, clean)
		}
		// A parent of a sensitive path is sensitive.
		if got {
			if parent := filepath.Dir(filepath.Clean(p)); !SensitiveHostPath(parent) {
				t.Fatalf("%q is sensitive but its parent %q is not", p, parent)
			}
		}
	})
}
