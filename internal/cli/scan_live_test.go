package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/testutil"
)

// debianRecord writes a record in the Debian OSV format (source package,
// "Debian:12", fixed version as Debian writes it) to dir.
func debianRecord(t *testing.T, dir, id, source, fixed string) {
	t.Helper()
	rec := fmt.Sprintf(`{"schema_version":"1.7.0","id":%q,"modified":"2026-11-01T00:00:00Z",
"published":"2026-10-01T00:00:00Z","upstream":["CVE-2099-%s"],"details":"hand-checked test record",
"affected":[{"package":{"name":%q,"ecosystem":"Debian:12"},
"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":%q}]}]}]}`,
		id, strings.TrimPrefix(id, "DEBIAN-TEST-"), source, fixed)
	if err := os.WriteFile(filepath.Join(dir, id+".json"), []byte(rec), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestScanHostDebianEpochAndTilde matches hand-checked Debian records
// against the packages really installed on this host. redis-server
// (installed by the test dependencies) has both an epoch and a tilde:
// 5:7.0.15-1~deb12u10 on Debian 12.
func TestScanHostDebianEpochAndTilde(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireCommand(t, "redis-server")
	out, err := exec.Command("dpkg-query", "-W", "-f", "${Version}\t${source:Package}\t${source:Version}", "redis-server").Output()
	if err != nil {
		t.Fatalf("dpkg-query: %v", err)
	}
	f := strings.Split(string(out), "\t")
	version, source, sourceVersion := f[0], f[1], f[2]
	epoch, rest, ok := strings.Cut(sourceVersion, ":")
	upstream, debian, ok2 := strings.Cut(rest, "-")
	if !ok || !ok2 {
		t.Skipf("redis source version %q has no epoch or revision; the test needs both", sourceVersion)
	}
	osr, _ := os.ReadFile("/etc/os-release")
	testutil.Require(t, "VIGIL_REQUIRE_TOOLS", strings.Contains(string(osr), `VERSION_ID="12"`), "host is not Debian 12")

	recs := t.TempDir()
	// Fixed in a later stable update: vulnerable.
	debianRecord(t, recs, "DEBIAN-TEST-0001", source, sourceVersion+"+really1")
	// Fixed in exactly the installed version: not vulnerable.
	debianRecord(t, recs, "DEBIAN-TEST-0002", source, sourceVersion)
	// A much higher upstream version without the epoch sorts lower: not vulnerable.
	debianRecord(t, recs, "DEBIAN-TEST-0003", source, "99.0.0-1")
	// The same version with "~" before the installed one sorts lower: not vulnerable.
	debianRecord(t, recs, "DEBIAN-TEST-0004", source, epoch+":"+upstream+"-"+debian+"~")
	// Fixed only with a higher epoch: vulnerable.
	debianRecord(t, recs, "DEBIAN-TEST-0005", source, "9:"+upstream+"-1")
	dataDir := t.TempDir()
	mustVigil(t, "db", "import", "--data-dir", dataDir, recs)

	stdout, _ := mustVigil(t, "scan", "host", "--data-dir", dataDir, "--format", "json")
	var s scanJSON
	if err := json.Unmarshal([]byte(stdout), &s); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range s.Findings {
		if strings.HasPrefix(f.ID, "DEBIAN-TEST-") && f.Package.Name == "redis-server" {
			if f.Package.Version != version || f.Package.Ecosystem != "Debian:12" {
				t.Errorf("%s: package = %+v", f.ID, f.Package)
			}
			got = append(got, f.ID+" fix "+f.FixedVersion)
		}
	}
	slices.Sort(got)
	want := []string{
		"DEBIAN-TEST-0001 fix " + sourceVersion + "+really1",
		"DEBIAN-TEST-0005 fix 9:" + upstream + "-1",
	}
	if !slices.Equal(got, want) {
		t.Errorf("redis-server findings = %q, want %q", got, want)
	}
}
