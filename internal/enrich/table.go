package enrich

import (
	"sync"
	"time"

	"github.com/vigilsec/vigil/internal/event"
)

const (
	// DefaultCapacity bounds the process table.
	DefaultCapacity = 32768
	// DefaultGrace is how long an exited process stays resolvable.
	DefaultGrace = 30 * time.Second
	// MaxAncestors bounds event.Process.Ancestors.
	MaxAncestors = 8
)

// The lists an entry sits on, in eviction order: when the table is over
// capacity, the head of the first non-empty list goes first.
const (
	listExited   = iota // exited, no live children: oldest exit first
	listRetained        // exited past its grace but live children name it as parent
	listLeaf            // live, no live children: least recently used first
	listInner           // live, with live children (an ancestor): LRU first
	numLists
)

// entry is one process image in the table. Its cost is documented on
// Table.
type entry struct {
	proc    event.Process // Ancestors always nil
	prevExe string        // the image this exec ID ran before its last exec, if any
	exited  time.Time     // zero while alive

	// parent is the entry that counts this one in its children, nil when
	// none does. An entry removed from the table keeps nothing but its
	// counters, so a child's pointer retains a few bytes at most.
	parent   *entry
	children int32 // live entries whose parent is this one
	list     uint8
	removed  bool

	prev, next *entry // on lists[list]

	// anc caches the ancestor chain, valid while ancGen == Table.gen+1.
	anc    []event.Ancestor
	ancGen uint64
	// view caches this process as its children's event.Parent, valid
	// while viewGen == Table.gen+1.
	view    *event.Process
	viewGen uint64
}

// Table is a bounded process table keyed by exec ID, with an index from
// PID to the PID's current exec ID. It is safe for concurrent use; the
// enrichment pipeline is its main user.
//
// Bound: at most Capacity entries. When an insert goes over, the table
// evicts exited processes first (oldest exit first), then exited
// processes kept as parents of live ones, then live processes without
// live children (least recently used first), and live ancestors of live
// processes last. Exited processes are dropped Grace after their exit
// unless a live child still names them.
//
// Cost per entry (TestEntryCost measures it): about 950 bytes for a
// typical process with an 80-byte command line — the entry and its
// event.Process (about 530 bytes), both index slots, the exec ID and the
// strings (Args share the command line's bytes; command lines read from
// /proc are cut at 4 KiB) — plus, once the process has had an event, its
// cached ancestor chain of up to 8 × 96 bytes (the strings are shared with
// the ancestors' entries), about 1.7 KiB in all. A full default table of
// 32768 entries thus stays within about 31 MiB, or 55 MiB if every
// process had events.
type Table struct {
	mu       sync.Mutex
	capacity int
	grace    time.Duration
	bootID   string

	byExec map[string]*entry
	byPID  map[int]*entry
	lists  [numLists]entry // sentinels of circular lists
	gen    uint64          // bumped when cached ancestor chains may be stale

	stats TableStats
}

// TableStats counts what the table did.
type TableStats struct {
	Entries  int    `json:"entries"`
	Inserted uint64 `json:"inserted"`
	Evicted  uint64 `json:"evicted"` // removed because the table was full
	Expired  uint64 `json:"expired"` // removed after their exit grace
}

// NewTable returns an empty table of at most capacity entries (≤ 0 means
// DefaultCapacity) that keeps exited processes for grace (≤ 0 means
// DefaultGrace). bootID is the first part of the exec IDs it builds.
func NewTable(capacity int, grace time.Duration, bootID string) *Table {
	if capacity <= 0 {
		capacity = DefaultCapacity
	}
	if grace <= 0 {
		grace = DefaultGrace
	}
	t := &Table{
		capacity: capacity,
		grace:    grace,
		bootID:   bootID,
		byExec:   make(map[string]*entry),
		byPID:    make(map[int]*entry),
	}
	for i := range t.lists {
		s := &t.lists[i]
		s.prev, s.next = s, s
	}
	return t
}

// Entry is what the table knows of one process image.
type Entry struct {
	Process event.Process
	// PrevExe is the executable this exec ID ran before its last exec
	// (an exec keeps the PID and start time, so the exec ID).
	PrevExe string
	// Exited is when the process was seen to exit; zero while alive.
	Exited time.Time
}

// Lookup returns the entry of an exec ID. It does not count as a use
// for eviction.
func (t *Table) Lookup(execID string) (Entry, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.byExec[execID]
	if e == nil {
		return Entry{}, false
	}
	return Entry{Process: e.proc, PrevExe: e.prevExe, Exited: e.exited}, true
}

