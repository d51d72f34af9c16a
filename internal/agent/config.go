package agent

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/vigilsec/vigil/internal/login"
)

// DefaultConfigPath is where `vigil agent` looks for its configuration.
const DefaultConfigPath = "/etc/vigil/agent.yaml"

// Config is the agent's configuration file. Every field has a documented
// default (Default), so an empty file — or none — gives a working agent.
type Config struct {
	// Host names this machine in alerts; default: the kernel's hostname.
	Host string `yaml:"host"`
	// AlertsFile receives one JSON alert per line (standalone mode).
	AlertsFile string `yaml:"alerts_file"`
	// MetricsListen is the address of the Prometheus /metrics endpoint;
	// empty disables it. Keep it on loopback.
	MetricsListen string `yaml:"metrics_listen"`
	// InternalCIDRs are this site's internal networks, used by the
	// lateral-movement rules (net.internal).
	InternalCIDRs []string `yaml:"internal_cidrs"`

	// Server connects the agent to a Vigil server; without an address the
	// agent is standalone.
	Server      ServerConfig    `yaml:"server"`
	Sensors     SensorConfig    `yaml:"sensors"`
	Rules       RulesConfig     `yaml:"rules"`
	Responses   ResponsesConfig `yaml:"responses"`
	Collectors  CollectorConfig `yaml:"collectors"`
	Auth        AuthConfig      `yaml:"auth"`
	Ransomware  RansomConfig    `yaml:"ransomware"`
	Scan        ScanConfig      `yaml:"scan"`
	Limits      LimitsConfig    `yaml:"limits"`
	StatusEvery Duration        `yaml:"status_interval"`
	// ReorderDelay holds each event this long so events from different
	// sensors are judged in the order they happened (0 disables).
	ReorderDelay Duration `yaml:"reorder_delay"`
	// RecordFile, when set, receives every event after enrichment as JSON
	// lines: for rule development and the replay benchmark. It grows
	// without bound: never set it on a production host.
	RecordFile string `yaml:"-"`
	// Pprof serves Go profiles under /debug/pprof/ on the metrics address.
	Pprof bool `yaml:"-"`
	// VulnDBDir is a data directory whose vulnerability database the
	// server's vuln_scan and fix_packages tasks use when the agent's own
	// data directory has none (`vigil up`: the server's, on this host).
	VulnDBDir string `yaml:"-"`
}

// ServerConfig is the agent's link to its server.
type ServerConfig struct {
	// Address is the server's agent link, host:port.
	Address string `yaml:"address"`
	// EnrolToken is the one-time token from the console (Settings →
	// Enrolment tokens or `vigil server token`). It is used only while
	// the data directory holds no certificate, and it pins the server's
	// CA, so the agent never sends it to another server.
	EnrolToken string `yaml:"enrol_token"`
	// SpoolBytes caps the on-disk spool of records not yet acknowledged
	// by the server (default 256 MiB); when it is full, new records are
	// dropped and counted in the heartbeat.
	SpoolBytes int64 `yaml:"spool_bytes"`
}

// SensorConfig chooses the event sources.
type SensorConfig struct {
	// Mode is "auto" (eBPF where the kernel allows, else the fallbacks),
	// "ebpf" (fail if eBPF cannot run) or "fallback".
	Mode string `yaml:"mode"`
	// RingBuffer is the size of the process sensor's eBPF ring buffer in
	// bytes; the file and network sensors get a quarter and an eighth.
	// Ring buffers are mapped into the agent (twice, for wrap-around), so
	// they count in its RSS.
	RingBuffer int `yaml:"ring_buffer"`
	// WriteWatch are paths whose modification matters (directories end in
	// "/"); ReadWatch are files whose reads matter.
	WriteWatch []string `yaml:"write_watch"`
	ReadWatch  []string `yaml:"read_watch"`
	// TCPState enables TCP state-change events (volume!).
	TCPState bool `yaml:"tcp_state"`
	// PollInterval is the sock_diag polling interval of the fallback
	// network sensor.
	PollInterval Duration `yaml:"poll_interval"`
}

