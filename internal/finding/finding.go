// Package finding holds what Vigil reports about a target: a Finding joins
// what is true of an advisory (Advisory) with what is true of the host,
// image or tree it was found on (Target), as STYLE.md §3 describes.
//
// The types are plain Go structs. Their JSON form, a contract relied on by
// other tools, is built by the explicit converter in json.go.
package finding

import (
	"time"

	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/severity"
)

// Finding is one advisory that applies to one target.
type Finding struct {
	Advisory Advisory
	Target   Target
	Source   Source

	// FixedVersion is the lowest version of Target.Package that fixes the
	// advisory ("" when none is published).
	FixedVersion string
	KEV          KEV
	EPSS         EPSS
	Priority     Priority
	Remediation  Remediation
}

// Advisory is what is true of a vulnerability wherever it is found.
type Advisory struct {
	// ID is the OSV ID ("GO-2023-2102", "DSA-5514-1", "GHSA-...").
	ID string
	// Aliases are the other IDs of the vulnerability, CVE IDs first.
	Aliases []string
	Summary string
	Details string
	// Severity is the qualitative rating: from the highest CVSS score when
	// the advisory has one, else from the advisory's own severity word.
	Severity   severity.Level
	CVSS       CVSS
	Published  time.Time
	Modified   time.Time
	References []string
}

// CVSS is the CVSS vector an advisory's severity comes from. The zero value
// means the advisory has none.
type CVSS struct {
	Version string // "2.0", "3.0", "3.1" or "4.0"
	Vector  string
	Score   float64 // base score
}

// Target is where an advisory was found.
type Target struct {
	// Host is the host name (or image reference) scanned, when known.
	Host string
	// Package is the affected package; its Locations are every place it
	// was found.
	Package inventory.Package
	// Path is the scan root ("/" for a host, a directory, an image tarball).
	Path string
}

// Source names the plugin that produced the finding.
type Source struct {
	Plugin  string
	Version int
}

// KEV says whether CISA's Known Exploited Vulnerabilities catalogue lists
// one of the advisory's CVEs.
type KEV struct {
	Listed bool
	// CVE is the listed CVE ID.
	CVE       string
	DateAdded time.Time
	// Ransomware is true when the catalogue knows of ransomware campaigns
	// using the vulnerability.
	Ransomware bool
}

// EPSS is the highest EPSS score among the advisory's CVEs. The zero value
// means none of them is scored.
type EPSS struct {
	CVE string
	// Score is the probability (0..1) of exploitation activity in the
	// next 30 days; Percentile its rank among all scored CVEs.
	Score      float64
	Percentile float64
	// Date is when the scores were published (zero when unknown).
	Date time.Time
}

// Scored reports whether an EPSS score is known.
func (e EPSS) Scored() bool { return e.CVE != "" }

// Priority is Vigil's risk score of a finding, 0 to 100, and the factors
// it is made of (docs/priority.md). The Points of the factors add up to
// Score.
type Priority struct {
	Score   float64
	Factors []Factor
}

// Factor is one input of the priority score.
type Factor struct {
	// Name is one of "cvss", "kev", "epss", "recency", "exposure",
	// "asset_importance".
	Name string
	// Value is the factor's input: the CVSS base score, 1 or 0 for KEV
	// listing and exposure, the EPSS probability, the days since
	// publication, the asset importance multiplier.
	Value float64
	// Points are what the factor added to (or, for the asset importance
	// multiplier, took from) the score.
	Points float64
	// Detail says why, in words.
	Detail string
}

// Remediation is how to fix a finding on its target.
type Remediation struct {
	// Command is the exact shell command that upgrades the package, with
	// every value taken from scanned data shell-quoted; "" when there is
	// no single command (no fix published, a Go toolchain upgrade, an
	// edit to pom.xml).
	Command      string
	FixedVersion string
	// Note explains what to do when Command is empty, or what to check.
	Note string
}
