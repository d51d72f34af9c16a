// Package task defines the task centre's closed set of task types, their
// parameters, and the signed envelope a task run travels in from the server
// to one agent.
//
// A task is typed: its type is one of the constants below and its
// parameters are a typed struct, decoded strictly (unknown fields,
// duplicate keys, trailing data and wrong types are refused) and validated
// (paths absolute and clean and taken literally, IPs parsed, IDs in their
// exact grammar). There is no type that runs a command or a script: the
// server cannot make an agent run anything but these operations.
//
// A run is signed by the server (Signer) with ed25519 over a canonical JSON
// envelope {v, run_id, task_id, host_id, type, params, issued_at,
// expires_at, nonce}; the agent verifies it (Verifier) before anything
// runs: signature, host, validity window, known type, valid parameters.
// Replay protection is the agent's (internal/task/runner), which remembers
// every run ID and nonce it accepted until the envelope expires.
//
// Subpackages: centre is the server side (Submit, schedules), runner the
// agent side (Executor).
package task

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vigilsec/vigil/internal/collector/list"
	"github.com/vigilsec/vigil/internal/severity"
)

// Type names a kind of task.
type Type string

// The task types: a closed set.
const (
	// Collect runs inventory collectors (internal/collector).
	Collect Type = "collect"
	// VulnScan scans the host's packages for vulnerabilities, as
	// `vigil scan host` does.
	VulnScan Type = "vuln_scan"
	// MalwareScan scans paths for malware and web shells, as `vigil scan
	// files` does.
	MalwareScan Type = "malware_scan"
	// FixPackages upgrades the OS packages of findings, as `vigil fix`
	// does, keeping a rollback record.
	FixPackages Type = "fix_packages"
	// RollbackPackages restores the versions a fix_packages record saved.
	RollbackPackages Type = "rollback_packages"
	// KillProcess kills one process (or its tree), identified by PID and
	// start time so that a reused PID is never hit.
	KillProcess Type = "kill_process"
	// QuarantineFile moves a file into the quarantine vault.
	QuarantineFile Type = "quarantine_file"
	// RestoreFile moves a quarantined file back.
	RestoreFile Type = "restore_file"
	// BlockIP blocks traffic to and from an address for a time.
	BlockIP Type = "block_ip"
	// UnblockIP lifts such a block.
	UnblockIP Type = "unblock_ip"
)

// Types lists every task type.
var Types = []Type{Collect, VulnScan, MalwareScan, FixPackages, RollbackPackages,
	KillProcess, QuarantineFile, RestoreFile, BlockIP, UnblockIP}

// RunTimeouts bound each type's run on the agent (the runner cancels a
// run at its timeout and reports it failed).
var RunTimeouts = map[Type]time.Duration{
	Collect:          10 * time.Minute,
	VulnScan:         30 * time.Minute,
	MalwareScan:      2 * time.Hour,
	FixPackages:      30 * time.Minute,
	RollbackPackages: 30 * time.Minute,
	KillProcess:      30 * time.Second,
	QuarantineFile:   2 * time.Minute,
	RestoreFile:      2 * time.Minute,
	BlockIP:          30 * time.Second,
	UnblockIP:        30 * time.Second,
}

// ResultGrace is how long after a run's timeout the server still waits for
// its result (queueing on the agent, a reconnect) before it records the
// run failed as lost.
const ResultGrace = 10 * time.Minute

// ResultDeadline is how long after dispatch the server waits for a run's
// result.
func ResultDeadline(t Type) time.Duration {
	d, ok := RunTimeouts[t]
	if !ok {
		d = time.Hour
	}
	return d + ResultGrace
}

// LostOutput is the output the server stores for a run it gives up on:
// its result did not come within ResultDeadline. A result that comes
// later still replaces it (IsLost tells such runs).
func LostOutput(msg string) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"error": msg, "lost": true})
	return b
}

// IsLost reports whether output is a LostOutput.
func IsLost(output json.RawMessage) bool {
	var o struct {
		Lost bool `json:"lost"`
	}
	return json.Unmarshal(output, &o) == nil && o.Lost
}

