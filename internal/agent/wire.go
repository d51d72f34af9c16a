package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/collector"
	"github.com/vigilsec/vigil/internal/collector/list"
	"github.com/vigilsec/vigil/internal/detect"
	"github.com/vigilsec/vigil/internal/enrich"
	"github.com/vigilsec/vigil/internal/geoip"
	"github.com/vigilsec/vigil/internal/hashcache"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/login"
	"github.com/vigilsec/vigil/internal/malware"
	"github.com/vigilsec/vigil/internal/respond"
	"github.com/vigilsec/vigil/internal/respond/audit"
	"github.com/vigilsec/vigil/internal/respond/execguard"
	"github.com/vigilsec/vigil/internal/respond/netblock"
	"github.com/vigilsec/vigil/internal/respond/quarantine"
	"github.com/vigilsec/vigil/internal/sensor"
	ebpffile "github.com/vigilsec/vigil/internal/sensor/ebpf/file"
	ebpfnet "github.com/vigilsec/vigil/internal/sensor/ebpf/network"
	ebpfproc "github.com/vigilsec/vigil/internal/sensor/ebpf/process"
	"github.com/vigilsec/vigil/internal/sensor/fallback/fanotify"
	"github.com/vigilsec/vigil/internal/sensor/fallback/procconn"
	"github.com/vigilsec/vigil/internal/sensor/fallback/sockdiag"
	"github.com/vigilsec/vigil/internal/snapshot"
	"github.com/vigilsec/vigil/internal/version"
	"github.com/vigilsec/vigil/internal/webshell"
	"github.com/vigilsec/vigil/rules"
)

// LoadRules loads the shipped rules (unless cfg says not to) and the
// configured extra rule paths, without the disabled ones.
func LoadRules(cfg Config) (*detect.RuleSet, error) {
	rs := &detect.RuleSet{}
	var err error
	if !cfg.Rules.NoBuiltin {
		if rs, err = detect.LoadFS(rules.FS, "*.yaml"); err != nil {
			return nil, fmt.Errorf("shipped rules: %w", err)
		}
		ioc, err := detect.LoadIOC(rules.FS, "ioc")
		if err != nil {
			return nil, fmt.Errorf("shipped IOC lists: %w", err)
		}
		rs.AddIOC(ioc)
	}
	if len(cfg.Rules.Paths) > 0 {
		extra, err := detect.LoadPaths(cfg.Rules.Paths...)
		if err != nil {
			return nil, err
		}
		if err := rs.Merge(extra); err != nil {
			return nil, err
		}
	}
	for _, dir := range cfg.Rules.IOCDirs {
		ioc, err := detect.LoadIOC(os.DirFS(dir), ".")
		if err != nil {
			return nil, fmt.Errorf("ioc_dirs %s: %w", dir, err)
		}
		rs.AddIOC(ioc)
	}
	if len(cfg.Rules.Disabled) > 0 {
		known := rs.RuleIDs()
		for _, id := range cfg.Rules.Disabled {
			if !slices.Contains(known, id) {
				return nil, fmt.Errorf("rules.disabled: no rule %q", id)
			}
		}
		rs.Disable(cfg.Rules.Disabled...)
	}
	return rs, nil
}

