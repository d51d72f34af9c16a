// Package npmlock extracts npm packages from package-lock.json and
// npm-shrinkwrap.json: the nested "dependencies" tree of lockfile version
// 1 and the flat "packages" map of versions 2 and 3.
//
// Lockfiles of large projects reach tens of megabytes, so the file is
// streamed: one package entry is decoded at a time.
package npmlock

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
	"github.com/vigilsec/vigil/internal/extractor/lang/node"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
)

// Name is the extractor's name.
const Name = "lang/npmlock"

const (
	// maxSize bounds a lockfile; the largest real ones are around 50 MB.
	maxSize = 512 << 20
	// maxDepth bounds the nesting of a version 1 dependency tree, which
	// is as deep as node_modules directories nest (a few dozen levels).
	maxDepth = 1000
	// ctxEvery is how many entries are read between context checks.
	ctxEvery = 256
)

// Extractor reads npm lockfiles.
type Extractor struct{}

// New returns the package-lock.json extractor.
func New() extractor.Extractor { return &Extractor{} }

func (*Extractor) Name() string                       { return Name }
func (*Extractor) Version() int                       { return 1 }
func (*Extractor) Requirements() *plugin.Capabilities { return &plugin.Capabilities{} }

// FileRequired reports whether path is a package-lock.json or an
// npm-shrinkwrap.json outside node_modules (the hidden
// node_modules/.package-lock.json and lockfiles shipped inside installed
// packages describe trees that are not installed as such).
func (*Extractor) FileRequired(path string, info fs.FileInfo) bool {
	if info != nil && info.IsDir() {
		return false
	}
	base := path[strings.LastIndexByte(path, '/')+1:]
	if base != "package-lock.json" && base != "npm-shrinkwrap.json" {
		return false
	}
	return !strings.HasPrefix(path, "node_modules/") && !strings.Contains(path, "/node_modules/")
}

// Extract reads the packages of one lockfile. The root project, workspace
// members and linked ("link": true) entries are left out; dev, optional
// and bundled packages are all reported. A package seen several times at
// one version is reported once.
func (*Extractor) Extract(ctx context.Context, in *extractor.ScanInput) (*inventory.Inventory, error) {
	var problems plugin.Problems
	pkgs, err := Parse(ctx, in.Reader, in.Path, &problems)
	if err != nil {
		if ctx.Err() != nil || len(pkgs) == 0 {
			return nil, err
		}
		// A syntax error part-way: keep the entries read before it.
		problems.Add(err)
	}
	return &inventory.Inventory{Packages: pkgs}, problems.Err()
}

// Parse streams the lockfile at path (relative to the scan root) from r.
// Per-entry problems go to problems. The returned error is a syntax or
// read error, or ctx's error; the packages returned with it were read
// before it. Packages are sorted by name and version.
func Parse(ctx context.Context, r io.Reader, path string, problems *plugin.Problems) ([]inventory.Package, error) {
	lr := &lineReader{r: r, left: maxSize}
	p := &parser{
		ctx:      ctx,
		path:     path,
		lr:       lr,
		dec:      json.NewDecoder(lr),
		problems: problems,
		seen:     map[[2]string]bool{},
	}
	err := p.parse()
	// Version 2 files carry both sections; "packages" is the complete one.
	out := p.v1
	if p.hasPackages {
		out = p.v2
	}
	slices.SortFunc(out, func(a, b inventory.Package) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Version, b.Version))
	})
	return out, err
}

type parser struct {
	ctx      context.Context
	path     string
	lr       *lineReader
	dec      *json.Decoder
	problems *plugin.Problems
	// seen holds {section, name@version} pairs already reported.
	seen        map[[2]string]bool
	hasPackages bool
	v1, v2      []inventory.Package
	entries     int
}

func (p *parser) parse() error {
	if err := p.delim('{', "lockfile"); err != nil {
		return err
	}
	for p.dec.More() {
		key, err := p.key()
		if err != nil {
			return err
		}
		switch key {
		case "packages":
			p.hasPackages = true
			err = p.packages()
		case "dependencies":
			if p.hasPackages {
				err = p.skip()
			} else {
				err = p.dependencies(1)
			}
		default:
			err = p.skip()
		}
		if err != nil {
			return err
		}
	}
	if _, err := p.dec.Token(); err != nil {
		return p.syntax(err)
	}
	// Anything after the top-level object is not a lockfile.
	if _, err := p.dec.Token(); err != io.EOF {
		if err == nil {
			return fmt.Errorf("%s:%d: data after the lockfile object", p.path, p.line(p.dec.InputOffset()))
		}
		return p.syntax(err)
	}
	return nil
}

