package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/vigilsec/vigil/internal/agent"
	"github.com/vigilsec/vigil/internal/server"
	"github.com/vigilsec/vigil/internal/server/web"
)

type serverOptions struct {
	listen        string
	agentListen   string
	store         string
	names         []string
	secureCookies bool
	publicMetrics bool
}

func (o *serverOptions) flags(cmd *cobra.Command, agentListen string) {
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", server.DefaultListen, "console and API address (HTTP; put a TLS proxy in front to expose it)")
	f.StringVar(&o.agentListen, "agent-listen", agentListen, "agent link address (gRPC over mutual TLS)")
	f.StringVar(&o.store, "store", "", `"" for SQLite in the data directory, or a postgres:// URL`)
	f.StringArrayVar(&o.names, "server-name", nil, "DNS name or IP agents use to reach the link, put in its certificate (repeatable; default: localhost, loopback and the host name)")
	f.BoolVar(&o.secureCookies, "secure-cookies", false, "mark console cookies Secure (when served through HTTPS)")
	f.BoolVar(&o.publicMetrics, "public-metrics", false, "serve /metrics without authentication")
}

func (o *serverOptions) config(g *globals, dataDir string, log *slog.Logger) server.Config {
	return server.Config{DataDir: dataDir, Listen: o.listen, AgentListen: o.agentListen, Store: o.store,
		ServerNames: o.names, SecureCookies: o.secureCookies, PublicMetrics: o.publicMetrics, Logger: log}
}

// serverDataDir is where the server keeps its state under the data
// directory, apart from the agent's.
func serverDataDir(g *globals) string { return filepath.Join(g.dataDir, "server") }

func newServerCommand(g *globals) *cobra.Command {
	o := &serverOptions{}
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the Vigil server: console, REST API, agent link, task centre",
		Long: `Run the server for a fleet of agents. It keeps its state in SQLite under the data
directory (or PostgreSQL with --store), holds the CA that issues agent certificates,
serves the console and /api/v1 on --listen and the agents' mTLS link on --agent-listen.

On first start it creates the user "admin" and prints its password once. Agents enrol
with a token from the console (Settings → Enrolment tokens) or "vigil server token":

  vigil agent --server SERVER:8443 --enroll-token vgl1.…`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			log := daemonLogger(cmd, g)
			srv, err := server.Open(cmd.Context(), o.config(g, serverDataDir(g), log))
			if err != nil {
				return err
			}
			if err := printAdmin(cmd.Context(), cmd.OutOrStdout(), srv); err != nil {
				return err
			}
			return srv.Run(cmd.Context())
		},
	}
	o.flags(cmd, server.DefaultAgentListen)
	cmd.AddCommand(newServerTokenCommand(g))
	return cmd
}

func newServerTokenCommand(g *globals) *cobra.Command {
	var name string
	var ttl time.Duration
	var st string
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create an agent enrolment token (one use; it pins this server's CA)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if ttl <= 0 {
				return userErrorf("--ttl must be positive")
			}
			srv, err := server.Open(cmd.Context(), server.Config{DataDir: serverDataDir(g), Store: st, Logger: g.logger})
			if err != nil {
				return err
			}
			defer srv.Store.Close()
			tok, err := srv.CreateEnrolToken(cmd.Context(), name, "cli", ttl)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "cli", "a name for the token, shown in the console")
	cmd.Flags().DurationVar(&ttl, "ttl", 24*time.Hour, "how long the token may be used")
	cmd.Flags().StringVar(&st, "store", "", `"" for SQLite in the data directory, or a postgres:// URL`)
	return cmd
}

// printAdmin creates the first admin user and prints its password, once.
func printAdmin(ctx context.Context, w io.Writer, srv *server.Server) error {
	pw, err := web.EnsureAdmin(ctx, srv.Store, "admin", time.Now())
	if err != nil {
		return err
	}
	if pw != "" {
		fmt.Fprintf(w, "Console user \"admin\" created. Password (shown once): %s\n", pw)
	}
	return nil
}

func daemonLogger(cmd *cobra.Command, g *globals) *slog.Logger {
	if !cmd.Flags().Changed("log-level") && !cmd.InheritedFlags().Changed("log-level") {
		return slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return g.logger
}

func newUpCommand(g *globals) *cobra.Command {
	o := &serverOptions{}
	ao := &agentOptions{}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run the server and this host's agent in one process, console on 127.0.0.1:8080",
		Long: `Start Vigil on this machine in one step: the server (SQLite under the data directory)
and the agent for this host, enrolled with the server over the loopback link. The console
answers on --listen (default http://127.0.0.1:8080); on first start the password of the
user "admin" is printed once. GET /healthz answers 200 once the local agent is connected.

Other hosts can join: give the link an address they reach (--agent-listen 0.0.0.0:8443
--server-name NAME) and enrol them with a token from the console.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runUp(cmd, g, o, ao) },
	}
	o.flags(cmd, "127.0.0.1:8443")
	f := cmd.Flags()
	f.StringVar(&ao.config, "config", agent.DefaultConfigPath, "agent configuration file")
	f.StringVar(&ao.alertsFile, "alerts-file", "", "file that also receives one JSON alert per line (default from the agent config)")
	f.StringVar(&ao.metrics, "metrics-listen", "", `address of the agent's /metrics endpoint (default from the config; "off" disables)`)
	f.StringVar(&ao.sensors, "sensors", "", "sensor mode: auto, ebpf or fallback")
	return cmd
}

func runUp(cmd *cobra.Command, g *globals, o *serverOptions, ao *agentOptions) error {
	ctx := cmd.Context()
	log := daemonLogger(cmd, g)
	cfg, err := agent.LoadConfig(ao.config, cmd.Flags().Changed("config"))
	if err != nil {
		return &UserError{Err: err}
	}
	if err := ao.apply(&cfg); err != nil {
		return err
	}
	srv, err := server.Open(ctx, o.config(g, serverDataDir(g), log))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var eg errgroup.Group
	eg.Go(func() error {
		defer cancel()
		return srv.Run(ctx)
	})
	select {
	case <-srv.Listening():
	case <-ctx.Done():
		return eg.Wait()
	}
	if err := printAdmin(ctx, cmd.OutOrStdout(), srv); err != nil {
		cancel()
		eg.Wait()
		return err
	}

	// The local agent enrols over loopback with a token made here, the
	// first time; later starts reuse its certificate.
	cfg.Server.Address = srv.AgentAddr()
	cfg.VulnDBDir = serverDataDir(g)
	cfg.Server.EnrolToken = ""
	if !agent.Enrolled(g.dataDir) {
		tok, err := srv.CreateEnrolToken(ctx, "vigil up: this host", "system", time.Hour)
		if err != nil {
			cancel()
			eg.Wait()
			return err
		}
		cfg.Server.EnrolToken = tok
	}
	srv.SetReady(func() bool {
		id := agent.EnrolledHostID(g.dataDir)
		return id != "" && srv.Link.Online(id)
	})
	fmt.Fprintf(cmd.OutOrStdout(), "Console: http://%s\n", srv.Addr())

	eg.Go(func() error {
		defer cancel()
		err := runAgentWith(ctx, cfg, g, log.With("part", "agent"))
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	})
	return eg.Wait()
}
