package cli

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/testutil"
)

// scanDB imports the committed OSV fixtures into a fresh data dir.
func scanDB(t *testing.T) string {
	t.Helper()
	dataDir := t.TempDir()
	goRecords := testutil.TxtarToDir(t, "../vuln/osv/testdata/go-records.txtar")
	pypi := testutil.TxtarToDir(t, "../vuln/osv/testdata/pypi-records.txtar")
	mustVigil(t, "db", "import", "--data-dir", dataDir, goRecords, pypi,
		"../vuln/assess/testdata/osv/DEBIAN-CVE-2023-4911.json",
		"../vuln/kev/testdata/known_exploited_vulnerabilities.json")
	return dataDir
}

type scanJSON struct {
	Target struct {
		Type string `json:"type"`
		OS   *struct {
			ID string `json:"id"`
		} `json:"os"`
	} `json:"target"`
	Packages []struct {
		Name, Version, Ecosystem, PURL string
		Locations                      []string
	} `json:"packages"`
	Findings []struct {
		ID           string   `json:"id"`
		Aliases      []string `json:"aliases"`
		FixedVersion string   `json:"fixed_version"`
		Severity     string   `json:"severity"`
		Package      struct {
			Name, Version, Ecosystem, PURL string
		} `json:"package"`
		Priority struct {
			Score   float64           `json:"score"`
			Factors []json.RawMessage `json:"factors"`
		} `json:"priority"`
		Remediation struct {
			Command string `json:"command"`
		} `json:"remediation"`
		Locations []string `json:"locations"`
	} `json:"findings"`
}

func scanFindings(t *testing.T, args ...string) scanJSON {
	t.Helper()
	stdout, _ := mustVigil(t, append([]string{"scan", "--format", "json"}, args...)...)
	var s scanJSON
	if err := json.Unmarshal([]byte(stdout), &s); err != nil {
		t.Fatalf("decode scan output: %v\n%s", err, stdout)
	}
	return s
}

func TestScanDir(t *testing.T) {
	dataDir := scanDB(t)
	src := testutil.TxtarToDir(t, "testdata/scan/source.txtar")
	s := scanFindings(t, "dir", src, "--data-dir", dataDir)
	if s.Target.Type != "dir" {
		t.Errorf("target type = %q", s.Target.Type)
	}
	got := map[string]string{}
	for _, f := range s.Findings {
		got[f.ID+" "+f.Package.Name+"@"+f.Package.Version] = f.FixedVersion + " | " + f.Remediation.Command
		if len(f.Priority.Factors) == 0 || f.Package.PURL == "" || len(f.Locations) == 0 {
			t.Errorf("finding %s lacks priority factors, purl or locations: %+v", f.ID, f)
		}
	}
	for key, want := range map[string]string{
		"GO-2023-2102 golang.org/x/net@0.14.0": "0.17.0 | go get golang.org/x/net@v0.17.0",
		"PYSEC-2020-176 PyYAML@5.1.2":          "5.2b1 | pip install 'PyYAML>=5.2b1'",
	} {
		if got[key] != want {
			t.Errorf("finding %s = %q, want %q (all: %v)", key, got[key], want, got)
		}
	}
	for key := range got {
		if strings.Contains(key, "requests@") || strings.Contains(key, "x/text") {
			t.Errorf("unexpected finding %s", key)
		}
	}
}

func TestScanRootfsDebianBySourcePackage(t *testing.T) {
	dataDir := scanDB(t)
	root := testutil.TxtarToDir(t, "testdata/scan/debian-root.txtar")
	s := scanFindings(t, "rootfs", root, "--data-dir", dataDir)
	if s.Target.OS == nil || s.Target.OS.ID != "debian" {
		t.Fatalf("target OS = %+v", s.Target.OS)
	}
	var ids []string
	for _, f := range s.Findings {
		ids = append(ids, f.ID+" "+f.Package.Name+"@"+f.Package.Version+" "+f.Package.Ecosystem+" fix "+f.FixedVersion+" | "+f.Remediation.Command)
	}
	// libc6 2.36-9+deb12u1 is before the fix; libc-bin at the fixed version is not.
	want := []string{"DEBIAN-CVE-2023-4911 libc6@2.36-9+deb12u1 Debian:12 fix 2.36-9+deb12u3 | apt-get install --only-upgrade libc6=2.36-9+deb12u3"}
	if !slices.Equal(ids, want) {
		t.Errorf("findings = %q, want %q", ids, want)
	}
}

