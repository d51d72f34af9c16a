package centre

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/vigilsec/vigil/internal/server/store"
	"github.com/vigilsec/vigil/internal/task"
)

// settingPrefix keys a scheduled task's slot state in the settings.
const settingPrefix = "task.schedule."

// Slot states.
const (
	slotCreating = "creating" // runs of Slot are being created
	slotDone     = "done"     // runs of Slot exist
)

// slotState is a scheduled task's last slot.
type slotState struct {
	Slot  time.Time `json:"slot"`
	State string    `json:"state"`
}

// maxCatchUp bounds the slots skipped over when catching up.
const maxCatchUp = 1 << 20

// standbyPoll is how often a replica that is not the primary checks
// whether it has become it.
const standbyPoll = 5 * time.Second

// Run creates the runs of scheduled tasks when they are due, and fails
// runs whose result never came (ExpireRuns), until ctx ends (then it
// returns nil). It reads the scheduled tasks from the store
// at start and every ReloadInterval, and at once after Submit schedules a
// task. Errors are logged; they do not stop it. Of several replicas, only
// the primary (Primary) does this work; the others wait to become it.
func (c *Centre) Run(ctx context.Context) error {
	for {
		wait := ReloadInterval
		if c.Primary == nil || c.Primary() {
			next, err := c.RunDue(ctx, c.now())
			if ctx.Err() != nil {
				return nil
			}
			if err != nil {
				c.Logger.Error("task schedules", "error", err)
			}
			if _, err := c.ExpireRuns(ctx, c.now()); err != nil && ctx.Err() == nil {
				c.Logger.Error("task runs without a result", "error", err)
			}
			if !next.IsZero() {
				wait = min(wait, max(next.Sub(c.now()), 0))
			}
		}
		if c.Primary != nil {
			wait = min(wait, standbyPoll) // notice a lost or gained lease soon
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-c.wake:
			t.Stop()
		case <-t.C:
		}
	}
}

// RunDue creates the runs of every scheduled task due at now: for each
// task, the latest slot after its last one that is not after now (slots
// missed in between are skipped and counted in the audit entry). It
// returns the earliest next slot of any task (zero when none). A task
// that fails is logged in the returned error; the others go on.
func (c *Centre) RunDue(ctx context.Context, now time.Time) (next time.Time, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	tasks, err := c.scheduled(ctx)
	if err != nil {
		return time.Time{}, err
	}
	var errs []error
	for _, t := range tasks {
		if err := ctx.Err(); err != nil {
			return next, err
		}
		n, err := c.runTask(ctx, t, now)
		if err != nil {
			errs = append(errs, fmt.Errorf("task %d: %w", t.ID, err))
		}
		if !n.IsZero() && (next.IsZero() || n.Before(next)) {
			next = n
		}
	}
	return next, errors.Join(errs...)
}

// scheduled lists the tasks with a schedule.
func (c *Centre) scheduled(ctx context.Context) ([]store.Task, error) {
	const page = 1000
	var out []store.Task
	for off := 0; ; off += page {
		ts, err := c.store.ListTasks(ctx, page, off)
		if err != nil {
			return nil, fmt.Errorf("list tasks: %w", err)
		}
		for _, t := range ts {
			if t.Schedule != "" {
				out = append(out, t)
			}
		}
		if len(ts) < page {
			return out, nil
		}
	}
}

func (c *Centre) getSlot(ctx context.Context, id int64) (slotState, bool, error) {
	v, err := c.store.GetSetting(ctx, settingPrefix+strconv.FormatInt(id, 10))
	if errors.Is(err, store.ErrNotFound) {
		return slotState{}, false, nil
	}
	if err != nil {
		return slotState{}, false, fmt.Errorf("read schedule state: %w", err)
	}
	var st slotState
	if err := json.Unmarshal(v, &st); err != nil || st.Slot.IsZero() || (st.State != slotCreating && st.State != slotDone) {
		return slotState{}, false, fmt.Errorf("schedule state %s: %s: not a slot state", settingPrefix+strconv.FormatInt(id, 10), v)
	}
	return st, true, nil
}

func (c *Centre) putSlot(ctx context.Context, id int64, st slotState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if err := c.store.PutSetting(ctx, settingPrefix+strconv.FormatInt(id, 10), b); err != nil {
		return fmt.Errorf("write schedule state: %w", err)
	}
	return nil
}

