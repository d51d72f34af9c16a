package enrich

import (
	"fmt"
	"testing"

	"github.com/vigilsec/vigil/internal/event"
)

// BenchmarkApply measures Apply on a warm table: file and connect events
// that name only PID and exec ID, as the file and network sensors send
// them, for processes 4–9 deep in their trees.
func BenchmarkApply(b *testing.B) {
	e, err := New(Options{BootID: testBoot, NoContainers: true, NoHash: true, PasswdPath: "/etc/passwd"})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	const n = 10000
	var parent *event.Process
	templates := make([]event.Event, 0, n)
	for i := range n {
		cmd := fmt.Sprintf("/usr/bin/python3\x00/opt/app/worker.py\x00--queue\x00jobs-%d", i)
		cmdline, args := splitCmdline([]byte(cmd))
		p := &event.Process{PID: 1000 + i, StartTime: uint64(i + 1), ExecID: event.ExecID(testBoot, uint64(i+1), 1000+i),
			Exe: "/usr/bin/python3.11", Name: "python3", Cmdline: cmdline, Args: args, CWD: "/opt/app", UID: 1000, EUID: 1000}
		if parent != nil && i%10 != 0 {
			p.PPID, p.ParentExecID = parent.PID, parent.ExecID
		}
		e.Apply(&event.Event{Kind: event.Exec, Process: *p})
		parent = p
		ev := event.Event{Kind: event.File, Process: event.Process{PID: p.PID, TID: p.PID, ExecID: p.ExecID, UID: 1000},
			File: &event.FileInfo{Op: event.OpOpenWrite, Path: "/tmp/x"}}
		if i%2 == 1 {
			ev = event.Event{Kind: event.Connect, Process: ev.Process, Net: &event.Network{DstIP: "10.0.0.1", DstPort: 443}}
		}
		templates = append(templates, ev)
	}
	nets := make([]event.Network, n)
	for i := range templates {
		if templates[i].Net != nil {
			nets[i] = *templates[i].Net
		}
	}
	for i := range templates { // warm the chains
		ev := templates[i]
		e.Apply(&ev)
	}
	b.ReportAllocs()
	b.ResetTimer()
	var ev event.Event
	for i := 0; b.Loop(); i++ {
		j := i % n
		ev = templates[j]
		if ev.Net != nil {
			net := nets[j]
			ev.Net = &net
		}
		e.Apply(&ev)
	}
	b.StopTimer()
	if ev.Process.Exe == "" || ev.Parent == nil {
		b.Fatalf("event not enriched: %+v", ev.Process)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
