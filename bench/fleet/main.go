// Command fleet is a load tool for `vigil server`: it simulates a fleet of
// agents speaking the real agent link (enrolment, then gRPC over mTLS) on
// loopback and measures heartbeat round-trip latency, the server's RSS and
// CPU, and ingest.
//
// For each fleet size N it re-executes itself as the server child (the
// real server.Open/Run, so the server's RSS and CPU are its own), mints N
// enrolment tokens through server.CreateEnrolToken, enrols N agents (each
// its own P-256 key and certificate), opens the three streams a real agent
// keeps (heartbeat, upload, tasks) and uploads one inventory snapshot per
// agent (this host's, collected once, with the hostname varied). Then,
// for -duration, every agent heartbeats every -heartbeat (spread evenly
// over the interval) and uploads events and alerts at the configured
// per-agent rates. A step passes when the p99 heartbeat round trip (send
// to HeartbeatAck) is at most -p99 and no agent lost its link.
//
// The simulated agents share the machine with the server: on a small
// machine their CPU competes with it, so the client's CPU is reported too.
//
//	go run ./bench/fleet -n 500,1000,2000,5000,10000
//	go run ./bench/fleet -n 1000 -store postgres          # private cluster, fsync on
//	go run ./bench/fleet -ingest -store both               # max ingest through the link
//
// Results print as one JSON line per step, then a Markdown table.
// VIGIL_FLEET_PPROF=127.0.0.1:6061 makes the server child serve
// net/http/pprof there. Each agent holds one socket in each process, so
// the open-file limit must exceed N (it is raised to the hard limit).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	var err error
	if os.Getenv(roleEnv) == "serve" {
		err = serveMain(os.Args[1:])
	} else {
		err = run(os.Args[1:])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fleet:", err)
		os.Exit(1)
	}
}

// config is the command line.
type config struct {
	sizes          []int
	store          string // sqlite, postgres or both
	dsn            string
	heartbeat      time.Duration
	duration       time.Duration
	flush          time.Duration
	eventsPerAgent float64 // per second
	alertsPerAgent float64 // per second
	window         int
	p99            time.Duration
	inventory      string
	noInventory    bool
	enrolConc      int
	connectConc    int
	keepGoing      bool

	ingest        bool
	ingestWriters int
	ingestBatch   int
}

func parseFlags(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("fleet", flag.ContinueOnError)
	sizes := fs.String("n", "500,1000,2000,5000,10000", "fleet sizes to step through, comma-separated")
	fs.StringVar(&c.store, "store", "sqlite", "sqlite, postgres or both")
	fs.StringVar(&c.dsn, "dsn", "", "PostgreSQL server admin DSN (default: a private cluster, fsync on); each step gets a new database in it")
	fs.DurationVar(&c.heartbeat, "heartbeat", 30*time.Second, "heartbeat interval per agent")
	fs.DurationVar(&c.duration, "duration", 90*time.Second, "measurement window per step")
	fs.DurationVar(&c.flush, "flush", 5*time.Second, "how often each agent uploads its pending events and alerts")
	fs.Float64Var(&c.eventsPerAgent, "events", 0.2, "events per second per agent")
	fs.Float64Var(&c.alertsPerAgent, "alerts", 0.002, "alerts per second per agent")
	fs.IntVar(&c.window, "window", 4, "upload batches in flight per agent")
	fs.DurationVar(&c.p99, "p99", time.Second, "pass limit for the p99 heartbeat round trip")
	fs.StringVar(&c.inventory, "inventory", "", "inventory snapshot JSON to send (default: collect this host's once)")
	fs.BoolVar(&c.noInventory, "no-inventory", false, "send no inventory snapshots")
	fs.IntVar(&c.enrolConc, "enrol-concurrency", 16, "enrolments in flight")
	fs.IntVar(&c.connectConc, "connect-concurrency", 64, "connections being opened at once")
	fs.BoolVar(&c.keepGoing, "keep-going", false, "run larger sizes after a size fails")
	fs.BoolVar(&c.ingest, "ingest", false, "measure maximum event ingest through the link instead of a fleet")
	fs.IntVar(&c.ingestWriters, "writers", 4, "-ingest: agents uploading at once")
	fs.IntVar(&c.ingestBatch, "batch", 1000, "-ingest: events per batch")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	for f := range strings.SplitSeq(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return c, fmt.Errorf("-n: %q is not a positive count", f)
		}
		c.sizes = append(c.sizes, n)
	}
	switch {
	case c.store != "sqlite" && c.store != "postgres" && c.store != "both":
		return c, fmt.Errorf("-store %q: want sqlite, postgres or both", c.store)
	case c.heartbeat <= 0 || c.duration <= 0 || c.flush <= 0 || c.p99 <= 0:
		return c, errors.New("-heartbeat, -duration, -flush and -p99 must be positive")
	case c.eventsPerAgent < 0 || c.alertsPerAgent < 0:
		return c, errors.New("-events and -alerts must not be negative")
	case c.window < 1 || c.enrolConc < 1 || c.connectConc < 1 || c.ingestWriters < 1 || c.ingestBatch < 1:
		return c, errors.New("-window, -enrol-concurrency, -connect-concurrency, -writers and -batch must be positive")
	}
	return c, nil
}

