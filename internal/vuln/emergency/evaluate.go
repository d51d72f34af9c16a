package emergency

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/vigilsec/vigil/internal/collector"
	"github.com/vigilsec/vigil/internal/collector/ports"
	"github.com/vigilsec/vigil/internal/collector/processes"
	"github.com/vigilsec/vigil/internal/finding"
	"github.com/vigilsec/vigil/internal/image"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
	"github.com/vigilsec/vigil/internal/scan"
	"github.com/vigilsec/vigil/internal/vuln/assess"
	"github.com/vigilsec/vigil/internal/vuln/match"
	"github.com/vigilsec/vigil/internal/vuln/osv"
)

// MaxFileRead bounds what file_contains reads of one file, and
// maxGlobFiles the files one file_exists or file_contains glob visits.
const (
	MaxFileRead  = 4 << 20
	maxEvidence  = 10
	maxGlobFiles = 100_000
)

// Input is what checks are evaluated against: what a scan already has.
type Input struct {
	// Root is the scanned tree and RootPath its real path ("/" for the
	// live host).
	Root     fs.FS
	RootPath string
	// Packages are the packages the scan found, with Ecosystem set for OS
	// packages (scan.SetOSEcosystem); OS packages without one get it from
	// the root's os-release.
	Packages []inventory.Package
	// Live is true when Root is the running host: only then are process
	// conditions evaluated, from ProcPath ("/proc" when empty).
	Live     bool
	ProcPath string
	// SkipDirs are unrooted directories not walked for archives and file
	// globs (scan.HostSkipDirs for a live host).
	SkipDirs []string
	// OS is the root's os-release; detected from Root when zero.
	OS inventory.OSRelease
}

// Evaluate evaluates one check; see EvaluateAll.
func (c *Check) Evaluate(ctx context.Context, in *Input) ([]finding.Finding, error) {
	return EvaluateAll(ctx, []*Check{c}, in)
}

// EvaluateAll evaluates checks against in, reading the host state they
// need once: one walk of the root for every archive_contains, one run of
// the ports and processes collectors on a live host.
//
// A check reports nothing when one of its conditions is false. Otherwise
// it gives one finding per affected package (merged over its locations)
// and per archive flagged by an archive rule; a check with conditions and
// no affected rules gives one finding without package. Each finding's
// Remediation.Note holds the check's advice and the evidence: the rule
// that matched (file:line) and every condition with what satisfied it, or
// why it could not be checked.
//
// Findings are ordered by check, then package or location. Problems that
// leave part of the input unread (an unreadable archive, a collector that
// failed) are returned with the findings in a *plugin.PartialError; a
// canceled ctx or an unreadable root is an error.
func EvaluateAll(ctx context.Context, checks []*Check, in *Input) ([]finding.Finding, error) {
	e := &env{in: in, problems: &plugin.Problems{}}
	if in.Live && in.ProcPath == "" {
		e.procPath = "/proc"
	} else {
		e.procPath = in.ProcPath
	}
	e.skip = map[string]bool{}
	for _, d := range in.SkipDirs {
		e.skip[strings.Trim(d, "/")] = true
	}
	if err := e.scanArchives(ctx, checks); err != nil {
		return nil, err
	}
	e.packages = e.withEcosystems(in.Packages)
	var out []finding.Finding
	for _, c := range checks {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		fs, err := e.evaluate(ctx, c)
		if err != nil {
			return nil, err
		}
		out = append(out, fs...)
	}
	return out, e.problems.Err()
}

// env is the host state shared by the checks of one evaluation.
type env struct {
	in       *Input
	procPath string
	skip     map[string]bool
	problems *plugin.Problems
	packages []inventory.Package

	archives  archiveScan
	specIndex map[archiveKey]int

	portsDone, procsDone bool
	ports                []inventory.Port
	procs                []inventory.Process
	portsErr, procsErr   error
}

type archiveKey struct{ glob, entry string }

