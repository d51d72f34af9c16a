package match

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fixtureEcosystems maps the prefix of each file in testdata/versions (and
// in shared/data/versions) to the ecosystems whose ordering it describes.
var fixtureEcosystems = map[string][]string{
	"alpine":    {"Alpine", "Alpine:v3.19", "Wolfi", "Chainguard"},
	"cran":      {"CRAN"},
	"debian":    {"Debian", "Debian:12", "Ubuntu", "Ubuntu:22.04:LTS"},
	"hackage":   {"Hackage"},
	"maven":     {"Maven"},
	"nuget":     {"NuGet"},
	"packagist": {"Packagist"},
	"pub":       {"Pub"},
	"pypi":      {"PyPI"},
	"redhat":    {"Red Hat", "Rocky Linux", "AlmaLinux", "openSUSE", "SUSE"},
	"rubygems":  {"RubyGems"},
	"semver":    {"Go", "npm", "crates.io", "Hex"},
}

const sharedVersions = "../../../../shared/data/versions"

func fixtureEcosystemsFor(t *testing.T, file string) []string {
	t.Helper()
	prefix, _, _ := strings.Cut(file, "-")
	ecos, ok := fixtureEcosystems[prefix]
	if !ok {
		t.Fatalf("no ecosystem known for fixture %q: add its prefix to fixtureEcosystems", file)
	}
	return ecos
}

type fixtureLine struct {
	line int
	a, b string
	want int
}

func readFixture(t *testing.T, path string) []fixtureLine {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines []fixtureLine
	sc := bufio.NewScanner(bytes.NewReader(data))
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "//") {
			continue
		}
		f := strings.Split(line, " ")
		if len(f) != 3 {
			t.Fatalf("%s:%d: want \"A OP B\", got %q", path, n, line)
		}
		want, ok := map[string]int{"<": -1, "=": 0, ">": 1}[f[1]]
		if !ok {
			t.Fatalf("%s:%d: unknown comparator %q", path, n, f[1])
		}
		lines = append(lines, fixtureLine{line: n, a: f[0], b: f[2], want: want})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// TestVersionFixtures checks every line of every file in testdata/versions
// under the ecosystems that file stands for: Compare(A, B) must give OP and
// Compare(B, A) its opposite. In the generated files, each chain of "<" lines
// (one package's releases) must also come back in the same order when
// sorted from reversed order, which checks transitivity beyond neighbours.
func TestVersionFixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/versions/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 19 {
		t.Fatalf("found %d fixture files, want the 19 from osv-scalibr", len(files))
	}
	total := 0
	for _, path := range files {
		file := filepath.Base(path)
		lines := readFixture(t, path)
		if len(lines) == 0 {
			t.Fatalf("%s: no comparisons", file)
		}
		ecos := fixtureEcosystemsFor(t, file)
		if strings.Contains(file, "-generated") {
			// The ecosystems of one prefix share an ordering; the long
			// generated files are run once, the hand-written ones under
			// every name (release suffixes included).
			ecos = ecos[:1]
		}
		for _, eco := range ecos {
			t.Run(file+"/"+strings.NewReplacer(" ", "_", ":", "_").Replace(eco), func(t *testing.T) {
				failed := 0
				for _, l := range lines {
					for _, dir := range []struct {
						a, b string
						want int
					}{{l.a, l.b, l.want}, {l.b, l.a, -l.want}} {
						got, err := Compare(eco, dir.a, dir.b)
						if err != nil {
							failed++
							t.Errorf("%s:%d: Compare(%q, %q): %v", file, l.line, dir.a, dir.b, err)
							continue
						}
						if got != dir.want {
							failed++
							t.Errorf("%s:%d: Compare(%q, %q) = %d, want %d", file, l.line, dir.a, dir.b, got, dir.want)
						}
					}
				}
				for _, chain := range chains(lines) {
					if intransitiveChains[file+":"+chain[0]] {
						continue
					}
					sorted := slices.Clone(chain)
					slices.Reverse(sorted)
					slices.SortStableFunc(sorted, func(a, b string) int {
						c, _ := Compare(eco, a, b)
						return c
					})
					if diff := cmp.Diff(chain, sorted); diff != "" {
						failed++
						t.Errorf("%s: chain starting %q does not sort back to itself (-want +got):\n%s", file, chain[0], diff)
					}
				}
				t.Logf("%s as %s: %d lines, %d failures", file, eco, len(lines), failed)
			})
		}
		total += len(lines)
	}
	t.Logf("%d files, %d comparison lines", len(files), total)
}

