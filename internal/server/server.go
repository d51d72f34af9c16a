// Package server is `vigil server`: the store, the CA and the agent link
// (gRPC over mTLS), the task centre and its scheduler, the fleet's
// vulnerability assessment, and the console and REST API, in one process.
//
// Layout of the data directory (created 0700):
//
//	vigil.db            the SQLite store (unless a PostgreSQL URL is given)
//	pki/                the CA that issues agent certificates
//	task-signing.key    the ed25519 key tasks are signed with
//	osv/ …              the vulnerability database (`vigil db update`)
package server

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/pki"
	"github.com/vigilsec/vigil/internal/server/lease"
	"github.com/vigilsec/vigil/internal/server/link"
	"github.com/vigilsec/vigil/internal/server/store"
	"github.com/vigilsec/vigil/internal/server/store/postgres"
	"github.com/vigilsec/vigil/internal/server/store/sqlite"
	"github.com/vigilsec/vigil/internal/server/vulns"
	"github.com/vigilsec/vigil/internal/server/web"
	"github.com/vigilsec/vigil/internal/task"
	"github.com/vigilsec/vigil/internal/task/centre"
	"github.com/vigilsec/vigil/internal/vuln/osv"
)

// Defaults.
const (
	DefaultListen      = "127.0.0.1:8080"
	DefaultAgentListen = ":8443"
	// AssessEvery is how often hosts whose inventory changed are
	// re-assessed, and how often the vulnerability database is checked
	// for an update (which re-assesses every host).
	AssessEvery = time.Minute

	assessDebounce = 2 * time.Second

	// PrimaryLease names the store lease held by the replica that runs
	// task schedules and exports alerts (PostgreSQL stores only).
	PrimaryLease = "server.primary"
)

// Config configures a server.
type Config struct {
	DataDir string
	// Listen is the console and API address (HTTP); AgentListen the
	// agent link's (gRPC over TLS).
	Listen      string
	AgentListen string
	// Store is "" for SQLite in DataDir, or a postgres:// URL.
	Store string
	// ServerNames go into the link's certificate (agents connect to one
	// of them); empty means localhost, the loopback addresses and the
	// host name.
	ServerNames []string
	// SecureCookies marks console cookies Secure (behind an HTTPS proxy).
	SecureCookies bool
	// PublicMetrics serves /metrics without authentication.
	PublicMetrics bool
	Logger        *slog.Logger
}

// Server is an opened server. Open it, then Run it.
type Server struct {
	cfg     Config
	log     *slog.Logger
	Store   store.Store
	CA      *pki.CA
	Signer  *task.Signer
	Link    *link.Server
	Centre  *centre.Centre
	handler http.Handler

	assessor *vulns.Assessor
	notify   *notifier
	// primary is the lease that makes one of several replicas sharing a
	// PostgreSQL store run schedules and export; nil with SQLite, whose
	// file one server process owns.
	primary *lease.Keeper
	allow   *allowList
	// dirty holds hosts whose inventory arrived since their last
	// assessment.
	dirtyMu sync.Mutex
	dirty   map[string]bool
	kick    chan struct{}
	dbStamp string // the vulnerability database generation last assessed against

	ready atomic.Value // func() bool: /healthz; nil means always ready
	// Addr and AgentAddr are the bound addresses once Run listens.
	addr, agentAddr atomic.Value
	listening       chan struct{}
}

// Open opens the store (migrating it), the CA and the task key, and builds
// the link and the console.
func Open(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.AgentListen == "" {
		cfg.AgentListen = DefaultAgentListen
	}
	s := &Server{cfg: cfg, log: cfg.Logger, dirty: map[string]bool{}, kick: make(chan struct{}, 1), listening: make(chan struct{})}
	var err error
	committers := 1 // SQLite has one writer
	switch {
	case cfg.Store == "":
		s.Store, err = sqlite.OpenDir(ctx, cfg.DataDir)
	case strings.HasPrefix(cfg.Store, "postgres://"), strings.HasPrefix(cfg.Store, "postgresql://"):
		s.Store, err = postgres.Open(ctx, cfg.Store)
		committers = 4
	default:
		return nil, fmt.Errorf("store %q: want a postgres:// URL, or nothing for SQLite in the data directory", redact(cfg.Store))
	}
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			s.Store.Close()
		}
	}()
	if s.CA, err = pki.LoadOrCreateCA(filepath.Join(cfg.DataDir, "pki")); err != nil {
		return nil, err
	}
	if s.Signer, err = task.LoadOrCreateSigner(cfg.DataDir); err != nil {
		return nil, err
	}
	s.allow = &allowList{st: s.Store}
	s.notify = newNotifier(s.Store, s.allow, cfg.Logger.With("part", "export"))
	if cfg.Store != "" {
		s.primary = lease.New(s.Store, PrimaryLease, lease.DefaultTTL, cfg.Logger.With("part", "lease"))
		s.notify.primary = s.primary.Held
	}
	s.Link, err = link.NewServer(link.Options{
		Store: s.Store, CA: s.CA, TaskSigner: s.Signer, TaskPublicKey: s.Signer.PublicKey(),
		Logger: cfg.Logger.With("part", "link"), ServerNames: cfg.ServerNames,
		OnInventory: s.inventoryArrived, OnAlerts: func(string, []alert.Alert) { s.notify.kick() },
		Policy: s.allow.policy, Committers: committers,
	})
	if err != nil {
		return nil, err
	}
	s.Centre = centre.New(s.Store, s.Signer)
	if s.primary != nil {
		s.Centre.Primary = s.primary.Held
	}
	s.assessor = &vulns.Assessor{Store: s.Store}
	h, err := web.New(web.Options{
		Store: s.Store, Tasks: tasks{s}, Hosts: s.Link, Logger: cfg.Logger.With("part", "web"),
		SecureCookies: cfg.SecureCookies, PublicMetrics: cfg.PublicMetrics,
		MintEnrolToken: s.MintEnrolToken, Metrics: s.writeMetrics,
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.Handle("/", h)
	s.handler = mux
	ok = true
	return s, nil
}

// Handler is the console, API and /healthz.
func (s *Server) Handler() http.Handler { return s.handler }

// SetReady makes /healthz answer 200 only while ready returns true
// (`vigil up`: once the local agent is connected).
func (s *Server) SetReady(ready func() bool) { s.ready.Store(ready) }

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if f, _ := s.ready.Load().(func() bool); f != nil && !f() {
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "starting: the local agent is not connected yet\n")
		return
	}
	if err := ping(r.Context(), s.Store); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "store unavailable\n")
		return
	}
	io.WriteString(w, "ok\n")
}

