// Package hashcache computes SHA-256 digests of executables and remembers
// them by file identity, so each distinct binary is hashed once per run,
// and, when the cache is kept in a data directory, once across runs.
//
// An entry is keyed by what fstat says of the open file: device, inode,
// size, modification time and change time. The change time is part of the
// key because, unlike mtime, no unprivileged call can set it back: a binary
// rewritten in place and "touched" to its old mtime still misses.
//
// The cache file is a compact binary format (see encode) written
// atomically through a temporary file and a rename. A missing, truncated
// or corrupt file is ignored with a warning; the cache is only ever an
// optimisation.
package hashcache

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
)

const (
	// DefaultMaxEntries bounds the number of digests kept.
	DefaultMaxEntries = 20000
	// MaxFileSize is the largest file hashed; larger files get no digest.
	MaxFileSize = 512 << 20
	// FileName is the cache file, relative to the data directory.
	FileName = "cache/exe-sha256.bin"
)

// Key identifies one version of one file.
type Key struct {
	Dev   uint64
	Ino   uint64
	Size  int64
	Mtime int64 // nanoseconds since the epoch
	Ctime int64 // nanoseconds since the epoch
}

// KeyOf returns the cache key of a file's stat result.
func KeyOf(st *syscall.Stat_t) Key {
	return Key{
		Dev:   st.Dev,
		Ino:   st.Ino,
		Size:  st.Size,
		Mtime: st.Mtim.Nano(),
		Ctime: st.Ctim.Nano(),
	}
}

type entry struct {
	sum  [sha256.Size]byte
	used uint64 // value of Cache.clock at the last lookup
}

// Options configure a Cache. The zero value is valid.
type Options struct {
	// MaxEntries bounds the cache; 0 means DefaultMaxEntries.
	MaxEntries int
	// Logger receives the warning about an unreadable cache file;
	// nil means slog.Default().
	Logger *slog.Logger
	// Hash computes a digest; nil means SHA-256. Tests count calls.
	Hash func(io.Reader) ([sha256.Size]byte, error)
}

// Cache maps file identities to SHA-256 digests. It is safe for
// concurrent use.
type Cache struct {
	path   string
	max    int
	logger *slog.Logger
	hashFn func(io.Reader) ([sha256.Size]byte, error)

	mu       sync.Mutex
	entries  map[Key]entry
	inflight map[Key]*call // files being hashed, so each is hashed once
	clock    uint64
	dirty    bool
}

// call is one hash in progress; done is closed when sum is set.
type call struct {
	done chan struct{}
	sum  [sha256.Size]byte
	ok   bool // the hash succeeded and the file did not change
}

// Open returns a cache kept in dataDir (FileName below it), loading what
// an earlier run saved. With dataDir "" the cache lives in memory only.
// Open never fails: an unreadable cache file means an empty cache.
func Open(dataDir string, opts Options) *Cache {
	c := &Cache{
		max:      opts.MaxEntries,
		logger:   opts.Logger,
		hashFn:   opts.Hash,
		entries:  make(map[Key]entry),
		inflight: make(map[Key]*call),
	}
	if c.max <= 0 {
		c.max = DefaultMaxEntries
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	if c.hashFn == nil {
		c.hashFn = sha256Sum
	}
	if dataDir == "" {
		return c
	}
	c.path = filepath.Join(dataDir, FileName)
	b, err := readLimited(c.path, int64(encodedSize(2*c.max)))
	switch {
	case errors.Is(err, os.ErrNotExist):
		return c
	case err != nil:
		c.logger.Warn("ignoring exe hash cache", "path", c.path, "error", err)
		return c
	}
	clock, entries, err := decode(b)
	if err != nil {
		c.logger.Warn("ignoring exe hash cache", "path", c.path, "error", err)
		return c
	}
	c.clock, c.entries = clock, entries
	if len(c.entries) > c.max {
		c.evict(c.max)
	}
	return c
}

func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("cache file is %d bytes, more than %d", st.Size(), limit)
	}
	b := make([]byte, st.Size())
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, fmt.Errorf("read cache: %w", err)
	}
	return b, nil
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 128<<10); return &b }}

