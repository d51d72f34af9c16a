package assess

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/vigilsec/vigil/internal/finding"
	"github.com/vigilsec/vigil/internal/inventory"
)

func TestRemediate(t *testing.T) {
	tests := []struct {
		name  string
		pkg   inventory.Package
		fixed string
		want  finding.Remediation
	}{
		{
			name: "deb", pkg: inventory.Package{Name: "libc6", Version: "2.36-9+deb12u1", Type: "deb", Ecosystem: "Debian:12"}, fixed: "2.36-9+deb12u3",
			want: finding.Remediation{Command: "apt-get install --only-upgrade libc6=2.36-9+deb12u3", FixedVersion: "2.36-9+deb12u3", Note: "a later version also fixes it: apt-get install --only-upgrade libc6 takes the newest"},
		},
		{
			name: "deb_epoch_tilde_quoted", pkg: inventory.Package{Name: "thunderbird", Type: "deb", Ecosystem: "Debian:12"}, fixed: "1:115.7.0-1~deb12u1",
			want: finding.Remediation{Command: "apt-get install --only-upgrade 'thunderbird=1:115.7.0-1~deb12u1'", FixedVersion: "1:115.7.0-1~deb12u1", Note: "a later version also fixes it: apt-get install --only-upgrade thunderbird takes the newest"},
		},
		{
			name: "rpm_el9_dnf", pkg: inventory.Package{Name: "openssl-libs", Version: "1:3.0.7-24.el9", Type: "rpm", Ecosystem: "Rocky Linux:9"}, fixed: "1:3.0.7-25.el9_3",
			want: finding.Remediation{Command: "dnf upgrade openssl-libs-1:3.0.7-25.el9_3", FixedVersion: "1:3.0.7-25.el9_3"},
		},
		{
			name: "rpm_zero_epoch_dropped", pkg: inventory.Package{Name: "bash", Version: "5.1.8-6.el9", Type: "rpm", Ecosystem: "AlmaLinux:9"}, fixed: "0:5.1.8-9.el9",
			want: finding.Remediation{Command: "dnf upgrade bash-5.1.8-9.el9", FixedVersion: "0:5.1.8-9.el9"},
		},
		{
			name: "rpm_el7_yum", pkg: inventory.Package{Name: "openssl", Version: "1:1.0.2k-25.el7_9", Type: "rpm"}, fixed: "1:1.0.2k-26.el7_9",
			want: finding.Remediation{Command: "yum upgrade openssl-1:1.0.2k-26.el7_9", FixedVersion: "1:1.0.2k-26.el7_9"},
		},
		{
			name: "apk", pkg: inventory.Package{Name: "libcrypto3", Type: "apk", Ecosystem: "Alpine:v3.19"}, fixed: "3.1.4-r5",
			want: finding.Remediation{Command: "apk add -u libcrypto3=3.1.4-r5", FixedVersion: "3.1.4-r5"},
		},
		{
			name: "go_module", pkg: inventory.Package{Name: "golang.org/x/net", Type: "golang", Ecosystem: "Go"}, fixed: "0.17.0",
			want: finding.Remediation{Command: "go get golang.org/x/net@v0.17.0", FixedVersion: "0.17.0", Note: "run in the main module of the program, then rebuild it"},
		},
		{
			name: "go_stdlib", pkg: inventory.Package{Name: "stdlib", Type: "golang", Ecosystem: "Go"}, fixed: "1.21.3",
			want: finding.Remediation{FixedVersion: "1.21.3", Note: "upgrade Go to 1.21.3 and rebuild"},
		},
		{
			name: "npm_scoped", pkg: inventory.Package{Name: "@babel/traverse", Type: "npm", Ecosystem: "npm"}, fixed: "7.23.2",
			want: finding.Remediation{Command: "npm install @babel/traverse@7.23.2", FixedVersion: "7.23.2"},
		},
		{
			name: "pypi", pkg: inventory.Package{Name: "requests", Type: "pypi", Ecosystem: "PyPI"}, fixed: "2.31.0",
			want: finding.Remediation{Command: "pip install 'requests>=2.31.0'", FixedVersion: "2.31.0"},
		},
		{
			name: "maven", pkg: inventory.Package{Name: "org.apache.logging.log4j:log4j-core", Type: "maven", Ecosystem: "Maven"}, fixed: "2.17.1",
			want: finding.Remediation{FixedVersion: "2.17.1", Note: "in pom.xml, set the <version> of org.apache.logging.log4j:log4j-core to 2.17.1 (or manage it in <dependencyManagement> if it is transitive)"},
		},
		{
			name: "cargo", pkg: inventory.Package{Name: "h2", Type: "cargo", Ecosystem: "crates.io"}, fixed: "0.3.24",
			want: finding.Remediation{Command: "cargo update -p h2 --precise 0.3.24", FixedVersion: "0.3.24"},
		},
		{
			name: "composer", pkg: inventory.Package{Name: "guzzlehttp/psr7", Type: "composer", Ecosystem: "Packagist"}, fixed: "2.4.5",
			want: finding.Remediation{Command: "composer require guzzlehttp/psr7:2.4.5", FixedVersion: "2.4.5"},
		},
		{
			name: "rubygems", pkg: inventory.Package{Name: "nokogiri", Type: "gem", Ecosystem: "RubyGems"}, fixed: "1.16.5",
			want: finding.Remediation{Command: "bundle update nokogiri --conservative", FixedVersion: "1.16.5", Note: "Gemfile.lock must then hold nokogiri 1.16.5 or later; relax a Gemfile constraint that prevents it"},
		},
		{
			name: "no_fix", pkg: inventory.Package{Name: "py", Type: "pypi", Ecosystem: "PyPI"},
			want: finding.Remediation{Note: NoFix},
		},
		{
			name: "unknown_manager", pkg: inventory.Package{Name: "thing", Type: "swift", Ecosystem: "SwiftURL"}, fixed: "2.0",
			want: finding.Remediation{FixedVersion: "2.0", Note: "upgrade thing to 2.0 or later"},
		},
		{
			name: "injection_in_name_quoted", pkg: inventory.Package{Name: "x; rm -rf /", Type: "deb", Ecosystem: "Debian:12"}, fixed: "1.0",
			want: finding.Remediation{Command: "apt-get install --only-upgrade 'x; rm -rf /=1.0'", FixedVersion: "1.0", Note: "a later version also fixes it: apt-get install --only-upgrade 'x; rm -rf /' takes the newest"},
		},
		{
			name: "option_like_name_no_command", pkg: inventory.Package{Name: "--allow-downgrades", Type: "deb", Ecosystem: "Debian:12"}, fixed: "1.0",
			want: finding.Remediation{FixedVersion: "1.0", Note: "upgrade --allow-downgrades to 1.0 or later (no command: the name or version looks like an option)"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := gocmp.Diff(tc.want, Remediate(tc.pkg, tc.fixed)); diff != "" {
				t.Errorf("Remediate (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRemediateInjection runs each command generated from hostile package
// names and versions through /bin/sh, with the package manager replaced by
// a program that prints its arguments: the shell must pass the hostile
// value through as one argument and run nothing else.
func TestRemediateInjection(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	dir := t.TempDir()
	canary := filepath.Join(dir, "pwned")
	hostile := []string{
		"x; touch " + canary,
		"x && touch " + canary,
		"$(touch " + canary + ")",
		"`touch " + canary + "`",
		"x' ; touch " + canary + " ; echo '",
		"x\ntouch " + canary,
		"x | touch " + canary,
		"~root",
		"*",
		"x>" + canary,
	}
	// A fake package manager for every command: prints one argument per
	// line, NUL-free.
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"apt-get", "dnf", "yum", "apk", "go", "npm", "pip", "cargo", "composer", "bundle"} {
		script := "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\0' \"$a\"; done\n"
		if err := os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	types := []inventory.Package{
		{Type: "deb", Ecosystem: "Debian:12"}, {Type: "rpm", Ecosystem: "Rocky Linux:9"}, {Type: "apk", Ecosystem: "Alpine:v3.19"},
		{Type: "golang", Ecosystem: "Go"}, {Type: "npm", Ecosystem: "npm"}, {Type: "pypi", Ecosystem: "PyPI"},
		{Type: "cargo", Ecosystem: "crates.io"}, {Type: "composer", Ecosystem: "Packagist"}, {Type: "gem", Ecosystem: "RubyGems"},
	}
	for _, h := range hostile {
		for _, p := range types {
			for _, field := range []string{"name", "version"} {
				if p.Type == "gem" && field == "version" {
					continue // bundle update takes no version; it is only in the note
				}
				p.Name, p.Version = "pkg", "1.0"
				fixed := "2.0"
				if field == "name" {
					p.Name = h
				} else {
					fixed = h
				}
				r := Remediate(p, fixed)
				if r.Command == "" {
					t.Errorf("%s %s %q: no command", p.Type, field, h)
					continue
				}
				cmd := exec.Command(sh, "-c", r.Command)
				cmd.Env = []string{"PATH=" + bin, "HOME=" + dir}
				cmd.Dir = dir
				out, err := cmd.Output()
				if err != nil {
					t.Errorf("%s: %v", r.Command, err)
					continue
				}
				if _, err := os.Stat(canary); err == nil {
					t.Fatalf("%q ran an injected command", r.Command)
				}
				args := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
				found := false
				for _, a := range args {
					found = found || strings.Contains(a, h)
				}
				if !found {
					t.Errorf("%q: hostile value %q not passed through as one argument: %q", r.Command, h, args)
				}
			}
		}
	}
}
