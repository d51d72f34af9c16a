// Package dpkg extracts installed Debian packages from dpkg's status
// database: var/lib/dpkg/status on Debian and Ubuntu, and the one-file-per-
// package var/lib/dpkg/status.d/ directory of distroless images.
package dpkg

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/vigilsec/vigil/internal/extractor"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
)

// Name is the extractor's name.
const Name = "os/dpkg"

const (
	// StatusPath is dpkg's status database.
	StatusPath = "var/lib/dpkg/status"
	// StatusDir holds one status paragraph file per package in distroless
	// images.
	StatusDir = "var/lib/dpkg/status.d"

	// maxLine bounds one line of a status file; real lines are far shorter
	// (the longest are Depends and Description lines).
	maxLine = 1 << 20
	// ctxEvery is how many paragraphs are parsed between context checks.
	ctxEvery = 64
)

// Extractor reads dpkg status files.
type Extractor struct{}

// New returns the dpkg extractor.
func New() extractor.Extractor { return &Extractor{} }

func (*Extractor) Name() string                       { return Name }
func (*Extractor) Version() int                       { return 1 }
func (*Extractor) Requirements() *plugin.Capabilities { return &plugin.Capabilities{} }

// FileRequired reports whether path is var/lib/dpkg/status or a package
// file directly inside var/lib/dpkg/status.d (distroless also keeps
// "<pkg>.md5sums" lists there, which are not status paragraphs).
func (*Extractor) FileRequired(path string, info fs.FileInfo) bool {
	if info != nil && info.IsDir() {
		return false
	}
	if path == StatusPath {
		return true
	}
	return inStatusDir(path)
}

func inStatusDir(path string) bool {
	base, ok := strings.CutPrefix(path, StatusDir+"/")
	return ok && base != "" && !strings.Contains(base, "/") &&
		!strings.HasPrefix(base, ".") && !strings.HasSuffix(base, ".md5sums")
}

// Extract reads the installed packages of one status file. Packages whose
// Status is not "... installed" (config-files, half-installed, unpacked,
// not-installed) are left out. A malformed paragraph is reported as a
// problem naming the file and line; the rest are still returned.
func (*Extractor) Extract(ctx context.Context, in *extractor.ScanInput) (*inventory.Inventory, error) {
	inv := &inventory.Inventory{}
	var problems plugin.Problems
	st, err := Parse(ctx, in.Reader, in.Path, func(p inventory.Package) {
		inv.Packages = append(inv.Packages, p)
	}, &problems)
	if err != nil {
		// Canceled, or nothing could be read: no usable result.
		if ctx.Err() != nil || st.Paragraphs == 0 {
			return nil, err
		}
		// A read error or an overlong line part-way: keep what was read.
		problems.Add(err)
	}
	return inv, problems.Err()
}

// Stats counts the paragraphs a Parse saw. Every paragraph is counted in
// exactly one of Installed, NotInstalled and Malformed.
type Stats struct {
	Paragraphs   int
	Installed    int
	NotInstalled int
	Malformed    int
}

// paragraph holds the fields of one status paragraph that Parse keeps.
type paragraph struct {
	line       int // first line
	pkg        string
	status     string
	hasStatus  bool
	version    string
	source     string
	sourceLine int
	srcVersion string // from "Source: name (version)"
	arch       string
	maintainer string
	// bad is the first syntax problem seen in the paragraph.
	bad string
}

