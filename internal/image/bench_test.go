package image

import (
	"archive/tar"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/klauspost/compress/gzip"
)

var benchMiB = flag.Int("image-mib", 64, "uncompressed size in MiB of the synthetic image BenchmarkExtract builds (1024 for the ~1 GB goal)")

// Environment of the child process BenchmarkExtract runs, so that its peak
// RSS is the extraction's alone (not the image generation's).
const (
	envExtractImage = "VIGIL_IMAGE_BENCH_IMAGE"
	envExtractDest  = "VIGIL_IMAGE_BENCH_DEST"
)

// extractChild loads and extracts one image, for BenchmarkExtract.
func extractChild(src, dest string) int {
	img, err := Open(context.Background(), src, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer img.Close()
	st, err := img.Extract(context.Background(), dest)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("files=%d bytes=%d whiteouts=%d\n", st.Files, st.Bytes, st.Whiteouts)
	return 0
}

// BenchmarkExtract extracts a synthetic OCI image of -image-mib MiB in
// many files of mixed sizes over 4 gzip layers (with whiteouts and an
// opaque directory) in a child process, and reports its wall time and
// peak RSS. `go test -run=^$ -bench=Extract ./internal/image -args -image-mib=1024`
// measures the ~1 GB case.
func BenchmarkExtract(b *testing.B) {
	work := b.TempDir()
	src := filepath.Join(work, "oci")
	start := time.Now()
	files := buildBigImage(b, work, src, int64(*benchMiB)<<20)
	b.Logf("built a %d MiB image of %d files in %v", *benchMiB, files, time.Since(start))
	b.SetBytes(int64(*benchMiB) << 20)
	var peakKiB int64
	i := 0
	for b.Loop() {
		dest := filepath.Join(work, fmt.Sprint("dest", i))
		i++
		if err := os.Mkdir(dest, 0o755); err != nil {
			b.Fatal(err)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), envExtractImage+"="+src, envExtractDest+"="+dest)
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("extract: %v\n%s", err, out)
		}
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			peakKiB = max(peakKiB, ru.Maxrss)
		}
		b.StopTimer()
		if i == 1 {
			b.Logf("child: %s", strings.TrimSpace(string(out)))
		}
		os.RemoveAll(dest)
		b.StartTimer()
	}
	b.ReportMetric(float64(peakKiB)/1024, "peak-RSS-MiB")
}

// buildBigImage writes an OCI layout of about size uncompressed bytes at
// dst and returns the number of files.
func buildBigImage(b *testing.B, work, dst string, size int64) int {
	const nLayers = 4
	rng := rand.New(rand.NewPCG(1, 2))
	// Half random, half text: compresses about 2:1, as binaries do.
	text := []byte(strings.Repeat("libc.so.6 GLIBC_2.34 /usr/lib/x86_64-linux-gnu ", 2048))
	chunk := make([]byte, 1<<20)
	files := 0
	var layers []v1.Layer
	for l := range nLayers {
		p := filepath.Join(work, fmt.Sprintf("layer%d.tar.gz", l))
		f, err := os.Create(p)
		if err != nil {
			b.Fatal(err)
		}
		zw, _ := gzip.NewWriterLevel(f, gzip.BestSpeed)
		tw := tar.NewWriter(zw)
		hdr := func(h *tar.Header) {
			if err := tw.WriteHeader(h); err != nil {
				b.Fatal(err)
			}
		}
		if l > 0 {
			// Delete a file and empty a directory of the layer below.
			hdr(&tar.Header{Name: fmt.Sprintf("l%d/d0/.wh.f0", l-1), Typeflag: tar.TypeReg, Mode: 0o644})
			hdr(&tar.Header{Name: fmt.Sprintf("l%d/d1/", l-1), Typeflag: tar.TypeDir, Mode: 0o755})
			hdr(&tar.Header{Name: fmt.Sprintf("l%d/d1/.wh..wh..opq", l-1), Typeflag: tar.TypeReg, Mode: 0o644})
		}
		var written int64
		for n := 0; written < size/nLayers; n++ {
			d := fmt.Sprintf("l%d/d%d", l, n/200)
			if n%200 == 0 {
				hdr(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o755})
			}
			var sz int64
			switch r := rng.IntN(1000); {
			case r < 900:
				sz = 512 + rng.Int64N(16<<10)
			case r < 995:
				sz = 64<<10 + rng.Int64N(1<<20)
			default:
				sz = 8<<20 + rng.Int64N(24<<20)
			}
			hdr(&tar.Header{Name: fmt.Sprintf("%s/f%d", d, n), Typeflag: tar.TypeReg, Mode: 0o755, Size: sz})
			for left := sz; left > 0; {
				c := chunk[:min(left, int64(len(chunk)))]
				half := len(c) / 2
				for i := 0; i < half; i += 8 {
					v := rng.Uint64()
					for j := 0; j < 8 && i+j < half; j++ {
						c[i+j] = byte(v >> (8 * j))
					}
				}
				copy(c[half:], text)
				tw.Write(c)
				left -= int64(len(c))
			}
			written += sz
			files++
		}
		if err := tw.Close(); err != nil {
			b.Fatal(err)
		}
		zw.Close()
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
		layer, err := tarball.LayerFromFile(p)
		if err != nil {
			b.Fatal(err)
		}
		layers = append(layers, layer)
	}
	writeOCILayout(b, buildImage(b, layers...), "example.com/big:1", dst)
	for l := range nLayers {
		os.Remove(filepath.Join(work, fmt.Sprintf("layer%d.tar.gz", l)))
	}
	return files
}
