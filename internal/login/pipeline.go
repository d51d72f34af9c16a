package login

import (
	"fmt"
	"sort"

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
	var out []*alert.Alert
	if p.Engine != nil {
		out = append(out, p.Engine.Process(&ev)...)
	}
	if p.Analyzer != nil {
		out = append(out, p.Analyzer.Observe(&ev)...)
	}
	return &ev, out
}

// SortByTime orders records by time, keeping the order of equal times
// (records of several files merged for a scan).
func SortByTime(rs []authlog.Event) {
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].Time.Before(rs[j].Time) })
}
