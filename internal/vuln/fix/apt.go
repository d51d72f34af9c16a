package fix

import (
	"bytes"
	"context"
	"fmt"
	"strings"
)

// maxVersionLen bounds the versions fix accepts; dpkg has no limit, but no
// real version comes close.
const maxVersionLen = 256

// ValidPackageName reports whether s is a Debian binary package name
// (Debian Policy §5.6.1: at least two characters, lower-case letters,
// digits, '+', '-' and '.', starting with a letter or digit), optionally
// qualified with an architecture as dpkg prints it ("libc6:amd64").
func ValidPackageName(s string) bool {
	name, arch, qualified := strings.Cut(s, ":")
	if qualified && !validArch(arch) {
		return false
	}
	if len(name) < 2 || len(name) > 128 || !isLowerAlnum(name[0]) {
		return false
	}
	for i := 1; i < len(name); i++ {
		if c := name[i]; !isLowerAlnum(c) && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

func validArch(s string) bool {
	if s == "" || len(s) > 32 || !isLowerAlnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isLowerAlnum(c) && c != '-' {
			return false
		}
	}
	return true
}

func isLowerAlnum(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }
func isAlnum(c byte) bool      { return isLowerAlnum(c) || 'A' <= c && c <= 'Z' }

// ValidVersion reports whether s is a Debian version (Debian Policy §5.6.12):
// [epoch:]upstream[-revision], the epoch digits, the upstream version
// starting with a digit and made of letters, digits and ".+~-:" ('-' only
// with a revision, ':' only with an epoch), the revision of letters, digits
// and "+.~".
func ValidVersion(s string) bool {
	if s == "" || len(s) > maxVersionLen {
		return false
	}
	rest := s
	epoch := false
	if e, r, ok := strings.Cut(s, ":"); ok {
		if e == "" {
			return false
		}
		for i := 0; i < len(e); i++ {
			if e[i] < '0' || e[i] > '9' {
				return false
			}
		}
		rest, epoch = r, true
	}
	upstream, revision := rest, ""
	hasRevision := false
	if i := strings.LastIndexByte(rest, '-'); i >= 0 {
		upstream, revision, hasRevision = rest[:i], rest[i+1:], true
		if revision == "" {
			return false
		}
		for j := 0; j < len(revision); j++ {
			if c := revision[j]; !isAlnum(c) && c != '+' && c != '.' && c != '~' {
				return false
			}
		}
	}
	if upstream == "" || upstream[0] < '0' || upstream[0] > '9' {
		return false
	}
	for j := 0; j < len(upstream); j++ {
		c := upstream[j]
		switch {
		case isAlnum(c), c == '.', c == '+', c == '~':
		case c == '-' && hasRevision, c == ':' && epoch:
		default:
			return false
		}
	}
	return true
}

// dpkgQueryFormat is the dpkg-query --showformat fix reads; parseDpkgQuery
// parses its output.
const dpkgQueryFormat = "${binary:Package}\t${Package}\t${Architecture}\t${Version}\t${source:Package}\t${source:Version}\t${db:Status-Abbrev}\n"

// installedPkg is one package in the dpkg database.
type installedPkg struct {
	// Binary is the name apt and dpkg address the package by: qualified
	// with its architecture when it is Multi-Arch: same ("libc6:amd64").
	Binary        string
	Name          string
	Arch          string
	Version       string
	Source        string
	SourceVersion string
	// Status is dpkg's abbreviated status: "ii " for installed.
	Status string
}

func (p installedPkg) installed() bool { return strings.HasPrefix(p.Status, "ii") }

// parseDpkgQuery parses dpkg-query output in dpkgQueryFormat. Lines that
// do not have its seven fields, or whose name or version is not valid, are
// returned in bad rather than failing the whole listing.
func parseDpkgQuery(data []byte) (pkgs []installedPkg, bad []string) {
	for line := range bytes.Lines(data) {
		line = bytes.TrimSuffix(line, []byte("\n"))
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		f := strings.Split(string(line), "\t")
		if len(f) != 7 || !ValidPackageName(f[0]) || !ValidPackageName(f[1]) {
			bad = append(bad, string(line))
			continue
		}
		p := installedPkg{Binary: f[0], Name: f[1], Arch: f[2], Version: f[3], Source: f[4], SourceVersion: f[5], Status: f[6]}
		if p.Source == "" {
			p.Source = p.Name
		}
		// Packages only known as removed or wanted have no version.
		if p.Version != "" && !ValidVersion(p.Version) {
			bad = append(bad, string(line))
			continue
		}
		pkgs = append(pkgs, p)
	}
	return pkgs, bad
}

// dpkgInstalled lists the packages in the dpkg database.
func dpkgInstalled(ctx context.Context, o *Options) ([]installedPkg, error) {
	out, err := o.output(ctx, []string{"dpkg-query", "-W", "-f", dpkgQueryFormat})
	if err != nil {
		return nil, fmt.Errorf("list installed packages: %w", err)
	}
	pkgs, bad := parseDpkgQuery(out)
	if len(bad) > 0 {
		return nil, fmt.Errorf("list installed packages: unexpected dpkg-query line %q", bad[0])
	}
	return pkgs, nil
}

// parseMadison returns the versions of binary packages in `apt-cache
// madison` output ("  name | version | origin dist/comp arch Packages"),
// without duplicates, in order. Source lines ("... Sources") are skipped;
// lines that do not have three fields, or whose version is not valid, are
// returned in bad.
func parseMadison(data []byte) (versions []string, bad []string) {
	for line := range bytes.Lines(data) {
		s := strings.TrimSpace(string(line))
		if s == "" {
			continue
		}
		f := strings.Split(s, "|")
		if len(f) != 3 {
			bad = append(bad, s)
			continue
		}
		v, origin := strings.TrimSpace(f[1]), strings.TrimSpace(f[2])
		if !strings.HasSuffix(origin, "Packages") {
			continue
		}
		if !ValidVersion(v) {
			bad = append(bad, s)
			continue
		}
		if !containsString(versions, v) {
			versions = append(versions, v)
		}
	}
	return versions, bad
}

func containsString(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// available returns the versions of a binary package that apt can install.
func available(ctx context.Context, o *Options, binary string) ([]string, error) {
	argv := append(append([]string{"apt-cache"}, o.AptArgs...), "madison", "--", binary)
	out, err := o.output(ctx, argv)
	if err != nil {
		return nil, fmt.Errorf("list versions of %q: %w", binary, err)
	}
	vs, _ := parseMadison(out)
	return vs, nil
}

// lowestAtLeast returns the lowest of versions that is >= min in Debian's
// ordering, and false when there is none.
func lowestAtLeast(versions []string, min string) (string, bool, error) {
	best := ""
	for _, v := range versions {
		c, err := compareDeb(v, min)
		if err != nil {
			return "", false, err
		}
		if c < 0 {
			continue
		}
		if best != "" {
			if c, err := compareDeb(v, best); err != nil {
				return "", false, err
			} else if c >= 0 {
				continue
			}
		}
		best = v
	}
	return best, best != "", nil
}

// aptGet is the apt-get command line with the options fix always uses:
// no prompts, keep locally changed configuration files, and wait for the
// dpkg lock rather than fail when another apt is running.
func aptGet(o *Options, args ...string) []string {
	argv := append([]string{"apt-get"}, o.AptArgs...)
	argv = append(argv, "-y", "-o", "DPkg::Lock::Timeout=300",
		"-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold")
	return append(argv, args...)
}
