// Package centre is the server side of the task centre: it validates and
// records tasks (Submit), expands their targets — hosts, groups, labels or
// all — to the hosts' runs, now or on a cron schedule (Run), and writes an
// audit entry for each. The agent link dispatches the runs, signed by
// task.Signer.
//
// Schedules are standard five-field cron expressions (or @hourly, @daily,
// @weekly, @monthly, @yearly, "@every <duration>" of at least a minute),
// evaluated in UTC by github.com/robfig/cron/v3. Each scheduled task's
// last slot is kept in the store's settings under "task.schedule.<id>",
// marked before its runs are created and confirmed after, so a restart
// neither skips nor repeats a slot; slots missed while the server was down
// are caught up once (the latest only), not one by one.
package centre

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/vigilsec/vigil/internal/server/store"
	"github.com/vigilsec/vigil/internal/task"
)

// ErrInvalid: a submission is refused (bad type, params, targets or
// schedule). Errors wrap it, and task.ErrUnknownType or
// task.ErrInvalidParams where they apply.
var ErrInvalid = errors.New("invalid task")

// MinInterval is the shortest "@every" schedule.
const MinInterval = time.Minute

// ReloadInterval is how often Run rereads the scheduled tasks from the
// store (to see tasks another server replica created).
const ReloadInterval = time.Minute

// Audit actions.
const (
	ActionSubmit   = "task.submit"
	ActionSchedule = "task.schedule_run"
	// ActionRunLost: a dispatched run's result never came (ExpireRuns).
	ActionRunLost = "task.run_lost"
	// ActionRunLate: the result of a run given up as lost came after all
	// and replaced the failure (the agent link writes it).
	ActionRunLate = "task.run_late"
)

// Centre is the task centre. It is safe for concurrent use.
type Centre struct {
	store  store.Store
	signer *task.Signer
	// Now returns the current time; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// Primary reports whether this server replica is the one that creates
	// scheduled runs and fails lost ones (lease.Keeper.Held); nil means
	// it always is (a single server).
	Primary func() bool

	wake chan struct{}
	mu   sync.Mutex // serialises RunDue
}

// New returns a Centre over st, signing task definitions with signer.
func New(st store.Store, signer *task.Signer) *Centre {
	return &Centre{store: st, signer: signer, wake: make(chan struct{}, 1), Logger: slog.Default()}
}

func (c *Centre) now() time.Time {
	if c.Now != nil {
		return c.Now().UTC()
	}
	return time.Now().UTC()
}

// parser reads five-field expressions and descriptors.
var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseSchedule parses a cron expression, evaluated in UTC. Time zone
// prefixes (CRON_TZ=, TZ=) are refused, as are "@every" intervals under
// MinInterval and expressions that never fire.
func ParseSchedule(spec string) (cron.Schedule, error) {
	s := strings.TrimSpace(spec)
	switch {
	case s == "":
		return nil, fmt.Errorf("%w: empty schedule", ErrInvalid)
	case len(s) > 256:
		return nil, fmt.Errorf("%w: schedule of %d bytes", ErrInvalid, len(s))
	case strings.HasPrefix(s, "TZ=") || strings.HasPrefix(s, "CRON_TZ="):
		return nil, fmt.Errorf("%w: schedule %q: time zones are not supported; schedules are in UTC", ErrInvalid, spec)
	}
	for _, r := range s {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return nil, fmt.Errorf("%w: schedule %q: control character", ErrInvalid, spec)
		}
	}
	if d, ok := strings.CutPrefix(s, "@every "); ok {
		iv, err := time.ParseDuration(strings.TrimSpace(d))
		if err != nil {
			return nil, fmt.Errorf("%w: schedule %q: %v", ErrInvalid, spec, err)
		}
		if iv < MinInterval {
			return nil, fmt.Errorf("%w: schedule %q: at least every %v", ErrInvalid, spec, MinInterval)
		}
	}
	sched, err := parser.Parse("CRON_TZ=UTC " + s)
	if err != nil {
		return nil, fmt.Errorf("%w: schedule %q: %v", ErrInvalid, spec, err)
	}
	if sched.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return nil, fmt.Errorf("%w: schedule %q never fires", ErrInvalid, spec)
	}
	return sched, nil
}

// checkTargets validates a target set.
func checkTargets(t store.Targets) error {
	if !t.All && len(t.Hosts) == 0 && len(t.Groups) == 0 && len(t.Labels) == 0 {
		return fmt.Errorf("%w: no targets: name hosts, groups, labels or all", ErrInvalid)
	}
	for _, l := range [][]string{t.Hosts, t.Groups, t.Labels} {
		if len(l) > 10000 {
			return fmt.Errorf("%w: %d targets of one kind, at most 10000", ErrInvalid, len(l))
		}
		for _, s := range l {
			if s == "" || len(s) > 256 || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				return fmt.Errorf("%w: target %q: want 1 to 256 printable characters", ErrInvalid, s)
			}
		}
	}
	return nil
}

