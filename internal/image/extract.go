package image

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/maphash"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Stats counts what Extract wrote and skipped.
type Stats struct {
	Layers    int   `json:"layers"`
	Entries   int   `json:"entries"`
	Files     int   `json:"files"`
	Dirs      int   `json:"dirs"`
	Symlinks  int   `json:"symlinks"`
	Hardlinks int   `json:"hardlinks"`
	Whiteouts int   `json:"whiteouts"`
	Bytes     int64 `json:"bytes"`
	// SymlinksRewritten counts links whose target was absolute or climbed
	// above the root, rewritten to resolve inside the destination.
	SymlinksRewritten int `json:"symlinks_rewritten"`
	// ModesCleared counts entries whose setuid, setgid or sticky bit was
	// cleared.
	ModesCleared int `json:"modes_cleared"`
	// Skipped counts entries not written, by reason: "device", "fifo",
	// "too-large", "unsupported-type", "aufs-metadata", "link-to-skipped".
	Skipped map[string]int `json:"skipped,omitempty"`
	// SkippedEntries names the first maxSkippedEntries of them.
	SkippedEntries []SkippedEntry `json:"skipped_entries,omitempty"`
}

// SkippedEntry is one entry Extract did not write.
type SkippedEntry struct {
	Layer  string `json:"layer"`
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

const maxSkippedEntries = 100

// EntryError is an error about one entry of one layer.
type EntryError struct {
	Image, Layer, Entry string
	Err                 error
}

func (e *EntryError) Error() string {
	return fmt.Sprintf("image %q: layer %s: entry %q: %v", e.Image, e.Layer, e.Entry, e.Err)
}

func (e *EntryError) Unwrap() error { return e.Err }

// Extract applies the image's layers in order into dest, an existing
// (normally empty) directory the caller owns and removes. On error, dest
// holds a partial tree.
func (img *Image) Extract(ctx context.Context, dest string) (*Stats, error) {
	root, err := os.OpenRoot(dest)
	if err != nil {
		return nil, fmt.Errorf("image %q: %w", img.Name, err)
	}
	defer root.Close()
	x := newExtractor(root, img.limits, img.Name)
	for _, l := range img.Layers {
		if err := ctx.Err(); err != nil {
			return x.stats, err
		}
		rc, _, err := img.blobs.open(l.path)
		if err != nil {
			return x.stats, fmt.Errorf("image %q: layer %s: %w", img.Name, l.Digest, err)
		}
		err = x.applyLayer(ctx, l.Digest, l.DiffID, rc)
		rc.Close()
		if err != nil {
			return x.stats, err
		}
	}
	return x.stats, nil
}

type extractor struct {
	root  *os.Root
	lim   Limits
	image string
	layer string
	stats *Stats

	// read counts the uncompressed bytes of all layers so far.
	read int64
	// layerPaths holds hashes of the real paths created by the current
	// layer and their ancestors: whiteouts and opaque markers apply to
	// lower layers only.
	layerPaths map[uint64]struct{}
	// skipped holds hashes of skipped entries, so a hard link to one is
	// skipped too rather than failing.
	skipped map[uint64]struct{}
	seed    maphash.Seed
	buf     []byte
	br      *bufio.Reader

	// lastDir caches the last resolved parent directory: tar entries come
	// grouped by directory. Any removal or new symlink resets it.
	lastDir, lastReal string
	lastOK            bool
}

func newExtractor(root *os.Root, lim Limits, image string) *extractor {
	return &extractor{
		root: root, lim: lim.withDefaults(), image: image,
		stats:   &Stats{Skipped: map[string]int{}},
		skipped: map[uint64]struct{}{},
		seed:    maphash.MakeSeed(),
		buf:     make([]byte, 256<<10),
	}
}

// limitedReader fails once more than max bytes have been read through it.
type limitedReader struct {
	r   io.Reader
	n   *int64
	max int64
}

var errTooBig = errors.New("too big")

func (l *limitedReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	*l.n += int64(n)
	if *l.n > l.max {
		return n, errTooBig
	}
	return n, err
}

// zstdMaxWindow bounds the zstd window (the decoder's memory): 128 MiB is
// what `zstd --ultra -22` uses; ordinary levels use 8 MiB or less.
const zstdMaxWindow = 128 << 20

// applyLayer decompresses one layer blob and applies its entries. It
// checks the uncompressed digest against diffID when one is given.
func (x *extractor) applyLayer(ctx context.Context, digest, diffID string, blob io.Reader) error {
	x.layer = digest
	x.layerPaths = make(map[uint64]struct{})
	x.lastOK = false
	x.stats.Layers++
	layerErr := func(err error) error {
		return fmt.Errorf("image %q: layer %s: %w", x.image, digest, err)
	}
	if x.br == nil {
		x.br = bufio.NewReaderSize(blob, 64<<10)
	} else {
		x.br.Reset(blob)
	}
	magic, err := x.br.Peek(4)
	if err != nil && len(magic) == 0 && err != io.EOF {
		return layerErr(err)
	}
	var r io.Reader
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(x.br)
		if err != nil {
			return layerErr(fmt.Errorf("gzip: %w", err))
		}
		defer zr.Close()
		r = zr
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(x.br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(zstdMaxWindow))
		if err != nil {
			return layerErr(fmt.Errorf("zstd: %w", err))
		}
		defer zr.Close()
		r = zr
	case bytes.HasPrefix(magic, []byte("BZh")), bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X'}):
		return layerErr(errors.New("unsupported layer compression (bzip2 or xz)"))
	default:
		r = x.br
	}
	var h hash.Hash
	if diffID != "" {
		h = sha256.New()
		r = io.TeeReader(r, h)
	}
	lr := &limitedReader{r: r, n: &x.read, max: x.lim.MaxTotalBytes}
	tooBig := func() error {
		return layerErr(fmt.Errorf("uncompressed layers exceed the limit of %d bytes: %w", x.lim.MaxTotalBytes, ErrLimit))
	}
	tr := tar.NewReader(lr)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if errors.Is(err, errTooBig) {
			return tooBig()
		}
		if err != nil {
			return layerErr(fmt.Errorf("read tar: %w", err))
		}
		x.stats.Entries++
		if x.stats.Entries > x.lim.MaxEntries {
			return layerErr(fmt.Errorf("more than %d entries: %w", x.lim.MaxEntries, ErrLimit))
		}
		if err := x.applyEntry(hdr, tr); err != nil {
			if errors.Is(err, errTooBig) {
				return tooBig()
			}
			return &EntryError{Image: x.image, Layer: digest, Entry: hdr.Name, Err: err}
		}
	}
	// Read the tar's end padding so the digest covers the whole stream.
	if _, err := io.CopyBuffer(io.Discard, lr, x.buf); err != nil {
		if errors.Is(err, errTooBig) {
			return tooBig()
		}
		return layerErr(fmt.Errorf("read tar: %w", err))
	}
	if h != nil {
		if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != diffID {
			return layerErr(fmt.Errorf("uncompressed content has digest %s, config says %s", got, diffID))
		}
	}
	return nil
}