// scanArchives walks the root once for every archive spec of the checks.
func (e *env) scanArchives(ctx context.Context, checks []*Check) error {
	e.specIndex = map[archiveKey]int{}
	add := func(a *ArchiveContains) {
		k := archiveKey{a.PathGlob, a.Entry}
		if _, ok := e.specIndex[k]; !ok {
			e.specIndex[k] = len(e.archives.specs)
			e.archives.specs = append(e.archives.specs, a)
		}
	}
	var visit func(c *Condition)
	visit = func(c *Condition) {
		switch {
		case c.ArchiveContains != nil:
			add(c.ArchiveContains)
		case c.Not != nil:
			visit(c.Not)
		}
		for i := range c.Any {
			visit(&c.Any[i])
		}
	}
	for _, c := range checks {
		for i := range c.Affected {
			if a := c.Affected[i].Archive; a != nil {
				add(a)
			}
		}
		for i := range c.Conditions {
			visit(&c.Conditions[i])
		}
	}
	if len(e.archives.specs) == 0 {
		return nil
	}
	if e.in.Root == nil {
		return errors.New("archive_contains: no root to scan")
	}
	return e.archives.run(ctx, e.in.Root, e.skip, e.problems)
}

func (e *env) hits(a *ArchiveContains) (hits []string, scanned map[string]bool) {
	i := e.specIndex[archiveKey{a.PathGlob, a.Entry}]
	return e.archives.hits[i], e.archives.scanned[i]
}

// withEcosystems fills the ecosystem of OS packages that have none, from
// the root's os-release: scan.OSEcosystem, and "Red Hat" (no release: OSV
// spells Red Hat releases by product stream) for RHEL.
func (e *env) withEcosystems(pkgs []inventory.Package) []inventory.Package {
	missing := slices.ContainsFunc(pkgs, func(p inventory.Package) bool {
		return p.Ecosystem == "" && (p.Type == "deb" || p.Type == "rpm" || p.Type == "apk")
	})
	if !missing {
		return pkgs
	}
	osr := e.in.OS
	if osr.ID == "" && e.in.Root != nil {
		osr, _ = image.DetectOS(e.in.Root)
	}
	eco := scan.OSEcosystem(osr)
	typ := map[string]string{"debian": "deb", "ubuntu": "deb", "alpine": "apk", "rocky": "rpm", "almalinux": "rpm", "rhel": "rpm"}[osr.ID]
	if osr.ID == "rhel" {
		eco = "Red Hat"
	}
	if eco == "" {
		return pkgs
	}
	out := slices.Clone(pkgs)
	for i := range out {
		if out[i].Ecosystem == "" && out[i].Type == typ {
			out[i].Ecosystem = eco
		}
	}
	return out
}

// ecosystemMatches reports whether a rule's ecosystem covers a package's:
// equal, or a prefix ending at a ':' ("Debian" covers "Debian:12",
// "Ubuntu:22.04" covers "Ubuntu:22.04:LTS").
func ecosystemMatches(rule, pkg string) bool {
	return pkg == rule || strings.HasPrefix(pkg, rule) && pkg[len(rule)] == ':'
}

func (r *Rule) matchesName(p *inventory.Package) bool {
	base := match.BaseEcosystem(r.Ecosystem)
	if r.Source != "" {
		src := cmp.Or(p.SourceName, p.Name)
		return osv.NormalizeName(base, src) == osv.NormalizeName(base, r.Source)
	}
	return osv.NormalizeName(base, p.Name) == osv.NormalizeName(base, r.Package)
}

// result is a condition's truth: unknown when it could not be evaluated.
type result uint8

const (
	resFalse result = iota
	resTrue
	resUnknown
)

