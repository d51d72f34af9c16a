// Package reporttest holds the scan result that the report formats'
// golden tests render: real advisories (IDs, aliases, CVSS vectors and
// fixed versions as published in OSV, NVD and the GitHub Advisory
// Database) found on packages as Vigil's extractors report them.
package reporttest

import (
	"bytes"
	"fmt"
	"os"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/vigilsec/vigil/internal/finding"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/report"
	"github.com/vigilsec/vigil/internal/severity"
	"github.com/vigilsec/vigil/internal/vuln/assess"
)

// Target is a Debian 12 host.
func Target() report.Target {
	return report.Target{Type: "host", Name: "/", OS: &inventory.OSRelease{
		ID: "debian", Name: "Debian GNU/Linux", PrettyName: "Debian GNU/Linux 12 (bookworm)",
		Version: "12 (bookworm)", VersionID: "12", VersionCodename: "bookworm",
	}}
}

// Packages are the packages of Target, as scan.Dedupe sorts them.
func Packages() []inventory.Package {
	return []inventory.Package{
		{Name: "libc6", Version: "2.36-9+deb12u1", SourceName: "glibc", SourceVersion: "2.36-9+deb12u1", Arch: "amd64",
			Type: "deb", Source: "/var/lib/dpkg/status", Ecosystem: "Debian:12",
			PURL: "pkg:deb/debian/libc6@2.36-9%2Bdeb12u1?arch=amd64&distro=debian-12", Locations: []string{"/var/lib/dpkg/status"}},
		{Name: "openssl", Version: "3.0.15-1~deb12u1", Arch: "amd64",
			Type: "deb", Source: "/var/lib/dpkg/status", Ecosystem: "Debian:12",
			PURL: "pkg:deb/debian/openssl@3.0.15-1~deb12u1?arch=amd64&distro=debian-12", Locations: []string{"/var/lib/dpkg/status"}},
		{Name: "tar", Version: "1.34+dfsg-1.2+deb12u1", Arch: "amd64",
			Type: "deb", Source: "/var/lib/dpkg/status", Ecosystem: "Debian:12",
			PURL: "pkg:deb/debian/tar@1.34%2Bdfsg-1.2%2Bdeb12u1?arch=amd64&distro=debian-12", Locations: []string{"/var/lib/dpkg/status"}},
		{Name: "golang.org/x/net", Version: "0.8.0", Type: "golang", Ecosystem: "Go",
			PURL: "pkg:golang/golang.org/x/net@0.8.0", Locations: []string{"/usr/bin/containerd", "/usr/sbin/dockerd"}},
		{Name: "org.apache.logging.log4j:log4j-core", Version: "2.14.1", Type: "maven", Ecosystem: "Maven",
			PURL:      "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
			Locations: []string{"/srv/tomcat/webapps/shop.war!WEB-INF/lib/log4j-core-2.14.1.jar"}},
		{Name: "semver", Version: "7.5.1", Type: "npm", Ecosystem: "npm",
			PURL: "pkg:npm/semver@7.5.1", Locations: []string{"/srv/app/package-lock.json", "/srv/app/node_modules/semver/package.json"}},
		// A package without a purl, to show how formats name it.
		{Name: "vendored-zlib", Version: "1.2.11", Type: "generic", Locations: []string{"/opt/tool/lib/libz.so.1"}},
	}
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// Findings are the findings on Packages, highest priority first. The
// Go advisory affects one package found in two binaries; the tar one has
// no CVSS vector, no severity and no fix.
func Findings() []finding.Finding {
	pkgs := Packages()
	byName := map[string]inventory.Package{}
	for _, p := range pkgs {
		byName[p.Name] = p
	}
	f := func(a finding.Advisory, pkg string, fixed string, prio float64, kev finding.KEV, epss finding.EPSS) finding.Finding {
		p := byName[pkg]
		return finding.Finding{
			Advisory: a, Target: finding.Target{Path: "/", Package: p},
			Source:       finding.Source{Plugin: assess.Name, Version: 1},
			FixedVersion: fixed, KEV: kev, EPSS: epss,
			Priority:    finding.Priority{Score: prio, Factors: []finding.Factor{{Name: "cvss", Value: a.CVSS.Score, Points: prio, Detail: "CVSS base score"}}},
			Remediation: assess.Remediate(p, fixed),
		}
	}
	return []finding.Finding{
		f(finding.Advisory{
			ID: "GHSA-jfh8-c2jp-5v3q", Aliases: []string{"CVE-2021-44228"},
			Summary:   "Remote code injection in Log4j",
			Details:   "Apache Log4j2 2.0-beta9 through 2.15.0 (excluding security releases 2.12.2, 2.12.3, and 2.3.1) JNDI features used in configuration, log messages, and parameters do not protect against attacker controlled LDAP and other JNDI related endpoints.",
			Severity:  severity.Critical,
			CVSS:      finding.CVSS{Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", Score: 10},
			Published: day(2021, 12, 10), Modified: day(2025, 2, 4),
			References: []string{"https://nvd.nist.gov/vuln/detail/CVE-2021-44228", "https://logging.apache.org/log4j/2.x/security.html"},
		}, "org.apache.logging.log4j:log4j-core", "2.15.0", 92.5,
			finding.KEV{Listed: true, CVE: "CVE-2021-44228", DateAdded: day(2021, 12, 10), Ransomware: true},
			finding.EPSS{CVE: "CVE-2021-44228", Score: 0.94358, Percentile: 0.99961, Date: day(2025, 8, 25)}),
		f(finding.Advisory{
			ID: "DEBIAN-CVE-2023-4911", Aliases: []string{"CVE-2023-4911"},
			Summary:   "A buffer overflow was discovered in the GNU C Library's dynamic loader ld.so while processing the GLIBC_TUNABLES environment variable.",
			Severity:  severity.High,
			CVSS:      finding.CVSS{Version: "3.1", Vector: "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", Score: 7.8},
			Published: day(2023, 10, 3), Modified: day(2024, 9, 18),
			References: []string{"https://security-tracker.debian.org/tracker/CVE-2023-4911"},
		}, "libc6", "2.36-9+deb12u3", 61.2,
			finding.KEV{Listed: true, CVE: "CVE-2023-4911", DateAdded: day(2023, 11, 21)},
			finding.EPSS{CVE: "CVE-2023-4911", Score: 0.77, Percentile: 0.98, Date: day(2025, 8, 25)}),
		f(finding.Advisory{
			ID: "GO-2023-2102", Aliases: []string{"CVE-2023-39325", "GHSA-4374-p667-p6c8"},
			Summary:   "HTTP/2 rapid reset can cause excessive work in net/http",
			Severity:  severity.High,
			CVSS:      finding.CVSS{Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", Score: 7.5},
			Published: day(2023, 10, 11), Modified: day(2024, 2, 20),
			References: []string{"https://go.dev/issue/63417", "https://go.dev/cl/534215"},
		}, "golang.org/x/net", "0.17.0", 48.3, finding.KEV{}, finding.EPSS{CVE: "CVE-2023-39325", Score: 0.7969, Percentile: 0.99}),
		f(finding.Advisory{
			ID: "GHSA-c2qf-rxjj-qqgw", Aliases: []string{"CVE-2022-25883"},
			Summary:   "semver vulnerable to Regular Expression Denial of Service",
			Severity:  severity.Medium,
			CVSS:      finding.CVSS{Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L", Score: 5.3},
			Published: day(2023, 6, 21), Modified: day(2024, 6, 21),
		}, "semver", "7.5.2", 20.4, finding.KEV{}, finding.EPSS{}),
		f(finding.Advisory{
			ID: "DEBIAN-CVE-2024-13176", Aliases: []string{"CVE-2024-13176"},
			Summary:   "Issue summary: A timing side-channel which could potentially allow recovering the private key exists in the ECDSA signature computation.",
			Severity:  severity.Medium,
			CVSS:      finding.CVSS{Version: "3.1", Vector: "CVSS:3.1/AV:L/AC:H/PR:H/UI:N/S:U/C:H/I:N/A:N", Score: 4.1},
			Published: day(2025, 1, 20),
		}, "openssl", "3.0.16-1~deb12u1", 14.2, finding.KEV{}, finding.EPSS{}),
		f(finding.Advisory{
			ID: "DEBIAN-CVE-2005-2541", Aliases: []string{"CVE-2005-2541"},
			Summary: "Tar 1.15.1 does not properly warn the user when extracting setuid or setgid files, which may allow local users or remote attackers to gain privileges.",
		}, "tar", "", 3, finding.KEV{}, finding.EPSS{}),
	}
}

// Schema is one JSON schema document: the URL others refer to it by and
// the file holding it.
type Schema struct {
	URL, File string
}

// ValidateJSON checks doc against the first of schemas (the others are
// the documents it refers to), with format assertions on.
func ValidateJSON(doc []byte, schemas ...Schema) error {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	for _, s := range schemas {
		f, err := os.Open(s.File)
		if err != nil {
			return fmt.Errorf("open schema: %w", err)
		}
		v, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("read schema %q: %w", s.File, err)
		}
		if err := c.AddResource(s.URL, v); err != nil {
			return fmt.Errorf("add schema %q: %w", s.File, err)
		}
	}
	sch, err := c.Compile(schemas[0].URL)
	if err != nil {
		return fmt.Errorf("compile schema %q: %w", schemas[0].File, err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("read document: %w", err)
	}
	if err := sch.Validate(inst); err != nil {
		return fmt.Errorf("document does not follow %s: %w", schemas[0].URL, err)
	}
	return nil
}
