package assess

import (
	"strings"

	"github.com/vigilsec/vigil/internal/finding"
	"github.com/vigilsec/vigil/internal/severity"
	"github.com/vigilsec/vigil/internal/vuln/cvss"
	"github.com/vigilsec/vigil/internal/vuln/osv"
)

// recordSeverity rates a record as it applies to the matched entries: the
// highest-scoring CVSS vector among the record's and the entries' severity
// entries; without one, the severity word of an Ubuntu severity entry or of
// database_specific (GitHub's "severity": "HIGH"); else Unspecified.
func recordSeverity(rec *osv.Vulnerability, hit []*osv.Affected) (severity.Level, finding.CVSS) {
	var (
		best  cvss.Score
		found bool
		word  severity.Level
	)
	consider := func(sevs []osv.Severity) {
		for _, s := range sevs {
			if s.Type == "Ubuntu" {
				word = max(word, wordLevel(s.Score))
				continue
			}
			sc, err := cvss.FromOSV(s)
			if err != nil {
				continue // not CVSS, or a vector that does not parse
			}
			if !found || sc.Base > best.Base || sc.Base == best.Base && newer(sc.Version, best.Version) {
				best, found = sc, true
			}
		}
	}
	consider(rec.Severity)
	word = max(word, specificLevel(rec.DatabaseSpecific))
	for _, a := range hit {
		consider(a.Severity)
		word = max(word, specificLevel(a.DatabaseSpecific), specificLevel(a.EcosystemSpecific))
	}
	if found {
		return cvssLevel(best.Severity), finding.CVSS{Version: best.Version, Vector: best.Vector, Score: best.Base}
	}
	return word, finding.CVSS{}
}

// newer prefers a later CVSS version between equal scores.
func newer(a, b string) bool { return a > b }

func cvssLevel(s cvss.Severity) severity.Level {
	switch s {
	case cvss.SeverityNone:
		return severity.Info
	case cvss.SeverityLow:
		return severity.Low
	case cvss.SeverityMedium:
		return severity.Medium
	case cvss.SeverityHigh:
		return severity.High
	case cvss.SeverityCritical:
		return severity.Critical
	}
	return severity.Unspecified
}

// specificLevel reads a "severity" word from a database_specific or
// ecosystem_specific object.
func specificLevel(m map[string]any) severity.Level {
	s, ok := m["severity"].(string)
	if !ok {
		return severity.Unspecified
	}
	return wordLevel(s)
}

// wordLevel maps the severity words of GitHub ("LOW", "MODERATE", "HIGH",
// "CRITICAL"), Ubuntu ("negligible", "low", "medium", "high", "critical")
// and Red Hat ("Important") advisories.
func wordLevel(w string) severity.Level {
	switch strings.ToLower(strings.TrimSpace(w)) {
	case "critical":
		return severity.Critical
	case "high", "important":
		return severity.High
	case "moderate", "medium":
		return severity.Medium
	case "low", "negligible", "unimportant":
		return severity.Low
	}
	return severity.Unspecified
}
