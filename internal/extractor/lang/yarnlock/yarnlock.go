// Package yarnlock extracts npm packages from yarn.lock files: the
// custom format of Yarn classic (lockfile v1) and the YAML of Yarn berry
// (2 and later).
package yarnlock

import (
	"bufio"
	"bytes"
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
const Name = "lang/yarnlock"

const (
	// maxLine bounds one line of a v1 lockfile; real lines are short
	// (the longest hold an integrity hash or a list of ranges).
	maxLine = 1 << 20
	// maxBerry bounds a berry lockfile, which is parsed as one YAML
	// document in memory; the largest real ones are around 20 MB.
	maxBerry = 64 << 20
	// sniffSize is how much of the file is looked at to tell berry from
	// classic: berry files open with a short comment and "__metadata:".
	sniffSize = 4 << 10
	ctxEvery  = 256
)

// Extractor reads yarn.lock files.
type Extractor struct{}

// New returns the yarn.lock extractor.
func New() extractor.Extractor { return &Extractor{} }

func (*Extractor) Name() string                       { return Name }
func (*Extractor) Version() int                       { return 1 }
func (*Extractor) Requirements() *plugin.Capabilities { return &plugin.Capabilities{} }

// FileRequired reports whether path is a yarn.lock outside node_modules.
func (*Extractor) FileRequired(path string, info fs.FileInfo) bool {
	if info != nil && info.IsDir() {
		return false
	}
	if path != "yarn.lock" && !strings.HasSuffix(path, "/yarn.lock") {
		return false
	}
	return !strings.HasPrefix(path, "node_modules/") && !strings.Contains(path, "/node_modules/")
}

// Extract reads the packages of one yarn.lock. Workspace members, local
// directories (file:, link:, portal:) and patched copies (patch:, whose
// unpatched package has an entry of its own) are left out. A package seen
// several times at one version is reported once.
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

// Parse reads the yarn.lock at path (relative to the scan root) from r.
// Per-entry problems go to problems; the returned error is a syntax or
// read error or ctx's error, with the packages read before it. Packages
// are sorted by name and version.
func Parse(ctx context.Context, r io.Reader, path string, problems *plugin.Problems) ([]inventory.Package, error) {
	br := bufio.NewReaderSize(r, sniffSize)
	head, err := br.Peek(sniffSize)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	c := &collector{path: path, problems: problems, seen: map[string]bool{}}
	if isBerry(head) {
		err = c.berry(ctx, br)
	} else {
		err = c.classic(ctx, br)
	}
	slices.SortFunc(c.out, func(a, b inventory.Package) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Version, b.Version))
	})
	return c.out, err
}

// isBerry reports whether the file opens, after comments and blank lines,
// with berry's "__metadata:" key.
func isBerry(head []byte) bool {
	for len(head) > 0 {
		line, rest, _ := bytes.Cut(head, []byte{'\n'})
		line = bytes.TrimRight(line, "\r")
		head = rest
		if len(bytes.TrimSpace(line)) == 0 || line[0] == '#' {
			continue
		}
		return bytes.HasPrefix(line, []byte("__metadata:"))
	}
	return false
}

type collector struct {
	path     string
	problems *plugin.Problems
	seen     map[string]bool
	out      []inventory.Package
}

