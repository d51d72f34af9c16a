package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"

	vigilv1 "github.com/vigilsec/vigil/api/vigil/v1"
	"github.com/vigilsec/vigil/internal/collector"
	"github.com/vigilsec/vigil/internal/collector/list"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/server/store/pgtest"
	"github.com/vigilsec/vigil/internal/version"
)

// stepResult is one fleet size's figures.
type stepResult struct {
	Store            string        `json:"store"`
	N                int           `json:"n"`
	Beats            int           `json:"beats"` // measured heartbeats
	P50              time.Duration `json:"p50_ns"`
	P99              time.Duration `json:"p99_ns"`
	Max              time.Duration `json:"max_ns"`
	Late             int           `json:"late"` // round trips above -p99
	ServerRSS        uint64        `json:"server_rss_bytes"`
	ServerPeakRSS    uint64        `json:"server_peak_rss_bytes"`
	ServerCPU        float64       `json:"server_cpu_cores"` // over the window
	ClientCPU        float64       `json:"client_cpu_cores"`
	EventsPerSec     float64       `json:"events_per_s"` // acknowledged (stored) in the window
	AlertsPerSec     float64       `json:"alerts_per_s"`
	TargetEvents     float64       `json:"target_events_per_s"`
	StoredEvents     uint64        `json:"stored_events"` // server's count for the whole step
	StoredAlerts     uint64        `json:"stored_alerts"`
	Inventories      uint64        `json:"stored_inventories"`
	Rejected         uint64        `json:"rejected"`
	Skipped          uint64        `json:"skipped_flushes"`    // upload window full
	BatchesPerCommit float64       `json:"batches_per_commit"` // group commit, in the window
	EnrolSeconds     float64       `json:"enrol_s"`
	ConnectSeconds   float64       `json:"connect_s"`
	InventorySeconds float64       `json:"inventory_s"`
	Lost             int64         `json:"lost_agents"`
	Error            string        `json:"error,omitempty"`
	Pass             bool          `json:"pass"`
}

// pgSource hands out fresh PostgreSQL databases, starting a private
// cluster (fsync on) on first use unless a DSN was given.
type pgSource struct {
	dsn string
	cl  *pgtest.Cluster
}

func (p *pgSource) database(ctx context.Context) (string, error) {
	if p.cl == nil {
		if p.dsn != "" {
			p.cl = &pgtest.Cluster{DSN: p.dsn}
		} else {
			cl, err := pgtest.Start(ctx, pgtest.Options{Fsync: true})
			if err != nil {
				return "", err
			}
			p.cl = cl
		}
	}
	dsn, _, err := p.cl.NewDatabase(ctx)
	return dsn, err
}

func (p *pgSource) stop() {
	if p.cl != nil {
		if err := p.cl.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "fleet: stop PostgreSQL:", err)
		}
	}
}

// startBackend starts the server child on a fresh store.
func startBackend(ctx context.Context, backend string, pg *pgSource, n int) (*child, func(), error) {
	dir, err := os.MkdirTemp("", "vigil-fleet-")
	if err != nil {
		return nil, nil, err
	}
	storeURL := ""
	if backend == "postgres" {
		if storeURL, err = pg.database(ctx); err != nil {
			os.RemoveAll(dir)
			return nil, nil, err
		}
	}
	c, err := startServer(dir, storeURL, n)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	return c, func() {
		if err := c.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "fleet: server child:", err)
		}
		os.RemoveAll(dir)
	}, nil
}

// forEach runs f for every agent, conc at a time, and returns the first
// error.
func forEach(agents []*agent, conc int, f func(*agent) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	sem := make(chan struct{}, conc)
	for _, a := range agents {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := f(a); err != nil {
				mu.Lock()
				if first == nil {
					first = fmt.Errorf("agent %d: %w", a.i, err)
				}
				mu.Unlock()
			}
		})
		mu.Lock()
		stop := first != nil
		mu.Unlock()
		if stop {
			break
		}
	}
	wg.Wait()
	return first
}