// entry holds the fields of a "packages" entry read here.
type entry struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Link    bool   `json:"link"`
}

// packages reads the version 2/3 map keyed by install path:
// "node_modules/a", "node_modules/a/node_modules/@s/b", "packages/ws"
// (a workspace member), "" (the root project).
func (p *parser) packages() error {
	if err := p.delim('{', `"packages"`); err != nil {
		return err
	}
	for p.dec.More() {
		key, err := p.key()
		if err != nil {
			return err
		}
		line := p.line(p.dec.InputOffset())
		var e entry
		if err := p.dec.Decode(&e); err != nil {
			var te *json.UnmarshalTypeError
			if !errors.As(err, &te) {
				return p.syntax(err)
			}
			// The whole value was read; only this entry is lost.
			if te.Field == "" {
				p.problems.Addf("%s:%d: package %q: entry is not an object", p.path, line, key)
			} else {
				p.problems.Addf("%s:%d: package %q: field %q has the wrong type (JSON %s)", p.path, line, key, te.Field, te.Value)
			}
			continue
		}
		if err := p.tick(); err != nil {
			return err
		}
		i := strings.LastIndex(key, "node_modules/")
		if e.Link || i < 0 || (i > 0 && key[i-1] != '/') {
			// The root, a workspace member, or a link to one.
			continue
		}
		name := key[i+len("node_modules/"):]
		if e.Name != "" {
			// An alias, installed as "node_modules/<alias>".
			name = e.Name
		}
		p.add(&p.v2, "p", name, e.Version, line)
	}
	_, err := p.dec.Token()
	return p.syntax(err)
}

// dependencies reads a version 1 tree: {"name": {"version": "1.2.3",
// "dependencies": {...}}, ...}.
func (p *parser) dependencies(depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%s:%d: dependencies nested more than %d deep", p.path, p.line(p.dec.InputOffset()), maxDepth)
	}
	if err := p.delim('{', `"dependencies"`); err != nil {
		return err
	}
	for p.dec.More() {
		name, err := p.key()
		if err != nil {
			return err
		}
		line := p.line(p.dec.InputOffset())
		if err := p.delim('{', fmt.Sprintf("dependency %q", name)); err != nil {
			return err
		}
		var version string
		var hasVersion, bad bool
		for p.dec.More() {
			k, err := p.key()
			if err != nil {
				return err
			}
			switch k {
			case "version":
				tok, err := p.dec.Token()
				if err != nil {
					return p.syntax(err)
				}
				version, hasVersion = tok.(string)
				if !hasVersion {
					bad = true
					if d, ok := tok.(json.Delim); ok && (d == '{' || d == '[') {
						if err := p.skipRest(); err != nil {
							return err
						}
					}
				}
			case "dependencies":
				err = p.dependencies(depth + 1)
			default:
				err = p.skip()
			}
			if err != nil {
				return err
			}
		}
		if _, err := p.dec.Token(); err != nil {
			return p.syntax(err)
		}
		if err := p.tick(); err != nil {
			return err
		}
		if bad {
			p.problems.Addf("%s:%d: dependency %q: \"version\" is not a string", p.path, line, name)
			continue
		}
		p.addV1(name, version, line)
	}
	_, err := p.dec.Token()
	return p.syntax(err)
}

// addV1 reports a version 1 entry. Its version may name an alias target
// ("npm:string-width@4.2.3"), a local directory ("file:../lib") or a git
// commit ("git+ssh://git@github.com/o/r.git#<sha>", "github:o/r#<sha>").
// Local directories are not packages of the registry and are left out.
func (p *parser) addV1(name, version string, line int) {
	if target, ok := strings.CutPrefix(version, "npm:"); ok {
		at := strings.LastIndexByte(target, '@')
		if at <= 0 {
			p.problems.Addf("%s:%d: dependency %q: malformed alias %q", p.path, line, name, version)
			return
		}
		name, version = target[:at], target[at+1:]
	}
	if strings.HasPrefix(version, "file:") || strings.HasPrefix(version, "link:") {
		return
	}
	p.add(&p.v1, "d", name, version, line)
}

