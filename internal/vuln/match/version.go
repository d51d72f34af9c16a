// Package match decides whether a package version is affected by an OSV
// record, using each ecosystem's own version ordering.
//
// Version parsing and comparison come from osv-scalibr's semantic package
// (github.com/google/osv-scalibr/semantic); this package adds the mapping of
// OSV ecosystem strings (including release suffixes such as "Debian:12",
// "Alpine:v3.19", "Ubuntu:22.04:LTS", "Red Hat:enterprise_linux:9::appstream")
// to an ordering, Go's version conventions, and the OSV range evaluation of
// https://ossf.github.io/osv-schema/#evaluation.
//
// What is left to the caller:
//   - Choosing the records and affected entries to test. Entries are keyed by
//     ecosystem and package name; for Debian and Ubuntu the name is the
//     SOURCE package (inventory.Package.SourceName, or Name when it is
//     empty) and the version to test is the binary package's full version
//     including its epoch; for Alpine and the RPM distributions it is also
//     the source (origin) package. For Go it is the module path, "stdlib"
//     for the standard library and "toolchain" for the go command.
//   - Matching the release suffix of the ecosystem ("Debian:12" records for a
//     Debian 12 host): this package only uses the part before the first ':'
//     to pick the ordering.
//   - Dropping withdrawn records (osv.Vulnerability.Withdrawn).
package match

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/osv-scalibr/semantic"
)

// ErrUnsupportedEcosystem is returned, wrapped with the ecosystem's name, for
// an ecosystem whose version ordering this package does not know.
var ErrUnsupportedEcosystem = errors.New("unsupported ecosystem")

// ErrInvalidVersion is returned, wrapped with the version, for a version
// string that is not valid in its ecosystem.
var ErrInvalidVersion = errors.New("invalid version")

// scheme is a version ordering.
type scheme uint8

const (
	schemeUnspecified scheme = iota
	schemeSemVer             // SemVer 2.0 (Go, npm, crates.io, Hex, and SEMVER ranges)
	schemeDebian             // dpkg (Debian, Ubuntu)
	schemeAlpine             // apk
	schemeRPM                // rpmvercmp
	schemePyPI               // PEP 440
	schemeMaven
	schemeNuGet
	schemeRubyGems
	schemePackagist
	schemePub
	schemeHackage
	schemeCRAN
)

var schemeNames = [...]string{
	schemeUnspecified: "unspecified",
	schemeSemVer:      "SemVer",
	schemeDebian:      "Debian",
	schemeAlpine:      "Alpine",
	schemeRPM:         "RPM",
	schemePyPI:        "PyPI",
	schemeMaven:       "Maven",
	schemeNuGet:       "NuGet",
	schemeRubyGems:    "RubyGems",
	schemePackagist:   "Packagist",
	schemePub:         "Pub",
	schemeHackage:     "Hackage",
	schemeCRAN:        "CRAN",
}

func (s scheme) String() string { return schemeNames[s] }

// ecosystems maps OSV base ecosystem names (the part before any ':') to
// their ordering. Names are case-sensitive, as in the OSV schema.
var ecosystems = map[string]scheme{
	"Go":          schemeSemVer,
	"npm":         schemeSemVer,
	"crates.io":   schemeSemVer,
	"Hex":         schemeSemVer,
	"Debian":      schemeDebian,
	"Ubuntu":      schemeDebian,
	"Alpine":      schemeAlpine,
	"Wolfi":       schemeAlpine,
	"Chainguard":  schemeAlpine,
	"Red Hat":     schemeRPM,
	"Rocky Linux": schemeRPM,
	"AlmaLinux":   schemeRPM,
	"openSUSE":    schemeRPM,
	"SUSE":        schemeRPM,
	"Mageia":      schemeRPM,
	"openEuler":   schemeRPM,
	"PyPI":        schemePyPI,
	"Maven":       schemeMaven,
	"NuGet":       schemeNuGet,
	"RubyGems":    schemeRubyGems,
	"Packagist":   schemePackagist,
	"Pub":         schemePub,
	"Hackage":     schemeHackage,
	"CRAN":        schemeCRAN,
}

// BaseEcosystem returns the ecosystem without its release suffix:
// "Debian" for "Debian:12", "Ubuntu" for "Ubuntu:22.04:LTS".
func BaseEcosystem(ecosystem string) string {
	base, _, _ := strings.Cut(ecosystem, ":")
	return base
}

// Supported reports whether the ecosystem (with or without a release
// suffix) has a known version ordering.
func Supported(ecosystem string) bool {
	_, ok := ecosystems[BaseEcosystem(ecosystem)]
	return ok
}

