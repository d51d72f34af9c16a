// Package image loads container images and applies their layers into a
// directory, for scanners that read the image's file tree.
//
// Images come from a `docker save` tarball, an OCI image layout (a
// directory or its tar), or the local Docker engine (exported through the
// Engine API into a temporary docker save tarball). Manifests, indexes and
// configs are parsed with go-containerregistry's v1 types; blobs are read
// by this package, because go-containerregistry's tarball package rescans
// the whole archive for every file it opens (quadratic in the layer count
// for a 1 GB save), reads manifests and configs without a size bound, and
// computes a compressed digest for every uncompressed docker save layer as
// soon as the manifest is asked for. Here an archive is indexed once (the
// tar reader seeks over the data) and each blob is read in place through
// an io.SectionReader.
//
// # Extract to a directory, not a stream
//
// Image.Extract applies the layers in order into a directory the caller
// owns, rather than streaming entries to a callback, because a scanner
// needs what a stream cannot give: the final tree after every whiteout
// (a file deleted by a later layer must not be reported, and a stream sees
// it before it learns of the deletion); random access (an rpmdb is an
// SQLite or Berkeley DB file, Java archives and Go binaries are read with
// io.ReaderAt); and one file read relative to another (dpkg's status and
// info/*.list, symlinked os-release). A directory also lets every existing
// extractor run unchanged on an fs.FS, exactly as on a host root. Memory
// stays flat because every layer is streamed from the blob through the
// decompressor to disk with one fixed copy buffer; the price is disk space
// for the uncompressed tree, bounded by Limits.MaxTotalBytes.
//
// # Hostile input
//
// Every write goes through an os.Root opened on the destination, so no
// entry can create, follow or remove anything outside it. On top of that:
// names with a ".." element and absolute names are errors; symbolic links
// are rewritten into relative links that resolve inside the destination
// the way they would inside the container (an absolute target is taken
// from the image root, ".." stops at the root), so the tree stays safe to
// read with os.DirFS; hard links must name an entry already extracted
// inside the destination; device nodes and FIFOs are skipped and counted;
// setuid, setgid and sticky bits are cleared; the layer count, the
// uncompressed bytes, the size of one file, the number of entries and the
// size of manifests and configs are all bounded (Limits). Errors name the
// image, the layer digest and the entry, and wrap ErrUnsafeEntry or
// ErrLimit so callers can branch on them.
package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Format says where an image was loaded from.
type Format string

const (
	// FormatDockerArchive is a `docker save` tarball (manifest.json).
	FormatDockerArchive Format = "docker-archive"
	// FormatOCILayout is an OCI image layout directory (index.json).
	FormatOCILayout Format = "oci-layout"
	// FormatOCIArchive is a tar of an OCI image layout.
	FormatOCIArchive Format = "oci-archive"
	// FormatDockerDaemon is an image exported from the local Docker engine.
	FormatDockerDaemon Format = "docker-daemon"
)

var (
	// ErrUnsafeEntry is wrapped by errors about entries that would write
	// outside the destination or through a link: ".." and absolute names,
	// hard links to outside or missing paths.
	ErrUnsafeEntry = errors.New("unsafe entry")
	// ErrLimit is wrapped by errors about inputs that exceed a Limit.
	ErrLimit = errors.New("limit exceeded")
	// ErrNoOS is returned by DetectOS when the tree has no os-release.
	ErrNoOS = errors.New("no os-release file")
)

// Limits bound what loading and extracting an image may consume. A zero
// field takes its value from DefaultLimits.
type Limits struct {
	// MaxLayers bounds the number of layers in a manifest.
	MaxLayers int
	// MaxTotalBytes bounds the uncompressed bytes of all layers together
	// (tar headers included), and so the disk space Extract uses. It is
	// what stops a gzip bomb.
	MaxTotalBytes int64
	// MaxFileSize bounds one regular file; a larger file is skipped and
	// counted (Stats.Skipped["too-large"]), not written.
	MaxFileSize int64
	// MaxEntries bounds the tar entries of all layers together.
	MaxEntries int
	// MaxMetadataSize bounds manifest.json, index.json, image manifests
	// and config blobs.
	MaxMetadataSize int64
}

// DefaultLimits are generous for real images: Docker's overlay2 driver
// stops at 128 layers, and the largest public images (CUDA, ML
// frameworks) stay under 4 GiB uncompressed and a few 100k files.
var DefaultLimits = Limits{
	MaxLayers:       1000,
	MaxTotalBytes:   4 << 30,
	MaxFileSize:     1 << 30,
	MaxEntries:      2_000_000,
	MaxMetadataSize: 16 << 20,
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.MaxLayers > 0 {
		d.MaxLayers = l.MaxLayers
	}
	if l.MaxTotalBytes > 0 {
		d.MaxTotalBytes = l.MaxTotalBytes
	}
	if l.MaxFileSize > 0 {
		d.MaxFileSize = l.MaxFileSize
	}
	if l.MaxEntries > 0 {
		d.MaxEntries = l.MaxEntries
	}
	if l.MaxMetadataSize > 0 {
		d.MaxMetadataSize = l.MaxMetadataSize
	}
	return d
}

// Options configure loading. The zero value is usable.
type Options struct {
	Limits Limits
	// Tag chooses one image in an archive or layout holding several,
	// matched against RepoTags (docker save) or the ref.name and
	// io.containerd.image.name annotations (OCI), with Docker's
	// normalisation ("busybox" = "docker.io/library/busybox:latest").
	Tag string
	// Platform chooses the image of a multi-platform OCI index; the
	// default is linux and the architecture Vigil was built for.
	Platform *v1.Platform
	// DockerHost is the engine for daemon references; default
	// "unix:///var/run/docker.sock". Only unix sockets are supported.
	DockerHost string
	// TempDir holds the export of a daemon image; default os.TempDir().
	TempDir string
}

// Image is a loaded image: its metadata, and its layers ready to extract.
// Close releases the archive and removes any temporary export.
type Image struct {
	// Name is the path or reference the image was loaded from.
	Name   string
	Format Format
	// ID is the digest of the config blob, which Docker shows as the
	// image ID ("sha256:...").
	ID string
	// ManifestDigest is the digest of the image manifest; empty for a
	// legacy docker save tarball, which has none.
	ManifestDigest string
	// RepoTags are the names the image was saved under.
	RepoTags []string
	// Config is the image config: OS, architecture, Env, Entrypoint,
	// Cmd, history.
	Config *v1.ConfigFile
	// Layers are in order, base first.
	Layers []Layer

	blobs   blobStore
	limits  Limits
	cleanup []func() error
}

// Layer is one filesystem layer of an image.
type Layer struct {
	// Digest is the digest of the blob as stored (compressed for most OCI
	// layers); for a legacy docker save layer it equals DiffID.
	Digest string
	// DiffID is the digest of the uncompressed tar, from the config; it
	// is verified while extracting.
	DiffID    string
	MediaType string
	// Size is the stored blob size, or -1 when unknown.
	Size int64
	path string
}

// blobStore reads named files of an archive or layout directory.
type blobStore interface {
	// open returns a regular file's content and size; a missing file
	// gives an error wrapping fs.ErrNotExist.
	open(name string) (io.ReadCloser, int64, error)
	close() error
}

// Open loads the image named by ref: an existing directory is read as an
// OCI layout, an existing file as a docker save or OCI archive, anything
// else as a reference to an image in the local Docker engine.
func Open(ctx context.Context, ref string, opts *Options) (*Image, error) {
	fi, err := os.Stat(ref)
	switch {
	case err == nil && fi.IsDir():
		return OpenLayout(ref, opts)
	case err == nil:
		return OpenArchive(ref, opts)
	case errors.Is(err, fs.ErrNotExist) && validReference(ref):
		return OpenDaemon(ctx, ref, opts)
	default:
		return nil, fmt.Errorf("open image %q: %w", ref, err)
	}
}

