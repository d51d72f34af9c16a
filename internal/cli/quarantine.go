package cli

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigilsec/vigil/internal/respond/audit"
	"github.com/vigilsec/vigil/internal/respond/quarantine"
)

func newQuarantineCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "quarantine",
		Short: "List, restore or delete quarantined files",
		Long: `Files quarantined by a response are kept in <data-dir>/quarantine with their
original path, mode, owner, mtime and SHA-256. Restore puts one back (checking its
hash); delete removes it for good. Restores and deletes are written to the audit log.`,
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List quarantined files",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runQuarantineList(cmd.OutOrStdout(), g)
		},
	}
	var force bool
	restore := &cobra.Command{
		Use:   "restore ID",
		Short: "Move a quarantined file back to its original path",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runQuarantineChange(cmd.OutOrStdout(), g, "restore", args[0], force)
		},
	}
	restore.Flags().BoolVar(&force, "force", false, "replace a file that now exists at the original path")
	del := &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a quarantined file for good",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runQuarantineChange(cmd.OutOrStdout(), g, "delete", args[0], false)
		},
	}
	cmd.AddCommand(list, restore, del)
	return cmd
}

func runQuarantineList(w io.Writer, g *globals) error {
	if err := g.requireFormat("quarantine list", formatTable, formatJSON); err != nil {
		return err
	}
	s, err := quarantine.Open(g.dataDir)
	if err != nil {
		return err
	}
	entries, lerr := s.List()
	if lerr != nil && g.logger != nil {
		g.logger.Warn("unreadable quarantine entries", "error", lerr)
	}
	if entries == nil {
		entries = []quarantine.Meta{}
	}
	if g.format == formatJSON {
		return writeJSON(w, entries)
	}
	t := newTable("Quarantined files",
		column{name: "ID", max: 32}, column{name: "QUARANTINED (UTC)", max: 19},
		column{name: "RULE", max: 20}, column{name: "ORIGINAL PATH"})
	t.wrapLast = true // a path must be read whole
	for _, m := range entries {
		t.add(m.ID, m.Time.UTC().Format(time.DateTime), m.RuleID, m.OriginalPath)
	}
	t.render(w)
	return nil
}

func runQuarantineChange(w io.Writer, g *globals, action, id string, force bool) error {
	s, err := quarantine.Open(g.dataDir)
	if err != nil {
		return err
	}
	log, err := audit.Open(g.dataDir)
	if err != nil {
		return err
	}
	defer log.Close()
	rec := audit.Record{Action: action, Target: id, Result: audit.ResultOK}
	var m quarantine.Meta
	switch action {
	case "restore":
		m, err = s.Restore(id, force)
		if err == nil {
			rec.Target = id + " → " + m.OriginalPath
		}
	case "delete":
		m, err = s.Get(id)
		if err == nil {
			err = s.Delete(id)
			rec.Target = id + " (" + m.OriginalPath + ")"
		}
	}
	rec.AlertID, rec.RuleID = m.AlertID, m.RuleID
	if err != nil {
		rec.Result, rec.Error = audit.ResultFailed, err.Error()
	}
	if aerr := log.Write(rec); aerr != nil {
		return errors.Join(err, aerr)
	}
	if err != nil {
		if errors.Is(err, quarantine.ErrExists) {
			return userErrorf("%v (use --force to replace it)", err)
		}
		return err
	}
	if action == "restore" {
		fmt.Fprintf(w, "restored %s to %s\n", id, m.OriginalPath)
	} else {
		fmt.Fprintf(w, "deleted %s (%s)\n", id, m.OriginalPath)
	}
	return nil
}
