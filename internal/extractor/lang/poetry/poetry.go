// Package poetry extracts the locked Python packages of a poetry.lock.
//
// Every [[package]] is reported, main and development groups alike. A
// package whose source is not a package index (a git repository, a local
// directory or file, a URL) is left out: its version is the project's own
// and says nothing about a PyPI release of the same name.
package poetry

import (
	"context"
	"fmt"
	"io/fs"
	"path"

	"github.com/BurntSushi/toml"

	"github.com/vigilsec/vigil/internal/extractor"
	"github.com/vigilsec/vigil/internal/extractor/lang/internal/langutil"
	"github.com/vigilsec/vigil/internal/extractor/lang/python"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
)

// Name is the extractor's name.
const Name = "lang/poetry"

// MaxSize bounds the lockfiles read; large real ones are about 1 MB.
const MaxSize = 32 << 20

// Extractor reads poetry.lock files.
type Extractor struct{}

// New returns the poetry.lock extractor.
func New() extractor.Extractor { return &Extractor{} }

func (*Extractor) Name() string                       { return Name }
func (*Extractor) Version() int                       { return 1 }
func (*Extractor) Requirements() *plugin.Capabilities { return &plugin.Capabilities{} }

// FileRequired reports whether the file is named poetry.lock.
func (*Extractor) FileRequired(p string, info fs.FileInfo) bool {
	if info != nil && !info.Mode().IsRegular() {
		return false
	}
	return path.Base(p) == "poetry.lock"
}

// Extract reads one poetry.lock.
func (*Extractor) Extract(ctx context.Context, in *extractor.ScanInput) (*inventory.Inventory, error) {
	data, err := langutil.ReadAll(in.Reader, MaxSize)
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", in.Path, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var problems plugin.Problems
	pkgs, err := Parse(in.Path, data, &problems)
	if err != nil {
		return nil, err
	}
	return &inventory.Inventory{Packages: pkgs}, problems.Err()
}

type lockfile struct {
	Package []struct {
		Name    string `toml:"name"`
		Version string `toml:"version"`
		Source  struct {
			Type string `toml:"type"`
		} `toml:"source"`
	} `toml:"package"`
}

// Parse reads a poetry.lock at path. A file that is not TOML of the
// lockfile's shape is an error; a package without a valid name or version
// is a problem.
func Parse(path string, data []byte, problems *plugin.Problems) ([]inventory.Package, error) {
	var lf lockfile
	if _, err := toml.Decode(string(data), &lf); err != nil {
		return nil, fmt.Errorf("parse %q: %w", path, err)
	}
	var pkgs []inventory.Package
	seen := map[string]bool{}
	for i, p := range lf.Package {
		switch {
		case !python.ValidName(p.Name):
			problems.Addf("%s: package %d: malformed name %q", path, i+1, p.Name)
			continue
		case !python.ValidVersion(p.Version):
			problems.Addf("%s: package %q: malformed version %q", path, p.Name, p.Version)
			continue
		}
		switch p.Source.Type {
		case "", "legacy": // PyPI, or another index ("legacy" API)
		default: // git, directory, file, url
			continue
		}
		if k := python.NormalizeName(p.Name) + "@" + p.Version; !seen[k] {
			seen[k] = true
			pkgs = append(pkgs, python.Package(p.Name, p.Version, path))
		}
	}
	return pkgs, nil
}
