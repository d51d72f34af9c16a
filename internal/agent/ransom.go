package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/backup"
	"github.com/vigilsec/vigil/internal/event"
	"github.com/vigilsec/vigil/internal/ransom"
	"github.com/vigilsec/vigil/internal/respond/audit"
)

// ransomProducer runs the anti-ransomware guard: protected backups of the
// configured directories on a schedule, decoys, and the fanotify gate that
// kills an encryptor's process tree and restores what it touched.
type ransomProducer struct {
	cfg     RansomConfig
	host    string
	dataDir string
	audit   *audit.Log
	log     *slog.Logger
	stats   func() ransom.Stats
}

func (p *ransomProducer) Name() string { return "ransomware" }

func (p *ransomProducer) Run(ctx context.Context, emit func(*alert.Alert, *event.Event)) error {
	store, err := backup.Open(backup.Config{Dir: backup.DirIn(p.dataDir), MaxFileSize: p.cfg.MaxBackupFile})
	if err != nil {
		return fmt.Errorf("ransomware: backup store: %w", err)
	}
	snapshot := func() {
		start := time.Now()
		m, st, err := store.Snapshot(ctx, p.cfg.ProtectedDirs)
		if err != nil {
			if ctx.Err() == nil {
				p.log.Error("protected backup failed", "error", err)
			}
			return
		}
		if _, err := store.Prune(time.Now()); err != nil {
			p.log.Warn("backup prune", "error", err)
		}
		p.log.Info("protected backup", "snapshot", m.ID, "files", st.Files, "duration", time.Since(start).Round(time.Millisecond))
	}
	// The first snapshot comes before the guard, so there is something to
	// restore from the moment it can kill.
	snapshot()
	decoys := p.cfg.DecoyDirs
	if decoys == nil {
		decoys = p.cfg.ProtectedDirs
	}
	g, err := ransom.New(ransom.Config{
		DecoyDirs: decoys, ProtectedDirs: p.cfg.ProtectedDirs, Backup: store,
		Window: p.cfg.Window.D(), FileThreshold: p.cfg.FileThreshold, EntropyMin: p.cfg.EntropyMin,
		BackupChanges: true, AlertOnly: p.cfg.AlertOnly, Host: p.host, Logger: p.log,
		Emit: func(al *alert.Alert) {
			if p.audit != nil && al.Response.Action != "" && al.Response.Action != "none" && al.Response.Result != "alert_only" {
				target := "process tree"
				if al.Process != nil {
					target = fmt.Sprintf("pid %d (exec_id %s)", al.Process.PID, al.Process.ExecID)
				}
				rec := audit.Record{Action: al.Response.Action, Target: target,
					AlertID: al.ID, RuleID: al.Rule.ID, Result: audit.ResultOK}
				if r := al.Response.Result; r != "ok" {
					rec.Result, rec.Error = audit.ResultFailed, r
				}
				if err := p.audit.Write(rec); err != nil {
					p.log.Error("audit", "error", err)
				}
			}
			emit(al, nil)
		},
	})
	if err != nil {
		return fmt.Errorf("ransomware: %w", err)
	}
	if err := g.Start(ctx); err != nil {
		return fmt.Errorf("ransomware guard: %w", err)
	}
	p.stats = g.Stats
	p.log.Info("ransomware guard running", "protected", p.cfg.ProtectedDirs, "decoys", len(g.Decoys()))
	t := time.NewTicker(max(p.cfg.BackupInterval.D(), time.Minute))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			err := g.Close()
			g.Wait()
			if errors.Is(err, context.Canceled) {
				err = nil
			}
			return err
		case <-t.C:
			snapshot()
		}
	}
}
