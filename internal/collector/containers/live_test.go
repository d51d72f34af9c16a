package containers

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"debug/elf"
	"encoding/hex"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/collector"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/testutil"
)

// testImage is built from the host's static busybox: there is no
// registry to pull from.
const testImage = "vigil-test/busybox:1"

// ensureTestImage imports testImage unless the engine already has it.
func ensureTestImage(t *testing.T) {
	t.Helper()
	if exec.Command("docker", "image", "inspect", testImage).Run() == nil {
		return
	}
	bb := testutil.RequireCommand(t, "busybox")
	f, err := elf.Open(bb)
	testutil.Require(t, "VIGIL_REQUIRE_DOCKER", err == nil, "cannot read "+bb)
	static := f.Section(".interp") == nil
	f.Close()
	testutil.Require(t, "VIGIL_REQUIRE_DOCKER", static, bb+" is not static: apt-get install busybox-static")
	bin, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	hdrs := []*tar.Header{
		{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bin))},
		{Name: "bin/sh", Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777},
		{Name: "bin/sleep", Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777},
	}
	for _, h := range hdrs {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			tw.Write(bin)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("docker", "import", "-", testImage)
	cmd.Stdin = &buf
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker import: %v\n%s", err, out)
	}
}

// docker runs a docker command and returns its trimmed output.
func docker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func randomName(t *testing.T) string {
	b := make([]byte, 6)
	rand.Read(b)
	return "vigil-test-" + hex.EncodeToString(b)
}

// startContainer runs (or with "create" only creates) a container with
// no network and removes it when the test ends.
func startContainer(t *testing.T, verb string, args ...string) string {
	t.Helper()
	name := randomName(t)
	full := []string{verb, "--network", "none", "--name", name}
	if verb == "run" {
		full = append(full, "-d")
	}
	full = append(append(full, args...), testImage, "sleep", "300")
	t.Cleanup(func() { exec.Command("docker", "rm", "-f", name).Run() })
	docker(t, full...)
	return name
}

func TestCollectLive(t *testing.T) {
	testutil.RequireDocker(t)
	ensureTestImage(t)

	caps := startContainer(t, "run", "--cap-add", "SYS_ADMIN", "-v", "/etc:/host-etc:ro")
	hostns := startContainer(t, "run", "--pid", "host", "--ipc", "host")
	// Privileged containers cannot start here (the bounding set lacks
	// CAP_SYS_RESOURCE), but a created one is inspectable.
	priv := startContainer(t, "create", "--privileged")

	inv, err := New().Collect(context.Background(), &collector.Input{DockerHost: "unix://" + testutil.DockerSocket})
	if err != nil {
		t.Fatalf("Collect() error = %v", err)
	}
	byName := map[string]inventory.Container{}
	for _, c := range inv.Containers {
		byName[c.Name] = c
	}

	c, ok := byName[caps]
	if !ok {
		t.Fatalf("container %s not reported; got %d containers", caps, len(inv.Containers))
	}
	if c.Engine != "docker" || c.Image != testImage || c.State != "running" || c.PID <= 0 ||
		!strings.HasPrefix(c.ImageID, "sha256:") || c.ID != docker(t, "inspect", "-f", "{{.Id}}", caps) {
		t.Errorf("container %s = %+v, want a running docker container of %s with a PID and image ID", caps, c, testImage)
	}
	if !slices.Contains(c.CapAdd, "SYS_ADMIN") {
		t.Errorf("CapAdd = %q, want SYS_ADMIN", c.CapAdd)
	}
	if c.HostPID || c.Privileged || c.HostNetwork {
		t.Errorf("container %s: HostPID %v, Privileged %v, HostNetwork %v; want all false", caps, c.HostPID, c.Privileged, c.HostNetwork)
	}
	want := inventory.ContainerMount{Type: "bind", Source: "/etc", Destination: "/host-etc", ReadWrite: false, Sensitive: true}
	if !slices.Contains(c.Mounts, want) {
		t.Errorf("Mounts = %+v, want %+v", c.Mounts, want)
	}

	if c := byName[hostns]; !c.HostPID || !c.HostIPC || c.HostUTS || c.State != "running" {
		t.Errorf("container %s = %+v, want running with HostPID and HostIPC", hostns, c)
	}
	if c := byName[priv]; !c.Privileged || c.State != "created" || c.PID != 0 {
		t.Errorf("container %s = %+v, want created and privileged", priv, c)
	}
}
