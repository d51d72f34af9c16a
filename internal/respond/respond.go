// Package respond executes an alert's response: the closed list of actions
// a rule may name ("kill", "kill_tree", "deny_exec", "block_connect",
// "block_ip", "quarantine", "none"), each carried out by its own package
// (kill, execguard, netblock, quarantine) and each written to the audit
// log with its outcome.
package respond

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/event"
	"github.com/vigilsec/vigil/internal/hashcache"
	"github.com/vigilsec/vigil/internal/respond/audit"
	"github.com/vigilsec/vigil/internal/respond/execguard"
	"github.com/vigilsec/vigil/internal/respond/kill"
	"github.com/vigilsec/vigil/internal/respond/netblock"
	"github.com/vigilsec/vigil/internal/respond/quarantine"
)

// The actions.
const (
	ActionNone         = "none"
	ActionKill         = "kill"
	ActionKillTree     = "kill_tree"
	ActionDenyExec     = "deny_exec"
	ActionBlockConnect = "block_connect"
	ActionBlockIP      = "block_ip"
	ActionQuarantine   = "quarantine"
)

// DefaultBlockDuration is how long block_connect and block_ip last when the
// rule names no duration.
const DefaultBlockDuration = time.Hour

// Responder carries out responses. Audit is required; a nil mechanism
// makes its actions "skipped".
type Responder struct {
	Audit *audit.Log
	Guard *execguard.ExecGuard
	// KillOnExec is the fallback of deny_exec when the exec guard does not
	// run: the eBPF process sensor kills any exec of a blocked inode.
	KillOnExec interface{ BlockExec(dev, ino uint64) error }
	Net        netblock.Blocker
	// Inbound blocks traffic from an address (block_ip): it must filter
	// incoming packets, which the BPF cgroup blocker cannot (it sees
	// connects and sends only); nftables does. Nil: block_ip uses Net.
	Inbound netblock.Blocker
	// Quarantine keeps quarantined files; set its Guard to the same
	// ExecGuard so quarantined content stays blocked by hash.
	Quarantine *quarantine.Store
	// Hashes hashes executables for deny_exec; nil means an in-memory cache.
	Hashes *hashcache.Cache
	// BlockDuration returns how long to block for an alert's rule; nil or
	// a result <= 0 means DefaultBlockDuration.
	BlockDuration func(a *alert.Alert) time.Duration
	// NeverBlock are networks block_connect and block_ip never block (the
	// administrators' own addresses, monitoring, the gateway), besides
	// 127.0.0.1, ::1 and the unspecified addresses, which are never blocked.
	NeverBlock []netip.Prefix
}

// Do executes a.Response.Action for ev when a.Response.Result is
// "pending", and returns the response with Result filled in: "ok",
// "failed: …" or "skipped: …". Any other Result is returned unchanged.
func (r *Responder) Do(ctx context.Context, a *alert.Alert, ev *event.Event) alert.Response {
	resp := a.Response
	if resp.Result != "pending" {
		return resp
	}
	if err := ctx.Err(); err != nil {
		resp.Result = "skipped: " + err.Error()
		return resp
	}
	target, err := r.do(a, ev)
	rec := audit.Record{Action: resp.Action, Target: target, AlertID: a.ID, RuleID: a.Rule.ID}
	var skip *skipError
	switch {
	case err == nil:
		resp.Result, rec.Result = "ok", audit.ResultOK
	case errors.As(err, &skip):
		resp.Result, rec.Result, rec.Error = "skipped: "+err.Error(), audit.ResultSkipped, err.Error()
	default:
		resp.Result, rec.Result, rec.Error = "failed: "+err.Error(), audit.ResultFailed, err.Error()
	}
	if err := r.Audit.Write(rec); err != nil {
		resp.Result += "; audit: " + err.Error()
	}
	return resp
}

type skipError struct{ msg string }

func (e *skipError) Error() string { return e.msg }

func skipf(format string, args ...any) error { return &skipError{fmt.Sprintf(format, args...)} }

// do acts and returns a description of the target.
func (r *Responder) do(a *alert.Alert, ev *event.Event) (string, error) {
	if ev == nil {
		return "", skipf("no event")
	}
	switch a.Response.Action {
	case ActionNone, "":
		return "", skipf("no action")
	case ActionKill:
		tg, err := targetOf(&ev.Process)
		if err != nil {
			return procName(&ev.Process), err
		}
		return tg.String(), kill.Kill(tg)
	case ActionKillTree:
		return r.killTree(&ev.Process)
	case ActionDenyExec:
		return r.denyExec(&ev.Process)
	case ActionBlockConnect, ActionBlockIP:
		return r.block(a, ev)
	case ActionQuarantine:
		return r.quarantine(a, ev)
	}
	return "", fmt.Errorf("unknown action %q", a.Response.Action)
}

func procName(p *event.Process) string {
	return fmt.Sprintf("pid %d %s (exec_id %s)", p.PID, p.Exe, p.ExecID)
}

// targetOf identifies the process to signal from its exec ID (checking
// that it is of this boot), or its start time.
func targetOf(p *event.Process) (kill.Target, error) {
	if p.ExecID != "" {
		boot, tg, err := kill.ParseExecID(p.ExecID)
		if err != nil {
			return kill.Target{}, err
		}
		now, err := kill.BootID()
		if err != nil {
			return kill.Target{}, err
		}
		if boot != now {
			return kill.Target{}, skipf("process of an earlier boot")
		}
		return tg, nil
	}
	if p.PID > 0 && p.StartTime > 0 {
		return kill.Target{PID: p.PID, StartTime: p.StartTime}, nil
	}
	return kill.Target{}, skipf("no process identity (exec ID or start time)")
}