// OpenArchive loads a `docker save` tarball or a tar of an OCI layout.
// When the tar holds both (Docker 25 and later write both), the docker
// manifest.json is used, for its RepoTags.
func OpenArchive(path string, opts *Options) (*Image, error) {
	if opts == nil {
		opts = &Options{}
	}
	lim := opts.Limits.withDefaults()
	st, err := openTarStore(path, max(65536, 4*lim.MaxLayers))
	if err != nil {
		return nil, fmt.Errorf("image %q: %w", path, err)
	}
	var img *Image
	switch {
	case st.has("manifest.json"):
		img, err = loadDocker(st, path, opts, lim)
	case st.has("index.json"):
		img, err = loadOCI(st, path, FormatOCIArchive, opts, lim)
	default:
		err = fmt.Errorf("image %q: neither manifest.json nor index.json: not a docker save or OCI archive", path)
	}
	if err != nil {
		st.close()
		return nil, err
	}
	return img, nil
}

// OpenLayout loads an OCI image layout directory (or an unpacked docker
// save tarball, if it has no index.json).
func OpenLayout(dir string, opts *Options) (*Image, error) {
	if opts == nil {
		opts = &Options{}
	}
	lim := opts.Limits.withDefaults()
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("image %q: %w", dir, err)
	}
	st := dirStore{root}
	var img *Image
	switch {
	case st.has("index.json"):
		img, err = loadOCI(st, dir, FormatOCILayout, opts, lim)
	case st.has("manifest.json"):
		img, err = loadDocker(st, dir, opts, lim)
	default:
		err = fmt.Errorf("image %q: neither index.json nor manifest.json: not an OCI layout", dir)
	}
	if err != nil {
		st.close()
		return nil, err
	}
	return img, nil
}

// Close releases the image's files.
func (img *Image) Close() error {
	var errs []error
	if img.blobs != nil {
		errs = append(errs, img.blobs.close())
	}
	for _, f := range img.cleanup {
		errs = append(errs, f())
	}
	return errors.Join(errs...)
}

