package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vigilsec/vigil/internal/malware"
	"github.com/vigilsec/vigil/internal/respond/audit"
	"github.com/vigilsec/vigil/internal/respond/quarantine"
)

type scanFilesOptions struct {
	quarantine bool
	rate       string
	maxSize    string
	workers    int
	noNice     bool
}

// newScanFilesCommand is `vigil scan files`; o carries the shared scan
// flags, of which it uses --exit-code.
func newScanFilesCommand(g *globals, o *scanOptions) *cobra.Command {
	fo := &scanFilesOptions{}
	cmd := &cobra.Command{
		Use:   "files PATH...",
		Short: "Scan files for malware and web shells",
		Long: `Scan files walks each PATH (symbolic links inside are not followed; pseudo and
network filesystems are not entered) and checks every regular file: its SHA-256 against
IOC lists, YARA rules (shipped in rules/yara and imported with 'vigil rules import'),
web shell analysis of text, and ELF heuristics (UPX packing, static stripped
executables in temporary directories, coin miner strings). Findings are reported with
exit code 0 unless --exit-code is set. The whole process runs at nice 19 and the idle
I/O class, and reads are rate-limited (--rate, 0 = unlimited).`,
		Args: cobra.MinimumNArgs(1),
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if err := g.setup(cmd.ErrOrStderr()); err != nil {
				return err
			}
			return g.requireFormat("scan files", formatTable, formatJSON)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runScanFiles(cmd.Context(), cmd.OutOrStdout(), g, o, fo, args)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&fo.quarantine, "quarantine", false, "move every file with a finding into the quarantine vault")
	f.StringVar(&fo.rate, "rate", "50MiB", "read at most this many bytes per second (suffixes K, M, G, KiB, MiB, GiB; 0 = unlimited)")
	f.StringVar(&fo.maxSize, "max-size", "32MiB", "content checks (YARA, web shell, ELF) read this much of each file; the hash covers all")
	f.IntVar(&fo.workers, "workers", 1, "files read at once")
	f.BoolVar(&fo.noNice, "no-nice", false, "keep the normal CPU and I/O priority")
	return cmd
}

// filesReport is the JSON output: exactly findings, scanned and errors.
type filesReport struct {
	Findings []fileFinding       `json:"findings"`
	Scanned  int64               `json:"scanned"`
	Errors   []malware.ScanError `json:"errors"`
	summary  malware.Summary
}

// fileFinding is a finding with what --quarantine did to it.
type fileFinding struct {
	malware.Finding
	Quarantine *quarantineResult `json:"quarantine,omitempty"`
}

type quarantineResult struct {
	ID    string `json:"id,omitempty"`
	Error string `json:"error,omitempty"`
}

func runScanFiles(ctx context.Context, w io.Writer, g *globals, o *scanOptions, fo *scanFilesOptions, paths []string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	rate, err := parseBytes(fo.rate)
	if err != nil {
		return userErrorf("--rate: %v", err)
	}
	maxSize, err := parseBytes(fo.maxSize)
	if err != nil || maxSize <= 0 {
		return userErrorf("--max-size %q: want a positive size", fo.maxSize)
	}
	if fo.workers < 1 || fo.workers > 64 {
		return userErrorf("--workers %d: want 1 to 64", fo.workers)
	}
	if !fo.noNice {
		if err := malware.NiceProcess(); err != nil && g.logger != nil {
			g.logger.Warn("could not lower priority", "error", err)
		}
	}
	rs, err := malware.LoadRules(g.dataDir)
	if err != nil {
		return fmt.Errorf("load rules: %w", err)
	}
	for _, w := range rs.Warnings {
		if g.logger != nil {
			g.logger.Warn("rules", "warning", w)
		}
	}
	var store *quarantine.Store
	var alog *audit.Log
	if fo.quarantine {
		if store, err = quarantine.Open(g.dataDir); err != nil {
			return err
		}
		if alog, err = audit.Open(g.dataDir); err != nil {
			return err
		}
		defer alog.Close()
	}
	sc := malware.New(malware.Options{Rules: rs, MaxScanBytes: maxSize, Rate: rate, Workers: fo.workers,
		ExcludeDirs: []string{filepath.Join(g.dataDir, quarantine.Dir)}})
	rep := filesReport{Findings: []fileFinding{}}
	var qerrs []error
	sum, err := sc.Scan(ctx, paths, func(f malware.Finding) {
		ff := fileFinding{Finding: f}
		if store != nil {
			ff.Quarantine = quarantineFinding(store, alog, f)
			if ff.Quarantine.Error != "" {
				qerrs = append(qerrs, fmt.Errorf("quarantine %s: %s", f.Path, ff.Quarantine.Error))
			}
		}
		rep.Findings = append(rep.Findings, ff)
	})
	if err != nil {
		return err
	}
	rep.Scanned, rep.Errors, rep.summary = sum.Files, sum.Errors, sum
	if g.format == formatJSON {
		err = writeJSON(w, rep)
	} else {
		printScanFiles(w, &rep)
	}
	if err != nil {
		return err
	}
	if len(qerrs) > 0 {
		return fmt.Errorf("%d of %d findings not quarantined: %w", len(qerrs), len(rep.Findings), errors.Join(qerrs...))
	}
	if o != nil && o.exitCode != 0 && len(rep.Findings) > 0 {
		return &ExitError{Code: o.exitCode}
	}
	return nil
}

