package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp/cmpopts"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/vigilsec/vigil/internal/extractor/os/dpkg"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
	"github.com/vigilsec/vigil/internal/testutil"
)

// bookwormRoot is the minimal Debian 12 root that scripts/test-deps.sh
// makes with debootstrap --variant=minbase.
const bookwormRoot = "/var/cache/vigil-test/bookworm"

// debSource is one source package of the root with the binary packages
// installed from it.
type debSource struct {
	name, version string
	binaries      []string          // sorted
	binVersion    map[string]string // binary package -> its own version
}

// bookwormSources parses the root's dpkg status with the dpkg extractor's
// parser and groups the installed binary packages by source package and
// source version.
func bookwormSources(t *testing.T, root string) (map[string]*debSource, int) {
	t.Helper()
	f, err := os.Open(filepath.Join(root, dpkg.StatusPath))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var problems plugin.Problems
	sources := map[string]*debSource{}
	n := 0
	_, err = dpkg.Parse(context.Background(), f, dpkg.StatusPath, func(p inventory.Package) {
		n++
		s := sources[p.SourceName]
		if s == nil {
			s = &debSource{name: p.SourceName, version: p.SourceVersion, binVersion: map[string]string{}}
			sources[p.SourceName] = s
		}
		if s.version != p.SourceVersion {
			t.Errorf("source %s installed at two versions, %s and %s", p.SourceName, s.version, p.SourceVersion)
		}
		s.binaries = append(s.binaries, p.Name)
		s.binVersion[p.Name] = p.Version
	}, &problems)
	if err != nil || problems.Err() != nil {
		t.Fatalf("parse %s: %v %v", dpkg.StatusPath, err, problems.Err())
	}
	for _, s := range sources {
		slices.Sort(s.binaries)
	}
	return sources, n
}

// debianOSV writes an OSV record in the shape of Debian's own export
// (DEBIAN-CVE-* id, the CVE as upstream, one affected entry per Debian
// release naming the SOURCE package, an ECOSYSTEM range from "0" to the
// fixed version as Debian writes it) to dir. Each entry is {ecosystem,
// package, fixed}.
func debianOSV(t *testing.T, dir, cve string, entries ...[3]string) string {
	t.Helper()
	var aff []string
	for _, e := range entries {
		aff = append(aff, fmt.Sprintf(`{"package":{"name":%q,"ecosystem":%q},
 "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":%q}]}]}`, e[1], e[0], e[2]))
	}
	id := "DEBIAN-" + cve
	rec := fmt.Sprintf(`{"id":%q,"modified":"2099-01-02T00:00:00Z","published":"2099-01-01T00:00:00Z",
"upstream":[%q],"details":"hand-checked test record",
"affected":[%s],
"schema_version":"1.7.0"}`, id, cve, strings.Join(aff, ",\n"))
	if err := os.WriteFile(filepath.Join(dir, id+".json"), []byte(rec), 0o644); err != nil {
		t.Fatal(err)
	}
	return id
}

var stableUpdate = regexp.MustCompile(`([+~])deb12u([0-9]+)$`)

// laterStableUpdate returns the next Debian 12 update of source version v:
// "+deb12uN" (or "~deb12uN") becomes N+1, anything else gains "+deb12u1".
// By dpkg rules the result sorts after v: a higher number in the last
// digit run, or a "+" suffix, which sorts after the end of the string.
func laterStableUpdate(v string) string {
	if m := stableUpdate.FindStringSubmatchIndex(v); m != nil {
		n, _ := strconv.Atoi(v[m[4]:m[5]])
		return v[:m[4]] + strconv.Itoa(n+1)
	}
	return v + "+deb12u1"
}