// cleanName validates an entry name and returns it relative to the root,
// "" for the root itself.
func cleanName(n string) (string, error) {
	if strings.HasPrefix(n, "/") {
		return "", fmt.Errorf("absolute name: %w", ErrUnsafeEntry)
	}
	if strings.IndexByte(n, 0) >= 0 {
		return "", fmt.Errorf("NUL in name: %w", ErrUnsafeEntry)
	}
	for _, e := range strings.Split(n, "/") {
		if e == ".." {
			return "", fmt.Errorf("name has a .. element: %w", ErrUnsafeEntry)
		}
	}
	c := path.Clean(n)
	if c == "." {
		return "", nil
	}
	return c, nil
}

func join(dir, base string) string {
	if dir == "" {
		return base
	}
	return dir + "/" + base
}

// rootName turns an internal path ("" = root) into a name for os.Root.
func rootName(p string) string {
	if p == "" {
		return "."
	}
	return p
}

func (x *extractor) key(p string) uint64 { return maphash.String(x.seed, p) }

// mark records p and its ancestors as created by the current layer.
func (x *extractor) mark(p string) {
	for p != "" {
		k := x.key(p)
		if _, ok := x.layerPaths[k]; ok {
			return
		}
		x.layerPaths[k] = struct{}{}
		i := strings.LastIndexByte(p, '/')
		if i < 0 {
			return
		}
		p = p[:i]
	}
}

