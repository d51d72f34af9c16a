// Package composerlock extracts PHP packages from composer.lock files.
package composerlock

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"

	"github.com/vigilsec/vigil/internal/extractor"
	"github.com/vigilsec/vigil/internal/extractor/lang/internal/langutil"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
)

// Name is the extractor's name.
const Name = "lang/composerlock"

const (
	// Type and Ecosystem are the package-URL type and OSV ecosystem of
	// Composer packages.
	Type      = "composer"
	Ecosystem = "Packagist"

	// maxSize bounds a composer.lock, which is read in memory; real ones
	// are well under a few megabytes.
	maxSize  = 32 << 20
	ctxEvery = 256
)

// Extractor reads composer.lock files.
type Extractor struct{}

// New returns the composer.lock extractor.
func New() extractor.Extractor { return &Extractor{} }

func (*Extractor) Name() string                       { return Name }
func (*Extractor) Version() int                       { return 1 }
func (*Extractor) Requirements() *plugin.Capabilities { return &plugin.Capabilities{} }

// FileRequired reports whether path is a composer.lock outside vendor/
// (installed packages do not ship lockfiles that were installed).
func (*Extractor) FileRequired(path string, info fs.FileInfo) bool {
	if info != nil && info.IsDir() {
		return false
	}
	if path != "composer.lock" && !strings.HasSuffix(path, "/composer.lock") {
		return false
	}
	return !strings.HasPrefix(path, "vendor/") && !strings.Contains(path, "/vendor/")
}

// Extract reads the packages of one composer.lock, from "packages" and
// "packages-dev". Versions are reported as Composer writes them ("v6.3.4",
// "1.2.3", "dev-main").
func (*Extractor) Extract(ctx context.Context, in *extractor.ScanInput) (*inventory.Inventory, error) {
	var problems plugin.Problems
	pkgs, err := Parse(ctx, in.Reader, in.Path, &problems)
	if err != nil {
		return nil, err
	}
	return &inventory.Inventory{Packages: pkgs}, problems.Err()
}

type entry struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Parse reads the composer.lock at path (relative to the scan root) from
// r. Per-package problems go to problems; the returned error means
// nothing usable was read. Packages are sorted by name and version.
func Parse(ctx context.Context, r io.Reader, path string, problems *plugin.Problems) ([]inventory.Package, error) {
	data, err := langutil.ReadAll(r, maxSize)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if !json.Valid(data) {
		var v any
		err := json.Unmarshal(data, &v)
		return nil, fmt.Errorf("parse %s: %w", path, jsonError(data, err))
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	// at names the line of the next value; offsets only grow, so lines
	// are counted on from the previous call.
	lastOff, lastLine := int64(0), 1
	at := func() string {
		off := dec.InputOffset()
		off += skipSpace(data[off:])
		lastLine += bytes.Count(data[lastOff:off], []byte{'\n'})
		lastOff = off
		return fmt.Sprintf("%s:%d", path, lastLine)
	}
	if tok, _ := dec.Token(); tok != json.Delim('{') {
		return nil, fmt.Errorf("parse %s: lockfile is not a JSON object", path)
	}
	seen := map[string]bool{}
	var out []inventory.Package
	n := 0
	// The data is valid JSON: decoding errors below are type errors.
	for dec.More() {
		tok, _ := dec.Token()
		key := tok.(string)
		if key != "packages" && key != "packages-dev" {
			var skip json.RawMessage
			dec.Decode(&skip)
			continue
		}
		where := at()
		if tok, _ := dec.Token(); tok != json.Delim('[') {
			if tok == nil {
				// null: no packages.
				continue
			}
			return nil, fmt.Errorf("parse %s: %q is not an array", where, key)
		}
		for dec.More() {
			if n++; n%ctxEvery == 0 {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
			}
			where := at()
			var e entry
			if err := dec.Decode(&e); err != nil {
				var te *json.UnmarshalTypeError
				if errors.As(err, &te) && te.Field != "" {
					problems.Addf("%s: package field %q has the wrong type (JSON %s)", where, te.Field, te.Value)
				} else {
					problems.Addf("%s: package entry is not an object", where)
				}
				continue
			}
			switch {
			case !validName(e.Name):
				problems.Addf("%s: invalid package name %q", where, e.Name)
				continue
			case !validVersion(e.Version):
				problems.Addf("%s: package %q has invalid version %q", where, e.Name, e.Version)
				continue
			}
			k := e.Name + "@" + e.Version
			if seen[k] {
				continue
			}
			seen[k] = true
			vendor, name, _ := strings.Cut(e.Name, "/")
			out = append(out, langutil.Package(Type, Ecosystem, e.Name, e.Version, langutil.PURL(Type, vendor, name, e.Version), path))
		}
		dec.Token() // ]
	}
	slices.SortFunc(out, func(a, b inventory.Package) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Version, b.Version))
	})
	return out, nil
}

func skipSpace(b []byte) int64 {
	for i, c := range b {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != ',' && c != ':' {
			return int64(i)
		}
	}
	return int64(len(b))
}

// validName reports whether s is a Composer package name, "vendor/name",
// without whitespace or control characters.
func validName(s string) bool {
	vendor, name, ok := strings.Cut(s, "/")
	if !ok || vendor == "" || name == "" || strings.Contains(name, "/") || len(s) > 256 {
		return false
	}
	return printable(s)
}

func validVersion(v string) bool { return v != "" && len(v) <= 256 && printable(v) }

func printable(s string) bool {
	for _, c := range s {
		if c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// jsonError adds the line and column of a syntax error in data.
func jsonError(data []byte, err error) error {
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return err
	}
	line, col := lineCol(data, se.Offset-1)
	return fmt.Errorf("line %d, column %d: %w", line, col, err)
}

// lineCol converts a byte offset of data to a 1-based line and column.
func lineCol(data []byte, off int64) (line, col int) {
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
