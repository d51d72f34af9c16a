package export

import (
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/export/ocsf"
	"github.com/vigilsec/vigil/internal/finding"
)

// AlertRecord maps an alert to a Detection Finding record at store
// position seq. Its key is the alert ID.
func AlertRecord(seq uint64, a *alert.Alert, o ocsf.Options) (Record, error) {
	b, err := ocsf.Alert(a, o)
	if err != nil {
		return Record{}, err
	}
	return Record{Seq: seq, Key: a.ID, Host: a.Host, Class: ocsf.ClassDetectionFinding, Severity: a.Severity, Time: a.Time, Data: b}, nil
}

// FindingRecord maps a vulnerability finding seen at the given time to a
// Vulnerability Finding record at store position seq. Its key is the
// finding UID joined with the time seen, so each sighting is one record.
func FindingRecord(seq uint64, f *finding.Finding, seen time.Time, o ocsf.Options) (Record, error) {
	b, err := ocsf.Finding(f, seen, o)
	if err != nil {
		return Record{}, err
	}
	key := ocsf.FindingUID(f) + "@" + seen.UTC().Format(time.RFC3339Nano)
	return Record{Seq: seq, Key: key, Host: f.Target.Host, Class: ocsf.ClassVulnerabilityFinding, Severity: f.Advisory.Severity, Time: seen, Data: b}, nil
}
