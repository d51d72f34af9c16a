package detect

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/event"
)

// replayEvents makes a deterministic, realistic mix: 70% exec/fork/exit of
// common binaries, 20% file events on everyday paths, 10% connections.
func replayEvents(n int) []*event.Event {
	r := rand.New(rand.NewPCG(1, 2))
	bins := []struct {
		exe  string
		args []string
	}{
		{"/usr/bin/bash", []string{"bash", "-c", "ls -la /var/log"}},
		{"/usr/bin/ls", []string{"ls", "--color=auto", "-la"}},
		{"/usr/bin/grep", []string{"grep", "-r", "error", "/var/log/nginx"}},
		{"/usr/bin/cat", []string{"cat", "/etc/hostname"}},
		{"/usr/sbin/nginx", []string{"nginx", "-g", "daemon off;"}},
		{"/usr/bin/python3.11", []string{"python3", "/srv/app/manage.py", "runserver"}},
		{"/usr/bin/sed", []string{"sed", "-i", "s/a/b/", "/srv/app/conf.ini"}},
		{"/usr/bin/awk", []string{"awk", "{print $1}", "/var/log/syslog"}},
		{"/usr/bin/curl", []string{"curl", "-s", "http://127.0.0.1:8080/health"}},
		{"/usr/bin/git", []string{"git", "pull", "--ff-only"}},
		{"/usr/lib/postgresql/15/bin/postgres", []string{"postgres", "-D", "/var/lib/postgresql/15/main"}},
		{"/usr/bin/redis-server", []string{"redis-server", "127.0.0.1:6379"}},
		{"/usr/bin/dash", []string{"sh", "-c", "run-parts --report /etc/cron.daily"}},
		{"/usr/sbin/cron", []string{"/usr/sbin/cron", "-f"}},
		{"/usr/bin/sleep", []string{"sleep", "5"}},
		{"/usr/bin/date", []string{"date", "+%s"}},
	}
	parents := []string{"/usr/sbin/sshd", "/usr/bin/bash", "/usr/sbin/cron", "/lib/systemd/systemd", "/usr/bin/python3.11"}
	files := []string{"/var/log/nginx/access.log", "/tmp/sess_abc", "/srv/app/cache/x.tmp", "/var/lib/postgresql/15/main/base/1/2",
		"/home/deploy/.bash_history", "/etc/hosts", "/run/nginx.pid", "/var/cache/apt/pkgcache.bin"}
	ops := []event.FileOp{event.OpOpenWrite, event.OpCreate, event.OpUnlink, event.OpRename, event.OpTruncate}
	out := make([]*event.Event, n)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range out {
		b := bins[r.IntN(len(bins))]
		pid := 1000 + r.IntN(5000)
		ev := &event.Event{
			Time: base.Add(time.Duration(i) * time.Millisecond), Host: "bench", Source: "replay",
			Process: event.Process{PID: pid, PPID: 900, ExecID: fmt.Sprintf("b:%d:%d", i, pid), Exe: b.exe, Name: b.args[0],
				Args: b.args, Cmdline: strings.Join(b.args, " "), CWD: "/srv/app", UID: 33, EUID: 33, User: "www-data",
				Stdin: "pipe", Stdout: "pipe", Stderr: "file", HostPID: true, HostNet: true, HostMnt: true,
				Ancestors: []event.Ancestor{{PID: 900, Exe: parents[r.IntN(len(parents))]}, {PID: 1, Exe: "/lib/systemd/systemd"}}},
			Parent: &event.Process{PID: 900, Exe: parents[r.IntN(len(parents))]},
		}
		switch x := r.IntN(100); {
		case x < 40:
			ev.Kind = event.Exec
		case x < 55:
			ev.Kind = event.Fork
		case x < 70:
			ev.Kind = event.Exit
		case x < 90:
			ev.Kind = event.File
			ev.File = &event.FileInfo{Op: ops[r.IntN(len(ops))], Path: files[r.IntN(len(files))], Mode: 0o644}
		default:
			ev.Kind = event.Connect
			ev.Net = &event.Network{Family: "ipv4", Protocol: "tcp", SrcIP: "127.0.0.1", SrcPort: 40000 + r.IntN(20000),
				DstIP: fmt.Sprintf("127.0.%d.%d", r.IntN(4), 1+r.IntN(200)), DstPort: []int{80, 443, 5432, 6379, 8080}[r.IntN(5)], Loopback: true}
		}
		out[i] = ev
	}
	return out
}