// Errors callers branch on; errors wrap them.
var (
	// ErrUnknownType: the task type is not one of Types.
	ErrUnknownType = errors.New("unknown task type")
	// ErrInvalidParams: the parameters do not decode or do not validate.
	ErrInvalidParams = errors.New("invalid task parameters")
)

// Limits on parameters.
const (
	// MaxParamsSize bounds the JSON of one task's parameters.
	MaxParamsSize = 64 << 10
	// MaxPaths bounds the paths of a malware scan.
	MaxPaths = 64
	// MaxPathLen bounds one path (PATH_MAX).
	MaxPathLen = 4096
	// MaxFindingKeys bounds the findings of one fix.
	MaxFindingKeys = 200
	// MaxBlockDuration bounds a block_ip duration.
	MaxBlockDuration = 30 * 24 * 3600
)

// Params is the parameters of one task type; each type's struct
// implements it. Validate checks and normalises the parameters in place.
type Params interface {
	Type() Type
	Validate() error
}

// CollectParams are collect's parameters.
type CollectParams struct {
	// Collectors names the collectors to run (internal/collector/list);
	// empty runs all.
	Collectors []string `json:"collectors,omitempty"`
}

// VulnScanParams are vuln_scan's parameters.
type VulnScanParams struct {
	// Severities keeps only findings of these severities ("low",
	// "medium", "high", "critical", "unspecified"); empty keeps all.
	Severities []string `json:"severities,omitempty"`
}

// MalwareScanParams are malware_scan's parameters.
type MalwareScanParams struct {
	// Paths are the files and directories to scan: absolute, clean,
	// taken literally (no globbing).
	Paths []string `json:"paths"`
	// Quarantine moves every file with a finding into the vault.
	Quarantine bool `json:"quarantine,omitempty"`
	// MaxScanBytes caps the bytes the content checks read of each file;
	// 0 means the scanner's default.
	MaxScanBytes int64 `json:"max_scan_bytes,omitempty"`
	// Rate limits reads to this many bytes per second; 0 means the
	// agent's default (50 MiB/s).
	Rate int64 `json:"rate,omitempty"`
}

// FixPackagesParams are fix_packages' parameters.
type FixPackagesParams struct {
	// Findings are finding keys ("<OSV ID>/<ecosystem>/<package>", the
	// key column of `vigil scan host`) to fix.
	Findings []string `json:"findings"`
}

// RollbackPackagesParams are rollback_packages' parameters.
type RollbackPackagesParams struct {
	// Record is the ID of a fix_packages rollback record
	// ("20250801T120000Z-1a2b3c4d"), as its output gives it.
	Record string `json:"record"`
}

// KillProcessParams are kill_process' parameters. The process is named
// by PID and start time (clock ticks since boot, field 22 of
// /proc/PID/stat), optionally with the boot ID and executable it must
// have; any mismatch means the PID was reused and nothing is killed.
type KillProcessParams struct {
	PID       int    `json:"pid"`
	StartTime uint64 `json:"start_time"`
	// BootID, when set, must be this boot's ID (32 hex digits, as in an
	// exec ID).
	BootID string `json:"boot_id,omitempty"`
	// Exe, when set, must be the process's executable path.
	Exe string `json:"exe,omitempty"`
	// Tree kills the process and all its descendants.
	Tree bool `json:"tree,omitempty"`
}

// QuarantineFileParams are quarantine_file's parameters.
type QuarantineFileParams struct {
	// Path is the regular file to quarantine: absolute and clean.
	Path string `json:"path"`
	// AlertID optionally names the alert that asked for it.
	AlertID string `json:"alert_id,omitempty"`
}

// RestoreFileParams are restore_file's parameters.
type RestoreFileParams struct {
	// ID is the quarantine entry (32 lowercase hex digits).
	ID string `json:"id"`
	// Force replaces a file that now exists at the original path.
	Force bool `json:"force,omitempty"`
}

