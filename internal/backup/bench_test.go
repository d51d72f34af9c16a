package backup

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkSnapshot backs up a real tree (VIGIL_BENCH_BACKUP_SRC, default
// /usr/share/doc) into a fresh store and reports throughput and the
// dedup+compression ratio (bytes read / bytes stored).
func BenchmarkSnapshot(b *testing.B) {
	src := os.Getenv("VIGIL_BENCH_BACKUP_SRC")
	if src == "" {
		src = "/usr/share/doc"
	}
	if _, err := os.Stat(src); err != nil {
		b.Skipf("no benchmark tree %s: %v", src, err)
	}
	var st Stats
	for b.Loop() {
		s, err := Open(Config{Dir: filepath.Join(b.TempDir(), "backup")})
		if err != nil {
			b.Fatal(err)
		}
		if _, st, err = s.Snapshot(context.Background(), []string{src}); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(st.Bytes)
	b.ReportMetric(float64(st.Files), "files")
	b.ReportMetric(float64(st.Files-st.NewBlobs), "dup_files")
	if st.StoredBytes > 0 {
		b.ReportMetric(float64(st.Bytes)/float64(st.StoredBytes), "ratio")
	}
}

// BenchmarkResnapshot measures a second snapshot of an unchanged tree
// (stat only).
func BenchmarkResnapshot(b *testing.B) {
	src := "/usr/share/doc"
	if _, err := os.Stat(src); err != nil {
		b.Skip(err)
	}
	s, err := Open(Config{Dir: filepath.Join(b.TempDir(), "backup")})
	if err != nil {
		b.Fatal(err)
	}
	if _, _, err := s.Snapshot(context.Background(), []string{src}); err != nil {
		b.Fatal(err)
	}
	var st Stats
	for b.Loop() {
		if _, st, err = s.Snapshot(context.Background(), []string{src}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(st.Unchanged), "unchanged")
}
