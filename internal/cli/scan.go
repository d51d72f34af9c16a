package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vigilsec/vigil/internal/extractor"
	"github.com/vigilsec/vigil/internal/extractor/list"
	"github.com/vigilsec/vigil/internal/finding"
	"github.com/vigilsec/vigil/internal/image"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
	"github.com/vigilsec/vigil/internal/report"
	"github.com/vigilsec/vigil/internal/report/cyclonedx"
	"github.com/vigilsec/vigil/internal/report/sarif"
	"github.com/vigilsec/vigil/internal/scan"
	"github.com/vigilsec/vigil/internal/severity"
	"github.com/vigilsec/vigil/internal/version"
	"github.com/vigilsec/vigil/internal/vuln/assess"
	"github.com/vigilsec/vigil/internal/vuln/emergency"
	"github.com/vigilsec/vigil/internal/vuln/exposure"
	"github.com/vigilsec/vigil/internal/vuln/fix"
	"github.com/vigilsec/vigil/internal/vuln/osv"
)

type scanOptions struct {
	checks     []string
	severities string
	exitCode   int
	importance string
	dockerHost string
}

func newScanCommand(g *globals) *cobra.Command {
	o := &scanOptions{}
	cmd := &cobra.Command{
		Use:   "scan",
		Short: "Find vulnerable packages in this host, a root tree, an image or a source directory",
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if err := g.setup(cmd.ErrOrStderr()); err != nil {
				return err
			}
			return g.requireFormat("scan", formatTable, formatJSON, formatSARIF, formatCycloneDX)
		},
		Long: `Scan finds OS and language packages (package databases, Go binaries, Java archives,
Python and Node installs, lockfiles) and matches them against the local vulnerability
database (see 'vigil db'). Findings are ranked by Vigil's priority (docs/priority.md) and
carry the command that fixes them.`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&o.severities, "severity", "", "report only these severities (comma-separated: low,medium,high,critical,unspecified)")
	pf.IntVar(&o.exitCode, "exit-code", 0, "exit with this code when findings are reported (for CI gating)")
	pf.StringVar(&o.importance, "importance", "normal", "asset importance for the priority: low, normal, high or critical")
	pf.StringVar(&o.dockerHost, "docker-host", "", "Docker Engine API endpoint for image references")
	pf.StringArrayVar(&o.checks, "check", nil, "emergency check file for a vulnerability OSV does not have yet (repeatable; see checks/)")

	target := func(use, short string, args cobra.PositionalArgs, fn func(cmd *cobra.Command, args []string) (*scanTarget, error)) *cobra.Command {
		return &cobra.Command{
			Use: use, Short: short, Args: args,
			RunE: func(cmd *cobra.Command, args []string) error {
				t, err := fn(cmd, args)
				if err != nil {
					return err
				}
				defer t.close()
				return runScan(cmd, g, o, t)
			},
		}
	}
	cmd.AddCommand(
		newScanLogsCommand(g),
		target("host", "Scan the running host's OS and language packages", cobra.NoArgs,
			func(*cobra.Command, []string) (*scanTarget, error) {
				return &scanTarget{Type: "host", Name: "/", root: os.DirFS("/"), rootPath: "/",
					skip: scan.HostSkipDirs, extractors: list.All.Build(), close: func() {}}, nil
			}),
		target("rootfs DIR", "Scan a mounted root filesystem", cobra.ExactArgs(1),
			func(_ *cobra.Command, args []string) (*scanTarget, error) {
				return openDirTarget("rootfs", args[0], list.All.Build())
			}),
		target("dir PATH", "Scan a source tree's lockfiles and vendored packages", cobra.ExactArgs(1),
			func(_ *cobra.Command, args []string) (*scanTarget, error) {
				return openDirTarget("dir", args[0], list.Lang.Build())
			}),
		target("image REF|TARBALL|OCI-DIR", "Scan a container image: a docker save tarball, an OCI layout, or an image in the local Docker engine", cobra.ExactArgs(1),
			func(cmd *cobra.Command, args []string) (*scanTarget, error) {
				return openImageTarget(cmd, g, o, args[0])
			}),
	)
	cmd.AddCommand(newScanFilesCommand(g, o))
	return cmd
}

// scanTarget is what a scan reads.
type scanTarget struct {
	Type  string               `json:"type"`
	Name  string               `json:"name"`
	OS    *inventory.OSRelease `json:"os,omitempty"`
	Image *imageInfo           `json:"image,omitempty"`

	root       fs.FS
	rootPath   string
	skip       []string
	extractors []extractor.Extractor
	close      func()
}

type imageInfo struct {
	ID       string   `json:"id"`
	Digest   string   `json:"digest,omitempty"`
	RepoTags []string `json:"repo_tags,omitempty"`
	Layers   int      `json:"layers"`
}

