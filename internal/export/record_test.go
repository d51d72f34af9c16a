package export_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/export"
	"github.com/vigilsec/vigil/internal/export/exporttest"
	"github.com/vigilsec/vigil/internal/export/ocsf"
	"github.com/vigilsec/vigil/internal/finding"
	"github.com/vigilsec/vigil/internal/severity"
)

func TestAlertRecord(t *testing.T) {
	a := exporttest.Alert(3)
	r, err := export.AlertRecord(42, a, ocsf.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Seq != 42 || r.Key != a.ID || r.Host != "web-3" || r.Class != 2004 || r.Severity != severity.Critical || !r.Time.Equal(a.Time) {
		t.Errorf("record = %+v", r)
	}
	var e ocsf.Event
	if err := json.Unmarshal(r.Data, &e); err != nil || e.FindingInfo.UID != a.ID {
		t.Errorf("data: %v, uid %q", err, e.FindingInfo.UID)
	}
	noID := exporttest.Alert(0)
	noID.ID = ""
	if _, err := export.AlertRecord(1, noID, ocsf.Options{}); err == nil {
		t.Error("alert without id: want error")
	}
}

func TestFindingRecord(t *testing.T) {
	f := &finding.Finding{Advisory: finding.Advisory{ID: "GO-2024-1", Severity: severity.Medium}, Target: finding.Target{Host: "db-1"}}
	seen := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	r, err := export.FindingRecord(7, f, seen, ocsf.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Class != 2002 || r.Host != "db-1" || r.Severity != severity.Medium || !strings.HasPrefix(r.Key, ocsf.FindingUID(f)+"@2026-11-27T00:00:00Z") {
		t.Errorf("record = %+v", r)
	}
}