// Parse streams the paragraphs of a status file at path (relative to the
// scan root, as in ScanInput.Path) from r and calls emit for each installed
// package. Per-paragraph problems go to problems. A paragraph without a
// Status field counts as installed only in a status.d file, where
// distroless omits it. The returned error is a read error, a too-long line
// or ctx's error; the packages emitted before it stand.
func Parse(ctx context.Context, r io.Reader, path string, emit func(inventory.Package), problems *plugin.Problems) (Stats, error) {
	var st Stats
	statusOptional := inStatusDir(path)
	source := "/" + path

	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	var p paragraph
	inPara := false
	lastKey := false // a field line was seen in this paragraph
	lineNo := 0

	finish := func() {
		st.Paragraphs++
		switch installed, err := p.check(path, statusOptional); {
		case err != nil:
			st.Malformed++
			problems.Add(err)
		case !installed:
			st.NotInstalled++
		default:
			st.Installed++
			emit(p.pkgRecord(source))
		}
		p = paragraph{}
		inPara, lastKey = false, false
	}

	for sc.Scan() {
		lineNo++
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			if inPara {
				finish()
				if st.Paragraphs%ctxEvery == 0 {
					if err := ctx.Err(); err != nil {
						return st, err
					}
				}
			}
			continue
		}
		if !inPara {
			inPara = true
			p.line = lineNo
		}
		if line[0] == ' ' || line[0] == '\t' {
			// Continuation of the previous field (Description,
			// Conffiles, ...): none of the fields kept here.
			if !lastKey && p.bad == "" {
				p.bad = fmt.Sprintf("%s:%d: continuation line without a field", path, lineNo)
			}
			continue
		}
		i := bytes.IndexByte(line, ':')
		if i <= 0 {
			if p.bad == "" {
				p.bad = fmt.Sprintf("%s:%d: line is not a \"Field: value\" pair", path, lineNo)
			}
			continue
		}
		lastKey = true
		key := line[:i]
		switch string(key) {
		case "Package":
			p.pkg = value(line[i+1:])
		case "Status":
			p.status, p.hasStatus = value(line[i+1:]), true
		case "Version":
			p.version = value(line[i+1:])
		case "Source":
			p.source, p.sourceLine = value(line[i+1:]), lineNo
		case "Architecture":
			p.arch = value(line[i+1:])
		case "Maintainer":
			p.maintainer = value(line[i+1:])
		}
	}
	if err := sc.Err(); err != nil {
		// The paragraph being read is cut short: drop it.
		return st, fmt.Errorf("%s:%d: %w", path, lineNo+1, err)
	}
	if inPara {
		finish()
	}
	return st, nil
}

func value(b []byte) string { return string(bytes.TrimSpace(b)) }

// check validates a finished paragraph and reports whether its package is
// installed.
func (p *paragraph) check(path string, statusOptional bool) (bool, error) {
	if p.bad != "" {
		return false, errors.New(p.bad)
	}
	if p.pkg == "" {
		return false, fmt.Errorf("%s:%d: paragraph has no Package field", path, p.line)
	}
	if !p.hasStatus {
		if !statusOptional {
			return false, fmt.Errorf("%s:%d: package %q has no Status field", path, p.line, p.pkg)
		}
	} else {
		// "want flag status": install ok installed, deinstall ok
		// config-files, hold ok installed, install reinstreq
		// half-installed, ...
		f := strings.Fields(p.status)
		if len(f) != 3 {
			return false, fmt.Errorf("%s:%d: package %q has malformed Status %q", path, p.line, p.pkg, p.status)
		}
		if f[2] != "installed" {
			return false, nil
		}
	}
	if p.version == "" {
		return false, fmt.Errorf("%s:%d: installed package %q has no Version field", path, p.line, p.pkg)
	}
	if p.sourceLine != 0 {
		name, version, ok := parseSource(p.source)
		if !ok {
			return false, fmt.Errorf("%s:%d: package %q has malformed Source %q", path, p.sourceLine, p.pkg, p.source)
		}
		p.source, p.srcVersion = name, version
	}
	return true, nil
}

func (p *paragraph) pkgRecord(source string) inventory.Package {
	srcVersion := p.srcVersion
	if srcVersion == "" {
		srcVersion = p.version
	}
	srcName := p.source
	if srcName == "" {
		srcName = p.pkg
	}
	return inventory.Package{
		Name:          p.pkg,
		Version:       p.version,
		SourceName:    srcName,
		SourceVersion: srcVersion,
		Arch:          p.arch,
		Type:          "deb",
		Source:        source,
		Maintainer:    p.maintainer,
	}
}

// parseSource splits a Source field, "name" or "name (version)". The
// version is "" when the field has none.
func parseSource(s string) (name, version string, ok bool) {
	name, rest, hasRest := strings.Cut(s, " ")
	if name == "" || strings.ContainsAny(name, "()\t") {
		return "", "", false
	}
	if !hasRest {
		return name, "", true
	}
	rest = strings.TrimSpace(rest)
	inner, ok := strings.CutPrefix(rest, "(")
	if !ok {
		return "", "", false
	}
	inner, ok = strings.CutSuffix(inner, ")")
	inner = strings.TrimSpace(inner)
	if !ok || inner == "" || strings.ContainsAny(inner, " \t()") {
		return "", "", false
	}
	return name, inner, true
}
