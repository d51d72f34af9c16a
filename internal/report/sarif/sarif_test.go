package sarif

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilsec/vigil/internal/finding"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/report"
	"github.com/vigilsec/vigil/internal/report/reporttest"
	"github.com/vigilsec/vigil/internal/severity"
)

var update = flag.Bool("update", false, "rewrite golden files")

// schema is the OASIS SARIF 2.1.0 schema (testdata/README.md).
var schema = reporttest.Schema{
	URL:  "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json",
	File: filepath.Join("testdata", "sarif-schema-2.1.0.json"),
}

func write(t *testing.T, tg report.Target, pkgs []inventory.Package, fs []finding.Finding) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, tg, pkgs, fs, "0.3.0"); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestWriteGolden(t *testing.T) {
	image := report.Target{Type: "image", Name: "registry.example.com/shop:1.4", OS: reporttest.Target().OS}
	tests := []struct {
		name     string
		target   report.Target
		findings []finding.Finding
	}{
		{name: "host", target: reporttest.Target(), findings: reporttest.Findings()},
		{name: "image", target: image, findings: reporttest.Findings()[4:]},
		{name: "no_findings", target: report.Target{Type: "dir", Name: "/srv/app"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := write(t, tc.target, reporttest.Packages(), tc.findings)
			if err := reporttest.ValidateJSON(got, schema); err != nil {
				t.Error(err)
			}
			golden := filepath.Join("testdata", tc.name+".golden.sarif")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("SARIF mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestStructure checks, on the generic JSON rather than this package's
// types, what GitHub code scanning needs: rules found by ruleId and
// ruleIndex, a level per severity, a security-severity per rule, one
// relative location at least per result, and a message that says what to
// do.
func TestStructure(t *testing.T) {
	fs := reporttest.Findings()
	var log struct {
		Schema  string `json:"$schema"`
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name  string `json:"name"`
					Rules []struct {
						ID               string `json:"id"`
						ShortDescription struct{ Text string }
						HelpURI          string `json:"helpUri"`
						Properties       map[string]any
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex int    `json:"ruleIndex"`
				Level     string `json:"level"`
				Message   struct{ Text string }
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
					} `json:"physicalLocation"`
				} `json:"locations"`
				PartialFingerprints map[string]string `json:"partialFingerprints"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(write(t, reporttest.Target(), reporttest.Packages(), fs), &log); err != nil {
		t.Fatal(err)
	}
	if log.Version != "2.1.0" || log.Schema == "" || len(log.Runs) != 1 {
		t.Fatalf("version %q, $schema %q, %d runs; want 2.1.0, a schema, 1 run", log.Version, log.Schema, len(log.Runs))
	}
	run := log.Runs[0]
	if run.Tool.Driver.Name != "vigil" {
		t.Errorf("driver name = %q", run.Tool.Driver.Name)
	}
	rules := run.Tool.Driver.Rules
	ids := map[string]bool{}
	for _, r := range rules {
		if ids[r.ID] {
			t.Errorf("rule %q appears twice", r.ID)
		}
		ids[r.ID] = true
		if r.ShortDescription.Text == "" || !strings.HasPrefix(r.HelpURI, "https://") {
			t.Errorf("rule %q: short description %q, helpUri %q", r.ID, r.ShortDescription.Text, r.HelpURI)
		}
	}
	// The fixture's advisories are all different: one rule each.
	if len(rules) != len(fs) {
		t.Errorf("%d rules, want %d (one per advisory)", len(rules), len(fs))
	}
	if len(run.Results) != len(fs) {
		t.Fatalf("%d results, want %d", len(run.Results), len(fs))
	}
	seenFP := map[string]string{}
	for i, r := range run.Results {
		f := fs[i]
		if r.RuleID != f.Advisory.ID || rules[r.RuleIndex].ID != r.RuleID {
			t.Errorf("result %d: ruleId %q, ruleIndex %d -> %q; want %q", i, r.RuleID, r.RuleIndex, rules[r.RuleIndex].ID, f.Advisory.ID)
		}
		if want := Level(f.Advisory.Severity); r.Level != want {
			t.Errorf("result %d: level %q, want %q", i, r.Level, want)
		}
		p := f.Target.Package
		for _, s := range []string{p.Name, p.Version, f.Advisory.ID, f.Remediation.Command} {
			if !strings.Contains(r.Message.Text, s) {
				t.Errorf("result %d: message %q lacks %q", i, r.Message.Text, s)
			}
		}
		if f.FixedVersion != "" && !strings.Contains(r.Message.Text, "Fixed version: "+f.FixedVersion) {
			t.Errorf("result %d: message %q lacks the fixed version %q", i, r.Message.Text, f.FixedVersion)
		}
		if len(r.Locations) == 0 {
			t.Errorf("result %d has no location", i)
		}
		for _, l := range r.Locations {
			u := l.PhysicalLocation.ArtifactLocation.URI
			if u == "" || strings.HasPrefix(u, "/") || strings.Contains(u, "://") {
				t.Errorf("result %d: location URI %q is not relative", i, u)
			}
		}
		fp := r.PartialFingerprints[FingerprintKey]
		if fp == "" {
			t.Errorf("result %d has no %s fingerprint", i, FingerprintKey)
		}
		if prev, ok := seenFP[fp]; ok {
			t.Errorf("result %d has the fingerprint of %s", i, prev)
		}
		seenFP[fp] = r.RuleID
	}
	for i, r := range rules {
		s, _ := r.Properties["security-severity"].(string)
		a := fs[i].Advisory
		if s == "" {
			if a.Severity != severity.Unspecified {
				t.Errorf("rule %q has no security-severity", r.ID)
			}
			continue
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || v < 0 || v > 10 {
			t.Errorf("rule %q: security-severity %q is not a score", r.ID, s)
		}
		if a.CVSS.Vector != "" && v != a.CVSS.Score {
			t.Errorf("rule %q: security-severity %v, want the CVSS score %v", r.ID, v, a.CVSS.Score)
		}
	}
}

// TestOneRulePerAdvisory writes one advisory found on two packages: one
// rule, two results pointing at it.
func TestOneRulePerAdvisory(t *testing.T) {
	f := reporttest.Findings()[2] // GO-2023-2102
	g := f
	g.Target.Package.Version = "0.10.0"
	g.Target.Package.Locations = []string{"/usr/local/bin/traefik"}
	l := Build(reporttest.Target(), nil, []finding.Finding{f, g}, "dev")
	run := l.Runs[0]
	if len(run.Tool.Driver.Rules) != 1 || len(run.Results) != 2 {
		t.Fatalf("%d rules, %d results; want 1, 2", len(run.Tool.Driver.Rules), len(run.Results))
	}
	for _, r := range run.Results {
		if r.RuleIndex != 0 || r.RuleID != "GO-2023-2102" {
			t.Errorf("result points at rule %d %q", r.RuleIndex, r.RuleID)
		}
	}
}

// TestFingerprintStable checks that scores which change between runs
// leave the fingerprint alone, and that what identifies the finding
// changes it.
func TestFingerprintStable(t *testing.T) {
	base := reporttest.Findings()[1]
	fp := func(f finding.Finding) string {
		return Build(reporttest.Target(), nil, []finding.Finding{f}, "dev").Runs[0].Results[0].PartialFingerprints[FingerprintKey]
	}
	want := fp(base)
	tests := []struct {
		name   string
		change func(f *finding.Finding)
		same   bool
	}{
		{name: "priority_and_epss", same: true, change: func(f *finding.Finding) {
			f.Priority.Score = 12
			f.EPSS.Score = 0.1
			f.KEV = finding.KEV{}
		}},
		{name: "tool_version_and_summary", same: true, change: func(f *finding.Finding) { f.Advisory.Summary = "changed" }},
		{name: "installed_version", change: func(f *finding.Finding) { f.Target.Package.Version = "2.36-9+deb12u2" }},
		{name: "advisory", change: func(f *finding.Finding) { f.Advisory.ID = "DSA-5514-1" }},
		{name: "location", change: func(f *finding.Finding) { f.Target.Package.Locations = []string{"/var/lib/dpkg/status.d/libc6"} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := base
			f.Target.Package.Locations = append([]string(nil), base.Target.Package.Locations...)
			tc.change(&f)
			if got := fp(f); (got == want) != tc.same {
				t.Errorf("fingerprint %s, base %s; want same=%v", got, want, tc.same)
			}
		})
	}
}

// TestSchemaRejects checks that the schema check can fail: SARIF
// documents broken the way a writer could break them are rejected.
func TestSchemaRejects(t *testing.T) {
	good := string(write(t, reporttest.Target(), reporttest.Packages(), reporttest.Findings()))
	tests := []struct{ name, old, new string }{
		{name: "unknown_level", old: `"level": "error"`, new: `"level": "critical"`},
		{name: "unknown_property", old: `"ruleId":`, new: `"rule":`},
		{name: "wrong_version", old: `"version": "2.1.0"`, new: `"version": "2.0.0"`},
		{name: "fingerprint_not_string", old: `"vigilFinding/v1": "`, new: `"vigilFinding/v1": 1, "x": "`},
		{name: "message_without_text", old: `"text": "Package `, new: `"markdown": "Package `},
		{name: "negative_start_line", old: `"startLine": 1`, new: `"startLine": 0`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bad := strings.Replace(good, tc.old, tc.new, 1)
			if bad == good {
				t.Fatalf("%q not in the output", tc.old)
			}
			if err := reporttest.ValidateJSON([]byte(bad), schema); err == nil {
				t.Errorf("schema accepted a document with %s", tc.new)
			}
		})
	}
}

func TestLevel(t *testing.T) {
	tests := []struct {
		in   severity.Level
		want string
	}{
		{severity.Critical, "error"},
		{severity.High, "error"},
		{severity.Medium, "warning"},
		{severity.Low, "note"},
		{severity.Info, "note"},
		{severity.Unspecified, "note"},
	}
	for _, tc := range tests {
		t.Run(tc.in.String(), func(t *testing.T) {
			if got := Level(tc.in); got != tc.want {
				t.Errorf("Level(%v) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestSecuritySeverity(t *testing.T) {
	tests := []struct {
		name string
		in   finding.Advisory
		want string
	}{
		{name: "cvss3", in: finding.Advisory{Severity: severity.High, CVSS: finding.CVSS{Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", Score: 7.5}}, want: "7.5"},
		{name: "cvss_ten", in: finding.Advisory{Severity: severity.Critical, CVSS: finding.CVSS{Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", Score: 10}}, want: "10.0"},
		{name: "critical_word", in: finding.Advisory{Severity: severity.Critical}, want: "9.5"},
		{name: "medium_word", in: finding.Advisory{Severity: severity.Medium}, want: "5.5"},
		{name: "low_word", in: finding.Advisory{Severity: severity.Low}, want: "2.0"},
		{name: "none", in: finding.Advisory{}, want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := SecuritySeverity(tc.in); got != tc.want {
				t.Errorf("SecuritySeverity = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLocations(t *testing.T) {
	tests := []struct {
		name   string
		target report.Target
		pkg    inventory.Package
		want   []string
	}{
		{name: "relative_and_deduplicated", target: reporttest.Target(),
			pkg:  inventory.Package{Locations: []string{"/usr/bin/containerd", "/usr/bin/containerd", "/srv/a b.war!WEB-INF/lib/x.jar"}},
			want: []string{"usr/bin/containerd", "srv/a%20b.war%21WEB-INF/lib/x.jar"}},
		{name: "colon_in_first_segment", target: reporttest.Target(),
			pkg: inventory.Package{Locations: []string{"/c:x/go.mod"}}, want: []string{"./c:x/go.mod"}},
		{name: "database_file", target: reporttest.Target(),
			pkg: inventory.Package{Source: "/lib/apk/db/installed"}, want: []string{"lib/apk/db/installed"}},
		{name: "image_without_location", target: report.Target{Type: "image", Name: "alpine:3.19"},
			pkg: inventory.Package{}, want: []string{"./alpine:3.19"}},
		{name: "host_without_location", target: reporttest.Target(), pkg: inventory.Package{}, want: []string{"."}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, l := range locations(tc.target, tc.pkg) {
				got = append(got, l.PhysicalLocation.ArtifactLocation.URI)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("locations (-want +got):\n%s", diff)
			}
		})
	}
}
