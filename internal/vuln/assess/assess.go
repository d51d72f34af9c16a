// Package assess turns a package inventory into vulnerability findings: it
// matches packages against OSV records (Match), enriches each finding with
// CISA KEV and EPSS data, ranks findings by Vigil's priority score
// (Prioritize, docs/priority.md) and says how to fix each (Remediate).
package assess

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/finding"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
	"github.com/vigilsec/vigil/internal/vuln/epss"
	"github.com/vigilsec/vigil/internal/vuln/kev"
	"github.com/vigilsec/vigil/internal/vuln/match"
	"github.com/vigilsec/vigil/internal/vuln/osv"
)

// Name and Version identify the findings Match produces (finding.Source).
const (
	Name    = "vuln/osv"
	Version = 1
)

// DB is the vulnerability database Match reads; *osv.DB implements it.
//
// Lookup returns the records naming a package (ecosystem may carry a
// release suffix; for Debian and Ubuntu name is the source package), with
// withdrawn records included. KEV and EPSS return the catalogue entry and
// score of a CVE ID, if any.
type DB interface {
	Lookup(ecosystem, name string) ([]osv.Vulnerability, error)
	KEV(cve string) (kev.Entry, bool, error)
	EPSS(cve string) (epss.Score, bool, error)
}

// statusDB is implemented by a DB that knows when its EPSS scores were
// published (*osv.DB); the date goes into finding.EPSS.
type statusDB interface {
	Status() osv.Status
}

// Match returns the findings of pkgs in db: one per (package, OSV record)
// whose affected versions include the package's version. Packages without
// an Ecosystem are not matched. The same package found in several places
// (equal ecosystem, type, name, version and arch) gives one finding with
// all its locations.
//
// Each finding carries its severity, fixed version, remediation, KEV and
// EPSS data, and a priority computed with the default Context (exposure
// unknown, normal asset importance, now); call Prioritize to rank them with
// what the caller knows of the host. Findings are sorted (see Sort).
//
// A package whose version does not parse in its ecosystem, or a record
// entry that cannot be compiled, is skipped and reported in a
// *plugin.PartialError returned with the other findings. An error reading
// db fails the whole match.
func Match(ctx context.Context, db DB, pkgs []inventory.Package) ([]finding.Finding, error) {
	var problems plugin.Problems
	groups, order := groupPackages(pkgs, &problems)
	var out []finding.Finding
	en := newEnricher(db)
	for _, key := range order {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n := len(out)
		var err error
		if out, err = matchGroup(out, key, groups[key], db, &problems); err != nil {
			return nil, err
		}
		for i := n; i < len(out); i++ {
			if err := en.enrich(&out[i]); err != nil {
				return nil, err
			}
		}
	}
	Prioritize(out, Context{})
	return out, problems.Err()
}

// groupKey is one database lookup: every package in a group has the same
// ecosystem and lookup name, so the records are read and their entries
// compiled once.
type groupKey struct {
	ecosystem string // full ecosystem, "Debian:12"
	names     string // lookup names joined by "\x00" (rpm: binary and source)
}

// pkgKey identifies a package for merging locations.
type pkgKey struct {
	ecosystem, typ, name, version, arch string
}

func groupPackages(pkgs []inventory.Package, problems *plugin.Problems) (map[groupKey][]inventory.Package, []groupKey) {
	groups := make(map[groupKey][]inventory.Package)
	var order []groupKey
	unsupported := make(map[string]int)
	idx := make(map[groupKey]map[pkgKey]int)
	for _, p := range pkgs {
		if p.Ecosystem == "" || p.Name == "" {
			continue
		}
		if !match.Supported(p.Ecosystem) {
			unsupported[p.Ecosystem]++
			continue
		}
		gk := groupKey{ecosystem: p.Ecosystem, names: strings.Join(lookupNames(p), "\x00")}
		pk := pkgKey{p.Ecosystem, p.Type, p.Name, p.Version, p.Arch}
		if _, ok := groups[gk]; !ok {
			order = append(order, gk)
			idx[gk] = make(map[pkgKey]int)
		}
		if i, ok := idx[gk][pk]; ok {
			g := groups[gk]
			g[i].Locations = mergeLocations(g[i].Locations, p.Locations)
			continue
		}
		p.Locations = slices.Clone(p.Locations)
		idx[gk][pk] = len(groups[gk])
		groups[gk] = append(groups[gk], p)
	}
	for _, eco := range sortedKeys(unsupported) {
		problems.Addf("ecosystem %q: no version ordering known; %d packages not matched", eco, unsupported[eco])
	}
	return groups, order
}