// RulesConfig selects and tunes detection rules.
type RulesConfig struct {
	// Paths are extra rule files or directories, loaded after the shipped
	// rules.
	Paths []string `yaml:"paths"`
	// NoBuiltin skips the rules shipped in the binary.
	NoBuiltin bool `yaml:"no_builtin"`
	// Disabled rule IDs are not evaluated.
	Disabled []string `yaml:"disabled"`
	// Act overrides a rule's response mode: true acts, false alerts only.
	Act map[string]bool `yaml:"act"`
	// Allow adds allow-list CEL expressions to rules by ID.
	Allow map[string][]string `yaml:"allow"`
	// IOCDirs hold extra IOC lists (*.txt, one entry a line) by set name.
	IOCDirs []string `yaml:"ioc_dirs"`
}

// ResponsesConfig tunes response actions.
type ResponsesConfig struct {
	// Enabled false turns every response into alert-only, whatever the rules say.
	Enabled *bool `yaml:"enabled"`
	// BlockDuration is how long block_connect blocks an address.
	BlockDuration Duration `yaml:"block_duration"`
	// ExecGuard enables fanotify exec denial (deny_exec, quarantine).
	ExecGuard *bool `yaml:"exec_guard"`
}

// AuthConfig chooses the authentication log sources (brute force and
// login rules, rules/auth.yaml) and tunes the abnormal-login analysis.
type AuthConfig struct {
	// Enabled false turns the log sources off.
	Enabled *bool `yaml:"enabled"`
	// Files are syslog authentication logs to follow (the ones that exist
	// are read; rotation and truncation are followed, positions kept in
	// the data dir).
	Files []string `yaml:"files"`
	// Journal is "auto" (the journal when no file exists), "on" or "off".
	Journal string `yaml:"journal"`
	// FromStart makes a first start read what the files already hold;
	// otherwise it begins at their end. Restarts always resume.
	FromStart bool `yaml:"from_start"`
	// GeoIPCity and GeoIPASN are MaxMind-format databases; empty means the
	// city database `vigil db update` installs in the data dir, no ASN.
	GeoIPCity string `yaml:"geoip_city"`
	GeoIPASN  string `yaml:"geoip_asn"`
	// Login tunes the per-account baselines.
	Login LoginConfig `yaml:"login"`
}

// LoginConfig is the abnormal-login analysis (rules VGL-LOGIN-*).
type LoginConfig struct {
	// LearningMin is how many logins an account needs before a new
	// country or network operator is unusual for it.
	LearningMin int `yaml:"learning_min"`
	// MaxSpeedKMH is the fastest believable travel between two logins.
	MaxSpeedKMH float64 `yaml:"max_speed_kmh"`
	// Countries (ISO codes), Networks (CIDRs), Hours (0–23 in Zone) and
	// Accounts are what is usual here; each list, when set, raises an
	// alert for a login outside it.
	Countries []string `yaml:"countries"`
	Networks  []string `yaml:"networks"`
	Hours     []int    `yaml:"hours"`
	Zone      string   `yaml:"zone"`
	Accounts  []string `yaml:"accounts"`
}

// AuthEnabled reports whether the log sources run.
func (c *Config) AuthEnabled() bool { return c.Auth.Enabled == nil || *c.Auth.Enabled }

// loginConfig converts LoginConfig for the analyzer.
func (c *Config) loginConfig() (login.Config, error) {
	l := c.Auth.Login
	out := login.Config{LearningMin: l.LearningMin, MaxSpeedKMH: l.MaxSpeedKMH, Countries: l.Countries,
		Hours: l.Hours, Accounts: l.Accounts, Host: c.Host}
	for _, s := range l.Networks {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return out, fmt.Errorf("auth.login.networks: %w", err)
		}
		out.Networks = append(out.Networks, p.Masked())
	}
	if l.Zone != "" {
		z, err := time.LoadLocation(l.Zone)
		if err != nil {
			return out, fmt.Errorf("auth.login.zone: %w", err)
		}
		out.Zone = z
	}
	for _, h := range l.Hours {
		if h < 0 || h > 23 {
			return out, fmt.Errorf("auth.login.hours: %d is not an hour (0–23)", h)
		}
	}
	return out, nil
}

