package osv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// statusOf opens the database and returns its status and one lookup, to
// compare the database before and after a failed write.
func statusOf(t *testing.T, dir string) string {
	t.Helper()
	db, err := Open(dir)
	if err != nil {
		t.Fatalf("Open after failed write: %v", err)
	}
	defer db.Close()
	vs, err := db.Lookup("Go", "stdlib")
	if err != nil {
		t.Fatal(err)
	}
	st := db.Status()
	st.Dir = ""
	return fmt.Sprintf("%+v %v", st.Ecosystems, ids(vs))
}

// failingReaderAt fails every read past off.
type failingReaderAt struct {
	r   io.ReaderAt
	off int64
}

func (f failingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > f.off {
		return 0, errors.New("injected read failure")
	}
	return f.r.ReadAt(p, off)
}

// TestFailedImportKeepsOld injects a read failure halfway through an
// archive: the import fails naming the archive, the old database stays
// live and readable, nothing is left behind, and the next import works.
func TestFailedImportKeepsOld(t *testing.T) {
	src := t.TempDir()
	dir := t.TempDir()
	gz := goZip(t, src)
	if _, err := Import(context.Background(), dir, []string{gz}, nil); err != nil {
		t.Fatal(err)
	}
	before := statusOf(t, dir)
	beforeGens := generations(t, dir)

	big := writeZip(t, filepath.Join(src, "big.zip"), bigArchive(t, 3000))
	f, err := os.Open(big)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	tx, err := begin(dir)
	if err != nil {
		t.Fatal(err)
	}
	im := newImporter(nil, tx)
	err = im.run(context.Background(), func(ctx context.Context, submit func(job) bool) error {
		return im.addZip(ctx, failingReaderAt{f, fi.Size() / 2}, fi.Size(), "big.zip", big, "", submit)
	})
	tx.Abort()
	if err == nil || !strings.Contains(err.Error(), "big.zip: ") || !strings.Contains(err.Error(), "injected read failure") {
		t.Fatalf("import error = %v, want the injected failure naming big.zip", err)
	}
	if got := statusOf(t, dir); got != before {
		t.Errorf("database changed by a failed import:\nbefore %s\nafter  %s", before, got)
	}
	if diff := cmp.Diff(beforeGens, generations(t, dir)); diff != "" {
		t.Errorf("leftovers after a failed import (-want +got):\n%s", diff)
	}
	if _, err := Import(context.Background(), dir, []string{big}, nil); err != nil {
		t.Fatalf("import after a failed one: %v", err)
	}
}

// bigArchive makes n small synthetic Go records (after the fixtures'
// shape) so an import has a "middle" to fail in.
func bigArchive(t testing.TB, n int) []zipFile {
	var files []zipFile
	for i := range n {
		id := fmt.Sprintf("GO-2999-%04d", i)
		files = append(files, zipFile{id + ".json", fmt.Appendf(nil,
			`{"id":%q,"modified":"2024-01-01T00:00:00Z","aliases":["CVE-2999-%04d"],"affected":[{"package":{"ecosystem":"Go","name":"example.com/m%d"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.0.%d"}]}]}]}`,
			id, i, i%100, i)})
	}
	return files
}

const crashEnv = "VIGIL_OSV_CRASH_TEST"

// crashHelper runs in a child process: it imports the archive named by
// the environment and exits abruptly halfway through, as a killed
// process would, leaving its temporary generation and the lock file.
func crashHelper() {
	dir, archive := os.Getenv(crashEnv), os.Getenv(crashEnv+"_ARCHIVE")
	testHookRecord = func(n int) {
		if n == 1500 {
			os.Exit(3)
		}
	}
	_, err := Import(context.Background(), dir, []string{archive}, nil)
	fmt.Fprintln(os.Stderr, "import did not crash:", err)
	os.Exit(4)
}

