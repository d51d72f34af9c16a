package ocsf

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/event"
	"github.com/vigilsec/vigil/internal/finding"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/severity"
)

var update = flag.Bool("update", false, "rewrite golden files")

var opts = Options{ProductVersion: "v0.9.0"}

func reverseShellAlert() *alert.Alert {
	return &alert.Alert{
		ID:       "5f0c2a3be41d4f6a9a57c1d0e9b8a7f6",
		Time:     time.Date(2026, 11, 27, 21, 30, 5, 123456789, time.UTC),
		Host:     "web-1",
		Rule:     alert.Rule{ID: "VGL-EXEC-REVERSE-SHELL", Version: 2, Title: "Shell with its stdin and stdout on a socket"},
		Severity: severity.Critical,
		Attack:   alert.Attack{Tactics: []string{"TA0002", "TA0011"}, Techniques: []string{"T1059.004", "T1105"}},
		Process: &alert.Process{
			PID: 4242, ExecID: "b:1:4242", Exe: "/usr/bin/bash", Cmdline: "bash -i", User: "www-data", UID: 33,
			Ancestors: []event.Ancestor{
				{PID: 4200, ExecID: "b:1:4200", Exe: "/usr/sbin/php-fpm8.2", Cmdline: "php-fpm: pool www", User: "www-data", UID: 33},
				{PID: 1, ExecID: "b:1:1", Exe: "/usr/lib/systemd/systemd", Name: "systemd", UID: 0, User: "root"},
			},
		},
		Container: &event.Container{ID: "3f1e0c9a7b2d", Name: "web", Image: "php:8.2-fpm", Runtime: "docker"},
		Evidence:  map[string]any{"stdin": "socket", "stdout": "socket", "parent_exe": "/usr/sbin/php-fpm8.2"},
		Response:  alert.Response{Action: "kill_tree", Result: "ok"},
		Count:     1,
	}
}

func bruteForceAlert() *alert.Alert {
	return &alert.Alert{
		ID:       "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
		Time:     time.Date(2026, 11, 27, 3, 4, 5, 0, time.UTC),
		Host:     "bastion",
		Rule:     alert.Rule{ID: "VGL-AUTH-BRUTE", Version: 1, Title: "SSH brute force"},
		Severity: severity.High,
		Attack:   alert.Attack{Tactics: []string{"TA0006"}, Techniques: []string{"T1110.001"}},
		Evidence: map[string]any{"src_ip": "203.0.113.7", "src_port": float64(51022), "user": "root", "failures": float64(37)},
		Response: alert.Response{Action: "block_ip", Result: "ok"},
		Count:    37,
	}
}

func minimalAlert() *alert.Alert {
	return &alert.Alert{
		ID:       "m1",
		Time:     time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Rule:     alert.Rule{ID: "custom", Title: "x"},
		Attack:   alert.Attack{Tactics: []string{"TA9999"}, Techniques: []string{}},
		Response: alert.Response{Action: "quarantine", Result: "failed: read-only file system"},
	}
}

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

func glibcFinding() *finding.Finding {
	return &finding.Finding{
		Advisory: finding.Advisory{
			ID:         "DEBIAN-CVE-2023-4911",
			Aliases:    []string{"CVE-2023-4911"},
			Summary:    "glibc: buffer overflow in ld.so leading to privilege escalation",
			Details:    "A buffer overflow was discovered in the GNU C Library's dynamic loader ld.so while processing the GLIBC_TUNABLES environment variable.",
			Severity:   severity.High,
			CVSS:       finding.CVSS{Version: "3.1", Vector: "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", Score: 7.8},
			Published:  day("2023-10-03"),
			Modified:   day("2024-09-18"),
			References: []string{"https://security-tracker.debian.org/tracker/CVE-2023-4911"},
		},
		Target: finding.Target{
			Host: "web-1", Path: "/",
			Package: inventory.Package{
				Name: "libc6", Version: "2.36-9+deb12u1", Type: "deb", Ecosystem: "Debian:12",
				PURL:      "pkg:deb/debian/libc6@2.36-9%2Bdeb12u1?arch=amd64&distro=debian-12",
				Locations: []string{"/var/lib/dpkg/status"},
			},
		},
		Source:       finding.Source{Plugin: "vuln/osv", Version: 1},
		FixedVersion: "2.36-9+deb12u3",
		KEV:          finding.KEV{Listed: true, CVE: "CVE-2023-4911", DateAdded: day("2023-11-21")},
		EPSS:         finding.EPSS{CVE: "CVE-2023-4911", Score: 0.7329, Percentile: 0.9871, Date: day("2026-11-26")},
		Priority:     finding.Priority{Score: 88.5, Factors: []finding.Factor{{Name: "cvss", Value: 7.8, Points: 31.2, Detail: "CVSS 3.1 base score 7.8"}}},
		Remediation:  finding.Remediation{Command: "apt-get install --only-upgrade libc6=2.36-9+deb12u3", FixedVersion: "2.36-9+deb12u3"},
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, got, "", "  "); err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
	buf.WriteByte('\n')
	p := filepath.Join("testdata", name+".golden.json")
	if *update {
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("read golden (run with -update to create): %v", err)
	}
	if d := cmp.Diff(string(want), buf.String()); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", p, d)
	}
}

func TestAlertGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   *alert.Alert
		o    Options
	}{
		{"alert_reverse_shell", reverseShellAlert(), opts},
		{"alert_bruteforce", bruteForceAlert(), Options{ProductVersion: "v0.9.0", OmitRawData: true}},
		{"alert_minimal", minimalAlert(), Options{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Alert(tc.in, tc.o)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name, b)
		})
	}
}

func TestFindingGolden(t *testing.T) {
	seen := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	noCVE := &finding.Finding{
		Advisory: finding.Advisory{ID: "GO-2024-2687", Severity: severity.Unspecified},
		Target:   finding.Target{Package: inventory.Package{Name: "golang.org/x/net", Version: "v0.20.0", Ecosystem: "Go"}},
	}
	for _, tc := range []struct {
		name string
		in   *finding.Finding
	}{
		{"finding_glibc", glibcFinding()},
		{"finding_minimal", noCVE},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Finding(tc.in, seen, opts)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name, b)
		})
	}
}

func TestRawDataRoundTrips(t *testing.T) {
	a := reverseShellAlert()
	e, err := FromAlert(a, opts)
	if err != nil {
		t.Fatal(err)
	}
	var back alert.Alert
	if err := json.Unmarshal([]byte(e.RawData), &back); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(*a, back); d != "" {
		t.Errorf("raw_data does not hold the alert (-want +got):\n%s", d)
	}
}

func TestBadInput(t *testing.T) {
	if _, err := Alert(&alert.Alert{}, opts); err == nil {
		t.Error("alert without id: want error")
	}
	if _, err := Alert(nil, opts); err == nil {
		t.Error("nil alert: want error")
	}
	if _, err := Finding(&finding.Finding{}, time.Now(), opts); err == nil {
		t.Error("finding without advisory id: want error")
	}
	a := reverseShellAlert()
	a.Evidence["bad"] = func() {}
	if _, err := Alert(a, opts); err == nil {
		t.Error("unmarshalable evidence: want error")
	}
}

func TestSeverityID(t *testing.T) {
	want := map[severity.Level]int{severity.Unspecified: 0, severity.Info: 1, severity.Low: 2, severity.Medium: 3, severity.High: 4, severity.Critical: 5, severity.Level(42): 0}
	for l, id := range want {
		if got, _ := SeverityID(l); got != id {
			t.Errorf("SeverityID(%v) = %d, want %d", l, got, id)
		}
	}
}

func TestFindingUIDStable(t *testing.T) {
	a, b := glibcFinding(), glibcFinding()
	b.Priority.Score = 1 // scoring changes do not make a new finding
	b.Target.Package.Locations = []string{"/var/lib/dpkg/status"}
	if FindingUID(a) != FindingUID(b) {
		t.Error("same finding, different uid")
	}
	b.Target.Host = "web-2"
	if FindingUID(a) == FindingUID(b) {
		t.Error("different host, same uid")
	}
}

// TestTechniquesCoverRules keeps the ATT&CK name table in step with the
// shipped rules: every tactic and technique ID in rules/*.yaml has a name,
// every technique has tactics and every sub-technique a parent.
func TestTechniquesCoverRules(t *testing.T) {
	files, err := filepath.Glob("../../../rules/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no rule files found: %v", err)
	}
	re := regexp.MustCompile(`\bT(A\d{4}|\d{4}(\.\d{3})?)\b`)
	seen := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllString(string(b), -1) {
			seen[m] = true
		}
	}
	var missing []string
	for id := range seen {
		name := TechniqueName(id)
		if id[1] == 'A' {
			name = TacticName(id)
		}
		if name == "" {
			missing = append(missing, id)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("ATT&CK IDs used in rules/ without a name in attack.go: %v", missing)
	}
	if len(seen) < 20 {
		t.Errorf("found only %d ATT&CK IDs in rules/; the pattern is broken", len(seen))
	}
	for id, tq := range techniques {
		if len(id) == 5 && len(tq.tactics) == 0 {
			t.Errorf("technique %s has no tactics", id)
		}
		if len(id) > 5 && techniques[id[:5]].name == "" {
			t.Errorf("sub-technique %s has no parent entry", id)
		}
	}
}

func TestAttacksPairing(t *testing.T) {
	got := attacks([]string{"TA0003", "TA0004", "TA0005"}, []string{"T1136.001", "T1098"})
	want := []Attack{
		{Version: attackVersion, Tactic: &Ref{"TA0003", "Persistence"}, Technique: &Ref{"T1136", "Create Account"}, SubTechnique: &Ref{"T1136.001", "Local Account"}},
		{Version: attackVersion, Tactic: &Ref{"TA0003", "Persistence"}, Technique: &Ref{"T1098", "Account Manipulation"}},
		{Version: attackVersion, Tactic: &Ref{"TA0004", "Privilege Escalation"}},
		{Version: attackVersion, Tactic: &Ref{"TA0005", "Defense Evasion"}},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("attacks (-want +got):\n%s", d)
	}
}
