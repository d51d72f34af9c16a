package login

import (
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/authlog"
	"github.com/vigilsec/vigil/internal/detect"
	"github.com/vigilsec/vigil/internal/event"
	"github.com/vigilsec/vigil/rules"
)

// ShippedRuleFiles are the shipped rule files that judge auth events.
var ShippedRuleFiles = []string{"auth.yaml"}

// LoadRules loads the shipped auth rules and the rule files or
// directories at extra. A rule of extra with a shipped rule's ID replaces
// it (that is how a threshold is changed).
func LoadRules(extra ...string) (*detect.RuleSet, error) {
	rs, err := detect.LoadFS(rules.FS, ShippedRuleFiles...)
	if err != nil {
		return nil, fmt.Errorf("shipped auth rules: %w", err)
	}
	if len(extra) == 0 {
		return rs, nil
	}
	more, err := detect.LoadPaths(extra...)
	if err != nil {
		return nil, err
	}
	rs.Disable(more.RuleIDs()...)
	if err := rs.Merge(more); err != nil {
		return nil, err
	}
	return rs, nil
}

// Pipeline runs authentication records through the rule engine and the
// login analyzer: what the agent does with each record its authlog
// tailers read, and what `vigil scan logs` does with a file. Records
// should come in time order: windows follow their times.
type Pipeline struct {
	// Engine holds the auth rules (LoadRules); nil skips them.
	Engine *detect.Engine
	// Analyzer judges successful logins; nil skips it.
	Analyzer *Analyzer
}

// Handle converts r and judges it. It returns the event (so a caller can
// give it to the responder with the alerts: block_ip reads
// auth.src_ip) and the alerts, engine alerts first.
func (p *Pipeline) Handle(r authlog.Event) (*event.Event, []*alert.Alert) {
	ev := Convert(r)
	return &ev, p.judge(&ev)
}

// Alerts judges r as Handle does, for callers that do not keep the event
// (`vigil scan logs`): r is converted into reused memory rather than a
// new event each time, which is most of the garbage of a large scan.
func (p *Pipeline) Alerts(r *authlog.Event) []*alert.Alert {
	s := scratchPool.Get().(*scratch)
	convertInto(&s.ev, &s.auth, r)
	out := p.judge(&s.ev)
	if len(out) == 0 {
		// Neither the engine nor the analyzer keeps the event past the
		// call; an alert may (evidence can name a whole object), so the
		// memory of an event that raised one is left to it.
		scratchPool.Put(s)
	}
	return out
}

// scratch is the memory Alerts converts a record into.
type scratch struct {
	ev   event.Event
	auth event.AuthInfo
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// judge runs ev through the engine and the analyzer.
func (p *Pipeline) judge(ev *event.Event) []*alert.Alert {
	var out []*alert.Alert
	if p.Engine != nil {
		out = append(out, p.Engine.Process(ev)...)
	}
	if p.Analyzer != nil {
		out = append(out, p.Analyzer.Observe(ev)...)
	}
	return out
}

// SortByTime orders records by time, keeping the order of equal times
// (records of several files merged for a scan).
func SortByTime(rs []authlog.Event) {
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].Time.Before(rs[j].Time) })
}

// Records collects the authentication records of any number of files and
// gives them back in time order, for a scan. It grows in fixed-size
// chunks that are never copied: a large scan holds each record once, where
// appending to one slice copies the records over and over as it grows.
// The zero value is empty and ready.
type Records struct {
	chunks [][]authlog.Event
	n      int
}

const (
	firstChunk = 64
	maxChunk   = 4096
)

// Add appends a copy of r.
func (rs *Records) Add(r *authlog.Event) {
	last := len(rs.chunks) - 1
	if last < 0 || len(rs.chunks[last]) == cap(rs.chunks[last]) {
		size := firstChunk
		if last >= 0 {
			size = min(2*cap(rs.chunks[last]), maxChunk)
		}
		rs.chunks = append(rs.chunks, make([]authlog.Event, 0, size))
		last++
	}
	rs.chunks[last] = append(rs.chunks[last], *r)
	rs.n++
}

// Len is the number of records added.
func (rs *Records) Len() int { return rs.n }

// ByTime returns the records ordered by time, keeping the order in which
// they were added for equal times, as SortByTime does. The pointers are
// into rs.
func (rs *Records) ByTime() []*authlog.Event {
	out := make([]*authlog.Event, 0, rs.n)
	for _, c := range rs.chunks {
		for i := range c {
			out = append(out, &c[i])
		}
	}
	byTime := func(a, b *authlog.Event) int { return a.Time.Compare(b.Time) }
	if !slices.IsSortedFunc(out, byTime) { // files are mostly in order already
		slices.SortStableFunc(out, byTime)
	}
	return out
}
