package fix

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilsec/vigil/internal/finding"
	"github.com/vigilsec/vigil/internal/inventory"
)

func debFinding(id, name, source, version, fixed string) finding.Finding {
	return finding.Finding{
		Advisory:     finding.Advisory{ID: id},
		Target:       finding.Target{Package: inventory.Package{Name: name, SourceName: source, Version: version, Type: "deb", Ecosystem: "Debian:12"}},
		FixedVersion: fixed,
	}
}

func TestFindingKeyAndSelect(t *testing.T) {
	all := []finding.Finding{
		debFinding("DEBIAN-CVE-2023-4911", "libc6", "glibc", "2.36-9+deb12u1", "2.36-9+deb12u3"),
		debFinding("DEBIAN-CVE-2023-4911", "libc-bin", "glibc", "2.36-9+deb12u1", "2.36-9+deb12u3"),
		{Advisory: finding.Advisory{ID: "GO-2023-2102"}, Target: finding.Target{Package: inventory.Package{Name: "golang.org/x/net", Ecosystem: "Go"}}},
	}
	var keys []string
	for _, f := range all {
		keys = append(keys, FindingKey(f))
	}
	want := []string{"DEBIAN-CVE-2023-4911/Debian:12/libc6", "DEBIAN-CVE-2023-4911/Debian:12/libc-bin", "GO-2023-2102/Go/golang.org/x/net"}
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
	tests := []struct {
		name    string
		keys    []string
		want    []string // advisory/package of the selected findings
		wantErr string
	}{
		{name: "one", keys: []string{"DEBIAN-CVE-2023-4911/Debian:12/libc-bin"}, want: []string{"libc-bin"}},
		{name: "order_of_findings", keys: []string{"GO-2023-2102/Go/golang.org/x/net", "DEBIAN-CVE-2023-4911/Debian:12/libc6"}, want: []string{"libc6", "golang.org/x/net"}},
		{name: "unknown", keys: []string{"DEBIAN-CVE-2023-4911/Debian:12/libc6", "DSA-1/Debian:12/x"}, wantErr: `"DSA-1/Debian:12/x"`},
		{name: "wrong_release", keys: []string{"DEBIAN-CVE-2023-4911/Debian:11/libc6"}, wantErr: "Debian:11"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Select(all, tc.keys)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Select: error %v, want one containing %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, f := range got {
				names = append(names, f.Target.Package.Name)
			}
			if diff := cmp.Diff(tc.want, names); diff != "" {
				t.Errorf("selected (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidPackageName(t *testing.T) {
	tests := map[string]bool{
		"libc6": true, "libc6:amd64": true, "g++": true, "libstdc++6:i386": true, "x11-common": true,
		"python3.11": true, "0ad": true,
		"": false, "a": false, "-oops": false, "Libc6": false, "libc6:": false, ":amd64": false,
		"lib c6": false, "libc6=2.36": false, "libc6:AMD64": false, "libc6:amd64:x": false, "+x": false,
		"libc6\n": false, "pkg/../x": false,
	}
	for name, want := range tests {
		if got := ValidPackageName(name); got != want {
			t.Errorf("ValidPackageName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestValidVersion(t *testing.T) {
	tests := map[string]bool{
		"1.0-1": true, "2.36-9+deb12u3": true, "1:9.2p1-2+deb12u3": true, "2.36-9+b1": true,
		"1.0~rc1-1": true, "1.0": true, "0.9.8": true, "3.0.11-1~deb12u2": true,
		"1:2.0-1-1": true, "2:1:1-1": true, "20230311git-1": true,
		"": false, "-1": false, "a1.0-1": false, ":1.0": false, "x:1.0": false, "1.0-": false,
		"1.0 -1": false, "1.0-1 ": false, "1.0:1": false, "1.0_1": false, "1.0-1=2": false,
		"--allow-downgrades": false, "1.0-1\n": false, strings.Repeat("1", 300): false,
	}
	for v, want := range tests {
		if got := ValidVersion(v); got != want {
			t.Errorf("ValidVersion(%q) = %v, want %v", v, got, want)
		}
	}
}

const madisonGlibc = `     libc6 | 2.36-9+deb12u14 | http://deb.debian.org/debian bookworm/main amd64 Packages
     libc6 | 2.36-9+deb12u7 | http://deb.debian.org/debian-security bookworm-security/main amd64 Packages
     libc6 | 2.36-9+deb12u7 | http://mirror.example/debian-security bookworm-security/main amd64 Packages
     glibc | 2.36-9+deb12u14 | http://deb.debian.org/debian bookworm/main Sources
`

func TestParseMadison(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string
		wantBad []string
	}{
		{name: "glibc", in: madisonGlibc, want: []string{"2.36-9+deb12u14", "2.36-9+deb12u7"}},
		{name: "empty", in: ""},
		{name: "file_repo", in: "vigil-fixture | 1.0-2+b1 | file:/tmp/x/repo ./ Packages\n", want: []string{"1.0-2+b1"}},
		{
			name:    "malformed",
			in:      "libc6 | 2.36-9\nlibc6 | -o | x Packages\nlibc6 | 2.36-9 | x Packages\n",
			want:    []string{"2.36-9"},
			wantBad: []string{"libc6 | 2.36-9", "libc6 | -o | x Packages"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, bad := parseMadison([]byte(tc.in))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("versions (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantBad, bad); diff != "" {
				t.Errorf("bad (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLowestAtLeast(t *testing.T) {
	tests := []struct {
		name     string
		versions []string
		min      string
		want     string
		wantOK   bool
	}{
		{name: "binnmu", versions: []string{"1.0-3", "1.0-2+b1", "1.0-1"}, min: "1.0-2", want: "1.0-2+b1", wantOK: true},
		{name: "exact", versions: []string{"2.36-9+deb12u14", "2.36-9+deb12u3", "2.36-9+deb12u7"}, min: "2.36-9+deb12u3", want: "2.36-9+deb12u3", wantOK: true},
		{name: "deb12u10_after_u9", versions: []string{"2.36-9+deb12u10", "2.36-9+deb12u9"}, min: "2.36-9+deb12u4", want: "2.36-9+deb12u9", wantOK: true},
		{name: "tilde_is_lower", versions: []string{"1.0~rc1-1"}, min: "1.0-1"},
		{name: "epoch", versions: []string{"1:0.9-1", "1.5-1"}, min: "1.0-1", want: "1.5-1", wantOK: true},
		{name: "none", versions: nil, min: "1.0-1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok, err := lowestAtLeast(tc.versions, tc.min)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("lowestAtLeast = %q, %v; want %q, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

// dpkgGlibc is dpkg-query output (dpkgQueryFormat) as on a bookworm host
// with glibc from before DSA-5514-1, libc6 also installed for i386, and
// one binNMU package.
const dpkgGlibc = "libc-bin\tlibc-bin\tamd64\t2.36-9+deb12u1\tglibc\t2.36-9+deb12u1\tii \n" +
	"libc6:amd64\tlibc6\tamd64\t2.36-9+deb12u1\tglibc\t2.36-9+deb12u1\tii \n" +
	"libc6:i386\tlibc6\ti386\t2.36-9+deb12u1\tglibc\t2.36-9+deb12u1\tii \n" +
	"locales\tlocales\tall\t2.36-9+deb12u1\tglibc\t2.36-9+deb12u1\trc \n" +
	"libc-l10n\tlibc-l10n\tall\t2.36-9+deb12u4\tglibc\t2.36-9+deb12u4\tii \n" +
	"bash\tbash\tamd64\t5.2.15-2+b2\tbash\t5.2.15-2\tii \n" +
	"zlib1g:amd64\tzlib1g\tamd64\t1:1.2.13.dfsg-1\tzlib\t1:1.2.13.dfsg-1\tii \n"

// fakeApt answers dpkg-query and apt-cache madison from fixed output, and
// records the commands that would change the system.
type fakeApt struct {
	madison map[string]string
	ran     [][]string
}

func (f *fakeApt) run(_ context.Context, argv []string, stdout, _ io.Writer) error {
	switch {
	case argv[0] == "dpkg-query":
		io.WriteString(stdout, dpkgGlibc)
	case argv[0] == "apt-cache" && len(argv) >= 2 && argv[len(argv)-3] == "madison":
		io.WriteString(stdout, f.madison[argv[len(argv)-1]])
	default:
		f.ran = append(f.ran, argv)
		return fmt.Errorf("unexpected command %q", argv)
	}
	return nil
}

func TestNewPlan(t *testing.T) {
	madison := map[string]string{
		"libc6:amd64": "libc6 | 2.36-9+deb12u7 | http://deb.debian.org/debian bookworm/main amd64 Packages\nlibc6 | 2.36-9+deb12u4 | http://deb.debian.org/debian-security bookworm-security/main amd64 Packages\n",
		"libc6:i386":  "libc6 | 2.36-9+deb12u7 | http://deb.debian.org/debian bookworm/main i386 Packages\n",
		"libc-bin":    "libc-bin | 2.36-9+deb12u7 | http://deb.debian.org/debian bookworm/main amd64 Packages\nlibc-bin | 2.36-9+deb12u4 | http://deb.debian.org/debian-security bookworm-security/main amd64 Packages\n",
		"bash":        "bash | 5.2.15-2+b2 | http://deb.debian.org/debian bookworm/main amd64 Packages\n",
	}
	glibcFix := debFinding("DEBIAN-CVE-2023-4911", "libc6", "glibc", "2.36-9+deb12u1", "2.36-9+deb12u3")
	glibcFix2 := debFinding("DEBIAN-CVE-2024-2961", "libc-bin", "glibc", "2.36-9+deb12u1", "2.36-9+deb12u4")
	tests := []struct {
		name        string
		findings    []finding.Finding
		wantChanges []Change
		wantCurrent []Change
		wantErr     string
		wantIs      error
	}{
		{
			name:     "siblings_and_archs_upgraded_together",
			findings: []finding.Finding{glibcFix},
			wantChanges: []Change{
				{Package: "libc-bin", Source: "glibc", Installed: "2.36-9+deb12u1", Target: "2.36-9+deb12u4", Fixed: "2.36-9+deb12u3"},
				{Package: "libc6:amd64", Source: "glibc", Installed: "2.36-9+deb12u1", Target: "2.36-9+deb12u4", Fixed: "2.36-9+deb12u3"},
				{Package: "libc6:i386", Source: "glibc", Installed: "2.36-9+deb12u1", Target: "2.36-9+deb12u7", Fixed: "2.36-9+deb12u3"},
			},
			wantCurrent: []Change{{Package: "libc-l10n", Source: "glibc", Installed: "2.36-9+deb12u4", Fixed: "2.36-9+deb12u3"}},
		},
		{
			name:     "highest_fix_of_a_source",
			findings: []finding.Finding{glibcFix, glibcFix2},
			wantChanges: []Change{
				{Package: "libc-bin", Source: "glibc", Installed: "2.36-9+deb12u1", Target: "2.36-9+deb12u4", Fixed: "2.36-9+deb12u4"},
				{Package: "libc6:amd64", Source: "glibc", Installed: "2.36-9+deb12u1", Target: "2.36-9+deb12u4", Fixed: "2.36-9+deb12u4"},
				{Package: "libc6:i386", Source: "glibc", Installed: "2.36-9+deb12u1", Target: "2.36-9+deb12u7", Fixed: "2.36-9+deb12u4"},
			},
			wantCurrent: []Change{{Package: "libc-l10n", Source: "glibc", Installed: "2.36-9+deb12u4", Fixed: "2.36-9+deb12u4"}},
		},
		{
			name:     "binnmu_installed_is_fixed",
			findings: []finding.Finding{debFinding("DSA-X", "bash", "bash", "5.2.15-2+b2", "5.2.15-2")},
			wantErr:  "nothing to do",
		},
		{
			name:     "no_fixed_version_offered",
			findings: []finding.Finding{debFinding("DSA-X", "libc6", "glibc", "2.36-9+deb12u1", "2.36-9+deb12u9")},
			wantErr:  `apt offers no version of "libc-bin" at or after the fixed version "2.36-9+deb12u9"`,
		},
		{
			name:     "not_installed",
			findings: []finding.Finding{debFinding("DSA-X", "openssh-server", "openssh", "1:9.2p1-2", "1:9.2p1-2+deb12u3")},
			wantErr:  `package "openssh-server" (source "openssh") is not installed`,
		},
		{
			name:     "no_fix_published",
			findings: []finding.Finding{debFinding("DSA-X", "libc6", "glibc", "2.36-9+deb12u1", "")},
			wantErr:  "no fixed version",
		},
		{
			name:     "option_as_version",
			findings: []finding.Finding{debFinding("DSA-X", "libc6", "glibc", "2.36-9+deb12u1", "--allow-downgrades")},
			wantErr:  `invalid fixed version "--allow-downgrades"`,
		},
		{
			name:     "option_as_name",
			findings: []finding.Finding{debFinding("DSA-X", "-oAPT::x=y", "", "1", "2")},
			wantErr:  `invalid package name "-oAPT::x=y"`,
		},
		{
			name: "rpm_unsupported",
			findings: []finding.Finding{{Advisory: finding.Advisory{ID: "RLSA-2023:5453"},
				Target: finding.Target{Package: inventory.Package{Name: "glibc", Type: "rpm", Ecosystem: "Rocky Linux:9"}}, FixedVersion: "2.34-60.el9_2.7"}},
			wantIs: ErrUnsupported,
		},
		{
			name: "go_unsupported",
			findings: []finding.Finding{{Advisory: finding.Advisory{ID: "GO-2023-2102"},
				Target: finding.Target{Package: inventory.Package{Name: "golang.org/x/net", Type: "golang", Ecosystem: "Go"}}, FixedVersion: "0.17.0"}},
			wantIs: ErrUnsupported,
		},
		{name: "no_findings", wantErr: "no findings"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fa := &fakeApt{madison: madison}
			p, err := NewPlan(context.Background(), tc.findings, Options{Run: fa.run})
			if tc.wantErr != "" || tc.wantIs != nil {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || (tc.wantIs != nil && !errors.Is(err, tc.wantIs)) {
					t.Fatalf("NewPlan: error %v, want one containing %q (is %v)", err, tc.wantErr, tc.wantIs)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewPlan: %v", err)
			}
			if diff := cmp.Diff(tc.wantChanges, p.Changes); diff != "" {
				t.Errorf("changes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantCurrent, p.Current); diff != "" {
				t.Errorf("current (-want +got):\n%s", diff)
			}
			cmd := p.Commands[0]
			i := len(cmd) - len(p.Changes) - 1
			if cmd[0] != "apt-get" || cmd[i] != "--" {
				t.Fatalf("command %q: want apt-get ... -- pkg=ver...", cmd)
			}
			for j, c := range p.Changes {
				if cmd[i+1+j] != c.Package+"="+c.Target {
					t.Errorf("command argument %d = %q, want %q", i+1+j, cmd[i+1+j], c.Package+"="+c.Target)
				}
			}
			if len(fa.ran) != 0 {
				t.Errorf("planning ran %q", fa.ran)
			}
		})
	}
}

// TestExecuteStalePlan checks that Execute refuses a plan made against
// other installed versions, before writing a record.
func TestExecuteStalePlan(t *testing.T) {
	fa := &fakeApt{}
	p := &Plan{
		Findings: []string{"DSA-X/Debian:12/libc6"},
		Changes:  []Change{{Package: "libc6:amd64", Source: "glibc", Installed: "2.36-9", Target: "2.36-9+deb12u4"}},
		Commands: [][]string{{"apt-get", "install", "--", "libc6:amd64=2.36-9+deb12u4"}},
		opts:     Options{Run: fa.run},
	}
	dir := t.TempDir()
	_, err := p.Execute(context.Background(), dir)
	if err == nil || !strings.Contains(err.Error(), "out of date") {
		t.Fatalf("Execute: error %v, want out of date", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "fix")); err == nil {
		t.Errorf("Execute of a stale plan created %s", filepath.Join(dir, "fix"))
	}
	if len(fa.ran) != 0 {
		t.Errorf("Execute of a stale plan ran %q", fa.ran)
	}
}

// TestExecuteFailure checks that a failed command leaves a record saying
// so, with the versions before the fix.
func TestExecuteFailure(t *testing.T) {
	fa := &fakeApt{}
	now := time.Date(2025, 8, 1, 12, 0, 0, 0, time.UTC)
	p := &Plan{
		Findings: []string{"DSA-X/Debian:12/libc6"},
		Changes:  []Change{{Package: "libc6:amd64", Source: "glibc", Installed: "2.36-9+deb12u1", Target: "2.36-9+deb12u4"}},
		Commands: [][]string{{"apt-get", "install", "--", "libc6:amd64=2.36-9+deb12u4"}},
		opts:     Options{Run: fa.run, Now: func() time.Time { return now }},
	}
	dir := t.TempDir()
	rec, err := p.Execute(context.Background(), dir)
	if err == nil {
		t.Fatal("Execute succeeded with a failing command")
	}
	if rec == nil {
		t.Fatal("Execute returned no record")
	}
	if !strings.HasPrefix(filepath.Base(rec.Path), "20250801T120000Z-") {
		t.Errorf("record file %s, want one named for its time", rec.Path)
	}
	got, err := ReadRecord(rec.Path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Outcome.Status != StatusFailed || !strings.Contains(got.Outcome.Error, "unexpected command") {
		t.Errorf("outcome %q %q, want failed with the command's error", got.Outcome.Status, got.Outcome.Error)
	}
	if diff := cmp.Diff(p.Changes, got.Packages); diff != "" {
		t.Errorf("packages (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(p.Commands, got.Commands); diff != "" {
		t.Errorf("commands (-want +got):\n%s", diff)
	}
	// The same plan again gets its own record.
	rec2, _ := p.Execute(context.Background(), dir)
	if rec2 == nil || rec2.Path == rec.Path {
		t.Errorf("second record %v overwrote %s", rec2, rec.Path)
	}
}

func TestReadRecordErrors(t *testing.T) {
	tests := []struct {
		name, json, wantErr string
	}{
		{name: "not_json", json: "{", wantErr: "unexpected end"},
		{name: "format", json: `{"format":2,"manager":"apt"}`, wantErr: "unknown record format 2"},
		{name: "manager", json: `{"format":1,"manager":"dnf"}`, wantErr: `unsupported package manager "dnf"`},
		{name: "option_as_version", json: `{"format":1,"manager":"apt","packages":[{"package":"libc6","installed":"-oDir=/x"}]}`, wantErr: `invalid package "libc6" version "-oDir=/x"`},
		{name: "changed_name", json: `{"format":1,"manager":"apt","outcome":{"changed":[{"package":"--purge","before":"1.0"}]}}`, wantErr: `invalid changed package "--purge"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "r.json")
			if err := os.WriteFile(p, []byte(tc.json), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := ReadRecord(p)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ReadRecord: error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestRestoreTargets(t *testing.T) {
	r := &Record{
		Packages: []Change{{Package: "libc6:amd64", Installed: "2.36-9+deb12u1", Target: "2.36-9+deb12u4"}},
		Outcome: Outcome{Changed: []VersionChange{
			{Package: "libc6:amd64", Before: "2.36-9+deb12u1", After: "2.36-9+deb12u4"},
			{Package: "libc-bin", Before: "2.36-9+deb12u1", After: "2.36-9+deb12u4"},
			{Package: "libnew1", After: "1.0-1"},
		}},
	}
	want, added := r.restoreTargets()
	if diff := cmp.Diff(map[string]string{"libc6:amd64": "2.36-9+deb12u1", "libc-bin": "2.36-9+deb12u1"}, want); diff != "" {
		t.Errorf("targets (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"libnew1"}, added); diff != "" {
		t.Errorf("added (-want +got):\n%s", diff)
	}
}