// MintEnrolToken makes an enrolment token: the string an agent is given
// (it pins this server's CA) and the hash the store keeps.
func (s *Server) MintEnrolToken() (display, hash string, err error) {
	t, err := pki.NewEnrolToken(s.CA)
	if err != nil {
		return "", "", err
	}
	return t.String(), pki.HashSecret(t.Secret), nil
}

// CreateEnrolToken mints a token valid for ttl and stores it.
func (s *Server) CreateEnrolToken(ctx context.Context, name, by string, ttl time.Duration) (string, error) {
	display, hash, err := s.MintEnrolToken()
	if err != nil {
		return "", err
	}
	now := time.Now().UTC()
	if err := s.Store.CreateEnrolToken(ctx, store.EnrolToken{Hash: hash, Name: name, CreatedBy: by,
		CreatedAt: now, ExpiresAt: now.Add(ttl)}); err != nil {
		return "", err
	}
	return display, nil
}

// Addr is the console's bound address; AgentAddr the link's. Both are
// known once Listening is closed.
func (s *Server) Addr() string      { v, _ := s.addr.Load().(string); return v }
func (s *Server) AgentAddr() string { v, _ := s.agentAddr.Load().(string); return v }

// Listening is closed once both listeners are bound.
func (s *Server) Listening() <-chan struct{} { return s.listening }

// Run serves until ctx ends, then stops gracefully and closes the store.
func (s *Server) Run(ctx context.Context) error {
	defer s.Store.Close()
	lc := net.ListenConfig{}
	hl, err := lc.Listen(ctx, "tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	al, err := lc.Listen(ctx, "tcp", s.cfg.AgentListen)
	if err != nil {
		hl.Close()
		return fmt.Errorf("agent link: %w", err)
	}
	s.addr.Store(hl.Addr().String())
	s.agentAddr.Store(al.Addr().String())
	close(s.listening)
	s.log.Info("server listening", "console", "http://"+hl.Addr().String(), "agents", al.Addr().String(),
		"ca_sha256", s.CA.SHA256())

	hs := &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	wg.Go(func() {
		if err := hs.Serve(hl); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("console: %w", err)
		}
	})
	wg.Go(func() {
		if err := s.Link.Serve(al); err != nil {
			errc <- fmt.Errorf("agent link: %w", err)
		}
	})
	if s.primary != nil {
		if _, err := s.primary.Try(ctx); err != nil {
			s.log.Warn("primary lease", "error", err)
		}
		wg.Go(func() { s.primary.Run(ctx) })
	}
	wg.Go(func() {
		if err := s.Centre.Run(ctx); err != nil && ctx.Err() == nil {
			errc <- fmt.Errorf("task scheduler: %w", err)
		}
	})
	wg.Go(func() { s.assessLoop(ctx) })
	wg.Go(func() { s.notify.run(ctx) })

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	cancel()
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	hs.Shutdown(sctx)
	stopped := make(chan struct{})
	go func() { s.Link.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-sctx.Done():
		s.Link.Stop()
	}
	wg.Wait()
	return runErr
}

// isPrimary reports whether this server runs the work that must run in
// one place: always with SQLite, while it holds the lease with PostgreSQL.
func (s *Server) isPrimary() bool { return s.primary == nil || s.primary.Held() }

// inventoryArrived marks a host for assessment (the link calls it after
// storing a new snapshot).
func (s *Server) inventoryArrived(hostID string) {
	s.dirtyMu.Lock()
	s.dirty[hostID] = true
	s.dirtyMu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// assessLoop assesses hosts with new inventory, and every host when the
// vulnerability database changes.
func (s *Server) assessLoop(ctx context.Context) {
	t := time.NewTicker(AssessEvery)
	defer t.Stop()
	for {
		s.assessOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.kick:
			// Let a burst of snapshots (agents reconnecting) gather.
			select {
			case <-ctx.Done():
				return
			case <-time.After(assessDebounce):
			}
		}
	}
}

