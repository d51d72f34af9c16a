package enrich

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/event"
)

const testBoot = "boot"

// proc makes a synthetic process with an exec ID from pid and start.
func proc(pid int, start uint64, parent *event.Process) *event.Process {
	p := &event.Process{
		PID: pid, StartTime: start, ExecID: event.ExecID(testBoot, start, pid),
		Exe: fmt.Sprintf("/usr/bin/prog%d", pid), Name: fmt.Sprintf("prog%d", pid),
	}
	if parent != nil {
		p.PPID, p.ParentExecID = parent.PID, parent.ExecID
	}
	return p
}

// checkLists verifies the table's invariants: every entry is on exactly
// one list, the right one, and the maps agree with the lists.
func checkLists(t *testing.T, tb *Table) {
	t.Helper()
	n := 0
	for l := range tb.lists {
		s := &tb.lists[l]
		for e := s.next; e != s; e = e.next {
			n++
			if int(e.list) != l || e.removed || tb.byExec[e.proc.ExecID] != e {
				t.Fatalf("entry %q on list %d: list field %d, removed %v", e.proc.ExecID, l, e.list, e.removed)
			}
			live := e.exited.IsZero()
			switch {
			case live && e.children > 0 && l != listInner,
				live && e.children == 0 && l != listLeaf,
				!live && l != listExited && l != listRetained:
				t.Fatalf("entry %q (live %v, %d children) on list %d", e.proc.ExecID, live, e.children, l)
			}
		}
	}
	if n != len(tb.byExec) {
		t.Fatalf("%d entries on lists, %d in the map", n, len(tb.byExec))
	}
}

func TestTableBoundKeepsLiveAncestors(t *testing.T) {
	const capacity = 100
	tb := NewTable(capacity, time.Minute, testBoot)
	tb.mu.Lock()
	defer tb.mu.Unlock()
	// init → sshd → bash → miner: the first three are ancestors of a
	// live process and inserted first, so they are the least recently
	// used.
	initP := proc(1, 1, nil)
	sshd := proc(100, 2, initP)
	bash := proc(200, 3, sshd)
	miner := proc(300, 4, bash)
	for _, p := range []*event.Process{initP, sshd, bash, miner} {
		tb.insert(p)
	}
	// Exited processes and a flood of short-lived leaves.
	now := time.Unix(1000, 0)
	for i := range 20 {
		e := tb.insert(proc(1000+i, 10, nil))
		tb.exit(e, now)
	}
	for i := range 10 * capacity {
		tb.insert(proc(5000+i, uint64(100+i), nil))
		if i%7 == 0 {
			tb.touch(tb.get(miner.ExecID)) // the miner stays busy
		}
		if n := len(tb.byExec); n > capacity {
			t.Fatalf("after %d inserts the table holds %d entries, more than %d", i+1, n, capacity)
		}
	}
	checkLists(t, tb)
	for _, p := range []*event.Process{initP, sshd, bash, miner} {
		if tb.get(p.ExecID) == nil {
			t.Errorf("%s (pid %d) was evicted; live ancestors and a busy process must stay", p.Exe, p.PID)
		}
	}
	for i := range 20 {
		if tb.get(event.ExecID(testBoot, 10, 1000+i)) != nil {
			t.Errorf("exited pid %d kept while live processes were evicted", 1000+i)
		}
	}
	if s := tb.stats; s.Evicted != 20+10*capacity+4-capacity {
		t.Errorf("evicted %d, want %d", s.Evicted, 20+10*capacity+4-capacity)
	}
}

func TestTableEvictsExitedFirst(t *testing.T) {
	tb := NewTable(10, time.Minute, testBoot)
	tb.mu.Lock()
	defer tb.mu.Unlock()
	now := time.Unix(1000, 0)
	var live []*event.Process
	for i := range 5 {
		live = append(live, proc(10+i, 1, nil))
		tb.insert(live[i])
		tb.exit(tb.insert(proc(20+i, 1, nil)), now.Add(time.Duration(i)*time.Second))
	}
	// Three more live processes push out the three oldest exits.
	for i := range 3 {
		tb.insert(proc(30+i, 2, nil))
	}
	checkLists(t, tb)
	for _, p := range live {
		if tb.get(p.ExecID) == nil {
			t.Errorf("live pid %d evicted before exited ones", p.PID)
		}
	}
	for i := range 5 {
		_, kept := tb.byExec[event.ExecID(testBoot, 1, 20+i)]
		if want := i >= 3; kept != want {
			t.Errorf("exited pid %d kept = %v, want %v (oldest exits go first)", 20+i, kept, want)
		}
	}
}

