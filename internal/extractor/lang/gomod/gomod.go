// Package gomod extracts the modules a Go module requires from its go.mod
// file.
//
// Every require line is reported, direct and "// indirect" alike (since Go
// 1.17 go.mod lists the whole build list), with replace directives
// applied; a module replaced by a local directory has no published
// version and is left out. Versions lose their "v" as in OSV.
//
// The Go standard library is not reported from go.mod. The go directive
// is a minimum language version, and the toolchain directive only a
// minimum toolchain (with GOTOOLCHAIN=auto a newer local Go builds the
// module): neither says which Go builds the program, so reporting stdlib
// from them would flag vulnerabilities the real build does not have. The
// stdlib version is read from built binaries (lang/gobinary). osv-scanner
// makes the same choice by default (bench/osvscanner).
package gomod

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"golang.org/x/mod/modfile"

	"github.com/vigilsec/vigil/internal/extractor"
	"github.com/vigilsec/vigil/internal/extractor/lang/gobinary"
	"github.com/vigilsec/vigil/internal/extractor/lang/internal/langutil"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
)

// Name is the extractor's name.
const Name = "lang/gomod"

// MaxSize bounds the go.mod files read; the largest real ones (kubernetes)
// are under 100 KB.
const MaxSize = 8 << 20

// Extractor reads go.mod files.
type Extractor struct{}

// New returns the go.mod extractor.
func New() extractor.Extractor { return &Extractor{} }

func (*Extractor) Name() string                       { return Name }
func (*Extractor) Version() int                       { return 1 }
func (*Extractor) Requirements() *plugin.Capabilities { return &plugin.Capabilities{} }

// FileRequired reports whether the file is named go.mod.
func (*Extractor) FileRequired(p string, info fs.FileInfo) bool {
	if info != nil && info.IsDir() {
		return false
	}
	return path.Base(p) == "go.mod"
}

// Extract reads one go.mod file.
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

// Parse parses a go.mod file at path (relative to the scan root). Lines
// with errors are reported as problems and the file is parsed again
// without them; an error means no part of the file could be parsed.
func Parse(path string, data []byte, problems *plugin.Problems) ([]inventory.Package, error) {
	f, err := modfile.Parse(path, data, nil)
	if err != nil {
		var list modfile.ErrorList
		if !errors.As(err, &list) {
			return nil, fmt.Errorf("parse %q: %w", path, err)
		}
		// Blank the lines in error (keeping line numbers) and try once
		// more: one bad require must not hide the others.
		lines := bytes.Split(data, []byte("\n"))
		for _, e := range list {
			if n := e.Pos.Line; n >= 1 && n <= len(lines) {
				lines[n-1] = nil
			}
		}
		var err2 error
		if f, err2 = modfile.Parse(path, bytes.Join(lines, []byte("\n")), nil); err2 != nil {
			return nil, fmt.Errorf("parse %q: %w", path, err)
		}
		for _, e := range list {
			problems.Add(&e)
		}
	}

	type key struct{ path, version string }
	replaced := func(m key) (key, bool) {
		// A replace of this exact version wins over one of best version.
		var best *modfile.Replace
		for _, r := range f.Replace {
			if r.Old.Path != m.path {
				continue
			}
			if r.Old.Version == m.version {
				best = r
				break
			}
			if r.Old.Version == "" {
				best = r
			}
		}
		if best == nil {
			return m, true
		}
		if best.New.Version == "" {
			// A local directory: not a published module version.
			return key{}, false
		}
		return key{best.New.Path, best.New.Version}, true
	}

	var pkgs []inventory.Package
	seen := map[key]bool{}
	for _, r := range f.Require {
		m, ok := replaced(key{r.Mod.Path, r.Mod.Version})
		if !ok || seen[m] {
			continue
		}
		seen[m] = true
		pkgs = append(pkgs, gobinary.Package(m.path, strings.TrimPrefix(m.version, "v"), path))
	}
	if f.Toolchain != nil && f.Toolchain.Name != "default" {
		if _, ok := gobinary.GoVersion(f.Toolchain.Name); !ok {
			problems.Addf("%s:%d: unrecognised toolchain %q", path, f.Toolchain.Syntax.Start.Line, f.Toolchain.Name)
		}
	}
	return pkgs, nil
}
