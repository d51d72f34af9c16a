package match

import (
	"fmt"
	"strings"

	"golang.org/x/mod/semver"
)

// Go packages named "stdlib" (the standard library) and "toolchain" (the go
// command) in the Go vulnerability database are versioned by Go release.
const (
	GoStdlib    = "stdlib"
	GoToolchain = "toolchain"
)

// normalizeGo turns a Go version as found on a host into the SemVer form OSV
// Go records use (no "v" prefix). For the module "stdlib" and "toolchain" it
// accepts Go release names ("go1.21.5", "go1.22rc1", "go1.20beta1", with an
// optional " X:experiment" suffix as runtime/debug.BuildInfo reports) as
// well as SemVer. For other modules it requires a valid Go module version
// ("v1.2.3", "v2.0.0+incompatible", pseudo-versions), with or without "v".
func normalizeGo(module, version string) (string, error) {
	if module == GoStdlib || module == GoToolchain {
		s, ok := goReleaseToSemver(version)
		if !ok {
			return "", fmt.Errorf("%w %q: not a Go release", ErrInvalidVersion, version)
		}
		return s, nil
	}
	v := version
	if !strings.HasPrefix(v, "v") {
		v = "v" + v
	}
	if !semver.IsValid(v) {
		return "", fmt.Errorf("%w %q: not a Go module version", ErrInvalidVersion, version)
	}
	return v[1:], nil
}

// goReleaseToSemver converts a Go release name to SemVer the way the Go
// vulnerability database does: go1.21 -> 1.21.0, go1.21.5 -> 1.21.5,
// go1.22rc1 -> 1.22.0-rc.1, go1.9.2rc2 -> 1.9.2-rc.2. A version already in
// SemVer form ("1.21.5", "v1.21.5") is returned without its "v". A vendor
// suffix after '-' ("go1.21.5-bigcorp") is dropped: such builds are the
// named release with local patches.
func goReleaseToSemver(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, ' '); i >= 0 { // "go1.22.1 X:nocoverageredesign"
		s = s[:i]
	}
	if t, ok := strings.CutPrefix(s, "go"); ok {
		s = t
	} else {
		v := s
		if !strings.HasPrefix(v, "v") {
			v = "v" + v
		}
		if semver.IsValid(v) {
			return semver.Canonical(v)[1:], true
		}
		s = v[1:]
	}
	if i := strings.IndexByte(s, '-'); i >= 0 {
		s = s[:i]
	}
	// Split off a pre-release: "1.22rc1" -> "1.22", "rc", "1".
	num, pre, preNum := s, "", ""
	for _, p := range []string{"rc", "beta", "alpha"} {
		if i := strings.Index(s, p); i >= 0 {
			num, pre, preNum = s[:i], p, s[i+len(p):]
			if !allDigits(preNum) {
				return "", false
			}
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
	for len(parts) < 3 {
		parts = append(parts, "0")
	}
	out := strings.Join(parts, ".")
	if pre != "" {
		out += "-" + pre + "." + preNum
	}
	if !semver.IsValid("v" + out) {
		return "", false
	}
	return out, true
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
