package runner

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/collector"
	"github.com/vigilsec/vigil/internal/collector/list"
	extlist "github.com/vigilsec/vigil/internal/extractor/list"
	"github.com/vigilsec/vigil/internal/finding"
	"github.com/vigilsec/vigil/internal/image"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/malware"
	"github.com/vigilsec/vigil/internal/plugin"
	"github.com/vigilsec/vigil/internal/respond/kill"
	"github.com/vigilsec/vigil/internal/respond/quarantine"
	"github.com/vigilsec/vigil/internal/scan"
	"github.com/vigilsec/vigil/internal/task"
	"github.com/vigilsec/vigil/internal/version"
	"github.com/vigilsec/vigil/internal/vuln/assess"
	"github.com/vigilsec/vigil/internal/vuln/fix"
	"github.com/vigilsec/vigil/internal/vuln/osv"
)

// MaxListed bounds the findings a scan's output lists; the counts cover
// all of them.
const MaxListed = 1000

// CollectResult is collect's result.
type CollectResult struct {
	// Status is each collector's outcome.
	Status map[string]plugin.Status `json:"status"`
	// Counts are the records collected per category.
	Counts map[string]int `json:"counts"`
	// Submitted is set when the inventory went to the agent's inventory
	// stream; otherwise Snapshot carries it.
	Submitted bool                `json:"submitted"`
	Snapshot  *inventory.Snapshot `json:"snapshot,omitempty"`
}

func (e *Executor) collect(ctx context.Context, p *task.CollectParams) (*CollectResult, error) {
	cols, err := list.Select(e.deps.Collectors, p.Collectors)
	if err != nil {
		return nil, err
	}
	in := &collector.Input{
		Root: os.DirFS("/"), RootPath: "/", ProcPath: "/proc", Live: true,
		DockerHost: cmp.Or(e.deps.DockerHost, "unix:///var/run/docker.sock"), DataDir: e.dataDir, Now: time.Now,
	}
	start := time.Now().UTC()
	inv, status := collector.Run(ctx, in, cols)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	snap := &inventory.Snapshot{Inventory: *inv, SchemaVersion: inventory.SchemaVersion, CollectedAt: start,
		AgentVersion: version.String(), Root: "/", Status: status}
	res := &CollectResult{Status: status, Counts: counts(inv)}
	if e.deps.InventorySink != nil {
		if err := e.deps.InventorySink(ctx, snap); err != nil {
			return res, fmt.Errorf("submit inventory: %w", err)
		}
		res.Submitted = true
	} else {
		res.Snapshot = snap
	}
	var failed []string
	for _, c := range cols {
		if st := status[c.Name()]; st.State == plugin.StateFailed {
			failed = append(failed, c.Name()+": "+st.Error)
		}
	}
	if len(failed) == len(cols) {
		return res, fmt.Errorf("every collector failed: %s", strings.Join(failed, "; "))
	}
	return res, nil
}

func counts(inv *inventory.Inventory) map[string]int {
	c := map[string]int{
		inventory.CategoryPorts:          len(inv.Ports),
		inventory.CategoryProcesses:      len(inv.Processes),
		inventory.CategoryMiddleware:     len(inv.Middleware),
		inventory.CategoryScheduledTasks: len(inv.ScheduledTasks),
		inventory.CategoryStartupItems:   len(inv.StartupItems),
		inventory.CategoryPackages:       len(inv.Packages),
		inventory.CategoryContainers:     len(inv.Containers),
	}
	if inv.Host != nil {
		c[inventory.CategoryHost] = 1
	}
	if inv.Accounts != nil {
		c[inventory.CategoryAccounts] = len(inv.Accounts.Users)
	}
	return c
}