func run(args []string) error {
	c, err := parseFlags(args)
	if err != nil {
		return err
	}
	if err := raiseNoFile(); err != nil {
		return err
	}
	if lim, largest := noFileLimit(), slices.Max(c.sizes); lim < uint64(largest)+256 {
		return fmt.Errorf("open-file limit %d is too low for %d agents (one socket each); raise it (needs CAP_SYS_RESOURCE)", lim, largest)
	}
	ctx := context.Background()
	backends := []string{c.store}
	if c.store == "both" {
		backends = []string{"sqlite", "postgres"}
	}
	pg := &pgSource{dsn: c.dsn}
	defer pg.stop()

	if c.ingest {
		var rows []ingestResult
		for _, b := range backends {
			r, err := runIngest(ctx, c, b, pg)
			if err != nil {
				return fmt.Errorf("%s ingest: %w", b, err)
			}
			emit(r)
			rows = append(rows, r)
		}
		printIngestTable(c, rows)
		return nil
	}

	var inv []byte
	if !c.noInventory {
		if inv, err = loadInventory(ctx, c.inventory); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "fleet: inventory snapshot %d KiB\n", len(inv)>>10)
	}
	var rows []stepResult
	for _, b := range backends {
		for _, n := range slices.Sorted(slices.Values(c.sizes)) {
			fmt.Fprintf(os.Stderr, "fleet: %s N=%d …\n", b, n)
			r, err := runStep(ctx, c, b, pg, n, inv)
			if err != nil {
				return fmt.Errorf("%s N=%d: %w", b, n, err)
			}
			emit(r)
			rows = append(rows, r)
			if !r.Pass && !c.keepGoing {
				break
			}
		}
	}
	printTable(c, rows)
	return nil
}

func emit(v any) {
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}

func printTable(c config, rows []stepResult) {
	fmt.Printf("\nheartbeat every %s, events %.3g/s and alerts %.3g/s per agent, flush every %s, window %s\n\n",
		c.heartbeat, c.eventsPerAgent, c.alertsPerAgent, c.flush, c.duration)
	fmt.Println("| store | N | beats | p50 | p99 | max | server RSS (peak) | server CPU | client CPU | events/s | alerts/s | batches/commit | inventory | pass |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range rows {
		fmt.Printf("| %s | %d | %d | %s | %s | %s | %d MiB (%d) | %.2f cores | %.2f cores | %.0f | %.1f | %.1f | %.0f s | %v |\n",
			r.Store, r.N, r.Beats, ms(r.P50), ms(r.P99), ms(r.Max), r.ServerRSS>>20, r.ServerPeakRSS>>20,
			r.ServerCPU, r.ClientCPU, r.EventsPerSec, r.AlertsPerSec, r.BatchesPerCommit, r.InventorySeconds, r.Pass)
	}
	best := map[string]int{}
	for _, r := range rows {
		if r.Pass && r.N > best[r.Store] {
			best[r.Store] = r.N
		}
	}
	for s, n := range best {
		fmt.Printf("\nlargest N with p99 ≤ %s on %s: %d\n", c.p99, s, n)
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
