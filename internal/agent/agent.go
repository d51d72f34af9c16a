// Package agent runs Vigil on a host: the sensors, the enrichment, the
// detection engine and the responses as one pipeline, the collectors on a
// schedule, the alert log, the metrics endpoint and the status file that
// `vigil agent status` reads.
//
// The pipeline is one bounded queue and one consumer: sensors never block
// (a full queue drops and counts), and everything after the queue runs in
// order, so an alert's response happens before the alert is written.
package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/event"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/sensor"
)

// Enricher fills in what sensors do not know (ancestry, users, container).
type Enricher interface {
	Apply(ev *event.Event)
}

// containerResolver looks a container up now, for alerts.
type containerResolver interface {
	Container(ctx context.Context, id string) *event.Container
}

// Engine judges events and returns the alerts they raise.
type Engine interface {
	Process(ev *event.Event) []*alert.Alert
}

// Responder carries out an alert's response and says what happened.
type Responder interface {
	Do(ctx context.Context, a *alert.Alert, ev *event.Event) alert.Response
}

// Analyzer judges events in Go where a rule condition cannot: baselines
// that learn (abnormal logins) and content that must be read (webshells
// written into a web root). It runs on the pipeline after the engine, so it
// must not block; slow work goes to a goroutine that emits later.
type Analyzer interface {
	Name() string
	Observe(ev *event.Event) []*alert.Alert
}

// Producer raises alerts on its own: scheduled scans, the ransomware guard,
// the log sources' own checks. emit responds to the alert (unless its
// Response.Result is already set), writes it and counts it; ev may be nil.
type Producer interface {
	Name() string
	Run(ctx context.Context, emit func(*alert.Alert, *event.Event)) error
}

// Uplink carries what the agent learns to its server. Its methods must
// not block the pipeline: they queue to a durable spool.
type Uplink interface {
	SendAlert(al *alert.Alert)
	SendInventory(snap *inventory.Snapshot)
	// Allowed names the console's allow-list entry for the alert, if
	// any: its response is skipped (the alert is still raised and sent).
	Allowed(al *alert.Alert) (entryID string, ok bool)
}

// Deps are the parts the agent runs. Wire builds them from a Config.
type Deps struct {
	Sensors   []sensor.Sensor
	Enricher  Enricher // nil: events pass as the sensors made them
	Engine    Engine
	Analyzers []Analyzer
	Producers []Producer
	Responder Responder // nil: responses are reported as skipped
	// Collect runs the asset collectors once and returns the host's
	// merged snapshot; nil disables the schedule.
	Collect func(ctx context.Context) (*inventory.Snapshot, error)
	// Uplink, when the agent has a server, receives every alert after it
	// is written and every inventory snapshot.
	Uplink Uplink
	// Link, when the agent has a server, keeps the connection up until
	// ctx ends; status is the heartbeat's source.
	Link func(ctx context.Context, status func() *Status) error
	// Extra metrics collectors (engine, process table, responders).
	Metrics []prometheus.Collector
	// Notes are shown by `vigil agent status` (e.g. degraded-mode reasons
	// found while wiring).
	Notes []string
	// Close releases what Wire opened.
	Close func() error
}

// Agent is a running agent.
type Agent struct {
	cfg     Config
	deps    Deps
	log     *slog.Logger
	dataDir string

	queue   chan *event.Event
	alerts  *AlertWriter
	started time.Time

	pid        int
	processed  atomic.Uint64
	self       atomic.Uint64 // events of the agent itself, ignored
	kinds      kindCounters
	queueDrops sync.Map // sensor name → *atomic.Uint64

	mu        sync.Mutex
	ruleHits  map[string]uint64
	sevCounts map[string]uint64
	responses map[[2]string]uint64
	sensorErr map[string]string // sensors that failed to start
	ready     bool

	latency prometheus.Histogram

	// record, when set, receives every event after enrichment (JSON lines).
	record    *json.Encoder
	recordErr error
}

