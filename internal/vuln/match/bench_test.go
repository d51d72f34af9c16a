package match

import (
	"archive/zip"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/vuln/osv"
)

const goAllZip = "../../../../shared/data/osv/Go/all.zip"

type goEntry struct {
	id       string
	affected osv.Affected
	matcher  *Matcher
}

type goPackage struct{ name, version string }

// loadGoDB reads the Go all.zip export and indexes its affected entries by
// package name, as a database would. Withdrawn records are left out.
func loadGoDB(tb testing.TB) map[string][]goEntry {
	tb.Helper()
	zr, err := zip.OpenReader(goAllZip)
	if err != nil {
		tb.Skipf("Go OSV export not available (%v): it is only in the development workspace's shared/data", err)
	}
	defer zr.Close()
	index := make(map[string][]goEntry)
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			tb.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			tb.Fatal(err)
		}
		var v osv.Vulnerability
		if err := json.Unmarshal(data, &v); err != nil {
			tb.Fatalf("%s: %v", f.Name, err)
		}
		if !v.Withdrawn.IsZero() {
			continue
		}
		for _, a := range v.Affected {
			m, err := Compile(a)
			if err != nil {
				tb.Fatalf("%s: compile %q: %v", v.ID, a.Package.Name, err)
			}
			index[a.Package.Name] = append(index[a.Package.Name], goEntry{id: v.ID, affected: a, matcher: m})
		}
	}
	return index
}

// benchPackages picks 1,000 packages (name@version) from the database's own
// names, with versions taken from its range bounds so that roughly half are
// vulnerable, plus stdlib at several Go releases.
func benchPackages(index map[string][]goEntry) []goPackage {
	names := make([]string, 0, len(index))
	for n := range index {
		names = append(names, n)
	}
	slices.Sort(names)
	var pkgs []goPackage
	for i := 0; len(pkgs) < 1000; i++ {
		if i%50 == 0 {
			pkgs = append(pkgs, goPackage{GoStdlib, fmt.Sprintf("go1.%d.%d", 18+i%6, i%9)})
			continue
		}
		name := names[i%len(names)]
		var bounds []string
		for _, e := range index[name] {
			for _, r := range e.affected.Ranges {
				for _, ev := range r.Events {
					for _, s := range []string{ev.Introduced, ev.Fixed} {
						if s != "" && s != "0" {
							bounds = append(bounds, s)
						}
					}
				}
			}
		}
		v := "v0.0.1"
		if len(bounds) > 0 {
			v = "v" + bounds[i%len(bounds)]
		}
		if name == GoStdlib || name == GoToolchain {
			v = "go" + strings.TrimPrefix(v, "v")
		}
		pkgs = append(pkgs, goPackage{name, v})
	}
	return pkgs
}

// Ways matchAll can match: with the installed version prepared once per
// package and Matchers built at load ("prepared", what a scan does), with
// Matcher.Match parsing the version per entry ("compiled"), or with
// Affected compiling each entry on every call ("uncompiled").
const (
	modePrepared   = "prepared"
	modeCompiled   = "compiled"
	modeUncompiled = "uncompiled"
)

// matchAll matches every package against the entries for its name and
// returns the number of (package, record) findings.
func matchAll(tb testing.TB, index map[string][]goEntry, pkgs []goPackage, mode string) int {
	n := 0
	for _, p := range pkgs {
		iv := Prepare("Go", p.name, p.version)
		for _, e := range index[p.name] {
			var (
				vuln bool
				err  error
			)
			switch mode {
			case modePrepared:
				vuln, _, err = e.matcher.MatchInstalled(iv)
			case modeCompiled:
				vuln, _, err = e.matcher.Match(p.version)
			default:
				vuln, _, err = Affected("Go", p.version, e.affected)
			}
			if err != nil {
				tb.Fatalf("%s %s@%s: %v", e.id, p.name, p.version, err)
			}
			if vuln {
				n++
			}
		}
	}
	return n
}

// BenchmarkMatchGo1000 matches 1,000 Go packages against every affected
// entry of the Go all.zip, indexed by package name. One op is all 1,000
// packages; the sub-benchmarks are the modes of matchAll.
func BenchmarkMatchGo1000(b *testing.B) {
	index := loadGoDB(b)
	pkgs := benchPackages(index)
	entries := 0
	for _, p := range pkgs {
		entries += len(index[p.name])
	}
	for _, mode := range []string{modePrepared, modeCompiled, modeUncompiled} {
		b.Run(mode, func(b *testing.B) {
			findings := 0
			b.ReportAllocs()
			for b.Loop() {
				findings = matchAll(b, index, pkgs, mode)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(pkgs)), "ns/pkg")
			b.ReportMetric(float64(findings), "findings")
			b.ReportMetric(float64(entries), "entries_tested")
		})
	}
}

// TestMatchGoDB matches the benchmark's packages once, checks that every
// affected entry of the Go export compiles and that the result is a mix of
// vulnerable and clean.
func TestMatchGoDB(t *testing.T) {
	index := loadGoDB(t)
	pkgs := benchPackages(index)
	if len(pkgs) != 1000 {
		t.Fatalf("got %d packages, want 1000", len(pkgs))
	}
	findings := matchAll(t, index, pkgs, modePrepared)
	for _, mode := range []string{modeCompiled, modeUncompiled} {
		if got := matchAll(t, index, pkgs, mode); got != findings {
			t.Errorf("%s: %d findings, %s: %d", modePrepared, findings, mode, got)
		}
	}
	vulnerable := 0
	for _, p := range pkgs {
		for _, e := range index[p.name] {
			if v, _, _ := e.matcher.Match(p.version); v {
				vulnerable++
				break
			}
		}
	}
	t.Logf("%d names indexed; 1000 packages, %d vulnerable, %d findings", len(index), vulnerable, findings)
	if vulnerable < 100 || vulnerable > 900 {
		t.Errorf("%d of 1000 packages vulnerable: the sample should mix vulnerable and clean", vulnerable)
	}
}
