package osv

import (
	"fmt"
	"strings"
)

// BaseEcosystem strips the release suffix of an OSV ecosystem:
// "Debian:12" -> "Debian", "Ubuntu:22.04:LTS" -> "Ubuntu",
// "Alpine:v3.19" -> "Alpine", "Go" -> "Go". The database is keyed by it.
func BaseEcosystem(ecosystem string) string {
	base, _, _ := strings.Cut(ecosystem, ":")
	return base
}

// NormalizeName is the database key of a package name within a base
// ecosystem. Names are case-sensitive and kept as written, except:
//   - PyPI: PEP 503 normalisation (lowercase; runs of "-", "_", "."
//     become one "-"), so "oslo.middleware", "Oslo_Middleware" and
//     "oslo-middleware" are one package, as pip treats them;
//   - NuGet and Packagist: lowercase, as those registries compare names.
//
// For Debian and Ubuntu the name is the *source* package, as their OSV
// records name it (openssl, not libssl3): look up inventory.Package's
// SourceName (or Name when it has none).
func NormalizeName(baseEcosystem, name string) string {
	switch baseEcosystem {
	case "PyPI":
		return pep503(name)
	case "NuGet", "Packagist":
		return strings.ToLower(name)
	}
	return name
}

func pep503(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	sep := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '-' || c == '_' || c == '.' {
			sep = true
			continue
		}
		if sep {
			b.WriteByte('-')
		}
		sep = false
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	if sep {
		b.WriteByte('-')
	}
	return b.String()
}

// fileName maps a base ecosystem to the name of its index file. Bytes
// other than [A-Za-z0-9.-] are %XX-escaped ("GitHub Actions" ->
// "GitHub%20Actions"), so no ecosystem name can leave the database
// directory or collide with another file.
func fileName(base string) string {
	var b strings.Builder
	for i := 0; i < len(base); i++ {
		c := base[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || (c == '.' && i > 0) {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String() + ".osvidx"
}