// TestCrashMidImport kills a real import process in the middle: the old
// database stays readable, and the next writer cleans up and succeeds.
func TestCrashMidImport(t *testing.T) {
	src := t.TempDir()
	dir := t.TempDir()
	if _, err := Import(context.Background(), dir, []string{goZip(t, src)}, nil); err != nil {
		t.Fatal(err)
	}
	before := statusOf(t, dir)
	big := writeZip(t, filepath.Join(src, "big.zip"), bigArchive(t, 3000))

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashEnv+"="+dir, crashEnv+"_ARCHIVE="+big)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("child: %v, want exit status 3; output:\n%s", err, out)
	}
	var stale []string
	for _, g := range generations(t, dir) {
		if strings.HasPrefix(g, tmpPrefix) {
			stale = append(stale, g)
		}
	}
	if len(stale) == 0 {
		t.Errorf("the crashed import left no temporary generation: %v", generations(t, dir))
	}
	if got := statusOf(t, dir); got != before {
		t.Errorf("database changed by a crashed import:\nbefore %s\nafter  %s", before, got)
	}
	rep, err := Import(context.Background(), dir, []string{big}, nil)
	if err != nil {
		t.Fatalf("import after a crash: %v", err)
	}
	if rep.Records != 3000 {
		t.Errorf("import after a crash: %d records, want 3000", rep.Records)
	}
	if gens := generations(t, dir); len(gens) != 1 || !strings.HasPrefix(gens[0], genPrefix) {
		t.Errorf("after recovery the data dir holds %v, want one generation", gens)
	}
}

// TestCrashBeforeSwap fails after the new generation is complete but
// before the swap: the old database stays live.
func TestCrashBeforeSwap(t *testing.T) {
	src := t.TempDir()
	dir := t.TempDir()
	if _, err := Import(context.Background(), dir, []string{goZip(t, src)}, nil); err != nil {
		t.Fatal(err)
	}
	before := statusOf(t, dir)
	testHookBeforeSwap = func() { panic("crash before swap") }
	func() {
		defer func() {
			testHookBeforeSwap = nil
			if recover() == nil {
				t.Fatal("the hook did not run")
			}
		}()
		Import(context.Background(), dir, []string{writeZip(t, filepath.Join(src, "big.zip"), bigArchive(t, 10))}, nil)
	}()
	if got := statusOf(t, dir); got != before {
		t.Errorf("database changed before the swap:\nbefore %s\nafter  %s", before, got)
	}
	if _, err := Import(context.Background(), dir, []string{kevFixture}, nil); err != nil {
		t.Fatalf("import after the crash: %v", err)
	}
	if gens := generations(t, dir); len(gens) != 1 {
		t.Errorf("after recovery the data dir holds %v, want one generation", gens)
	}
}

