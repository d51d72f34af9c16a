// Package quarantine moves suspicious files out of reach and back.
//
// A quarantined file lives in <data-dir>/quarantine/<id>/: its content in
// "file" with mode 0000, and "meta.json" with where it came from (path,
// mode, owner, mtime, size, SHA-256) and why (time, alert and rule IDs).
// The move is a rename within a filesystem, or a copy, fsync and unlink
// across filesystems. Restore puts the file back with its mode, owner and
// mtime after checking its SHA-256; Delete removes it for good.
package quarantine

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Dir is the quarantine directory, relative to the data directory.
const Dir = "quarantine"

// ErrExists is returned by Restore when the original path is taken and
// force is not set.
var ErrExists = errors.New("original path exists")

// Meta describes a quarantined file.
type Meta struct {
	ID           string      `json:"id"`
	OriginalPath string      `json:"original_path"`
	Mode         fs.FileMode `json:"mode"` // permission and setuid/setgid/sticky bits
	UID          uint32      `json:"uid"`
	GID          uint32      `json:"gid"`
	MTime        time.Time   `json:"mtime"`
	Size         int64       `json:"size"`
	SHA256       string      `json:"sha256"`
	Time         time.Time   `json:"time"` // when it was quarantined
	AlertID      string      `json:"alert_id,omitempty"`
	RuleID       string      `json:"rule_id,omitempty"`
}

// maxMeta bounds meta.json.
const maxMeta = 64 << 10

// ParseMeta parses and validates a meta.json.
func ParseMeta(b []byte) (Meta, error) {
	if len(b) > maxMeta {
		return Meta{}, fmt.Errorf("meta.json: %d bytes, more than %d", len(b), maxMeta)
	}
	var m Meta
	if err := json.Unmarshal(b, &m); err != nil {
		return Meta{}, fmt.Errorf("meta.json: %w", err)
	}
	switch {
	case !validID(m.ID):
		return Meta{}, fmt.Errorf("meta.json: id %q: want 32 hex digits", m.ID)
	case !filepath.IsAbs(m.OriginalPath) || filepath.Clean(m.OriginalPath) != m.OriginalPath || m.OriginalPath == "/":
		return Meta{}, fmt.Errorf("meta.json: original_path %q: want a clean absolute file path", m.OriginalPath)
	case strings.ContainsRune(m.OriginalPath, 0):
		return Meta{}, fmt.Errorf("meta.json: original_path %q contains NUL", m.OriginalPath)
	case m.Mode&^(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != 0:
		return Meta{}, fmt.Errorf("meta.json: mode %v: want permission bits only", m.Mode)
	case m.Size < 0:
		return Meta{}, fmt.Errorf("meta.json: size %d", m.Size)
	}
	if b, err := hex.DecodeString(m.SHA256); err != nil || len(b) != sha256.Size || strings.ToLower(m.SHA256) != m.SHA256 {
		return Meta{}, fmt.Errorf("meta.json: sha256 %q: want 64 lowercase hex digits", m.SHA256)
	}
	return m, nil
}

func validID(id string) bool {
	b, err := hex.DecodeString(id)
	return err == nil && len(b) == 16 && strings.ToLower(id) == id
}

// HashBlocker is the part of the exec guard the store uses: a quarantined
// file's hash is blocked from exec while it is quarantined.
type HashBlocker interface {
	BlockHash(sha256hex string) error
	UnblockHash(sha256hex string)
}

// Store is the quarantine of one data directory.
type Store struct {
	dir string
	// Guard, when set, blocks the exec of quarantined content by hash.
	Guard HashBlocker
}

// Open returns the store in dataDir, creating its directory (0700).
func Open(dataDir string) (*Store, error) {
	dir := filepath.Join(dataDir, Dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("quarantine: %w", err)
	}
	return &Store{dir: dir}, nil
}

func (s *Store) entry(id string) (string, error) {
	if !validID(id) {
		return "", fmt.Errorf("quarantine ID %q: want 32 hex digits", id)
	}
	return filepath.Join(s.dir, id), nil
}

// Quarantine moves the regular file at path into the store.
func (s *Store) Quarantine(path, alertID, ruleID string) (Meta, error) {
	path, err := filepath.Abs(path)
	if err != nil {
		return Meta{}, fmt.Errorf("quarantine %q: %w", path, err)
	}
	var idb [16]byte
	rand.Read(idb[:])
	m := Meta{ID: hex.EncodeToString(idb[:]), OriginalPath: path, Time: time.Now().UTC(), AlertID: alertID, RuleID: ruleID}
	dir := filepath.Join(s.dir, m.ID)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return Meta{}, fmt.Errorf("quarantine %q: %w", path, err)
	}
	dst := filepath.Join(dir, "file")
	if err := s.move(path, dst, &m); err != nil {
		os.RemoveAll(dir)
		return Meta{}, fmt.Errorf("quarantine %q: %w", path, err)
	}
	if err := writeMeta(dir, &m); err != nil {
		// Keep the file where it is safe; put it back only if that works.
		if rerr := moveBack(dst, path, &m, false); rerr == nil {
			os.RemoveAll(dir)
		}
		return Meta{}, fmt.Errorf("quarantine %q: %w", path, err)
	}
	if s.Guard != nil {
		if err := s.Guard.BlockHash(m.SHA256); err != nil {
			return m, fmt.Errorf("quarantine %q: block exec: %w", path, err)
		}
	}
	return m, nil
}