func (e *env) evaluate(ctx context.Context, c *Check) ([]finding.Finding, error) {
	var evidence, unknown []string
	for i := range c.Conditions {
		cond := &c.Conditions[i]
		r, why, err := e.condition(ctx, cond)
		if err != nil {
			return nil, err
		}
		switch r {
		case resFalse:
			return nil, nil
		case resTrue:
			evidence = append(evidence, fmt.Sprintf("%s (%s:%d)", why, c.File, cond.Line))
		case resUnknown:
			unknown = append(unknown, fmt.Sprintf("%s (%s:%d)", why, c.File, cond.Line))
		}
	}
	conds := ""
	if len(evidence) > 0 {
		conds += " Conditions met: " + strings.Join(evidence, "; ") + "."
	}
	if len(unknown) > 0 {
		conds += " Not checked: " + strings.Join(unknown, "; ") + "."
	}

	var out []finding.Finding
	type pkgKey struct{ eco, typ, name, version, arch string }
	idx := map[pkgKey]int{}
	for _, p := range e.packages {
		if p.Ecosystem == "" {
			continue
		}
		var (
			hit      *Rule
			fixed    string
			fixKnown = true
		)
		for i := range c.Affected {
			r := &c.Affected[i]
			if r.matcher == nil || !ecosystemMatches(r.Ecosystem, p.Ecosystem) || !r.matchesName(&p) {
				continue
			}
			iv := match.Prepare(p.Ecosystem, r.Package+r.Source, p.Version)
			vuln, fix, err := r.matcher.MatchInstalled(iv)
			if err != nil {
				e.problems.Addf("%s: %s package %q version %q: %v", c.ID, p.Ecosystem, p.Name, p.Version, err)
				continue
			}
			if !vuln {
				continue
			}
			if hit == nil {
				hit = r
			}
			switch {
			case fix == "":
				fixKnown = false
			case fixed == "":
				fixed = fix
			default:
				if cv, err := match.Compare(p.Ecosystem, fix, fixed); err == nil && cv > 0 {
					fixed = fix
				}
			}
		}
		if hit == nil {
			continue
		}
		if !fixKnown {
			fixed = ""
		}
		k := pkgKey{p.Ecosystem, p.Type, p.Name, p.Version, p.Arch}
		if i, ok := idx[k]; ok {
			for _, l := range p.Locations {
				if !slices.Contains(out[i].Target.Package.Locations, l) {
					out[i].Target.Package.Locations = append(out[i].Target.Package.Locations, l)
				}
			}
			continue
		}
		idx[k] = len(out)
		p.Locations = slices.Clone(p.Locations)
		why := fmt.Sprintf("%s package %s %s is in the affected versions (%s:%d).", p.Ecosystem, p.Name, p.Version, c.File, hit.Line)
		out = append(out, c.newFinding(p, fixed, why+conds))
	}
	for i := range out {
		slices.Sort(out[i].Target.Package.Locations)
		e.archiveNotes(c, &out[i])
	}
	n := len(out)
	for i := range c.Affected {
		r := &c.Affected[i]
		if r.Archive == nil {
			continue
		}
		out = e.archiveFindings(c, r, out, conds)
	}
	slices.SortStableFunc(out[n:], func(a, b finding.Finding) int {
		return cmp.Compare(a.Target.Package.Locations[0], b.Target.Package.Locations[0])
	})
	if len(c.Affected) == 0 {
		f := c.newFinding(inventory.Package{}, "", "All conditions of the check hold."+conds)
		f.Remediation.Note = strings.TrimSpace(f.Remediation.Note)
		out = append(out, f)
	}
	return out, nil
}

// archiveNotes tells, for a package finding whose archive an archive rule
// of the check looked into, whether the entry is still there: removing
// the class (zip -d) is the classic mitigation when an upgrade must wait.
func (e *env) archiveNotes(c *Check, f *finding.Finding) {
	p := &f.Target.Package
	for i := range c.Affected {
		r := &c.Affected[i]
		if r.Archive == nil || r.Package == "" || !ecosystemMatches(r.Ecosystem, p.Ecosystem) || !r.matchesName(p) {
			continue
		}
		hits, scanned := e.hits(r.Archive)
		var present, absent []string
		for _, l := range p.Locations {
			loc := "/" + strings.TrimPrefix(l, "/")
			switch {
			case slices.Contains(hits, loc):
				present = append(present, loc)
			case scanned[loc]:
				absent = append(absent, loc)
			}
		}
		if len(present) > 0 {
			f.Remediation.Note += fmt.Sprintf(" %s is present in %s.", r.Archive.Entry, strings.Join(present, ", "))
		}
		if len(absent) > 0 {
			f.Remediation.Note += fmt.Sprintf(" %s is absent from %s: mitigated by its removal; upgrade anyway.", r.Archive.Entry, strings.Join(absent, ", "))
		}
	}
}