// runTask creates the runs of t's due slot, if any, and returns its next
// slot after that.
func (c *Centre) runTask(ctx context.Context, t store.Task, now time.Time) (time.Time, error) {
	sched, err := ParseSchedule(t.Schedule)
	if err != nil {
		return time.Time{}, err
	}
	if err := c.signer.VerifyTask(t); err != nil {
		return time.Time{}, err
	}
	st, ok, err := c.getSlot(ctx, t.ID)
	if err != nil {
		return time.Time{}, err
	}
	last := t.CreatedAt
	if ok {
		last = st.Slot
		if st.State == slotCreating {
			// A crash between marking the slot and confirming it: create
			// its runs unless they were created.
			if err := c.finishSlot(ctx, t, st.Slot, 0); err != nil {
				return time.Time{}, err
			}
		}
	}
	slot := sched.Next(last)
	if slot.IsZero() || slot.After(now) {
		return slot, nil
	}
	missed := 0
	for i := 0; i < maxCatchUp; i++ {
		n := sched.Next(slot)
		if n.IsZero() || n.After(now) {
			break
		}
		slot, missed = n, missed+1
	}
	if err := c.putSlot(ctx, t.ID, slotState{Slot: slot, State: slotCreating}); err != nil {
		return time.Time{}, err
	}
	if err := c.finishSlot(ctx, t, slot, missed); err != nil {
		return time.Time{}, err
	}
	return sched.Next(slot), nil
}

// finishSlot creates the runs of slot (unless a run created at slot
// exists: the slot was half-done before a restart), confirms the slot and
// audits it.
func (c *Centre) finishSlot(ctx context.Context, t store.Task, slot time.Time, missed int) error {
	runs, err := c.store.ListTaskRuns(ctx, t.ID)
	if err != nil {
		return fmt.Errorf("list runs: %w", err)
	}
	for _, r := range runs {
		if r.CreatedAt.Equal(slot) {
			return c.putSlot(ctx, t.ID, slotState{Slot: slot, State: slotDone})
		}
	}
	hosts, skipped, err := c.expandLenient(ctx, t.Targets)
	if err != nil {
		return err
	}
	var created []store.TaskRun
	if len(hosts) > 0 {
		if created, err = c.store.AddTaskRuns(ctx, t.ID, hosts, slot); err != nil {
			return fmt.Errorf("create runs of slot %s: %w", slot.Format(time.RFC3339), err)
		}
	}
	if err := c.putSlot(ctx, t.ID, slotState{Slot: slot, State: slotDone}); err != nil {
		return err
	}
	details := map[string]any{"slot": slot, "runs": len(created), "missed_slots": missed}
	if len(skipped) > 0 {
		details["unknown_hosts"] = skipped
	}
	return c.audit(ctx, "system", ActionSchedule, t.ID, c.now(), details)
}

// expandLenient is expand for a schedule slot: a named host that no
// longer exists is skipped and returned, not an error.
func (c *Centre) expandLenient(ctx context.Context, t store.Targets) (hosts, unknown []string, err error) {
	var known []string
	for _, id := range t.Hosts {
		_, err := c.store.GetHost(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			unknown = append(unknown, id)
		case err != nil:
			return nil, nil, fmt.Errorf("get host %q: %w", id, err)
		default:
			known = append(known, id)
		}
	}
	t.Hosts = known
	hosts, err = c.expand(ctx, t)
	return hosts, unknown, err
}

// expireBatch is how many overdue runs ExpireRuns looks at per query.
const expireBatch = 500

// ExpireRuns records as failed every run dispatched longer ago than its
// type's result deadline (task.ResultDeadline) without a result: its agent
// died, was reinstalled or stayed offline, and the result will not come.
// Each gets an audit entry. It returns how many runs it failed.
func (c *Centre) ExpireRuns(ctx context.Context, now time.Time) (int, error) {
	shortest := time.Duration(1<<63 - 1)
	for _, t := range task.Types {
		shortest = min(shortest, task.ResultDeadline(t))
	}
	before := now.Add(-shortest + 1) // dispatched at or before
	types := map[int64]task.Type{}
	n := 0
	var after int64
	for {
		runs, err := c.store.DispatchedRuns(ctx, before, after, expireBatch)
		if err != nil {
			return n, err
		}
		for _, r := range runs {
			after = r.ID
			typ, ok := types[r.TaskID]
			if !ok {
				t, err := c.store.GetTask(ctx, r.TaskID)
				if err != nil {
					return n, fmt.Errorf("run %d: %w", r.ID, err)
				}
				typ = task.Type(t.Type)
				types[r.TaskID] = typ
			}
			deadline := task.ResultDeadline(typ)
			if now.Sub(r.DispatchedAt) < deadline {
				continue
			}
			msg := fmt.Sprintf("no result from the agent within %v of dispatch: it restarted, went offline or lost the result", deadline)
			err := c.store.SetRunState(ctx, r.ID, store.RunFailed, now, task.LostOutput(msg))
			if errors.Is(err, store.ErrConflict) {
				continue // the result came meanwhile
			}
			if err != nil {
				return n, fmt.Errorf("run %d: %w", r.ID, err)
			}
			n++
			if err := c.audit(ctx, "server", ActionRunLost, r.TaskID, now, map[string]any{
				"run": r.ID, "host": r.HostID, "type": typ, "dispatched_at": r.DispatchedAt, "deadline": deadline.String()}); err != nil {
				return n, err
			}
			c.Logger.Warn("task run failed: no result", "run", r.ID, "task", r.TaskID, "host", r.HostID, "type", typ, "dispatched", r.DispatchedAt)
		}
		if len(runs) < expireBatch {
			return n, nil
		}
	}
}
