package inventory

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/vigilsec/vigil/internal/plugin"
)

// SchemaVersion is the version of the snapshot JSON schema. It changes
// only when a field documented in docs/inventory.md changes meaning.
const SchemaVersion = 1

// Snapshot is one inventory run: what was collected, when, from which
// root, and how each collector fared. Its JSON form is the object `vigil
// inventory --format json` prints: the categories that ran as top-level
// keys, plus "status" and metadata.
type Snapshot struct {
	Inventory
	SchemaVersion int                      `json:"schema_version"`
	CollectedAt   time.Time                `json:"collected_at"`
	AgentVersion  string                   `json:"agent_version"`
	Root          string                   `json:"root"`
	Status        map[string]plugin.Status `json:"status"`
}

// Ran reports whether the collector for category produced data (it
// succeeded or partly succeeded) in this snapshot.
func (s *Snapshot) Ran(category string) bool {
	st, ok := s.Status[category]
	return ok && (st.State == plugin.StateSucceeded || st.State == plugin.StatePartial)
}

// MarshalJSON writes every category that has a status, with empty lists
// as [] rather than omitted, so a consumer can tell "collected, none
// found" from "not collected".
func (s *Snapshot) MarshalJSON() ([]byte, error) {
	m := map[string]any{
		"schema_version": s.SchemaVersion,
		"collected_at":   s.CollectedAt,
		"agent_version":  s.AgentVersion,
		"root":           s.Root,
		"status":         s.Status,
	}
	for _, c := range Categories {
		if _, ok := s.Status[c]; !ok {
			continue
		}
		m[c] = s.category(c)
	}
	// Commands and paths are data, not HTML: keep "&&" and "<" readable.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func (s *Snapshot) category(c string) any {
	switch c {
	case CategoryHost:
		return s.Host
	case CategoryAccounts:
		if s.Accounts == nil {
			return &Accounts{Users: []User{}, Groups: []Group{}}
		}
		return s.Accounts
	case CategoryPorts:
		return orEmpty(s.Ports)
	case CategoryProcesses:
		return orEmpty(s.Processes)
	case CategoryMiddleware:
		return orEmpty(s.Middleware)
	case CategoryScheduledTasks:
		return orEmpty(s.ScheduledTasks)
	case CategoryStartupItems:
		return orEmpty(s.StartupItems)
	case CategoryPackages:
		return orEmpty(s.Packages)
	case CategoryContainers:
		return orEmpty(s.Containers)
	}
	panic(fmt.Sprintf("unknown category %q", c))
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *Snapshot) UnmarshalJSON(b []byte) error {
	type plain Snapshot
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	if p.SchemaVersion > SchemaVersion {
		return fmt.Errorf("snapshot schema version %d is newer than this build's %d", p.SchemaVersion, SchemaVersion)
	}
	*s = Snapshot(p)
	return nil
}

// MergeFrom copies into s the categories that ran in newer, keeping the
// rest. It lets a run limited with --only update a stored baseline
// without erasing the categories it did not collect.
func (s *Snapshot) MergeFrom(newer *Snapshot) {
	if s.Status == nil {
		s.Status = map[string]plugin.Status{}
	}
	for c, st := range newer.Status {
		if !newer.Ran(c) {
			// A failed run says nothing about the assets: keep the
			// baseline's data and status for this category.
			if _, had := s.Status[c]; !had {
				s.Status[c] = st
			}
			continue
		}
		s.Status[c] = st
		switch c {
		case CategoryHost:
			s.Host = newer.Host
		case CategoryAccounts:
			s.Accounts = newer.Accounts
		case CategoryPorts:
			s.Ports = newer.Ports
		case CategoryProcesses:
			s.Processes = newer.Processes
		case CategoryMiddleware:
			s.Middleware = newer.Middleware
		case CategoryScheduledTasks:
			s.ScheduledTasks = newer.ScheduledTasks
		case CategoryStartupItems:
			s.StartupItems = newer.StartupItems
		case CategoryPackages:
			s.Packages = newer.Packages
		case CategoryContainers:
			s.Containers = newer.Containers
		}
	}
	s.SchemaVersion = newer.SchemaVersion
	s.CollectedAt = newer.CollectedAt
	s.AgentVersion = newer.AgentVersion
	s.Root = newer.Root
}
