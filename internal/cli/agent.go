package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigilsec/vigil/internal/agent"
)

type agentOptions struct {
	config        string
	standalone    bool
	alertsFile    string
	internalCIDRs []string
	metrics       string
	sensors       string
	rules         []string
	act           []string
	record        string
	pprof         bool
	server        string
	enrolToken    string
}

func newAgentCommand(g *globals) *cobra.Command {
	o := &agentOptions{}
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run the runtime agent: sensors, detection rules, responses and scheduled inventory",
		Long: `Run the agent on this host (as root). It attaches the eBPF sensors — or, where the
kernel does not allow them, the proc connector, fanotify and sock_diag fallbacks — judges
every event with the detection rules, carries out the responses the rules and the
configuration allow, and collects the inventory on a schedule.

With --server (and, the first time, --enrol-token from the console) the agent enrols with
its Vigil server and from then on streams heartbeats, alerts and inventory to it over mTLS
from an on-disk spool, and runs the server's signed tasks. Standalone mode (--standalone)
needs no server. Either way alerts are also written as JSON lines to --alerts-file, and
Prometheus metrics are served on --metrics-listen. The log says "ready" once the sensors are attached; so does
"vigil agent status".

Configuration: ` + agent.DefaultConfigPath + ` (see docs/agent.md); flags override it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runAgent(cmd, g, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.config, "config", agent.DefaultConfigPath, "agent configuration file")
	f.BoolVar(&o.standalone, "standalone", false, "run without a server, writing alerts to --alerts-file")
	f.StringVar(&o.server, "server", "", "the Vigil server's agent link, host:port or https://host:port (default from the config)")
	f.StringVar(&o.enrolToken, "enroll-token", "", "one-time enrolment token from the console (first start only)")
	f.StringVar(&o.enrolToken, "enrol-token", "", "same as --enroll-token")
	f.MarkHidden("enrol-token")
	f.StringVar(&o.alertsFile, "alerts-file", "", "file that receives one JSON alert per line (default from the config: /var/log/vigil/alerts.jsonl)")
	f.StringArrayVar(&o.internalCIDRs, "internal-cidr", nil, "an internal network for the lateral-movement rules (repeatable; replaces the config's list)")
	f.StringVar(&o.metrics, "metrics-listen", "", `address of the /metrics endpoint (default from the config: 127.0.0.1:9477; "off" disables)`)
	f.StringVar(&o.sensors, "sensors", "", "sensor mode: auto, ebpf or fallback (default from the config: auto)")
	f.StringArrayVar(&o.rules, "rules", nil, "extra rule file or directory (repeatable)")
	f.StringArrayVar(&o.act, "act", nil, `let a rule act on its response ("RULE-ID", or "RULE-ID=false" to keep it alert-only; repeatable)`)
	f.StringVar(&o.record, "record", "", "write every event, enriched, to this file as JSON lines (rule development and benchmarks; grows without bound)")
	f.BoolVar(&o.pprof, "pprof", false, "serve Go profiles under /debug/pprof/ on the metrics address (diagnostics)")
	cmd.AddCommand(newAgentStatusCommand(g))
	return cmd
}

func runAgent(cmd *cobra.Command, g *globals, o *agentOptions) error {
	cfg, err := agent.LoadConfig(o.config, cmd.Flags().Changed("config"))
	if err != nil {
		return &UserError{Err: err}
	}
	if err := o.apply(&cfg); err != nil {
		return err
	}
	switch {
	case o.standalone:
		cfg.Server = agent.ServerConfig{}
	case cfg.Server.Address == "":
		return userErrorf("no server: give --server HOST:PORT (and --enroll-token the first time), set server.address in %s, or run with --standalone", o.config)
	case cfg.Server.EnrolToken == "" && !agent.Enrolled(g.dataDir):
		return userErrorf("this agent is not enrolled yet: give --enroll-token from the console (Settings → Enrolment tokens) or `vigil server token`")
	}
	return runAgentWith(cmd.Context(), cfg, g, daemonLogger(cmd, g))
}

// apply lays the command-line flags over the configuration file's values.
func (o *agentOptions) apply(cfg *agent.Config) error {
	if o.server != "" {
		cfg.Server.Address = o.server
	}
	addr, err := agent.LinkAddress(cfg.Server.Address)
	if err != nil {
		return &UserError{Err: err}
	}
	cfg.Server.Address = addr
	if o.enrolToken != "" {
		cfg.Server.EnrolToken = o.enrolToken
	}
	if o.alertsFile != "" {
		cfg.AlertsFile = o.alertsFile
	}
	if len(o.internalCIDRs) > 0 {
		cfg.InternalCIDRs = o.internalCIDRs
	}
	switch o.metrics {
	case "":
	case "off":
		cfg.MetricsListen = ""
	default:
		cfg.MetricsListen = o.metrics
	}
	if o.sensors != "" {
		cfg.Sensors.Mode = o.sensors
	}
	cfg.Rules.Paths = append(cfg.Rules.Paths, o.rules...)
	cfg.RecordFile = o.record
	cfg.Pprof = o.pprof
	for _, a := range o.act {
		id, val, _ := strings.Cut(a, "=")
		if cfg.Rules.Act == nil {
			cfg.Rules.Act = map[string]bool{}
		}
		cfg.Rules.Act[id] = val != "false"
	}
	return nil
}

// runAgentWith wires and runs the agent until ctx ends.
func runAgentWith(ctx context.Context, cfg agent.Config, g *globals, log *slog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return &UserError{Err: err}
	}
	deps, err := agent.Wire(ctx, cfg, g.dataDir, log)
	if err != nil {
		return err
	}
	a, err := agent.New(cfg, g.dataDir, deps, log)
	if err != nil {
		if deps.Close != nil {
			deps.Close()
		}
		return err
	}
	return a.Run(ctx)
}

func newAgentStatusCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show whether the agent runs, in which sensor mode and why, and its counters",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.requireFormat("agent status", formatTable, formatJSON); err != nil {
				return err
			}
			st, alive, err := agent.ReadStatus(g.dataDir, agent.Default().StatusEvery.D(), time.Now())
			if err != nil {
				return &ExitError{Code: 3, Err: err}
			}
			w := cmd.OutOrStdout()
			if g.format == formatJSON {
				if err := writeJSON(w, struct {
					Running bool `json:"running"`
					*agent.Status
				}{alive, st}); err != nil {
					return err
				}
			} else {
				printAgentStatus(w, st, alive)
			}
			if !alive {
				return &ExitError{Code: 3, Err: errors.New("agent is not running")}
			}
			return nil
		},
	}
}

func printAgentStatus(w io.Writer, st *agent.Status, alive bool) {
	state := "not running"
	switch {
	case alive && st.Ready:
		state = "ready"
	case alive:
		state = "starting"
	}
	fmt.Fprintf(w, "agent     %s (pid %d, version %s, host %s)\n", state, st.PID, st.Version, st.Host)
	fmt.Fprintf(w, "since     %s; status updated %s\n", st.Started.Format(time.RFC3339), st.Updated.Format(time.RFC3339))
	fmt.Fprintf(w, "mode      %s\n", st.Mode)
	fmt.Fprintf(w, "alerts    %d written to %s\n", st.Alerts, st.AlertsFile)
	if st.Metrics != "" {
		fmt.Fprintf(w, "metrics   http://%s/metrics\n", st.Metrics)
	}
	fmt.Fprintf(w, "events    %d handled; queue %d/%d; rss %.1f MiB; cpu %.1fs\n",
		st.Events, st.QueueLen, st.QueueCap, float64(st.RSSBytes)/(1<<20), st.CPUSeconds)
	for _, n := range st.Notes {
		fmt.Fprintf(w, "note      %s\n", n)
	}
	fmt.Fprintln(w)
	t := newTable("SENSORS", column{"SENSOR", 10}, column{"MODE", 9}, column{"EVENTS", 10}, column{"DROPPED", 9}, column{"ATTACHED / REASON", 0})
	t.wrapLast = true
	for _, s := range st.Sensors {
		// The full attach list is in --format json; the table names the
		// first hooks and the reason for a degraded mode.
		detail := strings.Join(s.Attach[:min(2, len(s.Attach))], ", ")
		if len(s.Attach) > 2 {
			detail += fmt.Sprintf(" +%d more", len(s.Attach)-2)
		}
		if s.Reason != "" {
			detail = strings.TrimSuffix(s.Reason+"; "+detail, "; ")
		}
		// The sink's refusals are the agent queue's drops: count them once.
		t.add(s.Name, string(s.Mode), fmt.Sprint(s.Stats.Events), fmt.Sprint(s.Stats.KernelDropped+s.QueueDrops), detail)
	}
	t.render(w)
	if len(st.RuleHits) > 0 {
		fmt.Fprintln(w)
		rt := newTable("RULE HITS", column{"RULE", 40}, column{"ALERTS", 0})
		for _, id := range st.SortedHits() {
			rt.add(id, fmt.Sprint(st.RuleHits[id]))
		}
		rt.render(w)
	}
}
