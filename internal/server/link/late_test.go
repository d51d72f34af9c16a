package link_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	vigilv1 "github.com/vigilsec/vigil/api/vigil/v1"
	"github.com/vigilsec/vigil/internal/server/link/linktest"
	"github.com/vigilsec/vigil/internal/server/store"
	"github.com/vigilsec/vigil/internal/task"
	"github.com/vigilsec/vigil/internal/task/centre"
)

// TestLateResultReplacesLost: a run the server gave up as lost (its agent
// stayed offline past the deadline) takes the result the agent sends when
// it returns, with an audit entry; a run that failed for another reason,
// or has a result already, keeps it.
func TestLateResultReplacesLost(t *testing.T) {
	ctx := context.Background()
	e := linktest.Start(t, "", "", nil)
	now := time.Now().UTC()
	id, cert := newHost(t, e, e.CA, now.Add(-time.Hour), now.Add(time.Hour))
	tk, err := e.Store.CreateTask(ctx, store.Task{Type: "fix_packages", Params: json.RawMessage(`{}`), Targets: store.Targets{Hosts: []string{id}}, CreatedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	runs, err := e.Store.AddTaskRuns(ctx, tk.ID, []string{id, id, id}, now)
	if err != nil {
		t.Fatal(err)
	}
	lost, other, done := runs[0].ID, runs[1].ID, runs[2].ID
	for _, r := range runs {
		if err := e.Store.SetRunState(ctx, r.ID, store.RunDispatched, now, nil); err != nil {
			t.Fatal(err)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(e.Store.SetRunState(ctx, lost, store.RunFailed, now.Add(time.Minute), task.LostOutput("no result")))
	must(e.Store.SetRunState(ctx, other, store.RunFailed, now.Add(time.Minute), json.RawMessage(`{"error":"dpkg locked"}`)))
	must(e.Store.SetRunState(ctx, done, store.RunSucceeded, now.Add(time.Minute), json.RawMessage(`{"upgraded":1}`)))

	cli := dial(t, e, &cert)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := cli.Tasks(sctx)
	must(err)
	late := `{"upgraded":["openssl"],"rollback":"r-17"}`
	for _, r := range []*vigilv1.TaskResult{
		{RunId: lost, TaskId: tk.ID, Ok: true, Output: []byte(late)},
		{RunId: lost, TaskId: tk.ID, Ok: false, Output: []byte(`{"error":"again"}`)}, // a repeat: the first result stays
		{RunId: other, TaskId: tk.ID, Ok: true, Output: []byte(`{}`)},
		{RunId: done, TaskId: tk.ID, Ok: false, Output: []byte(`{"error":"x"}`)},
	} {
		must(st.Send(r))
	}
	var got map[int64]store.TaskRun
	deadline := time.Now().Add(10 * time.Second)
	for {
		rs, err := e.Store.ListTaskRuns(ctx, tk.ID)
		must(err)
		got = map[int64]store.TaskRun{}
		for _, r := range rs {
			got[r.ID] = r
		}
		if got[lost].State == store.RunSucceeded || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The later results went over the same stream after the first, so
	// once the first is stored a short wait covers them.
	time.Sleep(300 * time.Millisecond)
	rs, err := e.Store.ListTaskRuns(ctx, tk.ID)
	must(err)
	for _, r := range rs {
		got[r.ID] = r
	}
	if r := got[lost]; r.State != store.RunSucceeded || string(r.Output) != late {
		t.Errorf("lost run after a late result: %s %s", r.State, r.Output)
	}
	if r := got[other]; r.State != store.RunFailed || string(r.Output) != `{"error":"dpkg locked"}` {
		t.Errorf("failed run changed: %s %s", r.State, r.Output)
	}
	if r := got[done]; r.State != store.RunSucceeded || string(r.Output) != `{"upgraded":1}` {
		t.Errorf("finished run changed: %s %s", r.State, r.Output)
	}
	es, _, err := e.Store.ListAudit(ctx, store.AuditFilter{Action: centre.ActionRunLate})
	must(err)
	if len(es) != 1 || es[0].Actor != "agent:"+id {
		t.Fatalf("audit entries %+v, want one %s by the agent", es, centre.ActionRunLate)
	}
}
