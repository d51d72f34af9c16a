package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	"github.com/vigilsec/vigil/internal/sensor"
	"github.com/vigilsec/vigil/internal/snapshot"
	"github.com/vigilsec/vigil/internal/version"
)

// Status is what the agent publishes about itself in
// <data-dir>/agent/status.json, every StatusEvery, for `vigil agent status`.
type Status struct {
	PID        int       `json:"pid"`
	Version    string    `json:"version"`
	Host       string    `json:"host"`
	Started    time.Time `json:"started"`
	Updated    time.Time `json:"updated"`
	Ready      bool      `json:"ready"`
	AlertsFile string    `json:"alerts_file"`
	Metrics    string    `json:"metrics,omitempty"`
	// Mode summarises the sensors: "ebpf", "fallback", "mixed" or "off".
	Mode    string         `json:"mode"`
	Sensors []SensorStatus `json:"sensors"`
	Notes   []string       `json:"notes,omitempty"`

	Events      uint64            `json:"events"`
	EventsKind  map[string]uint64 `json:"events_by_kind"`
	QueueLen    int               `json:"queue_len"`
	QueueCap    int               `json:"queue_cap"`
	Alerts      uint64            `json:"alerts"`
	RuleHits    map[string]uint64 `json:"rule_hits,omitempty"`
	RSSBytes    uint64            `json:"rss_bytes"`
	CPUSeconds  float64           `json:"cpu_seconds"`
	MemoryLimit int64             `json:"memory_limit"`
}

// SensorStatus is one sensor's mode and counters.
type SensorStatus struct {
	sensor.Status
	Stats       sensor.Stats `json:"stats"`
	QueueDrops  uint64       `json:"queue_dropped"`
	StartFailed string       `json:"start_failed,omitempty"`
}

// StatusPath is where the agent writes its status.
func StatusPath(dataDir string) string { return filepath.Join(dataDir, "agent", "status.json") }

// Status is the agent's status now: what `vigil agent status` shows and
// what its heartbeat to a server carries.
func (a *Agent) Status() *Status { return a.status() }

func (a *Agent) status() *Status {
	a.mu.Lock()
	st := &Status{
		PID: os.Getpid(), Version: version.String(), Host: a.cfg.Host,
		Started: a.started.UTC(), Updated: time.Now().UTC(), Ready: a.ready,
		AlertsFile: a.cfg.AlertsFile, Metrics: a.cfg.MetricsListen, Notes: a.deps.Notes,
		RuleHits: map[string]uint64{}, MemoryLimit: a.cfg.Limits.Memory,
	}
	for k, v := range a.ruleHits {
		st.RuleHits[k] = v
		st.Alerts += v
	}
	failed := map[string]string{}
	for k, v := range a.sensorErr {
		failed[k] = v
	}
	a.mu.Unlock()

	modes := map[sensor.Mode]bool{}
	for _, s := range a.deps.Sensors {
		ss := SensorStatus{Status: s.Status(), Stats: s.Stats(), QueueDrops: a.dropCounter(s.Name()).Load()}
		if msg, ok := failed[s.Name()]; ok {
			ss.StartFailed = msg
			ss.Mode = sensor.ModeOff
			if ss.Reason == "" {
				ss.Reason = msg
			}
		}
		if ss.Mode != sensor.ModeLog {
			modes[ss.Mode] = true
		}
		st.Sensors = append(st.Sensors, ss)
	}
	switch {
	case len(modes) == 1 && modes[sensor.ModeEBPF]:
		st.Mode = "ebpf"
	case len(modes) == 1 && modes[sensor.ModeFallback]:
		st.Mode = "fallback"
	case len(modes) == 0 || (len(modes) == 1 && modes[sensor.ModeOff]):
		st.Mode = "off"
	default:
		st.Mode = "mixed"
	}
	st.Events = a.processed.Load()
	st.EventsKind = a.kinds.snapshot()
	st.QueueLen, st.QueueCap = len(a.queue), cap(a.queue)
	st.RSSBytes, st.CPUSeconds = selfUsage()
	return st
}

func (a *Agent) writeStatus() error {
	b, err := json.MarshalIndent(a.status(), "", "  ")
	if err != nil {
		return err
	}
	p := StatusPath(a.dataDir)
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return err
	}
	return snapshot.WriteFileAtomic(p, b, 0o640)
}

// ReadStatus reads the status file and says whether its agent is alive:
// the PID exists and the file was updated within three intervals.
func ReadStatus(dataDir string, interval time.Duration, now time.Time) (*Status, bool, error) {
	b, err := os.ReadFile(StatusPath(dataDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, fmt.Errorf("no agent has run with data dir %s", dataDir)
	}
	if err != nil {
		return nil, false, err
	}
	var st Status
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, false, fmt.Errorf("%s: %w", StatusPath(dataDir), err)
	}
	alive := syscall.Kill(st.PID, 0) == nil && now.Sub(st.Updated) <= 3*interval+time.Second
	return &st, alive, nil
}

// SortedHits returns rule hits by count, highest first.
func (s *Status) SortedHits() []string {
	ids := make([]string, 0, len(s.RuleHits))
	for id := range s.RuleHits {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		if s.RuleHits[ids[i]] != s.RuleHits[ids[j]] {
			return s.RuleHits[ids[i]] > s.RuleHits[ids[j]]
		}
		return ids[i] < ids[j]
	})
	return ids
}

// selfUsage reads this process's RSS and CPU time.
func selfUsage() (rss uint64, cpu float64) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	}
	b, err := os.ReadFile("/proc/self/statm")
	if err == nil {
		var size, res uint64
		if _, err := fmt.Sscan(string(b), &size, &res); err == nil {
			rss = res * uint64(os.Getpagesize())
		}
	}
	return rss, cpu
}