func (p *parser) add(out *[]inventory.Package, section, name, version string, line int) {
	switch {
	case !node.ValidName(name):
		p.problems.Addf("%s:%d: invalid package name %q", p.path, line, name)
		return
	case version == "":
		p.problems.Addf("%s:%d: package %q has no version", p.path, line, name)
		return
	case !node.ValidVersion(version):
		p.problems.Addf("%s:%d: package %q has invalid version %q", p.path, line, name, version)
		return
	}
	k := [2]string{section, name + "@" + version}
	if p.seen[k] {
		return
	}
	p.seen[k] = true
	*out = append(*out, node.NewPackage(name, version, p.path))
}

func (p *parser) tick() error {
	p.entries++
	if p.entries%ctxEvery == 0 {
		return p.ctx.Err()
	}
	return nil
}

// key reads an object key.
func (p *parser) key() (string, error) {
	tok, err := p.dec.Token()
	if err != nil {
		return "", p.syntax(err)
	}
	s, ok := tok.(string)
	if !ok {
		return "", p.syntax(fmt.Errorf("unexpected %v", tok))
	}
	return s, nil
}

// delim reads the opening delimiter of the value named what.
func (p *parser) delim(want json.Delim, what string) error {
	off := p.dec.InputOffset()
	tok, err := p.dec.Token()
	if err != nil {
		return p.syntax(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("%s:%d: %s is not a JSON %s", p.path, p.line(off), what, kind(want))
	}
	return nil
}

func kind(d json.Delim) string {
	if d == '[' {
		return "array"
	}
	return "object"
}

// skip reads and drops one value, token by token, so that skipped
// sections are never held in memory.
func (p *parser) skip() error {
	tok, err := p.dec.Token()
	if err != nil {
		return p.syntax(err)
	}
	if d, ok := tok.(json.Delim); ok && (d == '{' || d == '[') {
		return p.skipRest()
	}
	return nil
}

// skipRest drops the rest of an object or array whose opening delimiter
// was read.
func (p *parser) skipRest() error {
	for depth := 1; depth > 0; {
		tok, err := p.dec.Token()
		if err != nil {
			return p.syntax(err)
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
			} else {
				depth--
			}
		}
	}
	return nil
}

// syntax names the file and line of a decoding error; nil stays nil.
func (p *parser) syntax(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, errTooLarge) {
		return fmt.Errorf("%s: %w", p.path, err)
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("%s:%d: unexpected end of file", p.path, p.line(p.dec.InputOffset()))
	}
	off := p.dec.InputOffset()
	var se *json.SyntaxError
	if errors.As(err, &se) {
		off = se.Offset
	}
	return fmt.Errorf("%s:%d: %w", p.path, p.line(off), err)
}

// line returns the 1-based line of byte offset off, which must lie in
// the part of the input the decoder has read; offsets outside it are
// clamped to that part. Only newlines are counted as the input is read,
// so this costs no memory.
func (p *parser) line(off int64) int {
	start := p.dec.InputOffset()
	var c nlCounter
	c.limit = off - start
	if wt, ok := p.dec.Buffered().(io.WriterTo); ok {
		wt.WriteTo(&c)
	}
	return p.lr.newlines - c.total + c.before + 1
}

type nlCounter struct {
	limit, pos    int64
	total, before int
}

func (c *nlCounter) Write(b []byte) (int, error) {
	for i, ch := range b {
		if ch == '\n' {
			c.total++
			if c.pos+int64(i) < c.limit {
				c.before++
			}
		}
	}
	c.pos += int64(len(b))
	return len(b), nil
}

var errTooLarge = fmt.Errorf("lockfile larger than %d bytes", maxSize)

// lineReader counts the newlines of what it reads and fails once more
// than left bytes were read.
type lineReader struct {
	r        io.Reader
	left     int64
	newlines int
}

func (l *lineReader) Read(b []byte) (int, error) {
	if l.left <= 0 {
		return 0, errTooLarge
	}
	if int64(len(b)) > l.left {
		b = b[:l.left]
	}
	n, err := l.r.Read(b)
	l.left -= int64(n)
	l.newlines += bytes.Count(b[:n], []byte{'\n'})
	return n, err
}
