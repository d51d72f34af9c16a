// Package store is the server's persistent state: hosts and their agents,
// enrolment tokens, inventory snapshots, vulnerability findings, alerts and
// events, the task centre, console users, sessions, API tokens, settings and
// the audit log.
//
// Store is one interface with two implementations sharing one SQL core
// (store/sqlstore): store/sqlite, the default, a file in the data
// directory; and store/postgres for several server replicas. The
// conformance suite in store/storetest runs against both.
//
// Every text field is stored and read back verbatim. Text must be valid
// UTF-8 without NUL bytes (PostgreSQL cannot store NUL in text); anything
// else is refused with an error wrapping ErrInvalid, in both
// implementations. JSON fields must be valid JSON. Times are kept with
// nanosecond precision, in UTC.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/severity"
)

// Errors callers branch on. Methods return errors wrapping them.
var (
	// ErrNotFound: the object does not exist (or a token is used or expired).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the object exists already, or it changed since it was
	// read (optimistic concurrency), or a state transition is not allowed.
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the input cannot be stored (NUL byte, bad UTF-8, bad
	// JSON, unknown enum value, bad cursor).
	ErrInvalid = errors.New("invalid input")
	// ErrSchemaTooNew: the database was migrated by a newer Vigil.
	ErrSchemaTooNew = errors.New("database schema is newer than this vigil")
)

// Store is the server's state. All methods are safe for concurrent use.
type Store interface {
	// Hosts.

	// UpsertHost creates the host or updates it on enrolment and
	// heartbeat: every field but Labels, Groups and Importance (console-
	// owned, kept when the host exists) and EnrolledAt (kept once set).
	UpsertHost(ctx context.Context, h Host) error
	// GetHost returns ErrNotFound for an unknown ID.
	GetHost(ctx context.Context, id string) (Host, error)
	// ListHosts returns one page of hosts and the cursor of the next page
	// ("" on the last one).
	ListHosts(ctx context.Context, f HostFilter) (hosts []Host, next string, err error)
	// FleetCounts counts the fleet: revoked hosts, and of the others those
	// last seen at or after seenSince, those never seen, and all.
	FleetCounts(ctx context.Context, seenSince time.Time) (HostCounts, error)
	// CountHosts counts the hosts matching f (paging fields ignored).
	CountHosts(ctx context.Context, f HostFilter) (int, error)
	// SetHostAttrs replaces labels, groups and importance.
	SetHostAttrs(ctx context.Context, id string, labels, groups []string, importance int) error
	// RevokeHost marks the host's certificate revoked.
	RevokeHost(ctx context.Context, id string) error
	// RevokedHosts lists the revoked hosts' IDs.
	RevokedHosts(ctx context.Context) ([]string, error)
	// TouchHosts records heartbeats in one transaction: last seen (never
	// moved back), agent version, sensor mode, and hostname and OS when
	// set. Hosts that do not exist are skipped.
	TouchHosts(ctx context.Context, seen []HostSeen) error

	// Enrolment tokens: only a hash of the secret is stored.

	CreateEnrolToken(ctx context.Context, t EnrolToken) error
	// ConsumeEnrolToken marks the token used, once: a second call, an
	// expired token (ExpiresAt ≤ now) or an unknown hash gives ErrNotFound.
	ConsumeEnrolToken(ctx context.Context, hash string, now time.Time, hostID string) (EnrolToken, error)
	ListEnrolTokens(ctx context.Context) ([]EnrolToken, error)
	DeleteEnrolToken(ctx context.Context, hash string) error

	// Inventory.

	// PutInventory stores a snapshot unless its content hash equals the
	// host's latest one; stored says which. The returned snapshot is the
	// new one or the identical latest one.
	PutInventory(ctx context.Context, hostID string, at time.Time, data json.RawMessage) (snap InventorySnapshot, stored bool, err error)
	LatestInventory(ctx context.Context, hostID string) (InventorySnapshot, error)
	// InventoryHistory lists a host's snapshots, newest first, without Data.
	InventoryHistory(ctx context.Context, hostID string, limit int) ([]InventorySnapshot, error)
	GetInventory(ctx context.Context, id int64) (InventorySnapshot, error)

	// Vulnerability findings.

	// ReplaceFindings replaces the host's whole set atomically.
	ReplaceFindings(ctx context.Context, hostID string, fs []VulnFinding) error
	ListHostFindings(ctx context.Context, hostID string) ([]VulnFinding, error)
	// ListVulns aggregates findings by vulnerability: most urgent first.
	ListVulns(ctx context.Context, f VulnFilter) ([]VulnSummary, error)

	// Alerts.

	// IngestAlerts stores alerts from a host, idempotent by alert ID, and
	// returns how many were new. The host must exist.
	IngestAlerts(ctx context.Context, hostID string, as []alert.Alert) (added int, err error)
	GetAlert(ctx context.Context, id string) (AlertRecord, error)
	// ListAlerts returns one page, newest first, and the next cursor.
	ListAlerts(ctx context.Context, f AlertFilter) (as []AlertRecord, next string, err error)
	// CountAlerts counts matching alerts. With f.Limit > 0 it stops
	// counting at Limit (the console shows "10000+"): an exact count over
	// a million alerts takes a second; Offset and Cursor are ignored.
	CountAlerts(ctx context.Context, f AlertFilter) (int, error)
	// UpdateAlert changes status and assignee and appends a comment when
	// one is given. Version must be the record's current version (else
	// ErrConflict); the new version is returned. The change and an audit
	// entry (action "alert.update") are written in one transaction.
	UpdateAlert(ctx context.Context, u AlertUpdate) (version int, err error)
	// AlertStats counts alerts by severity, status and tactic.
	AlertStats(ctx context.Context, f AlertFilter) (AlertStats, error)
	// OutboxAlerts returns the oldest alerts in the outbox: every new
	// alert is put there in the transaction that stores it, and stays until
	// DeleteOutbox (the server exports it and applies the allow-list).
	OutboxAlerts(ctx context.Context, limit int) ([]OutboxAlert, error)
	// DeleteOutbox removes handled entries by sequence number.
	DeleteOutbox(ctx context.Context, seqs []int64) error

	// Events.

	// IngestEvents stores events, idempotent by (host, event ID), and
	// returns how many were new.
	IngestEvents(ctx context.Context, hostID string, es []Event) (added int, err error)
	// Ingest stores several hosts' alerts and events in one transaction
	// (group commit), with IngestAlerts' and IngestEvents' rules: all or
	// nothing; ErrInvalid when any batch holds a record that cannot be
	// stored, ErrNotFound when a host does not exist. added[i] counts
	// batch i's new records.
	Ingest(ctx context.Context, bs []Batch) (added []BatchAdded, err error)
	CountEvents(ctx context.Context, hostID string) (int, error)
	// ListEvents lists a host's events in [Since, Until), oldest first.
	ListEvents(ctx context.Context, f EventFilter) ([]Event, error)

	// Tasks.

	CreateTask(ctx context.Context, t Task) (Task, error)
	GetTask(ctx context.Context, id int64) (Task, error)
	ListTasks(ctx context.Context, limit, offset int) ([]Task, error)
	// AddTaskRuns creates one pending run per host for the task.
	AddTaskRuns(ctx context.Context, taskID int64, hostIDs []string, at time.Time) ([]TaskRun, error)
	ListTaskRuns(ctx context.Context, taskID int64) ([]TaskRun, error)
	// PendingRuns returns a host's oldest pending runs.
	PendingRuns(ctx context.Context, hostID string, limit int) ([]TaskRun, error)
	// DispatchedRuns returns runs still dispatched (no result yet) that
	// were dispatched before the given time, by ID, starting after afterID.
	DispatchedRuns(ctx context.Context, before time.Time, afterID int64, limit int) ([]TaskRun, error)
	// PendingHosts lists the hosts that have pending runs.
	PendingHosts(ctx context.Context) ([]string, error)
	// SetRunState moves a run pending → dispatched → succeeded/failed
	// (pending → failed also, for a run that cannot be sent); any other
	// transition gives ErrConflict. Output is kept for finished runs.
	SetRunState(ctx context.Context, runID int64, to RunState, at time.Time, output json.RawMessage) error
	// ReviseRun replaces a failed run's outcome with to (succeeded or
	// failed), finished at at with output, if its output is still was; it
	// gives ErrConflict otherwise. It records a result that arrives after
	// the run was given up as lost.
	ReviseRun(ctx context.Context, runID int64, was json.RawMessage, to RunState, at time.Time, output json.RawMessage) error

	// Users, sessions, API tokens, settings.

	CreateUser(ctx context.Context, u User) error
	GetUser(ctx context.Context, username string) (User, error)
	ListUsers(ctx context.Context) ([]User, error)
	// UpdateUser replaces the password hash, role and disabled flag.
	UpdateUser(ctx context.Context, u User) error
	DeleteUser(ctx context.Context, username string) error

	CreateSession(ctx context.Context, s Session) error
	// GetSession returns ErrNotFound for an unknown or expired session.
	GetSession(ctx context.Context, tokenHash string, now time.Time) (Session, error)
	DeleteSession(ctx context.Context, tokenHash string) error
	// DeleteExpiredSessions removes sessions expired at now.
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error)

	CreateAPIToken(ctx context.Context, t APIToken) error
	GetAPIToken(ctx context.Context, hash string) (APIToken, error)
	// TouchAPIToken records a use.
	TouchAPIToken(ctx context.Context, hash string, at time.Time) error
	ListAPITokens(ctx context.Context, username string) ([]APIToken, error)
	DeleteAPIToken(ctx context.Context, hash string) error

	GetSetting(ctx context.Context, key string) (json.RawMessage, error)
	PutSetting(ctx context.Context, key string, value json.RawMessage) error
	ListSettings(ctx context.Context) (map[string]json.RawMessage, error)

	// AcquireLease takes the named lease for holder until now+ttl, or
	// renews it, and reports whether holder has it: it does when the lease
	// is free, expired at now, or holder's already. Server replicas that
	// share a store take a lease before work that must run in one place
	// at a time. Times are each caller's clock, so replicas' clocks must
	// agree to well within ttl.
	AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error)
	// ReleaseLease gives the lease up if holder has it (so another replica
	// can take it at once); otherwise it does nothing.
	ReleaseLease(ctx context.Context, name, holder string) error

	// Audit log.

	AppendAudit(ctx context.Context, e AuditEntry) (int64, error)
	// ListAudit lists entries newest first.
	ListAudit(ctx context.Context, f AuditFilter) (es []AuditEntry, next string, err error)

	// SchemaVersion is the applied migration version.
	SchemaVersion(ctx context.Context) (int, error)
	Close() error
}

