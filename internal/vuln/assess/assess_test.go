package assess

import (
	"cmp"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/vigilsec/vigil/internal/finding"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
	"github.com/vigilsec/vigil/internal/severity"
	"github.com/vigilsec/vigil/internal/vuln/assess/fakedb"
	"github.com/vigilsec/vigil/internal/vuln/epss"
	"github.com/vigilsec/vigil/internal/vuln/kev"
	"github.com/vigilsec/vigil/internal/vuln/osv"
)

// loadRecords decodes every record in testdata/osv.
func loadRecords(t testing.TB) []osv.Vulnerability {
	t.Helper()
	paths, err := filepath.Glob("testdata/osv/*.json")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no records in testdata/osv: %v", err)
	}
	var recs []osv.Vulnerability
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		v, err := osv.DecodeJSON(b)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		recs = append(recs, *v)
	}
	return recs
}

func date(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.DateOnly, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// testDB holds the testdata records, KEV entries copied from the real CISA
// catalogue (dates and ransomware use as published) and illustrative EPSS
// scores.
func testDB(t testing.TB) *fakedb.DB {
	return &fakedb.DB{
		Records: loadRecords(t),
		KEVs: []kev.Entry{
			{CVE: "CVE-2023-4911", DateAdded: date(t, "2023-11-21")},
			{CVE: "CVE-2021-44228", DateAdded: date(t, "2021-12-10"), KnownRansomwareCampaignUse: true},
		},
		Scores: []epss.Score{
			{CVE: "CVE-2023-4911", EPSS: 0.77, Percentile: 0.989},
			{CVE: "CVE-2023-39325", EPSS: 0.01953, Percentile: 0.82707},
			{CVE: "CVE-2022-27664", EPSS: 0.0121, Percentile: 0.78},
		},
	}
}

func goPkg(name, version, loc string) inventory.Package {
	return inventory.Package{Name: name, Version: version, Type: "golang", Ecosystem: "Go", Locations: []string{loc}}
}

func debPkg(eco, name, version, src string) inventory.Package {
	return inventory.Package{Name: name, Version: version, SourceName: src, SourceVersion: version, Arch: "amd64", Type: "deb", Ecosystem: eco, Locations: []string{"/var/lib/dpkg/status"}}
}

// got is the part of a finding the matching tests compare.
type got struct {
	ID, Pkg, Version, Fixed string
	Aliases                 []string
	Severity                severity.Level
	CVSS                    string
	KEV                     string
	EPSS                    string
	Locations               []string
	Command, Note           string
}

func summarize(fs []finding.Finding) []got {
	var out []got
	for _, f := range fs {
		g := got{
			ID: f.Advisory.ID, Pkg: f.Target.Package.Name, Version: f.Target.Package.Version, Fixed: f.FixedVersion,
			Aliases: f.Advisory.Aliases, Severity: f.Advisory.Severity, CVSS: f.Advisory.CVSS.Vector,
			EPSS: f.EPSS.CVE, Locations: f.Target.Package.Locations, Command: f.Remediation.Command, Note: f.Remediation.Note,
		}
		if f.KEV.Listed {
			g.KEV = f.KEV.CVE + "@" + f.KEV.DateAdded.Format(time.DateOnly)
		}
		out = append(out, g)
	}
	return out
}

func TestMatch(t *testing.T) {
	tests := []struct {
		name    string
		pkgs    []inventory.Package
		want    []got
		wantErr string // substring of a PartialError
	}{
		{
			name: "go_stdlib_and_module_locations_merged",
			pkgs: []inventory.Package{
				goPkg("stdlib", "1.21.1", "/usr/bin/dockerd"),
				goPkg("stdlib", "1.21.1", "/usr/bin/containerd"),
				goPkg("golang.org/x/net", "0.0.0-20220722155237-a158d28d115b", "/usr/bin/dockerd"),
				goPkg("golang.org/x/net", "0.17.0", "/usr/bin/containerd"),
			},
			want: []got{
				{
					ID: "GO-2022-0969", Pkg: "golang.org/x/net", Version: "0.0.0-20220722155237-a158d28d115b", Fixed: "0.0.0-20220906165146-f3363e06e74c",
					Aliases: []string{"CVE-2022-27664", "GHSA-69cg-p879-7622"}, EPSS: "CVE-2022-27664", Locations: []string{"/usr/bin/dockerd"},
					Command: "go get golang.org/x/net@v0.0.0-20220906165146-f3363e06e74c", Note: "run in the main module of the program, then rebuild it",
				},
				{
					ID: "GO-2023-2102", Pkg: "golang.org/x/net", Version: "0.0.0-20220722155237-a158d28d115b", Fixed: "0.17.0",
					Aliases: []string{"CVE-2023-39325", "GHSA-4374-p667-p6c8"}, EPSS: "CVE-2023-39325", Locations: []string{"/usr/bin/dockerd"},
					Command: "go get golang.org/x/net@v0.17.0", Note: "run in the main module of the program, then rebuild it",
				},
				{
					ID: "GO-2023-2102", Pkg: "stdlib", Version: "1.21.1", Fixed: "1.21.3",
					Aliases: []string{"CVE-2023-39325", "GHSA-4374-p667-p6c8"}, EPSS: "CVE-2023-39325", Locations: []string{"/usr/bin/containerd", "/usr/bin/dockerd"},
					Note: "upgrade Go to 1.21.3 and rebuild",
				},
			},
		},
		{
			name: "go_withdrawn_skipped",
			pkgs: []inventory.Package{goPkg("github.com/gorilla/sessions", "1.2.1", "/app/go.mod")},
		},
		{
			name: "debian_source_name_release_and_kev",
			pkgs: []inventory.Package{
				debPkg("Debian:12", "libc6", "2.36-9+deb12u1", "glibc"),
				debPkg("Debian:12", "libc-bin", "2.36-9+deb12u1", "glibc"),
				// Fixed for Debian 12; the Debian:13 entry (fixed 2.37-12)
				// must not apply.
				debPkg("Debian:12", "locales", "2.36-9+deb12u3", "glibc"),
				// Binary named like its source: no SourceName.
				debPkg("Debian:12", "glibc-source", "2.36-9+deb12u1", ""),
			},
			want: []got{
				{
					ID: "DEBIAN-CVE-2023-4911", Pkg: "libc-bin", Version: "2.36-9+deb12u1", Fixed: "2.36-9+deb12u3",
					Aliases: []string{"CVE-2023-4911"}, KEV: "CVE-2023-4911@2023-11-21", EPSS: "CVE-2023-4911", Locations: []string{"/var/lib/dpkg/status"},
					Command: "apt-get install --only-upgrade libc-bin=2.36-9+deb12u3", Note: "a later version also fixes it: apt-get install --only-upgrade libc-bin takes the newest",
				},
				{
					ID: "DEBIAN-CVE-2023-4911", Pkg: "libc6", Version: "2.36-9+deb12u1", Fixed: "2.36-9+deb12u3",
					Aliases: []string{"CVE-2023-4911"}, KEV: "CVE-2023-4911@2023-11-21", EPSS: "CVE-2023-4911", Locations: []string{"/var/lib/dpkg/status"},
					Command: "apt-get install --only-upgrade libc6=2.36-9+deb12u3", Note: "a later version also fixes it: apt-get install --only-upgrade libc6 takes the newest",
				},
			},
		},
		{
			name: "debian_epoch_and_tilde",
			pkgs: []inventory.Package{
				debPkg("Debian:12", "thunderbird-l10n-de", "1:115.6.0-1~deb12u1", "thunderbird"),
				debPkg("Debian:12", "thunderbird", "1:115.7.0-1~deb12u1", ""), // the fix itself
				debPkg("Debian:12", "thunderbird-l10n-fr", "1:115.7.0-1~deb11u1", "thunderbird"),
				debPkg("Debian:12", "thunderbird-l10n-it", "115.9.0-1", "thunderbird"), // no epoch: below 1:
				debPkg("Debian:11", "thunderbird-l10n-es", "1:115.6.0-1~deb11u1", "thunderbird"),
				debPkg("Debian:10", "thunderbird-l10n-pt", "1:115.6.0-1~deb10u1", "thunderbird"), // no buster entry
			},
			want: []got{
				{
					ID: "DEBIAN-CVE-2024-0741", Pkg: "thunderbird-l10n-de", Version: "1:115.6.0-1~deb12u1", Fixed: "1:115.7.0-1~deb12u1",
					Aliases: []string{"CVE-2024-0741"}, Locations: []string{"/var/lib/dpkg/status"},
					Command: "apt-get install --only-upgrade 'thunderbird-l10n-de=1:115.7.0-1~deb12u1'", Note: "a later version also fixes it: apt-get install --only-upgrade thunderbird-l10n-de takes the newest",
				},
				{
					ID: "DEBIAN-CVE-2024-0741", Pkg: "thunderbird-l10n-es", Version: "1:115.6.0-1~deb11u1", Fixed: "1:115.7.0-1~deb11u1",
					Aliases: []string{"CVE-2024-0741"}, Locations: []string{"/var/lib/dpkg/status"},
					Command: "apt-get install --only-upgrade 'thunderbird-l10n-es=1:115.7.0-1~deb11u1'", Note: "a later version also fixes it: apt-get install --only-upgrade thunderbird-l10n-es takes the newest",
				},
				{
					ID: "DEBIAN-CVE-2024-0741", Pkg: "thunderbird-l10n-fr", Version: "1:115.7.0-1~deb11u1", Fixed: "1:115.7.0-1~deb12u1",
					Aliases: []string{"CVE-2024-0741"}, Locations: []string{"/var/lib/dpkg/status"},
					Command: "apt-get install --only-upgrade 'thunderbird-l10n-fr=1:115.7.0-1~deb12u1'", Note: "a later version also fixes it: apt-get install --only-upgrade thunderbird-l10n-fr takes the newest",
				},
				{
					ID: "DEBIAN-CVE-2024-0741", Pkg: "thunderbird-l10n-it", Version: "115.9.0-1", Fixed: "1:115.7.0-1~deb12u1",
					Aliases: []string{"CVE-2024-0741"}, Locations: []string{"/var/lib/dpkg/status"},
					Command: "apt-get install --only-upgrade 'thunderbird-l10n-it=1:115.7.0-1~deb12u1'", Note: "a later version also fixes it: apt-get install --only-upgrade thunderbird-l10n-it takes the newest",
				},
			},
		},
		{
			name: "pypi_normalised_name_cvss_and_no_fix",
			pkgs: []inventory.Package{
				{Name: "Py", Version: "1.11.0", Type: "pypi", Ecosystem: "PyPI", Locations: []string{"/usr/lib/python3/dist-packages/py-1.11.0.dist-info/METADATA"}},
				{Name: "ansible_core", Version: "2.16.1", Type: "pypi", Ecosystem: "PyPI", Locations: []string{"/srv/app/requirements.txt"}},
				{Name: "ansible-core", Version: "2.16.3", Type: "pypi", Ecosystem: "PyPI", Locations: []string{"/srv/other/requirements.txt"}},
			},
			want: []got{
				{
					ID: "PYSEC-2022-42969", Pkg: "Py", Version: "1.11.0", Aliases: []string{"CVE-2022-42969", "GHSA-w596-4wvx-j9j6"},
					Locations: []string{"/usr/lib/python3/dist-packages/py-1.11.0.dist-info/METADATA"}, Note: NoFix,
				},
				{
					ID: "PYSEC-2024-36", Pkg: "ansible_core", Version: "2.16.1", Fixed: "2.16.3", Aliases: []string{"CVE-2024-0690"},
					Severity: severity.Medium, CVSS: "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N", Locations: []string{"/srv/app/requirements.txt"},
					Command: "pip install 'ansible_core>=2.16.3'",
				},
			},
		},
		{
			name: "severity_word_without_cvss",
			pkgs: []inventory.Package{{Name: "example-hand-written-pkg", Version: "1.0.0", Type: "npm", Ecosystem: "npm", Locations: []string{"/app/package-lock.json"}}},
			want: []got{{
				ID: "GHSA-9vvw-cc9w-f27h", Pkg: "example-hand-written-pkg", Version: "1.0.0", Fixed: "2.0.1", Aliases: []string{"CVE-2007-3670"},
				Severity: severity.Critical, Locations: []string{"/app/package-lock.json"}, Command: "npm install example-hand-written-pkg@2.0.1",
			}},
		},
		{
			name: "no_ecosystem_ignored",
			pkgs: []inventory.Package{{Name: "libc6", Version: "2.36-9+deb12u1", SourceName: "glibc", Type: "deb"}},
		},
		{
			name: "invalid_version_reported",
			pkgs: []inventory.Package{
				goPkg("golang.org/x/net", "not a version", "/usr/bin/x"),
				goPkg("stdlib", "1.21.1", "/usr/bin/x"),
			},
			want: []got{{
				ID: "GO-2023-2102", Pkg: "stdlib", Version: "1.21.1", Fixed: "1.21.3",
				Aliases: []string{"CVE-2023-39325", "GHSA-4374-p667-p6c8"}, EPSS: "CVE-2023-39325", Locations: []string{"/usr/bin/x"},
				Note: "upgrade Go to 1.21.3 and rebuild",
			}},
			wantErr: `Go package "golang.org/x/net" version "not a version"`,
		},
		{
			name:    "unsupported_ecosystem_reported",
			pkgs:    []inventory.Package{{Name: "x", Version: "1", Ecosystem: "NoSuchEcosystem"}},
			wantErr: `ecosystem "NoSuchEcosystem": no version ordering known; 1 packages not matched`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs, err := Match(context.Background(), testDB(t), tc.pkgs)
			if tc.wantErr == "" && err != nil {
				t.Fatalf("Match: %v", err)
			}
			if tc.wantErr != "" {
				var pe *plugin.PartialError
				if !errors.As(err, &pe) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Match error = %v, want a PartialError containing %q", err, tc.wantErr)
				}
			}
			// Priorities depend on the clock: compare in ID order.
			Prioritize(fs, Context{Now: date(t, "2025-01-01")})
			sortByID(fs)
			if diff := gocmp.Diff(tc.want, summarize(fs)); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
			for _, f := range fs {
				if f.Source != (finding.Source{Plugin: Name, Version: Version}) {
					t.Errorf("%s: source = %+v", f.Advisory.ID, f.Source)
				}
			}
		})
	}
}