// VulnFinding is one finding in vuln_scan's result.
type VulnFinding struct {
	// Key is what fix_packages takes.
	Key       string   `json:"key"`
	ID        string   `json:"id"`
	Aliases   []string `json:"aliases,omitempty"`
	Package   string   `json:"package"`
	Version   string   `json:"version"`
	Ecosystem string   `json:"ecosystem"`
	Fixed     string   `json:"fixed,omitempty"`
	Severity  string   `json:"severity"`
	Priority  float64  `json:"priority"`
	KEV       bool     `json:"kev,omitempty"`
}

// VulnScanResult is vuln_scan's result.
type VulnScanResult struct {
	OS         string                   `json:"os,omitempty"`
	Packages   int                      `json:"packages"`
	Total      int                      `json:"total"` // findings kept by the severity filter
	BySeverity map[string]int           `json:"by_severity"`
	Findings   []VulnFinding            `json:"findings"` // highest priority first, at most MaxListed
	Truncated  bool                     `json:"truncated,omitempty"`
	Status     map[string]plugin.Status `json:"status"`
}

func (e *Executor) openDB() (assess.DB, io.Closer, error) {
	if e.deps.OpenVulnDB != nil {
		return e.deps.OpenVulnDB()
	}
	db, err := osv.Open(e.dataDir)
	if err != nil {
		return nil, nil, fmt.Errorf("open vulnerability database: %w (run 'vigil db update' on the agent)", err)
	}
	return db, db, nil
}

func (e *Executor) hostRoot() string { return cmp.Or(e.deps.HostRoot, "/") }

func (e *Executor) vulnScan(ctx context.Context, p *task.VulnScanParams) (*VulnScanResult, error) {
	db, closer, err := e.openDB()
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	rootPath := e.hostRoot()
	root := os.DirFS(rootPath)
	w := &scan.Walker{Extractors: extlist.All.Build(), SkipDirs: scan.HostSkipDirs}
	walked, err := w.Walk(ctx, root, rootPath)
	if err != nil {
		return nil, err
	}
	res := &VulnScanResult{Packages: len(walked.Packages), BySeverity: map[string]int{}, Findings: []VulnFinding{}, Status: walked.Status}
	if osr, err := image.DetectOS(root); err == nil && osr.ID != "" {
		res.OS = osr.PrettyName
		scan.SetOSEcosystem(walked.Packages, osr)
	}
	findings, err := assess.Match(ctx, db, walked.Packages)
	var pe *plugin.PartialError
	if err != nil && !errors.As(err, &pe) {
		return nil, err
	}
	if pe != nil {
		res.Status[assess.Name] = plugin.StatusFromErr(pe)
	}
	assess.Prioritize(findings, assess.Context{})
	keep := map[string]bool{}
	for _, s := range p.Severities {
		keep[s] = true
	}
	for _, f := range findings {
		sev := f.Advisory.Severity.String()
		if len(keep) > 0 && !keep[sev] {
			continue
		}
		res.Total++
		res.BySeverity[sev]++
		if len(res.Findings) >= MaxListed {
			res.Truncated = true
			continue
		}
		res.Findings = append(res.Findings, VulnFinding{Key: fix.FindingKey(f), ID: f.Advisory.ID, Aliases: f.Advisory.Aliases,
			Package: f.Target.Package.Name, Version: f.Target.Package.Version, Ecosystem: f.Target.Package.Ecosystem,
			Fixed: f.FixedVersion, Severity: sev, Priority: f.Priority.Score, KEV: f.KEV.Listed})
	}
	return res, nil
}

// MalwareFinding is one finding in malware_scan's result.
type MalwareFinding struct {
	malware.Finding
	// QuarantineID is the vault entry when the file was quarantined.
	QuarantineID    string `json:"quarantine_id,omitempty"`
	QuarantineError string `json:"quarantine_error,omitempty"`
}

// MalwareScanResult is malware_scan's result.
type MalwareScanResult struct {
	Findings      []MalwareFinding    `json:"findings"` // at most MaxListed
	Total         int                 `json:"total"`
	Truncated     bool                `json:"truncated,omitempty"`
	Scanned       int64               `json:"scanned"`
	Bytes         int64               `json:"bytes"`
	Skipped       int64               `json:"skipped"`
	SkippedMounts []string            `json:"skipped_mounts,omitempty"`
	Errors        []malware.ScanError `json:"errors"`
	ErrorCount    int64               `json:"error_count"`
}

