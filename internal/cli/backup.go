package cli

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigilsec/vigil/internal/backup"
	"github.com/vigilsec/vigil/internal/respond/audit"
)

func newBackupCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "backup",
		Short: "List and restore the agent's protected backups",
		Long: `The agent keeps versioned, deduplicated backups of the configured important
directories in <data-dir>/backup (the ransomware guard lets no other process write
there). List shows the snapshots, or with --path the versions of a file or of the
files under a directory. Restore puts back a whole snapshot, or the latest version
before --before of a path, byte for byte with mode, owner and mtime; --to writes
under another directory instead of the original paths. Restores are audited.`,
	}
	var path string
	list := &cobra.Command{
		Use:   "list",
		Short: "List snapshots, or the versions under --path",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBackupList(cmd.OutOrStdout(), g, path)
		},
	}
	list.Flags().StringVar(&path, "path", "", "list the versions of this file or of the files under this directory")
	var before, to string
	restore := &cobra.Command{
		Use:   "restore PATH|SNAPSHOT",
		Short: "Restore a snapshot, or a path as it was before a time",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := parseBefore(before, time.Now())
			if err != nil {
				return err
			}
			return runBackupRestore(cmd.OutOrStdout(), g, args[0], t, to)
		},
	}
	restore.Flags().StringVar(&before, "before", "", `restore the latest version older than this: RFC 3339 time, "2006-01-02 15:04:05" (UTC) or a duration ago ("2h")`)
	restore.Flags().StringVar(&to, "to", "", "write files under this directory (DIR/original/path) instead of in place")
	cmd.AddCommand(list, restore)
	return cmd
}

// parseBefore parses --before; "" is the zero time (latest version).
func parseBefore(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateTime, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, userErrorf("--before %q: want an RFC 3339 time, \"2006-01-02 15:04:05\" or a duration such as 2h", s)
}

func openBackups(g *globals) (*backup.Store, error) {
	s, err := backup.Open(backup.Config{Dir: backup.DirIn(g.dataDir), ReadOnly: true})
	if errors.Is(err, backup.ErrNotFound) {
		return nil, userErrorf("no backups in %s: the agent makes them when backup directories are configured", backup.DirIn(g.dataDir))
	}
	return s, err
}

func runBackupList(w io.Writer, g *globals, path string) error {
	if err := g.requireFormat("backup list", formatTable, formatJSON); err != nil {
		return err
	}
	s, err := openBackups(g)
	if err != nil {
		return err
	}
	if path == "" {
		list, err := s.List()
		if err != nil {
			return err
		}
		if list == nil {
			list = []backup.Summary{}
		}
		if g.format == formatJSON {
			return writeJSON(w, list)
		}
		t := newTable("Backups",
			column{name: "SNAPSHOT", max: 35}, column{name: "TIME (UTC)", max: 19}, column{name: "KIND", max: 8},
			column{name: "FILES", max: 8}, column{name: "BYTES", max: 14}, column{name: "ROOTS"})
		t.wrapLast = true
		for _, m := range list {
			t.add(m.ID, m.Time.UTC().Format(time.DateTime), m.Kind, strconv.Itoa(m.Files), strconv.FormatInt(m.Bytes, 10), strings.Join(m.Roots, " "))
		}
		t.render(w)
		return nil
	}
	vs, err := s.Versions(path)
	if err != nil {
		return err
	}
	if vs == nil {
		vs = []backup.Version{}
	}
	if g.format == formatJSON {
		return writeJSON(w, vs)
	}
	t := newTable("Versions under "+path,
		column{name: "BACKED UP (UTC)", max: 19}, column{name: "MODIFIED (UTC)", max: 19}, column{name: "SIZE", max: 12},
		column{name: "MODE", max: 11}, column{name: "SHA256", max: 12}, column{name: "PATH"})
	t.wrapLast = true
	for _, v := range vs {
		t.add(v.Time.UTC().Format(time.DateTime), v.MTime.UTC().Format(time.DateTime), strconv.FormatInt(v.Size, 10),
			v.Mode.String(), v.Hash[:12], v.Path)
	}
	t.render(w)
	return nil
}

func runBackupRestore(w io.Writer, g *globals, target string, before time.Time, to string) error {
	if err := g.requireFormat("backup restore", formatTable, formatJSON); err != nil {
		return err
	}
	if !backup.ValidID(target) && !strings.HasPrefix(target, "/") {
		return userErrorf("backup restore %q: want a snapshot ID (see vigil backup list) or an absolute path", target)
	}
	s, err := openBackups(g)
	if err != nil {
		return err
	}
	log, err := audit.Open(g.dataDir)
	if err != nil {
		return err
	}
	defer log.Close()
	rep, err := s.Restore(target, before, to)
	rec := audit.Record{Action: "restore", Target: "backup " + target, Result: audit.ResultOK}
	if to != "" {
		rec.Target += " → " + to
	}
	switch {
	case err != nil:
		rec.Result, rec.Error = audit.ResultFailed, err.Error()
	case len(rep.Failed) > 0:
		rec.Result, rec.Error = audit.ResultFailed, fmt.Sprintf("%d of %d files failed", len(rep.Failed), len(rep.Failed)+len(rep.Restored))
	}
	if aerr := log.Write(rec); aerr != nil {
		return errors.Join(err, aerr)
	}
	if errors.Is(err, backup.ErrNotFound) {
		return userErrorf("%v", err)
	}
	if err != nil {
		return err
	}
	if g.format == formatJSON {
		if err := writeJSON(w, rep); err != nil {
			return err
		}
	} else {
		t := newTable("Restored", column{name: "VERSION (UTC)", max: 19}, column{name: "SIZE", max: 12}, column{name: "TO"})
		t.wrapLast = true
		for _, r := range rep.Restored {
			t.add(r.Version.UTC().Format(time.DateTime), strconv.FormatInt(r.Size, 10), r.Dest)
		}
		t.render(w)
		for p, why := range rep.Failed {
			fmt.Fprintf(w, "failed: %s: %s\n", p, why)
		}
	}
	if len(rep.Failed) > 0 {
		return fmt.Errorf("backup restore: %d files failed", len(rep.Failed))
	}
	return nil
}