// ExecIDOf returns the exec ID the table last saw for pid.
func (t *Table) ExecIDOf(pid int) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.byPID[pid]; e != nil {
		return e.proc.ExecID, true
	}
	return "", false
}

// Len returns the number of entries.
func (t *Table) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.byExec)
}

// Stats returns the table's counters.
func (t *Table) Stats() TableStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.stats
	s.Entries = len(t.byExec)
	return s
}

// The methods below require t.mu.

func (t *Table) unlink(e *entry) {
	e.prev.next = e.next
	e.next.prev = e.prev
	e.prev, e.next = nil, nil
}

// pushBack puts e at the most recently used end of list l.
func (t *Table) pushBack(e *entry, l uint8) {
	s := &t.lists[l]
	e.list = l
	e.prev, e.next = s.prev, s
	s.prev.next = e
	s.prev = e
}

func (t *Table) move(e *entry, l uint8) {
	t.unlink(e)
	t.pushBack(e, l)
}

// liveList is the list of a live entry.
func liveList(e *entry) uint8 {
	if e.children > 0 {
		return listInner
	}
	return listLeaf
}

// touch marks a live entry as just used.
func (t *Table) touch(e *entry) {
	if e.exited.IsZero() && e.next != &t.lists[e.list] {
		t.move(e, e.list)
	}
}

// get returns the entry of execID.
func (t *Table) get(execID string) *entry {
	return t.byExec[execID]
}

// insert adds a new entry for p (which must have an ExecID not in the
// table) and links it to its parent. It evicts when over capacity.
func (t *Table) insert(p *event.Process) *entry {
	e := &entry{proc: *p}
	e.proc.Ancestors = nil
	t.byExec[p.ExecID] = e
	t.byPID[p.PID] = e
	t.pushBack(e, listLeaf)
	t.link(e)
	t.stats.Inserted++
	for len(t.byExec) > t.capacity {
		if !t.evictOne(e) {
			break
		}
	}
	return e
}

// link counts a live e in its parent's children.
func (t *Table) link(e *entry) {
	if e.parent != nil || !e.exited.IsZero() || e.proc.ParentExecID == "" {
		return
	}
	p := t.byExec[e.proc.ParentExecID]
	if p == nil || p == e {
		return
	}
	e.parent = p
	p.children++
	if p.children == 1 && p.exited.IsZero() {
		t.move(p, listInner)
	}
}

// unlinkParent drops e from its parent's children.
func (t *Table) unlinkParent(e *entry) {
	p := e.parent
	if p == nil {
		return
	}
	e.parent = nil
	p.children--
	if p.children > 0 || p.removed {
		return
	}
	switch p.list {
	case listInner:
		t.move(p, listLeaf)
	case listRetained:
		// Kept only for its children, who are gone.
		t.remove(p)
		t.stats.Expired++
	}
}

// setParent changes e's parent exec ID, relinking the children counts.
func (t *Table) setParent(e *entry, parentExecID string) {
	if e.proc.ParentExecID == parentExecID {
		return
	}
	t.unlinkParent(e)
	e.proc.ParentExecID = parentExecID
	t.link(e)
}

// exit marks e exited at now.
func (t *Table) exit(e *entry, now time.Time) {
	if !e.exited.IsZero() {
		return
	}
	e.exited = now
	t.unlinkParent(e)
	if e.removed {
		return
	}
	t.move(e, listExited)
}

// remove drops e from the table.
func (t *Table) remove(e *entry) {
	if e.removed {
		return
	}
	t.unlink(e)
	delete(t.byExec, e.proc.ExecID)
	if t.byPID[e.proc.PID] == e {
		delete(t.byPID, e.proc.PID)
	}
	e.removed = true
	t.unlinkParent(e)
	// Children may still point at e: keep only what they touch.
	e.proc, e.prevExe, e.anc, e.view = event.Process{}, "", nil, nil
}

// evictOne removes the first entry in eviction order other than keep. It
// returns false when there is none.
func (t *Table) evictOne(keep *entry) bool {
	for l := range t.lists {
		s := &t.lists[l]
		for e := s.next; e != s; e = e.next {
			if e == keep {
				continue
			}
			t.remove(e)
			t.stats.Evicted++
			return true
		}
	}
	return false
}

// sweep drops exited entries whose grace ended before now; those still
// named by live children move to the retained list.
func (t *Table) sweep(now time.Time) {
	s := &t.lists[listExited]
	for e := s.next; e != s; {
		if now.Sub(e.exited) < t.grace {
			return // the list is in exit order
		}
		next := e.next
		if e.children > 0 {
			t.move(e, listRetained)
		} else {
			t.remove(e)
			t.stats.Expired++
		}
		e = next
	}
}
