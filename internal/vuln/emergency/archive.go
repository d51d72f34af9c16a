package emergency

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/vigilsec/vigil/internal/plugin"
	"github.com/vigilsec/vigil/internal/ziputil"
)

// Limits on the archives read for archive_contains.
const (
	// MaxArchiveDepth is how deep archives nest: the file found under
	// the root is at depth 1.
	MaxArchiveDepth = 4
	// MaxArchiveEntries bounds one archive's central directory, and
	// MaxTotalEntries those of a file and every archive nested in it.
	MaxArchiveEntries = 200_000
	MaxTotalEntries   = 1_000_000
	// MaxNestedSize bounds a compressed nested archive, which is
	// decompressed into memory (stored ones are read in place), and
	// MaxDecompressed the bytes decompressed for one file under the root.
	MaxNestedSize   = 64 << 20
	MaxDecompressed = 512 << 20
	// MaxArchiveSize bounds the files under the root that are opened.
	MaxArchiveSize = 4 << 30
	// maxCentralDir bounds the central directory of one archive.
	maxCentralDir = 64 << 20
)

var errLimit = errors.New("archive limit exceeded")

// archiveScan finds, in one walk of the root, the archives that hold the
// entries of every archive_contains spec.
type archiveScan struct {
	specs []*ArchiveContains
	// hits[i] lists the locations ("/opt/app.war!WEB-INF/lib/x.jar",
	// innermost archive) holding specs[i].Entry, in walk order.
	hits [][]string
	// scanned are the locations of every archive opened for specs[i].
	scanned []map[string]bool
	// files counts the files under the root opened.
	files int
}

// fileScan is the state of reading one file under the root.
type fileScan struct {
	ctx     context.Context
	specs   []int // indexes of the specs whose glob matched the file
	s       *archiveScan
	entries int
	budget  int64
}