// enrolAll enrols n agents with the child's tokens and connects them.
func enrolAll(ctx context.Context, c config, srv *child, n int) ([]*agent, time.Duration, time.Duration, error) {
	agents := make([]*agent, n)
	for i := range agents {
		agents[i] = &agent{i: i, hostname: fmt.Sprintf("fleet-%05d.bench.local", i)}
	}
	start := time.Now()
	if err := forEach(agents, c.enrolConc, func(a *agent) error {
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		return a.enrol(ctx, srv.Addr, srv.Tokens[a.i])
	}); err != nil {
		return nil, 0, 0, err
	}
	enrol := time.Since(start)
	start = time.Now()
	err := forEach(agents, c.connectConc, func(a *agent) error {
		if err := a.connect(ctx, srv.Addr, c.window); err != nil {
			return err
		}
		// A real agent's session starts with a heartbeat.
		_, err := a.beat()
		return err
	})
	connect := time.Since(start)
	if err != nil {
		closeAll(agents)
	}
	return agents, enrol, connect, err
}

func closeAll(agents []*agent) {
	for _, a := range agents {
		if a != nil && a.conn != nil {
			a.conn.Close()
		}
	}
}

func clientCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(timeout time.Duration, cond func() bool) bool {
	end := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(end) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// runStep measures one fleet size.
func runStep(ctx context.Context, c config, backend string, pg *pgSource, n int, inv []byte) (stepResult, error) {
	r := stepResult{Store: backend, N: n, TargetEvents: c.eventsPerAgent * float64(n)}
	srv, stop, err := startBackend(ctx, backend, pg, n)
	if err != nil {
		return r, err
	}
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	agents, enrol, connect, err := enrolAll(ctx, c, srv, n)
	if err != nil {
		return r, err
	}
	defer closeAll(agents)
	r.EnrolSeconds, r.ConnectSeconds = enrol.Seconds(), connect.Seconds()

	var cnt counters
	var bg sync.WaitGroup
	for _, a := range agents {
		bg.Go(func() {
			err := a.acks(func(ack *vigilv1.UploadAck, _ int) { cnt.rejected.Add(uint64(len(ack.GetRejected()))) })
			if ctx.Err() == nil {
				cnt.fail(a, "upload", err)
			}
		})
		bg.Go(func() {
			if err := a.drainTasks(); ctx.Err() == nil {
				cnt.fail(a, "tasks", err)
			}
		})
	}
	// Stored records are counted by the server (new ones only), and
	// compared with what the agents sent.
	defer func() {
		cancel()
		closeAll(agents)
		bg.Wait()
	}()

	// Inventory: one snapshot per agent at start.
	before, err := srv.Stats()
	if err != nil {
		return r, err
	}
	if inv != nil {
		start := time.Now()
		// At most connectConc snapshots in flight: each agent waits for its
		// ack, so a slow server does not pile them up in client buffers.
		if err := forEach(agents, c.connectConc, func(a *agent) error {
			if err := a.send([]*vigilv1.Record{a.inventory(inv)}); err != nil {
				return err
			}
			for len(a.inflight) > 0 && cnt.lost.Load() == 0 {
				time.Sleep(10 * time.Millisecond)
			}
			return nil
		}); err != nil {
			// A failed Send only says EOF; the status is on the ack
			// stream, which reports it through cnt.
			time.Sleep(time.Second)
			first, _ := cnt.firstErr.Load().(string)
			return r, fmt.Errorf("send inventory: %w (first stream error: %s)", err, first)
		}
		ok := waitFor(30*time.Minute, func() bool {
			s, err := srv.Stats()
			return err != nil || s.Inventories-before.Inventories >= uint64(n) || cnt.lost.Load() > 0
		})
		if !ok {
			return r, errors.New("inventory snapshots not all stored within 30 minutes")
		}
		r.InventorySeconds = time.Since(start).Seconds()
	}

	// The window.
	winStart := time.Now().Add(time.Second)
	winEnd := winStart.Add(c.duration)
	srvBefore, err := srv.Stats()
	if err != nil {
		return r, err
	}
	var work sync.WaitGroup
	for _, a := range agents {
		hbOff := time.Duration(int64(c.heartbeat) * int64(a.i) / int64(n))
		flOff := time.Duration(int64(c.flush) * int64(a.i) / int64(n))
		// Spread the fractional start so that rates below one record per
		// window per agent still add up across the fleet.
		a.evDebt = math.Mod(float64(a.i)*0.6180339887, 1)
		a.alDebt = float64(a.i) / float64(n)
		work.Go(func() { heartbeatLoop(ctx, a, &cnt, winStart.Add(hbOff), winEnd, c.heartbeat) })
		work.Go(func() { flushLoop(ctx, c, a, &cnt, winStart.Add(flOff), winEnd) })
	}
	time.Sleep(time.Until(winStart))
	pBefore, err := sampleProc(srv.cmd.Process.Pid)
	if err != nil {
		return r, err
	}
	cBefore := clientCPU()
	time.Sleep(time.Until(winEnd))
	pAfter, err := sampleProc(srv.cmd.Process.Pid)
	if err != nil {
		return r, err
	}
	cAfter := clientCPU()
	srvAfter, err := srv.Stats()
	if err != nil {
		return r, err
	}
	wall := pAfter.At.Sub(pBefore.At).Seconds()
	r.ServerCPU = (pAfter.CPU - pBefore.CPU).Seconds() / wall
	r.ClientCPU = (cAfter - cBefore).Seconds() / wall
	r.ServerRSS, r.ServerPeakRSS = pAfter.RSS, pAfter.PeakRSS
	r.EventsPerSec = float64(srvAfter.Events-srvBefore.Events) / wall
	if c := srvAfter.Commits - srvBefore.Commits; c > 0 {
		r.BatchesPerCommit = float64(srvAfter.Batches-srvBefore.Batches) / float64(c)
	}
	r.AlertsPerSec = float64(srvAfter.Alerts-srvBefore.Alerts) / wall
	work.Wait()

	// Everything sent must be stored.
	waitFor(time.Minute, func() bool {
		s, err := srv.Stats()
		return err != nil || (s.Events-before.Events >= cnt.eventsSent.Load() && s.Alerts-before.Alerts >= cnt.alertsSent.Load())
	})
	final, err := srv.Stats()
	if err != nil {
		return r, err
	}
	r.StoredEvents, r.StoredAlerts, r.Inventories = final.Events-before.Events, final.Alerts-before.Alerts, final.Inventories
	r.Rejected, r.Skipped, r.Lost = cnt.rejected.Load(), cnt.skipped.Load(), cnt.lost.Load()

	var lat []time.Duration
	for _, a := range agents {
		lat = append(lat, a.lat...)
	}
	slices.Sort(lat)
	r.Beats = len(lat)
	if len(lat) > 0 {
		r.P50, r.P99, r.Max = pct(lat, 0.50), pct(lat, 0.99), lat[len(lat)-1]
	}
	for _, d := range lat {
		if d > c.p99 {
			r.Late++
		}
	}
	wantBeats := 0
	for _, a := range agents {
		wantBeats += beatsIn(winStart.Add(time.Duration(int64(c.heartbeat)*int64(a.i)/int64(n))), winEnd, c.heartbeat)
	}
	var problems []error
	if e, _ := cnt.firstErr.Load().(string); e != "" {
		problems = append(problems, fmt.Errorf("%d agents lost their link; first: %s", r.Lost, e))
	}
	if r.Beats != wantBeats {
		problems = append(problems, fmt.Errorf("%d heartbeats acknowledged, want %d", r.Beats, wantBeats))
	}
	if r.StoredEvents != cnt.eventsSent.Load() || r.StoredAlerts != cnt.alertsSent.Load() {
		problems = append(problems, fmt.Errorf("server stored %d events and %d alerts, agents sent %d and %d",
			r.StoredEvents, r.StoredAlerts, cnt.eventsSent.Load(), cnt.alertsSent.Load()))
	}
	if r.Rejected > 0 {
		problems = append(problems, fmt.Errorf("%d records rejected", r.Rejected))
	}
	if err := errors.Join(problems...); err != nil {
		r.Error = err.Error()
	}
	r.Pass = r.Error == "" && r.Beats > 0 && r.P99 <= c.p99 && r.Skipped == 0
	return r, nil
}

// pct is the q-quantile of sorted samples (nearest rank).
func pct(sorted []time.Duration, q float64) time.Duration {
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// beatsIn counts the ticks first, first+every, … before end.
func beatsIn(first, end time.Time, every time.Duration) int {
	if !first.Before(end) {
		return 0
	}
	return int((end.Sub(first)-1)/every) + 1
}

// heartbeatLoop beats at first, first+every, … before end, recording each
// round trip.
func heartbeatLoop(ctx context.Context, a *agent, cnt *counters, first, end time.Time, every time.Duration) {
	for at := first; at.Before(end); at = at.Add(every) {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(at)):
		}
		d, err := a.beat()
		if err != nil {
			if ctx.Err() == nil {
				cnt.fail(a, "heartbeat", err)
			}
			return
		}
		a.lat = append(a.lat, d)
		cnt.beats.Add(1)
	}
}