// Wire builds the agent's parts from cfg: sensors for the mode, the
// enrichment, the engine with the rules, the responders and the
// scheduled inventory.
func Wire(ctx context.Context, cfg Config, dataDir string, log *slog.Logger) (d Deps, err error) {
	var closers []func() error
	d.Close = func() error {
		var errs []error
		for i := len(closers) - 1; i >= 0; i-- {
			errs = append(errs, closers[i]())
		}
		return errors.Join(errs...)
	}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return d, fmt.Errorf("data dir: %w", err)
	}

	rs, err := LoadRules(cfg)
	if err != nil {
		return d, &ConfigError{Err: err}
	}
	engine, err := detect.New(rs, detect.Options{
		Host: cfg.Host, IOC: rs.IOC, Allow: cfg.Rules.Allow, ResponseOverride: cfg.Rules.Act,
	})
	if err != nil {
		return d, &ConfigError{Err: fmt.Errorf("rules: %w", err)}
	}
	d.Engine = engine
	log.Info("rules loaded", "rules", len(engine.RuleIDs()))

	hashes := hashcache.Open(dataDir, hashcache.Options{Logger: log})
	closers = append(closers, hashes.Save)
	prefixes, _ := cfg.Prefixes()
	en, err := enrich.New(enrich.Options{
		ProcPath: "/proc", Capacity: cfg.Limits.Processes, InternalCIDRs: prefixes,
		HashCache: hashes, Logger: log,
	})
	if err != nil {
		return d, err
	}
	closers = append(closers, en.Close)
	n, serr := en.Seed()
	if serr != nil {
		log.Debug("process table seed", "error", serr)
	}
	log.Info("process table seeded", "processes", n)
	d.Enricher = en

	// Web roots are watched by the file sensors, so webshells written
	// there are scanned as they land.
	roots := cfg.Scan.WebRoots
	if cfg.Scan.DiscoverWebRoots == nil || *cfg.Scan.DiscoverWebRoots {
		roots = append(roots, webshell.DiscoverRoots(os.DirFS("/"))...)
	}
	roots = cleanRoots(roots)
	writeWatch := slices.Clone(cfg.Sensors.WriteWatch)
	for _, r := range roots {
		writeWatch = append(writeWatch, r+"/")
	}
	mrules, err := malware.LoadRules(dataDir)
	if err != nil {
		return d, &ConfigError{Err: fmt.Errorf("scan rules: %w", err)}
	}
	for _, w := range mrules.Warnings {
		log.Warn("scan rules", "warning", w)
	}
	files := newFileScanner(cfg.Scan, roots, malware.New(malware.Options{
		Rules: mrules, MaxScanBytes: cfg.Scan.MaxScanBytes, Rate: cfg.Scan.Rate, LowPriority: true,
		ExcludeDirs: []string{dataDir},
	}), log)
	d.Analyzers = append(d.Analyzers, files)
	d.Producers = append(d.Producers, files)
	if len(roots) > 0 {
		d.Notes = append(d.Notes, fmt.Sprintf("web roots watched: %s", strings.Join(roots, ", ")))
	}

	// Sensors.
	procEBPF := ebpfproc.New(ebpfproc.Config{RingSize: cfg.Sensors.RingBuffer})
	ring := func(div int) int { return max(cfg.Sensors.RingBuffer/div, 4096) }
	fileEBPF, err := ebpffile.New(ebpffile.Config{WriteWatch: writeWatch, ReadWatch: cfg.Sensors.ReadWatch, RingSize: ring(4)})
	if err != nil {
		return d, &ConfigError{Err: err}
	}
	netEBPF, err := ebpfnet.New(ebpfnet.Config{TCPState: cfg.Sensors.TCPState, RingSize: ring(8)})
	if err != nil {
		return d, &ConfigError{Err: err}
	}
	procFB := procconn.New(procconn.Config{})
	fileFB, err := fanotify.New(fanotify.Config{WriteWatch: writeWatch, ReadWatch: cfg.Sensors.ReadWatch})
	if err != nil {
		return d, &ConfigError{Err: err}
	}
	netFB := sockdiag.New(sockdiag.Config{Interval: cfg.Sensors.PollInterval.D()})
	pairs := [][2]sensor.Sensor{{procEBPF, procFB}, {fileEBPF, fileFB}, {netEBPF, netFB}}
	for _, p := range pairs {
		switch cfg.Sensors.Mode {
		case "ebpf":
			d.Sensors = append(d.Sensors, p[0])
		case "fallback":
			d.Sensors = append(d.Sensors, p[1])
		default:
			d.Sensors = append(d.Sensors, WithFallback(p[0], p[1]))
		}
	}

	// Authentication logs: auth events for the brute-force rules, and the
	// per-account login baselines.
	if cfg.AuthEnabled() {
		d.Sensors = append(d.Sensors, newAuthSource(cfg.Auth, dataDir, log))
		an, note, err := openLoginAnalyzer(cfg, dataDir, log)
		if err != nil {
			return d, err
		}
		if note != "" {
			d.Notes = append(d.Notes, note)
		}
		d.Analyzers = append(d.Analyzers, an)
		closers = append(closers, an.save)
	}

	// Responders.
	auditLog, err := audit.Open(dataDir)
	if err != nil {
		return d, err
	}
	closers = append(closers, auditLog.Close)
	r := &respond.Responder{Audit: auditLog, Hashes: hashes}
	r.BlockDuration = func(*alert.Alert) time.Duration { return cfg.Responses.BlockDuration.D() }
	if cfg.ExecGuardEnabled() {
		g := execguard.New(execguard.Config{Hashes: hashes, Logger: log, Lazy: true})
		if err := g.Start(ctx); err != nil {
			d.Notes = append(d.Notes, fmt.Sprintf("exec guard unavailable (%v): deny_exec falls back to eBPF kill-on-exec", err))
		} else {
			r.Guard = g
			closers = append(closers, func() error { err := g.Close(); g.Wait(); return err })
		}
	}
	if r.Guard == nil && cfg.Sensors.Mode != "fallback" {
		r.KillOnExec = procEBPF
	}
	if nb, err := netblock.Open(log); err != nil {
		d.Notes = append(d.Notes, fmt.Sprintf("network blocking unavailable: %v", err))
	} else {
		r.Net = nb
		closers = append(closers, nb.Close)
		d.Notes = append(d.Notes, "network blocking: "+nb.Mode())
	}
	// block_ip (brute force) must stop incoming packets: nftables, shared
	// with block_connect when that fell back to it already.
	if nft, ok := r.Net.(*netblock.NFT); ok {
		r.Inbound = nft
	} else if nft, err := netblock.OpenNFT(-1); err != nil {
		d.Notes = append(d.Notes, fmt.Sprintf("block_ip unavailable (nftables: %v)", err))
	} else {
		r.Inbound = nft
		closers = append(closers, nft.Close)
	}
	q, err := quarantine.Open(dataDir)
	if err != nil {
		return d, err
	}
	if r.Guard != nil {
		q.Guard = r.Guard
	}
	r.Quarantine = q
	d.Responder = r

	if cfg.Server.Address != "" {
		u, err := openUplink(cfg, dataDir, r, log)
		if err != nil {
			return d, err
		}
		d.Uplink, d.Link = u, u.run
		d.Notes = append(d.Notes, "server: "+cfg.Server.Address)
	}

	if len(cfg.Ransomware.ProtectedDirs) > 0 {
		d.Producers = append(d.Producers, &ransomProducer{cfg: cfg.Ransomware, host: cfg.Host, dataDir: dataDir, audit: auditLog, log: log})
	} else {
		d.Notes = append(d.Notes, "ransomware guard off: no ransomware.protected_dirs configured")
	}

	d.Collect = func(ctx context.Context) (*inventory.Snapshot, error) { return collectInventory(ctx, dataDir) }
	d.Metrics = []prometheus.Collector{&engineCollector{e: engine, en: en, guard: r.Guard}}
	return d, nil
}

