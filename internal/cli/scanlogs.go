package cli

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/authlog"
	"github.com/vigilsec/vigil/internal/detect"
	"github.com/vigilsec/vigil/internal/geoip"
	"github.com/vigilsec/vigil/internal/login"
)

type scanLogsOptions struct {
	rules       []string
	geoipDB     string
	geoipASN    string
	learningMin int
	maxSpeed    float64
}

// newScanLogsCommand is `vigil scan logs`: the auth rules and login
// analyzers over log files, offline.
func newScanLogsCommand(g *globals) *cobra.Command {
	o := &scanLogsOptions{}
	cmd := &cobra.Command{
		Use:   "logs FILE...",
		Short: "Find brute force and abnormal logins in authentication logs (auth.log, journal JSON, wtmp/btmp)",
		Long: `Logs reads authentication records from syslog files (auth.log, secure; gzip-compressed
ones too), journal exports ('journalctl -o json') and wtmp/btmp, telling each file's format
from its content, and runs them in time order through the auth rules (rules/auth.yaml and
--rules) and the abnormal-login analyzers (new country or network for an account, impossible
travel; locations need a GeoIP database: --geoip-db, or the one 'vigil db update' installs).
It prints the alerts the agent would have raised; it never acts on them.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.requireFormat("scan logs", formatTable, formatJSON); err != nil {
				return err
			}
			return runScanLogs(cmd, g, o, args)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.rules, "rules", nil, "extra rule file or directory (repeatable); a rule with a shipped rule's ID replaces it")
	f.StringVar(&o.geoipDB, "geoip-db", "", "GeoIP city database (MaxMind format; default: the data directory's, when present)")
	f.StringVar(&o.geoipASN, "geoip-asn", "", "GeoIP ASN database (MaxMind format; default: the data directory's, when present)")
	f.IntVar(&o.learningMin, "learning-min", 5, "logins an account needs before new-country and new-network alerts")
	f.Float64Var(&o.maxSpeed, "max-speed", 1000, "fastest believable travel between two logins, km/h")
	return cmd
}

// scanLogsReport is the JSON output of `vigil scan logs`.
type scanLogsReport struct {
	Events int              `json:"events"`
	Alerts []*alert.Alert   `json:"alerts"`
	Files  []scanLogsSource `json:"files"`
}

type scanLogsSource struct {
	Path    string `json:"path"`
	Format  string `json:"format"` // "syslog", "journal", "wtmp", "btmp"
	Records int    `json:"records"`
	// Skipped counts lines or records that could not be read.
	Skipped int `json:"skipped,omitempty"`
}

func runScanLogs(cmd *cobra.Command, g *globals, o *scanLogsOptions, paths []string) error {
	rs, err := login.LoadRules(o.rules...)
	if err != nil {
		return userErrorf("rules: %v", err)
	}
	eng, err := detect.New(rs, detect.Options{})
	if err != nil {
		return userErrorf("%v", err)
	}
	geo, err := openScanGeoIP(g, o)
	if err != nil {
		return err
	}
	if geo != nil {
		defer geo.Close()
	}
	an, err := login.New(login.Config{LearningMin: o.learningMin, MaxSpeedKMH: o.maxSpeed}, geo, nil)
	if err != nil {
		return userErrorf("%v", err)
	}
	rep := &scanLogsReport{Alerts: []*alert.Alert{}}
	var recs login.Records
	for _, p := range paths {
		if err := cmd.Context().Err(); err != nil {
			return err
		}
		src, err := readAuthFile(p, &recs)
		if err != nil {
			return err
		}
		if src.Skipped > 0 {
			g.logger.Warn("unreadable entries skipped", "file", p, "format", src.Format, "skipped", src.Skipped)
		}
		rep.Files = append(rep.Files, src)
	}
	pl := &login.Pipeline{Engine: eng, Analyzer: an}
	for _, r := range recs.ByTime() {
		rep.Alerts = append(rep.Alerts, pl.Alerts(r)...)
	}
	rep.Events = recs.Len()
	if g.format == formatJSON {
		return writeJSON(cmd.OutOrStdout(), rep)
	}
	printScanLogs(cmd.OutOrStdout(), rep)
	return nil
}

// openScanGeoIP opens the databases named by flags, else the data
// directory's; none is no error (locations are then unknown).
func openScanGeoIP(g *globals, o *scanLogsOptions) (*geoip.DB, error) {
	city, asn := o.geoipDB, o.geoipASN
	if city == "" && asn == "" {
		for _, c := range []struct {
			p    *string
			name string
		}{{&city, geoip.CityFile}, {&asn, geoip.ASNFile}} {
			p := filepath.Join(g.dataDir, c.name)
			if _, err := os.Stat(p); err == nil {
				*c.p = p
			}
		}
		if city == "" && asn == "" {
			g.logger.Info("no GeoIP database: country, network and travel alerts are off (see 'vigil db update')")
			return nil, nil
		}
	}
	db, err := geoip.Open(city, asn)
	if err != nil {
		return nil, userErrorf("%v", err)
	}
	return db, nil
}

// readAuthFile adds one file's authentication records to recs, telling its
// format from its content (and, for wtmp/btmp, its name).
func readAuthFile(path string, recs *login.Records) (scanLogsSource, error) {
	src := scanLogsSource{Path: path}
	f, err := os.Open(path)
	if err != nil {
		return src, userErrorf("%v", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return src, err
	}
	if fi.IsDir() {
		return src, userErrorf("%s: is a directory", path)
	}
	var r io.Reader = bufio.NewReaderSize(f, 64<<10)
	br := r.(*bufio.Reader)
	if head, _ := br.Peek(2); len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return src, userErrorf("%s: gzip: %v", path, err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 64<<10)
	}
	head, _ := br.Peek(4096)
	base := strings.ToLower(filepath.Base(path))
	switch {
	case strings.HasPrefix(base, "wtmp") || strings.HasPrefix(base, "btmp") || bytes.IndexByte(head, 0) >= 0:
		failed := strings.HasPrefix(base, "btmp")
		src.Format = "wtmp"
		if failed {
			src.Format = "btmp"
		}
		evs, err := authlog.ReadUtmp(br, path, failed)
		src.Records = len(evs)
		if err != nil {
			if len(evs) == 0 {
				return src, userErrorf("%s: not a readable wtmp/btmp file: %v", path, err)
			}
			src.Skipped = strings.Count(err.Error(), "\n") + 1
		}
		for i := range evs {
			recs.Add(&evs[i])
		}
		return src, nil
	case bytes.HasPrefix(bytes.TrimLeft(head, " \t\r\n"), []byte("{")):
		src.Format = "journal"
		n, lines, bad := 0, 0, 0
		var firstErr error
		err := authlog.EachLine(br, func(line []byte) {
			if len(bytes.TrimSpace(line)) == 0 {
				return
			}
			lines++
			ev, ok, err := authlog.ParseJournalJSON(line)
			if err != nil {
				bad++
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			if ok {
				recs.Add(&ev)
				n++
			}
		})
		if err != nil {
			return src, fmt.Errorf("%s: %w", path, err)
		}
		if lines > 0 && bad == lines {
			return src, userErrorf("%s: not a journal JSON export: %v", path, firstErr)
		}
		src.Records, src.Skipped = n, bad
		return src, nil
	default:
		src.Format = "syslog"
		// RFC 3164 stamps have no year: the file's modification time
		// anchors it.
		n := 0
		err := authlog.ReadSyslog(br, fi.ModTime(), func(ev *authlog.Event) {
			recs.Add(ev)
			n++
		})
		if err != nil {
			return src, fmt.Errorf("%s: %w", path, err)
		}
		src.Records = n
		return src, nil
	}
}

func printScanLogs(w io.Writer, rep *scanLogsReport) {
	for _, f := range rep.Files {
		fmt.Fprintf(w, "%s: %s, %d records", f.Path, f.Format, f.Records)
		if f.Skipped > 0 {
			fmt.Fprintf(w, " (%d unreadable skipped)", f.Skipped)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
	t := newTable(fmt.Sprintf("%d alerts from %d authentication records", len(rep.Alerts), rep.Events),
		column{"TIME", 20}, column{"SEVERITY", 8}, column{"RULE", 28}, column{"SOURCE", 18}, column{"USER", 12}, column{"DETAIL", 40})
	for _, a := range rep.Alerts {
		t.add(a.Time.UTC().Format(time.DateTime), a.Severity.String(), a.Rule.ID,
			evidenceString(a, "src_ip"), evidenceString(a, "user"), alertDetail(a))
	}
	t.render(w)
}

func evidenceString(a *alert.Alert, k string) string {
	if v, ok := a.Evidence[k]; ok && v != nil {
		return fmt.Sprint(v)
	}
	return ""
}

// alertDetail is the short, rule-specific part of an alert for the table.
func alertDetail(a *alert.Alert) string {
	var parts []string
	if c, ok := a.Evidence["count"]; ok {
		parts = append(parts, fmt.Sprintf("%v in %v", c, a.Evidence["window"]))
	}
	if d, ok := a.Evidence["distinct_values"].([]string); ok {
		parts = append(parts, strings.Join(d, ","))
	}
	for _, k := range []string{"country", "previous_country", "speed_kmh", "asn", "hour"} {
		if v, ok := a.Evidence[k]; ok {
			parts = append(parts, fmt.Sprintf("%s=%v", k, v))
		}
	}
	return strings.Join(parts, " ")
}