func mergeLocations(a, b []string) []string {
	for _, l := range b {
		if !slices.Contains(a, l) {
			a = append(a, l)
		}
	}
	return a
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// lookupNames are the package names under which the database keys the
// records of p. Debian, Ubuntu and Alpine records name the source package
// (origin), so a binary package is looked up by its SourceName. Red Hat
// family records name binary packages; the source name is looked up too,
// since some list the source RPM.
func lookupNames(p inventory.Package) []string {
	switch osv.BaseEcosystem(p.Ecosystem) {
	case "Debian", "Ubuntu", "Alpine":
		if p.SourceName != "" {
			return []string{p.SourceName}
		}
	case "Rocky Linux", "AlmaLinux", "Red Hat":
		if p.SourceName != "" && p.SourceName != p.Name {
			return []string{p.Name, p.SourceName}
		}
	}
	return []string{p.Name}
}

// installedVersion is the version of p that records compare against.
// Debian, Ubuntu and Alpine records give source package versions, and a
// binary's own version can differ from its source's: an epoch of its own
// (bsdutils 1:2.38.1-5+deb12u3 from util-linux 2.38.1-5+deb12u3) or a
// binNMU suffix (+b1). Comparing the binary version would call such a
// package fixed when it is not, so the source version is used when known.
func installedVersion(p *inventory.Package) string {
	switch osv.BaseEcosystem(p.Ecosystem) {
	case "Debian", "Ubuntu", "Alpine":
		if p.SourceVersion != "" {
			return p.SourceVersion
		}
	}
	return p.Version
}

// sameRelease reports whether an affected entry's ecosystem applies to a
// package's: equal strings, as a "Debian:11" record says nothing about a
// Debian 12 package. Both must have the same base.
func sameRelease(pkgEco, entryEco string) bool {
	return pkgEco == entryEco
}

// entryMatcher is a compiled affected entry.
type entryMatcher struct {
	entry *osv.Affected
	m     *match.Matcher
}

// matchGroup appends the findings of one group of packages to out.
func matchGroup(out []finding.Finding, key groupKey, pkgs []inventory.Package, db DB, problems *plugin.Problems) ([]finding.Finding, error) {
	names := strings.Split(key.names, "\x00")
	base := osv.BaseEcosystem(key.ecosystem)
	var recs []osv.Vulnerability
	for i, name := range names {
		rs, err := db.Lookup(key.ecosystem, name)
		if err != nil {
			return out, fmt.Errorf("look up %s package %q: %w", key.ecosystem, name, err)
		}
		if i == 0 {
			recs = rs
			continue
		}
		for _, r := range rs {
			if !slices.ContainsFunc(recs, func(v osv.Vulnerability) bool { return v.ID == r.ID }) {
				recs = append(recs, r)
			}
		}
	}
	if len(recs) == 0 {
		return out, nil
	}
	// Prepare each installed version once per lookup name it is tested
	// under (Go entries must be tested under their own package name).
	type prepKey struct {
		pkg  int
		name string
	}
	prepared := make(map[prepKey]*match.Installed)
	bad := make(map[int]bool) // packages whose version did not parse
	for ri := range recs {
		rec := &recs[ri]
		if !rec.Withdrawn.IsZero() {
			continue
		}
		var ms []entryMatcher
		for ai := range rec.Affected {
			a := &rec.Affected[ai]
			if osv.BaseEcosystem(a.Package.Ecosystem) != base || !sameRelease(key.ecosystem, a.Package.Ecosystem) {
				continue
			}
			an := osv.NormalizeName(base, a.Package.Name)
			if !slices.ContainsFunc(names, func(n string) bool { return osv.NormalizeName(base, n) == an }) {
				continue
			}
			m, err := match.Compile(*a)
			if err != nil {
				problems.Addf("%s: %s", rec.ID, err)
				continue
			}
			ms = append(ms, entryMatcher{entry: a, m: m})
		}
		if len(ms) == 0 {
			continue
		}
		for pi := range pkgs {
			if bad[pi] {
				continue
			}
			p := &pkgs[pi]
			var (
				hit      []*osv.Affected
				fixed    string
				fixKnown = true
			)
			for _, em := range ms {
				pk := prepKey{pi, em.entry.Package.Name}
				iv := prepared[pk]
				if iv == nil {
					iv = match.Prepare(p.Ecosystem, em.entry.Package.Name, installedVersion(p))
					prepared[pk] = iv
				}
				vuln, fix, err := em.m.MatchInstalled(iv)
				if err != nil {
					problems.Addf("%s package %q version %q: %s", p.Ecosystem, p.Name, p.Version, err)
					bad[pi] = true
					hit = nil
					break
				}
				if !vuln {
					continue
				}
				hit = append(hit, em.entry)
				// Several entries of one record can match (two ranges
				// written as two entries): the fix must leave all of them,
				// so take the highest of their lowest fixes; unknown if any
				// entry has none.
				switch {
				case fix == "":
					fixKnown = false
				case fixed == "":
					fixed = fix
				default:
					if c, err := match.Compare(p.Ecosystem, fix, fixed); err == nil && c > 0 {
						fixed = fix
					}
				}
			}
			if len(hit) == 0 {
				continue
			}
			if !fixKnown {
				fixed = ""
			}
			out = append(out, newFinding(rec, hit, *p, fixed))
		}
	}
	return out, nil
}

func newFinding(rec *osv.Vulnerability, hit []*osv.Affected, p inventory.Package, fixed string) finding.Finding {
	sev, c := recordSeverity(rec, hit)
	refs := make([]string, 0, len(rec.References))
	for _, r := range rec.References {
		refs = append(refs, r.URL)
	}
	if len(refs) == 0 {
		refs = nil
	}
	slices.Sort(p.Locations)
	return finding.Finding{
		Advisory: finding.Advisory{
			ID:         rec.ID,
			Aliases:    aliases(rec),
			Summary:    rec.Summary,
			Details:    rec.Details,
			Severity:   sev,
			CVSS:       c,
			Published:  rec.Published,
			Modified:   rec.Modified,
			References: refs,
		},
		Target:       finding.Target{Package: p},
		Source:       finding.Source{Plugin: Name, Version: Version},
		FixedVersion: fixed,
		Remediation:  Remediate(p, fixed),
	}
}

// aliases lists a record's aliases and upstream IDs (Debian and Ubuntu
// records name their CVE there), without the record's own ID, CVE IDs
// first, each group in record order.
func aliases(rec *osv.Vulnerability) []string {
	var cves, other []string
	seen := map[string]bool{rec.ID: true}
	for _, list := range [][]string{rec.Aliases, rec.Upstream} {
		for _, id := range list {
			if seen[id] {
				continue
			}
			seen[id] = true
			if isCVE(id) {
				cves = append(cves, id)
			} else {
				other = append(other, id)
			}
		}
	}
	if len(cves)+len(other) == 0 {
		return nil
	}
	return append(cves, other...)
}

func isCVE(id string) bool { return strings.HasPrefix(id, "CVE-") }

// cveIDs are the CVE IDs a finding is known by: its own ID if a CVE, then
// its CVE aliases.
func cveIDs(f *finding.Finding) []string {
	var ids []string
	if isCVE(f.Advisory.ID) {
		ids = append(ids, f.Advisory.ID)
	}
	for _, a := range f.Advisory.Aliases {
		if isCVE(a) {
			ids = append(ids, a)
		}
	}
	return ids
}

// enricher adds KEV and EPSS data, caching lookups by CVE.
type enricher struct {
	db       DB
	kev      map[string]*kev.Entry
	epss     map[string]*epss.Score
	epssDate time.Time
}

func newEnricher(db DB) *enricher {
	e := &enricher{db: db, kev: make(map[string]*kev.Entry), epss: make(map[string]*epss.Score)}
	if s, ok := db.(statusDB); ok {
		if st := s.Status(); st.EPSS != nil {
			e.epssDate = st.EPSS.ScoreDate
		}
	}
	return e
}

func (e *enricher) enrich(f *finding.Finding) error {
	for _, id := range cveIDs(f) {
		k, ok := e.kev[id]
		if !ok {
			ent, listed, err := e.db.KEV(id)
			if err != nil {
				return fmt.Errorf("look up %s in KEV: %w", id, err)
			}
			if listed {
				k = &ent
			}
			e.kev[id] = k
		}
		if k != nil {
			// Earliest listing; ransomware if any CVE is used by it.
			if !f.KEV.Listed || k.DateAdded.Before(f.KEV.DateAdded) {
				f.KEV.CVE, f.KEV.DateAdded = id, k.DateAdded
			}
			f.KEV.Listed = true
			f.KEV.Ransomware = f.KEV.Ransomware || k.KnownRansomwareCampaignUse
		}
		s, ok := e.epss[id]
		if !ok {
			sc, scored, err := e.db.EPSS(id)
			if err != nil {
				return fmt.Errorf("look up %s in EPSS: %w", id, err)
			}
			if scored {
				s = &sc
			}
			e.epss[id] = s
		}
		if s != nil && (!f.EPSS.Scored() || s.EPSS > f.EPSS.Score) {
			f.EPSS = finding.EPSS{CVE: id, Score: s.EPSS, Percentile: s.Percentile, Date: e.epssDate}
		}
	}
	return nil
}

// Sort orders findings by priority score (highest first), then severity
// (highest first), then advisory ID, package name, version and ecosystem.
func Sort(fs []finding.Finding) {
	slices.SortStableFunc(fs, func(a, b finding.Finding) int {
		return cmp.Or(
			cmp.Compare(b.Priority.Score, a.Priority.Score),
			cmp.Compare(b.Advisory.Severity, a.Advisory.Severity),
			cmp.Compare(a.Advisory.ID, b.Advisory.ID),
			cmp.Compare(a.Target.Package.Name, b.Target.Package.Name),
			cmp.Compare(a.Target.Package.Version, b.Target.Package.Version),
			cmp.Compare(a.Target.Package.Ecosystem, b.Target.Package.Ecosystem),
		)
	})
}