// BenchmarkReplay replays recorded-like events through every shipped rule
// (../../rules) and reports events/s on one goroutine.
func BenchmarkReplay(b *testing.B) {
	if _, err := os.Stat("../../rules"); err != nil {
		b.Skip("no ../../rules directory: the shipped rules are needed for this benchmark")
	}
	fsys := os.DirFS("../../rules")
	rs, err := LoadFS(fsys, "*.yaml")
	if err != nil {
		b.Fatal(err)
	}
	if rs.IOC, err = LoadIOC(fsys, "ioc"); err != nil {
		b.Fatal(err)
	}
	e, err := New(rs, Options{})
	if err != nil {
		b.Fatal(err)
	}
	evs := replayEvents(20000)
	if path := os.Getenv("VIGIL_REPLAY"); path != "" {
		// Events recorded by `vigil agent --record FILE` on a real host.
		if evs, err = readRecorded(path); err != nil {
			b.Fatal(err)
		}
		b.Logf("replaying %d recorded events from %s", len(evs), path)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start, cpuStart := time.Now(), cpuTime()
	alerts := 0
	for i := 0; i < b.N; i++ {
		alerts += len(e.Process(evs[i%len(evs)]))
	}
	el, cpu := time.Since(start), cpuTime()-cpuStart
	b.ReportMetric(float64(b.N)/el.Seconds(), "events/s")
	// On a busy machine wall time overstates the cost; CPU time of the
	// process (GC included) gives events per second of one core's work.
	if cpu > 0 {
		b.ReportMetric(float64(b.N)/cpu.Seconds(), "events/cpu-s")
	}
	b.ReportMetric(float64(len(e.RuleIDs())), "rules")
	if st := e.Stats(); st.LastError != "" {
		b.Logf("evaluation errors: %v (last: %s)", st.EvalErrors, st.LastError)
	}
	_ = alerts
}

// readRecorded reads JSON-lines events as `vigil agent --record` writes them.
func readRecorded(path string) ([]*event.Event, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []*event.Event
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for line := 1; sc.Scan(); line++ {
		ev := &event.Event{}
		if err := json.Unmarshal(sc.Bytes(), ev); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		out = append(out, ev)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no events", path)
	}
	return out, sc.Err()
}

// cpuTime is the user+system CPU time of this process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRules measures each shipped rule's condition alone over the
// replay mix (only events of the rule's kinds count), to find the rules
// that cost the most: go test -bench Rules/VGL-EXEC ./internal/detect.
func BenchmarkRules(b *testing.B) {
	if _, err := os.Stat("../../rules"); err != nil {
		b.Skip("no ../../rules directory: the shipped rules are needed for this benchmark")
	}
	fsys := os.DirFS("../../rules")
	rs, err := LoadFS(fsys, "*.yaml")
	if err != nil {
		b.Fatal(err)
	}
	if rs.IOC, err = LoadIOC(fsys, "ioc"); err != nil {
		b.Fatal(err)
	}
	e, err := New(rs, Options{})
	if err != nil {
		b.Fatal(err)
	}
	all := replayEvents(20000)
	for _, c := range e.rules {
		var evs []*event.Event
		for _, ev := range all {
			for _, k := range c.rule.Events {
				if string(ev.Kind) == k {
					evs = append(evs, ev)
					break
				}
			}
		}
		if len(evs) == 0 {
			continue
		}
		b.Run(c.rule.ID, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				ev := evs[i%len(evs)]
				e.act.set(ev)
				e.ctx.ev = ev
				e.ctx.gen++
				e.evalBool(c, c.cond)
			}
		})
	}
}
