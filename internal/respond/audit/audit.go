// Package audit writes the response audit log: one JSON line per response
// action (kill, deny exec, block, quarantine, restore, …) appended to
// <data-dir>/audit.log. Every line is written with a single O_APPEND write
// and fsync'd before Write returns, so an action that was taken is on disk
// even if the agent dies right after, and concurrent writers (the agent and
// a `vigil quarantine` command) never interleave within a line.
package audit

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// FileName is the audit log, relative to the data directory.
const FileName = "audit.log"

// Result values.
const (
	ResultOK      = "ok"
	ResultFailed  = "failed"
	ResultSkipped = "skipped"
)

// Record is one audited action.
type Record struct {
	Time    time.Time `json:"time"`
	Action  string    `json:"action"` // "kill", "kill_tree", "deny_exec", "block_connect", "quarantine", "restore", …
	Target  string    `json:"target"` // what was acted on: "pid 42 (exec_id …)", an IP, a path, a quarantine ID
	AlertID string    `json:"alert_id,omitempty"`
	RuleID  string    `json:"rule_id,omitempty"`
	Result  string    `json:"result"` // ResultOK, ResultFailed or ResultSkipped
	Error   string    `json:"error,omitempty"`
}

// Log appends records to an audit file. It is safe for concurrent use.
type Log struct {
	mu sync.Mutex
	f  *os.File
}

// Open opens (creating it if needed, mode 0600) the audit log in dataDir.
func Open(dataDir string) (*Log, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("audit log: create data directory: %w", err)
	}
	p := filepath.Join(dataDir, FileName)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	return &Log{f: f}, nil
}

// Write appends r as one line and syncs it to disk. A zero r.Time is set
// to now; times are written in UTC.
func (l *Log) Write(r Record) error {
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	r.Time = r.Time.UTC()
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("audit log: encode: %w", err)
	}
	b = append(b, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return fmt.Errorf("audit log: closed")
	}
	if _, err := l.f.Write(b); err != nil {
		return fmt.Errorf("audit log %s: write: %w", l.f.Name(), err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("audit log %s: sync: %w", l.f.Name(), err)
	}
	return nil
}

// Close closes the log; later writes fail.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// MaxLine bounds one line of the audit log when reading it.
const MaxLine = 64 << 10

// Read parses an audit log. A malformed line is an error naming its line
// number.
func Read(r io.Reader) ([]Record, error) {
	var out []Record
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), MaxLine)
	for n := 1; sc.Scan(); n++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var rec Record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return out, fmt.Errorf("audit log line %d: %w", n, err)
		}
		out = append(out, rec)
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("audit log: %w", err)
	}
	return out, nil
}

// ReadFile parses the audit log in dataDir.
func ReadFile(dataDir string) ([]Record, error) {
	f, err := os.Open(filepath.Join(dataDir, FileName))
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	defer f.Close()
	return Read(f)
}
