package finding

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/severity"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestToJSONGolden(t *testing.T) {
	day := func(s string) time.Time {
		tm, err := time.Parse(time.DateOnly, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	tests := []struct {
		name string
		in   []Finding
	}{
		{
			name: "full",
			in: []Finding{{
				Advisory: Advisory{
					ID:         "DEBIAN-CVE-2023-4911",
					Aliases:    []string{"CVE-2023-4911"},
					Summary:    "glibc: buffer overflow in ld.so leading to privilege escalation",
					Severity:   severity.High,
					CVSS:       CVSS{Version: "3.1", Vector: "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", Score: 7.8},
					Published:  day("2023-10-03"),
					Modified:   day("2024-09-18"),
					References: []string{"https://security-tracker.debian.org/tracker/CVE-2023-4911"},
				},
				Target: Target{
					Host: "web-1",
					Path: "/",
					Package: inventory.Package{
						Name: "libc6", Version: "2.36-9+deb12u1", SourceName: "glibc", SourceVersion: "2.36-9+deb12u1",
						Type: "deb", Ecosystem: "Debian:12", PURL: "pkg:deb/debian/libc6@2.36-9%2Bdeb12u1?arch=amd64&distro=debian-12",
						Locations: []string{"/var/lib/dpkg/status"},
					},
				},
				Source:       Source{Plugin: "vuln/osv", Version: 1},
				FixedVersion: "2.36-9+deb12u3",
				KEV:          KEV{Listed: true, CVE: "CVE-2023-4911", DateAdded: day("2023-11-21")},
				EPSS:         EPSS{CVE: "CVE-2023-4911", Score: 0.77, Percentile: 0.98, Date: day("2025-08-25")},
				Priority: Priority{Score: 61.2, Factors: []Factor{
					{Name: "cvss", Value: 7.8, Points: 27.3, Detail: "CVSS 3.1 base score 7.8"},
					{Name: "kev", Value: 1, Points: 25, Detail: "CVE-2023-4911 in CISA KEV since 2023-11-21"},
				}},
				Remediation: Remediation{Command: "apt-get install --only-upgrade libc6=2.36-9+deb12u3", FixedVersion: "2.36-9+deb12u3"},
			}},
		},
		{
			// A finding without CVSS, EPSS, fix or locations keeps every
			// contract key, with null or empty values.
			name: "minimal",
			in: []Finding{{
				Advisory:    Advisory{ID: "GO-2020-0004"},
				Target:      Target{Package: inventory.Package{Name: "github.com/nats-io/jwt", Version: "0.3.2", Type: "golang", Ecosystem: "Go"}},
				Remediation: Remediation{Note: "no fixed version published"},
			}},
		},
		{name: "empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := json.MarshalIndent(ToJSONList(tc.in), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join("testdata", tc.name+".golden.json")
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
				t.Errorf("JSON mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestContractKeys checks that every key of the JSON contract is present
// even for a zero finding.
func TestContractKeys(t *testing.T) {
	b, err := json.Marshal(ToJSON(Finding{}))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "aliases", "package", "fixed_version", "severity", "cvss", "priority", "kev", "epss", "remediation", "locations"} {
		if _, ok := m[k]; !ok {
			t.Errorf("key %q missing from %s", k, b)
		}
	}
	var pkg map[string]json.RawMessage
	if err := json.Unmarshal(m["package"], &pkg); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"name", "version", "ecosystem", "purl"} {
		if _, ok := pkg[k]; !ok {
			t.Errorf("package key %q missing from %s", k, m["package"])
		}
	}
	var pri map[string]json.RawMessage
	if err := json.Unmarshal(m["priority"], &pri); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"score", "factors"} {
		if _, ok := pri[k]; !ok {
			t.Errorf("priority key %q missing from %s", k, m["priority"])
		}
	}
}