// Host is an enrolled host and its agent.
type Host struct {
	ID           string
	Hostname     string
	OS           string
	AgentVersion string
	SensorMode   string // "ebpf", "proc_connector", …
	Labels       []string
	Groups       []string
	Importance   int // 0 normal; higher is more important
	CertSerial   string
	CertSHA256   string // certificate fingerprint, hex
	Revoked      bool
	EnrolledAt   time.Time
	LastSeen     time.Time
}

// HostSeen is one host's latest heartbeat, for TouchHosts.
type HostSeen struct {
	ID           string
	LastSeen     time.Time
	AgentVersion string
	SensorMode   string
	Hostname     string // "" keeps the stored one
	OS           string // "" keeps the stored one
}

// HostSort orders a host list.
type HostSort int

const (
	// SortHostname orders by hostname, then ID.
	SortHostname HostSort = iota
	// SortLastSeen orders most recently seen first.
	SortLastSeen
)

// HostFilter selects hosts. Zero fields select everything.
type HostFilter struct {
	SeenSince time.Time // online since
	Label     string
	Group     string
	Name      string // case-insensitive substring of the hostname
	Revoked   *bool
	Sort      HostSort
	Page
}

// HostCounts is FleetCounts' result.
type HostCounts struct {
	Active    int // not revoked
	Seen      int // active and last seen at or after the time asked
	NeverSeen int // active and never seen
	Revoked   int
}

