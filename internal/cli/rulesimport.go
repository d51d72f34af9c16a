package cli

import (
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/vigilsec/vigil/internal/malware"
)

func newRulesImportCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "import PATH...",
		Short: "Import YARA rule files and SHA-256 IOC lists for the malware scanner",
		Long: `Import copies YARA rule files (.yar, .yara) and SHA-256 IOC lists (one hash per
line with an optional name, '#' comments, or sha256sum output) into <data-dir>/rules,
where 'vigil scan files' and the agent load them beside the shipped rules. A PATH is a
file or a directory searched recursively. Every file is checked first: YARA files must
compile (unsupported features are refused) and IOC lists must parse; any problem
imports nothing and names the file and line.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRulesImport(cmd.OutOrStdout(), g, args)
		},
	}
}

func runRulesImport(w io.Writer, g *globals, paths []string) error {
	res, err := malware.Import(g.dataDir, paths)
	if err != nil {
		return userErrorf("rules import: %v", err)
	}
	if g.format == formatJSON {
		return writeJSON(w, res)
	}
	t := newTable("Imported rules", column{name: "TYPE", max: 6}, column{name: "COUNT", max: 8},
		column{name: "STATUS", max: 9}, column{name: "SOURCE", max: 50}, column{name: "STORED AS"})
	t.wrapLast = true
	for _, im := range res.Imported {
		t.add(im.Type, strconv.Itoa(im.Count), im.Status, im.Source, im.Dest)
	}
	t.render(w)
	for _, p := range res.Ignored {
		fmt.Fprintf(w, "ignored (not .yar/.yara or an IOC list extension): %s\n", p)
	}
	return nil
}
