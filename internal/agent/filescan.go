package agent

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/event"
	"github.com/vigilsec/vigil/internal/malware"
)

// fileScanner is the agent's anti-virus: files written into a web root are
// scanned once they have been quiet for a moment (webshells are dropped
// there), and the configured paths are scanned on a schedule, niced and
// rate-limited. Findings become alerts with the quarantine response.
type fileScanner struct {
	cfg     ScanConfig
	roots   []string // web roots, absolute, cleaned
	scanner *malware.Scanner
	log     *slog.Logger

	queue   chan string
	dropped atomic.Uint64

	mu      sync.Mutex
	alerted map[string]bool // path + "\x00" + sha256 already reported
	last    malware.Summary
	lastAt  time.Time
}

// quiet is how long a written file must be left alone before it is read:
// an upload is created, then written, then closed.
const quiet = 1500 * time.Millisecond

func newFileScanner(cfg ScanConfig, roots []string, sc *malware.Scanner, log *slog.Logger) *fileScanner {
	return &fileScanner{cfg: cfg, roots: roots, scanner: sc, log: log,
		queue: make(chan string, 4096), alerted: map[string]bool{}}
}

func (s *fileScanner) Name() string { return "filescan" }

// underRoot reports whether p is inside a web root.
func (s *fileScanner) underRoot(p string) bool {
	for _, r := range s.roots {
		if p == r || strings.HasPrefix(p, r+"/") {
			return true
		}
	}
	return false
}

// Observe queues files written into a web root; it never blocks (a full
// queue drops and counts, and the scheduled scan catches up).
func (s *fileScanner) Observe(ev *event.Event) []*alert.Alert {
	if ev.Kind != event.File || ev.File == nil {
		return nil
	}
	var p string
	switch ev.File.Op {
	case event.OpCreate, event.OpOpenWrite, event.OpTruncate, event.OpChmod:
		p = ev.File.Path
	case event.OpRename, event.OpLink:
		p = ev.File.NewPath
	default:
		return nil
	}
	if p == "" || !s.underRoot(p) {
		return nil
	}
	select {
	case s.queue <- p:
	default:
		s.dropped.Add(1)
	}
	return nil
}

// Run scans queued web-root files when they are quiet and every path on
// the schedule.
func (s *fileScanner) Run(ctx context.Context, emit func(*alert.Alert, *event.Event)) error {
	report := func(f malware.Finding) {
		key := f.Path + "\x00" + f.SHA256
		s.mu.Lock()
		seen := s.alerted[key]
		if !seen {
			if len(s.alerted) > 100000 {
				clear(s.alerted)
			}
			s.alerted[key] = true
		}
		s.mu.Unlock()
		if seen {
			return
		}
		al := f.Alert("")
		if !s.cfg.Quarantine {
			al.Response.Result = "alert_only"
		}
		emit(al, f.Event())
	}
	var tick <-chan time.Time
	if s.cfg.Interval > 0 && len(s.cfg.Paths)+len(s.roots) > 0 {
		t := time.NewTicker(s.cfg.Interval.D())
		defer t.Stop()
		tick = t.C
	}
	if len(s.roots) > 0 {
		s.scan(ctx, s.roots, report) // what was dropped while the agent was down
	}
	pending := map[string]time.Time{}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next := time.Duration(-1)
		now := time.Now()
		var due []string
		for p, at := range pending {
			if wait := at.Add(quiet).Sub(now); wait <= 0 {
				due = append(due, p)
				delete(pending, p)
			} else if next < 0 || wait < next {
				next = wait
			}
		}
		if len(due) > 0 {
			s.scan(ctx, due, report)
			continue
		}
		if next < 0 {
			next = time.Hour
		}
		timer.Reset(next)
		select {
		case <-ctx.Done():
			return nil
		case p := <-s.queue:
			pending[p] = time.Now()
		case <-timer.C:
		case <-tick:
			s.scan(ctx, append(append([]string{}, s.roots...), s.cfg.Paths...), report)
		}
	}
}

func (s *fileScanner) scan(ctx context.Context, paths []string, report func(malware.Finding)) {
	start := time.Now()
	sum, err := s.scanner.Scan(ctx, paths, report)
	if err != nil && ctx.Err() == nil {
		s.log.Warn("file scan", "error", err)
	}
	s.mu.Lock()
	s.last, s.lastAt = sum, start
	s.mu.Unlock()
	if len(paths) > 8 || time.Since(start) > time.Second {
		s.log.Info("file scan", "paths", len(paths), "files", sum.Files, "bytes", sum.Bytes,
			"findings", sum.Findings, "errors", sum.ErrorCount, "duration", time.Since(start).Round(time.Millisecond))
	}
}

// cleanRoots makes web roots absolute and clean, without duplicates.
func cleanRoots(roots []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range roots {
		if !filepath.IsAbs(r) {
			continue
		}
		r = filepath.Clean(r)
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out
}
