package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vigilsec/vigil/internal/version"
)

func newVersionCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of this binary",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.requireFormat("version", formatTable, formatJSON); err != nil {
				return err
			}
			v := version.Get()
			w := cmd.OutOrStdout()
			if g.format == formatJSON {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(v)
			}
			fmt.Fprintf(w, "vigil %s", v.Version)
			if v.Commit != "" {
				c := v.Commit
				if len(c) > 12 {
					c = c[:12]
				}
				if v.Modified {
					c += "+dirty"
				}
				fmt.Fprintf(w, " (%s)", c)
			}
			fmt.Fprintf(w, " %s %s\n", v.GoVersion, v.Platform)
			return nil
		},
	}
}