// ConfigError is a configuration or rule error: the user's to fix.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// collectInventory runs every collector on the live host and merges the
// result into the saved snapshot, as `vigil inventory` does, and returns
// the merged snapshot.
func collectInventory(ctx context.Context, dataDir string) (*inventory.Snapshot, error) {
	cols := list.All(list.Config{})
	in := &collector.Input{
		Root: os.DirFS("/"), RootPath: "/", ProcPath: "/proc", Live: true,
		DockerHost: "unix:///var/run/docker.sock", DataDir: dataDir, Now: time.Now,
	}
	start := time.Now()
	inv, status := collector.Run(ctx, in, cols)
	snap := &inventory.Snapshot{
		Inventory: *inv, SchemaVersion: inventory.SchemaVersion, CollectedAt: start.UTC(),
		AgentVersion: version.String(), Root: "/", Status: status,
	}
	store := snapshot.New(dataDir)
	merged, err := store.Load("/")
	if err != nil && !errors.Is(err, snapshot.ErrNotFound) {
		merged = nil
	}
	if merged == nil {
		merged = &inventory.Snapshot{}
	}
	merged.MergeFrom(snap)
	if err := store.Save("/", merged); err != nil {
		return nil, err
	}
	return merged, nil
}

// openLoginAnalyzer loads the GeoIP databases (when present) and the saved
// login baseline. Without a city database the analyzer still learns
// networks, hours and accounts; the note says so.
func openLoginAnalyzer(cfg Config, dataDir string, log *slog.Logger) (*authAnalyzer, string, error) {
	lc, err := cfg.loginConfig()
	if err != nil {
		return nil, "", &ConfigError{Err: err}
	}
	city := cfg.Auth.GeoIPCity
	if city == "" {
		city = filepath.Join(dataDir, geoip.CityFile)
	}
	var geo *geoip.DB
	note := ""
	asn := cfg.Auth.GeoIPASN
	if p := filepath.Join(dataDir, geoip.ASNFile); asn == "" && fileExists(p) {
		asn = p
	}
	if _, err := os.Stat(city); err == nil {
		if geo, err = geoip.Open(city, asn); err != nil {
			return nil, "", fmt.Errorf("geoip: %w", err)
		}
	} else if cfg.Auth.GeoIPCity != "" {
		return nil, "", &ConfigError{Err: fmt.Errorf("auth.geoip_city: %w", err)}
	} else {
		note = "login analysis without GeoIP (run `vigil db update` for the city database): no country, network-operator or travel alerts"
	}
	path := filepath.Join(dataDir, "login-baseline.json")
	base, err := login.LoadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("login baseline: %w", err)
	}
	an, err := login.New(lc, geo, base)
	if err != nil {
		return nil, "", &ConfigError{Err: err}
	}
	return &authAnalyzer{an: an, path: path, log: log}, note, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