// readMeta reads a small metadata file, bounded by max.
func readMeta(st blobStore, name string, max int64) ([]byte, error) {
	rc, size, err := st.open(name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if size > max {
		return nil, fmt.Errorf("%s is %d bytes, more than the limit of %d: %w", name, size, max, ErrLimit)
	}
	b, err := io.ReadAll(io.LimitReader(rc, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is more than the limit of %d bytes: %w", name, max, ErrLimit)
	}
	return b, nil
}

// readBlob reads a metadata blob of an OCI layout and checks its digest.
func readBlob(st blobStore, h v1.Hash, max int64) ([]byte, error) {
	b, err := readMeta(st, blobPath(h), max)
	if err != nil {
		return nil, err
	}
	if got := digestOf(b); got != h.String() {
		return nil, fmt.Errorf("blob %s has digest %s", h, got)
	}
	return b, nil
}

func blobPath(h v1.Hash) string { return "blobs/" + h.Algorithm + "/" + h.Hex }

func digestOf(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// loadDocker reads a docker save archive: manifest.json lists, per image,
// the config file, repo tags and layer tar files.
func loadDocker(st blobStore, src string, opts *Options, lim Limits) (*Image, error) {
	raw, err := readMeta(st, "manifest.json", lim.MaxMetadataSize)
	if err != nil {
		return nil, fmt.Errorf("image %q: %w", src, err)
	}
	var m tarball.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("image %q: parse manifest.json: %w", src, err)
	}
	var d *tarball.Descriptor
	switch {
	case opts.Tag != "":
		for i := range m {
			for _, t := range m[i].RepoTags {
				if sameRef(t, opts.Tag) {
					d = &m[i]
				}
			}
		}
		if d == nil {
			return nil, fmt.Errorf("image %q: no image tagged %q", src, opts.Tag)
		}
	case len(m) == 1:
		d = &m[0]
	case len(m) == 0:
		return nil, fmt.Errorf("image %q: manifest.json lists no image", src)
	default:
		return nil, fmt.Errorf("image %q: archive holds %d images; choose one by tag", src, len(m))
	}
	if len(d.Layers) > lim.MaxLayers {
		return nil, fmt.Errorf("image %q: manifest lists %d layers, more than the limit of %d: %w", src, len(d.Layers), lim.MaxLayers, ErrLimit)
	}
	cfgName := cleanArchiveName(d.Config)
	cfgRaw, err := readMeta(st, cfgName, lim.MaxMetadataSize)
	if err != nil {
		return nil, fmt.Errorf("image %q: config: %w", src, err)
	}
	id := digestOf(cfgRaw)
	// The config is named by its digest: "<hex>.json" before Docker 25,
	// "blobs/sha256/<hex>" since.
	if want, ok := digestFromName(cfgName); ok && want != id {
		return nil, fmt.Errorf("image %q: config %s has digest %s", src, cfgName, id)
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(cfgRaw))
	if err != nil {
		return nil, fmt.Errorf("image %q: parse config %s: %w", src, cfgName, err)
	}
	if len(cfg.RootFS.DiffIDs) != len(d.Layers) {
		return nil, fmt.Errorf("image %q: config lists %d diff_ids for %d layers", src, len(cfg.RootFS.DiffIDs), len(d.Layers))
	}
	img := &Image{Name: src, Format: FormatDockerArchive, ID: id, RepoTags: d.RepoTags, Config: cfg, blobs: st, limits: lim}
	for i, p := range d.Layers {
		p = cleanArchiveName(p)
		l := Layer{DiffID: cfg.RootFS.DiffIDs[i].String(), Size: -1, path: p}
		l.Digest = l.DiffID
		if dg, ok := digestFromName(p); ok && strings.HasPrefix(p, "blobs/") {
			l.Digest = dg
		}
		if src, ok := d.LayerSources[cfg.RootFS.DiffIDs[i]]; ok {
			l.MediaType = string(src.MediaType)
		}
		img.Layers = append(img.Layers, l)
	}
	return img, nil
}

// loadOCI reads an OCI image layout: index.json points (possibly through
// nested indexes) at image manifests.
func loadOCI(st blobStore, src string, format Format, opts *Options, lim Limits) (*Image, error) {
	raw, err := readMeta(st, "index.json", lim.MaxMetadataSize)
	if err != nil {
		return nil, fmt.Errorf("image %q: %w", src, err)
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("image %q: parse index.json: %w", src, err)
	}
	want := opts.Platform
	if want == nil {
		want = &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	}
	desc, err := pickManifest(st, idx, opts.Tag, want, lim, 0)
	if err != nil {
		return nil, fmt.Errorf("image %q: %w", src, err)
	}
	manRaw, err := readBlob(st, desc.Digest, lim.MaxMetadataSize)
	if err != nil {
		return nil, fmt.Errorf("image %q: manifest: %w", src, err)
	}
	man, err := v1.ParseManifest(bytes.NewReader(manRaw))
	if err != nil {
		return nil, fmt.Errorf("image %q: parse manifest %s: %w", src, desc.Digest, err)
	}
	if len(man.Layers) > lim.MaxLayers {
		return nil, fmt.Errorf("image %q: manifest %s lists %d layers, more than the limit of %d: %w", src, desc.Digest, len(man.Layers), lim.MaxLayers, ErrLimit)
	}
	cfgRaw, err := readBlob(st, man.Config.Digest, lim.MaxMetadataSize)
	if err != nil {
		return nil, fmt.Errorf("image %q: config: %w", src, err)
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(cfgRaw))
	if err != nil {
		return nil, fmt.Errorf("image %q: parse config %s: %w", src, man.Config.Digest, err)
	}
	if len(cfg.RootFS.DiffIDs) != len(man.Layers) {
		return nil, fmt.Errorf("image %q: config lists %d diff_ids for %d layers", src, len(cfg.RootFS.DiffIDs), len(man.Layers))
	}
	img := &Image{
		Name: src, Format: format, ID: man.Config.Digest.String(), ManifestDigest: desc.Digest.String(),
		Config: cfg, blobs: st, limits: lim,
	}
	for _, k := range []string{"io.containerd.image.name", "org.opencontainers.image.ref.name"} {
		if v := desc.Annotations[k]; v != "" && strings.ContainsAny(v, ":/@") {
			img.RepoTags = append(img.RepoTags, v)
			break
		}
	}
	for i, l := range man.Layers {
		img.Layers = append(img.Layers, Layer{
			Digest: l.Digest.String(), DiffID: cfg.RootFS.DiffIDs[i].String(),
			MediaType: string(l.MediaType), Size: l.Size, path: blobPath(l.Digest),
		})
	}
	return img, nil
}

// maxIndexDepth bounds nested indexes.
const maxIndexDepth = 4

// pickManifest chooses the image manifest of an index: the one matching
// tag, or the only one, or the one for the wanted platform.
func pickManifest(st blobStore, idx *v1.IndexManifest, tag string, want *v1.Platform, lim Limits, depth int) (v1.Descriptor, error) {
	if depth > maxIndexDepth {
		return v1.Descriptor{}, fmt.Errorf("indexes nested more than %d deep", maxIndexDepth)
	}
	var cands []v1.Descriptor
	for _, d := range idx.Manifests {
		if d.Annotations["vnd.docker.reference.type"] == "attestation-manifest" {
			continue
		}
		if tag != "" && depth == 0 && !sameRef(d.Annotations["io.containerd.image.name"], tag) &&
			!sameRef(d.Annotations["org.opencontainers.image.ref.name"], tag) {
			continue
		}
		cands = append(cands, d)
	}
	if len(cands) > 1 {
		var match []v1.Descriptor
		for _, d := range cands {
			if d.Platform != nil && d.Platform.OS == want.OS && d.Platform.Architecture == want.Architecture &&
				(want.Variant == "" || d.Platform.Variant == want.Variant) {
				match = append(match, d)
			}
		}
		if len(match) == 0 {
			return v1.Descriptor{}, fmt.Errorf("index holds %d images, none for %s/%s; choose one by tag or platform", len(cands), want.OS, want.Architecture)
		}
		cands = match[:1]
	}
	if len(cands) == 0 {
		if tag != "" {
			return v1.Descriptor{}, fmt.Errorf("no image tagged %q", tag)
		}
		return v1.Descriptor{}, errors.New("index lists no image")
	}
	d := cands[0]
	if !d.MediaType.IsIndex() {
		return d, nil
	}
	raw, err := readBlob(st, d.Digest, lim.MaxMetadataSize)
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("index: %w", err)
	}
	sub, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("parse index %s: %w", d.Digest, err)
	}
	got, err := pickManifest(st, sub, tag, want, lim, depth+1)
	if err == nil && got.Annotations == nil {
		// Keep the outer descriptor's names (ref.name is set on it).
		got.Annotations = d.Annotations
	}
	return got, err
}

