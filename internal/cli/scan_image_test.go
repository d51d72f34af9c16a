package cli

import (
	"archive/tar"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/vigilsec/vigil/internal/testutil"
)

// tarDir writes the tree under dir as a tar archive at dst.
func tarDir(t *testing.T, dir, dst string) {
	t.Helper()
	f, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		hdr, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if d.IsDir() {
			hdr.Name += "/"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if info.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			_, err = tw.Write(b)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestScanImage imports a Debian-like root holding an old glibc and a Go
// project into the real Docker engine, then scans it by reference and as
// a docker save tarball: both must report the same findings.
func TestScanImage(t *testing.T) {
	testutil.RequireDocker(t)
	dataDir := scanDB(t)
	root := testutil.TxtarToDir(t, "testdata/scan/debian-root.txtar")
	src := testutil.TxtarToDir(t, "testdata/scan/source.txtar")
	if err := os.MkdirAll(filepath.Join(root, "srv/shop"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"go.mod", "requirements.txt"} {
		copyFile(t, filepath.Join(src, f), filepath.Join(root, "srv/shop", f))
	}
	rootTar := filepath.Join(t.TempDir(), "root.tar")
	tarDir(t, root, rootTar)
	ref := "vigil-test/scan:" + strconv.Itoa(os.Getpid())
	if out, err := exec.Command("docker", "import", rootTar, ref).CombinedOutput(); err != nil {
		t.Fatalf("docker import: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", ref).Run() })
	saved := filepath.Join(t.TempDir(), "image.tar")
	if out, err := exec.Command("docker", "save", "-o", saved, ref).CombinedOutput(); err != nil {
		t.Fatalf("docker save: %v: %s", err, out)
	}

	want := []string{
		"DEBIAN-CVE-2023-4911 libc6@2.36-9+deb12u1",
		"GO-2023-2102 golang.org/x/net@0.14.0",
		"GO-2024-2687 golang.org/x/net@0.14.0",
		"PYSEC-2020-176 PyYAML@5.1.2",
	}
	for _, target := range []string{ref, saved} {
		t.Run(filepath.Base(target), func(t *testing.T) {
			s := scanFindings(t, "image", target, "--data-dir", dataDir)
			if s.Target.Type != "image" || s.Target.OS == nil || s.Target.OS.ID != "debian" {
				t.Errorf("target = %+v", s.Target)
			}
			var got []string
			for _, f := range s.Findings {
				got = append(got, f.ID+" "+f.Package.Name+"@"+f.Package.Version)
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("findings = %q, want %q", got, want)
			}
		})
	}
}
