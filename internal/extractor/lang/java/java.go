// Package java extracts Maven artifacts from Java archives (jar, war, ear
// and zip files, with the archives nested in them).
//
// In each archive, every META-INF/maven/<groupId>/<artifactId>/pom.properties
// names one artifact (a fat or shaded jar carries one per bundled
// artifact). An archive without any falls back to its MANIFEST.MF and its
// file name: "log4j-core-2.14.1.jar" gives artifactId "log4j-core" and
// version "2.14.1", Implementation-Version or Bundle-Version the version
// when set, and Implementation-Vendor-Id the groupId. Without a groupId
// the package is named by its artifactId alone: a name OSV cannot match,
// rather than a guessed one that could match the wrong artifact.
//
// Nested archives are read recursively, to depth MaxDepth, within bounds on
// entries and decompressed bytes, so that zip bombs stop early. Stored
// (uncompressed) nested archives, as Spring Boot writes them, are read in
// place without copying.
package java

import (
	"archive/zip"
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/vigilsec/vigil/internal/extractor"
	"github.com/vigilsec/vigil/internal/extractor/lang/internal/langutil"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
	"github.com/vigilsec/vigil/internal/ziputil"
)

// Name is the extractor's name.
const Name = "lang/java"

// Limits on what one scanned archive may make the extractor do.
const (
	// MaxSize bounds the archives looked at.
	MaxSize = 4 << 30
	// MaxDepth is how deep archives nest: an archive in the scanned
	// file is at depth 1.
	MaxDepth = 4
	// MaxEntries bounds the entries of one archive's central directory
	// (the largest real fat jars have about 60,000) and MaxTotalEntries
	// those of the scanned file and all archives nested in it.
	MaxEntries      = 200_000
	MaxTotalEntries = 1_000_000
	// MaxDecompressed bounds the bytes decompressed (nested archives and
	// metadata files) for one scanned file.
	MaxDecompressed = 1 << 30
	// maxMeta bounds one pom.properties or MANIFEST.MF.
	maxMeta = 1 << 20
	// maxInMemory: compressed nested archives up to this size are
	// decompressed into memory, larger ones into a temporary file.
	maxInMemory = 8 << 20
	// maxCentralDir bounds the central directory read into memory.
	maxCentralDir = 64 << 20

	typ       = "maven"
	ecosystem = "Maven"
)

// ErrLimit is wrapped by errors for archives that exceed a limit above.
var ErrLimit = errors.New("archive limit exceeded")

// errStop marks limits that end the walk of the whole file (the total
// entry count); other limits skip one entry.
var errStop = errors.New("stopped")

type stopError struct{ error }

func (e stopError) Is(target error) bool { return target == errStop }

// Extractor reads Java archives.
type Extractor struct {
	// maxDecompressed overrides MaxDecompressed in tests.
	maxDecompressed int64
}

// New returns the Java archive extractor.
func New() extractor.Extractor { return &Extractor{} }

func (*Extractor) Name() string                       { return Name }
func (*Extractor) Version() int                       { return 1 }
func (*Extractor) Requirements() *plugin.Capabilities { return &plugin.Capabilities{} }

// FileRequired reports whether the file is a regular file named like a
// Java archive.
func (*Extractor) FileRequired(p string, info fs.FileInfo) bool {
	if info != nil && (!info.Mode().IsRegular() || info.Size() > MaxSize) {
		return false
	}
	return ziputil.IsArchiveName(p)
}

// Extract reads one archive. A file that is not a zip archive is an
// error; problems in nested archives are reported per archive and the
// rest is still returned.
func (e *Extractor) Extract(ctx context.Context, in *extractor.ScanInput) (*inventory.Inventory, error) {
	ra, size, closeFn, err := langutil.ReaderAt(in, MaxSize)
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", in.Path, err)
	}
	defer closeFn()
	w := &walker{ctx: ctx, budget: cmp.Or(e.maxDecompressed, MaxDecompressed), seen: map[seenKey]bool{}}
	w.limit = w.budget
	zr, err := w.open(ra, size)
	if err != nil {
		return nil, fmt.Errorf("open archive %q: %w", in.Path, err)
	}
	if err := w.walk(zr, ra, in.Path, 0); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		w.problems.Addf("%s: %v", in.Path, err)
	}
	return &inventory.Inventory{Packages: w.pkgs}, w.problems.Err()
}

type seenKey struct{ name, version, loc string }

type walker struct {
	ctx      context.Context
	budget   int64 // bytes still allowed to be decompressed
	limit    int64 // the initial budget
	entries  int
	pkgs     []inventory.Package
	seen     map[seenKey]bool
	problems plugin.Problems
}