// TestScanDebootstrapRoot matches hand-checked records in the real Debian
// OSV format against the real dpkg database of a debootstrap'd bookworm
// root. The packages are chosen from the root: source packages whose
// binaries have other names, with epochs and tildes, so that every record
// exercises source-name lookup and Debian version ordering. Each record's
// fixed version is built from the installed source version so the outcome
// follows from one Debian rule, stated beside it.
func TestScanDebootstrapRoot(t *testing.T) {
	_, err := os.Stat(filepath.Join(bookwormRoot, dpkg.StatusPath))
	testutil.Require(t, "VIGIL_REQUIRE_TOOLS", err == nil,
		"no debootstrap root at "+bookwormRoot+" (scripts/test-deps.sh makes it)")
	sources, installed := bookwormSources(t, bookwormRoot)

	names := slices.Sorted(maps.Keys(sources))
	// pick returns the first source, preferred names first, that has a
	// binary named differently from it, satisfies ok and is not used yet.
	used := map[string]bool{}
	pick := func(what string, preferred []string, ok func(*debSource) bool) *debSource {
		t.Helper()
		for _, name := range append(slices.Clone(preferred), names...) {
			s := sources[name]
			if s == nil || used[name] || !ok(s) ||
				!slices.ContainsFunc(s.binaries, func(b string) bool { return b != s.name }) {
				continue
			}
			used[name] = true
			return s
		}
		t.Fatalf("the root has no source package for %s", what)
		return nil
	}
	anySource := func(*debSource) bool { return true }
	epoch := func(s *debSource) bool { return strings.Contains(s.version, ":") }
	several := func(s *debSource) bool { return len(s.binaries) >= 2 }

	recs := t.TempDir()
	type want struct{ id, binary, fixed string }
	var wants []want
	vulnerable := func(id string, s *debSource, fixed string) {
		for _, b := range s.binaries {
			wants = append(wants, want{id, b, fixed})
		}
	}

	// 1. Fixed in a later stable update of the installed source version
	// (+deb12uN+1, or +deb12u1 appended): the installed version sorts
	// before it, so EVERY binary built from the source is vulnerable
	// (glibc: libc6 and libc-bin).
	glibc := pick("a later stable update", []string{"glibc"}, several)
	fix := laterStableUpdate(glibc.version)
	vulnerable(debianOSV(t, recs, "CVE-2099-0001", [3]string{"Debian:12", glibc.name, fix}), glibc, fix)

	// 2. Fixed in exactly the installed source version: not vulnerable. The
	// record's Debian:13 entry has a later fix, which says nothing about
	// Debian 12.
	pam := pick("a fix equal to the installed version", []string{"pam", "util-linux", "e2fsprogs"}, anySource)
	debianOSV(t, recs, "CVE-2099-0002",
		[3]string{"Debian:12", pam.name, pam.version},
		[3]string{"Debian:13", pam.name, "99:" + laterStableUpdate(pam.version)})

	// 3. The installed version has an epoch; the fix is the next stable
	// update of it written WITHOUT the epoch, i.e. epoch 0, which sorts
	// before any epoch >= 1 whatever follows: not vulnerable.
	zlib := pick("an epoch", []string{"zlib", "shadow", "audit", "libcap2"}, epoch)
	_, noEpoch, _ := strings.Cut(zlib.version, ":")
	debianOSV(t, recs, "CVE-2099-0003", [3]string{"Debian:12", zlib.name, laterStableUpdate(noEpoch)})

	// 4. The installed version has an epoch and the fix keeps it, in the next
	// stable update: vulnerable (the epoch is compared first and is equal).
	shadow := pick("a second epoch", []string{"shadow", "audit", "libcap2", "zlib"}, epoch)
	fix = laterStableUpdate(shadow.version)
	vulnerable(debianOSV(t, recs, "CVE-2099-0004", [3]string{"Debian:12", shadow.name, fix}), shadow, fix)

	// 5. The fix is the installed source version with a "~" suffix (as in a
	// backport, "~bpo12+1"): "~" sorts before even the end of the string,
	// so the fix is older than what is installed: not vulnerable.
	perl := pick("a tilde suffix", []string{"perl", "util-linux", "e2fsprogs"}, anySource)
	debianOSV(t, recs, "CVE-2099-0005", [3]string{"Debian:12", perl.name, perl.version + "~bpo12+1"})

	// 6. A record for Debian:11 only, with a fix later than what is
	// installed: it does not apply to a Debian 12 root.
	e2fs := pick("a Debian 11 record", []string{"e2fsprogs", "util-linux"}, anySource)
	debianOSV(t, recs, "CVE-2099-0006", [3]string{"Debian:11", e2fs.name, laterStableUpdate(e2fs.version)})

	// 7. A Debian:12 record naming a BINARY package (libc6) instead of its
	// source: Debian records name source packages, so it must not match
	// libc6 although the fix is later than the installed version.
	binary := glibc.binaries[slices.IndexFunc(glibc.binaries, func(b string) bool { return b != glibc.name && sources[b] == nil })]
	debianOSV(t, recs, "CVE-2099-0007", [3]string{"Debian:12", binary, laterStableUpdate(glibc.version)})

	// 8. The installed version itself has a tilde (bookworm's systemd is
	// 252.x-1~deb12uN, a rebuild of the unstable 252.x-1): the unstable
	// version without the "~deb12uN" sorts AFTER it, so a fix there means
	// the installed package is vulnerable. Only when the root has such a
	// source.
	if i := slices.IndexFunc(names, func(name string) bool {
		s := sources[name]
		return !used[name] && strings.Contains(s.version, "~deb12u") && stableUpdate.MatchString(s.version) &&
			slices.ContainsFunc(s.binaries, func(b string) bool { return b != s.name })
	}); i >= 0 {
		tilde := sources[names[i]]
		used[tilde.name] = true
		fix := stableUpdate.ReplaceAllString(tilde.version, "")
		vulnerable(debianOSV(t, recs, "CVE-2099-0008", [3]string{"Debian:12", tilde.name, fix}), tilde, fix)
	} else {
		t.Log("the root has no source with a ~deb12uN version; case 8 not run")
	}
	// 9. A binary whose own version has an epoch its source version lacks
	// (bookworm's bsdutils is 1:2.38.1-5+deb12u3, built from util-linux
	// 2.38.1-5+deb12u3), with a fix in the next stable update of the
	// SOURCE version. Debian records version source packages, so every
	// binary of the source is vulnerable; comparing bsdutils' own version
	// (epoch 1 against the fix's 0) would wrongly call it fixed.
	if i := slices.IndexFunc(names, func(name string) bool {
		s := sources[name]
		return !used[name] && !strings.Contains(s.version, ":") &&
			slices.ContainsFunc(s.binaries, func(b string) bool { return b != s.name && strings.Contains(s.binVersion[b], ":") })
	}); i >= 0 {
		src := sources[names[i]]
		used[src.name] = true
		fix := laterStableUpdate(src.version)
		vulnerable(debianOSV(t, recs, "CVE-2099-0009", [3]string{"Debian:12", src.name, fix}), src, fix)
	} else {
		t.Log("the root has no binary with an epoch its source lacks; case 9 not run")
	}
	for _, name := range names {
		if !used[name] {
			continue
		}

		s := sources[name]
		var bins []string
		for _, b := range s.binaries {
			bins = append(bins, b+" "+s.binVersion[b])
		}
		t.Logf("source %s %s: %s", s.name, s.version, strings.Join(bins, ", "))
	}

	dataDir := t.TempDir()
	mustVigil(t, "db", "import", "--data-dir", dataDir, recs)
	stdout, _ := mustVigil(t, "scan", "rootfs", bookwormRoot, "--data-dir", dataDir, "--format", "json")
	var s struct {
		Target struct {
			OS *struct {
				ID        string `json:"id"`
				VersionID string `json:"version_id"`
			} `json:"os"`
		} `json:"target"`
		Packages []struct {
			Name, Version, Ecosystem, Type string
			SourceName                     string `json:"source_name"`
		} `json:"packages"`
		Findings []struct {
			ID           string   `json:"id"`
			Aliases      []string `json:"aliases"`
			FixedVersion string   `json:"fixed_version"`
			Package      struct {
				Name, Version, Ecosystem string
				SourceName               string `json:"source_name"`
			} `json:"package"`
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(stdout), &s); err != nil {
		t.Fatalf("decode scan output: %v", err)
	}
	if s.Target.OS == nil || s.Target.OS.ID != "debian" || s.Target.OS.VersionID != "12" {
		t.Errorf("target.os = %+v, want debian 12", s.Target.OS)
	}
	debs := 0
	for _, p := range s.Packages {
		if p.Type != "deb" {
			continue
		}
		debs++
		if p.Ecosystem != "Debian:12" {
			t.Errorf("package %s %s has ecosystem %q, want Debian:12", p.Name, p.Version, p.Ecosystem)
		}
	}
	if debs != installed {
		t.Errorf("scan reported %d Debian packages, the dpkg status has %d installed", debs, installed)
	}

	var got []want
	for _, f := range s.Findings {
		got = append(got, want{f.ID, f.Package.Name, f.FixedVersion})
		if f.Package.Ecosystem != "Debian:12" {
			t.Errorf("finding %s for %s has ecosystem %q, want Debian:12", f.ID, f.Package.Name, f.Package.Ecosystem)
		}
		if src := sources[f.Package.SourceName]; src == nil || !slices.Contains(src.binaries, f.Package.Name) {
			t.Errorf("finding %s: package %s is not a binary of source %q", f.ID, f.Package.Name, f.Package.SourceName)
		}
	}
	byKey := func(a, b want) int {
		return cmp.Or(strings.Compare(a.id, b.id), strings.Compare(a.binary, b.binary), strings.Compare(a.fixed, b.fixed))
	}
	if diff := gocmp.Diff(wants, got, gocmp.AllowUnexported(want{}), cmpopts.SortSlices(func(a, b want) bool { return byKey(a, b) < 0 })); diff != "" {
		t.Errorf("findings (id, binary package, fixed version) mismatch (-want +got):\n%s", diff)
	}
}
