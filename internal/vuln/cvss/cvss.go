// Package cvss parses CVSS vectors (v2.0, v3.0, v3.1 and v4.0) and returns
// their base score and qualitative severity. Scoring is done by
// github.com/pandatix/go-cvss, which implements FIRST's specifications.
package cvss

import (
	"errors"
	"fmt"
	"math"
	"strings"

	gocvss20 "github.com/pandatix/go-cvss/20"
	gocvss30 "github.com/pandatix/go-cvss/30"
	gocvss31 "github.com/pandatix/go-cvss/31"
	gocvss40 "github.com/pandatix/go-cvss/40"

	"github.com/vigilsec/vigil/internal/vuln/osv"
)

// ErrInvalidVector is returned, wrapped with the vector, for a vector that
// does not parse.
var ErrInvalidVector = errors.New("invalid CVSS vector")

// Severity is a qualitative severity rating.
type Severity int

// Severities, in increasing order.
const (
	SeverityUnspecified Severity = iota
	SeverityNone
	SeverityLow
	SeverityMedium
	SeverityHigh
	SeverityCritical
)

var severityNames = [...]string{
	SeverityUnspecified: "Unspecified",
	SeverityNone:        "None",
	SeverityLow:         "Low",
	SeverityMedium:      "Medium",
	SeverityHigh:        "High",
	SeverityCritical:    "Critical",
}

func (s Severity) String() string {
	if s < 0 || int(s) >= len(severityNames) {
		return fmt.Sprintf("Severity(%d)", int(s))
	}
	return severityNames[s]
}

// Versions of CVSS.
const (
	V2  = "2.0"
	V30 = "3.0"
	V31 = "3.1"
	V40 = "4.0"
)

// Score is a parsed CVSS vector.
type Score struct {
	Version string // V2, V30, V31 or V40
	Vector  string
	// Base is the base score (for v4.0 the CVSS-B, -BT, -BE or -BTE score
	// the vector's metrics give), rounded to one decimal.
	Base     float64
	Severity Severity
}

// Parse parses a CVSS vector. v3.x and v4.0 vectors start with their
// "CVSS:3.1/" style prefix; a vector without prefix is read as v2.0
// ("AV:N/AC:L/Au:N/C:P/I:P/A:P", also accepted in parentheses as NVD prints
// it). Errors wrap ErrInvalidVector and name the vector.
func Parse(vector string) (Score, error) {
	v := strings.TrimSpace(vector)
	var (
		s   = Score{Vector: v}
		err error
	)
	switch {
	case strings.HasPrefix(v, "CVSS:4.0/"):
		s.Version = V40
		var c *gocvss40.CVSS40
		if c, err = gocvss40.ParseVector(v); err == nil {
			s.Base = c.Score()
		}
	case strings.HasPrefix(v, "CVSS:3.1/"):
		s.Version = V31
		var c *gocvss31.CVSS31
		if c, err = gocvss31.ParseVector(v); err == nil {
			s.Base = c.BaseScore()
		}
	case strings.HasPrefix(v, "CVSS:3.0/"):
		s.Version = V30
		var c *gocvss30.CVSS30
		if c, err = gocvss30.ParseVector(v); err == nil {
			s.Base = c.BaseScore()
		}
	case strings.HasPrefix(v, "CVSS:"):
		ver, _, _ := strings.Cut(strings.TrimPrefix(v, "CVSS:"), "/")
		return Score{}, fmt.Errorf("%w %q: unsupported CVSS version %q", ErrInvalidVector, vector, ver)
	default:
		s.Version = V2
		if p, ok := strings.CutPrefix(v, "("); ok {
			v = strings.TrimSuffix(p, ")")
			s.Vector = v
		}
		var c *gocvss20.CVSS20
		if c, err = gocvss20.ParseVector(v); err == nil {
			s.Base = c.BaseScore()
		}
	}
	if err != nil {
		return Score{}, fmt.Errorf("%w %q: %v", ErrInvalidVector, vector, err)
	}
	s.Base = math.Round(s.Base*10) / 10
	if s.Base < 0 || s.Base > 10 || math.IsNaN(s.Base) {
		return Score{}, fmt.Errorf("%w %q: score %v out of range", ErrInvalidVector, vector, s.Base)
	}
	if s.Version == V2 {
		s.Severity = SeverityV2(s.Base)
	} else {
		s.Severity = SeverityOf(s.Base)
	}
	return s, nil
}

// SeverityOf rates a CVSS v3.x or v4.0 score with the specifications'
// bands: None 0.0, Low 0.1-3.9, Medium 4.0-6.9, High 7.0-8.9, Critical
// 9.0-10.0. A score outside 0-10 is Unspecified.
func SeverityOf(score float64) Severity {
	switch {
	case !(score >= 0 && score <= 10):
		return SeverityUnspecified
	case score >= 9.0:
		return SeverityCritical
	case score >= 7.0:
		return SeverityHigh
	case score >= 4.0:
		return SeverityMedium
	case score >= 0.1:
		return SeverityLow
	}
	return SeverityNone
}

// SeverityV2 rates a CVSS v2.0 score. The v2 specification defines no
// bands; these are NVD's: Low 0.0-3.9, Medium 4.0-6.9, High 7.0-10.0.
func SeverityV2(score float64) Severity {
	switch {
	case !(score >= 0 && score <= 10):
		return SeverityUnspecified
	case score >= 7.0:
		return SeverityHigh
	case score >= 4.0:
		return SeverityMedium
	}
	return SeverityLow
}

// osvTypes maps OSV severity types to the CVSS versions they may hold.
var osvTypes = map[string][]string{
	"CVSS_V2": {V2},
	"CVSS_V3": {V30, V31},
	"CVSS_V4": {V40},
}

// FromOSV parses an OSV severity entry. It returns an error for a type
// that is not CVSS (such as "Ubuntu") and for a vector whose version does
// not match the type.
func FromOSV(sev osv.Severity) (Score, error) {
	want, ok := osvTypes[sev.Type]
	if !ok {
		return Score{}, fmt.Errorf("severity type %q is not CVSS", sev.Type)
	}
	s, err := Parse(sev.Score)
	if err != nil {
		return Score{}, err
	}
	for _, w := range want {
		if s.Version == w {
			return s, nil
		}
	}
	return Score{}, fmt.Errorf("%w %q: CVSS %s vector in a %s severity", ErrInvalidVector, sev.Score, s.Version, sev.Type)
}
