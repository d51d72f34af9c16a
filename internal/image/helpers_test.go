package image

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/compression"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// ent is one tar entry a test writes.
type ent struct {
	name string
	typ  byte
	mode int64
	body string
	link string
	size int64 // for a header whose data the test writes itself
}

func dir(name string, mode int64) ent { return ent{name: name, typ: tar.TypeDir, mode: mode} }
func file(name string, mode int64, body string) ent {
	return ent{name: name, typ: tar.TypeReg, mode: mode, body: body}
}
func symlink(name, target string) ent {
	return ent{name: name, typ: tar.TypeSymlink, mode: 0o777, link: target}
}
func hardlink(name, target string) ent {
	return ent{name: name, typ: tar.TypeLink, mode: 0o644, link: target}
}

// layerTar writes entries as an uncompressed tar.
func layerTar(t testing.TB, ents ...ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.link, Format: tar.FormatPAX}
		if e.typ == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatalf("write header %q: %v", e.name, err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// layerKind says how a test stores a layer.
type layerKind int

const (
	gzipLayer layerKind = iota
	zstdLayer
	plainLayer
)

func makeLayer(t testing.TB, kind layerKind, data []byte) v1.Layer {
	t.Helper()
	if kind == plainLayer {
		return static.NewLayer(data, types.OCIUncompressedLayer)
	}
	open := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	var opts []tarball.LayerOption
	if kind == zstdLayer {
		opts = append(opts, tarball.WithCompression(compression.ZStd), tarball.WithMediaType(types.OCILayerZStd))
	}
	l, err := tarball.LayerFromOpener(open, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// buildImage makes an image of the layers with a realistic config.
func buildImage(t testing.TB, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "APP_ENV=test"}
	cf.Config.Entrypoint = []string{"/usr/bin/tool"}
	cf.Config.Cmd = []string{"--serve"}
	cf.History = []v1.History{{CreatedBy: "ADD rootfs.tar /"}, {CreatedBy: "RUN rm /doomed.txt"}, {CreatedBy: "COPY . /"}}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// writeDockerArchive saves img as `docker save` would, tagged tag.
func writeDockerArchive(t testing.TB, img v1.Image, tag, path string) {
	t.Helper()
	ref, err := name.NewTag(tag)
	if err != nil {
		t.Fatal(err)
	}
	if err := tarball.WriteToFile(path, ref, img); err != nil {
		t.Fatalf("write docker archive: %v", err)
	}
}

// writeOCILayout writes img into a new OCI layout at dir, annotated with
// its reference.
func writeOCILayout(t testing.TB, img v1.Image, ref, dir string) {
	t.Helper()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": ref})); err != nil {
		t.Fatalf("write OCI layout: %v", err)
	}
}

// tarDir writes the tree at dir as a tar file at out (an OCI archive).
func tarDir(t testing.TB, dir, out string) {
	t.Helper()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		h, err := tar.FileInfoHeader(fi, "")
		if err != nil {
			return err
		}
		h.Name = filepath.ToSlash(rel)
		if d.IsDir() {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if d.Type().IsRegular() {
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

// tree describes every path under dir: "dir 0755", "file 0644 <body>",
// "symlink -> target", with " (inode N)" grouping hard links.
func tree(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	inodes := map[uint64][]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case fi.IsDir():
			out[rel] = fmt.Sprintf("dir %04o", fi.Mode().Perm())
		case fi.Mode()&fs.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out[rel] = "symlink -> " + l
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = fmt.Sprintf("file %04o %s", fi.Mode().Perm(), b)
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
				inodes[st.Ino] = append(inodes[st.Ino], rel)
			}
		default:
			out[rel] = "other " + fi.Mode().String()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, names := range inodes {
		sort.Strings(names)
		for _, n := range names {
			out[n] += " (linked with " + strings.Join(names, ",") + ")"
		}
	}
	return out
}

// sandbox returns a destination directory and, next to it, a sentinel
// directory holding one file; checkSentinel fails the test if anything
// outside the destination changed.
func sandbox(t testing.TB) (dest string, checkSentinel func()) {
	t.Helper()
	base := t.TempDir()
	dest = filepath.Join(base, "dest")
	sentinel := filepath.Join(base, "sentinel")
	for _, d := range []string{dest, sentinel} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(sentinel, "secret"), []byte("untouched"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dest, func() {
		t.Helper()
		got := tree(t, base)
		for p := range got {
			if p == "dest" || strings.HasPrefix(p, "dest/") {
				delete(got, p)
			}
		}
		want := map[string]string{"sentinel": "dir 0755", "sentinel/secret": "file 0644 untouched"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("outside the destination: got %v, want %v", got, want)
		}
	}
}
