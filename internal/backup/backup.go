// Package backup keeps protected, versioned copies of important
// directories so that files damaged by ransomware can be put back byte for
// byte.
//
// Layout under the store's directory (0700, files 0600, owned by root):
//
//	blobs/<sha256>     zstd-compressed file content, named by the SHA-256 of the
//	                   uncompressed content, so equal files are stored once
//	manifests/<id>.json one per backup: path, mode, owner, mtime, size, hash
//	tmp/               blobs and manifests being written
//
// Every backup is a new manifest; nothing is overwritten, so a file that
// ransomware encrypted and that was backed up afterwards only adds a newer
// version: Restore with a time before the attack returns the good one.
// Old versions are dropped only by Prune, which keeps KeepVersions versions
// of every path however old they are.
//
// Crash safety: blobs are written to tmp/ and made durable (fsync for one
// file, one syncfs for a snapshot) before they are renamed into blobs/;
// blobs/ is synced before the manifest naming them is written (tmp/,
// sync, rename, sync manifests/). A crash therefore leaves at worst
// orphan blobs and temporary files (removed by Open and Prune), never a
// manifest naming a missing or partial blob.
//
// Files are streamed through the hash and the compressor with a fixed
// buffer, so memory does not grow with file size. zstd comes from
// github.com/klauspost/compress; hashing and layout are a few lines, and no
// backup library we know keeps per-path versions this way without a
// server or a repository password the agent would have to hold.
package backup

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"
)

// Defaults.
const (
	DefaultMaxFileSize  = 256 << 20
	DefaultKeepVersions = 10
	DefaultMaxAge       = 30 * 24 * time.Hour
)

// ErrNotFound: no store, manifest or version matches what was asked.
var ErrNotFound = errors.New("no backup found")

var errReadOnly = errors.New("backup: store opened read-only")

// DirIn returns the store directory in an agent data directory.
func DirIn(dataDir string) string { return filepath.Join(dataDir, "backup") }

// Config configures a Store.
type Config struct {
	// Dir is the store directory, normally DirIn(dataDir).
	Dir string
	// MaxFileSize: larger files are skipped and counted. 0 means
	// DefaultMaxFileSize.
	MaxFileSize int64
	// KeepVersions is how many versions of each path Prune always keeps.
	// 0 means DefaultKeepVersions.
	KeepVersions int
	// MaxAge: Prune drops versions older than this beyond KeepVersions.
	// 0 means DefaultMaxAge.
	MaxAge time.Duration
	// ReadOnly opens an existing store for List, Versions and Restore
	// (as the CLI does while the agent writes it): nothing is created or
	// cleaned, and writing methods fail.
	ReadOnly bool
}

// Store is a backup store. Its methods are safe for concurrent use within
// one process; only one process should write a store.
type Store struct {
	cfg Config

	mu    sync.Mutex // serialises writers
	enc   *zstd.Encoder
	buf   []byte
	index map[string]Entry // latest entry per path, loaded on first write
}

// Stats describe one backup.
type Stats struct {
	Files       int   `json:"files"`
	Bytes       int64 `json:"bytes"`        // content read
	NewBlobs    int   `json:"new_blobs"`    // blobs written
	StoredBytes int64 `json:"stored_bytes"` // compressed bytes of the new blobs
	Unchanged   int   `json:"unchanged"`    // files not read again: same inode, size, mtime and ctime
	Skipped     int   `json:"skipped"`
}

// Open opens (creating) a store and removes leftovers of a crash.
func Open(cfg Config) (*Store, error) {
	if cfg.Dir == "" {
		return nil, errors.New("backup: no directory")
	}
	if cfg.MaxFileSize <= 0 {
		cfg.MaxFileSize = DefaultMaxFileSize
	}
	if cfg.KeepVersions <= 0 {
		cfg.KeepVersions = DefaultKeepVersions
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	abs, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	cfg.Dir = abs
	if cfg.ReadOnly {
		if _, err := os.Stat(filepath.Join(abs, "manifests")); err != nil {
			return nil, fmt.Errorf("backup: no store at %q: %w", abs, ErrNotFound)
		}
		return &Store{cfg: cfg}, nil
	}
	for _, d := range []string{cfg.Dir, filepath.Join(cfg.Dir, "blobs"), filepath.Join(cfg.Dir, "manifests"), filepath.Join(cfg.Dir, "tmp")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("backup: %w", err)
		}
		if err := os.Chmod(d, 0o700); err != nil {
			return nil, fmt.Errorf("backup: %w", err)
		}
	}
	tmp, err := os.ReadDir(filepath.Join(cfg.Dir, "tmp"))
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	for _, e := range tmp {
		os.Remove(filepath.Join(cfg.Dir, "tmp", e.Name()))
	}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1),
		zstd.WithWindowSize(1<<20))
	if err != nil {
		return nil, fmt.Errorf("backup: zstd: %w", err)
	}
	return &Store{cfg: cfg, enc: enc, buf: make([]byte, 128<<10)}, nil
}

