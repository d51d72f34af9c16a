package fix

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilsec/vigil/internal/extractor/os/dpkg"
	"github.com/vigilsec/vigil/internal/finding"
	"github.com/vigilsec/vigil/internal/image"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
	"github.com/vigilsec/vigil/internal/scan"
	"github.com/vigilsec/vigil/internal/testutil"
	"github.com/vigilsec/vigil/internal/vuln/assess"
	"github.com/vigilsec/vigil/internal/vuln/assess/fakedb"
	"github.com/vigilsec/vigil/internal/vuln/osv"
)

// fixtureDeb is one binary package of the fixture repository.
type fixtureDeb struct {
	name, version, arch, source, depends string
}

// aptRepo builds a local apt repository of debs in dir and returns the
// apt options that make apt use it, and only it, as its sources, with its
// own lists and cache so the system's are untouched.
func aptRepo(t *testing.T, dir string, debs []fixtureDeb) []string {
	t.Helper()
	repo := filepath.Join(dir, "repo")
	for _, d := range debs {
		root := filepath.Join(dir, "build", d.name+"_"+d.version)
		doc := filepath.Join(root, "usr", "share", "doc", d.name)
		mustMkdir(t, filepath.Join(root, "DEBIAN"), doc, repo)
		control := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: Vigil tests <tests@vigil.invalid>\nSection: misc\nPriority: optional\n", d.name, d.version, d.arch)
		if d.source != "" {
			control += "Source: " + d.source + "\n"
		}
		if d.depends != "" {
			control += "Depends: " + d.depends + "\n"
		}
		control += "Description: Vigil fix test fixture\n Installed and removed by internal/vuln/fix tests.\n"
		mustWrite(t, filepath.Join(root, "DEBIAN", "control"), control)
		mustWrite(t, filepath.Join(doc, "fixture.txt"), d.name+" "+d.version+"\n")
		run(t, "dpkg-deb", "--root-owner-group", "--build", root, filepath.Join(repo, d.name+"_"+d.version+"_"+d.arch+".deb"))
	}
	cmd := exec.Command("dpkg-scanpackages", "--multiversion", ".", "/dev/null")
	cmd.Dir = repo
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("dpkg-scanpackages: %v", err)
	}
	mustWrite(t, filepath.Join(repo, "Packages"), string(out))
	list := filepath.Join(dir, "sources.list")
	mustWrite(t, list, "deb [trusted=yes] file:"+repo+" ./\n")
	mustMkdir(t, filepath.Join(dir, "lists", "partial"), filepath.Join(dir, "cache", "archives", "partial"))
	// apt reads file: repositories as the _apt user when it can.
	if err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.IsDir() {
			return os.Chmod(p, 0o755)
		}
		return os.Chmod(p, 0o644)
	}); err != nil {
		t.Fatal(err)
	}
	args := []string{
		"-o", "Dir::Etc::sourcelist=" + list,
		"-o", "Dir::Etc::sourceparts=-",
		"-o", "Dir::State::Lists=" + filepath.Join(dir, "lists"),
		"-o", "Dir::Cache=" + filepath.Join(dir, "cache"),
		"-o", "APT::Get::List-Cleanup=0",
	}
	run(t, "apt-get", append(slices.Clone(args), "update")...)
	return args
}