// New makes an agent; Run starts it.
func New(cfg Config, dataDir string, d Deps, log *slog.Logger) (*Agent, error) {
	if d.Engine == nil {
		return nil, errors.New("agent: no detection engine")
	}
	if cfg.Host == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("agent: host name: %w", err)
		}
		cfg.Host = h
	}
	return &Agent{
		cfg: cfg, deps: d, log: log, dataDir: dataDir, pid: os.Getpid(),
		queue:     make(chan *event.Event, cfg.Limits.Queue),
		ruleHits:  map[string]uint64{},
		sevCounts: map[string]uint64{},
		responses: map[[2]string]uint64{},
		sensorErr: map[string]string{},
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "vigil_alert_latency_seconds",
			Help:    "Time from the kernel event to the alert written, per alert.",
			Buckets: []float64{.001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 5},
		}),
	}, nil
}

// queueSink is one sensor's door into the queue.
type queueSink struct {
	q     chan *event.Event
	drops *atomic.Uint64
}

func (s queueSink) Emit(ev *event.Event) bool {
	select {
	case s.q <- ev:
		return true
	default:
		s.drops.Add(1)
		return false
	}
}

func (s queueSink) EmitWait(ctx context.Context, ev *event.Event) bool {
	select {
	case s.q <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}

func (a *Agent) dropCounter(name string) *atomic.Uint64 {
	v, _ := a.queueDrops.LoadOrStore(name, new(atomic.Uint64))
	return v.(*atomic.Uint64)
}

// Run starts everything and blocks until ctx ends. It logs "ready" once
// the sensors are attached and the alert file is open.
func (a *Agent) Run(ctx context.Context) error {
	a.started = time.Now()
	if a.cfg.Limits.Memory > 0 {
		debug.SetMemoryLimit(a.cfg.Limits.Memory)
	}
	w, err := OpenAlertWriter(a.cfg.AlertsFile)
	if err != nil {
		return err
	}
	a.alerts = w
	defer w.Close()
	if a.cfg.RecordFile != "" {
		f, err := os.OpenFile(a.cfg.RecordFile, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return fmt.Errorf("record file: %w", err)
		}
		bw := bufio.NewWriterSize(f, 256<<10)
		defer func() { bw.Flush(); f.Close() }()
		a.record = json.NewEncoder(bw)
	}
	if a.deps.Close != nil {
		defer a.deps.Close()
	}

	var srv *http.Server
	if a.cfg.MetricsListen != "" {
		srv, err = a.serveMetrics()
		if err != nil {
			return err
		}
		defer srv.Close()
	}

	stop := make(chan struct{})
	consumerDone := make(chan struct{})
	go func() { defer close(consumerDone); a.consume(ctx, stop) }()

	attached := 0
	for _, s := range a.deps.Sensors {
		if err := s.Start(ctx, queueSink{q: a.queue, drops: a.dropCounter(s.Name())}); err != nil {
			a.log.Error("sensor failed to start", "sensor", s.Name(), "error", err)
			a.mu.Lock()
			a.sensorErr[s.Name()] = err.Error()
			a.mu.Unlock()
			continue
		}
		st := s.Status()
		a.log.Info("sensor attached", "sensor", s.Name(), "mode", st.Mode, "attach", st.Attach, "reason", st.Reason)
		attached++
	}
	closeSensors := func() {
		for _, s := range a.deps.Sensors {
			if err := s.Close(); err != nil {
				a.log.Warn("sensor close", "sensor", s.Name(), "error", err)
			}
		}
	}
	if attached == 0 && len(a.deps.Sensors) > 0 {
		close(stop)
		<-consumerDone
		closeSensors()
		return errors.New("agent: no sensor could start; see the log for each")
	}
	a.mu.Lock()
	a.ready = true
	a.mu.Unlock()
	if err := a.writeStatus(); err != nil {
		a.log.Warn("status file", "error", err)
	}
	a.log.Info("ready", "sensors", attached, "alerts_file", a.cfg.AlertsFile, "metrics", a.cfg.MetricsListen)

	if a.deps.Collect != nil && a.cfg.Collectors.Interval > 0 {
		go a.collectLoop(ctx)
	}
	var producers sync.WaitGroup
	if a.deps.Link != nil {
		producers.Go(func() {
			if err := a.deps.Link(ctx, a.status); err != nil && ctx.Err() == nil {
				// Refused by the server (revoked, token used): the agent
				// goes on protecting this host on its own.
				a.log.Error("server link stopped; alerts stay in the local file", "server", a.cfg.Server.Address, "error", err)
			}
		})
	}
	defer producers.Wait()
	for _, p := range a.deps.Producers {
		producers.Go(func() {
			emit := func(al *alert.Alert, ev *event.Event) { a.deliver(ctx, al, ev) }
			if err := p.Run(ctx, emit); err != nil && ctx.Err() == nil {
				a.log.Error("producer stopped", "producer", p.Name(), "error", err)
				a.mu.Lock()
				a.sensorErr[p.Name()] = err.Error()
				a.mu.Unlock()
			}
		})
	}
	tick := time.NewTicker(max(a.cfg.StatusEvery.D(), 100*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			a.mu.Lock()
			a.ready = false
			a.mu.Unlock()
			// Sensors stop first, then the consumer drains what is
			// queued, so nothing queued is lost on shutdown.
			closeSensors()
			close(stop)
			<-consumerDone
			a.drain()
			_ = a.writeStatus()
			a.log.Info("stopped", "events", a.processed.Load())
			return nil
		case <-tick.C:
			if err := a.writeStatus(); err != nil {
				a.log.Warn("status file", "error", err)
			}
		}
	}
}

func (a *Agent) consume(ctx context.Context, stop <-chan struct{}) {
	rb := &reorderBuffer{delay: a.cfg.ReorderDelay.D(), max: cap(a.queue)}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	flush := func() {
		for _, ev := range rb.drain() {
			a.handle(ctx, ev)
		}
	}
	for {
		// Take everything queued, then handle what is due.
		a.takeQueued(ctx, rb)
		wait := time.Duration(-1)
		for {
			ev, next := rb.pop(time.Now())
			if ev == nil {
				wait = next
				break
			}
			a.handle(ctx, ev)
		}
		if wait < 0 {
			// Nothing held: sleep until an event comes.
			select {
			case <-stop:
				return
			case ev := <-a.queue:
				if !rb.push(ev) {
					a.handle(ctx, ev)
				}
			}
			continue
		}
		// Events are held anyway: sleep until the oldest is due rather
		// than waking for every event that arrives meanwhile (the queue
		// buffers them). In a storm this is one wake-up per delay instead
		// of one per event.
		timer.Reset(wait)
		select {
		case <-stop:
			timer.Stop()
			a.takeQueued(ctx, rb)
			flush()
			return
		case <-timer.C:
		}
	}
}

// takeQueued moves every queued event into the reorder buffer without
// blocking (events without a time are handled at once).
func (a *Agent) takeQueued(ctx context.Context, rb *reorderBuffer) {
	for {
		select {
		case ev := <-a.queue:
			if !rb.push(ev) {
				a.handle(ctx, ev)
			}
		default:
			return
		}
	}
}

// drain handles what is still queued at shutdown.
func (a *Agent) drain() {
	for {
		select {
		case ev := <-a.queue:
			a.handle(context.Background(), ev)
		default:
			return
		}
	}
}

func (a *Agent) handle(ctx context.Context, ev *event.Event) {
	if ev.Done != nil {
		// Every path out counts as judged, or a log source would wait
		// for this event forever.
		defer ev.Done()
	}
	if ev.Process.PID == a.pid && ev.Kind != event.Auth {
		// The agent's own reads (/etc/shadow by the accounts collector,
		// /proc walks) and responses are not detections. A log record's
		// PID is another process's, from the log's past.
		a.self.Add(1)
		return
	}
	a.processed.Add(1)
	a.kinds.inc(ev.Kind)
	if ev.Host == "" {
		ev.Host = a.cfg.Host
	}
	if a.deps.Enricher != nil {
		a.deps.Enricher.Apply(ev)
	}
	if a.record != nil {
		if err := a.record.Encode(ev); err != nil && a.recordErr == nil {
			a.recordErr = err
			a.log.Error("event recording stopped", "error", err)
		}
	}
	alerts := a.deps.Engine.Process(ev)
	for _, an := range a.deps.Analyzers {
		alerts = append(alerts, an.Observe(ev)...)
	}
	for _, al := range alerts {
		if al.Container != nil && al.Container.Image == "" {
			// A new container's first events carry only its ID. The
			// engine's inspect answers in milliseconds, but a busy host's
			// can take seconds; an alert without its container is worth
			// less than a short stall of the pipeline.
			if r, ok := a.deps.Enricher.(containerResolver); ok {
				rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
				if c := r.Container(rctx, al.Container.ID); c != nil {
					al.Container = c
				}
				cancel()
			}
		}
		a.deliver(ctx, al, ev)
		if !ev.Time.IsZero() {
			a.latency.Observe(time.Since(ev.Time).Seconds())
		}
	}
}

// deliver responds to an alert, writes it and counts it. Producers call it
// from their own goroutines; the writer serialises.
func (a *Agent) deliver(ctx context.Context, al *alert.Alert, ev *event.Event) {
	if al.Host == "" {
		al.Host = a.cfg.Host
	}
	if al.Response.Result == "pending" && ev == nil {
		ev = &event.Event{}
	}
	if a.deps.Uplink != nil && al.Response.Result == "pending" {
		if id, ok := a.deps.Uplink.Allowed(al); ok {
			al.Response.Result = "skipped: allow-listed in the console (entry " + id + ")"
		}
	}
	a.respond(ctx, al, ev)
	if err := a.alerts.Write(al); err != nil {
		a.log.Error("alert not written", "rule", al.Rule.ID, "error", err)
	}
	if a.deps.Uplink != nil {
		a.deps.Uplink.SendAlert(al)
	}
	a.mu.Lock()
	a.ruleHits[al.Rule.ID]++
	a.sevCounts[al.Severity.String()]++
	a.responses[[2]string{al.Response.Action, resultClass(al.Response.Result)}]++
	a.mu.Unlock()
}

func (a *Agent) respond(ctx context.Context, al *alert.Alert, ev *event.Event) {
	if al.Response.Result != "pending" {
		return
	}
	switch {
	case !a.cfg.ResponsesEnabled():
		al.Response.Result = "alert_only"
	case a.deps.Responder == nil:
		al.Response.Result = "skipped: no responder on this host"
	default:
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		al.Response = a.deps.Responder.Do(rctx, al, ev)
		cancel()
	}
}

func resultClass(r string) string {
	for _, p := range []string{"ok", "failed", "skipped", "alert_only"} {
		if len(r) >= len(p) && r[:len(p)] == p {
			return p
		}
	}
	return "other"
}

func (a *Agent) collectLoop(ctx context.Context) {
	run := func() {
		start := time.Now()
		snap, err := a.deps.Collect(ctx)
		if err != nil {
			a.log.Warn("scheduled inventory", "error", err)
			return
		}
		if a.deps.Uplink != nil {
			a.deps.Uplink.SendInventory(snap)
		}
		a.log.Info("inventory collected", "duration", time.Since(start).Round(time.Millisecond))
	}
	run()
	t := time.NewTicker(a.cfg.Collectors.Interval.D())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			run()
		}
	}
}

func (a *Agent) serveMetrics() (*http.Server, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(a.latency, &agentCollector{a: a})
	for _, c := range a.deps.Metrics {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	if a.cfg.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	}
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		a.mu.Lock()
		ready := a.ready
		a.mu.Unlock()
		if !ready {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	ln, err := net.Listen("tcp", a.cfg.MetricsListen)
	if err != nil {
		return nil, fmt.Errorf("metrics endpoint: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("metrics endpoint", "error", err)
		}
	}()
	return srv, nil
}

// kindCounters counts events per kind without a lock.
type kindCounters struct {
	n [32]atomic.Uint64
}

func kindIndex(k event.Kind) int {
	for i, v := range event.Kinds {
		if v == k {
			return i
		}
	}
	return len(event.Kinds)
}

func (c *kindCounters) inc(k event.Kind) { c.n[kindIndex(k)].Add(1) }

func (c *kindCounters) snapshot() map[string]uint64 {
	m := map[string]uint64{}
	for i, k := range event.Kinds {
		if v := c.n[i].Load(); v > 0 {
			m[string(k)] = v
		}
	}
	if v := c.n[len(event.Kinds)].Load(); v > 0 {
		m["unknown"] = v
	}
	return m
}
