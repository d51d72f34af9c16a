// Package pnpmlock extracts npm packages from pnpm-lock.yaml, lockfile
// versions 5 ("/name/1.2.3_peer@1.0.0"), 6 ("/name@1.2.3(peer@1.0.0)")
// and 9 ("name@1.2.3").
package pnpmlock

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/vigilsec/vigil/internal/extractor"
	"github.com/vigilsec/vigil/internal/extractor/lang/internal/langutil"
	"github.com/vigilsec/vigil/internal/extractor/lang/node"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
)

// Name is the extractor's name.
const Name = "lang/pnpmlock"

const (
	// maxSize bounds a lockfile, which is parsed as one YAML document in
	// memory; the largest real ones (big monorepos) are around 20 MB.
	maxSize  = 64 << 20
	ctxEvery = 256
)

// Extractor reads pnpm-lock.yaml files.
type Extractor struct{}

// New returns the pnpm-lock.yaml extractor.
func New() extractor.Extractor { return &Extractor{} }

func (*Extractor) Name() string                       { return Name }
func (*Extractor) Version() int                       { return 1 }
func (*Extractor) Requirements() *plugin.Capabilities { return &plugin.Capabilities{} }

// FileRequired reports whether path is a pnpm-lock.yaml outside
// node_modules (pnpm keeps a copy of the lockfile as
// node_modules/.pnpm/lock.yaml, which is not read).
func (*Extractor) FileRequired(path string, info fs.FileInfo) bool {
	if info != nil && info.IsDir() {
		return false
	}
	if path != "pnpm-lock.yaml" && !strings.HasSuffix(path, "/pnpm-lock.yaml") {
		return false
	}
	return !strings.HasPrefix(path, "node_modules/") && !strings.Contains(path, "/node_modules/")
}

// Extract reads the packages of one pnpm-lock.yaml. Local packages
// (file:, link:, workspace:) are left out; a package seen several times
// at one version (once per set of peer dependencies) is reported once.
func (*Extractor) Extract(ctx context.Context, in *extractor.ScanInput) (*inventory.Inventory, error) {
	var problems plugin.Problems
	pkgs, err := Parse(ctx, in.Reader, in.Path, &problems)
	if err != nil {
		return nil, err
	}
	return &inventory.Inventory{Packages: pkgs}, problems.Err()
}

// entry holds the fields of a package entry read here. Only packages
// that do not come from the registry (git, tarballs) carry name and
// version; the others are named by their key.
type entry struct {
	Name    string `yaml:"name"`
	Version string `yaml:"version"`
}

// Parse reads the pnpm-lock.yaml at path (relative to the scan root) from
// r. Per-entry problems go to problems; the returned error means nothing
// usable was read. Packages are sorted by name and version.
func Parse(ctx context.Context, r io.Reader, path string, problems *plugin.Problems) ([]inventory.Package, error) {
	data, err := langutil.ReadAll(r, maxSize)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	if doc.Kind == 0 {
		// An empty file: an empty lockfile.
		return nil, nil
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("parse %s: lockfile is not a YAML mapping", path)
	}
	top := doc.Content[0].Content
	major := -1
	for i := 0; i+1 < len(top); i += 2 {
		if top[i].Value == "lockfileVersion" {
			major = parseMajor(top[i+1].Value)
			if major < 0 || top[i+1].Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("parse %s:%d: malformed lockfileVersion %q", path, top[i+1].Line, top[i+1].Value)
			}
		}
	}
	if major < 0 {
		return nil, fmt.Errorf("parse %s: no lockfileVersion", path)
	}
	if major < 5 {
		return nil, fmt.Errorf("parse %s: lockfileVersion %d is not supported", path, major)
	}
	c := collector{path: path, problems: problems, v5: major < 6, seen: map[string]bool{}}
	for i := 0; i+1 < len(top); i += 2 {
		switch k, v := top[i], top[i+1]; k.Value {
		// Version 9 also lists every package under "snapshots", once
		// per set of peer dependencies, but without the version of git
		// and tarball packages: "packages" alone is complete.
		case "packages":
			if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
				continue
			}
			if v.Kind != yaml.MappingNode {
				return nil, fmt.Errorf("parse %s:%d: %q is not a mapping", path, v.Line, k.Value)
			}
			if err := c.section(ctx, v.Content); err != nil {
				return nil, err
			}
		}
	}
	slices.SortFunc(c.out, func(a, b inventory.Package) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Version, b.Version))
	})
	return c.out, nil
}

// parseMajor returns the major version of lockfileVersion ("5.4", "6.0",
// "9.0"), or -1.
func parseMajor(s string) int {
	major, _, _ := strings.Cut(s, ".")
	n, err := strconv.Atoi(major)
	if err != nil || n < 0 || len(major) > 3 {
		return -1
	}
	return n
}

type collector struct {
	path     string
	problems *plugin.Problems
	v5       bool
	seen     map[string]bool
	out      []inventory.Package
}

func (c *collector) section(ctx context.Context, m []*yaml.Node) error {
	for i := 0; i+1 < len(m); i += 2 {
		if (i/2)%ctxEvery == ctxEvery-1 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		k, v := m[i], m[i+1]
		var e entry
		if err := v.Decode(&e); err != nil {
			c.problems.Addf("%s:%d: package %q: %v", c.path, k.Line, k.Value, err)
			continue
		}
		key := strings.TrimPrefix(k.Value, "/")
		kname, kversion, ok := c.parseKey(key)
		if local(key) || ok && local(kversion) {
			continue
		}
		// Entries of git and tarball packages carry their name and
		// version; a registry package is named by its key.
		name, version := cmp.Or(e.Name, kname), cmp.Or(e.Version, kversion)
		if name == "" || version == "" {
			c.problems.Addf("%s:%d: malformed package key %q", c.path, k.Line, k.Value)
			continue
		}
		c.add(name, version, k.Line)
	}
	return nil
}

// parseKey splits a package key without its leading "/" into name and
// version, dropping the peer-dependency suffix: "_react@18.2.0" in
// version 5, "(react@18.2.0)" later.
func (c *collector) parseKey(key string) (name, version string, ok bool) {
	if c.v5 {
		i := strings.LastIndexByte(key, '/')
		if i <= 0 {
			return "", "", false
		}
		name, version = key[:i], key[i+1:]
		version, _, _ = strings.Cut(version, "_")
	} else {
		key, _, _ = strings.Cut(key, "(")
		if len(key) < 2 {
			return "", "", false
		}
		i := strings.IndexByte(key[1:], '@')
		if i < 0 {
			return "", "", false
		}
		name, version = key[:i+1], key[i+2:]
	}
	return name, version, name != "" && version != ""
}

func local(key string) bool {
	for _, p := range []string{"file:", "link:", "workspace:"} {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

func (c *collector) add(name, version string, line int) {
	switch {
	case !node.ValidName(name):
		c.problems.Addf("%s:%d: invalid package name %q", c.path, line, name)
		return
	case !node.ValidVersion(version):
		c.problems.Addf("%s:%d: package %q has invalid version %q", c.path, line, name, version)
		return
	}
	k := name + "@" + version
	if c.seen[k] {
		return
	}
	c.seen[k] = true
	c.out = append(c.out, node.NewPackage(name, version, c.path))
}