func sortByID(fs []finding.Finding) {
	slices.SortFunc(fs, func(a, b finding.Finding) int {
		return cmp.Or(
			strings.Compare(a.Advisory.ID, b.Advisory.ID),
			strings.Compare(a.Target.Package.Name, b.Target.Package.Name),
			strings.Compare(a.Target.Package.Version, b.Target.Package.Version),
		)
	})
}

// TestMatchSingleLookupPerName checks that packages sharing a name are
// looked up once.
func TestMatchSingleLookupPerName(t *testing.T) {
	db := testDB(t)
	var pkgs []inventory.Package
	for i := range 50 {
		pkgs = append(pkgs, goPkg("golang.org/x/net", "0.15.0", "/bin/b"+string(rune('a'+i%26))))
	}
	pkgs = append(pkgs, goPkg("golang.org/x/net", "0.16.0", "/bin/z"))
	fs, err := Match(context.Background(), db, pkgs)
	if err != nil {
		t.Fatal(err)
	}
	if db.Lookups != 1 {
		t.Errorf("Lookups = %d, want 1", db.Lookups)
	}
	// 0.15.0 and 0.16.0 are both affected by GO-2023-2102 (fixed 0.17.0).
	if len(fs) != 2 {
		t.Fatalf("got %d findings, want 2: %+v", len(fs), summarize(fs))
	}
	if n := len(fs[0].Target.Package.Locations) + len(fs[1].Target.Package.Locations); n != 27 {
		t.Errorf("locations = %d, want 27 (26 distinct + 1)", n)
	}
}