func (x *extractor) marked(p string) bool {
	_, ok := x.layerPaths[x.key(p)]
	return ok
}

func (x *extractor) skip(name, reason string) {
	x.stats.Skipped[reason]++
	if len(x.stats.SkippedEntries) < maxSkippedEntries {
		x.stats.SkippedEntries = append(x.stats.SkippedEntries, SkippedEntry{Layer: x.layer, Name: name, Reason: reason})
	}
}

// maxSymlinks bounds the links followed while resolving one path, as
// Linux's ELOOP does (40).
const maxSymlinks = 40

// resolve returns the real path of p inside the root: symbolic links are
// followed the way the container would see them (absolute targets from
// the image root, ".." stopping at the root). Components that do not
// exist are kept as they are.
func (x *extractor) resolve(p string) (string, error) {
	if p == "" {
		return "", nil
	}
	if x.lastOK && p == x.lastDir {
		return x.lastReal, nil
	}
	parts := strings.Split(p, "/")
	var cur []string
	links := 0
	missing := false
	for len(parts) > 0 {
		c := parts[0]
		parts = parts[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(cur) > 0 {
				cur = cur[:len(cur)-1]
			}
			continue
		}
		next := strings.Join(append(cur, c), "/")
		if missing {
			cur = append(cur, c)
			continue
		}
		fi, err := x.root.Lstat(next)
		if errors.Is(err, fs.ErrNotExist) {
			missing = true
			cur = append(cur, c)
			continue
		}
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			cur = append(cur, c)
			continue
		}
		links++
		if links > maxSymlinks {
			return "", fmt.Errorf("more than %d symbolic links in %q", maxSymlinks, p)
		}
		t, err := x.root.Readlink(next)
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(t, "/") {
			cur = cur[:0]
		}
		parts = append(strings.Split(t, "/"), parts...)
	}
	real := strings.Join(cur, "/")
	x.lastDir, x.lastReal, x.lastOK = p, real, true
	return real, nil
}

// linkTarget rewrites the target of a symlink whose real parent directory
// is dir into a clean relative target that resolves inside the root: an
// absolute target is taken from the root, ".." stops at the root.
func linkTarget(dir, target string) string {
	var abs []string
	if !strings.HasPrefix(target, "/") && dir != "" {
		abs = strings.Split(dir, "/")
	}
	for _, c := range strings.Split(target, "/") {
		switch c {
		case "", ".":
		case "..":
			if len(abs) > 0 {
				abs = abs[:len(abs)-1]
			}
		default:
			abs = append(abs, c)
		}
	}
	var from []string
	if dir != "" {
		from = strings.Split(dir, "/")
	}
	i := 0
	for i < len(from) && i < len(abs) && from[i] == abs[i] {
		i++
	}
	rel := make([]string, 0, len(from)-i+len(abs)-i)
	for range from[i:] {
		rel = append(rel, "..")
	}
	rel = append(rel, abs[i:]...)
	if len(rel) == 0 {
		return "."
	}
	return strings.Join(rel, "/")
}

