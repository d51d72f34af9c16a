package osv

import (
	"archive/zip"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/tools/txtar"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(crashEnv) != "" {
		crashHelper() // the child of TestCrashMidImport; does not return
	}
	goleak.VerifyTestMain(m)
}

// zipFile is one entry of a test archive.
type zipFile struct {
	Name string
	Data []byte
}

// txtarFiles reads the records of a testdata txtar.
func txtarFiles(t testing.TB, name string) []zipFile {
	t.Helper()
	a, err := txtar.ParseFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var out []zipFile
	for _, f := range a.Files {
		out = append(out, zipFile{f.Name, f.Data})
	}
	return out
}

// writeZip writes files into a zip at path, adding directory entries
// for their folders as real exports do.
func writeZip(t testing.TB, path string, files []zipFile) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw := zip.NewWriter(f)
	var dirs []string
	for _, file := range files {
		if d := filepath.Dir(file.Name); d != "." && !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
			if _, err := zw.Create(d + "/"); err != nil {
				t.Fatal(err)
			}
		}
		w, err := zw.Create(file.Name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(file.Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// goZip writes the Go fixture records as an OSV all.zip, plus extra files.
func goZip(t testing.TB, dir string, extra ...zipFile) string {
	t.Helper()
	return writeZip(t, filepath.Join(dir, "Go", "all.zip"), append(txtarFiles(t, "go-records.txtar"), extra...))
}

const (
	kevFixture  = "../kev/testdata/known_exploited_vulnerabilities.json"
	epssFixture = "../epss/testdata/epss_scores.csv"
)

func ids(vs []Vulnerability) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.ID)
	}
	return out
}

// generations lists the vulndb.* entries of a data directory.
func generations(t testing.TB, dataDir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if e.Name() != DirName && e.Name() != lockName {
			out = append(out, e.Name())
		}
	}
	return out
}