// Dir returns the store directory.
func (s *Store) Dir() string { return s.cfg.Dir }

// Snapshot backs up every regular file under dirs and writes one manifest.
// Files that cannot be read are skipped and counted, as are files larger
// than MaxFileSize; the store's own directory is never backed up.
func (s *Store) Snapshot(ctx context.Context, dirs []string) (*Manifest, Stats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var st Stats
	if s.cfg.ReadOnly {
		return nil, st, errReadOnly
	}
	if err := s.loadIndex(); err != nil {
		return nil, st, err
	}
	m := s.newManifest(KindSnapshot)
	b := batch{}
	defer func() {
		for _, tmp := range b {
			os.Remove(tmp)
		}
	}()
	for _, d := range dirs {
		abs, err := filepath.Abs(d)
		if err != nil {
			return nil, st, fmt.Errorf("backup: %w", err)
		}
		m.Roots = append(m.Roots, abs)
		err = filepath.WalkDir(abs, func(p string, de fs.DirEntry, err error) error {
			if err != nil {
				if p == abs {
					return err
				}
				st.Skipped++
				return nil
			}
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
			if de.IsDir() {
				if p == s.cfg.Dir {
					return filepath.SkipDir
				}
				return nil
			}
			if !de.Type().IsRegular() {
				st.Skipped++
				return nil
			}
			e, ok, err := s.backupOne(p, &st, b)
			if err != nil {
				return err
			}
			if ok {
				m.Entries = append(m.Entries, e)
			}
			return nil
		})
		if err != nil {
			return nil, st, fmt.Errorf("backup: snapshot %q: %w", abs, err)
		}
	}
	m.Skipped = st.Skipped
	if err := s.commit(b); err != nil {
		return nil, st, fmt.Errorf("backup: %w", err)
	}
	if err := s.writeManifest(m); err != nil {
		return nil, st, err
	}
	for _, e := range m.Entries {
		s.index[e.Path] = e
	}
	return m, st, nil
}

// BackupFile backs up one file as a new version (a manifest of kind
// "file"). It returns ErrNotFound wrapped when the file is skipped (not
// regular or too large).
func (s *Store) BackupFile(path string) (*Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg.ReadOnly {
		return nil, errReadOnly
	}
	if err := s.loadIndex(); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	var st Stats
	e, ok, err := s.backupOne(abs, &st, nil)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("backup %q: skipped (not a regular file, unreadable or larger than %d bytes): %w", abs, s.cfg.MaxFileSize, ErrNotFound)
	}
	if prev, ok := s.index[abs]; ok && sameVersion(prev, e) {
		return &prev, nil // nothing changed: no new version
	}
	m := s.newManifest(KindFile)
	m.Entries = []Entry{e}
	if err := s.writeManifest(m); err != nil {
		return nil, err
	}
	s.index[abs] = e
	return &e, nil
}

func sameVersion(a, b Entry) bool {
	return a.Hash == b.Hash && a.Mode == b.Mode && a.UID == b.UID && a.GID == b.GID && a.MTime.Equal(b.MTime)
}

