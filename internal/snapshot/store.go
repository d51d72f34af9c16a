// Package snapshot keeps the last inventory snapshot of each scanned root
// in the data directory, so that the next run can say what changed.
//
// Files are written to a temporary name, synced and renamed, so a crash
// leaves either the old snapshot or the new one, never half of one.
package snapshot

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vigilsec/vigil/internal/inventory"
)

// ErrNotFound is returned by Load when no snapshot was saved for a root.
var ErrNotFound = errors.New("no saved snapshot")

// Store reads and writes snapshots under Dir.
type Store struct {
	Dir string
}

// New returns a store in <dataDir>/inventory.
func New(dataDir string) *Store { return &Store{Dir: filepath.Join(dataDir, "inventory")} }

// Path is the file holding the snapshot of root: "host.json" for the live
// host, "root-<hash>.json" for other trees.
func (s *Store) Path(root string) string {
	if root == "/" || root == "" {
		return filepath.Join(s.Dir, "host.json")
	}
	sum := sha256.Sum256([]byte(filepath.Clean(root)))
	return filepath.Join(s.Dir, "root-"+hex.EncodeToString(sum[:8])+".json")
}

// Load returns the last snapshot saved for root. It returns an error
// wrapping ErrNotFound when there is none. A corrupt file gives an error
// naming it; Save then replaces it after keeping a copy beside it.
func (s *Store) Load(root string) (*inventory.Snapshot, error) {
	p := s.Path(root)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", p, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read snapshot: %w", err)
	}
	var snap inventory.Snapshot
	if err := json.Unmarshal(b, &snap); err != nil {
		return nil, &CorruptError{Path: p, Err: err}
	}
	return &snap, nil
}

// CorruptError reports a snapshot file that cannot be decoded.
type CorruptError struct {
	Path string
	Err  error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("snapshot %s is corrupt: %v", e.Path, e.Err)
}
func (e *CorruptError) Unwrap() error { return e.Err }

// Save writes snap as the snapshot of root. When the existing file is
// corrupt it is first renamed to <name>.corrupt, so nothing is lost.
func (s *Store) Save(root string, snap *inventory.Snapshot) error {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return fmt.Errorf("create snapshot dir: %w", err)
	}
	p := s.Path(root)
	if _, err := s.Load(root); errors.As(err, new(*CorruptError)) {
		if err := os.Rename(p, p+".corrupt"); err != nil {
			return fmt.Errorf("keep corrupt snapshot: %w", err)
		}
	}
	b, err := json.Marshal(snap)
	if err != nil {
		return fmt.Errorf("encode snapshot: %w", err)
	}
	return WriteFileAtomic(p, b, 0o600)
}

// WriteFileAtomic writes data to path through a synced temporary file in
// the same directory and a rename, then syncs the directory.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
