// Package langutil holds what the language package extractors share:
// bounded reads of the scanned file and package-URL construction.
package langutil

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/package-url/packageurl-go"

	"github.com/vigilsec/vigil/internal/extractor"
	"github.com/vigilsec/vigil/internal/inventory"
)

// ErrTooLarge is wrapped by the errors of reads that hit their bound.
var ErrTooLarge = errors.New("file too large")

// ReadAll reads at most max bytes of r. A longer input is an error
// wrapping ErrTooLarge, so that a lockfile parser never works on a
// silently truncated file.
func ReadAll(r io.Reader, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, max)
	}
	return b, nil
}

// ReaderAt gives random access to the scanned file, which archive/zip and
// debug/buildinfo need. The file's Reader is used when it is an
// io.ReaderAt (an *os.File from os.DirFS is); else the file is opened
// under RootPath; else it is copied, up to max bytes, to a temporary file.
// The returned close function releases whatever was opened.
func ReaderAt(in *extractor.ScanInput, max int64) (io.ReaderAt, int64, func() error, error) {
	noop := func() error { return nil }
	size := int64(-1)
	if in.Info != nil {
		size = in.Info.Size()
	}
	if size > max {
		return nil, 0, noop, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, size, max)
	}
	if ra, ok := in.Reader.(io.ReaderAt); ok && size >= 0 {
		return ra, size, noop, nil
	}
	if in.RootPath != "" {
		f, err := os.Open(filepath.Join(in.RootPath, filepath.FromSlash(in.Path)))
		if err == nil {
			st, err := f.Stat()
			if err == nil && st.Mode().IsRegular() && st.Size() <= max {
				return f, st.Size(), f.Close, nil
			}
			f.Close()
		}
	}
	return Spool(in.Reader, max)
}

// Spool copies at most max bytes of r to an unlinked temporary file and
// returns it for random access.
func Spool(r io.Reader, max int64) (io.ReaderAt, int64, func() error, error) {
	noop := func() error { return nil }
	f, err := os.CreateTemp("", "vigil-extract-")
	if err != nil {
		return nil, 0, noop, fmt.Errorf("spool: %w", err)
	}
	// Unlinked at once: nothing is left behind, whatever happens next.
	os.Remove(f.Name())
	n, err := io.Copy(f, io.LimitReader(r, max+1))
	if err != nil {
		f.Close()
		return nil, 0, noop, fmt.Errorf("spool: %w", err)
	}
	if n > max {
		f.Close()
		return nil, 0, noop, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, max)
	}
	return f, n, f.Close, nil
}

// PURL builds a package URL string.
func PURL(typ, namespace, name, version string) string {
	return packageurl.NewPackageURL(typ, namespace, name, version, nil, "").ToString()
}

// Package builds an inventory.Package of a language ecosystem.
func Package(typ, ecosystem, name, version, purl, location string) inventory.Package {
	return inventory.Package{
		Name:      name,
		Version:   version,
		Type:      typ,
		Ecosystem: ecosystem,
		PURL:      purl,
		Locations: []string{location},
	}
}