func (e *Executor) malwareScan(ctx context.Context, env *task.Envelope, p *task.MalwareScanParams) (*MalwareScanResult, error) {
	if p.Quarantine && e.deps.Quarantine == nil {
		return nil, errors.New("quarantine requested, but the agent has no quarantine vault")
	}
	load := e.deps.MalwareRules
	if load == nil {
		load = func() (*malware.RuleSet, error) { return malware.LoadRules(e.dataDir) }
	}
	rs, err := load()
	if err != nil {
		return nil, fmt.Errorf("load malware rules: %w", err)
	}
	rate := p.Rate
	if rate == 0 {
		rate = cmp.Or(e.deps.MalwareRate, 50<<20)
	}
	sc := malware.New(malware.Options{Rules: rs, MaxScanBytes: p.MaxScanBytes, Rate: rate, Workers: 1, LowPriority: true,
		ExcludeDirs: []string{filepath.Join(e.dataDir, quarantine.Dir)}})
	res := &MalwareScanResult{Findings: []MalwareFinding{}}
	var qerrs []error
	sum, err := sc.Scan(ctx, p.Paths, func(f malware.Finding) {
		res.Total++
		mf := MalwareFinding{Finding: f}
		if p.Quarantine {
			a := f.Alert("")
			m, qerr := e.deps.Quarantine.Quarantine(f.Path, a.ID, f.Rule)
			if qerr == nil {
				mf.QuarantineID = m.ID
			} else {
				mf.QuarantineError = qerr.Error()
				qerrs = append(qerrs, fmt.Errorf("quarantine %s: %w", f.Path, qerr))
			}
			target := f.Path
			if qerr == nil {
				target += " → " + m.ID
			}
			if aerr := e.audit(env, "quarantine", target, a.ID, qerr); aerr != nil {
				qerrs = append(qerrs, aerr)
			}
		}
		if len(res.Findings) < MaxListed {
			res.Findings = append(res.Findings, mf)
		} else {
			res.Truncated = true
		}
	})
	res.Scanned, res.Bytes, res.Skipped, res.SkippedMounts = sum.Files, sum.Bytes, sum.Skipped, sum.SkippedMounts
	res.Errors, res.ErrorCount = sum.Errors, sum.ErrorCount
	if res.Errors == nil {
		res.Errors = []malware.ScanError{}
	}
	if err != nil {
		return res, err
	}
	if len(qerrs) > 0 {
		return res, fmt.Errorf("%d findings not quarantined: %w", len(qerrs), errors.Join(qerrs...))
	}
	return res, nil
}

// FixResult is fix_packages' result: the rollback record.
type FixResult struct {
	// Record is the rollback record's ID: rollback_packages takes it.
	Record   string   `json:"record,omitempty"`
	Findings []string `json:"findings"`
	// Packages are the planned changes, each with its version before the
	// fix (Installed) and its target version.
	Packages []fix.Change `json:"packages"`
	// Commands are the argv of the package manager commands run.
	Commands [][]string  `json:"commands"`
	Outcome  fix.Outcome `json:"outcome"`
	// Rollback is the task that undoes this fix.
	Rollback *RollbackTask `json:"rollback,omitempty"`
}

// RollbackTask names the task (type and params) that undoes a fix.
type RollbackTask struct {
	Type   task.Type                   `json:"type"`
	Params task.RollbackPackagesParams `json:"params"`
}

// hostOSFindings reads the host's OS package databases and matches them,
// as `vigil fix` does.
func (e *Executor) hostOSFindings(ctx context.Context) ([]finding.Finding, error) {
	db, closer, err := e.openDB()
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	return fix.HostOSFindings(ctx, db, e.hostRoot())
}

