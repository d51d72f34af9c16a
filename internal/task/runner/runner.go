// Package runner is the agent side of the task centre: an Executor that
// verifies a signed task run (internal/task) and carries it out with the
// agent's own mechanisms — collectors, the vulnerability matcher, the
// malware scanner, the package fixer, and the response actions (kill,
// quarantine, netblock). It implements the agent link's TaskRunner.
//
// Nothing runs before the run passes every check: the signature with the
// server's key, the canonical envelope, this host's ID, the validity
// window, replay (each run ID and nonce is accepted once; the IDs are kept
// in <data-dir>/tasks/seen.json, written before the run starts, so a crash
// mid-run never runs it twice), a known type and valid parameters. Each
// run then has a per-type timeout.
package runner

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/vigilsec/vigil/internal/collector/list"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/malware"
	"github.com/vigilsec/vigil/internal/respond/audit"
	"github.com/vigilsec/vigil/internal/respond/netblock"
	"github.com/vigilsec/vigil/internal/respond/quarantine"
	"github.com/vigilsec/vigil/internal/snapshot"
	"github.com/vigilsec/vigil/internal/task"
	"github.com/vigilsec/vigil/internal/vuln/assess"
	"github.com/vigilsec/vigil/internal/vuln/fix"
)

// DefaultTimeouts bound each type's run (task.RunTimeouts; the server
// waits for results by the same table).
var DefaultTimeouts = task.RunTimeouts

// RunRetention is how long an accepted run ID is remembered: a run the
// server signs again (a re-dispatch after a lost result) is refused for
// this long, so that a kill or a fix never runs twice.
const RunRetention = 30 * 24 * time.Hour

// maxSeen bounds the remembered run IDs; the oldest go first.
const maxSeen = 100000

// Deps are the mechanisms the tasks use. A nil mechanism makes the tasks
// that need it fail with a clear error.
type Deps struct {
	// Audit receives a record for every response action a task takes
	// (kill, quarantine, restore, block, unblock), as alert responses do.
	Audit *audit.Log
	// Quarantine is the vault of quarantine_file, restore_file and
	// malware_scan with quarantine.
	Quarantine *quarantine.Store
	// Blocker carries out block_ip and unblock_ip (nftables for inbound
	// traffic, see respond.Responder.Inbound).
	Blocker netblock.Blocker
	// NeverBlock are networks block_ip refuses (the administrators' own
	// addresses, monitoring, the gateway).
	NeverBlock []netip.Prefix
	// Collectors configures collect's collectors.
	Collectors list.Config
	// DockerHost is the Docker API endpoint for the containers collector;
	// "" means unix:///var/run/docker.sock.
	DockerHost string
	// InventorySink, when set, receives collect's inventory (the agent's
	// inventory stream) and the output carries only counts; when nil the
	// output carries the whole snapshot.
	InventorySink func(ctx context.Context, snap *inventory.Snapshot) error
	// OpenVulnDB opens the vulnerability database of vuln_scan and
	// fix_packages; nil opens osv.Open(dataDir).
	OpenVulnDB func() (assess.DB, io.Closer, error)
	// HostRoot is the root vuln_scan and fix_packages read packages from;
	// "" means "/". Tests point it at a tree of their own.
	HostRoot string
	// Fix configures the package manager calls of fix_packages and
	// rollback_packages (a test seam: Options.Run).
	Fix fix.Options
	// MalwareRules loads the malware scanner's rules; nil means
	// malware.LoadRules(dataDir).
	MalwareRules func() (*malware.RuleSet, error)
	// MalwareRate is malware_scan's default read rate in bytes per
	// second when the task names none; 0 means 50 MiB/s.
	MalwareRate int64
	// Logger logs what runs; nil means slog.Default().
	Logger *slog.Logger
}

// Executor verifies and runs task runs for one host.
type Executor struct {
	verifier task.Verifier
	// identity, when set, supplies the key and host ID at each run
	// (NewLazy).
	identity func() (ed25519.PublicKey, string)
	dataDir  string
	deps     Deps
	// Timeouts override DefaultTimeouts per type.
	Timeouts map[task.Type]time.Duration

	mu       sync.Mutex
	seenPath string
	seen     seenState
}

