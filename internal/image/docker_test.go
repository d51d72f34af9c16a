package image

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"debug/elf"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilsec/vigil/internal/testutil"
)

// dockerRun runs a docker command and returns its trimmed output.
func dockerRun(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func randomSuffix() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// busyboxImage imports a one-layer image of the host's static busybox
// (there is no registry to pull from) with Debian's os-release, laid out
// as Debian does (etc/os-release -> ../usr/lib/os-release). The image is
// removed when the test ends. It returns the tag.
func busyboxImage(t *testing.T) string {
	t.Helper()
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
	ents := []struct {
		h    tar.Header
		body []byte
	}{
		{h: tar.Header{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755}},
		{h: tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755}, body: bin},
		{h: tar.Header{Name: "bin/sh", Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777}},
		{h: tar.Header{Name: "bin/sleep", Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777}},
		{h: tar.Header{Name: "bin/rm", Typeflag: tar.TypeSymlink, Linkname: "/bin/busybox", Mode: 0o777}},
		{h: tar.Header{Name: "bin/mkdir", Typeflag: tar.TypeLink, Linkname: "bin/busybox", Mode: 0o755}},
		{h: tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755}},
		{h: tar.Header{Name: "etc/os-release", Typeflag: tar.TypeSymlink, Linkname: "../usr/lib/os-release", Mode: 0o777}},
		{h: tar.Header{Name: "usr/", Typeflag: tar.TypeDir, Mode: 0o755}},
		{h: tar.Header{Name: "usr/lib/", Typeflag: tar.TypeDir, Mode: 0o755}},
		{h: tar.Header{Name: "usr/lib/os-release", Typeflag: tar.TypeReg, Mode: 0o644}, body: []byte(debianOSRelease)},
		{h: tar.Header{Name: "opt/", Typeflag: tar.TypeDir, Mode: 0o755}},
		{h: tar.Header{Name: "opt/old/", Typeflag: tar.TypeDir, Mode: 0o755}},
		{h: tar.Header{Name: "opt/old/a", Typeflag: tar.TypeReg, Mode: 0o644}, body: []byte("a")},
	}
	for _, e := range ents {
		e.h.Size = int64(len(e.body))
		if e.h.Typeflag == tar.TypeLink {
			e.h.Size = 0
		}
		if err := tw.WriteHeader(&e.h); err != nil {
			t.Fatal(err)
		}
		tw.Write(e.body)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	tag := "vigil-test/image-busybox:" + randomSuffix()
	cmd := exec.Command("docker", "import", "-", tag)
	cmd.Stdin = &buf
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker import: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag).Run() })
	return tag
}

// TestDockerImage builds a two-layer image with the real engine (import,
// then a container that deletes and adds files, committed: Docker writes
// the whiteouts), and loads it from `docker save` and from the engine.
func TestDockerImage(t *testing.T) {
	testutil.RequireDocker(t)
	base := busyboxImage(t)
	ctr := "vigil-test-" + randomSuffix()
	t.Cleanup(func() { exec.Command("docker", "rm", "-f", ctr).Run() })
	dockerRun(t, "run", "--network", "none", "--name", ctr, base, "sh", "-c",
		"rm /bin/sleep && rm -r /opt/old && mkdir -p /opt/new && echo hello > /opt/new/b && chmod 4755 /opt/new/b")
	tag := "vigil-test/image-busybox:" + randomSuffix()
	dockerRun(t, "commit", ctr, tag)
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag).Run() })
	id := dockerRun(t, "image", "inspect", "-f", "{{.Id}}", tag)

	saved := filepath.Join(t.TempDir(), "saved.tar")
	dockerRun(t, "save", "-o", saved, tag)

	bin, err := os.ReadFile(testutil.RequireCommand(t, "busybox"))
	if err != nil {
		t.Fatal(err)
	}
	busybox := "file 0755 " + string(bin)
	want := map[string]string{
		"bin":                "dir 0755",
		"bin/busybox":        busybox + " (linked with bin/busybox,bin/mkdir)",
		"bin/mkdir":          busybox + " (linked with bin/busybox,bin/mkdir)",
		"bin/rm":             "symlink -> busybox",
		"bin/sh":             "symlink -> busybox",
		"etc":                "dir 0755",
		"etc/os-release":     "symlink -> ../usr/lib/os-release",
		"opt":                "dir 0755",
		"opt/new":            "dir 0755",
		"opt/new/b":          "file 0755 hello\n",
		"usr":                "dir 0755",
		"usr/lib":            "dir 0755",
		"usr/lib/os-release": "file 0644 " + debianOSRelease,
	}
	// Docker adds the mount points of a container to a committed layer.
	ignore := map[string]bool{"dev": true, "proc": true, "sys": true, "etc/hosts": true, "etc/hostname": true,
		"etc/resolv.conf": true, ".dockerenv": true, "dev/console": true, "dev/pts": true, "dev/shm": true}

	tests := []struct {
		name   string
		ref    string
		format Format
	}{
		{name: "docker_save", ref: saved, format: FormatDockerArchive},
		{name: "daemon_reference", ref: tag, format: FormatDockerDaemon},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, err := Open(context.Background(), tt.ref, &Options{DockerHost: "unix://" + testutil.DockerSocket, TempDir: t.TempDir()})
			if err != nil {
				t.Fatalf("Open(%q) error = %v", tt.ref, err)
			}
			defer img.Close()
			if img.Format != tt.format || img.ID != id || len(img.Layers) != 2 {
				t.Errorf("Open() = format %q, ID %q, %d layers; want %q, %q, 2", img.Format, img.ID, len(img.Layers), tt.format, id)
			}
			if diff := cmp.Diff([]string{tag}, img.RepoTags); diff != "" {
				t.Errorf("RepoTags (-want +got):\n%s", diff)
			}
			if img.Config.OS != "linux" || len(img.Config.History) != 2 {
				t.Errorf("Config = OS %q, %d history entries; want linux, 2", img.Config.OS, len(img.Config.History))
			}
			dest, checkSentinel := sandbox(t)
			st, err := img.Extract(context.Background(), dest)
			if err != nil {
				t.Fatalf("Extract() error = %v", err)
			}
			checkSentinel()
			got := tree(t, dest)
			for p := range got {
				if ignore[p] {
					delete(got, p)
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("extracted tree (-want +got):\n%s", diff)
			}
			if st.Whiteouts != 2 || st.ModesCleared != 1 || st.SymlinksRewritten != 1 {
				t.Errorf("Extract() stats = %+v, want 2 whiteouts, 1 mode cleared, 1 symlink rewritten", st)
			}
			osr, err := DetectOS(os.DirFS(dest))
			if err != nil || osr.ID != "debian" || osr.VersionID != "12" {
				t.Errorf("DetectOS() = %+v, %v; want debian 12", osr, err)
			}
		})
	}

	// The export is removed by Close.
	tmp := t.TempDir()
	img, err := OpenDaemon(context.Background(), tag, &Options{DockerHost: "unix://" + testutil.DockerSocket, TempDir: tmp})
	if err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 1 {
		t.Errorf("export dir holds %d files while open, want 1", len(ents))
	}
	img.Close()
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("export dir holds %d files after Close, want 0", len(ents))
	}

	_, err = OpenDaemon(context.Background(), "vigil-test/no-such-image:"+randomSuffix(), &Options{DockerHost: "unix://" + testutil.DockerSocket})
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("OpenDaemon(missing image) error = %v, want a 404 from the engine", err)
	}
}