// archiveFindings adds one finding per archive holding the rule's entry,
// unless the package the entry belongs to is known at that location by
// its metadata: then the package rules judged it (a finding when
// affected, none when fixed).
func (e *env) archiveFindings(c *Check, r *Rule, out []finding.Finding, conds string) []finding.Finding {
	hits, _ := e.hits(r.Archive)
	for _, loc := range hits {
		var known, bundled []string
		for _, p := range e.packages {
			if !slices.ContainsFunc(p.Locations, func(l string) bool { return "/"+strings.TrimPrefix(l, "/") == loc }) {
				continue
			}
			if r.Package != "" && ecosystemMatches(r.Ecosystem, p.Ecosystem) && r.matchesName(&p) && p.Version != "" {
				known = append(known, p.Version)
				continue
			}
			bundled = append(bundled, strings.TrimSpace(p.Name+" "+p.Version))
		}
		if len(known) > 0 {
			continue
		}
		if slices.ContainsFunc(out, func(f finding.Finding) bool {
			return f.Target.Package.Name == r.Package && slices.Contains(f.Target.Package.Locations, loc)
		}) {
			continue
		}
		pkg := inventory.Package{Name: r.Package, Ecosystem: r.Ecosystem, Locations: []string{loc}}
		if pkg.Name == "" {
			pkg.Name = loc[strings.LastIndexAny(loc, "/!")+1:]
		}
		if match.BaseEcosystem(r.Ecosystem) == "Maven" {
			pkg.Type = "maven"
		}
		why := fmt.Sprintf("%s contains %s, and no package metadata there gives the version of %s (%s:%d).",
			loc, r.Archive.Entry, cmp.Or(r.Package, "its package"), c.File, r.Line)
		if len(bundled) > 0 {
			slices.Sort(bundled)
			bundled = slices.Compact(bundled)
			why += " The archive is " + strings.Join(truncateList(bundled), ", ") + "."
		}
		f := c.newFinding(pkg, "", why+conds)
		out = append(out, f)
	}
	return out
}

func truncateList(s []string) []string {
	if len(s) <= maxEvidence {
		return s
	}
	return append(s[:maxEvidence:maxEvidence], fmt.Sprintf("and %d more", len(s)-maxEvidence))
}

func (c *Check) newFinding(p inventory.Package, fixed, evidence string) finding.Finding {
	f := finding.Finding{
		Advisory: finding.Advisory{
			ID:         c.ID,
			Aliases:    c.Aliases,
			Summary:    c.Title,
			Details:    c.Description,
			Severity:   c.Severity,
			Published:  c.Published,
			References: c.References,
		},
		Target:       finding.Target{Package: p},
		Source:       finding.Source{Plugin: Name, Version: Version},
		FixedVersion: fixed,
	}
	if c.CVSS.Vector != "" {
		f.Advisory.CVSS = finding.CVSS{Version: c.CVSS.Version, Vector: c.CVSS.Vector, Score: c.CVSS.Base}
	}
	if p.Name != "" && fixed != "" {
		f.Remediation = assess.Remediate(p, fixed)
	} else {
		f.Remediation.FixedVersion = fixed
	}
	var note []string
	if c.Remediation != "" {
		note = append(note, c.Remediation)
	}
	if f.Remediation.Note != "" && f.Remediation.Note != assess.NoFix {
		note = append(note, f.Remediation.Note)
	}
	note = append(note, "Evidence: "+evidence)
	f.Remediation.Note = strings.Join(note, " ")
	return f
}

// condition evaluates one condition and says why, in words.
func (e *env) condition(ctx context.Context, c *Condition) (result, string, error) {
	switch {
	case c.ProcessListening != nil:
		return e.processListening(ctx, c.ProcessListening)
	case c.ProcessRunning != nil:
		return e.processRunning(ctx, c.ProcessRunning)
	case c.FileExists != nil:
		return e.fileExists(ctx, c.FileExists)
	case c.FileContains != nil:
		return e.fileContains(ctx, c.FileContains)
	case c.ArchiveContains != nil:
		hits, _ := e.hits(c.ArchiveContains)
		if len(hits) == 0 {
			return resFalse, fmt.Sprintf("no archive matching %s contains %s", c.ArchiveContains.PathGlob, c.ArchiveContains.Entry), nil
		}
		return resTrue, fmt.Sprintf("%s found in %s", c.ArchiveContains.Entry, strings.Join(truncateList(slices.Clone(hits)), ", ")), nil
	case c.Not != nil:
		r, why, err := e.condition(ctx, c.Not)
		switch r {
		case resTrue:
			return resFalse, why, err
		case resFalse:
			return resTrue, "not: " + why, err
		}
		return r, why, err
	default:
		var unknown, falses []string
		for i := range c.Any {
			r, why, err := e.condition(ctx, &c.Any[i])
			if err != nil {
				return resFalse, "", err
			}
			switch r {
			case resTrue:
				return resTrue, why, nil
			case resUnknown:
				unknown = append(unknown, why)
			default:
				falses = append(falses, why)
			}
		}
		if len(unknown) > 0 {
			return resUnknown, strings.Join(unknown, "; "), nil
		}
		return resFalse, "none of: " + strings.Join(falses, "; "), nil
	}
}