func (e *Executor) fixPackages(ctx context.Context, p *task.FixPackagesParams) (*FixResult, error) {
	findings, err := e.hostOSFindings(ctx)
	if err != nil {
		return nil, err
	}
	sel, err := fix.Select(findings, p.Findings)
	if err != nil {
		return nil, err
	}
	plan, err := fix.NewPlan(ctx, sel, e.deps.Fix)
	if err != nil {
		return nil, err
	}
	rec, err := plan.Execute(ctx, e.dataDir)
	if rec == nil {
		return nil, err
	}
	return fixResult(rec), err
}

// fixResult is the output form of a rollback record.
func fixResult(rec *fix.Record) *FixResult {
	res := &FixResult{Record: rec.ID, Findings: rec.Findings, Packages: rec.Packages, Commands: rec.Commands, Outcome: rec.Outcome}
	if task.ValidRecordID(rec.ID) {
		res.Rollback = &RollbackTask{Type: task.RollbackPackages, Params: task.RollbackPackagesParams{Record: rec.ID}}
	}
	return res
}

// RollbackResult is rollback_packages' result.
type RollbackResult struct {
	Record string `json:"record"`
	// Outcome is this rollback's; nil when every package was already at
	// its recorded version and nothing ran.
	Outcome *fix.Outcome `json:"outcome,omitempty"`
	// Packages are the versions the record restores.
	Packages []fix.Change `json:"packages"`
}

func (e *Executor) rollbackPackages(ctx context.Context, p *task.RollbackPackagesParams) (*RollbackResult, error) {
	path := filepath.Join(e.dataDir, "fix", p.Record+".json")
	before := 0
	if rec, err := fix.ReadRecord(path); err == nil {
		before = len(rec.Rollbacks)
	} else {
		return nil, err
	}
	rec, err := fix.Rollback(ctx, path, e.deps.Fix)
	if rec == nil {
		return nil, err
	}
	res := &RollbackResult{Record: p.Record, Packages: rec.Packages}
	if len(rec.Rollbacks) > before {
		o := rec.Rollbacks[len(rec.Rollbacks)-1]
		res.Outcome = &o
	}
	return res, err
}

// KillResult is kill_process' result.
type KillResult struct {
	PID       int    `json:"pid"`
	StartTime uint64 `json:"start_time"`
	Exe       string `json:"exe,omitempty"`
	// Killed counts the processes killed (the tree's, with Tree).
	Killed int `json:"killed"`
}

func (e *Executor) killProcess(env *task.Envelope, p *task.KillProcessParams) (*KillResult, error) {
	tg := kill.Target{PID: p.PID, StartTime: p.StartTime}
	res := &KillResult{PID: p.PID, StartTime: p.StartTime}
	err := func() error {
		if p.BootID != "" {
			now, err := kill.BootID()
			if err != nil {
				return err
			}
			if now != p.BootID {
				return fmt.Errorf("%v: of boot %s, this is boot %s: %w", tg, p.BootID, now, kill.ErrIdentity)
			}
		}
		// The identity check proper is the start time, through a pidfd
		// (kill.Open); the executable is checked on that same process.
		h, err := kill.Open(tg)
		if err != nil {
			return err
		}
		exe, err := os.Readlink("/proc/" + strconv.Itoa(p.PID) + "/exe")
		h.Close()
		if err == nil {
			res.Exe = strings.TrimSuffix(exe, " (deleted)")
		}
		if p.Exe != "" && res.Exe != p.Exe {
			if err != nil {
				return fmt.Errorf("%v: read executable: %w", tg, err)
			}
			return fmt.Errorf("%v: executable is %q, not %q: %w", tg, res.Exe, p.Exe, kill.ErrIdentity)
		}
		if p.Tree {
			n, err := kill.KillTree(tg)
			res.Killed = n
			return err
		}
		if err := kill.Kill(tg); err != nil {
			return err
		}
		res.Killed = 1
		return nil
	}()
	action := "kill"
	if p.Tree {
		action = "kill_tree"
	}
	if aerr := e.audit(env, action, tg.String(), "", err); aerr != nil {
		err = errors.Join(err, aerr)
	}
	return res, err
}