func sha256Sum(r io.Reader) ([sha256.Size]byte, error) {
	h := sha256.New()
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	var sum [sha256.Size]byte
	if _, err := io.CopyBuffer(h, r, *bp); err != nil {
		return sum, err
	}
	h.Sum(sum[:0])
	return sum, nil
}

// Sum returns the hex SHA-256 digest of the open regular file f, from the
// cache when f's identity is known. It returns "" and no error for files
// it does not hash: not regular, or larger than MaxFileSize. f is read
// from its start (with ReadAt), so its offset does not matter.
func (c *Cache) Sum(f *os.File) (string, error) {
	st, err := fstat(f)
	if err != nil {
		return "", err
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG || st.Size > MaxFileSize {
		return "", nil
	}
	key := KeyOf(st)
	c.mu.Lock()
	if e, ok := c.entries[key]; ok {
		c.clock++
		e.used = c.clock
		c.entries[key] = e
		c.dirty = true
		c.mu.Unlock()
		return hex.EncodeToString(e.sum[:]), nil
	}
	if cl, ok := c.inflight[key]; ok {
		// Another goroutine is hashing the same file: wait for it.
		c.mu.Unlock()
		<-cl.done
		if cl.ok {
			return hex.EncodeToString(cl.sum[:]), nil
		}
		sum, _, err := c.hash(f, st, key) // it failed; try on our own
		if err != nil {
			return "", err
		}
		return hex.EncodeToString(sum[:]), nil
	}
	cl := &call{done: make(chan struct{})}
	c.inflight[key] = cl
	c.mu.Unlock()

	sum, stored, err := c.hash(f, st, key)
	c.mu.Lock()
	delete(c.inflight, key)
	c.mu.Unlock()
	if stored {
		cl.sum, cl.ok = sum, true
	}
	close(cl.done)
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(sum[:]), nil
}

// hash reads f and remembers its digest unless f changed meanwhile.
func (c *Cache) hash(f *os.File, st *syscall.Stat_t, key Key) (sum [sha256.Size]byte, stored bool, err error) {
	sum, err = c.hashFn(io.NewSectionReader(f, 0, st.Size))
	if err != nil {
		return sum, false, fmt.Errorf("hash: %w", err)
	}
	// A file written while it was read has no single digest: report
	// what was read but do not remember it.
	if st2, err := fstat(f); err != nil || KeyOf(st2) != key {
		return sum, false, nil
	}
	c.mu.Lock()
	if len(c.entries) >= c.max {
		c.evict(c.max * 9 / 10)
	}
	c.clock++
	c.entries[key] = entry{sum: sum, used: c.clock}
	c.dirty = true
	c.mu.Unlock()
	return sum, true, nil
}

func fstat(f *os.File) (*syscall.Stat_t, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil, fmt.Errorf("stat %q: no unix stat", f.Name())
	}
	return st, nil
}

// evict drops the least recently used entries until n are left. c.mu
// must be held.
func (c *Cache) evict(n int) {
	if len(c.entries) <= n {
		return
	}
	c.dirty = true
	if n <= 0 {
		clear(c.entries)
		return
	}
	used := make([]uint64, 0, len(c.entries))
	for _, e := range c.entries {
		used = append(used, e.used)
	}
	slices.Sort(used)
	cut := used[len(used)-n] // keep entries used at or after cut
	for k, e := range c.entries {
		if len(c.entries) <= n {
			break
		}
		if e.used < cut {
			delete(c.entries, k)
		}
	}
}

// Len returns the number of cached digests.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// Save writes the cache to its file when it changed since Open. It does
// nothing for a memory-only cache. The write is atomic: readers see the
// old file or the new one, never a mix. An error (a read-only data
// directory) leaves the in-memory cache intact.
func (c *Cache) Save() error {
	c.mu.Lock()
	if c.path == "" || !c.dirty {
		c.mu.Unlock()
		return nil
	}
	b := encode(c.clock, c.entries)
	c.dirty = false
	c.mu.Unlock()

	if err := writeAtomic(c.path, b); err != nil {
		c.mu.Lock()
		c.dirty = true
		c.mu.Unlock()
		return err
	}
	return nil
}

func writeAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create cache directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".exe-sha256-*.tmp")
	if err != nil {
		return fmt.Errorf("create cache file: %w", err)
	}
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write cache file: %w", err)
	}
	return nil
}
