// Package list names every host collector. It is the one file to touch
// when adding a collector (plus a row in docs/plugins.md).
package list

import (
	"fmt"
	"slices"

	"github.com/vigilsec/vigil/internal/collector"
	"github.com/vigilsec/vigil/internal/collector/accounts"
	"github.com/vigilsec/vigil/internal/collector/containers"
	"github.com/vigilsec/vigil/internal/collector/host"
	"github.com/vigilsec/vigil/internal/collector/middleware"
	"github.com/vigilsec/vigil/internal/collector/packages"
	"github.com/vigilsec/vigil/internal/collector/ports"
	"github.com/vigilsec/vigil/internal/collector/processes"
	"github.com/vigilsec/vigil/internal/collector/scheduled"
	"github.com/vigilsec/vigil/internal/collector/startup"
)

// Config carries the settings some collectors take.
type Config struct {
	// CloudMetadataURL enables the cloud metadata lookup of the host
	// collector; empty means never contact it.
	CloudMetadataURL string
}

// All returns every collector, in output order.
func All(cfg Config) []collector.Collector {
	return []collector.Collector{
		host.New(host.Config{MetadataURL: cfg.CloudMetadataURL}),
		accounts.New(),
		ports.New(),
		processes.New(),
		middleware.New(),
		scheduled.New(),
		startup.New(),
		packages.New(),
		containers.New(),
	}
}

// Names returns the names of all collectors.
func Names() []string {
	var out []string
	for _, c := range All(Config{}) {
		out = append(out, c.Name())
	}
	return out
}

// Select returns the collectors named in only (all when only is empty).
// An unknown name is an error listing the valid ones.
func Select(cfg Config, only []string) ([]collector.Collector, error) {
	all := All(cfg)
	if len(only) == 0 {
		return all, nil
	}
	var out []collector.Collector
	for _, c := range all {
		if slices.Contains(only, c.Name()) {
			out = append(out, c)
		}
	}
	for _, n := range only {
		if !slices.ContainsFunc(all, func(c collector.Collector) bool { return c.Name() == n }) {
			return nil, fmt.Errorf("unknown collector %q (known: %v)", n, Names())
		}
	}
	return out, nil
}
