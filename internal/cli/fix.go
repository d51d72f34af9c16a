package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/vigilsec/vigil/internal/finding"
	"github.com/vigilsec/vigil/internal/vuln/fix"
	"github.com/vigilsec/vigil/internal/vuln/osv"
)

func newFixCommand(g *globals) *cobra.Command {
	var dryRun bool
	var rollback string
	cmd := &cobra.Command{
		Use:   "fix FINDING-KEY... | --rollback RECORD",
		Short: "Upgrade this host's OS packages to fix findings, keeping a record to roll back",
		Long: `fix re-scans this host's OS packages, selects the findings named by their keys (the KEY
column of 'vigil scan host'; "<OSV ID>/<ecosystem>/<package>"), and upgrades every installed
package built from the same source to the lowest available fixed version with apt-get.
Before anything runs, the installed versions are written to <data-dir>/fix/<time>-<id>.json;
'vigil fix --rollback FILE' reinstalls them. Debian and Ubuntu (apt) only for now.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.requireFormat("fix", formatTable); err != nil {
				return err
			}
			opts := fix.Options{Output: cmd.ErrOrStderr()}
			w := cmd.OutOrStdout()
			if rollback != "" {
				if len(args) > 0 {
					return userErrorf("fix: --rollback takes no finding keys")
				}
				if os.Geteuid() != 0 {
					return userErrorf("fix --rollback: run as root: it reinstalls packages")
				}
				rec, err := fix.Rollback(cmd.Context(), rollback, opts)
				if rec != nil && len(rec.Rollbacks) > 0 {
					if n := rec.Rollbacks[len(rec.Rollbacks)-1].Note; n != "" {
						fmt.Fprintln(w, n)
					}
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(w, "rolled back: %s\n", rollback)
				return nil
			}
			if len(args) == 0 {
				return userErrorf("fix: name at least one finding key (see 'vigil scan host')")
			}
			findings, err := hostOSFindings(cmd, g)
			if err != nil {
				return err
			}
			sel, err := fix.Select(findings, args)
			if err != nil {
				return &UserError{Err: err}
			}
			plan, err := fix.NewPlan(cmd.Context(), sel, opts)
			if err != nil {
				return err
			}
			if err := plan.Print(w); err != nil {
				return err
			}
			if dryRun {
				return nil
			}
			if os.Geteuid() != 0 {
				return userErrorf("fix: run as root to upgrade packages (or use --dry-run)")
			}
			rec, err := plan.Execute(cmd.Context(), g.dataDir)
			if rec != nil {
				fmt.Fprintf(w, "record: %s (undo with: vigil fix --rollback %s)\n", rec.Path, rec.Path)
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the plan and change nothing")
	cmd.Flags().StringVar(&rollback, "rollback", "", "restore the package versions saved in this fix record")
	return cmd
}

// hostOSFindings reads this host's OS package databases (not the whole
// tree: fix only upgrades OS packages) and matches them.
func hostOSFindings(cmd *cobra.Command, g *globals) ([]finding.Finding, error) {
	db, err := osv.Open(g.dataDir)
	if err != nil {
		return nil, fmt.Errorf("open vulnerability database: %w (run 'vigil db import' or 'vigil db update' first)", err)
	}
	defer db.Close()
	return fix.HostOSFindings(cmd.Context(), db, "/")
}