// perm keeps the permission bits of a tar mode, dropping setuid, setgid
// and sticky, and adds what we need to write into and remove the tree.
func (x *extractor) perm(mode int64, need fs.FileMode) fs.FileMode {
	if mode&0o7000 != 0 {
		x.stats.ModesCleared++
	}
	return fs.FileMode(mode)&0o777 | need
}

// clear removes whatever is at p (not following a symlink there) unless
// keepDir and it is a directory. It reports whether a directory was kept.
func (x *extractor) clear(p string, keepDir bool) (bool, error) {
	fi, err := x.root.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if keepDir && fi.IsDir() {
		return true, nil
	}
	x.lastOK = false
	return false, x.root.RemoveAll(p)
}

func (x *extractor) applyEntry(hdr *tar.Header, tr *tar.Reader) error {
	name, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	if name == "" {
		if hdr.Typeflag == tar.TypeDir {
			return nil // the root's own entry: keep the destination's mode
		}
		return fmt.Errorf("entry replaces the root: %w", ErrUnsafeEntry)
	}
	dir, base := path.Split(name)
	dir = strings.TrimSuffix(dir, "/")
	if strings.HasPrefix(base, ".wh.") {
		return x.whiteout(hdr.Name, dir, base)
	}
	parent, err := x.resolve(dir)
	if err != nil {
		return err
	}
	target := join(parent, base)

	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := x.mkdirParent(parent); err != nil {
			return err
		}
		perm := x.perm(hdr.Mode, 0o700)
		kept, err := x.clear(target, true)
		if err != nil {
			return err
		}
		if !kept {
			if err := x.root.Mkdir(target, perm); err != nil {
				return err
			}
		}
		if err := x.root.Chmod(target, perm); err != nil {
			return err
		}
		x.stats.Dirs++

	case tar.TypeReg:
		if hdr.Size > x.lim.MaxFileSize {
			x.skip(hdr.Name, "too-large")
			x.skipped[x.key(target)] = struct{}{}
			return nil
		}
		if x.stats.Bytes+hdr.Size > x.lim.MaxTotalBytes {
			return errTooBig
		}
		if err := x.mkdirParent(parent); err != nil {
			return err
		}
		if _, err := x.clear(target, false); err != nil {
			return err
		}
		perm := x.perm(hdr.Mode, 0o600)
		// O_EXCL: never open an existing file or follow a link here.
		f, err := x.root.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
		if err != nil {
			return err
		}
		n, err := io.CopyBuffer(writerOnly{f}, tr, x.buf)
		x.stats.Bytes += n
		if err == nil {
			err = f.Chmod(perm)
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		x.stats.Files++

	case tar.TypeSymlink:
		if hdr.Linkname == "" {
			return errors.New("symbolic link with an empty target")
		}
		if err := x.mkdirParent(parent); err != nil {
			return err
		}
		t := linkTarget(parent, hdr.Linkname)
		if t != hdr.Linkname {
			x.stats.SymlinksRewritten++
		}
		if _, err := x.clear(target, false); err != nil {
			return err
		}
		x.lastOK = false
		if err := x.root.Symlink(t, target); err != nil {
			return err
		}
		x.stats.Symlinks++

	case tar.TypeLink:
		if err := x.hardlink(hdr, parent, target); err != nil {
			return err
		}

	case tar.TypeChar, tar.TypeBlock:
		x.skip(hdr.Name, "device")
		x.skipped[x.key(target)] = struct{}{}
		return nil
	case tar.TypeFifo:
		x.skip(hdr.Name, "fifo")
		x.skipped[x.key(target)] = struct{}{}
		return nil
	default:
		x.skip(hdr.Name, "unsupported-type")
		return nil
	}
	x.mark(target)
	return nil
}

// mkdirParent creates the (real) parent directory and any missing
// ancestors.
func (x *extractor) mkdirParent(parent string) error {
	if parent == "" {
		return nil
	}
	return x.root.MkdirAll(parent, 0o755)
}

