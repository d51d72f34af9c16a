package hashcache

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// counter is a Hash seam that counts its calls.
type counter struct{ n atomic.Int64 }

func (c *counter) hash(r io.Reader) ([sha256.Size]byte, error) {
	c.n.Add(1)
	return sha256Sum(r)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
}

func sumPath(t *testing.T, c *Cache, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := c.Sum(f)
	if err != nil {
		t.Fatalf("Sum(%q): %v", path, err)
	}
	return s
}

func want(content string) string {
	s := sha256.Sum256([]byte(content))
	return hex.EncodeToString(s[:])
}

func TestSumMatchesSHA256(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "bin")
	content := strings.Repeat("\x7fELF binary bytes ", 20000) // spans several read buffers
	writeFile(t, p, content)
	c := Open("", Options{})
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Seek(1000, io.SeekStart); err != nil { // the offset must not matter
		t.Fatal(err)
	}
	got, err := c.Sum(f)
	if err != nil {
		t.Fatal(err)
	}
	if got != want(content) {
		t.Errorf("Sum() = %s, want %s", got, want(content))
	}
}

func TestSumCachesByIdentity(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "bin")
	writeFile(t, p, "version 1")
	var cnt counter
	c := Open("", Options{Hash: cnt.hash})

	steps := []struct {
		name      string
		change    func()
		wantSum   string
		wantCalls int64
	}{
		{name: "first_sum_hashes", change: func() {}, wantSum: want("version 1"), wantCalls: 1},
		{name: "second_sum_is_cached", change: func() {}, wantSum: want("version 1"), wantCalls: 1},
		{
			name:      "rewrite_in_place_rehashes",
			change:    func() { writeFile(t, p, "version 2") },
			wantSum:   want("version 2"),
			wantCalls: 2,
		},
		{
			// Same size, mtime reset to its old value: only ctime
			// tells the file changed.
			name: "touched_back_mtime_rehashes",
			change: func() {
				st, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				writeFile(t, p, "version 3")
				if err := os.Chtimes(p, time.Time{}, st.ModTime()); err != nil {
					t.Fatal(err)
				}
			},
			wantSum:   want("version 3"),
			wantCalls: 3,
		},
		{
			name: "replaced_by_rename_rehashes",
			change: func() {
				writeFile(t, p+".new", "version 4")
				if err := os.Rename(p+".new", p); err != nil {
					t.Fatal(err)
				}
			},
			wantSum:   want("version 4"),
			wantCalls: 4,
		},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			s.change()
			if got := sumPath(t, c, p); got != s.wantSum {
				t.Errorf("Sum() = %s, want %s", got, s.wantSum)
			}
			if got := cnt.n.Load(); got != s.wantCalls {
				t.Errorf("hash calls = %d, want %d", got, s.wantCalls)
			}
		})
	}
}