// RansomConfig is the anti-ransomware guard: protected backups, decoys and
// the fanotify gate on writes in the protected directories. It runs only
// when ProtectedDirs is set: every open there waits for the agent's answer.
type RansomConfig struct {
	// ProtectedDirs are watched recursively and backed up into the data dir.
	ProtectedDirs []string `yaml:"protected_dirs"`
	// DecoyDirs get decoy files; default (unset): the protected dirs. An
	// empty list places none.
	DecoyDirs []string `yaml:"decoy_dirs"`
	// BackupInterval between protected backups (unchanged files cost a
	// stat); changed files are also backed up as they change.
	BackupInterval Duration `yaml:"backup_interval"`
	// MaxBackupFile: larger files are not backed up.
	MaxBackupFile int64 `yaml:"max_backup_file"`
	// FileThreshold is how many files one process may turn into
	// encrypted-looking content within Window before it is killed.
	FileThreshold int      `yaml:"file_threshold"`
	Window        Duration `yaml:"window"`
	// EntropyMin (bits per byte) makes new content look encrypted.
	EntropyMin float64 `yaml:"entropy_min"`
	// AlertOnly reports without killing or restoring.
	AlertOnly bool `yaml:"alert_only"`
}

// ScanConfig is the file scanner: webshells written into web roots, and
// scheduled malware scans (YARA rules, SHA-256 IOC lists, ELF heuristics,
// webshell analysis) of the configured paths.
type ScanConfig struct {
	// WebRoots are watched for written files, which are scanned once
	// quiet; DiscoverWebRoots adds the roots nginx, Apache and Tomcat
	// configurations name, and /var/www.
	WebRoots         []string `yaml:"web_roots"`
	DiscoverWebRoots *bool    `yaml:"discover_web_roots"`
	// Paths are scanned every Interval (0s: no scheduled scan), with the
	// web roots.
	Paths    []string `yaml:"paths"`
	Interval Duration `yaml:"interval"`
	// Rate limits scan reads in bytes per second (0: unlimited); scans
	// also run at nice 19 in the idle I/O class.
	Rate int64 `yaml:"rate"`
	// MaxScanBytes of each file are read by the content checks (the hash
	// covers the whole file).
	MaxScanBytes int64 `yaml:"max_scan_bytes"`
	// Quarantine moves what is found into the vault; false reports only.
	Quarantine bool `yaml:"quarantine"`
}

// CollectorConfig schedules the asset collectors.
type CollectorConfig struct {
	// Interval between inventory runs; 0 disables scheduled collection.
	Interval Duration `yaml:"interval"`
}

// LimitsConfig bounds the agent.
type LimitsConfig struct {
	// Memory is the soft memory limit in bytes (Go's GOMEMLIMIT).
	Memory int64 `yaml:"memory"`
	// Queue is the number of events buffered between sensors and the engine;
	// beyond it events are dropped and counted.
	Queue int `yaml:"queue"`
	// Processes bounds the process table.
	Processes int `yaml:"processes"`
}

// Duration is a time.Duration written as "10s", "5m" in YAML.
type Duration time.Duration

// UnmarshalYAML reads a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes a Go duration string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// DefaultWriteWatch are the paths the shipped rules need to see writes to:
// persistence locations, credentials, system binaries and logs.
var DefaultWriteWatch = []string{
	"/etc/", "/root/", "/home/", "/var/spool/cron/", "/var/log/",
	"/bin/", "/sbin/", "/usr/bin/", "/usr/sbin/", "/lib/", "/usr/lib/", "/usr/local/bin/", "/usr/local/sbin/",
	"/lib/systemd/", "/tmp/", "/var/tmp/", "/dev/shm/", "/run/docker.sock", "/var/run/docker.sock",
	"/sys/fs/cgroup/",
}

// DefaultReadWatch are files whose reads are credential access.
var DefaultReadWatch = []string{
	"/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-",
	"/etc/ssh/ssh_host_rsa_key", "/etc/ssh/ssh_host_ecdsa_key", "/etc/ssh/ssh_host_ed25519_key",
	"/run/docker.sock", "/var/run/docker.sock",
}

