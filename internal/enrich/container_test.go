package enrich

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/tools/txtar"

	"github.com/vigilsec/vigil/internal/event"
	"github.com/vigilsec/vigil/internal/testutil"
)

// TestContainerLive enriches a process inside a real container.
func TestContainerLive(t *testing.T) {
	testutil.RequireDocker(t)
	out, err := exec.Command("docker", "run", "-d", "--network", "none", "--cap-add", "SYS_ADMIN", "--pid", "host",
		"-v", "/etc:/host-etc:ro", "vigil-test/busybox:1", "sleep", "60").CombinedOutput()
	if err != nil {
		t.Fatalf("docker run: %v\n%s", err, out)
	}
	id := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("docker", "rm", "-f", id).Run() })
	out, err = exec.Command("docker", "inspect", "-f", "{{.State.Pid}} {{.Name}}", id).Output()
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(out))
	pid, _ := strconv.Atoi(f[0])
	name := strings.TrimPrefix(f[1], "/")

	e := newEnricher(t, Options{NoHash: true})
	var ev *event.Event
	deadline := time.Now().Add(10 * time.Second)
	for {
		ev = &event.Event{Kind: event.File, Process: event.Process{PID: pid}}
		e.Apply(ev)
		if ev.Container != nil && ev.Container.Name != "" || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if ev.Process.ContainerID != id {
		t.Fatalf("container ID %q, want %q", ev.Process.ContainerID, id)
	}
	want := &event.Container{ID: id, Name: name, Image: "vigil-test/busybox:1", Runtime: "docker",
		HostPID: true, CapAdd: []string{"SYS_ADMIN"}, Mounts: []string{"/etc"}}
	c := ev.Container
	if c == nil || c.ID != want.ID || c.Name != want.Name || c.Image != want.Image || c.Runtime != want.Runtime ||
		c.Privileged || !c.HostPID || c.HostNet || c.HostIPC || !slices.Equal(c.CapAdd, want.CapAdd) || !slices.Equal(c.Mounts, want.Mounts) {
		t.Errorf("container = %+v\nwant        %+v", c, want)
	}
	if ev.Process.HostNet || ev.Process.HostMnt || !ev.Process.HostPID {
		t.Errorf("host ns pid/net/mnt = %v/%v/%v; want true/false/false", ev.Process.HostPID, ev.Process.HostNet, ev.Process.HostMnt)
	}
}

// fakeEngine serves real Engine API answers (testdata/engine-20.10.txtar)
// on a unix socket; handler, when set, answers instead.
type fakeEngine struct {
	sock     string
	answers  map[string][]byte
	requests atomic.Int64
	block    chan struct{} // when non-nil, requests wait for it or their end
}

func newFakeEngine(t *testing.T) *fakeEngine {
	a, err := txtar.ParseFile("testdata/engine-20.10.txtar")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeEngine{sock: filepath.Join(t.TempDir(), "docker.sock"), answers: map[string][]byte{}}
	for _, file := range a.Files {
		f.answers["/"+file.Name] = file.Data
	}
	l, err := net.Listen("unix", f.sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		if f.block != nil {
			select {
			case <-f.block:
			case <-r.Context().Done():
				return
			}
		}
		b, ok := f.answers[r.URL.Path]
		if !ok {
			http.Error(w, `{"message":"No such container"}`, http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	})}
	go srv.Serve(l)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return f
}

