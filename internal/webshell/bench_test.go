//go:build unix

package webshell

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// loadTree reads every regular file under root (text files only when
// textOnly: no NUL byte in the first 8 KiB) and returns them with their
// total size.
func loadTree(tb testing.TB, root string, textOnly bool) ([][]byte, int64) {
	tb.Helper()
	var files [][]byte
	var total int64
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if textOnly && bytes.IndexByte(data[:min(len(data), 8<<10)], 0) >= 0 {
			return nil
		}
		files = append(files, data)
		total += int64(len(data))
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return files, total
}

// benchFiles runs Analyze over files. Besides the wall-clock MB/s it reports
// cpu-MB/s, the throughput per process CPU second (user+system, GC
// included): on a shared machine wall time also counts time the process
// waits for a core, CPU time does not.
//
// With cached, each pass is one scan sharing a new Cache, as a file scan
// does: decoded payloads met in earlier files of the same pass are not
// analysed again.
func benchFiles(b *testing.B, files [][]byte, total int64, cached bool) {
	b.Helper()
	b.SetBytes(total)
	b.ReportAllocs()
	b.ResetTimer()
	c0 := processCPU()
	n := 0
	var hits int64
	for b.Loop() {
		var opt Options
		if cached {
			opt.Cache = NewCache(0)
		}
		for _, f := range files {
			AnalyzeWith(f, opt)
		}
		if cached {
			hits += opt.Cache.Stats().Hits
		}
		n++
	}
	if cached && n > 0 {
		b.ReportMetric(float64(hits)/float64(n), "layer-hits/op")
	}
	if cpu := processCPU() - c0; cpu > 0 {
		b.ReportMetric(float64(total)*float64(n)/1e6/cpu.Seconds(), "cpu-MB/s")
	}
}

// processCPU is the process's user+system CPU time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkAnalyze measures Analyze per input set: the package's own
// fixtures (always present), the shared shell/benign corpora (all of it,
// and its benign PHP part alone) and benign
// system code (Perl, Python and Nmap trees; skipped when absent). The
// per-core figure comes from
//
//	GOMAXPROCS=1 go test -run '^$' -bench Analyze -count 6 ./internal/webshell/
//
// and is the cpu-MB/s metric when other work shares the machine.
func BenchmarkAnalyze(b *testing.B) {
	b.Run("testdata", func(b *testing.B) {
		files, total := loadTree(b, "testdata", false)
		if len(files) == 0 {
			b.Fatal("no fixtures under testdata")
		}
		benchFiles(b, files, total, false)
	})
	// corpus-scan shares a Cache per pass, as a scan does.
	for _, c := range []struct {
		name   string
		cached bool
	}{{"corpus", false}, {"corpus-scan", true}} {
		b.Run(c.name, func(b *testing.B) {
			root := filepath.Dir(filepath.Dir(corpusDir))
			if _, err := os.Stat(root); err != nil {
				b.Skipf("corpus %s not present: %v", root, err)
			}
			files, total := loadTree(b, root, false)
			benchFiles(b, files, total, c.cached)
		})
	}
	b.Run("corpus-benign", func(b *testing.B) {
		dir := filepath.Join(corpusDir, "normal")
		if _, err := os.Stat(dir); err != nil {
			b.Skipf("corpus %s not present: %v", dir, err)
		}
		files, total := loadTree(b, dir, false)
		benchFiles(b, files, total, false)
	})
	b.Run("system", func(b *testing.B) {
		var files [][]byte
		var total int64
		for _, dir := range []string{"/usr/share/perl5", "/usr/lib/python3/dist-packages", "/usr/share/nmap"} {
			if _, err := os.Stat(dir); err != nil {
				continue
			}
			f, n := loadTree(b, dir, true)
			files, total = append(files, f...), total+n
		}
		if len(files) == 0 {
			b.Skip("no system trees present")
		}
		benchFiles(b, files, total, false)
	})
}