// flushLoop uploads the agent's share of events and alerts every
// c.flush, starting at first, until end. A flush that finds the upload
// window full is skipped and counted (the server is not keeping up).
func flushLoop(ctx context.Context, c config, a *agent, cnt *counters, first, end time.Time) {
	for at := first; at.Before(end); at = at.Add(c.flush) {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(at)):
		}
		a.evDebt += c.eventsPerAgent * c.flush.Seconds()
		a.alDebt += c.alertsPerAgent * c.flush.Seconds()
		ne, na := int(a.evDebt), int(a.alDebt)
		if ne+na == 0 {
			continue
		}
		now := time.Now()
		recs := make([]*vigilv1.Record, 0, ne+na)
		for range ne {
			recs = append(recs, a.event(now))
		}
		for range na {
			recs = append(recs, a.alert(now))
		}
		sent, err := a.trySend(recs)
		if err != nil {
			if ctx.Err() == nil {
				cnt.fail(a, "upload", err)
			}
			return
		}
		if !sent {
			cnt.skipped.Add(1)
			continue
		}
		a.evDebt -= float64(ne)
		a.alDebt -= float64(na)
		cnt.eventsSent.Add(uint64(ne))
		cnt.alertsSent.Add(uint64(na))
	}
}

// loadInventory reads a snapshot file, or collects this host's inventory
// once with every collector (as `vigil inventory` does), and marshals it
// with the hostname replaced by a placeholder each agent fills in.
func loadInventory(ctx context.Context, path string) ([]byte, error) {
	var snap inventory.Snapshot
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, &snap); err != nil {
			return nil, fmt.Errorf("inventory %s: %w", path, err)
		}
	} else {
		dir, err := os.MkdirTemp("", "vigil-fleet-inv-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		in := &collector.Input{Root: os.DirFS("/"), RootPath: "/", ProcPath: "/proc", Live: true,
			DockerHost: "unix:///var/run/docker.sock", DataDir: dir, Now: time.Now}
		start := time.Now()
		inv, status := collector.Run(ctx, in, list.All(list.Config{}))
		snap = inventory.Snapshot{Inventory: *inv, SchemaVersion: inventory.SchemaVersion, CollectedAt: start.UTC(),
			AgentVersion: version.String(), Root: "/", Status: status}
	}
	if snap.Host == nil {
		snap.Host = &inventory.Host{}
	}
	snap.Host.Hostname = hostnamePlaceholder
	b, err := json.Marshal(&snap)
	if err != nil {
		return nil, err
	}
	if !bytes.Contains(b, []byte(hostnamePlaceholder)) {
		return nil, errors.New("inventory snapshot has no host category (status.host), so hostnames cannot vary")
	}
	return b, nil
}