// move moves src to dst (a new path) and fills m from the moved file.
func (s *Store) move(src, dst string, m *Meta) error {
	var st unix.Stat_t
	if err := unix.Lstat(src, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("not a regular file")
	}
	err := os.Rename(src, dst)
	switch {
	case err == nil:
	case errors.Is(err, unix.EXDEV):
		if err := copyFile(src, dst, &st); err != nil {
			return err
		}
		if err := os.Remove(src); err != nil {
			os.Remove(dst)
			return err
		}
	default:
		return err
	}
	// Describe and hash what arrived, then make it unreadable to others.
	f, err := os.Open(dst)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return err
	}
	sum, err := hashFile(f)
	if err != nil {
		return err
	}
	m.Mode = fs.FileMode(st.Mode & 0o777)
	if st.Mode&unix.S_ISUID != 0 {
		m.Mode |= fs.ModeSetuid
	}
	if st.Mode&unix.S_ISGID != 0 {
		m.Mode |= fs.ModeSetgid
	}
	if st.Mode&unix.S_ISVTX != 0 {
		m.Mode |= fs.ModeSticky
	}
	m.UID, m.GID, m.Size, m.SHA256 = st.Uid, st.Gid, st.Size, sum
	m.MTime = time.Unix(st.Mtim.Unix()).UTC()
	if err := f.Chmod(0); err != nil {
		return err
	}
	return syncDir(filepath.Dir(dst))
}

// copyFile copies src to a new dst and syncs it, refusing to follow a
// symlink that replaced src.
func copyFile(src, dst string, want *unix.Stat_t) error {
	in, err := os.OpenFile(src, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(in.Fd()), &st); err != nil {
		return err
	}
	if st.Dev != want.Dev || st.Ino != want.Ino {
		return fmt.Errorf("file changed while being moved")
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// Keep owner and times; the mode is recorded from st below.
		err = os.Lchown(dst, int(st.Uid), int(st.Gid))
	}
	if err == nil {
		err = unix.Chmod(dst, st.Mode&0o7777)
	}
	if err == nil {
		mt := time.Unix(st.Mtim.Unix())
		err = os.Chtimes(dst, mt, mt)
	}
	if err != nil {
		os.Remove(dst)
	}
	return err
}

func hashFile(f *os.File) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, 1<<62)); err != nil {
		return "", fmt.Errorf("hash: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func writeMeta(dir string, m *Meta) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, "meta.json.tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, "meta.json"))
	}
	if err == nil {
		err = syncDir(dir)
	}
	return err
}

// Get reads one entry's metadata.
func (s *Store) Get(id string) (Meta, error) {
	dir, err := s.entry(id)
	if err != nil {
		return Meta{}, err
	}
	b, err := readLimited(filepath.Join(dir, "meta.json"))
	if err != nil {
		return Meta{}, fmt.Errorf("quarantine %s: %w", id, err)
	}
	m, err := ParseMeta(b)
	if err != nil {
		return Meta{}, fmt.Errorf("quarantine %s: %w", id, err)
	}
	if m.ID != id {
		return Meta{}, fmt.Errorf("quarantine %s: meta.json names ID %s", id, m.ID)
	}
	return m, nil
}

