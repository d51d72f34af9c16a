package assess

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/vigilsec/vigil/internal/finding"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/vuln/match"
	"github.com/vigilsec/vigil/internal/vuln/osv"
)

// NoFix is the note of a finding without a published fix.
const NoFix = "no fixed version published"

// Remediate says how to upgrade p to the fixed version: the exact command
// of the target's package manager where there is one. Package names and
// versions come from scanned data and are untrusted: every one is
// shell-quoted, and a value starting with "-" (which the package manager
// would read as an option) gives no command at all.
func Remediate(p inventory.Package, fixed string) finding.Remediation {
	r := finding.Remediation{FixedVersion: fixed}
	if fixed == "" {
		r.Note = NoFix
		return r
	}
	if p.Name == "" || strings.HasPrefix(p.Name, "-") || strings.HasPrefix(fixed, "-") {
		r.Note = fmt.Sprintf("upgrade %s to %s or later (no command: the name or version looks like an option)", quote(p.Name), quote(fixed))
		return r
	}
	name := p.Name
	switch manager(p) {
	case "apt":
		if p.SourceVersion != "" && p.SourceVersion != p.Version {
			// The fix is a source version; this binary's versions differ
			// from its source's (an epoch of its own, a binNMU), so the
			// binary version to pin is not known here: take the newest.
			r.Command = "apt-get install --only-upgrade " + quote(name)
			r.Note = fmt.Sprintf("fixed in source package %s %s; %s is versioned apart from its source, so apt installs its newest build",
				quote(cmp.Or(p.SourceName, name)), quote(fixed), quote(name))
			break
		}
		r.Command = "apt-get install --only-upgrade " + quote(name+"="+fixed)
		r.Note = "a later version also fixes it: apt-get install --only-upgrade " + quote(name) + " takes the newest"
	case "dnf", "yum":
		v := strings.TrimPrefix(fixed, "0:")
		r.Command = manager(p) + " upgrade " + quote(name+"-"+v)
	case "apk":
		r.Command = "apk add -u " + quote(name+"="+fixed)
	case "go":
		v := "v" + strings.TrimPrefix(fixed, "v")
		if name == match.GoStdlib || name == match.GoToolchain {
			r.Note = fmt.Sprintf("upgrade Go to %s and rebuild", strings.TrimPrefix(fixed, "v"))
			break
		}
		r.Command = "go get " + quote(name+"@"+v)
		r.Note = "run in the main module of the program, then rebuild it"
	case "npm":
		r.Command = "npm install " + quote(name+"@"+fixed)
	case "pip":
		r.Command = "pip install " + quote(name+">="+fixed)
	case "maven":
		r.Note = fmt.Sprintf("in pom.xml, set the <version> of %s to %s (or manage it in <dependencyManagement> if it is transitive)", name, fixed)
	case "cargo":
		r.Command = "cargo update -p " + quote(name) + " --precise " + quote(fixed)
	case "composer":
		r.Command = "composer require " + quote(name+":"+fixed)
	case "bundle":
		r.Command = "bundle update " + quote(name) + " --conservative"
		r.Note = fmt.Sprintf("Gemfile.lock must then hold %s %s or later; relax a Gemfile constraint that prevents it", name, fixed)
	default:
		r.Note = fmt.Sprintf("upgrade %s to %s or later", name, fixed)
	}
	return r
}

// manager names the package manager of a package, from its purl type or
// its ecosystem.
func manager(p inventory.Package) string {
	base := osv.BaseEcosystem(p.Ecosystem)
	switch {
	case p.Type == "deb" || base == "Debian" || base == "Ubuntu":
		return "apt"
	case p.Type == "rpm" || base == "Rocky Linux" || base == "AlmaLinux" || base == "Red Hat":
		if el7(p) {
			return "yum"
		}
		return "dnf"
	case p.Type == "apk" || base == "Alpine":
		return "apk"
	case p.Type == "golang" || base == "Go":
		return "go"
	case p.Type == "npm" || base == "npm":
		return "npm"
	case p.Type == "pypi" || base == "PyPI":
		return "pip"
	case p.Type == "maven" || base == "Maven":
		return "maven"
	case p.Type == "cargo" || base == "crates.io":
		return "cargo"
	case p.Type == "composer" || base == "Packagist":
		return "composer"
	case p.Type == "gem" || base == "RubyGems":
		return "bundle"
	}
	return ""
}

// el7 reports whether an RPM package is from an Enterprise Linux 7 system,
// where yum, not dnf, is the package manager.
func el7(p inventory.Package) bool {
	if strings.Contains(p.Version, ".el7") {
		return true
	}
	_, rel, _ := strings.Cut(p.Ecosystem, ":")
	rel = strings.TrimPrefix(rel, "enterprise_linux:")
	major, _, _ := strings.Cut(rel, ".")
	major, _, _ = strings.Cut(major, ":")
	return major == "7"
}

// quote shell-quotes s for a POSIX shell: unchanged when it holds only
// characters no shell treats specially, else in single quotes.
func quote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("@%+=:,./_-", c) >= 0) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
