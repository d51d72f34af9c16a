// Package testutil holds helpers shared by tests: txtar trees, capability
// requirements that turn into failures in CI, and leak checks.
package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"
)

// TxtarToDir writes the files of a txtar archive into a new temporary
// directory and returns its path. A file whose name ends in "@symlink"
// becomes a symlink to the (trimmed) content; one ending in "/" a
// directory. Modes are 0644 unless the name ends in "@exec" (0755).
func TxtarToDir(t testing.TB, archive string) string {
	t.Helper()
	a, err := txtar.ParseFile(archive)
	if err != nil {
		t.Fatalf("parse %s: %v", archive, err)
	}
	dir := t.TempDir()
	for _, f := range a.Files {
		name, mode := f.Name, os.FileMode(0o644)
		switch {
		case strings.HasSuffix(name, "@symlink"):
			p := filepath.Join(dir, strings.TrimSuffix(name, "@symlink"))
			mkdirAll(t, filepath.Dir(p))
			if err := os.Symlink(strings.TrimSpace(string(f.Data)), p); err != nil {
				t.Fatal(err)
			}
			continue
		case strings.HasSuffix(name, "/"):
			mkdirAll(t, filepath.Join(dir, name))
			continue
		case strings.HasSuffix(name, "@exec"):
			name, mode = strings.TrimSuffix(name, "@exec"), 0o755
		}
		p := filepath.Join(dir, name)
		mkdirAll(t, filepath.Dir(p))
		if err := os.WriteFile(p, f.Data, mode); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func mkdirAll(t testing.TB, p string) {
	t.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
}

// Require skips the test when ok is false, with the reason given; when the
// environment variable env is "1" (CI sets VIGIL_REQUIRE_BPF and
// VIGIL_REQUIRE_DOCKER), the skip becomes a failure, so missing
// capabilities cannot hide in CI.
func Require(t testing.TB, env string, ok bool, reason string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv(env) == "1" {
		t.Fatalf("%s is set, but: %s", env, reason)
	}
	t.Skip(reason)
}

// RequireRoot skips (or, with VIGIL_REQUIRE_ROOT=1, fails) tests that need root.
func RequireRoot(t testing.TB) {
	t.Helper()
	Require(t, "VIGIL_REQUIRE_ROOT", os.Geteuid() == 0, "test needs root")
}

// RequireCommand skips (or fails with VIGIL_REQUIRE_TOOLS=1) when a command
// the test runs is not installed, and returns its path.
func RequireCommand(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	Require(t, "VIGIL_REQUIRE_TOOLS", err == nil, name+" is not installed")
	return p
}

// DockerSocket is where tests expect the Docker engine.
const DockerSocket = "/var/run/docker.sock"

// RequireDocker skips (or fails with VIGIL_REQUIRE_DOCKER=1) when no Docker
// engine answers on DockerSocket.
func RequireDocker(t testing.TB) {
	t.Helper()
	RequireCommand(t, "docker")
	err := exec.Command("docker", "info", "--format", "{{.ID}}").Run()
	Require(t, "VIGIL_REQUIRE_DOCKER", err == nil, "no Docker engine answers on "+DockerSocket)
}

// RequireBPF skips (or fails with VIGIL_REQUIRE_BPF=1) when eBPF programs
// cannot be loaded: not root, or no kernel BTF for CO-RE.
func RequireBPF(t testing.TB) {
	t.Helper()
	_, err := os.Stat("/sys/kernel/btf/vmlinux")
	Require(t, "VIGIL_REQUIRE_BPF", os.Geteuid() == 0 && err == nil, "eBPF needs root and /sys/kernel/btf/vmlinux")
}