// Page is a page request: Cursor (from the previous page) for keyset
// pagination, else Offset. Limit 0 means 100; at most 1000.
type Page struct {
	Limit  int
	Offset int
	Cursor string
}

// EnrolToken is an enrolment token; Hash is of the secret the agent shows.
type EnrolToken struct {
	Hash      string
	Name      string
	CreatedBy string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // zero until consumed
	UsedBy    string    // host ID that consumed it
}

// InventorySnapshot is a host's inventory at one time.
type InventorySnapshot struct {
	ID     int64
	HostID string
	Time   time.Time
	SHA256 string          // hex, of Data
	Data   json.RawMessage // empty in history lists
}

// VulnFinding is one vulnerability on one host.
type VulnFinding struct {
	HostID       string
	VulnID       string // "CVE-2024-3094", "GHSA-…"
	Package      string
	Version      string
	FixedVersion string
	Severity     severity.Level
	Priority     int // higher is more urgent (severity, exposure, importance)
	Summary      string
	Data         json.RawMessage // details; may be empty
}

// VulnFilter selects aggregated vulnerabilities.
type VulnFilter struct {
	MinSeverity severity.Level
	Text        string // substring of ID, package or summary
	Group       string // only hosts in this group
	Limit       int
	Offset      int
}

// VulnSummary is one vulnerability across the fleet.
type VulnSummary struct {
	VulnID   string
	Severity severity.Level // highest seen
	Priority int            // highest seen
	Hosts    int
	Packages int
	Summary  string
}

// AlertStatus is an alert's workflow state.
type AlertStatus string