// sameRef reports whether two image references name the same image, with
// Docker's defaults (docker.io, library/, :latest) applied.
func sameRef(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	if a == b {
		return true
	}
	ra, err1 := name.ParseReference(a, name.WeakValidation)
	rb, err2 := name.ParseReference(b, name.WeakValidation)
	return err1 == nil && err2 == nil && ra.Name() == rb.Name()
}

// cleanArchiveName normalises a file name in manifest.json.
func cleanArchiveName(n string) string {
	n = strings.TrimPrefix(n, "/")
	for strings.HasPrefix(n, "./") {
		n = n[2:]
	}
	return n
}

// digestFromName extracts the sha256 digest that names a docker save
// file: "blobs/sha256/<hex>" (Docker 25 and later), "<hex>.json" (before)
// or "sha256:<hex>" (go-containerregistry).
func digestFromName(n string) (string, bool) {
	var h string
	switch {
	case strings.HasPrefix(n, "blobs/sha256/"):
		h = strings.TrimPrefix(n, "blobs/sha256/")
	case strings.HasPrefix(n, "sha256:"):
		h = strings.TrimPrefix(n, "sha256:")
	case strings.HasSuffix(n, ".json"):
		h = strings.TrimSuffix(n, ".json")
	default:
		return "", false
	}
	if len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" {
		return "", false
	}
	return "sha256:" + h, true
}