func TestMatchErrors(t *testing.T) {
	t.Run("db_error", func(t *testing.T) {
		db := testDB(t)
		db.Err = errors.New("index corrupt")
		_, err := Match(context.Background(), db, []inventory.Package{goPkg("stdlib", "1.21.1", "/x")})
		if err == nil || !strings.Contains(err.Error(), `look up Go package "stdlib": index corrupt`) {
			t.Errorf("Match error = %v", err)
		}
	})
	t.Run("canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := Match(ctx, testDB(t), []inventory.Package{goPkg("stdlib", "1.21.1", "/x")})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Match error = %v, want context.Canceled", err)
		}
	})
}

// TestEnrichment checks KEV and EPSS: the earliest KEV listing and the
// highest EPSS score among a finding's CVEs, with ransomware use.
func TestEnrichment(t *testing.T) {
	rec := osv.Vulnerability{
		ID:       "GHSA-jfh8-c2jp-5v3q",
		Aliases:  []string{"CVE-2021-45046", "CVE-2021-44228"},
		Modified: date(t, "2024-01-01"),
		Affected: []osv.Affected{{
			Package: osv.Package{Ecosystem: "Maven", Name: "org.apache.logging.log4j:log4j-core"},
			Ranges:  []osv.Range{{Type: "ECOSYSTEM", Events: []osv.Event{{Introduced: "2.0-beta9"}, {Fixed: "2.15.0"}}}},
		}},
	}
	db := &fakedb.DB{
		Records: []osv.Vulnerability{rec},
		KEVs: []kev.Entry{
			{CVE: "CVE-2021-44228", DateAdded: date(t, "2021-12-10"), KnownRansomwareCampaignUse: true},
			{CVE: "CVE-2021-45046", DateAdded: date(t, "2023-05-01")},
		},
		Scores: []epss.Score{
			{CVE: "CVE-2021-45046", EPSS: 0.9, Percentile: 0.99},
			{CVE: "CVE-2021-44228", EPSS: 0.94358, Percentile: 0.99961},
		},
	}
	fs, err := Match(context.Background(), db, []inventory.Package{{
		Name: "org.apache.logging.log4j:log4j-core", Version: "2.14.1", Type: "maven", Ecosystem: "Maven",
		Locations: []string{"/opt/app/app.war!WEB-INF/lib/log4j-core-2.14.1.jar"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 {
		t.Fatalf("got %d findings, want 1", len(fs))
	}
	f := fs[0]
	if diff := gocmp.Diff(finding.KEV{Listed: true, CVE: "CVE-2021-44228", DateAdded: date(t, "2021-12-10"), Ransomware: true}, f.KEV); diff != "" {
		t.Errorf("KEV (-want +got):\n%s", diff)
	}
	if diff := gocmp.Diff(finding.EPSS{CVE: "CVE-2021-44228", Score: 0.94358, Percentile: 0.99961}, f.EPSS); diff != "" {
		t.Errorf("EPSS (-want +got):\n%s", diff)
	}
	if diff := gocmp.Diff([]string{"CVE-2021-45046", "CVE-2021-44228"}, f.Advisory.Aliases); diff != "" {
		t.Errorf("aliases (-want +got):\n%s", diff)
	}
	want := finding.Remediation{FixedVersion: "2.15.0", Note: "in pom.xml, set the <version> of org.apache.logging.log4j:log4j-core to 2.15.0 (or manage it in <dependencyManagement> if it is transitive)"}
	if diff := gocmp.Diff(want, f.Remediation); diff != "" {
		t.Errorf("remediation (-want +got):\n%s", diff)
	}
}

func TestSeverity(t *testing.T) {
	tests := []struct {
		name     string
		rec      osv.Vulnerability
		entry    osv.Affected
		want     severity.Level
		wantCVSS finding.CVSS
	}{
		{
			name: "highest_cvss_wins",
			rec: osv.Vulnerability{Severity: []osv.Severity{
				{Type: "CVSS_V3", Score: "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N"},
				{Type: "CVSS_V3", Score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"},
			}},
			want:     severity.Critical,
			wantCVSS: finding.CVSS{Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", Score: 9.8},
		},
		{
			name:     "entry_cvss_counts",
			rec:      osv.Vulnerability{Severity: []osv.Severity{{Type: "CVSS_V3", Score: "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N"}}},
			entry:    osv.Affected{Severity: []osv.Severity{{Type: "CVSS_V3", Score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"}}},
			want:     severity.High,
			wantCVSS: finding.CVSS{Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", Score: 7.5},
		},
		{
			name:     "cvss_beats_word",
			rec:      osv.Vulnerability{Severity: []osv.Severity{{Type: "CVSS_V3", Score: "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N"}}, DatabaseSpecific: map[string]any{"severity": "CRITICAL"}},
			want:     severity.Medium,
			wantCVSS: finding.CVSS{Version: "3.1", Vector: "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N", Score: 5.5},
		},
		{
			name: "invalid_vector_falls_back_to_word",
			rec:  osv.Vulnerability{Severity: []osv.Severity{{Type: "CVSS_V3", Score: "CVSS:3.1/AV:X"}}, DatabaseSpecific: map[string]any{"severity": "MODERATE"}},
			want: severity.Medium,
		},
		{
			name: "ubuntu_priority_word",
			rec:  osv.Vulnerability{Severity: []osv.Severity{{Type: "Ubuntu", Score: "high"}}},
			want: severity.High,
		},
		{
			name: "none",
			rec:  osv.Vulnerability{DatabaseSpecific: map[string]any{"severity": 3}},
			want: severity.Unspecified,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, gotCVSS := recordSeverity(&tc.rec, []*osv.Affected{&tc.entry})
			if got != tc.want {
				t.Errorf("severity = %v, want %v", got, tc.want)
			}
			if diff := gocmp.Diff(tc.wantCVSS, gotCVSS); diff != "" {
				t.Errorf("CVSS (-want +got):\n%s", diff)
			}
		})
	}
}

// TestMatchBinaryVersionedApartFromSource: Debian records give source
// versions. bsdutils carries an epoch its source util-linux lacks, so
// its own version (1:2.38.1-5+deb12u3) sorts after the fix
// (2.38.1-5+deb12u4) while the source it was built from is older: it is
// vulnerable. Found on a debootstrap'd bookworm root.
func TestMatchBinaryVersionedApartFromSource(t *testing.T) {
	rec, err := osv.DecodeJSON([]byte(`{"id":"DEBIAN-CVE-2099-0009","modified":"2026-11-01T00:00:00Z",
		"upstream":["CVE-2099-0009"],"affected":[{"package":{"name":"util-linux","ecosystem":"Debian:12"},
		"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.38.1-5+deb12u4"}]}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	db := &fakedb.DB{Records: []osv.Vulnerability{*rec}}
	bsdutils := inventory.Package{Name: "bsdutils", Version: "1:2.38.1-5+deb12u3", SourceName: "util-linux",
		SourceVersion: "2.38.1-5+deb12u3", Arch: "amd64", Type: "deb", Ecosystem: "Debian:12"}
	fixedBuild := bsdutils
	fixedBuild.Name, fixedBuild.Version, fixedBuild.SourceVersion = "mount", "2.38.1-5+deb12u4", "2.38.1-5+deb12u4"
	fs, err := Match(context.Background(), db, []inventory.Package{bsdutils, fixedBuild})
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 || fs[0].Target.Package.Name != "bsdutils" {
		t.Fatalf("findings = %+v, want one for bsdutils", summarize(fs))
	}
	r := fs[0].Remediation
	if fs[0].FixedVersion != "2.38.1-5+deb12u4" || r.Command != "apt-get install --only-upgrade bsdutils" ||
		!strings.Contains(r.Note, "util-linux") {
		t.Errorf("fix %q, remediation %+v: want the source fix and an unpinned upgrade of the binary",
			fs[0].FixedVersion, r)
	}
}
