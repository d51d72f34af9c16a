package fix

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/vigilsec/vigil/internal/finding"
	"github.com/vigilsec/vigil/internal/vuln/osv"
)

// Plan is what a fix will change and the commands that change it. NewPlan
// makes one; Print shows it (a dry run); Execute runs it.
type Plan struct {
	// Findings are the keys of the findings the plan fixes.
	Findings []string
	// Changes are the packages to upgrade, sorted by package.
	Changes []Change
	// Current are installed packages built from a vulnerable source that
	// are already at the fixed version or later, and are left alone.
	Current []Change
	// Commands are the argv of the commands to run, in order.
	Commands [][]string

	opts Options
}

// Change is one package a fix upgrades (or a rollback restores).
type Change struct {
	// Package is the name apt addresses the package by, qualified with
	// its architecture for a Multi-Arch: same package ("libc6:amd64").
	Package string `json:"package"`
	// Source is the source package it is built from.
	Source string `json:"source,omitempty"`
	// Installed is its version before the change.
	Installed string `json:"installed"`
	// Target is the version to install ("" when left alone).
	Target string `json:"target,omitempty"`
	// Fixed is the fixed version of the source package in the advisories.
	Fixed string `json:"fixed,omitempty"`
}

// sourceGroup is the findings of one source package.
type sourceGroup struct {
	source string
	fixed  string // highest fixed version among the findings
	names  []string
	keys   []string
}

// NewPlan works out how to fix findings (usually chosen with Select from a
// fresh scan of this host). Every installed binary package built from the
// source package of a finding is upgraded to the lowest version that apt
// can install and that is at least the highest fixed version among the
// findings of that source.
//
// It returns an error, and no plan, when a finding has no fixed version,
// is not a Debian or Ubuntu package (wrapping ErrUnsupported for RPM and
// Alpine packages), has a name or version that is not valid in Debian's
// grammar, is not installed, or when apt offers no version that fixes a
// package; or when every package is already fixed.
func NewPlan(ctx context.Context, findings []finding.Finding, opts Options) (*Plan, error) {
	if len(findings) == 0 {
		return nil, fmt.Errorf("plan fix: no findings")
	}
	groups := map[string]*sourceGroup{}
	p := &Plan{opts: opts}
	for _, f := range findings {
		key := FindingKey(f)
		if err := checkFinding(f); err != nil {
			return nil, fmt.Errorf("plan fix of %q: %w", key, err)
		}
		pkg := f.Target.Package
		src := cmp.Or(pkg.SourceName, pkg.Name)
		g := groups[src]
		if g == nil {
			g = &sourceGroup{source: src, fixed: f.FixedVersion}
			groups[src] = g
		}
		c, err := compareDeb(f.FixedVersion, g.fixed)
		if err != nil {
			return nil, fmt.Errorf("plan fix of %q: %w", key, err)
		}
		if c > 0 {
			g.fixed = f.FixedVersion
		}
		g.names = append(g.names, pkg.Name)
		if !slices.Contains(p.Findings, key) {
			p.Findings = append(p.Findings, key)
			g.keys = append(g.keys, key)
		}
	}

	inst, err := dpkgInstalled(ctx, &opts)
	if err != nil {
		return nil, fmt.Errorf("plan fix: %w", err)
	}
	bySource := map[string][]installedPkg{}
	for _, ip := range inst {
		if ip.installed() && groups[ip.Source] != nil {
			bySource[ip.Source] = append(bySource[ip.Source], ip)
		}
	}
	for _, src := range slices.Sorted(mapKeys(groups)) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		g := groups[src]
		if err := p.planSource(ctx, g, bySource[src]); err != nil {
			return nil, fmt.Errorf("plan fix of %q: %w", strings.Join(g.keys, `", "`), err)
		}
	}
	if len(p.Changes) == 0 {
		return nil, fmt.Errorf("plan fix: nothing to do: every package is already at its fixed version or later")
	}
	slices.SortFunc(p.Changes, func(a, b Change) int { return strings.Compare(a.Package, b.Package) })
	args := []string{"install", "--only-upgrade", "--"}
	for _, c := range p.Changes {
		args = append(args, c.Package+"="+c.Target)
	}
	p.Commands = [][]string{aptGet(&opts, args...)}
	return p, nil
}

