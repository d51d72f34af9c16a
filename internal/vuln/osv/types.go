// Package osv holds OSV vulnerability records (https://ossf.github.io/osv-schema/)
// and Vigil's local database of them.
//
// The record types are plain structs decoded with encoding/json rather than
// the osv-schema protobuf bindings: importing tens of thousands of records
// through protojson is several times slower, and Vigil only needs the
// fields below. Unknown fields are ignored, so newer schema versions load.
package osv

import "time"

// Vulnerability is one OSV record.
type Vulnerability struct {
	SchemaVersion    string         `json:"schema_version,omitempty"`
	ID               string         `json:"id"`
	Modified         time.Time      `json:"modified"`
	Published        time.Time      `json:"published,omitzero"`
	Withdrawn        time.Time      `json:"withdrawn,omitzero"`
	Aliases          []string       `json:"aliases,omitempty"`
	Related          []string       `json:"related,omitempty"`
	Upstream         []string       `json:"upstream,omitempty"`
	Summary          string         `json:"summary,omitempty"`
	Details          string         `json:"details,omitempty"`
	Severity         []Severity     `json:"severity,omitempty"`
	Affected         []Affected     `json:"affected,omitempty"`
	References       []Reference    `json:"references,omitempty"`
	DatabaseSpecific map[string]any `json:"database_specific,omitempty"`
}

// Severity is a scored severity: Type "CVSS_V2", "CVSS_V3", "CVSS_V4" or
// "Ubuntu", Score the vector (or the Ubuntu priority word).
type Severity struct {
	Type  string `json:"type"`
	Score string `json:"score"`
}

// Affected names one package and the versions of it a vulnerability affects.
type Affected struct {
	Package           Package        `json:"package"`
	Severity          []Severity     `json:"severity,omitempty"`
	Ranges            []Range        `json:"ranges,omitempty"`
	Versions          []string       `json:"versions,omitempty"`
	EcosystemSpecific map[string]any `json:"ecosystem_specific,omitempty"`
	DatabaseSpecific  map[string]any `json:"database_specific,omitempty"`
}

// Package identifies a package within an ecosystem. Ecosystem may carry a
// release suffix ("Debian:12", "Alpine:v3.19").
type Package struct {
	Ecosystem string `json:"ecosystem"`
	Name      string `json:"name"`
	PURL      string `json:"purl,omitempty"`
}

// Range is a set of affected versions described by events. Type is
// "SEMVER", "ECOSYSTEM" or "GIT".
type Range struct {
	Type   string  `json:"type"`
	Repo   string  `json:"repo,omitempty"`
	Events []Event `json:"events"`
}

// Event is one boundary of a Range; exactly one field is set.
type Event struct {
	Introduced   string `json:"introduced,omitempty"`
	Fixed        string `json:"fixed,omitempty"`
	LastAffected string `json:"last_affected,omitempty"`
	Limit        string `json:"limit,omitempty"`
}

// Reference is a link about the vulnerability.
type Reference struct {
	Type string `json:"type"`
	URL  string `json:"url"`
}
