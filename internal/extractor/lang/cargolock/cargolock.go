// Package cargolock extracts Rust crates from Cargo.lock files.
package cargolock

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/vigilsec/vigil/internal/extractor"
	"github.com/vigilsec/vigil/internal/extractor/lang/internal/langutil"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
)

// Name is the extractor's name.
const Name = "lang/cargolock"

const (
	// Type and Ecosystem are the package-URL type and OSV ecosystem of
	// crates.
	Type      = "cargo"
	Ecosystem = "crates.io"

	// maxSize bounds a Cargo.lock, which is parsed in memory; the
	// largest real ones (big workspaces) are a few megabytes.
	maxSize  = 32 << 20
	ctxEvery = 256
)

// Extractor reads Cargo.lock files.
type Extractor struct{}

// New returns the Cargo.lock extractor.
func New() extractor.Extractor { return &Extractor{} }

func (*Extractor) Name() string                       { return Name }
func (*Extractor) Version() int                       { return 1 }
func (*Extractor) Requirements() *plugin.Capabilities { return &plugin.Capabilities{} }

// FileRequired reports whether path is a Cargo.lock.
func (*Extractor) FileRequired(path string, info fs.FileInfo) bool {
	if info != nil && info.IsDir() {
		return false
	}
	return path == "Cargo.lock" || strings.HasSuffix(path, "/Cargo.lock")
}

// Extract reads the crates of one Cargo.lock.
//
// Crates with a source are reported: those of crates.io and other
// registries ("registry+", "sparse+") and git dependencies ("git+"), all
// in the crates.io ecosystem, where OSV keeps Rust advisories. Crates
// without a source are the workspace's own members and path dependencies:
// local code, not a published release, so they are left out.
func (*Extractor) Extract(ctx context.Context, in *extractor.ScanInput) (*inventory.Inventory, error) {
	var problems plugin.Problems
	pkgs, err := Parse(ctx, in.Reader, in.Path, &problems)
	if err != nil {
		return nil, err
	}
	return &inventory.Inventory{Packages: pkgs}, problems.Err()
}

type lockfile struct {
	Package []map[string]any `toml:"package"`
}

// Parse reads the Cargo.lock at path (relative to the scan root) from r.
// Per-crate problems go to problems; the returned error means nothing
// usable was read. Packages are sorted by name and version.
func Parse(ctx context.Context, r io.Reader, path string, problems *plugin.Problems) ([]inventory.Package, error) {
	data, err := langutil.ReadAll(r, maxSize)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var lf lockfile
	if _, err := toml.Decode(string(data), &lf); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("parse %s:%d: %s", path, pe.Position.Line, pe.Message)
		}
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	lines := packageLines(data, len(lf.Package))
	seen := map[string]bool{}
	var out []inventory.Package
	for i, p := range lf.Package {
		if i%ctxEvery == ctxEvery-1 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		where := fmt.Sprintf("%s:%d", path, lines[i])
		if lines[i] == 0 {
			where = fmt.Sprintf("%s: package %d", path, i+1)
		}
		name, nameErr := str(p, "name")
		version, versionErr := str(p, "version")
		source, sourceErr := str(p, "source")
		switch {
		case nameErr != nil:
			problems.Addf("%s: package %w", where, nameErr)
			continue
		case !validName(name):
			problems.Addf("%s: invalid crate name %q", where, name)
			continue
		case versionErr != nil:
			problems.Addf("%s: crate %q: %w", where, name, versionErr)
			continue
		case !validVersion(version):
			problems.Addf("%s: crate %q has invalid version %q", where, name, version)
			continue
		case sourceErr != nil && p["source"] != nil:
			problems.Addf("%s: crate %q: %w", where, name, sourceErr)
			continue
		case source == "":
			// A workspace member or path dependency.
			continue
		}
		k := name + "@" + version
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, langutil.Package(Type, Ecosystem, name, version, langutil.PURL(Type, "", name, version), path))
	}
	slices.SortFunc(out, func(a, b inventory.Package) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Version, b.Version))
	})
	return out, nil
}

// str returns the string field key of a [[package]] table.
func str(p map[string]any, key string) (string, error) {
	v, ok := p[key]
	if !ok {
		return "", fmt.Errorf("has no %q", key)
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%q is not a string", key)
	}
	return s, nil
}

// packageLines returns the line of each "[[package]]" header, for
// messages; when the count does not match n (a package array written
// inline), lines are 0.
func packageLines(data []byte, n int) []int {
	lines := make([]int, 0, n)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, len(data)+1)
	for no := 1; sc.Scan(); no++ {
		if bytes.Equal(bytes.TrimSpace(sc.Bytes()), []byte("[[package]]")) {
			lines = append(lines, no)
		}
	}
	if len(lines) != n {
		return make([]int, n)
	}
	return lines
}

// validName reports whether s is a crate name: ASCII letters, digits, "-"
// and "_".
func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// validVersion reports whether v looks like a SemVer version: no spaces,
// starting with a digit.
func validVersion(v string) bool {
	if v == "" || len(v) > 256 || v[0] < '0' || v[0] > '9' {
		return false
	}
	for _, c := range v {
		if c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}