func (s *archiveScan) run(ctx context.Context, root fs.FS, skip map[string]bool, problems *plugin.Problems) error {
	s.hits = make([][]string, len(s.specs))
	s.scanned = make([]map[string]bool, len(s.specs))
	for i := range s.scanned {
		s.scanned[i] = map[string]bool{}
	}
	if len(s.specs) == 0 {
		return nil
	}
	err := fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		if err != nil {
			if p == "." {
				return err
			}
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if p == "." {
				return nil
			}
			if skip[p] || !s.mayContain(p) {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		var want []int
		for i, sp := range s.specs {
			if sp.glob.Match(p) {
				want = append(want, i)
			}
		}
		if len(want) == 0 {
			return nil
		}
		if err := s.file(ctx, root, p, want); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			problems.Addf("/%s: %v", p, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("walk for archives: %w", err)
	}
	return nil
}

func (s *archiveScan) mayContain(dir string) bool {
	for _, sp := range s.specs {
		if sp.glob.MayContain(dir) {
			return true
		}
	}
	return false
}

// file reads one file under the root for the specs want.
func (s *archiveScan) file(ctx context.Context, root fs.FS, p string, want []int) error {
	f, err := root.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if info.Size() > MaxArchiveSize {
		return fmt.Errorf("%w: %d bytes, limit %d", errLimit, info.Size(), int64(MaxArchiveSize))
	}
	ra, ok := f.(io.ReaderAt)
	if !ok {
		// An fs.FS without ReadAt (fstest.MapFS files have it): read the
		// file into memory within the nested-archive bound.
		if info.Size() > MaxNestedSize {
			return fmt.Errorf("%w: %d bytes and no random access", errLimit, info.Size())
		}
		b, err := io.ReadAll(io.LimitReader(f, MaxNestedSize))
		if err != nil {
			return err
		}
		ra = bytes.NewReader(b)
	}
	s.files++
	fsc := &fileScan{ctx: ctx, specs: want, s: s, budget: MaxDecompressed}
	zr, err := fsc.open(ra, info.Size())
	if err != nil {
		return fmt.Errorf("open archive: %w", err)
	}
	var problems plugin.Problems
	if err := fsc.walk(zr, ra, "/"+p, 1, &problems); err != nil {
		return err
	}
	return problems.Err()
}

// open reads an archive's directory after checking its size from the end
// record.
func (fsc *fileScan) open(ra io.ReaderAt, size int64) (*zip.Reader, error) {
	n, dirSize, err := ziputil.DirectorySize(ra, size)
	if err != nil {
		return nil, err
	}
	if n > MaxArchiveEntries {
		return nil, fmt.Errorf("%w: %d entries, limit %d", errLimit, n, MaxArchiveEntries)
	}
	if dirSize > maxCentralDir {
		return nil, fmt.Errorf("%w: central directory of %d bytes", errLimit, dirSize)
	}
	if fsc.entries += int(n); fsc.entries > MaxTotalEntries {
		return nil, fmt.Errorf("%w: more than %d entries in all", errLimit, MaxTotalEntries)
	}
	zr, err := zip.NewReader(ra, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, err
	}
	return zr, nil
}

// walk looks for the entries in one archive at loc and in the archives it
// nests.
func (fsc *fileScan) walk(zr *zip.Reader, ra io.ReaderAt, loc string, depth int, problems *plugin.Problems) error {
	for _, i := range fsc.specs {
		fsc.s.scanned[i][loc] = true
	}
	found := make([]bool, len(fsc.specs))
	for n, f := range zr.File {
		if n%256 == 0 {
			if err := fsc.ctx.Err(); err != nil {
				return err
			}
		}
		name := f.Name
		if strings.HasSuffix(name, "/") {
			continue
		}
		for k, i := range fsc.specs {
			if !found[k] && entryMatches(name, fsc.s.specs[i].Entry) {
				found[k] = true
				fsc.s.hits[i] = append(fsc.s.hits[i], loc)
			}
		}
		if !ziputil.IsArchiveName(name) {
			continue
		}
		nested := loc + "!" + name
		if depth+1 > MaxArchiveDepth {
			problems.Addf("%s: nested deeper than %d archives: not read", nested, MaxArchiveDepth)
			continue
		}
		if err := fsc.nested(f, ra, nested, depth+1, problems); err != nil {
			if fsc.ctx.Err() != nil {
				return err
			}
			problems.Addf("%s: %v", nested, err)
		}
	}
	return nil
}

// entryMatches reports whether an archive entry is the wanted one, at the
// archive's root or below a prefix: WEB-INF/classes/, BOOT-INF/classes/,
// or the package prefix of a shaded and relocated copy, which runs the
// same code.
func entryMatches(name, entry string) bool {
	if !strings.HasSuffix(name, entry) {
		return false
	}
	return len(name) == len(entry) || name[len(name)-len(entry)-1] == '/'
}

func (fsc *fileScan) nested(f *zip.File, parent io.ReaderAt, loc string, depth int, problems *plugin.Problems) error {
	if f.Method == zip.Store && f.CompressedSize64 == f.UncompressedSize64 {
		off, err := f.DataOffset()
		if err != nil {
			return err
		}
		sr := io.NewSectionReader(parent, off, int64(f.UncompressedSize64))
		zr, err := fsc.open(sr, sr.Size())
		if err != nil {
			return fmt.Errorf("open archive: %w", err)
		}
		return fsc.walk(zr, sr, loc, depth, problems)
	}
	size := f.UncompressedSize64
	if size > MaxNestedSize {
		return fmt.Errorf("%w: %d bytes compressed nested archive, limit %d", errLimit, size, MaxNestedSize)
	}
	if int64(size) > fsc.budget {
		return fmt.Errorf("%w: more than %d bytes decompressed", errLimit, int64(MaxDecompressed))
	}
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, int64(size)))
	if err != nil {
		return fmt.Errorf("decompress: %w", err)
	}
	fsc.budget -= int64(len(data))
	br := bytes.NewReader(data)
	zr, err := fsc.open(br, int64(len(data)))
	if err != nil {
		return fmt.Errorf("open archive: %w", err)
	}
	return fsc.walk(zr, br, loc, depth, problems)
}