// Submit validates and records a task for actor: type and params
// (task.ParseParams), targets, and schedule ("" runs once, now). A task
// to run now gets its runs at once, one per target host that is not
// revoked; a named host that does not exist is an error, as is a run-now
// task whose targets match no host. A scheduled task gets its runs when
// its schedule fires (Run). Every submission is written to the audit log.
func (c *Centre) Submit(ctx context.Context, actor string, typ string, params json.RawMessage, targets store.Targets, schedule string) (store.Task, error) {
	if actor == "" {
		return store.Task{}, fmt.Errorf("%w: no actor", ErrInvalid)
	}
	_, canon, err := task.ParseParams(typ, params)
	if err != nil {
		return store.Task{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := checkTargets(targets); err != nil {
		return store.Task{}, err
	}
	targets = normTargets(targets)
	schedule = strings.TrimSpace(schedule)
	if schedule != "" {
		if _, err := ParseSchedule(schedule); err != nil {
			return store.Task{}, err
		}
	}
	// Microseconds: the creation time is signed, and must read back from
	// any store exactly.
	now := c.now().Truncate(time.Microsecond)
	var hosts []string
	if schedule == "" {
		if hosts, err = c.expand(ctx, targets); err != nil {
			return store.Task{}, err
		}
		if len(hosts) == 0 {
			return store.Task{}, fmt.Errorf("%w: the targets match no enrolled, unrevoked host", ErrInvalid)
		}
	}
	t := store.Task{Type: typ, Params: canon, Targets: targets, Schedule: schedule, CreatedBy: actor, CreatedAt: now}
	if t.Signature, err = c.signer.SignTask(t); err != nil {
		return store.Task{}, err
	}
	t, err = c.store.CreateTask(ctx, t)
	if err != nil {
		return store.Task{}, fmt.Errorf("create task: %w", err)
	}
	var runErr error
	var runs []store.TaskRun
	if schedule == "" {
		runs, runErr = c.store.AddTaskRuns(ctx, t.ID, hosts, now)
		if runErr != nil {
			runErr = fmt.Errorf("create runs of task %d: %w", t.ID, runErr)
		}
	}
	details := map[string]any{"type": typ, "params": t.Params, "targets": targets, "runs": len(runs)}
	if schedule != "" {
		details["schedule"] = schedule
	}
	if runErr != nil {
		details["error"] = runErr.Error()
	}
	if err := c.audit(ctx, actor, ActionSubmit, t.ID, now, details); err != nil {
		return t, errors.Join(runErr, err)
	}
	if runErr != nil {
		return t, runErr
	}
	if schedule != "" {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
	return t, nil
}

// normTargets sorts and dedupes the lists.
func normTargets(t store.Targets) store.Targets {
	norm := func(l []string) []string {
		if len(l) == 0 {
			return nil
		}
		l = slices.Clone(l)
		slices.Sort(l)
		return slices.Compact(l)
	}
	return store.Targets{All: t.All, Hosts: norm(t.Hosts), Groups: norm(t.Groups), Labels: norm(t.Labels)}
}

func (c *Centre) audit(ctx context.Context, actor, action string, taskID int64, at time.Time, details map[string]any) error {
	b, err := json.Marshal(details)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	if _, err := c.store.AppendAudit(ctx, store.AuditEntry{Time: at, Actor: actor, Action: action,
		Object: "task:" + strconv.FormatInt(taskID, 10), Details: b}); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// Expand returns the IDs of the unrevoked hosts targets name, sorted. A
// named host that does not exist is an error; a revoked one is skipped.
func (c *Centre) Expand(ctx context.Context, targets store.Targets) ([]string, error) {
	return c.expand(ctx, targets)
}

func (c *Centre) expand(ctx context.Context, t store.Targets) ([]string, error) {
	set := map[string]bool{}
	notRevoked := false
	list := func(f store.HostFilter) error {
		f.Revoked, f.Limit = &notRevoked, 1000
		for {
			hs, next, err := c.store.ListHosts(ctx, f)
			if err != nil {
				return fmt.Errorf("list hosts: %w", err)
			}
			for _, h := range hs {
				set[h.ID] = true
			}
			if next == "" {
				return nil
			}
			f.Cursor, f.Offset = next, 0
		}
	}
	if t.All {
		if err := list(store.HostFilter{}); err != nil {
			return nil, err
		}
	} else {
		for _, g := range t.Groups {
			if err := list(store.HostFilter{Group: g}); err != nil {
				return nil, err
			}
		}
		for _, l := range t.Labels {
			if err := list(store.HostFilter{Label: l}); err != nil {
				return nil, err
			}
		}
	}
	for _, id := range t.Hosts {
		h, err := c.store.GetHost(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("%w: unknown host %q", ErrInvalid, id)
		}
		if err != nil {
			return nil, fmt.Errorf("get host %q: %w", id, err)
		}
		if !h.Revoked {
			set[h.ID] = true
		}
	}
	out := make([]string, 0, len(set))
	for id := range set {
		out = append(out, id)
	}
	slices.Sort(out)
	return out, nil
}