// backupOne stores one file's blob and returns its entry; ok is false when
// the file was skipped.
func (s *Store) backupOne(p string, st *Stats, b batch) (e Entry, ok bool, err error) {
	f, err := os.Open(p)
	if err != nil {
		st.Skipped++
		return e, false, nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() > s.cfg.MaxFileSize {
		st.Skipped++
		return e, false, nil
	}
	sys := fi.Sys().(*syscall.Stat_t)
	e = Entry{
		Path: p, Mode: fi.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky),
		UID: sys.Uid, GID: sys.Gid, MTime: fi.ModTime().UTC(), Size: fi.Size(),
		Dev: sys.Dev, Ino: sys.Ino, CTime: time.Unix(sys.Ctim.Sec, sys.Ctim.Nsec).UTC(),
	}
	if prev, ok := s.index[p]; ok && prev.Dev == e.Dev && prev.Ino == e.Ino && prev.Size == e.Size &&
		prev.MTime.Equal(e.MTime) && prev.CTime.Equal(e.CTime) && s.haveBlob(prev.Hash) {
		e.Hash = prev.Hash
		st.Files++
		st.Unchanged++
		return e, true, nil
	}
	h, n, stored, isNew, err := s.putBlob(f, b)
	if err != nil {
		return e, false, fmt.Errorf("backup %q: %w", p, err)
	}
	if n > s.cfg.MaxFileSize {
		st.Skipped++ // grew while read
		return e, false, nil
	}
	e.Hash, e.Size = h, n
	st.Files++
	st.Bytes += n
	if isNew {
		st.NewBlobs++
		st.StoredBytes += stored
	}
	return e, true, nil
}

func (s *Store) blobPath(h string) string { return filepath.Join(s.cfg.Dir, "blobs", h) }

func (s *Store) haveBlob(h string) bool {
	_, err := os.Stat(s.blobPath(h))
	return err == nil
}

// testHookBlobWritten, when set by tests, runs after each blob is written.
var testHookBlobWritten func()

// batch collects the blobs of one snapshot in tmp/ until they are made
// durable together (one syncfs instead of an fsync per file) and moved
// into blobs/. A blob is in blobs/ only once durable, so a later backup
// that finds it there can rely on it.
type batch map[string]string // sha256 → temporary path

// putBlob streams r through SHA-256 and zstd into tmp/. Without a batch
// the blob is synced and renamed into blobs/ at once; with one it waits
// in tmp/ for commit. A blob that exists already is dropped.
func (s *Store) putBlob(r io.Reader, b batch) (sum string, n, stored int64, isNew bool, err error) {
	tmp, err := os.CreateTemp(filepath.Join(s.cfg.Dir, "tmp"), "blob-")
	if err != nil {
		return "", 0, 0, false, err
	}
	defer func() {
		if tmp != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	s.enc.Reset(tmp)
	n, err = io.CopyBuffer(io.MultiWriter(h, s.enc), io.LimitReader(r, s.cfg.MaxFileSize+1), s.buf)
	if err != nil {
		return "", 0, 0, false, err
	}
	if err := s.enc.Close(); err != nil {
		return "", 0, 0, false, err
	}
	sum = hex.EncodeToString(h.Sum(nil))
	if _, pending := b[sum]; pending || n > s.cfg.MaxFileSize || s.haveBlob(sum) {
		return sum, n, 0, false, nil
	}
	fi, err := tmp.Stat()
	if err != nil {
		return "", 0, 0, false, err
	}
	if b == nil {
		if err := tmp.Sync(); err != nil {
			return "", 0, 0, false, err
		}
	}
	if err := tmp.Close(); err != nil {
		return "", 0, 0, false, err
	}
	if b != nil {
		b[sum] = tmp.Name()
	} else if err := os.Rename(tmp.Name(), s.blobPath(sum)); err != nil {
		return "", 0, 0, false, err
	}
	tmp = nil
	if testHookBlobWritten != nil {
		testHookBlobWritten()
	}
	return sum, n, fi.Size(), true, nil
}

// commit makes a batch durable (syncfs of the store's filesystem) and
// moves its blobs into blobs/.
func (s *Store) commit(b batch) error {
	if len(b) == 0 {
		return nil
	}
	d, err := os.Open(filepath.Join(s.cfg.Dir, "tmp"))
	if err != nil {
		return err
	}
	err = unix.Syncfs(int(d.Fd()))
	d.Close()
	if err != nil {
		return fmt.Errorf("syncfs: %w", err)
	}
	for sum, tmp := range b {
		if err := os.Rename(tmp, s.blobPath(sum)); err != nil {
			return err
		}
		delete(b, sum)
	}
	return nil
}

func (s *Store) newManifest(kind string) *Manifest {
	now := time.Now().UTC()
	var r [4]byte
	rand.Read(r[:])
	return &Manifest{Version: manifestVersion, Kind: kind, Time: now, Entries: []Entry{},
		ID: now.Format("20060102T150405.000000000Z") + "-" + hex.EncodeToString(r[:])}
}

// writeManifest syncs blobs/ (so every blob named is durable), then writes
// the manifest atomically.
func (s *Store) writeManifest(m *Manifest) error {
	if err := syncDir(filepath.Join(s.cfg.Dir, "blobs")); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Join(s.cfg.Dir, "tmp"), "manifest-")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(s.cfg.Dir, "manifests", m.ID+".json"))
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("backup: write manifest: %w", err)
	}
	if err := syncDir(filepath.Join(s.cfg.Dir, "manifests")); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