// checkFinding says why fix cannot handle a finding, if it cannot.
func checkFinding(f finding.Finding) error {
	pkg := f.Target.Package
	base := osv.BaseEcosystem(pkg.Ecosystem)
	switch {
	case pkg.Type == "deb" || base == "Debian" || base == "Ubuntu":
	case pkg.Type == "rpm" || pkg.Type == "apk" || base == "Alpine" || base == "Red Hat" || base == "Rocky Linux" || base == "AlmaLinux":
		return fmt.Errorf("%w: %s packages (fix drives apt only; run the finding's remediation command)", ErrUnsupported, cmp.Or(pkg.Type, base))
	default:
		return fmt.Errorf("%w: %q is not an OS package (run the finding's remediation command)", ErrUnsupported, pkg.Name)
	}
	if f.FixedVersion == "" {
		return fmt.Errorf("no fixed version is published")
	}
	if !ValidPackageName(pkg.Name) {
		return fmt.Errorf("invalid package name %q", pkg.Name)
	}
	if pkg.SourceName != "" && !ValidPackageName(pkg.SourceName) {
		return fmt.Errorf("invalid source package name %q", pkg.SourceName)
	}
	if !ValidVersion(f.FixedVersion) {
		return fmt.Errorf("invalid fixed version %q", f.FixedVersion)
	}
	return nil
}

// planSource adds the changes of one source package.
func (p *Plan) planSource(ctx context.Context, g *sourceGroup, siblings []installedPkg) error {
	for _, name := range g.names {
		if !slices.ContainsFunc(siblings, func(ip installedPkg) bool { return ip.Name == name }) {
			return fmt.Errorf("package %q (source %q) is not installed", name, g.source)
		}
	}
	for _, ip := range siblings {
		// OSV's fixed version is the source package's; dpkg knows which
		// source version each binary was built from.
		c, err := compareDeb(cmp.Or(ip.SourceVersion, ip.Version), g.fixed)
		if err != nil {
			return fmt.Errorf("package %q: %w", ip.Binary, err)
		}
		ch := Change{Package: ip.Binary, Source: g.source, Installed: ip.Version, Fixed: g.fixed}
		if c >= 0 {
			p.Current = append(p.Current, ch)
			continue
		}
		vs, err := available(ctx, &p.opts, ip.Binary)
		if err != nil {
			return err
		}
		target, ok, err := lowestAtLeast(vs, g.fixed)
		if err != nil {
			return fmt.Errorf("package %q: %w", ip.Binary, err)
		}
		if !ok {
			return fmt.Errorf("apt offers no version of %q at or after the fixed version %q (available: %q; run apt-get update?)", ip.Binary, g.fixed, vs)
		}
		ch.Target = target
		p.Changes = append(p.Changes, ch)
	}
	return nil
}

// Print writes the plan for a person to read: the findings, the package
// changes and the commands (shell-quoted for display only; they are run
// without a shell).
func (p *Plan) Print(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Findings to fix (%d):\n", len(p.Findings))
	for _, k := range p.Findings {
		fmt.Fprintf(&b, "  %s\n", k)
	}
	fmt.Fprintf(&b, "Packages to upgrade (%d):\n", len(p.Changes))
	for _, c := range p.Changes {
		fmt.Fprintf(&b, "  %s %s -> %s (source %s fixed in %s)\n", c.Package, c.Installed, c.Target, c.Source, c.Fixed)
	}
	if len(p.Current) > 0 {
		fmt.Fprintf(&b, "Already fixed, left alone (%d):\n", len(p.Current))
		for _, c := range p.Current {
			fmt.Fprintf(&b, "  %s %s\n", c.Package, c.Installed)
		}
	}
	b.WriteString("Commands:\n")
	for _, argv := range p.Commands {
		fmt.Fprintf(&b, "  %s\n", shellJoin(argv))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// shellJoin quotes argv for display.
func shellJoin(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}

func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isAlnum(c) || strings.IndexByte("@%+=:,./_-", c) >= 0) {
			return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
		}
	}
	return s
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
