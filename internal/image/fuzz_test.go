package image

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzApplyLayer applies arbitrary bytes as a layer (plain, gzip or zstd
// tar) and checks that nothing outside the destination changed, that
// every symlink left resolves inside it, and that no device, FIFO or
// setuid file was made.
func FuzzApplyLayer(f *testing.F) {
	// Seeds stay small (tar spends 512 bytes a header): the engine
	// minimizes each new input byte by byte. Compressed seeds are tiny
	// and still reach the tar code, which runs before the CRC check.
	for _, l := range testLayers(f) {
		f.Add(gzipBytes(f, l))
	}
	f.Add(layerTar(f, dir("a/", 0o755), file("a/.wh..wh..opq", 0o644, ""), file("a/b", 0o644, "b")))
	f.Add(layerTar(f, symlink("esc", "../sentinel"), file("esc/pwned", 0o644, "x")))
	f.Add(layerTar(f, symlink("d", "."), symlink("d/d/d/pw", "../../../sentinel/secret"), hardlink("h", "d/pw")))
	f.Add(layerTar(f, symlink("abs", "/etc"), hardlink("pw", "abs/passwd"), hardlink("pw2", "/etc/passwd")))
	f.Add(layerTar(f, file("../x", 0o644, "x"), file("/abs", 0o644, "x")))
	f.Add(layerTar(f, dir("a/", 0o4755), file("a/.wh..wh..opq", 0o644, ""), file(".wh.a", 0o644, ""), file(".wh..wh.plnk", 0o644, "")))
	f.Add(layerTar(f, ent{name: "dev/null", typ: '3', mode: 0o666}, ent{name: "p", typ: '6', mode: 0o600}))

	f.Fuzz(func(t *testing.T, data []byte) {
		dest, checkSentinel := sandbox(t)
		root, err := os.OpenRoot(dest)
		if err != nil {
			t.Fatal(err)
		}
		defer root.Close()
		x := newExtractor(root, Limits{MaxTotalBytes: 8 << 20, MaxFileSize: 1 << 20, MaxEntries: 1000}, "fuzz")
		x.applyLayer(context.Background(), "sha256:fuzz", "", bytes.NewReader(data))
		checkSentinel()
		err = filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			fi, err := os.Lstat(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dest, p)
			switch m := fi.Mode(); {
			case m&fs.ModeSymlink != 0:
				l, err := os.Readlink(p)
				if err != nil {
					return err
				}
				if strings.HasPrefix(l, "/") {
					t.Errorf("symlink %s -> %s is absolute", rel, l)
				}
				if j := path.Join(path.Dir(filepath.ToSlash(rel)), l); j == ".." || strings.HasPrefix(j, "../") {
					t.Errorf("symlink %s -> %s leaves the destination", rel, l)
				}
			case m&(fs.ModeDevice|fs.ModeCharDevice|fs.ModeNamedPipe|fs.ModeSocket) != 0:
				t.Errorf("%s is a special file (%v)", rel, m)
			case m&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != 0 && p != dest:
				t.Errorf("%s keeps mode %v", rel, m)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
