package backup

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp"
	"time"
)

// manifestVersion is the format version written in every manifest.
const manifestVersion = 1

// Manifest kinds.
const (
	KindSnapshot = "snapshot" // a walk of the configured directories
	KindFile     = "file"     // one changed file
)

// Manifest is one backup: the files it saw and the blobs holding them.
// Manifests are written once, atomically, and never changed.
type Manifest struct {
	Version int       `json:"version"`
	ID      string    `json:"id"`
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"`
	Roots   []string  `json:"roots,omitempty"`
	Entries []Entry   `json:"entries"`
	// Skipped counts files left out: too large, unreadable or not regular.
	Skipped int `json:"skipped,omitempty"`
}

// Entry is one file in a manifest.
type Entry struct {
	Path  string      `json:"path"`
	Mode  fs.FileMode `json:"mode"` // permission and setuid/setgid/sticky bits
	UID   uint32      `json:"uid"`
	GID   uint32      `json:"gid"`
	MTime time.Time   `json:"mtime"`
	Size  int64       `json:"size"`
	Hash  string      `json:"sha256"` // of the content; names the blob
	// Dev, Ino and CTime say whether the file changed since; not restored.
	Dev   uint64    `json:"dev,omitempty"`
	Ino   uint64    `json:"ino,omitempty"`
	CTime time.Time `json:"ctime"`
}

var idRE = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}\.[0-9]{9}Z-[0-9a-f]{8}$`)

// ValidID reports whether s has the form of a manifest ID.
func ValidID(s string) bool { return idRE.MatchString(s) }

// ParseManifest decodes and checks a manifest.
func ParseManifest(b []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if m.Version != manifestVersion {
		return nil, fmt.Errorf("manifest %q: version %d, want %d", m.ID, m.Version, manifestVersion)
	}
	if !ValidID(m.ID) {
		return nil, fmt.Errorf("manifest: bad id %q", m.ID)
	}
	if m.Kind != KindSnapshot && m.Kind != KindFile {
		return nil, fmt.Errorf("manifest %q: kind %q, want snapshot or file", m.ID, m.Kind)
	}
	if m.Time.IsZero() {
		return nil, fmt.Errorf("manifest %q: no time", m.ID)
	}
	for i, e := range m.Entries {
		if err := checkEntry(e); err != nil {
			return nil, fmt.Errorf("manifest %q: entry %d: %w", m.ID, i, err)
		}
	}
	return &m, nil
}

func checkEntry(e Entry) error {
	if !filepath.IsAbs(e.Path) || filepath.Clean(e.Path) != e.Path || e.Path == "/" {
		return fmt.Errorf("path %q: want an absolute, clean file path", e.Path)
	}
	if e.Mode&^(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != 0 {
		return fmt.Errorf("%q: mode %v: want a regular file's permission bits", e.Path, e.Mode)
	}
	if e.Size < 0 {
		return fmt.Errorf("%q: negative size %d", e.Path, e.Size)
	}
	if !validHash(e.Hash) {
		return fmt.Errorf("%q: sha256 %q: want 64 lowercase hex digits", e.Path, e.Hash)
	}
	return nil
}

func validHash(h string) bool {
	if len(h) != 64 {
		return false
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	_, err := hex.DecodeString(h)
	return err == nil
}
