// Package gobinary extracts the Go modules compiled into a Go executable
// from its embedded build information: the main module, every dependency
// (as replaced) and the Go standard library, as package "stdlib" at the
// toolchain's version.
package gobinary

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"fmt"
	"io"
	"io/fs"
	"runtime/debug"
	"strings"

	"github.com/vigilsec/vigil/internal/extractor"
	"github.com/vigilsec/vigil/internal/extractor/lang/internal/langutil"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
)

// Name is the extractor's name.
const Name = "lang/gobinary"

const (
	// minSize is below the smallest Go executable (a stripped, empty main
	// is about 1 MB); smaller files are not looked at.
	minSize = 64 << 10
	// MaxSize bounds the executables looked at. The largest real Go
	// binaries (kubelet, terraform providers) are a few hundred MB.
	MaxSize = 1 << 30

	typ       = "golang"
	ecosystem = "Go"
)

// Extractor reads Go build information.
type Extractor struct{}

// New returns the Go binary extractor.
func New() extractor.Extractor { return &Extractor{} }

func (*Extractor) Name() string                       { return Name }
func (*Extractor) Version() int                       { return 1 }
func (*Extractor) Requirements() *plugin.Capabilities { return &plugin.Capabilities{} }

// FileRequired reports whether the file is a regular file with an execute
// bit and a plausible size. It looks at the mode and size only; the file's
// format is checked by Extract.
func (*Extractor) FileRequired(_ string, info fs.FileInfo) bool {
	if info == nil || !info.Mode().IsRegular() || info.Mode().Perm()&0o111 == 0 {
		return false
	}
	return info.Size() >= minSize && info.Size() <= MaxSize
}

// executable magic numbers: ELF, Mach-O (32/64, both byte orders, fat),
// PE ("MZ") and XCOFF.
var magics = [][]byte{
	[]byte("\x7fELF"),
	{0xfe, 0xed, 0xfa, 0xce}, {0xfe, 0xed, 0xfa, 0xcf},
	{0xce, 0xfa, 0xed, 0xfe}, {0xcf, 0xfa, 0xed, 0xfe},
	{0xca, 0xfe, 0xba, 0xbe},
	[]byte("MZ"),
	{0x01, 0xdf}, {0x01, 0xf7},
}

// Extract reads the build information of one executable. A file that is
// not an executable, or an executable not built by Go, yields no packages
// and no error; a Go executable whose build information cannot be read
// is an error.
func (*Extractor) Extract(ctx context.Context, in *extractor.ScanInput) (*inventory.Inventory, error) {
	ra, size, closeFn, err := langutil.ReaderAt(in, MaxSize)
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", in.Path, err)
	}
	defer closeFn()
	var head [4]byte
	if n, _ := ra.ReadAt(head[:], 0); n < len(head) || !isExecutable(head[:]) {
		return &inventory.Inventory{}, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	bi, err := buildinfo.Read(io.NewSectionReader(ra, 0, size))
	if err != nil {
		if msg := err.Error(); strings.Contains(msg, "not a Go executable") ||
			strings.Contains(msg, "unrecognized file format") {
			return &inventory.Inventory{}, nil
		}
		return nil, fmt.Errorf("read Go build info of %q: %w", in.Path, err)
	}
	var problems plugin.Problems
	inv := &inventory.Inventory{Packages: Packages(bi, in.Path, &problems)}
	return inv, problems.Err()
}

func isExecutable(head []byte) bool {
	for _, m := range magics {
		if bytes.HasPrefix(head, m) {
			return true
		}
	}
	return false
}

// Packages turns build information into packages found at location: the
// main module unless its version is "(devel)" or empty, each dependency
// (its replacement when replaced; replacements by a local directory have
// no version and are left out), and "stdlib". Versions lose their "v"
// prefix, as OSV's Go ecosystem writes them.
func Packages(bi *debug.BuildInfo, location string, problems *plugin.Problems) []inventory.Package {
	var pkgs []inventory.Package
	add := func(m *debug.Module) {
		if m.Replace != nil {
			m = m.Replace
		}
		if m.Path == "" || m.Version == "" || m.Version == "(devel)" {
			return
		}
		if !strings.HasPrefix(m.Version, "v") {
			problems.Addf("%s: module %q has malformed version %q", location, m.Path, m.Version)
			return
		}
		pkgs = append(pkgs, Package(m.Path, strings.TrimPrefix(m.Version, "v"), location))
	}
	add(&bi.Main)
	for _, d := range bi.Deps {
		if d != nil {
			add(d)
		}
	}
	if v, ok := GoVersion(bi.GoVersion); ok {
		pkgs = append(pkgs, Package("stdlib", v, location))
	} else if bi.GoVersion != "" && !strings.HasPrefix(bi.GoVersion, "devel") {
		problems.Addf("%s: unrecognised Go version %q", location, bi.GoVersion)
	}
	return pkgs
}

// Package builds the package record of a Go module (or "stdlib") at a
// version without "v".
func Package(path, version, location string) inventory.Package {
	ns, name := "", path
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		ns, name = path[:i], path[i+1:]
	}
	return langutil.Package(typ, ecosystem, path, version,
		langutil.PURL(typ, ns, name, version), location)
}

// GoVersion converts a Go toolchain version as runtime.Version and build
// information write it ("go1.21.3", "go1.22rc1", "go1.20",
// "go1.21.3 X:boringcrypto") to the semantic version OSV uses for stdlib
// ("1.21.3", "1.22.0-rc.1", "1.20.0"). Development builds ("devel ...")
// have no version.
func GoVersion(s string) (string, bool) {
	s, _, _ = strings.Cut(s, " ")
	s, ok := strings.CutPrefix(s, "go")
	if !ok || s == "" {
		return "", false
	}
	num, pre := s, ""
	for _, tag := range []string{"rc", "beta", "alpha"} {
		if i := strings.Index(s, tag); i > 0 {
			n := s[i+len(tag):]
			if !allDigits(n) {
				return "", false
			}
			num, pre = s[:i], "-"+tag+"."+n
			break
		}
	}
	parts := strings.Split(num, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return "", false
	}
	for _, p := range parts {
		if !allDigits(p) {
			return "", false
		}
	}
	if len(parts) == 2 {
		parts = append(parts, "0")
	}
	return strings.Join(parts, ".") + pre, true
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
