package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/gzip"
)

// hostileArchive saves the raw layers as a docker save archive.
func hostileArchive(t *testing.T, layers ...[]byte) string {
	t.Helper()
	var ls []v1.Layer
	for _, l := range layers {
		ls = append(ls, makeLayer(t, gzipLayer, l))
	}
	p := filepath.Join(t.TempDir(), "hostile.tar")
	writeDockerArchive(t, buildImage(t, ls...), "example.com/hostile:1", p)
	return p
}

func TestExtractHostile(t *testing.T) {
	outside := func(dest string) string { return filepath.Join(filepath.Dir(dest), "sentinel") }
	tests := []struct {
		name string
		// layers builds the layers; dest is the destination directory.
		layers    func(t *testing.T, dest string) [][]byte
		limits    Limits
		wantErr   error
		wantEntry string // the entry the error names
		// check inspects the destination after extraction.
		check func(t *testing.T, dest string, st *Stats)
	}{
		{
			name: "dotdot_name",
			layers: func(t *testing.T, dest string) [][]byte {
				return [][]byte{layerTar(t, file("../sentinel/pwned", 0o644, "x"))}
			},
			wantErr: ErrUnsafeEntry, wantEntry: "../sentinel/pwned",
		},
		{
			name: "dotdot_inside_name",
			layers: func(t *testing.T, dest string) [][]byte {
				return [][]byte{layerTar(t, dir("a/", 0o755), file("a/../../sentinel/pwned", 0o644, "x"))}
			},
			wantErr: ErrUnsafeEntry, wantEntry: "a/../../sentinel/pwned",
		},
		{
			name: "absolute_name",
			layers: func(t *testing.T, dest string) [][]byte {
				return [][]byte{layerTar(t, file(outside(dest)+"/pwned", 0o644, "x"))}
			},
			wantErr: ErrUnsafeEntry, wantEntry: "<sentinel>/pwned",
		},
		{
			name: "symlink_escape_then_write_through",
			layers: func(t *testing.T, dest string) [][]byte {
				return [][]byte{
					layerTar(t, symlink("esc", "../sentinel"), symlink("abs", outside(dest))),
					layerTar(t, file("esc/pwned", 0o644, "x"), file("abs/pwned", 0o644, "y")),
				}
			},
			check: func(t *testing.T, dest string, st *Stats) {
				// Both links now resolve inside dest, where the writes landed.
				rel := strings.TrimPrefix(outside(dest), "/")
				got := tree(t, dest)
				want := map[string]string{
					"esc":            "symlink -> sentinel",
					"abs":            "symlink -> " + rel,
					"sentinel":       "dir 0755",
					"sentinel/pwned": "file 0644 x",
					rel:              "dir 0755",
					rel + "/pwned":   "file 0644 y",
				}
				for p := range got {
					if _, ok := want[p]; !ok && strings.HasPrefix(rel, p+"/") {
						delete(got, p) // the parents MkdirAll made of rel
					}
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("tree (-want +got):\n%s", diff)
				}
				if st.SymlinksRewritten != 2 {
					t.Errorf("SymlinksRewritten = %d, want 2", st.SymlinksRewritten)
				}
			},
		},
		{
			name: "symlink_under_looping_parent",
			layers: func(t *testing.T, dest string) [][]byte {
				// d/d/d is dest itself: the link's target must be
				// computed from where it really lands.
				return [][]byte{layerTar(t, symlink("d", "."), symlink("d/d/d/pw", "../../../sentinel/secret"))}
			},
			check: func(t *testing.T, dest string, st *Stats) {
				if l, err := os.Readlink(filepath.Join(dest, "pw")); err != nil || l != "sentinel/secret" {
					t.Errorf("Readlink(pw) = %q, %v; want sentinel/secret", l, err)
				}
				if b, err := os.ReadFile(filepath.Join(dest, "pw")); err == nil {
					t.Errorf("ReadFile(pw) = %q: the link reaches outside the destination", b)
				}
			},
		},
		{
			name: "file_over_escaping_symlink",
			layers: func(t *testing.T, dest string) [][]byte {
				return [][]byte{
					layerTar(t, symlink("secret", outside(dest)+"/secret")),
					layerTar(t, file("secret", 0o644, "overwritten?")),
				}
			},
			check: func(t *testing.T, dest string, st *Stats) {
				if diff := cmp.Diff(map[string]string{"secret": "file 0644 overwritten?"}, tree(t, dest)); diff != "" {
					t.Errorf("tree (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "hardlink_to_etc_passwd",
			layers: func(t *testing.T, dest string) [][]byte {
				return [][]byte{layerTar(t, hardlink("passwd", "/etc/passwd"))}
			},
			wantErr: ErrUnsafeEntry, wantEntry: "passwd",
		},
		{
			name: "hardlink_dotdot",
			layers: func(t *testing.T, dest string) [][]byte {
				return [][]byte{layerTar(t, hardlink("secret", "../sentinel/secret"))}
			},
			wantErr: ErrUnsafeEntry, wantEntry: "secret",
		},
		{
			name: "hardlink_through_escaping_symlink",
			layers: func(t *testing.T, dest string) [][]byte {
				return [][]byte{layerTar(t, symlink("s", outside(dest)), hardlink("secret", "s/secret"))}
			},
			wantErr: ErrUnsafeEntry, wantEntry: "secret",
		},
		{
			name: "hardlink_not_yet_extracted",
			layers: func(t *testing.T, dest string) [][]byte {
				return [][]byte{layerTar(t, hardlink("early", "later"), file("later", 0o644, "x"))}
			},
			wantErr: ErrUnsafeEntry, wantEntry: "early",
		},
		{
			name: "device_nodes_skipped",
			layers: func(t *testing.T, dest string) [][]byte {
				return [][]byte{layerTar(t,
					dir("dev/", 0o755),
					ent{name: "dev/null", typ: tar.TypeChar, mode: 0o666},
					ent{name: "dev/sda", typ: tar.TypeBlock, mode: 0o660},
					ent{name: "run-fifo", typ: tar.TypeFifo, mode: 0o600},
					hardlink("null-again", "dev/null"),
					file("ok", 0o644, "ok"))}
			},
			check: func(t *testing.T, dest string, st *Stats) {
				if diff := cmp.Diff(map[string]string{"dev": "dir 0755", "ok": "file 0644 ok"}, tree(t, dest)); diff != "" {
					t.Errorf("tree (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(map[string]int{"device": 2, "fifo": 1, "link-to-skipped": 1}, st.Skipped); diff != "" {
					t.Errorf("Skipped (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "gzip_bomb",
			// 32 MiB of zeros, 32 KiB compressed, against a 4 MiB limit.
			layers: func(t *testing.T, dest string) [][]byte {
				return [][]byte{zeroLayer(t, 32<<20)}
			},
			limits:  Limits{MaxTotalBytes: 4 << 20},
			wantErr: ErrLimit,
			check: func(t *testing.T, dest string, st *Stats) {
				if st.Bytes > 4<<20 {
					t.Errorf("wrote %d bytes, more than the 4 MiB limit", st.Bytes)
				}
			},
		},
		{
			name: "file_over_size_limit_skipped",
			layers: func(t *testing.T, dest string) [][]byte {
				return [][]byte{layerTar(t, file("big", 0o644, strings.Repeat("x", 2048)), file("small", 0o644, "s"))}
			},
			limits: Limits{MaxFileSize: 1024},
			check: func(t *testing.T, dest string, st *Stats) {
				if diff := cmp.Diff(map[string]string{"small": "file 0644 s"}, tree(t, dest)); diff != "" {
					t.Errorf("tree (-want +got):\n%s", diff)
				}
				want := []SkippedEntry{{Layer: st.SkippedEntries[0].Layer, Name: "big", Reason: "too-large"}}
				if diff := cmp.Diff(want, st.SkippedEntries); diff != "" {
					t.Errorf("SkippedEntries (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "too_many_entries",
			layers: func(t *testing.T, dest string) [][]byte {
				var es []ent
				for i := range 20 {
					es = append(es, file(fmt.Sprint("f", i), 0o644, ""))
				}
				return [][]byte{layerTar(t, es...)}
			},
			limits:  Limits{MaxEntries: 10},
			wantErr: ErrLimit,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dest, checkSentinel := sandbox(t)
			defer checkSentinel()
			img, err := OpenArchive(hostileArchive(t, tt.layers(t, dest)...), &Options{Limits: tt.limits})
			if err != nil {
				t.Fatalf("OpenArchive() error = %v", err)
			}
			defer img.Close()
			st, err := img.Extract(context.Background(), dest)
			if !errors.Is(err, tt.wantErr) || (err != nil && tt.wantErr == nil) {
				t.Fatalf("Extract() error = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				msg := strings.ReplaceAll(err.Error(), filepath.Dir(dest)+"/sentinel", "<sentinel>")
				if !strings.Contains(msg, img.Name) || !strings.Contains(msg, "layer sha256:") {
					t.Errorf("Extract() error = %q, want it to name the image and layer digest", msg)
				}
				if tt.wantEntry != "" && !strings.Contains(msg, fmt.Sprintf("entry %q", tt.wantEntry)) {
					t.Errorf("Extract() error = %q, want it to name entry %q", msg, tt.wantEntry)
				}
			}
			if tt.check != nil {
				tt.check(t, dest, st)
			}
		})
	}
}

// zeroLayer is a gzip'd tar of one file of n zero bytes, compressed as
// well as gzip can: a bomb of ratio ~1000.
func zeroLayer(t testing.TB, n int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Name: "zeros", Typeflag: tar.TypeReg, Mode: 0o644, Size: n}); err != nil {
		t.Fatal(err)
	}
	zero := make([]byte, 1<<20)
	for w := int64(0); w < n; w += int64(len(zero)) {
		tw.Write(zero[:min(int64(len(zero)), n-w)])
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

// TestManifestLayerCount checks that manifests with absurd layer counts
// are refused before any blob is read.
func TestManifestLayerCount(t *testing.T) {
	const n = 100_000
	layers := make([]string, n)
	for i := range layers {
		layers[i] = fmt.Sprintf("blobs/sha256/%064x", i)
	}
	dockerManifest, _ := json.Marshal([]map[string]any{{"Config": "config.json", "RepoTags": []string{"x:1"}, "Layers": layers}})

	descs := make([]map[string]any, n)
	for i := range descs {
		descs[i] = map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "size": 1, "digest": fmt.Sprintf("sha256:%064x", i)}
	}
	ociManifest, _ := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "size": 2, "digest": digestOf([]byte("{}"))},
		"layers": descs,
	})
	mh, _ := v1.NewHash(digestOf(ociManifest))
	index, _ := json.Marshal(map[string]any{"schemaVersion": 2, "manifests": []map[string]any{{
		"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": len(ociManifest), "digest": mh.String()}}})

	dir := t.TempDir()
	dockerTar := filepath.Join(dir, "docker.tar")
	writeTar(t, dockerTar, map[string][]byte{"manifest.json": dockerManifest})
	ociDir := filepath.Join(dir, "oci")
	for n, b := range map[string][]byte{"index.json": index, "oci-layout": []byte(`{"imageLayoutVersion":"1.0.0"}`), blobPath(mh): ociManifest} {
		p := filepath.Join(ociDir, n)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, path := range []string{dockerTar, ociDir} {
		start := time.Now()
		img, err := Open(context.Background(), path, nil)
		if err == nil {
			img.Close()
		}
		if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "100000 layers, more than the limit of 1000") {
			t.Errorf("Open(%s) error = %v, want the layer limit", filepath.Base(path), err)
		}
		t.Logf("Open(%s) refused in %v", filepath.Base(path), time.Since(start))
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Open(%s) took %v to refuse", filepath.Base(path), d)
		}
	}
}

func writeTar(t testing.TB, path string, files map[string][]byte) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for n, b := range files {
		tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(b))})
		tw.Write(b)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadErrors(t *testing.T) {
	img := buildImage(t, makeLayer(t, gzipLayer, layerTar(t, file("a", 0o644, "a"))))
	dir := t.TempDir()

	// A layer whose content does not match the config's diff_id.
	lying := filepath.Join(dir, "lying")
	writeOCILayout(t, img, "example.com/a:1", lying)
	l, _ := img.Layers()
	d, _ := l[0].Digest()
	os.WriteFile(filepath.Join(lying, blobPath(d)), gzipBytes(t, layerTar(t, file("a", 0o644, "b"))), 0o644)

	tampered := filepath.Join(dir, "tampered.tar")
	writeTar(t, tampered, map[string][]byte{
		"manifest.json":                   []byte(`[{"Config":"` + strings.Repeat("0", 64) + `.json","RepoTags":["x:1"],"Layers":[]}]`),
		strings.Repeat("0", 64) + ".json": []byte(`{"os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`),
	})

	tests := []struct {
		name    string
		path    string
		wantErr string
	}{
		{name: "config_digest_mismatch", path: tampered, wantErr: "has digest sha256:"},
		{name: "not_an_image", path: writeFile(t, dir, "junk.tar", "not a tar"), wantErr: "read archive"},
		{name: "empty_tar", path: writeFile(t, dir, "empty.tar", string(make([]byte, 1024))), wantErr: "neither manifest.json nor index.json"},
		{name: "daemon_unsupported_host", path: "vigil-test/none:1", wantErr: "only unix sockets"},
		{name: "bad_reference", path: "no such image!", wantErr: "no such file"},
		{name: "diff_id_mismatch", path: lying, wantErr: "config says sha256:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			im, err := Open(context.Background(), tt.path, &Options{DockerHost: "tcp://127.0.0.1:2375"})
			if err == nil {
				_, err = im.Extract(context.Background(), t.TempDir())
				im.Close()
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func writeFile(t testing.TB, dir, name, body string) string {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func gzipBytes(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}