// BlockIPParams are block_ip's parameters.
type BlockIPParams struct {
	// IP is one address (no prefix, no zone); an IPv4-mapped IPv6
	// address is normalised to IPv4.
	IP string `json:"ip"`
	// DurationSeconds is how long the block lasts; 0 blocks until
	// unblock_ip. At most MaxBlockDuration.
	DurationSeconds int64 `json:"duration_seconds,omitempty"`
}

// UnblockIPParams are unblock_ip's parameters.
type UnblockIPParams struct {
	IP string `json:"ip"`
}

// Type implementations.
func (*CollectParams) Type() Type          { return Collect }
func (*VulnScanParams) Type() Type         { return VulnScan }
func (*MalwareScanParams) Type() Type      { return MalwareScan }
func (*FixPackagesParams) Type() Type      { return FixPackages }
func (*RollbackPackagesParams) Type() Type { return RollbackPackages }
func (*KillProcessParams) Type() Type      { return KillProcess }
func (*QuarantineFileParams) Type() Type   { return QuarantineFile }
func (*RestoreFileParams) Type() Type      { return RestoreFile }
func (*BlockIPParams) Type() Type          { return BlockIP }
func (*UnblockIPParams) Type() Type        { return UnblockIP }

// newParams returns the zero parameters of t.
func newParams(t Type) (Params, error) {
	switch t {
	case Collect:
		return &CollectParams{}, nil
	case VulnScan:
		return &VulnScanParams{}, nil
	case MalwareScan:
		return &MalwareScanParams{}, nil
	case FixPackages:
		return &FixPackagesParams{}, nil
	case RollbackPackages:
		return &RollbackPackagesParams{}, nil
	case KillProcess:
		return &KillProcessParams{}, nil
	case QuarantineFile:
		return &QuarantineFileParams{}, nil
	case RestoreFile:
		return &RestoreFileParams{}, nil
	case BlockIP:
		return &BlockIPParams{}, nil
	case UnblockIP:
		return &UnblockIPParams{}, nil
	}
	return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknownType, t, typeNames())
}

func typeNames() string {
	var s []string
	for _, t := range Types {
		s = append(s, string(t))
	}
	return strings.Join(s, ", ")
}

// ParseParams decodes and validates the parameters of a task of type typ.
// Empty or null params are an empty object. It returns the typed
// parameters and their canonical JSON (what the task centre stores and
// the envelope carries). Errors wrap ErrUnknownType or ErrInvalidParams.
func ParseParams(typ string, raw json.RawMessage) (Params, json.RawMessage, error) {
	p, err := newParams(Type(typ))
	if err != nil {
		return nil, nil, err
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		raw = json.RawMessage("{}")
	}
	if len(raw) > MaxParamsSize {
		return nil, nil, fmt.Errorf("%s: %w: %d bytes, more than %d", typ, ErrInvalidParams, len(raw), MaxParamsSize)
	}
	if raw[0] != '{' {
		return nil, nil, fmt.Errorf("%s: %w: want a JSON object", typ, ErrInvalidParams)
	}
	if err := DecodeStrict(raw, p); err != nil {
		return nil, nil, fmt.Errorf("%s: %w: %v", typ, ErrInvalidParams, err)
	}
	if err := p.Validate(); err != nil {
		return nil, nil, fmt.Errorf("%s: %w: %v", typ, ErrInvalidParams, err)
	}
	canon, err := json.Marshal(p)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: encode parameters: %w", typ, err)
	}
	return p, canon, nil
}

