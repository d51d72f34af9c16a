package image

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"go.uber.org/goleak"

	"github.com/vigilsec/vigil/internal/inventory"
)

func TestMain(m *testing.M) {
	if src := os.Getenv(envExtractImage); src != "" {
		// The child process of BenchmarkExtract.
		os.Exit(extractChild(src, os.Getenv(envExtractDest)))
	}
	goleak.VerifyTestMain(m)
}

// Debian 12's os-release, as /usr/lib/os-release ships it.
const debianOSRelease = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
`

const dpkgStatus = `Package: base-files
Status: install ok installed
Priority: required
Section: admin
Installed-Size: 341
Maintainer: Santiago Vila <sanvila@debian.org>
Architecture: amd64
Multi-Arch: foreign
Version: 12.4+deb12u5
`

// testLayers are three layers exercising every entry kind: a base tree,
// then whiteouts, an opaque directory, a replaced file, a hard link and a
// write through an in-image symlink, then a same-layer whiteout.
func testLayers(t testing.TB) [][]byte {
	base := layerTar(t,
		dir("./", 0o755),
		dir("etc/", 0o755),
		symlink("etc/os-release", "../usr/lib/os-release"),
		symlink("etc/alternatives", "/usr/bin/tool"), // absolute: rewritten
		dir("usr/", 0o755),
		dir("usr/bin/", 0o755),
		file("usr/bin/tool", 0o4755, "tool v1"), // setuid: cleared
		dir("usr/lib/", 0o755),
		file("usr/lib/os-release", 0o644, debianOSRelease),
		symlink("bin", "usr/bin"),
		dir("var/", 0o755),
		dir("var/lib/", 0o755),
		dir("var/lib/dpkg/", 0o755),
		file("var/lib/dpkg/status", 0o644, dpkgStatus),
		dir("opt/", 0o755),
		dir("opt/app/", 0o755),
		file("opt/app/a.txt", 0o644, "a"),
		dir("opt/app/sub/", 0o755),
		file("opt/app/sub/c.txt", 0o644, "c"),
		dir("tmp/", 0o1777), // sticky: cleared
		file("doomed.txt", 0o644, "gone soon"),
		dir("data/", 0o750),
		file("data/keep.txt", 0o600, "gone with its dir"),
	)
	second := layerTar(t,
		file(".wh.doomed.txt", 0o644, ""),
		file(".wh.data", 0o644, ""),
		dir("opt/app/", 0o755),
		file("opt/app/.wh..wh..opq", 0o644, ""),
		file("opt/app/new.txt", 0o644, "new"),
		file("usr/bin/tool", 0o755, "tool v2"),
		hardlink("usr/bin/tool-link", "usr/bin/tool"),
		file("bin/hello", 0o755, "hello via the bin symlink"),
	)
	third := layerTar(t,
		file("same-layer.txt", 0o644, "kept: a whiteout hides lower layers only"),
		file(".wh.same-layer.txt", 0o644, ""),
		dir("opt/app/sub2/", 0o755),
		file("opt/app/sub2/d.txt", 0o644, "d"),
		file("opt/.wh..wh..opq", 0o644, ""), // after its children: keeps them
	)
	return [][]byte{base, second, third}
}

var wantTree = map[string]string{
	"bin":                 "symlink -> usr/bin",
	"etc":                 "dir 0755",
	"etc/alternatives":    "symlink -> ../usr/bin/tool",
	"etc/os-release":      "symlink -> ../usr/lib/os-release",
	"opt":                 "dir 0755",
	"opt/app":             "dir 0755",
	"opt/app/new.txt":     "file 0644 new",
	"opt/app/sub2":        "dir 0755",
	"opt/app/sub2/d.txt":  "file 0644 d",
	"same-layer.txt":      "file 0644 kept: a whiteout hides lower layers only",
	"tmp":                 "dir 0777",
	"usr":                 "dir 0755",
	"usr/bin":             "dir 0755",
	"usr/bin/hello":       "file 0755 hello via the bin symlink",
	"usr/bin/tool":        "file 0755 tool v2 (linked with usr/bin/tool,usr/bin/tool-link)",
	"usr/bin/tool-link":   "file 0755 tool v2 (linked with usr/bin/tool,usr/bin/tool-link)",
	"usr/lib":             "dir 0755",
	"usr/lib/os-release":  "file 0644 " + debianOSRelease,
	"var":                 "dir 0755",
	"var/lib":             "dir 0755",
	"var/lib/dpkg":        "dir 0755",
	"var/lib/dpkg/status": "file 0644 " + dpkgStatus,
}

func TestLoadAndExtract(t *testing.T) {
	layers := testLayers(t)
	img := buildImage(t,
		makeLayer(t, gzipLayer, layers[0]),
		makeLayer(t, zstdLayer, layers[1]),
		makeLayer(t, plainLayer, layers[2]))
	const tag = "registry.example/team/app:1.2"
	wantID, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	wantManifest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	wantCfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	var wantDiffIDs []string
	for _, d := range wantCfg.RootFS.DiffIDs {
		wantDiffIDs = append(wantDiffIDs, d.String())
	}

	dir := t.TempDir()
	docker := filepath.Join(dir, "docker.tar")
	writeDockerArchive(t, img, tag, docker)
	ociDir := filepath.Join(dir, "oci")
	writeOCILayout(t, img, tag, ociDir)
	ociTar := filepath.Join(dir, "oci.tar")
	tarDir(t, ociDir, ociTar)

	tests := []struct {
		name         string
		path         string
		format       Format
		wantManifest string
	}{
		{name: "docker_archive", path: docker, format: FormatDockerArchive},
		{name: "oci_layout", path: ociDir, format: FormatOCILayout, wantManifest: wantManifest.String()},
		{name: "oci_archive", path: ociTar, format: FormatOCIArchive, wantManifest: wantManifest.String()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			im, err := Open(context.Background(), tt.path, nil)
			if err != nil {
				t.Fatalf("Open() error = %v", err)
			}
			defer im.Close()
			if im.Format != tt.format || im.ID != wantID.String() || im.ManifestDigest != tt.wantManifest {
				t.Errorf("Open() = format %q, ID %q, manifest %q; want %q, %q, %q",
					im.Format, im.ID, im.ManifestDigest, tt.format, wantID, tt.wantManifest)
			}
			if diff := cmp.Diff([]string{tag}, im.RepoTags); diff != "" {
				t.Errorf("RepoTags (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantCfg, im.Config); diff != "" {
				t.Errorf("Config (-want +got):\n%s", diff)
			}
			var diffIDs []string
			for _, l := range im.Layers {
				diffIDs = append(diffIDs, l.DiffID)
			}
			if diff := cmp.Diff(wantDiffIDs, diffIDs); diff != "" {
				t.Errorf("layer DiffIDs (-want +got):\n%s", diff)
			}

			dest, checkSentinel := sandbox(t)
			st, err := im.Extract(context.Background(), dest)
			if err != nil {
				t.Fatalf("Extract() error = %v", err)
			}
			if diff := cmp.Diff(wantTree, tree(t, dest)); diff != "" {
				t.Errorf("extracted tree (-want +got):\n%s", diff)
			}
			checkSentinel()
			wantStats := &Stats{
				Layers: 3, Entries: 36, Files: 12, Dirs: 14, Symlinks: 3, Hardlinks: 1, Whiteouts: 5,
				Bytes: int64(len("tool v1" + debianOSRelease + dpkgStatus + "a" + "c" + "gone soon" + "gone with its dir" +
					"new" + "tool v2" + "hello via the bin symlink" + "kept: a whiteout hides lower layers only" + "d")),
				SymlinksRewritten: 1, ModesCleared: 2, Skipped: map[string]int{},
			}
			if diff := cmp.Diff(wantStats, st); diff != "" {
				t.Errorf("Extract() stats (-want +got):\n%s", diff)
			}

			osr, err := DetectOS(os.DirFS(dest))
			if err != nil {
				t.Fatalf("DetectOS() error = %v", err)
			}
			want := inventory.OSRelease{ID: "debian", Name: "Debian GNU/Linux", PrettyName: "Debian GNU/Linux 12 (bookworm)",
				Version: "12 (bookworm)", VersionID: "12", VersionCodename: "bookworm"}
			if diff := cmp.Diff(want, osr); diff != "" {
				t.Errorf("DetectOS() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOpenChoosesImage(t *testing.T) {
	a := buildImage(t, makeLayer(t, gzipLayer, layerTar(t, file("a", 0o644, "a"))))
	b := buildImage(t, makeLayer(t, gzipLayer, layerTar(t, file("b", 0o644, "b"))))
	dir := t.TempDir()
	ociDir := filepath.Join(dir, "oci")
	writeOCILayout(t, a, "example.com/a:1", ociDir)
	p, err := layout.FromPath(ociDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(b, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "example.com/b:1"})); err != nil {
		t.Fatal(err)
	}
	bID, _ := b.ConfigName()

	if _, err := OpenLayout(ociDir, nil); err == nil {
		t.Errorf("OpenLayout() of two untagged-choice images: want an error asking for a tag")
	}
	im, err := OpenLayout(ociDir, &Options{Tag: "example.com/b:1"})
	if err != nil {
		t.Fatalf("OpenLayout(tag b) error = %v", err)
	}
	defer im.Close()
	if im.ID != bID.String() {
		t.Errorf("OpenLayout(tag b).ID = %s, want %s", im.ID, bID)
	}
	if _, err := OpenLayout(ociDir, &Options{Tag: "example.com/c:1"}); err == nil {
		t.Errorf("OpenLayout(tag c): want an error")
	}

	// Docker's short names match their normalised form.
	docker := filepath.Join(dir, "docker.tar")
	writeDockerArchive(t, a, "index.docker.io/library/busybox:latest", docker)
	im2, err := OpenArchive(docker, &Options{Tag: "busybox"})
	if err != nil {
		t.Fatalf("OpenArchive(tag busybox) error = %v", err)
	}
	im2.Close()
}

func TestDetectOS(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		want    inventory.OSRelease
		wantErr error
	}{
		{
			name: "alpine",
			files: map[string]string{"etc/os-release": `NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.20.3
