package collector

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fake is a collector whose behaviour a test sets.
type fake struct {
	name    string
	deps    []string
	collect func(in *Input) (*inventory.Inventory, error)
}

func (f *fake) Name() string                       { return f.name }
func (f *fake) Version() int                       { return 1 }
func (f *fake) Requirements() *plugin.Capabilities { return &plugin.Capabilities{} }
func (f *fake) Collect(_ context.Context, in *Input) (*inventory.Inventory, error) {
	return f.collect(in)
}

// dependent wraps fake with DependsOn.
type dependent struct{ *fake }

func (d dependent) DependsOn() []string { return d.deps }

func TestRunIsolatesFailures(t *testing.T) {
	cols := []Collector{
		&fake{name: "ports", collect: func(*Input) (*inventory.Inventory, error) {
			return &inventory.Inventory{Ports: []inventory.Port{{Protocol: "tcp", Port: 22}}}, nil
		}},
		&fake{name: "processes", collect: func(*Input) (*inventory.Inventory, error) {
			panic("boom")
		}},
		&fake{name: "packages", collect: func(*Input) (*inventory.Inventory, error) {
			return &inventory.Inventory{Packages: []inventory.Package{{Name: "bash"}}}, errors.New("rpmdb: corrupt")
		}},
		&fake{name: "accounts", collect: func(*Input) (*inventory.Inventory, error) {
			var p plugin.Problems
			p.Addf("/etc/shadow:3: bad field")
			return &inventory.Inventory{Accounts: &inventory.Accounts{Users: []inventory.User{{Name: "root"}}}}, p.Err()
		}},
		&fake{name: "containers", collect: func(*Input) (*inventory.Inventory, error) {
			return nil, plugin.Skip("no Docker engine at /var/run/docker.sock")
		}},
	}
	inv, status := Run(context.Background(), &Input{}, cols)

	states := map[string]plugin.State{}
	for n, s := range status {
		states[n] = s.State
	}
	want := map[string]plugin.State{
		"ports": plugin.StateSucceeded, "processes": plugin.StateFailed, "packages": plugin.StateFailed,
		"accounts": plugin.StatePartial, "containers": plugin.StateSkipped,
	}
	if diff := cmp.Diff(want, states); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
	if !strings.Contains(status["processes"].Error, "panicked: boom") {
		t.Errorf("processes error = %q", status["processes"].Error)
	}
	if got := status["accounts"].Problems; len(got) != 1 || got[0] != "/etc/shadow:3: bad field" {
		t.Errorf("accounts problems = %q", got)
	}
	if len(inv.Ports) != 1 || inv.Accounts == nil {
		t.Errorf("good collectors' data lost: %+v", inv)
	}
	if len(inv.Packages) != 0 {
		t.Errorf("a failed collector's data was kept: %+v", inv.Packages)
	}
}

func TestRunDependentSeesPriorResults(t *testing.T) {
	var seen *inventory.Inventory
	cols := []Collector{
		dependent{&fake{name: "middleware", deps: []string{"processes", "ports", "packages"},
			collect: func(in *Input) (*inventory.Inventory, error) {
				seen = in.Prior
				return &inventory.Inventory{}, nil
			}}},
		&fake{name: "processes", collect: func(*Input) (*inventory.Inventory, error) {
			return &inventory.Inventory{Processes: []inventory.Process{{PID: 7}}}, nil
		}},
		&fake{name: "ports", collect: func(*Input) (*inventory.Inventory, error) {
			return &inventory.Inventory{Ports: []inventory.Port{{PID: 7, Port: 80}}}, nil
		}},
	}
	// packages is not selected: the dependent runs without it.
	_, status := Run(context.Background(), &Input{}, cols)
	if status["middleware"].State != plugin.StateSucceeded {
		t.Fatalf("middleware status = %+v", status["middleware"])
	}
	if seen == nil || len(seen.Processes) != 1 || len(seen.Ports) != 1 {
		t.Errorf("Prior = %+v, want the processes and ports results", seen)
	}
}

func TestRunCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	called := false
	_, status := Run(ctx, &Input{}, []Collector{&fake{name: "host", collect: func(*Input) (*inventory.Inventory, error) {
		called = true
		return &inventory.Inventory{}, nil
	}}})
	if called || status["host"].State != plugin.StateFailed {
		t.Errorf("canceled run: called=%v status=%+v", called, status["host"])
	}
}
