// Package python extracts installed Python distributions from their
// metadata: <name>-<version>.dist-info/METADATA (wheels, pip) and
// <name>.egg-info/PKG-INFO or a single-file <name>.egg-info (setuptools,
// Debian's python3-* packages), in any site-packages or dist-packages
// directory, virtual environments included.
//
// The package is named as its metadata writes it ("PyYAML"); its package
// URL carries the name normalised per PEP 503 ("pyyaml"), as do the names
// OSV's PyPI records use. It also holds the helpers the Python lockfile
// extractors share.
package python

import (
	"bufio"
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
)

// Name is the extractor's name.
const Name = "lang/python"

const (
	// maxLine bounds one header line of a metadata file; the header is
	// read up to the first empty line (the long description follows).
	maxLine = 1 << 20
	// maxHeader bounds the bytes of header read.
	maxHeader = 4 << 20

	// Type is the package-URL type and Ecosystem the OSV ecosystem of
	// Python packages.
	Type      = "pypi"
	Ecosystem = "PyPI"
)

// Extractor reads installed Python distributions' metadata.
type Extractor struct{}

// New returns the Python metadata extractor.
func New() extractor.Extractor { return &Extractor{} }

func (*Extractor) Name() string                       { return Name }
func (*Extractor) Version() int                       { return 1 }
func (*Extractor) Requirements() *plugin.Capabilities { return &plugin.Capabilities{} }

// FileRequired reports whether the file is a distribution's metadata file:
// "*.dist-info/METADATA", "*.egg-info/PKG-INFO", "EGG-INFO/PKG-INFO"
// inside an .egg, or a single-file "*.egg-info".
func (*Extractor) FileRequired(p string, info fs.FileInfo) bool {
	if info != nil && !info.Mode().IsRegular() {
		return false
	}
	dir, base := path.Split(p)
	dir = strings.TrimSuffix(dir, "/")
	switch base {
	case "METADATA":
		return strings.HasSuffix(dir, ".dist-info")
	case "PKG-INFO":
		return strings.HasSuffix(dir, ".egg-info") || path.Base(dir) == "EGG-INFO"
	}
	return strings.HasSuffix(base, ".egg-info")
}

// Extract reads one metadata file. A file without Name or Version is an
// error: it holds nothing else.
func (*Extractor) Extract(ctx context.Context, in *extractor.ScanInput) (*inventory.Inventory, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	name, version, err := ParseMetadata(in.Reader)
	if err != nil {
		return nil, fmt.Errorf("parse %q: %w", in.Path, err)
	}
	return &inventory.Inventory{Packages: []inventory.Package{Package(name, version, in.Path)}}, nil
}

// ParseMetadata reads the Name and Version of a core metadata file (an
// RFC 822-style header, https://packaging.python.org/specifications/core-metadata/).
func ParseMetadata(r io.Reader) (name, version string, err error) {
	sc := bufio.NewScanner(io.LimitReader(r, maxHeader))
	sc.Buffer(nil, maxLine)
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if line == "" {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "name":
			if name == "" {
				name = strings.TrimSpace(v)
			}
		case "version":
			if version == "" {
				version = strings.TrimSpace(v)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return "", "", err
	}
	switch {
	case name == "":
		return "", "", errors.New("no Name field")
	case version == "":
		return "", "", fmt.Errorf("package %q has no Version field", name)
	case !ValidName(name):
		return "", "", fmt.Errorf("malformed package name %q", name)
	case !ValidVersion(version):
		return "", "", fmt.Errorf("package %q has malformed version %q", name, version)
	}
	return name, version, nil
}

// ValidName reports whether s is a valid distribution name (PEP 508:
// ASCII letters and digits, with ".", "-" and "_" inside).
func ValidName(s string) bool {
	if s == "" || !alnum(s[0]) || !alnum(s[len(s)-1]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !alnum(c) && c != '.' && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

// ValidVersion accepts the characters PEP 440 versions (and the legacy
// versions older tools wrote) are made of.
func ValidVersion(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !alnum(c) && !strings.ContainsRune(".-_+!", rune(c)) {
			return false
		}
	}
	return true
}

func alnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// NormalizeName normalises a distribution name per PEP 503: runs of "-",
// "_" and "." become one "-", letters are lowercased.
func NormalizeName(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	sep := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '-' || c == '_' || c == '.' {
			sep = true
			continue
		}
		if sep && b.Len() > 0 {
			b.WriteByte('-')
		}
		sep = false
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}

// Package builds the record of a Python package found at location.
func Package(name, version, location string) inventory.Package {
	return langutil.Package(Type, Ecosystem, name, version,
		langutil.PURL(Type, "", NormalizeName(name), version), location)
}