// quarantineFinding moves a finding's file into the vault and audits it.
func quarantineFinding(store *quarantine.Store, alog *audit.Log, f malware.Finding) *quarantineResult {
	a := f.Alert("")
	m, err := store.Quarantine(f.Path, a.ID, f.Rule)
	rec := audit.Record{Action: "quarantine", Target: f.Path, AlertID: a.ID, RuleID: f.Rule, Result: audit.ResultOK}
	res := &quarantineResult{}
	if err != nil {
		rec.Result, rec.Error = audit.ResultFailed, err.Error()
		res.Error = err.Error()
	} else {
		rec.Target = f.Path + " → " + m.ID
		res.ID = m.ID
	}
	if aerr := alog.Write(rec); aerr != nil {
		res.Error = strings.TrimPrefix(res.Error+"; audit: "+aerr.Error(), "; ")
	}
	return res
}

func printScanFiles(w io.Writer, rep *filesReport) {
	t := newTable("Malware scan findings", column{name: "KIND", max: 8}, column{name: "SCORE", max: 5},
		column{name: "RULE", max: 40}, column{name: "QUARANTINE", max: 32}, column{name: "PATH"})
	t.wrapLast = true
	for _, f := range rep.Findings {
		q := ""
		if f.Quarantine != nil {
			q = f.Quarantine.ID
			if f.Quarantine.Error != "" {
				q = "failed"
			}
		}
		t.add(f.Kind, strconv.FormatFloat(f.Score, 'f', 2, 64), f.Rule, q, f.Path)
	}
	t.render(w)
	for _, f := range rep.Findings {
		fmt.Fprintf(w, "%s (sha256 %s)\n", f.Path, f.SHA256)
		for _, e := range f.Evidence {
			fmt.Fprintf(w, "  - %s\n", e)
		}
	}
	if len(rep.Errors) > 0 {
		et := newTable("Errors", column{name: "ERROR", max: 60}, column{name: "PATH"})
		et.wrapLast = true
		for _, e := range rep.Errors {
			et.add(e.Err, e.Path)
		}
		et.render(w)
	}
	s := rep.summary
	fmt.Fprintf(w, "scanned %d files (%d bytes), %d findings, %d skipped, %d errors\n",
		s.Files, s.Bytes, len(rep.Findings), s.Skipped, s.ErrorCount)
	switch {
	case s.Copies == 1:
		fmt.Fprintln(w, "1 file was a copy of a file already judged")
	case s.Copies > 1:
		fmt.Fprintf(w, "%d files were copies of files already judged\n", s.Copies)
	}
	for _, m := range s.SkippedMounts {
		fmt.Fprintf(w, "not entered: %s\n", m)
	}
}

// parseBytes reads a byte count: digits with an optional suffix K, M, G
// (and KiB, MiB, GiB: powers of 1024) or KB, MB, GB (powers of 1000), and
// an optional "/s".
func parseBytes(s string) (int64, error) {
	t := strings.TrimSuffix(strings.TrimSpace(s), "/s")
	mult := int64(1)
	for _, u := range []struct {
		suf string
		m   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(t, u.suf) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suf)), u.m
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q: want a number of bytes like 50MiB", s)
	}
	return n * mult, nil
}
