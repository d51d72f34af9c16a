package osv

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkImportGo imports the full Go export (4,291 records) into a new
// database.
func BenchmarkImportGo(b *testing.B) {
	goZip := requireShared(b, "osv/Go/all.zip")
	for b.Loop() {
		b.StopTimer()
		dir := b.TempDir()
		b.StartTimer()
		if _, err := Import(context.Background(), dir, []string{goZip}, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkImportPyPIYAML imports the PyPI advisory YAML zip.
func BenchmarkImportPyPIYAML(b *testing.B) {
	z := requireShared(b, "osv/PyPI/pypa-advisories-yaml.zip")
	for b.Loop() {
		b.StopTimer()
		dir := b.TempDir()
		b.StartTimer()
		if _, err := Import(context.Background(), dir, []string{z}, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpenLookup1000 opens the Go database and looks up 1,000
// packages (every package name of the database, hits, padded with
// misses), as one `vigil scan` invocation would.
func BenchmarkOpenLookup1000(b *testing.B) {
	goZip := requireShared(b, "osv/Go/all.zip")
	dir := b.TempDir()
	if _, err := Import(context.Background(), dir, []string{goZip}, nil); err != nil {
		b.Fatal(err)
	}
	names := lookupNames(b, dir, 1000)
	b.ResetTimer()
	hits := 0
	for b.Loop() {
		db, err := Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		hits = 0
		for _, n := range names {
			vs, err := db.Lookup("Go", n)
			if err != nil {
				b.Fatal(err)
			}
			hits += len(vs)
		}
		db.Close()
	}
	b.ReportMetric(float64(hits), "records/op")
}

// lookupNames returns n package names: half from the database, half not.
func lookupNames(tb testing.TB, dir string, n int) []string {
	db, err := Open(dir)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	x := db.indexes["Go"]
	var names []string
	for i := 0; i < x.npkg && len(names) < n/2; i += max(1, x.npkg/(n/2)) {
		k, _, err := x.kv(x.pkgs, i)
		if err != nil {
			tb.Fatal(err)
		}
		names = append(names, string(k))
	}
	for i := 0; len(names) < n; i++ {
		names = append(names, fmt.Sprintf("example.com/not/vulnerable%d", i))
	}
	return names
}

// BenchmarkLookup1000 looks up the same 1,000 packages in an open
// database: the decoding cost alone.
func BenchmarkLookup1000(b *testing.B) {
	goZip := requireShared(b, "osv/Go/all.zip")
	dir := b.TempDir()
	if _, err := Import(context.Background(), dir, []string{goZip}, nil); err != nil {
		b.Fatal(err)
	}
	names := lookupNames(b, dir, 1000)
	db, err := Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	b.ResetTimer()
	for b.Loop() {
		for _, n := range names {
			if _, err := db.Lookup("Go", n); err != nil {
				b.Fatal(err)
			}
		}
	}
}
