// Package pipfile extracts the locked Python packages of a Pipfile.lock:
// its "default" and "develop" sections. Entries pinned with "==" are
// reported; entries without a version (git, path and editable
// dependencies) are left out.
package pipfile

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/vigilsec/vigil/internal/extractor"
	"github.com/vigilsec/vigil/internal/extractor/lang/internal/langutil"
	"github.com/vigilsec/vigil/internal/extractor/lang/python"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
)

// Name is the extractor's name.
const Name = "lang/pipfile"

// MaxSize bounds the lockfiles read.
const MaxSize = 32 << 20

// Extractor reads Pipfile.lock files.
type Extractor struct{}

// New returns the Pipfile.lock extractor.
func New() extractor.Extractor { return &Extractor{} }

func (*Extractor) Name() string                       { return Name }
func (*Extractor) Version() int                       { return 1 }
func (*Extractor) Requirements() *plugin.Capabilities { return &plugin.Capabilities{} }

// FileRequired reports whether the file is named Pipfile.lock.
func (*Extractor) FileRequired(p string, info fs.FileInfo) bool {
	if info != nil && !info.Mode().IsRegular() {
		return false
	}
	return path.Base(p) == "Pipfile.lock"
}

// Extract reads one Pipfile.lock.
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

type entry struct {
	Version *string `json:"version"`
}

// Parse reads a Pipfile.lock at path. A file that is not a JSON object of
// the lockfile's shape is an error; an entry with a malformed version is a
// problem. Packages come in section order ("default", then "develop"),
// sorted by name within each.
func Parse(path string, data []byte, problems *plugin.Problems) ([]inventory.Package, error) {
	var lf struct {
		Meta    json.RawMessage            `json:"_meta"`
		Default map[string]json.RawMessage `json:"default"`
		Develop map[string]json.RawMessage `json:"develop"`
	}
	d := json.NewDecoder(bytes.NewReader(data))
	if err := d.Decode(&lf); err != nil {
		return nil, fmt.Errorf("parse %q: %w", path, err)
	}
	if lf.Meta == nil && lf.Default == nil && lf.Develop == nil {
		return nil, fmt.Errorf("parse %q: no _meta, default or develop section", path)
	}
	var pkgs []inventory.Package
	seen := map[string]bool{}
	for _, section := range []struct {
		name    string
		entries map[string]json.RawMessage
	}{{"default", lf.Default}, {"develop", lf.Develop}} {
		names := make([]string, 0, len(section.entries))
		for n := range section.entries {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, name := range names {
			var e entry
			if err := json.Unmarshal(section.entries[name], &e); err != nil {
				problems.Addf("%s: %s: %q: %v", path, section.name, name, err)
				continue
			}
			if e.Version == nil {
				continue // git, path or editable: no version
			}
			v, ok := strings.CutPrefix(*e.Version, "==")
			switch {
			case !python.ValidName(name):
				problems.Addf("%s: %s: malformed package name %q", path, section.name, name)
				continue
			case !ok || !python.ValidVersion(v):
				problems.Addf("%s: %s: %q: version %q is not pinned with ==", path, section.name, name, *e.Version)
				continue
			}
			if k := python.NormalizeName(name) + "@" + v; !seen[k] {
				seen[k] = true
				pkgs = append(pkgs, python.Package(name, v, path))
			}
		}
	}
	return pkgs, nil
}