// open reads a zip archive's directory after checking, from its end
// record, that the directory is within bounds.
func (w *walker) open(ra io.ReaderAt, size int64) (*zip.Reader, error) {
	n, dirSize, err := ziputil.DirectorySize(ra, size)
	if err != nil {
		return nil, err
	}
	if n > MaxEntries {
		return nil, fmt.Errorf("%w: %d entries, limit %d", ErrLimit, n, MaxEntries)
	}
	if dirSize > maxCentralDir {
		return nil, fmt.Errorf("%w: central directory of %d bytes, limit %d", ErrLimit, dirSize, maxCentralDir)
	}
	if w.entries += int(n); w.entries > MaxTotalEntries {
		return nil, stopError{fmt.Errorf("%w: more than %d entries in all", ErrLimit, MaxTotalEntries)}
	}
	zr, err := zip.NewReader(ra, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, err
	}
	return zr, nil
}

// walk reads one archive at loc, depth levels below the scanned file.
// Problems with single entries are recorded; the error is for a reason to
// stop reading (cancellation, an exhausted budget).
func (w *walker) walk(zr *zip.Reader, ra io.ReaderAt, loc string, depth int) error {
	var manifest map[string]string
	found := 0
	for i, f := range zr.File {
		if i%256 == 0 {
			if err := w.ctx.Err(); err != nil {
				return err
			}
		}
		name := f.Name
		if strings.HasSuffix(name, "/") {
			continue
		}
		if !safeName(name) {
			w.problems.Addf("%s: entry %q: unsafe name", loc, name)
			continue
		}
		switch {
		case isPomProperties(name):
			data, err := w.readMeta(f)
			if err != nil {
				w.problems.Addf("%s: read %q: %v", loc, name, err)
				continue
			}
			a, err := ParsePomProperties(data)
			if err != nil {
				w.problems.Addf("%s: %s: %v", loc, name, err)
				continue
			}
			w.add(a, loc)
			found++
		case name == "META-INF/MANIFEST.MF":
			data, err := w.readMeta(f)
			if err != nil {
				w.problems.Addf("%s: read %q: %v", loc, name, err)
				continue
			}
			manifest = ParseManifest(data)
		case ziputil.IsArchiveName(name):
			nested := loc + "!" + name
			if depth+1 > MaxDepth {
				w.problems.Addf("%s: nested deeper than %d archives: not read", nested, MaxDepth)
				continue
			}
			if err := w.nested(f, ra, nested, depth+1); err != nil {
				if errors.Is(err, errStop) || w.ctx.Err() != nil {
					return err
				}
				w.problems.Addf("%s: %v", nested, err)
			}
		}
	}
	if found == 0 {
		if a, ok := fromManifest(manifest, loc); ok {
			w.add(a, loc)
		}
	}
	return nil
}

// nested opens and walks an archive stored in another one.
func (w *walker) nested(f *zip.File, parent io.ReaderAt, loc string, depth int) error {
	if f.Method == zip.Store && f.CompressedSize64 == f.UncompressedSize64 {
		// Read in place: no copy, nothing decompressed.
		off, err := f.DataOffset()
		if err != nil {
			return err
		}
		sr := io.NewSectionReader(parent, off, int64(f.UncompressedSize64))
		zr, err := w.open(sr, sr.Size())
		if err != nil {
			return fmt.Errorf("open archive: %w", err)
		}
		return w.walk(zr, sr, loc, depth)
	}
	size := f.UncompressedSize64
	if size > uint64(w.budget) {
		return fmt.Errorf("%w: %d bytes to decompress, %d left of %d", ErrLimit, size, w.budget, w.limit)
	}
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer rc.Close()
	var ra io.ReaderAt
	var n int64
	if size <= maxInMemory {
		data, err := io.ReadAll(io.LimitReader(rc, int64(size)))
		if err != nil {
			return fmt.Errorf("decompress: %w", err)
		}
		ra, n = bytes.NewReader(data), int64(len(data))
	} else {
		var closeFn func() error
		ra, n, closeFn, err = langutil.Spool(rc, int64(size))
		if err != nil {
			return fmt.Errorf("decompress: %w", err)
		}
		defer closeFn()
	}
	w.budget -= n
	zr, err := w.open(ra, n)
	if err != nil {
		return fmt.Errorf("open archive: %w", err)
	}
	return w.walk(zr, ra, loc, depth)
}

// readMeta reads a small metadata entry within the bounds.
func (w *walker) readMeta(f *zip.File) ([]byte, error) {
	if f.UncompressedSize64 > maxMeta {
		return nil, fmt.Errorf("%d bytes, limit %d", f.UncompressedSize64, maxMeta)
	}
	if int64(f.UncompressedSize64) > w.budget {
		return nil, fmt.Errorf("%w: decompressed more than %d bytes", ErrLimit, w.limit)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxMeta))
	w.budget -= int64(len(data))
	return data, err
}

func (w *walker) add(a Artifact, loc string) {
	name := a.ArtifactID
	if a.GroupID != "" {
		name = a.GroupID + ":" + a.ArtifactID
	}
	k := seenKey{name, a.Version, loc}
	if w.seen[k] {
		return
	}
	w.seen[k] = true
	w.pkgs = append(w.pkgs, langutil.Package(typ, ecosystem, name, a.Version,
		langutil.PURL(typ, a.GroupID, a.ArtifactID, a.Version), loc))
}