PRETTY_NAME="Alpine Linux v3.20"
HOME_URL="https://alpinelinux.org/"
BUG_REPORT_URL="https://gitlab.alpinelinux.org/alpine/aports/-/issues"
`},
			want: inventory.OSRelease{ID: "alpine", Name: "Alpine Linux", VersionID: "3.20.3", PrettyName: "Alpine Linux v3.20"},
		},
		{
			name: "rocky_usr_lib_only",
			files: map[string]string{"usr/lib/os-release": `NAME="Rocky Linux"
VERSION="9.4 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.4"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Rocky Linux 9.4 (Blue Onyx)"
`},
			want: inventory.OSRelease{ID: "rocky", IDLike: []string{"rhel", "centos", "fedora"}, Name: "Rocky Linux",
				Version: "9.4 (Blue Onyx)", VersionID: "9.4", PrettyName: "Rocky Linux 9.4 (Blue Onyx)"},
		},
		{
			name:  "old_alpine_release_file",
			files: map[string]string{"etc/alpine-release": "3.4.6\n"},
			want:  inventory.OSRelease{ID: "alpine", Name: "Alpine Linux", VersionID: "3.4.6"},
		},
		{
			name:    "busybox_none",
			files:   map[string]string{"bin/busybox": "\x7fELF"},
			wantErr: ErrNoOS,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for n, body := range tt.files {
				p := filepath.Join(root, n)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := DetectOS(os.DirFS(root))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("DetectOS() error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("DetectOS() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOpenPlatformIndex(t *testing.T) {
	amd := buildImage(t, makeLayer(t, gzipLayer, layerTar(t, file("arch", 0o644, "amd64"))))
	arm := buildImage(t, makeLayer(t, gzipLayer, layerTar(t, file("arch", 0o644, "arm64"))))
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}})
	dir := filepath.Join(t.TempDir(), "oci")
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "example.com/multi:1"})); err != nil {
		t.Fatal(err)
	}
	for _, arch := range []string{"amd64", "arm64"} {
		t.Run(arch, func(t *testing.T) {
			img, err := OpenLayout(dir, &Options{Platform: &v1.Platform{OS: "linux", Architecture: arch}})
			if err != nil {
				t.Fatalf("OpenLayout() error = %v", err)
			}
			defer img.Close()
			dest := t.TempDir()
			if _, err := img.Extract(context.Background(), dest); err != nil {
				t.Fatalf("Extract() error = %v", err)
			}
			if diff := cmp.Diff(map[string]string{"arch": "file 0644 " + arch}, tree(t, dest)); diff != "" {
				t.Errorf("tree (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"example.com/multi:1"}, img.RepoTags); diff != "" {
				t.Errorf("RepoTags (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := OpenLayout(dir, &Options{Platform: &v1.Platform{OS: "linux", Architecture: "s390x"}}); err == nil {
		t.Errorf("OpenLayout(s390x): want an error naming the missing platform")
	}
}
