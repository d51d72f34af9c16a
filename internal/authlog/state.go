package authlog

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Position is where a Tailer is in a file: the file's identity (device,
// inode and a fingerprint of its first bytes, so that a new file that
// reuses an inode number is told apart) and the offset just past the last
// handled line.
type Position struct {
	Path   string `json:"path"`
	Dev    uint64 `json:"dev"`
	Ino    uint64 `json:"ino"`
	Offset int64  `json:"offset"`
	// FPLen is how many leading bytes Fingerprint covers (up to
	// fingerprintSize; fewer while the file was shorter).
	FPLen       int    `json:"fp_len"`
	Fingerprint string `json:"fp"`
}

// fingerprintSize is how many leading bytes identify a file's content.
const fingerprintSize = 256

// maxStateSize bounds the state file a loader accepts.
const maxStateSize = 64 << 10

// LoadPosition reads a state file written by SavePosition. A missing file
// gives the zero Position and no error; a damaged one an error.
func LoadPosition(path string) (Position, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return Position{}, nil
	}
	if err != nil {
		return Position{}, fmt.Errorf("read tail state: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxStateSize+1))
	if err != nil {
		return Position{}, fmt.Errorf("read tail state %s: %w", path, err)
	}
	p, err := DecodePosition(b)
	if err != nil {
		return Position{}, fmt.Errorf("tail state %s: %w", path, err)
	}
	return p, nil
}

// DecodePosition parses and checks the contents of a state file.
func DecodePosition(b []byte) (Position, error) {
	var p Position
	if len(b) > maxStateSize {
		return p, fmt.Errorf("state is over %d bytes", maxStateSize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Position{}, fmt.Errorf("decode: %w", err)
	}
	if dec.More() {
		return Position{}, errors.New("trailing data after the state")
	}
	switch {
	case p.Offset < 0:
		return Position{}, fmt.Errorf("negative offset %d", p.Offset)
	case p.FPLen < 0 || p.FPLen > fingerprintSize:
		return Position{}, fmt.Errorf("fingerprint length %d out of range", p.FPLen)
	}
	if p.Fingerprint != "" {
		if raw, err := hex.DecodeString(p.Fingerprint); err != nil || len(raw) != sha256.Size {
			return Position{}, fmt.Errorf("fingerprint %q is not a hex SHA-256", p.Fingerprint)
		}
	} else if p.FPLen != 0 {
		return Position{}, errors.New("fingerprint length without fingerprint")
	}
	return p, nil
}

// SavePosition writes p to path atomically.
func SavePosition(path string, p Position) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return WriteFileAtomic(path, append(b, '\n'))
}

// WriteFileAtomic replaces path with data: it writes a temporary file in
// the same directory, syncs it, renames it over path and syncs the
// directory, so a crash leaves either the old or the new content.
func WriteFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			_ = tmp.Close()
			_ = os.Remove(name)
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(name, path); err != nil {
		return err
	}
	ok = true
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// fingerprint hashes the first n bytes of f (n ≤ fingerprintSize). ok is
// false when the file is shorter than n.
func fingerprint(f io.ReaderAt, n int) (string, bool) {
	buf := make([]byte, n)
	if got, _ := f.ReadAt(buf, 0); got < n {
		return "", false
	}
	sum := sha256.Sum256(buf)
	return hex.EncodeToString(sum[:]), true
}
