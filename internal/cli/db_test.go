package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/testutil"
)

func TestDBImportAndStatus(t *testing.T) {
	dataDir := t.TempDir()
	goRecords := testutil.TxtarToDir(t, "../vuln/osv/testdata/go-records.txtar")
	pypi := testutil.TxtarToDir(t, "../vuln/osv/testdata/pypi-records.txtar")
	stdout, stderr, err := vigil(t, "db", "import", "--data-dir", dataDir, "--format", "json",
		goRecords, pypi, "../vuln/kev/testdata/known_exploited_vulnerabilities.json",
		"../vuln/epss/testdata/epss_scores.csv")
	if err != nil {
		t.Fatalf("db import: %v\n%s", err, stderr)
	}
	var rep struct {
		Records    int      `json:"records"`
		Ecosystems []string `json:"ecosystems"`
		KEV        int      `json:"kev"`
		EPSS       int      `json:"epss"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("decode %q: %v", stdout, err)
	}
	if rep.Records == 0 || strings.Join(rep.Ecosystems, ",") != "Go,PyPI" || rep.KEV == 0 || rep.EPSS == 0 {
		t.Errorf("import report = %+v", rep)
	}

	stdout, stderr, err = vigil(t, "db", "status", "--data-dir", dataDir, "--format", "json")
	if err != nil {
		t.Fatalf("db status: %v\n%s", err, stderr)
	}
	var st struct {
		Ecosystems []struct {
			Ecosystem string `json:"ecosystem"`
			Records   int    `json:"records"`
		} `json:"ecosystems"`
		KEV *struct {
			Entries int `json:"entries"`
		} `json:"kev"`
	}
	if err := json.Unmarshal([]byte(stdout), &st); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, e := range st.Ecosystems {
		total += e.Records
	}
	if total != rep.Records || st.KEV == nil || st.KEV.Entries != rep.KEV {
		t.Errorf("status = %s, want %d records and %d KEV entries", stdout, rep.Records, rep.KEV)
	}

	stdout, _, err = vigil(t, "db", "status", "--data-dir", dataDir)
	if err != nil || !strings.Contains(stdout, "Go ") || !strings.Contains(stdout, "KEV:") {
		t.Errorf("table status: %v\n%s", err, stdout)
	}
}

func TestDBErrors(t *testing.T) {
	if _, _, err := vigil(t, "db", "status", "--data-dir", t.TempDir()); err == nil ||
		!strings.Contains(err.Error(), "vigil db import") {
		t.Errorf("status of an empty data dir = %v, want a hint to import", err)
	}
	if _, _, err := vigil(t, "db", "import", "--data-dir", t.TempDir(), "/nonexistent/all.zip"); err == nil {
		t.Error("import of a missing file succeeded")
	}
}