// intransitiveChains are chains (file:first version) that no comparator
// can sort, because Maven's ordering, which the file records line by line,
// is not transitive there: lines 5774-5777 of maven-versions-generated.txt
// say 2.9.0.RC3 < 2.9.0 < 2.9.0-1 < 2.9.0.RC1, yet RC1 < RC3 (a "-1"
// sub-list sorts below the integer 0 of ".RC1", but a release sorts above
// ".RC"). Every pairwise line of these chains is still checked above.
var intransitiveChains = map[string]bool{
	"maven-versions-generated.txt:1.0.0-RC10": true,
	"maven-versions-generated.txt:2.7.6":      true,
}

// chains returns the maximal runs of "A < B" lines where each B is the next
// line's A.
func chains(lines []fixtureLine) [][]string {
	var out [][]string
	var cur []string
	flush := func() {
		if len(cur) > 2 {
			out = append(out, cur)
		}
		cur = nil
	}
	for _, l := range lines {
		if l.want != -1 {
			flush()
			continue
		}
		if len(cur) > 0 && cur[len(cur)-1] != l.a {
			flush()
		}
		if len(cur) == 0 {
			cur = append(cur, l.a)
		}
		cur = append(cur, l.b)
	}
	flush()
	return out
}

// TestVersionFixturesMatchShared checks that the committed fixtures are the
// files of shared/data/versions, so that no shared file goes untested.
func TestVersionFixturesMatchShared(t *testing.T) {
	shared, err := filepath.Glob(filepath.Join(sharedVersions, "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(shared) == 0 {
		t.Skipf("%s not present (it is only in the development workspace); testdata/versions is tested on its own", sharedVersions)
	}
	for _, p := range shared {
		name := filepath.Base(p)
		if name == "README.md" {
			continue
		}
		fixtureEcosystemsFor(t, name)
		want, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join("testdata/versions", name))
		if err != nil {
			t.Errorf("shared file %s has no copy in testdata/versions: %v", name, err)
			continue
		}
		if !bytes.Equal(want, got) {
			t.Errorf("testdata/versions/%s differs from %s", name, p)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name      string
		ecosystem string
		version   string
		want      error
	}{
		{name: "unknown_ecosystem", ecosystem: "Gentoo", version: "1.0", want: ErrUnsupportedEcosystem},
		{name: "lowercase_ecosystem", ecosystem: "debian", version: "1.0", want: ErrUnsupportedEcosystem},
		{name: "empty_ecosystem", ecosystem: "", version: "1.0", want: ErrUnsupportedEcosystem},
		{name: "unknown_with_suffix", ecosystem: "Slackware:15", version: "1.0", want: ErrUnsupportedEcosystem},
		{name: "empty_version", ecosystem: "npm", version: "", want: ErrInvalidVersion},
		{name: "semver_word", ecosystem: "Go", version: "(devel)", want: ErrInvalidVersion},
		{name: "semver_v_only", ecosystem: "npm", version: "v", want: ErrInvalidVersion},
		{name: "debian_bad_epoch", ecosystem: "Debian:12", version: "a:1.0", want: ErrInvalidVersion},
		{name: "cran_garbage", ecosystem: "CRAN", version: "abc", want: ErrInvalidVersion},
		{name: "hackage_garbage", ecosystem: "Hackage", version: "1.a", want: ErrInvalidVersion},
		{name: "ok_debian_suffix", ecosystem: "Debian:12", version: "1:2.3-4+deb12u1"},
		{name: "ok_alpine_suffix", ecosystem: "Alpine:v3.19", version: "3.1.4-r5"},
		{name: "ok_ubuntu_suffix", ecosystem: "Ubuntu:22.04:LTS", version: "1.2.3-0ubuntu1~22.04.1"},
		{name: "ok_redhat_suffix", ecosystem: "Red Hat:enterprise_linux:9::appstream", version: "0:1.2.3-4.el9"},
		{name: "ok_maven_repo_suffix", ecosystem: "Maven:https://maven.google.com", version: "1.0"},
		{name: "ok_go_pseudo", ecosystem: "Go", version: "v0.0.0-20200101000000-abcdefabcdef"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.ecosystem, tt.version)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Parse(%q, %q) = %v, want %v", tt.ecosystem, tt.version, err, tt.want)
			}
			if err != nil && !strings.Contains(err.Error(), tt.ecosystem+tt.version) &&
				!strings.Contains(err.Error(), tt.ecosystem) && !strings.Contains(err.Error(), tt.version) {
				t.Errorf("error %q names neither the ecosystem nor the version", err)
			}
		})
	}
}