func (p *Process) describe() string {
	var s []string
	if p.ExeSuffix != "" {
		s = append(s, "exe ending in "+strconv.Quote(p.ExeSuffix))
	}
	if p.Name != "" {
		s = append(s, "name "+strconv.Quote(p.Name))
	}
	return strings.Join(s, " and ")
}

func (p *Process) matches(exe, name string) bool {
	return (p.ExeSuffix == "" || strings.HasSuffix(exe, p.ExeSuffix)) && (p.Name == "" || name == p.Name)
}

func (e *env) collectorInput() *collector.Input {
	return &collector.Input{Root: e.in.Root, RootPath: e.in.RootPath, ProcPath: e.procPath, Live: e.in.Live}
}

func (e *env) processListening(ctx context.Context, pr *Process) (result, string, error) {
	what := "a process with " + pr.describe() + " listening"
	if pr.Exposed {
		what += " on an exposed address"
	}
	if !e.in.Live || e.procPath == "" {
		return resUnknown, what + ": not a live host", nil
	}
	if !e.portsDone {
		e.portsDone = true
		inv, err := ports.New().Collect(ctx, e.collectorInput())
		if ctx.Err() != nil {
			return resFalse, "", ctx.Err()
		}
		var pe *plugin.PartialError
		if err != nil && !errors.As(err, &pe) {
			e.portsErr = err
		} else if inv != nil {
			e.ports = inv.Ports
		}
	}
	if e.portsErr != nil {
		return resUnknown, fmt.Sprintf("%s: ports unreadable: %v", what, e.portsErr), nil
	}
	var seen []string
	for _, pt := range e.ports {
		if pr.Exposed && !pt.Exposed {
			continue
		}
		for _, pid := range pt.PIDs {
			exe, name := pt.Exe, pt.Process
			if pid != pt.PID {
				exe, name = e.procExe(pid)
			}
			if !pr.matches(exe, name) {
				continue
			}
			exp := "local only"
			if pt.Exposed {
				exp = "exposed"
			}
			seen = append(seen, fmt.Sprintf("%s (pid %d) on %s/%s (%s)", exe, pid,
				netJoin(pt.Address, pt.Port), pt.Protocol, exp))
			break
		}
	}
	if len(seen) == 0 {
		return resFalse, "no " + what, nil
	}
	return resTrue, "listening: " + strings.Join(truncateList(seen), ", "), nil
}

func netJoin(addr string, port int) string {
	if strings.Contains(addr, ":") {
		return "[" + addr + "]:" + strconv.Itoa(port)
	}
	return addr + ":" + strconv.Itoa(port)
}

// procExe reads the executable and name of a process that shares a socket
// with the one the ports collector named.
func (e *env) procExe(pid int) (exe, name string) {
	dir := filepath.Join(e.procPath, strconv.Itoa(pid))
	if l, err := os.Readlink(filepath.Join(dir, "exe")); err == nil {
		exe = strings.TrimSuffix(l, " (deleted)")
	}
	if b, err := os.ReadFile(filepath.Join(dir, "comm")); err == nil {
		name = strings.TrimSuffix(string(b), "\n")
	}
	return exe, name
}