// safeName rejects absolute entry names and names with ".." elements.
// Nothing is ever written by entry name; such entries are reported
// because no real archive has them.
func safeName(name string) bool {
	if name == "" || name[0] == '/' || name[0] == '\\' {
		return false
	}
	for _, e := range strings.FieldsFunc(name, func(r rune) bool { return r == '/' || r == '\\' }) {
		if e == ".." {
			return false
		}
	}
	return true
}

func isPomProperties(name string) bool {
	rest, ok := strings.CutPrefix(name, "META-INF/maven/")
	if !ok || !strings.HasSuffix(rest, "/pom.properties") {
		return false
	}
	return strings.Count(rest, "/") == 2
}

// Artifact is a Maven artifact's coordinates.
type Artifact struct {
	GroupID, ArtifactID, Version string
}

// ParsePomProperties reads the coordinates in a pom.properties file, a
// Java properties file that Maven writes as
//
//	#Created by Apache Maven 3.6.3
//	version=2.14.1
//	groupId=org.apache.logging.log4j
//	artifactId=log4j-core
func ParsePomProperties(data []byte) (Artifact, error) {
	var a Artifact
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, maxMeta)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		i := strings.IndexAny(line, "=:")
		if i < 0 {
			continue
		}
		k, v := strings.TrimSpace(line[:i]), strings.TrimSpace(line[i+1:])
		switch k {
		case "groupId":
			a.GroupID = v
		case "artifactId":
			a.ArtifactID = v
		case "version":
			a.Version = v
		}
	}
	if err := sc.Err(); err != nil {
		return Artifact{}, err
	}
	switch {
	case a.GroupID == "":
		return Artifact{}, errors.New("no groupId")
	case a.ArtifactID == "":
		return Artifact{}, errors.New("no artifactId")
	case a.Version == "":
		return Artifact{}, errors.New("no version")
	case !validCoord(a.GroupID) || !validCoord(a.ArtifactID) || !validCoord(a.Version):
		return Artifact{}, fmt.Errorf("malformed coordinates %q:%q:%q", a.GroupID, a.ArtifactID, a.Version)
	}
	return a, nil
}

// validCoord rejects values no Maven coordinate has: whitespace, the
// separators ":" and "/", and control bytes.
func validCoord(s string) bool {
	for _, r := range s {
		if r <= ' ' || r == ':' || r == '/' || r == 0x7f {
			return false
		}
	}
	return s != ""
}

// ParseManifest reads the main section of a MANIFEST.MF: "Name: value"
// lines, continued on lines starting with one space, up to the first
// empty line.
func ParseManifest(data []byte) map[string]string {
	m := map[string]string{}
	last := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, maxMeta)
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if line == "" {
			break
		}
		if line[0] == ' ' {
			if last != "" {
				m[last] += line[1:]
			}
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			last = ""
			continue
		}
		last = strings.TrimSpace(k)
		m[last] = strings.TrimSpace(v)
	}
	return m
}

// fromManifest names the artifact of an archive without pom.properties
// from its manifest and file name.
func fromManifest(m map[string]string, loc string) (Artifact, bool) {
	base := loc
	if i := strings.LastIndexByte(base, '!'); i >= 0 {
		base = base[i+1:]
	}
	artifact, version := SplitFileName(path.Base(base))
	// "Bundle-SymbolicName: org.foo.bar;singleton:=true" names an OSGi
	// bundle better than a file name without a version does.
	bsn, _, _ := strings.Cut(m["Bundle-SymbolicName"], ";")
	if bsn = strings.TrimSpace(bsn); bsn != "" && (artifact == "" || version == "") {
		artifact = bsn
	}
	if v := m["Implementation-Version"]; v != "" {
		version = v
	} else if v := m["Bundle-Version"]; v != "" {
		version = v
	}
	group := m["Implementation-Vendor-Id"]
	if group != "" && !validCoord(group) {
		group = ""
	}
	if !validCoord(artifact) || !validCoord(version) {
		return Artifact{}, false
	}
	return Artifact{GroupID: group, ArtifactID: artifact, Version: version}, true
}

// SplitFileName splits an archive's file name at the first "-" followed
// by a digit: "log4j-core-2.14.1.jar" is artifact "log4j-core", version
// "2.14.1"; "guava-31.1-jre.jar" is "guava", "31.1-jre". A name without
// such a dash is all artifact, with no version.
func SplitFileName(name string) (artifact, version string) {
	name = name[:len(name)-len(path.Ext(name))]
	for i := 0; i+1 < len(name); i++ {
		if name[i] == '-' && name[i+1] >= '0' && name[i+1] <= '9' {
			return name[:i], name[i+1:]
		}
	}
	return name, ""
}
