package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/authlog"
	"github.com/vigilsec/vigil/internal/event"
	"github.com/vigilsec/vigil/internal/login"
	"github.com/vigilsec/vigil/internal/sensor"
)

// authSourceName is the log source's name in status and metrics.
const authSourceName = "authlog"

// authSource turns authentication logs into auth events: each configured
// log file through a Tailer, else the systemd journal. A batch's read
// position is committed only once every event of the batch has been judged
// (event.Done), so a crash or restart re-reads what was not judged and
// never skips a line.
type authSource struct {
	cfg     AuthConfig
	dataDir string
	log     *slog.Logger

	status sensor.Status
	events atomic.Uint64
	errs   atomic.Uint64

	mu     sync.Mutex
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed []func() error
}

func newAuthSource(cfg AuthConfig, dataDir string, log *slog.Logger) *authSource {
	return &authSource{cfg: cfg, dataDir: dataDir, log: log}
}

func (s *authSource) Name() string { return authSourceName }

// stateDir keeps the tailers' positions and the journal cursor.
func (s *authSource) stateDir() string { return filepath.Join(s.dataDir, "authlog") }

// stateFile names the position file of a log path.
func (s *authSource) stateFile(path string) string {
	name := strings.ReplaceAll(strings.Trim(filepath.Clean(path), "/"), "/", "_")
	return filepath.Join(s.stateDir(), name+".pos")
}

// Start picks the sources: the configured files that exist (or, for
// journal "on", the journal as well), else the journal when journalctl
// answers. A host with neither is an error, so status says why.
func (s *authSource) Start(ctx context.Context, sink sensor.Sink) error {
	ws, ok := sink.(sensor.WaitSink)
	if !ok {
		return errors.New("authlog: the sink cannot wait; log lines would be dropped")
	}
	if err := os.MkdirAll(s.stateDir(), 0o700); err != nil {
		return fmt.Errorf("authlog: %w", err)
	}
	var files []string
	for _, p := range s.cfg.Files {
		if _, err := os.Stat(p); err == nil {
			files = append(files, p)
		}
	}
	journal := false
	switch s.cfg.Journal {
	case "on":
		journal = true
	case "auto", "":
		journal = len(files) == 0 && journalUsable(ctx)
	}
	if len(files) == 0 && !journal {
		s.status = sensor.Status{Name: authSourceName, Mode: sensor.ModeOff,
			Reason: fmt.Sprintf("no log file of %v exists and the journal is not readable", s.cfg.Files)}
		return errors.New("authlog: " + s.status.Reason)
	}
	rctx, cancel := context.WithCancel(ctx)
	s.mu.Lock()
	s.cancel = cancel
	s.mu.Unlock()
	var attach []string
	for _, p := range files {
		t, err := authlog.NewTailer(p, authlog.TailerOptions{StateFile: s.stateFile(p), StartAtEnd: !s.cfg.FromStart})
		if err != nil {
			cancel()
			return fmt.Errorf("authlog: %s: %w", p, err)
		}
		s.closed = append(s.closed, t.Close)
		attach = append(attach, "file:"+p)
		s.wg.Go(func() { s.tail(rctx, t, ws) })
	}
	if journal {
		f := &authlog.JournalFollower{
			CursorFile: filepath.Join(s.stateDir(), "journal.cursor"),
			Matches:    []string{"_COMM=sshd", "+", "_COMM=sshd-session", "+", "_COMM=su", "+", "_COMM=sudo", "+", "_COMM=login"},
			Errorf:     func(format string, args ...any) { s.errs.Add(1); s.log.Debug(fmt.Sprintf(format, args...)) },
		}
		attach = append(attach, "journal")
		s.wg.Go(func() { s.follow(rctx, f, ws) })
	}
	s.status = sensor.Status{Name: authSourceName, Mode: sensor.ModeLog, Attach: attach}
	return nil
}