func (e *env) processRunning(ctx context.Context, pr *Process) (result, string, error) {
	what := "a process with " + pr.describe() + " running"
	if !e.in.Live || e.procPath == "" {
		return resUnknown, what + ": not a live host", nil
	}
	if !e.procsDone {
		e.procsDone = true
		inv, err := processes.New().Collect(ctx, e.collectorInput())
		if ctx.Err() != nil {
			return resFalse, "", ctx.Err()
		}
		var pe *plugin.PartialError
		if err != nil && !errors.As(err, &pe) {
			e.procsErr = err
		} else if inv != nil {
			e.procs = inv.Processes
		}
	}
	if e.procsErr != nil {
		return resUnknown, fmt.Sprintf("%s: processes unreadable: %v", what, e.procsErr), nil
	}
	var seen []string
	for _, p := range e.procs {
		if pr.matches(p.Exe, p.Name) {
			seen = append(seen, fmt.Sprintf("%s (pid %d, user %s)", cmp.Or(p.Exe, p.Name), p.PID, p.User))
		}
	}
	if len(seen) == 0 {
		return resFalse, "no " + what, nil
	}
	return resTrue, "running: " + strings.Join(truncateList(seen), ", "), nil
}

// files returns the regular files matching an absolute path glob.
func (e *env) files(ctx context.Context, pattern string) ([]string, error) {
	g, err := compileGlob(pattern)
	if err != nil {
		return nil, err
	}
	if e.in.Root == nil {
		return nil, errors.New("no root")
	}
	if lit, ok := g.literal(); ok {
		st, err := fs.Stat(e.in.Root, lit)
		if err != nil || !st.Mode().IsRegular() {
			return nil, nil
		}
		return []string{lit}, nil
	}
	var out []string
	visited := 0
	err = fs.WalkDir(e.in.Root, ".", func(p string, d fs.DirEntry, err error) error {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		if err != nil {
			if d != nil && d.IsDir() && p != "." {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if p != "." && (e.skip[p] || !g.MayContain(p)) {
				return fs.SkipDir
			}
			return nil
		}
		if visited++; visited > maxGlobFiles {
			return fmt.Errorf("%w: more than %d files visited for %q", errLimit, maxGlobFiles, pattern)
		}
		if d.Type().IsRegular() && g.Match(p) {
			out = append(out, p)
		}
		return nil
	})
	return out, err
}

func (e *env) fileExists(ctx context.Context, fe *FileExists) (result, string, error) {
	files, err := e.files(ctx, fe.Path)
	if ctx.Err() != nil {
		return resFalse, "", ctx.Err()
	}
	if err != nil {
		return resUnknown, fmt.Sprintf("file %s: %v", fe.Path, err), nil
	}
	if len(files) == 0 {
		return resFalse, "no file " + fe.Path, nil
	}
	return resTrue, "file exists: " + strings.Join(truncateList(rooted(files)), ", "), nil
}

func rooted(ps []string) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = "/" + p
	}
	return out
}

func (e *env) fileContains(ctx context.Context, fc *FileContains) (result, string, error) {
	files, err := e.files(ctx, fc.Path)
	if ctx.Err() != nil {
		return resFalse, "", ctx.Err()
	}
	if err != nil {
		return resUnknown, fmt.Sprintf("file %s: %v", fc.Path, err), nil
	}
	var seen, unreadable []string
	for _, p := range files {
		line, n, err := grepFile(e.in.Root, p, fc)
		if err != nil {
			unreadable = append(unreadable, fmt.Sprintf("/%s: %v", p, err))
			continue
		}
		if n > 0 {
			seen = append(seen, fmt.Sprintf("/%s:%d: %s", p, n, strconv.Quote(line)))
		}
	}
	switch {
	case len(seen) > 0:
		return resTrue, "matched " + strings.Join(truncateList(seen), ", "), nil
	case len(unreadable) > 0:
		return resUnknown, "unreadable: " + strings.Join(truncateList(unreadable), ", "), nil
	}
	return resFalse, fmt.Sprintf("no line of %s matches %s", fc.Path, fc.Regex), nil
}

// grepFile returns the first line of p matching fc and its number (0 when
// none).
func grepFile(root fs.FS, p string, fc *FileContains) (string, int, error) {
	f, err := root.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, MaxFileRead))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		if fc.re.Match(sc.Bytes()) {
			return sc.Text(), n, nil
		}
	}
	return "", 0, sc.Err()
}
