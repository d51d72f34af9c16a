// Package node extracts installed npm packages from the package.json of
// each package directory under node_modules, and holds the npm naming
// helpers that the npm, yarn and pnpm lockfile extractors share.
package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/vigilsec/vigil/internal/extractor"
	"github.com/vigilsec/vigil/internal/extractor/lang/internal/langutil"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
)

// Name is the extractor's name.
const Name = "lang/nodemodules"

const (
	// Type and Ecosystem are the package-URL type and OSV ecosystem of
	// npm packages.
	Type      = "npm"
	Ecosystem = "npm"

	// maxManifest bounds a package.json; real ones are a few kB, the
	// largest on the registry well under a megabyte.
	maxManifest = 4 << 20
)

// Extractor reads node_modules/<pkg>/package.json files.
type Extractor struct{}

// New returns the node_modules extractor.
func New() extractor.Extractor { return &Extractor{} }

func (*Extractor) Name() string                       { return Name }
func (*Extractor) Version() int                       { return 1 }
func (*Extractor) Requirements() *plugin.Capabilities { return &plugin.Capabilities{} }

// FileRequired reports whether path is the package.json of an installed
// package: ".../node_modules/<pkg>/package.json" or
// ".../node_modules/@scope/<pkg>/package.json". Other package.json files
// (a project's own, test fixtures and sub-directory manifests inside a
// package such as node_modules/pkg/esm/package.json) are not.
func (*Extractor) FileRequired(path string, info fs.FileInfo) bool {
	if info != nil && info.IsDir() {
		return false
	}
	dir, ok := strings.CutSuffix(path, "/package.json")
	if !ok {
		return false
	}
	i := strings.LastIndex(dir, "node_modules/")
	if i < 0 || (i > 0 && dir[i-1] != '/') {
		return false
	}
	return ValidName(dir[i+len("node_modules/"):])
}

// Extract reads the name and version of one installed package.
func (*Extractor) Extract(ctx context.Context, in *extractor.ScanInput) (*inventory.Inventory, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, err := Parse(in.Reader, in.Path)
	if err != nil {
		return nil, err
	}
	return &inventory.Inventory{Packages: []inventory.Package{p}}, nil
}

// manifest holds the package.json fields read here. Fields of other types
// are decoded as raw JSON so that their type can be checked by hand.
type manifest struct {
	Name    json.RawMessage `json:"name"`
	Version json.RawMessage `json:"version"`
}

// Parse reads an installed package's package.json at path (relative to
// the scan root).
func Parse(r io.Reader, path string) (inventory.Package, error) {
	b, err := langutil.ReadAll(r, maxManifest)
	if err != nil {
		return inventory.Package{}, fmt.Errorf("read %s: %w", path, err)
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return inventory.Package{}, fmt.Errorf("parse %s: %w", path, JSONError(b, err))
	}
	name, err := stringField(m.Name)
	if err != nil {
		return inventory.Package{}, fmt.Errorf("parse %s: \"name\": %w", path, err)
	}
	version, err := stringField(m.Version)
	if err != nil {
		return inventory.Package{}, fmt.Errorf("parse %s: \"version\": %w", path, err)
	}
	if !ValidName(name) {
		return inventory.Package{}, fmt.Errorf("parse %s: invalid package name %q", path, name)
	}
	if !ValidVersion(version) {
		return inventory.Package{}, fmt.Errorf("parse %s: package %q has invalid version %q", path, name, version)
	}
	return NewPackage(name, version, path), nil
}

func stringField(raw json.RawMessage) (string, error) {
	if len(raw) == 0 {
		return "", errors.New("missing")
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", errors.New("not a string")
	}
	return s, nil
}

// JSONError adds the line and column of a syntax or type error in data.
func JSONError(data []byte, err error) error {
	var off int64
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	default:
		return err
	}
	// Offset counts the bytes read before the error: the last of them
	// is the offending one.
	line, col := LineCol(data, off-1)
	return fmt.Errorf("line %d, column %d: %w", line, col, err)
}

// LineCol converts a byte offset of data to a 1-based line and column.
func LineCol(data []byte, off int64) (line, col int) {
	off = min(max(off, 0), int64(len(data)))
	line, start := 1, 0
	for i, c := range data[:off] {
		if c == '\n' {
			line++
			start = i + 1
		}
	}
	return line, int(off) - start + 1
}

// NewPackage builds the record of npm package name at version, found in
// the file at location. A scope ("@babel/core") becomes the package-URL
// namespace.
func NewPackage(name, version, location string) inventory.Package {
	ns, n := "", name
	if scope, rest, ok := strings.Cut(name, "/"); ok && strings.HasPrefix(name, "@") {
		ns, n = scope, rest
	}
	return langutil.Package(Type, Ecosystem, name, version, langutil.PURL(Type, ns, n, version), location)
}

// ValidName reports whether name is a plausible npm package name: "name"
// or "@scope/name", without whitespace, control characters or further
// slashes, not starting with "." or "_". Legacy registry names may hold capitals,
// so case is not checked.
func ValidName(name string) bool {
	if name == "" || len(name) > 214 {
		return false
	}
	pkg := name
	if name[0] == '@' {
		scope, rest, ok := strings.Cut(name[1:], "/")
		if !ok || !validPart(scope) {
			return false
		}
		pkg = rest
	}
	return validPart(pkg)
}

func validPart(s string) bool {
	if s == "" || s[0] == '.' || s[0] == '_' {
		return false
	}
	for _, c := range s {
		if c <= ' ' || c == 0x7f || c == '/' || c == '\\' || c == '@' || c == ':' {
			return false
		}
	}
	return true
}

// ValidVersion reports whether v is usable as an installed version: not
// empty, without whitespace or control characters.
func ValidVersion(v string) bool {
	if v == "" || len(v) > 256 {
		return false
	}
	for _, c := range v {
		if c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}