func lookupScheme(ecosystem string) (scheme, error) {
	s, ok := ecosystems[BaseEcosystem(ecosystem)]
	if !ok {
		return schemeUnspecified, fmt.Errorf("%w %q", ErrUnsupportedEcosystem, ecosystem)
	}
	return s, nil
}

// Version is a version parsed under one ecosystem's ordering.
type Version struct {
	scheme scheme
	str    string
	v      semantic.Version
}

// String returns the version as it was given.
func (v Version) String() string { return v.str }

// Parse parses a version of the given OSV ecosystem. It returns an error
// wrapping ErrUnsupportedEcosystem for an unknown ecosystem and one wrapping
// ErrInvalidVersion for a version the ecosystem rejects.
func Parse(ecosystem, version string) (Version, error) {
	s, err := lookupScheme(ecosystem)
	if err != nil {
		return Version{}, err
	}
	return parseScheme(s, version)
}

func parseScheme(s scheme, str string) (Version, error) {
	if str == "" {
		return Version{}, fmt.Errorf("%w: empty", ErrInvalidVersion)
	}
	var (
		v   semantic.Version
		err error
	)
	switch s {
	case schemeSemVer:
		// semantic's SemVer parser accepts anything; require at least a
		// leading number so that "(devel)" or "latest" are not silently
		// ordered before every release.
		t := strings.TrimPrefix(str, "v")
		if t == "" || t[0] < '0' || t[0] > '9' {
			return Version{}, fmt.Errorf("%w %q: no leading number", ErrInvalidVersion, str)
		}
		v = semantic.ParseSemverVersion(str)
	case schemeDebian:
		v, err = semantic.ParseDebianVersion(str)
	case schemeAlpine:
		v, err = semantic.ParseAlpineVersion(str)
	case schemeRPM:
		v = semantic.ParseRedHatVersion(str)
	case schemePyPI:
		v, err = semantic.ParsePyPIVersion(str)
	case schemeMaven:
		v = semantic.ParseMavenVersion(str)
	case schemeNuGet:
		v = semantic.ParseNuGetVersion(str)
	case schemeRubyGems:
		v = semantic.ParseRubyGemsVersion(str)
	case schemePackagist:
		v = semantic.ParsePackagistVersion(str)
	case schemePub:
		v = semantic.ParsePubVersion(str)
	case schemeHackage:
		v, err = semantic.ParseHackageVersion(str)
	case schemeCRAN:
		v, err = semantic.ParseCRANVersion(str)
	default:
		return Version{}, fmt.Errorf("%w: scheme %d", ErrUnsupportedEcosystem, s)
	}
	if err != nil {
		return Version{}, fmt.Errorf("%w %q: %s version: %v", ErrInvalidVersion, str, s, unwrapInvalid(err))
	}
	return Version{scheme: s, str: str, v: v}, nil
}

// unwrapInvalid strips semantic's own ErrInvalidVersion prefix so that
// messages do not repeat "invalid version".
func unwrapInvalid(err error) error {
	msg := err.Error()
	for _, p := range []string{semantic.ErrInvalidVersion.Error() + ": ", semantic.ErrInvalidVersion.Error()} {
		if rest, ok := strings.CutPrefix(msg, p); ok {
			if rest == "" {
				return errors.New("malformed")
			}
			return errors.New(rest)
		}
	}
	return err
}

// Compare returns -1, 0 or +1 as v sorts before, equal to or after w. Both
// must have been parsed under the same ordering.
func (v Version) Compare(w Version) (int, error) {
	if v.v == nil || w.v == nil {
		return 0, fmt.Errorf("compare %q with %q: %w", v.str, w.str, ErrInvalidVersion)
	}
	if v.scheme != w.scheme {
		return 0, fmt.Errorf("compare %s version %q with %s version %q: different orderings", v.scheme, v.str, w.scheme, w.str)
	}
	c, err := v.v.Compare(w.v)
	if err != nil {
		return 0, fmt.Errorf("compare %q with %q: %w", v.str, w.str, err)
	}
	return sign(c), nil
}

// Compare parses a and b as versions of the ecosystem and compares them,
// returning -1, 0 or +1 as a sorts before, equal to or after b.
func Compare(ecosystem, a, b string) (int, error) {
	s, err := lookupScheme(ecosystem)
	if err != nil {
		return 0, err
	}
	va, err := parseScheme(s, a)
	if err != nil {
		return 0, err
	}
	vb, err := parseScheme(s, b)
	if err != nil {
		return 0, err
	}
	return va.Compare(vb)
}

func sign(c int) int {
	switch {
	case c < 0:
		return -1
	case c > 0:
		return 1
	}
	return 0
}