// Workflow states.
const (
	StatusOpen          AlertStatus = "open"
	StatusHandled       AlertStatus = "handled"
	StatusIgnored       AlertStatus = "ignored"
	StatusFalsePositive AlertStatus = "false_positive"
)

// Valid reports whether s is a known status.
func (s AlertStatus) Valid() bool {
	switch s {
	case StatusOpen, StatusHandled, StatusIgnored, StatusFalsePositive:
		return true
	}
	return false
}

// AlertRecord is a stored alert and its workflow.
type AlertRecord struct {
	Alert     alert.Alert // Host is the ingesting host's ID
	Status    AlertStatus
	Assignee  string
	Comments  []Comment // oldest first; only filled by GetAlert
	Version   int
	UpdatedAt time.Time
}

// Comment is a note on an alert.
type Comment struct {
	Time   time.Time
	Author string
	Text   string
}

// AlertFilter selects alerts; zero fields select everything.
type AlertFilter struct {
	HostID   string
	Severity severity.Level // at least this severity
	Status   AlertStatus
	RuleID   string
	Tactic   string
	Since    time.Time // inclusive
	Until    time.Time // exclusive
	Text     string    // case-insensitive substring of the rule title
	Page
}

// AlertUpdate is a workflow change.
type AlertUpdate struct {
	ID       string
	Version  int
	Status   AlertStatus
	Assignee string
	Comment  *Comment
	At       time.Time
	Actor    string // written to the audit log with the change
}

// AlertStats are dashboard counts.
type AlertStats struct {
	BySeverity map[severity.Level]int
	ByStatus   map[AlertStatus]int
	ByTactic   map[string]int
}

// Event is one runtime event from a host; the store keeps its JSON.
type Event struct {
	ID   string // unique per host
	Time time.Time
	Kind string
	Data json.RawMessage
}

// OutboxAlert is an alert waiting in the outbox.
type OutboxAlert struct {
	Seq    int64
	Record AlertRecord
}

// Batch is one host's alerts and events, for Ingest.
type Batch struct {
	HostID string
	Alerts []alert.Alert
	Events []Event
}

// BatchAdded counts a batch's new records.
type BatchAdded struct{ Alerts, Events int }

// EventFilter selects a host's events.
type EventFilter struct {
	HostID string
	Since  time.Time
	Until  time.Time
	Limit  int
}

// Targets name the hosts a task runs on: the union of the lists.
type Targets struct {
	All    bool     `json:"all,omitempty"`
	Hosts  []string `json:"hosts,omitempty"`
	Groups []string `json:"groups,omitempty"`
	Labels []string `json:"labels,omitempty"`
}

// Task is a typed, signed task.
type Task struct {
	ID        int64
	Type      string
	Params    json.RawMessage
	Targets   Targets
	Schedule  string // cron expression; "" runs once, now
	Signature []byte
	CreatedBy string
	CreatedAt time.Time
}

// RunState is a task run's state.
type RunState string

// Run states.
const (
	RunPending    RunState = "pending"
	RunDispatched RunState = "dispatched"
	RunSucceeded  RunState = "succeeded"
	RunFailed     RunState = "failed"
)

// TaskRun is one task on one host.
type TaskRun struct {
	ID           int64
	TaskID       int64
	HostID       string
	State        RunState
	CreatedAt    time.Time
	DispatchedAt time.Time
	FinishedAt   time.Time
	Output       json.RawMessage
}

// Role is a console user's role.
type Role string

// Roles.
const (
	RoleAdmin    Role = "admin"
	RoleAnalyst  Role = "analyst"
	RoleReadOnly Role = "read-only"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleAdmin || r == RoleAnalyst || r == RoleReadOnly }

// User is a console user. PasswordHash is stored as given.
type User struct {
	Username     string
	PasswordHash string
	Role         Role
	Disabled     bool
	CreatedAt    time.Time
}

// Session is a console session; TokenHash is of the cookie value.
type Session struct {
	TokenHash  string
	Username   string
	CSRFSecret string
	CreatedAt  time.Time
	ExpiresAt  time.Time
}

// APIToken is an API token; Hash is of the secret.
type APIToken struct {
	Hash      string
	Username  string
	Name      string
	CreatedAt time.Time
	LastUsed  time.Time
}

// AuditEntry is one change.
type AuditEntry struct {
	ID      int64
	Time    time.Time
	Actor   string // username, "agent:<host>", "system"
	Action  string // "alert.update", "host.revoke", …
	Object  string // "alert:<id>", "host:<id>", …
	Details json.RawMessage
}

// AuditFilter selects audit entries.
type AuditFilter struct {
	Actor  string
	Action string
	Object string
	Since  time.Time
	Until  time.Time
	Page
}