func TestCompareSpecifics(t *testing.T) {
	tests := []struct {
		name      string
		ecosystem string
		a, b      string
		want      int
	}{
		{name: "debian_epoch_beats_upstream", ecosystem: "Debian:12", a: "1:1.0-1", b: "2.0-1", want: 1},
		{name: "debian_tilde_before_release", ecosystem: "Debian", a: "2.0~rc1-1", b: "2.0-1", want: -1},
		{name: "debian_security_update", ecosystem: "Debian:12", a: "3.0.11-1~deb12u2", b: "3.0.11-1~deb12u1", want: 1},
		{name: "debian_implicit_epoch", ecosystem: "Debian", a: "0:1.0", b: "1.0", want: 0},
		{name: "ubuntu_backport", ecosystem: "Ubuntu:22.04:LTS", a: "1.2-0ubuntu1~22.04.1", b: "1.2-0ubuntu1", want: -1},
		{name: "alpine_release", ecosystem: "Alpine:v3.19", a: "3.1.4-r5", b: "3.1.4-r10", want: -1},
		{name: "rpm_epoch", ecosystem: "Rocky Linux:9", a: "1:1.0-1.el9", b: "2.0-1.el9", want: 1},
		{name: "rpm_tilde", ecosystem: "AlmaLinux:9", a: "1.0~rc1-1", b: "1.0-1", want: -1},
		{name: "go_v_prefix", ecosystem: "Go", a: "v1.2.3", b: "1.2.3", want: 0},
		{name: "go_pseudo_before_release", ecosystem: "Go", a: "v0.0.0-20210101000000-abcdefabcdef", b: "0.0.1", want: -1},
		{name: "go_pseudo_after_base", ecosystem: "Go", a: "v1.2.4-0.20210101000000-abcdefabcdef", b: "1.2.3", want: 1},
		{name: "go_incompatible", ecosystem: "Go", a: "v2.0.0+incompatible", b: "2.0.0", want: 0},
		{name: "go_stdlib_prerelease_floor", ecosystem: "Go", a: "1.21.0-rc.1", b: "1.21.0-0", want: 1},
		{name: "npm_prerelease", ecosystem: "npm", a: "1.0.0-beta.2", b: "1.0.0-beta.11", want: -1},
		{name: "pypi_post", ecosystem: "PyPI", a: "1.0.post1", b: "1.0", want: 1},
		{name: "pypi_dev", ecosystem: "PyPI", a: "1.0.dev1", b: "1.0a1", want: -1},
		{name: "pypi_normalised", ecosystem: "PyPI", a: "1.0.0", b: "1.0", want: 0},
		{name: "maven_qualifier", ecosystem: "Maven", a: "2.17.0", b: "2.17.0-rc1", want: 1},
		{name: "maven_final", ecosystem: "Maven", a: "1.0.Final", b: "1.0", want: 0},
		{name: "rubygems_prerelease", ecosystem: "RubyGems", a: "7.0.0.rc1", b: "7.0.0", want: -1},
		{name: "nuget_case", ecosystem: "NuGet", a: "1.0.0-BETA", b: "1.0.0-beta", want: 0},
		{name: "packagist_patch", ecosystem: "Packagist", a: "1.0-patch1", b: "1.0", want: 1},
		{name: "crates_numeric", ecosystem: "crates.io", a: "0.10.0", b: "0.9.9", want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Compare(tt.ecosystem, tt.a, tt.b)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Compare(%q, %q, %q) = %d, want %d", tt.ecosystem, tt.a, tt.b, got, tt.want)
			}
		})
	}
}

func TestCompareDifferentOrderings(t *testing.T) {
	a, err := Parse("Debian", "1.0")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse("npm", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Compare(b); err == nil {
		t.Fatal("comparing a Debian and an npm version succeeded")
	}
	if _, err := (Version{}).Compare(a); !errors.Is(err, ErrInvalidVersion) {
		t.Fatalf("comparing a zero Version: %v, want ErrInvalidVersion", err)
	}
}
