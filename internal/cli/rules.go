package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vigilsec/vigil/internal/detect"
	"github.com/vigilsec/vigil/rules"
)

// builtinRules is the shipped rule set that `vigil rules lint|test` check
// when given no path; a variable so tests can stand in another tree.
var builtinRules fs.FS = rules.FS

func newRulesCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rules",
		Short: "Check detection rule files and run their tests",
		Long: `Detection rules are YAML files (see rules/README.md): a CEL condition over an event's
fields, ATT&CK IDs, optional aggregation, allow-list and response, and test events with the
alerts they must raise. With no PATH the commands check the rules built into vigil; a PATH
is a rule file or a directory of *.yaml files, and IOC lists are read from the ioc/
directory beside them.`,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if err := g.setup(cmd.ErrOrStderr()); err != nil {
				return err
			}
			return g.requireFormat("rules", formatTable, formatJSON)
		},
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "lint [PATH...]",
		Short: "Parse and compile rule files and report every problem with its file and line",
		RunE:  func(cmd *cobra.Command, args []string) error { return runRulesLint(cmd.OutOrStdout(), g, args) },
	}, &cobra.Command{
		Use:   "test [PATH...]",
		Short: "Run the tests of rule files through the detection engine",
		RunE:  func(cmd *cobra.Command, args []string) error { return runRulesTest(cmd.OutOrStdout(), g, args) },
	})
	cmd.AddCommand(newRulesImportCommand(g))
	return cmd
}

// loadRules loads the rule files of paths (or the built-in rules) with
// their IOC sets.
func loadRules(paths []string) (*detect.RuleSet, error) {
	if len(paths) == 0 {
		rs, err := detect.LoadFS(builtinRules, "*.yaml")
		if err != nil {
			return nil, err
		}
		if rs.IOC, err = detect.LoadIOC(builtinRules, "ioc"); err != nil {
			return nil, err
		}
		for _, f := range rs.Files { // name them as in the source tree
			f.Name = "rules/" + f.Name
			for _, r := range f.Rules {
				r.File = f.Name
			}
			for _, t := range f.Tests {
				t.File = f.Name
			}
		}
		return rs, nil
	}
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			return nil, userErrorf("rules: %v", err)
		}
	}
	rs, err := detect.LoadPaths(paths...)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, p := range paths {
		dir := p
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			dir = filepath.Dir(p)
		}
		if seen[dir] {
			continue
		}
		seen[dir] = true
		sets, err := detect.LoadIOC(os.DirFS(dir), "ioc")
		if err != nil {
			return nil, fmt.Errorf("%s: %w", dir, err)
		}
		for n, s := range sets {
			rs.IOC[n] = s
		}
	}
	return rs, nil
}

type lintReport struct {
	Files    int              `json:"files"`
	Rules    int              `json:"rules"`
	Problems []detect.Problem `json:"problems"`
}

func runRulesLint(w io.Writer, g *globals, paths []string) error {
	rep := lintReport{Problems: []detect.Problem{}}
	rs, err := loadRules(paths)
	var ue *UserError
	switch {
	case errors.As(err, &ue):
		return err
	case err != nil:
		rep.Problems = append(rep.Problems, detect.Problem{Message: err.Error()})
	default:
		rep.Files = len(rs.Files)
		for _, f := range rs.Files {
			rep.Rules += len(f.Rules)
		}
		rep.Problems = append(rep.Problems, rs.Lint()...)
	}
	if g.format == formatJSON {
		if err := writeJSON(w, rep); err != nil {
			return err
		}
	} else {
		for _, p := range rep.Problems {
			fmt.Fprintln(w, p.String())
		}
		if len(rep.Problems) == 0 {
			fmt.Fprintf(w, "ok  %d rules in %d files\n", rep.Rules, rep.Files)
		}
	}
	if n := len(rep.Problems); n > 0 {
		return &ExitError{Code: 1, Err: fmt.Errorf("rules lint: %d problem%s", n, plural(n))}
	}
	return nil
}

type testFileReport struct {
	File    string              `json:"file"`
	Tests   int                 `json:"tests"`
	Failed  int                 `json:"failed"`
	Results []detect.TestResult `json:"results"`
}

type testReport struct {
	Passed bool             `json:"passed"`
	Files  []testFileReport `json:"files"`
}

func runRulesTest(w io.Writer, g *globals, paths []string) error {
	rs, err := loadRules(paths)
	if err != nil {
		var ue *UserError
		if errors.As(err, &ue) {
			return err
		}
		return &ExitError{Code: 1, Err: err}
	}
	results, err := detect.RunTests(rs, detect.Options{})
	if err != nil {
		return &ExitError{Code: 1, Err: err}
	}
	rep := testReport{Passed: true, Files: []testFileReport{}}
	byFile := map[string]int{}
	for _, f := range rs.Files {
		byFile[f.Name] = len(rep.Files)
		rep.Files = append(rep.Files, testFileReport{File: f.Name, Results: []detect.TestResult{}})
	}
	failed := 0
	for _, r := range results {
		fr := &rep.Files[byFile[r.File]]
		fr.Tests++
		fr.Results = append(fr.Results, r)
		if !r.Passed {
			fr.Failed++
			failed++
			rep.Passed = false
		}
	}
	if g.format == formatJSON {
		if err := writeJSON(w, rep); err != nil {
			return err
		}
	} else {
		width := 0
		for _, f := range rep.Files {
			width = max(width, len(f.File))
		}
		for _, f := range rep.Files {
			status := "ok  "
			if f.Failed > 0 {
				status = "FAIL"
			}
			fmt.Fprintf(w, "%s  %-*s  %d test%s", status, width, f.File, f.Tests, plural(f.Tests))
			if f.Failed > 0 {
				fmt.Fprintf(w, ", %d failed", f.Failed)
			}
			fmt.Fprintln(w)
			for _, r := range f.Results {
				if r.Passed {
					continue
				}
				fmt.Fprintf(w, "    %s:%d: %s\n", r.File, r.Line, r.Name)
				for _, p := range r.Problems {
					fmt.Fprintf(w, "        %s\n", p)
				}
				fmt.Fprintf(w, "        got:  [%s]\n        want: [%s]\n", ruleIDs(r.Got), ruleIDs(r.Want))
			}
		}
	}
	if failed > 0 {
		return &ExitError{Code: 1, Err: fmt.Errorf("rules test: %d of %d tests failed", failed, len(results))}
	}
	return nil
}

func ruleIDs(es []detect.Expect) string {
	ids := make([]string, len(es))
	for i, e := range es {
		ids[i] = e.Rule
	}
	return strings.Join(ids, ", ")
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