func TestSaveAndReopenIsWarm(t *testing.T) {
	dataDir := t.TempDir()
	bins := t.TempDir()
	var paths []string
	for i := range 5 {
		p := filepath.Join(bins, fmt.Sprintf("bin%d", i))
		writeFile(t, p, fmt.Sprintf("binary %d", i))
		paths = append(paths, p)
	}
	var cold counter
	c := Open(dataDir, Options{Hash: cold.hash})
	for _, p := range paths {
		sumPath(t, c, p)
	}
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	if cold.n.Load() != 5 {
		t.Fatalf("cold run hashed %d times, want 5", cold.n.Load())
	}
	ents, err := os.ReadDir(filepath.Join(dataDir, "cache"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != filepath.Base(FileName) {
		t.Errorf("cache directory holds %v, want only %s (no temporary files)", ents, FileName)
	}

	var warm counter
	c2 := Open(dataDir, Options{Hash: warm.hash})
	if c2.Len() != 5 {
		t.Errorf("reopened cache has %d entries, want 5", c2.Len())
	}
	for i, p := range paths {
		if got := sumPath(t, c2, p); got != want(fmt.Sprintf("binary %d", i)) {
			t.Errorf("warm Sum(%s) = %s", p, got)
		}
	}
	if warm.n.Load() != 0 {
		t.Errorf("warm run hashed %d times, want 0", warm.n.Load())
	}
}

func TestCorruptCacheFile(t *testing.T) {
	// A valid file to damage.
	valid := encode(3, map[Key]entry{{Dev: 1, Ino: 2, Size: 3}: {used: 3}})
	tests := []struct {
		name    string
		content []byte
		wantLog string
	}{
		{name: "empty", content: nil, wantLog: "bad header"},
		{name: "garbage", content: []byte("{\"not\": \"a cache\"}\n"), wantLog: "bad header"},
		{name: "truncated", content: valid[:len(valid)-10], wantLog: "checksum mismatch"},
		{name: "bit_flip", content: flip(valid, headerSize+5), wantLog: "checksum mismatch"},
		{name: "wrong_count", content: withCRC(setByte(valid[:len(valid)-crcSize], len(magic)+8, 9)), wantLog: "9 entries"},
		{name: "used_after_clock", content: encode(1, map[Key]entry{{Ino: 1}: {used: 5}}), wantLog: "after clock"},
		{name: "too_large", content: make([]byte, encodedSize(2*DefaultMaxEntries)+1), wantLog: "more than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dataDir := t.TempDir()
			path := filepath.Join(dataDir, FileName)
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, tc.content, 0o600); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			c := Open(dataDir, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if c.Len() != 0 {
				t.Errorf("corrupt cache loaded %d entries", c.Len())
			}
			if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), tc.wantLog) {
				t.Errorf("log = %q, want a warning containing %q", logs.String(), tc.wantLog)
			}
			// The cache still works and Save replaces the bad file.
			bin := filepath.Join(t.TempDir(), "bin")
			writeFile(t, bin, "x")
			if got := sumPath(t, c, bin); got != want("x") {
				t.Errorf("Sum() = %s", got)
			}
			if err := c.Save(); err != nil {
				t.Fatal(err)
			}
			logs.Reset()
			if c2 := Open(dataDir, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))}); c2.Len() != 1 || logs.Len() != 0 {
				t.Errorf("after Save: %d entries, log %q; want 1 entry, no log", c2.Len(), logs.String())
			}
		})
	}
}

func flip(b []byte, i int) []byte {
	b = bytes.Clone(b)
	b[i] ^= 0x40
	return b
}

func setByte(b []byte, i int, v byte) []byte {
	b = bytes.Clone(b)
	b[i] = v
	return b
}

func withCRC(body []byte) []byte { return appendCRC(bytes.Clone(body)) }

func TestUnwritableDataDirKeepsMemoryCache(t *testing.T) {
	// A data directory below a regular file cannot be created, even by
	// root (a permission test would not fail for root).
	file := filepath.Join(t.TempDir(), "file")
	writeFile(t, file, "")
	var cnt counter
	c := Open(filepath.Join(file, "data"), Options{Hash: cnt.hash})
	bin := filepath.Join(t.TempDir(), "bin")
	writeFile(t, bin, "x")
	sumPath(t, c, bin)
	if err := c.Save(); err == nil {
		t.Error("Save() into an impossible directory succeeded")
	}
	sumPath(t, c, bin)
	if cnt.n.Load() != 1 {
		t.Errorf("hash calls = %d, want 1: the memory cache must survive a failed Save", cnt.n.Load())
	}
}

