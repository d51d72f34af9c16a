// Package requirements extracts pinned Python packages from pip
// requirements files (requirements.txt, requirements-dev.txt,
// dev-requirements.txt, ...).
//
// Only requirements pinned to one version ("name==1.2.3", "name===1.2.3")
// are reported: any other specifier says what may be installed, not what
// is. Unpinned, URL, path and editable requirements are skipped and each
// is noted as a problem naming its line, so a partial result says so.
// Comments, line continuations, --hash options and environment markers
// (not evaluated: the package is reported whatever the marker says) are
// handled. "-r file" and "-c file" includes are followed, relative to the
// including file, inside the scan root only, to depth maxDepth.
package requirements

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/vigilsec/vigil/internal/extractor"
	"github.com/vigilsec/vigil/internal/extractor/lang/internal/langutil"
	"github.com/vigilsec/vigil/internal/extractor/lang/python"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
)

// Name is the extractor's name.
const Name = "lang/requirements"

const (
	// MaxSize bounds each requirements file read.
	MaxSize = 4 << 20
	// maxDepth bounds nested -r includes and maxFiles the files one
	// extraction reads.
	maxDepth = 8
	maxFiles = 64
)

// Extractor reads requirements files.
type Extractor struct{}

// New returns the requirements.txt extractor.
func New() extractor.Extractor { return &Extractor{} }

func (*Extractor) Name() string                       { return Name }
func (*Extractor) Version() int                       { return 1 }
func (*Extractor) Requirements() *plugin.Capabilities { return &plugin.Capabilities{} }

// FileRequired reports whether the file is a .txt file with
// "requirements" in its name.
func (*Extractor) FileRequired(p string, info fs.FileInfo) bool {
	if info != nil && !info.Mode().IsRegular() {
		return false
	}
	base := path.Base(p)
	return strings.HasSuffix(base, ".txt") && strings.Contains(base, "requirements")
}

// Extract reads one requirements file and the files it includes.
func (*Extractor) Extract(ctx context.Context, in *extractor.ScanInput) (*inventory.Inventory, error) {
	data, err := langutil.ReadAll(in.Reader, MaxSize)
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", in.Path, err)
	}
	var problems plugin.Problems
	pkgs, err := Parse(ctx, in.FS, in.Path, data, &problems)
	if err != nil {
		return nil, err
	}
	return &inventory.Inventory{Packages: pkgs}, problems.Err()
}

type parser struct {
	ctx      context.Context
	fsys     fs.FS
	visited  map[string]bool
	files    int
	pkgs     []inventory.Package
	seen     map[string]bool
	problems *plugin.Problems
}

// Parse reads requirements from data (the file at path) and, when fsys is
// not nil, the files it includes. Per-line problems go to problems.
func Parse(ctx context.Context, fsys fs.FS, path string, data []byte, problems *plugin.Problems) ([]inventory.Package, error) {
	p := &parser{ctx: ctx, fsys: fsys, visited: map[string]bool{path: true}, seen: map[string]bool{}, problems: problems}
	if err := p.parse(path, data, 0); err != nil {
		return nil, err
	}
	return p.pkgs, nil
}

func (p *parser) parse(file string, data []byte, depth int) error {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, MaxSize)
	lineNo, start := 0, 0
	var logical strings.Builder
	for sc.Scan() {
		lineNo++
		if lineNo%256 == 0 {
			if err := p.ctx.Err(); err != nil {
				return err
			}
		}
		line := strings.TrimSuffix(sc.Text(), "\r")
		if logical.Len() == 0 {
			start = lineNo
		}
		// A trailing backslash continues the line, except on a
		// comment-only line (as pip's join_lines has it).
		if strings.HasSuffix(line, "\\") && !strings.HasPrefix(strings.TrimSpace(line), "#") {
			logical.WriteString(strings.TrimSuffix(line, "\\"))
			logical.WriteByte(' ')
			continue
		}
		logical.WriteString(line)
		p.line(file, start, logical.String(), depth)
		logical.Reset()
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %q: %w", file, err)
	}
	if logical.Len() > 0 {
		p.line(file, start, logical.String(), depth)
	}
	return nil
}

// stripComment removes a "#" comment: at the start of the line or after
// whitespace, as pip does (a "#" inside a URL fragment stays).
func stripComment(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '#' && (i == 0 || s[i-1] == ' ' || s[i-1] == '\t') {
			return s[:i]
		}
	}
	return s
}

func (p *parser) line(file string, lineNo int, s string, depth int) {
	s = strings.TrimSpace(stripComment(s))
	if s == "" {
		return
	}
	if s[0] == '-' {
		p.option(file, lineNo, s, depth)
		return
	}
	name, version, reason := ParseRequirement(s)
	if reason != "" {
		p.problems.Addf("%s:%d: %q: %s: skipped", file, lineNo, shorten(s), reason)
		return
	}
	if k := python.NormalizeName(name) + "@" + version + "@" + file; !p.seen[k] {
		p.seen[k] = true
		p.pkgs = append(p.pkgs, python.Package(name, version, file))
	}
}