func (x *extractor) hardlink(hdr *tar.Header, parent, target string) error {
	if strings.HasPrefix(hdr.Linkname, "/") {
		return fmt.Errorf("hard link to absolute path %q: %w", hdr.Linkname, ErrUnsafeEntry)
	}
	ln, err := cleanName(hdr.Linkname)
	if err != nil {
		return fmt.Errorf("hard link to %q: %w", hdr.Linkname, err)
	}
	if ln == "" {
		return fmt.Errorf("hard link to the root: %w", ErrUnsafeEntry)
	}
	ldir, lbase := path.Split(ln)
	lparent, err := x.resolve(strings.TrimSuffix(ldir, "/"))
	if err != nil {
		return err
	}
	src := join(lparent, lbase)
	if _, ok := x.skipped[x.key(src)]; ok {
		x.skip(hdr.Name, "link-to-skipped")
		x.skipped[x.key(target)] = struct{}{}
		return nil
	}
	fi, err := x.root.Lstat(src)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("hard link to %q, which is not extracted: %w", hdr.Linkname, ErrUnsafeEntry)
	}
	if err != nil {
		return err
	}
	if src == target {
		return nil
	}
	switch {
	case fi.Mode().IsRegular():
		if err := x.mkdirParent(parent); err != nil {
			return err
		}
		if _, err := x.clear(target, false); err != nil {
			return err
		}
		if err := x.root.Link(src, target); err != nil {
			return err
		}
		x.stats.Hardlinks++
	case fi.Mode()&fs.ModeSymlink != 0:
		// A hard link to a symlink would resolve its relative target
		// from another directory: make a new symlink instead.
		t, err := x.root.Readlink(src)
		if err != nil {
			return err
		}
		if err := x.mkdirParent(parent); err != nil {
			return err
		}
		if _, err := x.clear(target, false); err != nil {
			return err
		}
		x.lastOK = false
		if err := x.root.Symlink(linkTarget(parent, "/"+path.Join(lparent, t)), target); err != nil {
			return err
		}
		x.stats.Symlinks++
	default:
		return fmt.Errorf("hard link to %q, which is not a regular file", hdr.Linkname)
	}
	return nil
}

// whiteout applies an overlay whiteout: ".wh.NAME" deletes NAME from the
// lower layers, ".wh..wh..opq" empties its directory of them.
func (x *extractor) whiteout(entry, dir, base string) error {
	parent, err := x.resolve(dir)
	if err != nil {
		return err
	}
	if base == ".wh..wh..opq" {
		x.stats.Whiteouts++
		return x.opaque(parent)
	}
	if strings.HasPrefix(base, ".wh..wh.") {
		// AUFS hard-link metadata (.wh..wh.plnk and friends).
		x.skip(entry, "aufs-metadata")
		return nil
	}
	victim := strings.TrimPrefix(base, ".wh.")
	if victim == "" || victim == "." || victim == ".." {
		return fmt.Errorf("whiteout of %q: %w", victim, ErrUnsafeEntry)
	}
	x.stats.Whiteouts++
	t := join(parent, victim)
	if x.marked(t) {
		return nil
	}
	_, err = x.clear(t, false)
	return err
}

func (x *extractor) opaque(dir string) error {
	f, err := x.root.Open(rootName(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var victims []string
	for {
		ents, err := f.ReadDir(1024)
		for _, e := range ents {
			if c := join(dir, e.Name()); !x.marked(c) {
				victims = append(victims, c)
			}
		}
		if err == io.EOF || (err == nil && len(ents) == 0) {
			break
		}
		if err != nil {
			f.Close()
			return err
		}
	}
	f.Close()
	for _, v := range victims {
		x.lastOK = false
		if err := x.root.RemoveAll(v); err != nil {
			return err
		}
	}
	return nil
}

// writerOnly hides os.File's ReadFrom, so io.CopyBuffer uses our buffer
// instead of allocating one per file.
type writerOnly struct{ io.Writer }