// DecodeStrict decodes one JSON value into v, refusing unknown fields,
// duplicate object keys, invalid UTF-8 and trailing data.
func DecodeStrict(b []byte, v any) error {
	if !utf8.Valid(b) {
		return errors.New("invalid UTF-8")
	}
	if err := checkDuplicateKeys(b); err != nil {
		return err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if _, err := d.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// checkDuplicateKeys walks b's tokens and refuses an object with a key
// twice: encoding/json keeps the last, which a reviewer of the first would
// not see.
func checkDuplicateKeys(b []byte) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	type frame struct {
		obj  bool
		keys map[string]bool
		key  bool // next token in an object is a key
	}
	var stack []*frame
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.obj && top.key {
			if k, ok := tok.(string); ok {
				if top.keys[k] {
					return fmt.Errorf("duplicate key %q", k)
				}
				top.keys[k] = true
				top.key = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{obj: true, keys: map[string]bool{}, key: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		// A value ended: the next token of an enclosing object is a key.
		if len(stack) > 0 && stack[len(stack)-1].obj {
			stack[len(stack)-1].key = true
		}
	}
}

// Validate checks the collector names.
func (p *CollectParams) Validate() error {
	known := list.Names()
	seen := map[string]bool{}
	for _, c := range p.Collectors {
		if !slices.Contains(known, c) {
			return fmt.Errorf("collectors: unknown collector %q (known: %s)", c, strings.Join(known, ", "))
		}
		if seen[c] {
			return fmt.Errorf("collectors: %q named twice", c)
		}
		seen[c] = true
	}
	return nil
}

// Validate checks the severity names and lowercases them.
func (p *VulnScanParams) Validate() error {
	seen := map[string]bool{}
	for i, s := range p.Severities {
		l, err := severity.Parse(strings.ToLower(s))
		if err != nil {
			return fmt.Errorf("severities: %v", err)
		}
		name := l.String()
		if seen[name] {
			return fmt.Errorf("severities: %q named twice", name)
		}
		seen[name] = true
		p.Severities[i] = name
	}
	return nil
}

// Validate checks the paths and sizes.
func (p *MalwareScanParams) Validate() error {
	if len(p.Paths) == 0 {
		return errors.New("paths: name at least one path")
	}
	if len(p.Paths) > MaxPaths {
		return fmt.Errorf("paths: %d paths, at most %d", len(p.Paths), MaxPaths)
	}
	seen := map[string]bool{}
	for _, path := range p.Paths {
		if err := CheckPath(path, true); err != nil {
			return fmt.Errorf("paths: %w", err)
		}
		if seen[path] {
			return fmt.Errorf("paths: %q named twice", path)
		}
		seen[path] = true
	}
	if p.MaxScanBytes < 0 || p.MaxScanBytes > 1<<30 {
		return fmt.Errorf("max_scan_bytes %d: want 0 to 1 GiB", p.MaxScanBytes)
	}
	if p.Rate < 0 {
		return fmt.Errorf("rate %d: want 0 or more bytes per second", p.Rate)
	}
	return nil
}

// CheckPath checks that p is an absolute, clean path without NUL bytes,
// control characters or glob metacharacters (paths are taken literally,
// and a "*" that is not expanded would surprise whoever wrote it). The
// root "/" is allowed only when allowRoot is set.
func CheckPath(p string, allowRoot bool) error {
	switch {
	case p == "":
		return errors.New("empty path")
	case len(p) > MaxPathLen:
		return fmt.Errorf("path of %d bytes, at most %d", len(p), MaxPathLen)
	case !utf8.ValidString(p):
		return fmt.Errorf("path %q: invalid UTF-8", p)
	case !filepath.IsAbs(p):
		return fmt.Errorf("path %q: want an absolute path", p)
	case filepath.Clean(p) != p:
		return fmt.Errorf("path %q: not clean (want %q)", p, filepath.Clean(p))
	case p == "/" && !allowRoot:
		return fmt.Errorf("path %q: want a file, not the root", p)
	case strings.ContainsAny(p, "*?[]{}"):
		return fmt.Errorf("path %q: glob characters are not expanded; name the path literally", p)
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("path %q: control character %U", p, r)
		}
	}
	return nil
}

// findingKeyRE is the grammar of a finding key: "<id>/<ecosystem>/<package>",
// where the package may itself hold slashes (Go module paths).
var findingKeyRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:+-]*/[A-Za-z0-9][A-Za-z0-9._:+ -]*/[A-Za-z0-9@_.+~:/-]+$`)

// Validate checks the finding keys.
func (p *FixPackagesParams) Validate() error {
	if len(p.Findings) == 0 {
		return errors.New("findings: name at least one finding key")
	}
	if len(p.Findings) > MaxFindingKeys {
		return fmt.Errorf("findings: %d keys, at most %d", len(p.Findings), MaxFindingKeys)
	}
	seen := map[string]bool{}
	for _, k := range p.Findings {
		if len(k) > 512 || !findingKeyRE.MatchString(k) {
			return fmt.Errorf("findings: %q: want <OSV ID>/<ecosystem>/<package>", k)
		}
		if seen[k] {
			return fmt.Errorf("findings: %q named twice", k)
		}
		seen[k] = true
	}
	return nil
}

// recordIDRE is the grammar of a fix record ID (internal/vuln/fix).
var recordIDRE = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}(-[0-9]{1,6})?$`)