func (e *Executor) quarantineFile(env *task.Envelope, p *task.QuarantineFileParams) (*quarantine.Meta, error) {
	if e.deps.Quarantine == nil {
		return nil, errors.New("the agent has no quarantine vault")
	}
	m, err := e.deps.Quarantine.Quarantine(p.Path, p.AlertID, fmt.Sprintf("task:%d", env.TaskID))
	target := p.Path
	if err == nil {
		target += " → " + m.ID
	}
	if aerr := e.audit(env, "quarantine", target, p.AlertID, err); aerr != nil {
		err = errors.Join(err, aerr)
	}
	if m.ID == "" {
		return nil, err
	}
	return &m, err
}

func (e *Executor) restoreFile(env *task.Envelope, p *task.RestoreFileParams) (*quarantine.Meta, error) {
	if e.deps.Quarantine == nil {
		return nil, errors.New("the agent has no quarantine vault")
	}
	m, err := e.deps.Quarantine.Restore(p.ID, p.Force)
	target := p.ID
	if m.OriginalPath != "" {
		target += " → " + m.OriginalPath
	}
	if aerr := e.audit(env, "restore", target, m.AlertID, err); aerr != nil {
		err = errors.Join(err, aerr)
	}
	if m.ID == "" {
		return nil, err
	}
	return &m, err
}

// BlockResult is block_ip's and unblock_ip's result.
type BlockResult struct {
	IP string `json:"ip"`
	// Mode is the mechanism: "nftables" or "bpf".
	Mode string `json:"mode"`
	// Expires is when the block ends; zero for "until unblocked" and for
	// unblock_ip.
	Expires time.Time `json:"expires,omitzero"`
}

func (e *Executor) blockIP(env *task.Envelope, p *task.BlockIPParams) (*BlockResult, error) {
	if e.deps.Blocker == nil {
		return nil, errors.New("network blocking is not available on this agent")
	}
	ip, err := task.ParseIP(p.IP)
	if err != nil {
		return nil, err
	}
	for _, n := range e.deps.NeverBlock {
		if n.Contains(ip) {
			err := fmt.Errorf("refusing to block %s: in never-block network %s", ip, n)
			return nil, errors.Join(err, e.audit(env, "block_ip", ip.String(), "", err))
		}
	}
	d := time.Duration(p.DurationSeconds) * time.Second
	res := &BlockResult{IP: ip.String(), Mode: e.deps.Blocker.Mode()}
	if d > 0 {
		res.Expires = time.Now().UTC().Add(d)
	}
	err = e.deps.Blocker.Block(ip, d)
	target := fmt.Sprintf("%s for %v (%s)", ip, d, res.Mode)
	if d == 0 {
		target = fmt.Sprintf("%s until unblocked (%s)", ip, res.Mode)
	}
	if aerr := e.audit(env, "block_ip", target, "", err); aerr != nil {
		err = errors.Join(err, aerr)
	}
	return res, err
}

func (e *Executor) unblockIP(env *task.Envelope, p *task.UnblockIPParams) (*BlockResult, error) {
	if e.deps.Blocker == nil {
		return nil, errors.New("network blocking is not available on this agent")
	}
	ip, err := netip.ParseAddr(p.IP)
	if err != nil {
		return nil, fmt.Errorf("ip %q: %w", p.IP, err)
	}
	err = e.deps.Blocker.Unblock(ip)
	if aerr := e.audit(env, "unblock_ip", ip.String(), "", err); aerr != nil {
		err = errors.Join(err, aerr)
	}
	return &BlockResult{IP: ip.String(), Mode: e.deps.Blocker.Mode()}, err
}
