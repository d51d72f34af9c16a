package link

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	vigilv1 "github.com/vigilsec/vigil/api/vigil/v1"
	"github.com/vigilsec/vigil/internal/server/store"
	"github.com/vigilsec/vigil/internal/task"
	"github.com/vigilsec/vigil/internal/task/centre"
)

// taskBatch is how many pending runs are looked up at a time.
const taskBatch = 16

// tasks serves a Tasks stream: it pushes the host's pending runs
// and records the results the agent sends back.
func (s *Server) tasks(stream vigilv1.Link_TasksServer) error {
	ctx, cancel := context.WithCancelCause(stream.Context())
	defer cancel(nil)
	h := hostFrom(ctx)
	kick := make(chan struct{}, 1)
	s.mu.Lock()
	s.kicks[h.ID] = kick
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if s.kicks[h.ID] == kick {
			delete(s.kicks, h.ID)
		}
		s.mu.Unlock()
	}()

	recvErr := make(chan error, 1)
	go func() {
		for {
			res, err := stream.Recv()
			if err != nil {
				recvErr <- endOfStream(err)
				cancel(err)
				return
			}
			if err := s.result(ctx, h.ID, res); err != nil {
				recvErr <- err
				cancel(err)
				return
			}
		}
	}()

	// Pending runs are sent when the stream opens and whenever the host
	// is kicked: by the console on submission, or by the fleet-wide poll
	// (pollLoop).
	for {
		if s.o.TaskSigner != nil {
			if err := s.dispatch(ctx, stream, h.ID); err != nil {
				if ctx.Err() != nil {
					break
				}
				return err
			}
		}
		select {
		case <-ctx.Done():
		case <-kick:
			continue
		}
		break
	}
	select {
	case err := <-recvErr:
		return err
	default:
		return nil
	}
}

// dispatch sends the host's pending runs.
func (s *Server) dispatch(ctx context.Context, stream vigilv1.Link_TasksServer, hostID string) error {
	for {
		runs, err := s.o.Store.PendingRuns(ctx, hostID, taskBatch)
		if err != nil {
			return status.Errorf(codes.Unavailable, "pending runs: %v", err)
		}
		if len(runs) == 0 {
			return nil
		}
		for _, r := range runs {
			now := s.o.Now().UTC()
			t, err := s.o.Store.GetTask(ctx, r.TaskID)
			var payload, sig []byte
			if err == nil {
				payload, sig, err = s.o.TaskSigner.SignRun(ctx, t, r)
			}
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				s.log.Error("task run cannot be sent", "run", r.ID, "task", r.TaskID, "host", hostID, "err", err)
				out, _ := json.Marshal(map[string]string{"error": "cannot be sent: " + err.Error()})
				if err := s.o.Store.SetRunState(ctx, r.ID, store.RunFailed, now, out); err != nil {
					return status.Errorf(codes.Unavailable, "fail run %d: %v", r.ID, err)
				}
				continue
			}
			// At most once: marked dispatched before it leaves.
			if err := s.o.Store.SetRunState(ctx, r.ID, store.RunDispatched, now, nil); err != nil {
				if errors.Is(err, store.ErrConflict) {
					continue // another stream of this host took it
				}
				return status.Errorf(codes.Unavailable, "dispatch run %d: %v", r.ID, err)
			}
			s.mu.Lock()
			s.dispatched[r.ID] = hostID
			s.mu.Unlock()
			if err := stream.Send(&vigilv1.TaskDispatch{RunId: r.ID, TaskId: r.TaskID, Payload: payload, Signature: sig}); err != nil {
				return err
			}
		}
		if len(runs) < taskBatch {
			return nil
		}
	}
}

// result records a run's outcome after checking that it is this host's.
func (s *Server) result(ctx context.Context, hostID string, res *vigilv1.TaskResult) error {
	s.mu.Lock()
	owner, known := s.dispatched[res.GetRunId()]
	s.mu.Unlock()
	if !known {
		// Dispatched by an earlier server process: ask the store.
		r, ok, err := s.storedRun(ctx, res)
		if err != nil {
			return status.Errorf(codes.Unavailable, "task runs: %v", err)
		}
		owner, known = r.HostID, ok
	}
	if !known || owner != hostID {
		s.log.Warn("task result for a run not sent to this host", "host", hostID, "run", res.GetRunId())
		return status.Errorf(codes.PermissionDenied, "run %d was not dispatched to this host", res.GetRunId())
	}
	state := store.RunFailed
	if res.GetOk() {
		state = store.RunSucceeded
	}
	out := json.RawMessage(res.GetOutput())
	if len(out) == 0 {
		out = json.RawMessage("{}")
	} else if !json.Valid(out) {
		out, _ = json.Marshal(map[string]string{"error": "agent sent output that is not JSON", "raw": string(out)})
	}
	now := s.o.Now().UTC()
	err := s.o.Store.SetRunState(ctx, res.GetRunId(), state, now, out)
	if errors.Is(err, store.ErrConflict) {
		// A repeated result (sent again after a reconnect, already
		// stored), or one that comes after the run was given up as lost.
		err = s.lateResult(ctx, hostID, res, state, now, out)
	}
	switch {
	case err != nil:
		return status.Errorf(codes.Unavailable, "record result of run %d: %v", res.GetRunId(), err)
	}
	s.mu.Lock()
	delete(s.dispatched, res.GetRunId())
	s.mu.Unlock()
	return nil
}

// lateResult records the result of a run that was failed as lost (its
// agent was offline past the result deadline, then came back and
// reported) in place of that failure, with an audit entry: a fix that ran
// late did run, and its rollback record must show. Any other finished
// run keeps its first result.
func (s *Server) lateResult(ctx context.Context, hostID string, res *vigilv1.TaskResult, state store.RunState, now time.Time, out json.RawMessage) error {
	r, ok, err := s.storedRun(ctx, res)
	if err != nil || !ok || r.State != store.RunFailed || !task.IsLost(r.Output) {
		return err
	}
	err = s.o.Store.ReviseRun(ctx, r.ID, r.Output, state, now, out)
	if errors.Is(err, store.ErrConflict) {
		return nil // another result won meanwhile
	}
	if err != nil {
		return err
	}
	details, _ := json.Marshal(map[string]any{"run": r.ID, "host": hostID, "state": state, "dispatched_at": r.DispatchedAt, "failed_at": r.FinishedAt})
	if _, err := s.o.Store.AppendAudit(ctx, store.AuditEntry{Time: now, Actor: "agent:" + hostID, Action: centre.ActionRunLate,
		Object: "task:" + strconv.FormatInt(r.TaskID, 10), Details: details}); err != nil {
		return err
	}
	s.log.Info("late task result replaces a lost run", "run", r.ID, "task", r.TaskID, "host", hostID, "state", state)
	return nil
}

// storedRun looks up the run a result names in the store.
func (s *Server) storedRun(ctx context.Context, res *vigilv1.TaskResult) (store.TaskRun, bool, error) {
	runs, err := s.o.Store.ListTaskRuns(ctx, res.GetTaskId())
	if err != nil {
		return store.TaskRun{}, false, err
	}
	for _, r := range runs {
		if r.ID == res.GetRunId() {
			return r, true, nil
		}
	}
	return store.TaskRun{}, false, nil
}