// ValidRecordID reports whether id is a fix record ID.
func ValidRecordID(id string) bool { return recordIDRE.MatchString(id) }

// Validate checks the record ID.
func (p *RollbackPackagesParams) Validate() error {
	if !ValidRecordID(p.Record) {
		return fmt.Errorf("record %q: want a fix record ID like 20250801T120000Z-1a2b3c4d", p.Record)
	}
	return nil
}

// Validate checks the process identity.
func (p *KillProcessParams) Validate() error {
	if p.PID <= 1 || p.PID > 1<<22 {
		return fmt.Errorf("pid %d: want 2 to %d", p.PID, 1<<22)
	}
	if p.StartTime == 0 {
		return errors.New("start_time: required, so that a reused PID is not killed")
	}
	if p.BootID != "" {
		if b, err := hex.DecodeString(p.BootID); err != nil || len(b) != 16 || strings.ToLower(p.BootID) != p.BootID {
			return fmt.Errorf("boot_id %q: want 32 lowercase hex digits", p.BootID)
		}
	}
	if p.Exe != "" {
		if err := CheckPath(p.Exe, false); err != nil {
			return fmt.Errorf("exe: %w", err)
		}
	}
	return nil
}

// Validate checks the path.
func (p *QuarantineFileParams) Validate() error {
	if err := CheckPath(p.Path, false); err != nil {
		return fmt.Errorf("path: %w", err)
	}
	if len(p.AlertID) > 256 || strings.ContainsFunc(p.AlertID, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Errorf("alert_id %q: want at most 256 printable characters", p.AlertID)
	}
	return nil
}

// Validate checks the quarantine ID.
func (p *RestoreFileParams) Validate() error {
	if b, err := hex.DecodeString(p.ID); err != nil || len(b) != 16 || strings.ToLower(p.ID) != p.ID {
		return fmt.Errorf("id %q: want a quarantine ID of 32 lowercase hex digits", p.ID)
	}
	return nil
}

// ParseIP parses one address for block_ip and unblock_ip: no prefix, no
// zone; IPv4-mapped IPv6 becomes IPv4. The loopback addresses 127.0.0.1
// and ::1 and the unspecified addresses are refused: blocking them cuts
// the host off from itself.
func ParseIP(s string) (netip.Addr, error) {
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("ip %q: %v", s, err)
	}
	if ip.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("ip %q: zones are not allowed", s)
	}
	ip = ip.Unmap()
	if ip == netip.AddrFrom4([4]byte{127, 0, 0, 1}) || ip == netip.IPv6Loopback() || ip.IsUnspecified() {
		return netip.Addr{}, fmt.Errorf("ip %q: refusing to block the host's own loopback or unspecified address", s)
	}
	return ip, nil
}

// Validate parses the address and checks the duration.
func (p *BlockIPParams) Validate() error {
	ip, err := ParseIP(p.IP)
	if err != nil {
		return err
	}
	p.IP = ip.String()
	if p.DurationSeconds < 0 || p.DurationSeconds > MaxBlockDuration {
		return fmt.Errorf("duration_seconds %d: want 0 (until unblocked) to %d", p.DurationSeconds, MaxBlockDuration)
	}
	return nil
}

// Validate parses the address.
func (p *UnblockIPParams) Validate() error {
	ip, err := netip.ParseAddr(p.IP)
	if err != nil {
		return fmt.Errorf("ip %q: %v", p.IP, err)
	}
	if ip.Zone() != "" {
		return fmt.Errorf("ip %q: zones are not allowed", p.IP)
	}
	p.IP = ip.Unmap().String()
	return nil
}