// seenState is the replay file: accepted run IDs and nonces with when
// they may be forgotten.
type seenState struct {
	Runs   map[string]time.Time `json:"runs"`
	Nonces map[string]time.Time `json:"nonces"`
}

// New returns an Executor that accepts runs signed with serverKey for
// hostID, keeping its replay state under dataDir/tasks. Use one Executor
// per data directory: it keeps the replay state in memory too.
func New(serverKey ed25519.PublicKey, hostID, dataDir string, deps Deps) (*Executor, error) {
	if len(serverKey) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("task runner: server key of %d bytes, want %d", len(serverKey), ed25519.PublicKeySize)
	}
	if hostID == "" {
		return nil, errors.New("task runner: empty host ID")
	}
	return newExecutor(task.Verifier{Key: serverKey, HostID: hostID}, nil, dataDir, deps)
}

// NewLazy is New for an agent that learns the server's key and its host
// ID only at enrolment, after the executor is made: identity is called
// at each run, and runs are refused (ErrBadSignature) while it returns no
// key.
func NewLazy(identity func() (serverKey ed25519.PublicKey, hostID string), dataDir string, deps Deps) (*Executor, error) {
	if identity == nil {
		return nil, errors.New("task runner: no identity function")
	}
	return newExecutor(task.Verifier{}, identity, dataDir, deps)
}

func newExecutor(v task.Verifier, identity func() (ed25519.PublicKey, string), dataDir string, deps Deps) (*Executor, error) {
	if dataDir == "" {
		return nil, errors.New("task runner: empty data directory")
	}
	dir := filepath.Join(dataDir, "tasks")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("task runner: %w", err)
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	e := &Executor{verifier: v, identity: identity, dataDir: dataDir, deps: deps,
		seenPath: filepath.Join(dir, "seen.json")}
	b, err := os.ReadFile(e.seenPath)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("task runner: replay state: %w", err)
	default:
		if err := json.Unmarshal(b, &e.seen); err != nil {
			// Refuse to start rather than forget which runs ran.
			return nil, fmt.Errorf("task runner: replay state %s: %w", e.seenPath, err)
		}
	}
	if e.seen.Runs == nil {
		e.seen.Runs = map[string]time.Time{}
	}
	if e.seen.Nonces == nil {
		e.seen.Nonces = map[string]time.Time{}
	}
	return e, nil
}

// SetClock replaces the clock used for the validity window (tests).
func (e *Executor) SetClock(now func() time.Time) { e.verifier.Now = now }

func (e *Executor) now() time.Time {
	if e.verifier.Now != nil {
		return e.verifier.Now()
	}
	return time.Now()
}

