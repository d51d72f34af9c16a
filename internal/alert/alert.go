// Package alert is the alert contract: what the detection engine and the
// analyzers emit, what `vigil agent --alerts-file` writes one per line and
// what the server ingests. Its JSON names are relied on outside this repo:
// extend, never rename or drop.
package alert

import (
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/vigilsec/vigil/internal/event"
	"github.com/vigilsec/vigil/internal/severity"
)

// Alert is one detection.
type Alert struct {
	ID        string           `json:"id"`
	Time      time.Time        `json:"time"` // RFC 3339, UTC, nanoseconds
	Host      string           `json:"host"`
	Rule      Rule             `json:"rule"`
	Severity  severity.Level   `json:"severity"`
	Attack    Attack           `json:"attack"`
	Process   *Process         `json:"process,omitempty"`
	Container *event.Container `json:"container,omitempty"`
	Evidence  map[string]any   `json:"evidence"`
	Response  Response         `json:"response"`
	// Count is how many matching events this alert stands for: 1 for a plain
	// rule, the aggregate for a windowed one, more when repeats were folded.
	Count int `json:"count,omitempty"`
}

// Rule names the rule that fired.
type Rule struct {
	ID      string `json:"id"`
	Version int    `json:"version"`
	Title   string `json:"title"`
}

// Attack holds MITRE ATT&CK IDs: tactics ("TA0003") and techniques
// ("T1053.003", with the sub-technique where one fits).
type Attack struct {
	Tactics    []string `json:"tactics"`
	Techniques []string `json:"techniques"`
}

// Process is the acting process and its ancestry.
type Process struct {
	PID       int              `json:"pid"`
	ExecID    string           `json:"exec_id"`
	Exe       string           `json:"exe"`
	Cmdline   string           `json:"cmdline"`
	User      string           `json:"user"`
	UID       uint32           `json:"uid"`
	Ancestors []event.Ancestor `json:"ancestors"`
}

// Response is what was done about the alert.
type Response struct {
	// Action is one of the closed list: "none" (alert only), "kill",
	// "kill_tree", "deny_exec", "block_connect", "block_ip", "quarantine".
	Action string `json:"action"`
	// Result is "ok", "skipped: …" or "failed: …"; "alert_only" when the rule
	// names an action but is configured not to act.
	Result string `json:"result"`
}

// ProcessOf makes the alert's process view of an event's process.
func ProcessOf(p *event.Process) *Process {
	if p == nil {
		return nil
	}
	anc := p.Ancestors
	if anc == nil {
		anc = []event.Ancestor{}
	}
	user := p.User
	return &Process{PID: p.PID, ExecID: p.ExecID, Exe: p.Exe, Cmdline: p.Cmdline, User: user, UID: p.UID, Ancestors: anc}
}

// NewID returns a random 128-bit alert ID in hex.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on Linux ≥ 3.17
	}
	return hex.EncodeToString(b[:])
}