// Default returns the configuration used when no file is given.
func Default() Config {
	return Config{
		AlertsFile:    "/var/log/vigil/alerts.jsonl",
		MetricsListen: "127.0.0.1:9477",
		InternalCIDRs: []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"},
		Sensors: SensorConfig{
			Mode:         "auto",
			RingBuffer:   2 << 20,
			WriteWatch:   DefaultWriteWatch,
			ReadWatch:    DefaultReadWatch,
			PollInterval: Duration(time.Second),
		},
		Responses:  ResponsesConfig{Enabled: ptr(true), BlockDuration: Duration(time.Hour), ExecGuard: ptr(true)},
		Collectors: CollectorConfig{Interval: Duration(time.Hour)},
		Auth: AuthConfig{
			Enabled: ptr(true),
			Files:   []string{"/var/log/auth.log", "/var/log/secure"},
			Journal: "auto",
			Login:   LoginConfig{LearningMin: 5, MaxSpeedKMH: 1000, Zone: "UTC"},
		},
		Scan: ScanConfig{
			DiscoverWebRoots: ptr(true),
			Paths:            []string{"/tmp", "/var/tmp", "/dev/shm", "/root", "/home", "/usr/local/bin", "/usr/local/sbin", "/opt"},
			Interval:         Duration(24 * time.Hour),
			Rate:             20 << 20,
			MaxScanBytes:     32 << 20,
		},
		Ransomware: RansomConfig{
			BackupInterval: Duration(time.Hour), MaxBackupFile: 256 << 20,
			FileThreshold: 10, Window: Duration(time.Minute), EntropyMin: 7.2,
		},
		Limits:       LimitsConfig{Memory: 64 << 20, Queue: 65536, Processes: 32768},
		StatusEvery:  Duration(2 * time.Second),
		ReorderDelay: Duration(DefaultReorderDelay),
	}
}

// LoadConfig reads a YAML configuration over the defaults. A missing file
// at the default path is not an error; a missing file named explicitly is.
func LoadConfig(path string, explicit bool) (Config, error) {
	c := Default()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && !explicit {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("agent config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) { // io.EOF: an empty file
		return c, fmt.Errorf("agent config %s: %w", path, err)
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("agent config %s: %w", path, err)
	}
	return c, nil
}

// Validate checks values a typo would make dangerous or useless.
func (c *Config) Validate() error {
	switch c.Sensors.Mode {
	case "auto", "ebpf", "fallback":
	default:
		return fmt.Errorf("sensors.mode %q: want auto, ebpf or fallback", c.Sensors.Mode)
	}
	if _, err := c.Prefixes(); err != nil {
		return err
	}
	switch c.Auth.Journal {
	case "auto", "on", "off":
	default:
		return fmt.Errorf("auth.journal %q: want auto, on or off", c.Auth.Journal)
	}
	if _, err := c.loginConfig(); err != nil {
		return err
	}
	for _, d := range append(append([]string{}, c.Scan.WebRoots...), c.Scan.Paths...) {
		if !filepath.IsAbs(d) {
			return fmt.Errorf("scan: path %q: want an absolute path", d)
		}
	}
	for _, d := range append(append([]string{}, c.Ransomware.ProtectedDirs...), c.Ransomware.DecoyDirs...) {
		if !filepath.IsAbs(d) || filepath.Clean(d) == "/" {
			return fmt.Errorf("ransomware: directory %q: want an absolute path below /", d)
		}
	}
	if c.Limits.Queue < 64 {
		return fmt.Errorf("limits.queue %d: want at least 64", c.Limits.Queue)
	}
	if c.Sensors.RingBuffer < 4096 || c.Sensors.RingBuffer&(c.Sensors.RingBuffer-1) != 0 {
		return fmt.Errorf("sensors.ring_buffer %d: want a power of two ≥ 4096", c.Sensors.RingBuffer)
	}
	return nil
}

// Prefixes parses InternalCIDRs.
func (c *Config) Prefixes() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range c.InternalCIDRs {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("internal_cidrs: %w", err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// ResponsesEnabled reports whether responses may act at all.
func (c *Config) ResponsesEnabled() bool { return c.Responses.Enabled == nil || *c.Responses.Enabled }

// ExecGuardEnabled reports whether the fanotify exec guard runs.
func (c *Config) ExecGuardEnabled() bool {
	return c.Responses.ExecGuard == nil || *c.Responses.ExecGuard
}

func ptr[T any](v T) *T { return &v }