func openDirTarget(typ, dir string, ex []extractor.Extractor) (*scanTarget, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, userErrorf("%s: %v", typ, err)
	}
	r, err := os.OpenRoot(abs)
	if err != nil {
		return nil, userErrorf("%s: %v", typ, err)
	}
	return &scanTarget{Type: typ, Name: abs, root: r.FS(), rootPath: abs, extractors: ex,
		close: func() { r.Close() }}, nil
}

func openImageTarget(cmd *cobra.Command, g *globals, o *scanOptions, ref string) (*scanTarget, error) {
	img, err := image.Open(cmd.Context(), ref, &image.Options{DockerHost: o.dockerHost})
	if err != nil {
		return nil, err
	}
	dest, err := os.MkdirTemp("", "vigil-image-")
	if err != nil {
		img.Close()
		return nil, err
	}
	cleanup := func() {
		img.Close()
		if err := os.RemoveAll(dest); err != nil {
			g.logger.Warn("remove extracted image", "dir", dest, "error", err)
		}
	}
	if _, err := img.Extract(cmd.Context(), dest); err != nil {
		cleanup()
		return nil, err
	}
	r, err := os.OpenRoot(dest)
	if err != nil {
		cleanup()
		return nil, err
	}
	return &scanTarget{
		Type: "image", Name: ref,
		Image: &imageInfo{ID: img.ID, Digest: img.ManifestDigest, RepoTags: img.RepoTags, Layers: len(img.Layers)},
		root:  r.FS(), rootPath: dest, extractors: list.All.Build(),
		close: func() { r.Close(); cleanup() },
	}, nil
}

// scanReport is the JSON printed by `vigil scan --format json`: target,
// packages and findings are a contract (issue 3).
type scanReport struct {
	Target   *scanTarget              `json:"target"`
	Packages []scanPackage            `json:"packages"`
	Findings []scanFinding            `json:"findings"`
	Status   map[string]plugin.Status `json:"status"`
}

// scanFinding is a finding with the key `vigil fix` takes.
type scanFinding struct {
	Key string `json:"key"`
	finding.JSON
}

type scanPackage struct {
	Name      string   `json:"name"`
	Version   string   `json:"version"`
	Ecosystem string   `json:"ecosystem"`
	PURL      string   `json:"purl"`
	Type      string   `json:"type"`
	Locations []string `json:"locations"`
}

func runScan(cmd *cobra.Command, g *globals, o *scanOptions, t *scanTarget) error {
	keep, err := parseSeverities(o.severities)
	if err != nil {
		return err
	}
	imp, err := assess.ParseImportance(o.importance)
	if err != nil {
		return &UserError{Err: err}
	}
	db, err := osv.Open(g.dataDir)
	if err != nil {
		return fmt.Errorf("open vulnerability database: %w (run 'vigil db import' or 'vigil db update' first)", err)
	}
	defer db.Close()

	w := &scan.Walker{Extractors: t.extractors, SkipDirs: t.skip}
	if stderrIsTerminal() {
		w.Progress = func(n int, p string) {
			fmt.Fprintf(cmd.ErrOrStderr(), "\r\033[Kscanning: %d files, %s", n, truncate(p, 60))
		}
	}
	res, err := w.Walk(cmd.Context(), t.root, t.rootPath)
	if w.Progress != nil {
		fmt.Fprint(cmd.ErrOrStderr(), "\r\033[K")
	}
	if err != nil {
		return err
	}
	if osr, err := image.DetectOS(t.root); err == nil && osr.ID != "" {
		t.OS = &osr
		scan.SetOSEcosystem(res.Packages, osr)
	}
	findings, err := assess.Match(cmd.Context(), db, res.Packages)
	var pe *plugin.PartialError
	if err != nil && !errors.As(err, &pe) {
		return err
	}
	if pe != nil {
		res.Status[assess.Name] = plugin.StatusFromErr(pe)
	}
	if len(o.checks) > 0 {
		checks, err := emergency.Load(o.checks...)
		if err != nil {
			return &UserError{Err: err}
		}
		in := &emergency.Input{Root: t.root, RootPath: t.rootPath, Packages: res.Packages,
			Live: t.Type == "host", SkipDirs: t.skip}
		if t.OS != nil {
			in.OS = *t.OS
		}
		ef, err := emergency.EvaluateAll(cmd.Context(), checks, in)
		var epe *plugin.PartialError
		if err != nil && !errors.As(err, &epe) {
			return err
		}
		if epe != nil {
			res.Status[emergency.Name] = plugin.StatusFromErr(epe)
		}
		findings = append(findings, ef...)
	}
	actx := assess.Context{Importance: imp}
	if t.Type == "host" {
		// Exposure: is a vulnerable package loaded by a process that
		// listens on an exposed port? Only the live host can say.
		pkgs := make([]inventory.Package, 0, len(findings))
		for _, f := range findings {
			pkgs = append(pkgs, f.Target.Package)
		}
		idx, err := exposure.New(cmd.Context(), exposure.Input{Root: t.root, ProcPath: "/proc", Packages: pkgs})
		switch {
		case err == nil || errors.As(err, &pe):
			actx.Exposure = idx.Exposure
			if err != nil {
				res.Status["vuln/exposure"] = plugin.StatusFromErr(err)
			}
		default:
			g.logger.Warn("exposure not assessed", "error", err)
			res.Status["vuln/exposure"] = plugin.StatusFromErr(err)
		}
	}
	assess.Prioritize(findings, actx)
	if keep != nil {
		findings = slices.DeleteFunc(findings, func(f finding.Finding) bool { return !keep[f.Advisory.Severity] })
	}

	rep := scanReport{Target: t, Packages: []scanPackage{}, Findings: []scanFinding{}, Status: res.Status}
	for _, f := range findings {
		rep.Findings = append(rep.Findings, scanFinding{Key: fix.FindingKey(f), JSON: finding.ToJSON(f)})
	}
	for _, p := range res.Packages {
		rep.Packages = append(rep.Packages, scanPackage{Name: p.Name, Version: p.Version, Ecosystem: p.Ecosystem,
			PURL: p.PURL, Type: p.Type, Locations: orEmptyStrings(p.Locations)})
	}
	out := cmd.OutOrStdout()
	rt := report.Target{Type: t.Type, Name: t.Name, OS: t.OS}
	switch g.format {
	case formatJSON:
		err = writeJSON(out, rep)
	case formatSARIF:
		err = sarif.Write(out, rt, res.Packages, findings, version.String())
	case formatCycloneDX:
		err = cyclonedx.Write(out, rt, res.Packages, findings, version.String())
	default:
		printScan(out, &rep)
	}
	if err != nil {
		return err
	}
	if o.exitCode != 0 && len(findings) > 0 {
		return &ExitError{Code: o.exitCode}
	}
	return nil
}

func orEmptyStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// parseSeverities reads --severity; nil means keep all.
func parseSeverities(s string) (map[severity.Level]bool, error) {
	if s == "" {
		return nil, nil
	}
	keep := map[severity.Level]bool{}
	for _, name := range splitList(strings.ToLower(s)) {
		l, err := severity.Parse(name)
		if err != nil {
			return nil, userErrorf("--severity: %v", err)
		}
		keep[l] = true
	}
	return keep, nil
}

func stderrIsTerminal() bool {
	fi, err := os.Stderr.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func printScan(w io.Writer, rep *scanReport) {
	osName := ""
	if rep.Target.OS != nil {
		osName = rep.Target.OS.PrettyName
	}
	fmt.Fprintf(w, "TARGET %s %s %s\n", rep.Target.Type, rep.Target.Name, osName)
	byEco := map[string]int{}
	for _, p := range rep.Packages {
		e := p.Ecosystem
		if e == "" {
			e = p.Type + " (no vulnerability data)"
		}
		byEco[e]++
	}
	var parts []string
	for _, e := range slices.Sorted(mapKeys(byEco)) {
		parts = append(parts, fmt.Sprintf("%d %s", byEco[e], e))
	}
	fmt.Fprintf(w, "PACKAGES: %d (%s)\n\n", len(rep.Packages), strings.Join(parts, ", "))
	t := newTable(fmt.Sprintf("FINDINGS (%d), highest priority first", len(rep.Findings)),
		column{"PRIO", 4}, column{"SEVERITY", 8}, column{"ID", 16}, column{"PACKAGE", 18},
		column{"INSTALLED", 12}, column{"FIX", 0})
	t.wrapLast = true
	for _, f := range rep.Findings {
		id := f.ID
		for _, a := range f.Aliases {
			if strings.HasPrefix(a, "CVE-") {
				id = a
				break
			}
		}
		cmdline := f.Remediation.Command
		if cmdline == "" {
			// The whole note (with evidence) is in --format json.
			cmdline, _, _ = strings.Cut(f.Remediation.Note, ". ")
		}
		if f.KEV.Listed {
			cmdline = "[KEV] " + cmdline
		}
		sev := f.Severity
		if sev == severity.Unspecified.String() {
			sev = "unscored" // no CVSS vector or severity word in the record
		}
		t.add(fmt.Sprintf("%.0f", f.Priority.Score), sev, id, f.Package.Name, f.Package.Version, cmdline)
	}
	t.render(w)
	var notes []string
	for _, name := range slices.Sorted(mapKeys(rep.Status)) {
		if st := rep.Status[name]; st.State != plugin.StateSucceeded {
			notes = append(notes, fmt.Sprintf("%s: %s (%s)", name, st.State, st.Error))
		}
	}
	for _, n := range notes {
		fmt.Fprintln(w, truncate(n, termWidth))
	}
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