func shorten(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

// option handles a line starting with "-".
func (p *parser) option(file string, lineNo int, s string, depth int) {
	opt, arg := s, ""
	if i := strings.IndexAny(s, " \t="); i >= 0 {
		opt, arg = s[:i], strings.TrimSpace(strings.TrimLeft(s[i:], " \t="))
	}
	switch opt {
	case "-r", "--requirement", "-c", "--constraint":
		p.include(file, lineNo, arg, depth)
	case "-e", "--editable":
		p.problems.Addf("%s:%d: editable requirement %q has no version: skipped", file, lineNo, shorten(arg))
	default:
		// Index, find-links, hash-checking and other pip options name
		// no package.
	}
}

// include reads a file named by -r or -c, relative to file's directory,
// inside the scan root.
func (p *parser) include(file string, lineNo int, arg string, depth int) {
	if arg == "" {
		p.problems.Addf("%s:%d: include without a file name", file, lineNo)
		return
	}
	if strings.Contains(arg, "://") {
		p.problems.Addf("%s:%d: include of URL %q: not fetched", file, lineNo, shorten(arg))
		return
	}
	target := arg
	if !strings.HasPrefix(arg, "/") {
		target = path.Join(path.Dir(file), arg)
	}
	target = strings.TrimPrefix(path.Clean(target), "/")
	switch {
	case p.fsys == nil:
		p.problems.Addf("%s:%d: include %q: no file system to read it from", file, lineNo, arg)
		return
	case !fs.ValidPath(target) || target == ".":
		p.problems.Addf("%s:%d: include %q: outside the scan root", file, lineNo, arg)
		return
	case depth+1 > maxDepth:
		p.problems.Addf("%s:%d: include %q: nested deeper than %d files", file, lineNo, arg, maxDepth)
		return
	case p.visited[target]:
		return // already read: an include cycle or a repeat
	case p.files >= maxFiles:
		p.problems.Addf("%s:%d: include %q: more than %d files included", file, lineNo, arg, maxFiles)
		return
	}
	if err := noSymlink(p.fsys, target); err != nil {
		p.problems.Addf("%s:%d: include %q: %v", file, lineNo, arg, err)
		return
	}
	p.visited[target] = true
	p.files++
	data, err := readFile(p.fsys, target)
	if err != nil {
		p.problems.Addf("%s:%d: include %q: %v", file, lineNo, arg, err)
		return
	}
	if err := p.parse(target, data, depth+1); err != nil {
		p.problems.Addf("%s:%d: include %q: %v", file, lineNo, arg, err)
	}
}

// noSymlink refuses a path with a symbolic link in it: a link could lead
// out of the scan root when the root is on disk.
func noSymlink(fsys fs.FS, p string) error {
	for cur := p; cur != "."; cur = path.Dir(cur) {
		info, err := fs.Lstat(fsys, cur)
		if err != nil {
			return err
		}
		if info.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("%q is a symbolic link: not followed", cur)
		}
	}
	return nil
}

func readFile(fsys fs.FS, name string) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if info, err := f.Stat(); err == nil && !info.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file")
	}
	return langutil.ReadAll(io.Reader(f), MaxSize)
}

// ParseRequirement reads one requirement line (comments removed) and
// returns its name and pinned version, or why it has none:
//
//	requests[security]==2.25.1 ; python_version >= "3.6" --hash=sha256:...
func ParseRequirement(s string) (name, version, reason string) {
	// Per-requirement options: --hash, --global-option, ...
	if i := strings.Index(s, " --"); i >= 0 {
		s = s[:i]
	}
	if i := strings.Index(s, "\t--"); i >= 0 {
		s = s[:i]
	}
	// Environment markers.
	if i := strings.IndexByte(s, ';'); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimSpace(s)
	n := 0
	for n < len(s) && (isNameByte(s[n])) {
		n++
	}
	name = s[:n]
	if !python.ValidName(name) {
		return "", "", "not a package requirement (a path or URL?)"
	}
	rest := strings.TrimSpace(s[n:])
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return "", "", "unterminated extras"
		}
		rest = strings.TrimSpace(rest[end+1:])
	}
	// "name (==1.0)" is the old parenthesised form.
	if strings.HasPrefix(rest, "(") && strings.HasSuffix(rest, ")") {
		rest = strings.TrimSpace(rest[1 : len(rest)-1])
	}
	switch {
	case rest == "":
		return "", "", "no version specifier"
	case strings.HasPrefix(rest, "@"):
		return "", "", "direct URL reference"
	case strings.Contains(rest, ","):
		return "", "", "not pinned to one version"
	}
	v, ok := strings.CutPrefix(rest, "===")
	if !ok {
		v, ok = strings.CutPrefix(rest, "==")
	}
	v = strings.TrimSpace(v)
	if !ok {
		return "", "", "not pinned to one version"
	}
	if strings.Contains(v, "*") {
		return "", "", "wildcard version"
	}
	if !python.ValidVersion(v) {
		return "", "", fmt.Sprintf("malformed version %q", v)
	}
	return name, v, ""
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_'
}