// Output is the JSON a run returns.
type Output struct {
	RunID    int64     `json:"run_id"`
	TaskID   int64     `json:"task_id"`
	Type     task.Type `json:"type"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// Result is the type's result (see the *Result types); it may be set
	// with Error too (a fix that failed still has its rollback record).
	Result any    `json:"result,omitempty"`
	Error  string `json:"error,omitempty"`
}

// RunTask verifies a signed run and carries it out. A run that fails a
// check returns no output and an error wrapping task.ErrBadSignature,
// ErrMalformed, ErrWrongHost, ErrExpired, ErrReplay, ErrUnknownType or
// ErrInvalidParams; nothing was done. A run that was carried out returns
// its Output as JSON, and an error when it failed.
func (e *Executor) RunTask(ctx context.Context, payload, sig []byte) (json.RawMessage, error) {
	v := e.verifier
	if e.identity != nil {
		v.Key, v.HostID = e.identity()
	}
	env, params, err := v.Verify(payload, sig)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err // not accepted: the run can come again
	}
	if err := e.accept(env); err != nil {
		return nil, err
	}
	timeout := DefaultTimeouts[env.Type]
	if d, ok := e.Timeouts[env.Type]; ok && d > 0 {
		timeout = d
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out := Output{RunID: env.RunID, TaskID: env.TaskID, Type: env.Type, Started: time.Now().UTC()}
	e.deps.Logger.Info("task run", "run", env.RunID, "task", env.TaskID, "type", env.Type, "params", string(env.Params))
	res, runErr := e.run(rctx, env, params)
	if runErr != nil && rctx.Err() != nil && ctx.Err() == nil {
		runErr = fmt.Errorf("%w (timeout %v)", runErr, timeout)
	}
	out.Finished = time.Now().UTC()
	if res != nil {
		out.Result = res
	}
	if runErr != nil {
		out.Error = runErr.Error()
		e.deps.Logger.Warn("task run failed", "run", env.RunID, "type", env.Type, "error", runErr)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, errors.Join(runErr, fmt.Errorf("encode output: %w", err))
	}
	if runErr != nil {
		return b, fmt.Errorf("task run %d (%s): %w", env.RunID, env.Type, runErr)
	}
	return b, nil
}

// accept records the run as seen, durably, or refuses it as a replay.
func (e *Executor) accept(env *task.Envelope) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	id := strconv.FormatInt(env.RunID, 10)
	if _, ok := e.seen.Runs[id]; ok {
		return fmt.Errorf("%w: run %d was accepted before", task.ErrReplay, env.RunID)
	}
	if _, ok := e.seen.Nonces[env.Nonce]; ok {
		return fmt.Errorf("%w: nonce %s was seen before", task.ErrReplay, env.Nonce)
	}
	next := seenState{Runs: make(map[string]time.Time, len(e.seen.Runs)+1), Nonces: make(map[string]time.Time, len(e.seen.Nonces)+1)}
	for k, v := range e.seen.Runs {
		if v.After(now) {
			next.Runs[k] = v
		}
	}
	for k, v := range e.seen.Nonces {
		if v.After(now) {
			next.Nonces[k] = v
		}
	}
	next.Runs[id] = now.Add(RunRetention).UTC()
	next.Nonces[env.Nonce] = env.ExpiresAt.Add(task.MaxClockSkew).UTC()
	for len(next.Runs) > maxSeen {
		var oldK string
		var oldT time.Time
		for k, v := range next.Runs {
			if oldK == "" || v.Before(oldT) {
				oldK, oldT = k, v
			}
		}
		delete(next.Runs, oldK)
	}
	b, err := json.Marshal(next)
	if err != nil {
		return fmt.Errorf("replay state: %w", err)
	}
	if err := snapshot.WriteFileAtomic(e.seenPath, b, 0o600); err != nil {
		return fmt.Errorf("replay state: %w (run %d not started)", err, env.RunID)
	}
	e.seen = next
	return nil
}

// run dispatches to the type's operation.
func (e *Executor) run(ctx context.Context, env *task.Envelope, p task.Params) (any, error) {
	switch p := p.(type) {
	case *task.CollectParams:
		return e.collect(ctx, p)
	case *task.VulnScanParams:
		return e.vulnScan(ctx, p)
	case *task.MalwareScanParams:
		return e.malwareScan(ctx, env, p)
	case *task.FixPackagesParams:
		return e.fixPackages(ctx, p)
	case *task.RollbackPackagesParams:
		return e.rollbackPackages(ctx, p)
	case *task.KillProcessParams:
		return e.killProcess(env, p)
	case *task.QuarantineFileParams:
		return e.quarantineFile(env, p)
	case *task.RestoreFileParams:
		return e.restoreFile(env, p)
	case *task.BlockIPParams:
		return e.blockIP(env, p)
	case *task.UnblockIPParams:
		return e.unblockIP(env, p)
	}
	return nil, fmt.Errorf("%w %q", task.ErrUnknownType, env.Type)
}

// audit writes a response audit record, if there is a log.
func (e *Executor) audit(env *task.Envelope, action, target, alertID string, err error) error {
	if e.deps.Audit == nil {
		return nil
	}
	rec := audit.Record{Action: action, Target: target, AlertID: alertID,
		RuleID: fmt.Sprintf("task:%d/run:%d", env.TaskID, env.RunID), Result: audit.ResultOK}
	if err != nil {
		rec.Result, rec.Error = audit.ResultFailed, err.Error()
	}
	if werr := e.deps.Audit.Write(rec); werr != nil {
		return fmt.Errorf("audit: %w", werr)
	}
	return nil
}