func (r *Responder) killTree(p *event.Process) (string, error) {
	tg, err := targetOf(p)
	if err != nil {
		return procName(p), err
	}
	n, err := kill.KillTree(tg)
	if errors.Is(err, kill.ErrGone) {
		return tg.String(), skipf("process already exited")
	}
	return fmt.Sprintf("%v and %d descendants", tg, max(n-1, 0)), err
}

// denyExec blocks the process's executable by inode and by hash, then
// kills its tree.
func (r *Responder) denyExec(p *event.Process) (string, error) {
	if r.Guard == nil && r.KillOnExec == nil {
		return p.Exe, skipf("neither the exec guard nor the eBPF kill-on-exec runs")
	}
	tg, err := targetOf(p)
	if err != nil {
		return p.Exe, err
	}
	// The running image, through /proc: the path may have been replaced.
	f, err := os.Open("/proc/" + strconv.Itoa(tg.PID) + "/exe")
	if err != nil {
		if p.Exe == "" {
			return procName(p), fmt.Errorf("open executable: %w", err)
		}
		if f, err = os.Open(p.Exe); err != nil {
			return p.Exe, fmt.Errorf("open executable: %w", err)
		}
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return p.Exe, fmt.Errorf("stat executable: %w", err)
	}
	target := fmt.Sprintf("%s (dev %d inode %d)", p.Exe, st.Dev, st.Ino)
	if r.Guard == nil {
		// Kill-on-exec: the file still runs for an instant on each exec,
		// and a copy with another inode is not caught.
		err := r.KillOnExec.BlockExec(st.Dev, st.Ino)
		if _, kerr := kill.KillTree(tg); kerr != nil && !errors.Is(kerr, kill.ErrGone) {
			err = errors.Join(err, kerr)
		}
		return target + " (kill-on-exec)", err
	}
	r.Guard.BlockInode(st.Dev, st.Ino)
	hashes := r.Hashes
	if hashes == nil {
		hashes = hashcache.Open("", hashcache.Options{})
	}
	var errs []error
	if sum, err := hashes.Sum(f); err != nil {
		errs = append(errs, fmt.Errorf("hash executable: %w", err))
	} else if sum != "" {
		target += " sha256 " + sum
		if err := r.Guard.BlockHash(sum); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := kill.KillTree(tg); err != nil && !errors.Is(err, kill.ErrGone) {
		errs = append(errs, err)
	}
	return target, errors.Join(errs...)
}

// block blocks the remote address: net.dst_ip for block_connect; for
// block_ip the source of an accepted connection or authentication.
func (r *Responder) block(a *alert.Alert, ev *event.Event) (string, error) {
	blocker := r.Net
	if a.Response.Action == ActionBlockIP && r.Inbound != nil {
		blocker = r.Inbound
	}
	if blocker == nil {
		return "", skipf("network blocking not available")
	}
	var s string
	switch {
	case a.Response.Action == ActionBlockIP && ev.Auth != nil && ev.Auth.SrcIP != "":
		s = ev.Auth.SrcIP
	case a.Response.Action == ActionBlockIP && ev.Net != nil && ev.Kind == event.Accept:
		s = ev.Net.SrcIP
	case ev.Net != nil:
		s = ev.Net.DstIP
	}
	if s == "" {
		return "", skipf("event has no remote address")
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return s, fmt.Errorf("address %q: %w", s, err)
	}
	for _, p := range r.NeverBlock {
		if p.Contains(ip.Unmap()) || p.Contains(ip) {
			return s, skipf("refusing to block %s: in never-block %s", ip, p)
		}
	}
	if u := ip.Unmap(); u == netip.AddrFrom4([4]byte{127, 0, 0, 1}) || u == netip.IPv6Loopback() || u.IsUnspecified() {
		// Local services talk to each other here: blocking it would cut
		// the host off from itself. Other 127/8 addresses can be blocked.
		return s, skipf("refusing to block %s", ip)
	}
	d := DefaultBlockDuration
	if r.BlockDuration != nil {
		if v := r.BlockDuration(a); v > 0 {
			d = v
		}
	}
	return fmt.Sprintf("%s for %v (%s)", ip, d, blocker.Mode()), blocker.Block(ip, d)
}

// quarantine moves the file of a file event, else the process's
// executable, then kills the process tree when it runs that file.
func (r *Responder) quarantine(a *alert.Alert, ev *event.Event) (string, error) {
	if r.Quarantine == nil {
		return "", skipf("quarantine not available")
	}
	path, isExe := ev.Process.Exe, true
	if ev.File != nil && ev.File.Path != "" {
		path, isExe = ev.File.Path, false
		if ev.File.Op == event.OpRename && ev.File.NewPath != "" {
			path = ev.File.NewPath
		}
	}
	if path == "" {
		return "", skipf("no file to quarantine")
	}
	m, err := r.Quarantine.Quarantine(path, a.ID, a.Rule.ID)
	if err != nil {
		return path, err
	}
	target := fmt.Sprintf("%s → %s", path, m.ID)
	if !isExe && path != ev.Process.Exe {
		return target, nil
	}
	tg, err := targetOf(&ev.Process)
	if err != nil {
		var skip *skipError
		if errors.As(err, &skip) {
			return target, nil // the file is safe; no process to end
		}
		return target, err
	}
	if _, err := kill.KillTree(tg); err != nil && !errors.Is(err, kill.ErrGone) {
		return target, fmt.Errorf("quarantined, but kill: %w", err)
	}
	return target, nil
}
