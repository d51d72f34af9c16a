package osv

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ErrLocked is returned (wrapped) when another process is writing the
// database.
var ErrLocked = errors.New("another import or update holds the database lock")

// txn is one write: a new generation built in a temporary directory under
// the writer lock, then swapped in by Commit.
type txn struct {
	dataDir string
	lock    *os.File
	tmp     string // the generation being built
	old     *DB    // the live generation, or nil
	done    bool
}

func begin(dataDir string) (*txn, error) {
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	lf, err := os.OpenFile(filepath.Join(dataDir, lockName), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := unix.Flock(int(lf.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		lf.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dataDir, lockName), ErrLocked)
		}
		return nil, fmt.Errorf("lock %s: %w", lockName, err)
	}
	t := &txn{dataDir: dataDir, lock: lf}
	// Record who holds the lock, for people looking at a stuck import.
	if err := lf.Truncate(0); err == nil {
		lf.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	old, err := Open(dataDir)
	switch {
	case err == nil:
		t.old = old
	case !errors.Is(err, ErrNoDatabase):
		// A database we cannot read is replaced, not merged.
		t.old = nil
	}
	if err := t.removeStale(); err != nil {
		t.Abort()
		return nil, err
	}
	if t.tmp, err = os.MkdirTemp(dataDir, tmpPrefix); err != nil {
		t.Abort()
		return nil, fmt.Errorf("create temporary generation: %w", err)
	}
	if err := os.Chmod(t.tmp, 0o755); err != nil { // readable like the data dir
		t.Abort()
		return nil, err
	}
	return t, nil
}

// removeStale removes what crashed writers left: temporary generations,
// a temporary link, and generations that are no longer live.
func (t *txn) removeStale() error {
	ents, err := os.ReadDir(t.dataDir)
	if err != nil {
		return fmt.Errorf("read data directory: %w", err)
	}
	live := ""
	if t.old != nil {
		live = filepath.Base(t.old.dir)
	} else if target, err := os.Readlink(filepath.Join(t.dataDir, DirName)); err == nil {
		live = target // unreadable generation: leave it until replaced
	}
	for _, e := range ents {
		n := e.Name()
		if n == live || !(strings.HasPrefix(n, tmpPrefix) || strings.HasPrefix(n, genPrefix) || n == linkTmpName) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(t.dataDir, n)); err != nil {
			return fmt.Errorf("remove stale %s: %w", n, err)
		}
	}
	return nil
}

// create writes a file of the new generation through fn and fsyncs it.
func (t *txn) create(name string, fn func(io.Writer) error) error {
	f, err := os.OpenFile(filepath.Join(t.tmp, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if err := fn(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", name, err)
	}
	return f.Close()
}

// keep carries a file of the live generation into the new one, by a hard
// link where the filesystem allows (generations share a directory) and
// by a copy otherwise.
func (t *txn) keep(name string) error {
	src := filepath.Join(t.old.dir, name)
	if err := os.Link(src, filepath.Join(t.tmp, name)); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return t.create(name, func(w io.Writer) error { _, err := io.Copy(w, in); return err })
}

// commit makes the new generation live: fsync its directory, rename it to
// its final name, point a new symlink at it and rename that over the
// live link (atomic), fsync the data directory, then remove the old
// generation.
func (t *txn) commit() error {
	if err := syncDir(t.tmp); err != nil {
		return err
	}
	gen := genPrefix + strconv.FormatInt(time.Now().UnixNano(), 10)
	if err := os.Rename(t.tmp, filepath.Join(t.dataDir, gen)); err != nil {
		return fmt.Errorf("rename generation: %w", err)
	}
	t.tmp = filepath.Join(t.dataDir, gen)
	linkTmp := filepath.Join(t.dataDir, linkTmpName)
	os.Remove(linkTmp)
	if err := os.Symlink(gen, linkTmp); err != nil {
		return fmt.Errorf("create link: %w", err)
	}
	if testHookBeforeSwap != nil {
		testHookBeforeSwap()
	}
	if err := os.Rename(linkTmp, filepath.Join(t.dataDir, DirName)); err != nil {
		os.Remove(linkTmp)
		return fmt.Errorf("swap database: %w", err)
	}
	t.done = true
	if err := syncDir(t.dataDir); err != nil {
		return err
	}
	if t.old != nil {
		oldDir := t.old.dir
		t.old.Close()
		t.old = nil
		os.RemoveAll(oldDir) // readers that opened it keep their mappings
	}
	return nil
}

// Abort removes the unfinished generation (unless committed) and
// releases the lock. It is safe to call after commit.
func (t *txn) Abort() {
	if !t.done && t.tmp != "" {
		os.RemoveAll(t.tmp)
	}
	if t.old != nil {
		t.old.Close()
	}
	t.lock.Close() // releases the flock
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// testHookBeforeSwap, when set by a test, runs after the new generation
// is complete and just before the live link is swapped.
var testHookBeforeSwap func()
