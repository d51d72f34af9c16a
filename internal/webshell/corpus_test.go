package webshell

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// corpusDir holds the shared webshell corpora on development machines; the
// test skips where it is absent (fresh clones, CI without the data).
const corpusDir = "/work/shared/data/webshell/msdetector/train"

// TestCorpusFloors guards against regressions on the msdetector corpus. The
// full figures (and the other corpora) come from `go run ./bench/webshell`.
func TestCorpusFloors(t *testing.T) {
	if testing.Short() {
		t.Skip("corpus test skipped in -short mode")
	}
	if _, err := os.Stat(corpusDir); err != nil {
		t.Skipf("corpus %s not present: %v", corpusDir, err)
	}
	rate := func(dir string) (hits, n int) {
		ents, err := os.ReadDir(filepath.Join(corpusDir, dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(corpusDir, dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if len(b) == 0 {
				continue
			}
			n++
			if Analyze(b).Webshell() {
				hits++
			}
		}
		return hits, n
	}
	if hits, n := rate("webshell"); float64(hits) < 0.95*float64(n) {
		t.Errorf("recall %d/%d below the 95%% floor", hits, n)
	}
	if hits, n := rate("normal"); float64(hits) > 0.005*float64(n) {
		t.Errorf("false positives %d/%d above 0.5%%", hits, n)
	}
}

// BenchmarkCorpus measures Analyze over every file of the shared corpora
// (shells and benign code mixed as stored). Run it with GOMAXPROCS=1 for the
// per-core figure:
//
//	GOMAXPROCS=1 go test -run '^$' -bench Corpus ./internal/webshell/
func BenchmarkCorpus(b *testing.B) {
	root := filepath.Dir(filepath.Dir(corpusDir))
	if _, err := os.Stat(root); err != nil {
		b.Skipf("corpus %s not present: %v", root, err)
	}
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
		files = append(files, data)
		total += int64(len(data))
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(total)
	b.ResetTimer()
	for b.Loop() {
		for _, f := range files {
			Analyze(f)
		}
	}
}