// TestFixAndRollbackLive upgrades a real package on this host with fix and
// rolls it back. It builds a local apt repository with two binary packages
// of one source: PKG (native architecture, versions 1.0-1, a binNMU
// 1.0-2+b1 of source 1.0-2, and 1.0-3) and PKG-data (Architecture: all,
// 1.0-1, 1.0-2, 1.0-3), where each PKG depends on the exact PKG-data of
// its source version. With 1.0-1 installed and an advisory fixed in 1.0-2,
// fixing only PKG's finding must upgrade both (else apt cannot satisfy the
// dependency) to the lowest fixed versions: PKG 1.0-2+b1, PKG-data 1.0-2.
func TestFixAndRollbackLive(t *testing.T) {
	testutil.RequireRoot(t)
	for _, c := range []string{"apt-get", "apt-cache", "dpkg-query", "dpkg-deb", "dpkg-scanpackages"} {
		testutil.RequireCommand(t, c)
	}
	ctx := context.Background()
	archOut, err := exec.Command("dpkg", "--print-architecture").Output()
	if err != nil {
		t.Fatalf("dpkg --print-architecture: %v", err)
	}
	arch := strings.TrimSpace(string(archOut))
	rnd := make([]byte, 4)
	rand.Read(rnd)
	pkg := "vigil-fixture-" + hex.EncodeToString(rnd)
	data := pkg + "-data"

	dir, err := os.MkdirTemp("", "vigil-fix-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	var debs []fixtureDeb
	for _, v := range []struct{ bin, src string }{{"1.0-1", ""}, {"1.0-2+b1", "1.0-2"}, {"1.0-3", ""}} {
		srcVer := v.bin
		source := ""
		if v.src != "" {
			srcVer, source = v.src, pkg+" ("+v.src+")"
		}
		debs = append(debs,
			fixtureDeb{name: pkg, version: v.bin, arch: arch, source: source, depends: data + " (= " + srcVer + ")"},
			fixtureDeb{name: data, version: srcVer, arch: "all", source: pkg})
	}
	opts := Options{AptArgs: aptRepo(t, dir, debs)}

	// Cleanups run last-registered first: the purge runs before the
	// repository is removed, also when the test fails.
	t.Cleanup(func() {
		cmd := exec.Command("apt-get", append(slices.Clone(opts.AptArgs), "-y", "-o", "DPkg::Lock::Timeout=300", "purge", pkg, data)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("purge fixture: %v\n%s", err, out)
		}
	})
	run(t, "apt-get", append(slices.Clone(opts.AptArgs), "-y", "-o", "DPkg::Lock::Timeout=300", "install", pkg+"=1.0-1", data+"=1.0-1")...)
	requireVersions(t, map[string]string{pkg: "1.0-1", data: "1.0-1"})

	findings := hostFindings(t, ctx, pkg)
	var keys []string
	for _, f := range findings {
		keys = append(keys, FindingKey(f))
	}
	eco := findings[0].Target.Package.Ecosystem
	mainKey := "DEBIAN-CVE-0000-FIXTURE/" + eco + "/" + pkg
	if diff := cmp.Diff([]string{mainKey, "DEBIAN-CVE-0000-FIXTURE/" + eco + "/" + data}, keys); diff != "" {
		t.Fatalf("finding keys (-want +got):\n%s", diff)
	}

	// Only PKG's finding is selected: PKG-data must come along.
	sel, err := Select(findings, []string{mainKey})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := NewPlan(ctx, sel, opts)
	if err != nil {
		t.Fatalf("NewPlan: %v", err)
	}
	wantChanges := []Change{
		{Package: pkg, Source: pkg, Installed: "1.0-1", Target: "1.0-2+b1", Fixed: "1.0-2"},
		{Package: data, Source: pkg, Installed: "1.0-1", Target: "1.0-2", Fixed: "1.0-2"},
	}
	if diff := cmp.Diff(wantChanges, plan.Changes); diff != "" {
		t.Fatalf("plan changes (-want +got):\n%s", diff)
	}

	// A dry run prints the plan and changes nothing.
	var printed bytes.Buffer
	if err := plan.Print(&printed); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{mainKey, pkg + " 1.0-1 -> 1.0-2+b1", "install --only-upgrade -- " + pkg + "=1.0-2+b1 " + data + "=1.0-2"} {
		if !strings.Contains(printed.String(), s) {
			t.Errorf("plan output lacks %q:\n%s", s, printed.String())
		}
	}
	requireVersions(t, map[string]string{pkg: "1.0-1", data: "1.0-1"})

	dataDir := filepath.Join(dir, "data")
	rec, err := plan.Execute(ctx, dataDir)
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	requireVersions(t, map[string]string{pkg: "1.0-2+b1", data: "1.0-2"})
	if got, want := filepath.Dir(rec.Path), filepath.Join(dataDir, "fix"); got != want {
		t.Errorf("record in %s, want %s", got, want)
	}
	stored, err := ReadRecord(rec.Path)
	if err != nil {
		t.Fatalf("ReadRecord: %v", err)
	}
	if stored.Outcome.Status != StatusSucceeded {
		t.Errorf("record outcome %q (%s), want %q", stored.Outcome.Status, stored.Outcome.Error, StatusSucceeded)
	}
	wantChanged := []VersionChange{{Package: pkg, Before: "1.0-1", After: "1.0-2+b1"}, {Package: data, Before: "1.0-1", After: "1.0-2"}}
	slices.SortFunc(wantChanged, func(a, b VersionChange) int { return strings.Compare(a.Package, b.Package) })
	if diff := cmp.Diff(wantChanged, stored.Outcome.Changed); diff != "" {
		t.Errorf("record changed (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantChanges, stored.Packages); diff != "" {
		t.Errorf("record packages (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(plan.Commands, stored.Commands); diff != "" {
		t.Errorf("record commands (-want +got):\n%s", diff)
	}

	// The finding is gone from a fresh scan, so its key is unknown.
	if _, err := Select(hostFindings(t, ctx, pkg), []string{mainKey}); err == nil {
		t.Errorf("Select after the fix found %q", mainKey)
	}

	// A record naming a version apt cannot download fails before
	// changing anything, naming it.
	bad := *stored
	bad.Packages = slices.Clone(stored.Packages)
	bad.Packages[1].Installed = "0.9-1"
	bad.Outcome.Changed = nil
	bad.Path = filepath.Join(dir, "bad.json")
	if err := bad.save(); err != nil {
		t.Fatal(err)
	}
	if _, err := Rollback(ctx, bad.Path, opts); err == nil || !strings.Contains(err.Error(), data+"=0.9-1") {
		t.Errorf("Rollback of an undownloadable version: error %v, want one naming %s", err, data+"=0.9-1")
	}
	requireVersions(t, map[string]string{pkg: "1.0-2+b1", data: "1.0-2"})

	rolled, err := Rollback(ctx, rec.Path, opts)
	if err != nil {
		t.Fatalf("Rollback: %v", err)
	}
	requireVersions(t, map[string]string{pkg: "1.0-1", data: "1.0-1"})
	stored, err = ReadRecord(rec.Path)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored.Rollbacks) != 1 || stored.Rollbacks[0].Status != StatusSucceeded {
		t.Errorf("record rollbacks = %+v, want one that succeeded", stored.Rollbacks)
	}
	if diff := cmp.Diff(rolled.Rollbacks, stored.Rollbacks); diff != "" {
		t.Errorf("returned and stored rollbacks differ (-returned +stored):\n%s", diff)
	}
}

// hostFindings scans this host's dpkg database for the fixture packages
// (names starting with prefix) and matches them against the fixture
// advisory, as `vigil scan host` would.
func hostFindings(t *testing.T, ctx context.Context, prefix string) []finding.Finding {
	t.Helper()
	osr, err := image.DetectOS(os.DirFS("/"))
	if err != nil {
		t.Fatalf("detect OS: %v", err)
	}
	eco := scan.OSEcosystem(osr)
	if osv.BaseEcosystem(eco) != "Debian" && osv.BaseEcosystem(eco) != "Ubuntu" {
		t.Skipf("host ecosystem %q is not Debian or Ubuntu", eco)
	}
	f, err := os.Open("/var/lib/dpkg/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var pkgs []inventory.Package
	var problems plugin.Problems
	if _, err := dpkg.Parse(ctx, f, "/var/lib/dpkg/status", func(p inventory.Package) {
		if strings.HasPrefix(p.Name, prefix) {
			p.Ecosystem = eco
			pkgs = append(pkgs, p)
		}
	}, &problems); err != nil {
		t.Fatalf("parse dpkg status: %v", err)
	}
	tmpl, err := os.ReadFile("testdata/DEBIAN-CVE-0000-FIXTURE.json")
	if err != nil {
		t.Fatal(err)
	}
	js := strings.NewReplacer(`"SOURCE"`, `"`+prefix+`"`, `"HOST_ECOSYSTEM"`, `"`+eco+`"`).Replace(string(tmpl))
	var rec osv.Vulnerability
	if err := json.Unmarshal([]byte(js), &rec); err != nil {
		t.Fatal(err)
	}
	fs, err := assess.Match(ctx, &fakedb.DB{Records: []osv.Vulnerability{rec}}, pkgs)
	if err != nil {
		t.Fatalf("match: %v", err)
	}
	slices.SortFunc(fs, func(a, b finding.Finding) int { return strings.Compare(FindingKey(a), FindingKey(b)) })
	return fs
}

// requireVersions fails the test unless dpkg-query shows each package at
// its version.
func requireVersions(t *testing.T, want map[string]string) {
	t.Helper()
	got := map[string]string{}
	for name := range want {
		out, err := exec.Command("dpkg-query", "-W", "-f", "${db:Status-Abbrev}${Version}", name).Output()
		if err != nil {
			got[name] = "not installed"
			continue
		}
		s := string(out)
		if !strings.HasPrefix(s, "ii ") {
			got[name] = "status " + s
			continue
		}
		got[name] = strings.TrimPrefix(s, "ii ")
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("installed versions (-want +got):\n%s", diff)
	}
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func mustMkdir(t *testing.T, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func mustWrite(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
