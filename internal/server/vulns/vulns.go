// Package vulns matches every host's packages against the server's
// vulnerability database and keeps each host's findings in the store.
//
// It runs the same matcher and priority formula as `vigil scan`
// (internal/vuln/assess, docs/priority.md) over the packages of the host's
// latest inventory snapshot: the agent sends the inventory, the server owns
// the database, so a database update re-assesses the fleet without any
// agent doing work. The host's importance in the registry scales the
// priority. Exposure (is the package loaded by a process listening on an
// exposed port) needs the live host and is left to `vigil scan host` and
// the vuln_scan task; the server's priority leaves that factor out.
package vulns

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/vigilsec/vigil/internal/finding"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
	"github.com/vigilsec/vigil/internal/scan"
	"github.com/vigilsec/vigil/internal/server/store"
	"github.com/vigilsec/vigil/internal/vuln/assess"
)

// Assessor assesses hosts. Safe for concurrent use when DB is.
type Assessor struct {
	Store store.Store
	DB    assess.DB
	// Now is the clock of the recency factor; nil means time.Now.
	Now func() time.Time
}

// Result says what one assessment found.
type Result struct {
	Packages int // packages in the snapshot
	Findings int
	// Partial is set when some packages could not be matched (an unknown
	// ecosystem, a version the ecosystem's ordering cannot parse); the
	// findings of the others are stored.
	Partial error
}

// AssessHost matches the packages of the host's latest inventory snapshot
// and replaces its findings. A host without a snapshot has no findings.
func (a *Assessor) AssessHost(ctx context.Context, hostID string) (Result, error) {
	h, err := a.Store.GetHost(ctx, hostID)
	if err != nil {
		return Result{}, err
	}
	snap, err := a.Store.LatestInventory(ctx, hostID)
	if errors.Is(err, store.ErrNotFound) {
		return Result{}, a.Store.ReplaceFindings(ctx, hostID, nil)
	}
	if err != nil {
		return Result{}, err
	}
	var inv inventory.Snapshot
	if err := json.Unmarshal(snap.Data, &inv); err != nil {
		return Result{}, fmt.Errorf("host %s: inventory snapshot %d: %w", hostID, snap.ID, err)
	}
	pkgs := inv.Packages
	if inv.Host != nil && inv.Host.OS.ID != "" {
		scan.SetOSEcosystem(pkgs, inv.Host.OS)
	}
	res := Result{Packages: len(pkgs)}
	fs, err := assess.Match(ctx, a.DB, pkgs)
	var pe *plugin.PartialError
	if err != nil && !errors.As(err, &pe) {
		return res, fmt.Errorf("host %s: %w", hostID, err)
	}
	if pe != nil {
		res.Partial = pe
	}
	now := time.Now()
	if a.Now != nil {
		now = a.Now()
	}
	assess.Prioritize(fs, assess.Context{Now: now, Importance: Importance(h.Importance)})
	out := make([]store.VulnFinding, 0, len(fs))
	for _, f := range fs {
		data, err := json.Marshal(finding.ToJSON(f))
		if err != nil {
			return res, err
		}
		out = append(out, store.VulnFinding{
			HostID:       hostID,
			VulnID:       f.Advisory.ID,
			Package:      f.Target.Package.Name,
			Version:      f.Target.Package.Version,
			FixedVersion: f.FixedVersion,
			Severity:     f.Advisory.Severity,
			Priority:     int(math.Round(f.Priority.Score)),
			Summary:      f.Advisory.Summary,
			Data:         data,
		})
	}
	if err := a.Store.ReplaceFindings(ctx, hostID, dedupe(out)); err != nil {
		return res, err
	}
	res.Findings = len(out)
	return res, nil
}

// AssessAll re-assesses every host, as after a database update. It goes
// on past a failing host and returns the hosts assessed and the errors.
func (a *Assessor) AssessAll(ctx context.Context) (int, error) {
	var errs []error
	n := 0
	f := store.HostFilter{Page: store.Page{Limit: 500}}
	for {
		hosts, next, err := a.Store.ListHosts(ctx, f)
		if err != nil {
			return n, err
		}
		for _, h := range hosts {
			if err := ctx.Err(); err != nil {
				return n, err
			}
			if _, err := a.AssessHost(ctx, h.ID); err != nil {
				errs = append(errs, err)
				continue
			}
			n++
		}
		if next == "" {
			return n, errors.Join(errs...)
		}
		f.Cursor = next
	}
}

// Importance maps the registry's importance (0 normal, higher more
// important, negative less) to the priority formula's.
func Importance(i int) assess.Importance {
	switch {
	case i < 0:
		return assess.ImportanceLow
	case i == 0:
		return assess.ImportanceNormal
	case i == 1:
		return assess.ImportanceHigh
	default:
		return assess.ImportanceCritical
	}
}

// dedupe keeps one finding per (vulnerability, package, version): the
// store keys findings so, while the matcher reports a package once per
// place it was found only when versions differ.
func dedupe(fs []store.VulnFinding) []store.VulnFinding {
	type key struct{ v, p, ver string }
	seen := make(map[key]bool, len(fs))
	out := fs[:0]
	for _, f := range fs {
		k := key{f.VulnID, f.Package, f.Version}
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, f)
	}
	return out
}
