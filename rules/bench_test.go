package rules_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/detect"
	"github.com/vigilsec/vigil/internal/event"
)

// benignEvents makes a deterministic mix of everyday events — execs of
// common programs, file writes on ordinary paths, loopback connections —
// on which no shipped rule should fire: the cost that matters is the cost
// of saying no.
func benignEvents(n int) []*event.Event {
	r := rand.New(rand.NewPCG(7, 11))
	cmds := [][]string{
		{"/usr/bin/bash", "bash", "-c", "ls -la /var/log | grep -v old"},
		{"/usr/bin/ls", "ls", "--color=auto", "-la"},
		{"/usr/bin/grep", "grep", "-r", "error", "/var/log/nginx"},
		{"/usr/sbin/nginx", "nginx", "-g", "daemon off;"},
		{"/usr/bin/python3.11", "python3", "/srv/app/manage.py", "runserver", "0.0.0.0:8000"},
		{"/usr/bin/curl", "curl", "-s", "-o", "/srv/app/out.json", "http://127.0.0.1:8080/health"},
		{"/usr/bin/git", "git", "pull", "--ff-only"},
		{"/usr/bin/dash", "sh", "-c", "run-parts --report /etc/cron.daily"},
		{"/usr/bin/ssh", "ssh", "-o", "BatchMode=yes", "deploy@10.0.0.5", "uptime"},
		{"/usr/bin/date", "date", "+%s"},
	}
	files := []string{"/var/log/nginx/access.log", "/tmp/sess_abc", "/srv/app/cache/x.tmp", "/home/deploy/.cache/pip/x",
		"/etc/hosts", "/run/nginx.pid", "/var/log/app/app.log", "/var/lib/redis/dump.rdb"}
	ops := []event.FileOp{event.OpOpenWrite, event.OpCreate, event.OpUnlink, event.OpRename, event.OpTruncate}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([]*event.Event, n)
	for i := range out {
		c := cmds[r.IntN(len(cmds))]
		pid := 1000 + r.IntN(5000)
		ev := &event.Event{
			Time: base.Add(time.Duration(i) * time.Millisecond),
			Process: event.Process{PID: pid, ExecID: fmt.Sprintf("b:1:%d", pid), Exe: c[0], Args: c[1:],
				Cmdline: strings.Join(c[1:], " "), CWD: "/srv/app", UID: 33, User: "www-data", Stdin: "pipe", Stdout: "pipe",
				Ancestors: []event.Ancestor{{PID: 900, Exe: "/usr/sbin/sshd"}, {PID: 1, Exe: "/lib/systemd/systemd"}}},
			Parent: &event.Process{PID: 900, Exe: "/usr/bin/bash"},
		}
		switch x := r.IntN(10); {
		case x < 6:
			ev.Kind = event.Exec
		case x < 9:
			ev.Kind = event.File
			ev.Process.Exe = "/usr/bin/python3.11"
			ev.File = &event.FileInfo{Op: ops[r.IntN(len(ops))], Path: files[r.IntN(len(files))], Mode: 0o644}
		default:
			ev.Kind = event.Connect
			ev.Net = &event.Network{Family: "ipv4", Protocol: "tcp", DstIP: "127.0.0.1", DstPort: 8080, Loopback: true}
		}
		out[i] = ev
	}
	return out
}

// BenchmarkRules replays benign events through each shipped rule alone
// and through all of them, and reports events/s: the per-rule figures show
// which condition to make cheaper first.
func BenchmarkRules(b *testing.B) {
	rs, err := detect.LoadFS(rulesFS(), "*.yaml")
	if err != nil {
		b.Fatal(err)
	}
	if rs.IOC, err = detect.LoadIOC(rulesFS(), "ioc"); err != nil {
		b.Fatal(err)
	}
	evs := benignEvents(4096)
	run := func(b *testing.B, rs *detect.RuleSet) {
		e, err := detect.New(rs, detect.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		n := 0
		for b.Loop() {
			if as := e.Process(evs[n%len(evs)]); len(as) != 0 {
				b.Fatalf("alert %s on benign event %d: %+v", as[0].Rule.ID, n%len(evs), evs[n%len(evs)])
			}
			n++
		}
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "events/s")
	}
	b.Run("all", func(b *testing.B) { run(b, rs) })
	for _, f := range rs.Files {
		for _, r := range f.Rules {
			b.Run(r.ID, func(b *testing.B) { run(b, only(rs, r)) })
		}
	}
}

// only is rs reduced to one rule (and no tests).
func only(rs *detect.RuleSet, r *detect.Rule) *detect.RuleSet {
	one := *rs
	one.Files = []*detect.File{{Name: r.File, Lists: map[string][]string{}, Rules: []*detect.Rule{r}}}
	return &one
}
