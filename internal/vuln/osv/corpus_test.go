package osv

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/plugin"
)

// sharedData is the shared test corpus (see /work/shared/data/README.md);
// tests and benchmarks that read it skip when it is absent, as in a
// fresh clone.
const sharedData = "../../../../shared/data"

func requireShared(tb testing.TB, rel string) string {
	tb.Helper()
	p := filepath.Join(sharedData, rel)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("shared corpus file %s absent (%v): corpus-wide test skipped", rel, err)
	}
	return p
}

// TestImportCorpus imports the full Go export and the PyPI YAML zip and
// checks every record is indexed and well-known packages are found.
func TestImportCorpus(t *testing.T) {
	goZip := requireShared(t, "osv/Go/all.zip")
	pypiZip := requireShared(t, "osv/PyPI/pypa-advisories-yaml.zip")
	dir := t.TempDir()

	start := time.Now()
	rep, err := Import(context.Background(), dir, []string{goZip}, nil)
	if err != nil {
		t.Fatalf("Import(Go): %v", err)
	}
	t.Logf("Go all.zip: %d records, %d skipped, %d unindexed in %v", rep.Records, rep.Skipped, rep.Unindexed, time.Since(start))
	if rep.Records+rep.Unindexed != 4291 || rep.Skipped != 0 {
		t.Errorf("Go import: records %d + unindexed %d, skipped %d; want 4291 records, none skipped", rep.Records, rep.Unindexed, rep.Skipped)
	}

	start = time.Now()
	rep, err = Import(context.Background(), dir, []string{pypiZip}, nil)
	var pe *plugin.PartialError
	if err != nil && !errors.As(err, &pe) {
		t.Fatalf("Import(PyPI): %v", err)
	}
	t.Logf("PyPI YAML zip: %d records, %d skipped, %d unindexed in %v (problems: %v)", rep.Records, rep.Skipped, rep.Unindexed, time.Since(start), err)
	if rep.Records+rep.Unindexed+rep.Skipped != 2661 {
		t.Errorf("PyPI import: %d records + %d unindexed + %d skipped, want the 2661 YAML files accounted for", rep.Records, rep.Unindexed, rep.Skipped)
	}

	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st := db.Status()
	for _, e := range st.Ecosystems {
		t.Logf("status: %+v", e)
	}
	for _, c := range []struct{ eco, name, id string }{
		{"Go", "stdlib", "GO-2022-0969"},
		{"Go", "github.com/coder/coder/v2", "GO-2024-3228"},
		{"PyPI", "oslo.middleware", "PYSEC-2018-104"},
		{"PyPI", "zstd", "PYSEC-2023-121"},
	} {
		vs, err := db.Lookup(c.eco, c.name)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, v := range vs {
			found = found || v.ID == c.id
		}
		if !found {
			t.Errorf("Lookup(%q, %q): %d records, none is %s", c.eco, c.name, len(vs), c.id)
		}
	}
}