func TestConcurrentWriterLocked(t *testing.T) {
	dir := t.TempDir()
	tx, err := begin(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Import(context.Background(), dir, []string{kevFixture}, nil)
	if !errors.Is(err, ErrLocked) {
		t.Errorf("Import while another writer holds the lock: %v, want ErrLocked", err)
	}
	tx.Abort()
	if _, err := Import(context.Background(), dir, []string{kevFixture}, nil); err != nil {
		t.Errorf("Import after the lock is released: %v", err)
	}
}

// TestReaderSurvivesSwap keeps a database open across an import that
// replaces and removes its generation.
func TestReaderSurvivesSwap(t *testing.T) {
	src := t.TempDir()
	dir := t.TempDir()
	if _, err := Import(context.Background(), dir, []string{goZip(t, src)}, nil); err != nil {
		t.Fatal(err)
	}
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := Import(context.Background(), dir, []string{kevFixture, epssFixture}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(db.dir); !os.IsNotExist(err) {
		t.Fatalf("old generation %s still present: %v", db.dir, err)
	}
	vs, err := db.Lookup("Go", "stdlib")
	if err != nil || len(vs) != 5 {
		t.Errorf("Lookup on the replaced generation: %d records, %v", len(vs), err)
	}
}

func TestMergeImports(t *testing.T) {
	src := t.TempDir()
	dir := t.TempDir()
	if _, err := Import(context.Background(), dir, []string{goZip(t, src)}, nil); err != nil {
		t.Fatal(err)
	}
	// A newer GO-2023-2153 that moved to another package, and a new record.
	recDir := filepath.Join(src, "records", "nested")
	os.MkdirAll(recDir, 0o755)
	os.WriteFile(filepath.Join(recDir, "GO-2023-2153.json"), []byte(`{"id":"GO-2023-2153","modified":"2025-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Go","name":"google.golang.org/grpc/v2"}}]}`), 0o644)
	os.WriteFile(filepath.Join(src, "records", "NEW-1.yaml"), []byte("id: NEW-1\naffected:\n- package: {ecosystem: Go, name: stdlib}\n"), 0o644)
	os.WriteFile(filepath.Join(src, "records", "notes.txt"), []byte("not a record"), 0o644)
	os.Symlink("/etc/passwd", filepath.Join(src, "records", "link.json")) // not followed
	rep, err := Import(context.Background(), dir, []string{filepath.Join(src, "records")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Records != 2 {
		t.Errorf("imported %d records, want 2", rep.Records)
	}
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, tc := range []struct {
		name string
		want []string
	}{
		{"google.golang.org/grpc", nil},
		{"google.golang.org/grpc/v2", []string{"GO-2023-2153"}},
		{"stdlib", []string{"GO-2021-0067", "GO-2022-0535", "GO-2022-0969", "GO-2023-2102", "GO-2024-2687", "NEW-1"}},
		{"github.com/docker/docker", []string{"GO-2022-0390"}},
	} {
		got, err := db.Lookup("Go", tc.name)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, ids(got)); diff != "" {
			t.Errorf("Lookup(Go, %q) (-want +got):\n%s", tc.name, diff)
		}
	}
	if st := db.Status(); len(st.Ecosystems) != 1 || st.Ecosystems[0].Records != 12 || len(st.Ecosystems[0].Sources) != 2 {
		t.Errorf("status after merge: %+v", st.Ecosystems)
	}
}

func TestImportLimits(t *testing.T) {
	src := t.TempDir()
	zeros := make([]byte, 8<<20) // compresses to a few kB: a small zip bomb
	bomb := writeZip(t, filepath.Join(src, "bomb.zip"), append(bigArchive(t, 3), zipFile{"GO-2999-9999.json", zeros}))
	many := writeZip(t, filepath.Join(src, "many.zip"), bigArchive(t, 50))
	for _, tc := range []struct {
		name     string
		path     string
		lim      Limits
		fatal    string
		problems string
	}{
		{name: "record_too_large", path: bomb, lim: Limits{MaxRecordSize: 1 << 20}, problems: "bomb.zip: GO-2999-9999.json: record too large: more than 1048576 bytes"},
		{name: "total_too_large", path: many, lim: Limits{MaxTotalSize: 5000}, fatal: "import larger than 5000 bytes"},
		{name: "too_many_entries", path: many, lim: Limits{MaxZipEntries: 10}, fatal: "many.zip: more than 10 entries"},
		{name: "not_a_zip", path: kevFixture + ".zip", fatal: "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := Import(context.Background(), dir, []string{tc.path}, &Options{Limits: tc.lim})
			switch {
			case tc.fatal != "":
				if err == nil || !strings.Contains(err.Error(), tc.fatal) {
					t.Fatalf("error = %v, want %q", err, tc.fatal)
				}
				if _, err := Open(dir); !errors.Is(err, ErrNoDatabase) {
					t.Errorf("a failed first import left a database: %v", err)
				}
			default:
				if err == nil || err.Error() != tc.problems {
					t.Fatalf("error = %v, want %q", err, tc.problems)
				}
			}
		})
	}
}

func TestImportNotAZip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "all.zip")
	os.WriteFile(p, []byte("not a zip"), 0o644)
	_, err := Import(context.Background(), t.TempDir(), []string{p}, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "all.zip: zip: not a valid zip file") {
		t.Errorf("error = %v", err)
	}
}
