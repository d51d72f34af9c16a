// Package collector defines host collectors: plugins that read one
// category of assets from a filesystem root and a procfs, and the runner
// that runs a set of them side by side, recording a status for each.
package collector

import (
	"context"
	"io/fs"
	"time"

	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
)

// Collector reads one category of assets.
//
// Collect must return when ctx is canceled. It fills only its own category
// of the returned Inventory. When some records or sources cannot be read it
// returns what it could read together with an error wrapping
// *plugin.PartialError (see plugin.Problems); when it cannot read its
// source at all it returns an error and no data; when it does not apply
// (no Docker socket, no procfs for an offline root) it returns an error
// from plugin.Skip.
type Collector interface {
	plugin.Plugin
	Collect(ctx context.Context, in *Input) (*inventory.Inventory, error)
}

// Dependent is implemented by collectors that build on the output of
// others (middleware reads processes, ports and packages). The runner
// starts such a collector after the named collectors finish and passes
// their merged results in Input.Prior.
type Dependent interface {
	DependsOn() []string
}

// Input is what every collector reads from.
type Input struct {
	// Root is the filesystem being inventoried, rooted at RootPath. Paths
	// are unrooted ("etc/passwd"), as io/fs requires.
	Root fs.FS
	// RootPath is the real path of Root on this machine: "/" for the live
	// host. Collectors report paths as they appear inside the root
	// ("/etc/passwd"), never with RootPath prepended.
	RootPath string
	// ProcPath is the procfs to read ("/proc" on the live host), or ""
	// when there is none (an offline root without --proc).
	ProcPath string
	// Live is true when Root and ProcPath describe the machine Vigil runs
	// on, so that kernel interfaces (netlink, sockets) describe it too.
	Live bool
	// DockerHost is the Docker Engine API endpoint ("unix:///var/run/docker.sock"),
	// or "" to skip containers.
	DockerHost string
	// DataDir is where collectors may keep caches (the exe hash cache).
	DataDir string
	// Prior holds the merged results of the collectors a Dependent
	// collector named; nil for others.
	Prior *inventory.Inventory
	// Now returns the current time; tests replace it.
	Now func() time.Time
}

// Result is the outcome of one collector run.
type Result struct {
	Name      string
	Inventory *inventory.Inventory
	Status    plugin.Status
	Duration  time.Duration
}
