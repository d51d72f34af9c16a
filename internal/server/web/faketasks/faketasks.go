// Package faketasks is a test double for web.Tasks: it records every
// submission and stores the task (unsigned) with its audit entry and one
// pending run per named host, so the console's task pages have something
// real to show.
package faketasks

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/vigilsec/vigil/internal/server/store"
)

// Submission is one recorded Submit call.
type Submission struct {
	Actor    string
	Type     string
	Params   json.RawMessage
	Targets  store.Targets
	Schedule string
}

// Recorder implements web.Tasks.
type Recorder struct {
	Store store.Store
	Now   func() time.Time
	// Err, when set, is returned by Submit instead of storing anything.
	Err error

	mu   sync.Mutex
	subs []Submission
}

// Submit records the call and stores the task.
func (r *Recorder) Submit(ctx context.Context, actor, typ string, params json.RawMessage, targets store.Targets, schedule string) (store.Task, error) {
	r.mu.Lock()
	r.subs = append(r.subs, Submission{Actor: actor, Type: typ, Params: append(json.RawMessage(nil), params...), Targets: targets, Schedule: schedule})
	r.mu.Unlock()
	if r.Err != nil {
		return store.Task{}, r.Err
	}
	now := time.Now()
	if r.Now != nil {
		now = r.Now()
	}
	t, err := r.Store.CreateTask(ctx, store.Task{Type: typ, Params: params, Targets: targets, Schedule: schedule, CreatedBy: actor, CreatedAt: now})
	if err != nil {
		return t, fmt.Errorf("fake tasks: %w", err)
	}
	if _, err := r.Store.AppendAudit(ctx, store.AuditEntry{Time: now, Actor: actor, Action: "task.submit",
		Object: fmt.Sprintf("task:%d", t.ID)}); err != nil {
		return t, fmt.Errorf("fake tasks: %w", err)
	}
	if len(targets.Hosts) > 0 {
		if _, err := r.Store.AddTaskRuns(ctx, t.ID, targets.Hosts, now); err != nil {
			return t, fmt.Errorf("fake tasks: %w", err)
		}
	}
	return t, nil
}

// Submissions returns a copy of the recorded calls.
func (r *Recorder) Submissions() []Submission {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Submission(nil), r.subs...)
}