func TestTableGrace(t *testing.T) {
	tb := NewTable(100, 30*time.Second, testBoot)
	tb.mu.Lock()
	defer tb.mu.Unlock()
	now := time.Unix(1000, 0)
	parent := proc(10, 1, nil)
	child := proc(11, 2, parent)
	lone := proc(12, 3, nil)
	pe, ce, le := tb.insert(parent), tb.insert(child), tb.insert(lone)
	tb.exit(pe, now)
	tb.exit(le, now)

	tb.sweep(now.Add(29 * time.Second))
	if tb.get(parent.ExecID) == nil || tb.get(lone.ExecID) == nil {
		t.Fatal("exited processes dropped within their grace")
	}
	if tb.byPID[12] != le {
		t.Error("PID index lost an exited process within its grace")
	}
	tb.sweep(now.Add(31 * time.Second))
	checkLists(t, tb)
	if tb.get(lone.ExecID) != nil {
		t.Error("exited process kept past its grace")
	}
	if tb.get(parent.ExecID) == nil || pe.list != listRetained {
		t.Fatal("exited parent of a live child dropped; it must stay for the child's ancestry")
	}
	// The child's exit releases the parent.
	tb.exit(ce, now.Add(40*time.Second))
	checkLists(t, tb)
	if tb.get(parent.ExecID) != nil {
		t.Error("retained parent kept after its last live child exited")
	}
	tb.sweep(now.Add(80 * time.Second))
	if n := len(tb.byExec); n != 0 {
		t.Errorf("%d entries left after every grace ended", n)
	}
	if s := tb.stats; s.Expired != 3 || s.Evicted != 0 {
		t.Errorf("stats %+v, want 3 expired, 0 evicted", s)
	}
}

// TestEntryCost measures the memory of a full table of typical entries
// with their ancestor chains cached, and checks it against the cost
// documented on Table.
func TestEntryCost(t *testing.T) {
	const n = 20000
	e, err := New(Options{BootID: testBoot, Capacity: n, NoContainers: true, NoHash: true, PasswdPath: "/nonexistent"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	e.t.mu.Lock()
	var parent *event.Process
	for i := range n {
		line := fmt.Sprintf("/usr/bin/python3 /opt/app/worker.py --queue jobs-%d --concurrency 4 --log-level info", i)
		cmdline, args := splitCmdline([]byte(stringsToNUL(line)))
		p := &event.Process{
			PID: 1000 + i, StartTime: uint64(i + 1), ExecID: event.ExecID("0e9a8a54-5b3c-4a52-8d0b-52e6a3d9e2c1", uint64(i+1), 1000+i),
			Exe: "/usr/bin/python3.11", Name: "python3", Cmdline: cmdline, Args: args, CWD: "/opt/app",
			UID: 1000, EUID: 1000, Stdin: "null", Stdout: "pipe", Stderr: "pipe", TTY: "",
		}
		if parent != nil && i%8 != 0 {
			p.ParentExecID = parent.ExecID
		}
		e.t.insert(p)
		parent = p
	}
	e.t.mu.Unlock()
	runtime.GC()
	runtime.ReadMemStats(&after)
	plain := float64(after.HeapAlloc-before.HeapAlloc) / n
	e.t.mu.Lock()
	for _, en := range e.t.byExec {
		e.ancestry(en)
	}
	e.t.mu.Unlock()
	runtime.GC()
	runtime.ReadMemStats(&after)
	withChain := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("%.0f bytes per entry, %.0f with its ancestor chain cached (%d entries, 80-byte command lines, chains of 7 on average)", plain, withChain, n)
	if plain > 1200 || withChain > 2048 {
		t.Errorf("%.0f / %.0f bytes per entry; Table documents about 1 KiB, and 1.8 KiB with a full chain", plain, withChain)
	}
	runtime.KeepAlive(e)
}

func stringsToNUL(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == ' ' {
			b[i] = 0
		}
	}
	return string(b)
}
