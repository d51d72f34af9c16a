package assess

import (
	"fmt"
	"math"
	"time"

	"github.com/vigilsec/vigil/internal/finding"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/severity"
)

// Importance is the asset-importance label of a host. The zero value is
// treated as Normal.
type Importance int

const (
	ImportanceUnspecified Importance = iota
	ImportanceLow
	ImportanceNormal
	ImportanceHigh
	ImportanceCritical
)

var importanceNames = [...]string{"", "low", "normal", "high", "critical"}

// importanceMultiplier scales the additive score: only a critical asset
// keeps it whole, so a finding reaches 100 only there.
var importanceMultiplier = [...]float64{
	ImportanceUnspecified: 0.7,
	ImportanceLow:         0.4,
	ImportanceNormal:      0.7,
	ImportanceHigh:        0.85,
	ImportanceCritical:    1.0,
}

func (i Importance) String() string {
	if i == ImportanceUnspecified {
		return "normal"
	}
	if i > 0 && int(i) < len(importanceNames) {
		return importanceNames[i]
	}
	return fmt.Sprintf("importance(%d)", int(i))
}

// ParseImportance reads a host label: "low", "normal", "high" or
// "critical" ("" is normal).
func ParseImportance(s string) (Importance, error) {
	if s == "" {
		return ImportanceNormal, nil
	}
	for i, n := range importanceNames {
		if i > 0 && n == s {
			return Importance(i), nil
		}
	}
	return ImportanceUnspecified, fmt.Errorf("unknown asset importance %q (want low, normal, high or critical)", s)
}

// Context is what the caller knows of the target beyond its packages.
type Context struct {
	// Now is the time days since publication are counted to (zero: the
	// current time).
	Now time.Time
	// Importance is the host's asset-importance label.
	Importance Importance
	// Exposure, when set, reports whether a package is loaded by a running
	// process that listens on an exposed port, and why (for example
	// "/usr/sbin/nginx (pid 812) listens on 0.0.0.0:443"). Nil means
	// exposure is not assessed (an image or a source tree).
	Exposure func(p inventory.Package) (exposed bool, why string)
}

// Weights of the priority formula (docs/priority.md). The additive
// factors sum to at most 100; the asset-importance multiplier (at most 1)
// scales the sum.
const (
	PointsPerCVSS      = 3.5  // per point of CVSS base score: at most 35
	PointsKEV          = 25.0 // listed in CISA KEV
	PointsRansomware   = 5.0  // ... and known to be used by ransomware
	PointsEPSS         = 15.0 // times the square root of the EPSS probability
	PointsRecency      = 10.0 // on the day of publication, halving every RecencyHalfLife
	PointsExposure     = 10.0 // loaded by a process listening on an exposed port
	RecencyHalfLife    = 14 * 24 * time.Hour
	assumedUnspecified = 5.5
)

// assumedCVSS stands in for the CVSS score of an advisory that has only a
// severity word (or none): the middle of the word's CVSS band.
var assumedCVSS = map[severity.Level]float64{
	severity.Unspecified: assumedUnspecified,
	severity.Info:        0,
	severity.Low:         2.0,
	severity.Medium:      5.5,
	severity.High:        8.0,
	severity.Critical:    9.5,
}

// Prioritize computes the priority of each finding under c and sorts them
// (see Sort).
func Prioritize(fs []finding.Finding, c Context) {
	if c.Now.IsZero() {
		c.Now = time.Now()
	}
	for i := range fs {
		fs[i].Priority = Score(&fs[i], c)
	}
	Sort(fs)
}

// Score computes the priority of one finding (docs/priority.md). Each
// factor's points are rounded to 0.01 and the score is their sum.
func Score(f *finding.Finding, c Context) finding.Priority {
	if c.Now.IsZero() {
		c.Now = time.Now()
	}
	fs := make([]finding.Factor, 0, 6)
	add := func(name string, value, points float64, detail string, args ...any) {
		fs = append(fs, finding.Factor{Name: name, Value: value, Points: round2(points), Detail: fmt.Sprintf(detail, args...)})
	}

	// CVSS base score, or the middle of the severity word's band.
	if cv := f.Advisory.CVSS; cv.Vector != "" {
		add("cvss", cv.Score, PointsPerCVSS*cv.Score, "CVSS %s base score %.1f × %.1f", cv.Version, cv.Score, PointsPerCVSS)
	} else {
		s := assumedCVSS[f.Advisory.Severity]
		if f.Advisory.Severity == severity.Unspecified {
			add("cvss", s, PointsPerCVSS*s, "no CVSS or severity in the advisory: assumed %.1f (medium) × %.1f", s, PointsPerCVSS)
		} else {
			add("cvss", s, PointsPerCVSS*s, "no CVSS vector; severity %s counts as %.1f × %.1f", f.Advisory.Severity, s, PointsPerCVSS)
		}
	}

	// KEV listing.
	switch k := f.KEV; {
	case k.Listed && k.Ransomware:
		add("kev", 1, PointsKEV+PointsRansomware, "%s in CISA KEV since %s, used in ransomware campaigns", k.CVE, k.DateAdded.Format(time.DateOnly))
	case k.Listed:
		add("kev", 1, PointsKEV, "%s in CISA KEV since %s", k.CVE, k.DateAdded.Format(time.DateOnly))
	default:
		add("kev", 0, 0, "not in CISA KEV")
	}

	// EPSS probability.
	if e := f.EPSS; e.Scored() {
		add("epss", e.Score, PointsEPSS*math.Sqrt(e.Score), "%s EPSS %.5f (percentile %.3f): %.0f × √%.5f", e.CVE, e.Score, e.Percentile, PointsEPSS, e.Score)
	} else {
		add("epss", 0, 0, "no EPSS score")
	}

	// Days since publication.
	if pub := f.Advisory.Published; pub.IsZero() || pub.Year() <= 1 {
		add("recency", 0, 0, "publication date unknown")
	} else {
		age := max(c.Now.Sub(pub), 0)
		days := age.Hours() / 24
		pts := PointsRecency * math.Exp2(-float64(age)/float64(RecencyHalfLife))
		add("recency", round2(days), pts, "published %s, %.1f days ago: %.0f × 0.5^(days/14)", pub.Format(time.DateOnly), days, PointsRecency)
	}

	// Exposure.
	switch {
	case c.Exposure == nil:
		add("exposure", 0, 0, "exposure not assessed")
	default:
		if ok, why := c.Exposure(f.Target.Package); ok {
			if why == "" {
				why = "loaded by a running process that listens on an exposed port"
			}
			add("exposure", 1, PointsExposure, "%s", why)
		} else {
			add("exposure", 0, 0, "not loaded by a process listening on an exposed port")
		}
	}

	var raw float64
	for _, fa := range fs {
		raw += fa.Points
	}
	raw = round2(raw)
	m := importanceMultiplier[ImportanceUnspecified]
	if c.Importance >= 0 && int(c.Importance) < len(importanceMultiplier) {
		m = importanceMultiplier[c.Importance]
	}
	imp := round2(raw * (m - 1))
	add("asset_importance", m, imp, "%s asset: %.2f × %.2f", c.Importance, raw, m)
	return finding.Priority{Score: round2(raw + imp), Factors: fs}
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }
