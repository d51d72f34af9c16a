// Package exporttest makes realistic export records for the exporters'
// tests and benchmarks: Detection Findings of a reverse-shell alert with
// its process lineage, container and evidence, about 4 KB each.
package exporttest

import (
	"fmt"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/event"
	"github.com/vigilsec/vigil/internal/export"
	"github.com/vigilsec/vigil/internal/export/ocsf"
	"github.com/vigilsec/vigil/internal/severity"
)

// Alert returns the i-th sample alert; hosts cycle over eight names.
func Alert(i int) *alert.Alert {
	return &alert.Alert{
		ID:       fmt.Sprintf("%032x", i+1),
		Time:     time.Date(2026, 11, 27, 21, 30, 0, 0, time.UTC).Add(time.Duration(i) * time.Millisecond),
		Host:     fmt.Sprintf("web-%d", i%8),
		Rule:     alert.Rule{ID: "VGL-EXEC-REVERSE-SHELL", Version: 2, Title: "Shell with its stdin and stdout on a socket"},
		Severity: severity.Critical,
		Attack:   alert.Attack{Tactics: []string{"TA0002", "TA0011"}, Techniques: []string{"T1059.004", "T1105"}},
		Process: &alert.Process{
			PID: 4242 + i, ExecID: fmt.Sprintf("b:1:%d", 4242+i), Exe: "/usr/bin/bash", Cmdline: "bash -i", User: "www-data", UID: 33,
			Ancestors: []event.Ancestor{
				{PID: 4200, ExecID: "b:1:4200", Exe: "/usr/sbin/php-fpm8.2", Cmdline: "php-fpm: pool www", User: "www-data", UID: 33},
				{PID: 1, ExecID: "b:1:1", Exe: "/usr/lib/systemd/systemd", Name: "systemd", User: "root"},
			},
		},
		Container: &event.Container{ID: "3f1e0c9a7b2d", Name: "web", Image: "php:8.2-fpm", Runtime: "docker"},
		Evidence:  map[string]any{"stdin": "socket", "stdout": "socket", "parent_exe": "/usr/sbin/php-fpm8.2"},
		Response:  alert.Response{Action: "kill_tree", Result: "ok"},
		Count:     1,
	}
}

// Records returns n records at positions 1..n.
func Records(n int) ([]export.Record, error) {
	out := make([]export.Record, n)
	for i := range out {
		r, err := export.AlertRecord(uint64(i+1), Alert(i), ocsf.Options{ProductVersion: "bench"})
		if err != nil {
			return nil, err
		}
		out[i] = r
	}
	return out, nil
}
