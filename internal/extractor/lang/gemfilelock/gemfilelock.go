// Package gemfilelock extracts Ruby gems from Bundler's Gemfile.lock.
package gemfilelock

import (
	"bufio"
	"cmp"
	"context"
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
const Name = "lang/gemfilelock"

const (
	// Type and Ecosystem are the package-URL type and OSV ecosystem of
	// gems.
	Type      = "gem"
	Ecosystem = "RubyGems"

	// maxLine bounds one line; real lines are short.
	maxLine  = 64 << 10
	ctxEvery = 256
)

// Extractor reads Gemfile.lock files.
type Extractor struct{}

// New returns the Gemfile.lock extractor.
func New() extractor.Extractor { return &Extractor{} }

func (*Extractor) Name() string                       { return Name }
func (*Extractor) Version() int                       { return 1 }
func (*Extractor) Requirements() *plugin.Capabilities { return &plugin.Capabilities{} }

// FileRequired reports whether path is a Gemfile.lock or gems.locked (the
// name Bundler uses with a gems.rb).
func (*Extractor) FileRequired(path string, info fs.FileInfo) bool {
	if info != nil && info.IsDir() {
		return false
	}
	base := path[strings.LastIndexByte(path, '/')+1:]
	return base == "Gemfile.lock" || base == "gems.locked"
}

// Extract reads the gems of one Gemfile.lock.
//
// The specs of the GEM sections (gems from a gem server) and of the GIT
// sections (gems built from a git checkout, which still carry the gem's
// name and version) are reported. PATH sections are local code, not a
// published release, and are left out. A platform suffix is cut from the
// version ("nokogiri (1.15.4-x86_64-linux)" is nokogiri 1.15.4), and a gem
// locked for several platforms is reported once.
func (*Extractor) Extract(ctx context.Context, in *extractor.ScanInput) (*inventory.Inventory, error) {
	var problems plugin.Problems
	pkgs, err := Parse(ctx, in.Reader, in.Path, &problems)
	if err != nil {
		if ctx.Err() != nil || len(pkgs) == 0 {
			return nil, err
		}
		problems.Add(err)
	}
	return &inventory.Inventory{Packages: pkgs}, problems.Err()
}

// Parse reads the Gemfile.lock at path (relative to the scan root) from
// r:
//
//	GEM
//	  remote: https://rubygems.org/
//	  specs:
//	    nokogiri (1.15.4-x86_64-linux)
//	      racc (~> 1.4)
//
// Per-line problems go to problems; the returned error is a read error or
// ctx's error, with the gems read before it. Packages are sorted by name
// and version.
func Parse(ctx context.Context, r io.Reader, path string, problems *plugin.Problems) ([]inventory.Package, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 16<<10), maxLine)
	var (
		section string // the current top-level section
		inSpecs bool   // inside its "  specs:" list
		n       int
		seen    = map[string]bool{}
		out     []inventory.Package
	)
	sorted := func() []inventory.Package {
		slices.SortFunc(out, func(a, b inventory.Package) int {
			return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Version, b.Version))
		})
		return out
	}
	for sc.Scan() {
		n++
		if n%ctxEvery == 0 {
			if err := ctx.Err(); err != nil {
				return sorted(), err
			}
		}
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		indent := len(line) - len(strings.TrimLeft(line, " "))
		switch {
		case indent == 0:
			section, inSpecs = line, false
			continue
		case indent == 2:
			inSpecs = strings.TrimSpace(line) == "specs:"
			continue
		case indent != 4 || !inSpecs:
			// Dependencies of a spec (6 spaces), section attributes.
			continue
		}
		if section != "GEM" && section != "GIT" {
			// PATH (local code), PLUGIN SOURCE (Bundler plugins).
			continue
		}
		name, version, err := parseSpec(line[4:])
		if err != nil {
			problems.Addf("%s:%d: %v", path, n, err)
			continue
		}
		k := name + "@" + version
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, langutil.Package(Type, Ecosystem, name, version, langutil.PURL(Type, "", name, version), path))
	}
	if err := sc.Err(); err != nil {
		return sorted(), fmt.Errorf("%s:%d: %w", path, n+1, err)
	}
	return sorted(), nil
}

// parseSpec parses "name (version)" or "name (version-platform)".
func parseSpec(s string) (name, version string, err error) {
	name, rest, ok := strings.Cut(s, " (")
	if !ok || !strings.HasSuffix(rest, ")") {
		return "", "", fmt.Errorf("spec %q is not \"name (version)\"", s)
	}
	if !validName(name) {
		return "", "", fmt.Errorf("invalid gem name %q", name)
	}
	full := strings.TrimSuffix(rest, ")")
	// Gem versions hold no "-": a prerelease is "1.0.0.rc1". What follows
	// the first "-" is the platform.
	version, _, _ = strings.Cut(full, "-")
	if !validVersion(version) {
		return "", "", fmt.Errorf("gem %q has invalid version %q", name, full)
	}
	return name, version, nil
}

// validName reports whether s is a gem name: letters, digits, ".", "-"
// and "_".
func validName(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// validVersion reports whether v is a gem version: digits first, then
// letters, digits and dots (Gem::Version's pattern, without "-").
func validVersion(v string) bool {
	if v == "" || len(v) > 128 || v[0] < '0' || v[0] > '9' {
		return false
	}
	for _, c := range v {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.') {
			return false
		}
	}
	return true
}
