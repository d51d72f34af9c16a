package image

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
)

// tarStore serves the files of a tar archive in place: openTarStore reads
// the headers once (seeking over the data) and records where each regular
// file's data starts.
type tarStore struct {
	f       *os.File
	entries map[string]tarEntry
}

type tarEntry struct {
	off, size int64
	// link is the target of a symlink (relative to the entry's
	// directory) or hard link (relative to the archive root).
	link string
	typ  byte
}

// maxLinkHops bounds links followed inside an archive.
const maxLinkHops = 8

func openTarStore(p string, maxEntries int) (*tarStore, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("not a regular file")
	}
	st := &tarStore{f: f, entries: make(map[string]tarEntry)}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("read archive: %w", err)
		}
		if len(st.entries) >= maxEntries {
			f.Close()
			return nil, fmt.Errorf("archive has more than %d entries: %w", maxEntries, ErrLimit)
		}
		n := path.Clean(cleanArchiveName(hdr.Name))
		e := tarEntry{typ: hdr.Typeflag, size: hdr.Size, link: hdr.Linkname}
		switch hdr.Typeflag {
		case tar.TypeReg:
			if isSparse(hdr) {
				// Its data is not one contiguous run: leave it out.
				continue
			}
			// archive/tar reads headers exactly and does not read
			// ahead, so the file offset is where the data starts.
			off, err := f.Seek(0, io.SeekCurrent)
			if err != nil {
				f.Close()
				return nil, err
			}
			e.off = off
		case tar.TypeSymlink, tar.TypeLink:
		default:
			continue
		}
		st.entries[n] = e
	}
	return st, nil
}

func isSparse(hdr *tar.Header) bool {
	if hdr.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

func (s *tarStore) has(name string) bool {
	_, ok := s.entries[name]
	return ok
}

func (s *tarStore) open(name string) (io.ReadCloser, int64, error) {
	n := path.Clean(cleanArchiveName(name))
	for range maxLinkHops {
		e, ok := s.entries[n]
		if !ok {
			return nil, 0, fmt.Errorf("%s: %w", name, fs.ErrNotExist)
		}
		switch e.typ {
		case tar.TypeSymlink:
			if path.IsAbs(e.link) {
				n = path.Clean(cleanArchiveName(e.link))
			} else {
				n = path.Join(path.Dir(n), e.link)
			}
			continue
		case tar.TypeLink:
			n = path.Clean(cleanArchiveName(e.link))
			continue
		}
		return io.NopCloser(io.NewSectionReader(s.f, e.off, e.size)), e.size, nil
	}
	return nil, 0, fmt.Errorf("%s: more than %d links", name, maxLinkHops)
}

func (s *tarStore) close() error { return s.f.Close() }

// dirStore serves the files of a directory, confined to it.
type dirStore struct{ root *os.Root }

func (s dirStore) has(name string) bool {
	_, err := s.root.Stat(name)
	return err == nil
}

func (s dirStore) open(name string) (io.ReadCloser, int64, error) {
	f, err := s.root.Open(cleanArchiveName(name))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, 0, fmt.Errorf("%s: %w", name, fs.ErrNotExist)
		}
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("%s: not a regular file", name)
	}
	return f, fi.Size(), nil
}

func (s dirStore) close() error { return s.root.Close() }