func (s *Server) assessOnce(ctx context.Context) {
	db, err := osv.Open(s.cfg.DataDir)
	if err != nil {
		// No database yet: nothing to match against. Hosts stay dirty.
		return
	}
	defer db.Close()
	a := *s.assessor
	a.DB = db
	stamp := db.Status().Dir // a new generation directory per import
	// A new database re-assesses the whole fleet: on one replica only (the
	// primary), as each replica holds the same database.
	if stamp != s.dbStamp && s.isPrimary() {
		n, err := a.AssessAll(ctx)
		if err != nil {
			s.log.Warn("vulnerability assessment", "hosts", n, "error", err)
		} else {
			s.log.Info("fleet assessed", "hosts", n)
		}
		s.dbStamp = stamp
		s.dirtyMu.Lock()
		clear(s.dirty)
		s.dirtyMu.Unlock()
		return
	}
	s.dirtyMu.Lock()
	hosts := make([]string, 0, len(s.dirty))
	for h := range s.dirty {
		hosts = append(hosts, h)
	}
	clear(s.dirty)
	s.dirtyMu.Unlock()
	for _, h := range hosts {
		if _, err := a.AssessHost(ctx, h); err != nil {
			s.log.Warn("vulnerability assessment", "host", h, "error", err)
		}
	}
}

// writeMetrics adds the link's figures to /metrics.
func (s *Server) writeMetrics(w io.Writer) {
	st := s.Link.Stats()
	fmt.Fprintf(w, "# HELP vigil_server_ingested_records_total Records stored from agents, by kind.\n")
	fmt.Fprintf(w, "# TYPE vigil_server_ingested_records_total counter\n")
	for _, k := range []struct {
		kind string
		n    uint64
	}{{"alert", st.Alerts}, {"event", st.Events}, {"inventory", st.Inventories}} {
		fmt.Fprintf(w, "vigil_server_ingested_records_total{kind=%q} %d\n", k.kind, k.n)
	}
	fmt.Fprintf(w, "# HELP vigil_server_upload_batches_total Agent upload batches stored.\n")
	fmt.Fprintf(w, "# TYPE vigil_server_upload_batches_total counter\nvigil_server_upload_batches_total %d\n", st.Batches)
	fmt.Fprintf(w, "# HELP vigil_server_ingest_commits_total Transactions that stored upload batches (group commit).\n")
	fmt.Fprintf(w, "# TYPE vigil_server_ingest_commits_total counter\nvigil_server_ingest_commits_total %d\n", st.Commits)
	fmt.Fprintf(w, "# HELP vigil_server_agent_drops Events agents report dropped (sum of their latest heartbeats).\n")
	fmt.Fprintf(w, "# TYPE vigil_server_agent_drops gauge\nvigil_server_agent_drops %d\n", st.AgentDrops)
	fmt.Fprintf(w, "# HELP vigil_server_agent_spool_drops Records agents report dropped from full spools.\n")
	fmt.Fprintf(w, "# TYPE vigil_server_agent_spool_drops gauge\nvigil_server_agent_spool_drops %d\n", st.SpoolDrops)
	s.notify.writeMetrics(w)
	primary := 0
	if s.isPrimary() {
		primary = 1
	}
	fmt.Fprintf(w, "# HELP vigil_server_primary Whether this replica runs task schedules and exports alerts (1) or stands by (0).\n")
	fmt.Fprintf(w, "# TYPE vigil_server_primary gauge\nvigil_server_primary %d\n", primary)
}

// tasks adapts the task centre to the console: a refused submission is
// the user's to fix.
type tasks struct{ s *Server }

func (t tasks) Submit(ctx context.Context, actor, typ string, params json.RawMessage, targets store.Targets, schedule string) (store.Task, error) {
	tk, err := t.s.Centre.Submit(ctx, actor, typ, params, targets, schedule)
	if err != nil {
		if errors.Is(err, centre.ErrInvalid) || errors.Is(err, task.ErrInvalidParams) || errors.Is(err, task.ErrUnknownType) {
			return tk, fmt.Errorf("%w: %w", store.ErrInvalid, err)
		}
		return tk, err
	}
	for _, h := range tk.Targets.Hosts {
		t.s.Link.KickTasks(h)
	}
	return tk, nil
}

// ping checks the store answers.
func ping(ctx context.Context, st store.Store) error {
	if d, ok := st.(interface{ DB() *sql.DB }); ok {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		return d.DB().PingContext(ctx)
	}
	_, err := st.SchemaVersion(ctx)
	return err
}

// redact hides a password in a URL for error messages.
func redact(s string) string {
	if i := strings.Index(s, "@"); i >= 0 {
		if j := strings.Index(s, "://"); j >= 0 && j < i {
			return s[:j+3] + "…" + s[i:]
		}
	}
	return s
}