func syncDir(d string) error {
	f, err := os.Open(d)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// loadIndex builds the latest-entry index once; s.mu is held.
func (s *Store) loadIndex() error {
	if s.index != nil {
		return nil
	}
	idx := map[string]Entry{}
	err := s.eachManifest(func(m *Manifest) error {
		for _, e := range m.Entries {
			idx[e.Path] = e // manifests come oldest first
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.index = idx
	return nil
}

// manifestIDs lists manifest IDs, oldest first.
func (s *Store) manifestIDs() ([]string, error) {
	des, err := os.ReadDir(filepath.Join(s.cfg.Dir, "manifests"))
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	var ids []string
	for _, de := range des {
		id, ok := strings.CutSuffix(de.Name(), ".json")
		if ok && ValidID(id) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// Manifest reads one manifest.
func (s *Store) Manifest(id string) (*Manifest, error) {
	if !ValidID(id) {
		return nil, fmt.Errorf("backup: manifest id %q: %w", id, ErrNotFound)
	}
	b, err := os.ReadFile(filepath.Join(s.cfg.Dir, "manifests", id+".json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("backup: manifest %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	m, err := ParseManifest(b)
	if err != nil {
		return nil, fmt.Errorf("backup: %s: %w", id, err)
	}
	if m.ID != id {
		return nil, fmt.Errorf("backup: manifest file %q holds id %q", id, m.ID)
	}
	return m, nil
}

func (s *Store) eachManifest(fn func(*Manifest) error) error {
	ids, err := s.manifestIDs()
	if err != nil {
		return err
	}
	for _, id := range ids {
		m, err := s.Manifest(id)
		if errors.Is(err, ErrNotFound) {
			continue // pruned meanwhile
		}
		if err != nil {
			return err
		}
		if err := fn(m); err != nil {
			return err
		}
	}
	return nil
}

// Summary describes one manifest.
type Summary struct {
	ID    string    `json:"id"`
	Time  time.Time `json:"time"`
	Kind  string    `json:"kind"`
	Roots []string  `json:"roots,omitempty"`
	Files int       `json:"files"`
	Bytes int64     `json:"bytes"`
}

// List summarises every manifest, oldest first.
func (s *Store) List() ([]Summary, error) {
	var out []Summary
	err := s.eachManifest(func(m *Manifest) error {
		sm := Summary{ID: m.ID, Time: m.Time, Kind: m.Kind, Roots: m.Roots, Files: len(m.Entries)}
		for _, e := range m.Entries {
			sm.Bytes += e.Size
		}
		out = append(out, sm)
		return nil
	})
	return out, err
}

// Version is one backed-up version of a file.
type Version struct {
	Entry
	Manifest string    `json:"manifest"`
	Time     time.Time `json:"time"` // when the backup began
}

// Versions lists the versions of path, or of every file under it when it
// is a directory, oldest first. Consecutive identical versions of a path
// are listed once.
func (s *Store) Versions(path string) ([]Version, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	last := map[string]Entry{}
	var out []Version
	err = s.eachManifest(func(m *Manifest) error {
		for _, e := range m.Entries {
			if !under(e.Path, abs) {
				continue
			}
			if prev, ok := last[e.Path]; ok && sameVersion(prev, e) {
				continue
			}
			last[e.Path] = e
			out = append(out, Version{Entry: e, Manifest: m.ID, Time: m.Time})
		}
		return nil
	})
	return out, err
}

func under(p, root string) bool {
	return p == root || root == "/" || strings.HasPrefix(p, root+"/")
}

// Restored is one file put back.
type Restored struct {
	Path    string    `json:"path"` // original path
	Dest    string    `json:"dest"` // where it was written
	SHA256  string    `json:"sha256"`
	Size    int64     `json:"size"`
	Version time.Time `json:"version"` // time of the backup restored
}

// Report says what a restore did.
type Report struct {
	Restored []Restored `json:"restored"`
	// Failed maps a path to why it could not be restored.
	Failed map[string]string `json:"failed,omitempty"`
}

// Restore puts back either every file of a manifest (target is a manifest
// ID) or, for a path target, the latest version before `before` (zero:
// the latest) of that file or of every file under that directory. dest ""
// writes to the original paths; otherwise files go to dest joined with
// their original path. Content, mode, owner and mtime are restored and the
// content's SHA-256 is checked before the file is put in place.
func (s *Store) Restore(target string, before time.Time, dest string) (*Report, error) {
	var pick []Version
	if ValidID(target) {
		m, err := s.Manifest(target)
		if err != nil {
			return nil, err
		}
		for _, e := range m.Entries {
			pick = append(pick, Version{Entry: e, Manifest: m.ID, Time: m.Time})
		}
	} else {
		if !filepath.IsAbs(target) {
			return nil, fmt.Errorf("backup: restore %q: want a manifest ID or an absolute path", target)
		}
		var err error
		if pick, err = s.latest([]string{filepath.Clean(target)}, before, true); err != nil {
			return nil, err
		}
	}
	if len(pick) == 0 {
		return nil, fmt.Errorf("backup: restore %q before %v: %w", target, before, ErrNotFound)
	}
	return s.restore(pick, dest), nil
}

// RestoreFiles restores each of paths (files, not directories) to the
// latest version before `before`, in place. Paths without such a version
// are reported in Failed.
func (s *Store) RestoreFiles(paths []string, before time.Time) (*Report, error) {
	pick, err := s.latest(paths, before, false)
	if err != nil {
		return nil, err
	}
	rep := s.restore(pick, "")
	have := map[string]bool{}
	for _, v := range pick {
		have[v.Path] = true
	}
	for _, p := range paths {
		if !have[p] {
			if rep.Failed == nil {
				rep.Failed = map[string]string{}
			}
			rep.Failed[p] = "no backup before " + before.UTC().Format(time.RFC3339Nano)
		}
	}
	return rep, nil
}

// latest picks, for each path (or each file under it with tree), the newest
// version whose backup began before `before`.
func (s *Store) latest(paths []string, before time.Time, tree bool) ([]Version, error) {
	want := map[string]bool{}
	for _, p := range paths {
		want[p] = true
	}
	best := map[string]Version{}
	err := s.eachManifest(func(m *Manifest) error {
		if !before.IsZero() && !m.Time.Before(before) {
			return nil
		}
		for _, e := range m.Entries {
			ok := want[e.Path]
			if !ok && tree {
				for _, p := range paths {
					if under(e.Path, p) {
						ok = true
						break
					}
				}
			}
			if ok {
				best[e.Path] = Version{Entry: e, Manifest: m.ID, Time: m.Time}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]Version, 0, len(best))
	for _, v := range best {
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b Version) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

func (s *Store) restore(pick []Version, dest string) *Report {
	rep := &Report{Restored: []Restored{}}
	for _, v := range pick {
		to := v.Path
		if dest != "" {
			to = filepath.Join(dest, v.Path)
		}
		if err := s.restoreOne(v.Entry, to); err != nil {
			if rep.Failed == nil {
				rep.Failed = map[string]string{}
			}
			rep.Failed[v.Path] = err.Error()
			continue
		}
		rep.Restored = append(rep.Restored, Restored{Path: v.Path, Dest: to, SHA256: v.Hash, Size: v.Size, Version: v.Time})
	}
	return rep
}

func (s *Store) restoreOne(e Entry, to string) error {
	blob, err := os.Open(s.blobPath(e.Hash))
	if err != nil {
		return fmt.Errorf("blob %s: %w", e.Hash, err)
	}
	defer blob.Close()
	dec, err := zstd.NewReader(blob, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
	if err != nil {
		return fmt.Errorf("blob %s: %w", e.Hash, err)
	}
	defer dec.Close()
	if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(to), ".vigil-restore-")
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(dec, e.Size+1))
	if err != nil {
		return fmt.Errorf("blob %s: %w", e.Hash, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); n != e.Size || got != e.Hash {
		return fmt.Errorf("blob %s is damaged: %d bytes with sha256 %s, want %d", e.Hash, n, got, e.Size)
	}
	if err := tmp.Chown(int(e.UID), int(e.GID)); err != nil {
		return err
	}
	if err := tmp.Chmod(e.Mode); err != nil { // after chown, which clears setuid
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chtimes(tmp.Name(), e.MTime, e.MTime); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), to); err != nil {
		return err
	}
	done = true
	return nil
}

// Head returns up to n bytes from the start of a blob's content.
func (s *Store) Head(hash string, n int) ([]byte, error) {
	if !validHash(hash) {
		return nil, fmt.Errorf("backup: sha256 %q: %w", hash, ErrNotFound)
	}
	f, err := os.Open(s.blobPath(hash))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec, err := zstd.NewReader(f, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
	if err != nil {
		return nil, err
	}
	defer dec.Close()
	b := make([]byte, n)
	k, err := io.ReadFull(dec, b)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return b[:k], nil
}

// PruneStats say what Prune removed.
type PruneStats struct {
	Manifests int   `json:"manifests"`
	Blobs     int   `json:"blobs"`
	Bytes     int64 `json:"bytes"`
}

// Prune removes manifests all of whose entries are older than MaxAge and
// have KeepVersions newer versions, then blobs no manifest names.
func (s *Store) Prune(now time.Time) (PruneStats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ps PruneStats
	if s.cfg.ReadOnly {
		return ps, errReadOnly
	}
	type ref struct {
		id string
		t  time.Time
	}
	var ms []*Manifest
	versions := map[string][]ref{} // newest last
	if err := s.eachManifest(func(m *Manifest) error {
		ms = append(ms, m)
		for _, e := range m.Entries {
			versions[e.Path] = append(versions[e.Path], ref{m.ID, m.Time})
		}
		return nil
	}); err != nil {
		return ps, err
	}
	needed := map[string]bool{}
	for _, vs := range versions {
		for i, r := range vs {
			if len(vs)-i <= s.cfg.KeepVersions || now.Sub(r.t) < s.cfg.MaxAge {
				needed[r.id] = true
			}
		}
	}
	live := map[string]bool{}
	for _, m := range ms {
		if !needed[m.ID] && len(m.Entries) > 0 || now.Sub(m.Time) >= s.cfg.MaxAge && len(m.Entries) == 0 {
			if err := os.Remove(filepath.Join(s.cfg.Dir, "manifests", m.ID+".json")); err != nil {
				return ps, fmt.Errorf("backup: prune: %w", err)
			}
			ps.Manifests++
			continue
		}
		for _, e := range m.Entries {
			live[e.Hash] = true
		}
	}
	des, err := os.ReadDir(filepath.Join(s.cfg.Dir, "blobs"))
	if err != nil {
		return ps, fmt.Errorf("backup: prune: %w", err)
	}
	for _, de := range des {
		if live[de.Name()] {
			continue
		}
		if fi, err := de.Info(); err == nil {
			ps.Bytes += fi.Size()
		}
		if err := os.Remove(filepath.Join(s.cfg.Dir, "blobs", de.Name())); err == nil {
			ps.Blobs++
		}
	}
	s.index = nil // rebuilt on the next write
	return ps, nil
}

// Verify checks that every manifest's blobs exist and hold their hash. It
// returns the problems found.
func (s *Store) Verify() ([]string, error) {
	var bad []string
	checked := map[string]bool{}
	err := s.eachManifest(func(m *Manifest) error {
		for _, e := range m.Entries {
			if checked[e.Hash] {
				continue
			}
			checked[e.Hash] = true
			if err := s.verifyBlob(e.Hash); err != nil {
				bad = append(bad, fmt.Sprintf("%s: %s: %v", m.ID, e.Path, err))
			}
		}
		return nil
	})
	return bad, err
}

func (s *Store) verifyBlob(sum string) error {
	f, err := os.Open(s.blobPath(sum))
	if err != nil {
		return err
	}
	defer f.Close()
	dec, err := zstd.NewReader(f, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
	if err != nil {
		return err
	}
	defer dec.Close()
	var h hash.Hash = sha256.New()
	if _, err := io.Copy(h, dec); err != nil {
		return err
	}
	if !bytes.Equal([]byte(hex.EncodeToString(h.Sum(nil))), []byte(sum)) {
		return errors.New("content does not match its hash")
	}
	return nil
}