// journalUsable reports whether journalctl runs and the journal has files.
func journalUsable(ctx context.Context) bool {
	if _, err := exec.LookPath("journalctl"); err != nil {
		return false
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(cctx, "journalctl", "-n", "1", "-q", "--no-pager", "-o", "cat").CombinedOutput()
	return err == nil && !strings.Contains(string(out), "No journal files")
}

func (s *authSource) tail(ctx context.Context, t *authlog.Tailer, sink sensor.WaitSink) {
	for {
		b, err := t.Next(ctx)
		if err != nil {
			if ctx.Err() == nil {
				s.errs.Add(1)
				s.log.Error("auth log tail stopped", "error", err)
			}
			return
		}
		recs := make([]authlog.Event, 0, len(b.Lines))
		now := time.Now()
		for _, l := range b.Lines {
			r, ok := authlog.ParseLine(l.Text, now)
			if !ok {
				continue
			}
			r.Source = b.File
			recs = append(recs, r)
		}
		if !s.judge(ctx, recs, sink) {
			return // stopping: the batch is re-read after the restart
		}
		if err := t.Commit(b.Pos); err != nil {
			s.errs.Add(1)
			s.log.Error("auth log position not saved", "error", err)
		}
	}
}

func (s *authSource) follow(ctx context.Context, f *authlog.JournalFollower, sink sensor.WaitSink) {
	err := f.Run(ctx, func(recs []authlog.Event) error {
		if !s.judge(ctx, recs, sink) {
			return ctx.Err()
		}
		return nil
	})
	if err != nil && ctx.Err() == nil {
		s.errs.Add(1)
		s.log.Error("journal follower stopped", "error", err)
	}
}

// stopGrace bounds how long a stopping source waits for its last batch to
// be judged.
const stopGrace = 3 * time.Second

// judge queues the records as auth events and waits until the pipeline
// has handled every one. It returns false when ctx ended before every
// record was queued, or before they were all handled within stopGrace
// after it ended.
func (s *authSource) judge(ctx context.Context, recs []authlog.Event, sink sensor.WaitSink) bool {
	if len(recs) == 0 {
		return true
	}
	var left atomic.Int64
	left.Store(int64(len(recs)))
	done := make(chan struct{})
	for _, r := range recs {
		ev := login.Convert(r)
		ev.Source = "authlog"
		ev.Done = func() {
			if left.Add(-1) == 0 {
				close(done)
			}
		}
		e := ev
		if !sink.EmitWait(ctx, &e) {
			return false
		}
		s.events.Add(1)
	}
	select {
	case <-done:
		return true
	case <-ctx.Done():
	}
	// Stopping. The agent closes its sensors before it stops judging
	// what they queued, so a batch handed over whole is still judged:
	// wait for it, briefly, so that its position is committed and a
	// restart does not judge it again.
	t := time.NewTimer(stopGrace)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

func (s *authSource) Status() sensor.Status { return s.status }

func (s *authSource) Stats() sensor.Stats {
	return sensor.Stats{Events: s.events.Load(), Errors: s.errs.Load()}
}

func (s *authSource) Close() error {
	s.mu.Lock()
	cancel := s.cancel
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	s.wg.Wait()
	var errs []error
	for _, c := range s.closed {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}

// authAnalyzer adapts the login analyzer (per-account baselines) to the
// pipeline and saves the baseline at most once a minute and at exit.
type authAnalyzer struct {
	an   *login.Analyzer
	path string
	log  *slog.Logger

	mu    sync.Mutex
	saved time.Time
}

func (a *authAnalyzer) Name() string { return "login" }

func (a *authAnalyzer) Observe(ev *event.Event) []*alert.Alert {
	if ev.Kind != event.Auth {
		return nil
	}
	out := a.an.Observe(ev)
	a.mu.Lock()
	due := time.Since(a.saved) > time.Minute
	a.mu.Unlock()
	if due {
		a.save()
	}
	return out
}

func (a *authAnalyzer) save() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.saved = time.Now()
	if err := a.an.Save(a.path); err != nil {
		a.log.Warn("login baseline not saved", "error", err)
		return err
	}
	return nil
}