func TestContainerCache(t *testing.T) {
	const (
		vtA     = "ca7613337994f8ac85b9786e448e0870119ded33e09a6d73557c9760544ae2a8"
		unknown = "1111111111111111111111111111111111111111111111111111111111111111"
	)
	fe := newFakeEngine(t)
	clk := newClock()
	e := newEnricher(t, Options{NoHash: true, BootID: testBoot, DockerSocket: fe.sock, Now: clk.Now,
		ContainerTTL: time.Minute, ContainerRetry: 30 * time.Second})
	get := func(id string) *event.Container {
		ev := &event.Event{Kind: event.File, Process: event.Process{ContainerID: id}}
		e.Apply(ev)
		return ev.Container
	}
	waitLookups := func(n uint64) {
		t.Helper()
		for range 500 {
			if s := e.Stats(); s.ContainerLookups >= n {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("fewer than %d lookups within 10 s: %+v", n, e.Stats())
	}

	if c := get(vtA); c.ID != vtA || c.Name != "" {
		t.Errorf("first sight: %+v; want the ID only, without waiting for the engine", c)
	}
	waitLookups(1)
	want := event.Container{ID: vtA, Name: "vt-a", Image: "vigil-test/busybox:1", Runtime: "docker",
		CapAdd: []string{"SYS_ADMIN"}, Mounts: []string{"/etc", "/tmp"}}
	if c := get(vtA); c.Name != want.Name || c.Image != want.Image || !slices.Equal(c.CapAdd, want.CapAdd) || !slices.Equal(c.Mounts, want.Mounts) || c.HostPID {
		t.Errorf("after lookup: %+v\nwant %+v", c, want)
	}

	// Unknown: ID only, not asked again within the retry interval.
	if c := get(unknown); c.ID != unknown || c.Name != "" {
		t.Errorf("unknown container: %+v", c)
	}
	waitLookups(2)
	get(unknown)
	get(unknown)
	if n := fe.requests.Load(); n != 2 {
		t.Errorf("%d engine requests, want 2 (unknown containers are cached)", n)
	}
	if s := e.Stats(); s.ContainerFailures != 1 {
		t.Errorf("failures %d, want 1", s.ContainerFailures)
	}
	clk.Add(31 * time.Second)
	get(unknown)
	waitLookups(3)
	// Past the TTL a known container is looked up again, served stale
	// meanwhile.
	clk.Add(time.Minute)
	if c := get(vtA); c.Name != "vt-a" {
		t.Errorf("stale container during refresh: %+v", c)
	}
	waitLookups(4)
}

// TestContainerEngineHangs checks that a hung engine costs the pipeline
// nothing: events get the ID only, and the lookup times out.
func TestContainerEngineHangs(t *testing.T) {
	fe := newFakeEngine(t)
	fe.block = make(chan struct{})
	defer close(fe.block)
	e := newEnricher(t, Options{NoHash: true, BootID: testBoot, DockerSocket: fe.sock, LookupTimeout: 200 * time.Millisecond})
	id := "ca7613337994f8ac85b9786e448e0870119ded33e09a6d73557c9760544ae2a8"
	for range 100 {
		ev := &event.Event{Kind: event.File, Process: event.Process{ContainerID: id}}
		e.Apply(ev)
		if ev.Container == nil || ev.Container.ID != id || ev.Container.Name != "" {
			t.Fatalf("container %+v; want the ID only while the engine hangs", ev.Container)
		}
	}
	for range 500 {
		if e.Stats().ContainerFailures == 1 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("the hung lookup did not time out: %+v", e.Stats())
}

// TestContainerStateFiles checks that a container's details come from the
// engine's state files without waiting for the engine: here it hangs, as
// it does for an inspect while it starts the container.
func TestContainerStateFiles(t *testing.T) {
	fe := newFakeEngine(t)
	fe.block = make(chan struct{})
	defer close(fe.block)
	root := t.TempDir()
	id := "5e1f0c4b2a7d4e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f"
	dir := filepath.Join(root, "containers", id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	// Trimmed from a Docker 20.10 data root.
	writeFile(t, filepath.Join(dir, "config.v2.json"), `{"ID":"`+id+`","Name":"/web-1",
		"Config":{"Hostname":"5e1f0c4b2a7d","Image":"nginx:1.27","Cmd":["nginx"]},
		"MountPoints":{"/var/www":{"Source":"/srv/www","Destination":"/var/www","RW":false},
		"/host":{"Source":"/","Destination":"/host","RW":true}}}`)
	writeFile(t, filepath.Join(dir, "hostconfig.json"), `{"Binds":["/srv/www:/var/www:ro","/:/host"],
		"NetworkMode":"host","PidMode":"","IpcMode":"private","Privileged":false,"CapAdd":["cap_net_admin","SYS_PTRACE"]}`)
	e := newEnricher(t, Options{NoHash: true, BootID: testBoot, DockerSocket: fe.sock, DockerRoot: root, LookupTimeout: time.Minute})
	ev := &event.Event{Kind: event.Exec, Process: event.Process{ContainerID: id}}
	done := make(chan struct{})
	go func() { e.Apply(ev); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the exec waited for the hung engine although the state files answer")
	}
	want := &event.Container{ID: id, Name: "web-1", Image: "nginx:1.27", Runtime: "docker", HostNet: true,
		CapAdd: []string{"NET_ADMIN", "SYS_PTRACE"}, Mounts: []string{"/", "/srv/www"}}
	c := ev.Container
	if c == nil || c.Name != want.Name || c.Image != want.Image || c.Runtime != want.Runtime || !c.HostNet || c.HostPID ||
		!slices.Equal(c.CapAdd, want.CapAdd) || !slices.Equal(c.Mounts, want.Mounts) {
		t.Errorf("container = %+v\nwant        %+v", c, want)
	}

	// A short ID or a path never reads outside the data root, and broken
	// state falls through to the engine (which hangs here, so a timeout).
	for _, bad := range []string{"../../etc", "5e1f0c4b2a7d"} {
		if _, err := e.containers.fromState(bad); err == nil {
			t.Errorf("fromState(%q) succeeded", bad)
		}
	}
	writeFile(t, filepath.Join(dir, "hostconfig.json"), `{"NetworkMode":`)
	if _, err := e.containers.fromState(id); err == nil {
		t.Error("fromState read a truncated hostconfig.json")
	}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}