func (c *collector) add(name, version string, line int) {
	switch {
	case !node.ValidName(name):
		c.problems.Addf("%s:%d: invalid package name %q", c.path, line, name)
		return
	case version == "":
		c.problems.Addf("%s:%d: package %q has no version", c.path, line, name)
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

// splitDescriptor splits "name@range" (name may be "@scope/name") at the
// "@" that ends the name.
func splitDescriptor(s string) (name, rng string, ok bool) {
	if len(s) < 2 {
		return "", "", false
	}
	i := strings.IndexByte(s[1:], '@')
	if i < 0 {
		return "", "", false
	}
	return s[:i+1], s[i+2:], true
}

// local reports whether a range or reference names a workspace member, a
// local directory or a patched copy rather than a published package.
func local(ref string) bool {
	for _, p := range []string{"workspace:", "file:", "link:", "portal:", "patch:", "exec:"} {
		if strings.HasPrefix(ref, p) {
			return true
		}
	}
	return false
}

// block is one entry of a classic lockfile.
type block struct {
	line    int
	name    string
	version string
	skip    bool // a local entry
	bad     bool // the header was malformed (already reported)
}

// classic parses a Yarn v1 lockfile:
//
//	"@babel/code-frame@^7.0.0", "@babel/code-frame@^7.10.4":
//	  version "7.12.13"
//	  resolved "https://registry.yarnpkg.com/..."
//	  dependencies:
//	    "@babel/highlight" "^7.12.13"
func (c *collector) classic(ctx context.Context, r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	var b *block
	finish := func() {
		if b != nil && !b.skip && !b.bad {
			c.add(b.name, b.version, b.line)
		}
		b = nil
	}
	n, blocks := 0, 0
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || trimmed[0] == '#' {
			continue
		}
		if line[0] != ' ' && line[0] != '\t' {
			finish()
			blocks++
			if blocks%ctxEvery == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			b = c.header(line, n)
			continue
		}
		if b == nil {
			c.problems.Addf("%s:%d: indented line outside an entry", c.path, n)
			continue
		}
		// Only the entry's own fields, indented by two spaces, matter.
		if !strings.HasPrefix(line, "  ") || line[2] == ' ' || line[2] == '\t' {
			continue
		}
		key, val, _ := strings.Cut(trimmed, " ")
		if key != "version" {
			continue
		}
		v, err := unquote(strings.TrimSpace(val))
		if err != nil {
			c.problems.Addf("%s:%d: malformed version %s", c.path, n, val)
			b.bad = true
			continue
		}
		b.version = v
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s:%d: %w", c.path, n+1, err)
	}
	finish()
	return nil
}

// header parses an entry's first line: one or more comma-separated
// descriptors, quoted when they hold "@" or spaces, and a final colon.
// The first descriptor names the package; an alias
// ("string-width-cjs@npm:string-width@^4.2.0") names its target.
func (c *collector) header(line string, n int) *block {
	b := &block{line: n}
	specs, ok := strings.CutSuffix(line, ":")
	if !ok {
		c.problems.Addf("%s:%d: entry header does not end with \":\"", c.path, n)
		b.bad = true
		return b
	}
	raw, _, _ := strings.Cut(specs, ",")
	first, err := unquote(strings.TrimSpace(raw))
	if err != nil {
		c.problems.Addf("%s:%d: malformed descriptor %s", c.path, n, strings.TrimSpace(raw))
		b.bad = true
		return b
	}
	name, rng, ok := splitDescriptor(first)
	if !ok {
		c.problems.Addf("%s:%d: descriptor %q has no range", c.path, n, first)
		b.bad = true
		return b
	}
	if target, isAlias := strings.CutPrefix(rng, "npm:"); isAlias {
		if tname, trng, ok := splitDescriptor(target); ok {
			name, rng = tname, trng
		}
	}
	b.name = name
	b.skip = local(rng)
	return b
}

// unquote removes the double quotes yarn puts around strings that need
// them; unquoted strings are returned as they are.
func unquote(s string) (string, error) {
	if !strings.HasPrefix(s, `"`) {
		if strings.HasSuffix(s, `"`) {
			return "", fmt.Errorf("unbalanced quote")
		}
		return s, nil
	}
	return strconv.Unquote(s)
}

// berryEntry holds the fields of a berry entry read here.
type berryEntry struct {
	Version    string `yaml:"version"`
	Resolution string `yaml:"resolution"`
}

// berry parses a Yarn 2+ lockfile:
//
//	"@babel/code-frame@npm:^7.0.0":
//	  version: 7.12.13
//	  resolution: "@babel/code-frame@npm:7.12.13"
func (c *collector) berry(ctx context.Context, r io.Reader) error {
	data, err := langutil.ReadAll(r, maxBerry)
	if err != nil {
		return fmt.Errorf("read %s: %w", c.path, err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("parse %s: %w", c.path, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return fmt.Errorf("parse %s: lockfile is not a YAML mapping", c.path)
	}
	m := doc.Content[0].Content
	for i := 0; i+1 < len(m); i += 2 {
		if (i/2)%ctxEvery == ctxEvery-1 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		k, v := m[i], m[i+1]
		if k.Value == "__metadata" {
			continue
		}
		var e berryEntry
		if err := v.Decode(&e); err != nil {
			c.problems.Addf("%s:%d: entry %q: %v", c.path, k.Line, k.Value, err)
			continue
		}
		if e.Resolution == "" {
			c.problems.Addf("%s:%d: entry %q has no resolution", c.path, k.Line, k.Value)
			continue
		}
		name, ref, ok := splitDescriptor(e.Resolution)
		if !ok {
			c.problems.Addf("%s:%d: entry %q: malformed resolution %q", c.path, k.Line, k.Value, e.Resolution)
			continue
		}
		if local(ref) {
			continue
		}
		c.add(name, e.Version, k.Line)
	}
	return nil
}
