// Package cli holds Vigil's command line: one file per subcommand. Exit
// codes are chosen only in cmd/vigil from the typed errors defined here.
package cli

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// UserError is a mistake in how Vigil was invoked; main exits with 2.
type UserError struct{ Err error }

func (e *UserError) Error() string { return e.Err.Error() }
func (e *UserError) Unwrap() error { return e.Err }

func userErrorf(format string, args ...any) error {
	return &UserError{Err: fmt.Errorf(format, args...)}
}

// ExitError asks main to exit with Code, printing Err when it is set.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}
func (e *ExitError) Unwrap() error { return e.Err }

// globals are the flags every subcommand shares.
type globals struct {
	dataDir  string
	logLevel string
	format   string
	logger   *slog.Logger
}

const (
	formatTable = "table"
	formatJSON  = "json"
	// Scan reports only.
	formatSARIF     = "sarif"
	formatCycloneDX = "cyclonedx"
)

// NewRootCommand builds the vigil command tree.
func NewRootCommand() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "vigil",
		Short: "Workload protection for Linux servers and containers",
		Long: `Vigil knows every asset of a Linux host, finds and ranks its vulnerabilities,
detects and blocks attacks at runtime, and inspects itself on a schedule.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return g.setup(cmd.ErrOrStderr())
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &UserError{Err: err} })
	pf := root.PersistentFlags()
	pf.StringVar(&g.dataDir, "data-dir", "/var/lib/vigil", "directory for snapshots, caches and databases")
	pf.StringVar(&g.logLevel, "log-level", "warn", "log level: debug, info, warn or error")
	pf.StringVar(&g.format, "format", formatTable, "output format where output applies: table or json; scan also sarif or cyclonedx")

	root.AddCommand(newVersionCommand(g), newInventoryCommand(g), newDBCommand(g), newScanCommand(g), newFixCommand(g),
		newAgentCommand(g), newRulesCommand(g), newQuarantineCommand(g), newBackupCommand(g),
		newServerCommand(g), newUpCommand(g))
	return root
}

func (g *globals) setup(stderr io.Writer) error {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(g.logLevel)); err != nil {
		return userErrorf("--log-level %q: want debug, info, warn or error", g.logLevel)
	}
	g.logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))
	switch g.format {
	case formatTable, formatJSON, formatSARIF, formatCycloneDX:
	default:
		return userErrorf("--format %q: want table or json (scan also: sarif, cyclonedx)", g.format)
	}
	return nil
}

// requireFormat rejects an output format the command cannot write.
func (g *globals) requireFormat(cmd string, allowed ...string) error {
	for _, f := range allowed {
		if g.format == f {
			return nil
		}
	}
	return userErrorf("%s: --format %q: want %s", cmd, g.format, strings.Join(allowed, ", "))
}

// splitList parses a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func stdoutIsTerminal() bool {
	fi, err := os.Stdout.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
