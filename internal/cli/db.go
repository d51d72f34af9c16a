package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigilsec/vigil/internal/geoip"
	"github.com/vigilsec/vigil/internal/plugin"
	"github.com/vigilsec/vigil/internal/vuln/osv"
)

// Default feed locations for `vigil db update`. OSV publishes one
// all.zip per ecosystem under its bucket; CISA and FIRST publish the KEV
// catalogue and EPSS scores.
const (
	defaultOSVBaseURL = "https://osv-vulnerabilities.storage.googleapis.com"
	defaultKEVURL     = "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"
	defaultEPSSURL    = "https://epss.cyentia.com/epss_scores-current.csv.gz"
)

func newDBCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "db",
		Short: "Manage the local vulnerability database (OSV, CISA KEV, EPSS)",
		Long: `The vulnerability database lives in <data-dir>/vulndb. It holds OSV records per
ecosystem, the CISA Known Exploited Vulnerabilities catalogue and EPSS scores. Every
import or update builds a new generation aside and swaps it in atomically.`,
	}
	cmd.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		if err := g.setup(cmd.ErrOrStderr()); err != nil {
			return err
		}
		return g.requireFormat("db", formatTable, formatJSON)
	}
	cmd.AddCommand(newDBImportCommand(g), newDBUpdateCommand(g), newDBStatusCommand(g))
	return cmd
}

func newDBImportCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "import PATH...",
		Short: "Import OSV exports (all.zip), record directories or files, YAML, KEV JSON and EPSS CSV",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, p := range args {
				if _, err := os.Stat(p); err != nil {
					return userErrorf("import: %v", err)
				}
			}
			rep, err := osv.Import(cmd.Context(), g.dataDir, args, nil)
			return reportDB(cmd.OutOrStdout(), g, rep, err)
		},
	}
}

func newDBUpdateCommand(g *globals) *cobra.Command {
	var o osv.UpdateOptions
	var noFeeds, withGeoIP bool
	var geoipURL string
	cmd := &cobra.Command{
		Use:   "update",
		Short: "Download the OSV exports of the ecosystems in use, and the KEV and EPSS feeds",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if noFeeds {
				o.KEVURL, o.EPSSURL = "", ""
			}
			rep, err := osv.Update(cmd.Context(), g.dataDir, o)
			var gerr error
			var ginfo geoip.Info
			if withGeoIP {
				ginfo, gerr = updateGeoIP(cmd.Context(), nil, g.dataDir, geoipURL, o.Timeout, time.Now())
				if gerr != nil {
					g.logger.Error("GeoIP database not updated", "error", gerr)
				} else {
					g.logger.Info("GeoIP database installed", "path", ginfo.Path, "type", ginfo.Type,
						"built", dateOnly(ginfo.BuildTime), "url", ginfo.URL)
				}
			}
			if err := reportDB(cmd.OutOrStdout(), g, rep, err); err != nil {
				return errors.Join(err, gerr)
			}
			if gerr == nil && withGeoIP && g.format != formatJSON {
				fmt.Fprintf(cmd.OutOrStdout(), "GeoIP: %s built %s (%s)\n", ginfo.Type, dateOnly(ginfo.BuildTime), ginfo.Path)
			}
			return gerr
		},
	}
	f := cmd.Flags()
	f.BoolVar(&withGeoIP, "geoip", true, "also download the free DB-IP city database for login analysis (IP Geolocation by DB-IP, CC BY 4.0)")
	f.StringVar(&geoipURL, "geoip-url", "", "GeoIP city database (MaxMind format, plain or gzip) to download instead of this month's DB-IP lite")
	f.StringVar(&o.BaseURL, "base-url", defaultOSVBaseURL, "where OSV exports live, as <base-url>/<Ecosystem>/all.zip")
	f.StringSliceVar(&o.Ecosystems, "ecosystem", nil, "ecosystems to download (default: those already in the database)")
	f.StringVar(&o.KEVURL, "kev-url", defaultKEVURL, "CISA KEV catalogue (JSON)")
	f.StringVar(&o.EPSSURL, "epss-url", defaultEPSSURL, "EPSS scores (CSV, plain or gzip)")
	f.BoolVar(&noFeeds, "no-feeds", false, "do not download KEV and EPSS")
	f.DurationVar(&o.Timeout, "timeout", 10*time.Minute, "time limit for each download")
	return cmd
}

func newDBStatusCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show what the vulnerability database holds",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			db, err := osv.Open(g.dataDir)
			if err != nil {
				return fmt.Errorf("open vulnerability database: %w (run 'vigil db import' or 'vigil db update' first)", err)
			}
			defer db.Close()
			st := db.Status()
			w := cmd.OutOrStdout()
			if g.format == formatJSON {
				return writeJSON(w, st)
			}
			t := newTable("VULNERABILITY DATABASE "+st.Dir,
				column{"ECOSYSTEM", 16}, column{"RECORDS", 8}, column{"PACKAGES", 8}, column{"WITHDRAWN", 9},
				column{"IMPORTED", 20}, column{"SOURCE", 0})
			for _, e := range st.Ecosystems {
				src := ""
				if len(e.Sources) > 0 {
					src = e.Sources[0]
				}
				t.add(e.Ecosystem, strconv.Itoa(e.Records), strconv.Itoa(e.Packages), strconv.Itoa(e.Withdrawn),
					timeString(e.Imported), src)
			}
			t.render(w)
			if k := st.KEV; k != nil {
				fmt.Fprintf(w, "KEV:  %d entries, catalogue %s released %s, imported %s\n",
					k.Entries, k.CatalogVersion, dateOnly(k.DateReleased), timeString(k.Imported))
			} else {
				fmt.Fprintln(w, "KEV:  not imported")
			}
			if e := st.EPSS; e != nil {
				fmt.Fprintf(w, "EPSS: %d scores, model %s, score date %s, imported %s\n",
					e.Rows, e.ModelVersion, dateOnly(e.ScoreDate), timeString(e.Imported))
			} else {
				fmt.Fprintln(w, "EPSS: not imported")
			}
			return nil
		},
	}
}

func dateOnly(t time.Time) string {
	if t.IsZero() {
		return "?"
	}
	return t.UTC().Format("2006-01-02")
}

// reportDB prints an import or update report. Skipped malformed records
// (a partial import) are listed but do not fail the command: the rest
// was committed.
func reportDB(w io.Writer, g *globals, rep *osv.Report, err error) error {
	var pe *plugin.PartialError
	if err != nil && !errors.As(err, &pe) {
		return err
	}
	if rep == nil {
		return errors.New("no report")
	}
	if g.format == formatJSON {
		out := struct {
			*osv.Report
			Problems []string `json:"problems,omitempty"`
		}{Report: rep}
		if pe != nil {
			out.Problems = pe.Problems
		}
		return writeJSON(w, out)
	}
	fmt.Fprintf(w, "%d records indexed in %v (%d skipped as malformed, %d duplicates, %d naming no package)\n",
		rep.Records, rep.Duration.Round(time.Millisecond), rep.Skipped, rep.Duplicates, rep.Unindexed)
	if len(rep.Ecosystems) > 0 {
		fmt.Fprintf(w, "ecosystems: %v\n", rep.Ecosystems)
	}
	if rep.KEV > 0 {
		fmt.Fprintf(w, "KEV: %d entries\n", rep.KEV)
	}
	if rep.EPSS > 0 {
		fmt.Fprintf(w, "EPSS: %d scores\n", rep.EPSS)
	}
	for _, s := range rep.NotModified {
		fmt.Fprintf(w, "unchanged: %s\n", s)
	}
	if pe != nil {
		for _, p := range pe.Problems {
			g.logger.Warn("skipped", "problem", p)
		}
	}
	return nil
}

// updateGeoIP installs the GeoIP city database in the data directory:
// from url, or this month's DB-IP lite file (last month's while this
// month's is not out yet).
func updateGeoIP(ctx context.Context, client *http.Client, dataDir, url string, timeout time.Duration, now time.Time) (geoip.Info, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	dst := filepath.Join(dataDir, geoip.CityFile)
	if url != "" {
		return geoip.Download(ctx, client, url, dst)
	}
	info, err := geoip.Download(ctx, client, geoip.DefaultCityURL(now), dst)
	if errors.Is(err, geoip.ErrNotFound) {
		info, err = geoip.Download(ctx, client, geoip.DefaultCityURL(now.AddDate(0, 0, -now.Day())), dst)
	}
	return info, err
}
