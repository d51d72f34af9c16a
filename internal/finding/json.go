package finding

import (
	"time"
)

// JSON is the serialised form of a Finding. Its keys are a contract
// (issue 3, "JSON contract"): id, aliases, package {name, version,
// ecosystem, purl}, fixed_version, severity, cvss, priority {score,
// factors}, kev, epss, remediation and locations are always present; never
// rename or remove them. Other keys may be added.
type JSON struct {
	ID           string          `json:"id"`
	Aliases      []string        `json:"aliases"`
	Summary      string          `json:"summary,omitempty"`
	Details      string          `json:"details,omitempty"`
	Package      PackageJSON     `json:"package"`
	FixedVersion string          `json:"fixed_version"`
	Severity     string          `json:"severity"`
	CVSS         *CVSSJSON       `json:"cvss"` // null when the advisory has no CVSS vector
	Priority     PriorityJSON    `json:"priority"`
	KEV          KEVJSON         `json:"kev"`
	EPSS         *EPSSJSON       `json:"epss"` // null when no CVE of the advisory is scored
	Remediation  RemediationJSON `json:"remediation"`
	Locations    []string        `json:"locations"`
	Published    time.Time       `json:"published,omitzero"`
	Modified     time.Time       `json:"modified,omitzero"`
	References   []string        `json:"references,omitempty"`
	Host         string          `json:"host,omitempty"`
	Path         string          `json:"path,omitempty"`
	Source       SourceJSON      `json:"source"`
}

// PackageJSON is the affected package of a finding.
type PackageJSON struct {
	Name          string `json:"name"`
	Version       string `json:"version"`
	Ecosystem     string `json:"ecosystem"`
	PURL          string `json:"purl"`
	SourceName    string `json:"source_name,omitempty"`
	SourceVersion string `json:"source_version,omitempty"`
	Type          string `json:"type,omitempty"`
}

// CVSSJSON is the CVSS vector behind a finding's severity.
type CVSSJSON struct {
	Version string  `json:"version"`
	Vector  string  `json:"vector"`
	Score   float64 `json:"score"`
}

// PriorityJSON is a finding's priority score and its factors.
type PriorityJSON struct {
	Score   float64      `json:"score"`
	Factors []FactorJSON `json:"factors"`
}

// FactorJSON is one factor of a priority score.
type FactorJSON struct {
	Name   string  `json:"name"`
	Value  float64 `json:"value"`
	Points float64 `json:"points"`
	Detail string  `json:"detail"`
}

// KEVJSON says whether CISA KEV lists the finding.
type KEVJSON struct {
	Listed     bool      `json:"listed"`
	CVE        string    `json:"cve,omitempty"`
	DateAdded  time.Time `json:"date_added,omitzero"`
	Ransomware bool      `json:"ransomware"`
}

// EPSSJSON is the EPSS score of a finding.
type EPSSJSON struct {
	CVE        string    `json:"cve"`
	Score      float64   `json:"score"`
	Percentile float64   `json:"percentile"`
	Date       time.Time `json:"date,omitzero"`
}

// RemediationJSON is how to fix a finding.
type RemediationJSON struct {
	Command      string `json:"command"`
	FixedVersion string `json:"fixed_version"`
	Note         string `json:"note,omitempty"`
}

// SourceJSON names the plugin that produced a finding.
type SourceJSON struct {
	Plugin  string `json:"plugin"`
	Version int    `json:"version"`
}

// ToJSON converts a finding to its JSON form. Lists are never null.
func ToJSON(f Finding) JSON {
	p := f.Target.Package
	j := JSON{
		ID:           f.Advisory.ID,
		Aliases:      nonNil(f.Advisory.Aliases),
		Summary:      f.Advisory.Summary,
		Details:      f.Advisory.Details,
		Package:      PackageJSON{Name: p.Name, Version: p.Version, Ecosystem: p.Ecosystem, PURL: p.PURL, SourceName: p.SourceName, SourceVersion: p.SourceVersion, Type: p.Type},
		FixedVersion: f.FixedVersion,
		Severity:     f.Advisory.Severity.String(),
		Priority:     PriorityJSON{Score: f.Priority.Score, Factors: make([]FactorJSON, 0, len(f.Priority.Factors))},
		KEV:          KEVJSON{Listed: f.KEV.Listed, CVE: f.KEV.CVE, DateAdded: f.KEV.DateAdded, Ransomware: f.KEV.Ransomware},
		Remediation:  RemediationJSON{Command: f.Remediation.Command, FixedVersion: f.Remediation.FixedVersion, Note: f.Remediation.Note},
		Locations:    nonNil(p.Locations),
		Published:    f.Advisory.Published,
		Modified:     f.Advisory.Modified,
		References:   f.Advisory.References,
		Host:         f.Target.Host,
		Path:         f.Target.Path,
		Source:       SourceJSON{Plugin: f.Source.Plugin, Version: f.Source.Version},
	}
	if c := f.Advisory.CVSS; c.Vector != "" {
		j.CVSS = &CVSSJSON{Version: c.Version, Vector: c.Vector, Score: c.Score}
	}
	if f.EPSS.Scored() {
		j.EPSS = &EPSSJSON{CVE: f.EPSS.CVE, Score: f.EPSS.Score, Percentile: f.EPSS.Percentile, Date: f.EPSS.Date}
	}
	for _, fa := range f.Priority.Factors {
		j.Priority.Factors = append(j.Priority.Factors, FactorJSON(fa))
	}
	return j
}

// ToJSONList converts findings in order; the result is never nil.
func ToJSONList(fs []Finding) []JSON {
	out := make([]JSON, 0, len(fs))
	for _, f := range fs {
		out = append(out, ToJSON(f))
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
