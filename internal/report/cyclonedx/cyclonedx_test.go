package cyclonedx

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/google/go-cmp/cmp"

	"github.com/vigilsec/vigil/internal/finding"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/report"
	"github.com/vigilsec/vigil/internal/report/reporttest"
	"github.com/vigilsec/vigil/internal/severity"
)

var update = flag.Bool("update", false, "rewrite golden files")

// schemas are CycloneDX 1.6 and the schemas it refers to (testdata/README.md).
var schemas = []reporttest.Schema{
	{URL: "http://cyclonedx.org/schema/bom-1.6.schema.json", File: filepath.Join("testdata", "bom-1.6.schema.json")},
	{URL: "http://cyclonedx.org/schema/spdx.schema.json", File: filepath.Join("testdata", "spdx.schema.json")},
	{URL: "http://cyclonedx.org/schema/jsf-0.82.schema.json", File: filepath.Join("testdata", "jsf-0.82.schema.json")},
}

var (
	when   = time.Date(2025, 9, 1, 8, 30, 0, 0, time.UTC)
	serial = "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79"
)

func encodeBOM(t *testing.T, bom *cdx.BOM) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := encode(&b, bom); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestWriteGolden(t *testing.T) {
	tests := []struct {
		name     string
		target   report.Target
		pkgs     []inventory.Package
		findings []finding.Finding
	}{
		{name: "host", target: reporttest.Target(), pkgs: reporttest.Packages(), findings: reporttest.Findings()},
		{name: "image", target: report.Target{Type: "image", Name: "registry.example.com/shop:1.4", OS: reporttest.Target().OS},
			pkgs: reporttest.Packages()[:3], findings: reporttest.Findings()[4:]},
		{name: "dir_no_findings", target: report.Target{Type: "dir", Name: "/srv/app"}, pkgs: reporttest.Packages()[3:6]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := encodeBOM(t, Build(tc.target, tc.pkgs, tc.findings, "0.3.0", when, serial))
			if err := reporttest.ValidateJSON(got, schemas...); err != nil {
				t.Error(err)
			}
			golden := filepath.Join("testdata", tc.name+".golden.cdx.json")
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
				t.Errorf("BOM mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRoundTrip decodes what Write wrote with cyclonedx-go's decoder and
// compares it with the BOM built, then checks the links a consumer
// follows: every "affects" names a component, bom-refs are unique.
func TestRoundTrip(t *testing.T) {
	fs := reporttest.Findings()
	var out bytes.Buffer
	if err := Write(&out, reporttest.Target(), reporttest.Packages(), fs, "0.3.0"); err != nil {
		t.Fatal(err)
	}
	if err := reporttest.ValidateJSON(out.Bytes(), schemas...); err != nil {
		t.Error(err)
	}
	var got cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(out.Bytes()), cdx.BOMFileFormatJSON).Decode(&got); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if got.SpecVersion != cdx.SpecVersion1_6 || got.BOMFormat != "CycloneDX" {
		t.Errorf("specVersion %v, bomFormat %q", got.SpecVersion, got.BOMFormat)
	}
	if !regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(got.SerialNumber) {
		t.Errorf("serial number %q is not a random UUID URN", got.SerialNumber)
	}
	if _, err := time.Parse(time.RFC3339, got.Metadata.Timestamp); err != nil {
		t.Errorf("timestamp: %v", err)
	}
	want := Build(reporttest.Target(), reporttest.Packages(), fs, "0.3.0", mustTime(t, got.Metadata.Timestamp), got.SerialNumber)
	want.XMLNS = "" // XML only
	if diff := cmp.Diff(want, &got); diff != "" {
		t.Errorf("decoded BOM differs (-built +decoded):\n%s", diff)
	}

	refs := map[string]cdx.Component{}
	for _, c := range *got.Components {
		if _, dup := refs[c.BOMRef]; dup || c.BOMRef == "" {
			t.Errorf("bom-ref %q empty or repeated", c.BOMRef)
		}
		refs[c.BOMRef] = c
	}
	if os := refs["os:debian@12"]; os.Type != cdx.ComponentTypeOS || os.Version != "12" {
		t.Errorf("OS component = %+v", os)
	}
	if n := len(*got.Components); n != 1+len(reporttest.Packages()) {
		t.Errorf("%d components, want the OS and %d packages", n, len(reporttest.Packages()))
	}
	if len(*got.Vulnerabilities) != len(fs) {
		t.Fatalf("%d vulnerabilities, want %d", len(*got.Vulnerabilities), len(fs))
	}
	for i, v := range *got.Vulnerabilities {
		f := fs[i]
		if v.ID != f.Advisory.ID || v.Source == nil || v.Source.URL != "https://osv.dev/vulnerability/"+f.Advisory.ID {
			t.Errorf("vulnerability %d: id %q source %+v", i, v.ID, v.Source)
		}
		if v.Affects == nil || len(*v.Affects) != 1 {
			t.Fatalf("vulnerability %s affects %v", v.ID, v.Affects)
		}
		c, ok := refs[(*v.Affects)[0].Ref]
		if !ok || c.Name != f.Target.Package.Name || c.Version != f.Target.Package.Version {
			t.Errorf("vulnerability %s affects %q: component %+v", v.ID, (*v.Affects)[0].Ref, c)
		}
		if c.PackageURL != f.Target.Package.PURL {
			t.Errorf("component %q purl %q, want %q", c.BOMRef, c.PackageURL, f.Target.Package.PURL)
		}
		if r := f.Remediation.Command; r != "" && !strings.Contains(v.Recommendation, r) {
			t.Errorf("vulnerability %s recommendation %q lacks %q", v.ID, v.Recommendation, r)
		}
		rt := (*v.Ratings)[0]
		if rt.Severity != Severity(f.Advisory.Severity) || rt.Vector != f.Advisory.CVSS.Vector {
			t.Errorf("vulnerability %s rating %+v", v.ID, rt)
		}
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// TestOneVulnerabilityPerAdvisory: an advisory found on two packages is
// one vulnerability affecting both, with both fixes recommended and the
// higher priority.
func TestOneVulnerabilityPerAdvisory(t *testing.T) {
	f := reporttest.Findings()[2] // GO-2023-2102 on golang.org/x/net 0.8.0
	g := f
	g.Target.Package.Version = "0.10.0"
	g.Target.Package.PURL = "pkg:golang/golang.org/x/net@0.10.0"
	g.Priority.Score = 70.5
	bom := Build(reporttest.Target(), []inventory.Package{f.Target.Package}, []finding.Finding{f, g}, "dev", when, serial)
	if err := reporttest.ValidateJSON(encodeBOM(t, bom), schemas...); err != nil {
		t.Error(err)
	}
	vs := *bom.Vulnerabilities
	if len(vs) != 1 {
		t.Fatalf("%d vulnerabilities, want 1", len(vs))
	}
	var got []string
	for _, a := range *vs[0].Affects {
		got = append(got, a.Ref)
	}
	want := []string{"pkg:golang/golang.org/x/net@0.8.0", "pkg:golang/golang.org/x/net@0.10.0"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("affects (-want +got):\n%s", diff)
	}
	wantRec := "golang.org/x/net 0.8.0: upgrade to 0.17.0: go get golang.org/x/net@v0.17.0\n" +
		"golang.org/x/net 0.10.0: upgrade to 0.17.0: go get golang.org/x/net@v0.17.0"
	if diff := cmp.Diff(wantRec, vs[0].Recommendation); diff != "" {
		t.Errorf("recommendation (-want +got):\n%s", diff)
	}
	if p := (*vs[0].Properties)[0]; p != (cdx.Property{Name: PropPriority, Value: "70.5"}) {
		t.Errorf("priority property %+v, want the higher one", p)
	}
}

// TestUniqueRefs: packages that share a purl (same name and version from
// two ecosystems' views) or have none still get distinct bom-refs.
func TestUniqueRefs(t *testing.T) {
	pkgs := []inventory.Package{
		{Name: "zlib", Version: "1.2.13", Type: "generic", Locations: []string{"/opt/a/libz.so"}},
		{Name: "zlib", Version: "1.2.13", Type: "generic", Arch: "arm64", Locations: []string{"/opt/b/libz.so"}},
		{Name: "x", Version: "1", Type: "npm", PURL: "pkg:npm/x@1"},
		{Name: "x", Version: "1", Type: "npm", Ecosystem: "npm", PURL: "pkg:npm/x@1"},
	}
	bom := Build(report.Target{Type: "dir", Name: "/src"}, pkgs, nil, "dev", when, serial)
	var got []string
	for _, c := range *bom.Components {
		got = append(got, c.BOMRef)
	}
	want := []string{"vigil:generic/zlib@1.2.13", "vigil:generic/zlib@1.2.13#2", "pkg:npm/x@1", "pkg:npm/x@1#2"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("bom-refs (-want +got):\n%s", diff)
	}
	if err := reporttest.ValidateJSON(encodeBOM(t, bom), schemas...); err != nil {
		t.Error(err)
	}
}

// TestSchemaRejects checks that the schema check can fail.
func TestSchemaRejects(t *testing.T) {
	good := string(encodeBOM(t, Build(reporttest.Target(), reporttest.Packages(), reporttest.Findings(), "0.3.0", when, serial)))
	tests := []struct{ name, old, new string }{
		{name: "unknown_component_type", old: `"type": "library"`, new: `"type": "package"`},
		{name: "unknown_severity", old: `"severity": "critical"`, new: `"severity": "severe"`},
		{name: "unknown_method", old: `"method": "CVSSv31"`, new: `"method": "CVSS3.1"`},
		{name: "bad_serial", old: serial, new: "3e671687"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bad := strings.Replace(good, tc.old, tc.new, 1)
			if bad == good {
				t.Fatalf("%q not in the output", tc.old)
			}
			if err := reporttest.ValidateJSON([]byte(bad), schemas...); err == nil {
				t.Errorf("schema accepted a BOM with %s", tc.new)
			}
		})
	}
}

func TestRating(t *testing.T) {
	score := func(f float64) *float64 { return &f }
	tests := []struct {
		name string
		in   finding.Advisory
		want cdx.VulnerabilityRating
	}{
		{name: "cvss31", in: finding.Advisory{Severity: severity.High, CVSS: finding.CVSS{Version: "3.1", Vector: "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", Score: 7.8}},
			want: cdx.VulnerabilityRating{Severity: cdx.SeverityHigh, Method: cdx.ScoringMethodCVSSv31, Score: score(7.8), Vector: "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H"}},
		{name: "cvss30", in: finding.Advisory{Severity: severity.Critical, CVSS: finding.CVSS{Version: "3.0", Vector: "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", Score: 9.8}},
			want: cdx.VulnerabilityRating{Severity: cdx.SeverityCritical, Method: cdx.ScoringMethodCVSSv3, Score: score(9.8), Vector: "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}},
		{name: "cvss4", in: finding.Advisory{Severity: severity.High, CVSS: finding.CVSS{Version: "4.0", Vector: "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N", Score: 8.7}},
			want: cdx.VulnerabilityRating{Severity: cdx.SeverityHigh, Method: cdx.ScoringMethodCVSSv4, Score: score(8.7), Vector: "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N"}},
		{name: "cvss2", in: finding.Advisory{Severity: severity.Medium, CVSS: finding.CVSS{Version: "2.0", Vector: "AV:N/AC:M/Au:N/C:P/I:N/A:N", Score: 4.3}},
			want: cdx.VulnerabilityRating{Severity: cdx.SeverityMedium, Method: cdx.ScoringMethodCVSSv2, Score: score(4.3), Vector: "AV:N/AC:M/Au:N/C:P/I:N/A:N"}},
		{name: "severity_word_only", in: finding.Advisory{Severity: severity.Low}, want: cdx.VulnerabilityRating{Severity: cdx.SeverityLow, Method: cdx.ScoringMethodOther}},
		{name: "nothing", in: finding.Advisory{}, want: cdx.VulnerabilityRating{Severity: cdx.SeverityUnknown, Method: cdx.ScoringMethodOther}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, Rating(tc.in)); diff != "" {
				t.Errorf("Rating (-want +got):\n%s", diff)
			}
		})
	}
}