func TestScanSeverityFilterAndExitCode(t *testing.T) {
	dataDir := scanDB(t)
	src := testutil.TxtarToDir(t, "testdata/scan/source.txtar")
	_, _, err := vigil(t, "scan", "dir", src, "--data-dir", dataDir, "--exit-code", "3")
	var exit *ExitError
	if !errors.As(err, &exit) || exit.Code != 3 {
		t.Errorf("scan with findings and --exit-code 3 = %v", err)
	}
	s := scanFindings(t, "dir", src, "--data-dir", dataDir, "--severity", "critical")
	for _, f := range s.Findings {
		if f.Severity != "critical" {
			t.Errorf("--severity critical kept a %s finding %s", f.Severity, f.ID)
		}
	}
	if _, _, err := vigil(t, "scan", "dir", src, "--data-dir", dataDir, "--severity", "urgent"); err == nil {
		t.Error("unknown --severity accepted")
	}
	empty := t.TempDir()
	os.WriteFile(filepath.Join(empty, "go.mod"), []byte("module x\n\ngo 1.22\n"), 0o644)
	if _, _, err := vigil(t, "scan", "dir", empty, "--data-dir", dataDir, "--exit-code", "3"); err != nil {
		t.Errorf("scan without findings = %v, want success", err)
	}
}

func TestScanWithoutDatabase(t *testing.T) {
	_, _, err := vigil(t, "scan", "dir", t.TempDir(), "--data-dir", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "vigil db") {
		t.Errorf("scan without a database = %v, want a hint", err)
	}
}

func TestFixArguments(t *testing.T) {
	dataDir := scanDB(t)
	if _, _, err := vigil(t, "fix", "--data-dir", dataDir); err == nil {
		t.Error("fix without keys succeeded")
	}
	_, _, err := vigil(t, "fix", "--dry-run", "--data-dir", dataDir, "DEBIAN-CVE-0000-0000/Debian:12/nonexistent")
	var ue *UserError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "no current finding") {
		t.Errorf("fix of an unknown key = %v, want a user error", err)
	}
	if _, _, err := vigil(t, "fix", "--rollback", "/nonexistent.json", "x"); err == nil {
		t.Error("--rollback with keys accepted")
	}
}

func TestScanFindingsCarryFixKeys(t *testing.T) {
	dataDir := scanDB(t)
	root := testutil.TxtarToDir(t, "testdata/scan/debian-root.txtar")
	stdout, _ := mustVigil(t, "scan", "rootfs", root, "--data-dir", dataDir, "--format", "json")
	var s struct {
		Findings []struct {
			Key string `json:"key"`
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(stdout), &s); err != nil {
		t.Fatal(err)
	}
	if len(s.Findings) != 1 || s.Findings[0].Key != "DEBIAN-CVE-2023-4911/Debian:12/libc6" {
		t.Errorf("findings = %+v, want one with key DEBIAN-CVE-2023-4911/Debian:12/libc6", s.Findings)
	}
}

func TestScanEmergencyChecks(t *testing.T) {
	dataDir := scanDB(t)
	root := testutil.TxtarToDir(t, "../vuln/emergency/testdata/debian-vulnerable.txtar")
	s := scanFindings(t, "rootfs", root, "--data-dir", dataDir,
		"--check", "../../checks/regresshion-cve-2024-6387.yaml", "--check", "../../checks/log4shell-cve-2021-44228.yaml")
	var got []string
	for _, f := range s.Findings {
		if strings.HasPrefix(f.ID, "VIGIL-") || slices.Contains(f.Aliases, "CVE-2024-6387") {
			got = append(got, f.Package.Name)
		}
	}
	slices.Sort(got)
	if !slices.Contains(got, "openssh-server") {
		t.Errorf("regreSSHion findings for packages %q, want openssh-server among them", got)
	}
	if _, _, err := vigil(t, "scan", "rootfs", root, "--data-dir", dataDir, "--check", "testdata/nonexistent.yaml"); err == nil {
		t.Error("a missing check file was accepted")
	}
}

func TestScanReportFormats(t *testing.T) {
	dataDir := scanDB(t)
	src := testutil.TxtarToDir(t, "testdata/scan/source.txtar")
	out, _ := mustVigil(t, "scan", "dir", src, "--data-dir", dataDir, "--format", "sarif")
	var sarif struct {
		Version string `json:"version"`
		Runs    []struct {
			Results []json.RawMessage `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(out), &sarif); err != nil || sarif.Version != "2.1.0" || len(sarif.Runs) != 1 || len(sarif.Runs[0].Results) == 0 {
		t.Errorf("sarif output: %v %+v", err, sarif)
	}
	out, _ = mustVigil(t, "scan", "dir", src, "--data-dir", dataDir, "--format", "cyclonedx")
	var bom struct {
		BOMFormat       string            `json:"bomFormat"`
		Components      []json.RawMessage `json:"components"`
		Vulnerabilities []json.RawMessage `json:"vulnerabilities"`
	}
	if err := json.Unmarshal([]byte(out), &bom); err != nil || bom.BOMFormat != "CycloneDX" || len(bom.Components) == 0 || len(bom.Vulnerabilities) == 0 {
		t.Errorf("cyclonedx output: %v %+v", err, bom)
	}
	if _, _, err := vigil(t, "inventory", "--format", "sarif", "--root", src); err == nil {
		t.Error("inventory accepted --format sarif")
	}
}
