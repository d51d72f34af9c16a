package assess

import (
	"archive/zip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/vuln/osv"
)

// The database Match is written for implements DB and the optional
// statusDB.
var (
	_ DB       = (*osv.DB)(nil)
	_ statusDB = (*osv.DB)(nil)
)

// sharedData is the shared test corpus (see /work/shared/data/README.md);
// tests and benchmarks that read it skip when it is absent, as in a fresh
// clone.
const sharedData = "../../../../shared/data"

func requireShared(tb testing.TB, rel string) string {
	tb.Helper()
	p := filepath.Join(sharedData, rel)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("shared corpus file %s absent (%v): corpus-wide test skipped", rel, err)
	}
	return p
}

// openGoDB imports the full Go export into a temporary database.
func openGoDB(tb testing.TB) (*osv.DB, string) {
	tb.Helper()
	goZip := requireShared(tb, "osv/Go/all.zip")
	dir := tb.TempDir()
	if _, err := osv.Import(context.Background(), dir, []string{goZip}, nil); err != nil {
		tb.Fatalf("import %s: %v", goZip, err)
	}
	db, err := osv.Open(dir)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db, goZip
}

// TestMatchGoCorpus matches against the real Go database: the records the
// matcher tests pin down must come back through osv.DB as through the fake.
func TestMatchGoCorpus(t *testing.T) {
	db, _ := openGoDB(t)
	pkgs := []inventory.Package{
		goPkg("stdlib", "1.21.1", "/usr/bin/dockerd"),
		goPkg("golang.org/x/net", "0.16.0", "/usr/bin/dockerd"),
		goPkg("github.com/gorilla/sessions", "1.2.1", "/usr/bin/dockerd"),
	}
	fs, err := Match(context.Background(), db, pkgs)
	if err != nil {
		t.Fatal(err)
	}
	got := make(map[string]bool)
	for _, f := range fs {
		got[f.Target.Package.Name+" "+f.Advisory.ID] = true
		if f.Advisory.ID == "GO-2024-2730" {
			t.Errorf("withdrawn GO-2024-2730 reported")
		}
	}
	for _, want := range []string{
		"stdlib GO-2023-2102",           // fixed 1.21.3
		"golang.org/x/net GO-2023-2102", // fixed 0.17.0
		"golang.org/x/net GO-2024-2687", // HTTP/2 CONTINUATION flood, fixed 0.23.0
	} {
		if !got[want] {
			t.Errorf("finding %q missing; got %d findings", want, len(fs))
		}
	}
	// GO-2022-0969 is fixed in x/net 0.0.0-20220906165146-f3363e06e74c and
	// in Go 1.19.1: neither version here is affected.
	for _, notWant := range []string{"stdlib GO-2022-0969", "golang.org/x/net GO-2022-0969"} {
		if got[notWant] {
			t.Errorf("unexpected finding %q", notWant)
		}
	}
}

// goBenchPackages returns n Go packages: stdlib at an old release, half
// the rest named by the export's records at version 0.0.1 (mostly
// affected), half modules the database does not know.
func goBenchPackages(tb testing.TB, goZip string, n int) []inventory.Package {
	zr, err := zip.OpenReader(goZip)
	if err != nil {
		tb.Fatal(err)
	}
	defer zr.Close()
	seen := make(map[string]bool)
	var names []string
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			tb.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			tb.Fatal(err)
		}
		v, err := osv.DecodeJSON(b)
		if err != nil {
			continue
		}
		for _, a := range v.Affected {
			if n := a.Package.Name; !seen[n] && n != "stdlib" && n != "toolchain" {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	slices.Sort(names)
	pkgs := []inventory.Package{goPkg("stdlib", "1.20.1", "/usr/bin/app")}
	step := max(1, len(names)/(n/2))
	for i := 0; i < len(names) && len(pkgs) < n/2; i += step {
		pkgs = append(pkgs, goPkg(names[i], "0.0.1", "/usr/bin/app"))
	}
	for i := 0; len(pkgs) < n; i++ {
		pkgs = append(pkgs, goPkg(fmt.Sprintf("example.com/org%d/module%d", i%37, i), "1.2.3", "/usr/bin/app"))
	}
	return pkgs
}

// BenchmarkMatchGo1000 matches 1,000 Go packages against the full Go
// database (already open: the warm case).
func BenchmarkMatchGo1000(b *testing.B) {
	db, goZip := openGoDB(b)
	pkgs := goBenchPackages(b, goZip, 1000)
	var nf int
	for b.Loop() {
		fs, err := Match(context.Background(), db, pkgs)
		if err != nil {
			b.Fatal(err)
		}
		nf = len(fs)
	}
	b.ReportMetric(float64(nf), "findings/op")
	b.ReportMetric(float64(len(pkgs)), "packages/op")
}