func TestEvictsLeastRecentlyUsed(t *testing.T) {
	dir := t.TempDir()
	var cnt counter
	c := Open(dir, Options{MaxEntries: 10, Hash: cnt.hash})
	var paths []string
	for i := range 30 {
		p := filepath.Join(dir, fmt.Sprintf("bin%02d", i))
		writeFile(t, p, fmt.Sprint(i))
		paths = append(paths, p)
		sumPath(t, c, p)
		sumPath(t, c, paths[0]) // keep the first one hot
		if c.Len() > 10 {
			t.Fatalf("after %d files the cache holds %d entries, more than 10", i+1, c.Len())
		}
	}
	before := cnt.n.Load()
	sumPath(t, c, paths[0])
	sumPath(t, c, paths[29])
	if got := cnt.n.Load() - before; got != 0 {
		t.Errorf("recently used files hashed %d more times, want 0", got)
	}
	sumPath(t, c, paths[1])
	if got := cnt.n.Load() - before; got != 1 {
		t.Errorf("an evicted file hashed %d more times, want 1", got)
	}
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	if c2 := Open(dir, Options{MaxEntries: 5}); c2.Len() != 5 {
		t.Errorf("reopened with a smaller bound: %d entries, want 5", c2.Len())
	}
}

func TestSkipsLargeAndNonRegularFiles(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(MaxFileSize + 1); err != nil { // sparse
		t.Fatal(err)
	}
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var cnt counter
	c := Open("", Options{Hash: cnt.hash})
	for _, tc := range []struct {
		name string
		f    *os.File
	}{{"larger_than_limit", f}, {"directory", d}} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.Sum(tc.f)
			if got != "" || err != nil {
				t.Errorf("Sum() = %q, %v; want \"\", nil", got, err)
			}
		})
	}
	if cnt.n.Load() != 0 {
		t.Errorf("hash called %d times", cnt.n.Load())
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	entries := map[Key]entry{
		{Dev: 2049, Ino: 131077, Size: 43008, Mtime: 1700000000123456789, Ctime: 1700000001000000000}: {sum: sha256.Sum256([]byte("a")), used: 7},
		{Dev: 1, Ino: 1, Size: 0, Mtime: -1, Ctime: 0}:                                                {sum: sha256.Sum256([]byte("b")), used: 9},
	}
	clock, got, err := decode(encode(9, entries))
	if err != nil {
		t.Fatal(err)
	}
	if clock != 9 {
		t.Errorf("clock = %d, want 9", clock)
	}
	if diff := cmp.Diff(entries, got, cmp.AllowUnexported(entry{})); diff != "" {
		t.Errorf("round trip mismatch (-want +got):\n%s", diff)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(encode(2, map[Key]entry{{Dev: 2049, Ino: 7, Size: 10}: {used: 2}, {Ino: 8}: {used: 1}}))
	f.Add(encode(0, nil))
	f.Add([]byte(magic))
	f.Fuzz(func(t *testing.T, b []byte) {
		clock, entries, err := decode(b)
		if err != nil {
			return
		}
		// Duplicate keys collapse, so there may be fewer entries than
		// records, never more.
		if records := (len(b) - headerSize - crcSize) / entrySize; len(entries) > records {
			t.Fatalf("%d entries from %d records", len(entries), records)
		}
		clock2, entries2, err := decode(encode(clock, entries))
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if clock2 != clock || !cmp.Equal(entries, entries2, cmp.AllowUnexported(entry{})) {
			t.Fatal("encode(decode(b)) does not round-trip")
		}
	})
}

func TestConcurrentSumsHashOnce(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bin")
	writeFile(t, p, "shared binary")
	var n atomic.Int64
	c := Open("", Options{Hash: func(r io.Reader) ([sha256.Size]byte, error) {
		n.Add(1)
		time.Sleep(50 * time.Millisecond) // keep the first hash in flight
		return sha256Sum(r)
	}})
	var wg sync.WaitGroup
	sums := make([]string, 8)
	for i := range sums {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		wg.Go(func() {
			s, err := c.Sum(f)
			if err != nil {
				t.Error(err)
			}
			sums[i] = s
		})
	}
	wg.Wait()
	for i, s := range sums {
		if s != want("shared binary") {
			t.Errorf("goroutine %d: Sum() = %s", i, s)
		}
	}
	if n.Load() != 1 {
		t.Errorf("hashed %d times, want 1", n.Load())
	}
}
