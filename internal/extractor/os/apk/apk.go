// Package apk extracts installed Alpine packages from apk-tools' database,
// lib/apk/db/installed.
package apk

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/vigilsec/vigil/internal/extractor"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
)

// Name is the extractor's name.
const Name = "os/apk"

// InstalledPath is apk's database of installed packages.
const InstalledPath = "lib/apk/db/installed"

const (
	// maxLine bounds one line; real lines are short (paths, checksums).
	maxLine = 1 << 20
	// ctxEvery is how many records are parsed between context checks.
	ctxEvery = 64
)

// Extractor reads apk's installed database.
type Extractor struct{}

// New returns the apk extractor.
func New() extractor.Extractor { return &Extractor{} }

func (*Extractor) Name() string                       { return Name }
func (*Extractor) Version() int                       { return 1 }
func (*Extractor) Requirements() *plugin.Capabilities { return &plugin.Capabilities{} }

// FileRequired reports whether path is lib/apk/db/installed.
func (*Extractor) FileRequired(path string, info fs.FileInfo) bool {
	return path == InstalledPath && (info == nil || !info.IsDir())
}

// Extract reads the packages of one installed database. A record without
// a name or version is reported as a problem naming the file and line; the
// rest are still returned.
func (*Extractor) Extract(ctx context.Context, in *extractor.ScanInput) (*inventory.Inventory, error) {
	inv := &inventory.Inventory{}
	var problems plugin.Problems
	st, err := Parse(ctx, in.Reader, in.Path, func(p inventory.Package) {
		inv.Packages = append(inv.Packages, p)
	}, &problems)
	if err != nil {
		if ctx.Err() != nil || st.Records == 0 {
			return nil, err
		}
		problems.Add(err)
	}
	return inv, problems.Err()
}

// Stats counts the records a Parse saw; each is either a package or
// malformed.
type Stats struct {
	Records   int
	Packages  int
	Malformed int
}

type record struct {
	line                             int
	name, version, arch, origin, mnt string
	bad                              string
}

// Parse streams the records of an installed database at path (relative
// to the scan root) from r and calls emit for each package. Records are
// blocks of "K:value" lines separated by blank lines; P (name), V
// (version), A (arch), o (origin, the source package) and m (maintainer)
// are kept. The returned error is a read error, a too-long line or ctx's
// error; packages emitted before it stand.
func Parse(ctx context.Context, r io.Reader, path string, emit func(inventory.Package), problems *plugin.Problems) (Stats, error) {
	var st Stats
	source := "/" + path
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	var rec record
	inRec := false
	lineNo := 0

	finish := func() {
		st.Records++
		var err error
		switch {
		case rec.bad != "":
			err = errors.New(rec.bad)
		case rec.name == "":
			err = fmt.Errorf("%s:%d: record has no P (name) field", path, rec.line)
		case rec.version == "":
			err = fmt.Errorf("%s:%d: package %q has no V (version) field", path, rec.line, rec.name)
		}
		if err != nil {
			st.Malformed++
			problems.Add(err)
		} else {
			st.Packages++
			src := rec.origin
			if src == "" {
				src = rec.name
			}
			emit(inventory.Package{
				Name:          rec.name,
				Version:       rec.version,
				SourceName:    src,
				SourceVersion: rec.version,
				Arch:          rec.arch,
				Type:          "apk",
				Source:        source,
				Maintainer:    rec.mnt,
			})
		}
		rec, inRec = record{}, false
	}

	for sc.Scan() {
		lineNo++
		line := bytes.TrimRight(sc.Bytes(), "\r")
		if len(bytes.TrimSpace(line)) == 0 {
			if inRec {
				finish()
				if st.Records%ctxEvery == 0 {
					if err := ctx.Err(); err != nil {
						return st, err
					}
				}
			}
			continue
		}
		if !inRec {
			inRec, rec.line = true, lineNo
		}
		if len(line) < 2 || line[1] != ':' {
			if rec.bad == "" {
				rec.bad = fmt.Sprintf("%s:%d: line is not a \"K:value\" pair", path, lineNo)
			}
			continue
		}
		v := line[2:]
		switch line[0] {
		case 'P':
			rec.name = string(v)
		case 'V':
			rec.version = string(v)
		case 'A':
			rec.arch = string(v)
		case 'o':
			rec.origin = string(v)
		case 'm':
			rec.mnt = string(v)
		}
	}
	if err := sc.Err(); err != nil {
		return st, fmt.Errorf("%s:%d: %w", path, lineNo+1, err)
	}
	if inRec {
		finish()
	}
	return st, nil
}