func readLimited(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxMeta+1))
}

// List returns every entry, oldest first. Entries whose metadata cannot
// be read are reported in the error (joined), the rest still listed.
func (s *Store) List() ([]Meta, error) {
	names, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("quarantine: %w", err)
	}
	var out []Meta
	var errs []error
	for _, d := range names {
		if !d.IsDir() || !validID(d.Name()) {
			continue
		}
		m, err := s.Get(d.Name())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b Meta) int { return a.Time.Compare(b.Time) })
	return out, errors.Join(errs...)
}

// Restore moves an entry back to its original path with its mode, owner
// and mtime, after checking its SHA-256. An existing file at the path is
// replaced only with force. The entry is removed and its hash unblocked.
func (s *Store) Restore(id string, force bool) (Meta, error) {
	m, err := s.Get(id)
	if err != nil {
		return Meta{}, err
	}
	dir, _ := s.entry(id)
	src := filepath.Join(dir, "file")
	f, err := os.Open(src)
	if err != nil {
		return m, fmt.Errorf("restore %s: %w", id, err)
	}
	sum, err := hashFile(f)
	f.Close()
	if err != nil {
		return m, fmt.Errorf("restore %s: %w", id, err)
	}
	if sum != m.SHA256 {
		return m, fmt.Errorf("restore %s: content sha256 %s does not match meta.json's %s", id, sum, m.SHA256)
	}
	if err := moveBack(src, m.OriginalPath, &m, force); err != nil {
		return m, fmt.Errorf("restore %s to %q: %w", id, m.OriginalPath, err)
	}
	if s.Guard != nil {
		s.Guard.UnblockHash(m.SHA256)
	}
	if err := os.RemoveAll(dir); err != nil {
		return m, fmt.Errorf("restore %s: remove entry: %w", id, err)
	}
	return m, nil
}

// moveBack puts src at dst with m's mode, owner and mtime.
func moveBack(src, dst string, m *Meta, force bool) (err error) {
	if _, err := os.Lstat(dst); err == nil && !force {
		return ErrExists
	}
	defer func() {
		if err != nil {
			os.Chmod(src, 0) // still quarantined: unreadable again
		}
	}()
	// Restore attributes on the quarantined copy first, so the file
	// appears at dst complete.
	if err := os.Lchown(src, int(m.UID), int(m.GID)); err != nil {
		return err
	}
	if err := os.Chmod(src, m.Mode); err != nil {
		return err
	}
	if err := os.Chtimes(src, m.MTime, m.MTime); err != nil {
		return err
	}
	flags := uint(unix.RENAME_NOREPLACE)
	if force {
		flags = 0
	}
	err = unix.Renameat2(unix.AT_FDCWD, src, unix.AT_FDCWD, dst, flags)
	switch {
	case err == nil:
		return syncDir(filepath.Dir(dst))
	case errors.Is(err, unix.EEXIST):
		return ErrExists
	case !errors.Is(err, unix.EXDEV):
		return err
	}
	// Across filesystems: copy to a temporary name beside dst, then rename.
	var st unix.Stat_t
	if err := unix.Lstat(src, &st); err != nil {
		return err
	}
	tmp := dst + ".vigil-restore"
	os.Remove(tmp)
	if err := copyFile(src, tmp, &st); err != nil {
		return err
	}
	if err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, dst, flags); err != nil {
		os.Remove(tmp)
		if errors.Is(err, unix.EEXIST) {
			return ErrExists
		}
		return err
	}
	return syncDir(filepath.Dir(dst))
}

// Delete removes an entry for good. Its hash stays blocked in the guard.
func (s *Store) Delete(id string) error {
	if _, err := s.Get(id); err != nil {
		return err
	}
	dir, _ := s.entry(id)
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("delete %s: %w", id, err)
	}
	return nil
}

// Path returns where an entry's content is kept.
func (s *Store) Path(id string) (string, error) {
	dir, err := s.entry(id)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "file"), nil
}
